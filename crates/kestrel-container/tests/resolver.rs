//! `ContainerResolver`: immediate answers from the cgroup path, background lookups from a real
//! podman and from the pod cache fed with recorded pods, holding, and eviction.

mod support;

use std::num::NonZeroUsize;
use std::time::Duration;

use kestrel_container::{ContainerResolver, PodCache, ResolverOptions, RuntimeClient};
use kestrel_event::{ContainerId, ContainerRuntime};
use support::Podman;
use support::recorded::{container_id_of, recorded_pods};

/// Long enough never to end a healthy lookup; it only bounds a broken one.
const PATIENCE: Duration = Duration::from_secs(60);

const DEBUGGER_UID: &str = "01d59145-aa30-4b0a-8a9e-5daad99e7538";

#[tokio::test(flavor = "multi_thread")]
async fn resolves_a_real_podman_container_and_forgets_it_when_it_exits() {
    let mut podman = Podman::start();
    let uid = "8d2f3a61-0c4b-4e7f-9a15-6b3e2d1c0f99";
    let pod = podman.pod("rpod", uid, &["team=blue"]);
    let id = podman.container("rweb", true, &["--pod", &pod, "--label", "app=web"]);
    let id = ContainerId::parse(&id).unwrap();
    let pid = podman.pid_of(id.as_str());

    // Set up as `kestrel` does, from the `[container]` configuration: there is no Docker
    // socket here and no Kubernetes node name.
    let config = kestrel_config::ContainerConfig {
        podman_socket: podman.socket.clone(),
        docker_socket: podman.dir.path().join("no-docker.sock"),
        ..Default::default()
    };
    let (resolver, hold) = ContainerResolver::start(&config).await;
    assert_eq!(hold, Duration::from_millis(config.hold_ms));
    assert!(resolver.pods().is_none());
    // Immediately: what the cgroup path says.
    let first = resolver.resolve_pid(pid).unwrap().unwrap();
    assert_eq!(first.id, id);
    assert_eq!(first.runtime, Some(ContainerRuntime::Podman));
    assert_eq!(first.pod.as_ref().unwrap().uid, uid);

    let info = resolver.wait_resolved(&id, PATIENCE).await.unwrap();
    assert!(resolver.is_resolved(&id));
    assert_eq!(info.name.as_deref(), Some(podman.name("rweb").as_str()));
    assert_eq!(
        info.image.as_ref().unwrap().repository,
        "localhost/kestrel-container-test"
    );
    assert_eq!(info.labels["app"], "web");
    assert_eq!(info.privileged, Some(false));
    let p = info.pod.as_ref().unwrap();
    // The Kubernetes uid from the cgroup path, the name and labels from the podman pod.
    assert_eq!((p.uid.as_str(), p.name.as_str()), (uid, pod.as_str()));
    assert_eq!(p.labels["team"], "blue");
    // Later processes of the container get the resolved metadata at once.
    assert_eq!(resolver.resolve_pid(pid).unwrap().unwrap(), info);

    // Our own process is not in a container.
    assert_eq!(resolver.resolve_pid(std::process::id()).unwrap(), None);

    resolver.process_exited(pid);
    assert_eq!(resolver.get(&id), None);
    assert!(resolver.is_empty());
}

fn debugger_cgroup() -> String {
    format!(
        "0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{}.slice/cri-containerd-{}.scope",
        DEBUGGER_UID.replace('-', "_"),
        container_id_of(DEBUGGER_UID)
    )
}

#[tokio::test]
async fn containerd_container_named_by_the_pod_cache() {
    let pods = PodCache::new();
    for pod in recorded_pods() {
        pods.apply(&pod);
    }
    let resolver = ContainerResolver::new(ResolverOptions {
        pods: Some(pods.clone()),
        ..ResolverOptions::default()
    });
    let info = resolver.resolve_cgroup(&debugger_cgroup()).unwrap();
    // The pod cache is local, so even the first answer is complete.
    assert_eq!(info.name.as_deref(), Some("debug"));
    let info = resolver.wait_resolved(&info.id, PATIENCE).await.unwrap();
    assert_eq!(info.runtime, Some(ContainerRuntime::Containerd));
    assert_eq!(info.privileged, Some(true));
    assert_eq!(info.image.as_ref().unwrap().tag.as_deref(), Some("1.36"));
    let pod = info.pod.as_ref().unwrap();
    assert_eq!(
        (pod.name.as_str(), pod.namespace.as_str(), pod.uid.as_str()),
        ("node-debugger", "monitoring", DEBUGGER_UID)
    );
    assert_eq!(pod.labels["app"], "debug");

    // The pod is relabelled: the next event of the container sees the new labels.
    let mut relabelled = recorded_pods()
        .into_iter()
        .find(|p| p.metadata.uid.as_deref() == Some(DEBUGGER_UID))
        .unwrap();
    relabelled
        .metadata
        .labels
        .as_mut()
        .unwrap()
        .insert("incident".to_owned(), "42".to_owned());
    pods.apply(&relabelled);
    let again = resolver.resolve_cgroup(&debugger_cgroup()).unwrap();
    assert_eq!(again.pod.as_ref().unwrap().labels["incident"], "42");
    assert_eq!(again.name.as_deref(), Some("debug"));
}

#[tokio::test]
async fn holds_until_kubelet_reports_the_container() {
    let pods = PodCache::new();
    let recorded = recorded_pods();
    let debugger = recorded
        .iter()
        .find(|p| p.metadata.uid.as_deref() == Some(DEBUGGER_UID))
        .unwrap()
        .clone();
    // The pod is known, but kubelet has not reported its container yet.
    let mut pending = debugger.clone();
    pending.status.as_mut().unwrap().container_statuses = None;
    pods.apply(&pending);

    let resolver = ContainerResolver::new(ResolverOptions {
        pods: Some(pods.clone()),
        pod_status_wait: PATIENCE,
        ..ResolverOptions::default()
    });
    let first = resolver.resolve_cgroup(&debugger_cgroup()).unwrap();
    let id = first.id.clone();
    // The pod's names are there at once, from its uid.
    assert_eq!(first.pod.as_ref().unwrap().name, "node-debugger");
    assert_eq!(first.name, None);

    // A short hold ends with what is known: still unresolved.
    let held = resolver
        .wait_resolved(&id, Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(held.name, None);
    assert!(!resolver.is_resolved(&id));

    // kubelet reports the container: the lookup completes.
    pods.apply(&debugger);
    let info = resolver.wait_resolved(&id, PATIENCE).await.unwrap();
    assert!(resolver.is_resolved(&id));
    assert_eq!(info.name.as_deref(), Some("debug"));
    assert_eq!(info.privileged, Some(true));
}

#[tokio::test]
async fn unknown_containers_resolve_to_what_the_cgroup_says() {
    let dir = tempfile::tempdir().unwrap();
    // No runtime listens here: the lookup fails and the container is resolved anyway.
    let resolver = ContainerResolver::new(ResolverOptions {
        runtimes: vec![RuntimeClient::docker(dir.path().join("docker.sock"))],
        capacity: NonZeroUsize::new(2).unwrap(),
        ..ResolverOptions::default()
    });
    let ids: Vec<String> = ["1", "2", "3"].iter().map(|c| c.repeat(64)).collect();
    let first = resolver
        .resolve_cgroup(&format!("/docker/{}", ids[0]))
        .unwrap();
    let info = resolver.wait_resolved(&first.id, PATIENCE).await.unwrap();
    assert!(resolver.is_resolved(&first.id));
    assert_eq!(info.runtime, Some(ContainerRuntime::Docker));
    assert_eq!((info.name.as_ref(), info.image.as_ref()), (None, None));
    for id in &ids[1..] {
        resolver.resolve_cgroup(&format!("/docker/{id}")).unwrap();
    }
    // Bounded: the least recently used container was dropped.
    assert_eq!(resolver.len(), 2);
    assert_eq!(resolver.get(&first.id), None);
    let last = ContainerId::parse(&ids[2]).unwrap();
    resolver.evict(&last);
    assert_eq!(resolver.len(), 1);
    assert_eq!(resolver.resolve_cgroup("/system.slice/sshd.service"), None);
}

#[tokio::test]
async fn started_from_config_watches_the_node_pods() {
    use hyper::StatusCode;
    use kestrel_container::WatchStatus;
    use std::sync::Arc;
    use support::apiserver::{Reply, Script, serve};
    use support::recorded::list_with_statuses;

    let script = Arc::new(Script::default());
    script
        .lists
        .lock()
        .unwrap()
        .push_back(Reply::Json(StatusCode::OK, list_with_statuses(None)));
    let url = serve(script.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
             clusters: [{{name: test, cluster: {{server: \"{url}\"}}}}]\n\
             users: [{{name: sensor, user: {{token: not-a-real-token}}}}]\n\
             contexts: [{{name: test, context: {{cluster: test, user: sensor}}}}]\n"
        ),
    )
    .unwrap();
    let config = kestrel_config::ContainerConfig {
        podman_socket: "".into(),
        docker_socket: "".into(),
        cri_sockets: Vec::new(),
        node_name: Some("node-1".to_owned()),
        kubeconfig: Some(kubeconfig),
        ..Default::default()
    };
    let (resolver, _) = ContainerResolver::start(&config).await;
    let pods = resolver.pods().expect("the pod watch runs").clone();
    let mut status = pods.subscribe_status();
    tokio::time::timeout(PATIENCE, status.wait_for(|s| *s == WatchStatus::Synced))
        .await
        .expect("the pod list completes")
        .unwrap();
    let requests = script.requests.lock().unwrap().clone();
    assert!(
        requests[0].contains("fieldSelector=spec.nodeName%3Dnode-1"),
        "{requests:?}"
    );
    let info = resolver.resolve_cgroup(&debugger_cgroup()).unwrap();
    assert_eq!(info.name.as_deref(), Some("debug"));
    assert_eq!(info.pod.as_ref().unwrap().namespace, "monitoring");
}

#[tokio::test]
async fn a_broken_kubeconfig_leaves_the_resolver_working() {
    let dir = tempfile::tempdir().unwrap();
    let config = kestrel_config::ContainerConfig {
        podman_socket: "".into(),
        docker_socket: "".into(),
        cri_sockets: Vec::new(),
        node_name: Some("node-1".to_owned()),
        kubeconfig: Some(dir.path().join("missing-kubeconfig")),
        ..Default::default()
    };
    let (resolver, _) = ContainerResolver::start(&config).await;
    assert!(resolver.pods().is_none());
    let info = resolver.resolve_cgroup(&debugger_cgroup()).unwrap();
    assert_eq!(
        info.pod.as_ref().unwrap().uid,
        "01d59145-aa30-4b0a-8a9e-5daad99e7538"
    );
}
