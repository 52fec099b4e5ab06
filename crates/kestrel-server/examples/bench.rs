//! Server benchmark (see bench/server/README.md): ingest throughput in alerts/s over the real
//! HTTP API into SQLite or PostgreSQL, then, with `wrk` installed, API latency under load.
//!
//! cargo run --release -p kestrel-server --example bench -- [DATABASE_URL] [ALERTS]

use std::time::Instant;

use kestrel_server::{Server, ServerOptions};
use serde_json::{Value, json};

const BATCH: usize = 500;
const CLIENTS: usize = 4;

fn alert(n: usize) -> Value {
    json!({
        "id": format!("bench:{n}"),
        "alert": {
            "time": jiff::Timestamp::now().to_string(),
            "rule": (["Terminal shell in container", "Read sensitive file untrusted", "Drop and execute new binary in container"][n % 3]),
            "priority": if n.is_multiple_of(10) { "Critical" } else { "Notice" },
            "output": format!("event {n} (user=root command=sh -c id container=app)"),
            "output_fields": {"k8s.ns.name": format!("ns-{}", n % 20), "k8s.pod.name": format!("app-{}-7d9f", n % 200),
                              "container.name": "app", "proc.cmdline": "sh -c id", "user.name": "root"},
            "source": "syscall", "tags": ["mitre_execution"], "hostname": "node-1",
        }
    })
}

#[tokio::main]
async fn main() {
    // Server errors (a 500's cause) go to standard error.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args: Vec<String> = std::env::args().collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = args
        .get(1)
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| dir.path().join("bench.db").display().to_string());
    let total: usize = args
        .get(2)
        .map(|s| s.parse().expect("ALERTS is a number"))
        .unwrap_or(100_000);
    let server = Server::start(ServerOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        database.clone(),
    ))
    .await
    .expect("server starts");
    let agent = server
        .store
        .create_enrollment_token("bench")
        .await
        .unwrap()
        .token;
    let reader = server
        .store
        .create_api_token("bench", kestrel_store::model::Role::Read)
        .await
        .unwrap()
        .token;
    let url = server.url();
    let http = reqwest::Client::new();
    let batches: Vec<Value> = (0..total)
        .collect::<Vec<_>>()
        .chunks(BATCH)
        .map(|c| json!({"cluster": "bench", "node": "node-1", "alerts": c.iter().map(|&n| alert(n)).collect::<Vec<_>>()}))
        .collect();
    let bodies: Vec<Vec<u8>> = batches
        .iter()
        .map(|b| serde_json::to_vec(b).unwrap())
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let mine: Vec<Vec<u8>> = bodies.iter().skip(c).step_by(CLIENTS).cloned().collect();
        let http = http.clone();
        let url = url.clone();
        let agent = agent.clone();
        tasks.push(tokio::spawn(async move {
            for body in mine {
                let r = http
                    .post(format!("{url}/api/v1/ingest/alerts"))
                    .bearer_auth(&agent)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                let status = r.status();
                assert!(
                    status.is_success(),
                    "{status}: {}",
                    r.text().await.unwrap_or_default()
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "ingest: {total} alerts in {secs:.2}s = {:.0} alerts/s ({} batches of {BATCH}, {CLIENTS} clients, database {})",
        total as f64 / secs,
        bodies.len(),
        server.store.display_url()
    );

    // Seed 10,000 findings for the read benchmark.
    let findings: Vec<Value> = (0..10_000)
        .map(|n: usize| {
            json!({
                "workload": {"namespace": format!("ns-{}", n % 20), "kind": "Deployment", "name": format!("app-{}", n % 200)},
                "image": format!("registry.local/app-{}:1", n % 200),
                "package": {"name": format!("pkg-{}", n % 40), "version": "1.0", "ecosystem": "deb"},
                "vulnerability": format!("CVE-2025-{n:05}"), "severity": (["critical", "high", "medium", "low"][n % 4]),
                "score": ((n * 37) % 1000) as f64 / 10.0, "reasons": ["mapped by a running process"],
                "in_use": "yes", "exposure": "internet", "environment": "production", "kev": n.is_multiple_of(97),
            })
        })
        .collect();
    let t = Instant::now();
    let r = http
        .post(format!("{url}/api/v1/ingest/vulnerabilities"))
        .bearer_auth(&agent)
        .json(&json!({"cluster": "bench", "source": "node-1", "generated_at": jiff::Timestamp::now().to_string(), "items": findings}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    println!(
        "findings: 10000 vulnerability findings in one snapshot in {:.2}s",
        t.elapsed().as_secs_f64()
    );

    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("wrk is not installed (apt-get install wrk): skipping the latency benchmark");
    } else {
        for path in [
            "/api/v1/vulnerabilities?limit=100",
            "/api/v1/vulnerabilities?kev=true&sort=epss&limit=100",
            "/api/v1/alerts?priority=critical&limit=100",
            "/api/v1/overview",
        ] {
            let out = tokio::process::Command::new("wrk")
                .args(["-t2", "-c16", "-d10s", "--latency", "-H"])
                .arg(format!("Authorization: Bearer {reader}"))
                .arg(format!("{url}{path}"))
                .output()
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            let p = |q: &str| {
                text.lines()
                    .find(|l| l.trim_start().starts_with(q))
                    .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_owned())
                    .unwrap_or_default()
            };
            let rps = text
                .lines()
                .find(|l| l.starts_with("Requests/sec"))
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("");
            println!(
                "GET {path}: {rps} req/s, p50 {} p90 {} p99 {}",
                p("50%"),
                p("90%"),
                p("99%")
            );
        }
    }
    server.shutdown().await;
}
