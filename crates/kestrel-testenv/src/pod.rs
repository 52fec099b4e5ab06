//! The running test Pod: `tests/env/pod.yaml` under podman, kubelet-shaped.
//!
//! `podman kube play` has no `--cgroup-parent`, so the manifest is translated
//! (see [`crate::podspec`]): `podman pod create --network none` makes the
//! sandbox (infra container holding the loopback-only network namespace) and
//! each container is `podman run --pod` with
//! `--cgroup-parent=/kubepods/besteffort/pod<uid>`, so its processes sit in
//! `/kubepods/besteffort/pod<uid>/libpod-<container id>`, the path a kubelet
//! with the cgroupfs driver gives a BestEffort Pod's containers. Names and
//! labels follow the kubelet's conventions (`k8s_<container>_<pod>_<ns>_<uid>_0`,
//! `io.kubernetes.pod.*` labels) so runtime enrichment can be tested on them.
//!
//! Every pod carries an owner label (PID and start time of the test process).
//! Dropping a [`TestPod`] removes it; pods whose owner is gone (a test process
//! that was killed) are removed by the next [`TestPod::start`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::cmd::{self, env_dir, podman, podman_stdout};
use crate::error::{Error, Result};
use crate::image::TestImage;
use crate::manifest::App;
use crate::podspec::PodManifest;

/// Label on every pod this crate starts: `<pid>-<start time>` of its owner.
pub const OWNER_LABEL: &str = "io.kestrel.testenv.owner";

/// Where each app writes its readiness report, inside its container.
pub const READY_FILE: &str = "/tmp/kestrel-ready.json";

/// How long a container may take to serve. Generous: two shared cores may be
/// busy compiling; a healthy start takes about a second.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A Kubernetes Pod uid (a UUID), as it appears in kubelet cgroup paths.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PodUid(String);

impl PodUid {
    /// A fresh random uid, from the kernel's UUID generator.
    fn generate() -> Result<PodUid> {
        let path = "/proc/sys/kernel/random/uuid";
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        PodUid::parse(text.trim()).map_err(|message| Error::invalid(path, message))
    }

    pub fn parse(text: &str) -> Result<PodUid, String> {
        let groups: Vec<&str> = text.split('-').collect();
        let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        let hex = groups.iter().all(|g| {
            g.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if lengths != [8, 4, 4, 4, 12] || !hex {
            return Err(format!("`{text}` is not a lower-case UUID"));
        }
        Ok(PodUid(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PodUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A full container id: 64 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    pub fn parse(text: &str) -> Result<ContainerId, String> {
        if text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(ContainerId(text.to_owned()))
        } else {
            Err(format!("`{text}` is not a 64-hex-digit container id"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package an app reported loaded once it was serving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedPackage {
    pub name: String,
    pub version: String,
    /// npm only: the package directory (two copies of one package differ here).
    #[serde(default)]
    pub path: Option<String>,
}

/// What an app wrote to [`READY_FILE`] once it was serving.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadyReport {
    pub app: App,
    /// The PID inside the container's PID namespace.
    pub pid: u32,
    pub uid: u32,
    pub loaded: Vec<LoadedPackage>,
}

/// One running container of the Pod.
#[derive(Clone, Debug, Serialize)]
pub struct PodContainer {
    /// The container's name in the Pod manifest.
    pub name: String,
    /// podman's name for it, kubelet style: `k8s_<container>_<pod>_<ns>_<uid>_0`.
    pub podman_name: String,
    pub id: ContainerId,
    /// The main process, as a host PID.
    pub pid: u32,
    /// Effective uid of the main process, read from `/proc/PID/status`.
    pub uid: u32,
    /// The main process's cgroup v2 path (the `0::` line of `/proc/PID/cgroup`):
    /// `/kubepods/besteffort/pod<uid>/libpod-<id>`.
    pub cgroup: String,
    pub ready: ReadyReport,
}

impl PodContainer {
    /// `/proc/PID/root`: the container's root filesystem as the host sees it.
    pub fn proc_root(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root", self.pid))
    }
}

/// Everything about a running Pod a test may need; serialisable for the CLI.
#[derive(Clone, Debug, Serialize)]
pub struct PodInfo {
    pub name: String,
    pub namespace: String,
    pub uid: PodUid,
    pub labels: BTreeMap<String, String>,
    pub manifest: PathBuf,
    /// `/kubepods/besteffort/pod<uid>`.
    pub cgroup_parent: String,
    pub podman_pod_id: String,
    pub podman_pod_name: String,
    /// The podman image reference every container runs.
    pub image: String,
    pub containers: Vec<PodContainer>,
}

/// A running Pod, removed (with its cgroups) when dropped.
#[derive(Debug)]
pub struct TestPod {
    info: PodInfo,
    removed: bool,
}

impl TestPod {
    /// Starts `tests/env/pod.yaml` on `image` and waits until every app serves.
    pub fn start(image: &TestImage) -> Result<TestPod> {
        TestPod::start_manifest(image, &env_dir().join("pod.yaml"))
    }

    /// Starts the Pod manifest at `path` (see [`crate::podspec`] for what is
    /// supported) and waits until every container has written [`READY_FILE`].
    pub fn start_manifest(image: &TestImage, path: &Path) -> Result<TestPod> {
        cmd::require_root()?;
        let manifest = PodManifest::read(path)?;
        remove_stale_pods();

        let uid = PodUid::generate()?;
        let meta = &manifest.metadata;
        let cgroup_parent = format!("/kubepods/besteffort/pod{uid}");
        let podman_pod_name = format!("k8s_POD_{}_{}_{uid}_0", meta.name, meta.namespace);
        let cri_labels = [
            ("io.kubernetes.pod.name", meta.name.clone()),
            ("io.kubernetes.pod.namespace", meta.namespace.clone()),
            ("io.kubernetes.pod.uid", uid.to_string()),
        ];

        let mut create = podman();
        create.args([
            "pod",
            "create",
            "--network",
            "none",
            "--name",
            &podman_pod_name,
        ]);
        create.args(["--hostname", &meta.name, "--cgroup-parent", &cgroup_parent]);
        create.args(["--label", &format!("{OWNER_LABEL}={}", owner_id())]);
        for (key, value) in meta
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .chain(cri_labels.iter().map(|(k, v)| (*k, v)))
        {
            create.args(["--label", &format!("{key}={value}")]);
        }
        let podman_pod_id = cmd::run_stdout(&mut create)?;

        // From here on, dropping `pod` (on any error below) removes what exists.
        let mut pod = TestPod {
            info: PodInfo {
                name: meta.name.clone(),
                namespace: meta.namespace.clone(),
                uid: uid.clone(),
                labels: meta.labels.clone(),
                manifest: path.to_owned(),
                cgroup_parent: cgroup_parent.clone(),
                podman_pod_id,
                podman_pod_name: podman_pod_name.clone(),
                image: image.podman_ref().to_owned(),
                containers: Vec::new(),
            },
            removed: false,
        };

        let mut started = Vec::new();
        for spec in &manifest.spec.containers {
            let podman_name = format!("k8s_{}_{}_{}_{uid}_0", spec.name, meta.name, meta.namespace);
            let mut run = podman();
            run.args(["run", "--detach", "--pull", "never", "--restart", "no"]);
            run.args([
                "--pod",
                &podman_pod_name,
                "--name",
                &podman_name,
                "--cgroup-parent",
                &cgroup_parent,
            ]);
            run.args([
                "--label",
                &format!("io.kubernetes.container.name={}", spec.name),
            ]);
            for (key, value) in &cri_labels {
                run.args(["--label", &format!("{key}={value}")]);
            }
            for (key, value) in &meta.annotations {
                run.args(["--annotation", &format!("{key}={value}")]);
            }
            run.args(spec.podman_run_args(image.podman_ref()));
            let id = cmd::run_stdout(&mut run)?;
            let id = ContainerId::parse(&id)
                .map_err(|message| Error::invalid(cmd::describe(&run), message))?;
            started.push((spec.name.clone(), podman_name, id));
        }
        for (name, podman_name, id) in started {
            let container = wait_ready(&pod.info, &name, &podman_name, &id)?;
            pod.info.containers.push(container);
        }
        tracing::info!(pod = %podman_pod_name, "test pod serving");
        Ok(pod)
    }

    pub fn info(&self) -> &PodInfo {
        &self.info
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn namespace(&self) -> &str {
        &self.info.namespace
    }

    pub fn uid(&self) -> &PodUid {
        &self.info.uid
    }

    /// `/kubepods/besteffort/pod<uid>`: the cgroup every container's processes are below.
    pub fn cgroup_parent(&self) -> &str {
        &self.info.cgroup_parent
    }

    pub fn containers(&self) -> &[PodContainer] {
        &self.info.containers
    }

    /// The container named `name` in the Pod manifest.
    pub fn container(&self, name: &str) -> Result<&PodContainer> {
        self.info
            .containers
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::NoSuchContainer {
                pod: self.info.name.clone(),
                container: name.to_owned(),
                known: self
                    .info
                    .containers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Runs `args` in container `name` (`podman exec`, as the container's user)
    /// and returns its output whatever the exit status.
    pub fn exec(&self, name: &str, args: &[&str]) -> Result<Output> {
        let id = self.container(name)?.id.clone();
        let mut command = podman();
        command.arg("exec").arg(id.as_str()).args(args);
        command.output().map_err(|source| Error::Spawn {
            program: cmd::describe(&command),
            source,
        })
    }

    /// Like [`Self::exec`], but fails unless the command succeeds; returns its stdout.
    pub fn exec_ok(&self, name: &str, args: &[&str]) -> Result<String> {
        let id = self.container(name)?.id.clone();
        cmd::run_stdout(podman().arg("exec").arg(id.as_str()).args(args))
    }

    /// Removes the Pod now, reporting failure (dropping does the same
    /// silently, logging failures).
    pub fn remove(mut self) -> Result<()> {
        self.removed = true;
        remove_pod(&self.info.podman_pod_id, &self.info.uid)
    }
}

impl Drop for TestPod {
    fn drop(&mut self) {
        if !self.removed
            && let Err(err) = remove_pod(&self.info.podman_pod_id, &self.info.uid)
        {
            tracing::warn!(%err, pod = %self.info.podman_pod_name, "could not remove the test pod");
            eprintln!(
                "kestrel-testenv: could not remove test pod {}: {err}",
                self.info.podman_pod_name
            );
        }
    }
}

fn owner_id() -> String {
    let pid = std::process::id();
    format!("{pid}-{}", cmd::process_start_time(pid).unwrap_or(0))
}

fn owner_alive(owner: &str) -> bool {
    let Some((pid, start)) = owner.split_once('-') else {
        return false;
    };
    match (pid.parse::<u32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => cmd::process_start_time(pid) == Some(start),
        _ => false,
    }
}

/// Waits for the container's app to write its ready file, read through
/// `/proc/PID/root` so no exec is needed, and checks its report.
fn wait_ready(
    info: &PodInfo,
    name: &str,
    podman_name: &str,
    id: &ContainerId,
) -> Result<PodContainer> {
    let not_ready = |waited: Duration, detail: String| Error::NotReady {
        pod: info.podman_pod_name.clone(),
        container: name.to_owned(),
        waited,
        detail,
    };
    let started = Instant::now();
    let pid: u32 = podman_stdout([
        "container",
        "inspect",
        "--format",
        "{{.State.Pid}}",
        id.as_str(),
    ])?
    .parse()
    .unwrap_or(0);
    if pid == 0 {
        return Err(not_ready(
            started.elapsed(),
            format!("its process is not running; logs:\n{}", logs(id)),
        ));
    }
    let ready_path = PathBuf::from(format!("/proc/{pid}/root{READY_FILE}"));
    loop {
        if let Ok(text) = std::fs::read_to_string(&ready_path) {
            let ready: ReadyReport = serde_json::from_str(&text)
                .map_err(Error::json(format!("{name}: {READY_FILE}")))?;
            let uid = process_uid(pid)?;
            let cgroup = process_cgroup(pid)?;
            return Ok(PodContainer {
                name: name.to_owned(),
                podman_name: podman_name.to_owned(),
                id: id.clone(),
                pid,
                uid,
                cgroup,
                ready,
            });
        }
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return Err(not_ready(
                started.elapsed(),
                format!("its process {pid} exited; logs:\n{}", logs(id)),
            ));
        }
        if started.elapsed() > READY_TIMEOUT {
            return Err(not_ready(
                started.elapsed(),
                format!("no {READY_FILE} yet; logs:\n{}", logs(id)),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn logs(id: &ContainerId) -> String {
    match podman()
        .args(["logs", "--tail", "30", id.as_str()])
        .output()
    {
        Ok(out) => format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => format!("(podman logs failed: {err})"),
    }
}

/// Effective uid of a host process.
pub fn process_uid(pid: u32) -> Result<u32> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
        .ok_or_else(|| Error::invalid(path, "no effective uid in the Uid: line"))
}

/// The cgroup v2 path of a host process (the `0::` line of `/proc/PID/cgroup`).
pub fn process_cgroup(pid: u32) -> Result<String> {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
    text.lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::to_owned)
        .ok_or_else(|| Error::invalid(path, "no cgroup v2 (`0::`) line"))
}

fn remove_pod(pod_id: &str, uid: &PodUid) -> Result<()> {
    cmd::run(podman().args(["pod", "rm", "--force", "--time", "0", pod_id]))?;
    remove_pod_cgroups(uid);
    Ok(())
}

/// podman removes the containers' cgroups but not the `pod<uid>` directories
/// it created in every hierarchy; leaving them would litter `/kubepods` with
/// one directory per test run.
fn remove_pod_cgroups(uid: &PodUid) {
    let Ok(hierarchies) = std::fs::read_dir("/sys/fs/cgroup") else {
        return;
    };
    let mut roots = vec![PathBuf::from("/sys/fs/cgroup")];
    roots.extend(hierarchies.flatten().map(|entry| entry.path()));
    for root in roots {
        let dir = root.join(format!("kubepods/besteffort/pod{uid}"));
        if dir.is_dir() {
            remove_cgroup_tree(&dir);
        }
    }
}

/// cgroup directories can only be removed with rmdir, children first.
fn remove_cgroup_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup_tree(&entry.path());
            }
        }
    }
    // The last processes may still be exiting right after `pod rm`.
    for _ in 0..20 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    tracing::warn!(cgroup = %dir.display(), "could not remove a test pod cgroup");
}

#[derive(Deserialize)]
struct PodListEntry {
    #[serde(rename = "Id")]
    id: String,
    #[serde(rename = "Labels", default)]
    labels: BTreeMap<String, String>,
}

/// Removes pods left by test processes that are gone. Best effort: a failure
/// here must not fail a test that does not depend on it.
fn remove_stale_pods() {
    let listed = podman_stdout([
        "pod",
        "ps",
        "--filter",
        &format!("label={OWNER_LABEL}"),
        "--format",
        "json",
    ]);
    let pods: Vec<PodListEntry> = match listed.map(|text| serde_json::from_str(&text)) {
        Ok(Ok(pods)) => pods,
        Ok(Err(err)) => return tracing::warn!(%err, "could not parse `podman pod ps` output"),
        Err(err) => return tracing::warn!(%err, "could not list pods"),
    };
    for pod in pods {
        let owner = pod
            .labels
            .get(OWNER_LABEL)
            .map(String::as_str)
            .unwrap_or("");
        if owner_alive(owner) {
            continue;
        }
        tracing::info!(pod = %pod.id, owner, "removing a test pod whose owner is gone");
        let uid = pod
            .labels
            .get("io.kubernetes.pod.uid")
            .and_then(|text| PodUid::parse(text).ok());
        let result = match &uid {
            Some(uid) => remove_pod(&pod.id, uid),
            None => {
                cmd::run(podman().args(["pod", "rm", "--force", "--time", "0", &pod.id])).map(drop)
            }
        };
        if let Err(err) = result {
            tracing::warn!(%err, pod = %pod.id, "could not remove a stale test pod");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_validated() {
        assert!(PodUid::parse("a6caba77-8bcc-4942-b22e-616adc9f0715").is_ok());
        assert!(PodUid::parse("A6CABA77-8bcc-4942-b22e-616adc9f0715").is_err());
        assert!(PodUid::parse("a6caba77-8bcc-4942-b22e").is_err());
        assert!(ContainerId::parse(&"0f".repeat(32)).is_ok());
        assert!(ContainerId::parse(&"0f".repeat(31)).is_err());
        assert!(ContainerId::parse(&"xy".repeat(32)).is_err());
    }

    #[test]
    fn owners_are_recognised_by_pid_and_start_time() {
        assert!(owner_alive(&owner_id()));
        let pid = std::process::id();
        let start = cmd::process_start_time(pid).unwrap();
        assert!(
            !owner_alive(&format!("{pid}-{}", start + 1)),
            "a reused PID is not the owner"
        );
        assert!(!owner_alive("not-an-owner"));
        assert!(!owner_alive(""));
    }
}
