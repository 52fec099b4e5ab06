//! Container and pod identity.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A container id as the runtime knows it: 64 lowercase hex characters for every runtime we
/// support.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    /// Accepts exactly 64 hex characters (any case, stored lower-case).
    pub fn parse(s: &str) -> Option<ContainerId> {
        (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| ContainerId(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 12-character short form that `docker ps` and `podman ps` print.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The container runtime that created a container, as recognised from its cgroup path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerRuntime {
    Containerd,
    Crio,
    Docker,
    Podman,
}

/// An image reference split the way Falco's `container.image.*` fields split it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    /// `docker.io/library/nginx`, `localhost/kestrel-test`.
    pub repository: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `sha256:...` manifest digest when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The image id (config digest) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// The Kubernetes pod a container belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    pub uid: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// What is known about a container. Only `id` is guaranteed; the rest arrives from the runtime
/// or the Kubernetes API and may be missing when an event is emitted before resolution
/// completes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    pub id: ContainerId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<ContainerRuntime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    /// Pod uid from the kubelet-shaped cgroup path, with name/namespace once resolved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodInfo>,
}

impl ContainerInfo {
    /// A container known only by its id.
    pub fn bare(id: ContainerId) -> Self {
        ContainerInfo {
            id,
            runtime: None,
            name: None,
            image: None,
            labels: BTreeMap::new(),
            privileged: None,
            pod: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_id_parse() {
        let hex = "A".repeat(64);
        let id = ContainerId::parse(&hex).unwrap();
        assert_eq!(id.as_str(), "a".repeat(64));
        assert_eq!(id.short().len(), 12);
        assert!(ContainerId::parse("abc").is_none());
        assert!(ContainerId::parse(&"g".repeat(64)).is_none());
    }
}
