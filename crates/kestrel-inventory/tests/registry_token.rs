//! Registry token authentication against a real registry (Debian's `docker-registry`) configured
//! with `auth: token:`, and a small token server in this test that issues ES256 JWTs signed by a
//! key whose certificate is the registry's `rootcertbundle` (generated here with openssl). The
//! pull goes through the whole flow: 401 with a Bearer challenge → token request with basic
//! credentials for the challenge's scope → retry with the token.
//!
//! Also: a registry serving manifest bytes that do not match their digest (its storage tampered
//! with) is refused, by tag and by digest.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::*;
use kestrel_inventory::{InventoryError, Options, RegistryAuth, Target};
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;

const SERVICE: &str = "kestrel-test-registry";
const ISSUER: &str = "kestrel-test-token-issuer";
const REPO: &str = "kestrel/fixture";

/// A `docker-registry` process on 127.0.0.1, killed when dropped.
struct RegistryProcess {
    child: Child,
    addr: String,
}

impl Drop for RegistryProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a registry on `storage` with `auth` (a YAML `auth:` section, or empty).
fn registry(dir: &Path, storage: &Path, auth: &str) -> RegistryProcess {
    let addr = format!("127.0.0.1:{}", free_port());
    let config = dir.join(format!("config-{}.yml", addr.replace([':', '.'], "-")));
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n{auth}",
            storage.display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (Debian package docker-registry) must be installed");
    let registry = RegistryProcess { child, addr };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&registry.addr).is_err() {
        assert!(
            Instant::now() < deadline,
            "registry on {} did not start",
            registry.addr
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    registry
}

/// The issuer's P-256 key (PKCS#8 DER) and self-signed certificate (PEM file, DER bytes).
struct Issuer {
    key: EcdsaKeyPair,
    cert_pem: PathBuf,
    cert_der: Vec<u8>,
}

fn issuer(dir: &Path) -> Issuer {
    let key_pem = dir.join("issuer.key");
    let cert_pem = dir.join("issuer.crt");
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=kestrel-test-token-issuer",
            "-keyout",
        ])
        .arg(&key_pem)
        .arg("-out")
        .arg(&cert_pem));
    let pkcs8 = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in"])
        .arg(&key_pem)
        .output()
        .unwrap();
    assert!(
        pkcs8.status.success(),
        "{}",
        String::from_utf8_lossy(&pkcs8.stderr)
    );
    let der = Command::new("openssl")
        .args(["x509", "-outform", "DER", "-in"])
        .arg(&cert_pem)
        .output()
        .unwrap();
    assert!(
        der.status.success(),
        "{}",
        String::from_utf8_lossy(&der.stderr)
    );
    let key = EcdsaKeyPair::from_pkcs8(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &pkcs8.stdout,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    Issuer {
        key,
        cert_pem,
        cert_der: der.stdout,
    }
}

impl Issuer {
    /// A registry token (JWS, ES256, the certificate in `x5c`) granting `actions` on `name`.
    fn token(&self, subject: &str, kind: &str, name: &str, actions: &[&str]) -> String {
        let now = jiff::Timestamp::now().as_second();
        let header =
            json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)]});
        let claims = json!({
            "iss": ISSUER, "sub": subject, "aud": SERVICE,
            "iat": now, "nbf": now - 10, "exp": now + 300, "jti": format!("kestrel-test-{now}"),
            "access": [{"type": kind, "name": name, "actions": actions}],
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&ring::rand::SystemRandom::new(), signing_input.as_bytes())
            .unwrap();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }
}

/// One request the token server answered: its parameters and whether its credentials were right.
#[derive(Debug, Clone, PartialEq)]
struct TokenRequest {
    service: String,
    scope: String,
    authorized: bool,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(v) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn query_param(query: &str, key: &str) -> String {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .map(percent_decode)
        .unwrap_or_default()
}

/// The token server: `GET /token?service=..&scope=repository:NAME:ACTIONS` with HTTP basic
/// credentials; the right ones get a token for the requested scope, others a 401.
fn token_server(issuer: Issuer) -> (String, Arc<Mutex<Vec<TokenRequest>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let realm = format!("http://{}/token", listener.local_addr().unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    std::thread::spawn(move || {
        let expected = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut authorization = None;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    authorization = Some(v.trim().to_owned());
                }
            }
            let target = request_line.split_whitespace().nth(1).unwrap_or("");
            let query = target.split_once('?').map_or("", |(_, q)| q);
            let authorized = authorization.as_deref() == Some(expected.as_str());
            let scope = query_param(query, "scope");
            seen.lock().unwrap().push(TokenRequest {
                service: query_param(query, "service"),
                scope: scope.clone(),
                authorized,
            });
            let (status, body) = if authorized {
                let mut parts = scope.splitn(3, ':');
                let (kind, name, actions) = (
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or(""),
                );
                let actions: Vec<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
                let token = issuer.token(USER, kind, name, &actions);
                (
                    "200 OK",
                    json!({"token": token, "expires_in": 300}).to_string(),
                )
            } else {
                (
                    "401 Unauthorized",
                    json!({"errors": [{"code": "UNAUTHORIZED", "message": "wrong user name or password"}]})
                        .to_string(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (realm, log)
}

fn fixture_layout(dir: &Path) {
    let root = fixture_root();
    let base = Layer::new()
        .tree(&root, &|p| !p.starts_with("srv") && !p.starts_with("opt"))
        .finish();
    let apps = Layer::new()
        .tree(&root, &|p| p.starts_with("srv") || p.starts_with("opt"))
        .finish();
    write_layout(dir, &[base, apps], "v1");
}

fn with_credentials(password: Option<&str>) -> Options {
    Options {
        registry: RegistryAuth {
            username: password.map(|_| USER.to_owned()),
            password: password.map(str::to_owned),
            plain_http: None,
        },
        ..Options::default()
    }
}

#[test]
fn token_auth_pull_and_digest_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    std::fs::create_dir(&layout).unwrap();
    fixture_layout(&layout);
    let storage = tmp.path().join("storage");

    // Fill the storage through an open registry, then serve it with token auth.
    {
        let open = registry(tmp.path(), &storage, "");
        run(Command::new("skopeo")
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("docker://{}/{REPO}:v1", open.addr)));
    }
    let issuer = issuer(tmp.path());
    let cert = issuer.cert_pem.clone();
    let (realm, requests) = token_server(issuer);
    let reg = registry(
        tmp.path(),
        &storage,
        &format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            cert.display()
        ),
    );
    let target = Target::parse(&format!("registry:{}/{REPO}:v1", reg.addr)).unwrap();
    let from_layout = inventory(&format!("oci:{}:v1", layout.display()));

    // Challenge → token for the challenge's scope → retry.
    let pulled = kestrel_inventory::inventory(&target, &with_credentials(Some(PASSWORD))).unwrap();
    assert_eq!(summary(&pulled), summary(&from_layout));
    assert_eq!(pulled.image_digest, from_layout.image_digest);
    let seen = requests.lock().unwrap().clone();
    assert_eq!(
        seen,
        [TokenRequest {
            service: SERVICE.to_owned(),
            scope: format!("repository:{REPO}:pull"),
            authorized: true,
        }],
        "one token request, for pulling this repository, reused for every blob"
    );

    // A wrong password: the token server's refusal, naming the realm.
    let err = kestrel_inventory::inventory(&target, &with_credentials(Some("nope"))).unwrap_err();
    assert!(matches!(err, InventoryError::Registry { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&realm) && msg.contains("401"), "{msg}");
    // No credentials at all: the same, with what to pass.
    let err = kestrel_inventory::inventory(&target, &with_credentials(None)).unwrap_err();
    assert!(err.to_string().contains("--username"), "{err}");
    assert_eq!(requests.lock().unwrap().len(), 3);

    // The registry's copy of the manifest is altered: its bytes no longer hash to the digest
    // the registry announces (by tag) or that the reference pins (by digest).
    let digest = pulled.image_digest.clone().unwrap();
    let hex = digest.trim_start_matches("sha256:");
    let blob = storage
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .join("data");
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes.push(b'\n');
    std::fs::write(&blob, &bytes).unwrap();
    let pinned = Target::parse(&format!("registry:{}/{REPO}@{digest}", reg.addr)).unwrap();
    for t in [&target, &pinned] {
        let err = kestrel_inventory::inventory(t, &with_credentials(Some(PASSWORD))).unwrap_err();
        match &err {
            InventoryError::DigestMismatch {
                expected, actual, ..
            } => {
                assert_eq!(expected, &digest);
                assert_eq!(actual, &sha256(&bytes));
            }
            other => panic!("expected a digest mismatch for {t:?}, got {other}"),
        }
    }
}
