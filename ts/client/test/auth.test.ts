// Browser-style credentials: a token function called again before expiry
// and after a 401, with queued writes kept; an auth endpoint; needs-auth.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mintSession, sessionHandler } from '@ablo/client/server';
import { TestServer, until } from './harness.js';

let server: TestServer;

before(async () => {
  server = await TestServer.start();
});
after(async () => {
  await server.stop();
});

// conformance: auth.token-refresh
test('a short-lived token is fetched again before it expires; writes keep flowing', async () => {
  let calls = 0;
  const ablo = server.client({
    wait: 'queued',
    token: async () => {
      calls++;
      const minted = await server.mint({ kind: 'user', id: 'u_short' }, ['*'], 2);
      return { token: minted.token, expiresAt: minted.expiresAt };
    },
  });
  await ablo.ready();
  const ids: string[] = [];
  const deadline = Date.now() + 4500;
  while (Date.now() < deadline) {
    ids.push((await ablo.tasks.create({ title: `t${ids.length}`, status: 'todo' })).id);
    await new Promise((r) => setTimeout(r, 100));
  }
  await until(() => ablo.status.pendingWrites === 0, 10_000, 'every write confirmed');
  assert.ok(calls >= 3, `the token was fetched ${calls} times`);
  const rows = await server.admin<{ data: Array<{ id: string }> }>('GET', '/v1/models/tasks?limit=1000');
  for (const id of ids) assert.ok(rows.data.some((r) => r.id === id), 'no queued write lost');
  await until(() => ablo.status.status === 'connected', 5000, 'live again');
  const probe = await server.admin<{ id: string }>('POST', '/v1/models/tasks', { data: { title: 'probe', status: 'todo' } });
  await until(() => ablo.tasks.retrieve(probe.id) !== undefined, 5000, 'live deltas with the new token');
  await ablo.dispose();
});

// conformance: auth.token-refresh
test('a 401 makes the client fetch a new token and retry the write', async () => {
  const revoked = await server.mint({ kind: 'user', id: 'u_revoked' });
  await server.admin('DELETE', `/v1/capabilities/${revoked.id}`);
  const tokens = [revoked.token];
  let calls = 0;
  const ablo = server.client({
    connect: false,
    wait: 'confirmed',
    token: async () => {
      calls++;
      return tokens.shift() ?? (await server.mint({ kind: 'user', id: 'u_fresh' })).token;
    },
  });
  const task = await ablo.tasks.create({ title: 'after 401', status: 'todo' });
  assert.equal(task.title, 'after 401');
  assert.equal(calls, 2);
  await ablo.dispose();
});

test('an auth endpoint built with sessionHandler hands the page a user capability', async () => {
  const handler = sessionHandler({
    url: server.url,
    apiKey: server.apiKey,
    authenticate: (request) => (request.headers.get('cookie') === 'session=ada' ? { userId: 'u_ada', syncGroups: ['team:red'], ttlSeconds: 60 } : null),
  });
  const http = createServer(async (req, res) => {
    const response = await handler(new Request(`http://localhost${req.url}`, { method: req.method ?? 'POST', headers: req.headers as Record<string, string> }));
    res.writeHead(response.status, { 'content-type': 'application/json' });
    res.end(await response.text());
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as { port: number }).port;
  const cookieFetch: typeof fetch = (input, init) =>
    String(input).includes(`:${port}/`) ? fetch(input, { ...init, headers: { cookie: 'session=ada' } }) : fetch(input, init);

  const page = server.client({ authEndpoint: `http://127.0.0.1:${port}/api/ablo/session`, fetch: cookieFetch });
  await page.ready();
  const task = await page.tasks.create({ title: 'from the page', status: 'todo', team: 'red' }, { wait: 'confirmed' });
  const audit = await server.admin<{ data: Array<{ actorKind?: string; actor?: { kind: string; id: string } }> }>('GET', '/v1/audit');
  assert.ok(JSON.stringify(audit).includes('u_ada'), 'the write is attributed to the user');
  assert.equal(task.team, 'red');
  await page.dispose();

  const anonymous = server.client({ authEndpoint: `http://127.0.0.1:${port}/api/ablo/session` });
  await assert.rejects(anonymous.ready());
  assert.equal(anonymous.status.status, 'needs-auth');
  await anonymous.dispose();
  http.close();

  const session = await mintSession({ url: server.url, apiKey: server.apiKey }, { userId: 'u_direct' });
  assert.match(session.token, /^cap_/);
});
