//! Writing findings out: a table for people, JSON (Kestrel's own schema, documented in
//! `docs/vulnerabilities.md`), SARIF 2.1.0 for code-scanning tools and CycloneDX 1.5 with its
//! `vulnerabilities` section.

use std::fmt::Write as _;

use kestrel_package::Package;
use serde::Serialize;
use serde_json::{Value, json};

use crate::Finding;

/// Output formats of `kestrel scan image`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    CycloneDx,
}

/// A scan result: the target, every package looked at, and the findings left after filters.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub packages: Vec<Package>,
    pub vulnerabilities: Vec<Finding>,
}

impl Report {
    /// Renders the report in `format`.
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Table => self.table(),
            Format::Json => pretty(&serde_json::to_value(self).unwrap_or(Value::Null)),
            Format::Sarif => pretty(&self.sarif()),
            Format::CycloneDx => pretty(&self.cyclonedx()),
        }
    }

    fn table(&self) -> String {
        let header = [
            "PACKAGE",
            "VERSION",
            "ECOSYSTEM",
            "ID",
            "SEVERITY",
            "CVSS",
            "FIXED",
            "KEV",
            "EPSS",
        ];
        let rows: Vec<[String; 9]> = self
            .vulnerabilities
            .iter()
            .map(|f| {
                [
                    f.package.name.clone(),
                    f.package.version.clone(),
                    f.package.ecosystem.clone(),
                    f.id.clone(),
                    f.severity.as_str().to_owned(),
                    f.cvss
                        .as_ref()
                        .and_then(|c| c.score)
                        .map_or_else(|| "-".to_owned(), |s| format!("{s:.1}")),
                    if f.fixed_versions.is_empty() {
                        "-".to_owned()
                    } else {
                        f.fixed_versions.join(", ")
                    },
                    match &f.kev {
                        Some(k) if k.ransomware => "yes (ransomware)".to_owned(),
                        Some(_) => "yes".to_owned(),
                        None => "-".to_owned(),
                    },
                    f.epss.as_ref().map_or_else(
                        || "-".to_owned(),
                        |e| format!("{:.3} ({:.0}%)", e.score, e.percentile * 100.0),
                    ),
                ]
            })
            .collect();
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[&str]| {
            let mut l = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    l.push_str(c);
                } else {
                    let _ = write!(l, "{c:<w$}  ", w = widths[i]);
                }
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        let _ = writeln!(
            out,
            "{}: {} packages, {} vulnerabilities",
            self.target,
            self.packages.len(),
            self.vulnerabilities.len()
        );
        if rows.is_empty() {
            return out;
        }
        line(&mut out, &header);
        for r in &rows {
            let cells: Vec<&str> = r.iter().map(String::as_str).collect();
            line(&mut out, &cells);
        }
        out
    }

    fn sarif(&self) -> Value {
        let mut rules: Vec<Value> = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for f in &self.vulnerabilities {
            if seen.insert(f.id.clone()) {
                rules.push(json!({
                    "id": f.id,
                    "shortDescription": {"text": f.summary.clone().unwrap_or_else(|| f.id.clone())},
                    "helpUri": format!("https://osv.dev/vulnerability/{}", f.id),
                    "properties": {
                        "security-severity": f.cvss.as_ref().and_then(|c| c.score).map(|s| format!("{s:.1}")),
                        "tags": ["security", "vulnerability"],
                    },
                }));
            }
        }
        let results: Vec<Value> = self
            .vulnerabilities
            .iter()
            .map(|f| {
                let level = match f.severity {
                    crate::Severity::Critical | crate::Severity::High => "error",
                    crate::Severity::Medium => "warning",
                    _ => "note",
                };
                let fixed = if f.fixed_versions.is_empty() {
                    "no fixed version".to_owned()
                } else {
                    format!("fixed in {}", f.fixed_versions.join(", "))
                };
                json!({
                    "ruleId": f.id,
                    "level": level,
                    "message": {"text": format!("{} {} ({}) is affected by {}: {}", f.package.name, f.package.version, f.package.ecosystem, f.id, fixed)},
                    "locations": [{
                        "physicalLocation": {"artifactLocation": {"uri": f.package.location.trim_start_matches('/')}},
                        "logicalLocations": [{"name": f.package.purl, "kind": "package"}],
                    }],
                    "properties": {"aliases": f.aliases, "purl": f.package.purl},
                })
            })
            .collect();
        json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "kestrel",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/kestrel-security/kestrel",
                    "rules": rules,
                }},
                "results": results,
            }],
        })
    }

    fn cyclonedx(&self) -> Value {
        let components: Vec<Value> = self
            .packages
            .iter()
            .map(|p| {
                json!({
                    "type": "library",
                    "bom-ref": bom_ref(&p.purl, &p.location),
                    "name": p.name,
                    "version": p.version,
                    "purl": p.purl,
                })
            })
            .collect();
        let vulns: Vec<Value> = self
            .vulnerabilities
            .iter()
            .map(|f| {
                let mut ratings = Vec::new();
                if let Some(c) = &f.cvss {
                    let method = match c.kind.as_str() {
                        "CVSS_V4" => "CVSSv4",
                        "CVSS_V2" => "CVSSv2",
                        _ if c.vector.starts_with("CVSS:3.0") => "CVSSv3",
                        _ => "CVSSv31",
                    };
                    ratings.push(json!({
                        "score": c.score,
                        "severity": f.severity.as_str().to_ascii_lowercase(),
                        "method": method,
                        "vector": c.vector,
                    }));
                } else {
                    ratings.push(json!({"severity": f.severity.as_str().to_ascii_lowercase()}));
                }
                if let Some(e) = &f.epss {
                    ratings.push(json!({"score": e.score, "method": "other", "source": {"name": "FIRST EPSS"}}));
                }
                let mut props = vec![];
                if let Some(k) = &f.kev {
                    props.push(json!({"name": "kestrel:kev", "value": "true"}));
                    props.push(json!({"name": "kestrel:kev:date_added", "value": k.date_added}));
                    props.push(json!({"name": "kestrel:kev:ransomware", "value": k.ransomware.to_string()}));
                }
                if let Some(e) = &f.epss {
                    props.push(json!({"name": "kestrel:epss:percentile", "value": e.percentile.to_string()}));
                }
                let mut v = json!({
                    "bom-ref": format!("{}@{}", f.id, bom_ref(&f.package.purl, &f.package.location)),
                    "id": f.id,
                    "source": {"name": f.source},
                    "references": f.aliases.iter().map(|a| json!({"id": a, "source": {"name": "alias"}})).collect::<Vec<_>>(),
                    "ratings": ratings,
                    "description": f.summary,
                    "recommendation": if f.fixed_versions.is_empty() { "No fixed version is published.".to_owned() } else { format!("Upgrade {} to {}", f.package.name, f.fixed_versions.join(" or ")) },
                    "affects": [{"ref": bom_ref(&f.package.purl, &f.package.location)}],
                    "properties": props,
                });
                if let Some(a) = &f.vex {
                    let state = match a.status {
                        crate::vex::Status::Affected => "exploitable",
                        crate::vex::Status::UnderInvestigation => "in_triage",
                        crate::vex::Status::Fixed => "resolved",
                        crate::vex::Status::NotAffected => "not_affected",
                    };
                    v["analysis"] = json!({"state": state, "detail": a.impact_statement.clone().or_else(|| a.action_statement.clone())});
                }
                v
            })
            .collect();
        json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "metadata": {
                "tools": {"components": [{"type": "application", "name": "kestrel", "version": env!("CARGO_PKG_VERSION")}]},
                "component": {"type": "container", "name": self.target, "bom-ref": "target"},
            },
            "components": components,
            "vulnerabilities": vulns,
        })
    }
}

/// The same purl can be installed twice (two `node_modules` copies); the location tells them
/// apart.
fn bom_ref(purl: &str, location: &str) -> String {
    format!("{purl}#{location}")
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}
