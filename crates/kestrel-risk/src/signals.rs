//! The signals that make a vulnerability urgent, each a plain value with a meaning.

use std::collections::BTreeMap;

use kestrel_event::Priority;
use serde::{Deserialize, Serialize};

/// How a process touched a package's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// The file was executed (the process image or an interpreter).
    Exec,
    /// The file was mapped executable (a shared library or extension module).
    Mmap,
    /// The file was opened (a script, a module source read by an interpreter).
    Open,
    /// Found in `/proc/PID/maps` or `/proc/PID/fd` when the snapshot was taken.
    Snapshot,
}

/// One observation tying a package to a running process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub pid: u32,
    pub process: String,
    pub file: String,
    pub kind: EvidenceKind,
    /// Nanoseconds since the Unix epoch.
    pub first_seen: u64,
    pub last_seen: u64,
}

/// Whether a vulnerable package is used at run time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum InUse {
    /// A process of the workload executed, mapped or opened one of the package's files.
    Yes { evidence: Vec<Evidence> },
    /// The workload was observed for `observed_secs` and never touched the package.
    No { observed_secs: u64 },
    /// Not observed long enough (or not at all) to say.
    Unknown,
}

impl InUse {
    pub fn as_str(&self) -> &'static str {
        match self {
            InUse::Yes { .. } => "true",
            InUse::No { .. } => "false",
            InUse::Unknown => "unknown",
        }
    }
}

/// A socket a workload listens on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ListenSocket {
    pub address: String,
    pub port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

impl ListenSocket {
    /// Bound to a loopback address only: unreachable from outside the pod.
    pub fn is_loopback(&self) -> bool {
        self.address.starts_with("127.") || self.address == "::1"
    }
}

/// How traffic from outside the cluster can reach a workload.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ExposureRoute {
    LoadBalancer {
        service: String,
        port: u16,
    },
    NodePort {
        service: String,
        port: u16,
    },
    Ingress {
        name: String,
        host: String,
    },
    /// A Gateway API route to a Service selecting the workload, attached to a Gateway listener.
    /// `internet` is false only when the Gateway is known to be internal (a private address,
    /// an internal load-balancer annotation or class); see `kestrel_k8s::gateway`.
    Gateway {
        /// `namespace/name` of the Gateway.
        gateway: String,
        port: u16,
        /// Route kind (`HTTPRoute`, `GRPCRoute`, `TLSRoute`, `TCPRoute`, `UDPRoute`).
        route_kind: String,
        /// `namespace/name` of the route.
        route: String,
        internet: bool,
    },
    HostNetwork,
    HostPort {
        port: u16,
    },
}

impl ExposureRoute {
    /// Reachable from outside the cluster. Every route is, except one through a Gateway known
    /// to be internal.
    pub fn is_internet(&self) -> bool {
        !matches!(
            self,
            ExposureRoute::Gateway {
                internet: false,
                ..
            }
        )
    }

    /// The route in words, for reasons and reports.
    pub fn describe(&self) -> String {
        match self {
            ExposureRoute::LoadBalancer { service, port } => {
                format!("exposed on {port} via LoadBalancer {service}")
            }
            ExposureRoute::NodePort { service, port } => {
                format!("exposed on node port {port} via Service {service}")
            }
            ExposureRoute::Ingress { name, host } => {
                format!("exposed via Ingress {name} ({host})")
            }
            ExposureRoute::Gateway {
                gateway,
                port,
                route_kind,
                route,
                internet,
            } => {
                let internal = if *internet { "" } else { "internal " };
                format!("exposed on {port} via {internal}Gateway {gateway} ({route_kind} {route})")
            }
            ExposureRoute::HostNetwork => "on the host network".to_owned(),
            ExposureRoute::HostPort { port } => format!("exposed on host port {port}"),
        }
    }
}

/// What is known about a workload's reachability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exposure {
    /// Listening sockets the sensor saw (or the snapshot found).
    #[serde(default)]
    pub listening: Vec<ListenSocket>,
    /// Routes from outside the cluster (Kubernetes objects).
    #[serde(default)]
    pub routes: Vec<ExposureRoute>,
    /// Inbound connections accepted from public (non-private, non-loopback) addresses.
    #[serde(default)]
    pub public_inbound: u64,
}

impl Exposure {
    /// Reachable from the Internet: a route exists or public peers connected.
    pub fn is_internet(&self) -> bool {
        self.routes.iter().any(ExposureRoute::is_internet) || self.public_inbound > 0
    }

    /// Listens on a non-loopback address or is routed to by an internal Gateway (reachable
    /// inside the cluster).
    pub fn is_listening(&self) -> bool {
        self.listening.iter().any(|l| !l.is_loopback()) || !self.routes.is_empty()
    }

    /// Words for the reasons list; `None` when not exposed at all.
    pub fn describe(&self) -> Option<String> {
        let mut parts: Vec<String> = self.routes.iter().map(ExposureRoute::describe).collect();
        if self.public_inbound > 0 {
            parts.push(format!(
                "{} inbound connection(s) from public addresses",
                self.public_inbound
            ));
        }
        if parts.is_empty() {
            let ports: Vec<String> = self
                .listening
                .iter()
                .filter(|l| !l.is_loopback())
                .map(|l| format!("{}/{}", l.port, l.protocol))
                .collect();
            if ports.is_empty() {
                return None;
            }
            return Some(format!(
                "listening on {} (cluster-internal)",
                ports.join(", ")
            ));
        }
        Some(parts.join(", "))
    }
}

/// The deployment environment of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    Production,
    Staging,
    Test,
    Sandbox,
    Unknown,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
            Environment::Test => "test",
            Environment::Sandbox => "sandbox",
            Environment::Unknown => "unknown",
        }
    }
}

/// Maps namespace names and labels to environments. Configurable; the default recognises common
/// conventions (`prod`, `production`, `prd`, `stg`, `staging`, `dev`, `test`, `qa`, `sandbox`)
/// as whole words of the namespace name and the values of `env`/`environment`/`tier` labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentMap {
    /// Label keys consulted first, in order.
    pub label_keys: Vec<String>,
    /// Word → environment.
    pub words: BTreeMap<String, Environment>,
}

impl Default for EnvironmentMap {
    fn default() -> Self {
        let mut words = BTreeMap::new();
        for w in ["prod", "production", "prd", "live"] {
            words.insert(w.to_owned(), Environment::Production);
        }
        for w in ["stg", "stage", "staging", "preprod", "uat"] {
            words.insert(w.to_owned(), Environment::Staging);
        }
        for w in ["dev", "development", "test", "testing", "qa", "ci"] {
            words.insert(w.to_owned(), Environment::Test);
        }
        for w in ["sandbox", "playground", "demo", "scratch"] {
            words.insert(w.to_owned(), Environment::Sandbox);
        }
        EnvironmentMap {
            label_keys: vec![
                "environment".into(),
                "env".into(),
                "app.kubernetes.io/environment".into(),
                "tier".into(),
            ],
            words,
        }
    }
}

impl EnvironmentMap {
    /// Builds a map from configuration: label keys and, per environment name (`production`,
    /// `staging`, `test`, `sandbox`), the words that mean it. An unknown environment name is an
    /// error naming it.
    pub fn from_config(
        label_keys: &[String],
        words: &BTreeMap<String, Vec<String>>,
    ) -> Result<EnvironmentMap, String> {
        let mut map = BTreeMap::new();
        for (env, ws) in words {
            let e = match env.as_str() {
                "production" => Environment::Production,
                "staging" => Environment::Staging,
                "test" => Environment::Test,
                "sandbox" => Environment::Sandbox,
                other => {
                    return Err(format!(
                        "unknown environment {other:?} in [risk] environment_words (expected production, staging, test or sandbox)"
                    ));
                }
            };
            for w in ws {
                map.insert(w.to_ascii_lowercase(), e);
            }
        }
        Ok(EnvironmentMap {
            label_keys: label_keys.to_vec(),
            words: map,
        })
    }

    /// Classifies by labels first (pod, then namespace), then by namespace name words.
    pub fn classify(
        &self,
        namespace: &str,
        pod_labels: &BTreeMap<String, String>,
        namespace_labels: &BTreeMap<String, String>,
    ) -> Environment {
        for labels in [pod_labels, namespace_labels] {
            for key in &self.label_keys {
                if let Some(v) = labels.get(key)
                    && let Some(e) = self.word(v)
                {
                    return e;
                }
            }
        }
        namespace
            .split(['-', '_', '.'])
            .find_map(|w| self.word(w))
            .unwrap_or(Environment::Unknown)
    }

    fn word(&self, w: &str) -> Option<Environment> {
        self.words.get(&w.to_ascii_lowercase()).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_classification() {
        let m = EnvironmentMap::default();
        let none = BTreeMap::new();
        let mut prod = BTreeMap::new();
        prod.insert("env".to_owned(), "Prod".to_owned());
        assert_eq!(m.classify("shop", &prod, &none), Environment::Production);
        assert_eq!(m.classify("shop", &none, &prod), Environment::Production);
        assert_eq!(
            m.classify("payments-staging", &none, &none),
            Environment::Staging
        );
        assert_eq!(m.classify("shop", &none, &none), Environment::Unknown);
        // Words, not substrings: "product" is not "prod".
        assert_eq!(
            m.classify("product-api", &none, &none),
            Environment::Unknown
        );

        let mut words = BTreeMap::new();
        words.insert("production".to_owned(), vec!["shop".to_owned()]);
        let custom = EnvironmentMap::from_config(&["stage".to_owned()], &words).unwrap();
        assert_eq!(
            custom.classify("shop", &none, &none),
            Environment::Production
        );
        words.insert("prodution".to_owned(), vec![]);
        let e = EnvironmentMap::from_config(&[], &words).unwrap_err();
        assert!(e.contains("prodution"), "{e}");
    }
}

/// Alerts raised on a workload in the recent window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attacked {
    /// Count of alerts per priority.
    pub counts: BTreeMap<Priority, u64>,
    /// Distinct rule names, for the reasons.
    pub rules: Vec<String>,
}

impl Attacked {
    pub fn record(&mut self, rule: &str, priority: Priority) {
        self.record_n(rule, priority, 1);
    }

    /// Records `n` alerts of one rule and priority.
    pub fn record_n(&mut self, rule: &str, priority: Priority, n: u64) {
        *self.counts.entry(priority).or_default() += n;
        if !self.rules.iter().any(|r| r == rule) {
            self.rules.push(rule.to_owned());
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// The most severe priority seen.
    pub fn worst(&self) -> Option<Priority> {
        self.counts.keys().next().copied()
    }
}

/// How likely and how bad exploitation is, from the advisory data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Exploitability {
    /// CVSS base score (0–10) when known.
    pub cvss: Option<f64>,
    /// Severity word (`CRITICAL`, `HIGH`, `MEDIUM`, `LOW`) when no CVSS score is known.
    pub severity: Option<String>,
    /// In CISA's Known Exploited Vulnerabilities catalog.
    pub kev: bool,
    /// KEV says it is known to be used in ransomware campaigns.
    pub kev_ransomware: bool,
    /// FIRST EPSS probability (0–1) and percentile (0–1).
    pub epss: Option<(f64, f64)>,
    /// Versions that fix it, empty when no fix exists.
    pub fixed_versions: Vec<String>,
}
