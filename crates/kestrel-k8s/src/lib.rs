//! The Kubernetes object model of Kestrel.
//!
//! This crate owns reading Kubernetes objects (manifests, `kubectl get -o json` dumps and live
//! read-only lists) into one typed [`Inventory`], and the derived views every consumer shares:
//! the effective pod spec of each workload and container ([`pod`]) and RBAC with aggregated
//! ClusterRoles expanded and rules resolved per subject ([`rbac`]). Posture checks, the risk
//! engine and attack-path analysis all read this model; none of them parses YAML or calls the
//! API server.
//!
//! ```
//! let mut inv = kestrel_k8s::Inventory::new();
//! kestrel_k8s::load::load_str(&mut inv, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: c, image: nginx}]\n", "p.yaml").unwrap();
//! let pods = kestrel_k8s::pod::workloads(&inv);
//! assert_eq!(pods[0].containers[0].name, "c");
//! ```
//!
//! Architecture invariant: only [`load`] reads files and only [`live`] talks to an API server,
//! and the live path only ever lists (never creates, patches or deletes). Everything else is a
//! pure function of the inventory.

pub mod encryption;
pub mod error;
pub mod gateway;
pub mod inventory;
pub mod limits;
pub mod live;
pub mod load;
pub mod object;
pub mod pod;
pub mod rbac;
pub mod selector;

pub use error::{LiveError, LoadError};
pub use inventory::{ClusterVersion, Ignored, Inventory, NotAssessed};
pub use object::{Kind, Located, ObjectRef, Origin};
