//! The dashboard in a real headless Chromium: a server on SQLite is seeded through the ingest API
//! with 10,000 vulnerability findings, alerts, posture findings, an attack path and sensor health,
//! then `tests/browser/dashboard.mjs` (playwright-core driving Debian's /usr/bin/chromium) checks
//! that pages load, real data appears and filters work. Screenshots and load timings are kept in
//! `target/test-artifacts/dashboard/`.
//!
//! Needs Debian's `chromium` and `nodejs`, and `npm ci --prefix crates/kestrel-server/tests/browser`.

use std::path::PathBuf;

use kestrel_server::{Server, ServerOptions};
use serde_json::{Value, json};

const WORKLOADS: usize = 50;
const VULNS_PER_WORKLOAD: usize = 200;
const ALERTS: usize = 300;
const POSTURE: usize = 60;

fn vuln(n: usize) -> Value {
    let w = n / VULNS_PER_WORKLOAD;
    json!({
        "workload": {"namespace": format!("ns-{}", w % 5), "kind": "Deployment", "name": format!("app-{w}")},
        "image": format!("registry.local/app-{w}:1.{}", w % 7),
        "package": {"name": format!("pkg-{}", n % 40), "version": format!("1.{}.0", n % 9), "ecosystem": "deb"},
        "vulnerability": format!("CVE-2025-{n:05}"),
        "summary": format!("Flaw {n} in pkg-{}", n % 40),
        "severity": (["critical", "high", "medium", "low"][n % 4]),
        "score": score(n),
        "reasons": [format!("libpkg{}.so is mapped by app-{w} (pid {})", n % 40, 100 + n % 50), "reachable from the internet through LoadBalancer"],
        "in_use": if n.is_multiple_of(2) { "yes" } else { "unknown" },
        "exposure": if w.is_multiple_of(3) { "internet" } else { "cluster" },
        "environment": "production",
        "kev": kev(n),
        "epss": ((n * 13) % 1000) as f64 / 1000.0,
        "fixed_version": if n.is_multiple_of(5) { Value::Null } else { json!(format!("1.{}.1", n % 9)) },
    })
}

fn score(n: usize) -> f64 {
    ((n * 37) % 1000) as f64 / 10.0
}

fn kev(n: usize) -> bool {
    n.is_multiple_of(97)
}

fn alert(n: usize) -> Value {
    let priority = if n.is_multiple_of(10) {
        "Critical"
    } else if n.is_multiple_of(3) {
        "Warning"
    } else {
        "Notice"
    };
    let time = jiff::Timestamp::now() - jiff::SignedDuration::from_secs((n * 240) as i64);
    let mut v = json!({
        "id": format!("node-1:{n}"),
        "alert": {
            "time": time.to_string(),
            "rule": (["Terminal shell in container", "Read sensitive file untrusted", "Drop and execute new binary in container"][n % 3]),
            "priority": priority,
            "output": format!("event {n} (user=root command=sh -c id)"),
            "output_fields": {"k8s.ns.name": "ns-0", "k8s.pod.name": format!("app-0-7d9f-{n}"), "proc.cmdline": "sh -c id"},
            "source": "syscall",
            "tags": ["mitre_execution"],
            "hostname": "node-1",
        }
    });
    if n.is_multiple_of(2) {
        v["workload"] = json!({"namespace": "ns-0", "kind": "Deployment", "name": "app-0"});
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let browser_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix crates/kestrel-server/tests/browser` (and apt-get install chromium nodejs)"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is not installed: apt-get install chromium"
    );
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(ServerOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().join("k.db").display().to_string(),
    ))
    .await
    .unwrap();
    assert!(server.bootstrap_token.is_some());
    let agent = server
        .store
        .create_enrollment_token("prod")
        .await
        .unwrap()
        .token;
    let reader = server
        .store
        .create_api_token("browser", kestrel_store::model::Role::Read)
        .await
        .unwrap()
        .token;
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let req = http
            .post(format!("{}{path}", server.url()))
            .bearer_auth(&agent)
            .json(&body);
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status();
            assert!(
                status.is_success(),
                "{status}: {}",
                resp.text().await.unwrap()
            );
        }
    };
    let now = jiff::Timestamp::now().to_string();
    let snap = |items: Vec<Value>| json!({"cluster": "prod", "source": "node-1", "generated_at": now, "items": items});

    let workloads: Vec<Value> = (0..WORKLOADS)
        .map(|w| {
            json!({
                "namespace": format!("ns-{}", w % 5), "kind": "Deployment", "name": format!("app-{w}"),
                "images": [format!("registry.local/app-{w}:1.{}", w % 7)],
                "exposure": if w.is_multiple_of(3) { "internet" } else { "cluster" },
                "exposure_routes": if w.is_multiple_of(3) { vec![format!("LoadBalancer app-{w}:443")] } else { vec![] },
                "environment": "production", "service_account": format!("app-{w}"),
            })
        })
        .collect();
    post("/api/v1/ingest/workloads", snap(workloads)).await;
    let n_vulns = WORKLOADS * VULNS_PER_WORKLOAD;
    post(
        "/api/v1/ingest/vulnerabilities",
        snap((0..n_vulns).map(vuln).collect()),
    )
    .await;
    for chunk in (0..ALERTS).collect::<Vec<_>>().chunks(100) {
        post(
            "/api/v1/ingest/alerts",
            json!({"cluster": "prod", "node": "node-1", "alerts": chunk.iter().map(|&n| alert(n)).collect::<Vec<_>>()}),
        )
        .await;
    }
    let posture: Vec<Value> = (0..POSTURE)
        .map(|i| {
            json!({
                "check_id": format!("KST-{:03}", i % 12), "title": format!("Check {}", i % 12),
                "severity": (["critical", "high", "medium", "low", "info"][i % 5]),
                "resource": {"kind": "Deployment", "namespace": format!("ns-{}", i % 5), "name": format!("app-{i}")},
                "container": "app", "path": "spec.template.spec.containers[0].securityContext",
                "owasp": "K01", "crosswalk": {"cis": "5.2.1"}, "message": format!("finding {i}"),
            })
        })
        .collect();
    post(
        "/api/v1/ingest/posture",
        json!({"cluster": "prod", "source": "scan", "generated_at": now, "items": posture}),
    )
    .await;
    let hops = json!([
        {"from": {"kind": "Internet", "name": "internet"}, "to": {"kind": "Deployment", "namespace": "ns-0", "name": "app-0"},
         "relation": "exposes", "explanation": "LoadBalancer app-0:443 forwards to container port 8080"},
        {"from": {"kind": "Deployment", "namespace": "ns-0", "name": "app-0"}, "to": {"kind": "ServiceAccount", "namespace": "ns-0", "name": "app-0"},
         "relation": "runs_as", "explanation": "the service account token is automounted"},
        {"from": {"kind": "ServiceAccount", "namespace": "ns-0", "name": "app-0"}, "to": {"kind": "Secret", "namespace": "kube-system", "name": "admin-token"},
         "relation": "can_read", "explanation": "ClusterRoleBinding app-0-admin grants get on secrets in all namespaces"},
    ]);
    post(
        "/api/v1/ingest/attack-paths",
        snap(vec![json!({
            "id": "app-0-to-admin", "title": "Internet to kube-system secrets", "score": 92.0,
            "workload": {"namespace": "ns-0", "kind": "Deployment", "name": "app-0"}, "hops": hops,
        })]),
    )
    .await;
    post("/api/v1/ingest/health", json!({
        "cluster": "prod", "node": "node-1", "version": "0.1.0", "status": "ok", "events_total": 1_000_000,
        "drops_total": 12, "alerts_total": ALERTS, "events_per_second": 812.4,
    }))
    .await;

    let kev_count = (0..n_vulns).filter(|&n| kev(n)).count();
    let search = "pkg-7";
    let search_kev_hits = (0..n_vulns)
        .filter(|&n| kev(n) && format!("pkg-{}", n % 40).contains(search))
        .count();
    let top = (0..n_vulns).map(score).fold(f64::MIN, f64::max);
    let expect = json!({
        "vulnerabilities": n_vulns,
        "alerts": ALERTS,
        "kev": kev_count,
        "search": search,
        "search_kev_hits": search_kev_hits,
        "top_score": format!("{top:.1}"),
        "critical_alerts": (0..ALERTS).filter(|n| n.is_multiple_of(10)).count(),
        "workload": "ns-0/app-0",
        "path_hops": 3,
        "first_hop_explanation": "LoadBalancer app-0:443",
        "posture_high": (0..POSTURE).filter(|i| i % 5 < 2).count(),
    });
    let out_dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts/dashboard");
    let base = server.url();
    let output = tokio::process::Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .env("BASE_URL", &base)
        .env("TOKEN", &reader)
        .env("OUT_DIR", &out_dir)
        .env("EXPECT", expect.to_string())
        .output()
        .await
        .expect("node (Debian package nodejs) is needed for the browser test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "dashboard test failed:\n{stdout}\n{stderr}"
    );
    for shot in [
        "overview.png",
        "vulnerabilities.png",
        "workload.png",
        "attack-path.png",
        "alerts.png",
        "posture.png",
    ] {
        assert!(out_dir.join(shot).is_file(), "missing screenshot {shot}");
    }
    server.shutdown().await;
}
