//! Exceptions: accepted risks, scoped by check, namespace, kind, name and container, each with
//! a reason and an optional expiry date.
//!
//! ```yaml
//! exceptions:
//!   - check: host-network          # a check id, or "*" for every check
//!     namespace: monitoring        # optional; every scope field left out matches anything
//!     kind: DaemonSet
//!     name: node-exporter          # a trailing * matches a prefix: "node-*"
//!     container: exporter
//!     reason: needs the node's network to export its metrics
//!     expires: 2027-03-31          # optional; from this day on the exception stops applying
//! ```
//!
//! An expired exception no longer suppresses anything and is listed in the report, so an
//! accepted risk cannot silently outlive its review date.

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::Report;
use crate::catalog;
use crate::finding::Finding;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exception {
    pub check: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Date>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    exceptions: Vec<Exception>,
}

/// A validated set of exceptions.
#[derive(Debug, Clone, Default)]
pub struct Exceptions {
    pub items: Vec<Exception>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExceptionError {
    #[error("{source_name}: not a valid exceptions file: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error(
        "{source_name}: exceptions[{index}]: unknown check id {check:?} (see `docs/posture.md` for the list, or use \"*\")"
    )]
    UnknownCheck {
        source_name: String,
        index: usize,
        check: String,
    },
    #[error("{source_name}: exceptions[{index}]: a reason is required")]
    NoReason { source_name: String, index: usize },
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Exception {
    /// Whether this exception covers `f`, regardless of expiry.
    pub fn matches(&self, f: &Finding) -> bool {
        (self.check == "*" || self.check == f.check.id)
            && self
                .namespace
                .as_deref()
                .is_none_or(|n| f.resource.namespace.as_deref() == Some(n))
            && self
                .kind
                .as_deref()
                .is_none_or(|k| k == f.resource.kind.as_str())
            && self
                .name
                .as_deref()
                .is_none_or(|n| name_matches(n, &f.resource.name))
            && self
                .container
                .as_deref()
                .is_none_or(|c| f.container.as_deref() == Some(c))
    }

    /// An exception expires at the start of its `expires` day.
    pub fn is_expired(&self, today: Date) -> bool {
        self.expires.is_some_and(|e| today >= e)
    }
}

impl Exceptions {
    /// Parses and validates an exceptions file (YAML or JSON).
    pub fn parse(text: &str, source_name: &str) -> Result<Exceptions, ExceptionError> {
        let file: File = serde_norway::from_str(text).map_err(|e| ExceptionError::Parse {
            source_name: source_name.to_owned(),
            message: e.to_string(),
        })?;
        for (index, e) in file.exceptions.iter().enumerate() {
            if e.check != "*" && catalog::by_id(&e.check).is_none() {
                return Err(ExceptionError::UnknownCheck {
                    source_name: source_name.to_owned(),
                    index,
                    check: e.check.clone(),
                });
            }
            if e.reason.trim().is_empty() {
                return Err(ExceptionError::NoReason {
                    source_name: source_name.to_owned(),
                    index,
                });
            }
        }
        Ok(Exceptions {
            items: file.exceptions,
        })
    }

    /// Moves the findings covered by an unexpired exception to `report.suppressed` and lists
    /// expired exceptions in `report.expired`.
    pub fn apply(&self, report: &mut Report, today: Date) {
        report.expired = self
            .items
            .iter()
            .filter(|e| e.is_expired(today))
            .cloned()
            .collect();
        let findings = std::mem::take(&mut report.findings);
        for f in findings {
            let hit = self
                .items
                .iter()
                .position(|e| !e.is_expired(today) && e.matches(&f));
            match hit {
                Some(i) => report.suppressed.push((f, i)),
                None => report.findings.push(f),
            }
        }
    }
}
