//! The default rules on defense evasion, process injection, persistence, privilege escalation
//! and container escape (rules 23-44 of `rules/kestrel_rules.yaml`), each raised by the real
//! behaviour under the real `kestrel watch` (root, eBPF sensor, built-in rules).
//!
//! Two tables: behaviours on the host (the alert must name the PID of the process the case
//! started) and behaviours in podman containers of the test image (the alert must name the
//! container). Every case puts a marker of its own in the command line of what it runs, so
//! alerts of other tests and of the machine cannot satisfy it. The host is not changed for
//! good: host cases work in a temporary directory or write back exactly what they read, and
//! whatever touches system files runs in a container that is deleted afterwards.

mod common;

use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::*;

/// Debian's interpreter: `python3` on the CI image's PATH is a pyenv shim (a bash script),
/// which would put bash, not python, at the PID the case starts.
const PYTHON: &str = "/usr/bin/python3";

/// Who must have done it.
#[derive(Debug)]
enum By {
    /// A host process, by PID.
    Host(u32),
    /// A process in this container (full id, name).
    Container(String, String),
}

/// What the alert of a case must say.
#[derive(Debug)]
struct Expect {
    by: By,
    /// A marker the command line of the process contains.
    cmdline: String,
    /// Output fields (and `priority`) with what they must be.
    fields: Vec<(&'static str, Want)>,
}

/// One row: the rule and how to make it fire.
struct Case {
    rule: &'static str,
    run: fn(&Ctx) -> Expect,
}

/// What the cases of one test share.
struct Ctx {
    dir: tempfile::TempDir,
    /// Default podman capabilities.
    plain: Option<Container>,
    /// Default capabilities plus NET_RAW.
    raw: Option<Container>,
    /// `--privileged`.
    privileged: Option<Container>,
}

impl Ctx {
    fn host() -> Ctx {
        Ctx {
            dir: tempfile::Builder::new()
                .prefix("kt-sys-")
                .tempdir()
                .unwrap(),
            plain: None,
            raw: None,
            privileged: None,
        }
    }

    fn containers() -> Ctx {
        Ctx {
            plain: Some(Container::start("sys-plain", &[])),
            raw: Some(Container::start("sys-raw", &["--cap-add", "NET_RAW"])),
            privileged: Some(Container::start("sys-priv", &["--privileged"])),
            ..Ctx::host()
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Waits for the alert of `case` by the process `expect` names, then checks its fields.
fn check(w: &mut Watch, case: &Case, expect: Expect) {
    let alert = w.wait_alert(
        case.rule,
        |a| {
            let f = &a["output_fields"];
            let by = match &expect.by {
                By::Host(pid) => f["container.id"] == "host" && f["proc.pid"] == *pid,
                By::Container(id, _) => f["container.id"]
                    .as_str()
                    .is_some_and(|short| short.len() == 12 && id.starts_with(short)),
            };
            by && has(&expect.cmdline).matches(&f["proc.cmdline"])
        },
        ALERT_TIMEOUT,
    );
    let mut wants = expect.fields;
    if let By::Container(_, name) = &expect.by {
        wants.push(("container.name", is(name.as_str())));
    }
    for (field, want) in &wants {
        assert!(
            fields_match(&alert, &[(*field, want.clone())]),
            "{}: {field} is not {want:?}: {alert:#}",
            case.rule
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Host

/// Runs `command` to completion on the host and returns its PID.
fn host(command: &mut Command) -> u32 {
    let mut child = command.stdin(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let status = child.wait().unwrap();
    assert!(status.success(), "{command:?}: {status}");
    pid
}

fn python(script: &str) -> Command {
    let mut command = Command::new(PYTHON);
    command.args(["-c", script]);
    command
}

fn on_host(pid: u32, cmdline: impl Into<String>, fields: Vec<(&'static str, Want)>) -> Expect {
    Expect {
        by: By::Host(pid),
        cmdline: cmdline.into(),
        fields,
    }
}

/// A process holding a 16-byte buffer: it prints the buffer's address, and once told (a line
/// on stdin) what the buffer holds. The target of the memory-writing cases, which check that
/// the write really landed.
struct Victim {
    child: Child,
    addr: u64,
}

const VICTIM: &str = r#"
import ctypes, sys
buf = ctypes.create_string_buffer(b"original-bytes!!", 16)
print(ctypes.addressof(buf), flush=True)
sys.stdin.readline()
print(buf.raw.decode(), flush=True)
"#;

impl Victim {
    fn start() -> Victim {
        let mut child = python(VICTIM)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().parse().unwrap();
        Victim { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the buffer holds now; ends the victim.
    fn finish(mut self) -> String {
        self.child.stdin.take().unwrap().write_all(b"\n").unwrap();
        let out = self.child.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

const PTRACE_TRACEME: &str = r#"
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(0, 0, 0, 0) != 0:  # PTRACE_TRACEME
    sys.exit(f"ptrace(PTRACE_TRACEME): errno {ctypes.get_errno()}")
"#;

const PTRACE_ATTACH: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
pid = int(sys.argv[1])
if libc.ptrace(16, pid, 0, 0) != 0:  # PTRACE_ATTACH
    sys.exit(f"ptrace(PTRACE_ATTACH): errno {ctypes.get_errno()}")
os.waitpid(pid, 0)
libc.ptrace(17, pid, 0, 0)  # PTRACE_DETACH
"#;

const PROCESS_VM_WRITEV: &str = r#"
import ctypes, sys
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
libc = ctypes.CDLL(None, use_errno=True)
pid, addr, data = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
src = ctypes.create_string_buffer(data, len(data))
local, remote = iovec(ctypes.addressof(src), len(data)), iovec(addr, len(data))
n = libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
if n != len(data):
    sys.exit(f"process_vm_writev: {n}, errno {ctypes.get_errno()}")
"#;

const PROC_PID_MEM: &str = r#"
import sys
pid, addr, data = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
    mem.seek(addr)
    mem.write(data)
"#;

/// Opens `argv[1]` for writing and writes back exactly the bytes it read: the write is the
/// behaviour, and the host keeps its setting.
const REWRITE_SAME: &str = r#"
import sys
with open(sys.argv[1], "rb") as f:
    value = f.read()
with open(sys.argv[1], "wb") as f:
    f.write(value)
"#;

const CORE_PATTERN: &str = "/proc/sys/kernel/core_pattern";

const HOST_CASES: &[Case] = &[
    Case {
        rule: "Delete or truncate shell history",
        run: |c| {
            let history = c.path(&unique("hist")).join(".bash_history");
            std::fs::create_dir(history.parent().unwrap()).unwrap();
            std::fs::write(&history, "ls\n").unwrap();
            let pid = host(Command::new("rm").arg(&history));
            let history = history.to_str().unwrap();
            on_host(
                pid,
                history,
                vec![
                    ("priority", is("Warning")),
                    ("fd.name", is(history)),
                    ("proc.name", is("rm")),
                ],
            )
        },
    },
    Case {
        rule: "Remove bulk data from disk",
        run: |c| {
            let file = c.path(&unique("shred"));
            std::fs::write(&file, "customer records\n").unwrap();
            let pid = host(Command::new("shred").arg("-u").arg(&file));
            assert!(!file.exists());
            on_host(
                pid,
                format!("shred -u {}", file.display()),
                vec![("priority", is("Critical")), ("proc.name", is("shred"))],
            )
        },
    },
    Case {
        rule: "Create symlink over sensitive files",
        run: |c| {
            let link = c.path(&unique("symlink"));
            let pid = host(Command::new("ln").arg("-s").arg("/etc/shadow").arg(&link));
            let link = link.to_str().unwrap();
            on_host(
                pid,
                link,
                vec![
                    ("priority", is("Warning")),
                    ("fs.path.source", is("/etc/shadow")),
                    ("fs.path.target", is(link)),
                ],
            )
        },
    },
    Case {
        rule: "Set setuid or setgid bit",
        run: |c| {
            let file = c.path(&unique("suid"));
            std::fs::copy("/bin/true", &file).unwrap();
            let pid = host(Command::new("chmod").arg("u+s").arg(&file));
            let file = file.to_str().unwrap();
            on_host(
                pid,
                file,
                vec![
                    ("priority", is("Notice")),
                    ("fd.name", is(file)),
                    ("evt.arg.mode", has("S_ISUID")),
                ],
            )
        },
    },
    Case {
        rule: "LD_PRELOAD set for new process",
        run: |c| {
            // A real shared library (glibc's libdl stub) under a name of our own, so the
            // dynamic loader really loads it into the new process.
            let lib = c.path(&format!("lib{}.so", unique("preload")));
            std::fs::copy("/usr/lib/x86_64-linux-gnu/libdl.so.2", &lib).unwrap();
            let marker = unique("preloaded");
            let pid = host(
                Command::new("/bin/true")
                    .arg(&marker)
                    .env("LD_PRELOAD", &lib),
            );
            on_host(
                pid,
                marker,
                vec![
                    ("priority", is("Warning")),
                    ("proc.env[LD_PRELOAD]", is(lib.to_str().unwrap())),
                ],
            )
        },
    },
    Case {
        rule: "PTRACE anti-debug attempt",
        run: |_| {
            let marker = unique("traceme");
            let pid = host(python(PTRACE_TRACEME).arg(&marker));
            on_host(
                pid,
                marker,
                vec![("priority", is("Notice")), ("proc.name", is("python3"))],
            )
        },
    },
    Case {
        rule: "PTRACE attached to process",
        run: |_| {
            let mut target = Command::new("sleep").arg("600").spawn().unwrap();
            let target_pid = target.id();
            let marker = unique("attach");
            let pid = host(
                python(PTRACE_ATTACH)
                    .arg(target_pid.to_string())
                    .arg(&marker),
            );
            target.kill().unwrap();
            target.wait().unwrap();
            on_host(
                pid,
                marker,
                vec![
                    ("priority", is("Warning")),
                    ("evt.arg.request", is("PTRACE_ATTACH")),
                    ("evt.arg.pid", is(target_pid)),
                ],
            )
        },
    },
    Case {
        rule: "Process memory written with process_vm_writev",
        run: |_| {
            let victim = Victim::start();
            let target = victim.pid();
            let marker = unique("pvw");
            let pid = host(python(PROCESS_VM_WRITEV).args([
                target.to_string().as_str(),
                victim.addr.to_string().as_str(),
                "written-by-pvw!!",
                marker.as_str(),
            ]));
            assert_eq!(victim.finish(), "written-by-pvw!!");
            on_host(
                pid,
                marker,
                vec![("priority", is("Critical")), ("evt.arg.pid", is(target))],
            )
        },
    },
    Case {
        rule: "Process memory written through /proc/pid/mem",
        run: |_| {
            let victim = Victim::start();
            let target = victim.pid();
            let marker = unique("procmem");
            let pid = host(python(PROC_PID_MEM).args([
                target.to_string().as_str(),
                victim.addr.to_string().as_str(),
                "written-by-mem!!",
                marker.as_str(),
            ]));
            assert_eq!(victim.finish(), "written-by-mem!!");
            on_host(
                pid,
                marker,
                vec![
                    ("priority", is("Critical")),
                    ("fd.name", is(format!("/proc/{target}/mem"))),
                ],
            )
        },
    },
    Case {
        rule: "Modify core_pattern",
        run: |_| {
            let before = std::fs::read(CORE_PATTERN).unwrap();
            let marker = unique("core");
            let pid = host(python(REWRITE_SAME).args([CORE_PATTERN, marker.as_str()]));
            assert_eq!(std::fs::read(CORE_PATTERN).unwrap(), before);
            on_host(
                pid,
                marker,
                vec![("priority", is("Critical")), ("fd.name", is(CORE_PATTERN))],
            )
        },
    },
];

#[test]
fn host_behaviours() {
    let mut w = Watch::start(&[]);
    let ctx = Ctx::host();
    for case in HOST_CASES {
        let expect = (case.run)(&ctx);
        check(&mut w, case, expect);
    }
}

// ---------------------------------------------------------------------------------------------
// Containers

/// Runs `sh -c SCRIPT` in `c` and expects an alert from a process of `c` whose command line
/// contains `cmdline`.
fn contained(
    c: &Option<Container>,
    script: &str,
    cmdline: impl Into<String>,
    fields: Vec<(&'static str, Want)>,
) -> Expect {
    let c = c.as_ref().unwrap();
    c.sh(script);
    Expect {
        by: By::Container(c.id.clone(), c.name.clone()),
        cmdline: cmdline.into(),
        fields,
    }
}

const CONTAINER_CASES: &[Case] = &[
    Case {
        rule: "Packet socket created in container",
        run: |c| {
            let m = unique("packet");
            contained(
                &c.raw,
                &format!(
                    "python3 -c 'import socket; socket.socket(socket.AF_PACKET, socket.SOCK_RAW)' {m}"
                ),
                m,
                vec![("priority", is("Notice")), ("evt.arg.type", is("SOCK_RAW"))],
            )
        },
    },
    Case {
        rule: "Clear log activities",
        run: |c| {
            // A log written the way programs write logs (appending), then emptied.
            let m = unique("log");
            contained(
                &c.plain,
                &format!("echo entry >> /var/log/{m}.log && : > /var/log/{m}.log"),
                &m,
                vec![
                    ("priority", is("Warning")),
                    ("fd.name", is(format!("/var/log/{m}.log"))),
                ],
            )
        },
    },
    Case {
        rule: "Delete or truncate shell history",
        run: |c| {
            let m = unique("history");
            contained(
                &c.plain,
                &format!("echo ls >> /root/.bash_history && : > /root/.bash_history # {m}"),
                m,
                vec![
                    ("priority", is("Warning")),
                    ("fd.name", is("/root/.bash_history")),
                ],
            )
        },
    },
    Case {
        rule: "Remove bulk data from disk",
        run: |c| {
            // A new file system over a block device: a host loop device on an image file of
            // the container, detached afterwards.
            let m = unique("mkfs");
            contained(
                &c.privileged,
                &format!(
                    "truncate -s 4M /tmp/{m}.img && dev=$(losetup --find --show /tmp/{m}.img) && \
                     {{ mke2fs -q $dev; s=$?; losetup -d $dev; exit $s; }}"
                ),
                // The container is this test's own: the device names the behaviour.
                "mke2fs -q /dev/loop",
                vec![("priority", is("Critical")), ("proc.name", is("mke2fs"))],
            )
        },
    },
    Case {
        rule: "Remove bulk data from disk",
        run: |c| {
            let m = unique("dd");
            contained(
                &c.privileged,
                &format!(
                    "truncate -s 4M /tmp/{m}.img && dev=$(losetup --find --show /tmp/{m}.img) && \
                     {{ dd if=/dev/zero of=$dev bs=64k count=4 status=none; s=$?; losetup -d $dev; exit $s; }}"
                ),
                "dd if=/dev/zero of=/dev/loop",
                vec![("priority", is("Critical")), ("proc.name", is("dd"))],
            )
        },
    },
    Case {
        rule: "Create hardlink over sensitive files",
        run: |c| {
            let m = unique("hardlink");
            contained(
                &c.plain,
                &format!("ln /etc/shadow /root/{m}"),
                &m,
                vec![
                    ("priority", is("Warning")),
                    ("fs.path.source", is("/etc/shadow")),
                    ("fs.path.target", is(format!("/root/{m}"))),
                ],
            )
        },
    },
    Case {
        rule: "Create symlink over sensitive files",
        run: |c| {
            let m = unique("symlink");
            contained(
                &c.plain,
                &format!("ln -s /etc/sudoers.d /root/{m}"),
                &m,
                vec![
                    ("priority", is("Warning")),
                    ("fs.path.source", is("/etc/sudoers.d")),
                    ("fs.path.target", is(format!("/root/{m}"))),
                ],
            )
        },
    },
    Case {
        rule: "Write to ld.so.preload",
        run: |c| {
            let m = unique("preload");
            contained(
                &c.plain,
                &format!("echo /usr/lib/{m}.so > /etc/ld.so.preload"),
                m,
                vec![
                    ("priority", is("Critical")),
                    ("fd.name", is("/etc/ld.so.preload")),
                ],
            )
        },
    },
    Case {
        rule: "Write to ld.so.preload",
        run: |c| {
            // Written aside, then renamed into place.
            let m = unique("preload-mv");
            contained(
                &c.plain,
                &format!("echo /usr/lib/{m}.so > /etc/{m} && mv /etc/{m} /etc/ld.so.preload"),
                format!("mv /etc/{m} /etc/ld.so.preload"),
                vec![
                    ("priority", is("Critical")),
                    ("fd.name", is("/etc/ld.so.preload")),
                ],
            )
        },
    },
    Case {
        rule: "Persistence file modified",
        run: |c| {
            let m = unique("cron");
            contained(
                &c.plain,
                &format!(
                    "mkdir -p /etc/cron.d && echo '* * * * * root /tmp/{m}' > /etc/cron.d/{m}"
                ),
                &m,
                vec![
                    ("priority", is("Warning")),
                    ("fd.name", is(format!("/etc/cron.d/{m}"))),
                ],
            )
        },
    },
    Case {
        rule: "Persistence file modified",
        run: |c| {
            let m = unique("bashrc");
            contained(
                &c.plain,
                &format!("echo 'alias sudo=/tmp/{m}' >> /root/.bashrc"),
                m,
                vec![
                    ("priority", is("Warning")),
                    ("fd.name", is("/root/.bashrc")),
                ],
            )
        },
    },
    Case {
        rule: "Persistence file modified",
        run: |c| {
            // A systemd unit written aside and renamed into place.
            let m = unique("unit");
            contained(
                &c.plain,
                &format!(
                    "mkdir -p /etc/systemd/system && printf '[Service]\\nExecStart=/tmp/{m}\\n' > /tmp/{m}.service && \
                     mv /tmp/{m}.service /etc/systemd/system/{m}.service"
                ),
                format!("mv /tmp/{m}.service"),
                vec![
                    ("priority", is("Warning")),
                    ("fd.name", is(format!("/etc/systemd/system/{m}.service"))),
                ],
            )
        },
    },
    Case {
        rule: "SSH authorized_keys modified",
        run: |c| {
            let m = unique("sshkey");
            contained(
                &c.plain,
                &format!(
                    "mkdir -p /root/.ssh && echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 {m}' >> /root/.ssh/authorized_keys"
                ),
                m,
                vec![
                    ("priority", is("Warning")),
                    ("fd.name", is("/root/.ssh/authorized_keys")),
                ],
            )
        },
    },
    Case {
        rule: "Sudoers file modified",
        run: |c| {
            let m = unique("sudoers");
            contained(
                &c.plain,
                &format!(
                    "mkdir -p /etc/sudoers.d && echo 'nobody ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/{m}"
                ),
                &m,
                vec![
                    ("priority", is("Error")),
                    ("fd.name", is(format!("/etc/sudoers.d/{m}"))),
                ],
            )
        },
    },
    Case {
        rule: "Write below binary dir",
        run: |c| {
            let m = unique("usrbin");
            contained(
                &c.plain,
                &format!("cp /bin/true /usr/bin/{m}"),
                &m,
                vec![
                    ("priority", is("Error")),
                    ("fd.name", is(format!("/usr/bin/{m}"))),
                ],
            )
        },
    },
    Case {
        rule: "Write below binary dir",
        run: |c| {
            let m = unique("localsbin");
            contained(
                &c.plain,
                &format!("mkdir -p /usr/local/sbin && cp /bin/true /usr/local/sbin/{m}"),
                format!("cp /bin/true /usr/local/sbin/{m}"),
                vec![
                    ("priority", is("Error")),
                    ("fd.name", is(format!("/usr/local/sbin/{m}"))),
                ],
            )
        },
    },
    Case {
        rule: "Linux kernel module injection",
        run: |c| {
            // The image has no kmod (and this kernel has no module support at all): a copy of
            // /bin/true named insmod is exec'd the way an intruder runs insmod.
            let m = unique("insmod");
            contained(
                &c.plain,
                &format!("cp /bin/true /tmp/insmod && /tmp/insmod /tmp/{m}.ko"),
                format!("insmod /tmp/{m}.ko"),
                vec![("priority", is("Warning")), ("proc.name", is("insmod"))],
            )
        },
    },
    Case {
        rule: "Debugfs launched in container",
        run: |c| {
            let m = unique("debugfs");
            contained(
                &c.privileged,
                &format!(
                    "truncate -s 4M /tmp/{m}.img && mke2fs -q /tmp/{m}.img && debugfs -R stats /tmp/{m}.img > /dev/null"
                ),
                format!("debugfs -R stats /tmp/{m}.img"),
                vec![
                    ("priority", is("Warning")),
                    ("proc.name", is("debugfs")),
                    ("container.privileged", is(true)),
                ],
            )
        },
    },
    Case {
        rule: "Detect release_agent file container escapes",
        run: |c| {
            // The cgroup v1 escape's write as published (a hierarchy mounted under /tmp), from
            // a privileged container, into a named hierarchy of its own: no controller, so no
            // host cgroup is touched, and it is gone at umount; notify_on_release stays 0, so
            // the agent never runs.
            let m = unique("cgrp");
            let dir = format!("/tmp/{m}");
            contained(
                &c.privileged,
                &format!(
                    "mkdir {dir} && mount -t cgroup -o none,name={m} cgroup {dir} && \
                     echo /tmp/{m}.sh > {dir}/release_agent && umount {dir}"
                ),
                &m,
                vec![
                    ("priority", is("Critical")),
                    ("fd.name", is(format!("{dir}/release_agent"))),
                ],
            )
        },
    },
    Case {
        rule: "Modify core_pattern",
        run: |c| {
            // A privileged container writes the host's core_pattern: back to the value it
            // read, so the host keeps its setting.
            let m = unique("core");
            let before = std::fs::read(CORE_PATTERN).unwrap();
            let expect = contained(
                &c.privileged,
                &format!("v=$(cat {CORE_PATTERN}) && echo \"$v\" > {CORE_PATTERN} # {m}"),
                m,
                vec![("priority", is("Critical")), ("fd.name", is(CORE_PATTERN))],
            );
            assert_eq!(std::fs::read(CORE_PATTERN).unwrap(), before);
            expect
        },
    },
    Case {
        rule: "Mount host device in container",
        run: |c| {
            // A host loop device (attached by mount, detached again at umount) on an image
            // file inside the container, mounted read-only.
            let m = unique("mount");
            contained(
                &c.privileged,
                &format!(
                    "truncate -s 4M /tmp/{m}.img && mke2fs -q /tmp/{m}.img && mkdir /mnt/{m} && \
                     mount -o loop,ro /tmp/{m}.img /mnt/{m} && umount /mnt/{m}"
                ),
                format!("mount -o loop,ro /tmp/{m}.img /mnt/{m}"),
                vec![
                    ("priority", is("Critical")),
                    ("evt.arg.source", starts("/dev/loop")),
                    ("evt.arg.fstype", is("ext2")),
                    ("fd.name", is(format!("/mnt/{m}"))),
                ],
            )
        },
    },
];

#[test]
fn container_behaviours() {
    let mut w = Watch::start(&[]);
    let ctx = Ctx::containers();
    for case in CONTAINER_CASES {
        let expect = (case.run)(&ctx);
        check(&mut w, case, expect);
    }
    // Starting a container is not mounting a host device, though runc's init bind-mounts
    // /dev/null over masked paths (/proc/keys...) in every container it starts.
    for c in [&ctx.plain, &ctx.raw] {
        let c = c.as_ref().unwrap();
        w.barrier_in(c);
        w.assert_no_alert(|a| {
            a["rule"] == "Mount host device in container"
                && a["output_fields"]["container.id"]
                    .as_str()
                    .is_some_and(|short| c.id.starts_with(short))
        });
    }
}
