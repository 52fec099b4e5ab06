//! The HTTP API end to end over real sockets, on SQLite and on a real PostgreSQL: auth, ingest,
//! idempotency, filters, OpenAPI, metrics, sinks and TLS.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kestrel_event::{Alert, Priority};
use kestrel_server::{Server, ServerOptions, SinkKind, SinkSpec};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Harness {
    base: String,
    admin: String,
    http: reqwest::Client,
    _dir: Option<tempfile::TempDir>,
    server: Option<kestrel_server::RunningServer>,
}

impl Harness {
    async fn start(database: Option<String>, sinks: Vec<SinkSpec>) -> Harness {
        let (dir, db) = match database {
            Some(url) => (None, url),
            None => {
                let dir = tempfile::tempdir().unwrap();
                let db = dir.path().join("k.db").display().to_string();
                (Some(dir), db)
            }
        };
        let mut opts = ServerOptions::new("127.0.0.1:0".parse().unwrap(), db);
        opts.sinks = sinks;
        let server = Server::start(opts).await.unwrap();
        Harness {
            base: server.url(),
            admin: server
                .bootstrap_token
                .clone()
                .expect("a fresh database gets an admin token"),
            http: reqwest::Client::new(),
            _dir: dir,
            server: Some(server),
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn token(&self, role: &str) -> String {
        let (s, v) = self
            .post(
                "/api/v1/tokens",
                &self.admin,
                &json!({"name": role, "role": role}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    async fn agent(&self, cluster: &str) -> String {
        let (s, v) = self
            .post(
                "/api/v1/enrollment-tokens",
                &self.admin,
                &json!({"cluster": cluster}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_owned()
    }

    async fn stop(mut self) {
        self.server.take().unwrap().shutdown().await;
    }
}

fn alert(rule: &str, priority: Priority, ns: &str, pod: &str) -> Alert {
    let mut fields = BTreeMap::new();
    fields.insert("k8s.ns.name".to_owned(), json!(ns));
    fields.insert("k8s.pod.name".to_owned(), json!(pod));
    fields.insert("proc.cmdline".to_owned(), json!("sh -c id"));
    Alert {
        time: jiff::Timestamp::now().to_string(),
        rule: rule.to_owned(),
        priority,
        output: format!("{rule} (pod={pod})"),
        output_fields: fields,
        source: "syscall".to_owned(),
        tags: vec!["mitre_execution".to_owned()],
        hostname: "node-1".to_owned(),
        action: None,
        suppressed: 0,
    }
}

fn batch(cluster: &str, items: &[(&str, Alert)]) -> Value {
    json!({
        "cluster": cluster,
        "node": "node-1",
        "alerts": items.iter().map(|(id, a)| json!({"id": id, "alert": a})).collect::<Vec<_>>(),
    })
}

async fn api_scenario(h: Harness) {
    let reader = h.token("read").await;
    let agent = h.agent("prod").await;
    let other_agent = h.agent("staging").await;

    // Only the probes answer without a token.
    assert_eq!(h.get("/healthz", None).await.0, StatusCode::OK);
    assert_eq!(h.get("/readyz", None).await.0, StatusCode::OK);
    for path in [
        "/api/v1/alerts",
        "/api/v1/overview",
        "/metrics",
        "/api/openapi.json",
        "/api/v1/sensors",
    ] {
        let resp = h
            .http
            .get(format!("{}{path}", h.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer", "{path}");
    }
    let (s, v) = h.get("/api/v1/alerts", Some("kst_forged")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(v["error"].as_str().unwrap().contains("unknown"), "{v}");

    // An enrollment token names its cluster (for one-shot uploaders); only to agents.
    let (s, v) = h.get("/api/v1/ingest/cluster", Some(&other_agent)).await;
    assert_eq!((s, v), (StatusCode::OK, json!({"cluster": "staging"})));
    let (s, _) = h.get("/api/v1/ingest/cluster", Some(&reader)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an API token has no cluster");

    // Wrong role.
    let (s, v) = h.get("/api/v1/alerts", Some(&agent)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "an agent token cannot read: {v}");
    let (s, _) = h.get("/api/v1/tokens", Some(&reader)).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a read token cannot manage tokens"
    );
    let (s, _) = h
        .post(
            "/api/v1/tokens",
            &reader,
            &json!({"name": "x", "role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a read token cannot mint tokens");
    let a1 = alert(
        "Terminal shell in container",
        Priority::Notice,
        "shop",
        "web-1",
    );
    let (s, _) = h
        .post(
            "/api/v1/ingest/alerts",
            &reader,
            &batch("prod", &[("x", a1.clone())]),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a read token cannot ingest");
    // Wrong cluster token.
    let (s, v) = h
        .post(
            "/api/v1/ingest/alerts",
            &other_agent,
            &batch("prod", &[("x", a1.clone())]),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(v["error"].as_str().unwrap().contains("\"staging\""), "{v}");

    // Ingest, then resend: stored once.
    let a2 = alert(
        "Read sensitive file untrusted",
        Priority::Warning,
        "shop",
        "web-1",
    );
    let a3 = alert(
        "Drop and execute new binary in container",
        Priority::Critical,
        "billing",
        "pay-0",
    );
    let b = batch(
        "prod",
        &[
            ("n1-1", a1.clone()),
            ("n1-2", a2.clone()),
            ("n1-3", a3.clone()),
        ],
    );
    let (s, v) = h.post("/api/v1/ingest/alerts", &agent, &b).await;
    assert_eq!(
        (s, &v),
        (StatusCode::OK, &json!({"accepted": 3, "duplicates": 0}))
    );
    let (_, v) = h.post("/api/v1/ingest/alerts", &agent, &b).await;
    assert_eq!(v, json!({"accepted": 0, "duplicates": 3}));

    let (s, v) = h
        .get("/api/v1/alerts?priority=warning", Some(&reader))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["total"], 2);
    assert_eq!(v["items"][0]["alert"]["rule"], a3.rule.as_str());
    let (_, v) = h
        .get(
            "/api/v1/alerts?namespace=shop&workload=web-1",
            Some(&reader),
        )
        .await;
    assert_eq!(v["total"], 2);
    let (_, v) = h
        .get(
            "/api/v1/alerts?rule=Terminal%20shell%20in%20container",
            Some(&reader),
        )
        .await;
    assert_eq!(v["items"][0]["id"], "n1-1");
    let (s, v) = h.get("/api/v1/alerts?priority=loud", Some(&reader)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("loud"), "{v}");
    let (s, v) = h.get("/api/v1/alerts?prio=warning", Some(&reader)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("prio"), "{v}");
    let (s, v) = h.get("/api/v1/alerts?limit=ten", Some(&reader)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // A malformed body names the field.
    let (s, v) = h
        .post(
            "/api/v1/ingest/alerts",
            &agent,
            &json!({"cluster": "prod", "node": "n"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(v["error"].as_str().unwrap().contains("alerts"), "{v}");

    // Snapshots and the workload page.
    let snap = |items: Value| json!({"cluster": "prod", "source": "node-1", "generated_at": jiff::Timestamp::now().to_string(), "items": items});
    let (s, v) = h.post("/api/v1/ingest/workloads", &agent, &snap(json!([{
        "namespace": "shop", "kind": "Deployment", "name": "web", "images": ["registry.local/web:1.0"],
        "exposure": "internet", "exposure_routes": ["LoadBalancer web:443"], "environment": "production"
    }]))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = h.post("/api/v1/ingest/vulnerabilities", &agent, &snap(json!([{
        "workload": {"namespace": "shop", "kind": "Deployment", "name": "web"},
        "image": "registry.local/web:1.0",
        "package": {"name": "openssl", "version": "3.0.1", "ecosystem": "deb"},
        "vulnerability": "CVE-2022-0778", "severity": "high", "score": 87.5,
        "reasons": ["libssl.so.3 is mapped by nginx (pid 42)", "exposed through LoadBalancer web:443"],
        "in_use": "yes", "exposure": "internet", "environment": "production", "kev": true, "epss": 0.42,
        "fixed_version": "3.0.2"
    }]))).await;
    assert_eq!(
        (s, v),
        (StatusCode::OK, json!({"accepted": 1, "duplicates": 0}))
    );
    let (s, v) = h
        .post(
            "/api/v1/ingest/vulnerabilities",
            &agent,
            &snap(json!([{"workload": {}}])),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = h.post("/api/v1/ingest/attack-paths", &agent, &snap(json!([{
        "id": "web-to-admin", "title": "Internet to cluster-admin", "score": 90.0,
        "workload": {"namespace": "shop", "kind": "Deployment", "name": "web"},
        "hops": [{"from": {"kind": "Internet", "name": "internet"}, "to": {"kind": "Deployment", "namespace": "shop", "name": "web"},
                  "relation": "exposes", "explanation": "LoadBalancer web:443"}]
    }]))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = h
        .get("/api/v1/workloads/prod/shop/Deployment/web", Some(&reader))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["summary"]["max_score"], 87.5);
    assert_eq!(
        v["vulnerabilities"]["items"][0]["reasons"][0],
        "libssl.so.3 is mapped by nginx (pid 42)"
    );
    assert_eq!(v["attack_paths"]["total"], 1);
    let (s, _) = h
        .get("/api/v1/workloads/prod/shop/Deployment/nope", Some(&reader))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = h
        .get("/api/v1/attack-paths/prod/web-to-admin", Some(&reader))
        .await;
    assert_eq!(
        (s, v["hops"][0]["relation"].clone()),
        (StatusCode::OK, json!("exposes"))
    );
    let (s, v) = h
        .get(
            "/api/v1/vulnerabilities?kev=true&sort=epss&order=asc",
            Some(&reader),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"][0]["vulnerability"], "CVE-2022-0778");
    let (s, v) = h
        .get("/api/v1/vulnerabilities?severity=urgent", Some(&reader))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");

    // Sensor health feeds the sensors list and the metrics.
    let (s, _) = h.post("/api/v1/ingest/health", &agent, &json!({
        "cluster": "prod", "node": "node-1", "version": "0.1.0", "status": "degraded",
        "events_total": 12345, "drops_total": 7, "alerts_total": 3, "events_per_second": 410.5,
        "messages": ["fentry programs refused: using tracepoints"]
    })).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = h.get("/api/v1/sensors", Some(&reader)).await;
    assert_eq!(
        (
            v[0]["node"].clone(),
            v[0]["drops_total"].clone(),
            v[0]["status"].clone()
        ),
        (json!("node-1"), json!(7), json!("degraded"))
    );

    let resp = h
        .http
        .get(format!("{}/metrics", h.base))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let text = resp.text().await.unwrap();
    for needle in [
        "kestrel_alerts_ingested_total{rule=\"Drop and execute new binary in container\",priority=\"Critical\"} 1",
        "kestrel_alerts_duplicate_total 3",
        "kestrel_sensor_events_dropped{cluster=\"prod\",node=\"node-1\"} 7",
        "kestrel_sensor_events_per_second{cluster=\"prod\",node=\"node-1\"} 410.5",
        "kestrel_ingest_lag_seconds_count 3",
        "kestrel_ingest_records_total{kind=\"vulnerability\"} 1",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    let size: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("kestrel_database_size_bytes "))
        .expect("database size metric")
        .parse()
        .unwrap();
    assert!(size > 0.0);

    // Overview and OpenAPI.
    let (_, v) = h.get("/api/v1/overview", Some(&reader)).await;
    assert_eq!(
        (
            v["alerts"].clone(),
            v["vulnerabilities"].clone(),
            v["workloads"].clone()
        ),
        (json!(3), json!(1), json!(1))
    );
    let (s, v) = h.get("/api/openapi.json", Some(&reader)).await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    let mut paths: Vec<_> = v["paths"].as_object().unwrap().keys().cloned().collect();
    paths.sort();
    expect_test::expect![[r#"
        /api/openapi.json
        /api/v1/alerts
        /api/v1/attack-paths
        /api/v1/attack-paths/{cluster}/{id}
        /api/v1/dead-letters
        /api/v1/enrollment-tokens
        /api/v1/ingest/alerts
        /api/v1/ingest/attack-paths
        /api/v1/ingest/cluster
        /api/v1/ingest/health
        /api/v1/ingest/posture
        /api/v1/ingest/vulnerabilities
        /api/v1/ingest/workloads
        /api/v1/overview
        /api/v1/posture
        /api/v1/sensors
        /api/v1/tokens
        /api/v1/tokens/{id}
        /api/v1/vulnerabilities
        /api/v1/whoami
        /api/v1/workloads
        /api/v1/workloads/{cluster}/{namespace}/{kind}/{name}
        /healthz
        /metrics
        /readyz
    "#]]
    .assert_eq(&(paths.join("\n") + "\n"));
    assert!(
        v["components"]["schemas"]["VulnFinding"]["properties"]["reasons"].is_object(),
        "schemas are documented"
    );

    // Token revocation takes effect at once.
    let (_, list) = h.get("/api/v1/tokens", Some(&h.admin)).await;
    let reader_id = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["role"] == "read")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = h
        .http
        .delete(format!("{}/api/v1/tokens/{reader_id}", h.base))
        .bearer_auth(&h.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        h.get("/api/v1/alerts", Some(&reader)).await.0,
        StatusCode::UNAUTHORIZED
    );
    h.stop().await;
}

#[tokio::test]
async fn api_on_sqlite() {
    api_scenario(Harness::start(None, vec![]).await).await;
}

#[tokio::test]
async fn api_on_postgres() {
    let url = kestrel_store::test_support::fresh_postgres_database().await;
    api_scenario(Harness::start(Some(url), vec![]).await).await;
}

/// A webhook receiver on 127.0.0.1 that answers each request with the next status of `script`
/// (then 200) and records every body.
async fn receiver(script: Vec<u16>) -> (String, Arc<Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(script.into_iter()));
    let b = bodies.clone();
    let app = axum::Router::new().route(
        "/",
        post(move |axum::Json(v): axum::Json<Value>| {
            let b = b.clone();
            let script = script.clone();
            async move {
                b.lock().unwrap().push(v);
                let code = script.lock().unwrap().next().unwrap_or(200);
                axum::http::StatusCode::from_u16(code).unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, bodies)
}

async fn wait_until<F: Fn() -> bool>(what: &str, f: F) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn sinks_retry_then_deliver_or_dead_letter() {
    // Falcosidekick-style webhook: fails twice with 503, then accepts.
    let (hook_url, hook) = receiver(vec![503, 503]).await;
    // Slack-compatible: accepts at once, but only gets Warning and above.
    let (slack_url, slack) = receiver(vec![]).await;
    // Broken: always 500, gives up after 3 attempts.
    let (broken_url, broken) = receiver(vec![500; 100]).await;
    // Rejects: 400 is not retried.
    let (reject_url, reject) = receiver(vec![400; 100]).await;
    let fast = |mut s: SinkSpec, attempts| {
        s.initial_backoff = Duration::from_millis(10);
        s.max_backoff = Duration::from_millis(40);
        s.max_attempts = attempts;
        s
    };
    let mut slack_spec = fast(SinkSpec::new("chat", SinkKind::Slack, slack_url), 3);
    slack_spec.min_priority = Priority::Warning;
    let h = Harness::start(
        None,
        vec![
            fast(SinkSpec::new("sidekick", SinkKind::Webhook, hook_url), 5),
            slack_spec,
            fast(SinkSpec::new("broken", SinkKind::Webhook, broken_url), 3),
            fast(SinkSpec::new("reject", SinkKind::Webhook, reject_url), 3),
        ],
    )
    .await;
    let agent = h.agent("prod").await;
    let notice = alert(
        "Terminal shell in container",
        Priority::Notice,
        "shop",
        "web-1",
    );
    let critical = alert(
        "Drop and execute new binary in container",
        Priority::Critical,
        "shop",
        "web-1",
    );
    let (s, _) = h
        .post(
            "/api/v1/ingest/alerts",
            &agent,
            &batch("prod", &[("a", notice.clone()), ("b", critical.clone())]),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    // A resend is not delivered again.
    h.post(
        "/api/v1/ingest/alerts",
        &agent,
        &batch("prod", &[("a", notice.clone())]),
    )
    .await;

    wait_until("webhook deliveries", || hook.lock().unwrap().len() == 4).await;
    {
        let got = hook.lock().unwrap();
        // Two failures then success for the first alert, then the second at once.
        assert_eq!(got[0], got[2]);
        assert_eq!(
            got[2],
            serde_json::to_value(&notice).unwrap(),
            "the body is the Falco alert JSON"
        );
        assert_eq!(got[3]["rule"], critical.rule.as_str());
        assert_eq!(got[3]["priority"], "Critical");
        assert_eq!(got[3]["output_fields"]["k8s.pod.name"], "web-1");
    }
    wait_until("slack delivery", || slack.lock().unwrap().len() == 1).await;
    {
        let got = slack.lock().unwrap();
        assert_eq!(
            got[0]["text"],
            format!("[Critical] {}: {}", critical.rule, critical.output)
        );
        assert_eq!(got[0]["attachments"][0]["color"], "#d32f2f");
    }
    wait_until("broken sink attempts", || broken.lock().unwrap().len() == 6).await;
    wait_until("rejecting sink attempts", || {
        reject.lock().unwrap().len() == 2
    })
    .await;
    let mut dead = Value::Null;
    for _ in 0..200 {
        dead = h.get("/api/v1/dead-letters", Some(&h.admin)).await.1;
        if dead["total"] == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(dead["total"], 4, "{dead}");
    let mut rows: Vec<(String, u64, String)> = dead["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["sink"].as_str().unwrap().to_owned(),
                d["attempts"].as_u64().unwrap(),
                d["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    rows.sort();
    assert_eq!(rows[0].0, "broken");
    assert_eq!(rows[0].1, 3);
    assert!(rows[0].2.contains("500"), "{rows:?}");
    assert_eq!(
        (rows[2].0.as_str(), rows[2].1),
        ("reject", 1),
        "4xx is not retried"
    );
    assert!(rows[2].2.contains("400"), "{rows:?}");
    let resp = h
        .http
        .get(format!("{}/metrics", h.base))
        .bearer_auth(&h.admin)
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("kestrel_sink_deliveries_total{sink=\"sidekick\",outcome=\"retried\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("kestrel_sink_deliveries_total{sink=\"broken\",outcome=\"dead_letter\"} 2"),
        "{text}"
    );
    h.stop().await;
}

#[tokio::test]
async fn tls_from_certificate_files() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("tls.crt");
    let key = dir.path().join("tls.key");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args([
            "-subj",
            "/CN=kestrel-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ])
        // A leaf, not a CA: webpki refuses a CA certificate as a server's end-entity.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) is needed to make a test certificate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut opts = ServerOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().join("k.db").display().to_string(),
    );
    opts.tls = Some(kestrel_server::TlsFiles {
        cert: cert.clone(),
        key: key.clone(),
    });
    let server = Server::start(opts).await.unwrap();
    assert!(server.url().starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let resp = client
        .get(format!("{}/healthz", server.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let resp = client
        .get(format!("{}/api/v1/whoami", server.url()))
        .bearer_auth(server.bootstrap_token.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.json::<Value>().await.unwrap(),
        json!({"role": "admin"})
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::get(format!("http://{}/healthz", server.local_addr())).await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    server.shutdown().await;

    // A key that does not match the certificate is refused, naming the files.
    let other = dir.path().join("other.key");
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
        ])
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut opts = ServerOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().join("k.db").display().to_string(),
    );
    opts.tls = Some(kestrel_server::TlsFiles {
        cert: cert.clone(),
        key: other,
    });
    let e = Server::start(opts).await.unwrap_err().to_string();
    assert!(e.contains("tls.crt") && e.contains("other.key"), "{e}");
    let mut opts = ServerOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        dir.path().join("k.db").display().to_string(),
    );
    opts.tls = Some(kestrel_server::TlsFiles {
        cert: dir.path().join("missing.crt"),
        key,
    });
    let e = Server::start(opts).await.unwrap_err().to_string();
    assert!(e.contains("missing.crt"), "{e}");
}

#[tokio::test]
async fn second_start_creates_no_admin_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db").display().to_string();
    let s = Server::start(ServerOptions::new(
        "127.0.0.1:0".parse().unwrap(),
        db.clone(),
    ))
    .await
    .unwrap();
    assert!(s.bootstrap_token.is_some());
    s.shutdown().await;
    let s = Server::start(ServerOptions::new("127.0.0.1:0".parse().unwrap(), db))
        .await
        .unwrap();
    assert!(s.bootstrap_token.is_none());
    s.shutdown().await;
}
