//! The recorded Kubernetes API responses in `testdata/`, and the container statuses a kubelet
//! would have added to them (the recording had no kubelet; see `testdata/README.md`).

use serde_json::{Value, json};

pub const LIST: &str = include_str!("../../testdata/pods-on-node-1.json");
pub const WATCH: &str = include_str!("../../testdata/watch-pods-on-node-1.jsonl");
pub const EXPIRED: &str = include_str!("../../testdata/watch-expired-resourceversion.jsonl");
pub const FORBIDDEN: &str = include_str!("../../testdata/forbidden-list-secrets.json");
pub const UNAUTHORIZED: &str = include_str!("../../testdata/unauthorized.json");

/// The container id the test gives a pod's container: its uid's hex digits, twice.
pub fn container_id_of(uid: &str) -> String {
    uid.replace('-', "").repeat(2)
}

/// The recorded pods had no kubelet: add the running container statuses a kubelet on a
/// containerd node would report, one per spec container.
pub fn with_statuses(mut pod: Value) -> Value {
    let uid = pod["metadata"]["uid"].as_str().unwrap().to_owned();
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let image = c["image"].as_str().unwrap();
            let image = if image.contains('/') {
                image.to_owned()
            } else {
                format!("docker.io/library/{image}")
            };
            let repo = image.rsplit_once(':').map_or(image.as_str(), |(r, _)| r);
            json!({
                "name": c["name"],
                "state": {"running": {"startedAt": "2026-11-26T17:33:40Z"}},
                "lastState": {},
                "ready": true,
                "restartCount": 0,
                "image": image,
                "imageID": format!("{repo}@sha256:{}", "e".repeat(64)),
                "containerID": format!("containerd://{}", container_id_of(&uid)),
                "started": true
            })
        })
        .collect();
    pod["status"]["containerStatuses"] = Value::Array(statuses);
    pod
}

pub fn list_with_statuses(drop_name: Option<&str>) -> String {
    let mut list: Value = serde_json::from_str(LIST).unwrap();
    let items: Vec<Value> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| Some(p["metadata"]["name"].as_str().unwrap()) != drop_name)
        .cloned()
        .map(with_statuses)
        .collect();
    list["items"] = Value::Array(items);
    list.to_string()
}

pub fn watch_with_statuses() -> String {
    WATCH
        .lines()
        .map(|l| {
            let mut e: Value = serde_json::from_str(l).unwrap();
            if e["type"] != "BOOKMARK" {
                e["object"] = with_statuses(e["object"].clone());
            }
            e.to_string() + "\n"
        })
        .collect()
}

/// The recorded pods on node-1, with container statuses, as typed objects.
pub fn recorded_pods() -> Vec<k8s_openapi::api::core::v1::Pod> {
    let list: Value = serde_json::from_str(&list_with_statuses(None)).unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| serde_json::from_value(p.clone()).unwrap())
        .collect()
}
