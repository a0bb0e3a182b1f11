//! The signature on every Data Source call, both ways: the server signs the
//! requests it sends to a customer's Data Source URL, and the customer signs
//! the events it pushes to the server, with the same secret.
//!
//! The scheme is the one the seed's `docs/examples/existing-python-backend.md`
//! verifies: headers `webhook-id`, `webhook-timestamp` (milliseconds since
//! the Unix epoch, decimal) and `webhook-signature` (space-separated
//! `v1,<signature>` entries, so a secret can be rotated); the signature is
//! the standard, padded base64 of HMAC-SHA256 keyed by the UTF-8 bytes of
//! the whole secret (its `whsec_` prefix included) over
//! `"{id}.{timestamp}.{raw body}"`. A timestamp more than five minutes away
//! from the receiver's clock is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the message id.
pub const WEBHOOK_ID: &str = "webhook-id";
/// Header carrying the signing time, in milliseconds since the Unix epoch.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// How far a signature's timestamp may be from the receiver's clock.
pub const TOLERANCE_MS: i64 = 5 * 60 * 1000;

/// The three signature headers of one message.
///
/// ```
/// let headers = ablo_runtime::signing::SignedHeaders::new("whsec_k", b"{}", 1_700_000_000_000);
/// assert!(headers.id.starts_with("msg_"));
/// assert_eq!(headers.timestamp, "1700000000000");
/// assert!(headers.signature.starts_with("v1,"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp`.
    pub timestamp: String,
    /// `webhook-signature`.
    pub signature: String,
}

impl SignedHeaders {
    /// Signs `body` with `secret` at `now_ms`, under a new message id.
    pub fn new(secret: &str, body: &[u8], now_ms: i64) -> SignedHeaders {
        let id = format!("msg_{}", uuid::Uuid::new_v4().simple());
        let timestamp = now_ms.to_string();
        let signature = format!("v1,{}", signature(secret, &id, &timestamp, body));
        SignedHeaders {
            id,
            timestamp,
            signature,
        }
    }

    /// The headers as `(name, value)` pairs.
    ///
    /// ```
    /// let headers = ablo_runtime::signing::SignedHeaders::new("whsec_k", b"", 0);
    /// assert_eq!(headers.pairs()[0].0, "webhook-id");
    /// ```
    pub fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            (WEBHOOK_ID, &self.id),
            (WEBHOOK_TIMESTAMP, &self.timestamp),
            (WEBHOOK_SIGNATURE, &self.signature),
        ]
    }
}

/// The base64 signature of one message (without the `v1,` prefix).
///
/// ```
/// let sig = ablo_runtime::signing::signature("whsec_k", "msg_1", "1700000000000", b"{}");
/// assert_eq!(sig.len(), 44);
/// ```
pub fn signature(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> String {
    STANDARD.encode(mac(secret, id, timestamp, body).finalize().into_bytes())
}

fn mac(secret: &str, id: &str, timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Why a signed message was refused.
///
/// ```
/// use ablo_runtime::signing::SignatureError;
/// assert_eq!(SignatureError::Expired.to_string(), "the signature's timestamp is more than five minutes away");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is missing or empty.
    #[error("missing `{0}` header")]
    Missing(&'static str),
    /// `webhook-timestamp` is not a decimal number of milliseconds.
    #[error("`webhook-timestamp` is not milliseconds since the epoch")]
    BadTimestamp,
    /// The timestamp is outside the tolerance.
    #[error("the signature's timestamp is more than five minutes away")]
    Expired,
    /// No `v1,` entry matches.
    #[error("no signature matches")]
    Invalid,
}

/// Verifies a received message: headers `id`, `timestamp` and `signature`
/// (each `None` when absent) against `body`, with `secret`, at `now_ms`.
/// Signatures are compared in constant time.
///
/// ```
/// use ablo_runtime::signing::{SignedHeaders, verify, SignatureError};
/// let body = br#"{"events":[]}"#;
/// let h = SignedHeaders::new("whsec_k", body, 1_700_000_000_000);
/// let ok = verify("whsec_k", Some(&h.id), Some(&h.timestamp), Some(&h.signature), body, 1_700_000_060_000);
/// assert_eq!(ok, Ok(()));
/// let tampered = verify("whsec_k", Some(&h.id), Some(&h.timestamp), Some(&h.signature), b"{}", 1_700_000_000_000);
/// assert_eq!(tampered, Err(SignatureError::Invalid));
/// ```
pub fn verify(
    secret: &str,
    id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_ms: i64,
) -> Result<(), SignatureError> {
    let id = present(id, WEBHOOK_ID)?;
    let timestamp = present(timestamp, WEBHOOK_TIMESTAMP)?;
    let signatures = present(signature, WEBHOOK_SIGNATURE)?;
    let signed_at: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now_ms - signed_at).abs() > TOLERANCE_MS {
        return Err(SignatureError::Expired);
    }
    let expected = mac(secret, id, timestamp, body);
    let matches = signatures
        .split_ascii_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|encoded| STANDARD.decode(encoded).ok())
        .any(|presented| expected.clone().verify_slice(&presented).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Invalid)
    }
}

fn present<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, SignatureError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(SignatureError::Missing(name))
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
///
/// ```
/// let secret = ablo_runtime::signing::new_secret();
/// assert!(secret.starts_with("whsec_") && secret.len() == 6 + 44);
/// ```
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// Milliseconds since the Unix epoch, now.
///
/// ```
/// assert!(ablo_runtime::signing::now_ms() > 1_700_000_000_000);
/// ```
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000;

    fn check(headers: &SignedHeaders, body: &[u8], now: i64) -> Result<(), SignatureError> {
        verify(
            "whsec_secret",
            Some(&headers.id),
            Some(&headers.timestamp),
            Some(&headers.signature),
            body,
            now,
        )
    }

    #[test]
    fn a_fixed_message_has_a_fixed_signature() {
        // Computed independently with Python's hmac/hashlib/base64.
        assert_eq!(
            signature(
                "whsec_secret",
                "msg_1",
                "1764000000000",
                br#"{"type":"load"}"#
            ),
            "vyzoGCge6r9dzBJvLmcVBnptRFgzQCfjzDTtVgHyR4Y="
        );
    }

    #[test]
    fn every_way_to_fail() {
        let body = b"{}";
        let headers = SignedHeaders::new("whsec_secret", body, NOW);
        assert_eq!(check(&headers, body, NOW), Ok(()));
        assert_eq!(check(&headers, body, NOW + TOLERANCE_MS), Ok(()));
        assert_eq!(
            check(&headers, body, NOW + TOLERANCE_MS + 1),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            check(&headers, body, NOW - TOLERANCE_MS - 1),
            Err(SignatureError::Expired)
        );
        assert_eq!(check(&headers, b"{ }", NOW), Err(SignatureError::Invalid));
        let other_key = SignedHeaders::new("whsec_other", body, NOW);
        assert_eq!(check(&other_key, body, NOW), Err(SignatureError::Invalid));
        let bad_time = SignedHeaders {
            timestamp: "soon".into(),
            ..headers.clone()
        };
        assert_eq!(
            check(&bad_time, body, NOW),
            Err(SignatureError::BadTimestamp)
        );
        let garbage = SignedHeaders {
            signature: "v1,!!! v2,abc".into(),
            ..headers.clone()
        };
        assert_eq!(check(&garbage, body, NOW), Err(SignatureError::Invalid));
        assert_eq!(
            verify("whsec_secret", None, Some("1"), Some("v1,a"), body, NOW),
            Err(SignatureError::Missing(WEBHOOK_ID))
        );
        assert_eq!(
            verify("whsec_secret", Some("m"), Some("1"), Some(""), body, NOW),
            Err(SignatureError::Missing(WEBHOOK_SIGNATURE))
        );
    }

    #[test]
    fn any_listed_signature_may_match_so_secrets_can_rotate() {
        let body = b"{}";
        let new = SignedHeaders::new("whsec_secret", body, NOW);
        let old = signature("whsec_old", &new.id, &new.timestamp, body);
        let rotated = SignedHeaders {
            signature: format!("v1,{old} {}", new.signature),
            ..new
        };
        assert_eq!(check(&rotated, body, NOW), Ok(()));
    }
}
