// Live deltas between clients, and a server restart: queued writes survive,
// every client catches up from its cursor with no gap and no duplicate.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestServer, until, recordingWebSocket, type BoardClient } from './harness.js';

let server: TestServer;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server.stop();
});

// conformance: live.two-clients
test('an edit in one client appears in the other', async () => {
  const a = server.client();
  const b = server.client();
  await Promise.all([a.ready(), b.ready()]);
  assert.equal(b.status.status, 'connected');
  const task = await a.tasks.create({ title: 'live', status: 'todo' });
  await until(() => b.tasks.retrieve(task.id)?.title === 'live', 5000, 'the insert at b');
  await a.tasks.update(task.id, { status: 'doing' });
  await until(() => b.tasks.retrieve(task.id)?.status === 'doing', 5000, 'the update at b');
  await a.tasks.delete(task.id);
  await until(() => b.tasks.retrieve(task.id) === undefined, 5000, 'the delete at b');
  await Promise.all([a.dispose(), b.dispose()]);
});

// conformance: live.restart
test('after a server restart nothing is lost or repeated', async () => {
  const seen: number[] = [];
  const writer = server.client({ wait: 'queued' });
  const watcher: BoardClient = server.client({ WebSocket: recordingWebSocket(seen) });
  await Promise.all([writer.ready(), watcher.ready()]);
  const states: string[] = [];
  watcher.subscribe(() => {
    if (states[states.length - 1] !== watcher.status.status) states.push(watcher.status.status);
  });
  const start = watcher.status.cursor;

  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await writer.tasks.create({ title: `before ${i}`, status: 'todo' })).id);
  await until(() => writer.status.pendingWrites === 0, 5000, 'the first writes');

  await server.kill();
  // Written while the server is down: kept in the queue and retried.
  for (let i = 0; i < 5; i++) ids.push((await writer.tasks.create({ title: `during ${i}`, status: 'todo' })).id);
  assert.equal(writer.tasks.retrieve(ids[7]!)?.title, 'during 2', 'visible locally while offline');
  await until(() => watcher.status.status === 'reconnecting', 5000, 'the watcher noticing');
  await server.launch();
  for (let i = 0; i < 5; i++) ids.push((await writer.tasks.create({ title: `after ${i}`, status: 'todo' })).id);

  await until(() => writer.status.pendingWrites === 0, 20_000, 'every queued write confirmed');
  await until(() => ids.every((id) => watcher.tasks.retrieve(id)?.stamp), 20_000, 'the watcher catching up');
  await until(() => watcher.status.status === 'connected', 5000, 'reconnected');
  assert.ok(states.includes('reconnecting'));

  const serverRows = await server.admin<{ data: Array<{ id: string }> }>('GET', '/v1/models/tasks?limit=1000');
  for (const id of ids) assert.ok(serverRows.data.some((r) => r.id === id), `${id} is on the server`);
  assert.equal(serverRows.data.length, ids.length, 'no write applied twice');
  const sorted = [...seen].sort((x, y) => x - y);
  assert.deepEqual(seen, sorted, 'deltas in order');
  assert.equal(new Set(seen).size, seen.length, 'no delta delivered twice');
  const expected = Array.from({ length: watcher.status.cursor - start }, (_, i) => start + 1 + i);
  assert.deepEqual(seen, expected, 'no gap');
  await Promise.all([writer.dispose(), watcher.dispose()]);
});

// conformance: lifecycle.dispose-flushes
test('dispose flushes queued writes, then closes the client', async () => {
  const client = server.client({ wait: 'queued' });
  await client.ready();
  const ids: string[] = [];
  for (let i = 0; i < 15; i++) ids.push((await client.tasks.create({ title: `flushed ${i}`, status: 'todo' })).id);
  assert.ok(client.status.pendingWrites > 0, 'still queued when dispose is called');
  await client.dispose();
  assert.equal(client.status.status, 'disconnected');
  assert.equal(client.status.pendingWrites, 0);
  const rows = await server.admin<{ data: Array<{ id: string }> }>('GET', '/v1/models/tasks?limit=1000');
  for (const id of ids) assert.ok(rows.data.some((r) => r.id === id), `${id} reached the server`);
});
