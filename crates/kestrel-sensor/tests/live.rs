//! Live tests: start the real eBPF sensor, do the real thing in a child process, and assert the
//! normalized event. They need root and the kernel features described in
//! `docs/sensor.md` (CI runs them as root).
//!
//! The sensor ignores its own process, so every action happens in a child (`sh`, `python3`).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kestrel_event::{EnforcementAction, Event, EventKind, LinkKind, NetProtocol, SockAddr};
use kestrel_sensor::{DenyMode, Sensor, SensorConfig, SensorHandle};

fn start(cfg: SensorConfig) -> SensorHandle {
    let h = Sensor::start(SensorConfig {
        fallback: kestrel_sensor::Fallback::Never,
        ..cfg
    })
    .expect("the eBPF sensor starts (root, BTF, tracefs)");
    // A syscall this kernel does not have (no CONFIG_MODULES: no init_module) has no
    // tracepoint; anything else that fails to attach is a bug.
    let failed: Vec<_> = h
        .report()
        .failed()
        .filter(|p| !p.error.as_deref().unwrap_or("").contains("No such file"))
        .collect();
    assert!(failed.is_empty(), "probes not attached: {failed:#?}");
    h
}

/// Waits up to 10 s for an event matching `pred`; panics with what was seen otherwise.
fn wait_for(h: &SensorHandle, what: &str, mut pred: impl FnMut(&Event) -> bool) -> Event {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(e) = h.events().recv_timeout(Duration::from_millis(100)) {
            if pred(&e) {
                return e;
            }
            if seen.len() < 50 {
                seen.push(e.kind.type_name());
            }
        }
    }
    panic!("no {what} event within 10 s; saw {seen:?}");
}

/// All events of process `pid` up to its exit, in order.
fn events_of(h: &SensorHandle, pid: u32) -> Vec<Event> {
    let mut v = Vec::new();
    wait_for(h, "exit", |e| {
        if e.pid == pid {
            v.push(e.clone());
        }
        e.pid == pid && matches!(e.kind, EventKind::Exit { .. })
    });
    v
}

/// The first event of `events` matching `pred`.
fn find<'a>(events: &'a [Event], what: &str, pred: impl Fn(&Event) -> bool) -> &'a Event {
    events.iter().find(|e| pred(e)).unwrap_or_else(|| {
        let kinds: Vec<_> = events.iter().map(|e| e.kind.type_name()).collect();
        panic!("no {what} event; the process had {kinds:?}")
    })
}

fn run(cmd: &mut Command) -> u32 {
    let mut child = cmd.spawn().expect("spawn");
    let pid = child.id();
    let status = child.wait().expect("wait");
    assert!(status.success() || status.code().is_some(), "{status:?}");
    pid
}

fn py(script: &str) -> Command {
    let mut c = Command::new("/usr/bin/python3");
    c.arg("-c").arg(script);
    c
}

#[test]
fn exec_fork_exit_on_the_host() {
    let h = start(SensorConfig::default());
    assert!(h.report().attached() > 50, "{:?}", h.report());
    let pid = run(Command::new("/bin/sh")
        .args(["-c", "/bin/true kestrel-marker-1; exit 3"])
        .env("LD_PRELOAD", "")
        .env_remove("LD_LIBRARY_PATH")
        .current_dir("/tmp"));

    let sh = wait_for(&h, "exec of sh", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exec)
    });
    let p = sh.process.as_ref().unwrap();
    assert_eq!(
        p.args,
        ["/bin/sh", "-c", "/bin/true kestrel-marker-1; exit 3"]
    );
    assert_eq!(p.cwd, "/tmp");
    assert_eq!(p.ppid, std::process::id());
    assert_eq!(p.creds.uid, 0);
    assert!(
        p.exe.path.ends_with("/dash") || p.exe.path.ends_with("/sh"),
        "{}",
        p.exe.path
    );
    let md = std::fs::metadata(&p.exe.path).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((p.exe.dev, p.exe.ino), (md.dev(), md.ino()));
    assert_eq!(p.env, ["LD_PRELOAD="]);
    assert!(p.container_id.is_none());
    // The parent is the test process, known from the /proc bootstrap.
    assert_eq!(p.parent.as_ref().unwrap().pid, std::process::id());
    assert_ne!(p.ns.mnt, 0);

    let fork = wait_for(&h, "fork by sh", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Fork { .. })
    });
    let EventKind::Fork { child_pid } = fork.kind else {
        unreachable!()
    };
    let t = wait_for(&h, "exec of true", |e| {
        e.pid == child_pid && matches!(e.kind, EventKind::Exec)
    });
    let tp = t.process.as_ref().unwrap();
    assert_eq!(tp.args, ["/bin/true", "kestrel-marker-1"]);
    assert_eq!(tp.name, "true");
    assert_eq!(tp.ppid, pid);
    assert_eq!(tp.ancestor(1).unwrap().name, "sh");

    let exit = wait_for(&h, "exit of sh", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exit { .. })
    });
    assert_eq!(
        exit.kind,
        EventKind::Exit {
            code: 3,
            signal: None
        }
    );
    let stats = h.stats();
    assert!(
        stats.received.get("exec").copied().unwrap_or(0) >= 2,
        "{stats:?}"
    );
    h.stop();
}

#[test]
fn file_events() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let h = start(SensorConfig {
        open_prefixes: vec![format!("{d}/")],
        ..SensorConfig::default()
    });
    let script = format!(
        "import os
os.chdir('{d}')
fd = os.open('{d}/a', os.O_WRONLY | os.O_CREAT, 0o600); os.close(fd)
try: os.open('{d}/missing', os.O_RDONLY)
except OSError: pass
os.rename('{d}/a', '{d}/b')
os.link('{d}/b', '{d}/c')
os.symlink('/etc/passwd', '{d}/s')
os.chmod('{d}/b', 0o4755)
os.chown('{d}/b', 1, 2)
os.unlink('{d}/c')
os.mkdir('{d}/sub'); os.rmdir('{d}/sub')
os.memfd_create('kestrel-memfd', 0)
"
    );
    let pid = run(&mut py(&script));
    let ev = events_of(&h, pid);
    let mine = |_: &Event| true;
    let e = find(&ev, "open", |e| {
        mine(e) && matches!(&e.kind, EventKind::Open { path, .. } if path.ends_with("/a"))
    });
    let EventKind::Open {
        path,
        flags,
        mode,
        result,
    } = e.kind.clone()
    else {
        unreachable!()
    };
    assert_eq!(path, format!("{d}/a"));
    assert!(flags.is_write() && flags.contains(kestrel_event::OpenFlags::O_CREAT));
    assert_eq!(mode, 0o600);
    assert!(result >= 0);
    let e = find(&ev, "failed open", |e| {
        mine(e) && matches!(&e.kind, EventKind::Open { path, .. } if path.ends_with("/missing"))
    });
    assert!(matches!(e.kind, EventKind::Open { result: -2, .. }));
    let e = find(&ev, "rename", |e| {
        mine(e) && matches!(e.kind, EventKind::Rename { .. })
    });
    assert_eq!(
        e.kind.clone(),
        EventKind::Rename {
            old_path: format!("{d}/a"),
            new_path: format!("{d}/b"),
            result: 0
        }
    );
    let e = find(&ev, "link", |e| {
        mine(e)
            && matches!(
                e.kind,
                EventKind::Link {
                    kind: LinkKind::Hard,
                    ..
                }
            )
    });
    assert!(
        matches!(e.kind, EventKind::Link { ref target, ref link_path, result: 0, .. } if target == &format!("{d}/b") && link_path == &format!("{d}/c"))
    );
    let e = find(&ev, "symlink", |e| {
        mine(e)
            && matches!(
                e.kind,
                EventKind::Link {
                    kind: LinkKind::Symbolic,
                    ..
                }
            )
    });
    assert!(
        matches!(e.kind, EventKind::Link { ref target, result: 0, .. } if target == "/etc/passwd")
    );
    let e = find(&ev, "chmod", |e| {
        mine(e) && matches!(e.kind, EventKind::Chmod { .. })
    });
    assert_eq!(
        e.kind.clone(),
        EventKind::Chmod {
            path: format!("{d}/b"),
            mode: 0o4755,
            result: 0
        }
    );
    let e = find(&ev, "chown", |e| {
        mine(e) && matches!(e.kind, EventKind::Chown { .. })
    });
    assert!(matches!(
        e.kind,
        EventKind::Chown {
            uid: 1,
            gid: 2,
            result: 0,
            ..
        }
    ));
    let e = find(&ev, "unlink", |e| {
        mine(e) && matches!(&e.kind, EventKind::Unlink { dir: false, .. })
    });
    assert!(
        matches!(e.kind, EventKind::Unlink { ref path, result: 0, .. } if path == &format!("{d}/c"))
    );
    find(&ev, "rmdir", |e| {
        mine(e)
            && matches!(
                &e.kind,
                EventKind::Unlink {
                    dir: true,
                    result: 0,
                    ..
                }
            )
    });
    let e = find(&ev, "memfd_create", |e| {
        mine(e) && matches!(e.kind, EventKind::MemfdCreate { .. })
    });
    assert!(
        matches!(e.kind, EventKind::MemfdCreate { ref name, result, .. } if name == "kestrel-memfd" && result >= 0)
    );
    // Shared libraries mapped executable by the dynamic loader.
    let e = find(&ev, "mmap of libc", |e| {
        mine(e) && matches!(&e.kind, EventKind::Mmap { path, .. } if path.contains("libc.so"))
    });
    let EventKind::Mmap {
        path, file, prot, ..
    } = e.kind.clone()
    else {
        unreachable!()
    };
    assert_eq!(prot & 4, 4, "PROT_EXEC");
    let md = std::fs::metadata(&path).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!((file.dev, file.ino), (md.dev(), md.ino()));
}

/// The kernel's open filter: report-all prefixes, write-only prefixes (a write-only prefix
/// below a report-all one does not hide reads) and suffixes in any directory.
#[test]
fn open_filter_prefixes_write_prefixes_and_suffixes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let h = start(SensorConfig {
        open_prefixes: vec![format!("{d}/all/"), format!("{d}/w/all/")],
        open_write_prefixes: vec![format!("{d}/w/"), format!("{d}/all/w/")],
        open_suffixes: vec![".kestrel-sfx".to_owned()],
        ..SensorConfig::default()
    });
    let script = format!(
        "import os
def touch(p): os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o600))
def read(p): os.close(os.open(p, os.O_RDONLY))
for sub in ('all/w', 'w/all', 'other'): os.makedirs('{d}/' + sub)
for p in ('w/f', 'w/all/g', 'all/w/h', 'other/p', 'other/q.kestrel-sfx', 'other/q.kestrel-sfx.not'):
    touch('{d}/' + p); read('{d}/' + p)
"
    );
    let pid = run(&mut py(&script));
    let opens: Vec<(String, bool)> = events_of(&h, pid)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Open { path, flags, .. } => path
                .strip_prefix(&format!("{d}/"))
                .map(|p| (p.to_owned(), flags.is_write())),
            _ => None,
        })
        .collect();
    let expected = [
        ("w/f", true),
        ("w/all/g", true),
        ("w/all/g", false),
        ("all/w/h", true),
        ("all/w/h", false),
        ("other/q.kestrel-sfx", true),
        ("other/q.kestrel-sfx", false),
    ]
    .map(|(p, w)| (p.to_owned(), w));
    assert_eq!(opens, expected);
    h.stop();
}

/// A relative or non-canonical path is matched and reported by where the opened file really is:
/// `cd /etc; cat shadow` and `cat /tmp/../etc/shadow` must not slip past a `/etc/` prefix, and
/// `dir_fd` opens count too.
#[test]
fn relative_and_noncanonical_opens_are_matched_by_the_files_absolute_path() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap().to_owned();
    let h = start(SensorConfig {
        open_prefixes: vec![format!("{d}/all/")],
        open_write_prefixes: Vec::new(),
        open_suffixes: vec![".kestrel-sfx".to_owned()],
        ..SensorConfig::default()
    });
    let script = format!(
        "import os
os.makedirs('{d}/all/sub'); os.makedirs('{d}/other')
for p in ('all/x', 'all/sub/z', 'other/y', 'other/r.kestrel-sfx'):
    open('{d}/' + p, 'w').close()
os.chdir('{d}')
def read(p, **kw): os.close(os.open(p, os.O_RDONLY, **kw))
read('all/x'); read('other/y'); read('other/r.kestrel-sfx')
os.chdir('{d}/other'); read('../all/x')
fd = os.open('{d}/all', os.O_RDONLY | os.O_DIRECTORY)
read('sub/z', dir_fd=fd)
read('{d}/other/../all/x'); read('{d}//all/sub/z'); read('{d}/./all/x'); read('{d}/other/./y')
try: read('all/missing')
except FileNotFoundError: pass
"
    );
    let pid = run(&mut py(&script));
    let opens: Vec<String> = events_of(&h, pid)
        .into_iter()
        .filter_map(|e| match e.kind {
            EventKind::Open { path, flags, .. } if !flags.is_write() => Some(path),
            _ => None,
        })
        .filter(|p| p != &format!("{d}/all"))
        .collect();
    assert_eq!(
        opens,
        [
            format!("{d}/all/x"),
            format!("{d}/other/r.kestrel-sfx"),
            format!("{d}/all/x"),
            format!("{d}/all/sub/z"),
            format!("{d}/all/x"),
            format!("{d}/all/sub/z"),
            format!("{d}/all/x"),
        ]
    );
    h.stop();
}

#[test]
fn network_events() {
    let h = start(SensorConfig::default());
    let script = "import socket
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(7)
port = s.getsockname()[1]
c = socket.socket(); c.connect(('127.0.0.1', port))
a, _ = s.accept()
print(port, c.getsockname()[1])
try: socket.socket().connect(('127.0.0.1', 1))
except OSError: pass
u = socket.socket(socket.AF_UNIX); 
try: u.connect('\\0kestrel-none')
except OSError: pass
";
    let child = py(script)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut it = text.split_whitespace().map(|s| s.parse::<u16>().unwrap());
    let (port, cport) = (it.next().unwrap(), it.next().unwrap());
    let listen_addr: SockAddr = SockAddr::Inet(format!("127.0.0.1:{port}").parse().unwrap());
    let client_addr: SockAddr = SockAddr::Inet(format!("127.0.0.1:{cport}").parse().unwrap());
    let ev = events_of(&h, pid);

    // bind(2) asked for port 0; the kernel chose `port`, which listen reports.
    let any_port: SockAddr = SockAddr::Inet("127.0.0.1:0".parse().unwrap());
    let e = find(
        &ev,
        "bind",
        |e| matches!(&e.kind, EventKind::Bind { local, .. } if *local == any_port),
    );
    assert!(matches!(
        e.kind,
        EventKind::Bind {
            protocol: NetProtocol::Tcp,
            result: 0,
            ..
        }
    ));
    let e = find(
        &ev,
        "listen",
        |e| matches!(&e.kind, EventKind::Listen { local, .. } if *local == listen_addr),
    );
    assert!(matches!(
        e.kind,
        EventKind::Listen {
            backlog: 7,
            result: 0,
            ..
        }
    ));
    let e = find(
        &ev,
        "connect",
        |e| matches!(&e.kind, EventKind::Connect { remote, .. } if *remote == listen_addr),
    );
    assert_eq!(
        e.kind,
        EventKind::Connect {
            family: kestrel_event::SocketFamily::Inet,
            protocol: NetProtocol::Tcp,
            local: Some(client_addr.clone()),
            remote: listen_addr.clone(),
            result: 0
        }
    );
    let e = find(
        &ev,
        "accept",
        |e| matches!(&e.kind, EventKind::Accept { local, .. } if *local == listen_addr),
    );
    assert!(
        matches!(e.kind, EventKind::Accept { ref remote, result, .. } if *remote == client_addr && result >= 0)
    );
    let refused: SockAddr = SockAddr::Inet("127.0.0.1:1".parse().unwrap());
    find(
        &ev,
        "refused connect",
        |e| matches!(&e.kind, EventKind::Connect { remote, result: -111, .. } if *remote == refused),
    );
    find(
        &ev,
        "unix connect",
        |e| matches!(&e.kind, EventKind::Connect { remote: SockAddr::Unix(p), .. } if p == "@kestrel-none"),
    );
}

#[test]
fn dns_query_and_answer() {
    let h = start(SensorConfig::default());
    let dns = h
        .report()
        .probes
        .iter()
        .filter(|p| p.hook.starts_with("cgroup_skb/"))
        .collect::<Vec<_>>();
    assert!(
        dns.len() == 2 && dns.iter().all(|p| p.attached),
        "DNS packet programs: {dns:#?}"
    );
    // A DNS server on 127.0.0.53:53 answering two queries, and a client that sends one with
    // sendto/recvfrom and one with write/read on a connected socket (no syscall hook sees the
    // second: only the packet programs do).
    let server = "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('127.0.0.53', 53))
print('ready', flush=True)
for _ in range(2):
    q, addr = s.recvfrom(512)
    ans = q[:2] + b'\\x81\\x80' + q[4:6] + b'\\x00\\x01\\x00\\x00\\x00\\x00' + q[12:] + b'\\xc0\\x0c\\x00\\x01\\x00\\x01\\x00\\x00\\x00\\x3c\\x00\\x04\\x0a\\x01\\x02\\x03'
    s.sendto(ans, addr)
";
    let mut srv = py(server)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    use std::io::BufRead;
    std::io::BufReader::new(srv.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready");
    let client = "import os, socket, struct
def q(i): return struct.pack('>HHHHHH', i, 0x0100, 1, 0, 0, 0) + b'\\x07kestrel\\x04test\\x00\\x00\\x01\\x00\\x01'
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.sendto(q(0x4b53), ('127.0.0.53', 53))
print(c.recvfrom(512)[0].hex())
d = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); d.connect(('127.0.0.53', 53))
os.write(d.fileno(), q(0x4b54))
print(os.read(d.fileno(), 512).hex())
";
    let mut client = py(client);
    let out = client.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    srv.wait().unwrap();
    for id in [0x4b53, 0x4b54] {
        let q = wait_for(
            &h,
            "dns query",
            |e| matches!(&e.kind, EventKind::Dns(m) if !m.response && m.id == id),
        );
        let client_pid = q.pid;
        assert_eq!(q.process.as_ref().map(|p| p.name.as_str()), Some("python3"));
        let EventKind::Dns(m) = q.kind else {
            unreachable!()
        };
        assert_eq!(m.questions, ["kestrel.test"]);
        assert_eq!(m.server, SockAddr::Inet("127.0.0.53:53".parse().unwrap()));
        let a = wait_for(
            &h,
            "dns answer",
            |e| matches!(&e.kind, EventKind::Dns(m) if m.response && m.id == id),
        );
        // The answer arrives in softirq context: it is attributed to the socket's owner, not
        // to whichever task the packet interrupted (here, the server that sent it).
        assert_eq!(a.pid, client_pid, "answer {id:#x} attributed to the client");
        let EventKind::Dns(m) = a.kind else {
            unreachable!()
        };
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].data, "10.1.2.3");
        assert_eq!(m.answers[0].ttl, 60);
        assert_eq!(m.server, SockAddr::Inet("127.0.0.53:53".parse().unwrap()));
    }
}

#[test]
fn privilege_and_kernel_events() {
    let h = start(SensorConfig::default());
    let script = "import os, ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
os.setresgid(0, 0, -1)
os.setuid(0)
try: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
except OSError: pass
libc.unshare(0x04000000)  # CLONE_NEWUTS
fd = os.open('/proc/self/ns/uts', os.O_RDONLY); libc.setns(fd, 0)
libc.ptrace(16, 1, 0, 0)  # PTRACE_ATTACH to init: refused or allowed, recorded either way
libc.syscall(321, 0, 0, 0)  # bpf(BPF_MAP_CREATE, NULL, 0): EFAULT/EINVAL
libc.syscall(313, -1, b'', 0)  # finit_module(-1): EBADF
";
    let pid = run(&mut py(script));
    let ev = events_of(&h, pid);
    let mine = |_: &Event| true;
    let e = find(&ev, "setresgid", |e| {
        mine(e) && matches!(e.kind, EventKind::SetId { .. })
    });
    assert_eq!(
        e.kind.clone(),
        EventKind::SetId {
            syscall: "setresgid".into(),
            ids: vec![0, 0, -1],
            result: 0
        }
    );
    find(&ev, "setuid", |e| {
        mine(e)
            && matches!(&e.kind, EventKind::SetId { syscall, ids, .. } if syscall == "setuid" && ids == &[0])
    });
    find(&ev, "packet socket", |e| {
        mine(e)
            && matches!(&e.kind, EventKind::Socket { family: kestrel_event::SocketFamily::Packet, sock_type, .. } if sock_type & 0xf == 3)
    });
    find(&ev, "unshare", |e| {
        mine(e)
            && matches!(
                e.kind,
                EventKind::Unshare {
                    flags: 0x04000000,
                    result: 0
                }
            )
    });
    find(&ev, "setns", |e| {
        mine(e) && matches!(e.kind, EventKind::Setns { .. })
    });
    find(&ev, "ptrace", |e| {
        mine(e)
            && matches!(
                e.kind,
                EventKind::Ptrace {
                    request: 16,
                    target_pid: 1,
                    ..
                }
            )
    });
    find(&ev, "bpf", |e| {
        mine(e) && matches!(e.kind, EventKind::Bpf { cmd: 0, .. })
    });
    let have_modules =
        Path::new("/sys/kernel/tracing/events/syscalls/sys_enter_finit_module").exists();
    if have_modules {
        find(&ev, "finit_module", |e| {
            mine(e)
                && matches!(&e.kind, EventKind::ModuleLoad { syscall, result: -9, .. } if syscall == "finit_module")
        });
    }
}

#[test]
fn exec_kill_list() {
    let dir = tempfile::tempdir().unwrap();
    // Copied by `cp`: a file this multi-threaded test process had open for writing could be
    // inherited by another test's fork and make the exec below fail with ETXTBSY.
    let victim = dir.path().join("forbidden");
    let dry = dir.path().join("watched");
    for (from, to) in [("/bin/sleep", &victim), ("/bin/true", &dry)] {
        let ok = Command::new("cp")
            .arg("--")
            .arg(from)
            .arg(to)
            .status()
            .unwrap();
        assert!(ok.success(), "cp {from} {}", to.display());
    }
    let h = start(SensorConfig::default());
    h.deny_exec(&victim, DenyMode::Kill).unwrap();
    h.deny_exec(&dry, DenyMode::DryRun).unwrap();

    let status = Command::new(&victim).arg("5").status().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "killed by SIGKILL at exec");
    let status = Command::new(&dry).status().unwrap();
    assert!(status.success(), "dry run does not kill");

    let e = wait_for(&h, "killed exec", |e| {
        matches!(e.kind, EventKind::Exec)
            && e.process
                .as_ref()
                .is_some_and(|p| Path::new(&p.exe.path) == victim)
    });
    assert_eq!(
        e.process.unwrap().exe.enforcement,
        Some(EnforcementAction::Killed)
    );
    let e = wait_for(&h, "exit of killed", |e| {
        matches!(
            e.kind,
            EventKind::Exit {
                signal: Some(9),
                ..
            }
        ) && e
            .process
            .as_ref()
            .is_some_and(|p| Path::new(&p.exe.path) == victim)
    });
    assert_eq!(
        e.kind,
        EventKind::Exit {
            code: 137,
            signal: Some(9)
        }
    );
    let e = wait_for(&h, "dry-run exec", |e| {
        matches!(e.kind, EventKind::Exec)
            && e.process
                .as_ref()
                .is_some_and(|p| Path::new(&p.exe.path) == dry)
    });
    assert_eq!(
        e.process.unwrap().exe.enforcement,
        Some(EnforcementAction::WouldKill)
    );
    // Allowed again: runs normally.
    assert!(h.allow_exec(&victim).unwrap());
    let status = Command::new(&victim).arg("0").status().unwrap();
    assert!(status.success());
}

#[test]
fn drops_are_counted_with_a_tiny_ring_buffer() {
    let h = start(SensorConfig {
        ring_buffer_bytes: 4096,
        // Every open anywhere is reported: the flood below overflows 4 KiB at once.
        open_prefixes: vec![String::new()],
        stats_interval: Duration::from_millis(200),
        drop_alert_intervals: 1,
        // Nothing is consumed during the flood and only one event fits in the channel, so the
        // pipeline backs up into the ring buffer.
        channel_capacity: 1,
        ..SensorConfig::default()
    });
    assert_eq!(h.report().ring_buffer_bytes, 4096);
    // Do not read events while flooding, so the ring cannot drain.
    let pid = run(&mut py("import os
for i in range(20000):
    os.close(os.open('/etc/hostname', os.O_RDONLY))
"));
    let e = wait_for(
        &h,
        "drop report",
        |e| matches!(&e.kind, EventKind::Sensor(kestrel_event::Sensor::Drops { counts }) if counts.iter().any(|(k, n)| k == "open" && *n > 0)),
    );
    let _ = (e, pid);
    wait_for(&h, "health alert", |e| {
        matches!(
            &e.kind,
            EventKind::Sensor(kestrel_event::Sensor::Health { healthy: false, .. })
        )
    });
    assert!(h.stats().drops.get("open").copied().unwrap_or(0) > 0);
}

#[test]
fn record_and_replay_through_the_same_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("session.krec");
    let h = start(SensorConfig {
        record: Some(rec.clone()),
        ..SensorConfig::default()
    });
    let pid = run(Command::new("/bin/sh").args(["-c", "exit 7"]));
    let live_exec = wait_for(&h, "exec", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exec)
    });
    wait_for(&h, "exit", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exit { .. })
    });
    h.stop();

    let replay = kestrel_sensor::Replay::open(&rec, &SensorConfig::default()).unwrap();
    let events: Vec<Event> = replay.map(|e| e.unwrap()).collect();
    let exec = events
        .iter()
        .find(|e| e.pid == pid && matches!(e.kind, EventKind::Exec))
        .expect("the exec is in the recording");
    assert_eq!(
        exec, &live_exec,
        "replay reproduces the live event, ancestry included"
    );
    assert_eq!(
        exec.process.as_ref().unwrap().parent.as_ref().unwrap().pid,
        std::process::id(),
        "the recorded /proc bootstrap links the parent"
    );
    let exit = events
        .iter()
        .find(|e| e.pid == pid && matches!(e.kind, EventKind::Exit { .. }))
        .unwrap();
    assert_eq!(
        exit.kind,
        EventKind::Exit {
            code: 7,
            signal: None
        }
    );
}

#[test]
fn proc_fallback_is_reported_as_degraded_and_sees_new_processes() {
    let h = Sensor::start(SensorConfig {
        fallback: kestrel_sensor::Fallback::Force,
        ..SensorConfig::default()
    })
    .unwrap();
    assert!(
        h.degraded().unwrap().contains("file, network"),
        "{:?}",
        h.degraded()
    );
    let health = wait_for(&h, "health", |e| {
        matches!(
            &e.kind,
            EventKind::Sensor(kestrel_event::Sensor::Health { healthy: false, .. })
        )
    });
    let _ = health;
    // Longer-lived than the 100 ms polling interval.
    let mut child = Command::new("/bin/sleep").arg("1").spawn().unwrap();
    let pid = child.id();
    let e = wait_for(&h, "polled exec", |e| {
        e.pid == pid && matches!(e.kind, EventKind::Exec)
    });
    let p = e.process.unwrap();
    assert_eq!(p.args, ["/bin/sleep", "1"]);
    assert_eq!(p.ppid, std::process::id());
    assert!(matches!(
        h.deny_exec(Path::new("/bin/true"), DenyMode::Kill),
        Err(kestrel_sensor::DenyError::NoEbpf)
    ));
    child.wait().unwrap();
}
