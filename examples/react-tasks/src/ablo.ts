// The board's client: the schema generated from the Rust models
// (`ablo-codegen generate`), and a session from the app's own route.

import { schema } from './generated/ablo';

export { schema };
export type { Task, Status } from './generated/ablo';

declare module '@ablo/client/react' {
  interface Register {
    schema: typeof schema;
  }
}

/** Who is signed in: `?user=ada` in this demo (a real app reads its own session). */
export const userId = new URLSearchParams(location.search).get('user') ?? 'ada';

/**
 * The Ablo server: the page's own origin (the app server forwards `/v1/*`),
 * or another origin given as `?ablo=https://ablo.example.com`, which the
 * page then calls directly (the server must list the page's origin with
 * `--allow-origin`).
 */
export const abloUrl = new URLSearchParams(location.search).get('ablo') ?? location.origin;

/** The app's session route, which mints a short-lived `user` capability. */
export const authEndpoint = `/api/ablo/session?user=${encodeURIComponent(userId)}`;
