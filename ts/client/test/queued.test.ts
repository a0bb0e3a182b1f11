// Optimistic queued writes, rollback with a typed error, and retries with
// the same clientTxId after a dropped answer.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AbloError, AbloIdempotencyError, AbloStaleContextError, AbloValidationError } from '@ablo/client';
import { TestServer, until, type BoardClient } from './harness.js';

let server: TestServer;
let ablo: BoardClient;

before(async () => {
  server = await TestServer.start();
  ablo = server.client({ wait: 'queued' });
  await ablo.ready();
});
after(async () => {
  await ablo.dispose();
  await server.stop();
});

// conformance: queued.optimistic
test('a queued write shows at once and is confirmed in the background', async () => {
  const created = await ablo.tasks.create({ title: 'optimistic', status: 'todo' });
  assert.equal(ablo.tasks.retrieve(created.id)?.title, 'optimistic', 'in the pool before the server answered');
  assert.equal(ablo.status.hasUnconfirmedWrites, true);
  await until(() => ablo.status.pendingWrites === 0, 5000, 'confirmation');
  const row = ablo.tasks.retrieve(created.id);
  assert.ok(row && row.stamp > 0, 'the confirmed row replaced the local one');
});

// conformance: queued.rollback
test('a refused queued write is rolled back and reported as a typed error', async () => {
  const task = await ablo.tasks.create({ title: 'base', status: 'todo' }, { wait: 'confirmed' });
  const errors: AbloError[] = [];
  const stop = ablo.onError((error) => errors.push(error));
  const other = server.client();
  await other.tasks.update(task.id, { title: 'changed elsewhere' });
  await ablo.tasks.update(task.id, { title: 'stale edit' }, { readAt: task.stamp });
  assert.equal(ablo.tasks.retrieve(task.id)?.title, 'stale edit', 'optimistic');
  await until(() => errors.length > 0, 5000, 'the rejection');
  assert.ok(errors[0] instanceof AbloStaleContextError);
  await until(() => ablo.tasks.retrieve(task.id)?.title !== 'stale edit', 5000, 'rollback');
  assert.notEqual(ablo.tasks.retrieve(task.id)?.title, 'stale edit');

  await ablo.tasks.create({ title: 'bad', status: 'todo', summary: 5 as unknown as string });
  await until(() => errors.length > 1, 5000, 'the validation rejection');
  assert.ok(errors[1] instanceof AbloValidationError);
  assert.equal(ablo.tasks.list({ where: { title: 'bad' } }).length, 0, 'the refused create is gone');
  stop();
  await other.dispose();
});

// conformance: queued.retry-same-tx
test('a dropped answer is retried with the same clientTxId and applied once', async () => {
  let dropped = 0;
  const bodies: string[] = [];
  const flaky: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (String(input).endsWith('/v1/commits')) {
      bodies.push(String(init?.body));
      if (dropped === 0) {
        dropped++;
        throw new TypeError('fetch failed: the answer was lost');
      }
    }
    return response;
  };
  const client = server.client({ fetch: flaky, connect: false });
  const created = await client.tasks.create({ title: 'exactly once', status: 'todo' });
  assert.equal(dropped, 1);
  assert.equal(bodies.length, 2);
  assert.equal(bodies[0], bodies[1], 'the retry sends the same commit, clientTxId included');
  const all = await client.tasks.load({ where: { title: 'exactly once' } });
  assert.equal(all.length, 1, 'the server applied it once');
  assert.equal(all[0]?.id, created.id);
  await client.dispose();
});

// conformance: writes.idempotency-key
test('an idempotency key replays the original result; another body under it conflicts', async () => {
  const first = await ablo.tasks.create({ title: 'keyed', status: 'todo' }, { idempotencyKey: 'key-1', wait: 'confirmed' });
  const again = await ablo.tasks.create({ id: first.id, title: 'keyed', status: 'todo' }, { idempotencyKey: 'key-1', wait: 'confirmed' });
  assert.equal(again.id, first.id);
  assert.equal(again.stamp, first.stamp, 'the same receipt');
  await assert.rejects(
    ablo.tasks.create({ title: 'different', status: 'todo' }, { idempotencyKey: 'key-1', wait: 'confirmed' }),
    (error: unknown) => error instanceof AbloIdempotencyError && error.code === 'idempotency_conflict',
  );
});

test('a queued update of a row the pool does not hold waits for the server', async () => {
  const task = await ablo.tasks.create({ title: 'elsewhere', status: 'todo' }, { wait: 'confirmed' });
  const other = server.client({ wait: 'queued', connect: false });
  const updated = await other.tasks.update(task.id, { status: 'done' });
  assert.equal(updated.status, 'done', 'the server row, not undefined');
  await assert.rejects(other.tasks.update('missing', { status: 'done' }), (e: unknown) => e instanceof AbloError && e.code === 'row_not_found');
  await other.dispose();
});

// conformance: queued.in-order
test('queued writes are sent in order: the last of many quick updates wins', async () => {
  const seen: string[] = [];
  const watcher = server.client();
  await watcher.ready();
  const task = await ablo.tasks.create({ title: 'v0', status: 'todo' });
  watcher.subscribe(() => {
    const title = watcher.tasks.retrieve(task.id)?.title;
    if (title && seen.at(-1) !== title) seen.push(title);
  });
  for (let i = 1; i <= 20; i++) void ablo.tasks.update(task.id, { title: `v${i}` });
  assert.equal(ablo.tasks.retrieve(task.id)?.title, 'v20', 'all laid over the pool at once');
  await until(() => ablo.status.pendingWrites === 0, 10_000, 'every write confirmed');
  const stored = await server.admin<{ data: { title: string } }>('GET', `/v1/models/tasks/${task.id}`);
  assert.equal(stored.data.title, 'v20');
  await until(() => seen.at(-1) === 'v20', 5000, 'the watcher');
  const numbers = seen.map((t) => Number(t.slice(1)));
  assert.deepEqual(numbers, [...numbers].sort((a, b) => a - b), 'another client saw them in order');
  await watcher.dispose();
});
