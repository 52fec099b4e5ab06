//! The risk score: one explainable formula (documented in `docs/risk.md`).
//!
//! ```text
//! raw   = severity (0–30) + exploitation (0–25) + exposure (0–20) + environment (0–10) + attacked (0–15)
//! score = raw × in-use factor (in use 1.0, unknown 0.6, not in use 0.25)     → 0–100
//! ```
//! - severity: 3 × CVSS base score, or 3 × (9.5 critical, 7.5 high, 5 medium, 2.5 low, 5 unknown);
//! - exploitation: 20 for CISA KEV (+5 when used by ransomware), else 10 × EPSS percentile +
//!   10 × EPSS probability;
//! - exposure: 20 when reachable from the Internet (LoadBalancer, NodePort, Ingress, Gateway,
//!   hostNetwork, hostPort, or public peers seen), 8 when listening on a non-loopback address;
//! - environment: production 10, staging 5, unknown 4, test 1, sandbox 0;
//! - attacked: 15 when an alert of Critical or worse was raised on the workload in the window,
//!   10 for Error/Warning, 4 for any other alert.
//!
//! A fix does not change the score (it does not change the risk) but is part of the reasons, so
//! that "what do I fix first" is answered with how.

use kestrel_event::Priority;
use serde::{Deserialize, Serialize};

use crate::signals::{Attacked, Environment, Exploitability, Exposure, InUse};

/// A score with its parts, so the formula is visible in the output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub total: f64,
    pub severity: f64,
    pub exploitation: f64,
    pub exposure: f64,
    pub environment: f64,
    pub attacked: f64,
    pub in_use_factor: f64,
}

/// Severity points for a CVSS score or a severity word.
fn severity_points(x: &Exploitability) -> f64 {
    let base = x.cvss.unwrap_or_else(|| {
        match x
            .severity
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            Some("CRITICAL") => 9.5,
            Some("HIGH") => 7.5,
            Some("MEDIUM" | "MODERATE") => 5.0,
            Some("LOW") => 2.5,
            _ => 5.0,
        }
    });
    3.0 * base.clamp(0.0, 10.0)
}

fn exploitation_points(x: &Exploitability) -> f64 {
    if x.kev {
        return if x.kev_ransomware { 25.0 } else { 20.0 };
    }
    match x.epss {
        Some((p, pct)) => (10.0 * pct.clamp(0.0, 1.0) + 10.0 * p.clamp(0.0, 1.0)).min(20.0),
        None => 0.0,
    }
}

fn exposure_points(e: &Exposure) -> f64 {
    if e.is_internet() {
        20.0
    } else if e.is_listening() {
        8.0
    } else {
        0.0
    }
}

fn environment_points(e: Environment) -> f64 {
    match e {
        Environment::Production => 10.0,
        Environment::Staging => 5.0,
        Environment::Unknown => 4.0,
        Environment::Test => 1.0,
        Environment::Sandbox => 0.0,
    }
}

fn attacked_points(a: &Attacked) -> f64 {
    match a.worst() {
        Some(p) if p.at_least(Priority::Critical) => 15.0,
        Some(p) if p.at_least(Priority::Warning) => 10.0,
        Some(_) => 4.0,
        None => 0.0,
    }
}

fn in_use_factor(u: &InUse) -> f64 {
    match u {
        InUse::Yes { .. } => 1.0,
        InUse::Unknown => 0.6,
        InUse::No { .. } => 0.25,
    }
}

/// Scores one vulnerability in one workload.
pub fn score(
    x: &Exploitability,
    in_use: &InUse,
    exposure: &Exposure,
    environment: Environment,
    attacked: &Attacked,
) -> Score {
    let severity = severity_points(x);
    let exploitation = exploitation_points(x);
    let exposure = exposure_points(exposure);
    let environment = environment_points(environment);
    let attacked = attacked_points(attacked);
    let in_use_factor = in_use_factor(in_use);
    let raw = severity + exploitation + exposure + environment + attacked;
    let total = (raw * in_use_factor * 10.0).round() / 10.0;
    Score {
        total,
        severity,
        exploitation,
        exposure,
        environment,
        attacked,
        in_use_factor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::{Evidence, EvidenceKind, ExposureRoute, ListenSocket};

    fn used() -> InUse {
        InUse::Yes {
            evidence: vec![Evidence {
                pid: 1,
                process: "python".into(),
                file: "/x".into(),
                kind: EvidenceKind::Mmap,
                first_seen: 0,
                last_seen: 0,
            }],
        }
    }

    #[test]
    fn signals_order_scores() {
        let x = Exploitability {
            cvss: Some(7.5),
            ..Default::default()
        };
        let exposed = Exposure {
            routes: vec![ExposureRoute::LoadBalancer {
                service: "web".into(),
                port: 443,
            }],
            ..Default::default()
        };
        let internal = Exposure {
            listening: vec![ListenSocket {
                address: "0.0.0.0".into(),
                port: 8080,
                protocol: "tcp".into(),
            }],
            ..Default::default()
        };
        let none = Exposure::default();
        let a = Attacked::default();
        let env = Environment::Production;
        let s_exposed_used = score(&x, &used(), &exposed, env, &a).total;
        let s_internal_used = score(&x, &used(), &internal, env, &a).total;
        let s_none_used = score(&x, &used(), &none, env, &a).total;
        let s_exposed_unknown = score(&x, &InUse::Unknown, &exposed, env, &a).total;
        let s_exposed_unused =
            score(&x, &InUse::No { observed_secs: 600 }, &exposed, env, &a).total;
        assert!(s_exposed_used > s_internal_used);
        assert!(s_internal_used > s_none_used);
        assert!(s_exposed_used > s_exposed_unknown);
        assert!(s_exposed_unknown > s_exposed_unused);
        // In use and unexposed still ranks above exposed but never loaded.
        assert!(s_none_used > s_exposed_unused);
    }

    #[test]
    fn kev_beats_epss_and_caps() {
        let kev = Exploitability {
            kev: true,
            kev_ransomware: true,
            cvss: Some(10.0),
            ..Default::default()
        };
        let mut a = Attacked::default();
        a.record("Terminal shell in container", Priority::Critical);
        let exposed = Exposure {
            public_inbound: 3,
            ..Default::default()
        };
        let s = score(&kev, &used(), &exposed, Environment::Production, &a);
        assert_eq!(s.total, 100.0);
        let epss = Exploitability {
            epss: Some((0.5, 0.99)),
            cvss: Some(10.0),
            ..Default::default()
        };
        let s2 = score(&epss, &used(), &exposed, Environment::Production, &a);
        assert!(s2.total < s.total);
        assert_eq!(s2.exploitation, 14.9_f64.max(10.0 * 0.99 + 5.0));
    }
}
