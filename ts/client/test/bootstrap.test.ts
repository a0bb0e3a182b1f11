// Snapshot bootstrap: a client that holds nothing subscribes without a
// cursor and is sent the current rows as of one sync id, then the deltas
// after it; a client whose cursor is older than the log the server keeps
// is sent the same. The server here keeps only its last 10 commits and
// compacts every 100 ms, so the early log is gone before any client joins.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import type { Row, WebSocketLike } from '@ablo/client';
import { TestServer, until, type BoardClient } from './harness.js';

let server: TestServer;

before(async () => {
  server = await TestServer.start({ args: ['--log-retention-commits', '10', '--log-compact-interval-ms', '100'] });
});
after(async () => {
  await server.stop();
});

interface Tap {
  /** Every `subscribe` the client sent. */
  subscribes: Array<{ cursor?: number }>;
  /** The server's messages, in order, without their rows (`rows` keeps its count); `socket` counts from 1. */
  received: Array<{ socket: number; type: string; cursor?: number; count?: number; bytes?: number; syncIds?: number[] }>;
  /** Sockets opened so far. */
  sockets: number;
  /** When true, new sockets fail at once and the open one is closed. */
  offline: boolean;
  socket: WebSocket | undefined;
  /** The close codes (and reasons) of the sockets. */
  closes: string[];
}

function newTap(): Tap {
  return { subscribes: [], received: [], sockets: 0, offline: false, socket: undefined, closes: [] };
}

/** A `ws` WebSocket that records what the client sent and what the server answered, and can be cut off. */
function tappedWebSocket(tap: Tap): new (url: string) => WebSocketLike {
  return class extends WebSocket {
    constructor(url: string) {
      // Offline: a port nothing listens on, so the socket fails like a dropped network.
      super(tap.offline ? 'ws://127.0.0.1:9/' : url);
      tap.socket = this;
      const socket = ++tap.sockets;
      this.addEventListener('close', (event) => tap.closes.push(`${socket}: ${event.code} ${event.reason}`));
      this.addEventListener('message', (event) => {
        const message = JSON.parse(String(event.data)) as {
          type: string;
          cursor?: number;
          rows?: unknown[];
          deltas?: Array<{ syncId: number }>;
        };
        const entry: Tap['received'][number] = { socket, type: message.type };
        if (message.cursor !== undefined) entry.cursor = message.cursor;
        if (message.rows) {
          entry.count = message.rows.length;
          // A `rows` message ends at the first row that takes it past 1 MiB.
          entry.bytes = String(event.data).length - Math.max(0, ...message.rows.map((r) => JSON.stringify(r).length));
        }
        if (message.deltas) entry.syncIds = [...new Set(message.deltas.map((d) => d.syncId))];
        tap.received.push(entry);
      });
    }
    override send(data: string): void {
      const message = JSON.parse(data) as { type: string; cursor?: number };
      if (message.type === 'subscribe') tap.subscribes.push(message.cursor === undefined ? {} : { cursor: message.cursor });
      super.send(data);
    }
  } as unknown as new (url: string) => WebSocketLike;
}

/** A fetch that fails like a dropped network while `tap.offline`. */
function tappedFetch(tap: Tap, rewrite?: (url: string, response: Response) => Response): typeof fetch {
  return async (input, init) => {
    if (tap.offline) throw new TypeError('fetch failed (offline)');
    const response = await fetch(input, init);
    return rewrite ? rewrite(String(input), response) : response;
  };
}

/** Every task on the server, through `GET /v1/models/tasks`, by id. */
async function serverTasks(): Promise<Row[]> {
  const rows: Row[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const page: { data: Row[]; nextCursor: string | null } = await server.admin('GET', `/v1/models/tasks?limit=1000${query}`);
    rows.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The server's sync id now (the stamp a read is current at). */
async function serverHead(): Promise<number> {
  return (await server.admin<{ stamp: number }>('GET', '/v1/models/tasks?limit=1')).stamp;
}

/** The client's tasks, by id, as plain objects. */
function clientTasks(client: BoardClient): Row[] {
  return client.tasks.list().map((row) => ({ ...row }) as Row);
}

/** Resolves once the server answers `snapshot_required` for a cursor: its log no longer reaches back that far. */
async function compactedPast(cursor: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const response = await fetch(`${server.url}/v1/sync/deltas?after=${cursor}&limit=1`, {
      headers: { authorization: `Bearer ${server.apiKey}` },
    });
    const body = (await response.json()) as { error?: { type?: string; code?: string } };
    if (response.status === 410) {
      assert.equal(body.error?.code, 'snapshot_required');
      assert.equal(body.error?.type, 'validation');
      return;
    }
    if (Date.now() > deadline) throw new Error(`the log still reaches back to ${cursor}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Seeds `count` tasks in commits of 500 rows; returns the sync id of the last. */
async function seed(count: number, tag: string): Promise<number> {
  let syncId = 0;
  for (let done = 0; done < count; done += 500) {
    const operations = Array.from({ length: Math.min(500, count - done) }, (_, i) => ({
      type: 'create',
      model: 'tasks',
      data: { title: `${tag} ${done + i}`, status: 'todo', team: i % 3 === 0 ? 'red' : null },
    }));
    syncId = (await server.admin<{ syncId: number }>('POST', '/v1/commits', { operations })).syncId;
  }
  return syncId;
}

/** Keeps creating, updating and deleting tasks (one commit each) until `stop.done`. */
async function keepWriting(writer: BoardClient, stop: { done: boolean }, tag: string): Promise<number> {
  const mine: string[] = [];
  let commits = 0;
  for (let i = 0; !stop.done; i++) {
    const existing = writer.tasks.list();
    if (i % 3 === 2 && mine.length > 0) {
      await writer.tasks.delete(mine.shift()!);
    } else if (i % 3 === 1 && existing.length > 0) {
      const row = existing[(i * 7919) % existing.length]!;
      await writer.tasks.update(row.id, { status: row.status === 'done' ? 'doing' : 'done', summary: `${tag} ${i}` });
    } else {
      mine.push((await writer.tasks.create({ title: `${tag} live ${i}`, status: 'todo' })).id);
    }
    commits++;
    // A queued write resolves at once: let the event loop run, and keep the queue short.
    await new Promise((r) => setImmediate(r));
    if (writer.status.pendingWrites > 4) await until(() => writer.status.pendingWrites <= 1 || stop.done, 10_000, 'the queue draining');
  }
  return commits;
}

// conformance: snapshot_bootstrap
test('a fresh client bootstraps from a snapshot while writers keep writing, and ends with exactly the server rows', async () => {
  const seeded = await seed(3000, 'seeded');
  // Changes the history holds and the snapshot folds in: updates and deletes of seeded rows.
  const early = (await serverTasks()).slice(0, 40);
  for (const row of early.slice(0, 20)) await server.admin('POST', '/v1/commits', { operations: [{ type: 'update', model: 'tasks', id: row.id, data: { status: 'doing' } }] });
  for (const row of early.slice(20)) await server.admin('POST', '/v1/commits', { operations: [{ type: 'delete', model: 'tasks', id: row.id }] });
  await compactedPast(seeded);

  const writers = [server.client(), server.client({ wait: 'queued' })];
  await Promise.all(writers.map((w) => w.ready()));
  assert.ok(writers[0]!.tasks.count() >= 2900, 'a writer also bootstrapped');
  const stop = { done: false };
  const writing = writers.map((w, i) => keepWriting(w, stop, `writer${i}`));
  await new Promise((r) => setTimeout(r, 150));

  const tap = newTap();
  const fresh = server.client({ WebSocket: tappedWebSocket(tap) });
  // What a selector sees at each notification: never part of a snapshot.
  const counts: number[] = [];
  fresh.subscribe(() => counts.push(fresh.tasks.count()));
  await fresh.ready();
  assert.ok(fresh.status.caughtUp && fresh.status.status === 'connected');
  await new Promise((r) => setTimeout(r, 300));
  stop.done = true;
  const commits = await Promise.all(writing);
  assert.ok(commits[0]! + commits[1]! > 10, `writers kept writing (${commits.join(' + ')} commits)`);
  await Promise.all(writers.map((w) => until(() => w.status.pendingWrites === 0, 10_000, 'the writers confirmed')));
  const head = await serverHead();
  const expected = await serverTasks();
  await until(() => fresh.status.cursor >= head, 10_000, `the fresh client at ${head}`);
  for (const w of writers) await until(() => w.status.cursor >= head, 10_000, `the writers at ${head}`);

  const trace = tap.received.map((m) => `${m.socket}:${m.type}` + (m.cursor !== undefined ? `@${m.cursor}` : '') + (m.count !== undefined ? `x${m.count}` : '')).join(' ');
  const context = `(the server sent: ${trace.slice(0, 2000)}; closes: ${tap.closes.join(', ')})`;
  // Every subscribe carries no cursor: the client holds nothing until a snapshot is complete. With a
  // log of 10 commits and busy writers the log can move past a snapshot while it is sent; the server
  // then closes with 1013 and the client subscribes again (the cut-off snapshot is dropped).
  assert.ok(tap.subscribes.length >= 1 && tap.subscribes.every((s) => s.cursor === undefined), `subscribes without a cursor ${context}`);
  const done = tap.received.find((m) => m.type === 'caughtUp')!.socket;
  assert.equal(tap.subscribes.length, done, context);
  for (let socket = 1; socket < done; socket++) assert.ok(tap.closes.some((c) => c.startsWith(`${socket}: 1013 `)), `socket ${socket} was closed 1013 ${context}`);
  const final = tap.received.filter((m) => m.socket === done);
  const snapshot = final[0]!;
  assert.equal(snapshot.type, 'snapshot', `the server answered with a snapshot ${context}`);
  assert.equal(final.filter((m) => m.type === 'snapshot').length, 1);
  const rows = final.filter((m) => m.type === 'rows');
  assert.ok(rows.length >= 1, `rows came in rows messages (${rows.length})`);
  assert.ok(rows.every((m) => (m.bytes ?? 0) < 1024 * 1024), 'a rows message is at most 1 MiB of rows plus one row');
  const snapshotRows = rows.reduce((n, m) => n + (m.count ?? 0), 0);
  assert.ok(snapshotRows >= 2900, `${snapshotRows} rows in the snapshot`);
  // The seam: the tail starts right after the snapshot's sync id, each delta once, no gap.
  const firstDelta = final.findIndex((m) => m.type === 'deltas' || m.type === 'caughtUp');
  assert.ok(final.slice(firstDelta).every((m) => m.type !== 'rows'), 'the rows come before the tail');
  const tail = final.flatMap((m) => m.syncIds ?? []);
  assert.ok(tail.every((id) => id > snapshot.cursor!), 'no delta at or before the snapshot');
  assert.deepEqual(tail, Array.from({ length: tail.length }, (_, i) => snapshot.cursor! + 1 + i), 'the tail: each sync id once, in order, no gap');
  assert.equal(fresh.status.cursor, snapshot.cursor! + tail.length);

  assert.deepEqual(clientTasks(fresh), expected, 'the fresh client holds exactly the server rows');
  for (const w of writers) assert.deepEqual(clientTasks(w), expected, 'so do the writers');
  const partial = counts.filter((n) => n > 0 && n < 2900);
  assert.deepEqual(partial, [], 'a selector never saw part of the snapshot');
  await Promise.all([fresh.dispose(), ...writers.map((w) => w.dispose())]);
});

// conformance: snapshot_after_retention
test('a client whose cursor is older than the kept log is sent a snapshot and ends with the rows of a fresh one', async () => {
  for (const hideGone of [false, true]) {
    const tap = newTap();
    // hideGone: the client's HTTP probe does not learn that the log is gone, so it subscribes with
    // its old cursor and the server itself answers with a snapshot.
    const probeHider = (url: string, response: Response): Response =>
      hideGone && response.status === 410 && /[?&]limit=1(&|$)/.test(url)
        ? new Response(JSON.stringify({ data: [], nextAfter: 0, hasMore: false, stamp: 0 }), { status: 200 })
        : response;
    const stale = server.client({ WebSocket: tappedWebSocket(tap), fetch: tappedFetch(tap, probeHider), wait: 'queued' });
    const writer = server.client();
    await Promise.all([stale.ready(), writer.ready()]);
    const held = clientTasks(stale);
    assert.ok(held.length > 100);

    // The stale client drops off the network; meanwhile rows it holds change and go away.
    tap.offline = true;
    tap.socket?.close();
    await until(() => stale.status.status === 'reconnecting', 5000, 'the client noticing');
    const cursor = stale.status.cursor;
    for (const row of held.slice(0, 15)) await writer.tasks.update(row.id, { title: `${row.title} (changed)` });
    for (const row of held.slice(15, 30)) await writer.tasks.delete(row.id);
    for (let i = 0; i < 15; i++) await writer.tasks.create({ title: `while away ${hideGone} ${i}`, status: 'todo' });
    await compactedPast(cursor);
    // Its own write made while offline stays laid over and is sent once it is back.
    const offlineWrite = await stale.tasks.create({ title: `offline write ${hideGone}`, status: 'todo' });
    assert.equal(stale.tasks.retrieve(offlineWrite.id)?.title, `offline write ${hideGone}`);

    tap.offline = false;
    await until(() => stale.status.status === 'connected' && stale.status.pendingWrites === 0, 15_000, 'back and confirmed');
    const head = await serverHead();
    const expected = await serverTasks();
    await until(() => stale.status.cursor >= head, 10_000, 'the stale client caught up');

    assert.equal(tap.received.filter((m) => m.type === 'snapshot').length, 2, 'a snapshot on the first connect and one after the gap');
    assert.deepEqual(tap.subscribes.at(-1), hideGone ? { cursor } : {}, hideGone ? 'subscribed with the old cursor' : 'subscribed without a cursor after snapshot_required');
    const fresh = server.client();
    await fresh.ready();
    assert.deepEqual(clientTasks(stale), clientTasks(fresh), 'the same rows as a fresh client');
    assert.deepEqual(clientTasks(stale), expected, 'the server rows');
    for (const row of held.slice(15, 30)) assert.equal(stale.tasks.retrieve(row.id), undefined, 'rows deleted while away are gone');
    await Promise.all([stale.dispose(), writer.dispose(), fresh.dispose()]);
  }
});

/**
 * After its replay, the socket withholds live deltas while `lag.on`, and at
 * `lag.trigger()` answers like a server whose buffer overflowed:
 * `resyncRequired` with the last sync id it delivered, then close 4000.
 */
function laggingWebSocket(lag: { on: boolean; trigger?: () => void; opened: number; snapshots: number }): new (url: string) => WebSocketLike {
  return class {
    #ws: WebSocket;
    #delivered = 0;
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason?: string }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;
    constructor(url: string) {
      lag.opened++;
      this.#ws = new WebSocket(url);
      this.#ws.onopen = (e) => this.onopen?.(e);
      this.#ws.onerror = (e) => this.onerror?.(e);
      this.#ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
      let caughtUp = false;
      lag.trigger = () => {
        lag.on = false;
        this.onmessage?.({ data: JSON.stringify({ type: 'resyncRequired', cursor: this.#delivered, message: 'too far behind' }) });
        this.#ws.onclose = null;
        this.#ws.close();
        setTimeout(() => this.onclose?.({ code: 4000 }), 20);
      };
      this.#ws.onmessage = (e) => {
        const message = JSON.parse(String(e.data)) as { type: string; cursor?: number; deltas?: Array<{ syncId: number }> };
        if (message.type === 'caughtUp') caughtUp = true;
        if (message.type === 'snapshot') {
          lag.snapshots++;
          this.#delivered = message.cursor!;
        }
        if (lag.on && caughtUp && message.type === 'deltas') return;
        if (message.type === 'deltas') this.#delivered = Math.max(this.#delivered, ...message.deltas!.map((d) => d.syncId));
        this.onmessage?.({ data: e.data });
      };
    }
    get readyState() {
      return this.#ws.readyState;
    }
    send(data: string) {
      this.#ws.send(data);
    }
    close(code?: number, reason?: string) {
      this.#ws.close(code, reason);
    }
  };
}

// conformance: snapshot_after_retention
test('resyncRequired past the kept log: the HTTP catch-up answers snapshot_required and the client resubscribes for a snapshot', async () => {
  const lag = { on: false, opened: 0, snapshots: 0 } as { on: boolean; trigger?: () => void; opened: number; snapshots: number };
  const refused: number[] = [];
  const watching: typeof fetch = async (input, init) => {
    const response = await fetch(input, init);
    if (String(input).includes('/v1/sync/deltas') && String(input).includes('limit=1000')) refused.push(response.status);
    return response;
  };
  const watcher = server.client({ WebSocket: laggingWebSocket(lag), fetch: watching });
  const writer = server.client();
  await Promise.all([watcher.ready(), writer.ready()]);
  lag.on = true;
  const cursor = watcher.status.cursor;
  const ids: string[] = [];
  for (let i = 0; i < 25; i++) ids.push((await writer.tasks.create({ title: `behind ${i}`, status: 'todo' })).id);
  await compactedPast(cursor);
  assert.equal(watcher.tasks.retrieve(ids[0]!), undefined, 'the watcher has seen none of them');
  lag.trigger!();
  await until(() => lag.opened >= 2 && watcher.status.status === 'connected', 15_000, 'a second subscription');
  await until(() => ids.every((id) => watcher.tasks.retrieve(id)), 10_000, 'every row at the watcher');
  assert.deepEqual(refused, [410], 'the catch-up was refused with 410');
  assert.equal(lag.snapshots, 2, 'a snapshot on the first connect and one after the refused catch-up');
  const last = await writer.tasks.create({ title: 'live again', status: 'todo' });
  await until(() => watcher.tasks.retrieve(last.id) !== undefined, 5000, 'live deltas after the snapshot');
  assert.deepEqual(clientTasks(watcher), await serverTasks());
  await Promise.all([watcher.dispose(), writer.dispose()]);
});
