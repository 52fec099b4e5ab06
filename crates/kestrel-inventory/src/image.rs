//! Images on disk: OCI image layouts, oci-archives and docker-archives.
//!
//! Archives are never unpacked: one pass over the outer tar records where each member starts,
//! then every blob is read in place by seeking into the archive. Every blob whose digest is known
//! is hashed as it streams, and a mismatch fails the inventory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::walk::{Compression, TreeBuilder, sniff};
use crate::{InventoryError, Options, Platform};

pub(crate) const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const MT_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub(crate) const MT_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub(crate) const MT_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub media_type: Option<String>,
    pub digest: String,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(default)]
    pub platform: Option<DescPlatform>,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DescPlatform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// An image index or a manifest: told apart by media type, else by shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Document {
    #[serde(default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ImageConfig {
    #[serde(default)]
    pub rootfs: Option<RootFs>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct RootFs {
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

/// Where blobs come from: a layout directory, an archive, a registry.
pub(crate) trait BlobSource {
    /// Names the source in errors.
    fn name(&self) -> String;
    /// Opens a blob by digest; the caller verifies the digest as it reads.
    fn open_blob(&mut self, digest: &str) -> Result<Box<dyn Read + '_>, InventoryError>;
    /// Reads a manifest or index by digest (registries serve these from another endpoint).
    fn read_manifest(&mut self, digest: &str, limit: u64) -> Result<Vec<u8>, InventoryError> {
        read_verified(self, digest, limit)
    }
}

pub(crate) fn read_verified<S: BlobSource + ?Sized>(
    source: &mut S,
    digest: &str,
    limit: u64,
) -> Result<Vec<u8>, InventoryError> {
    let name = source.name();
    let mut reader = source.open_blob(digest)?;
    let mut buf = Vec::new();
    (&mut reader)
        .take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| InventoryError::image(&name, format!("reading blob {digest}: {e}")))?;
    if buf.len() as u64 > limit {
        return Err(InventoryError::image(
            &name,
            format!(
                "blob {digest} exceeds the {limit} byte limit for manifests and configurations"
            ),
        ));
    }
    verify_bytes(&buf, digest, &format!("{name}: blob {digest}"))?;
    Ok(buf)
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn verify_bytes(data: &[u8], digest: &str, what: &str) -> Result<(), InventoryError> {
    let Some(expected) = digest.strip_prefix("sha256:") else {
        return Err(InventoryError::image(
            what,
            format!("unsupported digest algorithm in {digest:?} (only sha256)"),
        ));
    };
    let actual = sha256_hex(data);
    if actual != expected {
        return Err(InventoryError::DigestMismatch {
            what: what.to_owned(),
            expected: digest.to_owned(),
            actual: format!("sha256:{actual}"),
        });
    }
    Ok(())
}

/// Hashes what passes through, to compare with a digest once the stream is drained.
pub(crate) struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    pub fn new(inner: R) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    pub fn finish(self) -> String {
        format!("sha256:{}", hex(&self.hasher.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> Result<T, InventoryError> {
    serde_json::from_slice(bytes).map_err(|source| InventoryError::Json {
        path: what.to_owned(),
        source,
    })
}

fn is_index(doc: &Document) -> bool {
    match doc.media_type.as_deref() {
        Some(MT_OCI_INDEX | MT_DOCKER_LIST) => true,
        Some(MT_OCI_MANIFEST | MT_DOCKER_MANIFEST) => false,
        _ => doc.manifests.is_some() && doc.layers.is_none(),
    }
}

fn platform_matches(p: &DescPlatform, want: &Platform) -> bool {
    p.os == want.os
        && p.architecture == want.architecture
        && match (&want.variant, &p.variant) {
            (Some(w), Some(v)) => w == v,
            (Some(_), None) => false,
            _ => true,
        }
}

fn describe_platforms(ms: &[Descriptor]) -> String {
    let list: Vec<String> = ms
        .iter()
        .filter_map(|m| m.platform.as_ref())
        .map(|p| match &p.variant {
            Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
            None => format!("{}/{}", p.os, p.architecture),
        })
        .collect();
    if list.is_empty() {
        "none declared".to_owned()
    } else {
        list.join(", ")
    }
}

/// Picks one manifest from an index: by tag (`org.opencontainers.image.ref.name`) at the top
/// level when asked, then by platform.
fn select<'a>(
    index: &'a [Descriptor],
    reference: Option<&str>,
    platform: &Platform,
    what: &str,
) -> Result<&'a Descriptor, InventoryError> {
    if let Some(r) = reference {
        return index
            .iter()
            .find(|d| {
                d.annotations
                    .get(REF_NAME)
                    .is_some_and(|n| n == r || n.rsplit(':').next() == Some(r))
            })
            .ok_or_else(|| InventoryError::NoSuchTag {
                path: what.to_owned(),
                reference: r.to_owned(),
                available: tags(index),
            });
    }
    if index.len() == 1 {
        return Ok(&index[0]);
    }
    if index.iter().any(|d| d.platform.is_some()) {
        return index
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| platform_matches(p, platform))
            })
            .ok_or_else(|| InventoryError::NoMatchingPlatform {
                path: what.to_owned(),
                platform: format!("{}/{}", platform.os, platform.architecture),
                available: describe_platforms(index),
            });
    }
    if index.is_empty() {
        return Err(InventoryError::image(what, "the index lists no manifests"));
    }
    Err(InventoryError::image(
        what,
        format!(
            "holds several images; name one with oci:DIR:TAG (tags: {})",
            tags(index)
        ),
    ))
}

fn tags(index: &[Descriptor]) -> String {
    let t: Vec<&str> = index
        .iter()
        .filter_map(|d| d.annotations.get(REF_NAME).map(String::as_str))
        .collect();
    if t.is_empty() {
        "none".to_owned()
    } else {
        t.join(", ")
    }
}

/// From a top-level document (an index or a manifest) down to the layers: selects the manifest,
/// reads the configuration, streams each layer into the builder. Returns the manifest digest.
pub(crate) fn walk_image<S: BlobSource + ?Sized>(
    source: &mut S,
    top: Vec<u8>,
    top_digest: Option<String>,
    reference: Option<&str>,
    options: &Options,
    builder: &mut TreeBuilder,
) -> Result<String, InventoryError> {
    let name = source.name();
    let limit = options.limits.max_manifest_bytes;
    let mut doc: Document = parse_json(&top, &name)?;
    let mut digest = top_digest.unwrap_or_else(|| format!("sha256:{}", sha256_hex(&top)));
    let mut reference = reference;
    // An index may point to another index (OCI layouts from some tools do); bound the chain.
    for _ in 0..4 {
        if !is_index(&doc) {
            break;
        }
        let list = doc.manifests.as_deref().unwrap_or_default();
        let chosen = select(list, reference, &options.platform, &name)?.clone();
        check_size(&chosen, limit, &name)?;
        reference = None;
        let bytes = source.read_manifest(&chosen.digest, limit)?;
        doc = parse_json(&bytes, &format!("{name}: manifest {}", chosen.digest))?;
        digest = chosen.digest;
    }
    if is_index(&doc) {
        return Err(InventoryError::image(
            &name,
            "image indexes nested too deeply",
        ));
    }
    let what = format!("{name}: manifest {digest}");
    let config_desc = doc
        .config
        .ok_or_else(|| InventoryError::image(&what, "manifest has no config"))?;
    let layers = doc
        .layers
        .ok_or_else(|| InventoryError::image(&what, "manifest has no layers"))?;
    check_size(&config_desc, limit, &name)?;
    let config_bytes = read_verified(source, &config_desc.digest, limit)?;
    let config: ImageConfig = parse_json(
        &config_bytes,
        &format!("{name}: config {}", config_desc.digest),
    )?;
    let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    for (i, layer) in layers.iter().enumerate() {
        if layer
            .media_type
            .as_deref()
            .is_some_and(|m| m.contains("encrypted"))
        {
            return Err(InventoryError::image(
                &what,
                format!("layer {} is encrypted: unsupported", layer.digest),
            ));
        }
        tracing::debug!(layer = %layer.digest, "reading layer");
        let blob = source.open_blob(&layer.digest)?;
        let mut hashing = Hashing::new(blob);
        builder.add_layer(&mut hashing, &layer.digest, diff_ids.get(i).cloned())?;
        let actual = hashing.finish();
        if actual != layer.digest {
            return Err(InventoryError::DigestMismatch {
                what: format!("{name}: layer {i}"),
                expected: layer.digest.clone(),
                actual,
            });
        }
    }
    Ok(digest)
}

/// Refuses a manifest or config whose descriptor already says it is too large to read.
fn check_size(d: &Descriptor, limit: u64, what: &str) -> Result<(), InventoryError> {
    match d.size {
        Some(size) if size > limit => Err(InventoryError::image(
            what,
            format!(
                "{} declares {size} bytes, above the {limit} byte limit for manifests and configurations",
                d.digest
            ),
        )),
        _ => Ok(()),
    }
}

/// An OCI image layout directory.
struct LayoutDir {
    dir: PathBuf,
}

fn blob_path(digest: &str) -> Result<String, String> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("invalid digest {digest:?}"))?;
    // The digest comes from a file we are inventorying: it must not steer the path elsewhere.
    if alg != "sha256" || hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("invalid or unsupported digest {digest:?}"));
    }
    Ok(format!("blobs/{alg}/{hex}"))
}

impl BlobSource for LayoutDir {
    fn name(&self) -> String {
        self.dir.display().to_string()
    }

    fn open_blob(&mut self, digest: &str) -> Result<Box<dyn Read + '_>, InventoryError> {
        let rel = blob_path(digest).map_err(|m| InventoryError::image(self.name(), m))?;
        let path = self.dir.join(rel);
        let f = File::open(&path).map_err(|e| InventoryError::io(&path, e))?;
        Ok(Box::new(f))
    }
}

pub(crate) fn walk_oci_layout(
    dir: &Path,
    reference: Option<&str>,
    options: &Options,
    builder: &mut TreeBuilder,
) -> Result<String, InventoryError> {
    let layout_marker = dir.join("oci-layout");
    if !layout_marker.is_file() {
        return Err(InventoryError::image(
            dir.display(),
            "not an OCI image layout (no oci-layout file)",
        ));
    }
    let index_path = dir.join("index.json");
    let top = read_limited_file(&index_path, options.limits.max_manifest_bytes)?;
    let mut source = LayoutDir {
        dir: dir.to_owned(),
    };
    walk_image(&mut source, top, None, reference, options, builder)
}

fn read_limited_file(path: &Path, limit: u64) -> Result<Vec<u8>, InventoryError> {
    let f = File::open(path).map_err(|e| InventoryError::io(path, e))?;
    let mut buf = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|e| InventoryError::io(path, e))?;
    if buf.len() as u64 > limit {
        return Err(InventoryError::image(
            path.display(),
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(buf)
}

/// A tar archive read in place: member name to (offset, size).
struct Archive {
    path: PathBuf,
    file: File,
    members: HashMap<String, (u64, u64)>,
}

impl Archive {
    fn open(path: &Path) -> Result<Archive, InventoryError> {
        let file = File::open(path).map_err(|e| InventoryError::io(path, e))?;
        let mut members = HashMap::new();
        {
            let mut archive = tar::Archive::new(&file);
            let entries = archive.entries().map_err(|e| InventoryError::io(path, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| {
                    InventoryError::image(path.display(), format!("malformed tar: {e}"))
                })?;
                if !matches!(
                    entry.header().entry_type(),
                    tar::EntryType::Regular | tar::EntryType::Continuous
                ) {
                    continue;
                }
                let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                let name = name.trim_start_matches("./").to_owned();
                members.insert(name, (entry.raw_file_position(), entry.size()));
            }
        }
        Ok(Archive {
            path: path.to_owned(),
            file,
            members,
        })
    }

    fn open_member(&mut self, name: &str) -> Result<Box<dyn Read + '_>, InventoryError> {
        let &(offset, size) = self.members.get(name).ok_or_else(|| {
            InventoryError::image(
                self.path.display(),
                format!("archive has no member {name:?}"),
            )
        })?;
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| InventoryError::io(&self.path, e))?;
        Ok(Box::new(io::BufReader::with_capacity(
            256 * 1024,
            (&self.file).take(size),
        )))
    }

    fn read_member(&mut self, name: &str, limit: u64) -> Result<Vec<u8>, InventoryError> {
        let path = self.path.clone();
        let mut r = self.open_member(name)?;
        let mut buf = Vec::new();
        (&mut r)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| InventoryError::io(&path, e))?;
        if buf.len() as u64 > limit {
            return Err(InventoryError::image(
                path.display(),
                format!("member {name:?} exceeds {limit} bytes"),
            ));
        }
        Ok(buf)
    }
}

impl BlobSource for Archive {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn open_blob(&mut self, digest: &str) -> Result<Box<dyn Read + '_>, InventoryError> {
        let rel = blob_path(digest).map_err(|m| InventoryError::image(self.name(), m))?;
        self.open_member(&rel)
    }
}

pub(crate) fn walk_oci_archive(
    path: &Path,
    options: &Options,
    builder: &mut TreeBuilder,
) -> Result<String, InventoryError> {
    let mut archive = Archive::open(path)?;
    if !archive.members.contains_key("oci-layout") {
        return Err(InventoryError::image(
            path.display(),
            "not an oci-archive (no oci-layout member)",
        ));
    }
    let top = archive.read_member("index.json", options.limits.max_manifest_bytes)?;
    walk_image(&mut archive, top, None, None, options, builder)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// A `docker save` archive: `manifest.json` names the config and the layer tars by path.
pub(crate) fn walk_docker_archive(
    path: &Path,
    options: &Options,
    builder: &mut TreeBuilder,
) -> Result<String, InventoryError> {
    let mut archive = Archive::open(path)?;
    let shown = path.display().to_string();
    let limit = options.limits.max_manifest_bytes;
    let manifest = archive.read_member("manifest.json", limit)?;
    let entries: Vec<DockerManifestEntry> =
        parse_json(&manifest, &format!("{shown}: manifest.json"))?;
    let entry = match entries.as_slice() {
        [one] => one,
        [] => {
            return Err(InventoryError::image(
                &shown,
                "manifest.json lists no image",
            ));
        }
        [first, ..] => {
            builder.warn(
                crate::WarningKind::Skipped,
                shown.clone(),
                format!(
                    "the archive holds {} images; only the first ({}) was inventoried",
                    entries.len(),
                    first
                        .repo_tags
                        .as_ref()
                        .and_then(|t| t.first())
                        .map_or("untagged", String::as_str)
                ),
            );
            first
        }
    };
    let config_bytes = archive.read_member(&entry.config, limit)?;
    let config: ImageConfig = parse_json(&config_bytes, &format!("{shown}: {}", entry.config))?;
    let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        return Err(InventoryError::image(
            &shown,
            format!(
                "manifest.json lists {} layers but the config has {} diff_ids",
                entry.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let image_id = format!("sha256:{}", sha256_hex(&config_bytes));
    for (i, layer) in entry.layers.iter().enumerate() {
        let diff_id = diff_ids[i].clone();
        let reader = archive.open_member(layer)?;
        let mut peek = io::BufReader::new(reader);
        let head = io::BufRead::fill_buf(&mut peek).map_err(|e| InventoryError::io(path, e))?;
        let uncompressed = sniff(head) == Compression::None;
        // The layer's name is a digest in newer archives (`blobs/sha256/<hex>`): that hashes the
        // blob as stored. An uncompressed layer must hash to its diff id.
        let expected = layer
            .strip_prefix("blobs/sha256/")
            .map(|h| format!("sha256:{h}"))
            .or_else(|| uncompressed.then(|| diff_id.clone()));
        let mut hashing = Hashing::new(peek);
        let label = expected.clone().unwrap_or_else(|| layer.clone());
        builder.add_layer(&mut hashing, &label, Some(diff_id))?;
        let actual = hashing.finish();
        if let Some(exp) = expected
            && exp != actual
        {
            return Err(InventoryError::DigestMismatch {
                what: format!("{shown}: layer {layer}"),
                expected: exp,
                actual,
            });
        }
    }
    Ok(image_id)
}
