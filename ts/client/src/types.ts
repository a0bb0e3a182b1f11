// The public types: schema shape and the row, input and patch types derived
// from it, write options, queries, targets, intents and presence.

import type { Where } from './query.js';

export type { Where, WhereOperators, WhereValue } from './query.js';

/** Any JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A row as the server sends it: the envelope and the model's fields. */
export interface Row {
  readonly id: string;
  readonly stamp: number;
  readonly createdAt: string;
  readonly updatedAt: string;
  readonly [field: string]: unknown;
}

/** One field of a model, as the schema const describes it. */
export interface SchemaField {
  readonly name: string;
  readonly required: boolean;
  readonly type?: unknown;
}

/** One model of the schema const. */
export interface SchemaModel {
  readonly fields: readonly SchemaField[];
  readonly syncGroups?: readonly string[];
  readonly typeName?: string;
}

/** The compile-time types of a schema: row, create input and patch of each model. */
export interface SchemaTypes {
  readonly models: object;
  readonly inputs: object;
  readonly patches: object;
}

/**
 * What `Ablo({ schema })` takes: the `schema` const `ablo-codegen` writes in
 * `ablo.ts`, or the result of `defineSchema` from `@ablo/client/schema`.
 */
export interface AbloSchema {
  readonly models: { readonly [name: string]: SchemaModel };
  readonly modelNames?: readonly string[];
  readonly hash?: string;
  /** Type-only: never present at run time. */
  readonly '~types'?: SchemaTypes;
}

type TypesOf<S> = S extends { readonly '~types'?: infer T } ? (T extends SchemaTypes ? T : never) : never;

/** The wire names of the models of `S`. */
export type ModelNameOf<S extends AbloSchema> = [TypesOf<S>] extends [never]
  ? keyof S['models'] & string
  : keyof TypesOf<S>['models'] & string;

type Lookup<T, K, Fallback> = K extends keyof T ? T[K] : Fallback;

/** The row type of model `M`. */
export type RowOf<S extends AbloSchema, M extends string> = Lookup<TypesOf<S>['models'], M, Row>;
/** The create input of model `M`. */
export type InputOf<S extends AbloSchema, M extends string> = Lookup<TypesOf<S>['inputs'], M, Record<string, unknown>>;
/** The patch type of model `M`. */
export type PatchOf<S extends AbloSchema, M extends string> = Lookup<TypesOf<S>['patches'], M, Record<string, unknown>>;

/** What a write does when the row changed after `readAt`. */
export type OnStale = 'reject' | 'merge' | 'flag' | 'force';
/** What a write does when another participant holds an intent on the row. */
export type IfBusy = 'ignore' | 'fail' | 'wait';
/** `queued`: applied locally at once, confirmed in the background; `confirmed`: resolves once the server accepted it. */
export type WaitMode = 'queued' | 'confirmed';

/** Options of `create`, `update` and `delete`. */
export interface WriteOptions {
  /** The stamp the data was read at (from `ablo.snapshot(...)`); enables the stale check. */
  readAt?: number;
  /** Default `reject` when `readAt` is given. */
  onStale?: OnStale;
  /** Default: the client's `wait` option. */
  wait?: WaitMode;
  /** Default `ignore`. */
  ifBusy?: IfBusy;
  /** Write under this intent or claim: refused once it was released or lapsed. */
  intent?: { readonly id: string } | string;
  /** The commit's `clientTxId`; the same key and body return the original result. */
  idempotencyKey?: string;
  /** Milliseconds to keep retrying before giving up (default: the client's `timeout`). */
  timeout?: number;
  /** The agent run (`POST /v1/tasks`) this write belongs to. */
  causedByTaskId?: string;
}

/** `where` conditions (a value, or operators `eq` `ne` `gt` `gte` `lt` `lte` `in`), an order and a limit. */
export interface Query<R = Row> {
  where?: Where<R>;
  /** `field`, `field:asc` or `field:desc`. */
  orderBy?: string;
  limit?: number;
}

/** A row or field, as the seed writes it (`resource`) or as the protocol does (`model`). */
export type TargetInput =
  | { resource: string; id: string; field?: string | undefined }
  | { model: string; id: string; field?: string | undefined };

/** A target on the wire. */
export interface WireTarget {
  model: string;
  id: string;
  field?: string;
}

/** `user`, `agent` or `system`. */
export type ParticipantKind = 'user' | 'agent' | 'system';

/** Who acts. */
export interface Participant {
  readonly id: string;
  readonly kind: ParticipantKind;
}

/** An active intent or claim of some participant. */
export interface Intent {
  readonly id: string;
  readonly participant: Participant;
  /** The same as `participant.kind`. */
  readonly participantKind: ParticipantKind;
  readonly participantId: string;
  readonly target: { readonly resource: string; readonly model: string; readonly id: string; readonly field?: string };
  readonly action: string;
  readonly exclusive: boolean;
  readonly createdAt: string;
  readonly expiresAt: string;
}

/** What a participant does with a row. */
export type PresenceState = 'viewing' | 'editing';

/** A participant's presence on a row. */
export interface PresenceEntry {
  readonly participant: Participant;
  readonly participantKind: ParticipantKind;
  readonly participantId: string;
  readonly target: { readonly resource: string; readonly model: string; readonly id: string; readonly field?: string };
  readonly state: PresenceState;
  readonly at: string;
}

/** The states of the live connection. */
export type SyncState = 'initial' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'needs-auth';

/** The live connection's state and the local write queue. */
export interface SyncStatus {
  readonly status: SyncState;
  /** The last sync id applied from the server. */
  readonly cursor: number;
  /** Whether the replay after the last (re)connect has finished. */
  readonly caughtUp: boolean;
  /** Writes applied locally, not yet confirmed by the server. */
  readonly pendingWrites: number;
  readonly hasUnconfirmedWrites: boolean;
}

/** A delta of the sync log. */
export interface Delta {
  syncId: number;
  model: string;
  id: string;
  action: 'insert' | 'update' | 'delete';
  data: Row | null;
  changedFields: string[];
  clientTxId?: string;
  actor?: Participant;
  syncGroups: string[];
  leftSyncGroups?: string[];
  flagged?: boolean;
}

/** The server's answer to a commit. */
export interface CommitReceipt {
  object: 'commit_receipt';
  clientTxId: string;
  syncId: number;
  status: string;
  rows: Row[];
  flagged: boolean;
}

/** One operation of a commit, on the wire. */
export interface Operation {
  type: 'create' | 'update' | 'delete';
  model: string;
  id: string;
  data?: Record<string, unknown>;
  readAt?: number;
  onStale?: OnStale;
  ifBusy?: IfBusy;
  intentId?: string;
}

/** The wire target of a seed-style or protocol-style target. */
export function wireTarget(target: TargetInput): WireTarget {
  const model = 'resource' in target ? target.resource : target.model;
  const out: WireTarget = { model, id: target.id };
  if (target.field !== undefined) out.field = target.field;
  return out;
}

/** A stable string key of a target. */
export function targetKey(target: WireTarget): string {
  return target.field === undefined ? `${target.model}/${target.id}` : `${target.model}/${target.id}#${target.field}`;
}
