//! Container identity from cgroup paths.
//!
//! Every container runtime puts a container's processes in a cgroup whose last component names
//! the container; kubelet puts that cgroup under a per-pod cgroup under a per-QoS-class cgroup.
//! What the components look like depends on the runtime and on the cgroup driver:
//!
//! | Runtime, driver | Container cgroup |
//! |---|---|
//! | containerd (CRI), systemd | `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice/cri-containerd-<id>.scope` |
//! | containerd or cri-dockerd (CRI), cgroupfs | `/kubepods/besteffort/pod<uid>/<id>` |
//! | CRI-O, systemd / cgroupfs | `.../crio-<id>.scope` / `.../crio-<id>` |
//! | Docker, systemd / cgroupfs | `/system.slice/docker-<id>.scope` / `/docker/<id>` |
//! | podman, systemd / cgroupfs | `/machine.slice/libpod-<id>.scope` / `/libpod_parent/libpod-<id>` |
//! | podman in a pod with `--cgroup-parent` | `/kubepods/besteffort/pod<uid>/<pod-id>/libpod-<id>` |
//!
//! Runtime helper processes have cgroups of their own (`libpod-conmon-<id>`, `<pod-id>/conmon`,
//! `crio-conmon-<id>.scope`); they are not inside the container and are not identified as it.
//!
//! The path is read from the deepest component up, so a container nested in another (kind nodes
//! are Docker containers running containerd) is identified as the innermost one, and cgroups a
//! container creates below its own (systemd inside a container) still identify it.
//!
//! Architecture invariant: identification is a pure function of the path text; it never touches
//! the file system and allocates only for its result.

use std::io;
use std::path::{Path, PathBuf};

use kestrel_event::{ContainerId, ContainerRuntime};
use serde::{Deserialize, Serialize};

/// What a cgroup path says about the container a process runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupIdentity {
    pub container_id: ContainerId,
    /// `None` when the path does not say: kubelet's cgroupfs driver names a container's cgroup by
    /// its bare id for both containerd and cri-dockerd, and so does `ctr run`.
    pub runtime: Option<ContainerRuntime>,
    /// The pod uid from a kubelet-shaped path, in its API form (dashes, not underscores).
    pub pod_uid: Option<String>,
    /// The pod's QoS class from a kubelet-shaped path.
    pub qos: Option<PodQos>,
}

/// A pod's Kubernetes QoS class, which kubelet encodes in the cgroup hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PodQos {
    Guaranteed,
    Burstable,
    BestEffort,
}

/// What one cgroup path component names.
enum Component {
    Container(ContainerId, Option<ContainerRuntime>),
    /// A runtime's monitor process (conmon) beside a container, not in it.
    Monitor,
}

/// Prefixes of container cgroup names, in match order (the conmon prefixes must come before the
/// container prefixes they extend).
const PREFIXES: &[(&str, Option<Option<ContainerRuntime>>)] = &[
    ("libpod-conmon-", None),
    ("crio-conmon-", None),
    ("cri-containerd-", Some(Some(ContainerRuntime::Containerd))),
    ("crio-", Some(Some(ContainerRuntime::Crio))),
    ("docker-", Some(Some(ContainerRuntime::Docker))),
    ("libpod-", Some(Some(ContainerRuntime::Podman))),
    ("nerdctl-", Some(Some(ContainerRuntime::Containerd))),
];

fn classify(component: &str, parent: Option<&str>) -> Option<Component> {
    let name = component.strip_suffix(".scope").unwrap_or(component);
    if name == "conmon" {
        // podman with the cgroupfs manager puts a pod's conmon processes in `<pod-id>/conmon`,
        // whose parent would otherwise read as a container id.
        return Some(Component::Monitor);
    }
    for (prefix, runtime) in PREFIXES {
        if let Some(rest) = name.strip_prefix(prefix) {
            let id = ContainerId::parse(rest)?;
            return Some(match runtime {
                Some(runtime) => Component::Container(id, *runtime),
                None => Component::Monitor,
            });
        }
    }
    let id = ContainerId::parse(name)?;
    let runtime = match parent {
        Some("docker") => Some(ContainerRuntime::Docker),
        _ => None,
    };
    Some(Component::Container(id, runtime))
}

/// Identifies the container of a cgroup.
///
/// `path` is a cgroup path (`/kubepods/besteffort/pod<uid>/<id>`) or a whole line of
/// `/proc/PID/cgroup`, cgroup v1 (`4:pids:/docker/<id>`) or v2 (`0::/system.slice/...`).
/// Returns `None` for a process outside any container, and for a runtime's monitor process.
pub fn identify_cgroup(path: &str) -> Option<CgroupIdentity> {
    match scan(path) {
        Scan::Container(identity) => Some(identity),
        Scan::Monitor | Scan::Nothing => None,
    }
}

enum Scan {
    Container(CgroupIdentity),
    Monitor,
    Nothing,
}

fn scan(line: &str) -> Scan {
    let path = if line.starts_with('/') {
        line
    } else {
        // `hierarchy-id:controllers:path`; the path itself may contain ':'.
        match line.splitn(3, ':').nth(2) {
            Some(path) => path,
            None => return Scan::Nothing,
        }
    };
    let mut components = path
        .trim_end()
        .rsplit('/')
        .filter(|c| !c.is_empty())
        .peekable();
    let (container_id, runtime) = loop {
        let Some(component) = components.next() else {
            return Scan::Nothing;
        };
        match classify(component, components.peek().copied()) {
            Some(Component::Container(id, runtime)) => break (id, runtime),
            Some(Component::Monitor) => return Scan::Monitor,
            None => {}
        }
    };
    let (pod_uid, qos) = kubelet_pod(components);
    Scan::Container(CgroupIdentity {
        container_id,
        runtime,
        pod_uid,
        qos,
    })
}

/// Reads the pod uid and QoS class from the components above a container's cgroup, deepest
/// first.
fn kubelet_pod<'a>(components: impl Iterator<Item = &'a str>) -> (Option<String>, Option<PodQos>) {
    let mut pod_uid = None;
    let mut qos = None;
    let mut under_kubepods = false;
    for component in components {
        let name = component.strip_suffix(".slice").unwrap_or(component);
        if pod_uid.is_none() {
            // systemd: `kubepods-burstable-pod<uid with _>`; cgroupfs: `pod<uid>`.
            let last = if name.starts_with("kubepods-") {
                name.rsplit('-').next().unwrap_or(name)
            } else {
                name
            };
            if let Some(uid) = last.strip_prefix("pod").filter(|u| is_pod_uid(u)) {
                pod_uid = Some(uid.replace('_', "-"));
                continue;
            }
        }
        if name == "kubepods" || name.starts_with("kubepods-") || name.starts_with("kubepods.") {
            under_kubepods = true;
            if qos.is_none() {
                if name.ends_with("besteffort") {
                    qos = Some(PodQos::BestEffort);
                } else if name.ends_with("burstable") {
                    qos = Some(PodQos::Burstable);
                }
            }
        } else if qos.is_none() && pod_uid.is_some() && !under_kubepods {
            // cgroupfs QoS components are plain names below `kubepods`.
            match name {
                "besteffort" => qos = Some(PodQos::BestEffort),
                "burstable" => qos = Some(PodQos::Burstable),
                _ => {}
            }
        }
    }
    if !under_kubepods {
        return (None, None);
    }
    if pod_uid.is_some() && qos.is_none() {
        // Guaranteed pods sit directly below `kubepods`.
        qos = Some(PodQos::Guaranteed);
    }
    (pod_uid, qos)
}

/// A pod uid as kubelet writes it in a cgroup name: a UUID (API-created pods, 36 characters) or
/// an md5 hex digest (static pods, 32 characters), with `_` for `-` under the systemd driver.
fn is_pod_uid(s: &str) -> bool {
    (s.len() == 36 || s.len() == 32)
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-' || b == b'_')
}

/// Identifies the container from the whole text of a `/proc/PID/cgroup` file: the first line
/// that names a container, or a runtime monitor, decides (all lines name the same cgroup on a
/// real host, but on hybrid v1/v2 hosts the v2 line may be just `/`).
pub fn identify_proc_cgroup(text: &str) -> Option<CgroupIdentity> {
    for line in text.lines() {
        match scan(line) {
            Scan::Container(identity) => return Some(identity),
            Scan::Monitor => return None,
            Scan::Nothing => {}
        }
    }
    None
}

/// Reading `/proc/PID/cgroup` failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct ProcError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl ProcError {
    /// The process exited before its cgroup could be read.
    pub fn process_exited(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
        ) || self.source.raw_os_error() == Some(3) // ESRCH
    }
}

/// The container of process `pid`, from `/proc/PID/cgroup`.
pub fn container_of_pid(pid: u32) -> Result<Option<CgroupIdentity>, ProcError> {
    container_of_pid_in(Path::new("/proc"), pid)
}

/// The container of process `pid` from a proc file system mounted at `proc_root` (a sensor in a
/// container sees the host's at, say, `/host/proc`).
pub fn container_of_pid_in(
    proc_root: &Path,
    pid: u32,
) -> Result<Option<CgroupIdentity>, ProcError> {
    let path = proc_root.join(pid.to_string()).join("cgroup");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(identify_proc_cgroup(&text)),
        Err(source) => Err(ProcError { path, source }),
    }
}

/// A container with processes running now, as found by [`containers_in_proc`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunningContainer {
    pub identity: CgroupIdentity,
    /// Its processes, ascending.
    pub pids: Vec<u32>,
}

/// Every container with a process under `proc_root`, by container id, each with its processes.
/// Processes that exit during the scan are skipped.
pub fn containers_in_proc(proc_root: &Path) -> Result<Vec<RunningContainer>, ProcError> {
    let entries = std::fs::read_dir(proc_root).map_err(|source| ProcError {
        path: proc_root.to_owned(),
        source,
    })?;
    let mut pids: Vec<u32> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let mut found: std::collections::BTreeMap<ContainerId, RunningContainer> =
        std::collections::BTreeMap::new();
    for pid in pids {
        match container_of_pid_in(proc_root, pid) {
            Ok(Some(identity)) => found
                .entry(identity.container_id.clone())
                .or_insert_with(|| RunningContainer {
                    identity,
                    pids: Vec::new(),
                })
                .pids
                .push(pid),
            Ok(None) => {}
            Err(e) if e.process_exited() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(found.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    const ID: &str = "3f1c6f4e0b7a4c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d";
    const ID2: &str = "aa1c6f4e0b7a4c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7cff";
    const UID: &str = "3ff4e486-5a28-4fbb-a3a0-b49d9427886b";
    const UID_: &str = "3ff4e486_5a28_4fbb_a3a0_b49d9427886b";

    /// Renders what `identify_cgroup` says about `input` (with `{id}`, `{id2}`, `{uid}` and
    /// `{uid_}` substituted) in one line, with the ids shortened so tables stay readable.
    fn check(input: &str, expect: Expect) {
        let input = input
            .replace("{id}", ID)
            .replace("{id2}", ID2)
            .replace("{uid}", UID)
            .replace("{uid_}", UID_);
        let actual = match identify_cgroup(&input) {
            None => "none".to_owned(),
            Some(i) => format!(
                "id={} runtime={} pod={} qos={}",
                i.container_id.short(),
                i.runtime.map_or("?".to_owned(), |r| format!("{r:?}")),
                i.pod_uid.as_deref().unwrap_or("-"),
                i.qos.map_or("-".to_owned(), |q| format!("{q:?}")),
            ),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn containerd_systemd() {
        check(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{id}.scope",
            expect![
                "id=3f1c6f4e0b7a runtime=Containerd pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=Burstable"
            ],
        );
        check(
            "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/cri-containerd-{id}.scope",
            expect![
                "id=3f1c6f4e0b7a runtime=Containerd pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=BestEffort"
            ],
        );
        // Guaranteed pods have no QoS slice.
        check(
            "/kubepods.slice/kubepods-pod{uid_}.slice/cri-containerd-{id}.scope",
            expect![
                "id=3f1c6f4e0b7a runtime=Containerd pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=Guaranteed"
            ],
        );
    }

    #[test]
    fn kubelet_cgroupfs() {
        check(
            "/kubepods/besteffort/pod{uid}/{id}",
            expect![
                "id=3f1c6f4e0b7a runtime=? pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=BestEffort"
            ],
        );
        check(
            "/kubepods/burstable/pod{uid}/{id}",
            expect![
                "id=3f1c6f4e0b7a runtime=? pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=Burstable"
            ],
        );
        check(
            "/kubepods/pod{uid}/{id}",
            expect![
                "id=3f1c6f4e0b7a runtime=? pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=Guaranteed"
            ],
        );
        // Static pods: the uid is an md5 digest.
        check(
            "/kubepods/burstable/pod6f1e1c3b0d2a4e5f8a9b0c1d2e3f4a5b/{id}",
            expect!["id=3f1c6f4e0b7a runtime=? pod=6f1e1c3b0d2a4e5f8a9b0c1d2e3f4a5b qos=Burstable"],
        );
        // cgroup v1, several controllers on one line.
        check(
            "11:cpu,cpuacct:/kubepods/besteffort/pod{uid}/{id}",
            expect![
                "id=3f1c6f4e0b7a runtime=? pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=BestEffort"
            ],
        );
    }

    #[test]
    fn crio() {
        check(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/crio-{id}.scope",
            expect![
                "id=3f1c6f4e0b7a runtime=Crio pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=Burstable"
            ],
        );
        check(
            "/kubepods/besteffort/pod{uid}/crio-{id}",
            expect![
                "id=3f1c6f4e0b7a runtime=Crio pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=BestEffort"
            ],
        );
        check(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/crio-conmon-{id}.scope",
            expect!["none"],
        );
    }

    #[test]
    fn docker() {
        check(
            "/docker/{id}",
            expect!["id=3f1c6f4e0b7a runtime=Docker pod=- qos=-"],
        );
        check(
            "/system.slice/docker-{id}.scope",
            expect!["id=3f1c6f4e0b7a runtime=Docker pod=- qos=-"],
        );
        check(
            "12:memory:/docker/{id}",
            expect!["id=3f1c6f4e0b7a runtime=Docker pod=- qos=-"],
        );
        check(
            "1:name=systemd:/system.slice/docker-{id}.scope",
            expect!["id=3f1c6f4e0b7a runtime=Docker pod=- qos=-"],
        );
        // cri-dockerd with the systemd driver.
        check(
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/docker-{id}.scope",
            expect![
                "id=3f1c6f4e0b7a runtime=Docker pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=BestEffort"
            ],
        );
        // systemd running inside the container creates cgroups below the container's.
        check(
            "/system.slice/docker-{id}.scope/init.scope",
            expect!["id=3f1c6f4e0b7a runtime=Docker pod=- qos=-"],
        );
    }

    #[test]
    fn podman() {
        check(
            "/machine.slice/libpod-{id}.scope",
            expect!["id=3f1c6f4e0b7a runtime=Podman pod=- qos=-"],
        );
        check(
            "/machine.slice/libpod-{id}.scope/container",
            expect!["id=3f1c6f4e0b7a runtime=Podman pod=- qos=-"],
        );
        check(
            "/libpod_parent/libpod-{id}",
            expect!["id=3f1c6f4e0b7a runtime=Podman pod=- qos=-"],
        );
        check(
            "0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{id}.scope",
            expect!["id=3f1c6f4e0b7a runtime=Podman pod=- qos=-"],
        );
        // A podman pod created with --cgroup-parent: the pod's own cgroup is named by the podman
        // pod id, the container's below it.
        check(
            "/kubepods/besteffort/pod{uid}/{id2}/libpod-{id}",
            expect![
                "id=3f1c6f4e0b7a runtime=Podman pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=BestEffort"
            ],
        );
        check("/machine.slice/libpod-conmon-{id}.scope", expect!["none"]);
        check(
            "/kubepods/besteffort/pod{uid}/{id2}/libpod-conmon-{id}",
            expect!["none"],
        );
    }

    #[test]
    fn nested_and_host() {
        // A kind node is a Docker container running containerd: the innermost container wins.
        check(
            "/docker/{id2}/kubepods/besteffort/pod{uid}/{id}",
            expect![
                "id=3f1c6f4e0b7a runtime=? pod=3ff4e486-5a28-4fbb-a3a0-b49d9427886b qos=BestEffort"
            ],
        );
        // The kind node's own services are in the node container.
        check(
            "/docker/{id2}/system.slice/containerd.service",
            expect!["id=aa1c6f4e0b7a runtime=Docker pod=- qos=-"],
        );
        check("/system.slice/containerd.service", expect!["none"]);
        check("0::/", expect!["none"]);
        check("/user.slice/user-0.slice/session-3.scope", expect!["none"]);
        check("/kubepods/besteffort/pod{uid}", expect!["none"]);
        // Not 64 hex digits.
        check("/docker/3f1c6f4e0b7a", expect!["none"]);
        check("/system.slice/docker-{id}x.scope", expect!["none"]);
        check("", expect!["none"]);
        check("garbage", expect!["none"]);
        // A pod-shaped component outside kubepods is not a pod.
        check(
            "/pod{uid}/{id}",
            expect!["id=3f1c6f4e0b7a runtime=? pod=- qos=-"],
        );
    }

    #[test]
    fn proc_cgroup_files() {
        let v1 = format!(
            "12:pids:/kubepods/besteffort/pod{UID}/{ID}\n\
             11:cpu,cpuacct:/kubepods/besteffort/pod{UID}/{ID}\n\
             1:name=systemd:/kubepods/besteffort/pod{UID}/{ID}\n\
             0::/\n"
        );
        let got = identify_proc_cgroup(&v1).unwrap();
        assert_eq!(got.container_id.as_str(), ID);
        assert_eq!(got.pod_uid.as_deref(), Some(UID));
        // Hybrid hosts: the v2 line may be `/` while v1 lines name the container.
        let hybrid = format!("0::/\n3:memory:/machine.slice/libpod-{ID}.scope\n");
        let got = identify_proc_cgroup(&hybrid).unwrap();
        assert_eq!(got.runtime, Some(ContainerRuntime::Podman));
        let conmon = format!("0::/machine.slice/libpod-conmon-{ID}.scope\n");
        assert_eq!(identify_proc_cgroup(&conmon), None);
        assert_eq!(identify_proc_cgroup("0::/init.scope\n"), None);
        assert_eq!(identify_proc_cgroup(""), None);
    }

    #[test]
    fn own_process_is_not_in_a_container() {
        // The test runs on the host (or in CI's VM), not in a container.
        let me = std::process::id();
        assert_eq!(container_of_pid(me).unwrap(), None);
    }

    #[test]
    fn exited_process_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let err = container_of_pid_in(dir.path(), 42).unwrap_err();
        assert!(err.process_exited());
        assert!(err.to_string().contains("42/cgroup"), "{err}");
    }

    #[test]
    fn reads_a_proc_tree() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("7")).unwrap();
        std::fs::write(
            dir.path().join("7/cgroup"),
            format!("0::/system.slice/docker-{ID}.scope\n"),
        )
        .unwrap();
        let got = container_of_pid_in(dir.path(), 7).unwrap().unwrap();
        assert_eq!(got.runtime, Some(ContainerRuntime::Docker));
    }
}
