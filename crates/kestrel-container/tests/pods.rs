//! The pod watcher against recorded Kubernetes API responses, replayed by a small HTTP server on
//! 127.0.0.1 (no API server exists here; see `testdata/README.md`).

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use kestrel_container::{PodCache, WatchStatus, watch_node_pods};
use kestrel_event::{ContainerId, ContainerRuntime};
use support::apiserver::{Reply, Script, serve};
use support::recorded::*;

mod support;

fn client(url: &str) -> kube::Client {
    kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap()
}

/// Starts the watcher for node-1 against `script` and waits until `done` holds of the cache.
async fn run(script: Arc<Script>, done: impl Fn(&PodCache) -> bool) -> Arc<PodCache> {
    let url = serve(script).await;
    let cache = PodCache::new();
    let task = tokio::spawn(watch_node_pods(
        client(&url),
        "node-1".to_owned(),
        cache.clone(),
    ));
    let mut changes = cache.subscribe_changes();
    let mut status = cache.subscribe_status();
    // A bound so that a broken watcher fails the test instead of hanging it; not a speed check.
    let waited = tokio::time::timeout(Duration::from_secs(60), async {
        while !done(&cache) {
            tokio::select! {
                _ = changes.changed() => {}
                _ = status.changed() => {}
            }
        }
    })
    .await;
    task.abort();
    assert!(
        waited.is_ok(),
        "the watcher never reached the expected state; status {:?}, {} pods",
        cache.status(),
        cache.len()
    );
    cache
}

#[tokio::test]
async fn lists_then_follows_the_watch() {
    let script = Arc::new(Script::default());
    script
        .lists
        .lock()
        .unwrap()
        .push_back(Reply::Json(StatusCode::OK, list_with_statuses(None)));
    script
        .watches
        .lock()
        .unwrap()
        .push_back(Reply::Events(watch_with_statuses(), false));
    let cache = run(script.clone(), |c| {
        c.pod("3ff4e486-5a28-4fbb-a3a0-b49d9427886b")
            .is_some_and(|p| p.labels.get("stage").is_some_and(|s| s == "running"))
    })
    .await;

    assert_eq!(cache.status(), WatchStatus::Synced);
    assert_eq!(cache.len(), 4);
    let requests = script.requests.lock().unwrap().clone();
    assert!(
        requests[0].starts_with("/api/v1/pods?")
            && requests[0].contains("fieldSelector=spec.nodeName%3Dnode-1"),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.contains("watch=true") && r.contains("resourceVersion=292")),
        "{requests:?}"
    );

    let debugger = cache.pod("01d59145-aa30-4b0a-8a9e-5daad99e7538").unwrap();
    assert_eq!(
        (debugger.name.as_str(), debugger.namespace.as_str()),
        ("node-debugger", "monitoring")
    );
    assert_eq!(debugger.labels["app"], "debug");

    let id = ContainerId::parse(&container_id_of("01d59145-aa30-4b0a-8a9e-5daad99e7538")).unwrap();
    let c = cache.container(&id).unwrap();
    assert_eq!(c.name, "debug");
    assert_eq!(c.pod.name, "node-debugger");
    assert_eq!(c.runtime, Some(ContainerRuntime::Containerd));
    assert_eq!(c.privileged, Some(true));
    assert_eq!(c.image.repository, "docker.io/library/busybox");
    assert_eq!(c.image.tag.as_deref(), Some("1.36"));

    let web = ContainerId::parse(&container_id_of("22a84f4b-6dc1-484a-9ff7-0ff36e94eb85")).unwrap();
    let web = cache.container(&web).unwrap();
    assert_eq!(
        (web.name.as_str(), web.pod.namespace.as_str()),
        ("web", "shop-prod")
    );
    // The spec sets no `privileged`, so nothing is claimed.
    assert_eq!(web.privileged, None);
    assert_eq!(web.image.repository, "registry.shop.example/web");

    let job = ContainerId::parse(&container_id_of("3ff4e486-5a28-4fbb-a3a0-b49d9427886b")).unwrap();
    assert_eq!(cache.container(&job).unwrap().pod.name, "batch-job-1");
}

#[tokio::test]
async fn relists_after_410_gone_and_drops_vanished_pods() {
    let script = Arc::new(Script::default());
    {
        let mut lists = script.lists.lock().unwrap();
        lists.push_back(Reply::Json(StatusCode::OK, list_with_statuses(None)));
        // By the second list, admin-0 has been deleted.
        lists.push_back(Reply::Json(
            StatusCode::OK,
            list_with_statuses(Some("admin-0")),
        ));
    }
    script
        .watches
        .lock()
        .unwrap()
        .push_back(Reply::Events(EXPIRED.to_owned(), false));
    let s = script.clone();
    let cache = run(script.clone(), move |c| {
        s.lists_served() >= 2 && c.len() == 2 && c.status() == WatchStatus::Synced
    })
    .await;
    assert!(cache.pod("a63d7951-e9a9-462d-99da-a159410d92a6").is_none());
    let admin =
        ContainerId::parse(&container_id_of("a63d7951-e9a9-462d-99da-a159410d92a6")).unwrap();
    assert!(cache.container(&admin).is_none());
    assert!(cache.pod("22a84f4b-6dc1-484a-9ff7-0ff36e94eb85").is_some());
}

async fn denied(status: StatusCode, body: &str) -> String {
    let script = Arc::new(Script::default());
    script
        .lists
        .lock()
        .unwrap()
        .push_back(Reply::Json(status, body.to_owned()));
    let cache = run(script, |c| {
        matches!(c.status(), WatchStatus::Degraded { .. })
    })
    .await;
    assert!(cache.is_empty());
    match cache.status() {
        WatchStatus::Degraded { reason } => reason,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn forbidden_degrades_with_a_clear_reason() {
    let reason = denied(StatusCode::FORBIDDEN, FORBIDDEN).await;
    assert!(
        reason.contains("node-1")
            && reason.contains("403 Forbidden")
            && reason.contains("cannot list resource")
            && reason.contains("list and watch pods"),
        "{reason}"
    );
}

#[tokio::test]
async fn unauthorized_degrades_with_a_clear_reason() {
    let reason = denied(StatusCode::UNAUTHORIZED, UNAUTHORIZED).await;
    assert!(reason.contains("401 Unauthorized"), "{reason}");
}
