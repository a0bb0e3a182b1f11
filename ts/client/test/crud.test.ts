// Create, update, delete, load, local reads and typed errors against a real server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AbloError, AbloNotFoundError, AbloValidationError } from '@ablo/client';
import { TestServer, type BoardClient } from './harness.js';

let server: TestServer;
let ablo: BoardClient;

before(async () => {
  server = await TestServer.start();
  ablo = server.client();
  await ablo.ready();
});
after(async () => {
  await ablo.dispose();
  await server.stop();
});

// conformance: crud.typed-handles
test('create, update and delete are confirmed and show in the pool', async () => {
  const created = await ablo.tasks.create({ title: 'Plan', status: 'todo' });
  assert.equal(created.title, 'Plan');
  assert.equal(created.summary, null, 'optional fields left out are null');
  assert.ok(created.stamp > 0, 'a confirmed row carries its stamp');
  assert.equal(ablo.tasks.retrieve(created.id)?.title, 'Plan');

  const updated = await ablo.tasks.update(created.id, { status: 'doing', summary: 'first pass' });
  assert.equal(updated.status, 'doing');
  assert.equal(updated.summary, 'first pass');
  assert.ok(updated.stamp > created.stamp);

  const gone = await ablo.tasks.delete(created.id);
  assert.equal(gone?.id, created.id);
  assert.equal(ablo.tasks.retrieve(created.id), undefined);
  const [again] = await ablo.tasks.load({ where: { id: created.id } });
  assert.equal(again, undefined, 'the server no longer has it');
});

// conformance: reads.load-list-count
test('load reads the server into the pool; list and count read the pool synchronously', async () => {
  const fresh = server.client();
  await fresh.ready();
  await ablo.tasks.create({ title: 'a', status: 'todo', team: 'red' });
  await ablo.tasks.create({ title: 'b', status: 'done', team: 'red' });
  await ablo.tasks.create({ title: 'c', status: 'todo', team: 'blue' });
  const todo = await fresh.tasks.load({ where: { status: 'todo' } });
  assert.ok(todo.every((t) => t.status === 'todo'));
  assert.ok(todo.length >= 2);
  await fresh.tasks.load();
  const red = fresh.tasks.list({ where: { team: 'red' }, orderBy: 'title:desc' });
  assert.deepEqual(red.map((t) => t.title), ['b', 'a']);
  assert.equal(fresh.tasks.count({ where: { team: 'red' } }), 2);
  assert.equal(fresh.tasks.list({ where: { team: 'red' }, limit: 1 }).length, 1);
  assert.equal(fresh.tasks.list({ where: { team: 'red' } }), fresh.tasks.list({ where: { team: 'red' } }), 'same array until a row changes');
  const row = red[0]!;
  assert.ok(Object.isFrozen(row), 'rows are immutable snapshots');
  await fresh.dispose();
});

// conformance: reads.load-dedup
test('concurrent identical loads share one request', async () => {
  let lists = 0;
  const counting: typeof fetch = (input, init) => {
    if (String(input).includes('/v1/models/tasks?')) lists++;
    return fetch(input, init);
  };
  const client = server.client({ fetch: counting, connect: false });
  const query = { where: { status: 'todo' as const } };
  const [a, b, c] = await Promise.all([client.tasks.load(query), client.tasks.load(query), client.tasks.load(query)]);
  assert.equal(lists, 1);
  assert.deepEqual(a, b);
  assert.deepEqual(b, c);
  await client.tasks.load(query);
  assert.equal(lists, 2, 'a later load asks again');
  await client.dispose();
});

// conformance: crud.missing-row-not-found, crud.validation-errors
test('errors are typed, with code, status and request id', async () => {
  await assert.rejects(
    ablo.tasks.update('no-such-task', { title: 'x' }),
    (error: unknown) => {
      assert.ok(error instanceof AbloNotFoundError);
      assert.ok(error instanceof AbloError);
      assert.equal(error.type, 'not_found');
      assert.equal(error.code, 'row_not_found');
      assert.equal(error.httpStatus, 404);
      assert.match(error.requestId ?? '', /^req_/);
      return true;
    },
  );
  await assert.rejects(
    // @ts-expect-error: `status` must be one of the enum's values
    ablo.tasks.create({ title: 'x', status: 'finished' }),
    (error: unknown) => error instanceof AbloValidationError && error.code === 'invalid_field_value' && error.httpStatus === 422,
  );
});

// conformance: reads.load-pages
test('load follows nextCursor past one page', async () => {
  const team = `pages-${Date.now()}`;
  for (let batch = 0; batch < 7; batch++) {
    const operations = Array.from({ length: 90 }, (_, i) => ({
      type: 'create',
      model: 'tasks',
      data: { title: `page row ${batch * 90 + i}`, status: 'todo', team },
    }));
    await server.admin('POST', '/v1/commits', { operations });
  }
  const lists: string[] = [];
  const counting: typeof fetch = (input, init) => {
    if (String(input).includes('/v1/models/tasks?')) lists.push(String(input));
    return fetch(input, init);
  };
  const reader = server.client({ fetch: counting, connect: false });
  const rows = await reader.tasks.load({ where: { team } });
  assert.equal(rows.length, 630);
  assert.equal(new Set(rows.map((r) => r.id)).size, 630, 'no row twice');
  assert.equal(reader.tasks.count({ where: { team } }), 630);
  assert.equal(lists.length, 2, 'two pages of at most 500');
  assert.match(lists[1]!, /cursor=/);
  await reader.dispose();
});
