// `Ablo({ schema, url, apiKey | authEndpoint | token })`: wires the pool,
// the write queue, the live connection, intents and presence together and
// exposes one typed handle per model.

import { Auth, type AuthOptions } from './auth.js';
import { AbloError } from './errors.js';
import { type CreateIntent, type IntentHandle, Intents } from './intents.js';
import { type ModelHandle, modelHandle } from './models.js';
import { Pool, rowKey } from './pool.js';
import { Presence } from './presence.js';
import { Sync, type WebSocketConstructor } from './sync.js';
import { Transport } from './transport.js';
import type {
  AbloSchema,
  Delta,
  InputOf,
  Intent,
  ModelNameOf,
  Operation,
  Participant,
  PatchOf,
  PresenceEntry,
  PresenceState,
  RowOf,
  SyncStatus,
  TargetInput,
  WaitMode,
} from './types.js';
import { WriteQueue } from './writes.js';

/** What `Ablo(...)` takes. */
export interface AbloOptions<S extends AbloSchema> extends AuthOptions {
  /** The `schema` const of the generated `ablo.ts` (or `defineSchema(...)`). */
  schema: S;
  /** The server, for example `http://127.0.0.1:7700`. Default: `ABLO_URL`, else the page's origin. */
  url?: string | undefined;
  /** A WebSocket constructor, for runtimes without a global one (Node 20: the `ws` package). */
  WebSocket?: unknown;
  /** A fetch implementation (default: the global one). */
  fetch?: typeof fetch | undefined;
  /** Default `wait` of writes: `confirmed` with an API key, `queued` with a browser session. */
  wait?: WaitMode | undefined;
  /** Milliseconds a write keeps retrying before it fails (default 30 s). */
  timeout?: number | undefined;
  /** Connect the live stream at once (default `true`); otherwise at `ready()`. */
  connect?: boolean | undefined;
}

/** `ablo.snapshot(...)`: the stamp to write at, and a signal that aborts when a captured row changes. */
export interface Snapshot {
  readonly stamp: number;
  readonly signal: AbortSignal;
}

/** The typed model handles of schema `S`. */
export type ModelHandles<S extends AbloSchema> = {
  readonly [M in ModelNameOf<S>]: ModelHandle<RowOf<S, M>, InputOf<S, M>, PatchOf<S, M>>;
};

/** Targets of a snapshot: `{ tasks: id }` or `{ tasks: [id, id] }`. */
export type SnapshotTargets<S extends AbloSchema> = { [M in ModelNameOf<S>]?: string | readonly string[] };

/** The client. */
export interface AbloCore<S extends AbloSchema> {
  /** The schema the client was built with. */
  readonly schema: S;
  /** Resolves once the live connection has caught up (rejects on a refused credential). */
  ready(): Promise<void>;
  /** Waits for queued writes (at most the timeout), releases intents, closes the connection. */
  dispose(): Promise<void>;
  /** The stamp the given rows were seen at, for `readAt`. */
  snapshot(targets: SnapshotTargets<S>): Snapshot;
  readonly intents: {
    /** Other participants' active intents on the target. Synchronous. */
    list(target: TargetInput): Intent[];
    /** Reads the target's intents from the server. */
    fetch(target: TargetInput): Promise<Intent[]>;
    create(request: CreateIntent): Promise<IntentHandle>;
    /** Resolves when no other participant holds an intent on the target; `AbloBusyError` after `timeout`. */
    waitFor(target: TargetInput, options?: { timeout?: number; signal?: AbortSignal }): Promise<void>;
  };
  readonly presence: {
    set(target: TargetInput, state: PresenceState): void;
    leave(target: TargetInput): void;
    list(target: TargetInput): PresenceEntry[];
  };
  /** The live connection and the write queue. Synchronous; the same object until something changes. */
  readonly status: SyncStatus;
  /** This client's participant, once the server has named it (after its first write or intent). */
  readonly participant: Participant | undefined;
  /** Calls `listener` after any change of rows, intents, presence or status. */
  subscribe(listener: () => void): () => void;
  /** Calls `listener` with every refused queued write (after its rollback) and connection error. */
  onError(listener: (error: AbloError) => void): () => void;
}

export type AbloClient<S extends AbloSchema> = AbloCore<S> & ModelHandles<S>;

function defaultUrl(): string {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  if (env?.['ABLO_URL']) return env['ABLO_URL'];
  const location = (globalThis as { location?: { origin?: string } }).location;
  if (location?.origin && location.origin !== 'null') return location.origin;
  return 'http://127.0.0.1:7700';
}

/** Connects to the Ablo server with a typed schema. */
export function Ablo<S extends AbloSchema>(options: AbloOptions<S>): AbloClient<S> {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const listeners = new Set<() => void>();
  const errorListeners = new Set<(error: AbloError) => void>();
  let status: SyncStatus;
  let participant: Participant | undefined;
  let scheduled = false;
  const notify = () => {
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      for (const listener of [...listeners]) listener();
    });
  };
  const emitError = (error: AbloError) => {
    for (const listener of [...errorListeners]) listener(error);
  };

  const auth = new Auth(options, fetchImpl, () => refreshStatus());
  const transport = new Transport(options.url ?? defaultUrl(), auth, fetchImpl);
  const pool = new Pool(options.schema.models);
  const writes = new WriteQueue(transport, pool, (error) => emitError(error), () => refreshStatus());
  const intents = new Intents(
    transport,
    notify,
    (p) => {
      participant ??= p;
    },
    (p) => participant !== undefined && p.id === participant.id && p.kind === participant.kind,
  );
  const WebSocketImpl = (options.WebSocket ?? (globalThis as { WebSocket?: unknown }).WebSocket) as
    | WebSocketConstructor
    | undefined;
  const sync: Sync = new Sync(transport, pool, WebSocketImpl, {
    onDeltas: (deltas: Delta[]) => {
      for (const delta of deltas) {
        if (delta.actor && delta.clientTxId && writes.sent.has(delta.clientTxId)) participant ??= delta.actor;
      }
      pool.applyDeltas(deltas);
      refreshStatus();
    },
    onEvent: (event) => {
      if (event.type === 'intent') intents.onEvent(event['event'] as string, event['intent'] as never);
      else if (event.type === 'presence') presence.onEvent(event['presence'] as never);
      else {
        intents.replaceAll((event['intents'] as never[] | undefined) ?? []);
        for (const entry of (event['presence'] as never[] | undefined) ?? []) presence.onEvent(entry);
      }
    },
    onState: () => refreshStatus(),
    onSubscribed: (who) => {
      const named = who as Participant | undefined;
      if (named && typeof named.id === 'string') participant ??= named;
      presence.republish();
      refreshStatus();
    },
    onSubscribe: () => presence.forgetOthers(),
    onSnapshot: () => refreshStatus(),
    onError: emitError,
  });
  const presence = new Presence((message) => sync.send(message), notify);
  pool.subscribe(notify);

  function computeStatus(): SyncStatus {
    const pending = writes.size;
    return Object.freeze({
      status: sync.state,
      cursor: pool.cursor,
      caughtUp: sync.caughtUp,
      pendingWrites: pending,
      hasUnconfirmedWrites: pending > 0,
    });
  }
  function refreshStatus(): void {
    const next = computeStatus();
    const prev = status;
    if (
      prev &&
      prev.status === next.status &&
      prev.cursor === next.cursor &&
      prev.caughtUp === next.caughtUp &&
      prev.pendingWrites === next.pendingWrites
    ) {
      return;
    }
    status = next;
    notify();
  }
  status = computeStatus();

  const ctx = {
    pool,
    writes,
    transport,
    intents,
    defaultWait: options.wait ?? (auth.isApiKey ? 'confirmed' : 'queued'),
    timeout: options.timeout ?? 30_000,
  } as const;
  const modelNames = options.schema.modelNames ?? Object.keys(options.schema.models);
  const handles: Record<string, unknown> = {};
  for (const name of modelNames) handles[name] = modelHandle(name, ctx);

  let disposed = false;
  const core: AbloCore<S> = {
    schema: options.schema,
    ready: () => sync.ready(),
    async dispose() {
      if (disposed) return;
      disposed = true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([writes.idle(), new Promise((resolve) => (timer = setTimeout(resolve, ctx.timeout)))]);
      clearTimeout(timer);
      await intents.releaseAll().catch(() => undefined);
      intents.dispose();
      sync.stop();
      auth.dispose();
      listeners.clear();
    },
    snapshot(targets) {
      const rows: Array<{ model: string; id: string }> = [];
      for (const [model, ids] of Object.entries(targets as Record<string, string | readonly string[] | undefined>)) {
        if (ids === undefined) continue;
        for (const id of typeof ids === 'string' ? [ids] : ids) rows.push({ model, id });
      }
      const stamp = pool.snapshot(rows);
      const captured = new Map(rows.map(({ model, id }) => [rowKey(model, id), pool.get(model, id)]));
      const controller = new AbortController();
      const stop = pool.subscribe((changed) => {
        // The captured keys are few; a batch (a snapshot) may change every row.
        for (const [key, row] of captured) {
          if (!changed.has(key)) continue;
          const slash = key.indexOf('/');
          if (pool.get(key.slice(0, slash), key.slice(slash + 1)) !== row) {
            stop();
            controller.abort(new Error(`${key} changed after the snapshot`));
            return;
          }
        }
      });
      return { stamp, signal: controller.signal };
    },
    intents: {
      list: (target) => intents.list(target),
      fetch: (target) => intents.fetch(target),
      create: (request) => intents.create(request),
      waitFor: (target, opts) => intents.waitFor(target, opts),
    },
    presence: {
      set: (target, state) => presence.set(target, state),
      leave: (target) => presence.leave(target),
      list: (target) => presence.list(target),
    },
    get status() {
      return status;
    },
    get participant() {
      return participant;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    onError(listener) {
      errorListeners.add(listener);
      return () => errorListeners.delete(listener);
    },
  };
  const client = Object.assign(Object.create(null) as object, handles, core);
  Object.defineProperty(client, 'status', { get: () => status, enumerable: true });
  Object.defineProperty(client, 'participant', { get: () => participant, enumerable: true });
  if (options.apiKey !== undefined) void keyParticipant(options.apiKey).then((p) => (participant ??= p));
  if (options.connect !== false) void sync.ready().catch(() => undefined);
  return client as AbloClient<S>;
}

/** An API key acts as `system` with the key's public id: `key_` and 12 hex digits of its SHA-256. */
async function keyParticipant(apiKey: string): Promise<Participant | undefined> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return undefined;
  const digest = new Uint8Array(await subtle.digest('SHA-256', new TextEncoder().encode(apiKey)));
  const hex = [...digest.slice(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join('');
  return { kind: 'system', id: `key_${hex}` };
}

/** Re-exported so `Operation` is visible to users building commits by hand. */
export type { Operation };
