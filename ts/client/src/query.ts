// Local queries over pool rows: field equalities, one order, a limit. The
// same rules as the server's list route, so `list(query)` after
// `load(query)` shows the same rows.

import type { Query, Row } from './types.js';

/** Whether `row` has every value of `where`. */
export function matches(row: Row, where: Query<Row>['where']): boolean {
  if (!where) return true;
  for (const [field, value] of Object.entries(where)) {
    if (value === undefined) continue;
    const actual = row[field] ?? null;
    if (actual !== value && JSON.stringify(actual) !== JSON.stringify(value)) return false;
  }
  return true;
}

/** `orderBy` as a field and a direction (default `id:asc`). */
export function parseOrder(orderBy: string | undefined): { field: string; desc: boolean } {
  if (!orderBy) return { field: 'id', desc: false };
  const [field = 'id', dir] = orderBy.split(':');
  return { field, desc: dir === 'desc' };
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  const x = String(a);
  const y = String(b);
  return x < y ? -1 : x > y ? 1 : 0;
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
