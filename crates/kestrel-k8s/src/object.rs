//! Object identity: which kind, which object, and where it was read from.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

/// The Kubernetes kinds the model understands. Anything else is counted as ignored, never
/// silently treated as one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Namespace,
    Node,
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
    Service,
    Ingress,
    NetworkPolicy,
    ServiceAccount,
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
    ConfigMap,
    Secret,
    /// Per-namespace defaults and bounds for container resources (`v1` LimitRange); its
    /// defaults are what the LimitRanger admission plugin writes into containers that omit them.
    LimitRange,
    /// A kubelet configuration file (`kubelet.config.k8s.io/v1beta1`): read from files only,
    /// not an API object, so not in [`Kind::ALL`].
    KubeletConfiguration,
    /// The API server's encryption-at-rest configuration file (`apiserver.config.k8s.io/v1`,
    /// `--encryption-provider-config`): read from files only, not in [`Kind::ALL`].
    EncryptionConfiguration,
    /// The cluster itself, as its API server reports it (`GET /version`): not an object,
    /// never read from a manifest kind; findings about the cluster's version name it.
    Cluster,
}

impl Kind {
    /// Every kind, in the order a live scan lists them.
    pub const ALL: [Kind; 21] = [
        Kind::Namespace,
        Kind::Node,
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicaSet,
        Kind::ReplicationController,
        Kind::Job,
        Kind::CronJob,
        Kind::Service,
        Kind::Ingress,
        Kind::NetworkPolicy,
        Kind::ServiceAccount,
        Kind::Role,
        Kind::ClusterRole,
        Kind::RoleBinding,
        Kind::ClusterRoleBinding,
        Kind::ConfigMap,
        Kind::Secret,
        Kind::LimitRange,
    ];

    /// The `kind` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::ReplicationController => "ReplicationController",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::Service => "Service",
            Kind::Ingress => "Ingress",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::ServiceAccount => "ServiceAccount",
            Kind::Role => "Role",
            Kind::ClusterRole => "ClusterRole",
            Kind::RoleBinding => "RoleBinding",
            Kind::ClusterRoleBinding => "ClusterRoleBinding",
            Kind::ConfigMap => "ConfigMap",
            Kind::Secret => "Secret",
            Kind::LimitRange => "LimitRange",
            Kind::KubeletConfiguration => "KubeletConfiguration",
            Kind::EncryptionConfiguration => "EncryptionConfiguration",
            Kind::Cluster => "Cluster",
        }
    }

    /// The API group/version this model reads the kind from.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Namespace
            | Kind::Node
            | Kind::Pod
            | Kind::ReplicationController
            | Kind::Service
            | Kind::ServiceAccount
            | Kind::ConfigMap
            | Kind::Secret
            | Kind::LimitRange => "v1",
            Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet | Kind::ReplicaSet => "apps/v1",
            Kind::Job | Kind::CronJob => "batch/v1",
            Kind::Ingress | Kind::NetworkPolicy => "networking.k8s.io/v1",
            Kind::Role | Kind::ClusterRole | Kind::RoleBinding | Kind::ClusterRoleBinding => {
                "rbac.authorization.k8s.io/v1"
            }
            Kind::KubeletConfiguration => "kubelet.config.k8s.io/v1beta1",
            Kind::EncryptionConfiguration => "apiserver.config.k8s.io/v1",
            // Not an API object: `/version` is outside every group.
            Kind::Cluster => "",
        }
    }

    /// The plural resource name used in API paths and RBAC rules.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Node => "nodes",
            Kind::Pod => "pods",
            Kind::Deployment => "deployments",
            Kind::StatefulSet => "statefulsets",
            Kind::DaemonSet => "daemonsets",
            Kind::ReplicaSet => "replicasets",
            Kind::ReplicationController => "replicationcontrollers",
            Kind::Job => "jobs",
            Kind::CronJob => "cronjobs",
            Kind::Service => "services",
            Kind::Ingress => "ingresses",
            Kind::NetworkPolicy => "networkpolicies",
            Kind::ServiceAccount => "serviceaccounts",
            Kind::Role => "roles",
            Kind::ClusterRole => "clusterroles",
            Kind::RoleBinding => "rolebindings",
            Kind::ClusterRoleBinding => "clusterrolebindings",
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
            Kind::LimitRange => "limitranges",
            Kind::KubeletConfiguration => "kubeletconfigurations",
            Kind::EncryptionConfiguration => "encryptionconfigurations",
            Kind::Cluster => "",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn is_namespaced(self) -> bool {
        !matches!(
            self,
            Kind::Namespace
                | Kind::Node
                | Kind::ClusterRole
                | Kind::ClusterRoleBinding
                | Kind::KubeletConfiguration
                | Kind::EncryptionConfiguration
                | Kind::Cluster
        )
    }

    /// Looks a kind up by its `apiVersion` and `kind` fields. Deprecated API versions of the
    /// same kind (for example `extensions/v1beta1` Deployments) are not accepted: their schema
    /// differs and reading them as the current one would invent defaults.
    pub fn from_type(api_version: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .into_iter()
            .chain([Kind::KubeletConfiguration, Kind::EncryptionConfiguration])
            .find(|k| k.as_str() == kind && k.api_version() == api_version)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which object: kind, namespace (absent for cluster-scoped objects and for manifests that
/// leave it to `kubectl apply -n`) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Where an object was read from, for reports that point back at the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    /// A file path, `<stdin>`, or the cluster's URL.
    pub source: Arc<str>,
    /// The 1-based document within a multi-document YAML stream (1 for JSON and live lists).
    pub document: usize,
    /// The 1-based line the document starts on, when known.
    pub line: Option<usize>,
}

/// An object together with the place it was read from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    pub object: T,
    pub origin: Origin,
}
