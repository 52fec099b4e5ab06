//! Rule evaluation throughput: the full default rule set on a synthetic stream shaped like a
//! busy node (opens, execs, connects, accepts, forks, exits, DNS, a few attacks), on one thread.
//!
//! `cargo run --release -p kestrel-rules --example bench_eval [SECONDS]`
//! Results and conditions: bench/rules/README.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use kestrel_event::{
    ContainerId, ContainerInfo, DnsMessage, Event, EventKind, ExeInfo, ImageRef, NetProtocol,
    OpenFlags, PodInfo, ProcessInfo, SockAddr, SocketFamily,
};
use kestrel_rules::{Engine, RateLimit, RuleSet};

fn process(
    exe: &str,
    args: &[&str],
    parent: Option<Arc<ProcessInfo>>,
    pid: u32,
) -> Arc<ProcessInfo> {
    Arc::new(ProcessInfo {
        pid,
        ppid: parent.as_ref().map_or(1, |p| p.pid),
        name: exe.rsplit('/').next().unwrap().chars().take(15).collect(),
        exe: ExeInfo {
            path: exe.into(),
            ..Default::default()
        },
        args: args.iter().map(|s| s.to_string()).collect(),
        cwd: "/app".into(),
        env: vec!["LD_LIBRARY_PATH=/usr/lib".into()],
        parent,
        ..Default::default()
    })
}

fn stream() -> Vec<Event> {
    let cid = ContainerId::parse(&"ab".repeat(32)).unwrap();
    let mut c = ContainerInfo::bare(cid);
    c.name = Some("web".into());
    c.image = Some(ImageRef {
        repository: "docker.io/library/nginx".into(),
        tag: Some("1.27".into()),
        ..Default::default()
    });
    c.pod = Some(PodInfo {
        uid: "u".into(),
        name: "web-1".into(),
        namespace: "shop".into(),
        labels: BTreeMap::from([("app".into(), "web".into())]),
    });
    let c = Arc::new(c);
    let runc = process("/usr/bin/runc", &["runc"], None, 100);
    let nginx = process(
        "/usr/sbin/nginx",
        &["nginx", "-g", "daemon off;"],
        Some(runc.clone()),
        101,
    );
    let app = process(
        "/app/server",
        &["/app/server", "--port", "8080"],
        Some(runc.clone()),
        102,
    );
    let sh = process(
        "/bin/sh",
        &["sh", "-c", "/app/healthcheck"],
        Some(runc.clone()),
        103,
    );
    let curl = process(
        "/usr/bin/curl",
        &["curl", "-fsS", "http://127.0.0.1:8080/healthz"],
        Some(sh.clone()),
        104,
    );
    let cat = process(
        "/usr/bin/cat",
        &["cat", "/etc/shadow"],
        Some(sh.clone()),
        105,
    );
    let mut evs = Vec::new();
    let mut ev = |p: &Arc<ProcessInfo>, kind: EventKind, in_c: bool| {
        evs.push(Event {
            ts: 0,
            pid: p.pid,
            tid: p.pid,
            kind,
            process: Some(p.clone()),
            container: in_c.then(|| c.clone()),
        })
    };
    let open = |path: &str, flags: u32| EventKind::Open {
        path: path.into(),
        flags: OpenFlags(flags),
        mode: 0o644,
        result: 5,
    };
    let inet = |s: &str| SockAddr::Inet(s.parse().unwrap());
    for i in 0..100 {
        ev(&nginx, open("/usr/share/nginx/html/index.html", 0), true);
        ev(&nginx, open("/etc/nginx/mime.types", 0), true);
        ev(&app, open("/etc/app/config.yaml", 0), true);
        ev(
            &app,
            open(
                "/var/log/app/app.log",
                OpenFlags::O_WRONLY | OpenFlags::O_APPEND,
            ),
            true,
        );
        ev(&app, open("/etc/ld.so.cache", 0), false);
        ev(
            &nginx,
            EventKind::Accept {
                family: SocketFamily::Inet,
                protocol: NetProtocol::Tcp,
                local: inet("10.1.0.5:80"),
                remote: inet("10.1.0.9:51234"),
                result: 7,
            },
            true,
        );
        ev(
            &app,
            EventKind::Connect {
                family: SocketFamily::Inet,
                protocol: NetProtocol::Tcp,
                local: Some(inet("10.1.0.5:40000")),
                remote: inet("10.1.3.4:5432"),
                result: 0,
            },
            true,
        );
        ev(&sh, EventKind::Exec, true);
        ev(&curl, EventKind::Exec, true);
        ev(
            &curl,
            EventKind::Connect {
                family: SocketFamily::Inet,
                protocol: NetProtocol::Tcp,
                local: Some(inet("127.0.0.1:40001")),
                remote: inet("127.0.0.1:8080"),
                result: 0,
            },
            true,
        );
        ev(&sh, EventKind::Fork { child_pid: 104 }, true);
        ev(
            &curl,
            EventKind::Exit {
                code: 0,
                signal: None,
            },
            true,
        );
        ev(
            &app,
            EventKind::Dns(DnsMessage {
                id: 1,
                response: true,
                questions: vec!["db.shop.svc.cluster.local".into()],
                answers: vec![],
                rcode: 0,
                server: inet("10.96.0.10:53"),
            }),
            true,
        );
        ev(
            &app,
            EventKind::Mmap {
                path: "/usr/lib/libssl.so.3".into(),
                file: Default::default(),
                prot: 5,
                flags: 2,
            },
            true,
        );
        if i % 20 == 0 {
            // An attack now and then: alerts are part of the cost.
            ev(&cat, EventKind::Exec, true);
            ev(&cat, open("/etc/shadow", 0), true);
        }
    }
    evs
}

/// CPU time of this process in seconds (user + system, from /proc/self/stat), so that the
/// figure is per core even when other processes share the machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(") ").next().unwrap_or_default();
    let f: Vec<f64> = after.split(' ').map(|x| x.parse().unwrap_or(0.0)).collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; clock ticks are
    // 100 per second on Linux x86_64.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn main() {
    let secs: f64 = std::env::args().nth(1).map_or(3.0, |s| s.parse().unwrap());
    let rules = RuleSet::defaults().expect("default rules load");
    println!("rules: {}", rules.rules().len());
    let mut engine = Engine::new(Arc::new(rules))
        .hostname("bench")
        .rate_limit(RateLimit::default());
    let mut evs = stream();
    println!("stream: {} distinct events", evs.len());
    let mut alerts = Vec::with_capacity(1024);
    let mut n: u64 = 0;
    let mut produced: u64 = 0;
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let mut ts = 1_764_000_000_000_000_000u64;
    while start.elapsed().as_secs_f64() < secs {
        for e in &mut evs {
            ts += 1_000;
            e.ts = ts;
            engine.evaluate(e, &mut alerts);
        }
        n += evs.len() as u64;
        produced += alerts.len() as u64;
        alerts.clear();
    }
    let el = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    println!(
        "evaluated {n} events in {el:.2} s wall, {cpu:.2} s CPU: {:.0} events/s wall, {:.0} events per CPU-second; {produced} alerts after rate limiting",
        n as f64 / el,
        n as f64 / cpu
    );
}
