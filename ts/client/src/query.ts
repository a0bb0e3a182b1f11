// Local queries over pool rows: `where` conditions, one order, a limit. The
// same rules as the server's list route (`ablo_runtime::filter`,
// docs/protocol.md), so `list(query)` after `load(query)` shows the same
// rows:
// - a missing field is null; `eq: null` (or a plain `null`) matches null,
//   `ne: v` matches null fields too, no range matches a null field;
// - numbers compare by value, strings by Unicode code point, booleans only
//   for (in)equality; values of different kinds are never equal.

import type { Query, Row } from './types.js';

/** The operators of one `where` field; all that are given must hold. */
export interface WhereOperators<T> {
  eq?: T | null;
  ne?: T | null;
  gt?: T;
  gte?: T;
  lt?: T;
  lte?: T;
  /** One of these values (`null` matches a null field; at most 1000). */
  in?: readonly (T | null)[];
}

/** A `where` field: a plain value (equality) or an object of operators. */
export type WhereValue<T> = T | null | WhereOperators<NonNullable<T>>;

/** `where`: field → value or operators, e.g. `{ priority: { gte: 3 }, status: { in: ['todo'] } }`. */
export type Where<R> = { [K in keyof R]?: WhereValue<R[K]> };


function isOperators(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  if (Array.isArray(v)) return 4;
  return 5;
}

/** Strings by code point (JavaScript's `<` compares UTF-16 units). */
function compareStrings(a: string, b: string): number {
  const x = Array.from(a);
  const y = Array.from(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] as string).codePointAt(0)! - (y[i] as string).codePointAt(0)!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return x.length - y.length;
}

/** The total order of `orderBy`: null < booleans < numbers < strings < the rest. */
function compare(a: unknown, b: unknown): number {
  const ka = kind(a);
  const kb = kind(b);
  if (ka !== kb) return ka - kb;
  if (ka === 0) return 0;
  if (ka === 1 || ka === 2) return Number(a) - Number(b);
  if (ka === 3) return compareStrings(a as string, b as string);
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function equal(a: unknown, b: unknown): boolean {
  return compare(a, b) === 0;
}

/** Whether a field's value passes one operator. */
export function passes(actual: unknown, op: string, value: unknown): boolean {
  const v = actual ?? null;
  switch (op) {
    case 'eq':
      return equal(v, value ?? null);
    case 'ne':
      return !equal(v, value ?? null);
    case 'in':
      return Array.isArray(value) && value.some((x) => equal(v, x ?? null));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      if (v === null || value === null || value === undefined || kind(v) !== kind(value)) return false;
      const c = compare(v, value);
      return op === 'gt' ? c > 0 : op === 'gte' ? c >= 0 : op === 'lt' ? c < 0 : c <= 0;
    }
    default:
      throw new Error(`where: unknown operator \`${op}\`; the operators are eq, ne, gt, gte, lt, lte, in`);
  }
}

/** Whether `row` passes every condition of `where` (an unknown operator throws, as the server refuses it). */
export function matches(row: Row, where: Query<Row>['where']): boolean {
  if (!where) return true;
  for (const [field, condition] of Object.entries(where)) {
    if (condition === undefined) continue;
    const actual = row[field] ?? null;
    if (isOperators(condition)) {
      for (const [op, value] of Object.entries(condition)) {
        if (value === undefined) continue;
        if (!passes(actual, op, value)) return false;
      }
    } else if (!passes(actual, 'eq', condition)) {
      return false;
    }
  }
  return true;
}

/** `orderBy` as a field and a direction (default `id:asc`). */
export function parseOrder(orderBy: string | undefined): { field: string; desc: boolean } {
  if (!orderBy) return { field: 'id', desc: false };
  const [field = 'id', dir] = orderBy.split(':');
  return { field, desc: dir === 'desc' };
}

/** The rows matching `query`, in its order, at most `limit`. */
export function runQuery(rows: Row[], query: Query<Row>): Row[] {
  const { field, desc } = parseOrder(query.orderBy);
  const out = rows.filter((row) => matches(row, query.where));
  out.sort((a, b) => {
    const c = compare(a[field], b[field]) || compare(a.id, b.id);
    return desc ? -c : c;
  });
  return query.limit !== undefined ? out.slice(0, query.limit) : out;
}
