//! `kestrel scan k8s --server` and `kestrel paths --server`: the real binary uploads to a real
//! `kestrel server` (SQLite) on 127.0.0.1, and the API the dashboard reads shows the results.
//! A second upload of the same command replaces the first (no duplicates, removed findings go).

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const KESTREL: &str = env!("CARGO_BIN_EXE_kestrel");

/// An exposed Deployment whose ServiceAccount is cluster-admin (an Internet → admin path), and
/// a privileged DaemonSet (posture findings of its own).
const CLUSTER: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports: [{port: 443, targetPort: 8443}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      containers: [{name: web, image: registry.local/web:1.0, ports: [{containerPort: 8443}]}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: web-admin}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: web, namespace: shop}]
"#;

const NODE_AGENT: &str = r#"
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: node-agent, namespace: ops}
spec:
  selector: {matchLabels: {app: node-agent}}
  template:
    metadata: {labels: {app: node-agent}}
    spec:
      hostPID: true
      containers:
      - name: agent
        image: registry.local/agent:latest
        securityContext: {privileged: true}
"#;

fn kestrel(args: &[&str]) -> Output {
    Command::new(KESTREL)
        .args(args)
        .env_remove("KESTREL_CONFIG_FILE")
        .stdin(Stdio::null())
        .output()
        .expect("run kestrel")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "kestrel failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A `kestrel server` on 127.0.0.1 with a fresh SQLite database, stopped on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(db: &Path) -> Server {
        let mut child = Command::new(KESTREL)
            .args(["server", "--listen", "127.0.0.1:0", "--database"])
            .arg(db)
            .env_remove("KESTREL_CONFIG_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start kestrel server");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("kestrel server exited before listening")
                .unwrap();
            if let Some(u) = line.strip_prefix("kestrel server listening on ") {
                break u.trim().to_owned();
            }
        };
        // Keep draining its standard output so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, url }
    }

    /// `GET path` with a bearer token: (status, JSON body). HTTP/1.1 by hand: the binary crate
    /// has no HTTP client among its dependencies.
    fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let hostport = self.url.strip_prefix("http://").unwrap();
        let mut s = TcpStream::connect(hostport).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        let (head, body) = resp.split_once("\r\n\r\n").expect("an HTTP response");
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "{head}"
        );
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (
            status,
            serde_json::from_str(body).unwrap_or(Value::String(body.into())),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(db: &Path, role: &str, cluster: Option<&str>) -> String {
    let mut args = vec![
        "server",
        "--database",
        db.to_str().unwrap(),
        "token",
        "--role",
        role,
    ];
    if let Some(c) = cluster {
        args.extend(["--cluster", c]);
    }
    ok(&kestrel(&args)).trim().to_owned()
}

/// (check id, kind, namespace, name, container, field path) of every finding, from `kestrel scan k8s --format json`
/// or from the API.
fn finding_keys<'a>(findings: impl Iterator<Item = &'a Value>) -> BTreeSet<String> {
    findings
        .map(|f| {
            format!(
                "{} {} {}/{} {} {}",
                f["check_id"].as_str().unwrap(),
                f["resource"]["kind"].as_str().unwrap(),
                f["resource"]["namespace"].as_str().unwrap_or(""),
                f["resource"]["name"].as_str().unwrap(),
                f["container"].as_str().unwrap_or(""),
                f["path"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[test]
fn scan_and_paths_upload_to_a_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kestrel.db");
    let server = Server::start(&db);
    let agent = token(&db, "agent", Some("prod"));
    let reader = token(&db, "read", None);
    let token_file = dir.path().join("agent.token");
    std::fs::write(&token_file, format!("{agent}\n")).unwrap();
    let full = dir.path().join("full.yaml");
    std::fs::write(&full, format!("{CLUSTER}{NODE_AGENT}")).unwrap();
    let web_only = dir.path().join("web.yaml");
    std::fs::write(&web_only, CLUSTER).unwrap();

    let scan = |manifests: &Path| -> BTreeSet<String> {
        let out = kestrel(&[
            "scan",
            "k8s",
            manifests.to_str().unwrap(),
            "--format",
            "json",
            "--server",
            &server.url,
            "--token",
            &agent,
        ]);
        let report: Value = serde_json::from_str(&ok(&out)).unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let n = report["findings"].as_array().unwrap().len();
        assert!(
            stderr.contains(&format!("uploaded {n} posture findings"))
                && stderr.contains("\"prod\""),
            "the cluster comes from the token: {stderr}"
        );
        let keys = finding_keys(report["findings"].as_array().unwrap().iter());
        assert_eq!(keys.len(), n, "the keys tell findings apart");
        keys
    };
    let stored = || -> (u64, BTreeSet<String>) {
        let (status, page) = server.get("/api/v1/posture?limit=1000", &reader);
        assert_eq!(status, 200, "{page}");
        assert!(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["cluster"] == "prod")
        );
        (
            page["total"].as_u64().unwrap(),
            finding_keys(page["items"].as_array().unwrap().iter()),
        )
    };

    // Posture: what the scan printed is what the server stores.
    let scanned = scan(&full);
    assert!(
        scanned
            .iter()
            .any(|k| k.contains("DaemonSet ops/node-agent")),
        "the privileged DaemonSet has findings: {scanned:?}"
    );
    assert_eq!(stored(), (scanned.len() as u64, scanned.clone()));
    // The same scan again: replaced, not added.
    scan(&full);
    assert_eq!(stored(), (scanned.len() as u64, scanned.clone()));
    // A scan without the DaemonSet: its findings leave the server.
    let smaller = scan(&web_only);
    assert!(smaller.len() < scanned.len() && smaller.is_subset(&scanned));
    assert_eq!(stored(), (smaller.len() as u64, smaller));

    // Attack paths, with the token from a file and the cluster named explicitly.
    let upload_paths = || -> Vec<String> {
        let out = kestrel(&[
            "paths",
            full.to_str().unwrap(),
            "--format",
            "json",
            "--server",
            &server.url,
            "--token-file",
            token_file.to_str().unwrap(),
            "--cluster-name",
            "prod",
        ]);
        let report: Value = serde_json::from_str(&ok(&out)).unwrap();
        let mut ids: Vec<String> = report["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let ids = upload_paths();
    assert!(
        !ids.is_empty(),
        "the exposed cluster-admin Deployment is a path"
    );
    for _ in 0..2 {
        let (status, page) = server.get("/api/v1/attack-paths", &reader);
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        let mut stored: Vec<String> = items
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        stored.sort();
        assert_eq!(
            (page["total"].as_u64().unwrap(), &stored),
            (ids.len() as u64, &ids)
        );
        let web = items
            .iter()
            .find(|p| p["workload"]["name"] == "web")
            .unwrap_or_else(|| panic!("a path enters through shop/web: {page}"));
        assert_eq!(web["workload"]["namespace"], "shop");
        assert_eq!(
            web["hops"].as_array().unwrap().last().unwrap()["to"]["kind"],
            "ClusterAdmin"
        );
        assert!(web["score"].as_f64().unwrap() > 0.0);
        // The single-path view the dashboard opens.
        let (status, one) = server.get(
            &format!("/api/v1/attack-paths/prod/{}", web["id"].as_str().unwrap()),
            &reader,
        );
        assert_eq!((status, &one["id"]), (200, &web["id"]), "{one}");
        // Uploading again replaces the stored paths.
        assert_eq!(upload_paths(), ids);
    }

    // A token of another cluster is refused, and the message says why.
    let out = kestrel(&[
        "paths",
        full.to_str().unwrap(),
        "--server",
        &server.url,
        "--token",
        &agent,
        "--cluster-name",
        "staging",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refused") && stderr.contains("staging") && stderr.contains("403"),
        "{stderr}"
    );
    // A read token is not an enrollment token.
    let out = kestrel(&[
        "scan",
        "k8s",
        web_only.to_str().unwrap(),
        "--server",
        &server.url,
        "--token",
        &reader,
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cluster") && stderr.contains("403"),
        "{stderr}"
    );
    let out = kestrel(&[
        "paths",
        full.to_str().unwrap(),
        "--server",
        "127.0.0.1:7420",
        "--token",
        &agent,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("http://"));
    // --server without a token is a usage error.
    let out = kestrel(&["paths", full.to_str().unwrap(), "--server", &server.url]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
