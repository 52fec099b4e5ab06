//! The CRI client against a gRPC server on a temporary unix socket that replays a
//! `ContainerStatusResponse` encoded by Google's protobuf library in containerd's shape
//! (`testdata/cri/`), over real HTTP/2 with gRPC framing and trailers.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use kestrel_container::{ContainerResolver, ResolverOptions, RuntimeClient, RuntimeError};
use kestrel_event::{ContainerId, ContainerRuntime};

const STATUS: &[u8] = include_bytes!("../testdata/cri/container-status-containerd.pb");
const ID: &str = "4b1f0e6c2d9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c";
const POD_UID: &str = "22a84f4b-6dc1-484a-9ff7-0ff36e94eb85";

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;
/// Requests the server received: path and body.
type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

fn trailers(status: u32, message: &str) -> HeaderMap {
    let mut t = HeaderMap::new();
    t.insert("grpc-status", status.to_string().parse().unwrap());
    if !message.is_empty() {
        t.insert("grpc-message", message.parse().unwrap());
    }
    t
}

/// A CRI runtime that knows one container (`ID`) and records the requests it gets.
async fn serve(dir: &std::path::Path) -> (std::path::PathBuf, Seen) {
    let socket = dir.join("containerd.sock");
    let listener = tokio::net::UnixListener::bind(&socket).unwrap();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let log = log.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        log.lock().unwrap().push((path.clone(), body.clone()));
                        // The request's message after the 5-byte gRPC frame header:
                        // container_id = 1 (string), verbose = 2 (true).
                        let asked = body
                            .get(7..71)
                            .map(|b| String::from_utf8_lossy(b).into_owned());
                        let frames: Vec<Result<Frame<Bytes>, Infallible>> = if path
                            == "/runtime.v1.RuntimeService/ContainerStatus"
                            && asked.as_deref() == Some(ID)
                        {
                            let mut data = vec![0];
                            data.extend_from_slice(&(STATUS.len() as u32).to_be_bytes());
                            data.extend_from_slice(STATUS);
                            vec![
                                Ok(Frame::data(Bytes::from(data))),
                                Ok(Frame::trailers(trailers(0, ""))),
                            ]
                        } else if path == "/runtime.v1.RuntimeService/ContainerStatus" {
                            vec![Ok(Frame::trailers(trailers(
                                5,
                                "an error occurred when try to find container: not found",
                            )))]
                        } else {
                            vec![Ok(Frame::trailers(trailers(12, "unknown method")))]
                        };
                        let body: Body =
                            BodyExt::boxed(StreamBody::new(futures::stream::iter(frames)));
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("content-type", "application/grpc")
                                .body(body)
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (socket, seen)
}

#[tokio::test]
async fn container_status_over_grpc() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, seen) = serve(dir.path()).await;
    let cri = RuntimeClient::cri(&socket);
    let id = ContainerId::parse(ID).unwrap();
    let info = cri
        .inspect(&id)
        .await
        .unwrap()
        .expect("the runtime knows it");

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 1);
    let (path, body) = &requests[0];
    assert_eq!(path, "/runtime.v1.RuntimeService/ContainerStatus");
    // gRPC frame header, then field 1 (64 bytes) and field 2 = true.
    assert_eq!(&body[..7], &[0, 0, 0, 0, 68, 0x0a, 64]);
    assert_eq!(&body[71..], &[0x10, 0x01]);

    assert_eq!(info.id, id);
    assert_eq!(info.name.as_deref(), Some("web"));
    let image = info.image.as_ref().unwrap();
    assert_eq!(image.repository, "registry.shop.example/web");
    assert_eq!(image.tag.as_deref(), Some("1.4.2"));
    assert_eq!(image.digest, Some(format!("sha256:{}", "5".repeat(64))));
    assert_eq!(image.id, Some(format!("sha256:{}", "7".repeat(64))));
    assert_eq!(info.privileged, Some(true));
    let pod = info.pod.as_ref().unwrap();
    assert_eq!(
        (pod.name.as_str(), pod.namespace.as_str(), pod.uid.as_str()),
        ("web-7d9f8c6b5-x2kqp", "shop-prod", POD_UID)
    );
    assert_eq!(info.labels["io.kubernetes.container.name"], "web");

    // NOT_FOUND is "no such container", not an error.
    let unknown = ContainerId::parse(&"0".repeat(64)).unwrap();
    assert_eq!(cri.inspect(&unknown).await.unwrap(), None);
}

#[tokio::test]
async fn resolver_asks_the_cri_for_containerd_containers() {
    let dir = tempfile::tempdir().unwrap();
    let (socket, _) = serve(dir.path()).await;
    let resolver = ContainerResolver::new(ResolverOptions {
        runtimes: vec![RuntimeClient::cri(&socket)],
        ..ResolverOptions::default()
    });
    let cgroup = format!(
        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice/cri-containerd-{ID}.scope",
        POD_UID.replace('-', "_")
    );
    let first = resolver.resolve_cgroup(&cgroup).unwrap();
    let info = resolver
        .wait_resolved(&first.id, std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(info.runtime, Some(ContainerRuntime::Containerd));
    assert_eq!(info.name.as_deref(), Some("web"));
    assert_eq!(info.pod.as_ref().unwrap().name, "web-7d9f8c6b5-x2kqp");
    assert_eq!(info.pod.as_ref().unwrap().uid, POD_UID);
}

#[tokio::test]
async fn grpc_errors_name_the_socket_and_status() {
    let dir = tempfile::tempdir().unwrap();
    let missing = RuntimeClient::cri(dir.path().join("crio.sock"));
    let err = missing
        .inspect(&ContainerId::parse(ID).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Connect { .. }), "{err}");
    assert!(
        err.to_string().contains("CRI API") && err.to_string().contains("crio.sock"),
        "{err}"
    );
}
