// The client's side of the coordination snapshot on subscribe: a
// `coordination` message (active intents and presence) replaces what the
// client knew, so a page opened late shows who is working. The server does
// not send it yet; a socket wrapper plays that part here.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { WebSocketLike } from '@ablo/client';
import { TestServer, until } from './harness.js';

let server: TestServer;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server.stop();
});

function withSnapshot(snapshot: () => object): new (url: string) => WebSocketLike {
  return class extends WebSocket {
    constructor(url: string) {
      super(url);
      this.addEventListener('message', (event) => {
        if (String(event.data).includes('"caughtUp"')) {
          queueMicrotask(() => this.onmessage?.({ data: JSON.stringify(snapshot()) } as WebSocket.MessageEvent));
        }
      });
    }
  } as unknown as new (url: string) => WebSocketLike;
}

// conformance: intents.late-reader
test('a coordination snapshot on subscribe fills intents and presence for a late joiner', async () => {
  const admin = server.client();
  await admin.ready();
  const task = await admin.tasks.create({ title: 'busy', status: 'todo' });
  const bot = { id: 'triage-bot', kind: 'agent' };
  const now = new Date();
  const intent = {
    id: 'int_snapshot',
    participant: bot,
    target: { model: 'tasks', id: task.id },
    action: 'update',
    exclusive: false,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + 60_000).toISOString(),
  };
  const late = server.client({
    WebSocket: withSnapshot(() => ({
      type: 'coordination',
      intents: [intent],
      presence: [{ participant: bot, target: { model: 'tasks', id: task.id }, state: 'editing', at: now.toISOString() }],
    })),
  });
  await late.ready();
  await until(() => late.intents.list({ resource: 'tasks', id: task.id }).length === 1, 5000, 'the snapshot');
  assert.equal(late.intents.list({ resource: 'tasks', id: task.id })[0]?.participantKind, 'agent');
  assert.equal(late.presence.list({ resource: 'tasks', id: task.id })[0]?.state, 'editing');
  await Promise.all([admin.dispose(), late.dispose()]);
});
