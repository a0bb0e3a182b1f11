// One handle per model: `ablo.tasks.create/update/delete` (through the
// write queue), `load` (server into the pool, concurrent identical loads
// share one request), `retrieve/list/count` (synchronous pool reads) and
// `claim`.

import type { IntentHandle, Intents } from './intents.js';
import type { Pool } from './pool.js';
import type { Transport } from './transport.js';
import type { Operation, Query, Row, WaitMode, WriteOptions } from './types.js';
import { newId, type WriteQueue } from './writes.js';

/** The typed handle of one model. */
export interface ModelHandle<R, I, P> {
  /** Creates a row. `queued` resolves at once with the local row; `confirmed` with the server's. */
  create(data: I, options?: WriteOptions): Promise<R>;
  /** Changes the fields in `patch`. */
  update(id: string, patch: P, options?: WriteOptions): Promise<R>;
  /** Deletes the row; resolves with the row as it was. */
  delete(id: string, options?: WriteOptions): Promise<R | undefined>;
  /** Reads rows from the server into the pool and returns them. `where: { id }` reads one row and its intents. */
  load(query?: Query<R>): Promise<R[]>;
  /** The row from the pool, or `undefined`. Synchronous. */
  retrieve(id: string): R | undefined;
  /** The pool's rows matching `query`, ordered by `orderBy` (default `id`). Synchronous. */
  list(query?: Query<R>): R[];
  /** How many pool rows match `query`. Synchronous. */
  count(query?: Query<R>): number;
  /** Takes the row's claim (waiting in line unless `wait: false`); the handle carries the fresh row. */
  claim(id: string, options?: ClaimOptions): Promise<Claim<R>>;
}

/** Options of `claim`. */
export interface ClaimOptions {
  field?: string;
  action?: string;
  /** Lease in milliseconds (default 30 s), renewed by heartbeat. */
  ttl?: number;
  /** Wait in line (default) or fail at once with `AbloBusyError` (`entity_claimed`). */
  wait?: boolean;
  timeout?: number;
  signal?: AbortSignal;
}

/** A held claim: the row as of the grant; release it when done. */
export interface Claim<R> {
  readonly id: string;
  readonly row: R;
  readonly stamp: number;
  readonly handle: IntentHandle;
  release(): Promise<void>;
}

export interface ModelContext {
  pool: Pool;
  writes: WriteQueue;
  transport: Transport;
  intents: Intents;
  defaultWait: WaitMode;
  timeout: number;
}

export function modelHandle(model: string, ctx: ModelContext): ModelHandle<Row, Record<string, unknown>, Record<string, unknown>> {
  const inflight = new Map<string, Promise<Row[]>>();
  const path = `/v1/models/${encodeURIComponent(model)}`;

  async function write(op: Operation, options: WriteOptions = {}): Promise<Row | undefined> {
    if (options.readAt !== undefined) op.readAt = options.readAt;
    if (options.onStale !== undefined) op.onStale = options.onStale;
    if (options.ifBusy !== undefined) op.ifBusy = options.ifBusy;
    if (options.intent !== undefined) op.intentId = typeof options.intent === 'string' ? options.intent : options.intent.id;
    const before = ctx.pool.get(model, op.id);
    // A queued update or delete of a row the pool does not hold has nothing to show at once: wait for the server.
    const wait = op.type !== 'create' && !before ? 'confirmed' : (options.wait ?? ctx.defaultWait);
    const receipt = ctx.writes.submit([op], {
      wait,
      timeout: options.timeout ?? ctx.timeout,
      idempotencyKey: options.idempotencyKey,
      causedByTaskId: options.causedByTaskId,
    });
    if (wait === 'queued') return op.type === 'delete' ? before : ctx.pool.get(model, op.id);
    const { rows } = await receipt;
    return op.type === 'delete' ? (rows[0] ?? before) : (ctx.pool.get(model, op.id) ?? rows[0]);
  }

  async function fetchRows(query: Query<Row>): Promise<Row[]> {
    const where = query.where ?? {};
    const keys = Object.keys(where).filter((k) => where[k] !== undefined);
    if (keys.length === 1 && keys[0] === 'id') {
      const id = String(where['id']);
      try {
        const { data } = await ctx.transport.request<{ data: Row; stamp: number; intents: [] }>(
          'GET',
          `${path}/${encodeURIComponent(id)}`,
          { query: { ifBusy: 'return' } },
        );
        ctx.pool.storeRows(model, [data.data], data.stamp);
        ctx.intents.replaceRow(model, id, data.intents ?? []);
      } catch (error) {
        if ((error as { code?: string }).code !== 'row_not_found') throw error;
        return [];
      }
      const row = ctx.pool.get(model, id);
      return row ? [row] : [];
    }
    const found: Row[] = [];
    let cursor: string | undefined;
    const limit = query.limit;
    do {
      const pageSize = Math.min(1000, limit === undefined ? 500 : limit - found.length);
      const { data } = await ctx.transport.request<{ data: Row[]; stamp: number; nextCursor: string | null }>(
        'GET',
        path,
        {
          query: {
            where: keys.length ? JSON.stringify(where) : undefined,
            orderBy: query.orderBy,
            limit: pageSize,
            cursor,
          },
        },
      );
      ctx.pool.storeRows(model, data.data, data.stamp);
      found.push(...data.data);
      cursor = data.nextCursor ?? undefined;
    } while (cursor && (limit === undefined || found.length < limit));
    return found.map((row) => ctx.pool.get(model, row.id)).filter((row): row is Row => row !== undefined);
  }

  return {
    async create(data, options) {
      const { id: given, ...fields } = data as { id?: string };
      const op: Operation = { type: 'create', model, id: given ?? newId(), data: fields };
      return (await write(op, options))!;
    },
    async update(id, patch, options) {
      const row = await write({ type: 'update', model, id, data: { ...patch } }, options);
      return row!;
    },
    delete(id, options) {
      return write({ type: 'delete', model, id }, options);
    },
    load(query = {}) {
      const key = JSON.stringify(query);
      let promise = inflight.get(key);
      if (!promise) {
        promise = fetchRows(query as Query<Row>).finally(() => inflight.delete(key));
        inflight.set(key, promise);
      }
      return promise;
    },
    retrieve(id) {
      return ctx.pool.get(model, id);
    },
    list(query) {
      return ctx.pool.list(model, query as Query<Row> | undefined);
    },
    count(query) {
      return ctx.pool.count(model, query as Query<Row> | undefined);
    },
    async claim(id, options = {}) {
      const handle = await ctx.intents.create({
        target: { model, id, field: options.field },
        action: options.action ?? 'claim',
        exclusive: true,
        ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
        ...(options.wait !== undefined ? { wait: options.wait } : {}),
        ...(options.timeout !== undefined ? { timeout: options.timeout } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      if (handle.row) ctx.pool.storeRows(model, [handle.row], handle.stamp ?? handle.row.stamp);
      return {
        id: handle.id,
        row: ctx.pool.get(model, id) ?? handle.row!,
        stamp: handle.stamp ?? 0,
        handle,
        release: () => handle.release(),
      };
    },
  };
}
