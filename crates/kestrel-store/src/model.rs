//! The shapes Kestrel stores and serves: what agents and scanners send to the server (ingest) and
//! what the query API returns. They are the server's wire format, documented in the OpenAPI
//! document and in `docs/server.md`; producers convert their own types into these at the edge.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use kestrel_event::Alert;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A Kubernetes workload (Deployment, DaemonSet, StatefulSet, Job, CronJob, bare Pod...).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
pub struct WorkloadRef {
    pub namespace: String,
    pub kind: String,
    pub name: String,
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.namespace, self.kind, self.name)
    }
}

/// One alert as an agent ships it. `id` is chosen by the agent and stays the same when the agent
/// resends, which is what makes ingestion idempotent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertIn {
    /// Unique per alert and stable across resends, at most 200 characters.
    pub id: String,
    /// The workload of the container that raised it, when the agent knows it. Without it the
    /// server files the alert under the pod name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadRef>,
    /// The alert in Falco's JSON output shape.
    #[schema(value_type = Object)]
    pub alert: Alert,
}

/// A batch of alerts from one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AlertBatch {
    /// Must be the cluster the agent's enrollment token belongs to.
    pub cluster: String,
    pub node: String,
    pub alerts: Vec<AlertIn>,
}

/// What an ingest call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct IngestResult {
    /// Records stored by this call.
    pub accepted: u64,
    /// Records the server already had (a resend), or an older snapshot than the stored one.
    pub duplicates: u64,
}

/// An alert as stored, with where and when it was received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredAlert {
    pub id: String,
    pub cluster: String,
    pub node: String,
    /// RFC 3339 time the server received it.
    pub received: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadRef>,
    #[schema(value_type = Object)]
    pub alert: Alert,
}

/// How reachable a workload is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ExposureLevel {
    /// Reachable from outside the cluster (LoadBalancer, NodePort, Ingress, host network...).
    Internet,
    /// Reachable from other pods only.
    Cluster,
    /// Not listening.
    None,
    /// Not assessed.
    Unknown,
}

/// The environment a workload runs in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Staging,
    Test,
    Sandbox,
    Unknown,
}

macro_rules! str_enum {
    ($ty:ident, $what:literal, { $($v:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s),* }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl FromStr for $ty {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s.to_ascii_lowercase().as_str() {
                    $($s => Ok($ty::$v),)*
                    _ => Err(UnknownValue { what: $what, value: s.to_owned(), expected: &[$($s),*] }),
                }
            }
        }
    };
}

/// A value outside an enumeration, in a query parameter or a stored row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (expected one of: {})", expected.join(", "))]
pub struct UnknownValue {
    pub what: &'static str,
    pub value: String,
    pub expected: &'static [&'static str],
}

str_enum!(ExposureLevel, "exposure", { Internet => "internet", Cluster => "cluster", None => "none", Unknown => "unknown" });
str_enum!(Environment, "environment", { Production => "production", Staging => "staging", Test => "test", Sandbox => "sandbox", Unknown => "unknown" });

/// A workload as inventoried on a node or from the cluster's API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Workload {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    /// Image references of its containers.
    #[serde(default)]
    pub images: Vec<String>,
    pub exposure: ExposureLevel,
    /// Human-readable routes behind `exposure`, e.g. `LoadBalancer web:443`.
    #[serde(default)]
    pub exposure_routes: Vec<String>,
    pub environment: Environment,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
}

impl Workload {
    pub fn reference(&self) -> WorkloadRef {
        WorkloadRef {
            namespace: self.namespace.clone(),
            kind: self.kind.clone(),
            name: self.name.clone(),
        }
    }
}

/// Severity of a vulnerability or posture finding.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Critical,
    High,
    Medium,
    Low,
    Info,
    Unknown,
}

str_enum!(Severity, "severity", { Critical => "critical", High => "high", Medium => "medium", Low => "low", Info => "info", Unknown => "unknown" });

impl Severity {
    /// 5 for critical down to 0 for unknown: "at least high" is `rank >= 4`.
    pub fn rank(self) -> i64 {
        match self {
            Severity::Critical => 5,
            Severity::High => 4,
            Severity::Medium => 3,
            Severity::Low => 2,
            Severity::Info => 1,
            Severity::Unknown => 0,
        }
    }
}

/// Whether a vulnerable package was seen in use at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InUse {
    Yes,
    No,
    Unknown,
}

impl InUse {
    fn code(self) -> i64 {
        match self {
            InUse::Yes => 1,
            InUse::No => 0,
            InUse::Unknown => -1,
        }
    }
}

/// A package, as much of it as a finding needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PackageRef {
    pub name: String,
    pub version: String,
    /// `deb`, `npm`, `pypi`, `maven`, `golang`, `cargo`...
    pub ecosystem: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

/// A vulnerability in a workload's image, ranked by the risk model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct VulnFinding {
    pub workload: WorkloadRef,
    pub image: String,
    pub package: PackageRef,
    /// CVE, GHSA, OSV or distribution advisory id.
    pub vulnerability: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub severity: Severity,
    /// The risk model's score, higher is worse.
    pub score: f64,
    /// Why it ranks where it does, in words, most important first.
    #[serde(default)]
    pub reasons: Vec<String>,
    pub in_use: InUse,
    pub exposure: ExposureLevel,
    pub environment: Environment,
    /// Listed in CISA's Known Exploited Vulnerabilities catalogue.
    #[serde(default)]
    pub kev: bool,
    /// EPSS probability (0 to 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
}

impl VulnFinding {
    /// The finding's identity: the same vulnerability in the same package of the same image of
    /// the same workload is one finding, however often it is reported.
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}@{}",
            self.workload,
            self.image,
            self.vulnerability,
            self.package.ecosystem,
            self.package.name,
            self.package.version
        )
    }
}

/// The Kubernetes object a posture finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceRef {
    pub kind: String,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

/// A posture (configuration) finding, in `kestrel scan k8s` JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PostureFinding {
    pub check_id: String,
    pub title: String,
    pub severity: Severity,
    pub resource: ResourceRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// Path of the offending field, e.g. `spec.containers[0].securityContext.privileged`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// OWASP Kubernetes Top 10 category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owasp: Option<String>,
    /// Equivalent controls in other benchmarks (CIS, NSA...), free-form.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub crosswalk: serde_json::Value,
    pub message: String,
}

impl PostureFinding {
    pub fn key(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.check_id,
            self.resource.kind,
            self.resource.namespace.as_deref().unwrap_or(""),
            self.resource.name,
            self.container.as_deref().unwrap_or(""),
            self.path.as_deref().unwrap_or("")
        )
    }
}

/// A node of an attack path: a workload, identity, secret, node, external network...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PathNode {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

/// One step of an attack path, with the reason the step is possible.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PathHop {
    pub from: PathNode,
    pub to: PathNode,
    /// The relation, e.g. `exposes`, `runs_as`, `can_read`, `mounts`, `escapes_to`.
    pub relation: String,
    /// Why this hop exists, in words, naming the evidence.
    pub explanation: String,
}

/// A chain of hops from an entry point to a target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AttackPath {
    /// Stable id chosen by the producer.
    pub id: String,
    pub title: String,
    pub score: f64,
    /// The workload the path goes through first (its entry point).
    pub workload: WorkloadRef,
    pub hops: Vec<PathHop>,
}

/// A full report of one kind from one source: it replaces what that source reported before.
/// `T` is [`Workload`], [`VulnFinding`], [`PostureFinding`] or [`AttackPath`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Snapshot<T> {
    pub cluster: String,
    /// Who reports: a node name for an agent, `scan` for a cluster scan.
    pub source: String,
    /// RFC 3339 time the snapshot was taken. An older snapshot than the stored one is ignored.
    pub generated_at: String,
    pub items: Vec<T>,
}

/// Sensor health as an agent reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SensorHealth {
    pub cluster: String,
    pub node: String,
    /// Kestrel version of the agent.
    pub version: String,
    pub status: SensorStatus,
    /// Events processed since the sensor started.
    pub events_total: u64,
    /// Events lost (ring buffer full, decode errors) since the sensor started.
    pub drops_total: u64,
    pub alerts_total: u64,
    pub events_per_second: f64,
    /// Free-form details: probe results, degraded features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<String>,
    /// Bytes waiting in the agent's on-disk buffer.
    #[serde(default)]
    pub buffer_bytes: u64,
    /// Batches the agent dropped because its buffer was full.
    #[serde(default)]
    pub buffer_dropped_batches: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SensorStatus {
    Ok,
    Degraded,
    Down,
}

str_enum!(SensorStatus, "sensor status", { Ok => "ok", Degraded => "degraded", Down => "down" });

/// A sensor as the server last heard from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredSensor {
    #[serde(flatten)]
    pub health: SensorHealth,
    /// RFC 3339 time of the last report.
    pub last_seen: String,
}

/// A row of the workload list: the workload with what is known about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkloadSummary {
    pub cluster: String,
    #[serde(flatten)]
    pub workload: Workload,
    pub last_seen: String,
    pub vulnerabilities: u64,
    /// Highest risk score among its vulnerabilities.
    pub max_score: f64,
    pub alerts: u64,
}

/// A stored vulnerability finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredVuln {
    pub id: String,
    pub cluster: String,
    #[serde(flatten)]
    pub finding: VulnFinding,
}

/// A stored posture finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredPosture {
    pub id: String,
    pub cluster: String,
    #[serde(flatten)]
    pub finding: PostureFinding,
}

/// A stored attack path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct StoredPath {
    pub cluster: String,
    #[serde(flatten)]
    pub path: AttackPath,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows matching the filter, over all pages.
    pub total: u64,
    pub offset: u64,
    pub limit: u64,
}

/// Role of an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything, changes nothing.
    Read,
    /// Reads and manages tokens.
    Admin,
}

str_enum!(Role, "role", { Read => "read", Admin => "admin" });

/// Who a bearer token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User { token_id: String, role: Role },
    Agent { token_id: String, cluster: String },
}

/// A token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    /// The user token's name or the agent token's cluster.
    pub name: String,
    /// `read`, `admin` or `agent`.
    pub role: String,
    pub created: String,
}

/// A newly created token: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NewToken {
    pub id: String,
    pub token: String,
}

/// A sink delivery that failed every retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeadLetter {
    pub id: String,
    pub sink: String,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub error: String,
    pub attempts: u64,
    pub created: String,
}

/// One hour of the alert timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineBucket {
    /// RFC 3339 start of the hour.
    pub start: String,
    /// Alerts per priority name.
    pub counts: BTreeMap<String, u64>,
}

/// The dashboard's overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Overview {
    pub workloads: u64,
    pub vulnerabilities: u64,
    pub alerts: u64,
    pub posture_findings: u64,
    pub attack_paths: u64,
    pub top_risks: Vec<StoredVuln>,
    pub timeline: Vec<TimelineBucket>,
    pub sensors: Vec<StoredSensor>,
}

pub(crate) fn in_use_code(v: InUse) -> i64 {
    v.code()
}
