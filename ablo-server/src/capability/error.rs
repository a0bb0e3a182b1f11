//! [`AccessError`]: every way a credential is refused, with the data the
//! refusal names. The capability checks, the registry and the key table
//! raise it; it becomes the wire envelope ([`ApiError`]) only where a
//! caller answers, through the one `From` impl below. Its `Display` is the
//! envelope's message.

use ablo_runtime::wire::{ErrorType, codes as wire_codes};
use serde_json::json;

use super::{CapabilityRejected, ScopeDenied, codes};
use crate::error::{ApiError, Refusal};

/// Why a credential may not do what it asked.
///
/// ```
/// use ablo_server::capability::{AccessError, ScopeDenied};
/// use ablo_server::{ApiError, Refusal};
/// let err = AccessError::from(ScopeDenied::SyncGroup { group: "org:b".into() });
/// let answered = ApiError::from(err);
/// assert_eq!(answered.refusal(), Refusal::Forbidden);
/// assert_eq!(answered.details().unwrap()["syncGroup"], "org:b");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccessError {
    /// The credential's operations or sync groups do not allow it (403).
    #[error(transparent)]
    ScopeDenied(#[from] ScopeDenied),
    /// Only an API key may make this call (403); `operation` names it, e.g.
    /// `schema.push`.
    #[error("`{operation}` needs an API key; a capability cannot do it")]
    ApiKeyRequired {
        /// The call, as `area.action`.
        operation: String,
    },
    /// The capability token is unknown, expired or revoked (401).
    #[error("{}", capability_message(*.0))]
    Capability(CapabilityRejected),
    /// The API key was revoked (401).
    #[error("the API key has been revoked")]
    ApiKeyRevoked,
    /// A capability request is not valid (422).
    #[error("{0}")]
    InvalidCapability(String),
}

impl AccessError {
    /// The refusal of a call only an API key may make.
    ///
    /// ```
    /// let err = ablo_server::capability::AccessError::api_key_required("schema.push");
    /// assert_eq!(ablo_server::ApiError::from(err).code(), "api_key_required");
    /// ```
    pub fn api_key_required(operation: impl Into<String>) -> AccessError {
        AccessError::ApiKeyRequired {
            operation: operation.into(),
        }
    }
}

fn capability_message(rejected: CapabilityRejected) -> &'static str {
    match rejected {
        CapabilityRejected::Unknown => "the capability token is not valid",
        CapabilityRejected::Expired => "the capability has expired",
        CapabilityRejected::Revoked => "the capability has been revoked",
    }
}

impl From<CapabilityRejected> for AccessError {
    fn from(rejected: CapabilityRejected) -> Self {
        AccessError::Capability(rejected)
    }
}

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        let message = err.to_string();
        match err {
            AccessError::ScopeDenied(reason) => {
                let details = match &reason {
                    ScopeDenied::Operation { operation } => json!({"operation": operation}),
                    ScopeDenied::SyncGroup { group } => json!({"syncGroup": group}),
                };
                ApiError::new(
                    ErrorType::Permission,
                    Refusal::Forbidden,
                    codes::CAPABILITY_SCOPE_DENIED,
                    message,
                )
                .with_details(details)
            }
            AccessError::ApiKeyRequired { operation } => ApiError::new(
                ErrorType::Permission,
                Refusal::Forbidden,
                codes::API_KEY_REQUIRED,
                message,
            )
            .with_details(json!({"operation": operation})),
            AccessError::Capability(rejected) => {
                let code = match rejected {
                    CapabilityRejected::Unknown => wire_codes::INVALID_API_KEY,
                    CapabilityRejected::Expired => codes::CAPABILITY_EXPIRED,
                    CapabilityRejected::Revoked => codes::CAPABILITY_REVOKED,
                };
                ApiError::authentication(code, message)
            }
            AccessError::ApiKeyRevoked => {
                ApiError::authentication(wire_codes::INVALID_API_KEY, message)
            }
            AccessError::InvalidCapability(_) => ApiError::new(
                ErrorType::Validation,
                Refusal::Invalid,
                codes::INVALID_CAPABILITY,
                message,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each refusal keeps its code, kind and details through the mapping.
    #[test]
    fn each_refusal_maps_to_its_code_and_kind() {
        let cases: Vec<(AccessError, &str, Refusal)> = vec![
            (
                ScopeDenied::Operation {
                    operation: "tasks.delete".into(),
                }
                .into(),
                codes::CAPABILITY_SCOPE_DENIED,
                Refusal::Forbidden,
            ),
            (
                AccessError::api_key_required("schema.push"),
                codes::API_KEY_REQUIRED,
                Refusal::Forbidden,
            ),
            (
                CapabilityRejected::Unknown.into(),
                wire_codes::INVALID_API_KEY,
                Refusal::Unauthenticated,
            ),
            (
                CapabilityRejected::Expired.into(),
                codes::CAPABILITY_EXPIRED,
                Refusal::Unauthenticated,
            ),
            (
                CapabilityRejected::Revoked.into(),
                codes::CAPABILITY_REVOKED,
                Refusal::Unauthenticated,
            ),
            (
                AccessError::ApiKeyRevoked,
                wire_codes::INVALID_API_KEY,
                Refusal::Unauthenticated,
            ),
            (
                AccessError::InvalidCapability("ttlSeconds is too large".into()),
                codes::INVALID_CAPABILITY,
                Refusal::Invalid,
            ),
        ];
        for (err, code, refusal) in cases {
            let message = err.to_string();
            let answered = ApiError::from(err);
            assert_eq!((answered.code(), answered.refusal()), (code, refusal));
            assert_eq!(answered.message(), message);
        }
        let answered = ApiError::from(AccessError::api_key_required("metrics.read"));
        assert_eq!(answered.details().unwrap()["operation"], "metrics.read");
    }
}
