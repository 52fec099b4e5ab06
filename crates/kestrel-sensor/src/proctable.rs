//! The process table: what the sensor knows about every live process, so that each event can
//! carry its process and ancestry.
//!
//! It is bootstrapped from `/proc` at start (processes older than the sensor have ancestry too)
//! and then kept current by exec, fork and exit records. It is an LRU bounded by
//! `capacity` entries: a process whose exit was missed (a dropped record) is eventually evicted
//! and counted in [`ProcessTable::evictions`].
//!
//! Memory, worst case: `capacity` live entries, each a [`ProcessInfo`] of at most about 9 KiB
//! (4 KiB of argv, the selected environment, a 4 KiB path budget shared by exe and cwd), plus the
//! ancestors they keep alive, which is at most `ancestry_depth` entries per process because the
//! chain is cut there. With the defaults (32,768 entries, depth 8) that is bounded, and typical
//! entries are under 1 KiB: 1,000 processes cost about 1 MiB.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use kestrel_event::{Capabilities, Credentials, ExeInfo, Namespaces, ProcessInfo};
use lru::LruCache;
use rustc_hash::FxBuildHasher;

/// The bounded table of live processes.
#[derive(Debug)]
pub struct ProcessTable {
    procs: LruCache<u32, Entry, FxBuildHasher>,
    ancestry_depth: usize,
    evictions: u64,
}

#[derive(Debug)]
struct Entry {
    info: Arc<ProcessInfo>,
    /// `info` with its ancestry cut to what a child may inherit (`ancestry_depth - 1`), made at
    /// the first child and shared by the next ones: cutting a full-length chain copies every
    /// entry in it, and a shell or a build tool starts many children (each a fork and an exec).
    as_parent: Option<Arc<ProcessInfo>>,
}

impl ProcessTable {
    pub fn new(capacity: usize, ancestry_depth: usize) -> Self {
        ProcessTable {
            procs: LruCache::with_hasher(
                NonZeroUsize::new(capacity.max(16)).expect("at least 16"),
                FxBuildHasher,
            ),
            ancestry_depth: ancestry_depth.max(1),
            evictions: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Entries evicted because the table was full (their exit was never seen).
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    pub fn get(&mut self, pid: u32) -> Option<Arc<ProcessInfo>> {
        self.procs.get(&pid).map(|e| e.info.clone())
    }

    /// Inserts `info`, linking it to its parent (by `ppid`) when the table knows it.
    pub fn insert(&mut self, mut info: ProcessInfo) -> Arc<ProcessInfo> {
        let depth = self.ancestry_depth - 1;
        if let Some(p) = info.parent.take() {
            info.parent = Some(cut_chain(&p, depth));
        } else if info.ppid != 0
            && info.ppid != info.pid
            && let Some(parent) = self.procs.get_mut(&info.ppid)
        {
            let cut = parent
                .as_parent
                .get_or_insert_with(|| cut_chain(&parent.info, depth));
            info.parent = Some(cut.clone());
        }
        let info = Arc::new(info);
        let entry = Entry {
            info: info.clone(),
            as_parent: None,
        };
        if let Some((old_pid, _)) = self.procs.push(info.pid, entry)
            && old_pid != info.pid
        {
            self.evictions += 1;
        }
        info
    }

    pub fn remove(&mut self, pid: u32) -> Option<Arc<ProcessInfo>> {
        self.procs.pop(&pid).map(|e| e.info)
    }

    /// All entries, for recordings.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Arc<ProcessInfo>> {
        self.procs.iter().map(|(_, e)| &e.info)
    }

    /// Adds every process of `proc_root` (normally `/proc`), parents before children.
    /// Processes that vanish while being read are skipped. Returns how many were added.
    pub fn bootstrap(&mut self, proc_root: &Path, env_names: &[String]) -> usize {
        let Ok(dir) = std::fs::read_dir(proc_root) else {
            return 0;
        };
        let mut found: HashMap<u32, ProcessInfo> = HashMap::new();
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Some(p) = scan_process(proc_root, pid, env_names) {
                found.insert(pid, p);
            }
        }
        let n = found.len();
        // Insert in ancestry order so each process links to its already-inserted parent.
        let mut order: Vec<u32> = found.keys().copied().collect();
        order.sort_by_key(|pid| depth_of(*pid, &found));
        for pid in order {
            if let Some(p) = found.remove(&pid) {
                self.insert(p);
            }
        }
        n
    }
}

fn depth_of(mut pid: u32, all: &HashMap<u32, ProcessInfo>) -> usize {
    let mut d = 0;
    while let Some(p) = all.get(&pid) {
        if p.ppid == pid || d > 64 {
            break;
        }
        pid = p.ppid;
        d += 1;
    }
    d
}

/// A copy of the ancestry of `p` cut to `depth` ancestors above it; shares the original when it
/// is already short enough (the common case costs one walk, no allocation).
fn cut_chain(p: &Arc<ProcessInfo>, depth: usize) -> Arc<ProcessInfo> {
    if chain_len(p) <= depth + 1 {
        return p.clone();
    }
    let mut copy = (**p).clone();
    copy.parent = if depth == 0 {
        None
    } else {
        p.parent.as_ref().map(|pp| cut_chain(pp, depth - 1))
    };
    Arc::new(copy)
}

fn chain_len(p: &ProcessInfo) -> usize {
    let mut n = 1;
    let mut cur = p;
    while let Some(next) = cur.parent.as_deref() {
        n += 1;
        cur = next;
    }
    n
}

/// Reads what `/proc/PID` says about one process; `None` when it has gone.
pub fn scan_process(proc_root: &Path, pid: u32, env_names: &[String]) -> Option<ProcessInfo> {
    let dir = proc_root.join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // comm is in parentheses and may itself contain spaces and parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat[open + 1..close].to_owned();
    let rest: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    // rest[0] is field 3 (state).
    let field = |n: usize| rest.get(n - 3).and_then(|s| s.parse::<i64>().ok());
    let ppid = field(4).unwrap_or(0) as u32;
    let tty_nr = field(7).unwrap_or(0);
    let start_ticks = field(22).unwrap_or(0) as u64;
    field(4)?;
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let mut creds = Credentials::default();
    let mut caps = Capabilities::default();
    for line in status.lines() {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        let nums: Vec<u32> = v
            .split_whitespace()
            .filter_map(|s| s.parse().ok())
            .collect();
        let hex = || u64::from_str_radix(v.trim(), 16).unwrap_or(0);
        match k {
            "Uid" if nums.len() >= 2 => (creds.uid, creds.euid) = (nums[0], nums[1]),
            "Gid" if nums.len() >= 2 => (creds.gid, creds.egid) = (nums[0], nums[1]),
            "CapEff" => caps.effective = hex(),
            "CapPrm" => caps.permitted = hex(),
            "CapInh" => caps.inheritable = hex(),
            _ => {}
        }
    }
    creds.loginuid = std::fs::read_to_string(dir.join("loginuid"))
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .filter(|u| *u != u32::MAX);
    let mut exe = ExeInfo::default();
    if let Ok(target) = std::fs::read_link(dir.join("exe")) {
        let s = target.to_string_lossy();
        if let Some(stripped) = s.strip_suffix(" (deleted)") {
            exe.deleted = true;
            exe.path = stripped.to_owned();
        } else {
            exe.path = s.into_owned();
        }
        exe.memfd = exe.path.starts_with("/memfd:");
        if let Ok(md) = std::fs::metadata(dir.join("exe")) {
            exe.dev = md.dev();
            exe.ino = md.ino();
        }
    }
    let args = std::fs::read(dir.join("cmdline"))
        .map(|b| crate::record::split_nul(&b))
        .unwrap_or_default();
    let cwd = std::fs::read_link(dir.join("cwd"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let env = if env_names.is_empty() {
        Vec::new()
    } else {
        std::fs::read(dir.join("environ"))
            .map(|b| select_env(&crate::record::split_nul(&b), env_names))
            .unwrap_or_default()
    };
    let ns_inum = |name: &str| -> u32 {
        std::fs::read_link(dir.join("ns").join(name))
            .ok()
            .and_then(|t| {
                let t = t.to_string_lossy().into_owned();
                t.rsplit_once('[')
                    .and_then(|(_, n)| n.trim_end_matches(']').parse().ok())
            })
            .unwrap_or(0)
    };
    let ns = Namespaces {
        pid: ns_inum("pid"),
        mnt: ns_inum("mnt"),
        net: ns_inum("net"),
        uts: ns_inum("uts"),
        ipc: ns_inum("ipc"),
        user: ns_inum("user"),
        cgroup: ns_inum("cgroup"),
    };
    let container_id = std::fs::read_to_string(dir.join("cgroup"))
        .ok()
        .and_then(|t| kestrel_container::identify_proc_cgroup(&t))
        .map(|c| c.container_id);
    Some(ProcessInfo {
        pid,
        ppid,
        name,
        exe,
        args,
        cwd,
        env,
        creds,
        caps,
        tty: (tty_nr != 0).then_some(tty_nr as u32),
        ns,
        // /proc reports clock ticks (USER_HZ = 100 on every Linux ABI) since boot.
        start_time: start_ticks * 10_000_000,
        container_id,
        parent: None,
    })
}

/// Keeps the `NAME=value` entries whose name is in `names`.
pub fn select_env(env: &[String], names: &[String]) -> Vec<String> {
    env.iter()
        .filter(|kv| {
            let name = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
            names.iter().any(|n| n == name)
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, name: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid,
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn links_parents_and_cuts_ancestry() {
        let mut t = ProcessTable::new(100, 3);
        t.insert(p(1, 0, "init"));
        t.insert(p(2, 1, "a"));
        t.insert(p(3, 2, "b"));
        t.insert(p(4, 3, "c"));
        let e = t.insert(p(5, 4, "d"));
        assert_eq!(e.ancestor(1).unwrap().name, "c");
        assert_eq!(e.ancestor(3).unwrap().name, "a");
        assert!(e.ancestor(4).is_none(), "ancestry is cut at depth 3");
        // The table's own entry for pid 4 still has its full (cut) chain.
        assert_eq!(t.get(4).unwrap().ancestor(3).unwrap().name, "init");
    }

    #[test]
    fn lru_evicts_and_counts() {
        let mut t = ProcessTable::new(16, 4);
        for pid in 1..=20 {
            t.insert(p(pid, 0, "x"));
        }
        assert_eq!(t.len(), 16);
        assert_eq!(t.evictions(), 4);
        assert!(t.get(1).is_none());
        assert!(t.get(20).is_some());
        // Re-inserting a pid (exec) replaces, it does not evict.
        t.insert(p(20, 0, "y"));
        assert_eq!(t.evictions(), 4);
        assert_eq!(t.remove(20).unwrap().name, "y");
    }

    #[test]
    fn bootstrap_reads_this_process_and_its_parent() {
        let mut t = ProcessTable::new(65536, 8);
        let n = t.bootstrap(Path::new("/proc"), &["PATH".to_owned()]);
        assert!(n > 1);
        let me = t
            .get(std::process::id())
            .expect("the test process is in /proc");
        assert_eq!(
            me.exe.path,
            std::env::current_exe().unwrap().to_string_lossy()
        );
        assert_eq!(me.ppid, std::os::unix::process::parent_id());
        assert!(me.parent.is_some(), "the parent was linked");
        assert!(me.env.iter().all(|e| e.starts_with("PATH=")));
        assert_ne!(me.ns.pid, 0);
        assert_eq!(
            me.exe.ino,
            std::fs::metadata(std::env::current_exe().unwrap())
                .unwrap()
                .ino()
        );
    }

    #[test]
    fn env_selection() {
        let env = vec![
            "LD_PRELOAD=/x.so".to_owned(),
            "LD_PRELOADX=1".to_owned(),
            "HOME=/root".to_owned(),
        ];
        assert_eq!(
            select_env(&env, &["LD_PRELOAD".to_owned()]),
            ["LD_PRELOAD=/x.so"]
        );
    }
}
