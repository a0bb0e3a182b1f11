// `@ablo/client/server`: for your app's backend. Mints a short-lived `user`
// capability for the signed-in user, scoped to that user's sync groups, and
// answers a browser's `authEndpoint` with it. The API key stays on the
// server; the page only ever holds the capability.

import { errorFromEnvelope } from './errors.js';

/** What to mint for one user. */
export interface SessionGrant {
  /** The user's id in your app; the participant the page acts as. */
  userId: string;
  /** Sync groups the page may see and write, for example `['team:red']`. Default `['*']`. */
  syncGroups?: string[];
  /** Operations, for example `['tasks.*']`. Default `['*']`. */
  operations?: string[];
  /** Lifetime in seconds (default 900). The page fetches a new one before it expires. */
  ttlSeconds?: number;
  label?: string;
}

/** A minted session: what the `authEndpoint` answers. */
export interface Session {
  token: string;
  expiresAt: string;
  capabilityId: string;
}

export interface SessionOptions {
  /** The Ablo server. */
  url: string;
  /** Your API key (`sk_...`): server-side only. */
  apiKey: string;
  fetch?: typeof fetch;
}

/** Mints a `user` capability for one signed-in user. */
export async function mintSession(options: SessionOptions, grant: SessionGrant): Promise<Session> {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const response = await fetchImpl(`${options.url.replace(/\/+$/, '')}/v1/capabilities`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      participantKind: 'user',
      participantId: grant.userId,
      operations: grant.operations ?? ['*'],
      syncGroups: grant.syncGroups ?? ['*'],
      ttlSeconds: grant.ttlSeconds ?? 900,
      label: grant.label ?? `browser session of ${grant.userId}`,
    }),
  });
  const body = (await response.json().catch(() => null)) as { token: string; expiresAt: string; id: string } | null;
  if (!response.ok || !body) {
    throw errorFromEnvelope(response.status, body, response.headers.get('x-request-id') ?? undefined);
  }
  return { token: body.token, expiresAt: body.expiresAt, capabilityId: body.id };
}

/**
 * A fetch-style route handler (`(request) => Response`) for the page's
 * `authEndpoint`. `authenticate` reads your own session (a cookie, a
 * header) and returns the grant for that user, or `null` to answer 401.
 */
export function sessionHandler(
  options: SessionOptions & { authenticate: (request: Request) => SessionGrant | null | Promise<SessionGrant | null> },
): (request: Request) => Promise<Response> {
  return async (request) => {
    const grant = await options.authenticate(request);
    if (!grant) return json(401, { error: { type: 'authentication', code: 'session_required', message: 'sign in first' } });
    try {
      return json(200, await mintSession(options, grant));
    } catch (error) {
      const status = (error as { httpStatus?: number }).httpStatus ?? 502;
      return json(status >= 500 ? 502 : 500, {
        error: { type: 'server', code: 'session_unavailable', message: 'the session could not be created' },
      });
    }
  };
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}
