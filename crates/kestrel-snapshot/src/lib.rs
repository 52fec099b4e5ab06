//! A point-in-time snapshot of a node from `/proc`.
//!
//! The sensor sees what happens after it starts; this crate covers what happened before: for
//! every process, its container (from its cgroup), the files it has mapped executable (shared
//! libraries, extension modules, the executable itself), the regular files it has open, and the
//! TCP/UDP sockets it listens on (read from its own network namespace, so a pod's sockets are
//! found even without a network shared with the host). The runtime-aware risk engine turns these
//! into "in use" evidence and exposure.
//!
//! Architecture invariant: read-only. This crate only reads `/proc` (or a proc file system
//! mounted elsewhere, such as `/host/proc` in a DaemonSet); it never signals, traces or enters a
//! process. A process that exits mid-read is skipped, never an error.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use kestrel_container::{CgroupIdentity, container_of_pid_in};
use procfs::process::{FDTarget, MMPermissions, MMapPath, Process};
use serde::{Deserialize, Serialize};

/// Reading the proc file system failed as a whole (one process failing is not an error).
#[derive(Debug, thiserror::Error)]
#[error("cannot list processes in {root}: {source}")]
pub struct SnapshotError {
    pub root: PathBuf,
    #[source]
    pub source: procfs::ProcError,
}

/// A socket a process listens on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Listener {
    pub address: SocketAddr,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// One process as found in `/proc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSnapshot {
    pub pid: u32,
    pub ppid: u32,
    pub name: String,
    /// When the process started, in wall-clock nanoseconds since the Unix epoch (10 ms
    /// precision: derived from the boot time and the start tick).
    pub start_time: u64,
    /// `/proc/PID/exe` target, as seen from the process's own mount namespace.
    pub exe: Option<String>,
    pub container: Option<CgroupIdentity>,
    /// Files mapped with execute permission (deduplicated, sorted).
    pub exec_maps: Vec<String>,
    /// Regular files open (deduplicated, sorted).
    pub open_files: Vec<String>,
    pub listening: Vec<Listener>,
}

/// Every process on the node at one time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Wall-clock nanoseconds since the Unix epoch when the snapshot started.
    pub taken_at: u64,
    pub processes: Vec<ProcessSnapshot>,
}

impl Snapshot {
    /// Processes of one container.
    pub fn in_container<'a>(
        &'a self,
        id: &'a str,
    ) -> impl Iterator<Item = &'a ProcessSnapshot> + 'a {
        self.processes.iter().filter(move |p| {
            p.container
                .as_ref()
                .is_some_and(|c| c.container_id.as_str() == id)
        })
    }
}

/// Takes a snapshot of the proc file system at `/proc`.
pub fn take() -> Result<Snapshot, SnapshotError> {
    take_at(Path::new("/proc"))
}

/// Takes a snapshot of the proc file system mounted at `root`.
pub fn take_at(root: &Path) -> Result<Snapshot, SnapshotError> {
    let taken_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let all = procfs::process::all_processes_with_root(root).map_err(|source| SnapshotError {
        root: root.to_owned(),
        source,
    })?;
    // Sockets are per network namespace: read each namespace's tables once, through the first
    // process found in it.
    let mut listeners_by_netns: HashMap<u64, HashMap<u64, Listener>> = HashMap::new();
    let boot_ns = boot_time_ns(root, taken_at);
    let mut processes = Vec::new();
    for p in all {
        let Ok(p) = p else { continue };
        match snapshot_process(root, &p, boot_ns, &mut listeners_by_netns) {
            Some(s) => processes.push(s),
            None => tracing::trace!(pid = p.pid, "process exited during snapshot"),
        }
    }
    processes.sort_by_key(|p| p.pid);
    Ok(Snapshot {
        taken_at,
        processes,
    })
}

/// The wall-clock time of boot, from `/proc/uptime` (centisecond precision).
fn boot_time_ns(root: &Path, now: u64) -> u64 {
    let uptime = std::fs::read_to_string(root.join("uptime"))
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    now.saturating_sub((uptime * 1e9) as u64)
}

fn snapshot_process(
    root: &Path,
    p: &Process,
    boot_ns: u64,
    listeners_by_netns: &mut HashMap<u64, HashMap<u64, Listener>>,
) -> Option<ProcessSnapshot> {
    let stat = p.stat().ok()?;
    let pid = u32::try_from(p.pid).ok()?;
    let container = container_of_pid_in(root, pid).ok().flatten();
    let exe = p.exe().ok().map(|e| e.to_string_lossy().into_owned());
    let mut exec_maps = BTreeSet::new();
    if let Ok(maps) = p.maps() {
        for m in maps {
            if m.perms.contains(MMPermissions::EXECUTE)
                && let MMapPath::Path(path) = m.pathname
            {
                exec_maps.insert(strip_deleted(&path.to_string_lossy()));
            }
        }
    }
    let mut open_files = BTreeSet::new();
    let mut socket_inodes = HashSet::new();
    if let Ok(fds) = p.fd() {
        for fd in fds.flatten() {
            match fd.target {
                FDTarget::Path(path) => {
                    let s = path.to_string_lossy();
                    if s.starts_with('/') && !s.starts_with("/dev/") {
                        open_files.insert(strip_deleted(&s));
                    }
                }
                FDTarget::Socket(inode) => {
                    socket_inodes.insert(inode);
                }
                _ => {}
            }
        }
    }
    let mut listening = Vec::new();
    if !socket_inodes.is_empty() {
        let netns = netns_inode(root, pid);
        let table = listeners_by_netns
            .entry(netns.unwrap_or(0))
            .or_insert_with(|| listeners(p));
        for inode in &socket_inodes {
            if let Some(l) = table.get(inode) {
                listening.push(l.clone());
            }
        }
        listening.sort();
        listening.dedup();
    }
    Some(ProcessSnapshot {
        pid,
        ppid: u32::try_from(stat.ppid).unwrap_or(0),
        start_time: boot_ns
            + stat.starttime.saturating_mul(1_000_000_000) / procfs::ticks_per_second().max(1),
        name: stat.comm,
        exe,
        container,
        exec_maps: exec_maps.into_iter().collect(),
        open_files: open_files.into_iter().collect(),
        listening,
    })
}

fn strip_deleted(s: &str) -> String {
    s.strip_suffix(" (deleted)").unwrap_or(s).to_owned()
}

fn netns_inode(root: &Path, pid: u32) -> Option<u64> {
    let link = std::fs::read_link(root.join(pid.to_string()).join("ns/net")).ok()?;
    let s = link.to_string_lossy();
    s.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Listening TCP sockets and bound UDP sockets of the process's network namespace, by inode.
fn listeners(p: &Process) -> HashMap<u64, Listener> {
    let mut out = HashMap::new();
    let tcp = p
        .tcp()
        .into_iter()
        .flatten()
        .chain(p.tcp6().into_iter().flatten());
    for e in tcp {
        if e.state == procfs::net::TcpState::Listen {
            out.insert(
                e.inode,
                Listener {
                    address: e.local_address,
                    protocol: "tcp".to_owned(),
                },
            );
        }
    }
    let udp = p
        .udp()
        .into_iter()
        .flatten()
        .chain(p.udp6().into_iter().flatten());
    for e in udp {
        // An unconnected UDP socket (remote port 0) is a server waiting for datagrams.
        if e.remote_address.port() == 0 && e.local_address.port() != 0 {
            out.insert(
                e.inode,
                Listener {
                    address: e.local_address,
                    protocol: "udp".to_owned(),
                },
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn finds_own_maps_files_and_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = tempfile_dir();
        let path = dir.join("held-open.txt");
        std::fs::write(&path, b"x").unwrap();
        let mut f = std::fs::File::open(&path).unwrap();
        let mut buf = [0u8; 1];
        f.read_exact(&mut buf).unwrap();

        let snap = take().unwrap();
        let me = snap
            .processes
            .iter()
            .find(|p| p.pid == std::process::id())
            .expect("own process in snapshot");
        let exe = std::env::current_exe().unwrap();
        // Started before the snapshot, and not before boot.
        assert!(me.start_time <= snap.taken_at + 20_000_000, "{me:?}");
        assert!(me.start_time > snap.taken_at - 3_600_000_000_000 * 24 * 365);
        assert!(
            me.exec_maps
                .iter()
                .any(|m| m == &exe.to_string_lossy().to_string()),
            "{:?}",
            me.exec_maps
        );
        assert!(
            me.exec_maps.iter().any(|m| m.contains("libc.so")),
            "{:?}",
            me.exec_maps
        );
        assert!(
            me.open_files
                .iter()
                .any(|f| f == &path.to_string_lossy().to_string()),
            "{:?}",
            me.open_files
        );
        assert!(
            me.listening
                .iter()
                .any(|l| l.address.port() == port && l.protocol == "tcp"),
            "{:?}",
            me.listening
        );
        // The parent of the test is not in a container here unless CI runs in one; the field
        // must agree with the cgroup file either way.
        let cg = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        assert_eq!(
            me.container.is_some(),
            kestrel_container::identify_proc_cgroup(&cg).is_some()
        );
        drop(listener);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_root_is_a_clear_error() {
        let e = take_at(Path::new("/nonexistent-proc")).unwrap_err();
        assert!(e.to_string().contains("/nonexistent-proc"), "{e}");
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("kestrel-snapshot-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
