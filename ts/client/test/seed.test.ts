// The seed's TypeScript, unchanged but for its import lines, run against
// the server: the agent-human worker and the AI SDK tool (with a scripted
// stand-in for the model). Their React parts are compiled by `tsc`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { TestServer, until } from './harness.js';

let server: TestServer;

before(async () => {
  server = await TestServer.start();
  process.env['ABLO_API_KEY'] = server.apiKey;
  process.env['ABLO_URL'] = server.url;
  // Node 20 has no global WebSocket; the snippets do not pass one.
  (globalThis as { WebSocket?: unknown }).WebSocket = WebSocket;
});
after(async () => {
  await server.stop();
});

test('agent-human: markDone writes when nobody is busy and yields to a human intent', async () => {
  const { markDone } = await import('./seed/agent-human.js');
  const human = server.client({ token: (await server.mint({ kind: 'user', id: 'u_ada' })).token, wait: 'confirmed' });
  const task = await human.tasks.create({ title: 'Ship it', status: 'todo' });

  const editing = await human.intents.create({ target: { resource: 'tasks', id: task.id }, action: 'editing' });
  const busy = await markDone(task.id);
  assert.equal(busy.status, 'busy');
  assert.equal(busy.intents?.[0]?.participantKind, 'user');
  await editing.release();

  await until(() => true);
  const done = await markDone(task.id);
  assert.equal(done.status, 'done');
  assert.equal(done.task?.status, 'done');
  assert.deepEqual(await markDone('missing-task'), { status: 'not_found' });
  await human.dispose();
});

test('ai-sdk-tool: the scripted model calls updateTask, which waits, guards and confirms', async () => {
  const { POST } = await import('./seed/ai-sdk-tool.js');
  const human = server.client({ token: (await server.mint({ kind: 'user', id: 'u_bo' })).token, wait: 'confirmed' });
  const task = await human.tasks.create({ title: 'Triage', status: 'todo' });
  const editing = await human.intents.create({ target: { resource: 'tasks', id: task.id }, action: 'editing', ttl: 5000 });
  setTimeout(() => void editing.release(), 300);

  const request = new Request('http://app.local/api/chat', {
    method: 'POST',
    body: JSON.stringify({
      messages: [{ role: 'user', content: 'mark the triage task as doing' }],
      model: { calls: [{ tool: 'updateTask', input: { taskId: task.id, status: 'doing', summary: 'picked up by the agent' } }] },
    }),
  });
  const started = Date.now();
  const response = await POST(request);
  const lines = (await response.text()).trim().split('\n').map((l) => JSON.parse(l) as { output: { ok: boolean; task?: { status: string; summary: string } } });
  assert.ok(Date.now() - started >= 250, 'the tool waited for the human to finish');
  assert.equal(lines[0]?.output.ok, true);
  assert.equal(lines[0]?.output.task?.status, 'doing');
  const [row] = await human.tasks.load({ where: { id: task.id } });
  assert.equal(row?.summary, 'picked up by the agent');
  await human.dispose();
  process.exitCode = 0;
});
