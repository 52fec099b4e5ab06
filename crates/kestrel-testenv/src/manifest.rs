//! `manifest.json`: what one build of the test image produced.
//!
//! It is assembled from `build.sh`'s outputs (the OCI layout and the three
//! inventory files) and written last, so a cache directory holding a
//! `manifest.json` is a complete build.

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Version of the cache layout and of this file; part of the cache key.
pub const FORMAT: u32 = 1;

/// A content digest as OCI writes it: `sha256:` and 64 lower-case hex digits.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

impl Digest {
    pub fn parse(text: &str) -> Result<Digest, String> {
        let hex = text
            .strip_prefix("sha256:")
            .ok_or_else(|| format!("digest `{text}` does not start with `sha256:`"))?;
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!(
                "digest `{text}` is not sha256: and 64 lower-case hex digits"
            ));
        }
        Ok(Digest(text.to_owned()))
    }

    /// The 64 hex digits, as podman prints image ids and names blob files.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(text: String) -> Result<Digest, String> {
        Digest::parse(&text)
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The package ecosystems the image is built from, named as OSV names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ecosystem {
    Debian,
    PyPI,
    #[serde(rename = "npm")]
    Npm,
}

/// The two apps in the image, which are also the Pod's two containers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum App {
    /// `/opt/app/python/app.py` in `/opt/app/venv`.
    Python,
    /// `/opt/app/node/app.js` with `/opt/app/node/node_modules`.
    Node,
}

/// The Debian source package a binary package was built from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebianSource {
    pub name: String,
    pub version: String,
}

/// One package installed in the image: the ground truth inventory and
/// runtime-risk tests compare their findings with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPackage {
    pub ecosystem: Ecosystem,
    pub name: String,
    pub version: String,
    /// Where it lives in the image: the `*.dist-info` directory (PyPI) or the
    /// package directory (npm); `None` for Debian packages (see the dpkg status).
    pub path: Option<String>,
    /// Debian only: architecture (`amd64`, `all`).
    pub arch: Option<String>,
    /// Debian only: the source package.
    pub source: Option<DebianSource>,
    /// The app that has this package loaded once it serves (recorded at build
    /// time by importing/requiring the app module); `None` means installed but
    /// never loaded, or a Debian package, for which nothing is claimed.
    pub loaded_by: Option<App>,
}

/// One layer of the image, with both of its identities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    pub media_type: String,
    /// Digest of the compressed blob in the OCI layout and oci-archive.
    pub digest: Digest,
    pub size: u64,
    /// Digest of the uncompressed tar: the layer file of the docker-archive,
    /// and what podman lists as the image's `RootFS.Layers`.
    pub diff_id: Digest,
}

/// Contents of `manifest.json` in a complete cache directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// Content key of `tests/env/` this build was made from.
    pub key: String,
    /// Reference name of the image in the OCI layout and oci-archive (`kestrel-test:<key>`).
    pub tag: String,
    /// The name podman knows the image by (`localhost/kestrel-test:<key>`).
    pub podman_ref: String,
    pub manifest_digest: Digest,
    /// Digest of the image config: podman's image id.
    pub config_digest: Digest,
    pub layers: Vec<Layer>,
    /// Wall-clock seconds `build.sh` took.
    pub build_seconds: f64,
    pub packages: Vec<InstalledPackage>,
}

impl Manifest {
    pub fn read(path: &Path) -> Result<Manifest> {
        let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
        let manifest: Manifest =
            serde_json::from_str(&text).map_err(Error::json(path.display().to_string()))?;
        if manifest.format != FORMAT {
            return Err(Error::invalid(
                path.display().to_string(),
                format!(
                    "format {} but this kestrel-testenv reads format {FORMAT}",
                    manifest.format
                ),
            ));
        }
        Ok(manifest)
    }

    pub(crate) fn write(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(Error::json(path.display().to_string()))?;
        std::fs::write(path, text + "\n").map_err(Error::io(path))
    }

    /// Builds the manifest from the outputs `build.sh` left in `dir`.
    pub(crate) fn assemble(
        dir: &Path,
        key: &str,
        tag: &str,
        build_seconds: f64,
    ) -> Result<Manifest> {
        let oci = dir.join("oci");
        let index: OciIndex = read_json(&oci.join("index.json"))?;
        let descriptor = index
            .manifests
            .iter()
            .find(|d| d.annotations.ref_name.as_deref() == Some(tag))
            .ok_or_else(|| {
                Error::invalid(
                    oci.join("index.json").display().to_string(),
                    format!("no manifest tagged `{tag}`"),
                )
            })?;
        let image_manifest: OciManifest = read_json(&blob_path(&oci, &descriptor.digest))?;
        let config: OciConfig = read_json(&blob_path(&oci, &image_manifest.config.digest))?;
        if config.rootfs.diff_ids.len() != image_manifest.layers.len() {
            return Err(Error::invalid(
                blob_path(&oci, &image_manifest.config.digest)
                    .display()
                    .to_string(),
                format!(
                    "{} diff_ids for {} layers",
                    config.rootfs.diff_ids.len(),
                    image_manifest.layers.len()
                ),
            ));
        }
        let layers = image_manifest
            .layers
            .into_iter()
            .zip(config.rootfs.diff_ids)
            .map(|(layer, diff_id)| Layer {
                media_type: layer.media_type,
                digest: layer.digest,
                size: layer.size,
                diff_id,
            })
            .collect();

        let mut packages = debian_packages(&dir.join("inventory-debian.tsv"))?;
        packages.extend(python_packages(&dir.join("inventory-python.json"))?);
        packages.extend(node_packages(&dir.join("inventory-node.json"))?);
        packages.sort_by_cached_key(|p| (p.ecosystem, p.name.to_lowercase(), p.path.clone()));

        Ok(Manifest {
            format: FORMAT,
            key: key.to_owned(),
            tag: tag.to_owned(),
            podman_ref: format!("localhost/{tag}"),
            manifest_digest: descriptor.digest.clone(),
            config_digest: image_manifest.config.digest,
            layers,
            build_seconds,
            packages,
        })
    }
}

/// Path of a blob inside an OCI image layout.
pub fn blob_path(layout: &Path, digest: &Digest) -> std::path::PathBuf {
    layout.join("blobs/sha256").join(digest.hex())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read(path).map_err(Error::io(path))?;
    serde_json::from_slice(&text).map_err(Error::json(path.display().to_string()))
}

#[derive(Deserialize)]
struct OciIndex {
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(rename = "mediaType")]
    media_type: String,
    digest: Digest,
    size: u64,
    #[serde(default)]
    annotations: OciAnnotations,
}

#[derive(Default, Deserialize)]
struct OciAnnotations {
    #[serde(rename = "org.opencontainers.image.ref.name")]
    ref_name: Option<String>,
}

#[derive(Deserialize)]
struct OciManifest {
    config: OciDescriptor,
    layers: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciConfig {
    rootfs: OciRootfs,
}

#[derive(Deserialize)]
struct OciRootfs {
    diff_ids: Vec<Digest>,
}

/// `dpkg-query` output: name, version, arch, source name, source version.
fn debian_packages(path: &Path) -> Result<Vec<InstalledPackage>> {
    let text = std::fs::read_to_string(path).map_err(Error::io(path))?;
    let mut packages = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty())
    {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, version, arch, source_name, source_version] = fields[..] else {
            return Err(Error::invalid(
                format!("{}:{}", path.display(), number + 1),
                format!("expected 5 tab-separated fields, got {}", fields.len()),
            ));
        };
        packages.push(InstalledPackage {
            ecosystem: Ecosystem::Debian,
            name: name.to_owned(),
            version: version.to_owned(),
            path: None,
            arch: Some(arch.to_owned()),
            source: Some(DebianSource {
                name: source_name.to_owned(),
                version: source_version.to_owned(),
            }),
            loaded_by: None,
        });
    }
    if packages.is_empty() {
        return Err(Error::invalid(
            path.display().to_string(),
            "no Debian packages listed",
        ));
    }
    Ok(packages)
}

#[derive(Deserialize)]
struct Inventory {
    installed: Vec<InventoryEntry>,
    loaded: Vec<InventoryEntry>,
}

#[derive(Deserialize)]
struct InventoryEntry {
    name: String,
    version: String,
    path: Option<String>,
}

/// PEP 503 normalisation: Python distribution names compare case- and
/// separator-insensitively (`Jinja2` is `jinja2`, `zope.interface` is `zope-interface`).
pub fn normalize_pypi_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator {
                out.push('-');
            }
            in_separator = true;
        } else {
            out.push(c.to_ascii_lowercase());
            in_separator = false;
        }
    }
    out
}

fn python_packages(path: &Path) -> Result<Vec<InstalledPackage>> {
    let inventory: Inventory = read_json(path)?;
    let loaded: BTreeSet<(String, &str)> = inventory
        .loaded
        .iter()
        .map(|entry| (normalize_pypi_name(&entry.name), entry.version.as_str()))
        .collect();
    let packages: Vec<InstalledPackage> = inventory
        .installed
        .iter()
        .map(|entry| InstalledPackage {
            ecosystem: Ecosystem::PyPI,
            name: entry.name.clone(),
            version: entry.version.clone(),
            path: entry.path.clone(),
            arch: None,
            source: None,
            loaded_by: loaded
                .contains(&(normalize_pypi_name(&entry.name), entry.version.as_str()))
                .then_some(App::Python),
        })
        .collect();
    check_loaded_are_installed(
        path,
        &inventory,
        packages.iter().filter(|p| p.loaded_by.is_some()).count(),
    )?;
    Ok(packages)
}

fn node_packages(path: &Path) -> Result<Vec<InstalledPackage>> {
    let inventory: Inventory = read_json(path)?;
    let loaded: BTreeSet<Option<&str>> = inventory
        .loaded
        .iter()
        .map(|entry| entry.path.as_deref())
        .collect();
    let packages: Vec<InstalledPackage> = inventory
        .installed
        .iter()
        .map(|entry| InstalledPackage {
            ecosystem: Ecosystem::Npm,
            name: entry.name.clone(),
            version: entry.version.clone(),
            path: entry.path.clone(),
            arch: None,
            source: None,
            loaded_by: loaded.contains(&entry.path.as_deref()).then_some(App::Node),
        })
        .collect();
    check_loaded_are_installed(
        path,
        &inventory,
        packages.iter().filter(|p| p.loaded_by.is_some()).count(),
    )?;
    Ok(packages)
}

/// Every package an app loaded must be one of the installed ones: anything
/// else means the inventory script and the app disagree about the image.
fn check_loaded_are_installed(path: &Path, inventory: &Inventory, matched: usize) -> Result<()> {
    if matched != inventory.loaded.len() || inventory.installed.is_empty() {
        let loaded: Vec<String> = inventory
            .loaded
            .iter()
            .map(|entry| format!("{} {}", entry.name, entry.version))
            .collect();
        return Err(Error::invalid(
            path.display().to_string(),
            format!(
                "{} installed packages, {} loaded ({}) of which only {matched} are installed",
                inventory.installed.len(),
                inventory.loaded.len(),
                loaded.join(", ")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_validated() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(Digest::parse(&good).unwrap().hex(), "ab".repeat(32));
        assert!(Digest::parse(&"ab".repeat(32)).is_err());
        assert!(Digest::parse(&format!("sha256:{}", "AB".repeat(32))).is_err());
        assert!(Digest::parse("sha256:abc").is_err());
    }

    #[test]
    fn pypi_names_normalize() {
        for (name, normal) in [
            ("Jinja2", "jinja2"),
            ("zope.interface", "zope-interface"),
            ("a__b-.c", "a-b-c"),
        ] {
            assert_eq!(normalize_pypi_name(name), normal);
        }
    }
}
