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
