import { createRoot } from 'react-dom/client';
import Ablo from '@ablo/client';
import { AbloProvider } from '@ablo/client/react';
import { schema, authEndpoint, abloUrl } from './ablo';
import { Board } from './Board';

// The page never holds an API key: its session route hands it a short-lived
// `user` capability, fetched again before it expires.
const ablo = Ablo({ schema, url: abloUrl, authEndpoint });

declare global {
  interface Window {
    /** The client, for the browser tests and the console. */
    __ablo?: typeof ablo;
  }
}
window.__ablo = ablo;

createRoot(document.getElementById('root')!).render(
  <AbloProvider client={ablo}>
    <Board />
  </AbloProvider>,
);
