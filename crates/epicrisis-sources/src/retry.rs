//! Retries with exponential backoff for calls to a hospital's systems.

use std::future::Future;
use std::time::Duration;

/// How often and how patiently to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries after the first (0: no retry).
    pub retries: u32,
    /// The first wait; each next one doubles, up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            retries: 3,
            first_wait: Duration::from_millis(500),
            max_wait: Duration::from_secs(10),
        }
    }
}

impl Retry {
    /// The wait before try `n` (1-based: the first retry waits `first_wait`).
    pub fn wait(&self, n: u32) -> Duration {
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        self.first_wait.saturating_mul(factor).min(self.max_wait)
    }

    /// Runs `call` until it succeeds, fails for good (`transient` says no), or the
    /// retries are spent; the last error is returned. A server's `Retry-After` is the
    /// caller's business: `call` may sleep itself before answering.
    pub async fn run<T, E, F, Fut>(
        &self,
        transient: impl Fn(&E) -> bool,
        mut call: F,
    ) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut n = 0;
        loop {
            match call().await {
                Err(e) if n < self.retries && transient(&e) => {
                    n += 1;
                    tokio::time::sleep(self.wait(n)).await;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let r = Retry {
            retries: 10,
            first_wait: Duration::from_millis(100),
            max_wait: Duration::from_millis(700),
        };
        let waits: Vec<u128> = (1..=5).map(|n| r.wait(n).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 700, 700]);
        assert_eq!(r.wait(100), Duration::from_millis(700));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn retries_transient_errors_only() {
        let r = Retry {
            retries: 3,
            first_wait: Duration::from_millis(1),
            max_wait: Duration::from_millis(2),
        };
        let mut calls = 0;
        let out: Result<(), &str> = r
            .run(
                |e: &&str| *e == "away",
                || {
                    calls += 1;
                    let n = calls;
                    async move { if n < 3 { Err("away") } else { Ok(()) } }
                },
            )
            .await;
        assert_eq!(out, Ok(()));
        assert_eq!(calls, 3);
        let mut calls = 0;
        let out: Result<(), &str> = r
            .run(
                |e: &&str| *e == "away",
                || {
                    calls += 1;
                    async { Err("refused") }
                },
            )
            .await;
        assert_eq!(out, Err("refused"));
        assert_eq!(calls, 1);
    }
}
