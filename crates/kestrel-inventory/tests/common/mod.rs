//! Test helpers: real layer tarballs and OCI image layouts written with the `tar` crate, so that
//! layer semantics (whiteouts, hard links, hostile paths) can be exercised exactly.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kestrel_inventory::{Inventory, Options, Target};
use serde_json::json;
use sha2::{Digest, Sha256};

pub fn fixture_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rootfs")
}

pub fn sha256(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    format!(
        "sha256:{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// One layer tar, built entry by entry.
pub struct Layer {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

fn header(kind: tar::EntryType, path: &str, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    // Written raw: `set_path` refuses `..` and absolute paths, which the hostile tests need.
    let name = &mut h.as_gnu_mut().unwrap().name;
    name[..path.len()].copy_from_slice(path.as_bytes());
    h.set_cksum();
    h
}

impl Layer {
    pub fn new() -> Layer {
        let mut tar = tar::Builder::new(Vec::new());
        tar.mode(tar::HeaderMode::Deterministic);
        Layer { tar }
    }

    pub fn file(self, path: &str, data: &[u8]) -> Self {
        self.file_mode(path, data, 0o644)
    }

    pub fn file_mode(mut self, path: &str, data: &[u8], mode: u32) -> Self {
        let h = header(tar::EntryType::Regular, path, data.len() as u64, mode);
        self.tar.append(&h, data).unwrap();
        self
    }

    pub fn dir(mut self, path: &str) -> Self {
        let h = header(tar::EntryType::Directory, path, 0, 0o755);
        self.tar.append(&h, &[][..]).unwrap();
        self
    }

    fn link(mut self, kind: tar::EntryType, path: &str, target: &str) -> Self {
        let mut h = header(kind, path, 0, 0o777);
        h.set_link_name(target).unwrap_or_else(|_| {
            let l = &mut h.as_gnu_mut().unwrap().linkname;
            l[..target.len()].copy_from_slice(target.as_bytes());
        });
        h.set_cksum();
        self.tar.append(&h, &[][..]).unwrap();
        self
    }

    pub fn symlink(self, path: &str, target: &str) -> Self {
        self.link(tar::EntryType::Symlink, path, target)
    }

    pub fn hardlink(self, path: &str, target: &str) -> Self {
        self.link(tar::EntryType::Link, path, target)
    }

    pub fn char_device(mut self, path: &str) -> Self {
        let h = header(tar::EntryType::Char, path, 0, 0o600);
        self.tar.append(&h, &[][..]).unwrap();
        self
    }

    pub fn whiteout(self, path: &str) -> Self {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let wh = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&wh, b"")
    }

    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{dir}/.wh..wh..opq"), b"")
    }

    /// Adds every entry under `root` (relative paths), those for which `keep` holds.
    pub fn tree(mut self, root: &Path, keep: &dyn Fn(&str) -> bool) -> Self {
        let mut stack = vec![root.to_owned()];
        let mut entries = Vec::new();
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
                let ft = e.file_type().unwrap();
                if ft.is_dir() {
                    stack.push(p.clone());
                }
                entries.push((rel, p, ft));
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (rel, p, ft) in entries {
            if !keep(&rel) {
                continue;
            }
            if ft.is_dir() {
                self = self.dir(&rel);
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                self = self.symlink(&rel, t.to_str().unwrap());
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o7777;
                self = self.file_mode(&rel, &std::fs::read(&p).unwrap(), mode);
            }
        }
        self
    }

    pub fn finish(self) -> Vec<u8> {
        self.tar.into_inner().unwrap()
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes an OCI image layout holding one image (gzip-compressed layers) tagged `tag`.
/// Returns the manifest digest.
pub fn write_layout(dir: &Path, layers: &[Vec<u8>], tag: &str) -> String {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> String {
        let d = sha256(data);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data).unwrap();
        d
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        diff_ids.push(sha256(l));
        let gz = gzip(l);
        let d = put(&gz);
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": gz.len()}));
    }
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_digest = put(&config);
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let manifest_digest = put(&manifest);
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest, "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
                "platform": {"architecture": "amd64", "os": "linux"},
            }],
        }))
        .unwrap(),
    )
    .unwrap();
    manifest_digest
}

pub fn inventory(target: &str) -> Inventory {
    inventory_with(target, &Options::default())
}

pub fn inventory_with(target: &str, options: &Options) -> Inventory {
    let t = Target::parse(target).unwrap_or_else(|e| panic!("{target}: {e}"));
    kestrel_inventory::inventory(&t, options).unwrap_or_else(|e| panic!("{target}: {e}"))
}

/// One line per package, without layer details: what must agree across sources.
pub fn summary(inv: &Inventory) -> String {
    let mut out = String::new();
    for p in &inv.packages {
        out.push_str(&format!(
            "{:?} {} {} {} files={} licenses={:?} at {}\n",
            p.installer,
            p.ecosystem,
            p.name,
            p.version,
            p.files.len(),
            p.licenses,
            p.location
        ));
    }
    out
}

pub fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Writes one image's blobs (layers gzip-compressed, config, manifest) into `dir`'s blob store;
/// returns the manifest descriptor.
pub fn write_image_blobs(dir: &Path, layers: &[Vec<u8>], arch: &str) -> serde_json::Value {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> String {
        let d = sha256(data);
        std::fs::write(blobs.join(d.trim_start_matches("sha256:")), data).unwrap();
        d
    };
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for l in layers {
        diff_ids.push(sha256(l));
        let gz = gzip(l);
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": put(&gz), "size": gz.len()}));
    }
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(&config), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": put(&manifest), "size": manifest.len(),
        "platform": {"architecture": arch, "os": "linux"},
    })
}

/// An OCI layout whose tag names an image index of several platforms, each `(arch, layers)`.
pub fn write_multiarch_layout(dir: &Path, images: &[(&str, Vec<Vec<u8>>)], tag: &str) {
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|(arch, layers)| write_image_blobs(dir, layers, arch))
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
    .unwrap();
    let d = sha256(&index);
    std::fs::write(
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
        &index,
    )
    .unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": d, "size": index.len(),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }],
        }))
        .unwrap(),
    )
    .unwrap();
}

/// A real OCI distribution registry (Debian's `docker-registry`) on 127.0.0.1.
pub const USER: &str = "kestrel";
pub const PASSWORD: &str = "s3cret-for-tests";

/// A registry process, killed when dropped.
pub struct Registry {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn start_registry(with_auth: bool) -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let mut config = format!(
        "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
        dir.path().join("data").display()
    );
    if with_auth {
        let htpasswd = run(Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]));
        std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: kestrel-test\n    path: {}\n",
            dir.path().join("htpasswd").display()
        ));
    }
    std::fs::write(dir.path().join("config.yml"), config).unwrap();
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.path().join("config.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("docker-registry (Debian package docker-registry) must be installed");
    let registry = Registry {
        child,
        addr,
        _dir: dir,
    };
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

pub fn push(layout_ref: &str, registry: &Registry, repo: &str, creds: bool) {
    let mut cmd = Command::new("skopeo");
    cmd.args(["copy", "--quiet", "--all", "--dest-tls-verify=false"]);
    if creds {
        cmd.arg(format!("--dest-creds={USER}:{PASSWORD}"));
    }
    cmd.arg(layout_ref)
        .arg(format!("docker://{}/{repo}", registry.addr));
    run(&mut cmd);
}
