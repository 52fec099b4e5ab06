//! The advisory model: the OSV schema (<https://ossf.github.io/osv-schema/>), the one advisory
//! type every part of Kestrel shares.
//!
//! Only the fields matching and reporting need are typed; the full record is kept as JSON in the
//! database so nothing published is lost.

use serde::{Deserialize, Serialize};

/// One OSV record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Set when the record was retracted; such records never match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A CVSS vector, or a word for `Ubuntu`.
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<AffectedPackage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severity: Vec<Severity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<Range>,
    /// Versions listed one by one; they are affected whatever the ranges say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AffectedPackage {
    /// An OSV ecosystem, possibly with a release (`Debian:12`) or one Kestrel does not know.
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RangeType {
    /// Versions ordered by the ecosystem's own rules.
    Ecosystem,
    /// Versions ordered by SemVer 2.0.
    Semver,
    /// Commit hashes; Kestrel has no commit graph, so these never decide a match by themselves.
    Git,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: RangeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<Event>,
}

/// One range event. OSV writes each as an object with exactly one key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Advisory {
    /// This id and every alias, deduplicated, id first.
    pub fn all_ids(&self) -> Vec<&str> {
        let mut ids = vec![self.id.as_str()];
        for a in &self.aliases {
            if !ids.contains(&a.as_str()) {
                ids.push(a);
            }
        }
        ids
    }
}

/// Normalises a package name the way its ecosystem compares names: PyPI per PEP 503
/// (case-insensitive, runs of `-_.` equal), others as published except the case-insensitive
/// registries (NuGet, Packagist, and Debian/Alpine source names, which are lower case anyway).
pub fn normalize_name(ecosystem: kestrel_package::EcosystemKind, name: &str) -> String {
    use kestrel_package::EcosystemKind as K;
    match ecosystem {
        K::PyPI => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                    continue;
                }
                if sep && !out.is_empty() {
                    out.push('-');
                }
                sep = false;
                out.push(c.to_ascii_lowercase());
            }
            out
        }
        K::NuGet | K::Packagist | K::Maven => name.to_ascii_lowercase(),
        _ => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kestrel_package::EcosystemKind;

    #[test]
    fn events_read_as_published() {
        let r: Range = serde_json::from_str(
            r#"{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.2"},{"last_affected":"0.9"},{"limit":"2"}]}"#,
        )
        .unwrap();
        assert_eq!(
            r.events,
            vec![
                Event::Introduced("0".into()),
                Event::Fixed("1.2".into()),
                Event::LastAffected("0.9".into()),
                Event::Limit("2".into())
            ]
        );
    }

    #[test]
    fn pypi_names() {
        assert_eq!(
            normalize_name(EcosystemKind::PyPI, "Zope.Interface__x"),
            "zope-interface-x"
        );
        assert_eq!(normalize_name(EcosystemKind::Npm, "Foo"), "Foo");
    }
}
