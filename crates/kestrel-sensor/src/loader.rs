//! Loading and attaching the kernel programs with aya, and the maps user space fills or reads.
//!
//! The object is compiled by `build.rs` from `bpf/sensor.bpf.c` and embedded in the binary.
//! Every program is attached on its own: a syscall tracepoint missing on this kernel (say,
//! `open` on arm64, which has only `openat`) is reported in the [`AttachReport`] and the rest
//! carries on. Only the process programs are required.
//!
//! No `unsafe` is needed: aya's safe map types cover every map, keyed by plain arrays.

use std::collections::BTreeMap;
use std::os::fd::OwnedFd;
use std::path::Path;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{HashMap as BpfHashMap, MapData, PerCpuArray, RingBuf};
use aya::programs::{
    BtfTracePoint, CgroupAttachMode, CgroupSkb, CgroupSkbAttachType, Program, TracePoint,
};
use aya::{Btf, Ebpf, EbpfLoader};
use serde::Serialize;

use crate::record::{KIND_SLOTS, Kind, dev_to_kernel};

static OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sensor.bpf.o"));

/// The programs without which the sensor has no process model.
const REQUIRED: &[&str] = &["on_exec", "on_fork", "on_proc_exit"];

/// The programs that read DNS datagrams, attached to the root of the cgroup v2 tree.
const DNS_SKB: &[(&str, CgroupSkbAttachType)] = &[
    ("dns_egress", CgroupSkbAttachType::Egress),
    ("dns_ingress", CgroupSkbAttachType::Ingress),
];

/// DNS from the send and receive syscalls: only attached when the [`DNS_SKB`] programs cannot
/// be (no cgroup v2 mount), because they cost every send and receive of every TCP stream.
const DNS_SYSCALL_FALLBACK: &[&str] = &[
    "enter_sendto",
    "exit_sendto",
    "enter_sendmmsg",
    "exit_sendmmsg",
    "enter_recvfrom",
    "exit_recvfrom",
];

/// Errors of the loader. Each says which program, map or mount failed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "this kernel has no BTF at /sys/kernel/btf/vmlinux ({0}); CO-RE programs cannot be relocated"
    )]
    NoBtf(String),
    #[error("loading the eBPF object failed: {0}")]
    Object(#[source] aya::EbpfError),
    #[error("required program {program} ({hook}) could not be attached: {message}")]
    Required {
        program: String,
        hook: String,
        message: String,
    },
    #[error("eBPF map {map}: {message}")]
    Map { map: &'static str, message: String },
    #[error("cannot mount {fs} at {path}: {source}")]
    Mount {
        fs: &'static str,
        path: &'static str,
        source: nix::Error,
    },
    #[error("cannot raise RLIMIT_MEMLOCK: {0}")]
    Memlock(nix::Error),
}

/// One program and what happened when attaching it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeStatus {
    pub program: String,
    /// `tp_btf/sched_process_exec`, `tracepoint/syscalls/sys_enter_openat`, ...
    pub hook: String,
    pub attached: bool,
    /// Why a program was deliberately not attached (not a failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Skipped>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A program the loader chose not to attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skipped {
    /// A fallback whose primary hook is attached.
    Standby,
    /// Switched off by configuration (`[sensor] dns = false`).
    DnsOff,
}

impl Skipped {
    pub fn why(self) -> &'static str {
        match self {
            Skipped::Standby => "fallback; what it stands in for is attached",
            Skipped::DnsOff => "disabled by configuration ([sensor] dns = false)",
        }
    }
}

/// Kernel features found at start and the state of every probe; `kestrel watch --check`
/// prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AttachReport {
    pub kernel_release: String,
    pub btf: bool,
    pub tracefs: bool,
    pub bpffs: bool,
    /// cgroup hierarchy the container identity is read from: `v2` or `v1:pids`.
    pub cgroup_mode: String,
    pub ring_buffer_bytes: u32,
    pub probes: Vec<ProbeStatus>,
}

impl AttachReport {
    pub fn attached(&self) -> usize {
        self.probes.iter().filter(|p| p.attached).count()
    }
    /// Probes that should have attached and did not (a probe switched off by configuration
    /// did not fail).
    pub fn failed(&self) -> impl Iterator<Item = &ProbeStatus> {
        self.probes
            .iter()
            .filter(|p| !p.attached && p.skipped.is_none())
    }
}

/// What to load.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Ring buffer size in bytes; rounded up to a power of two of at least one page.
    pub ring_buffer_bytes: u32,
    /// Bytes of the environment copied at exec (0 disables environment capture).
    pub env_bytes: u32,
    /// Opens of paths under these prefixes are reported (`""` reports every path).
    pub open_prefixes: Vec<String>,
    /// Opens that may write (`O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC`, `O_APPEND`) of paths
    /// under these prefixes are reported.
    pub open_write_prefixes: Vec<String>,
    /// Opens of paths ending with one of these (at most [`MAX_OPEN_SUFFIX`] bytes) are reported,
    /// whatever the directory.
    pub open_suffixes: Vec<String>,
    /// Opens with any of these flags are reported whatever the path (`O_WRONLY|O_RDWR`...).
    pub open_flags_mask: u32,
    /// Events of this process (the sensor itself) are not captured.
    pub self_tgid: u32,
    /// Attach the DNS programs (the packet programs, or their syscall fallback).
    pub dns: bool,
}

/// What to do when a denied executable is exec'd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyMode {
    /// SIGKILL from the kernel before the new image runs.
    Kill,
    /// Report only: the exec event carries `enforcement: would_kill`.
    DryRun,
}

/// The deny maps' value, as `sensor.bpf.c` reads it.
fn deny_value(mode: DenyMode) -> u32 {
    match mode {
        DenyMode::Kill => 1,
        DenyMode::DryRun => 2,
    }
}

/// The loaded and attached sensor. Dropping it detaches every program.
pub struct Loaded {
    ebpf: Ebpf,
    pub report: AttachReport,
    _stats_fd: Option<OwnedFd>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

/// Mounts tracefs and bpffs when missing and lifts `RLIMIT_MEMLOCK` (needed before 5.11).
pub fn prepare_host(report: &mut AttachReport) -> Result<(), LoadError> {
    use nix::mount::{MsFlags, mount};
    let tracefs_ok = Path::new("/sys/kernel/tracing/events").exists()
        || Path::new("/sys/kernel/debug/tracing/events").exists();
    if !tracefs_ok {
        mount(
            Some("nodev"),
            "/sys/kernel/tracing",
            Some("tracefs"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|source| LoadError::Mount {
            fs: "tracefs",
            path: "/sys/kernel/tracing",
            source,
        })?;
        tracing::info!("mounted tracefs at /sys/kernel/tracing");
    }
    report.tracefs = true;
    let bpffs_ok = nix::sys::statfs::statfs("/sys/fs/bpf")
        .map(|s| s.filesystem_type() == nix::sys::statfs::BPF_FS_MAGIC)
        .unwrap_or(false);
    if !bpffs_ok && Path::new("/sys/fs/bpf").is_dir() {
        match mount(
            Some("bpf"),
            "/sys/fs/bpf",
            Some("bpf"),
            MsFlags::empty(),
            None::<&str>,
        ) {
            Ok(()) => {
                tracing::info!("mounted bpffs at /sys/fs/bpf");
                report.bpffs = true;
            }
            // Nothing is pinned today, so a missing bpffs is reported, not fatal.
            Err(e) => tracing::warn!("cannot mount bpffs at /sys/fs/bpf: {e}"),
        }
    } else {
        report.bpffs = bpffs_ok;
    }
    // Kernels since 5.11 charge BPF memory to the memory cgroup and ignore RLIMIT_MEMLOCK;
    // older ones need it lifted. Without CAP_SYS_RESOURCE only the soft limit can rise.
    use nix::sys::resource::{RLIM_INFINITY, Resource, getrlimit, setrlimit};
    if setrlimit(Resource::RLIMIT_MEMLOCK, RLIM_INFINITY, RLIM_INFINITY).is_err() {
        let (_, hard) = getrlimit(Resource::RLIMIT_MEMLOCK).map_err(LoadError::Memlock)?;
        if let Err(e) = setrlimit(Resource::RLIMIT_MEMLOCK, hard, hard) {
            tracing::debug!("RLIMIT_MEMLOCK stays as it is: {e}");
        }
    }
    Ok(())
}

/// Whether container identity should come from the v1 `pids` hierarchy (hybrid and v1 hosts)
/// rather than the unified one.
pub fn cgroup_v1_pids() -> bool {
    std::fs::read_to_string("/proc/self/cgroup")
        .map(|t| t.lines().any(|l| l.contains(":pids:")))
        .unwrap_or(false)
}

fn hook_of(name: &str) -> Option<(&'static str, String)> {
    if let Some(sc) = name.strip_prefix("enter_") {
        return Some(("syscalls", format!("sys_enter_{sc}")));
    }
    if let Some(sc) = name.strip_prefix("exit_") {
        return Some(("syscalls", format!("sys_exit_{sc}")));
    }
    None
}

fn btf_hook(name: &str) -> Option<&'static str> {
    match name {
        "on_exec" => Some("sched_process_exec"),
        "on_fork" => Some("sched_process_fork"),
        "on_proc_exit" => Some("sched_process_exit"),
        _ => None,
    }
}

/// Loads the embedded object and attaches every program it can.
pub fn load(opts: &LoadOptions) -> Result<Loaded, LoadError> {
    let mut report = AttachReport {
        kernel_release: nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_default(),
        ..Default::default()
    };
    prepare_host(&mut report)?;
    let btf = Btf::from_sys_fs().map_err(|e| LoadError::NoBtf(e.to_string()))?;
    report.btf = true;
    let v1 = cgroup_v1_pids();
    report.cgroup_mode = if v1 { "v1:pids" } else { "v2" }.to_owned();
    let ring = opts.ring_buffer_bytes.max(4096).next_power_of_two();
    report.ring_buffer_bytes = ring;
    let cgroup_v1: u32 = v1.into();
    let mut ebpf = EbpfLoader::new()
        .btf(Some(&btf))
        .map_max_entries("events", ring)
        .override_global("cfg_self_tgid", &opts.self_tgid, true)
        .override_global("cfg_env_bytes", &opts.env_bytes.min(4095), true)
        .override_global("cfg_cgroup_v1_pids", &cgroup_v1, true)
        .override_global("cfg_open_flags_mask", &opts.open_flags_mask, true)
        .override_global(
            "cfg_open_suffixes",
            &u32::from(!opts.open_suffixes.is_empty()),
            true,
        )
        .load(OBJECT)
        .map_err(LoadError::Object)?;

    fill_trie(
        &mut ebpf,
        "open_prefixes",
        prefix_entries(&opts.open_prefixes, &opts.open_write_prefixes)?,
    )?;
    fill_trie(
        &mut ebpf,
        "open_suffixes",
        suffix_entries(&opts.open_suffixes)?,
    )?;

    let cgroup2 = cgroup2_root();
    // With DNS off, neither the packet programs nor their fallback are attached.
    let mut dns_skb = true;
    for (name, attach_type) in DNS_SKB.iter().filter(|_| opts.dns) {
        let prog = ebpf
            .program_mut(name)
            .expect("sensor.bpf.c defines the DNS programs");
        let (hook, result) = attach_skb(prog, *attach_type, cgroup2.as_deref());
        if let Err(e) = &result {
            tracing::warn!(
                program = %name, %hook,
                "probe not attached: {e}; DNS falls back to the send/receive syscalls"
            );
        }
        dns_skb &= result.is_ok();
        report.probes.push(ProbeStatus {
            program: (*name).to_owned(),
            hook,
            attached: result.is_ok(),
            skipped: None,
            error: result.err(),
        });
    }

    let names: Vec<String> = ebpf.programs().map(|(n, _)| n.to_owned()).collect();
    for name in names {
        let packet = DNS_SKB.iter().any(|(n, _)| *n == name);
        let fallback = DNS_SYSCALL_FALLBACK.contains(&name.as_str());
        if packet && opts.dns {
            continue; // attached above
        }
        let skipped = if !opts.dns && (packet || fallback) {
            Some(Skipped::DnsOff)
        } else if dns_skb && fallback {
            Some(Skipped::Standby)
        } else {
            None
        };
        if skipped.is_some() {
            report.probes.push(ProbeStatus {
                hook: hook_of(&name)
                    .map(|(cat, tp)| format!("tracepoint/{cat}/{tp}"))
                    .unwrap_or_else(|| "cgroup_skb".to_owned()),
                program: name,
                attached: false,
                skipped,
                error: None,
            });
            continue;
        }
        let prog = ebpf.program_mut(&name).expect("listed above");
        let (hook, result) = attach_one(&name, prog, &btf);
        if let Err(message) = &result
            && REQUIRED.contains(&name.as_str())
        {
            return Err(LoadError::Required {
                program: name,
                hook,
                message: message.clone(),
            });
        }
        if let Err(e) = &result {
            tracing::warn!(program = %name, %hook, "probe not attached: {e}");
        }
        report.probes.push(ProbeStatus {
            program: name,
            hook,
            attached: result.is_ok(),
            skipped: None,
            error: result.err(),
        });
    }
    report.probes.sort_by(|a, b| a.hook.cmp(&b.hook));
    Ok(Loaded {
        ebpf,
        report,
        _stats_fd: None,
    })
}

/// An error with its whole source chain, so that the errno reaches the report.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn attach_one(name: &str, prog: &mut Program, btf: &Btf) -> (String, Result<(), String>) {
    if let Some(tp) = btf_hook(name) {
        let hook = format!("tp_btf/{tp}");
        let r: Result<(), String> = (|| {
            let p: &mut BtfTracePoint = prog.try_into().map_err(|e| chain(&e))?;
            p.load(tp, btf)
                .map_err(|e| format!("load: {}", chain(&e)))?;
            p.attach().map_err(|e| format!("attach: {}", chain(&e)))?;
            Ok(())
        })();
        return (hook, r);
    }
    if let Some((cat, tp)) = hook_of(name) {
        let hook = format!("tracepoint/{cat}/{tp}");
        let r: Result<(), String> = (|| {
            let p: &mut TracePoint = prog.try_into().map_err(|e| chain(&e))?;
            p.load().map_err(|e| format!("load: {}", chain(&e)))?;
            p.attach(cat, &tp)
                .map_err(|e| format!("attach: {}", chain(&e)))?;
            Ok(())
        })();
        return (hook, r);
    }
    (
        name.to_owned(),
        Err("no hook known for this program".to_owned()),
    )
}

/// Where the cgroup v2 hierarchy is mounted (`/sys/fs/cgroup` on unified hosts,
/// `/sys/fs/cgroup/unified` on hybrid ones), from `/proc/self/mountinfo`.
pub fn cgroup2_root() -> Option<std::path::PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    cgroup2_mount(&info)
}

fn cgroup2_mount(mountinfo: &str) -> Option<std::path::PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let fields: Vec<&str> = mount.split(' ').collect();
        // The hierarchy's root, not a bind mount of a sub-cgroup.
        if fs.split(' ').next() != Some("cgroup2") || fields.get(3) != Some(&"/") {
            return None;
        }
        Some(std::path::PathBuf::from(
            fields.get(4)?.replace("\\040", " "),
        ))
    })
}

fn attach_skb(
    prog: &mut Program,
    attach_type: CgroupSkbAttachType,
    root: Option<&Path>,
) -> (String, Result<(), String>) {
    let dir = match attach_type {
        CgroupSkbAttachType::Ingress => "ingress",
        CgroupSkbAttachType::Egress => "egress",
    };
    let Some(root) = root else {
        return (
            format!("cgroup_skb/{dir}"),
            Err("no cgroup v2 hierarchy is mounted".to_owned()),
        );
    };
    let hook = format!("cgroup_skb/{dir} {}", root.display());
    let r: Result<(), String> = (|| {
        let cgroup = std::fs::File::open(root).map_err(|e| format!("open: {e}"))?;
        let p: &mut CgroupSkb = prog.try_into().map_err(|e| chain(&e))?;
        p.load().map_err(|e| format!("load: {}", chain(&e)))?;
        // aya attaches with a BPF link (kernel 5.7+), which the kernel always attaches as
        // multi: other agents' programs (systemd's IP accounting, CNI plugins) keep running.
        // A link refuses the ALLOW_MULTI flag itself (EINVAL), so the mode passed is "single",
        // which sends no flag.
        p.attach(&cgroup, attach_type, CgroupAttachMode::Single)
            .map_err(|e| format!("attach: {}", chain(&e)))?;
        Ok(())
    })();
    (hook, r)
}

/// Values of the open filter tries (`OPEN_ANY`, `OPEN_WRITE` in `sensor.bpf.c`).
const OPEN_ANY: u8 = 1;
const OPEN_WRITE: u8 = 2;
/// Longest path prefix the kernel compares (its key buffer is 256 bytes, NUL included).
const MAX_OPEN_PREFIX: usize = 255;
/// Longest suffix: the kernel reverses at most this many trailing bytes of a path.
pub const MAX_OPEN_SUFFIX: usize = 64;

/// The `open_prefixes` trie: report-all prefixes, then write-only ones. The kernel takes the
/// longest match, so a write-only prefix under a report-all one is left out (it would hide the
/// reads the shorter prefix asks for).
fn prefix_entries(any: &[String], write: &[String]) -> Result<BTreeMap<Vec<u8>, u8>, LoadError> {
    let mut entries = BTreeMap::new();
    for (list, value) in [(any, OPEN_ANY), (write, OPEN_WRITE)] {
        for p in list {
            if p.len() > MAX_OPEN_PREFIX {
                return Err(LoadError::Map {
                    map: "open_prefixes",
                    message: format!("prefix {p:?} is longer than {MAX_OPEN_PREFIX} bytes"),
                });
            }
            if value == OPEN_WRITE && any.iter().any(|a| p.starts_with(a.as_str())) {
                continue;
            }
            *entries.entry(p.as_bytes().to_vec()).or_default() |= value;
        }
    }
    Ok(entries)
}

/// The `open_suffixes` trie: each suffix reversed, so that the kernel's longest-prefix match of
/// the reversed path tail finds it.
fn suffix_entries(suffixes: &[String]) -> Result<BTreeMap<Vec<u8>, u8>, LoadError> {
    let mut entries = BTreeMap::new();
    for s in suffixes {
        let bad = |why: String| LoadError::Map {
            map: "open_suffixes",
            message: format!("suffix {s:?} {why}"),
        };
        if s.is_empty() {
            return Err(bad(
                "is empty: it would report every open (use an open prefix of \"\" for that)".into(),
            ));
        }
        if s.len() > MAX_OPEN_SUFFIX {
            return Err(bad(format!("is longer than {MAX_OPEN_SUFFIX} bytes")));
        }
        entries.insert(s.bytes().rev().collect(), OPEN_ANY);
    }
    Ok(entries)
}

fn fill_trie(
    ebpf: &mut Ebpf,
    name: &'static str,
    entries: BTreeMap<Vec<u8>, u8>,
) -> Result<(), LoadError> {
    let map = ebpf.map_mut(name).ok_or(LoadError::Map {
        map: name,
        message: "missing from the object".into(),
    })?;
    let mut trie: LpmTrie<&mut MapData, [u8; 256], u8> =
        LpmTrie::try_from(map).map_err(|e| LoadError::Map {
            map: name,
            message: e.to_string(),
        })?;
    for (bytes, value) in entries {
        let mut data = [0u8; 256];
        data[..bytes.len()].copy_from_slice(&bytes);
        trie.insert(&Key::new(bytes.len() as u32 * 8, data), value, 0)
            .map_err(|e| LoadError::Map {
                map: name,
                message: format!("inserting {:?}: {e}", String::from_utf8_lossy(&bytes)),
            })?;
    }
    Ok(())
}

impl Loaded {
    /// Takes the ring buffer for the reader thread.
    pub fn take_ring(&mut self) -> Result<RingBuf<MapData>, LoadError> {
        let map = self.ebpf.take_map("events").ok_or(LoadError::Map {
            map: "events",
            message: "already taken or missing".into(),
        })?;
        RingBuf::try_from(map).map_err(|e| LoadError::Map {
            map: "events",
            message: e.to_string(),
        })
    }

    /// Takes the drop counters for the stats thread.
    pub fn take_drops(&mut self) -> Result<DropCounters, LoadError> {
        let map = self.ebpf.take_map("drops").ok_or(LoadError::Map {
            map: "drops",
            message: "already taken or missing".into(),
        })?;
        let arr = PerCpuArray::try_from(map).map_err(|e| LoadError::Map {
            map: "drops",
            message: e.to_string(),
        })?;
        Ok(DropCounters(arr))
    }

    /// Adds an executable to the deny list by the file's `stat(2)` device and inode.
    pub fn deny_exec(&mut self, dev: u64, ino: u64, mode: DenyMode) -> Result<(), LoadError> {
        let mut map = self.deny_map()?;
        map.insert([dev_to_kernel(dev), ino], deny_value(mode), 0)
            .map_err(|e| LoadError::Map {
                map: "exec_deny",
                message: e.to_string(),
            })
    }

    /// Removes an executable from the deny list; `false` when it was not there.
    pub fn allow_exec(&mut self, dev: u64, ino: u64) -> Result<bool, LoadError> {
        let mut map = self.deny_map()?;
        match map.remove(&[dev_to_kernel(dev), ino]) {
            Ok(()) => Ok(true),
            Err(aya::maps::MapError::KeyNotFound) => Ok(false),
            Err(e) => Err(LoadError::Map {
                map: "exec_deny",
                message: e.to_string(),
            }),
        }
    }

    /// Adds a process name (the task's 15-byte `comm` after exec) to the deny list.
    pub fn deny_exec_comm(&mut self, comm: [u8; 16], mode: DenyMode) -> Result<(), LoadError> {
        let mut map = self.deny_comm_map()?;
        map.insert(comm, deny_value(mode), 0)
            .map_err(|e| LoadError::Map {
                map: "exec_deny_comm",
                message: e.to_string(),
            })
    }

    /// Removes a process name from the deny list; `false` when it was not there.
    pub fn allow_exec_comm(&mut self, comm: [u8; 16]) -> Result<bool, LoadError> {
        let mut map = self.deny_comm_map()?;
        match map.remove(&comm) {
            Ok(()) => Ok(true),
            Err(aya::maps::MapError::KeyNotFound) => Ok(false),
            Err(e) => Err(LoadError::Map {
                map: "exec_deny_comm",
                message: e.to_string(),
            }),
        }
    }

    fn deny_comm_map(&mut self) -> Result<BpfHashMap<&mut MapData, [u8; 16], u32>, LoadError> {
        let map = self.ebpf.map_mut("exec_deny_comm").ok_or(LoadError::Map {
            map: "exec_deny_comm",
            message: "missing from the object".into(),
        })?;
        BpfHashMap::try_from(map).map_err(|e| LoadError::Map {
            map: "exec_deny_comm",
            message: e.to_string(),
        })
    }

    fn deny_map(&mut self) -> Result<BpfHashMap<&mut MapData, [u64; 2], u32>, LoadError> {
        let map = self.ebpf.map_mut("exec_deny").ok_or(LoadError::Map {
            map: "exec_deny",
            message: "missing from the object".into(),
        })?;
        BpfHashMap::try_from(map).map_err(|e| LoadError::Map {
            map: "exec_deny",
            message: e.to_string(),
        })
    }

    /// Turns on the kernel's per-program run-time statistics (`bpf_stats`) for as long as
    /// this sensor lives.
    pub fn enable_run_time_stats(&mut self) -> Result<(), LoadError> {
        let fd = aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| LoadError::Map {
            map: "bpf_stats",
            message: e.to_string(),
        })?;
        self._stats_fd = Some(fd);
        Ok(())
    }

    /// Average run time per program from `bpf_stats` (needs [`Self::enable_run_time_stats`]).
    pub fn program_run_times(&self) -> Vec<ProgramRunTime> {
        let mut v: Vec<ProgramRunTime> = self
            .ebpf
            .programs()
            .filter_map(|(name, p)| {
                let info = p.info().ok()?;
                Some(ProgramRunTime {
                    program: name.to_owned(),
                    run_count: info.run_count(),
                    run_time_ns: info.run_time().as_nanos() as u64,
                })
            })
            .collect();
        v.sort_by(|a, b| a.program.cmp(&b.program));
        v
    }
}

/// `bpf_stats` figures of one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramRunTime {
    pub program: String,
    pub run_count: u64,
    pub run_time_ns: u64,
}

impl ProgramRunTime {
    pub fn avg_ns(&self) -> f64 {
        if self.run_count == 0 {
            0.0
        } else {
            self.run_time_ns as f64 / self.run_count as f64
        }
    }
}

/// The per-CPU drop counters, one per record kind.
pub struct DropCounters(PerCpuArray<MapData, u64>);

impl std::fmt::Debug for DropCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DropCounters")
    }
}

impl DropCounters {
    /// Totals since load, per kind (kinds with no drops omitted).
    pub fn totals(&self) -> BTreeMap<Kind, u64> {
        let mut out = BTreeMap::new();
        for k in Kind::ALL {
            let idx = k as u32;
            if idx >= KIND_SLOTS {
                continue;
            }
            if let Ok(values) = self.0.get(&idx, 0) {
                let sum: u64 = values.iter().sum();
                if sum > 0 {
                    out.insert(k, sum);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn open_filter_entries() {
        let any = strings(&["/etc/", "/proc/sys/", "/x/"]);
        let write = strings(&["/proc/", "/etc/cron.d/", "/x/", "/var/log/"]);
        let got: Vec<(String, u8)> = prefix_entries(&any, &write)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (String::from_utf8(k).unwrap(), v))
            .collect();
        // /etc/cron.d/ and /x/ are covered by report-all prefixes: a write-only entry there
        // would be the longest match and hide reads.
        let want = [
            ("/etc/", OPEN_ANY),
            ("/proc/", OPEN_WRITE),
            ("/proc/sys/", OPEN_ANY),
            ("/var/log/", OPEN_WRITE),
            ("/x/", OPEN_ANY),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        assert_eq!(got, want);
        // "" reports everything, so no write-only entry survives.
        let all = prefix_entries(&strings(&[""]), &write).unwrap();
        assert_eq!(
            all.into_iter().collect::<Vec<_>>(),
            [(Vec::new(), OPEN_ANY)]
        );

        let long = "/".repeat(256);
        let e = prefix_entries(&[], &[long]).unwrap_err().to_string();
        assert!(e.contains("longer than 255 bytes"), "{e}");
    }

    #[test]
    fn cgroup2_mount_point() {
        let hybrid = "25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw
27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(std::path::PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let bind = "40 30 0:23 /kubepods/pod1 /host/cg rw - cgroup2 cgroup2 rw";
        assert_eq!(cgroup2_mount(bind), None);
        assert_eq!(
            cgroup2_mount("27 25 0:24 / /sys/fs/cgroup/memory rw - cgroup cgroup rw"),
            None
        );
    }

    #[test]
    fn suffixes_are_reversed_and_bounded() {
        let got = suffix_entries(&strings(&["release_agent", ".aws/config"])).unwrap();
        let keys: Vec<&[u8]> = got.keys().map(Vec::as_slice).collect();
        assert_eq!(keys, [&b"gifnoc/swa."[..], b"tnega_esaeler"]);
        assert!(got.values().all(|v| *v == OPEN_ANY));
        let e = suffix_entries(&strings(&[""])).unwrap_err().to_string();
        assert!(e.contains("is empty"), "{e}");
        let e = suffix_entries(&["x".repeat(65)]).unwrap_err().to_string();
        assert!(e.contains("longer than 64 bytes"), "{e}");
        assert!(suffix_entries(&["x".repeat(64)]).is_ok());
    }
}
