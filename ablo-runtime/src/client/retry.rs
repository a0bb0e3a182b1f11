//! [`RetryPolicy`]: how often and how patiently the client retries a request
//! that failed for a transient reason (connection lost, 5xx, 429).

use std::time::Duration;

use crate::error::Error;

/// Exponential backoff with full jitter, capped.
///
/// The delay before retry `n` (1-based) is a random duration between half
/// of and the whole of `min(max_delay, initial_delay * 2^(n-1))`; a
/// `Retry-After` from the server raises it to at least that long. Writes keep
/// their `clientTxId` across retries, so a retry never applies a write twice.
///
/// ```
/// use std::time::Duration;
/// use ablo_runtime::client::RetryPolicy;
/// let policy = RetryPolicy::default().max_attempts(3).initial_delay(Duration::from_millis(10));
/// assert_eq!(policy.attempts(), 3);
/// assert!(policy.delay_ceiling(2) == Duration::from_millis(20));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Five attempts, starting at 100 ms, at most 5 s apart.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    ///
    /// ```
    /// use ablo_runtime::client::RetryPolicy;
    /// assert_eq!(RetryPolicy::none().attempts(), 1);
    /// ```
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// How many times a request is sent at most, the first time included
    /// (at least 1).
    ///
    /// ```
    /// use ablo_runtime::client::RetryPolicy;
    /// assert_eq!(RetryPolicy::default().max_attempts(0).attempts(), 1);
    /// ```
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The ceiling of the first retry's delay.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ablo_runtime::client::RetryPolicy;
    /// let p = RetryPolicy::default().initial_delay(Duration::from_millis(50));
    /// assert_eq!(p.delay_ceiling(1), Duration::from_millis(50));
    /// ```
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The longest delay between two attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ablo_runtime::client::RetryPolicy;
    /// let p = RetryPolicy::default().max_delay(Duration::from_millis(300));
    /// assert_eq!(p.delay_ceiling(30), Duration::from_millis(300));
    /// ```
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The configured number of attempts.
    ///
    /// ```
    /// use ablo_runtime::client::RetryPolicy;
    /// assert_eq!(RetryPolicy::default().attempts(), 5);
    /// ```
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The upper bound of the delay before retry `retry` (1-based).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ablo_runtime::client::RetryPolicy;
    /// let p = RetryPolicy::default();
    /// assert_eq!(p.delay_ceiling(1), Duration::from_millis(100));
    /// assert_eq!(p.delay_ceiling(3), Duration::from_millis(400));
    /// ```
    pub fn delay_ceiling(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        self.initial_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay)
    }

    /// The delay before retry `retry` (1-based) after `error`, or `None` when
    /// the error is not transient or the attempts are used up.
    ///
    /// ```
    /// use ablo_runtime::{Error, client::RetryPolicy};
    /// let policy = RetryPolicy::default().max_attempts(2);
    /// let lost = Error::connection("connect_failed", "refused");
    /// assert!(policy.delay_after(1, &lost).is_some());
    /// assert!(policy.delay_after(2, &lost).is_none());
    /// assert!(policy.delay_after(1, &Error::validation("bad", "bad")).is_none());
    /// ```
    pub fn delay_after(&self, retry: u32, error: &Error) -> Option<Duration> {
        if retry >= self.max_attempts || !error.is_transient() {
            return None;
        }
        Some(self.backoff(retry, error))
    }

    /// The delay before reconnect attempt `retry` (1-based), which never
    /// gives up: used by the live subscription.
    pub(crate) fn backoff(&self, retry: u32, error: &Error) -> Duration {
        let ceiling = self.delay_ceiling(retry);
        let half = ceiling / 2;
        let jitter = if half.is_zero() {
            Duration::ZERO
        } else {
            half.mul_f64(rand::random::<f64>())
        };
        let delay = half + jitter;
        match error {
            Error::RateLimit {
                retry_after: Some(after),
                ..
            } => delay.max(*after),
            _ => delay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceilings_double_and_cap() {
        let policy = RetryPolicy::default()
            .initial_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(1000));
        let ceilings: Vec<u128> = (1..=6)
            .map(|n| policy.delay_ceiling(n).as_millis())
            .collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.delay_ceiling(u32::MAX).as_millis(), 1000);
    }

    #[test]
    fn delays_stay_between_half_and_the_ceiling() {
        let policy = RetryPolicy::default().initial_delay(Duration::from_millis(80));
        let lost = Error::connection("connection_lost", "reset");
        for _ in 0..200 {
            let delay = policy.delay_after(3, &lost).unwrap();
            assert!(delay >= Duration::from_millis(160) && delay <= Duration::from_millis(320));
        }
    }

    #[test]
    fn retry_after_raises_the_delay() {
        let policy = RetryPolicy::default();
        let limited = Error::from_response(429, b"", Some("3"));
        assert!(policy.delay_after(1, &limited).unwrap() >= Duration::from_secs(3));
    }

    #[test]
    fn only_transient_errors_are_retried() {
        let policy = RetryPolicy::default();
        for status in [400, 401, 403, 404, 409, 422] {
            let err = Error::from_response(status, b"", None);
            assert!(policy.delay_after(1, &err).is_none(), "{status}");
        }
        for status in [500, 502, 503, 429] {
            let err = Error::from_response(status, b"", None);
            assert!(policy.delay_after(1, &err).is_some(), "{status}");
        }
        assert!(
            RetryPolicy::none()
                .delay_after(1, &Error::connection("x", "y"))
                .is_none()
        );
    }
}
