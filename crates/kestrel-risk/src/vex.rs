//! OpenVEX export of a ranking (<https://github.com/openvex/spec>, v0.2.0).
//!
//! Runtime evidence is evidence, not proof. A package seen loaded is `affected`. A package never
//! seen loaded is `under_investigation` with a note giving the observation time: not being
//! loaded during an observation window does not show that the vulnerable code cannot run, so the
//! export never claims `not_affected` from runtime data. Statements per (vulnerability, image).

use serde::Serialize;
use serde_json::{Value, json};

use crate::rank::RiskFinding;
use crate::signals::InUse;

/// Builds an OpenVEX document. `id` is the document's IRI, `timestamp` RFC 3339.
pub fn openvex(findings: &[RiskFinding], id: &str, author: &str, timestamp: &str) -> Value {
    #[derive(Serialize)]
    struct Statement {
        vulnerability: Value,
        products: Vec<Value>,
        status: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        status_notes: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        action_statement: Option<String>,
    }
    let mut statements = Vec::new();
    for f in findings {
        let v = &f.vulnerability;
        let product = json!({
            "@id": format!("pkg:oci/{}", f.workload.image.rsplit('/').next().unwrap_or(&f.workload.image)),
            "identifiers": { "purl": format!("pkg:{}/{}@{}", f.vulnerability.package.ecosystem.kind.purl_type(), kestrel_package::purl_encode(&v.package.name), kestrel_package::purl_encode(&v.package.version)) },
        });
        let (status, notes, action) = match &f.in_use {
            InUse::Yes { evidence } => (
                "affected",
                Some(format!(
                    "package loaded at run time by {} (pid {}) in {}",
                    evidence[0].process, evidence[0].pid, f.workload.container
                )),
                Some(if v.exploitability.fixed_versions.is_empty() {
                    "No fix is available; mitigate by limiting exposure".to_owned()
                } else {
                    format!(
                        "Upgrade {} to {}",
                        v.package.name,
                        v.exploitability.fixed_versions.join(" or ")
                    )
                }),
            ),
            InUse::No { observed_secs } => (
                "under_investigation",
                Some(format!(
                    "package not loaded by any process of {} during {observed_secs}s of runtime observation; runtime absence is not proof that the vulnerable code cannot execute",
                    f.workload.container
                )),
                None,
            ),
            InUse::Unknown => (
                "under_investigation",
                Some(
                    "workload not observed long enough to tell whether the package is loaded"
                        .to_owned(),
                ),
                None,
            ),
        };
        let mut vuln = json!({ "name": v.id });
        if !v.aliases.is_empty() {
            vuln["aliases"] = json!(v.aliases);
        }
        statements.push(Statement {
            vulnerability: vuln,
            products: vec![product],
            status,
            status_notes: notes,
            action_statement: action,
        });
    }
    json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": id,
        "author": author,
        "timestamp": timestamp,
        "version": 1,
        "statements": statements,
    })
}

#[cfg(test)]
mod tests {
    use kestrel_package::{Ecosystem, EcosystemKind};

    use super::*;
    use crate::rank::{VulnFinding, Workload};
    use crate::score::score;
    use crate::signals::{Attacked, Environment, Exploitability, Exposure};
    use crate::usage::PackageKey;

    #[test]
    fn never_not_affected_from_runtime_absence() {
        let w = Workload {
            container_id: "c".into(),
            container: "python".into(),
            pod: None,
            namespace: None,
            image: "localhost/kestrel-test:1".into(),
            labels: Default::default(),
            environment: Environment::Unknown,
            exposure: Exposure::default(),
            attacked: Attacked::default(),
        };
        let v = VulnFinding {
            id: "GHSA-x".into(),
            aliases: vec!["CVE-1".into()],
            package: PackageKey {
                ecosystem: Ecosystem::new(EcosystemKind::PyPI),
                name: "django".into(),
                version: "3.2.12".into(),
            },
            summary: None,
            exploitability: Exploitability::default(),
        };
        let in_use = InUse::No {
            observed_secs: 86_400,
        };
        let f = RiskFinding {
            score: score(
                &v.exploitability,
                &in_use,
                &w.exposure,
                w.environment,
                &w.attacked,
            ),
            workload: w,
            vulnerability: v,
            reasons: vec![],
            in_use,
        };
        let doc = openvex(&[f], "urn:x", "kestrel", "2026-11-27T00:00:00Z");
        let st = &doc["statements"][0];
        assert_eq!(st["status"], "under_investigation");
        assert_eq!(st["vulnerability"]["aliases"][0], "CVE-1");
        assert_eq!(
            st["products"][0]["identifiers"]["purl"],
            "pkg:pypi/django@3.2.12"
        );
        assert!(!doc.to_string().contains("not_affected"));
    }
}
