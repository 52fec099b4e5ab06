//! The rule language on rule files written for these tests: loading, errors with positions,
//! Falco's append/override/exception semantics, operators and fields.

mod common;

use common::*;
use expect_test::{Expect, expect};
use kestrel_event::{Event, EventKind};
use kestrel_rules::{Engine, RuleSet, RuleSource};
use std::sync::Arc;

fn load(files: &[&str]) -> Result<RuleSet, String> {
    let sources: Vec<RuleSource> = files
        .iter()
        .enumerate()
        .map(|(i, t)| RuleSource {
            name: format!("f{i}.yaml"),
            text: t.to_string(),
        })
        .collect();
    RuleSet::from_sources(&sources).map_err(|e| e.to_string())
}

/// Loads `files` and prints either the errors, or each rule with its event types and which of
/// `events` it matches.
fn check(files: &[&str], events: &[(&str, Event)], expect: Expect) {
    let out = match load(files) {
        Err(e) => format!("error:\n{e}\n"),
        Ok(rs) => {
            let mut s = String::new();
            for w in rs.warnings() {
                s.push_str(&format!("warning: {w}\n"));
            }
            let mut engine = Engine::new(rs.clone().into());
            let mut matched: Vec<Vec<&str>> = vec![Vec::new(); rs.rules().len()];
            for (name, ev) in events {
                let hits: Vec<String> =
                    engine.matching(ev).iter().map(|r| r.name.clone()).collect();
                for (i, r) in rs.rules().iter().enumerate() {
                    if hits.contains(&r.name) {
                        matched[i].push(name);
                    }
                }
            }
            for (i, r) in rs.rules().iter().enumerate() {
                s.push_str(&format!(
                    "{}{} {:?} -> {:?}\n",
                    r.name,
                    if r.enabled { "" } else { " (disabled)" },
                    r.event_types(),
                    matched[i]
                ));
            }
            s
        }
    };
    expect.assert_eq(&out);
}

const BASE: &str = r#"
- list: shells
  items: [bash, sh]
- list: all_shells
  items: [shells, zsh]
- macro: spawned
  condition: evt.type in (execve, execveat)
- rule: Shell
  desc: a shell
  condition: spawned and proc.name in (all_shells)
  output: "shell %proc.name"
  priority: WARNING
  tags: [maturity_stable]
"#;

fn evs() -> Vec<(&'static str, Event)> {
    vec![
        ("bash", host(&shell(), exec())),
        ("zsh", host(&proc_("/bin/zsh", &["zsh"]), exec())),
        ("fish", host(&proc_("/bin/fish", &["fish"]), exec())),
        ("bash-in-ct", cont(&shell(), exec())),
        ("open-shadow", host(&shell(), open("/etc/shadow", RD))),
    ]
}

#[test]
fn lists_reference_lists() {
    check(
        &[BASE],
        &evs(),
        expect![[r#"
            Shell ["execve"] -> ["bash", "zsh", "bash-in-ct"]
        "#]],
    );
}

#[test]
fn append_list_macro_and_rule() {
    check(
        &[
            BASE,
            r#"
- list: shells
  items: [fish]
  append: true
- macro: spawned
  condition: and container.id != host
  append: true
- rule: Shell
  condition: and proc.name != zsh
  append: true
"#,
        ],
        &evs(),
        expect![[r#"
            Shell ["execve"] -> ["bash-in-ct"]
        "#]],
    );
}

#[test]
fn override_replace_and_append() {
    check(
        &[
            BASE,
            r#"
- rule: Shell
  condition: evt.type=openat and fd.name=/etc/shadow
  priority: ERROR
  override:
    condition: replace
    priority: replace
- list: shells
  items: [fish]
  override:
    items: append
"#,
        ],
        &evs(),
        expect![[r#"
            Shell ["open"] -> ["open-shadow"]
        "#]],
    );
}

#[test]
fn enabled_false_and_reenable() {
    let off = "- rule: Shell\n  enabled: false\n";
    check(
        &[BASE, off],
        &evs(),
        expect![[r#"
            Shell (disabled) ["execve"] -> []
        "#]],
    );
    check(
        &[BASE, off, "- rule: Shell\n  enabled: true\n"],
        &evs(),
        expect![[r#"
            Shell ["execve"] -> ["bash", "zsh", "bash-in-ct"]
        "#]],
    );
}

#[test]
fn exceptions_tuples_and_in() {
    check(
        &[
            BASE,
            r#"
- rule: Shell
  exceptions:
    - name: host_bash
      fields: [proc.name, container.id]
      comps: [=, =]
      values:
        - [bash, host]
    - name: names
      fields: proc.name
      values: [zsh]
  override:
    exceptions: append
"#,
        ],
        &evs(),
        expect![[r#"
            Shell ["execve"] -> ["bash-in-ct"]
        "#]],
    );
}

#[test]
fn exception_values_appended_by_name() {
    check(
        &[
            r#"
- rule: Shell
  desc: d
  condition: evt.type=execve
  output: x
  priority: INFO
  exceptions:
    - name: names
      fields: [proc.name]
      comps: [in]
      values: [[[bash, fish]]]
"#,
            r#"
- rule: Shell
  exceptions:
    - name: names
      values: [[[zsh]]]
  append: true
"#,
        ],
        &evs(),
        expect![[r#"
            error:
            f1.yaml:2:9: rule "Shell": exception "names": a value has 1 items but there are 0 fields
        "#]],
    );
}

#[test]
fn operators() {
    let rule = |cond: &str| {
        format!("- rule: R\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n")
    };
    let cases = [
        r#"evt.type=openat and fd.name startswith /etc/ and fd.name endswith dow"#,
        r#"evt.type=openat and fd.name glob "/etc/sh*""#,
        r#"evt.type=openat and fd.name pmatch (/etc, /usr)"#,
        r#"evt.type=openat and fd.directory=/etc and fd.filename=shadow"#,
        r#"evt.type=openat and fd.name icontains SHAD"#,
        r#"evt.type=openat and fd.name regex "^/etc/s[a-z]+$""#,
        r#"evt.type=openat and fd.name bcontains 736861646f77"#,
        r#"evt.type=openat and evt.is_open_read=true and fd.num >= 0 and fd.num < 4"#,
        r#"evt.type=openat and proc.pid in (1, 4242)"#,
        r#"evt.type=openat and tolower(proc.name) = BASH"#,
        r#"evt.type=openat and proc.name intersects (sh, bash)"#,
        r#"evt.type=openat and not proc.env[HOME] exists"#,
        r#"evt.type=openat and evt.dir=< and evt.res=SUCCESS"#,
        r#"evt.type=openat and fd.name = val(fd.name)"#,
    ];
    let mut out = String::new();
    for c in cases {
        let rs = RuleSet::from_sources(&[RuleSource {
            name: "r.yaml".into(),
            text: rule(c),
        }])
        .unwrap_or_else(|e| panic!("{c}: {e}"));
        let mut engine = Engine::new(rs.into());
        let ev = host(&shell(), open("/etc/shadow", RD));
        out.push_str(&format!("{}: {c}\n", engine.matching(&ev).len()));
    }
    expect![[r#"
        1: evt.type=openat and fd.name startswith /etc/ and fd.name endswith dow
        1: evt.type=openat and fd.name glob "/etc/sh*"
        1: evt.type=openat and fd.name pmatch (/etc, /usr)
        1: evt.type=openat and fd.directory=/etc and fd.filename=shadow
        1: evt.type=openat and fd.name icontains SHAD
        1: evt.type=openat and fd.name regex "^/etc/s[a-z]+$"
        1: evt.type=openat and fd.name bcontains 736861646f77
        1: evt.type=openat and evt.is_open_read=true and fd.num >= 0 and fd.num < 4
        1: evt.type=openat and proc.pid in (1, 4242)
        0: evt.type=openat and tolower(proc.name) = BASH
        1: evt.type=openat and proc.name intersects (sh, bash)
        1: evt.type=openat and not proc.env[HOME] exists
        1: evt.type=openat and evt.dir=< and evt.res=SUCCESS
        1: evt.type=openat and fd.name = val(fd.name)
    "#]]
    .assert_eq(&out);
}

#[test]
fn missing_field_is_false_even_for_not_equal() {
    // fd.name does not exist on an exec: `!=` is false too, as in Falco.
    check(
        &[
            "- rule: R\n  desc: d\n  condition: evt.type=execve and fd.name != /x\n  output: o\n  priority: INFO\n",
        ],
        &evs(),
        expect![[r#"
            R ["execve"] -> []
        "#]],
    );
}

#[test]
fn ancestors_and_network() {
    let web = proc_("/usr/sbin/nginx", &["nginx"]);
    let child = proc_("/bin/sh", &["sh"]).parent(proc_("/bin/bash", &["bash"]).parent(web));
    let conn = EventKind::Connect {
        family: kestrel_event::SocketFamily::Inet,
        protocol: kestrel_event::NetProtocol::Tcp,
        local: Some(kestrel_event::SockAddr::Inet(
            "10.0.0.2:5000".parse().unwrap(),
        )),
        remote: kestrel_event::SockAddr::Inet("192.168.1.10:443".parse().unwrap()),
        result: 0,
    };
    check(
        &[r#"
- rule: Grandparent nginx
  desc: d
  condition: evt.type=execve and proc.aname[2]=nginx and proc.aname in (bash) and proc.pname=bash
  output: o
  priority: INFO
- rule: Private server
  desc: d
  condition: evt.type=connect and fd.snet in (192.168.0.0/16) and fd.sport=443 and fd.cip=10.0.0.2 and fd.name="10.0.0.2:5000->192.168.1.10:443" and fd.l4proto=tcp
  output: o
  priority: INFO
"#],
        &[("sh", host(&child, exec())), ("conn", host(&shell(), conn))],
        expect![[r#"
            Grandparent nginx ["execve"] -> ["sh"]
            Private server ["connect"] -> ["conn"]
        "#]],
    );
}

#[test]
fn errors_name_file_line_column_and_object() {
    check(
        &[
            "- rule: Bad field\n  desc: d\n  condition: evt.type=execve and proc.nope=1\n  output: o\n  priority: INFO\n",
        ],
        &[],
        expect![[r#"
            error:
            f0.yaml:3:34: rule "Bad field": unsupported field proc.nope (near "proc.nope=1")
        "#]],
    );
    check(
        &[
            "- rule: Bad op\n  desc: d\n  condition: evt.type=execve and proc.pid contains 1\n  output: o\n  priority: INFO\n",
        ],
        &[],
        expect![[r#"
            error:
            f0.yaml:3:43: rule "Bad op": operator contains does not apply to proc.pid, a number field (near "contains 1")
        "#]],
    );
    check(
        &[
            "- macro: m\n  condition: proc.name in (a, b\n- rule: R\n  desc: d\n  condition: m\n  output: o\n  priority: INFO\n",
        ],
        &[],
        expect![[r#"
            error:
            f0.yaml:2:32: macro "m": expected ',' or ')' in a list, found "" (near "")
            f0.yaml:5:14: rule "R": undefined macro "m" (near "m")
        "#]],
    );
    check(
        &[
            "- macro: m\n  condition: fd.bogus = 1\n- rule: R\n  desc: d\n  condition: >\n    evt.type=openat and\n    m\n  output: o\n  priority: INFO\n",
        ],
        &[],
        expect![[r#"
            error:
            f0.yaml:2:14: rule "R": in macro "m": unsupported field fd.bogus (near "fd.bogus = 1")
        "#]],
    );
    check(
        &[
            "- rule: R\n  desc: d\n  condition: evt.type=execve and undefined_macro\n  output: o %proc.bogus\n  priority: LOUD\n",
        ],
        &[],
        expect![[r#"
            error:
            f0.yaml:1:9: rule "R": unknown priority "LOUD" (expected emergency, alert, critical, error, warning, notice, informational/info or debug)
        "#]],
    );
    check(
        &[
            "- rule: R\n  desc: d\n  condition: evt.type=execve\n  output: o %proc.bogus\n  priority: INFO\n- rule: S\n  condition: x\n",
        ],
        &[],
        expect![[r#"
            error:
            f0.yaml:6:9: rule "S": missing output, desc, priority
            f0.yaml:4:11: rule "R": output: unsupported field %proc.bogus
        "#]],
    );
    check(
        &["- rule: R\n  condition: and x\n  append: true\n"],
        &[],
        expect![[r#"
            error:
            f0.yaml:1:9: rule "R": append/override of a rule that is not defined (define it in an earlier file)
        "#]],
    );
    check(
        &["- required_engine_version: 99.0.0\n"],
        &[],
        expect![[r#"
            error:
            f0.yaml:1:28: required_engine_version: the file needs rules engine 99.0.0; Kestrel implements 0.57.0
        "#]],
    );
    check(
        &["- rule: [unclosed\n"],
        &[],
        expect![[r#"
            error:
            f0.yaml: invalid rule file: error: line 1 column 9: expected string scalar
             --> <input>:1:9
              |
            1 | - rule: [unclosed
              |         ^ expected string scalar
        "#]],
    );
}

#[test]
fn warnings_for_unindexed_and_unproduced_types() {
    check(
        &[r#"
- required_engine_version: 17
- rule: Everything
  desc: d
  condition: proc.name=bash
  output: o
  priority: DEBUG
- rule: Sendto
  desc: d
  condition: evt.type=sendto
  output: o
  priority: DEBUG
- rule: Audit
  desc: d
  condition: ka.verb=create
  output: o
  priority: DEBUG
  source: k8s_audit
- something_else: 1
"#],
        &evs()[..1],
        expect![[r#"
            warning: f0.yaml:19:3: item is not a rule, macro, list or required_engine_version; skipped
            warning: f0.yaml:3:9: rule "Everything" has no evt.type restriction and is evaluated for every event
            warning: f0.yaml:8:9: rule "Sendto" can never match: Kestrel produces none of its event types (sendto)
            warning: f0.yaml:13:9: rule "Audit": source "k8s_audit" is not supported; skipped
            Everything ["execve", "clone", "procexit", "open", "rename", "unlink", "link", "symlink", "chmod", "chown", "mmap", "mount", "memfd_create", "connect", "accept", "bind", "listen", "socket", "dns", "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid", "capset", "ptrace", "process_vm_writev", "init_module", "finit_module", "bpf", "unshare", "setns", "sensor", "setid"] -> ["bash"]
            Sendto [] -> []
        "#]],
    );
}

#[test]
fn kill_rules_reduce_to_exec_targets() {
    let rs = load(&["- rule: K\n  desc: d\n  condition: evt.type in (execve, execveat) and proc.name in (xmrig, minerd)\n  output: o\n  priority: CRITICAL\n  action: kill\n"]).unwrap();
    let k = rs.kill_targets();
    assert_eq!(k.names, ["xmrig", "minerd"]);
    assert!(k.exe_paths.is_empty());
    let err = load(&["- rule: K\n  desc: d\n  condition: evt.type=execve and proc.name=x and container.id != host\n  output: o\n  priority: CRITICAL\n  action: kill\n"]).unwrap_err();
    assert!(
        err.contains("action kill: a kill rule may only combine"),
        "{err}"
    );
    let err = load(&["- rule: K\n  desc: d\n  condition: evt.type=openat and proc.name=x\n  output: o\n  priority: CRITICAL\n  action: kill\n"]).unwrap_err();
    assert!(err.contains("exec events only"), "{err}");
}

#[test]
fn enforcement_records_the_kernel_verdict() {
    use kestrel_event::EnforcementAction;
    use kestrel_rules::Enforcement;
    let rs: std::sync::Arc<RuleSet> = load(&["- rule: K\n  desc: d\n  condition: evt.type=execve and proc.name=xmrig\n  output: o\n  priority: CRITICAL\n  action: kill\n"]).unwrap().into();
    let miner = proc_("/tmp/xmrig", &["xmrig"]);
    let mut killed = miner.clone();
    killed.0.exe.enforcement = Some(EnforcementAction::Killed);
    let action = |mode, p: &P| {
        let mut e = Engine::new(rs.clone()).enforcement(mode);
        let mut out = Vec::new();
        e.evaluate(&host(p, exec()), &mut out);
        out[0].action
    };
    assert_eq!(action(Enforcement::Off, &miner), None);
    assert_eq!(
        action(Enforcement::DryRun, &miner),
        Some(EnforcementAction::WouldKill)
    );
    assert_eq!(action(Enforcement::Kill, &miner), None);
    assert_eq!(
        action(Enforcement::Kill, &killed),
        Some(EnforcementAction::Killed)
    );
}

#[test]
fn rate_limit_per_rule_and_container_with_counts() {
    use kestrel_rules::RateLimit;
    let rs = load(&[BASE]).unwrap();
    let mut e = Engine::new(rs.into()).rate_limit(RateLimit {
        burst: 2,
        per_second: 1.0,
    });
    let mut out = Vec::new();
    let mut ev = host(&shell(), exec());
    let other = cont(&shell(), exec());
    for i in 0..10 {
        ev.ts = 1_000_000_000 + i * 1_000_000; // 10 events in 10 ms
        e.evaluate(&ev, &mut out);
    }
    // A flood on the host does not silence the container.
    e.evaluate(&other, &mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(out[2].output_fields["container.id"], "3f4e5d6c7b8a");
    // Two seconds later the next alert carries the count of the 8 held back.
    ev.ts = 3_000_000_000;
    e.evaluate(&ev, &mut out);
    assert_eq!(out.len(), 4);
    assert_eq!(out[3].suppressed, 8);
    // Floods that end are reported by flush.
    for i in 0..5 {
        ev.ts = 3_000_000_001 + i;
        e.evaluate(&ev, &mut out);
    }
    assert_eq!(e.flush_suppressed(3_000_000_100), vec![]);
    assert_eq!(
        e.flush_suppressed(5_000_000_000),
        vec![("Shell".to_owned(), "host".to_owned(), 4)]
    );
}

#[test]
fn hot_reload_keeps_running_rules_on_error() {
    use kestrel_rules::Reloader;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.yaml");
    std::fs::write(&f, BASE).unwrap();
    let mut r = Reloader::new(vec![f.clone()], false).unwrap();
    let mut e = Engine::with_shared(r.shared());
    let zsh = host(&proc_("/bin/zsh", &["zsh"]), exec());
    assert_eq!(e.matching(&zsh).len(), 1);
    assert!(r.reload_if_changed().is_none());
    std::fs::write(&f, BASE.replace("items: [shells, zsh]", "items: [shells]")).unwrap();
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(2);
    std::fs::File::options()
        .write(true)
        .open(&f)
        .unwrap()
        .set_modified(later)
        .unwrap();
    assert!(r.reload_if_changed().unwrap().is_ok());
    assert_eq!(e.matching(&zsh).len(), 0);
    std::fs::write(&f, "- rule: broken\n  condition: (\n").unwrap();
    let err = r.reload().unwrap_err().to_string();
    assert!(err.contains("r.yaml"), "{err}");
    // The engine still runs the last good rules.
    assert_eq!(e.matching(&host(&shell(), exec())).len(), 1);
}

/// The fields Falco's published rules need beyond the basics: passive-DNS names of endpoints,
/// connection state, raw file names, the pid inside a pid namespace, ancestor argv[0] and
/// `evt.arg.uid` compared with a user name.
#[test]
fn falco_compatibility_fields() {
    use kestrel_event::{DnsMessage, DnsRecord, NetProtocol, SockAddr, SocketFamily};
    let connect = |to: &str, result: i64| EventKind::Connect {
        family: SocketFamily::Inet,
        protocol: NetProtocol::Tcp,
        local: Some(SockAddr::Inet("10.0.0.2:40000".parse().unwrap())),
        remote: SockAddr::Inet(to.parse().unwrap()),
        result,
    };
    let answer = EventKind::Dns(DnsMessage {
        id: 9,
        response: true,
        questions: vec!["Kubernetes.Default.svc.cluster.local".into()],
        answers: vec![DnsRecord {
            name: "kubernetes.default.svc.cluster.local".into(),
            rtype: "A".into(),
            data: "10.96.0.1".into(),
            ttl: 5,
        }],
        rcode: 0,
        server: SockAddr::Inet("10.96.0.10:53".parse().unwrap()),
    });
    let mut init = proc_("/usr/bin/tini", &["tini"]).parent(proc_("/usr/bin/runc", &["runc"]));
    init.0.ns.pid = 4026532999;
    if let Some(p) = init.0.parent.as_mut() {
        Arc::make_mut(p).ns.pid = 0xEFFF_FFFC;
    }
    let mut host_proc = shell().pid(77);
    host_proc.0.ns.pid = 0xEFFF_FFFC;
    let java = proc_("/usr/bin/sh", &["sh"]).parent(
        proc_("/bin/bash", &["bash"]).parent(proc_("/opt/jdk/bin/java", &["/opt/jdk/bin/java"])),
    );
    let setuid = |uid: i64| EventKind::SetId {
        syscall: "setuid".into(),
        ids: vec![uid],
        result: 0,
    };
    check(
        &[r#"
- rule: API server by name
  desc: d
  condition: evt.type=connect and fd.sip.name="kubernetes.default.svc.cluster.local"
  output: "%fd.sip.name %fd.cip.name %fd.rip.name %fd.lip.name"
  priority: INFO
- rule: Connected
  desc: d
  condition: evt.type=connect and fd.connected=true
  output: o
  priority: INFO
- rule: Name changed has no value
  desc: d
  condition: evt.type=connect and (fd.name_changed=true or fd.name_changed=false)
  output: o
  priority: INFO
- rule: Not connected
  desc: d
  condition: evt.type=connect and fd.connected=false
  output: o
  priority: INFO
- rule: Traversal
  desc: d
  condition: evt.type=openat and fd.nameraw contains '../' and fd.nameraw glob '*../*../*'
  output: o
  priority: INFO
- rule: Namespace init
  desc: d
  condition: evt.type=execve and proc.vpid=1
  output: o
  priority: INFO
- rule: Host pid
  desc: d
  condition: evt.type=execve and proc.vpid=77
  output: o
  priority: INFO
- rule: Java grandparent
  desc: d
  condition: evt.type=execve and proc.aexe[2] endswith java
  output: o
  priority: INFO
- rule: Becomes root
  desc: d
  condition: evt.type=setuid and evt.arg.uid=root
  output: o
  priority: INFO
"#],
        &[
            (
                "connect-before-dns",
                host(&shell(), connect("10.96.0.1:443", 0)),
            ),
            ("dns", host(&shell(), answer)),
            (
                "connect-after-dns",
                host(&shell(), connect("10.96.0.1:443", 0)),
            ),
            ("refused", host(&shell(), connect("10.96.0.2:443", -111))),
            (
                "traversal",
                host(&shell(), open("/srv/www/../../etc/passwd", RD)),
            ),
            ("one-dotdot", host(&shell(), open("/srv/../etc/passwd", RD))),
            ("ctr-init", host(&init, exec())),
            ("host-exec", host(&host_proc, exec())),
            ("java-child", host(&java, exec())),
            ("setuid-0", host(&shell(), setuid(0))),
            ("setuid-1000", host(&shell(), setuid(1000))),
        ],
        expect![[r#"
            API server by name ["connect"] -> ["connect-after-dns"]
            Connected ["connect"] -> ["connect-before-dns", "connect-after-dns"]
            Name changed has no value ["connect"] -> []
            Not connected ["connect"] -> ["refused"]
            Traversal ["open"] -> ["traversal"]
            Namespace init ["execve"] -> ["ctr-init"]
            Host pid ["execve"] -> ["host-exec"]
            Java grandparent ["execve"] -> ["java-child"]
            Becomes root ["setuid"] -> ["setuid-0"]
        "#]],
    );
}

#[test]
fn proc_duration_needs_the_boot_clock() {
    let rs: std::sync::Arc<RuleSet> = load(&["- rule: New\n  desc: d\n  condition: evt.type=execve and proc.duration <= 5000000000\n  output: o\n  priority: INFO\n"]).unwrap().into();
    let mut p = shell();
    // Started 2 s after boot; the event is 4 s after boot, on a clock whose boot was at Unix 0.
    p.0.start_time = 2_000_000_000;
    let mut young = host(&p, exec());
    young.ts = 4_000_000_000;
    let mut old = young.clone();
    old.ts = 60_000_000_000;
    let mut with_clock = Engine::new(rs.clone()).boot_clock_offset(0);
    assert_eq!(with_clock.matching(&young).len(), 1);
    assert_eq!(with_clock.matching(&old).len(), 0);
    // Without the offset process and event times are on different clocks: no value, no match.
    assert_eq!(Engine::new(rs).matching(&young).len(), 0);
}

#[test]
fn kill_targets_the_kernel_cannot_hold_are_refused() {
    let rule = |cond: &str| {
        format!(
            "- rule: K\n  desc: d\n  condition: evt.type=execve and {cond}\n  output: o\n  priority: CRITICAL\n  action: kill\n"
        )
    };
    let err = load(&[&rule("proc.name = averyveryverylongname")]).unwrap_err();
    assert!(
        err.contains("proc.name \"averyveryverylongname\" can never match"),
        "{err}"
    );
    let err = load(&[&rule("proc.exepath = bin/evil")]).unwrap_err();
    assert!(
        err.contains("\"bin/evil\" is not an absolute path"),
        "{err}"
    );
    let k = load(&[&rule("proc.name in (exactly15chars_, xmrig)")])
        .unwrap()
        .kill_targets();
    assert_eq!(k.names, ["exactly15chars_", "xmrig"]);
}

/// An `or` of tests on one field is merged into one test at load; the result must match exactly
/// what the separate tests matched, including a missing field (false) and a negated member
/// (left alone).
#[test]
fn or_of_tests_on_one_field_keeps_its_meaning() {
    check(
        &[r#"
- rule: Merged
  desc: d
  condition: evt.type=openat and (fd.name startswith /srv/ or fd.name = /etc/shadow or fd.name in (/etc/sudoers, /etc/shadow) or fd.name endswith .pem or fd.name glob '/opt/*/key' or proc.name = vim or fd.name != /tmp/x)
  output: o
  priority: INFO
- rule: Equalities only
  desc: d
  condition: evt.type=openat and (fd.name = /etc/shadow or fd.name = /etc/gshadow)
  output: o
  priority: INFO
"#],
        &[
            ("srv", host(&shell(), open("/srv/www/index.html", RD))),
            ("shadow", host(&shell(), open("/etc/shadow", RD))),
            ("gshadow", host(&shell(), open("/etc/gshadow", RD))),
            ("sudoers", host(&shell(), open("/etc/sudoers", RD))),
            ("pem", host(&shell(), open("/home/a/tls.pem", RD))),
            ("glob", host(&shell(), open("/opt/app/key", RD))),
            (
                "vim",
                host(&proc_("/usr/bin/vim", &["vim"]), open("/tmp/x", RD)),
            ),
            ("tmp-x", host(&shell(), open("/tmp/x", RD))),
            ("other", host(&shell(), open("/var/other", RD))),
        ],
        expect![[r#"
            Merged ["open"] -> ["srv", "shadow", "gshadow", "sudoers", "pem", "glob", "vim", "other"]
            Equalities only ["open"] -> ["shadow", "gshadow"]
        "#]],
    );
}
