//! Capabilities: scoped, expiring, revocable credentials minted with an API
//! key for an agent (or system) participant acting on behalf of a user.

mod scope;

pub use scope::{Action, InvalidPattern, Scope, ScopeDenied};
