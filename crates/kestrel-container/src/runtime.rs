//! Container metadata from the container runtime's API.
//!
//! Three APIs over a unix socket are spoken, all read-only:
//!
//! - podman's libpod REST API (`podman system service`, default socket
//!   `/run/podman/podman.sock`): `GET /v4.0.0/libpod/containers/{id}/json`, and
//!   `GET /v4.0.0/libpod/pods/{id}/json` for a container in a podman pod. This is the same
//!   document `podman inspect` prints, without forking a process per container.
//! - the Docker Engine API (default socket `/var/run/docker.sock`):
//!   `GET /v1.41/containers/{id}/json`, then `GET /v1.41/images/{image-id}/json` for the
//!   repository digest, which the container document does not carry. podman serves this API too.
//!
//! - the Kubernetes CRI over gRPC (containerd, CRI-O), see [`crate::cri`].
//!
//! On a Kubernetes node the pod watcher ([`crate::pods`]) also learns every container's name,
//! image and pod from the pods' statuses.
//!
//! Containers that kubelet created carry CRI labels (`io.kubernetes.pod.name`,
//! `io.kubernetes.pod.namespace`, `io.kubernetes.pod.uid`, `io.kubernetes.container.name`);
//! they give the pod identity without the Kubernetes API and are applied whichever API answered.
//!
//! Architecture invariant: only `GET` requests are sent; a runtime is never asked to change
//! anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use kestrel_event::{ContainerId, ContainerInfo, ContainerRuntime, ImageRef, PodInfo};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::net::UnixStream;

/// podman's default rootful API socket.
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";
/// Docker's default API socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The largest response body accepted from a runtime; an inspect document is a few KiB.
const MAX_BODY: usize = 4 << 20;

/// The CRI label kubelet puts on every container with its pod's name.
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
/// The CRI label with the pod's namespace.
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The CRI label with the pod's uid.
pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
/// The CRI label with the container's name in the pod spec.
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";

/// A request to a runtime API failed. Each variant names the socket and the request.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("cannot connect to the {api} API at {socket}: {source}")]
    Connect {
        api: RuntimeApi,
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("{api} API at {socket}: GET {request} failed: {message}")]
    Http {
        api: RuntimeApi,
        socket: PathBuf,
        request: String,
        message: String,
    },
    #[error("{api} API at {socket}: GET {request} answered {status}: {body}")]
    Status {
        api: RuntimeApi,
        socket: PathBuf,
        request: String,
        status: StatusCode,
        body: String,
    },
    #[error("{api} API at {socket}: GET {request} returned an unexpected document: {source}")]
    Decode {
        api: RuntimeApi,
        socket: PathBuf,
        request: String,
        source: serde_json::Error,
    },
    #[error("{api} API at {socket}: GET {request} did not answer within {timeout:?}")]
    Timeout {
        api: RuntimeApi,
        socket: PathBuf,
        request: String,
        timeout: Duration,
    },
}

/// Which runtime API a [`RuntimeClient`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuntimeApi {
    /// podman's libpod REST API.
    Libpod,
    /// The Docker Engine API (Docker, or podman's compatible service).
    Docker,
    /// The Kubernetes CRI over gRPC (containerd, CRI-O); see [`crate::cri`].
    Cri,
}

impl std::fmt::Display for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RuntimeApi::Libpod => "libpod",
            RuntimeApi::Docker => "Docker Engine",
            RuntimeApi::Cri => "CRI",
        })
    }
}

/// A read-only client of one runtime API on one unix socket.
#[derive(Debug, Clone)]
pub struct RuntimeClient {
    api: RuntimeApi,
    socket: PathBuf,
    timeout: Duration,
}

impl RuntimeClient {
    /// A client of the libpod API at `socket`.
    pub fn podman(socket: impl Into<PathBuf>) -> Self {
        RuntimeClient {
            api: RuntimeApi::Libpod,
            socket: socket.into(),
            timeout: Duration::from_secs(2),
        }
    }

    /// A client of the Docker Engine API at `socket`.
    pub fn docker(socket: impl Into<PathBuf>) -> Self {
        RuntimeClient {
            api: RuntimeApi::Docker,
            socket: socket.into(),
            timeout: Duration::from_secs(2),
        }
    }

    /// A client of the CRI (containerd or CRI-O) at `socket`.
    pub fn cri(socket: impl Into<PathBuf>) -> Self {
        RuntimeClient {
            api: RuntimeApi::Cri,
            socket: socket.into(),
            timeout: Duration::from_secs(2),
        }
    }

    /// Bounds each request (connect, send, whole body).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn api(&self) -> RuntimeApi {
        self.api
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The runtime that created the containers this API reports; `None` for the CRI, which
    /// containerd and CRI-O both serve.
    pub fn runtime(&self) -> Option<ContainerRuntime> {
        match self.api {
            RuntimeApi::Libpod => Some(ContainerRuntime::Podman),
            RuntimeApi::Docker => Some(ContainerRuntime::Docker),
            RuntimeApi::Cri => None,
        }
    }

    /// What the runtime knows about container `id`; `None` when it has no such container.
    pub async fn inspect(&self, id: &ContainerId) -> Result<Option<ContainerInfo>, RuntimeError> {
        let mut info = match self.api {
            RuntimeApi::Libpod => self.inspect_libpod(id).await?,
            RuntimeApi::Docker => self.inspect_docker(id).await?,
            RuntimeApi::Cri => return crate::cri::inspect(&self.socket, self.timeout, id).await,
        };
        if let Some(info) = &mut info {
            apply_cri_labels(info);
        }
        Ok(info)
    }

    async fn inspect_libpod(
        &self,
        id: &ContainerId,
    ) -> Result<Option<ContainerInfo>, RuntimeError> {
        let Some(c): Option<LibpodContainer> = self
            .get(&format!("/v4.0.0/libpod/containers/{id}/json"))
            .await?
        else {
            return Ok(None);
        };
        let Some(cid) = ContainerId::parse(&c.id) else {
            return Ok(None);
        };
        let mut image = parse_image_ref(&c.image_name);
        image.id = non_empty(c.image).map(|i| with_sha256(&i));
        image.digest = non_empty(c.image_digest);
        let mut info = ContainerInfo::bare(cid);
        info.runtime = Some(ContainerRuntime::Podman);
        info.name = non_empty(c.name);
        info.image = Some(image);
        info.labels = c.config.labels.unwrap_or_default();
        info.privileged = Some(c.host_config.privileged);
        // The pod id comes from the runtime's own answer, but it is still checked before it is
        // put in a request path.
        if let Some(pod_id) = c.pod.as_deref().and_then(ContainerId::parse) {
            match self
                .get::<LibpodPod>(&format!("/v4.0.0/libpod/pods/{pod_id}/json"))
                .await
            {
                Ok(Some(pod)) => {
                    info.pod = Some(PodInfo {
                        uid: pod.id,
                        name: pod.name,
                        namespace: String::new(),
                        labels: pod.labels.unwrap_or_default(),
                    })
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(container = %id, error = %e, "podman pod lookup failed"),
            }
        }
        Ok(Some(info))
    }

    async fn inspect_docker(
        &self,
        id: &ContainerId,
    ) -> Result<Option<ContainerInfo>, RuntimeError> {
        let Some(c): Option<DockerContainer> =
            self.get(&format!("/v1.41/containers/{id}/json")).await?
        else {
            return Ok(None);
        };
        let Some(cid) = ContainerId::parse(&c.id) else {
            return Ok(None);
        };
        let mut image = parse_image_ref(&c.config.image);
        image.id = non_empty(c.image.clone()).map(|i| with_sha256(&i));
        if let Some(image_id) = image.id.as_deref().and_then(|i| i.strip_prefix("sha256:"))
            && image_id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            match self
                .get::<DockerImage>(&format!("/v1.41/images/{image_id}/json"))
                .await
            {
                Ok(Some(img)) => {
                    image.digest = pick_repo_digest(&image.repository, &img.repo_digests)
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(container = %id, error = %e, "image lookup failed"),
            }
        }
        let mut info = ContainerInfo::bare(cid);
        info.runtime = Some(ContainerRuntime::Docker);
        info.name = non_empty(c.name.trim_start_matches('/').to_owned());
        info.image = Some(image);
        info.labels = c.config.labels.unwrap_or_default();
        info.privileged = Some(c.host_config.privileged);
        Ok(Some(info))
    }

    /// `GET path` and decode the JSON answer; `None` on 404.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<Option<T>, RuntimeError> {
        match tokio::time::timeout(self.timeout, self.get_bytes(path)).await {
            Ok(Ok(None)) => Ok(None),
            Ok(Ok(Some(body))) => {
                serde_json::from_slice(&body)
                    .map(Some)
                    .map_err(|source| RuntimeError::Decode {
                        api: self.api,
                        socket: self.socket.clone(),
                        request: path.to_owned(),
                        source,
                    })
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(RuntimeError::Timeout {
                api: self.api,
                socket: self.socket.clone(),
                request: path.to_owned(),
                timeout: self.timeout,
            }),
        }
    }

    async fn get_bytes(&self, path: &str) -> Result<Option<Bytes>, RuntimeError> {
        let http_err = |message: String| RuntimeError::Http {
            api: self.api,
            socket: self.socket.clone(),
            request: path.to_owned(),
            message,
        };
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| RuntimeError::Connect {
                    api: self.api,
                    socket: self.socket.clone(),
                    source,
                })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| http_err(e.to_string()))?;
        // The connection task ends when the response has been read and `sender` is dropped.
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "runtime API connection closed with an error");
            }
        });
        let request = Request::get(path)
            .header(hyper::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .map_err(|e| http_err(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| http_err(e.to_string()))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| http_err(e.to_string()))?
            .to_bytes();
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(RuntimeError::Status {
                api: self.api,
                socket: self.socket.clone(),
                request: path.to_owned(),
                status,
                body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            });
        }
        Ok(Some(body))
    }
}

/// Fills in the pod and the container's name in its pod from kubelet's CRI labels.
pub fn apply_cri_labels(info: &mut ContainerInfo) {
    let label = |k: &str| info.labels.get(k).filter(|v| !v.is_empty()).cloned();
    let (name, namespace, uid) = (
        label(LABEL_POD_NAME),
        label(LABEL_POD_NAMESPACE),
        label(LABEL_POD_UID),
    );
    if let Some(container_name) = label(LABEL_CONTAINER_NAME) {
        info.name = Some(container_name);
    }
    if name.is_none() && uid.is_none() {
        return;
    }
    let pod = info.pod.get_or_insert_with(PodInfo::default);
    if let Some(uid) = uid {
        pod.uid = uid;
    }
    if let Some(name) = name {
        pod.name = name;
    }
    if let Some(namespace) = namespace {
        pod.namespace = namespace;
    }
}

/// Splits `registry/repo:tag@sha256:digest` into its parts. A `:` after the last `/` starts the
/// tag; one before it belongs to a registry port (`localhost:5000/app`).
pub fn parse_image_ref(reference: &str) -> ImageRef {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d.to_owned())),
        None => (reference, None),
    };
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], Some(name[slash + i + 1..].to_owned())),
        None => (name, None),
    };
    ImageRef {
        repository: repository.to_owned(),
        tag: tag.filter(|t| !t.is_empty()),
        digest,
        id: None,
    }
}

fn pick_repo_digest(repository: &str, repo_digests: &[String]) -> Option<String> {
    let digest_of = |rd: &String| {
        rd.split_once('@')
            .map(|(r, d)| (r.to_owned(), d.to_owned()))
    };
    let all: Vec<(String, String)> = repo_digests.iter().filter_map(digest_of).collect();
    all.iter()
        .find(|(r, _)| r == repository || r.ends_with(&format!("/{repository}")))
        .or(all.first())
        .map(|(_, d)| d.clone())
}

fn with_sha256(id: &str) -> String {
    if id.contains(':') {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}

fn non_empty(s: impl Into<Option<String>>) -> Option<String> {
    s.into().filter(|s| !s.is_empty())
}

/// The part of libpod's container inspect document that is used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LibpodContainer {
    id: String,
    #[serde(default)]
    name: String,
    /// The image id, without `sha256:`.
    #[serde(default)]
    image: String,
    #[serde(default)]
    image_name: String,
    #[serde(default)]
    image_digest: Option<String>,
    #[serde(default)]
    pod: Option<String>,
    #[serde(default)]
    config: LabelsConfig,
    #[serde(default)]
    host_config: HostConfig,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LibpodPod {
    id: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// The part of Docker's `ContainerInspectResponse` that is used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerContainer {
    id: String,
    #[serde(default)]
    name: String,
    /// The image id, `sha256:...`.
    #[serde(default)]
    image: String,
    #[serde(default)]
    config: DockerConfig,
    #[serde(default)]
    host_config: HostConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerConfig {
    /// The image as the user named it (`nginx:1.25`).
    #[serde(default)]
    image: String,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LabelsConfig {
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig {
    #[serde(default)]
    privileged: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerImage {
    #[serde(default)]
    repo_digests: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{Expect, expect};

    fn check_image(reference: &str, expect: Expect) {
        expect.assert_debug_eq(&parse_image_ref(reference));
    }

    #[test]
    fn image_refs() {
        check_image(
            "localhost/kestrel-test:1.0",
            expect![[r#"
                ImageRef {
                    repository: "localhost/kestrel-test",
                    tag: Some(
                        "1.0",
                    ),
                    digest: None,
                    id: None,
                }
            "#]],
        );
        check_image(
            "localhost:5000/team/app",
            expect![[r#"
                ImageRef {
                    repository: "localhost:5000/team/app",
                    tag: None,
                    digest: None,
                    id: None,
                }
            "#]],
        );
        check_image(
            "docker.io/library/nginx:1.25@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
            expect![[r#"
                ImageRef {
                    repository: "docker.io/library/nginx",
                    tag: Some(
                        "1.25",
                    ),
                    digest: Some(
                        "sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31",
                    ),
                    id: None,
                }
            "#]],
        );
        check_image(
            "busybox",
            expect![[r#"
                ImageRef {
                    repository: "busybox",
                    tag: None,
                    digest: None,
                    id: None,
                }
            "#]],
        );
    }

    #[test]
    fn repo_digest_matches_the_repository() {
        let digests = vec![
            "registry.example/other@sha256:aaaa".to_owned(),
            "docker.io/library/nginx@sha256:bbbb".to_owned(),
        ];
        assert_eq!(
            pick_repo_digest("nginx", &digests).as_deref(),
            Some("sha256:bbbb")
        );
        assert_eq!(
            pick_repo_digest("unknown", &digests).as_deref(),
            Some("sha256:aaaa")
        );
        assert_eq!(pick_repo_digest("nginx", &[]), None);
    }

    #[test]
    fn cri_labels_give_the_pod() {
        let mut info = ContainerInfo::bare(ContainerId::parse(&"a".repeat(64)).unwrap());
        info.name = Some("k8s_web_web-7d9f_shop-prod_3ff4e486_0".to_owned());
        for (k, v) in [
            (LABEL_POD_NAME, "web-7d9f"),
            (LABEL_POD_NAMESPACE, "shop-prod"),
            (LABEL_POD_UID, "3ff4e486-5a28-4fbb-a3a0-b49d9427886b"),
            (LABEL_CONTAINER_NAME, "web"),
        ] {
            info.labels.insert(k.to_owned(), v.to_owned());
        }
        apply_cri_labels(&mut info);
        assert_eq!(info.name.as_deref(), Some("web"));
        let pod = info.pod.unwrap();
        assert_eq!(
            (pod.name.as_str(), pod.namespace.as_str(), pod.uid.as_str()),
            (
                "web-7d9f",
                "shop-prod",
                "3ff4e486-5a28-4fbb-a3a0-b49d9427886b"
            )
        );
    }

    #[tokio::test]
    async fn missing_socket_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("nothing.sock");
        let client = RuntimeClient::docker(&socket);
        let err = client
            .inspect(&ContainerId::parse(&"a".repeat(64)).unwrap())
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("Docker Engine API") && msg.contains("nothing.sock"),
            "{msg}"
        );
    }
}
