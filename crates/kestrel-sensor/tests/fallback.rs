//! The degraded modes, forced on a kernel where eBPF works: the proc connector sees processes
//! too short-lived for `/proc` polling, with their exit codes; polling remains the last resort.
//! Root is needed (`CAP_NET_ADMIN` for the connector).

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use kestrel_event::{Event, EventKind, Sensor as SensorEvent};
use kestrel_sensor::fallback::{self, FallbackMode};
use kestrel_sensor::{Fallback, Sensor, SensorConfig, SensorHandle};

/// Events until `done` says so or 20 s pass (then panics with what was seen).
fn collect(h: &SensorHandle, what: &str, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut v = Vec::new();
    while Instant::now() < deadline {
        if let Ok(e) = h.events().recv_timeout(Duration::from_millis(100)) {
            let stop = done(&e);
            v.push(e);
            if stop {
                return v;
            }
        }
    }
    panic!("{what}: not seen within 20 s among {} events", v.len());
}

fn is_health(e: &Event) -> bool {
    matches!(
        e.kind,
        EventKind::Sensor(SensorEvent::Health { healthy: false, .. })
    )
}

/// Runs `sh -c 'exit 7'` `n` times, one after the other; returns the pids.
fn short_lived(n: usize) -> Vec<u32> {
    (0..n)
        .map(|_| {
            let mut child = Command::new("/bin/sh")
                .args(["-c", "exit 7"])
                .spawn()
                .unwrap();
            let pid = child.id();
            assert_eq!(child.wait().unwrap().code(), Some(7));
            pid
        })
        .collect()
}

#[test]
fn proc_connector_sees_short_lived_processes_with_exit_codes() {
    assert_eq!(fallback::probe(), (FallbackMode::ProcConnector, None));
    let h = Sensor::start(SensorConfig {
        fallback: Fallback::Force,
        ..SensorConfig::default()
    })
    .expect("the fallback starts");
    let degraded = h.degraded().expect("reported as degraded").to_owned();
    assert!(
        degraded.contains("fallback forced by configuration")
            && degraded.contains("using the proc connector")
            && degraded.contains(fallback::CONNECTOR_LOST_COVERAGE),
        "{degraded}"
    );
    let health = collect(&h, "health event", is_health);
    let EventKind::Sensor(SensorEvent::Health { message, .. }) = &health.last().unwrap().kind
    else {
        unreachable!()
    };
    assert_eq!(*message, degraded);

    let pids = short_lived(20);
    let mut execs: HashMap<u32, Event> = HashMap::new();
    let mut exits: HashMap<u32, Event> = HashMap::new();
    let mut forked = Vec::new();
    let me = std::process::id();
    collect(&h, "exec and exit of every short-lived process", |e| {
        if !pids.contains(&e.pid) {
            if let (EventKind::Fork { child_pid }, true) = (&e.kind, e.pid == me) {
                forked.push(*child_pid);
            }
            return false;
        }
        match e.kind {
            EventKind::Exec => {
                execs.insert(e.pid, e.clone());
            }
            EventKind::Exit { .. } => {
                exits.insert(e.pid, e.clone());
            }
            _ => {}
        }
        pids.iter()
            .all(|p| execs.contains_key(p) && exits.contains_key(p))
    });
    for pid in &pids {
        assert!(forked.contains(pid), "fork of {pid} by the test process");
        assert_eq!(
            exits[pid].kind,
            EventKind::Exit {
                code: 7,
                signal: None
            }
        );
        let p = execs[pid].process.as_ref().expect("the exec's process");
        assert_eq!((p.pid, p.ppid), (*pid, me));
        let exited = exits[pid].process.as_ref().expect("the exit's process");
        assert_eq!(exited.pid, *pid);
    }
    // Lifetimes as the kernel stamped them: these processes are far shorter-lived than the
    // 100 ms polling interval.
    let lifetimes: Vec<u64> = pids
        .iter()
        .map(|p| exits[p].ts.saturating_sub(execs[p].ts))
        .collect();
    let shortest = *lifetimes.iter().min().unwrap();
    assert!(
        shortest < 10_000_000,
        "exec-to-exit times (ns): {lifetimes:?}"
    );
    // The new image (name, arguments) comes from /proc/PID, read when the exec message arrives:
    // a process already gone by then shows none, never its parent's.
    let dash = std::fs::canonicalize("/bin/sh").unwrap();
    let mut read = Vec::new();
    for pid in &pids {
        let p = execs[pid].process.as_ref().unwrap();
        assert!(p.name.is_empty() || p.name == "sh", "{p:?}");
        assert!(
            p.exe.path.is_empty() || std::path::Path::new(&p.exe.path) == dash,
            "{p:?}"
        );
        if !p.args.is_empty() {
            assert_eq!(p.args, ["/bin/sh", "-c", "exit 7"]);
            read.push(*pid);
        }
    }
    eprintln!(
        "{} of {} exec events read /proc in time; exec-to-exit {} ns at least",
        read.len(),
        pids.len(),
        shortest
    );

    // A longer-lived process has its whole picture, as with polling.
    let mut child = Command::new("/bin/sleep").arg("0.3").spawn().unwrap();
    let pid = child.id();
    let e = collect(&h, "exec of sleep", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exec)
    })
    .pop()
    .unwrap();
    child.wait().unwrap();
    let p = e.process.unwrap();
    assert_eq!(p.args, ["/bin/sleep", "0.3"]);
    assert_eq!(p.name, "sleep");
    assert_eq!(p.ppid, me);
    assert_eq!(p.parent.as_ref().map(|p| p.pid), Some(me));
    let exit = collect(&h, "exit of sleep", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exit { .. })
    })
    .pop()
    .unwrap();
    assert_eq!(
        exit.kind,
        EventKind::Exit {
            code: 0,
            signal: None
        }
    );
    h.stop();
}

#[test]
fn killed_processes_report_the_signal() {
    let h = fallback::start_mode(SensorConfig::default(), FallbackMode::ProcConnector, None)
        .expect("the proc connector");
    let mut child = Command::new("/bin/sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    collect(&h, "exec of sleep", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exec)
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let exit = collect(&h, "exit of sleep", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exit { .. })
    })
    .pop()
    .unwrap();
    assert_eq!(
        exit.kind,
        EventKind::Exit {
            code: 128 + 9,
            signal: Some(9)
        }
    );
}

#[test]
fn polling_is_the_last_resort_and_misses_short_lived_processes() {
    let h = fallback::start_mode(SensorConfig::default(), FallbackMode::ProcPolling, None)
        .expect("polling");
    let degraded = h.degraded().unwrap().to_owned();
    assert!(
        degraded.contains("using the /proc polling") && degraded.contains(fallback::LOST_COVERAGE),
        "{degraded}"
    );
    collect(&h, "health event", is_health);
    let pids = short_lived(20);
    // Longer-lived than the polling interval: seen. It also marks the end of the window.
    let mut child = Command::new("/bin/sleep").arg("1").spawn().unwrap();
    let sleeper = child.id();
    let seen = collect(&h, "polled exec of sleep", |e| {
        e.pid == sleeper && matches!(e.kind, EventKind::Exec)
    });
    child.wait().unwrap();
    let p = seen.last().unwrap().process.as_ref().unwrap();
    assert_eq!(p.args, ["/bin/sleep", "1"]);
    let short_seen = seen.iter().filter(|e| pids.contains(&e.pid)).count();
    assert!(
        short_seen < pids.len(),
        "polling every 100 ms saw all {} processes of about a millisecond",
        pids.len()
    );
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e.kind, EventKind::Exit { .. } | EventKind::Fork { .. })),
        "polling sees no forks or exits"
    );
}

#[test]
fn outside_the_host_network_namespace_the_connector_is_refused() {
    // The connector lives in the initial network namespace only: a sensor in a pod without
    // `hostNetwork` gets polling, and says why.
    let (mode, why) = std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        fallback::probe()
    })
    .join()
    .unwrap();
    assert_eq!(mode, FallbackMode::ProcPolling);
    let why = why.unwrap();
    assert!(
        why.contains("PROC_CN_MCAST_LISTEN") || why.contains("NETLINK"),
        "{why}"
    );
}
