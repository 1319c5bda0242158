//! When to try a request again and how long to wait: exponential backoff
//! with jitter, GitHub's `retry-after` and `x-ratelimit-reset` honoured, and
//! one time budget for the whole run so a dead service ends in exit 3
//! instead of hanging.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use rand::Rng;

/// Longest single backoff step (a server's `retry-after` may ask for more).
const MAX_STEP: Duration = Duration::from_secs(30);

/// Retry settings and the run's deadline.
#[derive(Debug, Clone)]
pub struct Policy {
    base: Duration,
    deadline: Instant,
    give_up: Duration,
}

/// Why the previous attempt failed, as far as waiting is concerned.
#[derive(Debug, Clone)]
pub struct Failed {
    /// What went wrong, for the final message.
    pub reason: String,
    /// A wait the server asked for (`retry-after`, `x-ratelimit-reset`).
    pub server_wait: Option<Duration>,
}

impl Policy {
    /// Backoff starting at `base`, giving up `give_up` after now.
    pub fn new(base: Duration, give_up: Duration) -> Self {
        Policy {
            base,
            deadline: Instant::now() + give_up,
            give_up,
        }
    }

    /// The wait before attempt `attempt` (0 = first retry), or `None` when
    /// the wait would end past the deadline.
    pub fn delay(&self, attempt: u32, failed: &Failed) -> Option<Duration> {
        // Honour the server, plus a little jitter so racing runs spread out;
        // else "equal jitter": half the exponential step fixed, half random.
        let wait = if let Some(w) = failed.server_wait {
            w + jitter(self.base.min(Duration::from_secs(1)))
        } else {
            let exp = self
                .base
                .saturating_mul(1u32 << attempt.min(20))
                .min(MAX_STEP.max(self.base));
            exp / 2 + jitter(exp / 2)
        };
        (Instant::now() + wait <= self.deadline).then_some(wait)
    }

    /// The whole retry budget, for messages.
    pub fn give_up(&self) -> Duration {
        self.give_up
    }
}

fn jitter(max: Duration) -> Duration {
    let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// The wait GitHub asks for in a response's headers: `retry-after` (seconds)
/// first, else `x-ratelimit-reset` (epoch seconds) when the remaining quota
/// is zero or the status is 429, else one minute for a secondary rate limit
/// (GitHub's documented advice when it sends neither header).
pub fn server_wait(status: u16, headers: &HeaderMap, body: &str) -> Option<Duration> {
    let num = |name: &str| headers.get(name)?.to_str().ok()?.trim().parse::<u64>().ok();
    if let Some(secs) = num("retry-after") {
        return Some(Duration::from_secs(secs));
    }
    let exhausted = num("x-ratelimit-remaining") == Some(0) || status == 429;
    let reset = num("x-ratelimit-reset").filter(|_| exhausted);
    if let Some(reset) = reset {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        // `now` is rounded down, so this is never shorter than the real wait.
        return Some(Duration::from_secs(reset.saturating_sub(now)));
    }
    (status == 403 && body.to_ascii_lowercase().contains("secondary rate limit"))
        .then_some(Duration::from_secs(60))
}

/// Whether a status is worth retrying. 403 only when it is a rate limit
/// (GitHub answers 403 for both "forbidden" and "slow down").
pub fn retryable_status(status: u16, headers: &HeaderMap, body: &str) -> bool {
    match status {
        408 | 429 | 500..=599 => true,
        403 => {
            headers.contains_key("retry-after")
                || headers
                    .get("x-ratelimit-remaining")
                    .is_some_and(|v| v == "0")
                || body.to_ascii_lowercase().contains("rate limit")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(wait: Option<u64>) -> Failed {
        Failed {
            reason: "x".into(),
            server_wait: wait.map(Duration::from_secs),
        }
    }

    #[test]
    fn backoff_grows_and_stops_at_deadline() {
        let p = Policy::new(Duration::from_millis(100), Duration::from_secs(60));
        let d0 = p.delay(0, &failed(None)).unwrap();
        assert!(
            d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100),
            "{d0:?}"
        );
        let d3 = p.delay(3, &failed(None)).unwrap();
        assert!(
            d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800),
            "{d3:?}"
        );
        let big = p.delay(30, &failed(None)).unwrap();
        assert!(big <= MAX_STEP, "{big:?}");
        // The server's wait is honoured, and refused when past the budget.
        assert!(p.delay(0, &failed(Some(2))).unwrap() >= Duration::from_secs(2));
        assert!(p.delay(0, &failed(Some(61))).is_none());
    }

    #[test]
    fn reads_github_headers() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(server_wait(403, &h, ""), Some(Duration::from_secs(7)));
        assert!(retryable_status(403, &h, ""));
        let mut h = HeaderMap::new();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-reset", (now + 5).to_string().parse().unwrap());
        let w = server_wait(403, &h, "").unwrap();
        assert!(
            w >= Duration::from_secs(4) && w <= Duration::from_secs(5),
            "{w:?}"
        );
        assert!(retryable_status(403, &h, ""));
        assert!(!retryable_status(
            403,
            &HeaderMap::new(),
            "Resource not accessible by integration"
        ));
        assert!(retryable_status(
            403,
            &HeaderMap::new(),
            "You have exceeded a secondary rate limit"
        ));
        assert!(!retryable_status(404, &HeaderMap::new(), ""));
        assert!(retryable_status(502, &HeaderMap::new(), ""));
    }
}
