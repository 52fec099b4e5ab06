//! The one normalized runtime event model.
//!
//! Every runtime fact Kestrel knows flows through these types: the sensor decodes kernel records
//! into an [`Event`], enrichment attaches the [`ProcessInfo`] (with its ancestry) and the
//! [`ContainerInfo`] (with its [`PodInfo`]), the rule engine reads them, and alerts
//! ([`Alert`]) refer back to them. The JSON form (serde) is the `kestrel watch --events` and
//! `--record` format, documented in `docs/events.md`.
//!
//! Architecture invariant: this crate is plain data with no dependency on the kernel, the
//! network, the container runtime or Kubernetes. Adding a field is backwards compatible for
//! recorded streams (`#[serde(default)]`); renaming or removing one is not.

mod alert;
mod container;
mod event;
mod process;

pub use alert::{Alert, EnforcementAction, Priority, UnknownPriority};
pub use container::{ContainerId, ContainerInfo, ContainerRuntime, ImageRef, PodInfo};
pub use event::{
    DnsMessage, DnsRecord, Event, EventKind, FileId, LinkKind, NetProtocol, OpenFlags, Sensor,
    SockAddr, SocketFamily,
};
pub use process::{Capabilities, Credentials, ExeInfo, Namespaces, ProcessInfo};
