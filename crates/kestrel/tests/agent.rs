//! `kestrel agent` end to end, as root: a real `kestrel server` on 127.0.0.1 with SQLite, an
//! agent with the eBPF sensor and a small advisory database built from the repository's test
//! data, and the real test Pod started under it. The server must end up holding the Pod's
//! workload and its vulnerabilities ranked by runtime risk, with reasons, as the agent's
//! periodic assessment ships them.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{get_json as get, import_db, kill_rule, run_touch};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kestrel");

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cmd` with piped stdout and waits for a stdout line containing `marker`; returns the
/// process and that line. Stdout is drained afterwards so the child never blocks on it.
fn start_until(cmd: &mut Command, marker: &'static str) -> (Running, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap_or_default();
            if line.contains(marker) {
                let _ = tx.send(line);
            }
        }
    });
    let running = Running(child);
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("no {marker:?} line from {cmd:?}: {e}"));
    (running, line)
}

fn token(database: &str, role: &str) -> String {
    let out = Command::new(BIN)
        .args(["server", "--database", database, "token", "--role", role])
        .args(if role == "agent" {
            &["--cluster", "test"][..]
        } else {
            &[][..]
        })
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A `kestrel server` on 127.0.0.1 with SQLite in `dir`, and tokens for it.
struct Server {
    _process: Running,
    url: String,
    /// `host:port`, for `get`.
    addr: String,
    agent_token: String,
    read_token: String,
}

impl Server {
    fn start(dir: &std::path::Path) -> Server {
        let database = format!("sqlite://{}", dir.join("server.db").display());
        let agent_token = token(&database, "agent");
        let read_token = token(&database, "read");
        let (process, line) = start_until(
            Command::new(BIN).args(["server", "--listen", "127.0.0.1:0", "--database", &database]),
            "listening on",
        );
        let url = line.rsplit(' ').next().unwrap().to_owned();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        Server {
            _process: process,
            url,
            addr,
            agent_token,
            read_token,
        }
    }

    /// `kestrel agent` with `config`, shipping here as node-1 of cluster `test`, started once
    /// it prints its banner (its sensor attached, its kill maps filled).
    fn agent(&self, config: &std::path::Path, dir: &std::path::Path) -> Running {
        start_until(
            Command::new(BIN)
                .arg("--config")
                .arg(config)
                .args(["agent", "--server", &self.url, "--token", &self.agent_token])
                .args(["--cluster", "test", "--node", "node-1", "--buffer-dir"])
                .arg(dir.join("buffer")),
            "kestrel agent shipping to",
        )
        .0
    }
}

/// Calls `f` until it returns a value, for at most `limit`; fails naming `what` after that.
fn wait_until<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The cluster objects the agent reads for exposure and environment.
const CLUSTER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {environment: production}}
---
apiVersion: v1
kind: Service
metadata: {name: shop-web, namespace: shop}
spec: {selector: {app: shop}, ports: [{port: 8080}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: public, namespace: infra}
spec:
  gatewayClassName: example
  listeners:
  - {name: https, protocol: HTTPS, port: 443, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: infra}]
  rules: [{backendRefs: [{name: shop-web, port: 8080}]}]
"#;

#[test]
fn agent_ships_workloads_and_ranked_findings() {
    let image = kestrel_testenv::TestImage::get().expect("test image");
    let tmp = tempfile::tempdir().unwrap();
    let advisories = tmp.path().join("advisories.db");
    import_db(&advisories);
    let server = Server::start(tmp.path());
    let (addr, read_token) = (&server.addr, &server.read_token);

    let podman = kestrel_testenv::PodmanService::start().expect("podman system service");
    let socket = podman.socket();
    let cluster = tmp.path().join("cluster.yaml");
    std::fs::write(&cluster, CLUSTER).unwrap();
    let config = tmp.path().join("kestrel.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nrisk_interval_secs = 5\nrisk_first_delay_secs = 1\nk8s_files = [{cluster:?}]\n\
             [db]\npath = {advisories:?}\n[risk]\nmin_observation_secs = 5\n\
             [container]\npodman_socket = {socket:?}\n"
        ),
    )
    .unwrap();
    // The sensor is attached when the agent prints its banner: the Pod is observed from its
    // start, so packages it never loads can be judged "not in use".
    let _agent = server.agent(&config, tmp.path());
    let pod = kestrel_testenv::TestPod::start(&image).expect("test pod");

    // Assessments run every 5 s; wait until one has seen the Pod long enough to tell unused
    // packages (django) from used ones (requests).
    let deadline = Instant::now() + Duration::from_secs(240);
    let (workloads, vulns) = loop {
        let w = get(addr, "/api/v1/workloads?namespace=shop", read_token);
        let v = get(
            addr,
            "/api/v1/vulnerabilities?namespace=shop&limit=1000",
            read_token,
        );
        let settled = v["items"].as_array().unwrap().iter().any(|f| {
            f["package"]["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case("django")
                && f["in_use"] == "no"
        });
        if settled {
            break (w, v);
        }
        assert!(
            Instant::now() < deadline,
            "the server never received a settled ranking:\n{w:#}\n{v:#}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };

    // The Pod is one workload with both containers' images, exposed through the Gateway.
    let shop: Vec<&Value> = workloads["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["name"] == "shop-web")
        .collect();
    assert_eq!(shop.len(), 1, "{workloads:#}");
    let w = shop[0];
    assert_eq!(w["cluster"], "test");
    assert_eq!(w["kind"], "Pod");
    assert_eq!(w["environment"], "production");
    assert_eq!(w["exposure"], "internet", "{w:#}");
    assert!(
        w["exposure_routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "exposed on 443 via Gateway infra/public (HTTPRoute shop/shop)"),
        "{w:#}"
    );
    assert!(w["images"].as_array().unwrap().len() >= 2, "{w:#}");

    // Findings are ranked with reasons: requests is loaded by python, django never is, and
    // every finding in a loaded package outranks every one in a package never loaded.
    let items = vulns["items"].as_array().unwrap();
    let of = |name: &str| -> Vec<&Value> {
        items
            .iter()
            .filter(|f| {
                f["package"]["name"]
                    .as_str()
                    .unwrap()
                    .eq_ignore_ascii_case(name)
            })
            .collect()
    };
    let requests = of("requests");
    assert!(!requests.is_empty(), "{vulns:#}");
    for f in &requests {
        assert_eq!(f["in_use"], "yes", "{f:#}");
        assert_eq!(f["workload"]["name"], "shop-web");
        let reasons: Vec<&str> = f["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap())
            .collect();
        assert!(reasons[0].contains("by python"), "{f:#}");
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("via Gateway infra/public")),
            "{f:#}"
        );
    }
    let django = of("django");
    assert!(django.iter().all(|f| f["in_use"] == "no"), "{django:#?}");
    // Per image (container), since alerts raised on one container raise only its scores.
    let mut images: Vec<&str> = items.iter().map(|f| f["image"].as_str().unwrap()).collect();
    images.sort();
    images.dedup();
    for image in images {
        let scores = |state: &str| {
            items
                .iter()
                .filter(|f| f["image"] == image && f["in_use"] == state)
                .map(|f| f["score"].as_f64().unwrap())
                .collect::<Vec<_>>()
        };
        let min_used = scores("yes").into_iter().fold(f64::INFINITY, f64::min);
        let max_unused = scores("no").into_iter().fold(f64::NEG_INFINITY, f64::max);
        assert!(min_used > max_unused, "{image}: {min_used} <= {max_unused}");
    }

    // A terminal shell in the python container (what `kubectl exec -it` opens) raises an alert
    // there: the next assessments count the workload as attacked, and its findings say so.
    let python = pod.container("python").unwrap();
    let out = kestrel_testenv::podman()
        .args(["exec", "-t", &python.podman_name, "bash", "-c", "true"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // Other rules may fire on the Pod too: the reason counts them all and names each rule.
    let names_the_rule = |r: &Value| {
        r.as_str().is_some_and(|r| {
            r.contains("alert(s) on the workload (") && r.contains("Terminal shell in container")
        })
    };
    wait_until(
        "a finding that names the terminal shell alert",
        Duration::from_secs(120),
        || {
            let v = get(
                addr,
                "/api/v1/vulnerabilities?namespace=shop&limit=1000",
                read_token,
            );
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["reasons"].as_array().unwrap().iter().any(names_the_rule))
                .then_some(())
        },
    );
    // The alert itself reached the server with the Pod's identity, so it is found by namespace
    // and pod (the agent's events are resolved through the container runtime).
    let alerts = get(
        addr,
        &format!(
            "/api/v1/alerts?namespace={}&pod={}&rule=Terminal%20shell%20in%20container",
            pod.namespace(),
            pod.name()
        ),
        read_token,
    );
    let a = alerts["items"]
        .as_array()
        .unwrap()
        .first()
        .unwrap_or_else(|| panic!("no terminal shell alert for the Pod: {alerts:#}"));
    let fields = &a["alert"]["output_fields"];
    assert_eq!(fields["container.id"], &python.id.as_str()[..12], "{a:#}");
    assert_eq!(fields["k8s.pod.name"], pod.name(), "{a:#}");
    assert_eq!(fields["k8s.ns.name"], pod.namespace(), "{a:#}");
    assert_eq!(a["node"], "node-1", "{a:#}");
    // And so the workload's page lists it.
    let page = get(
        addr,
        &format!(
            "/api/v1/workloads/test/{}/Pod/{}",
            pod.namespace(),
            pod.name()
        ),
        read_token,
    );
    assert!(
        page["alerts"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == a["id"]),
        "{page:#}"
    );
    drop(pod);
}

/// `[detection] enforcement = "kill"` in the agent: a program a kill rule names is killed by the
/// kernel at exec, before it runs anything, and the alert reaches the server with the verdict.
/// SIGHUP reloads the rules, and the kernel's kill targets with them.
#[test]
fn agent_enforces_kill_rules_and_ships_the_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(tmp.path());
    let (addr, read_token) = (&server.addr, &server.read_token);
    let rules = tmp.path().join("kill.yaml");
    let rule = |name: &str| kill_rule("Forbidden on the node", &format!("proc.name = {name}"));
    std::fs::write(&rules, rule("agentkill")).unwrap();
    let config = tmp.path().join("kestrel.toml");
    std::fs::write(
        &config,
        format!(
            "[agent]\nrisk_interval_secs = 0\n\
             [detection]\nbuiltin_rules = false\nrules_files = [{rules:?}]\nenforcement = \"kill\"\n\
             reload_interval_secs = 0\n"
        ),
    )
    .unwrap();
    // The kill maps are filled before the agent prints its banner.
    let agent = server.agent(&config, tmp.path());
    let prog = common::renamed_copy("/bin/sh", tmp.path(), "agentkill");
    let marker = tmp.path().join("ran");
    // How a program ended (the signal that killed it) and whether it ran its command.
    let run = |prog: &std::path::Path| {
        let (status, ran) = run_touch(prog, &marker);
        (status.signal(), ran)
    };
    assert_eq!(run(&prog), (Some(9), false), "killed at exec");

    let alert = wait_until("the alert on the server", Duration::from_secs(60), || {
        let alerts = get(
            addr,
            "/api/v1/alerts?rule=Forbidden%20on%20the%20node",
            read_token,
        );
        alerts["items"].as_array().unwrap().first().cloned()
    });
    assert_eq!(alert["alert"]["action"], "killed", "{alert:#}");
    assert_eq!(
        alert["alert"]["output_fields"]["proc.exepath"],
        prog.to_str().unwrap(),
        "{alert:#}"
    );
    // The rules change; file polling is off, so only SIGHUP reloads them. Then the new name is
    // killed and the old one runs.
    let next = common::renamed_copy("/bin/sh", tmp.path(), "agentkill2");
    std::fs::write(&rules, rule("agentkill2")).unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.0.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    wait_until(
        "SIGHUP to arm the new rule",
        Duration::from_secs(30),
        || (run(&next) == (Some(9), false)).then_some(()),
    );
    assert_eq!(run(&prog), (None, true), "old target released");
}
