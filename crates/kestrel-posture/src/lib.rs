//! Kubernetes posture: the checks that find exploitable misconfigurations in a
//! [`kestrel_k8s::Inventory`], exceptions, and the report formats.
//!
//! Every check reads the shared object model's resolved views — the effective pod spec and
//! RBAC resolved per subject — so that a field is never judged in isolation from the fields
//! that override it. [`scan`] runs them all and returns a [`Report`].
//!
//! Architecture invariant: checks are pure functions of the inventory (and, for exceptions,
//! of a date passed in); this crate does no I/O, and reading an exceptions file is the
//! caller's job.

pub mod catalog;
pub mod components;
mod cve_feed;
pub mod detect;
pub mod exceptions;
pub mod finding;
pub mod network;
pub mod output;
pub mod rbac;
pub mod secrets;
pub mod workload;

use kestrel_k8s::rbac::Rbac;
use kestrel_k8s::{Inventory, NotAssessed};

pub use catalog::{Check, Severity};
pub use exceptions::{Exception, Exceptions};
pub use finding::Finding;

/// The outcome of a scan.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Kinds that could not be read; checks depending on them did not run.
    pub not_assessed: Vec<NotAssessed>,
    /// Findings an exception suppressed, with the exception's index.
    pub suppressed: Vec<(Finding, usize)>,
    /// Exceptions past their expiry date (they no longer apply).
    pub expired: Vec<Exception>,
    /// How many objects were scanned.
    pub objects: usize,
}

/// Runs every check on the inventory. Findings come sorted by severity (highest first), then
/// resource.
pub fn scan(inv: &Inventory) -> Report {
    let mut findings = Vec::new();
    let pods = kestrel_k8s::pod::workloads(inv);
    let limits = kestrel_k8s::limits::LimitDefaults::build(inv);
    for pod in &pods {
        let defaults = limits.for_namespace(pod.object.namespace.as_deref());
        workload::check_pod(pod, defaults, &mut findings);
    }
    components::check_components(&pods, &mut findings);
    components::check_versions(inv, &mut findings);
    components::check_kubelet_configs(inv, &mut findings);
    components::check_encryption_configs(inv, &mut findings);
    network::check_network(inv, &pods, &mut findings);
    secrets::check_secrets(inv, &mut findings);
    let rbac = Rbac::build(inv);
    rbac::check_rbac(&rbac, &mut findings);
    findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    Report {
        findings,
        not_assessed: inv.not_assessed.clone(),
        suppressed: Vec::new(),
        expired: Vec::new(),
        objects: inv.len(),
    }
}

impl Report {
    /// Drops the findings of the checks named by id (disabled in the configuration).
    pub fn disable_checks(&mut self, ids: &std::collections::BTreeSet<&str>) {
        if !ids.is_empty() {
            self.findings.retain(|f| !ids.contains(f.check.id));
        }
    }

    /// Keeps only findings at or above `min`.
    pub fn filter_severity(&mut self, min: Severity) {
        self.findings.retain(|f| f.check.severity >= min);
    }
}
