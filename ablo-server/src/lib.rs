//! The Ablo sync server: it will own the HTTP and WebSocket API, the commit
//! pipeline (authenticate, validate, stale check, idempotency, apply, log,
//! fan out), storage on embedded SQLite, intents and claims, capabilities,
//! the audit log and Data Source calls.
