//! The sensor inside a container of the test environment's Pod (podman, kubelet-shaped
//! cgroups): real exec, open and connect in the `python` container, asserted with the container
//! id and the pod uid the events carry.

use std::time::{Duration, Instant};

use kestrel_event::{ContainerRuntime, Event, EventKind, SockAddr};
use kestrel_sensor::{Fallback, Sensor, SensorConfig, SensorHandle};
use kestrel_testenv::{TestImage, TestPod};

fn collect_until(h: &SensorHandle, mut done: impl FnMut(&Event) -> bool) -> Vec<Event> {
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
    panic!("timed out; {} events seen", v.len());
}

#[test]
fn events_in_a_pod_container_carry_container_and_pod() {
    let image = TestImage::get().expect("test image");
    let pod = TestPod::start(&image).expect("test pod");
    let python = pod.container("python").expect("python container").clone();
    let h = Sensor::start(SensorConfig {
        fallback: Fallback::Never,
        ..SensorConfig::default()
    })
    .expect("sensor");

    let script = "import socket
open('/etc/passwd').read()
try: socket.socket().connect(('127.0.0.1', 9))
except OSError: pass
";
    pod.exec("python", &["python3", "-c", script])
        .expect("podman exec");
    let want = python.id.as_str().to_owned();
    let in_ctr = |e: &Event| e.container.as_ref().is_some_and(|c| c.id.as_str() == want);
    let events = collect_until(&h, |e| {
        in_ctr(e) && matches!(&e.kind, EventKind::Connect { .. })
    });
    let mine: Vec<&Event> = events.iter().filter(|e| in_ctr(e)).collect();

    let exec = mine
        .iter()
        .find(|e| {
            matches!(e.kind, EventKind::Exec)
                && e.process
                    .as_ref()
                    .is_some_and(|p| p.args.get(1).map(String::as_str) == Some("-c"))
        })
        .expect("exec of python3 in the container");
    let p = exec.process.as_ref().unwrap();
    assert_eq!(p.container_id.as_ref().unwrap().as_str(), want);
    // The container's own mount namespace, not the host's.
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert!(!host_mnt.to_string_lossy().contains(&p.ns.mnt.to_string()));
    let c = exec.container.as_ref().unwrap();
    assert_eq!(c.runtime, Some(ContainerRuntime::Podman));
    assert_eq!(
        c.pod.as_ref().map(|p| p.uid.as_str()),
        Some(pod.uid().as_str()),
        "pod uid from the kubelet-shaped cgroup path"
    );

    let open = mine
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Open { path, .. } if path == "/etc/passwd"))
        .expect("open of /etc/passwd in the container");
    assert!(matches!(open.kind, EventKind::Open { result, .. } if result >= 0));

    let connect = mine
        .iter()
        .find(|e| matches!(e.kind, EventKind::Connect { .. }))
        .unwrap();
    let EventKind::Connect { remote, result, .. } = &connect.kind else {
        unreachable!()
    };
    assert_eq!(*remote, SockAddr::Inet("127.0.0.1:9".parse().unwrap()));
    assert_eq!(
        *result, -111,
        "nothing listens on port 9 in the pod's network namespace"
    );
    h.stop();
}
