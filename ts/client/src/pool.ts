// The local pool: the rows the client knows, as confirmed by the server,
// with the client's unconfirmed writes laid over them. What readers see is
// a frozen snapshot per row, replaced (never edited) when the row changes,
// so a selector comparing by identity re-renders exactly when it should.

import type { Delta, Operation, Row, SchemaModel } from './types.js';
import { runQuery } from './query.js';
import type { Query } from './types.js';

interface Entry {
  /** The row as the server last confirmed it; `undefined` once deleted or removed. */
  base: Row | undefined;
  /** The sync id of the base (its stamp, or the removal's sync id). */
  baseStamp: number;
  /** The newest sync id the base is known to be current at. */
  observedAt: number;
  /** What readers see (base + pending writes); cached until the entry changes. */
  view: Row | undefined;
}

interface Pending {
  txId: string;
  op: Operation;
  /** The time an optimistic create uses for `createdAt`/`updatedAt`. */
  at: string;
}

/** The rows a batch changed: single keys, and models whose rows were all replaced (a snapshot into an empty pool). */
export class Changed {
  constructor(
    readonly keys: ReadonlySet<string>,
    readonly models: ReadonlySet<string>,
  ) {}

  has(key: string): boolean {
    return this.keys.has(key) || (this.models.size > 0 && this.models.has(key.slice(0, key.indexOf('/'))));
  }
}

type Listener = (changed: Changed) => void;

/** The key of a row in the pool. */
export function rowKey(model: string, id: string): string {
  return `${model}/${id}`;
}

export class Pool {
  #entries = new Map<string, Map<string, Entry>>();
  #pending = new Map<string, Pending[]>();
  #pendingTx = new Map<string, string[]>();
  #lists = new Map<string, { version: number; rows: Row[] }>();
  #versions = new Map<string, number>();
  #listeners = new Set<Listener>();
  #changed = new Set<string>();
  #changedModels = new Set<string>();
  #models: { readonly [name: string]: SchemaModel };
  /** A snapshot being received: its rows wait here until it is complete, then replace the confirmed rows at once. */
  #staged: { cursor: number; entries: Map<string, Map<string, Entry>>; rows: number } | undefined;
  /** The sync id of the last snapshot taken in: a read observed before it cannot add a row the snapshot lacked. */
  #snapshotAt = 0;
  /** The last sync id applied from the live stream or the catch-up. */
  cursor = 0;

  constructor(models: { readonly [name: string]: SchemaModel }) {
    this.#models = models;
  }

  /** Calls `listener` after each batch of changes with the keys that changed. */
  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get(model: string, id: string): Row | undefined {
    return this.#entries.get(model)?.get(id)?.view;
  }

  /** Every visible row of `model`, or those matching `query`; the same array until one changes. */
  list(model: string, query?: Query<Row>): Row[] {
    const version = this.#versions.get(model) ?? 0;
    const key = query ? `${model}?${JSON.stringify(query)}` : model;
    const cached = this.#lists.get(key);
    if (cached && cached.version === version) return cached.rows;
    const all: Row[] = [];
    for (const entry of this.#entries.get(model)?.values() ?? []) {
      if (entry.view) all.push(entry.view);
    }
    const rows = runQuery(all, query ?? {});
    Object.freeze(rows);
    this.#lists.set(key, { version, rows });
    return rows;
  }

  count(model: string, query?: Query<Row>): number {
    if (!query?.where) return Math.min(this.list(model).length, query?.limit ?? Infinity);
    return this.list(model, query).length;
  }

  /** The stamp a reader of these rows has seen them at. */
  snapshot(targets: Array<{ model: string; id: string }>): number {
    let stamp = Infinity;
    for (const { model, id } of targets) {
      const entry = this.#entries.get(model)?.get(id);
      stamp = Math.min(stamp, Math.max(entry?.observedAt ?? 0, this.cursor));
    }
    return stamp === Infinity ? this.cursor : stamp;
  }

  /** Rows read from the server as of sync id `observedAt`. */
  storeRows(model: string, rows: Row[], observedAt: number): void {
    for (const row of rows) this.#setBase(model, row.id, row, row.stamp, observedAt);
    this.#emit();
  }

  /** Whether a snapshot is being received (between `beginSnapshot` and `endSnapshot`). */
  get snapshotting(): boolean {
    return this.#staged !== undefined;
  }

  /** The server sends the current rows as of sync id `cursor`; they replace the confirmed rows at `endSnapshot`. */
  beginSnapshot(cursor: number): void {
    this.#staged = { cursor, entries: new Map(), rows: 0 };
  }

  /** Rows of a snapshot, current as of its cursor, each at its stamp. */
  snapshotRows(model: string, rows: Row[]): void {
    const staged = this.#staged;
    if (!staged) return;
    let entries = staged.entries.get(model);
    if (!entries) {
      entries = new Map();
      staged.entries.set(model, entries);
    }
    const at = staged.cursor;
    for (const row of rows) {
      // The parsed message is ours: freeze its rows rather than copy them.
      const base = freezeRow(row);
      entries.set(row.id, { base, baseStamp: row.stamp, observedAt: at, view: base });
    }
    staged.rows += rows.length;
  }

  /** Drops a snapshot that was cut off (the socket closed): the pool stays as it was. */
  abortSnapshot(): void {
    this.#staged = undefined;
  }

  /**
   * The snapshot is complete: its rows replace every confirmed row in one
   * batch, the cursor becomes its sync id, and unconfirmed writes stay laid
   * over. A row confirmed after the snapshot's sync id (a commit receipt
   * that arrived meanwhile) is newer than the snapshot and stays; a row
   * unchanged since keeps its frozen object, so selectors do not re-render.
   * Returns the number of rows taken in, or `undefined` without a snapshot.
   */
  endSnapshot(): number | undefined {
    const staged = this.#staged;
    if (!staged) return undefined;
    this.#staged = undefined;
    const at = staged.cursor;
    const old = this.#entries;
    const next = staged.entries;
    const pendingModels = new Set<string>();
    for (const key of this.#pending.keys()) pendingModels.add(key.slice(0, key.indexOf('/')));
    for (const model of old.keys()) if (!next.has(model)) next.set(model, new Map());
    for (const [model, entries] of next) {
      const before = old.get(model);
      const pending = pendingModels.has(model);
      if (!before?.size && !pending) {
        // Nothing held before and nothing laid over: the rows are their views as they are.
        if (entries.size === 0) next.delete(model);
        else {
          this.#changedModels.add(model);
          this.#versions.set(model, (this.#versions.get(model) ?? 0) + 1);
        }
        continue;
      }
      let changed = false;
      for (const [id, entry] of entries) {
        const prev = before?.get(id);
        if (prev && (prev.baseStamp > at || (prev.base && prev.baseStamp === entry.baseStamp))) {
          // Newer than the snapshot, or the same row: keep the entry (and its view's identity).
          prev.observedAt = Math.max(prev.observedAt, at);
          entries.set(id, prev);
          continue;
        }
        entry.view = pending ? this.#overlay(model, id, entry.base) : entry.base;
        if (prev?.view !== entry.view) {
          this.#changed.add(rowKey(model, id));
          changed = true;
        }
      }
      if (before) {
        for (const [id, prev] of before) {
          if (entries.has(id)) continue;
          if (prev.baseStamp > at) {
            entries.set(id, prev);
            continue;
          }
          // Not in the snapshot: gone as of its sync id. Own unconfirmed writes stay laid over.
          const key = rowKey(model, id);
          const mine = pending && this.#pending.has(key);
          if (mine && !prev.base) {
            // Only an unconfirmed create: nothing under it changes.
            prev.baseStamp = at;
            prev.observedAt = Math.max(prev.observedAt, at);
            entries.set(id, prev);
            continue;
          }
          const view = mine ? this.#overlay(model, id, undefined) : undefined;
          if (mine) entries.set(id, { base: undefined, baseStamp: at, observedAt: at, view });
          if (prev.view !== view) {
            this.#changed.add(key);
            changed = true;
          }
        }
      }
      if (entries.size === 0) next.delete(model);
      if (changed) this.#versions.set(model, (this.#versions.get(model) ?? 0) + 1);
    }
    this.#entries = next;
    this.#snapshotAt = at;
    this.cursor = at;
    this.#emit();
    return staged.rows;
  }

  /** A row the server says is gone (or not visible) as of `observedAt`. */
  forget(model: string, id: string, observedAt: number): void {
    this.#setBase(model, id, undefined, observedAt, observedAt);
    this.#emit();
  }

  /** Deltas from the stream, in order; those at or below the cursor were applied already. */
  applyDeltas(deltas: Delta[]): void {
    for (const delta of deltas) {
      if (delta.syncId <= this.cursor) continue;
      this.#setBase(delta.model, delta.id, delta.data ?? undefined, delta.syncId, delta.syncId);
    }
    const last = deltas[deltas.length - 1];
    if (last && last.syncId > this.cursor) this.cursor = last.syncId;
    this.#emit();
  }

  /** Lays a write over the pool until it is confirmed or rolled back. */
  addPending(txId: string, op: Operation): void {
    const key = rowKey(op.model, op.id);
    const list = this.#pending.get(key) ?? [];
    list.push({ txId, op, at: new Date().toISOString() });
    this.#pending.set(key, list);
    const keys = this.#pendingTx.get(txId) ?? [];
    keys.push(key);
    this.#pendingTx.set(txId, keys);
    this.#refresh(op.model, op.id);
    this.#emit();
  }

  /** The server accepted commit `txId`: its rows become the base, its overlay goes. */
  confirm(txId: string, ops: Operation[], rows: Row[], syncId: number): void {
    ops.forEach((op, i) => {
      const row = rows[i];
      if (op.type === 'delete') this.#setBase(op.model, op.id, undefined, syncId, syncId);
      else if (row) this.#setBase(op.model, op.id, row, row.stamp, syncId);
    });
    this.#dropPending(txId);
    this.#emit();
  }

  /** The server refused commit `txId`: its overlay goes, the confirmed rows show again. */
  rollback(txId: string): void {
    this.#dropPending(txId);
    this.#emit();
  }

  get pendingCount(): number {
    return this.#pendingTx.size;
  }

  #dropPending(txId: string): void {
    for (const key of this.#pendingTx.get(txId) ?? []) {
      const list = (this.#pending.get(key) ?? []).filter((p) => p.txId !== txId);
      if (list.length) this.#pending.set(key, list);
      else this.#pending.delete(key);
      const slash = key.indexOf('/');
      this.#refresh(key.slice(0, slash), key.slice(slash + 1));
    }
    this.#pendingTx.delete(txId);
  }

  #setBase(model: string, id: string, row: Row | undefined, stamp: number, observedAt: number): void {
    let rows = this.#entries.get(model);
    if (!rows) {
      rows = new Map();
      this.#entries.set(model, rows);
    }
    const entry = rows.get(id);
    // Seen before the last snapshot and absent from it: gone (or out of view) since.
    if (!entry && observedAt < this.#snapshotAt) return;
    if (entry && stamp < entry.baseStamp) {
      entry.observedAt = Math.max(entry.observedAt, observedAt);
      return;
    }
    const next: Entry = entry ?? { base: undefined, baseStamp: 0, observedAt: 0, view: undefined };
    next.base = row ? deepFreeze({ ...row }) : undefined;
    next.baseStamp = stamp;
    next.observedAt = Math.max(next.observedAt, observedAt);
    rows.set(id, next);
    this.#refresh(model, id);
  }

  /** Recomputes the view of one row and records the change. */
  #refresh(model: string, id: string): void {
    let rows = this.#entries.get(model);
    if (!rows) {
      rows = new Map();
      this.#entries.set(model, rows);
    }
    let entry = rows.get(id);
    if (!entry) {
      entry = { base: undefined, baseStamp: 0, observedAt: 0, view: undefined };
      rows.set(id, entry);
    }
    const view = this.#overlay(model, id, entry.base);
    if (view === entry.view) return;
    if (view && entry.view && sameRow(view, entry.view)) return;
    entry.view = view;
    if (!view && !entry.base && !this.#pending.has(rowKey(model, id)) && entry.baseStamp === 0) rows.delete(id);
    this.#versions.set(model, (this.#versions.get(model) ?? 0) + 1);
    this.#changed.add(rowKey(model, id));
  }

  #overlay(model: string, id: string, base: Row | undefined): Row | undefined {
    const pending = this.#pending.get(rowKey(model, id));
    if (!pending) return base;
    let row: Record<string, unknown> | undefined = base ? { ...base } : undefined;
    for (const { op, at } of pending) {
      if (op.type === 'delete') row = undefined;
      else if (op.type === 'create') row = { ...this.#defaults(model), id, stamp: 0, createdAt: at, updatedAt: at, ...op.data };
      else if (row) row = { ...row, ...op.data, updatedAt: at };
    }
    return row ? deepFreeze(row as Row) : undefined;
  }

  /** `null` for every optional field: what the server stores when a create leaves one out. */
  #defaults(model: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const field of this.#models[model]?.fields ?? []) if (!field.required) out[field.name] = null;
    return out;
  }

  #emit(): void {
    if (this.#changed.size === 0 && this.#changedModels.size === 0) return;
    const changed = new Changed(this.#changed, this.#changedModels);
    this.#changed = new Set();
    if (this.#changedModels.size) this.#changedModels = new Set();
    for (const listener of this.#listeners) listener(changed);
  }
}

function sameRow(a: Row, b: Row): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => a[k] === b[k] || JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

/** Freezes a row from the wire in place (its nested values too). */
function freezeRow(row: Row): Row {
  for (const key in row) {
    const value = row[key];
    if (value !== null && typeof value === 'object') deepFreeze(value);
  }
  return Object.freeze(row);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as object)) deepFreeze(inner);
  }
  return value;
}
