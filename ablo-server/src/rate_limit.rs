//! Rate limiting per credential (each API key and each capability has its
//! own bucket), with the `governor` crate's GCRA limiter. Off unless
//! configured ([`ServerConfig::rate_limit`](crate::ServerConfig)). A refused
//! request gets 429 `rate_limited` with `Retry-After` (whole seconds,
//! rounded up) and `details.retryAfterMs`.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::error::Refusal;
use ablo_runtime::wire::ErrorType;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use serde_json::json;

use crate::auth::Principal;
use crate::capability::codes;
use crate::error::ApiError;

/// How many requests one credential may make: a sustained rate and a burst.
///
/// ```
/// use ablo_server::RateLimit;
/// let limit = RateLimit::per_second(50).with_burst(100);
/// assert_eq!(limit.burst.get(), 100);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: NonZeroU32,
    /// Requests allowed at once after a quiet period.
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `n` requests per second (at least 1), with a burst of `n`.
    pub fn per_second(n: u32) -> RateLimit {
        let n = NonZeroU32::new(n.max(1)).expect("at least 1");
        RateLimit {
            per_second: n,
            burst: n,
        }
    }

    /// Sets the burst (at least 1).
    pub fn with_burst(mut self, burst: u32) -> RateLimit {
        self.burst = NonZeroU32::new(burst.max(1)).expect("at least 1");
        self
    }
}

/// The limiter every authenticated request passes.
pub(crate) struct RateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// Applies to capabilities only, when `limiter` is not configured.
    capability_limiter: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

impl RateLimiter {
    pub(crate) fn new(limit: Option<RateLimit>, capabilities: Option<RateLimit>) -> RateLimiter {
        let keyed = |l: RateLimit| {
            DefaultKeyedRateLimiter::keyed(Quota::per_second(l.per_second).allow_burst(l.burst))
        };
        RateLimiter {
            capability_limiter: if limit.is_some() {
                None
            } else {
                capabilities.map(keyed)
            },
            limiter: limit.map(keyed),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one request of the principal's credential.
    pub(crate) fn check(&self, principal: &Principal) -> Result<(), ApiError> {
        let limiter = match (&self.limiter, &self.capability_limiter) {
            (Some(all), _) => all,
            (None, Some(capabilities)) if principal.grant.is_some() => capabilities,
            _ => return Ok(()),
        };
        let key = match &principal.grant {
            Some(grant) => grant.id.clone(),
            None => principal.actor.id.clone(),
        };
        match limiter.check_key(&key) {
            Ok(()) => Ok(()),
            Err(not_until) => Err(too_many(not_until.wait_time_from(self.clock.now()))),
        }
    }

    /// Forgets credentials that have been idle long enough to be full again.
    pub(crate) fn shrink(&self) {
        for limiter in [&self.limiter, &self.capability_limiter]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn too_many(wait: Duration) -> ApiError {
    let ms = wait.as_millis().max(1) as u64;
    ApiError::new(
        ErrorType::RateLimit,
        Refusal::RateLimited,
        codes::RATE_LIMITED,
        format!("too many requests with this credential; retry after {ms} ms"),
    )
    .with_details(json!({"retryAfterMs": ms}))
}
