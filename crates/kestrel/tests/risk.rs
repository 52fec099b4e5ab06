//! `kestrel risk` end to end, as root, against the real test Pod: the sensor observes the Pod
//! from its start, the advisory database holds real OSV/GHSA records, and the ranking must say
//! which vulnerable packages the apps really load.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::import_db;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kestrel");

fn findings_for<'a>(doc: &'a Value, container_id: &str) -> Vec<&'a Value> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["workload"]["container_id"] == container_id)
        .collect()
}

fn find<'a>(fs: &[&'a Value], package: &str) -> Vec<&'a Value> {
    fs.iter()
        .copied()
        .filter(|f| {
            f["package"]["name"]
                .as_str()
                .unwrap()
                .eq_ignore_ascii_case(package)
        })
        .collect()
}

/// Waits until `kestrel risk` says the sensor is attached and observing (attaching takes seconds,
/// more on a loaded machine), so that the Pod is observed from its start; returns the thread
/// collecting the rest of its stderr.
fn wait_until_observing(child: &mut std::process::Child) -> std::thread::JoinHandle<String> {
    use std::io::BufRead;
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            if line.contains("observing for") {
                let _ = tx.send(());
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("kestrel risk never started observing");
    reader
}

/// The cluster objects around the Pod: its namespace marked production, a LoadBalancer Service
/// selecting it, and a ClusterIP Service behind a Gateway API HTTPRoute on a shared Gateway.
const CLUSTER: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {environment: production}}
---
apiVersion: v1
kind: Service
metadata: {name: shop-lb, namespace: shop}
spec: {type: LoadBalancer, selector: {app: shop}, ports: [{port: 443, targetPort: 8080}]}
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
  - name: https
    protocol: HTTPS
    port: 443
    hostname: "*.example.com"
    allowedRoutes: {namespaces: {from: All}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: public, namespace: infra}]
  hostnames: [shop.example.com]
  rules: [{backendRefs: [{name: shop-web, port: 8080}]}]
"#;

#[test]
fn ranks_loaded_packages_above_installed_ones() {
    let image = kestrel_testenv::TestImage::get().expect("test image");
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("advisories.db");
    import_db(&db);
    let service = kestrel_testenv::PodmanService::start().expect("podman system service");
    let socket = service.socket();
    let cluster = tmp.path().join("cluster.yaml");
    std::fs::write(&cluster, CLUSTER).unwrap();

    // The sensor must be attached before the Pod starts, so that the apps' imports are seen.
    let mut risk = Command::new(BIN)
        .args([
            "risk",
            "--observe",
            "25s",
            "--min-observation",
            "5s",
            "--format",
            "json",
        ])
        .arg("--db")
        .arg(&db)
        .arg("--vex")
        .arg(tmp.path().join("risk.vex.json"))
        .arg("--k8s")
        .arg(&cluster)
        .env("KESTREL_CONTAINER__PODMAN_SOCKET", socket)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr_lines = wait_until_observing(&mut risk);
    let pod = kestrel_testenv::TestPod::start(&image).expect("test pod");
    let out = risk.wait_with_output().unwrap();
    let stderr = stderr_lines.join().unwrap();
    assert!(out.status.success(), "kestrel risk failed: {stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));

    let python = pod.container("python").unwrap();
    let node = pod.container("node").unwrap();
    let py = findings_for(&doc, python.id.as_str());
    let js = findings_for(&doc, node.id.as_str());
    assert!(
        !py.is_empty(),
        "no findings for the python container: {doc:#}\n{stderr}"
    );

    // Identity, environment and exposure come from podman and the Kubernetes objects.
    let w = &py[0]["workload"];
    assert_eq!(w["namespace"], "shop", "{w:#}");
    assert_eq!(w["pod"], "shop-web", "{w:#}");
    assert_eq!(w["container"], "python", "{w:#}");
    assert_eq!(py[0]["environment"], "production");
    assert!(
        py[0]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("via LoadBalancer shop-lb")),
        "{:#}",
        py[0]
    );
    assert!(
        py[0]["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("exposed on 443 via Gateway infra/public (HTTPRoute shop/shop)")),
        "{:#}",
        py[0]
    );

    // requests is imported by the app: in use, with the python process as evidence.
    let requests = find(&py, "requests");
    assert!(!requests.is_empty(), "requests 2.19.1 has advisories");
    for f in &requests {
        assert_eq!(f["in_use"], "true", "{f:#}");
        let ev = f["evidence"].as_array().unwrap();
        assert!(
            ev.iter()
                .any(|e| e["process"].as_str().unwrap().starts_with("python")),
            "{f:#}"
        );
        assert!(
            f["reasons"][0].as_str().unwrap().contains("python"),
            "{f:#}"
        );
    }
    // pillow's extension module and its vendored libraries are mapped: in use.
    let pillow = find(&py, "pillow");
    assert!(!pillow.is_empty(), "pillow 9.5.0 has advisories");
    assert!(pillow.iter().all(|f| f["in_use"] == "true"), "{pillow:#?}");
    // ... and a library vendored in the wheel (Pillow.libs/), loaded by the extension module,
    // is attributed to pillow through its RECORD.
    assert!(
        pillow.iter().any(|f| f["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["file"].as_str().unwrap().contains("/Pillow.libs/"))),
        "{pillow:#?}"
    );
    // django is installed but never imported, and the Pod ran under the sensor from its start.
    let django = find(&py, "django");
    assert!(!django.is_empty(), "django 3.2.12 has advisories");
    assert!(django.iter().all(|f| f["in_use"] == "false"), "{django:#?}");

    // Node: express and lodash are required, minimist never is.
    let lodash = find(&js, "lodash");
    assert!(
        !lodash.is_empty() && lodash.iter().all(|f| f["in_use"] == "true"),
        "{lodash:#?}"
    );
    let minimist = find(&js, "minimist");
    assert!(
        !minimist.is_empty() && minimist.iter().all(|f| f["in_use"] == "false"),
        "{minimist:#?}"
    );

    // The ranking follows the signals: within a workload, in use above not in use.
    for fs in [&py, &js] {
        let min_used = fs
            .iter()
            .filter(|f| f["in_use"] == "true")
            .map(|f| f["score"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        let max_unused = fs
            .iter()
            .filter(|f| f["in_use"] == "false")
            .map(|f| f["score"].as_f64().unwrap())
            .fold(f64::NEG_INFINITY, f64::max);
        assert!(min_used > max_unused, "{min_used} <= {max_unused}");
    }

    // VEX: loaded means affected; never loaded is not proof of not_affected.
    let vex: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("risk.vex.json")).unwrap()).unwrap();
    let statuses: Vec<&str> = vex["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"affected"));
    assert!(!statuses.contains(&"not_affected"));
    drop(pod);
}
