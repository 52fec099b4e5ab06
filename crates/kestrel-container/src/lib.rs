//! Container and pod identity for runtime events.
//!
//! This crate answers "which container, and which pod, does this process belong to?":
//!
//! - [`identify_cgroup`] recognises a container id, its runtime and its pod uid from a cgroup
//!   path (containerd, CRI-O, Docker and podman; systemd and cgroupfs drivers; kubelet-shaped
//!   paths). It is pure and allocation-light because the sensor calls it for every new process.
//! - [`container_of_pid`] reads `/proc/PID/cgroup` and applies [`identify_cgroup`].
//! - [`RuntimeClient`] asks podman (libpod API), Docker (Engine API) or containerd and CRI-O
//!   (the CRI over gRPC) for a container's name, image, labels and privilege, read-only over the
//!   runtime's unix socket.
//! - [`watch_node_pods`] keeps a [`PodCache`] of the pods on this node from the Kubernetes API,
//!   which names the containers containerd and CRI-O run.
//!
//! Architecture invariant: cgroup identification is a pure function of the path text; nothing in
//! this crate writes to a container runtime or to the Kubernetes API (it only reads), and nothing
//! on the per-process path blocks on the network.

mod cgroup;
pub mod cri;
pub mod pods;
mod resolver;
pub mod runtime;

pub use pods::{PodCache, PodContainer, WatchStatus, watch_node_pods};
pub use resolver::{ContainerResolver, ResolverOptions};
pub use runtime::{RuntimeApi, RuntimeClient, RuntimeError};

pub use cgroup::{
    CgroupIdentity, PodQos, ProcError, RunningContainer, container_of_pid, container_of_pid_in,
    containers_in_proc, identify_cgroup, identify_proc_cgroup,
};
