// Two browser pages of the board and agents (the Rust `board-agent` and a
// TypeScript one), against a real ablo-server: edits travel between pages,
// the Rust agent's intent shows in both, a stale
// write shows its error and rolls back, and after a server restart both
// pages catch up with nothing lost. Screenshots and latency figures go to
// test-artifacts/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';
import { TestServer } from '../../../ts/client/.build/test/harness.js';
import { startAppServer } from '../server.mjs';
import { measureLatency, recordSocketArrivals } from './latency.mjs';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const agentBinary = process.env.BOARD_AGENT_BIN ?? join(repo, 'target', 'debug', 'board-agent');
const artifacts = join(fileURLToPath(new URL('..', import.meta.url)), 'test-artifacts');
mkdirSync(artifacts, { recursive: true });

let server, app, browser, ada, bo, agent;

before(async () => {
  server = await TestServer.start();
  app = await startAppServer({ abloUrl: server.url, apiKey: server.apiKey });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const bot = await server.mint({ kind: 'agent', id: 'triage-bot' });
  agent = server.client({ token: bot.token, wait: 'confirmed' });
  await agent.ready();
  await agent.tasks.create({ title: 'Write docs', status: 'todo' });
  ada = await openBoard('ada');
  bo = await openBoard('bo');
});

/** Resolves when `promise` does, or after `ms`: a stuck teardown step must not hold the run. */
const within = (promise, ms = 5000) => Promise.race([promise, new Promise((resolve) => setTimeout(resolve, ms).unref())]);

after(async () => {
  await within(agent?.dispose());
  await within(browser?.close());
  await within(app?.close());
  await within(server?.stop(), 10_000);
});

async function openBoard(user) {
  const page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
  page.on('pageerror', (error) => console.error(`[${user}] page error:`, error));
  await page.addInitScript(recordSocketArrivals);
  await page.goto(`${app.url}/?user=${user}`);
  await page.getByTestId('sync').filter({ hasText: 'connected' }).waitFor();
  await page.getByTestId('task-Write docs').waitFor();
  return page;
}

const card = (page, title) => page.getByTestId(`task-${title}`);

// conformance: live.two-clients
test('a task added in one page appears in the other', async () => {
  await ada.getByLabel('New task').fill('From Ada');
  await ada.getByRole('button', { name: 'Add' }).click();
  await card(bo, 'From Ada').waitFor({ timeout: 5000 });
  await card(bo, 'From Ada').getByRole('button', { name: '→ doing' }).click();
  await ada.getByTestId('column-doing').getByTestId('task-From Ada').waitFor({ timeout: 5000 });
});

// conformance: intents.visible
test("the Rust agent's intent shows in both pages; its guarded write lands in both", async () => {
  const bot = await server.mint({ kind: 'agent', id: 'board-agent' });
  const child = spawn(agentBinary, [], {
    env: { ...process.env, ABLO_URL: server.url, ABLO_TOKEN: bot.token, TASK_TITLE: 'Write docs', HOLD_MS: '1500' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (const page of [ada, bo]) await card(page, 'Write docs').getByTestId('agent-editing').waitFor({ timeout: 20_000 });
  await ada.screenshot({ path: join(artifacts, 'agent-editing-ada.png') });
  assert.equal(await exited, 0, output);
  assert.match(output, /^done /m);
  for (const page of [ada, bo]) {
    await page.getByTestId('column-done').getByTestId('task-Write docs').waitFor({ timeout: 5000 });
    await card(page, 'Write docs').getByTestId('agent-editing').waitFor({ state: 'detached', timeout: 5000 });
  }
});

test('a card re-renders only when its own row changes', async () => {
  const [docs] = await ada.evaluate(() => window.__ablo.tasks.list({ where: { title: 'Write docs' } }).map((t) => t.id));
  const [other] = await ada.evaluate(() => window.__ablo.tasks.list({ where: { title: 'From Ada' } }).map((t) => t.id));
  const before = await bo.evaluate((id) => window.__renders[id], other);
  await agent.tasks.update(docs, { summary: 'touched' });
  await bo.waitForFunction((id) => window.__ablo.tasks.retrieve(id)?.summary === 'touched', docs);
  await bo.waitForTimeout(50);
  assert.equal(await bo.evaluate((id) => window.__renders[id], other), before, 'the other card did not render again');
});

// conformance: queued.rollback
test('a stale edit shows its error and rolls back', async () => {
  await card(ada, 'Write docs').getByRole('button', { name: 'Edit' }).click();
  const [task] = agent.tasks.list({ where: { title: 'Write docs' } });
  await agent.tasks.update(task.id, { title: 'Docs (agent)' });
  await card(bo, 'Docs (agent)').waitFor({ timeout: 5000 });
  const input = ada.getByLabel('Title');
  await input.fill('Docs (ada)');
  await ada.getByRole('button', { name: 'Save' }).click();
  await ada.getByTestId('error').filter({ hasText: 'stale_context' }).waitFor({ timeout: 5000 });
  await card(ada, 'Docs (agent)').waitFor({ timeout: 5000 });
  assert.equal(await card(ada, 'Docs (ada)').count(), 0, 'the refused title is rolled back');
  assert.equal(await card(bo, 'Docs (ada)').count(), 0, 'and never reached the other page');
  await ada.screenshot({ path: join(artifacts, 'stale-rollback-ada.png') });
  await ada.getByTestId('error').click();
});

test('edit-to-render latency between pages over 200 edits', async () => {
  const id = await ada.evaluate(() => window.__ablo.tasks.list({ where: { title: 'From Ada' } })[0].id);
  const figures = await measureLatency({ from: ada, to: bo, id, server, edits: 200 });
  figures.path = 'same origin: through the app server (server.mjs) to ablo-server';
  writeFileSync(join(artifacts, 'latency.json'), `${JSON.stringify(figures, null, 2)}\n`);
  console.log(`edit-to-render latency (forwarded): ${JSON.stringify(figures)}`);
  assert.equal(figures.edits, 200);
  assert.ok(figures.p50Ms > 0 && figures.breakdown.render.p50Ms >= 0);
  await ada.evaluate((id) => window.__ablo.tasks.update(id, { title: 'From Ada' }), id);
  await card(bo, 'From Ada').waitFor({ timeout: 5000 });
});

// conformance: live.restart
test('after a server restart both pages catch up with nothing lost or repeated', async () => {
  await server.kill();
  await ada.getByTestId('sync').filter({ hasText: 'reconnecting' }).waitFor({ timeout: 10_000 });
  // Written while the server is down: shown at once, confirmed after the restart.
  await ada.getByLabel('New task').fill('Written offline');
  await ada.getByRole('button', { name: 'Add' }).click();
  await card(ada, 'Written offline').waitFor();
  await ada.getByTestId('sync').filter({ hasText: 'unconfirmed' }).waitFor();
  await server.launch();
  await agent.tasks.create({ title: 'After restart', status: 'todo' });
  for (const page of [ada, bo]) {
    await page.getByTestId('sync').filter({ hasText: /^connected$/ }).waitFor({ timeout: 15_000 });
    await card(page, 'Written offline').waitFor({ timeout: 15_000 });
    await card(page, 'After restart').waitFor({ timeout: 15_000 });
  }
  const titles = (await server.admin('GET', '/v1/models/tasks?limit=1000')).data.map((t) => t.title).sort();
  for (const page of [ada, bo]) {
    const shown = (await page.evaluate(() => window.__ablo.tasks.list().map((t) => t.title))).sort();
    assert.deepEqual(shown, titles, 'each page shows exactly the server rows');
    assert.equal(await card(page, 'Written offline').count(), 1);
  }
  await bo.screenshot({ path: join(artifacts, 'after-restart-bo.png') });
});
