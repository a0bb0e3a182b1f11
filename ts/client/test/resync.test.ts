// A client the server drops for falling behind (`resyncRequired`) reads the
// log over HTTP, subscribes again and ends with every row, each delta once.

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

/**
 * The first socket forwards the replay, then withholds live deltas and
 * answers like a server whose buffer overflowed: `resyncRequired` with the
 * last sync id it delivered, then close 4000. Between the two it passes on
 * the third withheld delta, as a socket still open may: a client that
 * applied it would move its cursor past the two before it and never read
 * them.
 */
function laggingWebSocket(opened: { count: number }): new (url: string) => WebSocketLike {
  return class {
    #ws: WebSocket;
    #lagging: boolean;
    #delivered = 0;
    #withheld = 0;
    onopen: ((event: unknown) => void) | null = null;
    onmessage: ((event: { data: unknown }) => void) | null = null;
    onclose: ((event: { code: number; reason?: string }) => void) | null = null;
    onerror: ((event: unknown) => void) | null = null;
    constructor(url: string) {
      this.#lagging = opened.count++ === 0;
      this.#ws = new WebSocket(url);
      this.#ws.onopen = (e) => this.onopen?.(e);
      this.#ws.onerror = (e) => this.onerror?.(e);
      this.#ws.onclose = (e) => this.onclose?.({ code: e.code, reason: e.reason });
      let caughtUp = false;
      this.#ws.onmessage = (e) => {
        const message = JSON.parse(String(e.data)) as { type: string; deltas?: Array<{ syncId: number }> };
        if (message.type === 'caughtUp') caughtUp = true;
        if (this.#lagging && caughtUp && message.type === 'deltas') {
          if (++this.#withheld === 3) {
            this.onmessage?.({ data: JSON.stringify({ type: 'resyncRequired', cursor: this.#delivered, message: 'too far behind' }) });
            this.onmessage?.({ data: e.data });
            setTimeout(() => this.onclose?.({ code: 4000 }), 20);
            this.#lagging = false;
            this.#ws.onclose = null;
            this.#ws.close();
          }
          return;
        }
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

// conformance: live.resync-http
test('resyncRequired: the client catches up over HTTP and subscribes again', async () => {
  const opened = { count: 0 };
  const catchUps: string[] = [];
  const watching: typeof fetch = (input, init) => {
    if (String(input).includes('/v1/sync/deltas') && String(input).includes('limit=1000')) catchUps.push(String(input));
    return fetch(input, init);
  };
  const watcher = server.client({ WebSocket: laggingWebSocket(opened), fetch: watching });
  const writer = server.client();
  await Promise.all([watcher.ready(), writer.ready()]);
  const ids: string[] = [];
  for (let i = 0; i < 6; i++) ids.push((await writer.tasks.create({ title: `r${i}`, status: 'todo' })).id);
  await until(() => ids.every((id) => watcher.tasks.retrieve(id)), 10_000, 'every row at the watcher');
  await until(() => opened.count >= 2 && watcher.status.status === 'connected', 10_000, 'a second subscription');
  const last = await writer.tasks.create({ title: 'live again', status: 'todo' });
  await until(() => watcher.tasks.retrieve(last.id) !== undefined, 5000, 'live deltas after the resync');
  assert.equal(watcher.tasks.list().length, ids.length + 1);
  assert.ok(catchUps.length >= 1, 'the log was read over HTTP');
  await Promise.all([watcher.dispose(), writer.dispose()]);
});
