//! The degraded mode for kernels without eBPF or BTF: `/proc` polling.
//!
//! Every `POLL` the process list is compared with the previous one; each new process becomes an
//! `exec` event carrying what `/proc/PID` says (command line, executable, credentials,
//! namespaces, container). It is announced by a `sensor` health event that says what is lost:
//!
//! - processes that live shorter than the polling interval are never seen;
//! - a process that execs without forking is seen only under its first image;
//! - no file, network, privilege or kernel events, no exit codes, no drops accounting, no
//!   enforcement.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kestrel_event::{ContainerInfo, Event, EventKind, Sensor as SensorEvent};

use crate::metadata::{Lookup, MetadataSource};
use crate::pipeline::{SensorConfig, SensorError, SensorHandle, SharedStats, sensor_event};
use crate::proctable::{ProcessTable, scan_process};

const POLL: Duration = Duration::from_millis(100);

/// What the fallback cannot see, for the health event and `kestrel watch --check`.
pub const LOST_COVERAGE: &str = "file, network, privilege and kernel-module events, exit codes, processes shorter-lived than 100 ms, exec without fork, drop accounting and exec enforcement";

fn pids(proc_root: &Path) -> HashSet<u32> {
    std::fs::read_dir(proc_root)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn start(
    cfg: SensorConfig,
    reason: String,
    metadata: Option<Arc<dyn MetadataSource>>,
) -> Result<SensorHandle, SensorError> {
    let message = format!("degraded: {reason}; polling /proc instead. Lost: {LOST_COVERAGE}");
    tracing::warn!("{message}");
    let (tx, rx) = mpsc::sync_channel::<Event>(cfg.channel_capacity.max(1));
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(SharedStats::default());
    // Taken before returning, so that every process started after `start` is new.
    let mut known = pids(Path::new("/proc"));
    let thread = {
        let stop = stop.clone();
        let message = message.clone();
        std::thread::Builder::new()
            .name("kestrel-procpoll".into())
            .spawn(move || {
                let root = Path::new("/proc");
                if tx
                    .send(sensor_event(SensorEvent::Health {
                        healthy: false,
                        message,
                    }))
                    .is_err()
                {
                    return;
                }
                let mut table = ProcessTable::new(cfg.process_table_capacity, cfg.ancestry_depth);
                table.bootstrap(root, &cfg.env_names);
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
                        let container = info.container_id.clone().map(|id| {
                            let ident = kestrel_container::CgroupIdentity {
                                container_id: id.clone(),
                                runtime: None,
                                pod_uid: None,
                                qos: None,
                            };
                            Arc::new(match metadata.as_ref().map(|m| m.lookup(&ident)) {
                                Some(Lookup::Ready(c)) => Arc::unwrap_or_clone(c),
                                _ => ContainerInfo::bare(id),
                            })
                        });
                        let ts = SystemTime::now()
                            .duration_since(UNIX_EPOCH)
                            .map(|d| d.as_nanos() as u64)
                            .unwrap_or(0);
                        let event = Event {
                            ts,
                            pid,
                            tid: pid,
                            kind: EventKind::Exec,
                            process: Some(info),
                            container,
                        };
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                    known = now;
                }
            })
            .map_err(|source| SensorError::Thread {
                name: "procpoll",
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
