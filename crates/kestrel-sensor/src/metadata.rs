//! The seam between the sensor and container metadata resolution.
//!
//! The sensor knows a container by the id in its cgroup path. Its name, image, labels and pod
//! come from the container runtime or the Kubernetes API, which the container crate resolves
//! asynchronously; the sensor asks through [`MetadataSource`] and never blocks on the answer.

use kestrel_container::{CgroupIdentity, ContainerResolver};
use std::sync::Arc;

use kestrel_event::ContainerInfo;

/// What a metadata source knows about a container right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Resolved.
    Ready(Arc<ContainerInfo>),
    /// Resolution is under way: the pipeline holds the container's events briefly.
    Pending,
    /// The source will not learn more (unknown runtime, container gone).
    Unknown,
}

/// A non-blocking container metadata lookup. Implementations start resolution on the first
/// `Pending` answer and must return quickly: this is called on the event path.
pub trait MetadataSource: Send + Sync {
    fn lookup(&self, identity: &CgroupIdentity) -> Lookup;
}

/// The container crate's resolver: podman/Docker APIs and the Kubernetes pod watch.
impl MetadataSource for ContainerResolver {
    fn lookup(&self, identity: &CgroupIdentity) -> Lookup {
        let info = self.resolve(identity);
        if self.is_resolved(&identity.container_id) {
            Lookup::Ready(info)
        } else {
            Lookup::Pending
        }
    }
}
