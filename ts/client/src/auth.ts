// Credentials: an API key (servers and agents), or a short-lived capability
// token a browser gets from its app's backend (`authEndpoint`) or from a
// `token` function, fetched again before it expires and after a 401.

import { AbloAuthenticationError, AbloConnectionError, AbloError } from './errors.js';

/** What a `token` function or an `authEndpoint` answers. */
export type TokenResult = string | { token: string; expiresAt?: string | number | Date | null };

/** How the client authenticates. Browsers use `authEndpoint` or `token`, never `apiKey`. */
export interface AuthOptions {
  /** An API key (`sk_test_...`); acts as `system`. For servers and agents only. */
  apiKey?: string | undefined;
  /** A capability token, or a function returning one (called again before expiry and after a 401). */
  token?: string | (() => TokenResult | Promise<TokenResult>) | undefined;
  /** A route of your app that answers `{ token, expiresAt }` for the signed-in user (POST, cookies included). */
  authEndpoint?: string | URL | undefined;
}

/** Refresh this long before a token's expiry (or a fifth of its lifetime, if shorter). */
const REFRESH_MARGIN_MS = 60_000;

export class Auth {
  #options: AuthOptions;
  #fetch: typeof fetch;
  #token: string | undefined;
  #expiresAt = Infinity;
  #issuedAt = 0;
  #inflight: Promise<string> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onChange: (state: 'ok' | 'needs-auth') => void;
  #disposed = false;

  constructor(options: AuthOptions, fetchImpl: typeof fetch, onChange: (state: 'ok' | 'needs-auth') => void) {
    this.#options = options;
    this.#fetch = fetchImpl;
    this.#onChange = onChange;
    if (options.apiKey !== undefined) this.#token = options.apiKey;
    else if (typeof options.token === 'string') this.#token = options.token;
  }

  /** Whether the credential can be fetched again (a function or an endpoint). */
  get refreshable(): boolean {
    return typeof this.#options.token === 'function' || this.#options.authEndpoint !== undefined;
  }

  /** Whether this client holds an API key (servers and agents). */
  get isApiKey(): boolean {
    return this.#options.apiKey !== undefined;
  }

  /** The credential to send now, fetching one when none is held or it is about to expire. */
  async credential(): Promise<string> {
    if (this.#token !== undefined && Date.now() < this.#expiresAt - 1000) return this.#token;
    if (!this.refreshable) {
      if (this.#token !== undefined) return this.#token;
      throw new AbloAuthenticationError({
        type: 'authentication',
        code: 'missing_api_key',
        message: 'Ablo needs `apiKey`, `token` or `authEndpoint`',
      });
    }
    return this.refresh();
  }

  /**
   * The credential when one is held and not about to expire, synchronously:
   * a request can then start in the same task as the write that made it,
   * before listeners (React) render the optimistic row.
   */
  fresh(): string | undefined {
    if (this.#token === undefined) return undefined;
    if (Date.now() < this.#expiresAt - 1000 || !this.refreshable) return this.#token;
    return undefined;
  }

  /** The credential held, without fetching (for the WebSocket URL after `credential()`). */
  get current(): string | undefined {
    return this.#token;
  }

  /** Drops the held token (after a 401) so the next call fetches a new one. */
  invalidate(token: string): void {
    if (this.refreshable && this.#token === token) this.#expiresAt = 0;
  }

  /** Fetches a fresh token (concurrent callers share one request). */
  refresh(): Promise<string> {
    if (!this.refreshable) return this.credential();
    this.#inflight ??= this.#fetchToken().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#timer) clearTimeout(this.#timer);
  }

  async #fetchToken(): Promise<string> {
    let result: TokenResult;
    try {
      result = await this.#obtain();
    } catch (error) {
      if (error instanceof AbloAuthenticationError || error instanceof AbloError) {
        if (error.type === 'authentication' || error.type === 'permission') this.#onChange('needs-auth');
        throw error;
      }
      throw new AbloConnectionError('the token could not be fetched', error, 'token_unavailable');
    }
    const { token, expiresAt } = typeof result === 'string' ? { token: result, expiresAt: undefined } : result;
    if (typeof token !== 'string' || token === '') {
      this.#onChange('needs-auth');
      throw new AbloAuthenticationError({
        type: 'authentication',
        code: 'invalid_token_response',
        message: 'the token function or auth endpoint returned no token',
      });
    }
    this.#token = token;
    this.#issuedAt = Date.now();
    this.#expiresAt = expiresAt === undefined || expiresAt === null ? Infinity : new Date(expiresAt).getTime();
    this.#schedule();
    this.#onChange('ok');
    return token;
  }

  async #obtain(): Promise<TokenResult> {
    const { token, authEndpoint } = this.#options;
    if (typeof token === 'function') return token();
    const response = await this.#fetch(String(authEndpoint), {
      method: 'POST',
      credentials: 'include',
      headers: { accept: 'application/json' },
    });
    if (response.status === 401 || response.status === 403) {
      throw new AbloAuthenticationError({
        type: 'authentication',
        code: 'session_required',
        message: `the auth endpoint answered ${response.status}: sign in first`,
        httpStatus: response.status,
      });
    }
    if (!response.ok) throw new Error(`the auth endpoint answered ${response.status}`);
    return (await response.json()) as TokenResult;
  }

  /** Fetches the next token before this one expires, so no request waits on it. */
  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#disposed || !Number.isFinite(this.#expiresAt)) return;
    const lifetime = this.#expiresAt - this.#issuedAt;
    const margin = Math.min(REFRESH_MARGIN_MS, lifetime / 5);
    const delay = Math.max(0, this.#expiresAt - margin - Date.now());
    this.#timer = setTimeout(() => {
      this.refresh().catch(() => undefined);
    }, delay);
    (this.#timer as { unref?: () => void }).unref?.();
  }
}
