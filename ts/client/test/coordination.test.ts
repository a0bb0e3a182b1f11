// Intents (seen by others with their participant kind, waited for,
// enforced by ifBusy), claims handed over in line, and presence.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AbloBusyError } from '@ablo/client';
import { TestServer, until, type BoardClient } from './harness.js';

let server: TestServer;
let human: BoardClient;
let agent: BoardClient;

before(async () => {
  server = await TestServer.start();
  const ada = await server.mint({ kind: 'user', id: 'u_ada' });
  const bot = await server.mint({ kind: 'agent', id: 'triage-bot' });
  human = server.client({ token: ada.token, wait: 'confirmed' });
  agent = server.client({ token: bot.token, wait: 'confirmed' });
  await Promise.all([human.ready(), agent.ready()]);
});
after(async () => {
  await Promise.all([human.dispose(), agent.dispose()]);
  await server.stop();
});

// conformance: intents.visible, intents.late-reader
test("another participant's intent is listed with its kind; waitFor resolves on release", async () => {
  const task = await human.tasks.create({ title: 'shared', status: 'todo' });
  const editing = await human.intents.create({ target: { resource: 'tasks', id: task.id, field: 'title' }, action: 'editing' });
  assert.deepEqual(human.intents.list({ resource: 'tasks', id: task.id }), [], 'own intents are not listed');

  const fresh = server.client({ token: (await server.mint({ kind: 'agent', id: 'late' })).token });
  await fresh.ready();
  await fresh.tasks.load({ where: { id: task.id } });
  const seen = fresh.intents.list({ resource: 'tasks', id: task.id });
  assert.equal(seen.length, 1, 'a late reader learns intents from its load');
  assert.equal(seen[0]?.participantKind, 'user');
  assert.equal(seen[0]?.target.resource, 'tasks');
  assert.equal(seen[0]?.target.field, 'title');

  await until(() => agent.intents.list({ resource: 'tasks', id: task.id }).length === 1, 5000, 'the live intent event');
  await assert.rejects(
    agent.tasks.update(task.id, { title: 'agent title' }, { ifBusy: 'fail' }),
    (error: unknown) => error instanceof AbloBusyError && error.code === 'busy' && error.intents.length === 1,
  );
  const other = await agent.tasks.update(task.id, { status: 'doing' }, { ifBusy: 'fail' });
  assert.equal(other.status, 'doing', 'a field intent only makes writes of that field busy');

  const waited = agent.intents.waitFor({ resource: 'tasks', id: task.id }, { timeout: 5000 });
  setTimeout(() => void editing.release(), 100);
  await waited;
  assert.deepEqual(agent.intents.list({ resource: 'tasks', id: task.id }), []);
  await assert.rejects(
    (async () => {
      const again = await human.intents.create({ target: { resource: 'tasks', id: task.id }, action: 'editing' });
      try {
        await agent.intents.waitFor({ resource: 'tasks', id: task.id }, { timeout: 200 });
      } finally {
        await again.release();
      }
    })(),
    AbloBusyError,
  );
  await fresh.dispose();
});

// conformance: claims.handover
test('a claim is handed over in line with the fresh row; others cannot write meanwhile', async () => {
  const task = await human.tasks.create({ title: 'contested', status: 'todo' });
  const first = await agent.tasks.claim(task.id, { ttl: 5000 });
  assert.equal(first.row.title, 'contested');
  await assert.rejects(
    human.tasks.claim(task.id, { wait: false }),
    (error: unknown) => error instanceof AbloBusyError && error.code === 'entity_claimed',
  );
  await assert.rejects(
    human.tasks.update(task.id, { title: 'human edit' }),
    (error: unknown) => error instanceof AbloBusyError && error.code === 'entity_claimed',
  );
  const waiting = human.tasks.claim(task.id, { ttl: 5000 });
  await new Promise((r) => setTimeout(r, 100));
  await agent.tasks.update(task.id, { status: 'done', summary: 'agent finished' }, { intent: first.handle });
  await first.release();
  const second = await waiting;
  assert.equal(second.row.summary, 'agent finished', 'the next holder gets the row as of its grant');
  const written = await human.tasks.update(task.id, { title: 'human now' }, { intent: second.handle });
  assert.equal(written.title, 'human now');
  await assert.rejects(
    agent.tasks.update(task.id, { title: 'late agent' }),
    (error: unknown) => error instanceof AbloBusyError && error.code === 'entity_claimed',
  );
  await second.release();
});

// conformance: presence
test('presence: viewing and editing show at the other client and leave clears them', async () => {
  const task = await human.tasks.create({ title: 'watched', status: 'todo' });
  human.presence.set({ resource: 'tasks', id: task.id }, 'viewing');
  await until(
    () => agent.presence.list({ resource: 'tasks', id: task.id }).some((p) => p.participantId === 'u_ada' && p.state === 'viewing'),
    5000,
    'viewing',
  );
  human.presence.set({ resource: 'tasks', id: task.id }, 'editing');
  await until(
    () => agent.presence.list({ resource: 'tasks', id: task.id }).some((p) => p.participantKind === 'user' && p.state === 'editing'),
    5000,
    'editing',
  );
  human.presence.leave({ resource: 'tasks', id: task.id });
  await until(() => agent.presence.list({ resource: 'tasks', id: task.id }).length === 0, 5000, 'left');
});
