// @ablo/client: the TypeScript client of the Ablo sync server.

import { Ablo } from './client.js';

export { Ablo };
export default Ablo;
export type { AbloClient, AbloCore, AbloOptions, ModelHandles, Snapshot, SnapshotTargets } from './client.js';
export type { ModelHandle, Claim, ClaimOptions } from './models.js';
export { IntentHandle } from './intents.js';
export type { CreateIntent } from './intents.js';
export type { AuthOptions, TokenResult } from './auth.js';
export type { WebSocketLike, WebSocketConstructor } from './sync.js';
export {
  AbloError,
  AbloAuthenticationError,
  AbloPermissionError,
  AbloNotFoundError,
  AbloValidationError,
  AbloStaleContextError,
  AbloBusyError,
  AbloIdempotencyError,
  AbloRateLimitError,
  AbloConnectionError,
  AbloServerError,
} from './errors.js';
export type { AbloErrorType, AbloErrorInit } from './errors.js';
export type * from './types.js';
