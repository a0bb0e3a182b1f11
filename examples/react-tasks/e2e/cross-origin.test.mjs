// The board served from one origin and talking directly (HTTP and the
// WebSocket, no forwarder) to an ablo-server on another port, started with
// `--allow-origin` for the page's origin: writes, live updates and intents
// work. The same board served from an origin that is not allowed is
// refused: its HTTP calls fail CORS and its WebSocket upgrade is answered
// 403 `origin_not_allowed`, although its token is valid.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { TestServer } from '../../../ts/client/.build/test/harness.js';
import { startAppServer } from '../server.mjs';
import { measureLatency, recordSocketArrivals } from './latency.mjs';

const artifacts = join(fileURLToPath(new URL('..', import.meta.url)), 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

let server, app, foreign, browser, agent, ada, bo;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

const within = (promise, ms = 5000) => Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms).unref())]);

before(async () => {
  const appPort = await freePort();
  const appOrigin = `http://127.0.0.1:${appPort}`;
  server = await TestServer.start({ args: ['--allow-origin', appOrigin] });
  app = await startAppServer({ abloUrl: server.url, apiKey: server.apiKey, port: appPort });
  assert.equal(app.url, appOrigin);
  // The same app on another port: another origin, not on the server's list.
  foreign = await startAppServer({ abloUrl: server.url, apiKey: server.apiKey });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const bot = await server.mint({ kind: 'agent', id: 'cors-bot' });
  agent = server.client({ token: bot.token, wait: 'confirmed' });
  await agent.ready();
  await agent.tasks.create({ title: 'Seeded', status: 'todo' });
});

after(async () => {
  await within(agent?.dispose());
  await within(browser?.close());
  await within(app?.close());
  await within(foreign?.close());
  await within(server?.stop(), 10_000);
});

/**
 * Opens the board of `origin` for `user`, pointed at the Ablo server. The
 * page's network is watched through the DevTools protocol: HTTP requests
 * and their CORS failures, WebSocket handshakes and their status.
 */
async function openBoard(origin, user) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  page.on('pageerror', (error) => console.error(`[${user}] page error:`, error));
  await page.addInitScript(recordSocketArrivals);
  const net = { requests: [], failures: [], sockets: [], upgrades: [], handshakes: [] };
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const urls = new Map();
  cdp.on('Network.requestWillBeSent', (e) => {
    urls.set(e.requestId, e.request.url);
    net.requests.push({ url: e.request.url, method: e.request.method });
  });
  cdp.on('Network.loadingFailed', (e) => net.failures.push({ url: urls.get(e.requestId), cors: e.corsErrorStatus?.corsError }));
  cdp.on('Network.webSocketCreated', (e) => net.sockets.push(e.url));
  cdp.on('Network.webSocketWillSendHandshakeRequest', (e) => net.upgrades.push({ url: urls.get(e.requestId), origin: e.request.headers.Origin }));
  cdp.on('Network.webSocketCreated', (e) => urls.set(e.requestId, e.url));
  cdp.on('Network.webSocketHandshakeResponseReceived', (e) => net.handshakes.push(e.response.status));
  await page.goto(`${origin}/?user=${user}&ablo=${encodeURIComponent(server.url)}`);
  return { page, net };
}

const card = (page, title) => page.getByTestId(`task-${title}`);
const fromServer = (net) => net.requests.filter((r) => r.url.startsWith(`${server.url}/v1/`));

test('a page of an allowed origin writes, follows live updates and sees intents, talking to the server directly', async () => {
  ada = await openBoard(app.url, 'ada');
  bo = await openBoard(app.url, 'bo');
  for (const { page } of [ada, bo]) {
    await page.getByTestId('sync').filter({ hasText: /^connected$/ }).waitFor({ timeout: 15_000 });
    await card(page, 'Seeded').waitFor();
  }

  // A write in one page shows in the other, both ways.
  await ada.page.getByLabel('New task').fill('Cross-origin');
  await ada.page.getByRole('button', { name: 'Add' }).click();
  await card(bo.page, 'Cross-origin').waitFor({ timeout: 5000 });
  await card(bo.page, 'Cross-origin').getByRole('button', { name: '→ doing' }).click();
  await ada.page.getByTestId('column-doing').getByTestId('task-Cross-origin').waitFor({ timeout: 5000 });
  const [row] = (await server.admin('GET', '/v1/models/tasks?limit=100')).data.filter((t) => t.title === 'Cross-origin');
  assert.equal(row.status, 'doing', 'the server holds the pages’ writes');

  // The agent's intent shows in both pages, and goes when released.
  const intent = await agent.intents.create({ target: { resource: 'tasks', id: row.id }, action: 'update' });
  for (const { page } of [ada, bo]) await card(page, 'Cross-origin').getByTestId('agent-editing').waitFor({ timeout: 5000 });
  await ada.page.screenshot({ path: join(artifacts, 'cross-origin-agent-editing.png') });
  await intent.release();
  for (const { page } of [ada, bo]) await card(page, 'Cross-origin').getByTestId('agent-editing').waitFor({ state: 'detached', timeout: 5000 });

  // The page's own intent (create, heartbeat, release: POST and DELETE across origins) reaches the agent.
  await ada.page.evaluate(async (id) => {
    window.__intent = await window.__ablo.intents.create({ target: { resource: 'tasks', id }, action: 'update', ttl: 10_000 });
  }, row.id);
  const seen = () => agent.intents.list({ resource: 'tasks', id: row.id });
  for (let i = 0; i < 100 && seen().length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(
    seen().map((i) => [i.participantKind, i.participantId]),
    [['user', 'ada']],
  );
  await ada.page.evaluate(() => window.__intent.release());
  for (let i = 0; i < 100 && seen().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(seen().length, 0, 'the release reached the server');

  // Everything went to the Ablo server's origin, nothing through the app server.
  for (const { net } of [ada, bo]) {
    assert.ok(fromServer(net).some((r) => r.method === 'POST' && r.url.endsWith('/v1/commits')), 'commits went to the server directly');
    assert.deepEqual(
      net.requests.filter((r) => r.url.startsWith(`${app.url}/v1/`)),
      [],
      'no call went through the app server',
    );
    assert.ok(net.sockets.length > 0 && net.sockets.every((u) => u.startsWith(`${server.url.replace('http', 'ws')}/v1/sync/ws`)));
    assert.ok(net.handshakes.includes(101), `handshakes: ${net.handshakes}`);
    assert.deepEqual(net.failures.filter((f) => f.cors), [], 'no CORS failure');
  }
});

test('edit-to-render latency between pages talking to the server directly, over 200 edits', async () => {
  const id = await ada.page.evaluate(() => window.__ablo.tasks.list({ where: { title: 'Cross-origin' } })[0].id);
  const figures = await measureLatency({ from: ada.page, to: bo.page, id, server, edits: 200 });
  figures.path = 'cross-origin: the pages call ablo-server directly (CORS, no forwarder)';
  writeFileSync(join(artifacts, 'latency-direct.json'), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`edit-to-render latency (direct): ${JSON.stringify(figures)}`);
  assert.equal(figures.edits, 200);
  assert.ok(figures.p50Ms > 0);
  await ada.page.close();
  await bo.page.close();
});

test('a page of an origin that is not allowed is refused over HTTP and WebSocket', async () => {
  const eve = await openBoard(foreign.url, 'eve');
  // The client keeps trying: wait for its first failed round (probe over HTTP).
  await eve.page.getByTestId('sync').filter({ hasText: 'reconnecting' }).waitFor({ timeout: 15_000 });

  const results = await eve.page.evaluate(async (abloUrl) => {
    const session = await (await fetch(`/api/ablo/session${location.search}`, { method: 'POST' })).json();
    // A call through the client: a typed connection error (the browser hides why).
    const load = await window.__ablo.tasks.load().then(
      () => 'loaded',
      (e) => ({ type: e.type, code: e.code }),
    );
    // A bare WebSocket with the page's valid token: never opens.
    const socket = await new Promise((resolve) => {
      const ws = new WebSocket(`${abloUrl.replace('http', 'ws')}/v1/sync/ws?token=${encodeURIComponent(session.token)}`);
      let opened = false;
      ws.onopen = () => (opened = true);
      ws.onclose = (event) => resolve({ opened, code: event.code });
    });
    return { token: session.token, load, socket, status: window.__ablo.status.status, rows: window.__ablo.tasks.list().length };
  }, server.url);

  assert.deepEqual(results.load, { type: 'connection', code: 'connection_failed' });
  assert.deepEqual(results.socket, { opened: false, code: 1006 });
  assert.notEqual(results.status, 'connected');
  assert.equal(results.rows, 0, 'no row reached the page');
  // What the browser saw: CORS refusals of the server's HTTP answers, and
  // upgrades it sent with the page's origin that were never answered 101.
  const refused = eve.net.failures.filter((f) => f.url?.startsWith(`${server.url}/v1/`));
  assert.ok(refused.length > 0, 'HTTP calls to the server failed');
  for (const failure of refused) assert.match(failure.cors ?? '', /^(MissingAllowOriginHeader|AllowOriginMismatch|PreflightMissingAllowOriginHeader|PreflightAllowOriginMismatch)$/, JSON.stringify(failure));
  assert.ok(eve.net.upgrades.length > 0, 'the page tried the WebSocket');
  for (const upgrade of eve.net.upgrades) assert.equal(upgrade.origin, foreign.url);
  assert.deepEqual(eve.net.handshakes, [], 'no upgrade was accepted');

  // The server's answer to that very upgrade (its URL with the page's
  // token, its Origin header), replayed from Node: 403 origin_not_allowed.
  // Without the Origin header (a service, not a browser) the token is let in.
  const { default: WebSocket } = await import('ws');
  const upgrade = (url, origin) =>
    new Promise((resolve) => {
      const ws = new WebSocket(url, origin ? { origin } : {});
      ws.on('open', () => {
        ws.close();
        resolve({ status: 101 });
      });
      ws.on('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, error: JSON.parse(body).error }));
      });
      ws.on('error', () => undefined);
    });
  const attempt = eve.net.upgrades.at(-1);
  assert.ok(attempt.url.startsWith(`${server.url.replace('http', 'ws')}/v1/sync/ws?token=`), attempt.url);
  const denied = await upgrade(attempt.url, attempt.origin);
  assert.equal(denied.status, 403);
  assert.equal(denied.error.type, 'permission');
  assert.equal(denied.error.code, 'origin_not_allowed');
  assert.deepEqual(await upgrade(attempt.url, undefined), { status: 101 });
  const bare = `${server.url.replace('http', 'ws')}/v1/sync/ws?token=${encodeURIComponent(results.token)}`;
  assert.equal((await upgrade(bare, foreign.url)).status, 403);
  assert.deepEqual(await upgrade(bare, app.url), { status: 101 }, 'the allowed origin with the same token is let in');
  await eve.page.screenshot({ path: join(artifacts, 'cross-origin-refused.png') });
  await eve.page.close();
});
