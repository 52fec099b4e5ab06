//! Per rule and container rate limiting: a token bucket per (rule, container) on event time, so
//! that one noisy container cannot drown the alerts of the others, with the count of what was
//! held back reported on the next alert that passes (or by [`Limiter::flush`]).

use std::collections::HashMap;

use kestrel_event::Event;

/// Rate limit settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// Alerts allowed at once.
    pub burst: u32,
    /// Alerts per second refilled.
    pub per_second: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            burst: 10,
            per_second: 1.0,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: u64,
    suppressed: u64,
}

/// Bounds memory under a flood of distinct containers.
const MAX_BUCKETS: usize = 65_536;

#[derive(Debug)]
pub(crate) struct Limiter {
    cfg: RateLimit,
    buckets: HashMap<(String, String), Bucket>,
}

fn container_key(ev: &Event) -> String {
    ev.container
        .as_ref()
        .map_or_else(|| "host".to_owned(), |c| c.id.as_str().to_owned())
}

impl Limiter {
    pub(crate) fn new(cfg: RateLimit) -> Limiter {
        Limiter {
            cfg,
            buckets: HashMap::new(),
        }
    }

    /// `Some(suppressed_before)` when the alert may go out, `None` when it is held back.
    pub(crate) fn admit(&mut self, rule: &str, ev: &Event) -> Option<u64> {
        let cfg = self.cfg;
        if self.buckets.len() >= MAX_BUCKETS {
            // Full buckets carry no state worth keeping.
            self.buckets
                .retain(|_, b| b.suppressed > 0 || b.tokens < f64::from(cfg.burst));
        }
        let b = self
            .buckets
            .entry((rule.to_owned(), container_key(ev)))
            .or_insert(Bucket {
                tokens: f64::from(cfg.burst),
                last: ev.ts,
                suppressed: 0,
            });
        let elapsed = ev.ts.saturating_sub(b.last) as f64 / 1e9;
        b.tokens = (b.tokens + elapsed * cfg.per_second).min(f64::from(cfg.burst));
        b.last = b.last.max(ev.ts);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Some(std::mem::take(&mut b.suppressed))
        } else {
            b.suppressed += 1;
            None
        }
    }

    /// (rule, container, count) for every bucket holding suppressed alerts whose flood ended
    /// (a full token has refilled by `now`).
    pub(crate) fn flush(&mut self, now: u64) -> Vec<(String, String, u64)> {
        let mut out = Vec::new();
        for ((rule, cont), b) in &mut self.buckets {
            let elapsed = now.saturating_sub(b.last) as f64 / 1e9;
            if b.suppressed > 0 && b.tokens + elapsed * self.cfg.per_second >= 1.0 {
                out.push((
                    rule.clone(),
                    cont.clone(),
                    std::mem::take(&mut b.suppressed),
                ));
            }
        }
        out.sort();
        out
    }
}
