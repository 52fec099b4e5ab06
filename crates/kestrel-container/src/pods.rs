//! Kubernetes pod metadata for the containers on this node.
//!
//! [`watch_node_pods`] lists and watches the pods scheduled on one node (field selector
//! `spec.nodeName=NODE`) and keeps a [`PodCache`]: pod uid to [`PodInfo`] (name, namespace,
//! labels), and container id to [`PodContainer`] from `status.containerStatuses[].containerID`
//! (`containerd://<id>`, `cri-o://<id>`, `docker://<id>`), including init and ephemeral
//! containers. That is what names containers that containerd or CRI-O run: the sensor sees only
//! their cgroup, and the pod status says which pod and which container each id is.
//!
//! The watch follows kube-rs's `watcher`: a list, then a watch from the list's
//! `resourceVersion`. A `410 Gone` (the resource version expired) makes it list again; pods
//! missing from the new list are dropped. A `401` or `403` sets [`WatchStatus::Degraded`] with
//! an explanation, logs it once, and keeps retrying with backoff: until access is granted, pod
//! identity comes only from CRI labels and cgroup paths.
//!
//! Architecture invariant: the cache only reads the Kubernetes API (list and watch of pods); it
//! never writes to it, and readers never wait on the network.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kestrel_event::{ContainerId, ContainerRuntime, ImageRef, PodInfo};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use tokio::sync::watch;

use crate::runtime::parse_image_ref;

/// A container known from its pod's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodContainer {
    pub pod: Arc<PodInfo>,
    /// The container's name in the pod spec.
    pub name: String,
    /// From the `containerID` scheme.
    pub runtime: Option<ContainerRuntime>,
    pub image: ImageRef,
    /// `securityContext.privileged` of the container in the pod spec, when set.
    pub privileged: Option<bool>,
}

/// Where the pod watch stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchStatus {
    /// No list has completed yet.
    Starting,
    /// The cache holds every pod on the node as of the last list plus the watch since.
    Synced,
    /// The API cannot be used (for example 401 or 403); the reason says why and what to do.
    /// The cache keeps what it had and the watch keeps retrying.
    Degraded { reason: String },
}

#[derive(Debug, Default)]
struct State {
    pods: HashMap<String, Arc<PodInfo>>,
    pod_containers: HashMap<String, Vec<ContainerId>>,
    containers: HashMap<ContainerId, Arc<PodContainer>>,
    /// Uids seen since the last `Init`, to drop pods deleted while the watch was down.
    relisting: Option<HashSet<String>>,
}

/// Pods on this node and their containers, kept current by [`watch_node_pods`].
#[derive(Debug)]
pub struct PodCache {
    state: RwLock<State>,
    status: watch::Sender<WatchStatus>,
    /// Bumped after every change, so that a caller waiting for a container can wake up.
    generation: watch::Sender<u64>,
}

impl Default for PodCache {
    fn default() -> Self {
        PodCache {
            state: RwLock::new(State::default()),
            status: watch::Sender::new(WatchStatus::Starting),
            generation: watch::Sender::new(0),
        }
    }
}

impl PodCache {
    pub fn new() -> Arc<PodCache> {
        Arc::new(PodCache::default())
    }

    /// The pod with uid `uid`, if it is on this node.
    pub fn pod(&self, uid: &str) -> Option<Arc<PodInfo>> {
        self.read().pods.get(uid).cloned()
    }

    /// The pod container with id `id`, once kubelet has reported it in the pod status.
    pub fn container(&self, id: &ContainerId) -> Option<Arc<PodContainer>> {
        self.read().containers.get(id).cloned()
    }

    /// How many pods are cached.
    pub fn len(&self) -> usize {
        self.read().pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn status(&self) -> WatchStatus {
        self.status.borrow().clone()
    }

    /// Changes of [`PodCache::status`].
    pub fn subscribe_status(&self) -> watch::Receiver<WatchStatus> {
        self.status.subscribe()
    }

    /// A number that changes with every change to the cache.
    pub fn generation(&self) -> u64 {
        *self.generation.borrow()
    }

    /// Notified after every change to the cache.
    pub fn subscribe_changes(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Adds or replaces a pod and its containers.
    pub fn apply(&self, pod: &Pod) {
        let Some((info, containers)) = pod_entries(pod) else {
            return;
        };
        {
            let mut state = self.write();
            let uid = info.uid.clone();
            if let Some(set) = &mut state.relisting {
                set.insert(uid.clone());
            }
            remove_containers(&mut state, &uid);
            let ids: Vec<ContainerId> = containers.iter().map(|(id, _)| id.clone()).collect();
            for (id, c) in containers {
                state.containers.insert(id, Arc::new(c));
            }
            state.pod_containers.insert(uid.clone(), ids);
            state.pods.insert(uid, info);
        }
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forgets a deleted pod and its containers.
    pub fn delete(&self, pod: &Pod) {
        let Some(uid) = pod.metadata.uid.as_deref() else {
            return;
        };
        {
            let mut state = self.write();
            remove_containers(&mut state, uid);
            state.pod_containers.remove(uid);
            state.pods.remove(uid);
        }
        self.generation.send_modify(|g| *g += 1);
    }

    fn begin_relist(&self) {
        self.write().relisting = Some(HashSet::new());
    }

    fn end_relist(&self) {
        {
            let mut state = self.write();
            let Some(seen) = state.relisting.take() else {
                return;
            };
            let gone: Vec<String> = state
                .pods
                .keys()
                .filter(|uid| !seen.contains(*uid))
                .cloned()
                .collect();
            for uid in gone {
                remove_containers(&mut state, &uid);
                state.pod_containers.remove(&uid);
                state.pods.remove(&uid);
            }
        }
        self.generation.send_modify(|g| *g += 1);
        self.status.send_replace(WatchStatus::Synced);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock leaves maps that are still individually valid.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn remove_containers(state: &mut State, uid: &str) {
    if let Some(old) = state.pod_containers.remove(uid) {
        for id in old {
            state.containers.remove(&id);
        }
    }
}

/// The pod's identity and its containers that have a container id.
#[allow(clippy::type_complexity)]
fn pod_entries(pod: &Pod) -> Option<(Arc<PodInfo>, Vec<(ContainerId, PodContainer)>)> {
    let meta = &pod.metadata;
    let info = Arc::new(PodInfo {
        uid: meta.uid.clone()?,
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
    });
    let spec = pod.spec.as_ref();
    let privileged = |name: &str| -> Option<bool> {
        let spec = spec?;
        let regular = spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
            .find(|c| c.name == name)
            .map(|c| c.security_context.as_ref().and_then(|s| s.privileged));
        let ephemeral = || {
            spec.ephemeral_containers
                .iter()
                .flatten()
                .find(|c| c.name == name)
                .map(|c| c.security_context.as_ref().and_then(|s| s.privileged))
        };
        regular.or_else(ephemeral).flatten()
    };
    let statuses: Vec<&ContainerStatus> = pod
        .status
        .iter()
        .flat_map(|s| {
            s.container_statuses
                .iter()
                .flatten()
                .chain(s.init_container_statuses.iter().flatten())
                .chain(s.ephemeral_container_statuses.iter().flatten())
        })
        .collect();
    let containers = statuses
        .into_iter()
        .filter_map(|s| {
            let (runtime, id) = parse_container_id(s.container_id.as_deref()?)?;
            let mut image = parse_image_ref(&s.image);
            // containerd and CRI-O report `repo@sha256:...`; Docker `docker-pullable://repo@...`
            // or a bare `sha256:...` image id.
            if let Some((_, digest)) = s.image_id.split_once('@') {
                image.digest = Some(digest.to_owned());
            } else if s.image_id.starts_with("sha256:") {
                image.id = Some(s.image_id.clone());
            }
            Some((
                id,
                PodContainer {
                    pod: info.clone(),
                    name: s.name.clone(),
                    runtime,
                    image,
                    privileged: privileged(&s.name),
                },
            ))
        })
        .collect();
    Some((info, containers))
}

/// Splits a pod status `containerID` (`containerd://<id>`) into runtime and id.
pub fn parse_container_id(s: &str) -> Option<(Option<ContainerRuntime>, ContainerId)> {
    let (scheme, id) = s.split_once("://")?;
    let runtime = match scheme {
        "containerd" => Some(ContainerRuntime::Containerd),
        "cri-o" => Some(ContainerRuntime::Crio),
        "docker" => Some(ContainerRuntime::Docker),
        _ => None,
    };
    Some((runtime, ContainerId::parse(id)?))
}

/// Lists and watches the pods on node `node_name` into `cache` until the returned future is
/// dropped. Errors are logged and retried with kube-rs's default backoff (0.8 s doubling to
/// 30 s); see the module docs for 401/403/410.
pub async fn watch_node_pods(client: Client, node_name: String, cache: Arc<PodCache>) {
    let api: Api<Pod> = Api::all(client);
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node_name}"));
    let mut stream = std::pin::pin!(watcher(api, config).default_backoff());
    while let Some(item) = stream.next().await {
        match item {
            Ok(watcher::Event::Init) => cache.begin_relist(),
            Ok(watcher::Event::InitApply(pod)) | Ok(watcher::Event::Apply(pod)) => {
                cache.apply(&pod)
            }
            Ok(watcher::Event::InitDone) => {
                let was = cache.status();
                cache.end_relist();
                if was != WatchStatus::Synced {
                    tracing::info!(node = %node_name, pods = cache.len(), "pod metadata synced");
                }
            }
            Ok(watcher::Event::Delete(pod)) => cache.delete(&pod),
            Err(e) => report(&cache, &node_name, &e),
        }
    }
}

fn report(cache: &PodCache, node: &str, error: &watcher::Error) {
    let status = match error {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => match e {
            kube::Error::Api(s) => Some((s.code, s.message.clone())),
            _ => None,
        },
        watcher::Error::WatchError(s) => Some((s.code, s.message.clone())),
        watcher::Error::NoResourceVersion => None,
    };
    let reason = match status {
        Some((410, message)) => {
            // kube-rs lists again by itself; nothing is lost but time.
            tracing::debug!(node, %message, "pod watch expired, listing again");
            return;
        }
        Some((code @ (401 | 403), message)) => format!(
            "the Kubernetes API refused to list pods on node {node} ({code} {}: {message}); \
             pod names and labels come only from CRI labels until the sensor's service account \
             may list and watch pods",
            if code == 401 {
                "Unauthorized"
            } else {
                "Forbidden"
            }
        ),
        _ => format!("watching pods on node {node} failed: {error}"),
    };
    let changed = cache.status.send_if_modified(|s| {
        let next = WatchStatus::Degraded {
            reason: reason.clone(),
        };
        if *s == next {
            false
        } else {
            *s = next;
            true
        }
    });
    if changed {
        tracing::warn!("{reason}");
    } else {
        tracing::debug!("{reason}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(json: &str) -> Pod {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn container_ids_by_scheme() {
        let id = "a".repeat(64);
        for (scheme, runtime) in [
            ("containerd", Some(ContainerRuntime::Containerd)),
            ("cri-o", Some(ContainerRuntime::Crio)),
            ("docker", Some(ContainerRuntime::Docker)),
            ("unknown", None),
        ] {
            let (r, got) = parse_container_id(&format!("{scheme}://{id}")).unwrap();
            assert_eq!((r, got.as_str()), (runtime, id.as_str()));
        }
        assert_eq!(parse_container_id(&id), None);
        assert_eq!(parse_container_id("containerd://abc"), None);
    }

    #[test]
    fn apply_replaces_and_delete_forgets() {
        let id1 = "1".repeat(64);
        let id2 = "2".repeat(64);
        let with = |id: &str, label: &str| {
            pod(&format!(
                r#"{{"metadata":{{"uid":"u1","name":"p","namespace":"ns","labels":{{"v":"{label}"}}}},
                "spec":{{"containers":[{{"name":"c","securityContext":{{"privileged":true}}}}]}},
                "status":{{"containerStatuses":[{{"name":"c","image":"docker.io/library/nginx:1.25",
                "imageID":"docker.io/library/nginx@sha256:abcd","containerID":"containerd://{id}",
                "ready":true,"restartCount":0}}]}}}}"#
            ))
        };
        let cache = PodCache::new();
        cache.apply(&with(&id1, "a"));
        let c = cache.container(&ContainerId::parse(&id1).unwrap()).unwrap();
        assert_eq!(c.name, "c");
        assert_eq!(c.pod.name, "p");
        assert_eq!(c.privileged, Some(true));
        assert_eq!(c.runtime, Some(ContainerRuntime::Containerd));
        assert_eq!(c.image.repository, "docker.io/library/nginx");
        assert_eq!(c.image.digest.as_deref(), Some("sha256:abcd"));
        // A restart gives the container a new id; the old one is gone.
        cache.apply(&with(&id2, "b"));
        assert!(
            cache
                .container(&ContainerId::parse(&id1).unwrap())
                .is_none()
        );
        assert_eq!(cache.pod("u1").unwrap().labels["v"], "b");
        cache.delete(&with(&id2, "b"));
        assert!(
            cache
                .container(&ContainerId::parse(&id2).unwrap())
                .is_none()
        );
        assert!(cache.pod("u1").is_none());
    }
}
