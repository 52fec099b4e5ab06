//! The real test environment that Kestrel's integration tests run against.
//!
//! It owns two things, both built from `tests/env/` in the repository:
//!
//! - [`TestImage`]: a debootstrapped Debian bookworm root filesystem with a
//!   Python venv and a Node app holding pinned, old PyPI and npm packages
//!   (some loaded by the apps at run time, others never), as a directory, an
//!   OCI image layout, an oci-archive, a docker-archive and a podman image.
//!   It is built once per content of `tests/env/` and cached (see
//!   [`image`](crate::image) for the cache layout and locking), so repeat runs
//!   take seconds.
//! - [`TestPod`]: `tests/env/pod.yaml` (two containers, two users) running
//!   under podman with no network but loopback, in kubelet-shaped cgroups
//!   (`/kubepods/besteffort/pod<uid>/libpod-<container id>`), removed when
//!   dropped, even when the test panics.
//!
//! ```no_run
//! let image = kestrel_testenv::TestImage::get()?;
//! let pod = kestrel_testenv::TestPod::start(&image)?;
//! let python = pod.container("python")?;
//! let cgroup = std::fs::read_to_string(format!("/proc/{}/cgroup", python.pid)).unwrap();
//! assert!(cgroup.contains(python.id.as_str()));
//! # Ok::<(), kestrel_testenv::Error>(())
//! ```
//!
//! Everything here needs root, debootstrap, umoci, skopeo, podman and runc
//! (see `.ci/apt-packages.txt`) and the Debian, PyPI and npm registries for a
//! cold build. `docs/testing.md` describes the contents and timings.
//!
//! Architecture invariant: this crate is test infrastructure only: no Kestrel
//! crate depends on it outside `[dev-dependencies]`, and it depends on no
//! Kestrel crate, so the ground truth it records (packages installed and
//! loaded, ids, PIDs) never shares code with the components it checks.

pub mod cmd;
mod error;
pub mod image;
pub mod manifest;
pub mod pod;
pub mod podspec;
mod service;

pub use cmd::{containers_conf, env_dir, podman};
pub use error::{Error, Result};
pub use image::TestImage;
pub use manifest::{App, Ecosystem, InstalledPackage, Manifest};
pub use pod::{ContainerId, PodContainer, PodInfo, PodUid, TestPod};
pub use service::PodmanService;
