//! Running containers and processes: inventoried through `/proc/PID/root`, the process's own
//! view of its root filesystem, so no image pull is ever needed on a node.

use std::path::PathBuf;

use crate::InventoryError;
use crate::walk::TreeBuilder;

/// Pseudo-filesystems of the running system, not software the image carries.
const SKIP: &[&str] = &["/proc", "/sys", "/dev"];

pub(crate) fn walk_pid(pid: u32, builder: &mut TreeBuilder) -> Result<(), InventoryError> {
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    match std::fs::read_dir(&root) {
        Ok(_) => builder.add_dir(&root, SKIP),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(InventoryError::Process {
            pid,
            message: "no such process".to_owned(),
        }),
        Err(e) => Err(InventoryError::Process {
            pid,
            message: format!(
                "cannot read /proc/{pid}/root: {e} (inventorying another process's root needs root or CAP_SYS_PTRACE)"
            ),
        }),
    }
}

/// Finds a process of the container (the lowest pid whose cgroup path names the id) and walks
/// its root.
pub(crate) fn walk_container(id: &str, builder: &mut TreeBuilder) -> Result<(), InventoryError> {
    let pid = find_container_pid(id)?;
    tracing::info!(container = id, pid, "container process found");
    walk_pid(pid, builder)
}

pub(crate) fn find_container_pid(id: &str) -> Result<u32, InventoryError> {
    let rd = std::fs::read_dir("/proc").map_err(|e| InventoryError::io("/proc", e))?;
    let mut pids: Vec<u32> = rd
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Ok(cgroup) = std::fs::read_to_string(format!("/proc/{pid}/cgroup")) else {
            continue;
        };
        if cgroup.lines().any(|l| cgroup_names(l, id)) {
            return Ok(pid);
        }
    }
    Err(InventoryError::ContainerNotFound { id: id.to_owned() })
}

/// Whether a `/proc/PID/cgroup` line names the container: a path component holding a 64-hex
/// id (`libpod-<id>.scope`, `docker-<id>.scope`, `cri-containerd-<id>.scope`, `<id>`) that
/// starts with `id`.
fn cgroup_names(line: &str, id: &str) -> bool {
    let path = line.splitn(3, ':').nth(2).unwrap_or("");
    path.split('/').any(|comp| {
        let comp = comp.strip_suffix(".scope").unwrap_or(comp);
        let hex = comp.rsplit('-').next().unwrap_or(comp);
        hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) && hex.starts_with(id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_lines() {
        let id = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899";
        assert!(cgroup_names(
            &format!("0::/kubepods/besteffort/pod1/abc/libpod-{id}"),
            &id[..12]
        ));
        assert!(cgroup_names(
            &format!("4:memory:/system.slice/docker-{id}.scope"),
            id
        ));
        assert!(!cgroup_names(&format!("0::/libpod-{id}"), "3f4e5d6c7b8b"));
        assert!(!cgroup_names("0::/user.slice", "3f4e5d6c7b8a"));
    }
}
