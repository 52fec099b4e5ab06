//! Process identity as the sensor reconstructs it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::container::ContainerId;

/// User and group ids of a task.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    /// The audit login uid; `None` when unset (`4294967295` in the kernel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loginuid: Option<u32>,
}

/// Capability sets as bit masks (bit N is capability N as in `linux/capability.h`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// Namespace inode numbers; two tasks share a namespace when the numbers are equal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespaces {
    pub pid: u32,
    pub mnt: u32,
    pub net: u32,
    pub uts: u32,
    pub ipc: u32,
    pub user: u32,
    pub cgroup: u32,
}

/// The executable a process runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExeInfo {
    pub path: String,
    pub dev: u64,
    pub ino: u64,
    /// The file lives on an overlayfs upper layer: written after the container started (drift).
    #[serde(default)]
    pub upper_layer: bool,
    /// The file is a memfd (fileless execution).
    #[serde(default)]
    pub memfd: bool,
    /// The file was deleted after exec.
    #[serde(default)]
    pub deleted: bool,
    /// Set when the sensor's exec deny list matched this executable: `killed` (SIGKILL sent
    /// from the kernel before the new image ran) or `would_kill` (dry run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement: Option<crate::EnforcementAction>,
}

/// What is known about a process. Shared (`Arc`) between the process table and the events that
/// refer to it; a new exec produces a new value rather than mutating the old one, so an event
/// always shows the process as it was when the event happened.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Thread-group id (what user space calls the pid), in the initial pid namespace.
    pub pid: u32,
    pub ppid: u32,
    /// `comm`: the kernel's 15-byte task name.
    pub name: String,
    pub exe: ExeInfo,
    /// argv, including argv[0].
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub cwd: String,
    /// Selected environment variables (configured list, e.g. `LD_PRELOAD`), as `NAME=value`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default)]
    pub creds: Credentials,
    #[serde(default)]
    pub caps: Capabilities,
    /// Controlling terminal device number, `None` without a TTY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<u32>,
    #[serde(default)]
    pub ns: Namespaces,
    /// Start time in nanoseconds since boot, which with `pid` identifies a process uniquely.
    #[serde(default)]
    pub start_time: u64,
    /// Container the process runs in, `None` on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<ContainerId>,
    /// The parent as it was when this process was last seen to exec or fork. Bounded by the
    /// process table's ancestry depth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Arc<ProcessInfo>>,
}

impl ProcessInfo {
    /// The command line as Falco prints it: `name arg1 arg2` (argv[0] replaced by the name).
    pub fn cmdline(&self) -> String {
        let mut s = self.name.clone();
        for a in self.args.iter().skip(1) {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// The `n`th ancestor: 1 is the parent. `None` past the known ancestry.
    pub fn ancestor(&self, n: usize) -> Option<&ProcessInfo> {
        let mut cur = self;
        for _ in 0..n {
            cur = cur.parent.as_deref()?;
        }
        Some(cur)
    }

    /// The value of an environment variable captured at exec.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            kv.strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('='))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestry_and_cmdline() {
        let gp = Arc::new(ProcessInfo {
            pid: 1,
            name: "init".into(),
            ..Default::default()
        });
        let p = Arc::new(ProcessInfo {
            pid: 2,
            ppid: 1,
            name: "bash".into(),
            parent: Some(gp),
            ..Default::default()
        });
        let c = ProcessInfo {
            pid: 3,
            ppid: 2,
            name: "cat".into(),
            args: vec!["/bin/cat".into(), "/etc/shadow".into()],
            env: vec!["LD_PRELOAD=/tmp/x.so".into()],
            parent: Some(p),
            ..Default::default()
        };
        assert_eq!(c.cmdline(), "cat /etc/shadow");
        assert_eq!(c.ancestor(1).unwrap().name, "bash");
        assert_eq!(c.ancestor(2).unwrap().name, "init");
        assert!(c.ancestor(3).is_none());
        assert_eq!(c.env_var("LD_PRELOAD"), Some("/tmp/x.so"));
        assert_eq!(c.env_var("LD"), None);
    }
}
