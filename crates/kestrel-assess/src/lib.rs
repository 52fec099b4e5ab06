//! Assess a node: inventory its running containers, take a `/proc` snapshot, fold in what the
//! sensor observed, match the packages against the advisory database and rank every
//! (workload, vulnerability) pair by runtime risk. `kestrel risk` runs it once; `kestrel agent`
//! runs it periodically against its live sensor and ships the result ([`report`]).
//!
//! The order of one [`Assessor::assess`]: the snapshot first (which containers run, what they
//! map, open and listen on now); each container resolved to its name, image and pod and
//! inventoried through `/proc/PID/root`; then the files the sensor saw each container touch
//! ([`Observation`]) are mapped to packages through that inventory's file ownership and added
//! to a usage tracker that lives as long as the [`Assessor`], so evidence seen in an earlier
//! run still counts; then matching and [`kestrel_risk::rank`].
//!
//! Architecture invariant: read-only on the node (it reads `/proc`, container file systems
//! through `/proc/PID/root`, the advisory database and the runtime's metadata API) and never
//! starts a sensor: observations are handed in. Memory depends on the number of containers and
//! of distinct files they touch, never on how long they are observed. The ranking itself stays
//! the pure function in `kestrel-risk`.

pub mod observation;
pub mod report;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kestrel_container::ContainerResolver;
use kestrel_event::ContainerInfo;
use kestrel_inventory::{Inventory, Options, Target};
use kestrel_risk::{
    EnvironmentMap, EvidenceKind, Exploitability, Exposure, ListenSocket, PackageKey, RiskFinding,
    RiskInput, UsageTracker, VulnFinding, Workload,
};
use kestrel_vulndb::{Database, DbError};

pub use observation::{ContainerFacts, FileAccess, Observation, ObservationStats};

/// Errors of one assessment. Each names the file or step at fault.
#[derive(Debug, thiserror::Error)]
pub enum AssessError {
    #[error(transparent)]
    Snapshot(#[from] kestrel_snapshot::SnapshotError),
    #[error("advisory database {path}: {source}")]
    Database { path: PathBuf, source: DbError },
    #[error("{step} did not finish: {message}")]
    Task { step: &'static str, message: String },
}

/// What to do when the advisory database does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingDatabase {
    /// Fail the assessment (a one-shot command the user pointed at a database).
    Fail,
    /// Warn once, assess workloads without vulnerability findings, and look again next time
    /// (an agent on a node whose database is not downloaded yet).
    WarnOnce,
}

/// How to assess.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where `/proc` is (the host's, when running in a container).
    pub proc_root: PathBuf,
    /// The advisory database (`kestrel db import`/`update`).
    pub database: PathBuf,
    pub missing_database: MissingDatabase,
    /// Only these containers (id, id prefix of 12+ hex digits, or name); empty for all.
    pub containers: Vec<String>,
    pub environments: EnvironmentMap,
    /// Observed from its start for at least this long and never touched: "not in use".
    pub min_observation: Duration,
    /// How long to wait for a container's runtime metadata.
    pub resolve_timeout: Duration,
}

/// The result of one assessment.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// Nanoseconds since the Unix epoch when the snapshot was taken.
    pub taken_at: u64,
    /// Every running container assessed, with its exposure and environment.
    pub workloads: Vec<Workload>,
    /// Ranked findings, highest score first; empty without an advisory database.
    pub findings: Vec<RiskFinding>,
    /// Whether advisories were matched (false when the database is missing and tolerated).
    pub matched: bool,
}

/// Everything gathered about one running container.
struct Gathered {
    info: Arc<ContainerInfo>,
    pid: u32,
    first_start: u64,
    inventory: Inventory,
}

/// Runs assessments; keeps what must outlive one (the database connection and package usage).
#[derive(Debug)]
pub struct Assessor {
    settings: Settings,
    resolver: ContainerResolver,
    k8s: kestrel_k8s::Inventory,
    db: Option<Database>,
    warned_missing_db: bool,
    usage: UsageTracker,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

impl Assessor {
    /// `k8s` holds the Services, Ingresses, Gateway API routes, pods and namespaces that decide
    /// exposure and environment (empty when none are known).
    pub fn new(
        settings: Settings,
        resolver: ContainerResolver,
        k8s: kestrel_k8s::Inventory,
    ) -> Assessor {
        Assessor {
            settings,
            resolver,
            k8s,
            db: None,
            warned_missing_db: false,
            usage: UsageTracker::new(),
        }
    }

    /// Opens the database unless open; `None` when it is missing and that is tolerated.
    async fn database(&mut self) -> Result<Option<&mut Database>, AssessError> {
        if self.db.is_none() {
            match Database::open(&self.settings.database).await {
                Ok(db) => {
                    if self.warned_missing_db {
                        tracing::info!(
                            path = %self.settings.database.display(),
                            "advisory database found: vulnerability findings resume"
                        );
                    }
                    self.db = Some(db);
                }
                Err(DbError::Missing { .. })
                    if self.settings.missing_database == MissingDatabase::WarnOnce =>
                {
                    if !self.warned_missing_db {
                        tracing::warn!(
                            path = %self.settings.database.display(),
                            "no advisory database: shipping workloads without vulnerability findings until it exists (run `kestrel db update` or `kestrel db import`)"
                        );
                        self.warned_missing_db = true;
                    }
                    return Ok(None);
                }
                Err(source) => {
                    return Err(AssessError::Database {
                        path: self.settings.database.clone(),
                        source,
                    });
                }
            }
        }
        Ok(self.db.as_mut())
    }

    fn wanted(&self, id: &str, info: &ContainerInfo) -> bool {
        let f = &self.settings.containers;
        f.is_empty()
            || f.iter().any(|c| {
                (c.len() >= 12 && id.starts_with(c.as_str())) || info.name.as_deref() == Some(c)
            })
    }

    /// One assessment of the node. `observation` is what the sensor saw (shared with a running
    /// sensor thread, or filled by a one-shot observation window); it is locked only briefly.
    pub async fn assess(
        &mut self,
        observation: &Mutex<Observation>,
    ) -> Result<Assessment, AssessError> {
        let proc_root = self.settings.proc_root.clone();
        let snap = Arc::new(
            tokio::task::spawn_blocking(move || kestrel_snapshot::take_at(&proc_root))
                .await
                .map_err(|e| AssessError::Task {
                    step: "the /proc snapshot",
                    message: e.to_string(),
                })??,
        );

        // The first process of each container stands for it.
        let mut firsts: BTreeMap<&str, &kestrel_snapshot::ProcessSnapshot> = BTreeMap::new();
        for p in &snap.processes {
            if let Some(c) = &p.container {
                let e = firsts.entry(c.container_id.as_str()).or_insert(p);
                if p.start_time < e.start_time {
                    *e = p;
                }
            }
        }
        let mut resolved = Vec::new();
        for (id, first) in &firsts {
            let info = match self.resolver.resolve_pid(first.pid) {
                Ok(Some(info)) => self
                    .resolver
                    .wait_resolved(&info.id, self.settings.resolve_timeout)
                    .await
                    .unwrap_or(info),
                _ => continue,
            };
            if self.wanted(id, &info) {
                resolved.push((info, first.pid, first.start_time));
            }
        }
        let running: HashSet<String> = firsts.keys().map(|s| (*s).to_owned()).collect();
        let gathered = tokio::task::spawn_blocking(move || {
            resolved
                .into_iter()
                .filter_map(|(info, pid, first_start)| {
                    match kestrel_inventory::inventory(&Target::Pid(pid), &Options::default()) {
                        Ok(inventory) => Some(Gathered {
                            info,
                            pid,
                            first_start,
                            inventory,
                        }),
                        Err(e) => {
                            tracing::warn!(container = %info.id.short(), "skipping container: inventory failed: {e}");
                            None
                        }
                    }
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| AssessError::Task {
            step: "the container inventories",
            message: e.to_string(),
        })?;

        // Usage: what is mapped or open now, then what the sensor saw since the last run.
        for gone in self
            .usage
            .workloads()
            .filter(|w| !running.contains(*w))
            .map(str::to_owned)
            .collect::<Vec<_>>()
        {
            self.usage.forget(&gone);
        }
        let mut facts = HashMap::new();
        {
            let mut obs = observation.lock().expect("observation lock");
            let since = obs.since();
            for g in &gathered {
                let id = g.info.id.as_str();
                let owner = |path: &str| g.inventory.owner_of(path).map(PackageKey::from);
                if let Some(t0) = since
                    && g.first_start >= t0
                {
                    // Every process of this container ran under the sensor: an untouched
                    // package is evidence of non-use once the minimum observation has passed.
                    self.usage.start_observing(id, g.first_start);
                }
                for p in snap.in_container(id) {
                    let files = p
                        .exe
                        .iter()
                        .chain(p.exec_maps.iter())
                        .chain(p.open_files.iter());
                    for f in files.filter(|f| kestrel_risk::is_evidence_path(f)) {
                        if let Some(pkg) = owner(f) {
                            let seen = UsageTracker::seen(
                                p.pid,
                                &p.name,
                                f,
                                EvidenceKind::Snapshot,
                                snap.taken_at,
                            );
                            self.usage.record(id, pkg, seen);
                        }
                    }
                }
                for (file, a) in obs.take_files(id) {
                    if let Some(pkg) = owner(&file) {
                        let seen = kestrel_risk::Evidence {
                            pid: a.pid,
                            process: a.process,
                            file,
                            kind: a.kind,
                            first_seen: a.first_seen,
                            last_seen: a.last_seen,
                        };
                        self.usage.record(id, pkg, seen);
                    }
                }
                facts.insert(id.to_owned(), obs.facts(id, snap.taken_at));
            }
            obs.retain_running(|id| running.contains(id), snap.taken_at);
            tracing::debug!(stats = ?obs.stats(), "observation after assessment");
        }

        let mut workloads = Vec::new();
        for g in &gathered {
            let f = facts.remove(g.info.id.as_str()).unwrap_or_default();
            workloads.push(self.workload(g, &snap, f));
        }
        let mut findings_per: Vec<Vec<VulnFinding>> = Vec::new();
        let db_path = self.settings.database.clone();
        let matched = match self.database().await? {
            Some(db) => {
                for g in &gathered {
                    let keys = kestrel_vuln::lookup_keys(&g.inventory.packages);
                    let vsnap =
                        db.snapshot_for(&keys)
                            .await
                            .map_err(|source| AssessError::Database {
                                path: db_path.clone(),
                                source,
                            })?;
                    findings_per.push(
                        kestrel_vuln::match_packages(&g.inventory.packages, &vsnap)
                            .into_iter()
                            .filter_map(|f| to_vuln_finding(&g.inventory, f))
                            .collect(),
                    );
                }
                true
            }
            None => false,
        };
        let inputs: Vec<RiskInput<'_>> = workloads
            .iter()
            .zip(&findings_per)
            .map(|(w, f)| RiskInput {
                workload: w,
                findings: f,
            })
            .collect();
        let findings = kestrel_risk::rank(
            &inputs,
            &self.usage,
            now_ns(),
            self.settings.min_observation.as_secs(),
        );
        Ok(Assessment {
            taken_at: snap.taken_at,
            workloads,
            findings,
            matched,
        })
    }

    fn workload(
        &self,
        g: &Gathered,
        snap: &kestrel_snapshot::Snapshot,
        facts: ContainerFacts,
    ) -> Workload {
        let id = g.info.id.as_str();
        let mut listening: Vec<ListenSocket> = snap
            .in_container(id)
            .flat_map(|p| p.listening.iter())
            .map(|l| ListenSocket {
                address: l.address.ip().to_string(),
                port: l.address.port(),
                protocol: l.protocol.clone(),
            })
            .chain(facts.listening)
            .collect();
        listening.sort();
        listening.dedup();
        let pod = g.info.pod.as_ref();
        let namespace = pod.map_or("", |p| p.namespace.as_str());
        let ns_labels = self
            .k8s
            .namespaces
            .iter()
            .find(|n| n.object.metadata.name.as_deref() == Some(namespace))
            .and_then(|n| n.object.metadata.labels.clone())
            .unwrap_or_default();
        let labels = pod.map_or(&g.info.labels, |p| &p.labels);
        let environment = self
            .settings
            .environments
            .classify(namespace, labels, &ns_labels);
        let routes = match pod {
            Some(p) => kestrel_risk::exposure::routes(&self.k8s, namespace, &p.name, labels),
            None => Vec::new(),
        };
        Workload {
            container_id: id.to_owned(),
            container: g
                .info
                .name
                .clone()
                .unwrap_or_else(|| g.info.id.short().to_owned()),
            pod: pod.map(|p| p.name.clone()).filter(|s| !s.is_empty()),
            namespace: pod.map(|p| p.namespace.clone()).filter(|s| !s.is_empty()),
            image: g
                .info
                .image
                .as_ref()
                .map(|i| match &i.tag {
                    Some(t) => format!("{}:{t}", i.repository),
                    None => i.repository.clone(),
                })
                .unwrap_or_else(|| format!("pid:{}", g.pid)),
            labels: labels.clone(),
            environment,
            exposure: Exposure {
                listening,
                routes,
                public_inbound: facts.public_inbound,
            },
            attacked: facts.attacked,
        }
    }
}

fn to_vuln_finding(inv: &Inventory, f: kestrel_vuln::Finding) -> Option<VulnFinding> {
    let pkg = inv
        .packages
        .iter()
        .find(|p| p.purl == f.package.purl && p.location == f.package.location)?;
    Some(VulnFinding {
        id: f.id,
        aliases: f.aliases,
        package: PackageKey::from(pkg),
        summary: f.summary,
        exploitability: Exploitability {
            cvss: f.cvss.as_ref().and_then(|c| c.score),
            severity: Some(f.severity.as_str().to_owned()),
            kev: f.kev.is_some(),
            kev_ransomware: f.kev.as_ref().is_some_and(|k| k.ransomware),
            epss: f.epss.as_ref().map(|e| (e.score, e.percentile)),
            fixed_versions: f.fixed_versions,
        },
    })
}
