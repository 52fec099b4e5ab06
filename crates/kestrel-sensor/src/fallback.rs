//! The degraded modes for kernels where the eBPF sensor cannot run (no BTF, no BPF, a refused
//! program): the kernel's **proc connector**, else **`/proc` polling**.
//!
//! - [`FallbackMode::ProcConnector`]: a `NETLINK_CONNECTOR` socket subscribed to the process
//!   events multicast group (`CN_IDX_PROC`, `PROC_CN_MCAST_LISTEN`). The kernel sends one
//!   message per fork, exec, exit and uid/gid/comm change, as it happens, so every process is
//!   seen however short-lived, with its exit code. What a message does not carry (command line,
//!   executable, credentials, namespaces, cgroup) is read from `/proc/PID` on exec; a process
//!   that has already exited by then keeps what its fork said (its parent's image) and the
//!   name the kernel still shows. Needs `CAP_NET_ADMIN` and the initial network, pid and user
//!   namespaces (a DaemonSet with `hostNetwork` and `hostPID`).
//! - [`FallbackMode::ProcPolling`], the last resort when the connector cannot be subscribed to:
//!   every 100 ms the process list is compared with the previous one and each new process
//!   becomes an `exec` event read from `/proc/PID`.
//!
//! If the connector fails while running, the sensor switches to polling and says so. Each mode
//! is announced by a `sensor` health event (unhealthy) naming the mode and what it loses
//! ([`FallbackMode::lost_coverage`]); `kestrel watch --check` prints the same.
//!
//! Container metadata works as in the eBPF pipeline: events of a container whose metadata is
//! still being resolved are held for up to `hold_unresolved`, in order, then emitted with what
//! is known.

use std::collections::{HashMap, HashSet, VecDeque};
use std::num::NonZeroUsize;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kestrel_container::CgroupIdentity;
use kestrel_event::{
    ContainerId, ContainerInfo, Event, EventKind, PodInfo, ProcessInfo, Sensor as SensorEvent,
};
use lru::LruCache;

use crate::metadata::{Lookup, MetadataSource};
use crate::pipeline::{SensorConfig, SensorError, SensorHandle, SharedStats, sensor_event};
use crate::proctable::{ProcessTable, scan_process};

const POLL: Duration = Duration::from_millis(100);

/// What `/proc` polling cannot see, for the health event and `kestrel watch --check`.
pub const LOST_COVERAGE: &str = "file, network, privilege and kernel-module events, exit codes, processes shorter-lived than 100 ms, exec without fork, drop accounting and exec enforcement";

/// What the proc connector cannot see.
pub const CONNECTOR_LOST_COVERAGE: &str = "file, network, privilege and kernel-module events (uid and gid changes only update the process's credentials), exec enforcement, exact drop counts (a receive-buffer overrun is reported, not counted), and the command line, executable and container of a process that exits before /proc/PID is read";

/// Which degraded mode runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackMode {
    /// Process events from the kernel's proc connector (netlink).
    ProcConnector,
    /// New processes found by polling `/proc`.
    ProcPolling,
}

impl FallbackMode {
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackMode::ProcConnector => "proc connector",
            FallbackMode::ProcPolling => "/proc polling",
        }
    }

    /// What this mode loses compared with the eBPF sensor.
    pub fn lost_coverage(self) -> &'static str {
        match self {
            FallbackMode::ProcConnector => CONNECTOR_LOST_COVERAGE,
            FallbackMode::ProcPolling => LOST_COVERAGE,
        }
    }

    /// What it still sees.
    pub fn coverage(self) -> &'static str {
        match self {
            FallbackMode::ProcConnector => {
                "exec, fork and exit, with exit codes, of every process as it happens"
            }
            FallbackMode::ProcPolling => "exec of processes alive at a 100 ms poll",
        }
    }
}

impl std::fmt::Display for FallbackMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which degraded mode the sensor would run in on this host, and why not the proc connector
/// when it cannot be used. Subscribes to the connector and unsubscribes at once.
pub fn probe() -> (FallbackMode, Option<String>) {
    match ProcConnector::open() {
        Ok(_) => (FallbackMode::ProcConnector, None),
        Err(e) => (FallbackMode::ProcPolling, Some(e.to_string())),
    }
}

/// Starts the degraded sensor: the proc connector, else `/proc` polling. `reason` says why the
/// eBPF sensor is not used.
pub(crate) fn start(
    cfg: SensorConfig,
    reason: String,
    metadata: Option<Arc<dyn MetadataSource>>,
) -> Result<SensorHandle, SensorError> {
    match ProcConnector::open() {
        Ok(cn) => spawn(cfg, reason, metadata, Some(cn)),
        Err(e) => spawn(
            cfg,
            format!("{reason}; proc connector unavailable ({e})"),
            metadata,
            None,
        ),
    }
}

/// Starts `mode` directly, without trying eBPF: for tests and comparisons. Fails when the proc
/// connector is asked for and cannot be subscribed to here.
pub fn start_mode(
    cfg: SensorConfig,
    mode: FallbackMode,
    metadata: Option<Arc<dyn MetadataSource>>,
) -> std::io::Result<SensorHandle> {
    let cn = match mode {
        FallbackMode::ProcConnector => Some(ProcConnector::open()?),
        FallbackMode::ProcPolling => None,
    };
    spawn(
        cfg,
        "started without eBPF on request".to_owned(),
        metadata,
        cn,
    )
    .map_err(|e| match e {
        SensorError::Thread { source, .. } => source,
        other => std::io::Error::other(other.to_string()),
    })
}

fn degraded_message(reason: &str, mode: FallbackMode) -> String {
    format!(
        "degraded: {reason}; using the {mode} instead ({}). Lost: {}",
        mode.coverage(),
        mode.lost_coverage()
    )
}

fn spawn(
    cfg: SensorConfig,
    reason: String,
    metadata: Option<Arc<dyn MetadataSource>>,
    connector: Option<ProcConnector>,
) -> Result<SensorHandle, SensorError> {
    let mode = if connector.is_some() {
        FallbackMode::ProcConnector
    } else {
        FallbackMode::ProcPolling
    };
    let message = degraded_message(&reason, mode);
    tracing::warn!("{message}");
    let (tx, rx) = mpsc::sync_channel::<Event>(cfg.channel_capacity.max(1));
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(SharedStats::default());
    // Taken before returning, so that every process started after `start` is new (the
    // connector is subscribed already).
    let known = match connector {
        Some(_) => HashSet::new(),
        None => pids(Path::new("/proc")),
    };
    let thread = {
        let stop = stop.clone();
        let message = message.clone();
        std::thread::Builder::new()
            .name(match mode {
                FallbackMode::ProcConnector => "kestrel-proccn".into(),
                FallbackMode::ProcPolling => "kestrel-procpoll".into(),
            })
            .spawn(move || {
                let mut table = ProcessTable::new(cfg.process_table_capacity, cfg.ancestry_depth);
                table.bootstrap(Path::new("/proc"), &cfg.env_names);
                // Announced once the table is filled: from here on events are handled as they
                // arrive (the connector queued those of the bootstrap meanwhile).
                let mut out = Emitter::new(tx, metadata, cfg.hold_unresolved);
                if !out.send(sensor_event(SensorEvent::Health {
                    healthy: false,
                    message,
                })) {
                    return;
                }
                let known = match connector {
                    Some(cn) => match run_connector(cn, &cfg, &mut table, &mut out, &stop) {
                        Ok(()) => return,
                        Err(e) => {
                            let message = degraded_message(
                                &format!("the proc connector failed ({e})"),
                                FallbackMode::ProcPolling,
                            );
                            tracing::error!("{message}");
                            if !out.send(sensor_event(SensorEvent::Health {
                                healthy: false,
                                message,
                            })) {
                                return;
                            }
                            pids(Path::new("/proc"))
                        }
                    },
                    None => known,
                };
                run_polling(known, &cfg, &mut table, &mut out, &stop);
            })
            .map_err(|source| SensorError::Thread {
                name: "fallback",
                source,
            })?
    };
    Ok(SensorHandle::new_fallback(
        rx,
        stats,
        stop,
        vec![thread],
        message,
    ))
}

fn pids(proc_root: &Path) -> HashSet<u32> {
    std::fs::read_dir(proc_root)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn run_polling(
    mut known: HashSet<u32>,
    cfg: &SensorConfig,
    table: &mut ProcessTable,
    out: &mut Emitter,
    stop: &AtomicBool,
) {
    let root = Path::new("/proc");
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL);
        let now = pids(root);
        for gone in known.difference(&now) {
            table.remove(*gone);
        }
        let mut new: Vec<u32> = now.difference(&known).copied().collect();
        new.sort_unstable();
        for pid in new {
            let Some(info) = scan_process(root, pid, &cfg.env_names) else {
                continue;
            };
            let info = table.insert(info);
            let event = Event {
                ts: now_ns(),
                pid,
                tid: pid,
                kind: EventKind::Exec,
                process: Some(info),
                container: None,
            };
            if !out.emit(event) {
                return;
            }
        }
        known = now;
        if !out.release(false) {
            return;
        }
    }
    out.release(true);
}

/// The connector loop; `Err` when the socket fails and polling must take over.
fn run_connector(
    mut cn: ProcConnector,
    cfg: &SensorConfig,
    table: &mut ProcessTable,
    out: &mut Emitter,
    stop: &AtomicBool,
) -> Result<(), rustix::io::Errno> {
    let root = Path::new("/proc");
    // Kernel timestamps are CLOCK_MONOTONIC.
    let mono_to_unix = clock_offset();
    let mut buf = vec![0u8; 16 << 10];
    let mut events = std::mem::take(&mut cn.backlog);
    let mut last_overrun: Option<Instant> = None;
    while !stop.load(Ordering::Relaxed) {
        for ev in events.drain(..) {
            if !handle(ev, mono_to_unix, root, cfg, table, out) {
                return Ok(());
            }
        }
        match cn.recv(&mut buf, &mut events) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR => {}
            Err(e) if e == rustix::io::Errno::NOBUFS => {
                // The receive buffer overran: the kernel dropped messages, uncounted.
                if last_overrun.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    last_overrun = Some(Instant::now());
                    let message =
                        "proc connector: the receive buffer overran; some process events were lost"
                            .to_owned();
                    tracing::warn!("{message}");
                    if !out.send(sensor_event(SensorEvent::Health {
                        healthy: false,
                        message,
                    })) {
                        return Ok(());
                    }
                }
            }
            Err(e) => return Err(e),
        }
        if !out.release(false) {
            return Ok(());
        }
    }
    out.release(true);
    Ok(())
}

/// Turns one connector message into at most one event; `false` when the consumer is gone.
fn handle(
    ev: ProcEvent,
    mono_to_unix: i64,
    root: &Path,
    cfg: &SensorConfig,
    table: &mut ProcessTable,
    out: &mut Emitter,
) -> bool {
    let ts = |kernel_ns: u64| (kernel_ns as i64 + mono_to_unix).max(0) as u64;
    let event = match ev {
        ProcEvent::Fork {
            ts: t,
            parent_pid,
            parent_tgid,
            child_pid,
            child_tgid,
        } => {
            // A new thread is not a new process.
            if child_pid != child_tgid {
                return true;
            }
            let parent = table.get(parent_tgid).or_else(|| {
                scan_process(root, parent_tgid, &cfg.env_names).map(|p| table.insert(p))
            });
            // The child runs its parent's image until it execs.
            let child = match &parent {
                Some(p) => Some(ProcessInfo {
                    pid: child_tgid,
                    ppid: parent_tgid,
                    start_time: t,
                    parent: None,
                    ..(**p).clone()
                }),
                None => scan_process(root, child_tgid, &cfg.env_names),
            };
            if let Some(child) = child {
                table.insert(child);
            }
            Event {
                ts: ts(t),
                pid: parent_tgid,
                tid: parent_pid,
                kind: EventKind::Fork {
                    child_pid: child_tgid,
                },
                process: parent,
                container: None,
            }
        }
        ProcEvent::Exec { ts: t, pid, tgid } => {
            // The command line goes first: it is gone as soon as the process exits, while a
            // zombie still shows the rest.
            let args = std::fs::read(root.join(tgid.to_string()).join("cmdline"))
                .map(|b| crate::record::split_nul(&b))
                .unwrap_or_default();
            let scanned = scan_process(root, tgid, &cfg.env_names).map(|mut s| {
                if s.args.is_empty() {
                    s.args = args;
                }
                s
            });
            let info = match (scanned, table.get(tgid)) {
                (Some(s), _) if !s.args.is_empty() => s,
                // Exited while being read (a zombie shows its name and ids, no command line):
                // what exec does not change comes from its fork.
                (Some(mut s), Some(forked)) => {
                    if s.ns == Default::default() {
                        s.ns = forked.ns;
                    }
                    if s.cwd.is_empty() {
                        s.cwd = forked.cwd.clone();
                    }
                    if s.container_id.is_none() {
                        s.container_id = forked.container_id.clone();
                    }
                    s
                }
                (Some(s), None) => s,
                // Gone before it could be read: what its fork said (ids, namespaces, container,
                // working directory), but not its parent's image: name, executable, arguments
                // and environment stay empty.
                (None, Some(forked)) => ProcessInfo {
                    name: String::new(),
                    exe: Default::default(),
                    args: Vec::new(),
                    env: Vec::new(),
                    parent: None,
                    ..(*forked).clone()
                },
                (None, None) => ProcessInfo {
                    pid: tgid,
                    ..ProcessInfo::default()
                },
            };
            let info = table.insert(info);
            Event {
                ts: ts(t),
                pid: tgid,
                tid: pid,
                kind: EventKind::Exec,
                process: Some(info),
                container: None,
            }
        }
        ProcEvent::Exit {
            ts: t,
            pid,
            tgid,
            code,
        } => {
            // Threads exit too; the process ends with its leader.
            if pid != tgid {
                return true;
            }
            let (code, signal) = crate::normalize::decode_status(code as i32);
            Event {
                ts: ts(t),
                pid: tgid,
                tid: pid,
                kind: EventKind::Exit { code, signal },
                process: table.remove(tgid),
                container: None,
            }
        }
        ProcEvent::Id {
            pid,
            tgid,
            gid,
            real,
            effective,
            ..
        } => {
            if pid == tgid
                && let Some(p) = table.get(tgid)
            {
                let mut p = (*p).clone();
                if gid {
                    (p.creds.gid, p.creds.egid) = (real, effective);
                } else {
                    (p.creds.uid, p.creds.euid) = (real, effective);
                }
                table.insert(p);
            }
            return true;
        }
        ProcEvent::Comm { pid, tgid, comm } => {
            if pid == tgid
                && let Some(p) = table.get(tgid)
            {
                let mut p = (*p).clone();
                p.name = comm;
                table.insert(p);
            }
            return true;
        }
        ProcEvent::Ack { .. } | ProcEvent::Other => return true,
    };
    out.emit(event)
}

fn clock_offset() -> i64 {
    use nix::time::{ClockId, clock_gettime};
    let ns = |id| {
        clock_gettime(id)
            .map(|t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
            .unwrap_or(0)
    };
    ns(ClockId::CLOCK_REALTIME) - ns(ClockId::CLOCK_MONOTONIC)
}

/// Attaches containers to events and holds those of containers still being resolved.
struct Emitter {
    tx: SyncSender<Event>,
    metadata: Option<Arc<dyn MetadataSource>>,
    /// What each container's cgroup path said (runtime, pod uid), for metadata lookups.
    identities: LruCache<ContainerId, CgroupIdentity>,
    hold: Duration,
    held: VecDeque<(Instant, Event)>,
    /// Held events per container: a later event of the container queues behind them.
    held_per_container: HashMap<ContainerId, usize>,
}

impl Emitter {
    fn new(
        tx: SyncSender<Event>,
        metadata: Option<Arc<dyn MetadataSource>>,
        hold: Duration,
    ) -> Emitter {
        Emitter {
            tx,
            metadata,
            identities: LruCache::new(NonZeroUsize::new(1024).expect("non-zero")),
            hold,
            held: VecDeque::new(),
            held_per_container: HashMap::new(),
        }
    }

    fn send(&self, event: Event) -> bool {
        self.tx.send(event).is_ok()
    }

    fn identity(&mut self, id: &ContainerId, pid: u32) -> CgroupIdentity {
        if let Some(i) = self.identities.get(id) {
            return i.clone();
        }
        let identity = kestrel_container::container_of_pid(pid)
            .ok()
            .flatten()
            .filter(|i| i.container_id == *id)
            .unwrap_or_else(|| CgroupIdentity {
                container_id: id.clone(),
                runtime: None,
                pod_uid: None,
                qos: None,
            });
        self.identities.put(id.clone(), identity.clone());
        identity
    }

    /// The container as known now, and whether its metadata is still being resolved.
    fn container(&mut self, id: &ContainerId, pid: u32) -> (Arc<ContainerInfo>, bool) {
        let identity = self.identity(id, pid);
        match self.metadata.as_ref().map(|m| m.lookup(&identity)) {
            Some(Lookup::Ready(info)) => (info, false),
            found => {
                let mut info = ContainerInfo::bare(id.clone());
                info.runtime = identity.runtime;
                info.pod = identity.pod_uid.map(|uid| PodInfo {
                    uid,
                    ..PodInfo::default()
                });
                (Arc::new(info), matches!(found, Some(Lookup::Pending)))
            }
        }
    }

    /// Sends `event` with its process's container, or holds it; `false` when the consumer is
    /// gone.
    fn emit(&mut self, mut event: Event) -> bool {
        let Some(id) = event.process.as_ref().and_then(|p| p.container_id.clone()) else {
            return self.send(event);
        };
        let (info, pending) = self.container(&id, event.pid);
        event.container = Some(info);
        if pending || self.held_per_container.contains_key(&id) {
            *self.held_per_container.entry(id).or_default() += 1;
            self.held.push_back((Instant::now() + self.hold, event));
            return true;
        }
        self.send(event)
    }

    /// Sends held events whose container has resolved or whose time is up (all of them with
    /// `all`), in order.
    fn release(&mut self, all: bool) -> bool {
        let now = Instant::now();
        while let Some((until, event)) = self.held.front() {
            let (id, pid) = match &event.container {
                Some(c) => (c.id.clone(), event.pid),
                None => break,
            };
            let until = *until;
            let (info, pending) = self.container(&id, pid);
            if pending && until > now && !all {
                break;
            }
            let (_, mut event) = self.held.pop_front().expect("front exists");
            event.container = Some(info);
            if let Some(n) = self.held_per_container.get_mut(&id) {
                *n -= 1;
                if *n == 0 {
                    self.held_per_container.remove(&id);
                }
            }
            if !self.send(event) {
                return false;
            }
        }
        true
    }
}

// The proc connector's wire format, from `linux/netlink.h`, `linux/connector.h` and
// `linux/cn_proc.h` (native byte order).

/// `NLMSG_DONE`: the type of every connector message.
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
/// `struct cn_msg` before its data: `cb_id` (idx, val), seq, ack, len (u16), flags (u16).
const CN_MSG_LEN: usize = 20;
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_CN_MCAST_IGNORE: u32 = 2;
/// `struct proc_event` before its union: what, cpu, timestamp_ns.
const PROC_EVENT_HDR: usize = 16;

const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_UID: u32 = 4;
const PROC_EVENT_GID: u32 = 0x40;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;

/// One decoded connector message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProcEvent {
    /// The answer to a (un)subscription: `err` is an errno, 0 on success.
    Ack {
        ack: u32,
        err: u32,
    },
    Fork {
        ts: u64,
        parent_pid: u32,
        parent_tgid: u32,
        child_pid: u32,
        child_tgid: u32,
    },
    Exec {
        ts: u64,
        pid: u32,
        tgid: u32,
    },
    /// uid (or gid, with `gid`) change: real and effective ids after it.
    Id {
        pid: u32,
        tgid: u32,
        gid: bool,
        real: u32,
        effective: u32,
    },
    Comm {
        pid: u32,
        tgid: u32,
        comm: String,
    },
    /// `code` is the wait status (`exit_code` of the task).
    Exit {
        ts: u64,
        pid: u32,
        tgid: u32,
        code: u32,
    },
    /// sid, ptrace, coredump and anything newer.
    Other,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The `PROC_CN_MCAST_LISTEN`/`IGNORE` request: a netlink header, a `cn_msg` for the process
/// events connector, and the operation. The kernel acknowledges with `ack + 1` (it replaces the
/// sequence number with its own counter).
fn mcast_request(op: u32, ack: u32, port: u32) -> Vec<u8> {
    let total = NLMSG_HDRLEN + CN_MSG_LEN + 4;
    let mut m = Vec::with_capacity(total);
    m.extend_from_slice(&(total as u32).to_ne_bytes());
    m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&port.to_ne_bytes());
    m.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
    m.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // seq
    m.extend_from_slice(&ack.to_ne_bytes());
    m.extend_from_slice(&4u16.to_ne_bytes()); // len of the data
    m.extend_from_slice(&0u16.to_ne_bytes()); // flags
    m.extend_from_slice(&op.to_ne_bytes());
    m
}

/// Decodes every netlink message in one datagram, appending the process events to `out`.
/// Messages of other connectors or too short for what they claim are skipped.
fn parse(mut buf: &[u8], out: &mut Vec<ProcEvent>) {
    while buf.len() >= NLMSG_HDRLEN {
        let Some(len) = u32_at(buf, 0).map(|l| l as usize) else {
            return;
        };
        if len < NLMSG_HDRLEN || len > buf.len() {
            return;
        }
        let msg = &buf[..len];
        let kind = u16::from_ne_bytes([msg[4], msg[5]]);
        if kind == NLMSG_DONE
            && let Some(ev) = parse_cn(&msg[NLMSG_HDRLEN..])
        {
            out.push(ev);
        }
        // NLMSG_ALIGN(len)
        let next = (len + 3) & !3;
        buf = buf.get(next..).unwrap_or(&[]);
    }
}

fn parse_cn(cn: &[u8]) -> Option<ProcEvent> {
    if u32_at(cn, 0)? != CN_IDX_PROC || u32_at(cn, 4)? != CN_VAL_PROC {
        return None;
    }
    let ack = u32_at(cn, 12)?;
    let len = u16::from_ne_bytes(cn.get(16..18)?.try_into().ok()?) as usize;
    let ev = cn.get(CN_MSG_LEN..CN_MSG_LEN + len)?;
    let what = u32_at(ev, 0)?;
    let ts = u64_at(ev, 8)?;
    let d = PROC_EVENT_HDR;
    let at = |i: usize| u32_at(ev, d + 4 * i);
    Some(match what {
        PROC_EVENT_NONE => ProcEvent::Ack { ack, err: at(0)? },
        PROC_EVENT_FORK => ProcEvent::Fork {
            ts,
            parent_pid: at(0)?,
            parent_tgid: at(1)?,
            child_pid: at(2)?,
            child_tgid: at(3)?,
        },
        PROC_EVENT_EXEC => ProcEvent::Exec {
            ts,
            pid: at(0)?,
            tgid: at(1)?,
        },
        PROC_EVENT_UID | PROC_EVENT_GID => ProcEvent::Id {
            pid: at(0)?,
            tgid: at(1)?,
            gid: what == PROC_EVENT_GID,
            real: at(2)?,
            effective: at(3)?,
        },
        PROC_EVENT_COMM => {
            let raw = ev.get(d + 8..d + 24)?;
            let end = raw.iter().position(|b| *b == 0).unwrap_or(raw.len());
            ProcEvent::Comm {
                pid: at(0)?,
                tgid: at(1)?,
                comm: String::from_utf8_lossy(&raw[..end]).into_owned(),
            }
        }
        PROC_EVENT_EXIT => ProcEvent::Exit {
            ts,
            pid: at(0)?,
            tgid: at(1)?,
            code: at(2)?,
        },
        _ => ProcEvent::Other,
    })
}

/// Why the proc connector cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error("cannot open a NETLINK_CONNECTOR socket: {0}")]
    Socket(rustix::io::Errno),
    #[error(
        "cannot join the process events group (CN_IDX_PROC): {0}; it needs CAP_NET_ADMIN in the initial network namespace"
    )]
    Bind(rustix::io::Errno),
    #[error("cannot send PROC_CN_MCAST_LISTEN: {0}")]
    Send(rustix::io::Errno),
    #[error(
        "the kernel refused PROC_CN_MCAST_LISTEN (errno {0}); it needs CAP_NET_ADMIN and the initial user and pid namespaces"
    )]
    Refused(u32),
    #[error(
        "no answer to PROC_CN_MCAST_LISTEN within 1 s: the kernel lacks CONFIG_PROC_EVENTS, or this is not the initial network namespace"
    )]
    NoAck,
    #[error("receiving from the proc connector: {0}")]
    Recv(rustix::io::Errno),
}

impl From<ConnectorError> for std::io::Error {
    fn from(e: ConnectorError) -> Self {
        std::io::Error::other(e.to_string())
    }
}

/// A subscription to the kernel's process events. Unsubscribes when dropped.
struct ProcConnector {
    fd: OwnedFd,
    /// Events that arrived while waiting for the subscription's acknowledgement.
    backlog: Vec<ProcEvent>,
}

impl ProcConnector {
    fn open() -> Result<ProcConnector, ConnectorError> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType, netlink, socket_with, sockopt};
        let fd = socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC,
            Some(netlink::CONNECTOR),
        )
        .map_err(ConnectorError::Socket)?;
        rustix::net::bind(&fd, &netlink::SocketAddrNetlink::new(0, CN_IDX_PROC))
            .map_err(ConnectorError::Bind)?;
        // Bursts of forks (a build, a shell loop) must fit while the thread reads /proc.
        if sockopt::set_socket_recv_buffer_size_force(&fd, 8 << 20).is_err() {
            let _ = sockopt::set_socket_recv_buffer_size(&fd, 8 << 20);
        }
        sockopt::set_socket_timeout(&fd, sockopt::Timeout::Recv, Some(POLL))
            .map_err(ConnectorError::Socket)?;
        let mut cn = ProcConnector {
            fd,
            backlog: Vec::new(),
        };
        // Tells our acknowledgement from another listener's.
        let ack = (std::process::id() ^ (now_ns() as u32)) | 1;
        rustix::net::send(
            &cn.fd,
            &mcast_request(PROC_CN_MCAST_LISTEN, ack, std::process::id()),
            rustix::net::SendFlags::empty(),
        )
        .map_err(ConnectorError::Send)?;
        // The kernel sends the acknowledgement to every listener.
        let deadline = Instant::now() + Duration::from_secs(1);
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while Instant::now() < deadline {
            match cn.recv(&mut buf, &mut got) {
                Ok(()) => {}
                Err(e) if e == rustix::io::Errno::AGAIN || e == rustix::io::Errno::INTR => {}
                Err(e) if e == rustix::io::Errno::NOBUFS => {}
                Err(e) => return Err(ConnectorError::Recv(e)),
            }
            for ev in got.drain(..) {
                match ev {
                    ProcEvent::Ack { ack: a, err, .. } if a == ack.wrapping_add(1) => {
                        if err != 0 {
                            return Err(ConnectorError::Refused(err));
                        }
                        return Ok(cn);
                    }
                    ProcEvent::Ack { .. } => {}
                    other => cn.backlog.push(other),
                }
            }
        }
        Err(ConnectorError::NoAck)
    }

    /// Receives one datagram (waiting at most [`POLL`]) and appends its events to `out`.
    fn recv(&mut self, buf: &mut [u8], out: &mut Vec<ProcEvent>) -> Result<(), rustix::io::Errno> {
        let (n, _) = rustix::net::recv(&self.fd, &mut *buf, rustix::net::RecvFlags::empty())?;
        parse(&buf[..n.min(buf.len())], out);
        Ok(())
    }
}

impl Drop for ProcConnector {
    fn drop(&mut self) {
        // Kernels before 6.6 count listeners until told otherwise.
        let _ = rustix::net::send(
            &self.fd,
            &mcast_request(PROC_CN_MCAST_IGNORE, 0, std::process::id()),
            rustix::net::SendFlags::empty(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connector message as the kernel builds it (`cn_proc.c`): netlink header, `cn_msg`,
    /// `proc_event` with `what`, `cpu`, `timestamp_ns` and the union's words.
    fn message(what: u32, seq: u32, ack: u32, words: &[u32], tail: &[u8]) -> Vec<u8> {
        let mut ev = Vec::new();
        ev.extend_from_slice(&what.to_ne_bytes());
        ev.extend_from_slice(&1u32.to_ne_bytes()); // cpu
        ev.extend_from_slice(&123_456_789u64.to_ne_bytes());
        for w in words {
            ev.extend_from_slice(&w.to_ne_bytes());
        }
        ev.extend_from_slice(tail);
        // The kernel sends the whole union (24 bytes for exit, the largest member).
        ev.resize(PROC_EVENT_HDR + 24, 0);
        let mut cn = Vec::new();
        cn.extend_from_slice(&CN_IDX_PROC.to_ne_bytes());
        cn.extend_from_slice(&CN_VAL_PROC.to_ne_bytes());
        cn.extend_from_slice(&seq.to_ne_bytes());
        cn.extend_from_slice(&ack.to_ne_bytes());
        cn.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        cn.extend_from_slice(&0u16.to_ne_bytes());
        cn.extend_from_slice(&ev);
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDRLEN + cn.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&cn);
        m
    }

    fn parsed(buf: &[u8]) -> Vec<ProcEvent> {
        let mut v = Vec::new();
        parse(buf, &mut v);
        v
    }

    #[test]
    fn decodes_process_events() {
        let mut dgram = message(PROC_EVENT_FORK, 7, 0, &[10, 10, 11, 11], &[]);
        dgram.extend(message(PROC_EVENT_EXEC, 8, 0, &[11, 11], &[]));
        // exit_code 3 << 8 (exit(3)), exit_signal SIGCHLD, parent 10.
        dgram.extend(message(
            PROC_EVENT_EXIT,
            9,
            0,
            &[11, 11, 0x300, 17, 10, 10],
            &[],
        ));
        dgram.extend(message(PROC_EVENT_UID, 10, 0, &[12, 12, 1000, 0], &[]));
        dgram.extend(message(PROC_EVENT_COMM, 11, 0, &[12, 13], b"worker\0"));
        dgram.extend(message(PROC_EVENT_NONE, 42, 1, &[0], &[]));
        dgram.extend(message(0x100, 12, 0, &[1, 1, 2, 2], &[])); // ptrace
        let ts = 123_456_789;
        assert_eq!(
            parsed(&dgram),
            [
                ProcEvent::Fork {
                    ts,
                    parent_pid: 10,
                    parent_tgid: 10,
                    child_pid: 11,
                    child_tgid: 11
                },
                ProcEvent::Exec {
                    ts,
                    pid: 11,
                    tgid: 11
                },
                ProcEvent::Exit {
                    ts,
                    pid: 11,
                    tgid: 11,
                    code: 0x300
                },
                ProcEvent::Id {
                    pid: 12,
                    tgid: 12,
                    gid: false,
                    real: 1000,
                    effective: 0
                },
                ProcEvent::Comm {
                    pid: 12,
                    tgid: 13,
                    comm: "worker".into()
                },
                ProcEvent::Ack { ack: 1, err: 0 },
                ProcEvent::Other,
            ]
        );
        assert_eq!(crate::normalize::decode_status(0x300), (3, None));
    }

    #[test]
    fn skips_truncated_and_foreign_messages() {
        let full = message(PROC_EVENT_EXEC, 1, 0, &[5, 5], &[]);
        assert!(parsed(&full[..full.len() - 1]).is_empty(), "truncated");
        let mut foreign = full.clone();
        foreign[NLMSG_HDRLEN] = 9; // another connector's idx
        assert!(parsed(&foreign).is_empty());
        let mut short = full.clone();
        // cn_msg.len claims more data than the message holds.
        short[NLMSG_HDRLEN + 16..NLMSG_HDRLEN + 18].copy_from_slice(&400u16.to_ne_bytes());
        assert!(parsed(&short).is_empty());
        assert!(parsed(&[]).is_empty());
    }

    #[test]
    fn listen_request_layout() {
        let m = mcast_request(PROC_CN_MCAST_LISTEN, 5, 77);
        assert_eq!(m.len(), 40);
        assert_eq!(u32_at(&m, 0), Some(40));
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), NLMSG_DONE);
        assert_eq!(u32_at(&m, 12), Some(77));
        assert_eq!(u32_at(&m, 16), Some(CN_IDX_PROC));
        assert_eq!(u32_at(&m, 20), Some(CN_VAL_PROC));
        assert_eq!(u32_at(&m, 28), Some(5), "ack");
        assert_eq!(u16::from_ne_bytes([m[32], m[33]]), 4);
        assert_eq!(u32_at(&m, 36), Some(PROC_CN_MCAST_LISTEN));
    }
}
