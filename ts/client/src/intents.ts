// Intents and claims: what other participants are working on (kept from
// the live stream and from reads), creating one's own with a heartbeat,
// waiting for a target to clear, and claims with their FIFO wait line.

import { AbloBusyError, AbloError, AbloNotFoundError } from './errors.js';
import type { Transport } from './transport.js';
import { anySignal } from './transport.js';
import type { Intent, Participant, ParticipantKind, Row, TargetInput, WireTarget } from './types.js';
import { targetKey, wireTarget } from './types.js';

/** An intent as the server sends it. */
interface WireIntent {
  id: string;
  participant: Participant;
  target: WireTarget;
  action: string;
  exclusive?: boolean;
  createdAt: string;
  expiresAt: string;
}

interface CreateAnswer {
  intent: WireIntent;
  status: 'active' | 'queued';
  position?: number;
  data?: Row;
  stamp?: number;
}

/** What `intents.create` takes. */
export interface CreateIntent {
  target: TargetInput;
  /** A short verb others see, for example `editing`. */
  action: string;
  /** Lease in milliseconds (default 30 s); renewed by the handle's heartbeat. */
  ttl?: number;
  /** A claim: one holder per target, others wait in line. */
  exclusive?: boolean;
  /** For a claim: wait in line (default) or fail at once with `AbloBusyError`. */
  wait?: boolean;
  /** For a claim that waits: give up after this many milliseconds. */
  timeout?: number;
  signal?: AbortSignal;
}

/** Your own intent or claim: heartbeated until released. */
export class IntentHandle {
  readonly id: string;
  readonly intent: Intent;
  /** For a claim: the row as of the grant, and its stamp. */
  row: Row | undefined;
  stamp: number | undefined;
  #release: () => Promise<void>;

  constructor(intent: Intent, release: () => Promise<void>) {
    this.id = intent.id;
    this.intent = intent;
    this.#release = release;
  }

  /** Withdraws the intent (idempotent). */
  release(): Promise<void> {
    return this.#release();
  }
}

export function toIntent(wire: WireIntent): Intent {
  const target: Intent['target'] = { resource: wire.target.model, ...wire.target };
  return Object.freeze({
    id: wire.id,
    participant: wire.participant,
    participantKind: wire.participant.kind as ParticipantKind,
    participantId: wire.participant.id,
    target: Object.freeze(target),
    action: wire.action,
    exclusive: wire.exclusive ?? false,
    createdAt: wire.createdAt,
    expiresAt: wire.expiresAt,
  });
}

export class Intents {
  #transport: Transport;
  #active = new Map<string, Intent>();
  #mine = new Map<string, { heartbeat: ReturnType<typeof setInterval>; granted?: (status: string) => void }>();
  #lists = new Map<string, { version: number; list: Intent[] }>();
  #version = 0;
  #sweep: ReturnType<typeof setTimeout> | undefined;
  #onChange: () => void;
  #onParticipant: (p: Participant) => void;
  #waiters = new Set<() => void>();

  #isMe: (p: Participant) => boolean;

  constructor(
    transport: Transport,
    onChange: () => void,
    onParticipant: (p: Participant) => void,
    isMe: (p: Participant) => boolean,
  ) {
    this.#transport = transport;
    this.#isMe = isMe;
    this.#onChange = onChange;
    this.#onParticipant = onParticipant;
  }

  /** Other participants' active intents on a row (and its fields) or on one field. Synchronous. */
  list(target: TargetInput): Intent[] {
    const wire = wireTarget(target);
    const key = targetKey(wire);
    const cached = this.#lists.get(key);
    if (cached && cached.version === this.#version) return cached.list;
    const now = Date.now();
    const list = [...this.#active.values()].filter(
      (i) =>
        !this.#mine.has(i.id) &&
        !this.#isMe(i.participant) &&
        i.target.model === wire.model &&
        i.target.id === wire.id &&
        (wire.field === undefined || i.target.field === undefined || i.target.field === wire.field) &&
        Date.parse(i.expiresAt) > now,
    );
    Object.freeze(list);
    this.#lists.set(key, { version: this.#version, list });
    return list;
  }

  /** Asks the server for the active intents on a target and replaces what is known of that row. */
  async fetch(target: TargetInput): Promise<Intent[]> {
    const wire = wireTarget(target);
    const { data } = await this.#transport.request<{ data: WireIntent[] }>('GET', '/v1/intents', {
      query: { model: wire.model, id: wire.id, field: wire.field },
    });
    this.replaceRow(wire.model, wire.id, data.data, wire.field);
    return this.list(target);
  }

  /** The intents of one row as a read reported them (`ifBusy=return`). */
  replaceRow(model: string, id: string, intents: WireIntent[], field?: string): void {
    for (const [key, intent] of this.#active) {
      if (intent.target.model === model && intent.target.id === id && (field === undefined || intent.target.field === field)) {
        this.#active.delete(key);
      }
    }
    for (const wire of intents) this.#active.set(wire.id, toIntent(wire));
    this.#changed();
  }

  /** A snapshot of every active intent the credential may see (on subscribe): replaces what others hold. */
  replaceAll(intents: WireIntent[]): void {
    for (const id of [...this.#active.keys()]) if (!this.#mine.has(id)) this.#active.delete(id);
    for (const wire of intents) this.#active.set(wire.id, toIntent(wire));
    this.#changed();
  }

  /** An `intent` message of the live stream. */
  onEvent(event: string, wire: WireIntent): void {
    if (event === 'released' || event === 'expired' || event === 'queued') this.#active.delete(wire.id);
    else this.#active.set(wire.id, toIntent(wire));
    const mine = this.#mine.get(wire.id);
    if (mine?.granted && (event === 'granted' || event === 'released' || event === 'expired')) mine.granted(event);
    this.#changed();
  }

  /** Forgets what the stream said (after a reconnect the server's board may be new). */
  clear(): void {
    for (const id of [...this.#active.keys()]) if (!this.#mine.has(id)) this.#active.delete(id);
    this.#changed();
  }

  /** Resolves when no other participant holds an intent on `target`. */
  async waitFor(target: TargetInput, options: { timeout?: number; signal?: AbortSignal } = {}): Promise<void> {
    await this.fetch(target).catch(() => undefined);
    if (this.list(target).length === 0) return;
    const timeout = AbortSignal.timeout(options.timeout ?? 30_000);
    const signal = options.signal ? anySignal([options.signal, timeout]) : timeout;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.list(target).length === 0) done(resolve);
      };
      const onAbort = () =>
        done(() =>
          reject(
            options.signal?.aborted
              ? options.signal.reason
              : new AbloBusyError({
                  type: 'busy',
                  code: 'busy',
                  message: `${wireTarget(target).model}/${target.id} is still busy after the timeout`,
                  details: { intents: this.list(target) },
                }),
          ),
        );
      const done = (finish: () => void) => {
        this.#waiters.delete(check);
        signal.removeEventListener('abort', onAbort);
        finish();
      };
      this.#waiters.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Takes an intent (or, with `exclusive`, a claim) and heartbeats it until released. */
  async create(request: CreateIntent): Promise<IntentHandle> {
    const target = wireTarget(request.target);
    const body: Record<string, unknown> = { target, action: request.action };
    if (request.ttl !== undefined) body['ttlMs'] = request.ttl;
    if (request.exclusive) body['exclusive'] = true;
    if (request.wait !== undefined) body['wait'] = request.wait;
    const { data } = await this.#transport.request<CreateAnswer>('POST', '/v1/intents', { body });
    this.#onParticipant(data.intent.participant);
    const intent = toIntent(data.intent);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      const mine = this.#mine.get(intent.id);
      if (mine) clearInterval(mine.heartbeat);
      this.#mine.delete(intent.id);
      this.#active.delete(intent.id);
      this.#changed();
      await this.#transport.request('DELETE', `/v1/intents/${encodeURIComponent(intent.id)}`).catch((error: unknown) => {
        if (!(error instanceof AbloNotFoundError)) throw error;
      });
    };
    const handle = new IntentHandle(intent, release);
    const lease = Math.max(100, Date.parse(data.intent.expiresAt) - Date.parse(data.intent.createdAt));
    const granted = new Promise<string>((resolve) => {
      const heartbeat = setInterval(() => void this.#heartbeat(handle, resolve), Math.max(50, lease / 3));
      (heartbeat as { unref?: () => void }).unref?.();
      this.#mine.set(intent.id, { heartbeat, granted: resolve });
    });
    if (data.status === 'active') {
      handle.row = data.data;
      handle.stamp = data.stamp;
      this.#active.set(intent.id, intent);
      this.#changed();
      return handle;
    }
    // A claim waiting in line: the `granted` event (or a heartbeat answer) says when it is ours.
    const timeout = AbortSignal.timeout(request.timeout ?? 60_000);
    const signal = request.signal ? anySignal([request.signal, timeout]) : timeout;
    const outcome = await Promise.race([
      granted,
      new Promise<string>((resolve) => signal.addEventListener('abort', () => resolve('aborted'), { once: true })),
    ]);
    if (outcome !== 'granted') {
      await release().catch(() => undefined);
      throw new AbloBusyError({
        type: 'entity_claimed',
        code: outcome === 'aborted' ? 'claim_wait_timeout' : 'claim_lost',
        message: `the claim on ${target.model}/${target.id} was not granted`,
      });
    }
    const row = await this.#transport.request<{ data: Row; stamp: number }>(
      'GET',
      `/v1/models/${encodeURIComponent(target.model)}/${encodeURIComponent(target.id)}`,
    );
    handle.row = row.data.data;
    handle.stamp = row.data.stamp;
    return handle;
  }

  async #heartbeat(handle: IntentHandle, granted: (status: string) => void): Promise<void> {
    try {
      const { data } = await this.#transport.request<{ intent: WireIntent; status: string }>(
        'POST',
        `/v1/intents/${encodeURIComponent(handle.id)}/heartbeat`,
      );
      if (data.status === 'active') {
        this.#active.set(handle.id, toIntent(data.intent));
        granted('granted');
      }
    } catch (error) {
      if (error instanceof AbloError && (error.httpStatus === 404 || error.httpStatus === 403)) {
        // Lapsed or lost (for example after a server restart): stop beating.
        const mine = this.#mine.get(handle.id);
        if (mine) clearInterval(mine.heartbeat);
        this.#mine.delete(handle.id);
        this.#active.delete(handle.id);
        granted('expired');
        this.#changed();
      }
      // Anything else (no answer, a 5xx): try again at the next beat; the lease outlasts a few misses.
    }
  }

  /** Releases every intent this client holds. */
  async releaseAll(): Promise<void> {
    const ids = [...this.#mine.keys()];
    for (const id of ids) {
      const mine = this.#mine.get(id);
      if (mine) clearInterval(mine.heartbeat);
      this.#mine.delete(id);
    }
    await Promise.all(ids.map((id) => this.#transport.request('DELETE', `/v1/intents/${encodeURIComponent(id)}`).catch(() => undefined)));
  }

  #changed(): void {
    this.#version++;
    this.#scheduleSweep();
    for (const check of [...this.#waiters]) check();
    this.#onChange();
  }

  /** Drops intents at their expiry, so a lapsed intent stops showing even without an event. */
  #scheduleSweep(): void {
    if (this.#sweep) clearTimeout(this.#sweep);
    let next = Infinity;
    for (const intent of this.#active.values()) next = Math.min(next, Date.parse(intent.expiresAt));
    if (!Number.isFinite(next)) return;
    this.#sweep = setTimeout(() => {
      const now = Date.now();
      let removed = false;
      for (const [id, intent] of this.#active) {
        if (Date.parse(intent.expiresAt) <= now && !this.#mine.has(id)) {
          this.#active.delete(id);
          removed = true;
        }
      }
      if (removed) this.#changed();
    }, Math.max(10, next - Date.now() + 5));
    (this.#sweep as { unref?: () => void }).unref?.();
  }

  dispose(): void {
    if (this.#sweep) clearTimeout(this.#sweep);
    for (const mine of this.#mine.values()) clearInterval(mine.heartbeat);
  }
}
