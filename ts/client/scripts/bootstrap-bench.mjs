#!/usr/bin/env node
// Bootstrap of a fresh @ablo/client in Node from a server holding N rows of
// a small model (the Board schema's `tasks`): starts the real ablo-server
// binary on a fresh data directory, seeds N rows in commits of 1000
// operations, then times `Ablo({...})` to `ready()` (the snapshot and its
// tail, every row in the pool), several runs.
//
//   node scripts/bootstrap-bench.mjs [rows=100000] [runs=3]
//
// Needs `npm run build` (dist/) and the server binary: ABLO_SERVER_BIN, else
// target/release/ablo-server (`cargo build --release -p ablo-server --bin
// ablo-server`), else target/debug/ablo-server.

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { Ablo } from '../dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const packageRoot = resolve(here, '..');
const repoRoot = resolve(packageRoot, '..', '..');
const rows = Number(process.argv[2] ?? 100_000);
const runs = Number(process.argv[3] ?? 3);
const release = join(repoRoot, 'target', 'release', 'ablo-server');
const bin = process.env.ABLO_SERVER_BIN ?? (existsSync(release) ? release : join(repoRoot, 'target', 'debug', 'ablo-server'));
const descriptor = JSON.parse(readFileSync(join(packageRoot, 'test', 'fixtures', 'board.schema.json'), 'utf8'));

const port = await new Promise((ok) => {
  const s = createServer();
  s.listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => ok(p));
  });
});
const url = `http://127.0.0.1:${port}`;
const apiKey = `sk_test_${randomBytes(16).toString('hex')}`;
const dataDir = mkdtempSync(join(tmpdir(), 'ablo-bench-'));
const child = spawn(bin, ['serve', '--addr', `127.0.0.1:${port}`, '--data', dataDir], {
  env: { ...process.env, ABLO_API_KEY: apiKey, RUST_LOG: 'warn' },
  stdio: ['ignore', 'ignore', 'ignore'],
});
process.on('exit', () => {
  child.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${url}/v1/health`)).ok) break;
  } catch {}
  if (i > 400 || child.exitCode !== null) throw new Error('the server did not start');
  await new Promise((r) => setTimeout(r, 50));
}
const admin = async (method, path, body) => {
  const response = await fetch(url + path, {
    method,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
};
await admin('PUT', '/v1/schema', descriptor);

const seedStart = performance.now();
const statuses = ['todo', 'doing', 'done'];
for (let done = 0; done < rows; done += 1000) {
  const operations = Array.from({ length: Math.min(1000, rows - done) }, (_, i) => ({
    type: 'create',
    model: 'tasks',
    data: { title: `task ${done + i}`, status: statuses[(done + i) % 3], team: (done + i) % 4 === 0 ? 'red' : null },
  }));
  await admin('POST', '/v1/commits', { operations });
}
const seedMs = performance.now() - seedStart;
console.log(`seeded ${rows} rows in ${Math.ceil(rows / 1000)} commits: ${(seedMs / 1000).toFixed(1)} s`);

// The schema at run time: field names and whether they are required (no generated module needed).
const models = {};
for (const model of descriptor.models) {
  models[model.name] = { fields: model.fields.map((f) => ({ name: f.name, required: f.type.kind !== 'optional' })), syncGroups: model.syncGroups };
}
const runtimeSchema = { models, modelNames: Object.keys(models) };

const results = [];
for (let run = 0; run < runs; run++) {
  globalThis.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  const ablo = Ablo({ schema: runtimeSchema, url, apiKey, WebSocket });
  await ablo.ready();
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuBefore);
  const count = ablo.tasks.count();
  if (count !== rows) throw new Error(`the client holds ${count} rows, not ${rows}`);
  const heap = process.memoryUsage().heapUsed - heapBefore;
  results.push(ms);
  console.log(
    `run ${run + 1}: ${rows} rows to ready() in ${ms.toFixed(0)} ms (client CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms, heap +${(heap / 2 ** 20).toFixed(0)} MiB), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  );
  await ablo.dispose();
}
results.sort((a, b) => a - b);
console.log(`median ${results[Math.floor(results.length / 2)].toFixed(0)} ms over ${runs} runs (server ${bin})`);
process.exit(0);
