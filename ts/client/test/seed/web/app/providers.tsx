// web/app/providers.tsx
'use client';

import { AbloProvider } from '@ablo/client/react';
import { schema } from '../ablo.schema.js';

export function Providers({ children }: { children: React.ReactNode }) {
  return <AbloProvider schema={schema}>{children}</AbloProvider>;
}
