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

type Listener = (changed: ReadonlySet<string>) => void;

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
  #models: { readonly [name: string]: SchemaModel };
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
    if (this.#changed.size === 0) return;
    const changed = this.#changed;
    this.#changed = new Set();
    for (const listener of this.#listeners) listener(changed);
  }
}

function sameRow(a: Row, b: Row): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => a[k] === b[k] || JSON.stringify(a[k]) === JSON.stringify(b[k]));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value as object)) deepFreeze(inner);
  }
  return value;
}
