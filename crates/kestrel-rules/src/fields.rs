//! The field table: every Falco field name Kestrel understands, its type, and how to read it
//! from a [`kestrel_event::Event`].
//!
//! A field is resolved from its name once, at load time, into a [`Field`]; extraction is then a
//! `match` on that value with no string lookups. A field that has no value for an event (for
//! example `fd.name` on an exec) extracts to `None`, and every comparison on it is false, as in
//! Falco.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use kestrel_event::{
    ContainerInfo, Event, EventKind, LinkKind, NetProtocol, ProcessInfo, SockAddr, SocketFamily,
};

/// The type of a field's values, which decides which operators and literals it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Str,
    Int,
    Bool,
    Ip,
    /// Several strings; a comparison holds when it holds for any of them.
    StrList,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FieldType::Str => "string",
            FieldType::Int => "number",
            FieldType::Bool => "bool",
            FieldType::Ip => "IP address",
            FieldType::StrList => "string list",
        })
    }
}

/// Which endpoint of a socket an address field reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client: the local end of a `connect`, the remote end of an `accept`.
    Client,
    /// The server: the remote end of a `connect`, the local end of an `accept`/`bind`/`listen`.
    Server,
    Local,
    Remote,
    /// Either end.
    Any,
}

/// A resolved field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    EvtType,
    EvtTime,
    EvtTimeIso,
    EvtRawTime,
    EvtNum,
    EvtRes,
    EvtRawRes,
    EvtFailed,
    EvtDir,
    EvtHostname,
    EvtSource,
    EvtIsOpenRead,
    EvtIsOpenWrite,
    EvtIsOpenExec,
    EvtArg(EvtArg),
    EvtArgN(usize),
    EvtArgs,
    ProcName,
    ProcExe,
    ProcExePath,
    ProcCmdline,
    ProcArgs,
    ProcPid,
    ProcPpid,
    ProcPname,
    ProcPcmdline,
    ProcPexePath,
    ProcPexe,
    ProcCwd,
    /// `proc.aname[N]` (`None`: any ancestor).
    ProcAname(Option<usize>),
    ProcApid(usize),
    ProcAexepath(usize),
    /// `proc.aexe[N]`: the ancestor's argv[0].
    ProcAexe(usize),
    ProcAcmdline(usize),
    ProcDuration,
    ProcVpid,
    ProcTty,
    ProcEnv(Option<String>),
    ProcIsExeUpperLayer,
    ProcIsExeFromMemfd,
    ProcIsExeDeleted,
    ProcExeIno,
    UserUid,
    UserName,
    UserLoginUid,
    UserLoginName,
    GroupGid,
    CapEffective,
    CapPermitted,
    FdName,
    FdNameRaw,
    FdDirectory,
    FdFilename,
    FdTypechar,
    FdType,
    FdNum,
    FdIp(Side),
    FdPort(Side),
    FdL4proto,
    FdSockfamily,
    FdConnected,
    FdNameChanged,
    /// `fd.sip.name` and siblings: the endpoint's name from DNS answers seen.
    FdIpName(Side),
    /// `evt.arg.uid` compared with a user name (Falco renders the uid argument with its name).
    EvtArgUserName,
    ContainerId,
    ContainerFullId,
    ContainerName,
    ContainerImage,
    ContainerImageRepository,
    ContainerImageTag,
    ContainerImageDigest,
    ContainerPrivileged,
    ContainerRuntime,
    /// `%container.info` in outputs.
    ContainerInfo,
    K8sPodName,
    K8sPodUid,
    K8sNsName,
    K8sPodLabels,
    K8sPodLabel(String),
    DnsQuery,
    DnsAnswer,
    FsPathName,
    FsPathSource,
    FsPathTarget,
}

/// The `evt.arg.*` names Kestrel decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvtArg {
    /// The path a path syscall operated on (`open`, `unlink`, `chmod`, `mkdir`, ...).
    Path,
    /// Old path of a rename, target of a link.
    OldPath,
    /// New path of a rename, the created link of a link.
    NewPath,
    Target,
    LinkPath,
    Flags,
    Mode,
    Uid,
    Gid,
    Request,
    Pid,
    Domain,
    SockType,
    FsType,
    Source,
    Data,
}

/// A field's value for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Bool(bool),
    Ip(IpAddr),
    /// Two endpoints (`fd.ip`, `fd.net`): a comparison holds when it holds for either.
    Ip2(IpAddr, IpAddr),
    Int2(i64, i64),
    List(Vec<Cow<'a, str>>),
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::Int(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::Ip2(a, b) => write!(f, "{a},{b}"),
            Value::Int2(a, b) => write!(f, "{a},{b}"),
            Value::List(l) => {
                for (i, s) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    f.write_str(s)?;
                }
                Ok(())
            }
        }
    }
}

impl Value<'_> {
    /// The JSON form used in an alert's `output_fields`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Int(n) => (*n).into(),
            Value::Bool(b) => (*b).into(),
            Value::List(l) => l.iter().map(|s| s.to_string()).collect::<Vec<_>>().into(),
            v => v.to_string().into(),
        }
    }
}

/// What a field accepts as an argument in brackets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgSpec {
    None,
    /// A required non-negative index.
    Index,
    /// An optional index; without one the field spans all ancestors.
    OptIndex,
    /// A required key (label name).
    Key,
    /// An optional key (environment variable name).
    OptKey,
}

struct FieldSpec {
    name: &'static str,
    ty: FieldType,
    arg: ArgSpec,
    doc: &'static str,
}

macro_rules! spec {
    ($name:literal, $ty:ident, $arg:ident, $doc:literal) => {
        FieldSpec {
            name: $name,
            ty: FieldType::$ty,
            arg: ArgSpec::$arg,
            doc: $doc,
        }
    };
}

const SPECS: &[FieldSpec] = &[
    spec!(
        "evt.type",
        Str,
        None,
        "Event type, syscall-style (`execve`, `openat`, `connect`, ...). Aliases such as `open`/`openat2` match the same events."
    ),
    spec!(
        "evt.time",
        Str,
        None,
        "Event time of day, UTC, `HH:MM:SS.nnnnnnnnn`."
    ),
    spec!(
        "evt.time.iso8601",
        Str,
        None,
        "Event time, RFC 3339 UTC with nanoseconds."
    ),
    spec!(
        "evt.rawtime",
        Int,
        None,
        "Event time in nanoseconds since the epoch."
    ),
    spec!(
        "evt.num",
        Int,
        None,
        "Sequence number of the event in this engine, from 1."
    ),
    spec!(
        "evt.res",
        Str,
        None,
        "`SUCCESS` or the errno name of a failed syscall (`ENOENT`)."
    ),
    spec!("evt.rawres", Int, None, "The syscall's return value."),
    spec!("evt.failed", Bool, None, "The syscall failed."),
    spec!(
        "evt.dir",
        Str,
        None,
        "Always `<`: Kestrel events describe completed syscalls."
    ),
    spec!("evt.hostname", Str, None, "The node's host name."),
    spec!("evt.source", Str, None, "Always `syscall`."),
    spec!("evt.is_open_read", Bool, None, "An open for reading."),
    spec!("evt.is_open_write", Bool, None, "An open for writing."),
    spec!(
        "evt.is_open_exec",
        Bool,
        None,
        "An open that creates an executable file (mode has an x bit)."
    ),
    spec!(
        "evt.arg",
        Str,
        Index,
        "Positional argument: `evt.arg[0]` domain, `[1]` type, `[2]` protocol of socket."
    ),
    spec!(
        "evt.args",
        Str,
        None,
        "All decoded arguments as `name=value` text."
    ),
    spec!(
        "evt.arg.path",
        Str,
        None,
        "Path argument of open, unlink, chmod, chown, mount target, module file."
    ),
    spec!(
        "evt.arg.name",
        Str,
        None,
        "Same as `evt.arg.path` (Falco's name for open/unlink paths)."
    ),
    spec!("evt.arg.filename", Str, None, "Same as `evt.arg.path`."),
    spec!("evt.arg.pathname", Str, None, "Same as `evt.arg.path`."),
    spec!(
        "evt.arg.oldpath",
        Str,
        None,
        "Source of a rename; target of a link."
    ),
    spec!(
        "evt.arg.newpath",
        Str,
        None,
        "Destination of a rename; the new link of a link."
    ),
    spec!("evt.arg.target", Str, None, "What a link points to."),
    spec!(
        "evt.arg.linkpath",
        Str,
        None,
        "The link a link/symlink call created."
    ),
    spec!(
        "evt.arg.flags",
        Str,
        None,
        "Open flags (`O_WRONLY|O_CREAT`), mount flags or memfd flags as text."
    ),
    spec!(
        "evt.arg.mode",
        Str,
        None,
        "Mode of open and chmod as flags (`S_ISUID|S_IRUSR|...`)."
    ),
    spec!(
        "evt.arg.uid",
        Int,
        None,
        "New owner of chown; first id of setuid."
    ),
    spec!("evt.arg.gid", Int, None, "New group of chown."),
    spec!(
        "evt.arg.request",
        Str,
        None,
        "ptrace request (`PTRACE_ATTACH`, ...)."
    ),
    spec!(
        "evt.arg.pid",
        Int,
        None,
        "Target pid of ptrace and process_vm_writev."
    ),
    spec!(
        "evt.arg.domain",
        Str,
        None,
        "Address family of socket (`AF_PACKET`, ...)."
    ),
    spec!("evt.arg.type", Str, None, "Socket type (`SOCK_RAW`, ...)."),
    spec!("evt.arg.fstype", Str, None, "Filesystem type of mount."),
    spec!("evt.arg.source", Str, None, "Source (device) of mount."),
    spec!("evt.arg.dev", Str, None, "Same as `evt.arg.source`."),
    spec!("evt.arg.data", Str, None, "memfd_create name."),
    spec!(
        "proc.name",
        Str,
        None,
        "Process name (`comm`, at most 15 bytes)."
    ),
    spec!("proc.exe", Str, None, "argv[0]."),
    spec!("proc.exepath", Str, None, "Full path of the executable."),
    spec!(
        "proc.cmdline",
        Str,
        None,
        "Name and arguments: `name arg1 arg2`."
    ),
    spec!(
        "proc.args",
        Str,
        None,
        "Arguments after argv[0], joined by spaces."
    ),
    spec!("proc.pid", Int, None, "Process id (host pid namespace)."),
    spec!("proc.ppid", Int, None, "Parent process id."),
    spec!("proc.pname", Str, None, "Parent process name."),
    spec!("proc.pcmdline", Str, None, "Parent command line."),
    spec!("proc.pexepath", Str, None, "Parent executable path."),
    spec!("proc.pexe", Str, None, "Parent argv[0]."),
    spec!("proc.cwd", Str, None, "Working directory."),
    spec!(
        "proc.aname",
        StrList,
        OptIndex,
        "Ancestor name: `[1]` parent, `[2]` grandparent; without index any ancestor."
    ),
    spec!(
        "proc.aexepath",
        Str,
        Index,
        "Ancestor executable path by level."
    ),
    spec!("proc.apid", Int, Index, "Ancestor pid by level."),
    spec!("proc.aexe", Str, Index, "Ancestor argv[0] by level."),
    spec!(
        "proc.duration",
        Int,
        None,
        "Nanoseconds since the process started (live only: a replay has no value)."
    ),
    spec!(
        "proc.vpid",
        Int,
        None,
        "Pid inside the process's pid namespace: the pid in the host namespace, 1 for the first process of a new pid namespace (a container's init), no value otherwise."
    ),
    spec!(
        "proc.acmdline",
        Str,
        Index,
        "Ancestor command line by level."
    ),
    spec!(
        "proc.tty",
        Int,
        None,
        "Controlling terminal device, 0 without one."
    ),
    spec!(
        "proc.env",
        Str,
        OptKey,
        "Captured environment (`NAME=value ...`), or `proc.env[NAME]` for one value."
    ),
    spec!(
        "proc.is_exe_upper_layer",
        Bool,
        None,
        "The executable was written to the container's upper layer (drift)."
    ),
    spec!(
        "proc.is_exe_from_memfd",
        Bool,
        None,
        "The executable is a memfd (fileless)."
    ),
    spec!(
        "proc.is_exe_deleted",
        Bool,
        None,
        "The executable file was deleted."
    ),
    spec!("proc.exe_ino", Int, None, "Inode of the executable."),
    spec!("user.uid", Int, None, "Real user id."),
    spec!(
        "user.name",
        Str,
        None,
        "User name (from the host's user table, `root` for 0)."
    ),
    spec!(
        "user.loginuid",
        Int,
        None,
        "Audit login uid, -1 when unset."
    ),
    spec!(
        "user.loginname",
        Str,
        None,
        "User name of the audit login uid."
    ),
    spec!("group.gid", Int, None, "Real group id."),
    spec!(
        "thread.cap_effective",
        Str,
        None,
        "Effective capabilities, names separated by spaces."
    ),
    spec!(
        "thread.cap_permitted",
        Str,
        None,
        "Permitted capabilities, names separated by spaces."
    ),
    spec!(
        "fd.name",
        Str,
        None,
        "File path, or `cip:cport->sip:sport` for sockets, or the socket path for unix sockets. Also the path of unlink, rename (new), link (new), chmod, chown."
    ),
    spec!("fd.directory", Str, None, "Directory of a file path."),
    spec!("fd.filename", Str, None, "Last component of a file path."),
    spec!(
        "fd.typechar",
        Str,
        None,
        "`f` file, `d` directory, `4` IPv4, `6` IPv6, `u` unix, `p` packet."
    ),
    spec!(
        "fd.type",
        Str,
        None,
        "`file`, `directory`, `ipv4`, `ipv6`, `unix`, `packet`."
    ),
    spec!(
        "fd.num",
        Int,
        None,
        "File descriptor returned by open, -1 on failure."
    ),
    spec!(
        "fd.nameraw",
        Str,
        None,
        "The file name as the syscall passed it (relative and `..` kept); equal to `fd.name`, which Kestrel does not resolve either."
    ),
    spec!("fd.cip", Ip, None, "Client IP."),
    spec!("fd.sip", Ip, None, "Server IP."),
    spec!("fd.dip", Ip, None, "Destination (server) IP."),
    spec!("fd.lip", Ip, None, "Local IP."),
    spec!("fd.rip", Ip, None, "Remote IP."),
    spec!("fd.ip", Ip, None, "Either IP."),
    spec!(
        "fd.cnet",
        Ip,
        None,
        "Client IP, compared against networks (`10.0.0.0/8`)."
    ),
    spec!("fd.snet", Ip, None, "Server IP, compared against networks."),
    spec!("fd.lnet", Ip, None, "Local IP, compared against networks."),
    spec!("fd.rnet", Ip, None, "Remote IP, compared against networks."),
    spec!("fd.net", Ip, None, "Either IP, compared against networks."),
    spec!("fd.cport", Int, None, "Client port."),
    spec!("fd.sport", Int, None, "Server port."),
    spec!("fd.dport", Int, None, "Destination (server) port."),
    spec!("fd.lport", Int, None, "Local port."),
    spec!("fd.rport", Int, None, "Remote port."),
    spec!("fd.port", Int, None, "Either port."),
    spec!("fd.l4proto", Str, None, "`tcp`, `udp`, `raw` or `unknown`."),
    spec!("fd.sockfamily", Str, None, "`ip` or `unix`."),
    spec!(
        "fd.connected",
        Bool,
        None,
        "The socket is connected: true after a successful (or in-progress) connect or accept, false for a failed connect, bind and listen."
    ),
    spec!(
        "fd.name_changed",
        Bool,
        None,
        "Falco sets it on sendto/recvfrom to a new peer; Kestrel reports no such events, so it has no value (comparisons are false)."
    ),
    spec!(
        "fd.sip.name",
        Str,
        None,
        "Server's domain name, from the DNS answers seen on the node (passive DNS, kept for the TTL, at least 5 minutes)."
    ),
    spec!(
        "fd.cip.name",
        Str,
        None,
        "Client's domain name from DNS answers seen."
    ),
    spec!(
        "fd.lip.name",
        Str,
        None,
        "Local address's domain name from DNS answers seen."
    ),
    spec!(
        "fd.rip.name",
        Str,
        None,
        "Remote address's domain name from DNS answers seen."
    ),
    spec!(
        "container.id",
        Str,
        None,
        "12-character container id, `host` outside containers."
    ),
    spec!(
        "container.full_id",
        Str,
        None,
        "64-character container id, `host` outside containers."
    ),
    spec!(
        "container.name",
        Str,
        None,
        "Container name, `host` outside containers."
    ),
    spec!("container.image", Str, None, "`repository:tag`."),
    spec!("container.image.repository", Str, None, "Image repository."),
    spec!("container.image.tag", Str, None, "Image tag."),
    spec!(
        "container.image.digest",
        Str,
        None,
        "Image manifest digest."
    ),
    spec!(
        "container.privileged",
        Bool,
        None,
        "The container is privileged."
    ),
    spec!(
        "container.type",
        Str,
        None,
        "Container runtime (`containerd`, `cri-o`, `docker`, `podman`), `host` outside."
    ),
    spec!(
        "container.info",
        Str,
        None,
        "For outputs: container id and name."
    ),
    spec!("k8s.pod.name", Str, None, "Pod name."),
    spec!("k8s.pod.uid", Str, None, "Pod uid."),
    spec!("k8s.ns.name", Str, None, "Pod namespace."),
    spec!(
        "k8s.pod.labels",
        StrList,
        None,
        "Pod labels as `key:value` items."
    ),
    spec!(
        "k8s.pod.label",
        Str,
        Key,
        "One pod label: `k8s.pod.label[app]`."
    ),
    spec!(
        "dns.query",
        StrList,
        None,
        "Names asked in a DNS message (`evt.type=dns`)."
    ),
    spec!(
        "dns.answer",
        StrList,
        None,
        "Addresses and names in a DNS response's answers."
    ),
    spec!(
        "fs.path.name",
        Str,
        None,
        "Path operated on (open, unlink, chmod, chown, mkdir, module file)."
    ),
    spec!(
        "fs.path.source",
        Str,
        None,
        "Source path of rename and link."
    ),
    spec!(
        "fs.path.target",
        Str,
        None,
        "Target path of rename and link."
    ),
];

/// Falco fields Kestrel knows by name but has no data for. In a condition they are refused
/// with this explanation; in an output they render as `<NA>` with a load warning.
pub const FALCO_FIELDS_WITHOUT_DATA: &[&str] = &[
    "proc.ppid.duration",
    "proc.pid.ts",
    "proc.sname",
    "proc.sid",
    "proc.vpgid",
    "proc.vpgid.name",
    "proc.vpgid.exe",
    "proc.is_vpgid_leader",
    "proc.is_sid_leader",
    "proc.exe_ino.ctime",
    "proc.exe_ino.mtime",
    "proc.exe_ino.ctime_duration_proc_start",
    "proc.stdin.type",
    "proc.stdout.type",
    "proc.fdopencount",
    "proc.loginshellid",
    "proc.nthreads",
    "container.start_ts",
    "container.mounts",
    "container.mount",
    "container.image.id",
    "container.healthcheck",
    "container.liveness_probe",
    "container.readiness_probe",
    "group.name",
    "fd.types",
    "evt.arg.fd",
    "fd.ino",
    "fd.dev",
    "evt.buffer",
    "evt.is_io_write",
    "evt.is_io_read",
    "evt.latency",
    "evt.count",
    "k8s.pod.ip",
    "k8s.pod.cni.json",
];

/// Documentation of every field: (name, type, description), in table order.
pub fn field_docs() -> impl Iterator<Item = (&'static str, FieldType, &'static str)> {
    SPECS.iter().map(|s| (s.name, s.ty, s.doc))
}

/// Why a field reference was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    Unknown,
    BadArg(String),
}

/// Resolves `name[arg]` into a field and its type.
pub fn resolve(name: &str, arg: Option<&str>) -> Result<(Field, FieldType), FieldError> {
    let spec = SPECS
        .iter()
        .find(|s| s.name == name)
        .ok_or(FieldError::Unknown)?;
    let index = |a: &str| {
        a.parse::<usize>()
            .map_err(|_| FieldError::BadArg(format!("{name}[{a}]: the argument must be a number")))
    };
    match (spec.arg, arg) {
        (ArgSpec::None, Some(a)) => {
            return Err(FieldError::BadArg(format!(
                "{name}[{a}]: this field takes no argument"
            )));
        }
        (ArgSpec::Index | ArgSpec::Key, None) => {
            return Err(FieldError::BadArg(format!(
                "{name} needs an argument in brackets"
            )));
        }
        _ => {}
    }
    use Field as F;
    let f = match name {
        "evt.type" => F::EvtType,
        "evt.time" => F::EvtTime,
        "evt.time.iso8601" => F::EvtTimeIso,
        "evt.rawtime" => F::EvtRawTime,
        "evt.num" => F::EvtNum,
        "evt.res" => F::EvtRes,
        "evt.rawres" => F::EvtRawRes,
        "evt.failed" => F::EvtFailed,
        "evt.dir" => F::EvtDir,
        "evt.hostname" => F::EvtHostname,
        "evt.source" => F::EvtSource,
        "evt.is_open_read" => F::EvtIsOpenRead,
        "evt.is_open_write" => F::EvtIsOpenWrite,
        "evt.is_open_exec" => F::EvtIsOpenExec,
        "evt.arg" => F::EvtArgN(index(arg.unwrap_or_default())?),
        "evt.args" => F::EvtArgs,
        "evt.arg.path" | "evt.arg.name" | "evt.arg.filename" | "evt.arg.pathname" => {
            F::EvtArg(EvtArg::Path)
        }
        "evt.arg.oldpath" => F::EvtArg(EvtArg::OldPath),
        "evt.arg.newpath" => F::EvtArg(EvtArg::NewPath),
        "evt.arg.target" => F::EvtArg(EvtArg::Target),
        "evt.arg.linkpath" => F::EvtArg(EvtArg::LinkPath),
        "evt.arg.flags" => F::EvtArg(EvtArg::Flags),
        "evt.arg.mode" => F::EvtArg(EvtArg::Mode),
        "evt.arg.uid" => F::EvtArg(EvtArg::Uid),
        "evt.arg.gid" => F::EvtArg(EvtArg::Gid),
        "evt.arg.request" => F::EvtArg(EvtArg::Request),
        "evt.arg.pid" => F::EvtArg(EvtArg::Pid),
        "evt.arg.domain" => F::EvtArg(EvtArg::Domain),
        "evt.arg.type" => F::EvtArg(EvtArg::SockType),
        "evt.arg.fstype" => F::EvtArg(EvtArg::FsType),
        "evt.arg.source" | "evt.arg.dev" => F::EvtArg(EvtArg::Source),
        "evt.arg.data" => F::EvtArg(EvtArg::Data),
        "proc.name" => F::ProcName,
        "proc.exe" => F::ProcExe,
        "proc.exepath" => F::ProcExePath,
        "proc.cmdline" => F::ProcCmdline,
        "proc.args" => F::ProcArgs,
        "proc.pid" => F::ProcPid,
        "proc.ppid" => F::ProcPpid,
        "proc.pname" => F::ProcPname,
        "proc.pcmdline" => F::ProcPcmdline,
        "proc.pexepath" => F::ProcPexePath,
        "proc.pexe" => F::ProcPexe,
        "proc.cwd" => F::ProcCwd,
        "proc.aname" => match arg {
            Some(a) => F::ProcAname(Some(index(a)?)),
            None => F::ProcAname(None),
        },
        "proc.apid" => F::ProcApid(index(arg.unwrap_or_default())?),
        "proc.aexepath" => F::ProcAexepath(index(arg.unwrap_or_default())?),
        "proc.acmdline" => F::ProcAcmdline(index(arg.unwrap_or_default())?),
        "proc.aexe" => F::ProcAexe(index(arg.unwrap_or_default())?),
        "proc.duration" => F::ProcDuration,
        "proc.vpid" => F::ProcVpid,
        "proc.tty" => F::ProcTty,
        "proc.env" => F::ProcEnv(arg.map(str::to_owned)),
        "proc.is_exe_upper_layer" => F::ProcIsExeUpperLayer,
        "proc.is_exe_from_memfd" => F::ProcIsExeFromMemfd,
        "proc.is_exe_deleted" => F::ProcIsExeDeleted,
        "proc.exe_ino" => F::ProcExeIno,
        "user.uid" => F::UserUid,
        "user.name" => F::UserName,
        "user.loginuid" => F::UserLoginUid,
        "user.loginname" => F::UserLoginName,
        "group.gid" => F::GroupGid,
        "thread.cap_effective" => F::CapEffective,
        "thread.cap_permitted" => F::CapPermitted,
        "fd.name" => F::FdName,
        "fd.nameraw" => F::FdNameRaw,
        "fd.connected" => F::FdConnected,
        "fd.name_changed" => F::FdNameChanged,
        "fd.sip.name" => F::FdIpName(Side::Server),
        "fd.cip.name" => F::FdIpName(Side::Client),
        "fd.lip.name" => F::FdIpName(Side::Local),
        "fd.rip.name" => F::FdIpName(Side::Remote),
        "fd.directory" => F::FdDirectory,
        "fd.filename" => F::FdFilename,
        "fd.typechar" => F::FdTypechar,
        "fd.type" => F::FdType,
        "fd.num" => F::FdNum,
        "fd.cip" | "fd.cnet" => F::FdIp(Side::Client),
        "fd.sip" | "fd.dip" | "fd.snet" => F::FdIp(Side::Server),
        "fd.lip" | "fd.lnet" => F::FdIp(Side::Local),
        "fd.rip" | "fd.rnet" => F::FdIp(Side::Remote),
        "fd.ip" | "fd.net" => F::FdIp(Side::Any),
        "fd.cport" => F::FdPort(Side::Client),
        "fd.sport" | "fd.dport" => F::FdPort(Side::Server),
        "fd.lport" => F::FdPort(Side::Local),
        "fd.rport" => F::FdPort(Side::Remote),
        "fd.port" => F::FdPort(Side::Any),
        "fd.l4proto" => F::FdL4proto,
        "fd.sockfamily" => F::FdSockfamily,
        "container.id" => F::ContainerId,
        "container.full_id" => F::ContainerFullId,
        "container.name" => F::ContainerName,
        "container.image" => F::ContainerImage,
        "container.image.repository" => F::ContainerImageRepository,
        "container.image.tag" => F::ContainerImageTag,
        "container.image.digest" => F::ContainerImageDigest,
        "container.privileged" => F::ContainerPrivileged,
        "container.type" => F::ContainerRuntime,
        "container.info" => F::ContainerInfo,
        "k8s.pod.name" => F::K8sPodName,
        "k8s.pod.uid" => F::K8sPodUid,
        "k8s.ns.name" => F::K8sNsName,
        "k8s.pod.labels" => F::K8sPodLabels,
        "k8s.pod.label" => F::K8sPodLabel(arg.unwrap_or_default().to_owned()),
        "dns.query" => F::DnsQuery,
        "dns.answer" => F::DnsAnswer,
        "fs.path.name" => F::FsPathName,
        "fs.path.source" => F::FsPathSource,
        "fs.path.target" => F::FsPathTarget,
        _ => return Err(FieldError::Unknown),
    };
    Ok((f, spec.ty))
}

/// Per-evaluation context beyond the event itself.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub hostname: &'a str,
    pub num: u64,
    pub users: &'a crate::UserNames,
    /// Strings built from the event once and shared by every rule that reads them.
    pub cache: Cache,
    /// Names of addresses from the DNS answers seen (`fd.sip.name`...); `None`: no names.
    pub names: Option<&'a crate::DnsNames>,
    /// Unix time minus boot time in nanoseconds, to compare process start times (boot clock)
    /// with event times (Unix); `None`: `proc.duration` has no value.
    pub boot_to_unix_ns: Option<i64>,
}

impl<'a> Ctx<'a> {
    pub fn new(hostname: &'a str, num: u64, users: &'a crate::UserNames) -> Ctx<'a> {
        Ctx {
            hostname,
            num,
            users,
            cache: Cache::default(),
            names: None,
            boot_to_unix_ns: None,
        }
    }
}

/// The inode number of the initial pid namespace (`PROC_PID_INIT_INO`), the same on every
/// Linux system.
const INIT_PID_NS: u32 = 0xEFFF_FFFC;

/// Lazily built strings of one event.
#[derive(Debug, Default)]
pub struct Cache {
    args: std::cell::OnceCell<String>,
    cmdline: std::cell::OnceCell<String>,
    pcmdline: std::cell::OnceCell<Option<String>>,
    open_flags: std::cell::OnceCell<String>,
}

fn s(v: &str) -> Option<Value<'_>> {
    Some(Value::Str(Cow::Borrowed(v)))
}

fn owned<'a>(v: String) -> Option<Value<'a>> {
    Some(Value::Str(Cow::Owned(v)))
}

/// The event's result code, for kinds that carry one.
pub fn result(kind: &EventKind) -> i64 {
    match kind {
        EventKind::Open { result, .. }
        | EventKind::Rename { result, .. }
        | EventKind::Unlink { result, .. }
        | EventKind::Link { result, .. }
        | EventKind::Chmod { result, .. }
        | EventKind::Chown { result, .. }
        | EventKind::Mount { result, .. }
        | EventKind::MemfdCreate { result, .. }
        | EventKind::Connect { result, .. }
        | EventKind::Accept { result, .. }
        | EventKind::Bind { result, .. }
        | EventKind::Listen { result, .. }
        | EventKind::Socket { result, .. }
        | EventKind::SetId { result, .. }
        | EventKind::Capset { result, .. }
        | EventKind::Ptrace { result, .. }
        | EventKind::ProcessVmWritev { result, .. }
        | EventKind::ModuleLoad { result, .. }
        | EventKind::Bpf { result, .. }
        | EventKind::Unshare { result, .. }
        | EventKind::Setns { result, .. } => *result,
        _ => 0,
    }
}

/// The primary path an event operated on.
pub fn event_path(kind: &EventKind) -> Option<&str> {
    match kind {
        EventKind::Open { path, .. }
        | EventKind::Unlink { path, .. }
        | EventKind::Chmod { path, .. }
        | EventKind::Chown { path, .. }
        | EventKind::Mmap { path, .. } => Some(path),
        EventKind::Rename { new_path, .. } => Some(new_path),
        EventKind::Link { link_path, .. } => Some(link_path),
        EventKind::Mount { target, .. } => Some(target),
        EventKind::ModuleLoad { path, .. } => path.as_deref(),
        _ => None,
    }
}

/// (local, remote) endpoints and whether this end is the client.
fn endpoints(kind: &EventKind) -> Option<(Option<&SockAddr>, Option<&SockAddr>, bool)> {
    match kind {
        EventKind::Connect { local, remote, .. } => Some((local.as_ref(), Some(remote), true)),
        EventKind::Accept { local, remote, .. } => Some((Some(local), Some(remote), false)),
        EventKind::Bind { local, .. } | EventKind::Listen { local, .. } => {
            Some((Some(local), None, false))
        }
        EventKind::Dns(m) => Some((None, Some(&m.server), true)),
        _ => None,
    }
}

fn sock_family(kind: &EventKind) -> Option<SocketFamily> {
    match kind {
        EventKind::Connect { family, .. }
        | EventKind::Accept { family, .. }
        | EventKind::Bind { family, .. }
        | EventKind::Listen { family, .. }
        | EventKind::Socket { family, .. } => Some(*family),
        EventKind::Dns(_) => Some(SocketFamily::Inet),
        _ => None,
    }
}

fn ip_of(a: Option<&SockAddr>) -> Option<IpAddr> {
    match a? {
        SockAddr::Inet(sa) => Some(sa.ip()),
        _ => None,
    }
}

fn port_of(a: Option<&SockAddr>) -> Option<i64> {
    match a? {
        SockAddr::Inet(sa) => Some(i64::from(sa.port())),
        _ => None,
    }
}

fn side(kind: &EventKind, side: Side) -> Option<(Option<&SockAddr>, Option<&SockAddr>)> {
    let (local, remote, is_client) = endpoints(kind)?;
    Some(match side {
        Side::Local => (local, None),
        Side::Remote => (remote, None),
        Side::Client if is_client => (local, None),
        Side::Client => (remote, None),
        Side::Server if is_client => (remote, None),
        Side::Server => (local, None),
        Side::Any => (local, remote),
    })
}

fn fmt_addr(a: Option<&SockAddr>) -> String {
    match a {
        Some(SockAddr::Inet(sa)) => format!("{}:{}", sa.ip(), sa.port()),
        Some(SockAddr::Unix(p)) => p.clone(),
        Some(SockAddr::Other(f)) => format!("family{f}"),
        None => String::new(),
    }
}

/// Falco's `fd.name` for a file: the path made absolute against the process's working directory
/// and cleaned lexically (`.`, `..` and repeated `/` removed), so that `/etc/./ssh/../shadow`
/// matches `fd.name = /etc/shadow`. Lexical like Falco: `..` after a symlink is not resolved.
/// Borrows when the path is already clean, which is the common case.
pub fn clean_path<'a>(path: &'a str, cwd: Option<&str>) -> Cow<'a, str> {
    let absolute = path.starts_with('/');
    // One pass: an empty component is `//` or a trailing `/`.
    let clean = absolute
        && (path.len() == 1 || !path[1..].split('/').any(|c| matches!(c, "" | "." | "..")));
    if clean {
        return Cow::Borrowed(path);
    }
    let mut parts: Vec<&str> = Vec::new();
    let base = match (absolute, cwd) {
        (false, Some(c)) if c.starts_with('/') => c,
        // A relative path with no known working directory stays as the process gave it.
        (false, _) => return Cow::Borrowed(path),
        (true, _) => "",
    };
    for comp in base.split('/').chain(path.split('/')) {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = String::with_capacity(path.len() + base.len());
    for c in &parts {
        out.push('/');
        out.push_str(c);
    }
    if out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

fn file_name<'a>(
    k: &'a EventKind,
    proc_: Option<&kestrel_event::ProcessInfo>,
) -> Option<Cow<'a, str>> {
    Some(clean_path(
        event_path(k)?,
        proc_.map(|p| p.cwd.as_str()).filter(|c| !c.is_empty()),
    ))
}

fn dirname(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) => "/",
        Some(i) => &p[..i],
        None => p,
    }
}

fn basename(p: &str) -> &str {
    p.rsplit('/').next().unwrap_or(p)
}

/// Falco's names for the open flags bits that rules test.
pub fn open_flags_text(flags: u32) -> String {
    let mut out = vec![match flags & 3 {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        _ => "O_RDWR",
    }];
    for (bit, name) in [
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o2000000, "O_CLOEXEC"),
        (0o20000000, "O_TMPFILE"),
    ] {
        if flags & bit != 0 {
            out.push(name);
        }
    }
    out.join("|")
}

/// File mode bits as Falco names them.
pub fn mode_text(mode: u32) -> String {
    let names = [
        (0o4000, "S_ISUID"),
        (0o2000, "S_ISGID"),
        (0o1000, "S_ISVTX"),
        (0o400, "S_IRUSR"),
        (0o200, "S_IWUSR"),
        (0o100, "S_IXUSR"),
        (0o40, "S_IRGRP"),
        (0o20, "S_IWGRP"),
        (0o10, "S_IXGRP"),
        (0o4, "S_IROTH"),
        (0o2, "S_IWOTH"),
        (0o1, "S_IXOTH"),
    ];
    names
        .iter()
        .filter(|(b, _)| mode & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("|")
}

const CAP_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

fn caps_text(mask: u64) -> String {
    CAP_NAMES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The errno name Falco prints in `evt.res` for a negative result.
pub fn errno_name(res: i64) -> Cow<'static, str> {
    let name = match -res {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        30 => "EROFS",
        32 => "EPIPE",
        38 => "ENOSYS",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        93 => "EPROTONOSUPPORT",
        95 => "EOPNOTSUPP",
        97 => "EAFNOSUPPORT",
        98 => "EADDRINUSE",
        99 => "EADDRNOTAVAIL",
        101 => "ENETUNREACH",
        104 => "ECONNRESET",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        113 => "EHOSTUNREACH",
        114 => "EALREADY",
        115 => "EINPROGRESS",
        _ => return Cow::Owned(format!("E{}", -res)),
    };
    Cow::Borrowed(name)
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (Howard Hinnant's algorithm).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 UTC with nanoseconds, as Falco writes an alert's `time`.
pub fn rfc3339(ts: u64) -> String {
    let secs = (ts / 1_000_000_000) as i64;
    let nanos = ts % 1_000_000_000;
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

pub fn time_of_day(ts: u64) -> String {
    let secs = ts / 1_000_000_000;
    let sod = secs % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ts % 1_000_000_000
    )
}

/// The syscall name reported in `evt.type` for an event.
pub fn type_name(kind: &EventKind) -> &str {
    match kind {
        EventKind::SetId { syscall, .. } | EventKind::ModuleLoad { syscall, .. } => syscall,
        k => k.type_name(),
    }
}

fn ptrace_request(r: i64) -> Cow<'static, str> {
    Cow::Borrowed(match r {
        0 => "PTRACE_TRACEME",
        1 => "PTRACE_PEEKTEXT",
        2 => "PTRACE_PEEKDATA",
        4 => "PTRACE_POKETEXT",
        5 => "PTRACE_POKEDATA",
        6 => "PTRACE_POKEUSER",
        7 => "PTRACE_CONT",
        8 => "PTRACE_KILL",
        9 => "PTRACE_SINGLESTEP",
        12 => "PTRACE_GETREGS",
        13 => "PTRACE_SETREGS",
        16 => "PTRACE_ATTACH",
        17 => "PTRACE_DETACH",
        0x4206 => "PTRACE_SEIZE",
        _ => return Cow::Owned(format!("PTRACE_{r}")),
    })
}

fn family_name(f: SocketFamily) -> Cow<'static, str> {
    Cow::Borrowed(match f {
        SocketFamily::Inet => "AF_INET",
        SocketFamily::Inet6 => "AF_INET6",
        SocketFamily::Unix => "AF_UNIX",
        SocketFamily::Packet => "AF_PACKET",
        SocketFamily::Netlink => "AF_NETLINK",
        SocketFamily::Other(n) => return Cow::Owned(format!("AF_{n}")),
    })
}

fn sock_type_name(t: u32) -> &'static str {
    match t & 0xf {
        1 => "SOCK_STREAM",
        2 => "SOCK_DGRAM",
        3 => "SOCK_RAW",
        4 => "SOCK_RDM",
        5 => "SOCK_SEQPACKET",
        10 => "SOCK_PACKET",
        _ => "SOCK_UNKNOWN",
    }
}

/// Reads `field` from `ev`. `None` when the event has no such value.
pub fn extract<'e>(field: &Field, ev: &'e Event, cx: &'e Ctx<'_>) -> Option<Value<'e>> {
    use Field as F;
    let proc_ = ev.process.as_deref();
    let cont = ev.container.as_deref();
    let k = &ev.kind;
    match field {
        F::EvtType => s(type_name(k)),
        F::EvtTime => owned(time_of_day(ev.ts)),
        F::EvtTimeIso => owned(rfc3339(ev.ts)),
        F::EvtRawTime => Some(Value::Int(ev.ts as i64)),
        F::EvtNum => Some(Value::Int(cx.num as i64)),
        F::EvtRes => {
            let r = result(k);
            if r >= 0 {
                s("SUCCESS")
            } else {
                Some(Value::Str(errno_name(r)))
            }
        }
        F::EvtRawRes => Some(Value::Int(result(k))),
        F::EvtFailed => Some(Value::Bool(result(k) < 0)),
        F::EvtDir => s("<"),
        F::EvtHostname => s(cx.hostname),
        F::EvtSource => s("syscall"),
        F::EvtIsOpenRead => match k {
            EventKind::Open { flags, .. } => Some(Value::Bool(flags.is_read())),
            _ => Some(Value::Bool(false)),
        },
        F::EvtIsOpenWrite => match k {
            EventKind::Open { flags, .. } => Some(Value::Bool(flags.is_write())),
            _ => Some(Value::Bool(false)),
        },
        F::EvtIsOpenExec => match k {
            EventKind::Open { flags, mode, .. } => Some(Value::Bool(
                flags.contains(kestrel_event::OpenFlags::O_CREAT) && mode & 0o111 != 0,
            )),
            _ => Some(Value::Bool(false)),
        },
        F::EvtArg(EvtArg::Flags) if matches!(k, EventKind::Open { .. }) => {
            let EventKind::Open { flags, .. } = k else {
                unreachable!("matched above")
            };
            s(cx.cache.open_flags.get_or_init(|| open_flags_text(flags.0)))
        }
        F::EvtArg(a) => extract_arg(*a, k),
        F::EvtArgN(n) => match (k, n) {
            (EventKind::Socket { .. }, 0) => extract_arg(EvtArg::Domain, k),
            (EventKind::Socket { .. }, 1) => extract_arg(EvtArg::SockType, k),
            (EventKind::Socket { protocol, .. }, 2) => owned(protocol.to_string()),
            _ => None,
        },
        F::EvtArgs => owned(args_text(k)),
        F::ProcName => s(&proc_?.name),
        F::ProcExe => s(proc_?.args.first()?),
        F::ProcExePath => s(&proc_?.exe.path),
        F::ProcCmdline => {
            let p = proc_?;
            s(cx.cache.cmdline.get_or_init(|| p.cmdline()))
        }
        F::ProcArgs => {
            let p = proc_?;
            s(cx.cache
                .args
                .get_or_init(|| p.args.get(1..).unwrap_or_default().join(" ")))
        }
        F::ProcPid => Some(Value::Int(i64::from(proc_.map_or(ev.pid, |p| p.pid)))),
        F::ProcPpid => Some(Value::Int(i64::from(proc_?.ppid))),
        F::ProcPname => s(&proc_?.parent.as_deref()?.name),
        F::ProcPcmdline => {
            let p = proc_?;
            s(cx.cache
                .pcmdline
                .get_or_init(|| p.parent.as_deref().map(ProcessInfo::cmdline))
                .as_deref()?)
        }
        F::ProcPexePath => s(&proc_?.parent.as_deref()?.exe.path),
        F::ProcPexe => s(proc_?.parent.as_deref()?.args.first()?),
        F::ProcCwd => s(&proc_?.cwd),
        F::ProcAname(Some(n)) => s(&proc_?.ancestor(*n)?.name),
        F::ProcAname(None) => {
            let mut names = Vec::new();
            let mut cur = proc_?.parent.as_deref();
            while let Some(p) = cur {
                names.push(Cow::Borrowed(p.name.as_str()));
                cur = p.parent.as_deref();
            }
            Some(Value::List(names))
        }
        F::ProcAexepath(n) => s(&proc_?.ancestor(*n)?.exe.path),
        F::ProcAexe(n) => s(proc_?.ancestor(*n)?.args.first()?),
        F::ProcDuration => {
            let p = proc_?;
            if p.start_time == 0 {
                return None;
            }
            let started = p.start_time as i64 + cx.boot_to_unix_ns?;
            Some(Value::Int((ev.ts as i64 - started).max(0)))
        }
        F::ProcVpid => {
            let p = proc_?;
            if p.ns.pid == INIT_PID_NS {
                Some(Value::Int(i64::from(p.pid)))
            } else if p.ns.pid != 0
                && p.parent
                    .as_deref()
                    .is_some_and(|pp| pp.ns.pid != 0 && pp.ns.pid != p.ns.pid)
            {
                // The first process of a pid namespace is its pid 1.
                Some(Value::Int(1))
            } else {
                None
            }
        }
        F::ProcApid(n) => Some(Value::Int(i64::from(proc_?.ancestor(*n)?.pid))),
        F::ProcAcmdline(n) => owned(proc_?.ancestor(*n)?.cmdline()),
        F::ProcTty => Some(Value::Int(i64::from(proc_?.tty.unwrap_or(0)))),
        F::ProcEnv(None) => owned(proc_?.env.join(" ")),
        F::ProcEnv(Some(name)) => s(proc_?.env_var(name)?),
        F::ProcIsExeUpperLayer => Some(Value::Bool(proc_?.exe.upper_layer)),
        F::ProcIsExeFromMemfd => Some(Value::Bool(proc_?.exe.memfd)),
        F::ProcIsExeDeleted => Some(Value::Bool(proc_?.exe.deleted)),
        F::ProcExeIno => Some(Value::Int(proc_?.exe.ino as i64)),
        F::UserUid => Some(Value::Int(i64::from(proc_?.creds.uid))),
        F::UserName => {
            let uid = proc_?.creds.uid;
            match cx.users.get(uid) {
                Some(n) => s(n),
                None => owned(uid.to_string()),
            }
        }
        F::UserLoginUid => Some(Value::Int(proc_?.creds.loginuid.map_or(-1, i64::from))),
        F::UserLoginName => {
            let uid = proc_?.creds.loginuid?;
            match cx.users.get(uid) {
                Some(n) => s(n),
                None => owned(uid.to_string()),
            }
        }
        F::GroupGid => Some(Value::Int(i64::from(proc_?.creds.gid))),
        F::CapEffective => owned(caps_text(proc_?.caps.effective)),
        F::CapPermitted => owned(caps_text(proc_?.caps.permitted)),
        F::FdName => match k {
            EventKind::Connect { .. } | EventKind::Accept { .. } => {
                let (l, r, client) = endpoints(k)?;
                if matches!(r, Some(SockAddr::Unix(_))) {
                    return owned(fmt_addr(r));
                }
                let (c, sv) = if client { (l, r) } else { (r, l) };
                owned(format!("{}->{}", fmt_addr(c), fmt_addr(sv)))
            }
            EventKind::Bind { local, .. } | EventKind::Listen { local, .. } => {
                owned(fmt_addr(Some(local)))
            }
            _ => Some(Value::Str(file_name(k, proc_)?)),
        },
        F::FdNameRaw => match k {
            EventKind::Connect { .. }
            | EventKind::Accept { .. }
            | EventKind::Bind { .. }
            | EventKind::Listen { .. } => extract(&F::FdName, ev, cx),
            _ => s(event_path(k)?),
        },
        F::FdConnected => match k {
            EventKind::Connect { result, .. } => Some(Value::Bool(*result >= 0 || *result == -115)),
            EventKind::Accept { result, .. } => Some(Value::Bool(*result >= 0)),
            EventKind::Bind { .. } | EventKind::Listen { .. } => Some(Value::Bool(false)),
            _ => None,
        },
        F::FdNameChanged => None,
        F::FdIpName(sd) => {
            let (a, _) = side(k, *sd)?;
            s(cx.names?.get(ip_of(a)?, ev.ts)?)
        }
        F::EvtArgUserName => {
            let uid = match extract_arg(EvtArg::Uid, k)? {
                Value::Int(n) => u32::try_from(n).ok()?,
                _ => return None,
            };
            match cx.users.get(uid) {
                Some(n) => s(n),
                None => owned(uid.to_string()),
            }
        }
        F::FdDirectory => match k {
            EventKind::Open { flags, .. } if flags.contains(0o200000) => {
                Some(Value::Str(file_name(k, proc_)?))
            }
            _ => match file_name(k, proc_)? {
                Cow::Borrowed(p) => s(dirname(p)),
                Cow::Owned(p) => owned(dirname(&p).to_owned()),
            },
        },
        F::FdFilename => match file_name(k, proc_)? {
            Cow::Borrowed(p) => s(basename(p)),
            Cow::Owned(p) => owned(basename(&p).to_owned()),
        },
        F::FdTypechar | F::FdType => {
            let (ch, name) = match k {
                EventKind::Open { flags, .. } if flags.contains(0o200000) => ("d", "directory"),
                EventKind::Open { .. } | EventKind::Mmap { .. } => ("f", "file"),
                _ => match sock_family(k)? {
                    SocketFamily::Inet => ("4", "ipv4"),
                    SocketFamily::Inet6 => ("6", "ipv6"),
                    SocketFamily::Unix => ("u", "unix"),
                    SocketFamily::Packet => ("p", "packet"),
                    SocketFamily::Netlink => ("n", "netlink"),
                    SocketFamily::Other(_) => ("o", "unknown"),
                },
            };
            s(if *field == F::FdTypechar { ch } else { name })
        }
        F::FdNum => match k {
            EventKind::Open { result, .. } => Some(Value::Int((*result).max(-1))),
            _ => None,
        },
        F::FdIp(sd) => {
            let (a, b) = side(k, *sd)?;
            match (ip_of(a), ip_of(b)) {
                (Some(x), Some(y)) => Some(Value::Ip2(x, y)),
                (Some(x), None) | (None, Some(x)) => Some(Value::Ip(x)),
                (None, None) => None,
            }
        }
        F::FdPort(sd) => {
            let (a, b) = side(k, *sd)?;
            match (port_of(a), port_of(b)) {
                (Some(x), Some(y)) => Some(Value::Int2(x, y)),
                (Some(x), None) | (None, Some(x)) => Some(Value::Int(x)),
                (None, None) => None,
            }
        }
        F::FdL4proto => match k {
            EventKind::Connect { protocol, .. }
            | EventKind::Accept { protocol, .. }
            | EventKind::Bind { protocol, .. }
            | EventKind::Listen { protocol, .. } => s(match protocol {
                NetProtocol::Tcp => "tcp",
                NetProtocol::Udp => "udp",
                NetProtocol::Raw => "raw",
                NetProtocol::Unknown => "unknown",
            }),
            EventKind::Dns(_) => s("udp"),
            _ => None,
        },
        F::FdSockfamily => match sock_family(k)? {
            SocketFamily::Inet | SocketFamily::Inet6 => s("ip"),
            SocketFamily::Unix => s("unix"),
            _ => s("unknown"),
        },
        F::ContainerId => s(cont.map_or("host", |c| c.id.short())),
        F::ContainerFullId => s(cont.map_or("host", |c| c.id.as_str())),
        F::ContainerName => match cont {
            None => s("host"),
            Some(c) => s(c.name.as_deref()?),
        },
        F::ContainerImage => {
            let img = cont?.image.as_ref()?;
            match &img.tag {
                Some(t) => owned(format!("{}:{}", img.repository, t)),
                None => s(&img.repository),
            }
        }
        F::ContainerImageRepository => s(&cont?.image.as_ref()?.repository),
        F::ContainerImageTag => s(cont?.image.as_ref()?.tag.as_deref()?),
        F::ContainerImageDigest => s(cont?.image.as_ref()?.digest.as_deref()?),
        F::ContainerPrivileged => match cont {
            None => Some(Value::Bool(false)),
            Some(c) => Some(Value::Bool(c.privileged?)),
        },
        F::ContainerRuntime => match cont {
            None => s("host"),
            Some(c) => s(match c.runtime? {
                kestrel_event::ContainerRuntime::Containerd => "containerd",
                kestrel_event::ContainerRuntime::Crio => "cri-o",
                kestrel_event::ContainerRuntime::Docker => "docker",
                kestrel_event::ContainerRuntime::Podman => "podman",
            }),
        },
        F::ContainerInfo => owned(container_info(cont)),
        F::K8sPodName => s(pod_field(cont, |p| &p.name)?),
        F::K8sPodUid => s(pod_field(cont, |p| &p.uid)?),
        F::K8sNsName => s(pod_field(cont, |p| &p.namespace)?),
        F::K8sPodLabels => Some(Value::List(
            cont?
                .pod
                .as_ref()?
                .labels
                .iter()
                .map(|(k, v)| Cow::Owned(format!("{k}:{v}")))
                .collect(),
        )),
        F::K8sPodLabel(key) => s(cont?.pod.as_ref()?.labels.get(key)?),
        F::DnsQuery => match k {
            EventKind::Dns(m) => Some(Value::List(
                m.questions
                    .iter()
                    .map(|q| Cow::Borrowed(q.as_str()))
                    .collect(),
            )),
            _ => None,
        },
        F::DnsAnswer => match k {
            EventKind::Dns(m) => Some(Value::List(
                m.answers
                    .iter()
                    .map(|a| Cow::Borrowed(a.data.as_str()))
                    .collect(),
            )),
            _ => None,
        },
        F::FsPathName => match k {
            EventKind::Rename { .. } | EventKind::Link { .. } => None,
            _ => Some(Value::Str(file_name(k, proc_)?)),
        },
        F::FsPathSource => match k {
            EventKind::Rename { old_path, .. } => s(old_path),
            EventKind::Link { target, .. } => s(target),
            _ => None,
        },
        F::FsPathTarget => match k {
            EventKind::Rename { new_path, .. } => s(new_path),
            EventKind::Link { link_path, .. } => s(link_path),
            _ => None,
        },
    }
}

/// Every decoded argument of an event as `name=value`, for `%evt.args`.
fn args_text(k: &EventKind) -> String {
    let args: &[(&str, EvtArg)] = match k {
        EventKind::Open { .. } => &[
            ("name", EvtArg::Path),
            ("flags", EvtArg::Flags),
            ("mode", EvtArg::Mode),
        ],
        EventKind::Unlink { .. } | EventKind::Chown { .. } => &[("path", EvtArg::Path)],
        EventKind::Chmod { .. } => &[("filename", EvtArg::Path), ("mode", EvtArg::Mode)],
        EventKind::Rename { .. } => &[("oldpath", EvtArg::OldPath), ("newpath", EvtArg::NewPath)],
        EventKind::Link { .. } => &[("target", EvtArg::Target), ("linkpath", EvtArg::LinkPath)],
        EventKind::Socket { .. } => &[("domain", EvtArg::Domain), ("type", EvtArg::SockType)],
        EventKind::Ptrace { .. } => &[("request", EvtArg::Request), ("pid", EvtArg::Pid)],
        EventKind::ProcessVmWritev { .. } => &[("pid", EvtArg::Pid)],
        EventKind::Mount { .. } => &[
            ("dev", EvtArg::Source),
            ("dir", EvtArg::Path),
            ("type", EvtArg::FsType),
        ],
        EventKind::MemfdCreate { .. } => &[("name", EvtArg::Data), ("flags", EvtArg::Flags)],
        EventKind::ModuleLoad { .. } => &[("path", EvtArg::Path)],
        _ => &[],
    };
    let mut out = format!("res={}", result(k));
    for (name, a) in args {
        if let Some(v) = extract_arg(*a, k) {
            out.push_str(&format!(" {name}={v}"));
        }
    }
    out
}

fn pod_field(
    c: Option<&ContainerInfo>,
    f: impl Fn(&kestrel_event::PodInfo) -> &String,
) -> Option<&str> {
    let v = f(c?.pod.as_ref()?);
    (!v.is_empty()).then_some(v.as_str())
}

fn container_info(c: Option<&ContainerInfo>) -> String {
    match c {
        None => "container_id=host container_name=host".to_owned(),
        Some(c) => format!(
            "container_id={} container_name={}",
            c.id.short(),
            c.name.as_deref().unwrap_or("<NA>")
        ),
    }
}

fn extract_arg(a: EvtArg, k: &EventKind) -> Option<Value<'_>> {
    let int = |n: i64| Some(Value::Int(n));
    match (a, k) {
        (EvtArg::Path, _) => match k {
            EventKind::Rename { .. } | EventKind::Link { .. } => None,
            _ => s(event_path(k)?),
        },
        (EvtArg::OldPath, EventKind::Rename { old_path, .. }) => s(old_path),
        (EvtArg::NewPath, EventKind::Rename { new_path, .. }) => s(new_path),
        (EvtArg::OldPath | EvtArg::Target, EventKind::Link { target, .. }) => s(target),
        (EvtArg::NewPath | EvtArg::LinkPath, EventKind::Link { link_path, .. }) => s(link_path),
        (EvtArg::Flags, EventKind::Open { flags, .. }) => owned(open_flags_text(flags.0)),
        (EvtArg::Flags, EventKind::Mount { flags, .. }) => owned(flags.to_string()),
        (EvtArg::Flags, EventKind::MemfdCreate { flags, .. }) => owned(flags.to_string()),
        (EvtArg::Mode, EventKind::Open { mode, .. } | EventKind::Chmod { mode, .. }) => {
            owned(mode_text(*mode))
        }
        (EvtArg::Uid, EventKind::Chown { uid, .. }) => int(i64::from(*uid)),
        (EvtArg::Uid, EventKind::SetId { ids, .. }) => int(*ids.first()?),
        (EvtArg::Gid, EventKind::Chown { gid, .. }) => int(i64::from(*gid)),
        (EvtArg::Request, EventKind::Ptrace { request, .. }) => {
            Some(Value::Str(ptrace_request(*request)))
        }
        (
            EvtArg::Pid,
            EventKind::Ptrace { target_pid, .. } | EventKind::ProcessVmWritev { target_pid, .. },
        ) => int(i64::from(*target_pid)),
        (EvtArg::Domain, EventKind::Socket { family, .. }) => {
            Some(Value::Str(family_name(*family)))
        }
        (EvtArg::SockType, EventKind::Socket { sock_type, .. }) => s(sock_type_name(*sock_type)),
        (EvtArg::FsType, EventKind::Mount { fstype, .. }) => s(fstype),
        (EvtArg::Source, EventKind::Mount { source, .. }) => s(source),
        (EvtArg::Data, EventKind::MemfdCreate { name, .. }) => s(name),
        _ => None,
    }
}

/// Whether a link event is symbolic, for callers that need it without matching on the kind.
pub fn is_symlink(k: &EventKind) -> bool {
    matches!(
        k,
        EventKind::Link {
            kind: LinkKind::Symbolic,
            ..
        }
    )
}

/// A process's display name for logs.
pub fn proc_label(p: Option<&ProcessInfo>) -> &str {
    p.map_or("<unknown>", |p| p.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_like_falco_fd_name() {
        #[track_caller]
        fn check(path: &str, cwd: Option<&str>, want: &str, borrowed: bool) {
            let got = clean_path(path, cwd);
            assert_eq!(got, want, "clean_path({path:?}, {cwd:?})");
            assert_eq!(
                matches!(got, Cow::Borrowed(_)),
                borrowed,
                "{path:?} borrowed"
            );
        }
        check("/etc/shadow", None, "/etc/shadow", true);
        check("/", None, "/", true);
        check("/etc/./ssh/../shadow", None, "/etc/shadow", false);
        check("//etc//shadow", None, "/etc/shadow", false);
        check("/etc/ssh/", None, "/etc/ssh", false);
        check("/..", None, "/", false);
        check("/etc/..", None, "/", false);
        check("shadow", Some("/etc"), "/etc/shadow", false);
        check("../etc/shadow", Some("/root"), "/etc/shadow", false);
        check("./shadow", Some("/etc/"), "/etc/shadow", false);
        check("shadow", None, "shadow", true);
        check("shadow", Some("relative"), "shadow", true);
    }

    #[test]
    fn time_formats() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_764_215_733_123_456_789),
            "2025-11-27T03:55:33.123456789Z"
        );
        assert_eq!(time_of_day(1_764_215_733_000_000_001), "03:55:33.000000001");
    }

    #[test]
    fn every_spec_resolves() {
        for (name, _, _) in field_docs() {
            let arg = match name {
                "proc.apid" | "proc.acmdline" | "proc.aexepath" | "proc.aexe" | "evt.arg" => {
                    Some("1")
                }
                "k8s.pod.label" => Some("app"),
                _ => None,
            };
            assert!(resolve(name, arg).is_ok(), "{name}");
        }
        assert_eq!(resolve("proc.nope", None), Err(FieldError::Unknown));
        assert!(matches!(
            resolve("proc.aname", Some("x")),
            Err(FieldError::BadArg(_))
        ));
        assert!(matches!(
            resolve("proc.name", Some("1")),
            Err(FieldError::BadArg(_))
        ));
    }
}
