// Local `where` evaluation: the same rules as the server's list route and
// the Rust client's pool (ablo_runtime::filter): null-safe eq/ne, no range
// for null, numbers by value, strings by code point, `in` with null.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matches, runQuery } from '../src/query.js';
import type { Row, Where } from '../src/types.js';

function row(id: string, fields: Record<string, unknown>): Row {
  return { id, stamp: 1, createdAt: 't', updatedAt: 't', ...fields };
}

const rows = [
  row('0', { title: 'a', rank: 1, score: 1.5, done: true, note: 'x' }),
  row('1', { title: 'b', rank: 2, score: null, done: false }),
  row('2', { title: 'B', rank: 3, score: 2.0, done: false, note: 'y' }),
  row('3', { title: 'ab', rank: 2, score: -1.0, done: true, note: null }),
  row('4', { title: 'é', rank: 5, score: 2.5, done: false, note: 'x' }),
];

function ids(where: Where<Record<string, unknown>>): string[] {
  return rows.filter((r) => matches(r, where as never)).map((r) => r.id);
}

test('every operator selects what the server selects', () => {
  assert.deepEqual(ids({ rank: 2 }), ['1', '3']);
  assert.deepEqual(ids({ rank: { eq: 2 } }), ['1', '3']);
  assert.deepEqual(ids({ rank: { ne: 2 } }), ['0', '2', '4']);
  assert.deepEqual(ids({ rank: { gt: 2 } }), ['2', '4']);
  assert.deepEqual(ids({ rank: { gte: 2 } }), ['1', '2', '3', '4']);
  assert.deepEqual(ids({ rank: { lt: 2 } }), ['0']);
  assert.deepEqual(ids({ rank: { lte: 2 } }), ['0', '1', '3']);
  assert.deepEqual(ids({ rank: { in: [1, 3] } }), ['0', '2']);
  assert.deepEqual(ids({ rank: { in: [] } }), []);
  assert.deepEqual(ids({ rank: { gte: 1, lt: 4 }, done: false }), ['1', '2']);
  assert.deepEqual(ids({ score: 2 }), ['2'], '2 equals 2.0');
  assert.deepEqual(ids({ score: { gt: 1.5 } }), ['2', '4']);
  assert.deepEqual(ids({ score: null }), ['1']);
  assert.deepEqual(ids({ score: { ne: null } }), ['0', '2', '3', '4']);
  assert.deepEqual(ids({ score: { ne: 2 } }), ['0', '1', '3', '4'], 'ne lets null through');
  assert.deepEqual(ids({ title: { lt: 'b' } }), ['0', '2', '3'], 'by code point: B < a < b');
  assert.deepEqual(ids({ title: { gte: 'b' } }), ['1', '4']);
  assert.deepEqual(ids({ title: { in: ['a', 'B'] } }), ['0', '2']);
  assert.deepEqual(ids({ done: true }), ['0', '3']);
  assert.deepEqual(ids({ done: { ne: true } }), ['1', '2', '4']);
  assert.deepEqual(ids({ note: null }), ['1', '3'], 'a missing field is null');
  assert.deepEqual(ids({ note: { in: ['x', null] } }), ['0', '1', '3', '4']);
  assert.deepEqual(ids({ note: { ne: 'x' } }), ['1', '2', '3']);
});

test('values of another kind never match and ranges skip nulls', () => {
  assert.deepEqual(ids({ rank: '2' as never }), []);
  assert.deepEqual(ids({ done: 1 as never }), []);
  assert.deepEqual(ids({ score: { lt: 100 } }), ['0', '2', '3', '4']);
  assert.throws(() => ids({ title: { like: 'a%' } as never }), /unknown operator `like`/);
});

test('strings sort by code point, not UTF-16 unit', () => {
  const astral = [row('p', { t: '\u{1F600}' }), row('q', { t: '\uFFFD' })];
  const sorted = runQuery(astral, { orderBy: 't' }).map((r) => r.id);
  assert.deepEqual(sorted, ['q', 'p'], 'U+FFFD < U+1F600');
  assert.deepEqual(
    runQuery(rows, { where: { rank: { gte: 2 } }, orderBy: 'rank:desc', limit: 2 }).map((r) => r.id),
    ['4', '2'],
  );
});
