//! Memory and throughput of folding a long sensor stream into an [`Observation`], against
//! keeping every file event (what `kestrel risk` did before): `bench/risk/observation.sh`.
//!
//! The stream imitates a node of 20 containers running interpreters that open and map files
//! of a working set of package modules over and over (one event in 50 is an executable
//! mapping). One event in 200 opens a file never seen before (an upload written to `/tmp`), all
//! in the first container, so that container's distinct files keep growing until it reaches the
//! per-container limit, as a container writing unique temp files would.
//!
//! Usage: `observation_bench fold|keep EVENTS`; prints one JSON line.

use std::sync::Arc;
use std::time::Instant;

use kestrel_assess::Observation;
use kestrel_event::{ContainerId, ContainerInfo, Event, EventKind, FileId, OpenFlags, ProcessInfo};

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("fold");
    let events: u64 = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let containers: Vec<Arc<ContainerInfo>> = (0..20)
        .map(|i| {
            Arc::new(ContainerInfo::bare(
                ContainerId::parse(&format!("{i:064x}")).unwrap(),
            ))
        })
        .collect();
    let process = Arc::new(ProcessInfo {
        pid: 4242,
        name: "python3".into(),
        cwd: "/app".into(),
        ..Default::default()
    });
    let mut obs = Observation::default();
    let mut kept: Vec<Event> = Vec::new();
    let start = Instant::now();
    for n in 0..events {
        let c = &containers[(n % 20) as usize];
        let path = if n % 200 == 0 {
            format!("/tmp/upload-{n}.bin")
        } else {
            format!(
                "/venv/lib/python3.11/site-packages/pkg{}/module{}.py",
                (n / 7) % 100,
                (n / 3) % 20
            )
        };
        let kind = if n % 50 == 1 {
            EventKind::Mmap {
                path,
                file: FileId::default(),
                prot: 5,
                flags: 2,
            }
        } else {
            EventKind::Open {
                path,
                flags: OpenFlags(0),
                mode: 0,
                result: 3,
            }
        };
        let ev = Event {
            ts: 1_700_000_000_000_000_000 + n * 1_000,
            pid: 4242,
            tid: 4242,
            kind,
            process: Some(process.clone()),
            container: Some(c.clone()),
        };
        match mode {
            "keep" => kept.push(ev),
            _ => obs.record_event(&ev),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let stats = obs.stats();
    println!(
        "{{\"mode\":\"{mode}\",\"events\":{events},\"seconds\":{secs:.2},\"events_per_sec\":{:.0},\"files_kept\":{},\"events_kept\":{},\"peak_rss_kib\":{}}}",
        events as f64 / secs,
        stats.files,
        kept.len(),
        peak_rss_kib()
    );
}
