//! What `/v1` allows: the roles that may call it (physicians and admins: an integration
//! gets an API token of such an account), the longest answer one request may ask for, and
//! the tokens (prompt and answer) each user may spend per hour, so that one caller cannot
//! crowd the clinicians' drafts off the shared model. The budget is counted by each
//! server process; with several servers behind a balancer each keeps its own.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `/v1`'s limits (`EPICRISIS_V1_MAX_TOKENS`, `EPICRISIS_V1_TOKENS_PER_HOUR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V1Limits {
    /// The most tokens one answer may ask for (`max_tokens`).
    pub max_tokens: u32,
    /// Tokens, prompt and answer together, one user may spend in an hour; 0: no limit.
    pub tokens_per_hour: u64,
}

impl Default for V1Limits {
    fn default() -> Self {
        V1Limits {
            max_tokens: 4096,
            tokens_per_hour: 200_000,
        }
    }
}

const HOUR: Duration = Duration::from_secs(3600);

/// Tokens spent per user over the last hour.
#[derive(Default)]
pub struct TokenBudget {
    spent: Mutex<HashMap<i64, VecDeque<(Instant, u64)>>>,
}

impl TokenBudget {
    /// `Ok` when the user may start a request; else how long until enough of the hour's
    /// spending has aged out.
    pub fn check(&self, user: i64, per_hour: u64) -> Result<(), Duration> {
        self.check_at(user, per_hour, Instant::now())
    }

    fn check_at(&self, user: i64, per_hour: u64, now: Instant) -> Result<(), Duration> {
        if per_hour == 0 {
            return Ok(());
        }
        let Ok(mut spent) = self.spent.lock() else {
            return Ok(());
        };
        let Some(q) = spent.get_mut(&user) else {
            return Ok(());
        };
        while q
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= HOUR)
        {
            q.pop_front();
        }
        let total: u64 = q.iter().map(|(_, n)| n).sum();
        if total < per_hour {
            return Ok(());
        }
        // Wait until the oldest spending that keeps the total at or over the budget ages out.
        let mut over = total - per_hour;
        for (at, n) in q.iter() {
            if *n > over {
                return Err((*at + HOUR)
                    .saturating_duration_since(now)
                    .max(Duration::from_secs(1)));
            }
            over -= n;
        }
        Err(Duration::from_secs(1))
    }

    /// Records what a request spent.
    pub fn spend(&self, user: i64, tokens: u64) {
        self.spend_at(user, tokens, Instant::now());
    }

    fn spend_at(&self, user: i64, tokens: u64, now: Instant) {
        if tokens == 0 {
            return;
        }
        if let Ok(mut spent) = self.spent.lock() {
            // Users who stopped calling are forgotten once their hour has passed.
            if spent.len() > 10_000 {
                spent.retain(|_, q| {
                    q.back()
                        .is_some_and(|(at, _)| now.duration_since(*at) < HOUR)
                });
            }
            spent.entry(user).or_default().push_back((now, tokens));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_refuses_until_the_hour_has_passed() {
        let b = TokenBudget::default();
        let t0 = Instant::now();
        assert!(b.check_at(1, 1000, t0).is_ok());
        b.spend_at(1, 600, t0);
        b.spend_at(1, 300, t0 + Duration::from_secs(600));
        assert!(b.check_at(1, 1000, t0 + Duration::from_secs(700)).is_ok());
        b.spend_at(1, 200, t0 + Duration::from_secs(800));
        // 1,100 of 1,000: the first 600 must age out, at t0 + 1 h.
        let wait = b
            .check_at(1, 1000, t0 + Duration::from_secs(900))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(2700));
        assert!(
            b.check_at(2, 1000, t0 + Duration::from_secs(900)).is_ok(),
            "per user"
        );
        assert!(b.check_at(1, 1000, t0 + HOUR).is_ok());
        assert!(b.check_at(1, 0, t0).is_ok(), "0: no limit");
    }
}
