//! Ranking: every (workload, vulnerability) pair scored, explained and sorted.

use serde::{Deserialize, Serialize};

use crate::score::{Score, score};
use crate::signals::{Attacked, Environment, EvidenceKind, Exploitability, Exposure, InUse};
use crate::usage::{PackageKey, UsageTracker};

/// A running workload: one container, with what is known about where it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Container id (the key of the usage tracker).
    pub container_id: String,
    /// Container name.
    pub container: String,
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub image: String,
    /// Pod labels (container labels outside a pod).
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    pub environment: Environment,
    pub exposure: Exposure,
    pub attacked: Attacked,
}

impl Workload {
    fn place(&self) -> String {
        match (&self.pod, &self.namespace) {
            (Some(p), Some(ns)) => format!("in pod {ns}/{p}"),
            (Some(p), None) => format!("in pod {p}"),
            _ => format!("in container {}", self.container),
        }
    }
}

/// A vulnerability matched to a package of a workload's image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnFinding {
    pub id: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub package: PackageKey,
    #[serde(default)]
    pub summary: Option<String>,
    pub exploitability: Exploitability,
}

/// One workload and the vulnerabilities of its image.
#[derive(Debug, Clone, Copy)]
pub struct RiskInput<'a> {
    pub workload: &'a Workload,
    pub findings: &'a [VulnFinding],
}

/// A ranked finding: what `kestrel risk` prints, the agent ships and VEX exports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskFinding {
    pub workload: Workload,
    pub vulnerability: VulnFinding,
    pub score: Score,
    /// The reasons for the score, in words, most important first.
    pub reasons: Vec<String>,
    pub in_use: InUse,
}

/// Scores and sorts every finding of every workload, highest score first (ties: KEV first, then
/// id, so output is stable).
pub fn rank(
    inputs: &[RiskInput<'_>],
    usage: &UsageTracker,
    now: u64,
    min_observation_secs: u64,
) -> Vec<RiskFinding> {
    let mut out = Vec::new();
    for input in inputs {
        let w = input.workload;
        for f in input.findings {
            let in_use = usage.in_use(&w.container_id, &f.package, now, min_observation_secs);
            let s = score(
                &f.exploitability,
                &in_use,
                &w.exposure,
                w.environment,
                &w.attacked,
            );
            let reasons = reasons(w, f, &in_use);
            out.push(RiskFinding {
                workload: w.clone(),
                vulnerability: f.clone(),
                score: s,
                reasons,
                in_use,
            });
        }
    }
    out.sort_by(|a, b| {
        b.score
            .total
            .total_cmp(&a.score.total)
            .then_with(|| {
                b.vulnerability
                    .exploitability
                    .kev
                    .cmp(&a.vulnerability.exploitability.kev)
            })
            .then_with(|| a.vulnerability.id.cmp(&b.vulnerability.id))
            .then_with(|| a.workload.container_id.cmp(&b.workload.container_id))
    });
    out
}

fn reasons(w: &Workload, f: &VulnFinding, in_use: &InUse) -> Vec<String> {
    let mut r = Vec::new();
    let env = match w.environment {
        Environment::Unknown => String::new(),
        e => format!(" ({})", e.as_str()),
    };
    match in_use {
        InUse::Yes { evidence } => {
            let e = &evidence[0];
            let verb = match e.kind {
                EvidenceKind::Exec => "executed",
                EvidenceKind::Mmap => "loaded",
                EvidenceKind::Open => "read",
                EvidenceKind::Snapshot => "loaded",
            };
            r.push(format!(
                "{verb} by {} (pid {}) {}{env}",
                e.process,
                e.pid,
                w.place()
            ));
        }
        InUse::No { observed_secs } => r.push(format!(
            "not loaded by any process {}{env} in {} of observation",
            w.place(),
            human_duration(*observed_secs)
        )),
        InUse::Unknown => r.push(format!(
            "use at run time unknown {}{env} (not observed long enough)",
            w.place()
        )),
    }
    if let Some(e) = w.exposure.describe() {
        r.push(e);
    }
    let x = &f.exploitability;
    if x.kev {
        r.push(if x.kev_ransomware {
            "in CISA KEV, known ransomware use".to_owned()
        } else {
            "in CISA KEV".to_owned()
        });
    }
    if let Some((p, pct)) = x.epss {
        r.push(format!(
            "EPSS {:.1}% (percentile {:.0})",
            p * 100.0,
            pct * 100.0
        ));
    }
    match (x.cvss, &x.severity) {
        (Some(c), _) => r.push(format!("CVSS {c:.1}")),
        (None, Some(s)) => r.push(format!("severity {}", s.to_ascii_lowercase())),
        (None, None) => {}
    }
    if w.attacked.total() > 0 {
        r.push(format!(
            "{} alert(s) on the workload ({})",
            w.attacked.total(),
            w.attacked.rules.join(", ")
        ));
    }
    if x.fixed_versions.is_empty() {
        r.push("no fix available".to_owned());
    } else {
        r.push(format!("fixed in {}", x.fixed_versions.join(", ")));
    }
    r
}

fn human_duration(secs: u64) -> String {
    if secs >= 3600 {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    } else if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use kestrel_package::{Ecosystem, EcosystemKind};

    use super::*;
    use crate::signals::{ExposureRoute, ListenSocket};

    fn key(name: &str, v: &str) -> PackageKey {
        PackageKey {
            ecosystem: Ecosystem::new(EcosystemKind::PyPI),
            name: name.into(),
            version: v.into(),
        }
    }

    fn finding(id: &str, pkg: &str, cvss: f64, kev: bool) -> VulnFinding {
        VulnFinding {
            id: id.into(),
            aliases: vec![],
            package: key(pkg, "1.0"),
            summary: None,
            exploitability: Exploitability {
                cvss: Some(cvss),
                kev,
                fixed_versions: vec!["2.31.0".into()],
                ..Default::default()
            },
        }
    }

    #[test]
    fn ranking_follows_signals_and_explains() {
        let web = Workload {
            container_id: "web".into(),
            container: "python".into(),
            pod: Some("web-7d9".into()),
            namespace: Some("shop".into()),
            image: "localhost/kestrel-test:1".into(),
            labels: Default::default(),
            environment: Environment::Production,
            exposure: Exposure {
                listening: vec![ListenSocket {
                    address: "0.0.0.0".into(),
                    port: 443,
                    protocol: "tcp".into(),
                }],
                routes: vec![ExposureRoute::LoadBalancer {
                    service: "web".into(),
                    port: 443,
                }],
                public_inbound: 0,
            },
            attacked: Attacked::default(),
        };
        let mut usage = UsageTracker::new();
        usage.start_observing("web", 0);
        let seen = UsageTracker::seen(
            412,
            "python",
            "/site-packages/requests/api.py",
            EvidenceKind::Open,
            5,
        );
        usage.record("web", key("requests", "1.0"), seen);
        let findings = vec![
            finding("GHSA-unused", "django", 9.8, false),
            finding("GHSA-used", "requests", 6.1, true),
        ];
        let inputs = [RiskInput {
            workload: &web,
            findings: &findings,
        }];
        let ranked = rank(&inputs, &usage, 3_600 * 1_000_000_000, 300);
        assert_eq!(ranked[0].vulnerability.id, "GHSA-used");
        assert_eq!(ranked[1].vulnerability.id, "GHSA-unused");
        assert_eq!(ranked[1].in_use.as_str(), "false");
        expect_test::expect![[r#"
            read by python (pid 412) in pod shop/web-7d9 (production); exposed on 443 via LoadBalancer web; in CISA KEV; CVSS 6.1; fixed in 2.31.0"#]]
        .assert_eq(&ranked[0].reasons.join("; "));
        expect_test::expect![[r#"
            not loaded by any process in pod shop/web-7d9 (production) in 1h00m of observation; exposed on 443 via LoadBalancer web; CVSS 9.8; fixed in 2.31.0"#]]
        .assert_eq(&ranked[1].reasons.join("; "));
    }
}
