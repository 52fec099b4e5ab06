//! `kestrel scan k8s` end to end: the real binary on real manifests.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn kestrel(args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kestrel"));
    cmd.args(args).env_remove("KESTREL_CONFIG_FILE");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run kestrel");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap()
}

fn data(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kestrel-k8s/testdata/k8s-api")
        .join(rel)
        .display()
        .to_string()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success() || out.status.code() == Some(3),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON output")
}

#[test]
fn json_report_of_recorded_manifests() {
    let out = kestrel(
        &[
            "scan",
            "k8s",
            &data("applied-manifests.yaml"),
            "--format",
            "json",
            "--severity",
            "critical",
        ],
        None,
    );
    let v = json(&out);
    let got: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}/{}",
                f["check_id"].as_str().unwrap(),
                f["resource"]["kind"].as_str().unwrap(),
                f["resource"]["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "host-path-sensitive Pod/node-debugger",
            "privileged Pod/node-debugger",
            "rbac-cluster-admin-equivalent RoleBinding/web-deployer",
            "rbac-cluster-admin-equivalent ClusterRoleBinding/ci-cluster-admin",
        ]
    );
    let priv_ = &v["findings"][1];
    assert_eq!(
        priv_["path"],
        "spec.containers[0].securityContext.privileged"
    );
    assert_eq!(priv_["container"], "debug");
    assert_eq!(priv_["crosswalk"]["checkov"][0], "CKV_K8S_16");
    assert_eq!(priv_["owasp"][0], "K01:2022");
    assert!(priv_["source"]["line"].as_u64().unwrap() > 1);
    assert_eq!(v["not_assessed"].as_array().unwrap().len(), 0);
}

#[test]
fn stdin_snapshot_and_exit_code() {
    let manifests = std::fs::read_to_string(data("applied-manifests.yaml")).unwrap();
    let out = kestrel(
        &["scan", "k8s", "-", "--severity", "high", "--exit-code", "3"],
        Some(&manifests),
    );
    assert_eq!(out.status.code(), Some(3));
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("CRITICAL  privileged"), "{table}");
    assert!(table.contains("findings in 25 objects"), "{table}");

    let out = kestrel(
        &[
            "scan",
            "k8s",
            "--snapshot",
            &data("cluster-dump.json"),
            "--format",
            "json",
        ],
        None,
    );
    let v = json(&out);
    assert_eq!(v["summary"]["objects"], 157);

    // Nothing at or above critical in a clean pod: exit 0 even with --exit-code.
    let clean = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: a:1}]}\n";
    let out = kestrel(
        &[
            "scan",
            "k8s",
            "-",
            "--severity",
            "critical",
            "--exit-code",
            "3",
        ],
        Some(clean),
    );
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn exceptions_sarif_and_junit() {
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("exceptions.yaml");
    std::fs::write(
        &ex,
        "exceptions:\n- {check: privileged, namespace: monitoring, name: node-debugger, reason: break-glass debug pod, expires: 2999-01-01}\n- {check: host-pid, reason: old, expires: 2001-01-01}\n",
    )
    .unwrap();
    let out = kestrel(
        &[
            "scan",
            "k8s",
            &data("applied-manifests.yaml"),
            "--format",
            "json",
            "--exceptions",
            ex.to_str().unwrap(),
        ],
        None,
    );
    let v = json(&out);
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["check_id"] != "privileged")
    );
    assert!(
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["check_id"] == "host-pid")
    );
    assert_eq!(
        v["suppressed"][0]["exception"]["reason"],
        "break-glass debug pod"
    );
    assert_eq!(v["expired_exceptions"][0]["check"], "host-pid");

    let out = kestrel(
        &[
            "scan",
            "k8s",
            &data("applied-manifests.yaml"),
            "--format",
            "sarif",
        ],
        None,
    );
    let v = json(&out);
    assert_eq!(v["version"], "2.1.0");
    let results = v["runs"][0]["results"].as_array().unwrap();
    assert!(
        results
            .iter()
            .any(|r| r["ruleId"] == "privileged" && r["level"] == "error")
    );
    let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .all(|r| results.iter().any(|x| x["ruleId"] == r["id"]))
    );

    let out = kestrel(
        &[
            "scan",
            "k8s",
            &data("applied-manifests.yaml"),
            "--format",
            "junit",
        ],
        None,
    );
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"));
    assert!(
        xml.contains("<testcase classname=\"workload\" name=\"privileged: Privileged container\">"),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"1 finding(s), severity critical\" type=\"privileged\">"),
        "{xml}"
    );
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: many}\n",
    )
    .unwrap();
    let out = kestrel(&["scan", "k8s", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "bad.yaml: document 1: Deployment \"web\" does not match the Kubernetes schema"
        ),
        "{err}"
    );

    let out = kestrel(&["scan", "k8s"], None);
    assert_eq!(out.status.code(), Some(2), "no input is a usage error");

    let ex = dir.path().join("ex.yaml");
    std::fs::write(&ex, "exceptions:\n- {check: no-such-check, reason: x}\n").unwrap();
    let out = kestrel(
        &[
            "scan",
            "k8s",
            &data("applied-manifests.yaml"),
            "--exceptions",
            ex.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown check id \"no-such-check\""));
}
