// The live connection (`/v1/sync/ws`): subscribe from the cursor, apply
// deltas in order, hand intent and presence events on, answer pings, and
// reconnect with backoff. A client that holds nothing subscribes without a
// cursor and is sent a snapshot (the current rows as of one sync id, then
// the deltas after it); so is one whose cursor is older than the log the
// server keeps. A reconnect resumes from the last sync id applied, so
// nothing is missed and nothing applied twice; a `resyncRequired` is caught
// up over HTTP first, or, when the server no longer keeps that part of the
// log (`snapshot_required`), by subscribing again without a cursor.

import { AbloConnectionError, AbloError } from './errors.js';
import type { Pool } from './pool.js';
import type { Transport } from './transport.js';
import { sleep } from './transport.js';
import type { Delta, Row, SyncState } from './types.js';

/** The part of the WebSocket API the client uses (browsers' and the `ws` package's). */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason?: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: the global one, or `ws` in Node 20. */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Server messages other than deltas, for intents and presence. */
export type ServerEvent = { type: 'intent' | 'presence' | 'coordination'; [key: string]: unknown };

export interface SyncHooks {
  onEvent: (event: ServerEvent) => void;
  onDeltas: (deltas: Delta[]) => void;
  onState: () => void;
  /** After `caughtUp`, with the participant the server says this connection acts as (when it says). */
  onSubscribed: (participant: unknown) => void;
  /** When a `subscribe` is sent: what the server will now tell again can be forgotten. */
  onSubscribe: () => void;
  /** After a snapshot replaced the pool's confirmed rows (with how many rows it held). */
  onSnapshot: (rows: number) => void;
  onError: (error: AbloError) => void;
}

/** The server no longer keeps the log after that cursor: only a snapshot can bring the client up to date. */
export function isSnapshotRequired(error: unknown): boolean {
  return error instanceof AbloError && error.code === 'snapshot_required';
}

/** Give up on a connection that has been silent this long (the server pings every 20 s). */
const SILENCE_MS = 65_000;

export class Sync {
  state: SyncState = 'initial';
  caughtUp = false;
  #transport: Transport;
  #pool: Pool;
  #hooks: SyncHooks;
  #WebSocket: WebSocketConstructor | undefined;
  #socket: WebSocketLike | undefined;
  #stopped = false;
  #started = false;
  #attempt = 0;
  #ready: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void };
  #settled = false;
  #silence: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | undefined;
  /** Subscribe without a cursor next time: the server said the log after ours is gone. */
  #needSnapshot = false;
  /**
   * Sockets told to resync: what else arrives on one before it closes is
   * dropped, so a live delta cannot move the cursor past the gap the
   * catch-up is filling.
   */
  #resyncing = new WeakSet<WebSocketLike>();
  /** Snapshots taken in so far. */
  snapshots = 0;

  constructor(transport: Transport, pool: Pool, WebSocketImpl: WebSocketConstructor | undefined, hooks: SyncHooks) {
    this.#transport = transport;
    this.#pool = pool;
    this.#WebSocket = WebSocketImpl;
    this.#hooks = hooks;
    let resolve!: () => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => undefined);
    this.#ready = { promise, resolve, reject };
  }

  /** Starts connecting (once) and resolves when the first replay is done. */
  ready(): Promise<void> {
    if (!this.#started) {
      this.#started = true;
      void this.#loop();
    }
    return this.#ready.promise;
  }

  /** Sends a message if the socket is open and subscribed; returns whether it was sent. */
  send(message: object): boolean {
    if (!this.#socket || this.#socket.readyState !== 1 || this.state !== 'connected') return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }

  /** Drops the current socket so the loop reconnects at once (after a token refresh). */
  reconnect(): void {
    this.#attempt = 0;
    this.#socket?.close(1000, 'reconnect');
    this.#wake?.();
  }

  stop(): void {
    this.#stopped = true;
    this.#setState('disconnected');
    this.#socket?.close(1000, 'disposed');
    this.#wake?.();
    if (this.#silence) clearTimeout(this.#silence);
    if (!this.#settled) this.#ready.reject(new AbloConnectionError('the client was disposed', undefined, 'disposed'));
  }

  #setState(state: SyncState): void {
    if (this.state === state) return;
    this.state = state;
    this.#hooks.onState();
  }

  async #loop(): Promise<void> {
    if (!this.#WebSocket) {
      const error = new AbloConnectionError(
        'no WebSocket implementation: pass `WebSocket` (for example the `ws` package) to Ablo({...}) on Node 20',
        undefined,
        'websocket_unavailable',
      );
      this.#setState('disconnected');
      this.#ready.reject(error);
      this.#hooks.onError(error);
      return;
    }
    while (!this.#stopped) {
      this.#setState(this.#attempt === 0 && !this.#settled ? 'connecting' : 'reconnecting');
      let closeCode = 0;
      try {
        await this.#probe();
        closeCode = await this.#connectOnce();
        this.#attempt = closeCode === 1000 ? 0 : this.#attempt;
      } catch (error) {
        const abloError = error instanceof AbloError ? error : new AbloConnectionError('the live connection failed', error);
        if (abloError.type === 'authentication' || abloError.type === 'permission') {
          // Keep trying (slowly: the user may sign in), but tell `ready()` now.
          this.#setState('needs-auth');
          if (!this.#settled) {
            this.#settled = true;
            this.#ready.reject(abloError);
          }
        }
        this.#hooks.onError(abloError);
      }
      if (this.#stopped) break;
      this.caughtUp = false;
      if (closeCode === 4001 && this.#transport.auth.refreshable) {
        // The capability expired or was revoked: fetch a new one and resume.
        await this.#transport.auth.refresh().catch(() => this.#setState('needs-auth'));
        continue;
      }
      this.#attempt++;
      const max = this.state === 'needs-auth' ? 10_000 : 2000;
      const ceiling = Math.min(max, 50 * 2 ** Math.min(this.#attempt - 1, 10));
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        const timer = setTimeout(resolve, ceiling / 2 + Math.random() * (ceiling / 2));
        // Waiting to reconnect does not keep a Node process alive on its own.
        (timer as { unref?: () => void }).unref?.();
      });
    }
  }

  /** Checks the credential and the server over HTTP (a refused upgrade tells a browser nothing). */
  async #probe(): Promise<void> {
    try {
      await this.#transport.request<{ stamp: number }>('GET', '/v1/sync/deltas', {
        query: { after: this.#pool.cursor, limit: 1 },
        timeout: 10_000,
      });
    } catch (error) {
      // The server is there and takes the credential; the cursor is older than its log.
      if (!isSnapshotRequired(error)) throw error;
      this.#needSnapshot = true;
    }
  }

  /** The `subscribe` message: without a cursor when the client holds nothing or its cursor is too old. */
  #subscribeMessage(): object {
    if (this.#needSnapshot || this.#pool.cursor === 0) return { type: 'subscribe' };
    return { type: 'subscribe', cursor: this.#pool.cursor };
  }

  /** A snapshot's rows are all in: they replace the pool's confirmed rows in one batch. */
  #endSnapshot(): void {
    const rows = this.#pool.endSnapshot();
    if (rows === undefined) return;
    this.#needSnapshot = false;
    this.snapshots++;
    this.#hooks.onSnapshot(rows);
  }

  /** One socket: resolves with its close code. */
  #connectOnce(): Promise<number> {
    const credential = this.#transport.auth.current ?? '';
    const href = this.#transport.href('/v1/sync/ws', { token: credential }).replace(/^http/, 'ws');
    const socket = new this.#WebSocket!(href);
    this.#socket = socket;
    return new Promise<number>((resolve) => {
      const alive = () => {
        if (this.#silence) clearTimeout(this.#silence);
        this.#silence = setTimeout(() => socket.close(4002, 'silent'), SILENCE_MS);
        (this.#silence as { unref?: () => void }).unref?.();
      };
      socket.onopen = () => {
        alive();
        this.#hooks.onSubscribe();
        socket.send(JSON.stringify(this.#subscribeMessage()));
      };
      socket.onmessage = (event) => {
        if (this.#resyncing.has(socket)) return;
        alive();
        const text = typeof event.data === 'string' ? event.data : String(event.data);
        let message: { type: string; [key: string]: unknown };
        try {
          message = JSON.parse(text) as typeof message;
        } catch {
          return;
        }
        this.#handle(socket, message);
      };
      socket.onerror = () => undefined;
      socket.onclose = (event) => {
        if (this.#silence) clearTimeout(this.#silence);
        if (this.#socket === socket) this.#socket = undefined;
        // A snapshot cut off before its end is dropped; the pool stays as it was.
        this.#pool.abortSnapshot();
        resolve(event.code);
      };
    });
  }

  #handle(socket: WebSocketLike, message: { type: string; [key: string]: unknown }): void {
    switch (message.type) {
      case 'snapshot':
        this.#pool.beginSnapshot(Number(message['cursor']));
        break;
      case 'rows':
        this.#pool.snapshotRows(String(message['model']), message['rows'] as Row[]);
        break;
      case 'deltas':
        // The first delta after a snapshot's rows ends it: the tail applies over the new rows.
        this.#endSnapshot();
        this.#hooks.onDeltas(message['deltas'] as Delta[]);
        break;
      case 'caughtUp':
        this.#endSnapshot();
        this.caughtUp = true;
        this.#attempt = 0;
        this.#setState('connected');
        this.#hooks.onSubscribed(message['participant']);
        if (!this.#settled) {
          this.#settled = true;
          this.#ready.resolve();
        }
        break;
      case 'ping':
        socket.send('{"type":"pong"}');
        break;
      case 'resyncRequired':
        this.#resyncing.add(socket);
        void this.#catchUp()
          .catch((error: unknown) => {
            // The log after our cursor is gone: the next subscribe asks for a snapshot.
            if (isSnapshotRequired(error)) this.#needSnapshot = true;
            else this.#hooks.onError(error instanceof AbloError ? error : new AbloConnectionError('the catch-up failed', error));
          })
          .finally(() => socket.close(4000, 'resync'));
        break;
      case 'error': {
        const envelope = message['error'] as { type?: string; code?: string; message?: string } | undefined;
        this.#hooks.onError(
          new AbloError({
            type: (envelope?.type as AbloError['type']) ?? 'server',
            code: envelope?.code ?? 'socket_error',
            message: envelope?.message ?? 'the server closed the live connection',
          }),
        );
        break;
      }
      case 'intent':
      case 'presence':
      // The active intents and presence the credential may see, sent on subscribe by servers that support it.
      case 'coordination':
        this.#hooks.onEvent(message as ServerEvent);
        break;
      default:
        break;
    }
  }

  /** Reads the log after the cursor over HTTP until it is exhausted. */
  async #catchUp(): Promise<void> {
    for (let page = 0; page < 10_000; page++) {
      const { data } = await this.#transport.request<{ data: Delta[]; nextAfter: number; hasMore: boolean }>(
        'GET',
        '/v1/sync/deltas',
        { query: { after: this.#pool.cursor, limit: 1000 } },
      );
      if (data.data.length) this.#hooks.onDeltas(data.data);
      if (!data.hasMore) return;
      await sleep(0);
    }
  }
}
