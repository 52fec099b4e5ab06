//! The live path against a replayed API server: a plain HTTP server on 127.0.0.1 answering
//! list calls with the objects of a recorded cluster dump, and the recorded 403 for Secrets.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;

use kestrel_k8s::live::{ClusterOptions, read_cluster};
use kestrel_k8s::{Kind, LiveError};
use serde_json::{Value, json};

const DUMP: &str = include_str!("../testdata/k8s-api/cluster-dump.json");
const FORBIDDEN: &str = include_str!("../testdata/k8s-api/forbidden-list-secrets.json");
const UNAUTHORIZED: &str = include_str!("../testdata/k8s-api/unauthorized.json");
const VERSION: &str = include_str!("../testdata/k8s-api/version.json");

/// The API path of a kind's cluster-wide list.
fn list_path(kind: Kind) -> String {
    let av = kind.api_version();
    if av == "v1" {
        format!("/api/v1/{}", kind.plural())
    } else {
        format!("/apis/{av}/{}", kind.plural())
    }
}

/// Builds `path -> (status, body)` from the dump: one typed list per kind, items without
/// kind/apiVersion as the API server sends them.
fn routes(forbid_secrets: bool) -> BTreeMap<String, (u16, String)> {
    let dump: Value = serde_json::from_str(DUMP).unwrap();
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for item in dump["items"].as_array().unwrap() {
        let mut item = item.clone();
        let kind = item["kind"].as_str().unwrap().to_owned();
        let obj = item.as_object_mut().unwrap();
        obj.remove("kind");
        obj.remove("apiVersion");
        by_kind.entry(kind).or_default().push(item);
    }
    let mut routes = BTreeMap::new();
    for kind in Kind::ALL {
        let items = by_kind.remove(kind.as_str()).unwrap_or_default();
        let body = json!({
            "kind": format!("{}List", kind.as_str()),
            "apiVersion": kind.api_version(),
            "metadata": {"resourceVersion": "1000"},
            "items": items,
        });
        routes.insert(list_path(kind), (200, body.to_string()));
    }
    if forbid_secrets {
        routes.insert(list_path(Kind::Secret), (403, FORBIDDEN.to_owned()));
    }
    routes.insert("/version".to_owned(), (200, VERSION.to_owned()));
    routes
}

/// Serves `routes` (or 401 for everything but /version) until the test process ends.
fn serve(routes: BTreeMap<String, (u16, String)>, unauthorized: bool) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut auth = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    auth = line.trim().to_owned();
                }
            }
            let target = request_line.split_whitespace().nth(1).unwrap_or("/");
            let path = target.split('?').next().unwrap_or(target);
            let authorized = !unauthorized && auth.ends_with("Bearer replay-token");
            let (status, body) = if !authorized && path != "/version" {
                (401, UNAUTHORIZED.to_owned())
            } else {
                routes.get(path).cloned().unwrap_or((404, r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"not found","reason":"NotFound","code":404}"#.to_owned()))
            };
            let reason = match status {
                200 => "OK",
                401 => "Unauthorized",
                403 => "Forbidden",
                _ => "Not Found",
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn kubeconfig(dir: &tempfile::TempDir, port: u16) -> PathBuf {
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: replay\n  cluster: {{server: \"http://127.0.0.1:{port}\"}}\nusers:\n- name: reader\n  user: {{token: replay-token}}\ncontexts:\n- name: replay\n  context: {{cluster: replay, user: reader}}\ncurrent-context: replay\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn lists_every_kind_and_reports_forbidden_kinds_as_not_assessed() {
    let port = serve(routes(true), false);
    let dir = tempfile::tempdir().unwrap();
    let opts = ClusterOptions {
        kubeconfig: Some(kubeconfig(&dir, port)),
        context: None,
    };
    let inv = read_cluster(&opts).unwrap();
    assert_eq!(
        inv.cluster_version.as_ref().map(|v| v.git_version.as_str()),
        Some("v1.25.9")
    );
    assert_eq!(inv.pods.len(), 4);
    assert_eq!(inv.cluster_roles.len(), 67);
    assert_eq!(inv.deployments.len(), 1);
    assert!(inv.secrets.is_empty());
    assert_eq!(inv.not_assessed.len(), 1);
    let na = &inv.not_assessed[0];
    assert_eq!(na.kind, Kind::Secret);
    assert!(
        na.reason.starts_with("forbidden: secrets is forbidden"),
        "{}",
        na.reason
    );
    // The objects keep their identity though the list items carried no kind.
    let web = inv.deployments[0].object.metadata.name.as_deref();
    assert_eq!(web, Some("web"));
    assert!(
        inv.deployments[0]
            .origin
            .source
            .starts_with("http://127.0.0.1:")
    );
}

#[test]
fn bad_credentials_fail_the_read() {
    let port = serve(routes(false), true);
    let dir = tempfile::tempdir().unwrap();
    let opts = ClusterOptions {
        kubeconfig: Some(kubeconfig(&dir, port)),
        context: None,
    };
    let err = read_cluster(&opts).unwrap_err();
    assert!(
        matches!(
            err,
            LiveError::Unauthorized {
                kind: Kind::Namespace,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("401 Unauthorized"), "{err}");
}

#[test]
fn a_missing_kubeconfig_is_named() {
    let opts = ClusterOptions {
        kubeconfig: Some("/nonexistent/kubeconfig".into()),
        context: None,
    };
    let err = read_cluster(&opts).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/kubeconfig"), "{err}");
}
