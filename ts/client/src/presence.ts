// Presence: who is viewing or editing a row, per live connection. Your own
// entries are sent on the socket and published again after a reconnect;
// others' arrive as `presence` events.

import type { PresenceEntry, PresenceState, TargetInput, WireTarget, Participant, ParticipantKind } from './types.js';
import { targetKey, wireTarget } from './types.js';

interface WirePresence {
  participant: Participant;
  target: WireTarget;
  state: PresenceState | 'left';
  at: string;
}

export class Presence {
  #mine = new Map<string, { target: WireTarget; state: PresenceState }>();
  #others = new Map<string, PresenceEntry>();
  #lists = new Map<string, { version: number; list: PresenceEntry[] }>();
  #version = 0;
  #send: (message: object) => boolean;
  #onChange: () => void;

  constructor(send: (message: object) => boolean, onChange: () => void) {
    this.#send = send;
    this.#onChange = onChange;
  }

  /** Publishes that this participant is `viewing` or `editing` the target. */
  set(target: TargetInput, state: PresenceState): void {
    const wire = wireTarget(target);
    this.#mine.set(targetKey(wire), { target: wire, state });
    this.#send({ type: 'presence', target: wire, state });
  }

  /** Withdraws this participant's presence on the target. */
  leave(target: TargetInput): void {
    const wire = wireTarget(target);
    if (this.#mine.delete(targetKey(wire))) this.#send({ type: 'presence', target: wire, state: 'left' });
  }

  /** Everyone's presence on a row (including this participant's, as the server echoes it). */
  list(target: TargetInput): PresenceEntry[] {
    const wire = wireTarget(target);
    const key = targetKey(wire);
    const cached = this.#lists.get(key);
    if (cached && cached.version === this.#version) return cached.list;
    const list = [...this.#others.values()].filter(
      (p) => p.target.model === wire.model && p.target.id === wire.id && (wire.field === undefined || p.target.field === wire.field),
    );
    Object.freeze(list);
    this.#lists.set(key, { version: this.#version, list });
    return list;
  }

  /** A `presence` message of the live stream. */
  onEvent(wire: WirePresence): void {
    const key = `${wire.participant.kind}:${wire.participant.id}@${targetKey(wire.target)}`;
    if (wire.state === 'left') this.#others.delete(key);
    else {
      this.#others.set(
        key,
        Object.freeze({
          participant: wire.participant,
          participantKind: wire.participant.kind as ParticipantKind,
          participantId: wire.participant.id,
          target: Object.freeze({ resource: wire.target.model, ...wire.target }),
          state: wire.state,
          at: wire.at,
        }),
      );
    }
    this.#changed();
  }

  /** On a (re)subscribe: forget others' entries (the server may have restarted; it tells them again). */
  forgetOthers(): void {
    if (this.#others.size === 0) return;
    this.#others.clear();
    this.#changed();
  }

  /** Once subscribed: publish this participant's entries again. */
  republish(): void {
    for (const { target, state } of this.#mine.values()) this.#send({ type: 'presence', target, state });
  }

  #changed(): void {
    this.#version++;
    this.#onChange();
  }
}
