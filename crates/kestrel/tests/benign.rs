//! A normal workload raises nothing at WARNING or above: the test environment's Pod
//! (`tests/env/pod.yaml`: a Python web app and a Node service, two users, kubelet-shaped
//! cgroups) started, serving HTTP for about 15 seconds and probed the way a kubelet does, under
//! the real `kestrel watch` with the built-in rules.
//!
//! Alerts are attributed by container id, so whatever else the machine does meanwhile (other
//! tests run in parallel) cannot make this test fail, and a control behaviour at the end proves
//! that an alert from the Pod would have been seen.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use kestrel_testenv::TestPod;
use serde_json::Value;

/// Debian's interpreter (the CI image's `python3` on PATH is a pyenv shim).
const PYTHON: &str = "/usr/bin/python3";

/// How long the Pod serves traffic.
const WORKLOAD_SECS: u32 = 15;

/// A client in the Pod's network namespace: GETs the Python app (whose `/items` calls the Node
/// service across the Pod's loopback) and the Node service for `argv[1]` seconds, then prints
/// `<ok responses> <unexpected responses>`.
const CLIENT: &str = r#"
import sys, time, urllib.request, urllib.error
wanted = [
    ("http://127.0.0.1:8080/healthz", 200),
    ("http://127.0.0.1:8080/items", 200),
    ("http://127.0.0.1:8080/thumbnail.png", 200),
    ("http://127.0.0.1:8080/missing", 404),
    ("http://127.0.0.1:3000/healthz", 200),
    ("http://127.0.0.1:3000/items", 200),
]
ok = bad = 0
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    for url, status in wanted:
        try:
            got = urllib.request.urlopen(url, timeout=10).status
        except urllib.error.HTTPError as e:
            got = e.code
        if got == status:
            ok += 1
        else:
            bad += 1
            print(f"{url}: {got}", file=sys.stderr)
    time.sleep(0.05)
print(ok, bad)
"#;

/// Priorities a normal workload must never raise.
const WARNING_OR_ABOVE: &[&str] = &["Emergency", "Alert", "Critical", "Error", "Warning"];

#[test]
fn pod_serving_traffic_raises_nothing_at_warning_or_above() {
    let mut w = Watch::start(&[]);
    // The Pod starts under the sensor: container start-up (runc, conmon, the apps loading)
    // is part of the normal workload.
    let pod = TestPod::start(&image()).unwrap();
    let python = pod.container("python").unwrap();
    let node = pod.container("node").unwrap();
    let infra = kestrel_testenv::podman()
        .args(["pod", "inspect", "--format", "{{.InfraContainerID}}"])
        .arg(&pod.info().podman_pod_id)
        .output()
        .unwrap();
    assert!(infra.status.success(), "{infra:?}");
    let mut ids: Vec<String> = pod.containers().iter().map(|c| c.id.to_string()).collect();
    ids.push(String::from_utf8(infra.stdout).unwrap().trim().to_owned());

    let client = Command::new("nsenter")
        .arg("--target")
        .arg(python.pid.to_string())
        .args(["--net", PYTHON, "-c", CLIENT, &WORKLOAD_SECS.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Meanwhile, exec probes as a kubelet runs them, and a look at the apps' state.
    for _ in 0..WORKLOAD_SECS / 3 {
        pod.exec_ok(
            "python",
            &[
                "/opt/app/venv/bin/python",
                "-c",
                "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz')",
            ],
        )
        .unwrap();
        pod.exec_ok(
            "node",
            &[
                "/usr/bin/node",
                "-e",
                "require('http').get('http://127.0.0.1:3000/healthz', r => process.exit(r.statusCode === 200 ? 0 : 1))",
            ],
        )
        .unwrap();
        // The shell form of an exec probe, common in manifests.
        pod.exec_ok(
            "python",
            &[
                "sh",
                "-c",
                &format!("test -s {}", kestrel_testenv::pod::READY_FILE),
            ],
        )
        .unwrap();
        pod.exec_ok("node", &["cat", kestrel_testenv::pod::READY_FILE])
            .unwrap();
        std::thread::sleep(Duration::from_secs(3));
    }
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "client: {out:?}");
    let counts = String::from_utf8(out.stdout).unwrap();
    let (ok, bad) = counts.trim().split_once(' ').unwrap();
    let (ok, bad): (u32, u32) = (ok.parse().unwrap(), bad.parse().unwrap());
    assert!(
        ok >= 60 && bad == 0,
        "the Pod did not serve: {ok} expected and {bad} unexpected responses; {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Every event of the Pod's containers up to here has gone through the rules.
    w.barrier(|word| {
        pod.exec_ok("python", &["/bin/true", word]).unwrap();
    });
    w.barrier(|word| {
        pod.exec_ok("node", &["/bin/true", word]).unwrap();
    });
    let from_pod = |a: &Value| {
        a["output_fields"]["container.id"]
            .as_str()
            .is_some_and(|short| short.len() == 12 && ids.iter().any(|id| id.starts_with(short)))
    };
    w.assert_no_alert(|a| {
        from_pod(a)
            && WARNING_OR_ABOVE
                .iter()
                .any(|p| a["priority"].as_str() == Some(p))
    });

    let quieter: Vec<String> = w
        .seen()
        .iter()
        .filter(|a| from_pod(a))
        .map(|a| {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
            format!("{} ({})", text(&a["rule"]), text(&a["priority"]))
        })
        .collect();
    eprintln!("alerts from the Pod below WARNING: {quieter:?}");

    // The control: a WARNING behaviour in the same Pod is seen and attributed to it, so the
    // silence above is the rules' and not the filter's.
    let history = format!("/tmp/{}.bash_history", unique("control"));
    pod.exec_ok(
        "node",
        &["sh", "-c", &format!("echo ls > {history} && rm {history}")],
    )
    .unwrap();
    let alert = w.wait_alert(
        "Delete or truncate shell history",
        |a| from_pod(a) && a["output_fields"]["fd.name"] == history.as_str(),
        ALERT_TIMEOUT,
    );
    assert!(
        node.id
            .as_str()
            .starts_with(alert["output_fields"]["container.id"].as_str().unwrap()),
        "{alert:#}"
    );
}

/// What a node's container engine does all day: unpacking an image (pull, import) and deleting
/// it again (garbage collection). The image holds files the rules watch — a cron job, a sudoers
/// drop-in, ld.so.preload, a .bashrc, authorized_keys, a shell history, a setuid binary in
/// /usr/bin, a link to /etc/shadow — and podman writes them on the host, chrooted into the layer
/// directory so that the paths look like the host's own: none of it is an attack on the host.
#[test]
fn image_unpacked_and_removed_by_the_engine_raises_nothing_at_warning_or_above() {
    use std::os::unix::fs::PermissionsExt as _;

    let mut w = Watch::start(&[]);
    let root = w.dir().join("rootfs");
    let files = [
        ("etc/cron.d/backup", "0 3 * * * root /usr/bin/backup\n"),
        ("etc/sudoers.d/ops", "ops ALL=(ALL) ALL\n"),
        ("etc/ld.so.preload", ""),
        ("root/.bashrc", "alias ll='ls -l'\n"),
        ("root/.bash_history", "ls\n"),
        (
            "root/.ssh/authorized_keys",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 ops\n",
        ),
        ("usr/bin/backup", "#!/bin/sh\n"),
    ];
    for (path, text) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    std::fs::set_permissions(
        root.join("usr/bin/backup"),
        std::fs::Permissions::from_mode(0o4755),
    )
    .unwrap();
    std::os::unix::fs::symlink("/etc/shadow", root.join("etc/shadow.link")).unwrap();
    let tar = w.dir().join("rootfs.tar");
    run(Command::new("tar")
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg("."));

    let name = format!("localhost/{}:1", unique("image"));
    run(kestrel_testenv::podman().arg("import").arg(&tar).arg(&name));
    run(kestrel_testenv::podman().args(["rmi", &name]));
    w.barrier_host();

    // Only podman's own processes (the CLI and its re-executed unpacker): this test writes
    // the same files on the host itself to build the image, and other tests run beside it.
    w.assert_no_alert(|a| {
        let f = &a["output_fields"];
        f["container.id"] == "host"
            && f["proc.exepath"] == "/usr/bin/podman"
            && WARNING_OR_ABOVE
                .iter()
                .any(|p| a["priority"].as_str() == Some(p))
    });
}
