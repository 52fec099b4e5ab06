//! Events: one [`Event`] per kernel record, with the enrichment attached.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::container::ContainerInfo;
use crate::process::ProcessInfo;

/// A file's identity on its filesystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

/// `open(2)` flags as the kernel passed them (`O_WRONLY`, `O_CREAT`, ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpenFlags(pub u32);

impl OpenFlags {
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_TMPFILE: u32 = 0o20000000 | Self::O_DIRECTORY;

    /// Opened for reading (`O_RDONLY` or `O_RDWR`).
    pub fn is_read(self) -> bool {
        self.0 & 0o3 != Self::O_WRONLY
    }

    /// Opened for writing (`O_WRONLY` or `O_RDWR`).
    pub fn is_write(self) -> bool {
        self.0 & 0o3 != 0
    }

    pub fn contains(self, bits: u32) -> bool {
        self.0 & bits == bits
    }
}

/// A socket address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketFamily {
    Inet,
    Inet6,
    Unix,
    Packet,
    Netlink,
    /// Any other family, with its `AF_*` number.
    Other(u16),
}

/// The transport of a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetProtocol {
    Tcp,
    Udp,
    Raw,
    Unknown,
}

/// One end of a socket.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SockAddr {
    Inet(SocketAddr),
    Unix(String),
    /// A family whose addresses Kestrel does not decode.
    Other(u16),
}

/// A parsed DNS record from a response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub name: String,
    /// `A`, `AAAA`, `CNAME`, ...
    pub rtype: String,
    /// Address or target name.
    pub data: String,
    pub ttl: u32,
}

/// A DNS query or response seen on UDP port 53.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsMessage {
    pub id: u16,
    pub response: bool,
    /// Queried names (usually one).
    pub questions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<DnsRecord>,
    /// RCODE (0 = NOERROR, 3 = NXDOMAIN).
    #[serde(default)]
    pub rcode: u8,
    pub server: SockAddr,
}

/// Hard or symbolic link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkKind {
    Hard,
    Symbolic,
}

/// Sensor-health and bookkeeping events, so that the pipeline can report on itself in-band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "snake_case")]
pub enum Sensor {
    /// Ring-buffer reservations failed since the last report, per event type name.
    Drops { counts: Vec<(String, u64)> },
    /// The sensor's health changed: degraded capture (no eBPF, a probe that failed to attach,
    /// sustained drops) or recovered. `message` says what is lost and why.
    Health { healthy: bool, message: String },
}

/// What happened. Field `result` is the syscall's return value (negative errno on failure).
///
/// The serde tag is `type`; the names are stable and documented in `docs/events.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A successful execve/execveat; the new image is described by the event's process.
    Exec,
    /// fork/clone/vfork of a new process (not a thread).
    Fork {
        child_pid: u32,
    },
    /// A process (thread group) exited.
    Exit {
        /// Exit status as `wait(2)` would decode it: code, or 128 + signal.
        code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
    },
    Open {
        path: String,
        flags: OpenFlags,
        #[serde(default)]
        mode: u32,
        result: i64,
    },
    Rename {
        old_path: String,
        new_path: String,
        result: i64,
    },
    Unlink {
        path: String,
        #[serde(default)]
        dir: bool,
        result: i64,
    },
    Link {
        kind: LinkKind,
        target: String,
        link_path: String,
        result: i64,
    },
    Chmod {
        path: String,
        mode: u32,
        result: i64,
    },
    Chown {
        path: String,
        uid: u32,
        gid: u32,
        result: i64,
    },
    /// An executable memory mapping of a file (shared libraries, interpreters' native code).
    Mmap {
        path: String,
        file: FileId,
        prot: u32,
        flags: u32,
    },
    Mount {
        source: String,
        target: String,
        fstype: String,
        flags: u64,
        result: i64,
    },
    MemfdCreate {
        name: String,
        flags: u32,
        result: i64,
    },
    Connect {
        family: SocketFamily,
        protocol: NetProtocol,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        local: Option<SockAddr>,
        remote: SockAddr,
        result: i64,
    },
    Accept {
        family: SocketFamily,
        protocol: NetProtocol,
        local: SockAddr,
        remote: SockAddr,
        result: i64,
    },
    Bind {
        family: SocketFamily,
        protocol: NetProtocol,
        local: SockAddr,
        result: i64,
    },
    Listen {
        family: SocketFamily,
        protocol: NetProtocol,
        local: SockAddr,
        backlog: i32,
        result: i64,
    },
    /// A socket created with a packet or raw type (sniffing, crafted packets).
    Socket {
        family: SocketFamily,
        sock_type: u32,
        protocol: u32,
        result: i64,
    },
    Dns(DnsMessage),
    /// setuid, setreuid, setresuid, setfsuid and their gid counterparts.
    SetId {
        syscall: String,
        /// The requested ids in argument order (`-1` meaning unchanged).
        ids: Vec<i64>,
        result: i64,
    },
    Capset {
        effective: u64,
        permitted: u64,
        inheritable: u64,
        result: i64,
    },
    Ptrace {
        request: i64,
        target_pid: u32,
        result: i64,
    },
    ProcessVmWritev {
        target_pid: u32,
        result: i64,
    },
    /// init_module / finit_module.
    ModuleLoad {
        syscall: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        result: i64,
    },
    Bpf {
        cmd: u32,
        result: i64,
    },
    Unshare {
        flags: u64,
        result: i64,
    },
    Setns {
        nstype: u64,
        result: i64,
    },
    Sensor(Sensor),
}

/// One normalized event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Wall-clock time in nanoseconds since the Unix epoch.
    pub ts: u64,
    /// Thread-group id of the acting process.
    pub pid: u32,
    /// Thread id of the acting thread.
    pub tid: u32,
    #[serde(flatten)]
    pub kind: EventKind,
    /// The acting process, from the process table; `None` only for a pid the table never saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Arc<ProcessInfo>>,
    /// The container the process runs in; `None` on the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Arc<ContainerInfo>>,
}

impl EventKind {
    /// The syscall-style name Falco rules use in `evt.type` for this event (the canonical one
    /// when several syscalls map to one kind: `open` also answers to `openat` and `openat2`).
    pub fn type_name(&self) -> &'static str {
        match self {
            EventKind::Exec => "execve",
            EventKind::Fork { .. } => "clone",
            EventKind::Exit { .. } => "procexit",
            EventKind::Open { .. } => "openat",
            EventKind::Rename { .. } => "rename",
            EventKind::Unlink { .. } => "unlink",
            EventKind::Link {
                kind: LinkKind::Hard,
                ..
            } => "link",
            EventKind::Link {
                kind: LinkKind::Symbolic,
                ..
            } => "symlink",
            EventKind::Chmod { .. } => "chmod",
            EventKind::Chown { .. } => "chown",
            EventKind::Mmap { .. } => "mmap",
            EventKind::Mount { .. } => "mount",
            EventKind::MemfdCreate { .. } => "memfd_create",
            EventKind::Connect { .. } => "connect",
            EventKind::Accept { .. } => "accept",
            EventKind::Bind { .. } => "bind",
            EventKind::Listen { .. } => "listen",
            EventKind::Socket { .. } => "socket",
            EventKind::Dns(_) => "dns",
            EventKind::SetId { .. } => "setuid",
            EventKind::Capset { .. } => "capset",
            EventKind::Ptrace { .. } => "ptrace",
            EventKind::ProcessVmWritev { .. } => "process_vm_writev",
            EventKind::ModuleLoad { .. } => "init_module",
            EventKind::Bpf { .. } => "bpf",
            EventKind::Unshare { .. } => "unshare",
            EventKind::Setns { .. } => "setns",
            EventKind::Sensor(_) => "sensor",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_flags() {
        assert!(OpenFlags(0).is_read());
        assert!(!OpenFlags(0).is_write());
        assert!(OpenFlags(OpenFlags::O_WRONLY).is_write());
        assert!(!OpenFlags(OpenFlags::O_WRONLY).is_read());
        assert!(OpenFlags(OpenFlags::O_RDWR | OpenFlags::O_CREAT).contains(OpenFlags::O_CREAT));
    }

    #[test]
    fn json_shape() {
        let e = Event {
            ts: 1,
            pid: 2,
            tid: 2,
            kind: EventKind::Open {
                path: "/etc/shadow".into(),
                flags: OpenFlags(0),
                mode: 0,
                result: 3,
            },
            process: None,
            container: None,
        };
        let j = serde_json::to_value(&e).unwrap();
        assert_eq!(j["type"], "open");
        assert_eq!(j["path"], "/etc/shadow");
        let back: Event = serde_json::from_value(j).unwrap();
        assert_eq!(back, e);
    }
}
