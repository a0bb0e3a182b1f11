// The write queue: every create, update and delete is a commit with its own
// `clientTxId`, sent in the order it was made. A `queued` write is laid over
// the pool at once and rolled back if the server refuses it; a transport
// failure is retried with the same `clientTxId` until the write's timeout,
// so the server applies it at most once.

import { AbloConnectionError, AbloError, isTransient } from './errors.js';
import type { Pool } from './pool.js';
import type { Transport } from './transport.js';
import { sleep } from './transport.js';
import type { CommitReceipt, Operation, Row, WaitMode } from './types.js';

interface Job {
  txId: string;
  ops: Operation[];
  queued: boolean;
  deadline: number;
  causedByTaskId: string | undefined;
  resolve: (receipt: CommitReceipt) => void;
  reject: (error: AbloError) => void;
}

export interface SubmitOptions {
  wait: WaitMode;
  timeout: number;
  idempotencyKey?: string | undefined;
  causedByTaskId?: string | undefined;
}

/** A random `clientTxId`. */
export function newTxId(): string {
  return `tx_${randomHex(16)}`;
}

/** A UUIDv7 (time-ordered, like the ids the server generates). */
export function newId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let ms = Date.now();
  for (let i = 5; i >= 0; i--) {
    bytes[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return [...buf].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export class WriteQueue {
  #jobs: Job[] = [];
  #running = false;
  #transport: Transport;
  #pool: Pool;
  #onRejected: (error: AbloError, ops: Operation[]) => void;
  #onChange: () => void;
  #idle: Array<() => void> = [];
  /** The `clientTxId`s this client sent, to recognise its own deltas. */
  readonly sent = new Set<string>();

  constructor(
    transport: Transport,
    pool: Pool,
    onRejected: (error: AbloError, ops: Operation[]) => void,
    onChange: () => void,
  ) {
    this.#transport = transport;
    this.#pool = pool;
    this.#onRejected = onRejected;
    this.#onChange = onChange;
  }

  get size(): number {
    return this.#jobs.length;
  }

  /**
   * Sends `ops` as one atomic commit. Resolves with the receipt (for a
   * `queued` write the caller does not wait on it; a refusal then goes to
   * the error listeners).
   */
  submit(ops: Operation[], options: SubmitOptions): Promise<CommitReceipt> {
    const txId = options.idempotencyKey ?? newTxId();
    const queued = options.wait === 'queued';
    const promise = new Promise<CommitReceipt>((resolve, reject) => {
      this.#jobs.push({
        txId,
        ops,
        queued,
        deadline: Date.now() + options.timeout,
        causedByTaskId: options.causedByTaskId,
        resolve,
        reject,
      });
    });
    for (const op of ops) this.#pool.addPending(txId, op);
    this.sent.add(txId);
    this.#onChange();
    void this.#run();
    if (queued) promise.catch(() => undefined);
    return promise;
  }

  /** Resolves once every write made so far is confirmed or rolled back. */
  idle(): Promise<void> {
    if (this.#jobs.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #run(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#jobs.length > 0) {
        const job = this.#jobs[0]!;
        await this.#attempt(job);
        this.#jobs.shift();
        this.#onChange();
      }
    } finally {
      this.#running = false;
      for (const resolve of this.#idle.splice(0)) resolve();
    }
  }

  async #attempt(job: Job): Promise<void> {
    for (let retry = 1; ; retry++) {
      try {
        const body: Record<string, unknown> = { clientTxId: job.txId, operations: job.ops };
        if (job.causedByTaskId) body['causedByTaskId'] = job.causedByTaskId;
        const remaining = Math.max(1, job.deadline - Date.now());
        const { data } = await this.#transport.request<CommitReceipt>('POST', '/v1/commits', {
          body,
          timeout: remaining,
        });
        this.#pool.confirm(job.txId, job.ops, data.rows, data.syncId);
        job.resolve(data);
        return;
      } catch (raw) {
        const error = raw instanceof AbloError ? raw : new AbloConnectionError('the write failed', raw);
        const delay = retryDelay(retry, error);
        if (isTransient(error) && Date.now() + delay < job.deadline) {
          await sleep(delay);
          continue;
        }
        this.#pool.rollback(job.txId);
        if (job.queued) this.#onRejected(error, job.ops);
        job.reject(error);
        return;
      }
    }
  }
}

/** Exponential backoff with jitter (50 ms doubling, at most 2 s), or the server's `Retry-After`. */
function retryDelay(retry: number, error: AbloError): number {
  const ceiling = Math.min(2000, 50 * 2 ** Math.min(retry - 1, 10));
  const after = (error as { retryAfterSeconds?: number }).retryAfterSeconds;
  const base = ceiling / 2 + Math.random() * (ceiling / 2);
  return after !== undefined ? Math.max(base, after * 1000) : base;
}

/** The row a write shows at once: the pool's view after laying it over. */
export function optimisticRow(pool: Pool, op: Operation): Row | undefined {
  return pool.get(op.model, op.id);
}
