// Every stale policy, and the snapshot that feeds `readAt`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AbloStaleContextError } from '@ablo/client';
import { TestServer, until, type BoardClient } from './harness.js';

let server: TestServer;
let agent: BoardClient;
let human: BoardClient;

before(async () => {
  server = await TestServer.start();
  agent = server.client();
  human = server.client();
  await Promise.all([agent.ready(), human.ready()]);
});
after(async () => {
  await Promise.all([agent.dispose(), human.dispose()]);
  await server.stop();
});

async function seeded() {
  const task = await human.tasks.create({ title: 'Draft', status: 'todo' });
  const [loaded] = await agent.tasks.load({ where: { id: task.id } });
  assert.ok(loaded);
  const snap = agent.snapshot({ tasks: task.id });
  assert.ok(snap.stamp >= task.stamp, 'the snapshot covers the row as loaded');
  return { task, snap };
}

// conformance: stale.reject
test('reject: a write from a stale read fails with the current row and stamp, and changes nothing', async () => {
  const { task, snap } = await seeded();
  const changed = await human.tasks.update(task.id, { title: 'Draft v2' });
  await assert.rejects(
    agent.tasks.update(task.id, { status: 'done' }, { readAt: snap.stamp, onStale: 'reject', wait: 'confirmed' }),
    (error: unknown) => {
      assert.ok(error instanceof AbloStaleContextError);
      assert.equal(error.code, 'stale_context');
      assert.equal(error.httpStatus, 409);
      assert.equal(error.current?.['title'], 'Draft v2');
      assert.equal(error.stamp, changed.stamp);
      return true;
    },
  );
  const [now] = await human.tasks.load({ where: { id: task.id } });
  assert.equal(now?.status, 'todo');
});

// conformance: stale.snapshot-guard
test('reject is the default once readAt is given; a fresh snapshot succeeds', async () => {
  const { task, snap } = await seeded();
  await human.tasks.update(task.id, { title: 'moved on' });
  await assert.rejects(agent.tasks.update(task.id, { status: 'done' }, { readAt: snap.stamp }), AbloStaleContextError);
  await until(() => agent.tasks.retrieve(task.id)?.title === 'moved on', 5000, 'the live delta');
  const fresh = agent.snapshot({ tasks: task.id });
  const done = await agent.tasks.update(task.id, { status: 'done' }, { readAt: fresh.stamp });
  assert.equal(done.status, 'done');
});

// conformance: stale.merge-force
test('merge: writes to different fields both succeed; the same field conflicts and names it', async () => {
  const { task, snap } = await seeded();
  await human.tasks.update(task.id, { title: 'renamed' });
  const merged = await agent.tasks.update(task.id, { status: 'doing' }, { readAt: snap.stamp, onStale: 'merge' });
  assert.equal(merged.status, 'doing');
  assert.equal(merged.title, 'renamed');
  await assert.rejects(
    agent.tasks.update(task.id, { title: 'mine' }, { readAt: snap.stamp, onStale: 'merge' }),
    (error: unknown) => error instanceof AbloStaleContextError && error.conflictingFields.includes('title'),
  );
});

// conformance: stale.merge-force
test('flag accepts a stale write and marks it; force accepts it', async () => {
  const { task, snap } = await seeded();
  await human.tasks.update(task.id, { title: 'someone else' });
  const flagged = await agent.tasks.update(task.id, { summary: 'flagged' }, { readAt: snap.stamp, onStale: 'flag' });
  assert.equal(flagged.summary, 'flagged');
  const forced = await agent.tasks.update(task.id, { title: 'forced' }, { readAt: snap.stamp, onStale: 'force' });
  assert.equal(forced.title, 'forced');
  await assert.rejects(agent.tasks.delete(task.id, { readAt: snap.stamp }), AbloStaleContextError);
  await agent.tasks.delete(task.id, { readAt: snap.stamp, onStale: 'force' });
});

test("a snapshot's signal aborts when a captured row changes", async () => {
  const { task } = await seeded();
  const snap = agent.snapshot({ tasks: task.id });
  assert.equal(snap.signal.aborted, false);
  await human.tasks.update(task.id, { summary: 'touched' });
  await until(() => snap.signal.aborted, 5000, 'the signal');
});

// conformance: stale.delete
test('a stale delete is rejected and the row stays', async () => {
  const { task, snap } = await seeded();
  await human.tasks.update(task.id, { status: 'doing' });
  await until(() => agent.tasks.retrieve(task.id)?.status === 'doing', 5000, 'the change at the agent');
  await assert.rejects(
    agent.tasks.delete(task.id, { readAt: snap.stamp, wait: 'confirmed' }),
    (error: unknown) => error instanceof AbloStaleContextError && error.code === 'stale_context',
  );
  assert.equal(agent.tasks.retrieve(task.id)?.status, 'doing', 'still in the pool');
  const row = await human.tasks.load({ where: { id: task.id } });
  assert.equal(row.length, 1, 'still on the server');
});
