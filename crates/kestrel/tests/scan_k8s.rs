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

/// A replayed API server on 127.0.0.1: the recorded cluster dump split into one typed list per
/// kind (items without kind/apiVersion, as the API server sends them), the recorded
/// `GET /version`, and the recorded 403 for Secrets. `node_version` is written into the Node's
/// `status.nodeInfo`: the recorded server ran without a kubelet, which leaves it empty.
fn replay_cluster(node_version: &str) -> u16 {
    use std::collections::BTreeMap;
    use std::io::{BufRead, BufReader};
    let dump: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("cluster-dump.json")).unwrap()).unwrap();
    let mut lists: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    let mut paths: BTreeMap<String, String> = BTreeMap::new();
    for item in dump["items"].as_array().unwrap() {
        let mut item = item.clone();
        let kind = item["kind"].as_str().unwrap().to_owned();
        let av = item["apiVersion"].as_str().unwrap().to_owned();
        if kind == "Node" {
            item["status"]["nodeInfo"]["kubeletVersion"] = node_version.into();
            item["status"]["nodeInfo"]["kubeProxyVersion"] = node_version.into();
        }
        let obj = item.as_object_mut().unwrap();
        obj.remove("kind");
        obj.remove("apiVersion");
        let plural = format!("{}s", kind.to_ascii_lowercase())
            .replace("ys", "ies")
            .replace("sss", "sses");
        let path = if av == "v1" {
            format!("/api/v1/{plural}")
        } else {
            format!("/apis/{av}/{plural}")
        };
        paths.insert(path.clone(), kind.clone());
        lists.entry(path).or_default().push(item);
    }
    let mut routes: BTreeMap<String, (u16, String)> = lists
        .into_iter()
        .map(|(path, items)| {
            let kind = &paths[&path];
            let body = serde_json::json!({
                "kind": format!("{kind}List"),
                "apiVersion": "v1",
                "metadata": {"resourceVersion": "1000"},
                "items": items,
            });
            (path, (200, body.to_string()))
        })
        .collect();
    routes.insert(
        "/api/v1/secrets".to_owned(),
        (
            403,
            std::fs::read_to_string(data("forbidden-list-secrets.json")).unwrap(),
        ),
    );
    routes.insert(
        "/version".to_owned(),
        (200, std::fs::read_to_string(data("version.json")).unwrap()),
    );
    let empty =
        r#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"1000"},"items":[]}"#;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let target = request_line.split_whitespace().nth(1).unwrap_or("/");
            let path = target.split('?').next().unwrap_or(target);
            // Kinds the dump has no object of are served as empty lists.
            let (status, body) = routes.get(path).cloned().unwrap_or((200, empty.to_owned()));
            let reason = if status == 200 { "OK" } else { "Forbidden" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn live_cluster_versions_are_checked_against_the_cve_feed() {
    let port = replay_cluster("v1.24.3");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: replay\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\nusers:\n- name: reader\n  user: {{token: replay-token}}\ncontexts:\n- name: replay\n  context: {{cluster: replay, user: reader}}\ncurrent-context: replay\n"
        ),
    )
    .unwrap();
    let out = kestrel(
        &[
            "scan",
            "k8s",
            "--cluster",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    let v = json(&out);
    let versions: Vec<String> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check_id"] == "kubernetes-version-vulnerable")
        .map(|f| {
            format!(
                "{} {} {}: {}",
                f["resource"]["kind"].as_str().unwrap(),
                f["resource"]["name"].as_str().unwrap(),
                f["path"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    let url = format!("http://127.0.0.1:{port}/");
    assert_eq!(versions.len(), 2, "{versions:?}");
    // Sorted by resource: the Node, then the cluster.
    let versions = [&versions[1], &versions[0]];
    // The API server's `/version` (v1.25.9): CVE-2023-2728 is fixed only in 1.25.11.
    assert!(
        versions[0].starts_with(&format!(
            "Cluster {url} /version.gitVersion: the API server 1.25.9 is affected by"
        )) && versions[0].contains("CVE-2023-2728"),
        "{versions:?}"
    );
    // The node's kubelet (v1.24.3): CVE-2023-2431 (kubelet, fixed in 1.24.14) applies.
    assert!(
        versions[1].starts_with(
            "Node node-1 status.nodeInfo.kubeletVersion: kubelet 1.24.3 is affected by"
        ) && versions[1].contains("CVE-2023-2431"),
        "{versions:?}"
    );
    assert_eq!(v["not_assessed"][0]["kind"], "Secret");

    // A patched node has no version finding; the API server still has.
    let port = replay_cluster("v1.31.2");
    std::fs::write(
        &kubeconfig,
        std::fs::read_to_string(&kubeconfig)
            .unwrap()
            .replace(&url[..url.len() - 1], &format!("http://127.0.0.1:{port}")),
    )
    .unwrap();
    let out = kestrel(
        &[
            "scan",
            "k8s",
            "--cluster",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    let v = json(&out);
    let kinds: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check_id"] == "kubernetes-version-vulnerable")
        .map(|f| f["resource"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Cluster"]);
}

#[test]
fn posture_section_of_the_configuration_and_flags_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let ex = dir.path().join("exceptions.yaml");
    std::fs::write(
        &ex,
        "exceptions:\n- {check: privileged, name: node-debugger, reason: break-glass debug pod}\n",
    )
    .unwrap();
    let config = dir.path().join("kestrel.toml");
    std::fs::write(
        &config,
        format!(
            "[posture]\nexceptions = {:?}\nmin_severity = \"critical\"\ndisabled_checks = [\"host-path-sensitive\"]\nexit_code = 3\n",
            ex.to_str().unwrap()
        ),
    )
    .unwrap();
    let manifests = data("applied-manifests.yaml");
    let cfg = config.to_str().unwrap();
    let ids = |out: &Output| -> Vec<String> {
        json(out)["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["check_id"].as_str().unwrap().to_owned())
            .collect()
    };
    // From the file: critical only, host-path-sensitive disabled, privileged excepted.
    let out = kestrel(
        &[
            "--config", cfg, "scan", "k8s", &manifests, "--format", "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        ids(&out),
        [
            "rbac-cluster-admin-equivalent",
            "rbac-cluster-admin-equivalent"
        ]
    );
    let v = json(&out);
    assert_eq!(v["suppressed"][0]["check_id"], "privileged");

    // Flags win: severity, disabled checks (replacing the list), exceptions, exit code.
    let none = dir.path().join("none.yaml");
    std::fs::write(&none, "exceptions: []\n").unwrap();
    let out = kestrel(
        &[
            "--config",
            cfg,
            "scan",
            "k8s",
            &manifests,
            "--format",
            "json",
            "--severity",
            "high",
            "--disable-check",
            "rbac-cluster-admin-equivalent",
            "--disable-check",
            "rbac-read-secrets",
            "--exceptions",
            none.to_str().unwrap(),
            "--exit-code",
            "0",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let got = ids(&out);
    assert!(got.contains(&"privileged".to_owned()), "{got:?}");
    assert!(got.contains(&"host-path-sensitive".to_owned()), "{got:?}");
    assert!(got.contains(&"host-pid".to_owned()), "{got:?}");
    assert!(
        !got.iter()
            .any(|c| c == "rbac-cluster-admin-equivalent" || c == "rbac-read-secrets"),
        "{got:?}"
    );

    // Bad values name the key or flag.
    std::fs::write(
        &config,
        "[posture]\ndisabled_checks = [\"no-such-check\"]\n",
    )
    .unwrap();
    let out = kestrel(&["--config", cfg, "scan", "k8s", &manifests], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[posture] disabled_checks: unknown check id \"no-such-check\""),
        "{err}"
    );
    std::fs::write(&config, "[posture]\nmin_severity = \"severe\"\n").unwrap();
    let out = kestrel(&["--config", cfg, "scan", "k8s", &manifests], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[posture] min_severity: unknown severity \"severe\""),
        "{err}"
    );
}

#[test]
fn encryption_config_named_by_a_static_pod_is_read_from_the_node_tree() {
    // A copy of a control-plane node's files: ROOT/etc/kubernetes/manifests/ holds the API
    // server, whose flag names /etc/kubernetes/enc/config.yaml inside the container, mounted
    // from the node's /srv/enc.
    let root = tempfile::tempdir().unwrap();
    let manifests = root.path().join("etc/kubernetes/manifests");
    std::fs::create_dir_all(&manifests).unwrap();
    std::fs::create_dir_all(root.path().join("srv/enc")).unwrap();
    std::fs::write(
        manifests.join("kube-apiserver.yaml"),
        r#"apiVersion: v1
kind: Pod
metadata: {name: kube-apiserver-cp-1, namespace: kube-system}
spec:
  hostNetwork: true
  containers:
  - name: kube-apiserver
    image: registry.k8s.io/kube-apiserver:v1.31.2
    command: [kube-apiserver, --encryption-provider-config=/etc/kubernetes/enc/config.yaml]
    volumeMounts: [{name: enc, mountPath: /etc/kubernetes/enc, readOnly: true}]
  volumes: [{name: enc, hostPath: {path: /srv/enc, type: DirectoryOrCreate}}]
"#,
    )
    .unwrap();
    let config = root.path().join("srv/enc/config.yaml");
    std::fs::write(
        &config,
        "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - identity: {}\n  - aescbc: {keys: [{name: key1, secret: c2VjcmV0IGlzIHNlY3VyZQ==}]}\n",
    )
    .unwrap();
    let out = kestrel(
        &[
            "scan",
            "k8s",
            manifests.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    let v = json(&out);
    let enc: Vec<&serde_json::Value> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource"]["kind"] == "EncryptionConfiguration")
        .collect();
    assert_eq!(enc.len(), 1, "{enc:?}");
    assert_eq!(enc[0]["check_id"], "secrets-encryption-at-rest");
    assert_eq!(enc[0]["path"], "resources[0].providers[0].identity");
    assert_eq!(enc[0]["source"]["file"], config.to_str().unwrap());
    // Given explicitly as well, it is read once.
    let out = kestrel(
        &[
            "scan",
            "k8s",
            manifests.to_str().unwrap(),
            config.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    let v = json(&out);
    let n = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["resource"]["kind"] == "EncryptionConfiguration")
        .count();
    assert_eq!(n, 1);
    assert!(v["not_assessed"].as_array().unwrap().is_empty());
    // Without the file, its providers are reported as not assessed, not as a pass.
    std::fs::remove_file(&config).unwrap();
    let out = kestrel(
        &[
            "scan",
            "k8s",
            manifests.to_str().unwrap(),
            "--format",
            "json",
        ],
        None,
    );
    let v = json(&out);
    let na = &v["not_assessed"][0];
    assert_eq!(na["kind"], "EncryptionConfiguration");
    assert!(
        na["reason"].as_str().unwrap().contains(&format!(
            "--encryption-provider-config=/etc/kubernetes/enc/config.yaml, which is not among the inputs and not found at {}",
            config.display()
        )),
        "{na}"
    );
}

#[test]
fn deploy_manifests_pass_with_their_documented_exceptions() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let out = kestrel(
        &[
            "scan",
            "k8s",
            "--exceptions",
            root.join("kestrel-exceptions.yaml").to_str().unwrap(),
            root.join("manifests/kestrel.yaml").to_str().unwrap(),
            "--format",
            "json",
            "--exit-code",
            "3",
        ],
        None,
    );
    let v = json(&out);
    assert_eq!(out.status.code(), Some(0), "{}", v["findings"]);
    assert!(!v["suppressed"].as_array().unwrap().is_empty());
    assert!(v["expired_exceptions"].as_array().unwrap().is_empty());
}
