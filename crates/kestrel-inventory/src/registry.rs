//! Pulling an image's metadata and layers over the OCI distribution API, streaming each layer
//! straight into the tree builder (nothing is written to disk).
//!
//! Authentication: anonymous first; on a `401` the `WWW-Authenticate` challenge decides between a
//! bearer token (fetched from the realm, with basic credentials when given) and basic
//! credentials. Manifests fetched by digest, and by tag when the registry sends
//! `Docker-Content-Digest`, are verified; layers and configs are always verified.

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;

use crate::image::{self, BlobSource};
use crate::target::ImageReference;
use crate::walk::TreeBuilder;
use crate::{InventoryError, Options};

/// Credentials and transport for registries.
#[derive(Clone, Default)]
pub struct RegistryAuth {
    pub username: Option<String>,
    pub password: Option<String>,
    /// Plain HTTP instead of HTTPS. `None`: plain HTTP for loopback registries (`localhost`,
    /// `127.0.0.0/8`, `[::1]`) only, as Docker does.
    pub plain_http: Option<bool>,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("plain_http", &self.plain_http)
            .finish()
    }
}

fn is_loopback(host_port: &str) -> bool {
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host == "localhost"
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

struct Client {
    agent: ureq::Agent,
    base: String,
    registry: String,
    repository: String,
    auth: RegistryAuth,
    authorization: Option<String>,
}

/// Every manifest and index media type Kestrel reads (see `image::MT_*`).
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

impl Client {
    fn new(reference: &ImageReference, auth: &RegistryAuth) -> Client {
        let plain = auth
            .plain_http
            .unwrap_or_else(|| is_loopback(&reference.registry));
        let host = if reference.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            reference.registry.as_str()
        };
        let scheme = if plain { "http" } else { "https" };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .build()
            .into();
        Client {
            agent,
            base: format!("{scheme}://{host}"),
            registry: reference.registry.clone(),
            repository: reference.repository.clone(),
            auth: auth.clone(),
            authorization: None,
        }
    }

    fn err(&self, message: impl Into<String>) -> InventoryError {
        InventoryError::Registry {
            registry: self.registry.clone(),
            message: message.into(),
        }
    }

    fn basic(&self) -> Option<String> {
        let user = self.auth.username.as_deref()?;
        let pass = self.auth.password.as_deref().unwrap_or("");
        Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        ))
    }

    fn send(
        &self,
        url: &str,
        accept: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, InventoryError> {
        let mut req = self.agent.get(url);
        if let Some(a) = accept {
            req = req.header("Accept", a);
        }
        if let Some(auth) = &self.authorization {
            req = req.header("Authorization", auth);
        }
        req.call().map_err(|e| self.err(format!("GET {url}: {e}")))
    }

    /// GET with one round of authentication on `401`.
    fn get(
        &mut self,
        path: &str,
        accept: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, InventoryError> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repository);
        let resp = self.send(&url, accept)?;
        if resp.status() != 401 || self.authorization.is_some() && self.auth.username.is_none() {
            return self.check(resp, &url);
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        self.authenticate(&challenge)?;
        let resp = self.send(&url, accept)?;
        self.check(resp, &url)
    }

    fn check(
        &self,
        resp: ureq::http::Response<ureq::Body>,
        url: &str,
    ) -> Result<ureq::http::Response<ureq::Body>, InventoryError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let mut body = String::new();
        let _ = resp
            .into_body()
            .into_reader()
            .take(4096)
            .read_to_string(&mut body);
        let hint = match status.as_u16() {
            401 => " (credentials missing or refused: pass --username/--password)",
            403 => " (access denied for these credentials)",
            404 => " (no such repository, tag or blob)",
            _ => "",
        };
        Err(self.err(format!("GET {url}: HTTP {status}{hint}: {}", body.trim())))
    }

    fn authenticate(&mut self, challenge: &str) -> Result<(), InventoryError> {
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            self.authorization = Some(self.basic().ok_or_else(|| {
                self.err(
                    "the registry requires basic authentication: pass --username and --password",
                )
            })?);
            return Ok(());
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(self.err(format!(
                "unsupported authentication challenge {challenge:?}"
            )));
        }
        let params = parse_challenge(params);
        let get = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
        };
        let realm = get("realm").ok_or_else(|| self.err("bearer challenge without realm"))?;
        let mut url = realm.to_owned();
        let mut sep = if url.contains('?') { '&' } else { '?' };
        let scope = get("scope").map_or_else(
            || format!("repository:{}:pull", self.repository),
            str::to_owned,
        );
        for (k, v) in [("service", get("service")), ("scope", Some(scope.as_str()))] {
            if let Some(v) = v {
                url.push(sep);
                url.push_str(k);
                url.push('=');
                url.push_str(&kestrel_package::purl_encode(v));
                sep = '&';
            }
        }
        let mut req = self.agent.get(&url);
        if let Some(b) = self.basic() {
            req = req.header("Authorization", b);
        }
        let resp = req
            .call()
            .map_err(|e| self.err(format!("token request to {realm}: {e}")))?;
        let resp = self.check(resp, realm)?;
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| self.err(format!("token response from {realm}: {e}")))?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&body)
            .map_err(|e| self.err(format!("token response from {realm} is not JSON: {e}")))?;
        let token = t
            .token
            .or(t.access_token)
            .ok_or_else(|| self.err(format!("token response from {realm} holds no token")))?;
        self.authorization = Some(format!("Bearer {token}"));
        Ok(())
    }

    fn manifest(
        &mut self,
        reference: &str,
        limit: u64,
    ) -> Result<(Vec<u8>, Option<String>), InventoryError> {
        let resp = self.get(&format!("manifests/{reference}"), Some(ACCEPT))?;
        let header_digest = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(limit + 1)
            .read_to_end(&mut body)
            .map_err(|e| self.err(format!("reading manifest {reference}: {e}")))?;
        if body.len() as u64 > limit {
            return Err(self.err(format!("manifest {reference} exceeds {limit} bytes")));
        }
        let expected = if reference.starts_with("sha256:") {
            Some(reference.to_owned())
        } else {
            header_digest
        };
        if let Some(d) = &expected {
            image::verify_bytes(
                &body,
                d,
                &format!("{}: manifest {reference}", self.registry),
            )?;
        }
        Ok((body, expected))
    }
}

/// `realm="https://auth",service="registry",scope="repository:x:pull"`.
fn parse_challenge(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some((k, v)) = rest.split_once('=') else {
            break;
        };
        let key = k.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let v = v.trim_start();
        let (value, after) = if let Some(q) = v.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (&q[..end], &q[end + 1..]),
                None => (q, ""),
            }
        } else {
            match v.find(',') {
                Some(end) => (&v[..end], &v[end..]),
                None => (v, ""),
            }
        };
        out.push((key, value.to_owned()));
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

impl BlobSource for Client {
    fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    fn open_blob(&mut self, digest: &str) -> Result<Box<dyn Read + '_>, InventoryError> {
        let resp = self.get(&format!("blobs/{digest}"), None)?;
        Ok(Box::new(resp.into_body().into_reader()))
    }

    fn read_manifest(&mut self, digest: &str, limit: u64) -> Result<Vec<u8>, InventoryError> {
        Ok(self.manifest(digest, limit)?.0)
    }
}

pub(crate) fn walk_registry(
    reference: &ImageReference,
    options: &Options,
    builder: &mut TreeBuilder,
) -> Result<String, InventoryError> {
    let mut client = Client::new(reference, &options.registry);
    let (top, digest) =
        client.manifest(reference.reference(), options.limits.max_manifest_bytes)?;
    image::walk_image(&mut client, top, digest, None, options, builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let p = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull""#,
        );
        assert_eq!(
            p[0],
            ("realm".into(), "https://auth.docker.io/token".into())
        );
        assert_eq!(
            p[2],
            ("scope".into(), "repository:library/debian:pull".into())
        );
        assert!(
            is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:5000")
        );
        assert!(!is_loopback("registry.example:5000"));
    }
}
