//! The shared harness of the live detection tests: the real `kestrel watch --format json` (root,
//! real eBPF sensor, the built-in rules), its alerts collected on a background thread, and real
//! podman containers of the test image.
//!
//! Every sensor sees every process of the machine, and tests run in parallel (and beside other
//! work), so a test identifies its behaviours by markers of its own ([`unique`]: temp dir names,
//! command-line words, ports, pids), never by "the next alert".
//!
//! Readiness and ordering are proven with the pipeline itself rather than with sleeps: each watch
//! loads one extra rule that matches only the exec of a token of its own; [`Watch::start`]
//! returns once the alert for that exec came back (sensor attached, rules evaluated, stdout
//! flowing), and [`Watch::barrier`] uses the same token to know that every event before it has
//! been evaluated, which is what makes [`Watch::assert_no_alert`] meaningful without a timer.
//!
//! Each test file uses a part of this module.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");

/// The rule each watch adds to the built-in ones to prove the pipeline end to end.
pub const BARRIER_RULE: &str = "Kestrel test barrier";

/// Programs that pass a barrier word on to the marker exec rather than being it.
const LAUNCHERS: &[&str] = &[
    "podman", "conmon", "runc", "crun", "nsenter", "ip", "kubectl",
];

/// How long a behaviour's alert may take: generous, because the machine is shared and
/// container metadata lookups hold events; a correct run never waits for it.
pub const ALERT_TIMEOUT: Duration = Duration::from_secs(60);

/// A word no other test or process on the machine uses: `kt-<what>-<pid>-<n>`.
pub fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "kt-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A running `kestrel watch --format json` with a podman API service beside it (so that alerts
/// carry container names and images, as on a node). Stopped with SIGINT on drop.
pub struct Watch {
    child: Child,
    service: kestrel_testenv::PodmanService,
    alerts: mpsc::Receiver<Value>,
    seen: Vec<Value>,
    log: Arc<Mutex<Vec<String>>>,
    /// Indexes of log lines a [`Watch::wait_log`] already returned for.
    log_used: Vec<usize>,
    token: String,
    barriers: u32,
    dir: tempfile::TempDir,
}

impl Watch {
    /// Starts `kestrel watch --format json EXTRA_ARGS` and returns once it is live.
    pub fn start(extra_args: &[&str]) -> Watch {
        Watch::start_with_config("", extra_args)
    }

    /// As [`Watch::start`], with `config` (TOML) added to the configuration file. The harness
    /// itself sets `[container] podman_socket`.
    pub fn start_with_config(config: &str, extra_args: &[&str]) -> Watch {
        let dir = tempfile::tempdir().unwrap();
        let service = kestrel_testenv::PodmanService::start().expect("podman system service");
        let socket = service.socket().to_path_buf();

        let token = unique("barrier");
        let rules = dir.path().join("barrier.yaml");
        std::fs::write(
            &rules,
            format!(
                "- rule: {BARRIER_RULE}\n  desc: the test harness's own marker exec\n  condition: evt.type in (execve, execveat) and proc.args contains \"{token}\"\n  output: \"barrier %proc.cmdline\"\n  priority: DEBUG\n  tags: [test]\n"
            ),
        )
        .unwrap();
        let cfg = dir.path().join("kestrel.toml");
        std::fs::write(
            &cfg,
            format!(
                "[container]\npodman_socket = {:?}\n{config}\n",
                socket.display().to_string()
            ),
        )
        .unwrap();

        let mut child = Command::new(KESTREL)
            .arg("--config")
            .arg(&cfg)
            .args(["watch", "--format", "json", "--rules"])
            .arg(&rules)
            .args(extra_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, alerts) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("watch printed a line that is not JSON: {line}: {e}")
                });
                // Sensor health events are printed too; only alerts carry a rule.
                if v.get("rule").is_some() && tx.send(v).is_err() {
                    return;
                }
            }
        });
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut w = Watch {
            child,
            service,
            alerts,
            seen: Vec::new(),
            log,
            log_used: Vec::new(),
            token,
            barriers: 0,
            dir,
        };
        // The eBPF attach takes seconds, more on a busy machine.
        w.barrier_within(Duration::from_secs(180), None, |word| {
            host_marker(word);
        });
        w
    }

    /// A scratch directory that lives as long as the watch.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The word that, in the arguments of an exec anywhere (host or container), raises
    /// [`BARRIER_RULE`]; [`Watch::barrier`] appends a counter to it.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Returns once every event that happened before it has gone through the rules: it runs
    /// `run(word)`, which must exec a program with `word` among its arguments (where: host, or
    /// a container whose events must be flushed too), and waits for that exec's alert (not for
    /// that of a launcher such as `podman exec` that passes the word on; prefer
    /// [`Watch::barrier_in`] or [`Watch::barrier_in_container`] for containers, which also
    /// check the container id).
    pub fn barrier(&mut self, run: impl Fn(&str)) {
        self.barrier_within(ALERT_TIMEOUT, None, run);
    }

    /// [`Watch::barrier`] with a marker exec on the host.
    pub fn barrier_host(&mut self) {
        self.barrier(host_marker);
    }

    /// [`Watch::barrier`] with a marker exec inside `c`: also flushes that container's events,
    /// which the sensor may hold while it looks up the container's metadata.
    pub fn barrier_in(&mut self, c: &Container) {
        self.barrier_in_container(c.short_id(), |word| c.marker(word));
    }

    /// [`Watch::barrier`] for a container this harness did not start (the test Pod's):
    /// `run(word)` execs the marker inside the container whose `container.id` is `short_id`.
    pub fn barrier_in_container(&mut self, short_id: &str, run: impl Fn(&str)) {
        self.barrier_within(ALERT_TIMEOUT, Some(short_id), run);
    }

    fn barrier_within(&mut self, timeout: Duration, container: Option<&str>, run: impl Fn(&str)) {
        self.barriers += 1;
        let word = format!("{}-{}", self.token, self.barriers);
        let deadline = Instant::now() + timeout;
        loop {
            // Repeated: before the sensor is attached the exec is simply not seen.
            run(&word);
            let poll_until = (Instant::now() + Duration::from_millis(500)).min(deadline);
            let found = self.wait_until(poll_until, |a| {
                a["rule"] == BARRIER_RULE
                    && container.is_none_or(|id| a["output_fields"]["container.id"] == id)
                    // `podman exec C /bin/true WORD` carries the word too, on the host and
                    // before the exec inside the container: only the marker itself counts.
                    && !a["output_fields"]["proc.name"]
                        .as_str()
                        .is_some_and(|n| LAUNCHERS.contains(&n))
                    && a["output_fields"]["proc.cmdline"]
                        .as_str()
                        .is_some_and(|c| c.split(' ').any(|w| w == word))
            });
            if found.is_some() {
                return;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("kestrel watch exited ({status}); log:\n{}", self.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "kestrel watch did not report the marker exec {word:?}; log:\n{}",
                self.log_text()
            );
        }
    }

    /// Receives alerts until one satisfies `pred` or `deadline` passes.
    fn wait_until(&mut self, deadline: Instant, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.alerts.recv_timeout(left) {
                Ok(a) => {
                    let hit = pred(&a);
                    self.seen.push(a);
                    if hit {
                        return self.seen.last().cloned();
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// The first alert of `rule` satisfying `pred`, received before or within `timeout`;
    /// panics with the alerts of that rule seen so far (what did not match) and the log.
    pub fn wait_alert(
        &mut self,
        rule: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        let matches = |a: &Value| a["rule"] == rule && pred(a);
        if let Some(a) = self.seen.iter().find(|a| matches(a)) {
            return a.clone();
        }
        if let Some(a) = self.wait_until(Instant::now() + timeout, matches) {
            return a;
        }
        panic!(
            "no matching alert {rule:?} within {timeout:?}; alerts of this rule seen: {:#?}\n({} alerts in all); log:\n{}",
            self.seen_of(rule),
            self.seen.len(),
            self.log_text()
        );
    }

    /// As [`Watch::wait_alert`], but `None` instead of a panic, so that a test can report every
    /// missing alert at once.
    pub fn find_alert(
        &mut self,
        rule: &str,
        pred: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        let matches = |a: &Value| a["rule"] == rule && pred(a);
        if let Some(a) = self.seen.iter().find(|a| matches(a)) {
            return Some(a.clone());
        }
        self.wait_until(Instant::now() + timeout, matches)
    }

    /// The alerts of `rule` received so far.
    pub fn seen_of(&self, rule: &str) -> Vec<&Value> {
        self.seen.iter().filter(|a| a["rule"] == rule).collect()
    }

    /// Fails if an alert received so far satisfies `pred`. Call it after a [`Watch::barrier`]
    /// that covers the behaviour: the barrier is what guarantees the alert would be here.
    pub fn assert_no_alert(&mut self, pred: impl Fn(&Value) -> bool) {
        while let Ok(a) = self.alerts.try_recv() {
            self.seen.push(a);
        }
        let bad: Vec<&Value> = self.seen.iter().filter(|a| pred(a)).collect();
        assert!(bad.is_empty(), "unexpected alerts: {bad:#?}");
    }

    /// Every alert received so far.
    pub fn seen(&mut self) -> &[Value] {
        while let Ok(a) = self.alerts.try_recv() {
            self.seen.push(a);
        }
        &self.seen
    }

    /// Waits until watch logs a line for which `pred` holds, one not returned for before (so that
    /// waiting for the same kind of line again waits for a new one); lines may arrive in any
    /// order.
    pub fn wait_log(&mut self, pred: impl Fn(&str) -> bool, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let hit = {
                let log = self.log.lock().unwrap();
                (0..log.len()).find(|i| !self.log_used.contains(i) && pred(&log[*i]))
            };
            if let Some(i) = hit {
                self.log_used.push(i);
                return;
            }
            assert!(
                Instant::now() < deadline,
                "watch never logged {what}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Everything watch has logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        );
        let _ = self.child.wait();
    }
}

/// Execs `/bin/true WORD` on the host.
pub fn host_marker(word: &str) {
    let status = Command::new("/bin/true").arg(word).status().unwrap();
    assert!(status.success());
}

/// What an alert field must be, in [`fields_match`] and the test files' `check` helpers.
#[derive(Debug, Clone)]
pub enum Want {
    /// Exactly this JSON value.
    Is(Value),
    /// A string containing this text.
    Has(String),
    /// A string starting with this text.
    Starts(String),
}

pub fn is(v: impl Into<Value>) -> Want {
    Want::Is(v.into())
}

pub fn has(s: impl Into<String>) -> Want {
    Want::Has(s.into())
}

pub fn starts(s: impl Into<String>) -> Want {
    Want::Starts(s.into())
}

impl Want {
    pub fn matches(&self, v: &Value) -> bool {
        match self {
            Want::Is(want) => v == want,
            Want::Has(s) => v.as_str().is_some_and(|t| t.contains(s.as_str())),
            Want::Starts(s) => v.as_str().is_some_and(|t| t.starts_with(s.as_str())),
        }
    }
}

/// Whether every `(field, want)` holds in the alert's `output_fields` (`tags` and `priority`
/// are looked up at the top level).
pub fn fields_match(alert: &Value, wants: &[(&str, Want)]) -> bool {
    wants.iter().all(|(field, want)| {
        let v = match *field {
            "priority" | "tags" | "rule" | "source" => &alert[*field],
            f => &alert["output_fields"][f],
        };
        want.matches(v)
    })
}

/// The test image, loaded in podman.
pub fn image() -> kestrel_testenv::TestImage {
    kestrel_testenv::TestImage::get().expect("the test image (tests/env, kestrel-testenv)")
}

/// A container of the test image running `sleep infinity`, removed on drop. Behaviours run in
/// it with [`Container::exec`]; processes started that way are in the container's cgroup.
pub struct Container {
    pub id: String,
    pub name: String,
}

impl Container {
    /// Starts one; `podman_args` go before the image (`--network none` unless they name a
    /// network: no test traffic may leave the machine).
    pub fn start(what: &str, podman_args: &[&str]) -> Container {
        let image = image();
        let name = unique(what);
        let mut cmd = kestrel_testenv::podman();
        cmd.args(["run", "-d", "--name", &name]);
        if !podman_args.iter().any(|a| a.starts_with("--network")) {
            cmd.arg("--network=none");
        }
        cmd.args(podman_args)
            .arg(image.podman_ref())
            .args(["sleep", "infinity"]);
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "podman run failed: {out:?}");
        let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        assert_eq!(id.len(), 64, "podman run printed {id:?}");
        Container { id, name }
    }

    /// The id as alerts carry it in `container.id`: its first 12 hex digits, as in Falco and
    /// `podman ps`.
    pub fn short_id(&self) -> &str {
        &self.id[..12]
    }

    /// `podman exec CONTAINER ARGS...`, to completion.
    pub fn exec(&self, args: &[&str]) -> Output {
        self.exec_with(&[], args)
    }

    /// `podman exec PODMAN_ARGS CONTAINER ARGS...` (e.g. `-t`, `-u`, `-e`), to completion.
    pub fn exec_with(&self, podman_args: &[&str], args: &[&str]) -> Output {
        kestrel_testenv::podman()
            .arg("exec")
            .args(podman_args)
            .arg(&self.id)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs `sh -c SCRIPT` in the container and fails unless it succeeds; returns stdout.
    pub fn sh(&self, script: &str) -> String {
        let out = self.exec(&["sh", "-c", script]);
        assert!(
            out.status.success(),
            "in container {}: sh -c {script:?}: {out:?}",
            self.name
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Copies a host file into the container (`podman cp`).
    pub fn copy_in(&self, host: &Path, inside: &str) {
        let out = kestrel_testenv::podman()
            .arg("cp")
            .arg(host)
            .arg(format!("{}:{inside}", self.id))
            .output()
            .unwrap();
        assert!(out.status.success(), "podman cp: {out:?}");
    }

    /// Execs the barrier word inside this container, for [`Watch::barrier`].
    pub fn marker(&self, word: &str) {
        let out = self.exec(&["/bin/true", word]);
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = kestrel_testenv::podman()
            .args(["rm", "-f", "-t", "0", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A network namespace of our own (`ip netns add`), deleted on drop: addresses such as the
/// cloud metadata service or a cluster's API service address exist only inside it, so traffic to
/// them never leaves the machine. Containers join it with `--network ns:/run/netns/NAME`.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    /// Creates it with loopback up and each of `addrs` (CIDR, e.g. `169.254.169.254/32`) on it
    /// (this kernel has no dummy interfaces; a non-127 address on `lo` is an ordinary local
    /// address to the programs that use it).
    pub fn new(addrs: &[&str]) -> NetNs {
        let name = unique("ns");
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = NetNs { name };
        ns.ip(&["link", "set", "lo", "up"]);
        for a in addrs {
            ns.ip(&["addr", "add", a, "dev", "lo"]);
        }
        ns
    }

    fn ip(&self, args: &[&str]) {
        run(Command::new("ip").args(["-n", &self.name]).args(args));
    }

    /// The `podman run` argument that puts a container in this namespace.
    pub fn podman_arg(&self) -> String {
        format!("--network=ns:/run/netns/{}", self.name)
    }

    /// `ip netns exec NAME ARGS...` as a command to be spawned.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name]).args(args);
        c
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .status();
    }
}

/// TCP listeners that accept and close every connection, as `ip netns exec NS python3` (so that
/// connections to addresses of the namespace succeed), stopped on drop.
pub struct Listeners {
    child: Child,
}

const LISTEN_PY: &str = r#"
import socket, sys, threading
def serve(s):
    while True:
        c, _ = s.accept()
        c.close()
for a in sys.argv[1:]:
    h, p = a.rsplit(':', 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((h, int(p)))
    s.listen(16)
    threading.Thread(target=serve, args=(s,), daemon=True).start()
print('ready', flush=True)
sys.stdin.read()
"#;

/// A DNS server on 127.0.0.1:53 that answers every A question with 10.77.0.9.
const DNS_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 53))
print('ready', flush=True)
while True:
    q, addr = s.recvfrom(512)
    ans = q[:2] + b'\x81\x80' + q[4:6] + b'\x00\x01\x00\x00\x00\x00' + q[12:] + b'\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x4d\x00\x09'
    s.sendto(ans, addr)
"#;

impl NetNs {
    /// Listens on each `addr:port` inside the namespace.
    pub fn listen(&self, addrs: &[&str]) -> Listeners {
        let mut cmd = self.command(&["/usr/bin/python3", "-c", LISTEN_PY]);
        cmd.args(addrs);
        Listeners::spawn(cmd)
    }

    /// A DNS server on the namespace's 127.0.0.1:53 answering every question with 10.77.0.9.
    pub fn dns_server(&self) -> Listeners {
        Listeners::spawn(self.command(&["/usr/bin/python3", "-c", DNS_PY]))
    }
}

impl Listeners {
    fn spawn(mut cmd: Command) -> Listeners {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "listener did not start: {cmd:?}");
        Listeners { child }
    }
}

impl Drop for Listeners {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `cmd` to completion and fails unless it succeeds.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {out:?}");
    out
}

/// A copy of the host program `from` at `dir/name`: a program of that name (task comm and
/// exe path), for tools the machine does not have (the rules match names and paths; what
/// matters is that the exec, the file access or the connection really happens).
///
/// The copy is made by `cp`, not in this process: while this process held the new file open
/// for writing, a test thread forking at that moment would hand the write descriptor to its
/// child until that child's exec, and executing the copy would then fail with ETXTBSY.
pub fn renamed_copy(from: &str, dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    run(Command::new("cp").arg("--").arg(from).arg(&p));
    p
}

/// Runs `prog -c 'touch MARKER'` (removing an earlier marker first); returns how it ended and
/// whether the marker exists, i.e. whether the program ran its command.
pub fn run_touch(prog: &Path, marker: &Path) -> (std::process::ExitStatus, bool) {
    let _ = std::fs::remove_file(marker);
    let status = Command::new(prog)
        .arg("-c")
        .arg(format!("touch {}", marker.display()))
        .status()
        .unwrap();
    (status, marker.exists())
}

/// An `action: kill` rule named `name` for the execs matching `condition`.
pub fn kill_rule(name: &str, condition: &str) -> String {
    format!(
        "- rule: {name}\n  desc: a program that must never run\n  condition: evt.type in (execve, execveat) and {condition}\n  output: \"forbidden program %proc.name (exe=%proc.exepath)\"\n  priority: CRITICAL\n  action: kill\n"
    )
}

/// GET over HTTP/1.0 from a Kestrel server with a bearer token (the server closes the
/// connection after an unchunked body): the status and the body.
pub fn http_get(addr: &str, path: &str, token: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// [`http_get`] of a JSON document, which must answer 200.
pub fn get_json(addr: &str, path: &str, token: &str) -> Value {
    let (status, body) = http_get(addr, path, token);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The vulnerability database's test advisories (real OSV, GHSA and KEV records).
fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kestrel-vulndb/testdata")
}

/// A vulnerability database at `db` built from [`testdata`] with `kestrel db import`.
pub fn import_db(db: &Path) {
    let d = testdata();
    let out = Command::new(KESTREL)
        .args(["db", "import", "--db"])
        .arg(db)
        .arg(d.join("osv/PyPI/all.zip"))
        .arg(d.join("osv/PyPI-ghsa/all.zip"))
        .arg(d.join("osv/npm/all.zip"))
        .arg(d.join("kev/known_exploited_vulnerabilities.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "db import failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
