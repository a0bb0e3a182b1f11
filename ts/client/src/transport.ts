// HTTP to the server: the bearer credential, JSON bodies, the error
// envelope as typed errors, and one retry with a fresh token after a 401.

import type { Auth } from './auth.js';
import { AbloConnectionError, AbloError, errorFromEnvelope } from './errors.js';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined> | undefined;
  body?: unknown;
  signal?: AbortSignal | undefined;
  /** Milliseconds before the attempt is abandoned (default 30 s). */
  timeout?: number | undefined;
  headers?: Record<string, string> | undefined;
}

export interface Answer<T> {
  status: number;
  data: T;
  requestId: string | undefined;
}

export class Transport {
  readonly url: string;
  readonly auth: Auth;
  readonly fetch: typeof fetch;

  constructor(url: string, auth: Auth, fetchImpl: typeof fetch) {
    this.url = url.replace(/\/+$/, '');
    this.auth = auth;
    this.fetch = fetchImpl;
  }

  /** The full URL of `path` with `query`. */
  href(path: string, query?: RequestOptions['query']): string {
    let href = this.url + path;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
      const text = params.toString();
      if (text) href += `?${text}`;
    }
    return href;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    // No await before the fetch when a credential is held: the request is
    // on its way before the caller's listeners run.
    const credential = this.auth.fresh() ?? (await this.auth.credential());
    try {
      return await this.#send<T>(method, path, options, credential);
    } catch (error) {
      if (error instanceof AbloError && error.httpStatus === 401 && this.auth.refreshable) {
        this.auth.invalidate(credential);
        return this.#send<T>(method, path, options, await this.auth.credential());
      }
      throw error;
    }
  }

  async #send<T>(method: string, path: string, options: RequestOptions, credential: string): Promise<Answer<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${credential}`, ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const timeout = AbortSignal.timeout(options.timeout ?? 30_000);
    const signal = options.signal ? anySignal([options.signal, timeout]) : timeout;
    let response: Response;
    try {
      response = await this.fetch(this.href(path, options.query), { method, headers, body, signal });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      const timedOut = timeout.aborted;
      throw new AbloConnectionError(
        timedOut ? `${method} ${path}: no answer in time` : `${method} ${path}: the server could not be reached`,
        error,
        timedOut ? 'timeout' : 'connection_failed',
      );
    }
    const requestId = response.headers.get('x-request-id') ?? undefined;
    let data: unknown = null;
    const text = await response.text().catch((error: unknown) => {
      throw new AbloConnectionError(`${method} ${path}: the answer was cut off`, error);
    });
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!response.ok) throw errorFromEnvelope(response.status, data, requestId, response.headers.get('retry-after'));
    return { status: response.status, data: data as T, requestId };
  }
}

/** An AbortSignal that aborts when any of `signals` does. */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const controller = new AbortController();
  for (const signal of signals) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    signal.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
