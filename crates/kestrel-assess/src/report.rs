//! An assessment in the server's shapes (`kestrel_store::model`): what the agent ships.
//!
//! The server's workload is the Kubernetes object (a Pod, named by namespace and name), so the
//! containers of one pod become one workload with all their images; a container outside any
//! pod is a workload of kind `Container` in namespace `""`.

use std::collections::BTreeMap;

use kestrel_risk::{Environment, Exposure, InUse, RiskFinding, Workload};
use kestrel_store::model;

fn reference(w: &Workload) -> model::WorkloadRef {
    match &w.pod {
        Some(pod) => model::WorkloadRef {
            namespace: w.namespace.clone().unwrap_or_default(),
            kind: "Pod".to_owned(),
            name: pod.clone(),
        },
        None => model::WorkloadRef {
            namespace: String::new(),
            kind: "Container".to_owned(),
            name: w.container.clone(),
        },
    }
}

fn exposure_level(e: &Exposure) -> model::ExposureLevel {
    if e.is_internet() {
        model::ExposureLevel::Internet
    } else if e.is_listening() {
        model::ExposureLevel::Cluster
    } else {
        model::ExposureLevel::None
    }
}

fn environment(e: Environment) -> model::Environment {
    match e {
        Environment::Production => model::Environment::Production,
        Environment::Staging => model::Environment::Staging,
        Environment::Test => model::Environment::Test,
        Environment::Sandbox => model::Environment::Sandbox,
        Environment::Unknown => model::Environment::Unknown,
    }
}

/// Higher is more exposed, for merging the containers of a pod.
fn exposure_rank(l: model::ExposureLevel) -> u8 {
    match l {
        model::ExposureLevel::Internet => 3,
        model::ExposureLevel::Cluster => 2,
        model::ExposureLevel::None => 1,
        model::ExposureLevel::Unknown => 0,
    }
}

/// One server workload per pod (or container outside a pod).
pub fn workloads(assessed: &[Workload]) -> Vec<model::Workload> {
    let mut out: BTreeMap<(String, String, String), model::Workload> = BTreeMap::new();
    for w in assessed {
        let r = reference(w);
        let level = exposure_level(&w.exposure);
        let routes: Vec<String> = w
            .exposure
            .routes
            .iter()
            .map(kestrel_risk::ExposureRoute::describe)
            .collect();
        let entry = out
            .entry((r.namespace.clone(), r.kind.clone(), r.name.clone()))
            .or_insert_with(|| model::Workload {
                namespace: r.namespace,
                kind: r.kind,
                name: r.name,
                images: Vec::new(),
                exposure: level,
                exposure_routes: Vec::new(),
                environment: environment(w.environment),
                labels: w.labels.clone(),
                service_account: None,
            });
        if !entry.images.contains(&w.image) {
            entry.images.push(w.image.clone());
        }
        if exposure_rank(level) > exposure_rank(entry.exposure) {
            entry.exposure = level;
        }
        for r in routes {
            if !entry.exposure_routes.contains(&r) {
                entry.exposure_routes.push(r);
            }
        }
    }
    out.into_values()
        .map(|mut w| {
            w.images.sort();
            w.exposure_routes.sort();
            w
        })
        .collect()
}

fn severity(f: &RiskFinding) -> model::Severity {
    let x = &f.vulnerability.exploitability;
    let word = match (&x.severity, x.cvss) {
        (Some(s), _) if !s.eq_ignore_ascii_case("unknown") => s.to_ascii_lowercase(),
        (_, Some(c)) if c >= 9.0 => "critical".to_owned(),
        (_, Some(c)) if c >= 7.0 => "high".to_owned(),
        (_, Some(c)) if c >= 4.0 => "medium".to_owned(),
        (_, Some(c)) if c > 0.0 => "low".to_owned(),
        _ => "unknown".to_owned(),
    };
    word.parse().unwrap_or(model::Severity::Unknown)
}

/// Every ranked finding, with its score and reasons. Containers of one pod often share an
/// image, and the server keeps one finding per (pod, image, vulnerability, package): of the
/// containers' views the one where the package is in use wins, then the highest score.
pub fn findings(ranked: &[RiskFinding]) -> Vec<model::VulnFinding> {
    let use_rank = |f: &model::VulnFinding| match f.in_use {
        model::InUse::Yes => 2,
        model::InUse::Unknown => 1,
        model::InUse::No => 0,
    };
    let mut by_key: BTreeMap<String, model::VulnFinding> = BTreeMap::new();
    for f in convert(ranked) {
        let key = f.key();
        match by_key.get(&key) {
            Some(old) if (use_rank(old), old.score) >= (use_rank(&f), f.score) => {}
            _ => {
                by_key.insert(key, f);
            }
        }
    }
    let mut out: Vec<model::VulnFinding> = by_key.into_values().collect();
    out.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.key().cmp(&b.key()))
    });
    out
}

fn convert(ranked: &[RiskFinding]) -> Vec<model::VulnFinding> {
    ranked
        .iter()
        .map(|f| {
            let v = &f.vulnerability;
            let x = &v.exploitability;
            model::VulnFinding {
                workload: reference(&f.workload),
                image: f.workload.image.clone(),
                package: model::PackageRef {
                    name: v.package.name.clone(),
                    version: v.package.version.clone(),
                    ecosystem: v.package.ecosystem.kind.purl_type().to_owned(),
                    purl: None,
                },
                vulnerability: v.id.clone(),
                aliases: v.aliases.clone(),
                summary: v.summary.clone(),
                severity: severity(f),
                score: f.score.total,
                reasons: f.reasons.clone(),
                in_use: match f.in_use {
                    InUse::Yes { .. } => model::InUse::Yes,
                    InUse::No { .. } => model::InUse::No,
                    InUse::Unknown => model::InUse::Unknown,
                },
                exposure: exposure_level(&f.workload.exposure),
                environment: environment(f.workload.environment),
                kev: x.kev,
                epss: x.epss.map(|(p, _)| p),
                fixed_version: x.fixed_versions.first().cloned(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kestrel_package::{Ecosystem, EcosystemKind};
    use kestrel_risk::{
        Attacked, EvidenceKind, Exploitability, ExposureRoute, ListenSocket, PackageKey, RiskInput,
        UsageTracker, VulnFinding,
    };

    use super::*;

    fn container(id: &str, name: &str, exposure: Exposure) -> Workload {
        Workload {
            container_id: id.into(),
            container: name.into(),
            pod: Some("shop-web".into()),
            namespace: Some("shop".into()),
            image: "localhost/kestrel-test:1".into(),
            labels: [("app".to_owned(), "shop".to_owned())].into(),
            environment: Environment::Production,
            exposure,
            attacked: Attacked::default(),
        }
    }

    #[test]
    fn containers_of_a_pod_become_one_workload_and_in_use_wins() {
        let requests = PackageKey {
            ecosystem: Ecosystem::new(EcosystemKind::PyPI),
            name: "requests".into(),
            version: "2.19.1".into(),
        };
        let vuln = VulnFinding {
            id: "CVE-2018-18074".into(),
            aliases: vec!["GHSA-x84v-xcm2-53pg".into()],
            package: requests.clone(),
            summary: None,
            exploitability: Exploitability {
                cvss: Some(9.8),
                severity: Some("CRITICAL".into()),
                fixed_versions: vec!["2.20.0".into()],
                ..Default::default()
            },
        };
        let python = container(
            "py",
            "python",
            Exposure {
                routes: vec![ExposureRoute::Gateway {
                    gateway: "infra/public".into(),
                    port: 443,
                    route_kind: "HTTPRoute".into(),
                    route: "shop/shop".into(),
                    internet: true,
                }],
                ..Default::default()
            },
        );
        let node = container(
            "js",
            "node",
            Exposure {
                listening: vec![ListenSocket {
                    address: "0.0.0.0".into(),
                    port: 3000,
                    protocol: "tcp".into(),
                }],
                ..Default::default()
            },
        );
        let mut usage = UsageTracker::new();
        usage.start_observing("py", 0);
        usage.start_observing("js", 0);
        usage.record(
            "py",
            requests,
            UsageTracker::seen(7, "python3", "/venv/requests/api.py", EvidenceKind::Open, 1),
        );
        let vulns = [vuln];
        let ranked = kestrel_risk::rank(
            &[
                RiskInput {
                    workload: &node,
                    findings: &vulns,
                },
                RiskInput {
                    workload: &python,
                    findings: &vulns,
                },
            ],
            &usage,
            600 * 1_000_000_000,
            60,
        );
        assert_eq!(ranked.len(), 2);

        let w = workloads(&[node.clone(), python.clone()]);
        assert_eq!(w.len(), 1);
        assert_eq!(
            (w[0].kind.as_str(), w[0].name.as_str()),
            ("Pod", "shop-web")
        );
        assert_eq!(w[0].images, ["localhost/kestrel-test:1"]);
        assert_eq!(w[0].exposure, model::ExposureLevel::Internet);
        assert_eq!(
            w[0].exposure_routes,
            ["exposed on 443 via Gateway infra/public (HTTPRoute shop/shop)"]
        );
        assert_eq!(w[0].environment, model::Environment::Production);

        let f = findings(&ranked);
        assert_eq!(
            f.len(),
            1,
            "one finding per (pod, image, vulnerability, package)"
        );
        assert_eq!(f[0].in_use, model::InUse::Yes);
        assert_eq!(f[0].severity, model::Severity::Critical);
        assert_eq!(f[0].package.ecosystem, "pypi");
        assert_eq!(f[0].fixed_version.as_deref(), Some("2.20.0"));
        assert!(
            f[0].reasons[0].starts_with("read by python3 (pid 7)"),
            "{:?}",
            f[0].reasons
        );
        assert_eq!(f[0].exposure, model::ExposureLevel::Internet);
    }
}
