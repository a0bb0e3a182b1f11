// Runs a real `ablo-server` for the tests: a free loopback port, a fresh
// data directory, a bootstrap API key and the `Board` schema pushed.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import Ablo, { type AbloClient, type AbloOptions, type WebSocketLike } from '@ablo/client';
import { schema } from '../.generated/ablo.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The package root (`ts/client`), from `.build/test`. */
export const packageRoot = resolve(here, '..', '..');
const repoRoot = resolve(packageRoot, '..', '..');

export function serverBinary(): string {
  return process.env['ABLO_SERVER_BIN'] ?? join(repoRoot, 'target', 'debug', 'ablo-server');
}

export const descriptor = readFileSync(join(packageRoot, 'test', 'fixtures', 'board.schema.json'), 'utf8');

export type Board = typeof schema;
export type BoardClient = AbloClient<Board>;
export { schema };

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

export class TestServer {
  readonly apiKey = `sk_test_${randomBytes(16).toString('hex')}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'ablo-ts-'));
  port = 0;
  /** Extra `serve` arguments, for example `['--allow-origin', 'http://127.0.0.1:5173']`. */
  args: string[] = [];
  #child: ChildProcess | undefined;
  #log = '';

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  static async start(options: { args?: string[] } = {}): Promise<TestServer> {
    const server = new TestServer();
    server.args = options.args ?? [];
    server.port = await freePort();
    await server.launch();
    await server.admin('PUT', '/v1/schema', JSON.parse(descriptor));
    return server;
  }

  /** Starts the binary on the same port and data directory. */
  async launch(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const child = spawn(serverBinary(), ['serve', '--addr', `127.0.0.1:${this.port}`, '--data', this.dataDir, ...this.args], {
        env: { ...process.env, ABLO_API_KEY: this.apiKey, RUST_LOG: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.#child = child;
      // A test run that is interrupted must not leave servers behind.
      process.once('exit', () => child.kill('SIGKILL'));
      child.stdout?.on('data', (d: Buffer) => (this.#log += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (this.#log += d.toString()));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if (child.exitCode !== null) break;
        try {
          const response = await fetch(`${this.url}/v1/health`);
          if (response.ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      child.kill('SIGKILL');
    }
    throw new Error(`ablo-server did not start:\n${this.#log}`);
  }

  /** Stops the process (SIGTERM, then SIGKILL) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A request with the API key; throws on a non-2xx answer. */
  async admin<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method, headers: { authorization: `Bearer ${this.apiKey}`, 'content-type': 'application/json' } };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await fetch(this.url + path, init);
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  /** Mints a capability token. */
  async mint(participant: { kind: 'user' | 'agent' | 'system'; id: string }, syncGroups: string[] = ['*'], ttlSeconds = 600) {
    return this.admin<{ token: string; id: string; expiresAt: string }>('POST', '/v1/capabilities', {
      participantKind: participant.kind,
      participantId: participant.id,
      operations: ['*'],
      syncGroups,
      ttlSeconds,
    });
  }

  /** A client of the Board schema. */
  client(options: Partial<AbloOptions<Board>> = {}): BoardClient {
    const auth = options.token !== undefined || options.authEndpoint !== undefined ? {} : { apiKey: this.apiKey };
    return Ablo({ schema, url: this.url, WebSocket, ...auth, ...options });
  }
}

/** Polls `check` until it returns true (or fails after `timeout` ms). */
export async function until(check: () => boolean, timeout = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A `ws` WebSocket that records every sync id it delivered, to prove no gap and no duplicate. */
export function recordingWebSocket(seen: number[]): new (url: string) => WebSocketLike {
  return class extends WebSocket {
    constructor(url: string) {
      super(url);
      this.addEventListener('message', (event) => {
        const message = JSON.parse(String(event.data)) as { type: string; deltas?: Array<{ syncId: number }> };
        if (message.type === 'deltas') {
          for (const id of new Set(message.deltas!.map((d) => d.syncId))) seen.push(id);
        }
      });
    }
  } as unknown as new (url: string) => WebSocketLike;
}
