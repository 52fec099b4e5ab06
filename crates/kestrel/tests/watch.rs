//! `kestrel watch` and `kestrel replay` as a user runs them (root): record a live session, stop
//! it with SIGINT (which must detach every program and flush the recording), replay it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");

#[test]
fn watch_records_stops_on_sigint_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session.krec");
    let mut watch = Command::new(KESTREL)
        .args(["watch", "--no-rules", "--record"])
        .arg(&rec)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = watch.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the sensor did not attach: {log:#?}"));
        let attached = line.contains("eBPF sensor attached");
        log.push(line);
        if attached {
            break;
        }
    }
    let status = Command::new("/bin/echo")
        .arg("kestrel-cli-marker")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_secs(1));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(watch.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = watch.wait().unwrap();
    assert!(status.success(), "{status:?}");
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        log.push(line);
    }
    assert!(
        log.iter().any(|l| l.contains("eBPF programs detached")),
        "{log:#?}"
    );

    let out = Command::new(KESTREL)
        .args(["replay", "--events", "--format", "json", "--no-rules"])
        .arg(&rec)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let exec = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "exec" && e["process"]["args"][1] == "kestrel-cli-marker")
        .expect("the marker exec is in the replay");
    assert_eq!(exec["process"]["exe"]["path"], "/usr/bin/echo");
    assert_eq!(exec["process"]["ppid"], std::process::id());

    // Rules in a replay see the recording machine's clocks: `proc.duration` (event time minus
    // process start, two clocks apart) has a value, here the marker's age at its exec. A copy
    // whose header says the recording machine booted an hour earlier (bytes 16..24: Unix time
    // minus boot time) gives the same age: both clocks come from the header, none from here.
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "- rule: Young marker\n  desc: d\n  condition: evt.type=execve and proc.args contains \
         kestrel-cli-marker and proc.duration < 60000000000\n  output: age %proc.duration\n  \
         priority: NOTICE\n",
    )
    .unwrap();
    let mut bytes = std::fs::read(&rec).unwrap();
    let offset = i64::from_le_bytes(bytes[16..24].try_into().unwrap());
    bytes[16..24].copy_from_slice(&(offset - 3_600_000_000_000).to_le_bytes());
    let shifted = dir.path().join("shifted.krec");
    std::fs::write(&shifted, bytes).unwrap();
    for recording in [&rec, &shifted] {
        let out = Command::new(KESTREL)
            .args(["replay", "--format", "json", "--rules"])
            .arg(&rules)
            .arg(recording)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let alert = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|a| a["rule"] == "Young marker")
            .unwrap_or_else(|| {
                panic!(
                    "{}: no alert on the marker's age:\n{text}",
                    recording.display()
                )
            });
        let age = alert["output_fields"]["proc.duration"].as_u64();
        assert!(age.is_some_and(|ns| ns < 60_000_000_000), "{alert:#}");
    }

    let out = Command::new(KESTREL)
        .args(["replay"])
        .arg(dir.path().join("missing.krec"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("missing.krec"),
        "the error names the file"
    );
}

/// `kestrel watch --check` on this kernel: every probe attached, the DNS packet programs on the
/// cgroup v2 root, and the syscall DNS hooks they replace listed on standby, not as failures.
#[test]
fn watch_check_reports_probes_and_standby_fallbacks() {
    let out = Command::new(KESTREL)
        .args(["watch", "--check"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    let probes = text
        .lines()
        .find(|l| l.starts_with("probes:"))
        .unwrap_or_else(|| panic!("no probes line: {text}"));
    assert!(probes.contains(", 6 on standby"), "{probes}");
    for want in [
        "  ok    tp_btf/sched_process_exec",
        "  ok    tracepoint/syscalls/sys_exit_openat",
        "  ok    cgroup_skb/egress ",
        "  ok    cgroup_skb/ingress ",
        "  stby  tracepoint/syscalls/sys_enter_sendto ",
        "  stby  tracepoint/syscalls/sys_exit_recvfrom ",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    // The only probes allowed to fail are those of syscalls this kernel does not have (here the
    // module syscalls: the CI kernel is built without module support).
    for fail in text.lines().filter(|l| l.contains("FAIL")) {
        assert!(fail.contains("No such file or directory"), "{fail}");
    }
}

/// `[sensor] dns = false` (here through its environment override): no DNS program is attached,
/// neither the packet programs nor their syscall fallback, and the report says why without
/// counting them as failures.
#[test]
fn watch_check_with_dns_off() {
    let out = Command::new(KESTREL)
        .args(["watch", "--check"])
        .env("KESTREL_SENSOR__DNS", "false")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(text.contains(", 0 on standby"), "{text}");
    for want in [
        "  off   cgroup_skb dns_egress: disabled by configuration ([sensor] dns = false)",
        "  off   cgroup_skb dns_ingress: ",
        "  off   tracepoint/syscalls/sys_enter_sendto enter_sendto: ",
        "  off   tracepoint/syscalls/sys_exit_recvfrom exit_recvfrom: ",
        "  ok    tracepoint/syscalls/sys_exit_openat",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
    assert!(!text.contains("  ok    cgroup_skb"), "{text}");
}
