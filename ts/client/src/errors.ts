// Typed errors: one class per error `type` of the server's envelope, plus
// the client-side `connection` type. Every error carries `type`, `code`,
// `httpStatus` and `requestId` (the server's `x-request-id`).

import type { Intent, Row } from './types.js';

/** The `type` of an Ablo error, as in the server's error envelope. */
export type AbloErrorType =
  | 'authentication'
  | 'permission'
  | 'not_found'
  | 'validation'
  | 'stale_context'
  | 'busy'
  | 'entity_claimed'
  | 'idempotency'
  | 'rate_limit'
  | 'connection'
  | 'server';

/** What every Ablo error is built from. */
export interface AbloErrorInit {
  type: AbloErrorType;
  code: string;
  message: string;
  httpStatus?: number | undefined;
  requestId?: string | undefined;
  details?: Record<string, unknown> | undefined;
  cause?: unknown;
}

/** The base class of every error the client throws or reports. */
export class AbloError extends Error {
  readonly type: AbloErrorType;
  readonly code: string;
  /** The HTTP status of the answer; `undefined` for connection errors. */
  readonly httpStatus: number | undefined;
  /** The server's request id (`req_...`); quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** The envelope's `details`, when the server sent any. */
  readonly details: Record<string, unknown> | undefined;

  constructor(init: AbloErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.type = init.type;
    this.code = init.code;
    this.httpStatus = init.httpStatus;
    this.requestId = init.requestId;
    this.details = init.details;
  }
}

/** 401: no credential, an unknown one, or an expired or revoked capability. */
export class AbloAuthenticationError extends AbloError {}

/** 403: outside the credential's operations or sync groups. */
export class AbloPermissionError extends AbloError {}

/** 404: no such row, model, intent or route. */
export class AbloNotFoundError extends AbloError {}

/** 400/413/422: the request is not valid; `problems` lists each one found. */
export class AbloValidationError extends AbloError {
  get problems(): Array<{ code: string; field?: string; message: string }> {
    const problems = this.details?.['problems'];
    return Array.isArray(problems) ? (problems as Array<{ code: string; field?: string; message: string }>) : [];
  }
}

/** 409 `stale_context`: the row changed after `readAt`. */
export class AbloStaleContextError extends AbloError {
  /** The row as it is now on the server. */
  get current(): Row | undefined {
    return (this.details?.['current'] as Row | undefined) ?? undefined;
  }
  /** The current row's stamp: a valid `readAt` for a retry. */
  get stamp(): number | undefined {
    const stamp = this.details?.['stamp'];
    return typeof stamp === 'number' ? stamp : undefined;
  }
  /** For `onStale: 'merge'`: the fields of the write that changed after `readAt`. */
  get conflictingFields(): string[] {
    const fields = this.details?.['conflictingFields'];
    return Array.isArray(fields) ? (fields as string[]) : [];
  }
}

/** 409 `busy`, `entity_claimed`, `claim_queue_full`: another participant is working on the row. */
export class AbloBusyError extends AbloError {
  /** The intents or claims in the way. */
  get intents(): Intent[] {
    const intents = this.details?.['intents'];
    return Array.isArray(intents) ? (intents as Intent[]) : [];
  }
}

/** 409 `idempotency_conflict`, `row_exists`, `task_closed`. */
export class AbloIdempotencyError extends AbloError {}

/** 429: too many requests with this credential. */
export class AbloRateLimitError extends AbloError {
  /** Seconds to wait before trying again (from `Retry-After`). */
  readonly retryAfterSeconds: number;
  constructor(init: AbloErrorInit & { retryAfterSeconds: number }) {
    super(init);
    this.retryAfterSeconds = init.retryAfterSeconds;
  }
}

/** The server could not be reached, or did not answer in time. */
export class AbloConnectionError extends AbloError {
  constructor(message: string, cause?: unknown, code = 'connection_failed') {
    super({ type: 'connection', code, message, cause });
  }
}

/** 5xx: the server (or a Data Source behind it) failed. */
export class AbloServerError extends AbloError {}

/** The error for a server error envelope (or a bare status). */
export function errorFromEnvelope(
  httpStatus: number,
  body: unknown,
  requestId: string | undefined,
  retryAfterHeader?: string | null,
): AbloError {
  const envelope = (body as { error?: Partial<AbloErrorInit> & { details?: Record<string, unknown> } } | null)?.error;
  const type = (envelope?.type ?? typeForStatus(httpStatus)) as AbloErrorType;
  const init: AbloErrorInit = {
    type,
    code: envelope?.code ?? `http_${httpStatus}`,
    message: envelope?.message ?? `the server answered ${httpStatus}`,
    httpStatus,
    requestId: envelope?.requestId ?? requestId,
    details: envelope?.details,
  };
  switch (type) {
    case 'authentication':
      return new AbloAuthenticationError(init);
    case 'permission':
      return new AbloPermissionError(init);
    case 'not_found':
      return new AbloNotFoundError(init);
    case 'validation':
      return new AbloValidationError(init);
    case 'stale_context':
      return new AbloStaleContextError(init);
    case 'busy':
    case 'entity_claimed':
      return new AbloBusyError(init);
    case 'idempotency':
      return new AbloIdempotencyError(init);
    case 'rate_limit': {
      const header = Number(retryAfterHeader);
      const ms = Number((init.details as { retryAfterMs?: number } | undefined)?.retryAfterMs);
      const seconds = Number.isFinite(header) && header > 0 ? header : Number.isFinite(ms) ? ms / 1000 : 1;
      return new AbloRateLimitError({ ...init, retryAfterSeconds: seconds });
    }
    case 'server':
      return new AbloServerError(init);
    default:
      return new AbloError(init);
  }
}

function typeForStatus(status: number): AbloErrorType {
  if (status === 401) return 'authentication';
  if (status === 403) return 'permission';
  if (status === 404) return 'not_found';
  if (status === 409) return 'idempotency';
  if (status === 429) return 'rate_limit';
  if (status >= 500) return 'server';
  return 'validation';
}

/** Whether a failed attempt may be retried with the same `clientTxId`. */
export function isTransient(error: unknown): boolean {
  if (!(error instanceof AbloError)) return false;
  if (error.type === 'connection' || error.type === 'rate_limit') return true;
  return error.type === 'server' && (error.httpStatus === 502 || error.httpStatus === 503 || error.httpStatus === 504);
}
