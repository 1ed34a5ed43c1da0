//! Retrying forge calls: exponential backoff with jitter, and the forge's
//! own `Retry-After` / rate-limit reset when it gives one.
//!
//! Jitter matters because a burst of releases produces a burst of status
//! updates; without it every failed call of the burst would come back at
//! the same instant and meet the same rate limit again.

use std::future::Future;
use std::time::Duration;

use crate::ForgeError;

/// How often and how patiently a call is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait before the first retry (before jitter).
    pub initial: Duration,
    /// Longest backoff wait (a `Retry-After` may ask for longer and is honoured).
    pub max: Duration,
    /// Tries in all, the first included.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(60),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// The wait before try number `attempt + 1` after `error` (attempt
    /// counts from 1): the forge's `Retry-After` if it sent one, else
    /// `initial · 2^(attempt-1)` capped at `max`, jittered to 50–100 %.
    pub fn delay(&self, attempt: u32, error: &ForgeError) -> Duration {
        match error.retry_after() {
            Some(wait) => wait,
            None => self.backoff(attempt),
        }
    }

    /// `initial · 2^(attempt-1)` capped at `max`, jittered to 50–100 %.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let full = self
            .initial
            .saturating_mul(1u32 << exp)
            .min(self.max)
            .as_secs_f64();
        Duration::from_secs_f64(full * (0.5 + fastrand::f64() * 0.5))
    }
}

/// Runs `call` until it succeeds, fails for good, or the attempts run out.
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, mut call: F) -> Result<T, ForgeError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ForgeError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                let wait = policy.delay(attempt, &e);
                tracing::debug!(error = %e, attempt, wait_ms = wait.as_millis() as u64, "forge call failed; retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ForgeKind;

    fn err(retry_after: Option<Duration>) -> ForgeError {
        ForgeError::Status {
            forge: ForgeKind::Github,
            call: "POST /x".into(),
            status: 503,
            message: "busy".into(),
            retry_after,
        }
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let p = RetryPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            max_attempts: 5,
        };
        for _ in 0..100 {
            let d1 = p.delay(1, &err(None));
            assert!(d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100));
            let d3 = p.delay(3, &err(None));
            assert!(d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400));
            let d9 = p.delay(9, &err(None));
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_secs(1));
        }
        let distinct: std::collections::HashSet<_> =
            (0..50).map(|_| p.delay(4, &err(None))).collect();
        assert!(distinct.len() > 1, "no jitter");
    }

    #[test]
    fn retry_after_wins() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.delay(1, &err(Some(Duration::from_secs(7)))),
            Duration::from_secs(7)
        );
    }

    #[tokio::test]
    async fn retries_until_success_and_stops_on_permanent_errors() {
        let p = RetryPolicy {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(2),
            max_attempts: 5,
        };
        let mut n = 0;
        let r = retry(&p, || {
            n += 1;
            let fail = n < 3;
            async move { if fail { Err(err(None)) } else { Ok(n) } }
        })
        .await;
        assert_eq!(r.unwrap(), 3);
        let mut calls = 0;
        let r: Result<(), _> = retry(&p, || {
            calls += 1;
            async {
                Err(ForgeError::Status {
                    forge: ForgeKind::Github,
                    call: "x".into(),
                    status: 422,
                    message: "invalid".into(),
                    retry_after: None,
                })
            }
        })
        .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
