//! `kestrel up`, the README's main job, end to end as root: server on embedded SQLite, the local
//! agent with the real eBPF sensor and default rules, and the dashboard. A real behaviour on the
//! host (deleting a shell history file) must reach the API as an alert from cluster `local`,
//! the sensor must report its health, the dashboard must be served, and a restart on the same
//! data directory must keep the admin token and the alert.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{get_json, http_get as get};
use serde_json::Value;

struct Up {
    child: Child,
    token: String,
    addr: String,
}

impl Drop for Up {
    /// SIGTERM, as Ctrl-C would: `up` detaches the sensor and drains the agent before exiting.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `kestrel up` and waits for its "Press Ctrl-C" line, returning the printed admin token.
fn start(data: &std::path::Path, port: u16) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kestrel"))
        .args(["up", "--port", &port.to_string(), "--data-dir"])
        .arg(data)
        // No advisory database here: the assessment ships workloads only, and must not fail.
        .env("KESTREL_AGENT__RISK_FIRST_DELAY_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kestrel up");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("kestrel up did not come up; printed: {printed:#?}"));
        let done = line.starts_with("Press Ctrl-C");
        printed.push(line);
        if done {
            break;
        }
    }
    let field = |name: &str| {
        printed
            .iter()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name:?} line in {printed:#?}"))
    };
    let token = field("admin token:");
    let agent = field("local agent:");
    assert!(
        agent.starts_with("running (sensor, rules"),
        "the local agent runs the sensor as root: {agent}"
    );
    assert!(
        field("dashboard:").starts_with(&format!("http://127.0.0.1:{port}/")),
        "{printed:#?}"
    );
    Up {
        child,
        token,
        addr: format!("127.0.0.1:{port}"),
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> Option<Value>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn up_runs_server_agent_and_dashboard_and_keeps_its_state() {
    let data = tempfile::Builder::new().prefix("kt-up").tempdir().unwrap();
    let port = free_port();
    let up = start(data.path(), port);

    // Only /healthz answers without a token.
    assert_eq!(get(&up.addr, "/healthz", "").0, 200);
    assert_eq!(get(&up.addr, "/api/v1/alerts", "wrong").0, 401);
    let (status, page) = get(&up.addr, "/", "");
    assert_eq!(status, 200);
    assert!(
        page.contains("<html")
            || page.contains("<!doctype html")
            || page.contains("<!DOCTYPE html")
    );

    // A real behaviour under the local agent's sensor: a shell history file deleted.
    let victim = tempfile::Builder::new()
        .prefix("kt-up-home")
        .tempdir()
        .unwrap();
    let history = victim.path().join(".bash_history");
    let marker = victim.path().display().to_string();
    // The sensor may still be settling right after start: repeat the deletion until it is seen.
    let alert = wait_for("the shell history alert", || {
        std::fs::write(&history, "ls\n").unwrap();
        let st = Command::new("rm").arg(&history).status().unwrap();
        assert!(st.success());
        std::thread::sleep(Duration::from_millis(500));
        let v = get_json(&up.addr, "/api/v1/alerts?limit=200", &up.token);
        v["items"].as_array()?.iter().find_map(|a| {
            let out = a["alert"]["output"].as_str()?;
            (a["alert"]["rule"] == "Delete or truncate shell history" && out.contains(&marker))
                .then(|| a.clone())
        })
    });
    assert_eq!(alert["cluster"], "local", "{alert:#}");
    assert_eq!(alert["alert"]["priority"], "Warning", "{alert:#}");
    assert_eq!(
        alert["alert"]["output_fields"]["proc.name"], "rm",
        "{alert:#}"
    );

    // The sensor's health reaches the sensors list.
    wait_for("the local sensor's health", || {
        let v = get_json(&up.addr, "/api/v1/sensors", &up.token);
        v.as_array()?
            .iter()
            .find(|s| s["cluster"] == "local" && s["events_total"].as_u64() > Some(0))
            .cloned()
    });
    let alert_id = alert["id"].as_str().unwrap().to_owned();
    let token = up.token.clone();
    drop(up);

    // Same data directory: same admin token, same database.
    let again = start(data.path(), port);
    assert_eq!(
        again.token, token,
        "the admin token is kept across restarts"
    );
    let v = get_json(&again.addr, "/api/v1/alerts?limit=500", &again.token);
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == alert_id.as_str()),
        "the alert survives a restart: {v:#}"
    );
}
