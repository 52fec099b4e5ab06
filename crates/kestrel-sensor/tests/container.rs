//! The sensor and the test environment's Pod (podman, kubelet-shaped cgroups and CRI labels):
//! real process, file, network, DNS and privilege actions inside the Pod's `python` container,
//! each asserted with the container and pod identity its event carries: container id and name,
//! pod name, namespace and uid.
//!
//! Metadata comes from where `kestrel watch` gets it, configured the same way
//! ([`ContainerResolver::start`] from a `[container]` section): podman's libpod API (the
//! container's name and the CRI labels that name its pod) and the Kubernetes pod watch, here
//! against a stand-in API server on 127.0.0.1 replaying recorded responses into which the test
//! Pod's identity is written (there is no API server on this machine). Each source is also
//! checked alone, so neither can hide the other's failure.

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kestrel_config::ContainerConfig;
use kestrel_container::ContainerResolver;
use kestrel_event::{ContainerRuntime, Event, EventKind, NetProtocol, SockAddr};
use kestrel_sensor::{Fallback, Sensor, SensorConfig};
use kestrel_testenv::{PodContainer, TestImage, TestPod};
use support::{ApiReplay, NODE, PodmanService};

/// How long an event of a container being resolved may be held. Generous: the first libpod
/// request of a fresh `podman system service` can take a while on a busy machine, and this test
/// asserts that events wait for the metadata rather than how fast it comes.
const HOLD_MS: u64 = 5_000;

fn container_config(
    podman: Option<&PodmanService>,
    kubeconfig: Option<PathBuf>,
) -> ContainerConfig {
    ContainerConfig {
        podman_socket: podman.map(|p| p.socket().to_path_buf()).unwrap_or_default(),
        docker_socket: PathBuf::new(),
        cri_sockets: Vec::new(),
        node_name: kubeconfig.is_some().then(|| NODE.to_owned()),
        kubeconfig,
        hold_ms: HOLD_MS,
        // The recording had no kubelet: no container statuses will come.
        pod_status_wait_ms: 200,
        ..ContainerConfig::default()
    }
}

/// Waits until the resolver's pod watch holds the pod with `uid`.
async fn pod_cached(resolver: &ContainerResolver, uid: &str) {
    let pods = resolver.pods().expect("the pod watch runs").clone();
    let mut changes = pods.subscribe_changes();
    tokio::time::timeout(Duration::from_secs(20), async {
        while pods.pod(uid).is_none() {
            changes.changed().await.unwrap();
        }
    })
    .await
    .unwrap_or_else(|_| panic!("pod {uid} not in the pod cache: {:?}", pods.status()));
}

/// Asserts the identity every event of the `python` container must carry.
fn assert_identity(what: &str, e: &Event, pod: &TestPod, python: &PodContainer) {
    let c = e
        .container
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no container on {e:?}"));
    assert_eq!(c.id.as_str(), python.id.as_str(), "{what}: container id");
    assert_eq!(c.runtime, Some(ContainerRuntime::Podman), "{what}: runtime");
    assert_eq!(c.name.as_deref(), Some("python"), "{what}: container name");
    let p = c
        .pod
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no pod on {c:?}"));
    assert_eq!(
        (p.name.as_str(), p.namespace.as_str(), p.uid.as_str()),
        (pod.name(), pod.namespace(), pod.uid().as_str()),
        "{what}: pod name, namespace and uid"
    );
    assert_eq!(p.labels, pod.info().labels, "{what}: pod labels");
    let image = c.image.as_ref().expect("image from libpod");
    assert!(
        pod.info().image.starts_with(&image.repository),
        "{what}: image {image:?}"
    );
    if let Some(proc) = &e.process {
        assert_eq!(
            proc.container_id.as_ref().map(|c| c.as_str()),
            Some(python.id.as_str()),
            "{what}: the process's container"
        );
    }
}

/// What the container script does, in order; `{dir}` is a fresh directory, `{marker}` names the
/// forked child's argument. It runs as the container's user (1000, no capabilities), exits 3.
const SCRIPT: &str = r#"
import ctypes, os, socket, struct, sys
d, marker = sys.argv[1], sys.argv[2]
# process: fork, exec, exit
child = os.fork()
if child == 0:
    os.execv('/bin/true', ['/bin/true', marker])
os.waitpid(child, 0)
# file: open (create), rename, chmod, unlink
os.mkdir(d)
fd = os.open(d + '/a', os.O_WRONLY | os.O_CREAT, 0o600); os.close(fd)
os.rename(d + '/a', d + '/b')
os.chmod(d + '/b', 0o640)
os.unlink(d + '/b')
os.rmdir(d)
# network: bind, listen, connect, accept on the Pod's loopback
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(7)
port = s.getsockname()[1]
c = socket.socket(); c.connect(('127.0.0.1', port))
a, _ = s.accept()
# DNS: a query to the Pod's resolver and its answer
q = struct.pack('>HHHHHH', 0x6b70, 0x0100, 1, 0, 0, 0) + b'\x07kestrel\x03pod\x00\x00\x01\x00\x01'
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
u.sendto(q, ('127.0.0.53', 53)); u.recvfrom(512)
# privilege: setuid to itself (allowed), a new user namespace (allowed unprivileged)
os.setuid(os.getuid())
libc = ctypes.CDLL(None, use_errno=True)
assert libc.unshare(0x10000000) == 0, ctypes.get_errno()
print(port, c.getsockname()[1], flush=True)
sys.exit(3)
"#;

#[test]
fn every_event_family_in_a_pod_container_carries_container_and_pod() {
    let image = TestImage::get().expect("test image");
    let pod = TestPod::start(&image).expect("test pod");
    let python = pod.container("python").expect("python container").clone();
    let podman = PodmanService::start().expect("podman system service");
    let api = ApiReplay::start(vec![support::added_event_for(&pod)]);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = api.kubeconfig(dir.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let uid = pod.uid().as_str().to_owned();

    // Each source alone names the Pod.
    {
        let (libpod_only, _) = rt.block_on(ContainerResolver::start(&container_config(
            Some(&podman),
            None,
        )));
        let info = rt.block_on(async {
            libpod_only.resolve_cgroup(&python.cgroup).unwrap();
            let id = kestrel_event::ContainerId::parse(python.id.as_str()).unwrap();
            libpod_only
                .wait_resolved(&id, Duration::from_secs(20))
                .await
        });
        let info = info.unwrap();
        assert_eq!(info.name.as_deref(), Some("python"), "CRI label: {info:?}");
        let p = info.pod.as_ref().unwrap();
        assert_eq!(
            (p.name.as_str(), p.namespace.as_str(), p.uid.as_str()),
            (pod.name(), pod.namespace(), uid.as_str()),
            "CRI labels through libpod"
        );

        let (api_only, _) = rt.block_on(ContainerResolver::start(&container_config(
            None,
            Some(kubeconfig.clone()),
        )));
        rt.block_on(pod_cached(&api_only, &uid));
        let info = api_only.resolve_cgroup(&python.cgroup).unwrap();
        let p = info.pod.as_ref().unwrap();
        assert_eq!(
            (p.name.as_str(), p.namespace.as_str(), p.uid.as_str()),
            (pod.name(), pod.namespace(), uid.as_str()),
            "the pod watch, by the uid in the cgroup path"
        );
        assert_eq!(p.labels, pod.info().labels);
        let requests = api.requests.lock().unwrap().clone();
        assert!(
            requests[0].contains("fieldSelector=spec.nodeName%3Dnode-1"),
            "{requests:?}"
        );
    }

    // Both together, as `kestrel watch` runs them, behind the sensor.
    let (resolver, hold) = rt.block_on(ContainerResolver::start(&container_config(
        Some(&podman),
        Some(kubeconfig),
    )));
    rt.block_on(pod_cached(&resolver, &uid));
    let marker = format!("kestrel-pod-{}", std::process::id());
    let d = format!("/tmp/{marker}");
    let h = Sensor::start_with(
        SensorConfig {
            fallback: Fallback::Never,
            open_prefixes: vec![format!("{d}/")],
            hold_unresolved: hold,
            ..SensorConfig::default()
        },
        Some(Arc::new(resolver)),
    )
    .expect("sensor");

    let mut dns = support::dns_server_in_netns_of(python.pid);
    let out = pod
        .exec("python", &["python3", "-c", SCRIPT, &d, &marker])
        .expect("podman exec");
    assert_eq!(
        out.status.code(),
        Some(3),
        "the script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dns.wait().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut ports = text.split_whitespace().map(|s| s.parse::<u16>().unwrap());
    let (port, cport) = (ports.next().unwrap(), ports.next().unwrap());

    // Every event of the container until the script's process exits.
    let in_ctr = |e: &Event| {
        e.container
            .as_ref()
            .is_some_and(|c| c.id.as_str() == python.id.as_str())
    };
    let is_script = |e: &Event| {
        matches!(e.kind, EventKind::Exec)
            && e.process
                .as_ref()
                .is_some_and(|p| p.args.iter().any(|a| a == &d))
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut events = Vec::new();
    let mut script_pid = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "the script's exit not seen; {} container events: {:?}",
            events.len(),
            events
                .iter()
                .map(|e: &Event| e.kind.type_name())
                .collect::<Vec<_>>()
        );
        let Ok(e) = h.events().recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        if !in_ctr(&e) {
            continue;
        }
        if is_script(&e) {
            script_pid = Some(e.pid);
        }
        let done = Some(e.pid) == script_pid && matches!(e.kind, EventKind::Exit { .. });
        events.push(e);
        if done {
            break;
        }
    }
    let script_pid = script_pid.unwrap();
    let stats = h.stats();
    h.stop();
    let mine: Vec<&Event> = events.iter().filter(|e| e.pid == script_pid).collect();
    let find = |what: &str, pred: &dyn Fn(&Event) -> bool| -> Event {
        let e = mine
            .iter()
            .find(|e| pred(e))
            .copied()
            .unwrap_or_else(|| {
                let kinds: Vec<_> = mine.iter().map(|e| e.kind.type_name()).collect();
                panic!("no {what} event from the script; it had {kinds:?}")
            })
            .clone();
        assert_identity(what, &e, &pod, &python);
        e
    };

    // Process.
    let exec = find("exec", &|e| is_script(e));
    let p = exec.process.as_ref().unwrap();
    assert_eq!(p.args[..2], ["python3", "-c"]);
    assert_eq!(p.creds.uid, python.uid, "the container's user");
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap();
    assert!(
        !host_mnt.to_string_lossy().contains(&p.ns.mnt.to_string()),
        "the container's mount namespace"
    );
    let fork = find("fork", &|e| matches!(e.kind, EventKind::Fork { .. }));
    let EventKind::Fork { child_pid } = fork.kind else {
        unreachable!()
    };
    let child: Vec<&Event> = events.iter().filter(|e| e.pid == child_pid).collect();
    let child_exec = child
        .iter()
        .find(|e| matches!(e.kind, EventKind::Exec))
        .expect("exec of /bin/true by the forked child");
    assert_eq!(
        child_exec.process.as_ref().unwrap().args,
        ["/bin/true", marker.as_str()]
    );
    assert_identity("child exec", child_exec, &pod, &python);
    let child_exit = child
        .iter()
        .find(|e| matches!(e.kind, EventKind::Exit { .. }))
        .expect("exit of the forked child");
    assert_eq!(
        child_exit.kind,
        EventKind::Exit {
            code: 0,
            signal: None
        }
    );
    assert_identity("child exit", child_exit, &pod, &python);
    let exit = find("exit", &|e| matches!(e.kind, EventKind::Exit { .. }));
    assert_eq!(
        exit.kind,
        EventKind::Exit {
            code: 3,
            signal: None
        }
    );

    // File.
    let open = find(
        "open",
        &|e| matches!(&e.kind, EventKind::Open { path, .. } if *path == format!("{d}/a")),
    );
    assert!(matches!(open.kind, EventKind::Open { result, mode: 0o600, .. } if result >= 0));
    let rename = find("rename", &|e| matches!(e.kind, EventKind::Rename { .. }));
    assert_eq!(
        rename.kind,
        EventKind::Rename {
            old_path: format!("{d}/a"),
            new_path: format!("{d}/b"),
            result: 0
        }
    );
    let chmod = find("chmod", &|e| matches!(e.kind, EventKind::Chmod { .. }));
    assert!(
        matches!(&chmod.kind, EventKind::Chmod { path, mode: 0o640, result: 0 } if *path == format!("{d}/b")),
        "{:?}",
        chmod.kind
    );
    let unlink = find("unlink", &|e| {
        matches!(&e.kind, EventKind::Unlink { dir: false, .. })
    });
    assert!(
        matches!(&unlink.kind, EventKind::Unlink { path, result: 0, .. } if *path == format!("{d}/b")),
        "{:?}",
        unlink.kind
    );

    // Network.
    let listen_addr = SockAddr::Inet(format!("127.0.0.1:{port}").parse().unwrap());
    let client_addr = SockAddr::Inet(format!("127.0.0.1:{cport}").parse().unwrap());
    find("bind", &|e| {
        matches!(&e.kind, EventKind::Bind { protocol: NetProtocol::Tcp, local, result: 0, .. }
            if *local == SockAddr::Inet("127.0.0.1:0".parse().unwrap()))
    });
    find(
        "listen",
        &|e| matches!(&e.kind, EventKind::Listen { local, backlog: 7, result: 0, .. } if *local == listen_addr),
    );
    find("connect", &|e| {
        matches!(&e.kind, EventKind::Connect { remote, local: Some(l), result: 0, .. }
            if *remote == listen_addr && *l == client_addr)
    });
    find("accept", &|e| {
        matches!(&e.kind, EventKind::Accept { local, remote, result, .. }
            if *local == listen_addr && *remote == client_addr && *result >= 0)
    });

    // DNS.
    let resolver_addr = SockAddr::Inet("127.0.0.53:53".parse().unwrap());
    let query = find(
        "dns query",
        &|e| matches!(&e.kind, EventKind::Dns(m) if !m.response && m.id == 0x6b70),
    );
    let EventKind::Dns(m) = query.kind else {
        unreachable!()
    };
    assert_eq!(m.questions, ["kestrel.pod"]);
    assert_eq!(m.server, resolver_addr);
    let answer = find(
        "dns answer",
        &|e| matches!(&e.kind, EventKind::Dns(m) if m.response && m.id == 0x6b70),
    );
    let EventKind::Dns(m) = answer.kind else {
        unreachable!()
    };
    assert_eq!(
        m.answers
            .iter()
            .map(|a| a.data.as_str())
            .collect::<Vec<_>>(),
        ["10.1.2.3"]
    );

    // Privilege.
    let setuid = find(
        "setuid",
        &|e| matches!(&e.kind, EventKind::SetId { syscall, .. } if syscall == "setuid"),
    );
    assert_eq!(
        setuid.kind,
        EventKind::SetId {
            syscall: "setuid".into(),
            ids: vec![i64::from(python.uid)],
            result: 0
        }
    );
    find("unshare", &|e| {
        matches!(
            e.kind,
            EventKind::Unshare {
                flags: 0x10000000,
                result: 0
            }
        )
    });

    // Every event of the container carried the same identity, none was emitted bare.
    for e in &events {
        assert_identity(e.kind.type_name(), e, &pod, &python);
    }
    assert!(stats.events_out > 0, "{stats:?}");
}
