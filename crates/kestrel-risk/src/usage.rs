//! Which packages a workload's processes actually use.
//!
//! The tracker is fed sensor events (exec, executable mmap, successful open) and `/proc`
//! snapshot observations, maps each file to the package that owns it through a caller-supplied
//! owner function (the inventory's file ownership), and keeps bounded evidence per package:
//! process, file, how, first and last seen.

use std::collections::HashMap;

use kestrel_event::{Event, EventKind};
use kestrel_package::{Ecosystem, Package};
use serde::{Deserialize, Serialize};

use crate::signals::{Evidence, EvidenceKind, InUse};

/// Identifies a package within a workload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageKey {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
}

impl From<&Package> for PackageKey {
    fn from(p: &Package) -> Self {
        PackageKey {
            ecosystem: p.ecosystem.clone(),
            name: p.name.clone(),
            version: p.version.clone(),
        }
    }
}

/// At most this many distinct (process, file, kind) observations are kept per package; later
/// ones only update `last_seen` of a matching entry or are counted.
pub const MAX_EVIDENCE_PER_PACKAGE: usize = 8;

#[derive(Debug, Default)]
struct WorkloadUsage {
    observed_since: Option<u64>,
    packages: HashMap<PackageKey, PackageUsage>,
}

#[derive(Debug, Default)]
struct PackageUsage {
    evidence: Vec<Evidence>,
    /// Observations beyond the evidence kept.
    more: u64,
}

/// Usage per workload (keyed by container id; use `"host"` for host processes).
#[derive(Debug, Default)]
pub struct UsageTracker {
    workloads: HashMap<String, WorkloadUsage>,
}

impl UsageTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the start of observation of a workload (the sensor attached, or the snapshot was
    /// taken). The earliest call wins.
    pub fn start_observing(&mut self, workload: &str, ts: u64) {
        let w = self.workloads.entry(workload.to_owned()).or_default();
        w.observed_since = Some(w.observed_since.map_or(ts, |t| t.min(ts)));
    }

    /// Records an observation of a process touching a file owned by `package`; an observation
    /// of the same (pid, file, kind) widens the existing evidence's time span.
    pub fn record(&mut self, workload: &str, package: PackageKey, seen: Evidence) {
        let w = self.workloads.entry(workload.to_owned()).or_default();
        let u = w.packages.entry(package).or_default();
        if let Some(e) = u
            .evidence
            .iter_mut()
            .find(|e| e.pid == seen.pid && e.file == seen.file && e.kind == seen.kind)
        {
            e.first_seen = e.first_seen.min(seen.first_seen);
            e.last_seen = e.last_seen.max(seen.last_seen);
            return;
        }
        if u.evidence.len() < MAX_EVIDENCE_PER_PACKAGE {
            u.evidence.push(seen);
            return;
        }
        u.more += 1;
        // Native code mapped or executed is stronger evidence than a file read: it shows the
        // package's compiled code in the process. Keep it in place of the latest read.
        if matches!(seen.kind, EvidenceKind::Mmap | EvidenceKind::Exec)
            && let Some(i) = u
                .evidence
                .iter()
                .rposition(|e| e.kind == EvidenceKind::Open)
        {
            u.evidence[i] = seen;
        }
    }

    /// Convenience for one observation at time `ts`.
    pub fn seen(pid: u32, process: &str, file: &str, kind: EvidenceKind, ts: u64) -> Evidence {
        Evidence {
            pid,
            process: process.to_owned(),
            file: file.to_owned(),
            kind,
            first_seen: ts,
            last_seen: ts,
        }
    }

    /// Feeds one sensor event. `owner(workload, path)` returns the package owning `path` inside
    /// that workload's root filesystem. Failed opens and non-file events are ignored.
    pub fn observe_event(
        &mut self,
        event: &Event,
        owner: impl Fn(&str, &str) -> Option<PackageKey>,
    ) {
        let Some((path, kind)) = touched_file(event) else {
            return;
        };
        // Most events touch no package file: look ownership up before allocating anything.
        let workload = event
            .container
            .as_ref()
            .map_or_else(|| "host".to_owned(), |c| c.id.to_string());
        if let Some(pkg) = owner(&workload, &path) {
            let process = event.process.as_ref().map_or("", |p| p.name.as_str());
            let seen = Self::seen(event.pid, process, &path, kind, event.ts);
            self.record(&workload, pkg, seen);
        }
    }

    /// The in-use verdict for a package of a workload at time `now`: `Yes` with evidence, `No`
    /// only when the workload was observed for at least `min_observation_secs`, else `Unknown`.
    pub fn in_use(
        &self,
        workload: &str,
        package: &PackageKey,
        now: u64,
        min_observation_secs: u64,
    ) -> InUse {
        let Some(w) = self.workloads.get(workload) else {
            return InUse::Unknown;
        };
        if let Some(u) = w.packages.get(package) {
            return InUse::Yes {
                evidence: u.evidence.clone(),
            };
        }
        match w.observed_since {
            Some(since) => {
                let secs = now.saturating_sub(since) / 1_000_000_000;
                if secs >= min_observation_secs {
                    InUse::No {
                        observed_secs: secs,
                    }
                } else {
                    InUse::Unknown
                }
            }
            None => InUse::Unknown,
        }
    }

    /// Forgets a workload (its container is gone).
    pub fn forget(&mut self, workload: &str) {
        self.workloads.remove(workload);
    }

    /// Workloads with usage or an observation start.
    pub fn workloads(&self) -> impl Iterator<Item = &str> {
        self.workloads.keys().map(String::as_str)
    }

    /// Packages seen in use in a workload.
    pub fn used_packages(&self, workload: &str) -> Vec<&PackageKey> {
        self.workloads
            .get(workload)
            .map(|w| w.packages.keys().collect())
            .unwrap_or_default()
    }
}

/// The file an event shows a process using, as an absolute path, and how: the executable of
/// an exec, an executable mapping, or a successful open (relative paths joined to the
/// process's working directory). `None` for other events, failed opens and files that are no
/// evidence of use ([`is_evidence_path`]).
pub fn touched_file(event: &Event) -> Option<(String, EvidenceKind)> {
    let (path, kind) = match &event.kind {
        EventKind::Exec => (event.process.as_ref()?.exe.path.clone(), EvidenceKind::Exec),
        EventKind::Mmap { path, .. } => (path.clone(), EvidenceKind::Mmap),
        EventKind::Open { path, result, .. } if *result >= 0 => {
            let abs = if path.starts_with('/') {
                path.clone()
            } else {
                let cwd = event.process.as_ref().map_or("/", |p| p.cwd.as_str());
                join(cwd, path)
            };
            (abs, EvidenceKind::Open)
        }
        _ => return None,
    };
    is_evidence_path(&path).then_some((path, kind))
}

/// Whether touching `path` says anything about a package being used. Package metadata is read
/// by tools that merely list what is installed (`importlib.metadata`, `pip list`, `npm ls`, a
/// scanner): a `.dist-info`/`.egg-info` file or a `package.json` alone is not use of the
/// package's code. A `require()` reads `package.json` too, but then loads a `.js` file, which
/// is the evidence kept.
pub fn is_evidence_path(path: &str) -> bool {
    !(path.contains(".dist-info/")
        || path.contains(".egg-info/")
        || path.ends_with(".egg-info")
        || path.ends_with("/package.json"))
}

/// Joins a relative path to a directory and removes `.` and `..` components lexically.
fn join(dir: &str, rel: &str) -> String {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for c in rel.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kestrel_event::{ContainerId, ContainerInfo, FileId, OpenFlags, ProcessInfo};
    use kestrel_package::EcosystemKind;

    use super::*;

    fn key(name: &str) -> PackageKey {
        PackageKey {
            ecosystem: Ecosystem::new(EcosystemKind::PyPI),
            name: name.into(),
            version: "1.0".into(),
        }
    }

    fn event(kind: EventKind, ts: u64) -> Event {
        let id = ContainerId::parse(&"ab".repeat(32)).unwrap();
        Event {
            ts,
            pid: 42,
            tid: 42,
            kind,
            process: Some(Arc::new(ProcessInfo {
                pid: 42,
                name: "python3".into(),
                cwd: "/opt/app".into(),
                ..Default::default()
            })),
            container: Some(Arc::new(ContainerInfo::bare(id))),
        }
    }

    fn owner(_w: &str, path: &str) -> Option<PackageKey> {
        if path.contains("/site-packages/PIL/") || path.contains("/Pillow.libs/") {
            Some(key("pillow"))
        } else if path.contains("/site-packages/requests/") {
            Some(key("requests"))
        } else {
            None
        }
    }

    #[test]
    fn events_to_verdicts() {
        let w = "ab".repeat(32);
        let mut t = UsageTracker::new();
        t.start_observing(&w, 0);
        t.observe_event(
            &event(
                EventKind::Mmap {
                    path: "/venv/lib/python3.11/site-packages/Pillow.libs/libjpeg-1.so".into(),
                    file: FileId::default(),
                    prot: 5,
                    flags: 2,
                },
                10,
            ),
            owner,
        );
        t.observe_event(
            &event(
                EventKind::Open {
                    path: "venv/lib/python3.11/site-packages/requests/../requests/api.py".into(),
                    flags: OpenFlags(0),
                    mode: 0,
                    result: 3,
                },
                20,
            ),
            owner,
        );
        // Reading package metadata is not use.
        t.observe_event(
            &event(
                EventKind::Open {
                    path: "/venv/lib/python3.11/site-packages/Django-3.2.12.dist-info/METADATA"
                        .into(),
                    flags: OpenFlags(0),
                    mode: 0,
                    result: 3,
                },
                25,
            ),
            |_, _| Some(key("django")),
        );
        // A failed open is not evidence.
        t.observe_event(
            &event(
                EventKind::Open {
                    path: "/venv/lib/python3.11/site-packages/django/__init__.py".into(),
                    flags: OpenFlags(0),
                    mode: 0,
                    result: -2,
                },
                30,
            ),
            |_, _| Some(key("django")),
        );
        let now = 700 * 1_000_000_000;
        match t.in_use(&w, &key("pillow"), now, 300) {
            InUse::Yes { evidence } => {
                assert_eq!(evidence[0].kind, EvidenceKind::Mmap);
                assert_eq!(evidence[0].process, "python3");
            }
            other => panic!("{other:?}"),
        }
        match t.in_use(&w, &key("requests"), now, 300) {
            InUse::Yes { evidence } => {
                assert_eq!(
                    evidence[0].file,
                    "/opt/app/venv/lib/python3.11/site-packages/requests/api.py"
                )
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            t.in_use(&w, &key("django"), now, 300),
            InUse::No { observed_secs: 700 }
        );
        // Not observed long enough: unknown, never "not in use".
        assert_eq!(
            t.in_use(&w, &key("django"), 10 * 1_000_000_000, 300),
            InUse::Unknown
        );
        assert_eq!(t.in_use("other", &key("django"), now, 300), InUse::Unknown);
    }

    #[test]
    fn evidence_is_bounded_and_merged() {
        let mut t = UsageTracker::new();
        for i in 0..20u32 {
            let first = UsageTracker::seen(i, "p", "/f", EvidenceKind::Open, u64::from(i));
            t.record("w", key("a"), first);
            let again = UsageTracker::seen(0, "p", "/f", EvidenceKind::Open, 100);
            t.record("w", key("a"), again);
        }
        match t.in_use("w", &key("a"), 0, 0) {
            InUse::Yes { evidence } => {
                assert_eq!(evidence.len(), MAX_EVIDENCE_PER_PACKAGE);
                assert_eq!(evidence[0].first_seen, 0);
                assert_eq!(evidence[0].last_seen, 100);
            }
            other => panic!("{other:?}"),
        }
        // A mapped library displaces a read once the evidence is full.
        let lib = UsageTracker::seen(99, "p", "/lib.so", EvidenceKind::Mmap, 200);
        t.record("w", key("a"), lib);
        match t.in_use("w", &key("a"), 0, 0) {
            InUse::Yes { evidence } => {
                assert_eq!(evidence.len(), MAX_EVIDENCE_PER_PACKAGE);
                assert!(evidence.iter().any(|e| e.file == "/lib.so"));
            }
            other => panic!("{other:?}"),
        }
    }
}
