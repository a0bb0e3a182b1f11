// The local pool on its own: overlays of unconfirmed writes, rollback,
// deltas applied once and in stamp order, removals, snapshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from '../src/pool.js';
import type { Delta, Row } from '../src/types.js';

const models = { tasks: { fields: [{ name: 'title', required: true }, { name: 'summary', required: false }] } };

function row(id: string, stamp: number, title: string): Row {
  return { id, stamp, createdAt: 't', updatedAt: 't', title, summary: null };
}
function delta(syncId: number, id: string, data: Row | null): Delta {
  return { syncId, model: 'tasks', id, action: data ? 'update' : 'delete', data, changedFields: [], syncGroups: ['default'] };
}

test('pending writes lay over confirmed rows and roll back to them', () => {
  const pool = new Pool(models);
  pool.storeRows('tasks', [row('a', 3, 'base')], 5);
  pool.addPending('tx1', { type: 'update', model: 'tasks', id: 'a', data: { title: 'mine' } });
  pool.addPending('tx2', { type: 'create', model: 'tasks', id: 'b', data: { title: 'new' } });
  assert.equal(pool.get('tasks', 'a')?.title, 'mine');
  assert.equal(pool.get('tasks', 'b')?.summary, null, 'optional fields of a local create are null');
  // A delta from someone else keeps the overlay on top.
  pool.applyDeltas([delta(6, 'a', { ...row('a', 6, 'theirs'), summary: 'x' })]);
  assert.equal(pool.get('tasks', 'a')?.title, 'mine');
  assert.equal(pool.get('tasks', 'a')?.summary, 'x');
  pool.rollback('tx1');
  assert.equal(pool.get('tasks', 'a')?.title, 'theirs');
  pool.rollback('tx2');
  assert.equal(pool.get('tasks', 'b'), undefined);
  assert.equal(pool.pendingCount, 0);
});

test('deltas at or below the cursor are skipped; older rows never replace newer ones', () => {
  const pool = new Pool(models);
  pool.applyDeltas([delta(1, 'a', row('a', 1, 'one')), delta(2, 'a', row('a', 2, 'two'))]);
  pool.applyDeltas([delta(2, 'a', row('a', 2, 'replayed'))]);
  assert.equal(pool.get('tasks', 'a')?.title, 'two');
  assert.equal(pool.cursor, 2);
  pool.storeRows('tasks', [row('a', 1, 'old read')], 1);
  assert.equal(pool.get('tasks', 'a')?.title, 'two', 'a stale read does not go back in time');
  pool.applyDeltas([delta(3, 'a', null)]);
  assert.equal(pool.get('tasks', 'a'), undefined, 'a delta without data removes the row');
  pool.storeRows('tasks', [row('a', 2, 'resurrected?')], 2);
  assert.equal(pool.get('tasks', 'a'), undefined, 'a read older than the removal does not bring it back');
});

test('rows are frozen and keep their identity until they change; lists too', () => {
  const pool = new Pool(models);
  pool.storeRows('tasks', [row('a', 1, 'x'), row('b', 1, 'y')], 1);
  const a = pool.get('tasks', 'a');
  const list = pool.list('tasks');
  assert.ok(Object.isFrozen(a) && Object.isFrozen(list));
  pool.storeRows('tasks', [row('a', 1, 'x')], 2);
  assert.equal(pool.get('tasks', 'a'), a, 'the same content keeps the same object');
  assert.equal(pool.list('tasks'), list);
  pool.applyDeltas([delta(3, 'b', row('b', 3, 'z'))]);
  assert.notEqual(pool.list('tasks'), list);
  assert.equal(pool.get('tasks', 'a'), a, 'an unchanged row keeps its identity');
});

test('a snapshot is the freshest stamp known for every row', () => {
  const pool = new Pool(models);
  pool.cursor = 10;
  pool.storeRows('tasks', [row('a', 5, 'a')], 14);
  pool.storeRows('tasks', [row('b', 6, 'b')], 12);
  assert.equal(pool.snapshot([{ model: 'tasks', id: 'a' }]), 14);
  assert.equal(pool.snapshot([{ model: 'tasks', id: 'a' }, { model: 'tasks', id: 'b' }]), 12);
  assert.equal(pool.snapshot([{ model: 'tasks', id: 'nope' }]), 10);
  assert.equal(pool.snapshot([]), 10);
});
