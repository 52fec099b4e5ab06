//! The Kubernetes Container Runtime Interface (CRI) over gRPC: containerd and CRI-O.
//!
//! One call is made, `runtime.v1.RuntimeService/ContainerStatus` with `verbose: true`, as
//! `crictl inspect` does. gRPC is spoken directly over HTTP/2 (hyper) on the runtime's unix
//! socket, and the few protobuf fields read are decoded by hand: a generated client would pull in
//! `protoc` and a gRPC framework for one unary call. Field numbers are those of
//! `k8s.io/cri-api/pkg/apis/runtime/v1/api.proto`.
//!
//! What is read: `status.metadata.name` (the container's name in its pod), `status.image`
//! (`image`, `user_specified_image`), `status.image_ref` (the repository digest),
//! `status.image_id`, `status.labels` (kubelet's CRI labels, which name the pod), and from the
//! verbose `info` JSON, `privileged` (CRI-O) or `config.linux.security_context.privileged`
//! (containerd).
//!
//! Architecture invariant: only `ContainerStatus` is called; nothing here can change a container.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kestrel_event::{ContainerId, ContainerInfo};
use tokio::net::UnixStream;

use crate::runtime::{RuntimeApi, RuntimeError, apply_cri_labels, parse_image_ref};

/// containerd's default socket, which serves the CRI.
pub const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";
/// CRI-O's default socket.
pub const CRIO_SOCKET: &str = "/var/run/crio/crio.sock";

const METHOD: &str = "/runtime.v1.RuntimeService/ContainerStatus";
const MAX_BODY: usize = 4 << 20;
/// gRPC's `NOT_FOUND`.
const GRPC_NOT_FOUND: u32 = 5;

pub(crate) async fn inspect(
    socket: &Path,
    timeout: Duration,
    id: &ContainerId,
) -> Result<Option<ContainerInfo>, RuntimeError> {
    let http_err = |message: String| RuntimeError::Http {
        api: RuntimeApi::Cri,
        socket: socket.to_owned(),
        request: METHOD.to_owned(),
        message,
    };
    let call = async {
        let stream = UnixStream::connect(socket)
            .await
            .map_err(|source| RuntimeError::Connect {
                api: RuntimeApi::Cri,
                socket: socket.to_owned(),
                source,
            })?;
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .map_err(|e| http_err(e.to_string()))?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(error = %e, "CRI connection closed with an error");
            }
        });
        let request = Request::post(format!("http://localhost{METHOD}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(Full::new(Bytes::from(grpc_frame(&encode_request(id)))))
            .map_err(|e| http_err(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| http_err(e.to_string()))?;
        if !response.status().is_success() {
            return Err(http_err(format!("HTTP status {}", response.status())));
        }
        // A "trailers-only" answer carries the gRPC status in the headers.
        let header_status = grpc_status(response.headers());
        let collected = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| http_err(e.to_string()))?;
        let status = header_status.or_else(|| collected.trailers().and_then(grpc_status));
        match status {
            Some((0, _)) | None => {}
            Some((GRPC_NOT_FOUND, _)) => return Ok(None),
            Some((code, message)) => {
                return Err(http_err(format!("gRPC status {code}: {message}")));
            }
        }
        let body = collected.to_bytes();
        let message = unframe(&body).ok_or_else(|| http_err("malformed gRPC frame".to_owned()))?;
        let decoded = decode_response(message)
            .ok_or_else(|| http_err("malformed ContainerStatusResponse".to_owned()))?;
        Ok(Some(decoded))
    };
    let mut info = match tokio::time::timeout(timeout, call).await {
        Ok(Ok(Some(status))) => match status.into_info(id) {
            Some(info) => info,
            None => return Ok(None),
        },
        Ok(Ok(None)) => return Ok(None),
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(RuntimeError::Timeout {
                api: RuntimeApi::Cri,
                socket: PathBuf::from(socket),
                request: METHOD.to_owned(),
                timeout,
            });
        }
    };
    apply_cri_labels(&mut info);
    Ok(Some(info))
}

fn grpc_status(headers: &hyper::HeaderMap) -> Option<(u32, String)> {
    let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
    let message = headers
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Some((code, message))
}

/// `ContainerStatusRequest { container_id = 1; verbose = 2 }`.
fn encode_request(id: &ContainerId) -> Vec<u8> {
    let id = id.as_str().as_bytes();
    let mut out = Vec::with_capacity(id.len() + 4);
    out.push(0x0a); // field 1, length-delimited
    out.push(id.len() as u8); // 64 < 128: a one-byte varint
    out.extend_from_slice(id);
    out.extend_from_slice(&[0x10, 0x01]); // field 2, varint, true
    out
}

/// A gRPC message frame: uncompressed flag, big-endian length, message.
fn grpc_frame(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(message.len() + 5);
    out.push(0);
    out.extend_from_slice(&(message.len() as u32).to_be_bytes());
    out.extend_from_slice(message);
    out
}

fn unframe(body: &[u8]) -> Option<&[u8]> {
    let (&compressed, rest) = body.split_first()?;
    if compressed != 0 || rest.len() < 4 {
        return None;
    }
    let len = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
    rest.get(4..4 + len)
}

/// The fields of a `ContainerStatusResponse` that are used.
#[derive(Debug, Default, PartialEq, Eq)]
struct CriStatus {
    id: String,
    name: String,
    image: String,
    user_specified_image: String,
    image_ref: String,
    image_id: String,
    labels: BTreeMap<String, String>,
    info: BTreeMap<String, String>,
}

impl CriStatus {
    fn into_info(self, asked: &ContainerId) -> Option<ContainerInfo> {
        let id = ContainerId::parse(&self.id)?;
        if id != *asked {
            return None;
        }
        let mut info = ContainerInfo::bare(id);
        info.name = Some(self.name).filter(|n| !n.is_empty());
        let named = [&self.user_specified_image, &self.image]
            .into_iter()
            .find(|i| !i.is_empty() && !i.starts_with("sha256:"));
        let mut image = named.map(|i| parse_image_ref(i)).unwrap_or_default();
        if let Some((repo, digest)) = self.image_ref.split_once('@') {
            image.digest = Some(digest.to_owned());
            if image.repository.is_empty() {
                image.repository = repo.to_owned();
            }
        }
        image.id = [&self.image_id, &self.image]
            .into_iter()
            .find(|i| i.starts_with("sha256:"))
            .cloned();
        if !image.repository.is_empty() || image.id.is_some() {
            info.image = Some(image);
        }
        info.labels = self.labels;
        info.privileged = self.info.get("info").and_then(|j| privileged(j));
        Some(info)
    }
}

/// `privileged` from the verbose info JSON: CRI-O puts it at the top level, containerd in the
/// CRI container config it echoes.
fn privileged(info_json: &str) -> Option<bool> {
    let v: serde_json::Value = serde_json::from_str(info_json).ok()?;
    v.get("privileged")
        .and_then(|p| p.as_bool())
        .or_else(|| {
            v.pointer("/config/linux/security_context/privileged")
                .and_then(|p| p.as_bool())
        })
        .or_else(|| {
            // containerd omits `privileged: false` (Go `omitempty`) but always writes the
            // security context of a Linux container.
            v.pointer("/config/linux/security_context").map(|_| false)
        })
}

/// A protobuf wire value.
enum Wire<'a> {
    Varint,
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates over `(field number, value)` of a protobuf message; `None` on malformed input.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.0.split_first()?;
            self.0 = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn next_field(&mut self) -> Option<Option<(u64, Wire<'a>)>> {
        if self.0.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => {
                self.varint()?;
                Wire::Varint
            }
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let len = usize::try_from(self.varint()?).ok()?;
                Wire::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            _ => return None,
        };
        Some(Some((key >> 3, value)))
    }
}

/// Calls `f` for every length-delimited field; fails on malformed input.
fn for_each_bytes<'a>(
    message: &'a [u8],
    mut f: impl FnMut(u64, &'a [u8]) -> Option<()>,
) -> Option<()> {
    let mut fields = Fields(message);
    while let Some((number, value)) = fields.next_field()? {
        if let Wire::Bytes(b) = value {
            f(number, b)?;
        }
    }
    Some(())
}

fn string(b: &[u8]) -> Option<String> {
    String::from_utf8(b.to_vec()).ok()
}

/// A `map<string, string>` entry: key = 1, value = 2.
fn map_entry(b: &[u8]) -> Option<(String, String)> {
    let (mut key, mut value) = (String::new(), String::new());
    for_each_bytes(b, |n, v| {
        match n {
            1 => key = string(v)?,
            2 => value = string(v)?,
            _ => {}
        }
        Some(())
    })?;
    Some((key, value))
}

fn decode_response(message: &[u8]) -> Option<CriStatus> {
    let mut out = CriStatus::default();
    for_each_bytes(message, |n, v| {
        match n {
            1 => decode_status(v, &mut out)?,
            2 => {
                let (k, val) = map_entry(v)?;
                out.info.insert(k, val);
            }
            _ => {}
        }
        Some(())
    })?;
    Some(out)
}

fn decode_status(message: &[u8], out: &mut CriStatus) -> Option<()> {
    for_each_bytes(message, |n, v| {
        match n {
            1 => out.id = string(v)?,
            // ContainerMetadata { name = 1 }
            2 => for_each_bytes(v, |m, w| {
                if m == 1 {
                    out.name = string(w)?;
                }
                Some(())
            })?,
            // ImageSpec { image = 1, user_specified_image = 18 }
            8 => for_each_bytes(v, |m, w| {
                match m {
                    1 => out.image = string(w)?,
                    18 => out.user_specified_image = string(w)?,
                    _ => {}
                }
                Some(())
            })?,
            9 => out.image_ref = string(v)?,
            12 => {
                let (k, val) = map_entry(v)?;
                out.labels.insert(k, val);
            }
            17 => out.image_id = string(v)?,
            _ => {}
        }
        Some(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_format() {
        let id = ContainerId::parse(&"ab".repeat(32)).unwrap();
        let req = encode_request(&id);
        assert_eq!(&req[..2], &[0x0a, 64]);
        assert_eq!(&req[66..], &[0x10, 0x01]);
        let framed = grpc_frame(&req);
        assert_eq!(&framed[..5], &[0, 0, 0, 0, 68]);
        assert_eq!(unframe(&framed), Some(&req[..]));
    }

    #[test]
    fn malformed_messages_are_rejected() {
        // A length running past the end.
        assert!(decode_response(&[0x0a, 0x10, 0x01]).is_none());
        // Wire type 3 (groups) is not used by the CRI.
        assert!(decode_response(&[0x0b]).is_none());
        // An unterminated varint.
        assert!(decode_response(&[0x08, 0xff]).is_none());
        assert!(unframe(&[1, 0, 0, 0, 0]).is_none());
    }

    #[test]
    fn privileged_from_either_runtime() {
        assert_eq!(privileged(r#"{"privileged":true}"#), Some(true));
        assert_eq!(
            privileged(r#"{"config":{"linux":{"security_context":{"privileged":true}}}}"#),
            Some(true)
        );
        assert_eq!(
            privileged(r#"{"config":{"linux":{"security_context":{}}}}"#),
            Some(false)
        );
        assert_eq!(privileged(r#"{"pid":1}"#), None);
        assert_eq!(privileged("not json"), None);
    }
}
