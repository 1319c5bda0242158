//! Fault injection: scripted rules (method, path, nth occurrence or a seeded
//! probability) and a seeded random mix, decided once per request.

use std::time::Duration;

use http::Method;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What a fault does to the request it hits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this status (500, 502, 503, …) and GitHub's error JSON,
    /// without touching any state.
    Status(u16),
    /// 403 "You have exceeded a secondary rate limit" with `retry-after`.
    SecondaryRateLimit {
        /// Value of the `retry-after` header.
        retry_after_secs: u64,
    },
    /// 429 Too Many Requests with `retry-after`.
    RateLimited429 {
        /// Value of the `retry-after` header.
        retry_after_secs: u64,
    },
    /// 403 "API rate limit exceeded" with `x-ratelimit-remaining: 0` and
    /// `x-ratelimit-reset` this many seconds from now (epoch seconds).
    RateLimitReset {
        /// Seconds until the advertised reset.
        reset_in_secs: u64,
    },
    /// On an upload: read about half the body, leave the asset in `starter`
    /// state and drop the connection without a response. On any other
    /// request: drop the connection before handling it.
    DropMidUpload,
    /// Wait this long, then handle the request normally.
    Delay(Duration),
    /// Handle the request fully (state changes), then drop the connection
    /// instead of sending the response: the client cannot tell whether its
    /// create, upload or delete happened.
    DropAfterHandling,
    /// On an upload: read the whole body, leave the asset in `starter` state
    /// and answer with this status (GitHub's documented 502 behaviour). On
    /// any other request: like [`Fault::Status`].
    StatusLeavingStarter(u16),
}

impl Fault {
    /// The label the request log records.
    pub fn label(&self) -> String {
        match self {
            Fault::Status(s) => format!("status {s}"),
            Fault::SecondaryRateLimit { retry_after_secs } => {
                format!("secondary-rate-limit retry-after {retry_after_secs}")
            }
            Fault::RateLimited429 { retry_after_secs } => {
                format!("429 retry-after {retry_after_secs}")
            }
            Fault::RateLimitReset { reset_in_secs } => {
                format!("rate-limit-reset in {reset_in_secs}")
            }
            Fault::DropMidUpload => "drop-mid-upload".to_owned(),
            Fault::Delay(d) => format!("delay {}ms", d.as_millis()),
            Fault::DropAfterHandling => "drop-after-handling".to_owned(),
            Fault::StatusLeavingStarter(s) => format!("status-leaving-starter {s}"),
        }
    }

    /// The mix [`crate::FakeGitHub::set_random_faults`] draws from, with
    /// the given retry-after / reset delay.
    pub fn default_mix(retry_after_secs: u64) -> Vec<Fault> {
        vec![
            Fault::Status(500),
            Fault::Status(502),
            Fault::Status(503),
            Fault::SecondaryRateLimit { retry_after_secs },
            Fault::RateLimited429 { retry_after_secs },
            Fault::RateLimitReset {
                reset_in_secs: retry_after_secs,
            },
            Fault::DropMidUpload,
            Fault::Delay(Duration::from_millis(50)),
        ]
    }
}

/// A scripted fault: which requests it hits and what it does.
///
/// A request matches when its method equals `method` (any method if `None`)
/// and its path and query contain `path_contains`. Every rule counts the
/// requests it matches (1-based), whether or not it fires:
/// - `nth: Some(n)`: fires on the nth match, and on the `times - 1` matches
///   after it when `times > 1`;
/// - `nth: None`: fires on the first `times` matches; `times == 0` means
///   every match;
/// - `probability: Some(p)`: of the matches selected above, fires on each
///   with probability `p`, drawn from the fault RNG (seeded by
///   [`crate::FakeGitHub::set_fault_seed`] or `set_random_faults`).
///
/// Rules are tried in the order they were added; the first that fires wins,
/// and scripted rules win over random faults.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Method to match, or any.
    pub method: Option<Method>,
    /// Substring of the path and query to match (`""` matches all).
    pub path_contains: String,
    /// Fire from the nth matching request on (1-based).
    pub nth: Option<u32>,
    /// How many times to fire (see the type's docs for 0).
    pub times: u32,
    /// What to do.
    pub fault: Fault,
    /// Fire only with this probability.
    pub probability: Option<f64>,
}

impl FaultRule {
    /// A rule that fires `fault` once, on the first request of any kind;
    /// narrow it with the builder methods.
    pub fn new(fault: Fault) -> Self {
        FaultRule {
            method: None,
            path_contains: String::new(),
            nth: None,
            times: 1,
            fault,
            probability: None,
        }
    }

    /// Match only this method.
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// Match only paths containing `part`.
    #[must_use]
    pub fn path(mut self, part: impl Into<String>) -> Self {
        self.path_contains = part.into();
        self
    }

    /// Fire on the nth match (1-based).
    #[must_use]
    pub fn nth(mut self, n: u32) -> Self {
        self.nth = Some(n);
        self
    }

    /// Fire this many times (0: on every match).
    #[must_use]
    pub fn times(mut self, times: u32) -> Self {
        self.times = times;
        self
    }

    /// Fire only with probability `p`.
    #[must_use]
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p);
        self
    }
}

struct ActiveRule {
    rule: FaultRule,
    seen: u32,
    fired: u32,
}

impl ActiveRule {
    fn selects(&mut self, method: &Method, path: &str) -> bool {
        if self.rule.method.as_ref().is_some_and(|m| m != method)
            || !path.contains(&self.rule.path_contains)
        {
            return false;
        }
        self.seen = self.seen.saturating_add(1);
        match self.rule.nth {
            Some(n) => {
                let last = n.saturating_add(self.rule.times.max(1) - 1);
                (n..=last).contains(&self.seen)
            }
            None => self.rule.times == 0 || self.fired < self.rule.times,
        }
    }
}

/// The fault state of one server.
pub(crate) struct FaultEngine {
    rules: Vec<ActiveRule>,
    rng: StdRng,
    random: Option<(f64, Vec<Fault>)>,
}

impl Default for FaultEngine {
    fn default() -> Self {
        FaultEngine {
            rules: Vec::new(),
            rng: StdRng::seed_from_u64(0),
            random: None,
        }
    }
}

impl FaultEngine {
    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push(ActiveRule {
            rule,
            seen: 0,
            fired: 0,
        });
    }

    pub(crate) fn seed(&mut self, seed: u64) {
        self.rng = StdRng::seed_from_u64(seed);
    }

    pub(crate) fn set_random(&mut self, seed: u64, probability: f64, mix: Vec<Fault>) {
        self.seed(seed);
        self.random = (probability > 0.0 && !mix.is_empty()).then_some((probability, mix));
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
        self.random = None;
    }

    /// Decide the fault for one request, if any.
    pub(crate) fn pick(&mut self, method: &Method, path: &str) -> Option<Fault> {
        let mut chosen = None;
        for active in &mut self.rules {
            if !active.selects(method, path) || chosen.is_some() {
                continue;
            }
            if let Some(p) = active.rule.probability {
                if !self.rng.random_bool(p.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            active.fired = active.fired.saturating_add(1);
            chosen = Some(active.rule.fault.clone());
        }
        if chosen.is_some() {
            return chosen;
        }
        let (p, mix) = self.random.as_ref()?;
        if self.rng.random_bool(p.clamp(0.0, 1.0)) {
            let i = self.rng.random_range(0..mix.len());
            return Some(mix[i].clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fires(engine: &mut FaultEngine, method: &Method, path: &str, n: usize) -> Vec<bool> {
        (0..n)
            .map(|_| engine.pick(method, path).is_some())
            .collect()
    }

    #[test]
    fn nth_fires_only_on_that_match() {
        let mut e = FaultEngine::default();
        e.add(
            FaultRule::new(Fault::Status(503))
                .method(Method::POST)
                .path("/assets")
                .nth(2),
        );
        assert!(e.pick(&Method::GET, "/x/assets").is_none());
        assert_eq!(
            fires(&mut e, &Method::POST, "/r/1/assets?name=a", 4),
            [false, true, false, false]
        );
    }

    #[test]
    fn nth_with_times_fires_consecutively() {
        let mut e = FaultEngine::default();
        e.add(FaultRule::new(Fault::Status(500)).nth(2).times(2));
        assert_eq!(
            fires(&mut e, &Method::GET, "/", 5),
            [false, true, true, false, false]
        );
    }

    #[test]
    fn times_counts_firings_and_zero_means_always() {
        let mut e = FaultEngine::default();
        e.add(FaultRule::new(Fault::Status(500)).times(2));
        assert_eq!(fires(&mut e, &Method::GET, "/", 3), [true, true, false]);
        e.clear();
        e.add(FaultRule::new(Fault::Status(500)).times(0));
        assert_eq!(fires(&mut e, &Method::GET, "/", 3), [true, true, true]);
    }

    #[test]
    fn random_faults_repeat_with_the_seed() {
        let run = |seed| {
            let mut e = FaultEngine::default();
            e.set_random(seed, 0.3, Fault::default_mix(0));
            (0..200)
                .map(|_| e.pick(&Method::GET, "/").map(|f| f.label()))
                .collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        let hits = a.iter().filter(|f| f.is_some()).count();
        assert!((20..120).contains(&hits), "{hits} faults in 200 at p=0.3");
    }
}
