//! [`ContainerResolver`]: what the event pipeline asks about containers.
//!
//! The pipeline sees a new process, asks [`ContainerResolver::resolve_pid`] and gets an
//! `Arc<ContainerInfo>` at once: the id, runtime and pod uid from the cgroup path, plus whatever
//! the [`PodCache`] already knows of that pod. The rest (name, image, labels, privilege, the pod's
//! name and labels) is looked up in the background from the runtime APIs and the pod cache, and
//! published as it arrives. To hold an event briefly until metadata is there, the pipeline awaits
//! [`ContainerResolver::wait_resolved`] with its hold time and emits with what is known then.
//!
//! A container is *resolved* once every lookup has finished, successfully or not: a container
//! the runtime does not know stays resolved with only what the cgroup said, and is not asked
//! about again until it is evicted. Entries live in a bounded LRU map, and a container is evicted
//! when the last process registered by [`ContainerResolver::resolve_pid`] has exited
//! ([`ContainerResolver::process_exited`]) or when asked ([`ContainerResolver::evict`]).
//!
//! Architecture invariant: the `resolve*`, `get` and `is_resolved` calls never block on I/O
//! beyond reading `/proc/PID/cgroup`; all runtime and Kubernetes requests run on background tasks,
//! at most `concurrency` at a time.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kestrel_config::ContainerConfig;
use kestrel_event::{ContainerId, ContainerInfo, ContainerRuntime, PodInfo};
use lru::LruCache;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, watch};

use crate::cgroup::{CgroupIdentity, ProcError, container_of_pid_in, identify_cgroup};
use crate::pods::{PodCache, PodContainer, WatchStatus};
use crate::runtime::{RuntimeApi, RuntimeClient};

/// How a [`ContainerResolver`] finds metadata.
#[derive(Debug, Clone)]
pub struct ResolverOptions {
    /// Runtime APIs to ask, in order. A container is only asked of the APIs that can know it:
    /// libpod for podman containers, Docker for Docker containers, the CRI for containerd and
    /// CRI-O containers, all of them when the cgroup path does not say which runtime created it.
    pub runtimes: Vec<RuntimeClient>,
    /// The node's pods, kept by [`crate::watch_node_pods`].
    pub pods: Option<Arc<PodCache>>,
    /// Where the host's proc file system is mounted.
    pub proc_root: PathBuf,
    /// At most this many containers are remembered.
    pub capacity: NonZeroUsize,
    /// How long a new pod container waits for kubelet to report it in the pod status before it
    /// is declared resolved with what is known.
    pub pod_status_wait: Duration,
    /// At most this many background lookups run at once.
    pub concurrency: usize,
}

impl Default for ResolverOptions {
    fn default() -> Self {
        ResolverOptions {
            runtimes: Vec::new(),
            pods: None,
            proc_root: PathBuf::from("/proc"),
            capacity: NonZeroUsize::new(4096).expect("non-zero"),
            pod_status_wait: Duration::from_secs(10),
            concurrency: 8,
        }
    }
}

#[derive(Debug, Clone)]
struct Snapshot {
    info: Arc<ContainerInfo>,
    resolved: bool,
}

#[derive(Debug)]
struct Slot {
    identity: CgroupIdentity,
    state: watch::Sender<Snapshot>,
    /// What the runtime said, once the lookup has finished; kept to re-assemble the container
    /// when the pod cache changes.
    from_runtime: OnceLock<Option<ContainerInfo>>,
    /// The pod cache generation the snapshot was assembled from.
    pod_generation: AtomicU64,
}

impl Slot {
    fn new(identity: CgroupIdentity, info: ContainerInfo) -> Slot {
        Slot {
            identity,
            state: watch::Sender::new(Snapshot {
                info: Arc::new(info),
                resolved: false,
            }),
            from_runtime: OnceLock::new(),
            pod_generation: AtomicU64::new(u64::MAX),
        }
    }

    fn current(&self) -> Arc<ContainerInfo> {
        self.state.borrow().info.clone()
    }

    /// The snapshot, re-assembled first if the lookup has finished and the pod cache changed
    /// since (pod labels edited, a container status reported after the wait ended).
    fn refreshed(&self, pods: Option<&PodCache>) -> Arc<ContainerInfo> {
        // Only a finished lookup is refreshed; one still waiting for the pod status publishes
        // its own result. (The borrow must end before `publish` takes the write lock.)
        let resolved = self.state.borrow().resolved;
        if let (Some(pods), Some(from_runtime), true) = (pods, self.from_runtime.get(), resolved) {
            let generation = pods.generation();
            if self.pod_generation.swap(generation, Ordering::Relaxed) != generation {
                let (info, _) = assemble(&self.identity, Some(pods), from_runtime.as_ref());
                if *self.current() != info {
                    self.publish(info, true);
                }
            }
        }
        self.current()
    }

    fn publish(&self, info: ContainerInfo, resolved: bool) {
        self.state.send_replace(Snapshot {
            info: Arc::new(info),
            resolved,
        });
    }
}

#[derive(Debug)]
struct Entries {
    slots: LruCache<ContainerId, Arc<Slot>>,
    /// Processes registered by `resolve_pid`, and how many are alive per container.
    pids: HashMap<u32, ContainerId>,
    live: HashMap<ContainerId, usize>,
}

#[derive(Debug)]
struct Inner {
    options: ResolverOptions,
    handle: Handle,
    entries: Mutex<Entries>,
    permits: Arc<Semaphore>,
    /// The pod watch started by [`ContainerResolver::start`], stopped with the resolver.
    pod_watch: Option<tokio::task::AbortHandle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(task) = &self.pod_watch {
            task.abort();
        }
    }
}

/// Caching, non-blocking container metadata for the event pipeline. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ContainerResolver {
    inner: Arc<Inner>,
}

impl ContainerResolver {
    /// A resolver whose background lookups run on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime.
    pub fn new(options: ResolverOptions) -> ContainerResolver {
        ContainerResolver::with_handle(options, Handle::current())
    }

    /// A resolver whose background lookups run on `handle`, so that it can be called from
    /// threads that are not part of a runtime.
    pub fn with_handle(options: ResolverOptions, handle: Handle) -> ContainerResolver {
        ContainerResolver::build(options, handle, None)
    }

    fn build(
        options: ResolverOptions,
        handle: Handle,
        pod_watch: Option<tokio::task::AbortHandle>,
    ) -> ContainerResolver {
        let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
        let entries = Entries {
            slots: LruCache::new(options.capacity),
            pids: HashMap::new(),
            live: HashMap::new(),
        };
        ContainerResolver {
            inner: Arc::new(Inner {
                options,
                handle,
                entries: Mutex::new(entries),
                permits,
                pod_watch,
            }),
        }
    }

    /// A resolver set up from the `[container]` configuration: the runtime sockets that exist,
    /// and the Kubernetes pod watch when `node_name` is set. A Kubernetes client that cannot be
    /// configured (no service account, no kubeconfig) is logged and the resolver works without
    /// it. Also returns how long the pipeline should hold events (`hold_ms`).
    pub async fn start(config: &ContainerConfig) -> (ContainerResolver, Duration) {
        let timeout = Duration::from_millis(config.runtime_timeout_ms);
        let mut runtimes = Vec::new();
        let apis = [
            (
                &config.podman_socket,
                RuntimeClient::podman as fn(PathBuf) -> RuntimeClient,
            ),
            (&config.docker_socket, RuntimeClient::docker),
        ]
        .into_iter()
        .chain(
            config
                .cri_sockets
                .iter()
                .map(|s| (s, RuntimeClient::cri as fn(PathBuf) -> RuntimeClient)),
        );
        for (socket, client) in apis {
            if socket.as_os_str().is_empty() {
                continue;
            }
            if socket.exists() {
                let c = client(socket.clone()).with_timeout(timeout);
                tracing::info!(api = %c.api(), socket = %socket.display(), "asking a container runtime for metadata");
                runtimes.push(c);
            } else {
                tracing::debug!(socket = %socket.display(), "no container runtime socket here; skipped");
            }
        }
        let mut pod_watch = None;
        let mut pods = None;
        if let Some(node) = config.node_name.as_deref().filter(|n| !n.is_empty()) {
            match kube_client(config.kubeconfig.as_deref()).await {
                Ok(client) => {
                    let cache = PodCache::new();
                    let task = tokio::spawn(crate::pods::watch_node_pods(
                        client,
                        node.to_owned(),
                        cache.clone(),
                    ));
                    pod_watch = Some(task.abort_handle());
                    pods = Some(cache);
                }
                Err(e) => tracing::warn!(
                    node,
                    error = %e,
                    "no Kubernetes client; pod names and labels come only from CRI labels"
                ),
            }
        }
        let options = ResolverOptions {
            runtimes,
            pods,
            proc_root: config.proc_root.clone(),
            capacity: NonZeroUsize::new(config.cache_size).unwrap_or(NonZeroUsize::MIN),
            pod_status_wait: Duration::from_millis(config.pod_status_wait_ms),
            ..ResolverOptions::default()
        };
        let resolver = ContainerResolver::build(options, Handle::current(), pod_watch);
        (resolver, Duration::from_millis(config.hold_ms))
    }

    /// The pod cache, when the Kubernetes pod watch runs.
    pub fn pods(&self) -> Option<&Arc<PodCache>> {
        self.inner.options.pods.as_ref()
    }

    /// The container of process `pid`, or `None` for a process outside any container. The
    /// process is registered: when every registered process of a container has exited, the
    /// container is forgotten.
    pub fn resolve_pid(&self, pid: u32) -> Result<Option<Arc<ContainerInfo>>, ProcError> {
        let Some(identity) = container_of_pid_in(&self.inner.options.proc_root, pid)? else {
            return Ok(None);
        };
        let info = self.resolve(&identity);
        let mut entries = self.entries();
        let id = identity.container_id;
        match entries.pids.insert(pid, id.clone()) {
            Some(old) if old == id => {}
            old => {
                // A pid seen before in another container means its exit was missed.
                if let Some(old) = old {
                    release(&mut entries, &old);
                }
                *entries.live.entry(id).or_insert(0) += 1;
            }
        }
        Ok(Some(info))
    }

    /// The container of a cgroup path (or `/proc/PID/cgroup` line), or `None` outside any.
    pub fn resolve_cgroup(&self, path: &str) -> Option<Arc<ContainerInfo>> {
        identify_cgroup(path).map(|identity| self.resolve(&identity))
    }

    /// What is known now about the container `identity` names; starts the background lookup the
    /// first time the container is seen.
    pub fn resolve(&self, identity: &CgroupIdentity) -> Arc<ContainerInfo> {
        let slot = {
            let mut entries = self.entries();
            if let Some(slot) = entries.slots.get(&identity.container_id) {
                return slot.refreshed(self.inner.options.pods.as_deref());
            }
            let slot = Arc::new(Slot::new(identity.clone(), self.initial(identity)));
            if let Some((evicted, _)) = entries
                .slots
                .push(identity.container_id.clone(), slot.clone())
                .filter(|(k, _)| *k != identity.container_id)
            {
                entries.live.remove(&evicted);
                entries.pids.retain(|_, id| *id != evicted);
            }
            slot
        };
        let info = slot.current();
        let inner = self.inner.clone();
        self.inner.handle.spawn(lookup(inner, slot));
        info
    }

    /// What is known about container `id`, if it is remembered.
    pub fn get(&self, id: &ContainerId) -> Option<Arc<ContainerInfo>> {
        self.entries()
            .slots
            .peek(id)
            .map(|s| s.refreshed(self.inner.options.pods.as_deref()))
    }

    /// Whether every lookup for container `id` has finished. `false` for an unknown container.
    pub fn is_resolved(&self, id: &ContainerId) -> bool {
        self.entries()
            .slots
            .peek(id)
            .is_some_and(|s| s.state.borrow().resolved)
    }

    /// Waits until container `id` is resolved or `timeout` has passed, and returns what is known
    /// then; `None` for a container that was never resolved or has been evicted.
    pub async fn wait_resolved(
        &self,
        id: &ContainerId,
        timeout: Duration,
    ) -> Option<Arc<ContainerInfo>> {
        let mut rx = self.entries().slots.peek(id)?.state.subscribe();
        // Either outcome returns the latest snapshot; the timeout only ends the hold.
        let _ = tokio::time::timeout(timeout, rx.wait_for(|s| s.resolved)).await;
        let info = rx.borrow().info.clone();
        Some(info)
    }

    /// Records that process `pid` exited; forgets its container when no registered process of
    /// it is left.
    pub fn process_exited(&self, pid: u32) {
        let mut entries = self.entries();
        if let Some(id) = entries.pids.remove(&pid) {
            release(&mut entries, &id);
        }
    }

    /// Forgets container `id` (it exited).
    pub fn evict(&self, id: &ContainerId) {
        let mut entries = self.entries();
        entries.slots.pop(id);
        entries.live.remove(id);
        entries.pids.retain(|_, c| c != id);
    }

    /// How many containers are remembered.
    pub fn len(&self) -> usize {
        self.entries().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The maps stay consistent even if a holder panicked mid-update: each update is one
        // insert or remove.
        self.inner.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is known without asking anyone: the cgroup path and the pod cache.
    fn initial(&self, identity: &CgroupIdentity) -> ContainerInfo {
        assemble(identity, self.inner.options.pods.as_deref(), None).0
    }
}

/// A Kubernetes client from `kubeconfig`, or else the in-cluster service account, `$KUBECONFIG`
/// or `~/.kube/config`.
async fn kube_client(kubeconfig: Option<&std::path::Path>) -> Result<kube::Client, String> {
    let config = match kubeconfig {
        None => kube::Config::infer().await.map_err(|e| e.to_string())?,
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &kube::config::KubeConfigOptions::default())
                .await
                .map_err(|e| format!("invalid kubeconfig {}: {e}", path.display()))?
        }
    };
    kube::Client::try_from(config).map_err(|e| e.to_string())
}

fn release(entries: &mut Entries, id: &ContainerId) {
    let Some(n) = entries.live.get_mut(id) else {
        return;
    };
    *n -= 1;
    if *n == 0 {
        entries.live.remove(id);
        entries.slots.pop(id);
    }
}

/// Fills `info` from the pod cache: the pod by uid, and the container by id once kubelet has
/// reported it. Returns whether the container itself was found.
fn merge_pod_cache(info: &mut ContainerInfo, identity: &CgroupIdentity, pods: &PodCache) -> bool {
    if let Some(c) = pods.container(&identity.container_id) {
        merge_pod_container(info, &c);
        return true;
    }
    if let Some(pod) = identity.pod_uid.as_deref().and_then(|uid| pods.pod(uid)) {
        info.pod = Some((*pod).clone());
    }
    false
}

fn merge_pod_container(info: &mut ContainerInfo, c: &PodContainer) {
    info.pod = Some((*c.pod).clone());
    info.name = Some(c.name.clone());
    info.runtime = info.runtime.or(c.runtime);
    if info.image.is_none() {
        info.image = Some(c.image.clone());
    }
    info.privileged = info.privileged.or(c.privileged);
}

/// Merges what a runtime said into what is known. The runtime is authoritative for the image
/// (it knows the image id), labels and effective privilege; the Kubernetes names win when the
/// pod cache supplied them, and the pod uid from the cgroup path is the Kubernetes uid.
fn merge_runtime(info: &mut ContainerInfo, from: ContainerInfo) {
    let had_kube_name = info.pod.as_ref().is_some_and(|p| !p.name.is_empty());
    if !had_kube_name || info.name.is_none() {
        info.name = from.name.or(info.name.take());
    }
    if let Some(image) = from.image {
        let old = info.image.take().unwrap_or_default();
        info.image = Some(kestrel_event::ImageRef {
            repository: if image.repository.is_empty() {
                old.repository
            } else {
                image.repository
            },
            tag: image.tag.or(old.tag),
            digest: image.digest.or(old.digest),
            id: image.id.or(old.id),
        });
    }
    info.labels.extend(from.labels);
    info.privileged = from.privileged.or(info.privileged);
    info.runtime = from.runtime.or(info.runtime);
    if let Some(rpod) = from.pod {
        match &mut info.pod {
            Some(pod) if !pod.name.is_empty() => {}
            Some(pod) => {
                // The cgroup gave only the uid; the runtime gives the rest.
                let uid = std::mem::take(&mut pod.uid);
                *pod = PodInfo {
                    uid: if uid.is_empty() { rpod.uid } else { uid },
                    ..rpod
                };
            }
            None => info.pod = Some(rpod),
        }
    }
}

fn asks(api: RuntimeApi, runtime: Option<ContainerRuntime>) -> bool {
    matches!(
        (api, runtime),
        (_, None)
            | (RuntimeApi::Libpod, Some(ContainerRuntime::Podman))
            | (RuntimeApi::Docker, Some(ContainerRuntime::Docker))
            | (
                RuntimeApi::Cri,
                Some(ContainerRuntime::Containerd | ContainerRuntime::Crio)
            )
    )
}

/// What is known from the cgroup path, the pod cache and (when it answered) the runtime; and
/// whether kubelet has reported the container in its pod's status.
fn assemble(
    identity: &CgroupIdentity,
    pods: Option<&PodCache>,
    from_runtime: Option<&ContainerInfo>,
) -> (ContainerInfo, bool) {
    let mut info = ContainerInfo::bare(identity.container_id.clone());
    info.runtime = identity.runtime;
    info.pod = identity.pod_uid.as_ref().map(|uid| PodInfo {
        uid: uid.clone(),
        ..PodInfo::default()
    });
    let in_pod_status = pods.is_some_and(|p| merge_pod_cache(&mut info, identity, p));
    if let Some(found) = from_runtime {
        merge_runtime(&mut info, found.clone());
    }
    (info, in_pod_status)
}

async fn lookup(inner: Arc<Inner>, slot: Arc<Slot>) {
    let Ok(permit) = inner.permits.clone().acquire_owned().await else {
        return;
    };
    let identity = &slot.identity;
    let id = &identity.container_id;
    let pods = inner.options.pods.as_deref();

    let mut from_runtime = None;
    for client in inner
        .options
        .runtimes
        .iter()
        .filter(|c| asks(c.api(), identity.runtime))
    {
        match client.inspect(id).await {
            Ok(Some(found)) => {
                from_runtime = Some(found);
                break;
            }
            Ok(None) => {}
            Err(e) => tracing::debug!(container = %id, error = %e, "runtime lookup failed"),
        }
    }
    // Waiting for the pod cache below is not a request: it must not hold up other lookups.
    drop(permit);
    // Read before assembling, so that a change in between triggers a refresh.
    let generation = pods.map(PodCache::generation);
    let (info, in_pod_status) = assemble(identity, pods, from_runtime.as_ref());

    // kubelet reports a new container in the pod status a moment after starting it. A runtime
    // that answered has named the container already.
    if let Some(pods) = pods
        && identity.pod_uid.is_some()
        && from_runtime.is_none()
        && !in_pod_status
        && !matches!(pods.status(), WatchStatus::Degraded { .. })
    {
        slot.publish(info, false);
        let mut changes = pods.subscribe_changes();
        let waited = tokio::time::timeout(inner.options.pod_status_wait, async {
            while pods.container(id).is_none() {
                if changes.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        if waited.is_err() {
            tracing::debug!(container = %id, "not in any pod status yet; resolved with what is known");
        }
        slot.pod_generation
            .store(pods.generation(), Ordering::Relaxed);
        let (info, _) = assemble(identity, Some(pods), from_runtime.as_ref());
        finish(&slot, from_runtime, info);
    } else {
        if let Some(generation) = generation {
            slot.pod_generation.store(generation, Ordering::Relaxed);
        }
        finish(&slot, from_runtime, info);
    }
}

/// Publishes the resolved container. The runtime's answer is kept first, so that whoever sees
/// the container resolved can also refresh it from the pod cache.
fn finish(slot: &Slot, from_runtime: Option<ContainerInfo>, info: ContainerInfo) {
    let _ = slot.from_runtime.set(from_runtime);
    slot.publish(info, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_facts_merge_under_kubernetes_names() {
        let id = ContainerId::parse(&"c".repeat(64)).unwrap();
        let mut info = ContainerInfo::bare(id.clone());
        info.pod = Some(PodInfo {
            uid: "u".into(),
            name: "web-1".into(),
            namespace: "shop".into(),
            ..PodInfo::default()
        });
        info.name = Some("web".into());
        let mut from = ContainerInfo::bare(id);
        from.name = Some("k8s_web_web-1_shop_u_0".into());
        from.privileged = Some(false);
        from.image = Some(crate::runtime::parse_image_ref("nginx:1.25"));
        from.pod = Some(PodInfo {
            uid: "podman-pod".into(),
            name: "p".into(),
            ..PodInfo::default()
        });
        merge_runtime(&mut info, from);
        assert_eq!(info.name.as_deref(), Some("web"));
        assert_eq!(info.pod.as_ref().unwrap().name, "web-1");
        assert_eq!(info.privileged, Some(false));
        assert_eq!(info.image.unwrap().tag.as_deref(), Some("1.25"));
    }

    #[test]
    fn runtime_pod_fills_a_uid_only_pod() {
        let id = ContainerId::parse(&"c".repeat(64)).unwrap();
        let mut info = ContainerInfo::bare(id.clone());
        info.pod = Some(PodInfo {
            uid: "kube-uid".into(),
            ..PodInfo::default()
        });
        let mut from = ContainerInfo::bare(id);
        from.pod = Some(PodInfo {
            uid: "podman-pod-id".into(),
            name: "p".into(),
            ..PodInfo::default()
        });
        merge_runtime(&mut info, from);
        let pod = info.pod.unwrap();
        assert_eq!((pod.uid.as_str(), pod.name.as_str()), ("kube-uid", "p"));
    }

    #[test]
    fn which_apis_are_asked() {
        assert!(asks(RuntimeApi::Libpod, Some(ContainerRuntime::Podman)));
        assert!(!asks(RuntimeApi::Docker, Some(ContainerRuntime::Podman)));
        assert!(asks(RuntimeApi::Docker, None));
        assert!(!asks(
            RuntimeApi::Libpod,
            Some(ContainerRuntime::Containerd)
        ));
    }
}
