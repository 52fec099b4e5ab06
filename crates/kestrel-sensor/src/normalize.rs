//! From kernel records to normalized events: the decode-and-enrich stage of the pipeline.
//!
//! The [`Normalizer`] owns the process table and the container cache. It turns one
//! [`Record`](crate::record::Record) into at most one [`Event`], keeping the table current from
//! exec, fork and exit records. The same code runs live and on replay; only the clock offset and
//! whether `/proc` may be consulted for a process the table never saw differ.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use kestrel_event::{
    Capabilities, ContainerId, ContainerInfo, Credentials, DnsMessage, DnsRecord,
    EnforcementAction, Event, EventKind, ExeInfo, FileId, LinkKind, Namespaces, NetProtocol,
    OpenFlags, PodInfo, ProcessInfo, SockAddr, SocketFamily,
};

use crate::metadata::{Lookup, MetadataSource};
use crate::proctable::{ProcessTable, scan_process};
use crate::record::{
    Body, Kind, ProcBody, Record, SockTuple, SyscallRecord, dev_to_user, exe_flags,
    join_components, lossy, select_env_block, split_nul,
};

/// `sub` values of `bpf/sensor.h`.
mod sub {
    pub const AT: u32 = 2;
    pub const FD: u32 = 4;
    pub const L: u32 = 5;
}

const AT_REMOVEDIR: u64 = 0x200;

/// How many distinct cgroup paths [`Normalizer`] remembers.
const RECENT_CGROUPS: usize = 16;

/// Settings of the normalizer.
#[derive(Debug, Clone)]
pub struct NormalizeConfig {
    pub process_table_capacity: usize,
    pub ancestry_depth: usize,
    /// Environment variables kept from exec (`LD_PRELOAD`, ...).
    pub env_names: Vec<String>,
    /// Nanoseconds to add to the kernel's boot-time clock to get Unix time.
    pub boot_to_unix_ns: i64,
    /// Read `/proc/PID` for a process the table does not know (live only; never on replay).
    pub proc_root: Option<PathBuf>,
}

/// Counters the normalizer keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizeStats {
    pub events: u64,
    pub dns_unparsed: u64,
    pub proc_scans: u64,
}

/// The decode-and-enrich stage.
pub struct Normalizer {
    cfg: NormalizeConfig,
    table: ProcessTable,
    containers: HashMap<ContainerId, Arc<ContainerInfo>>,
    /// What the cgroup path said about each container seen, for metadata lookups.
    identities: HashMap<ContainerId, kestrel_container::CgroupIdentity>,
    /// The last few cgroup paths seen at exec and fork (as the kernel sent them) and what they
    /// identify: consecutive processes mostly share one, and a compare is cheaper than a parse.
    recent_cgroups: VecDeque<(Box<[u8]>, Option<kestrel_container::CgroupIdentity>)>,
    metadata: Option<Arc<dyn MetadataSource>>,
    stats: NormalizeStats,
}

impl std::fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizer")
            .field("table", &self.table.len())
            .field("containers", &self.containers.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl Normalizer {
    pub fn new(cfg: NormalizeConfig) -> Self {
        Normalizer {
            table: ProcessTable::new(cfg.process_table_capacity, cfg.ancestry_depth),
            cfg,
            containers: HashMap::new(),
            identities: HashMap::new(),
            recent_cgroups: VecDeque::with_capacity(RECENT_CGROUPS),
            metadata: None,
            stats: NormalizeStats::default(),
        }
    }

    /// Container name, image, labels and pod come from `source` (the container crate's
    /// resolver); without one, containers carry what the cgroup path says.
    pub fn with_metadata(mut self, source: Arc<dyn MetadataSource>) -> Self {
        self.metadata = Some(source);
        self
    }

    pub fn table(&self) -> &ProcessTable {
        &self.table
    }

    pub fn table_mut(&mut self) -> &mut ProcessTable {
        &mut self.table
    }

    pub fn stats(&self) -> NormalizeStats {
        self.stats
    }

    /// Whether the container's metadata is still being resolved (the pipeline may hold the
    /// event a little while).
    pub fn container_pending(&self, id: &ContainerId) -> bool {
        let known = self
            .containers
            .get(id)
            .is_some_and(|c| c.name.is_some() || c.image.is_some());
        !known
            && self
                .metadata
                .as_ref()
                .is_some_and(|m| matches!(m.lookup(&self.identity(id)), Lookup::Pending))
    }

    /// Re-attaches the container after a hold: the metadata may have arrived meanwhile.
    pub fn refresh_container(&mut self, event: &mut Event) {
        if let Some(c) = &event.container {
            let id = c.id.clone();
            self.containers.remove(&id);
            event.container = self.container(&id, None);
        }
    }

    /// One record in, at most one event out.
    pub fn normalize(&mut self, rec: &Record<'_>) -> Option<Event> {
        let ts = (rec.hdr.ts_boot_ns as i64 + self.cfg.boot_to_unix_ns).max(0) as u64;
        let pid = rec.hdr.tgid;
        let (kind, process) = match &rec.body {
            Body::Exec {
                proc,
                filename,
                exe_path,
                argv,
                env,
                cwd,
                cgroup,
            } => {
                let mut exe_path = join_components(exe_path);
                if exe_path == "/" {
                    exe_path = lossy(filename);
                }
                let ident = self.identify_cgroup(cgroup);
                let enforcement = if proc.flags & exe_flags::KILLED != 0 {
                    Some(EnforcementAction::Killed)
                } else if proc.flags & exe_flags::WOULD_KILL != 0 {
                    Some(EnforcementAction::WouldKill)
                } else {
                    None
                };
                let mut info = base_process(pid, proc);
                info.exe = ExeInfo {
                    path: exe_path,
                    dev: dev_to_user(proc.exe_dev),
                    ino: proc.exe_ino,
                    upper_layer: proc.flags & exe_flags::UPPER_LAYER != 0,
                    memfd: proc.flags & exe_flags::MEMFD != 0,
                    deleted: proc.flags & exe_flags::DELETED != 0,
                    enforcement,
                };
                info.args = split_nul(argv);
                info.cwd = join_components(cwd);
                info.env = select_env_block(env, &self.cfg.env_names);
                info.container_id = ident.as_ref().map(|i| i.container_id.clone());
                if let Some(i) = &ident {
                    self.note_container(i);
                }
                let info = self.table.insert(info);
                (EventKind::Exec, Some(info))
            }
            Body::Fork {
                child,
                child_tgid,
                cgroup,
            } => {
                let parent = self.process(pid);
                let ident = self.identify_cgroup(cgroup);
                if let Some(i) = &ident {
                    self.note_container(i);
                }
                let container_id = ident.map(|i| i.container_id);
                // The child runs the parent's image until it execs; its identity is its own.
                // The table links it to the parent by `ppid`, sharing the parent's cut ancestry.
                let info = match &parent {
                    Some(p) => ProcessInfo {
                        pid: *child_tgid,
                        ppid: pid,
                        name: child.comm(),
                        exe: p.exe.clone(),
                        args: p.args.clone(),
                        cwd: p.cwd.clone(),
                        env: p.env.clone(),
                        creds: creds(child),
                        caps: caps(child),
                        tty: p.tty,
                        ns: namespaces(child),
                        start_time: child.start_boottime,
                        container_id,
                        parent: None,
                    },
                    None => ProcessInfo {
                        ppid: pid,
                        container_id,
                        ..base_process(*child_tgid, child)
                    },
                };
                self.table.insert(info);
                (
                    EventKind::Fork {
                        child_pid: *child_tgid,
                    },
                    parent,
                )
            }
            Body::Exit { status } => {
                let process = self.table.remove(pid);
                let (code, signal) = decode_status(*status);
                (EventKind::Exit { code, signal }, process)
            }
            Body::Syscall(sc) => {
                let kind = self.syscall_kind(rec.hdr.kind, sc)?;
                (kind, self.process(pid))
            }
        };
        let container = process
            .as_ref()
            .and_then(|p| p.container_id.clone())
            .and_then(|id| self.container(&id, None));
        self.stats.events += 1;
        Some(Event {
            ts,
            pid,
            tid: rec.hdr.tid,
            kind,
            process,
            container,
        })
    }

    fn process(&mut self, pid: u32) -> Option<Arc<ProcessInfo>> {
        if let Some(p) = self.table.get(pid) {
            return Some(p);
        }
        let root = self.cfg.proc_root.clone()?;
        let info = scan_process(&root, pid, &self.cfg.env_names)?;
        self.stats.proc_scans += 1;
        Some(self.table.insert(info))
    }

    /// The container a cgroup path (components leaf first) names, if any.
    fn identify_cgroup(&mut self, leaf_first: &[u8]) -> Option<kestrel_container::CgroupIdentity> {
        if let Some(i) = self
            .recent_cgroups
            .iter()
            .position(|(path, _)| **path == *leaf_first)
        {
            if i != 0 {
                let hit = self.recent_cgroups.remove(i).expect("index in range");
                self.recent_cgroups.push_front(hit);
            }
            return self.recent_cgroups[0].1.clone();
        }
        let ident = kestrel_container::identify_cgroup(&join_components(leaf_first));
        if self.recent_cgroups.len() == RECENT_CGROUPS {
            self.recent_cgroups.pop_back();
        }
        self.recent_cgroups
            .push_front((leaf_first.into(), ident.clone()));
        ident
    }

    fn note_container(&mut self, ident: &kestrel_container::CgroupIdentity) {
        if !self.identities.contains_key(&ident.container_id) {
            // Containers come and go; the map only needs the live ones.
            if self.identities.len() >= 16_384 {
                self.identities.clear();
            }
            self.identities
                .insert(ident.container_id.clone(), ident.clone());
        }
        if !self.containers.contains_key(&ident.container_id) {
            self.container(&ident.container_id, Some(ident));
        }
    }

    fn identity(&self, id: &ContainerId) -> kestrel_container::CgroupIdentity {
        self.identities
            .get(id)
            .cloned()
            .unwrap_or_else(|| kestrel_container::CgroupIdentity {
                container_id: id.clone(),
                runtime: None,
                pod_uid: None,
                qos: None,
            })
    }

    fn container(
        &mut self,
        id: &ContainerId,
        ident: Option<&kestrel_container::CgroupIdentity>,
    ) -> Option<Arc<ContainerInfo>> {
        if let Some(c) = self.containers.get(id) {
            return Some(c.clone());
        }
        let ident_owned = match ident {
            Some(i) => i.clone(),
            None => self.identity(id),
        };
        let ident = Some(&ident_owned);
        let resolved = match self.metadata.as_ref().map(|m| m.lookup(&ident_owned)) {
            Some(Lookup::Ready(info)) => Some(info),
            _ => None,
        };
        let mut info = resolved
            .map(Arc::unwrap_or_clone)
            .unwrap_or_else(|| ContainerInfo::bare(id.clone()));
        if let Some(ident) = ident {
            info.runtime = info.runtime.or(ident.runtime);
            if info.pod.is_none()
                && let Some(uid) = &ident.pod_uid
            {
                info.pod = Some(PodInfo {
                    uid: uid.clone(),
                    ..Default::default()
                });
            }
        }
        let info = Arc::new(info);
        // Cache only complete answers, so a pending container is looked up again.
        let complete = self.metadata.is_none() || info.name.is_some() || info.image.is_some();
        if complete {
            self.containers.insert(id.clone(), info.clone());
        }
        Some(info)
    }

    fn syscall_kind(&mut self, kind: Kind, sc: &SyscallRecord<'_>) -> Option<EventKind> {
        let blob_str = |i: usize| -> String { sc.blobs.get(i).map(lossy).unwrap_or_default() };
        let blob_path =
            |i: usize| -> String { sc.blobs.get(i).map(join_components).unwrap_or_default() };
        let a = &sc.args;
        let result = sc.ret;
        Some(match kind {
            Kind::Open => EventKind::Open {
                path: blob_str(0),
                flags: OpenFlags(a[1] as u32),
                mode: a[2] as u32,
                result,
            },
            Kind::Rename => EventKind::Rename {
                old_path: blob_str(0),
                new_path: blob_str(1),
                result,
            },
            Kind::Unlink => EventKind::Unlink {
                path: blob_str(0),
                dir: sc.sub == sub::L || (sc.sub == sub::AT && a[2] & AT_REMOVEDIR != 0),
                result,
            },
            Kind::Link | Kind::Symlink => EventKind::Link {
                kind: if kind == Kind::Link {
                    LinkKind::Hard
                } else {
                    LinkKind::Symbolic
                },
                target: blob_str(0),
                link_path: blob_str(1),
                result,
            },
            Kind::Chmod => EventKind::Chmod {
                path: if sc.sub == sub::FD {
                    blob_path(0)
                } else {
                    blob_str(0)
                },
                mode: (if sc.sub == sub::AT { a[2] } else { a[1] }) as u32,
                result,
            },
            Kind::Chown => {
                let (u, g) = if sc.sub == sub::AT {
                    (a[2], a[3])
                } else {
                    (a[1], a[2])
                };
                EventKind::Chown {
                    path: if sc.sub == sub::FD {
                        blob_path(0)
                    } else {
                        blob_str(0)
                    },
                    uid: u as u32,
                    gid: g as u32,
                    result,
                }
            }
            Kind::Mmap => EventKind::Mmap {
                path: blob_path(0),
                file: FileId {
                    dev: dev_to_user(sc.file_dev),
                    ino: sc.file_ino,
                },
                prot: a[2] as u32,
                flags: a[3] as u32,
            },
            Kind::Mount => EventKind::Mount {
                source: blob_str(0),
                target: blob_str(1),
                fstype: blob_str(2),
                flags: a[3],
                result,
            },
            Kind::Memfd => EventKind::MemfdCreate {
                name: blob_str(0),
                flags: a[1] as u32,
                result,
            },
            Kind::Connect => EventKind::Connect {
                family: family(sc.sk.family),
                protocol: protocol(&sc.sk),
                local: tuple_local(&sc.sk),
                remote: sc
                    .blobs
                    .first()
                    .map(parse_sockaddr)
                    .unwrap_or(SockAddr::Other(0)),
                result,
            },
            Kind::Accept => EventKind::Accept {
                family: family(sc.sk.family),
                protocol: protocol(&sc.sk),
                local: tuple_local(&sc.sk).unwrap_or(SockAddr::Other(sc.sk.family)),
                remote: tuple_remote(&sc.sk).unwrap_or(SockAddr::Other(sc.sk.family)),
                result,
            },
            Kind::Bind => EventKind::Bind {
                family: family(sc.sk.family),
                protocol: protocol(&sc.sk),
                local: sc
                    .blobs
                    .first()
                    .map(parse_sockaddr)
                    .unwrap_or(SockAddr::Other(0)),
                result,
            },
            Kind::Listen => EventKind::Listen {
                family: family(sc.sk.family),
                protocol: protocol(&sc.sk),
                local: tuple_local(&sc.sk).unwrap_or(SockAddr::Other(sc.sk.family)),
                backlog: a[1] as i32,
                result,
            },
            Kind::Socket => EventKind::Socket {
                family: family(a[0] as u16),
                sock_type: a[1] as u32,
                protocol: a[2] as u32,
                result,
            },
            Kind::DnsSend | Kind::DnsRecv => {
                let payload = sc.blobs.first().unwrap_or_default();
                let server = match sc.blobs.get(1) {
                    Some(b) if b.len() >= 8 => parse_sockaddr(b),
                    _ => tuple_remote(&sc.sk).unwrap_or(SockAddr::Other(sc.sk.family)),
                };
                match parse_dns(payload, server) {
                    Some(m) => EventKind::Dns(m),
                    None => {
                        self.stats.dns_unparsed += 1;
                        return None;
                    }
                }
            }
            Kind::SetId => {
                let (name, n) = match sc.sub {
                    1 => ("setuid", 1),
                    2 => ("setgid", 1),
                    3 => ("setreuid", 2),
                    4 => ("setregid", 2),
                    5 => ("setresuid", 3),
                    6 => ("setresgid", 3),
                    7 => ("setfsuid", 1),
                    8 => ("setfsgid", 1),
                    _ => ("setuid", 1),
                };
                EventKind::SetId {
                    syscall: name.to_owned(),
                    ids: a[..n].iter().map(|v| *v as u32 as i32 as i64).collect(),
                    result,
                }
            }
            Kind::Capset => EventKind::Capset {
                effective: a[0],
                permitted: a[1],
                inheritable: a[2],
                result,
            },
            Kind::Ptrace => EventKind::Ptrace {
                request: a[0] as i64,
                target_pid: a[1] as u32,
                result,
            },
            Kind::ProcessVmWritev => EventKind::ProcessVmWritev {
                target_pid: a[0] as u32,
                result,
            },
            Kind::InitModule => EventKind::ModuleLoad {
                syscall: "init_module".to_owned(),
                path: None,
                result,
            },
            Kind::FinitModule => EventKind::ModuleLoad {
                syscall: "finit_module".to_owned(),
                path: Some(blob_path(0)),
                result,
            },
            Kind::Bpf => EventKind::Bpf {
                cmd: a[0] as u32,
                result,
            },
            Kind::Unshare => EventKind::Unshare {
                flags: a[0],
                result,
            },
            Kind::Setns => EventKind::Setns {
                nstype: a[1],
                result,
            },
            Kind::Exec | Kind::Fork | Kind::Exit => return None,
        })
    }
}

fn creds(p: &ProcBody<'_>) -> Credentials {
    Credentials {
        uid: p.uid,
        gid: p.gid,
        euid: p.euid,
        egid: p.egid,
        loginuid: (p.flags & exe_flags::HAS_LOGINUID != 0).then_some(p.loginuid),
    }
}

fn caps(p: &ProcBody<'_>) -> Capabilities {
    Capabilities {
        effective: p.cap_eff,
        permitted: p.cap_prm,
        inheritable: p.cap_inh,
    }
}

fn namespaces(p: &ProcBody<'_>) -> Namespaces {
    let [pid, mnt, net, uts, ipc, user, cgroup] = p.ns;
    Namespaces {
        pid,
        mnt,
        net,
        uts,
        ipc,
        user,
        cgroup,
    }
}

fn base_process(pid: u32, p: &ProcBody<'_>) -> ProcessInfo {
    ProcessInfo {
        pid,
        ppid: p.ppid,
        name: p.comm(),
        creds: creds(p),
        caps: caps(p),
        // The encoding /proc/PID/stat uses for tty_nr.
        tty: (p.flags & exe_flags::HAS_TTY != 0)
            .then(|| dev_to_user(((p.tty_major as u64) << 20) | p.tty_minor as u64) as u32),
        ns: namespaces(p),
        start_time: p.start_boottime,
        ..Default::default()
    }
}

/// A `wait(2)` status as (exit code, signal): a signal death is reported as 128 + signal.
pub fn decode_status(status: i32) -> (i32, Option<i32>) {
    let sig = status & 0x7f;
    if sig == 0 {
        ((status >> 8) & 0xff, None)
    } else {
        (128 + sig, Some(sig))
    }
}

fn family(f: u16) -> SocketFamily {
    match f {
        1 => SocketFamily::Unix,
        2 => SocketFamily::Inet,
        10 => SocketFamily::Inet6,
        16 => SocketFamily::Netlink,
        17 => SocketFamily::Packet,
        other => SocketFamily::Other(other),
    }
}

fn protocol(sk: &SockTuple) -> NetProtocol {
    match (sk.protocol, sk.sock_type) {
        (6, _) => NetProtocol::Tcp,
        (17, _) => NetProtocol::Udp,
        (_, 3) | (255, _) => NetProtocol::Raw,
        _ => NetProtocol::Unknown,
    }
}

fn tuple_addr(family: u16, addr: &[u8; 16], port: u16) -> Option<SockAddr> {
    let ip = match family {
        2 => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
        10 => IpAddr::V6(Ipv6Addr::from(*addr)),
        _ => return None,
    };
    Some(SockAddr::Inet(SocketAddr::new(ip, port)))
}

fn tuple_local(sk: &SockTuple) -> Option<SockAddr> {
    tuple_addr(sk.family, &sk.laddr, sk.lport)
}

fn tuple_remote(sk: &SockTuple) -> Option<SockAddr> {
    tuple_addr(sk.family, &sk.raddr, sk.rport)
}

/// A `struct sockaddr` as user space passed it.
pub fn parse_sockaddr(b: &[u8]) -> SockAddr {
    if b.len() < 2 {
        return SockAddr::Other(0);
    }
    let fam = u16::from_le_bytes([b[0], b[1]]);
    match fam {
        2 if b.len() >= 8 => SockAddr::Inet(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(b[4], b[5], b[6], b[7])),
            u16::from_be_bytes([b[2], b[3]]),
        )),
        10 if b.len() >= 24 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&b[8..24]);
            SockAddr::Inet(SocketAddr::new(
                IpAddr::V6(Ipv6Addr::from(a)),
                u16::from_be_bytes([b[2], b[3]]),
            ))
        }
        1 => {
            let path = &b[2..];
            if path.first() == Some(&0) {
                // Abstract socket: shown with a leading '@' as ss(8) does.
                let name = path[1..].split(|c| *c == 0).next().unwrap_or_default();
                SockAddr::Unix(format!("@{}", String::from_utf8_lossy(name)))
            } else {
                let name = path.split(|c| *c == 0).next().unwrap_or_default();
                SockAddr::Unix(String::from_utf8_lossy(name).into_owned())
            }
        }
        other => SockAddr::Other(other),
    }
}

/// Parses a DNS message (UDP payload).
pub fn parse_dns(payload: &[u8], server: SockAddr) -> Option<DnsMessage> {
    use simple_dns::rdata::RData;
    let packet = simple_dns::Packet::parse(payload).ok()?;
    let answers = packet
        .answers
        .iter()
        .map(|rr| {
            let (rtype, data) = match &rr.rdata {
                RData::A(a) => ("A".to_owned(), Ipv4Addr::from(a.address).to_string()),
                RData::AAAA(a) => ("AAAA".to_owned(), Ipv6Addr::from(a.address).to_string()),
                RData::CNAME(c) => ("CNAME".to_owned(), c.0.to_string()),
                RData::PTR(c) => ("PTR".to_owned(), c.0.to_string()),
                RData::NS(c) => ("NS".to_owned(), c.0.to_string()),
                other => (format!("{:?}", other.type_code()), String::new()),
            };
            DnsRecord {
                name: rr.name.to_string(),
                rtype,
                data,
                ttl: rr.ttl,
            }
        })
        .collect();
    Some(DnsMessage {
        id: packet.id(),
        response: packet.has_flags(simple_dns::PacketFlag::RESPONSE),
        questions: packet
            .questions
            .iter()
            .map(|q| q.qname.to_string())
            .collect(),
        answers,
        rcode: packet.rcode() as u16 as u8,
        server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::tests::Builder;
    use crate::record::{ProcBody, decode};
    use expect_test::{Expect, expect};

    fn normalizer() -> Normalizer {
        Normalizer::new(NormalizeConfig {
            process_table_capacity: 1024,
            ancestry_depth: 4,
            env_names: vec!["LD_PRELOAD".into()],
            boot_to_unix_ns: 1_000_000_000,
            proc_root: None,
        })
    }

    const CID: &str = "3f1c6f4e0b7a4c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d";

    fn exec(pid: u32, ppid: u32, comm: &str, path: &str, cgroup: &str) -> Vec<u8> {
        let p = ProcBody {
            ppid,
            uid: 0,
            comm: comm.as_bytes(),
            exe_dev: (259 << 20) | 2,
            exe_ino: 77,
            flags: exe_flags::HAS_TTY | exe_flags::WOULD_KILL,
            tty_major: 136,
            tty_minor: 1,
            ..Default::default()
        };
        let leaf_first: Vec<u8> = path
            .split('/')
            .filter(|s| !s.is_empty())
            .rev()
            .flat_map(|c| c.bytes().chain([0]))
            .collect();
        let cg: Vec<u8> = cgroup
            .split('/')
            .filter(|s| !s.is_empty())
            .rev()
            .flat_map(|c| c.bytes().chain([0]))
            .collect();
        let mut b = Builder::header(1, 5, pid, pid);
        b.proc(&p)
            .blob(path.as_bytes())
            .blob(&leaf_first)
            .blob(format!("{comm}\0-x\0").as_bytes())
            .blob(b"HOME=/\0LD_PRELOAD=/tmp/evil.so\0")
            .blob(b"tmp\0")
            .blob(&cg);
        b.finish()
    }

    /// Runs raw records through a fresh normalizer and renders the events as JSON lines.
    fn check(records: &[Vec<u8>], expect: Expect) {
        let mut n = normalizer();
        let mut out = String::new();
        for r in records {
            let rec = decode(r).unwrap();
            if let Some(mut e) = n.normalize(&rec) {
                // Ancestry is checked separately; keep the snapshot readable.
                if let Some(p) = &e.process {
                    let mut p = (**p).clone();
                    p.parent = None;
                    e.process = Some(Arc::new(p));
                }
                out.push_str(&serde_json::to_string(&e).unwrap());
                out.push('\n');
            }
        }
        expect.assert_eq(&out);
    }

    fn syscall(
        kind: u32,
        pid: u32,
        sub: u32,
        ret: i64,
        args: [u64; 6],
        sk: SockTuple,
        blobs: &[&[u8]],
    ) -> Vec<u8> {
        let mut b = Builder::header(kind, 10, pid, pid + 1);
        b.syscall(sub, ret, args, sk);
        for bl in blobs {
            b.blob(bl);
        }
        b.finish()
    }

    #[test]
    fn exec_fork_exit() {
        let cg =
            format!("/kubepods/besteffort/pod3ff4e486-5a28-4fbb-a3a0-b49d9427886b/libpod-{CID}");
        let mut fork = Builder::header(2, 6, 100, 100);
        fork.proc(&ProcBody {
            comm: b"sh",
            start_boottime: 9,
            ..Default::default()
        })
        .u32(101)
        .u32(0)
        .blob(b"");
        let mut exit = Builder::header(3, 7, 101, 101);
        exit.u32(9).u32(0);
        check(
            &[
                exec(100, 1, "sh", "/usr/bin/sh", &cg),
                fork.finish(),
                exit.finish(),
            ],
            expect![[r#"
                {"ts":1000000005,"pid":100,"tid":100,"type":"exec","process":{"pid":100,"ppid":1,"name":"sh","exe":{"path":"/usr/bin/sh","dev":66306,"ino":77,"upper_layer":false,"memfd":false,"deleted":false,"enforcement":"would_kill"},"args":["sh","-x"],"cwd":"/tmp","env":["LD_PRELOAD=/tmp/evil.so"],"creds":{"uid":0,"gid":0,"euid":0,"egid":0},"caps":{"effective":0,"permitted":0,"inheritable":0},"tty":34817,"ns":{"pid":0,"mnt":0,"net":0,"uts":0,"ipc":0,"user":0,"cgroup":0},"start_time":0,"container_id":"3f1c6f4e0b7a4c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d"},"container":{"id":"3f1c6f4e0b7a4c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d","runtime":"podman","pod":{"uid":"3ff4e486-5a28-4fbb-a3a0-b49d9427886b","name":"","namespace":""}}}
                {"ts":1000000006,"pid":100,"tid":100,"type":"fork","child_pid":101,"process":{"pid":100,"ppid":1,"name":"sh","exe":{"path":"/usr/bin/sh","dev":66306,"ino":77,"upper_layer":false,"memfd":false,"deleted":false,"enforcement":"would_kill"},"args":["sh","-x"],"cwd":"/tmp","env":["LD_PRELOAD=/tmp/evil.so"],"creds":{"uid":0,"gid":0,"euid":0,"egid":0},"caps":{"effective":0,"permitted":0,"inheritable":0},"tty":34817,"ns":{"pid":0,"mnt":0,"net":0,"uts":0,"ipc":0,"user":0,"cgroup":0},"start_time":0,"container_id":"3f1c6f4e0b7a4c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d"},"container":{"id":"3f1c6f4e0b7a4c2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d","runtime":"podman","pod":{"uid":"3ff4e486-5a28-4fbb-a3a0-b49d9427886b","name":"","namespace":""}}}
                {"ts":1000000007,"pid":101,"tid":101,"type":"exit","code":137,"signal":9,"process":{"pid":101,"ppid":100,"name":"sh","exe":{"path":"/usr/bin/sh","dev":66306,"ino":77,"upper_layer":false,"memfd":false,"deleted":false,"enforcement":"would_kill"},"args":["sh","-x"],"cwd":"/tmp","env":["LD_PRELOAD=/tmp/evil.so"],"creds":{"uid":0,"gid":0,"euid":0,"egid":0},"caps":{"effective":0,"permitted":0,"inheritable":0},"tty":34817,"ns":{"pid":0,"mnt":0,"net":0,"uts":0,"ipc":0,"user":0,"cgroup":0},"start_time":9}}
            "#]],
        );
    }

    #[test]
    fn file_and_network_syscalls() {
        let mut sin = vec![2u8, 0, 0x1f, 0x90, 127, 0, 0, 1];
        sin.extend([0; 8]);
        let sk = SockTuple {
            family: 2,
            sock_type: 1,
            protocol: 6,
            lport: 40000,
            rport: 8080,
            laddr: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            raddr: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        let mut unix = vec![1u8, 0];
        unix.extend(b"\0kestrel\0");
        check(
            &[
                syscall(
                    10,
                    5,
                    2,
                    3,
                    [(-100i64) as u64, 0o1101, 0o644, 0, 0, 0],
                    SockTuple::default(),
                    &[b"/etc/shadow"],
                ),
                syscall(
                    12,
                    5,
                    2,
                    0,
                    [0, 0, 0x200, 0, 0, 0],
                    SockTuple::default(),
                    &[b"/tmp/d"],
                ),
                syscall(
                    15,
                    5,
                    4,
                    0,
                    [3, 0o4755, 0, 0, 0, 0],
                    SockTuple::default(),
                    &[b"sh\0bin\0"],
                ),
                syscall(20, 5, 0, 0, [3, 0, 16, 0, 0, 0], sk, &[&sin]),
                syscall(
                    20,
                    5,
                    0,
                    -111,
                    [3, 0, 11, 0, 0, 0],
                    SockTuple {
                        family: 1,
                        ..Default::default()
                    },
                    &[&unix],
                ),
                syscall(23, 5, 0, 0, [3, 128, 0, 0, 0, 0], sk, &[]),
                syscall(
                    27,
                    5,
                    5,
                    0,
                    [0, 0, u32::MAX as u64, 0, 0, 0],
                    SockTuple::default(),
                    &[],
                ),
            ],
            expect![[r#"
                {"ts":1000000010,"pid":5,"tid":6,"type":"open","path":"/etc/shadow","flags":577,"mode":420,"result":3}
                {"ts":1000000010,"pid":5,"tid":6,"type":"unlink","path":"/tmp/d","dir":true,"result":0}
                {"ts":1000000010,"pid":5,"tid":6,"type":"chmod","path":"/bin/sh","mode":2541,"result":0}
                {"ts":1000000010,"pid":5,"tid":6,"type":"connect","family":"inet","protocol":"tcp","local":{"inet":"127.0.0.1:40000"},"remote":{"inet":"127.0.0.1:8080"},"result":0}
                {"ts":1000000010,"pid":5,"tid":6,"type":"connect","family":"unix","protocol":"unknown","remote":{"unix":"@kestrel"},"result":-111}
                {"ts":1000000010,"pid":5,"tid":6,"type":"listen","family":"inet","protocol":"tcp","local":{"inet":"127.0.0.1:40000"},"backlog":128,"result":0}
                {"ts":1000000010,"pid":5,"tid":6,"type":"set_id","syscall":"setresuid","ids":[0,0,-1],"result":0}
            "#]],
        );
    }

    #[test]
    fn dns_answer() {
        let mut p = simple_dns::Packet::new_reply(0x1234);
        p.questions.push(simple_dns::Question::new(
            simple_dns::Name::new_unchecked("example.com"),
            simple_dns::QTYPE::TYPE(simple_dns::TYPE::A),
            simple_dns::QCLASS::CLASS(simple_dns::CLASS::IN),
            false,
        ));
        p.answers.push(simple_dns::ResourceRecord::new(
            simple_dns::Name::new_unchecked("example.com"),
            simple_dns::CLASS::IN,
            300,
            simple_dns::rdata::RData::A(simple_dns::rdata::A {
                address: 0x5db8d822,
            }),
        ));
        let bytes = p.build_bytes_vec().unwrap();
        let mut sin = vec![2u8, 0, 0, 53, 127, 0, 0, 53];
        sin.extend([0; 8]);
        check(
            &[
                syscall(
                    26,
                    9,
                    2,
                    bytes.len() as i64,
                    [3, 0, 512, 0, 0, 0],
                    SockTuple {
                        family: 2,
                        protocol: 17,
                        ..Default::default()
                    },
                    &[&bytes, &sin],
                ),
                syscall(
                    26,
                    9,
                    2,
                    4,
                    [3, 0, 512, 0, 0, 0],
                    SockTuple::default(),
                    &[b"\x01\x02\x03\x04", &sin],
                ),
            ],
            expect![[r#"
                {"ts":1000000010,"pid":9,"tid":10,"type":"dns","id":4660,"response":true,"questions":["example.com"],"answers":[{"name":"example.com","rtype":"A","data":"93.184.216.34","ttl":300}],"rcode":0,"server":{"inet":"127.0.0.53:53"}}
            "#]],
        );
    }

    #[test]
    fn exit_status() {
        assert_eq!(decode_status(3 << 8), (3, None));
        assert_eq!(decode_status(9), (137, Some(9)));
        assert_eq!(decode_status(0), (0, None));
    }
}
