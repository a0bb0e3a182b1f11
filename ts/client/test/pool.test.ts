// The local pool on its own: overlays of unconfirmed writes, rollback,
// deltas applied once and in stamp order, removals, snapshots.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Changed, Pool } from '../src/pool.js';
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

test('a server snapshot replaces the confirmed rows in one batch and keeps unconfirmed writes laid over', () => {
  const pool = new Pool(models);
  pool.applyDeltas([delta(1, 'a', row('a', 1, 'a1')), delta(2, 'b', row('b', 2, 'b2')), delta(3, 'c', row('c', 3, 'c3'))]);
  const c = pool.get('tasks', 'c');
  pool.addPending('tx1', { type: 'update', model: 'tasks', id: 'b', data: { title: 'mine' } });
  pool.addPending('tx2', { type: 'create', model: 'tasks', id: 'new', data: { title: 'created' } });
  const batches: Changed[] = [];
  pool.subscribe((changed) => batches.push(changed));

  pool.beginSnapshot(20);
  assert.ok(pool.snapshotting);
  // As of 20: a is gone, b changed at 15, c is unchanged, d is new.
  pool.snapshotRows('tasks', [row('b', 15, 'b15'), row('c', 3, 'c3')]);
  pool.snapshotRows('tasks', [row('d', 18, 'd18')]);
  assert.equal(pool.get('tasks', 'a')?.title, 'a1', 'nothing changes before the snapshot is complete');
  assert.equal(batches.length, 0);
  // A commit receipt newer than the snapshot arrives meanwhile: it stays.
  pool.addPending('tx3', { type: 'update', model: 'tasks', id: 'd', data: { title: 'd mine' } });
  pool.confirm('tx3', [{ type: 'update', model: 'tasks', id: 'd', data: { title: 'd mine' } }], [row('d', 22, 'd22')], 22);
  batches.length = 0;

  assert.equal(pool.endSnapshot(), 3);
  assert.equal(batches.length, 1, 'one notification for the whole snapshot');
  assert.deepEqual([...batches[0]!.keys].sort(), ['tasks/a', 'tasks/b'].sort());
  assert.equal(pool.cursor, 20);
  assert.equal(pool.get('tasks', 'a'), undefined, 'a row missing from the snapshot is dropped');
  assert.equal(pool.get('tasks', 'b')?.title, 'mine', 'an unconfirmed write stays on top');
  assert.equal(pool.get('tasks', 'c'), c, 'an unchanged row keeps its identity');
  assert.equal(pool.get('tasks', 'd')?.title, 'd22', 'a receipt newer than the snapshot wins');
  assert.equal(pool.get('tasks', 'new')?.title, 'created', 'an unconfirmed create stays');
  pool.rollback('tx1');
  assert.equal(pool.get('tasks', 'b')?.title, 'b15');
  // A read observed before the snapshot cannot bring back a row it lacked.
  pool.storeRows('tasks', [row('a', 1, 'a1')], 10);
  assert.equal(pool.get('tasks', 'a'), undefined);
  pool.applyDeltas([delta(20, 'x', row('x', 20, 'at the seam')), delta(21, 'e', row('e', 21, 'e21'))]);
  assert.equal(pool.get('tasks', 'x'), undefined, 'a delta at the snapshot sync id was in it');
  assert.equal(pool.get('tasks', 'e')?.title, 'e21');
  assert.equal(pool.cursor, 21);
});

test('a snapshot into an empty pool marks the whole model changed', () => {
  const pool = new Pool(models);
  const batches: Changed[] = [];
  pool.subscribe((changed) => batches.push(changed));
  pool.beginSnapshot(4);
  pool.snapshotRows('tasks', [row('a', 2, 'a2'), row('b', 4, 'b4')]);
  const list = pool.list('tasks');
  assert.equal(pool.endSnapshot(), 2);
  assert.equal(batches.length, 1);
  assert.ok(batches[0]!.has('tasks/a') && batches[0]!.has('tasks/b') && !batches[0]!.has('other/a'));
  assert.notEqual(pool.list('tasks'), list, 'lists are computed again');
  assert.deepEqual(pool.list('tasks').map((r) => r.title), ['a2', 'b4']);
  assert.ok(Object.isFrozen(pool.get('tasks', 'a')));
});

test('a snapshot cut off before its end leaves the pool as it was', () => {
  const pool = new Pool(models);
  pool.applyDeltas([delta(1, 'a', row('a', 1, 'a1'))]);
  pool.beginSnapshot(9);
  pool.snapshotRows('tasks', [row('b', 9, 'b9')]);
  pool.abortSnapshot();
  assert.equal(pool.endSnapshot(), undefined);
  assert.equal(pool.cursor, 1);
  assert.equal(pool.get('tasks', 'a')?.title, 'a1');
  assert.equal(pool.get('tasks', 'b'), undefined);
});
