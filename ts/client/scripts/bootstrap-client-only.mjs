#!/usr/bin/env node
// The client's share of a bootstrap: no server, a fake fetch (the probe is
// answered 410 snapshot_required) and a fake WebSocket that delivers a
// snapshot of N rows of the Board's `tasks` as pre-serialized messages of
// about 1 MiB of rows each (the server's bound, `MESSAGE_BYTES`), one per
// macrotask, as a socket would. Times `Ablo({...})` to
// `ready()`: JSON parsing, the pool taking the rows in, and the swap.
//
//   node --max-old-space-size=8000 scripts/bootstrap-client-only.mjs [rows=1000000]
//
// Needs `npm run build` (dist/).

import { Ablo } from '../dist/index.js';
const N = Number(process.argv[2] ?? 1_000_000);
const models = { tasks: { fields: [{ name: 'title', required: true }, { name: 'status', required: true }, { name: 'summary', required: false }, { name: 'team', required: false }] } };
const messages = [JSON.stringify({ type: 'snapshot', cursor: N })];
const t0 = performance.now();
let rows = [];
let size = 0;
for (let i = 0; i < N; i++) {
  const id = `01a23463-0000-7000-8000-${String(i).padStart(12, '0')}`;
  const row = { createdAt: '2026-12-02T01:25:21.851Z', id, stamp: Math.floor(i / 1000) + 1, status: 'todo', summary: null, team: i % 4 ? null : 'red', title: `task ${i}`, updatedAt: '2026-12-02T01:25:21.851Z' };
  rows.push(row);
  size += JSON.stringify(row).length + 1;
  if (size >= 1024 * 1024 || i === N - 1) {
    messages.push(JSON.stringify({ type: 'rows', model: 'tasks', rows }));
    rows = [];
    size = 0;
  }
}
messages.push(JSON.stringify({ type: 'caughtUp', cursor: N }));
const bytes = messages.reduce((n, m) => n + m.length, 0);
console.log(`generated ${messages.length} messages, ${(bytes / 2 ** 20).toFixed(0)} MiB, in ${(performance.now() - t0).toFixed(0)} ms`);
class FakeSocket {
  readyState = 0; onopen = null; onmessage = null; onclose = null; onerror = null;
  constructor() { setTimeout(() => { this.readyState = 1; this.onopen?.({}); }, 0); }
  send(data) {
    if (!data.includes('subscribe')) return;
    let i = 0;
    // One message per macrotask, as a socket delivers them.
    const next = () => { if (i < messages.length) { this.onmessage?.({ data: messages[i++] }); setImmediate(next); } };
    setImmediate(next);
  }
  close() { this.readyState = 3; }
}
const fakeFetch = async () => new Response(JSON.stringify({ error: { type: 'validation', code: 'snapshot_required', message: 'gone' } }), { status: 410 });
for (let run = 0; run < 3; run++) {
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const start = performance.now();
  const ablo = Ablo({ schema: { models }, url: 'http://fake', apiKey: 'sk_test_xxxxxxxxxxxxxxxxxxxx', WebSocket: FakeSocket, fetch: fakeFetch });
  await ablo.ready();
  const ms = performance.now() - start;
  const c = process.cpuUsage(cpu);
  const count = ablo.tasks.count();
  if (count !== N) throw new Error(`the client holds ${count} rows, not ${N}`);
  const heap = process.memoryUsage().heapUsed;
  console.log(`run ${run + 1}: ${count} rows to ready() in ${ms.toFixed(0)} ms (CPU ${((c.user + c.system) / 1000).toFixed(0)} ms, heap ${(heap / 2 ** 20).toFixed(0)} MiB)`);
  await ablo.dispose();
}
