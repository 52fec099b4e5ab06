//! OpenVEX (<https://github.com/openvex/spec>) statements applied to findings.
//!
//! A statement applies to a finding when its vulnerability is one of the finding's ids (or
//! aliases) and one of its products is the finding's package: the same purl, the same purl
//! without version or qualifiers, a subcomponent of a listed product, or no products at all.
//! `not_affected` and `fixed` suppress the finding; `affected` and `under_investigation`
//! annotate it. When several statements apply, the latest (by `timestamp`, then by order in the
//! file) wins, as the specification says.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Finding;

/// A VEX document that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VexError {
    #[error("cannot read VEX file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not an OpenVEX document: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path}: statement {index}: {message}")]
    Statement {
        path: String,
        index: usize,
        message: String,
    },
}

/// The VEX status of a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

/// What a non-suppressing statement adds to a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Annotation {
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_statement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact_statement: Option<String>,
    /// The VEX document's `@id`.
    pub document: String,
}

#[derive(Debug, Deserialize)]
struct Document {
    #[serde(rename = "@id", default)]
    id: String,
    #[serde(default)]
    timestamp: Option<String>,
    statements: Vec<RawStatement>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum NameOrObject {
    Name(String),
    Object {
        #[serde(rename = "@id", default)]
        id: Option<String>,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
        #[serde(default)]
        identifiers: Option<serde_json::Map<String, serde_json::Value>>,
        #[serde(default)]
        subcomponents: Vec<NameOrObject>,
    },
}

impl NameOrObject {
    fn names(&self) -> Vec<String> {
        match self {
            NameOrObject::Name(n) => vec![n.clone()],
            NameOrObject::Object {
                id,
                name,
                aliases,
                identifiers,
                ..
            } => {
                let mut v: Vec<String> = id.iter().chain(name).chain(aliases).cloned().collect();
                if let Some(ids) = identifiers {
                    v.extend(ids.values().filter_map(|x| x.as_str().map(str::to_owned)));
                }
                v
            }
        }
    }
    fn subcomponents(&self) -> &[NameOrObject] {
        match self {
            NameOrObject::Name(_) => &[],
            NameOrObject::Object { subcomponents, .. } => subcomponents,
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawStatement {
    vulnerability: NameOrObject,
    #[serde(default)]
    products: Vec<NameOrObject>,
    status: Status,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    action_statement: Option<String>,
}

#[derive(Debug)]
struct Statement {
    vulnerabilities: Vec<String>,
    /// Empty: every product.
    products: Vec<String>,
    status: Status,
    timestamp: String,
    order: usize,
    impact_statement: Option<String>,
    action_statement: Option<String>,
    document: String,
}

/// Parsed OpenVEX statements from one or more documents.
#[derive(Debug, Default)]
pub struct Vex {
    statements: Vec<Statement>,
}

impl Vex {
    /// Reads an OpenVEX JSON document.
    pub fn load(path: &Path) -> Result<Vex, VexError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| VexError::Read {
            path: p.clone(),
            source,
        })?;
        Vex::parse(&bytes, &p)
    }

    /// Parses an OpenVEX JSON document; `origin` names it in errors.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Vex, VexError> {
        let doc: Document = serde_json::from_slice(bytes).map_err(|source| VexError::Parse {
            path: origin.to_owned(),
            source,
        })?;
        let mut out = Vex::default();
        for (i, s) in doc.statements.into_iter().enumerate() {
            let vulnerabilities = s.vulnerability.names();
            if vulnerabilities.is_empty() {
                return Err(VexError::Statement {
                    path: origin.to_owned(),
                    index: i,
                    message: "the vulnerability has no name".into(),
                });
            }
            if s.status == Status::NotAffected
                && s.justification.is_none()
                && s.impact_statement.is_none()
            {
                return Err(VexError::Statement {
                    path: origin.to_owned(),
                    index: i,
                    message: "a not_affected statement needs a justification or an impact_statement (OpenVEX spec)".into(),
                });
            }
            let mut products = Vec::new();
            for p in &s.products {
                products.extend(p.names());
                for sub in p.subcomponents() {
                    products.extend(sub.names());
                }
            }
            out.statements.push(Statement {
                vulnerabilities,
                products,
                status: s.status,
                timestamp: s
                    .timestamp
                    .or_else(|| doc.timestamp.clone())
                    .unwrap_or_default(),
                order: i,
                impact_statement: s.impact_statement,
                action_statement: s.action_statement,
                document: doc.id.clone(),
            });
        }
        Ok(out)
    }

    /// Adds another document's statements.
    pub fn extend(&mut self, other: Vex) {
        let base = self.statements.len();
        self.statements
            .extend(other.statements.into_iter().map(|mut s| {
                s.order += base;
                s
            }));
    }

    /// Drops suppressed findings and annotates the others; returns the findings left and the
    /// number suppressed.
    pub fn apply(&self, findings: Vec<Finding>) -> (Vec<Finding>, usize) {
        let mut kept = Vec::new();
        let mut suppressed = 0;
        for mut f in findings {
            let latest = self
                .statements
                .iter()
                .filter(|s| applies(s, &f))
                .max_by(|a, b| (&a.timestamp, a.order).cmp(&(&b.timestamp, b.order)));
            match latest {
                Some(s) if matches!(s.status, Status::NotAffected | Status::Fixed) => {
                    suppressed += 1;
                }
                Some(s) => {
                    f.vex = Some(Annotation {
                        status: s.status,
                        action_statement: s.action_statement.clone(),
                        impact_statement: s.impact_statement.clone(),
                        document: s.document.clone(),
                    });
                    kept.push(f);
                }
                None => kept.push(f),
            }
        }
        (kept, suppressed)
    }
}

/// `pkg:pypi/requests@2.19.1?x=y#sub` → `pkg:pypi/requests`.
fn purl_base(p: &str) -> &str {
    let p = p.split(['?', '#']).next().unwrap_or(p);
    match p.rfind('@') {
        // An `@` in the namespace (`pkg:npm/%40scope/x`) is percent-encoded, so the last
        // `@` after the type is the version separator.
        Some(i) if i > p.find('/').unwrap_or(0) => &p[..i],
        _ => p,
    }
}

fn applies(s: &Statement, f: &Finding) -> bool {
    if !s.vulnerabilities.iter().any(|v| f.ids().any(|id| id == v)) {
        return false;
    }
    if s.products.is_empty() {
        return true;
    }
    let purl = f.package.purl.as_str();
    s.products.iter().any(|p| {
        p == purl
            || (p.split(['?', '#']).next() == purl.split(['?', '#']).next())
            || (!p.contains('@') && purl_base(p) == purl_base(purl))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_bases() {
        assert_eq!(purl_base("pkg:pypi/requests@2.19.1"), "pkg:pypi/requests");
        assert_eq!(
            purl_base("pkg:deb/debian/libc6@2.36-9?arch=amd64"),
            "pkg:deb/debian/libc6"
        );
        assert_eq!(purl_base("pkg:npm/%40types/node"), "pkg:npm/%40types/node");
    }

    #[test]
    fn not_affected_needs_a_reason() {
        let e = Vex::parse(
            br#"{"@id":"x","statements":[{"vulnerability":{"name":"CVE-1"},"status":"not_affected"}]}"#,
            "v.json",
        )
        .unwrap_err();
        assert!(e.to_string().contains("v.json: statement 0"), "{e}");
    }
}
