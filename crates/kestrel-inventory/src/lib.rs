//! Software inventory: what packages an image, a registry image, a root filesystem or a running
//! container carries, file by file, and which layer brought each one in.
//!
//! The entry points are [`Target::parse`] (the `TARGET` syntax of `kestrel sbom`) and
//! [`inventory`], which returns an [`Inventory`]: the OS release, every [`Package`] found by the
//! catalogers, the layers and the warnings for everything that was skipped.
//!
//! ```no_run
//! use kestrel_inventory::{Options, Target, inventory};
//! let target = Target::parse("oci:/images/app:latest")?;
//! let inv = inventory(&target, &Options::default())?;
//! if let Some(pkg) = inv.owner_of("/usr/lib/x86_64-linux-gnu/libssl.so.3") {
//!     println!("{} {}", pkg.name, pkg.version);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How it works: every source (an image's layers, a directory) is turned into one stream of
//! entries. Layers are read as tar streams, one at a time, never extracted to disk and never held
//! whole in memory; whiteouts and opaque directories are applied as the layers stack. Every path is
//! recorded (for file ownership), but only the few files a cataloger needs are buffered, each under
//! a size limit. Binaries and Java archives are examined while they stream past. Once the last
//! layer is applied, the catalogers read the merged tree.
//!
//! Architecture invariant: nothing here writes to the filesystem, follows a symlink outside the
//! target, or reads a file that the target's own tree does not name; hostile input yields a
//! [`Warning`] or an [`InventoryError`], never a panic. This crate knows nothing of advisories.

mod catalog;
mod error;
mod image;
mod process;
mod registry;
pub mod sbom;
mod target;
mod tree;
mod walk;

use std::collections::HashMap;
use std::sync::OnceLock;

pub use error::{InventoryError, Warning, WarningKind};
pub use kestrel_package::{Ecosystem, EcosystemKind, Installer, LayerRef, Package, SourcePackage};
pub use registry::RegistryAuth;
pub use target::{ImageReference, Target, TargetParseError};

use serde::{Deserialize, Serialize};

/// What the operating system says about itself (`/etc/os-release`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID`, e.g. `debian`, `ubuntu`, `alpine`, `rhel`.
    pub id: String,
    /// `VERSION_ID`, e.g. `12`, `3.19.1`, `22.04`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// `PRETTY_NAME`, for display only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
}

impl OsRelease {
    /// The OSV ecosystem of this distribution's packages, with its release as OSV spells it
    /// (`Debian:12`, `Alpine:v3.19`, `Ubuntu:22.04`), or `None` for a distribution OSV does not
    /// know.
    pub fn ecosystem(&self) -> Option<Ecosystem> {
        let kind = match self.id.as_str() {
            "debian" => EcosystemKind::Debian,
            "ubuntu" => EcosystemKind::Ubuntu,
            "alpine" => EcosystemKind::Alpine,
            "rhel" => EcosystemKind::RedHat,
            "rocky" => EcosystemKind::Rocky,
            "almalinux" => EcosystemKind::AlmaLinux,
            _ => return None,
        };
        let release = self.version_id.as_deref().map(|v| match kind {
            // OSV keys Alpine by branch (`v3.19`), not by point release.
            EcosystemKind::Alpine => {
                let mut parts = v.split('.');
                match (parts.next(), parts.next()) {
                    (Some(a), Some(b)) => format!("v{a}.{b}"),
                    _ => format!("v{v}"),
                }
            }
            EcosystemKind::RedHat | EcosystemKind::Rocky | EcosystemKind::AlmaLinux => {
                v.split('.').next().unwrap_or(v).to_owned()
            }
            _ => v.to_owned(),
        });
        Some(Ecosystem { kind, release })
    }
}

/// One layer of an image (a root directory or a running container counts as one layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// 0 for the base layer.
    pub index: u32,
    /// The blob digest (`sha256:...`) as the manifest names it; empty for a directory.
    pub digest: String,
    /// The digest of the uncompressed layer, from the image configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_id: Option<String>,
    /// The compressed size in bytes as read.
    pub size: u64,
    /// Entries (files, directories, links, whiteouts) in the layer.
    pub entries: u64,
}

impl LayerInfo {
    /// The reference packages carry: the diff id when known, else the blob digest.
    pub fn layer_ref(&self) -> LayerRef {
        LayerRef {
            index: self.index,
            digest: self.diff_id.clone().unwrap_or_else(|| self.digest.clone()),
        }
    }
}

/// Everything found in one target.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Inventory {
    /// The target as given, in canonical `TARGET` syntax.
    pub target: String,
    /// The image digest (`sha256:` of the manifest) when the target is an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsRelease>,
    pub packages: Vec<Package>,
    pub layers: Vec<LayerInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    #[serde(skip)]
    owners: OnceLock<HashMap<String, usize>>,
}

impl Inventory {
    /// Builds an inventory; packages are sorted by ecosystem, name, version and location so that
    /// output is stable.
    pub fn new(
        target: String,
        os: Option<OsRelease>,
        mut packages: Vec<Package>,
        layers: Vec<LayerInfo>,
        warnings: Vec<Warning>,
    ) -> Self {
        packages.sort_by(|a, b| {
            (&a.ecosystem, &a.name, &a.version, &a.location).cmp(&(
                &b.ecosystem,
                &b.name,
                &b.version,
                &b.location,
            ))
        });
        Inventory {
            target,
            image_digest: None,
            os,
            packages,
            layers,
            warnings,
            owners: OnceLock::new(),
        }
    }

    /// The package that owns the file at `path` (an absolute path inside the target, e.g.
    /// `/usr/lib/python3/dist-packages/yaml/_yaml.so`).
    ///
    /// An OS package manager's claim wins over a language tool's, because the OS package manager
    /// put the file there; among language packages the first claim in package order wins.
    pub fn owner_of(&self, path: &str) -> Option<&Package> {
        let owners = self.owners.get_or_init(|| {
            let mut map = HashMap::new();
            // Two passes so that OS packages take precedence whatever the sort order.
            for os_pass in [true, false] {
                for (i, p) in self.packages.iter().enumerate() {
                    if p.installer.is_os() != os_pass {
                        continue;
                    }
                    for f in &p.files {
                        map.entry(f.clone()).or_insert(i);
                    }
                }
            }
            map
        });
        let norm = tree::normalize_lookup(path)?;
        owners.get(&norm).map(|&i| &self.packages[i])
    }

    /// Whether a language package's metadata is itself owned by an OS package (e.g. a Debian
    /// `python3-yaml` package's `.egg-info`): such a package should be matched against the OS
    /// advisories only, through its OS package.
    pub fn is_shadowed(&self, package: &Package) -> bool {
        !package.installer.is_os()
            && self
                .owner_of(&package.location)
                .is_some_and(|o| o.installer.is_os())
    }
}

/// The platform to select from a multi-platform image index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`, ...
    pub architecture: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: None,
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = InventoryError;

    /// `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(os), Some(arch), variant, None) if !os.is_empty() && !arch.is_empty() => {
                Ok(Platform {
                    os: os.to_owned(),
                    architecture: arch.to_owned(),
                    variant: variant.filter(|v| !v.is_empty()).map(str::to_owned),
                })
            }
            _ => Err(InventoryError::InvalidPlatform(s.to_owned())),
        }
    }
}

/// Size and depth limits that keep hostile input from exhausting memory or time.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest metadata file buffered for a cataloger (package databases, manifests).
    pub max_metadata_bytes: u64,
    /// Largest binary or Java archive examined in memory.
    pub max_binary_bytes: u64,
    /// Largest uncompressed layer; a layer that inflates beyond this is a decompression bomb.
    pub max_layer_bytes: u64,
    /// Most entries in one layer (or directory tree).
    pub max_entries: u64,
    /// Deepest nesting of Java archives inside Java archives.
    pub max_archive_depth: u32,
    /// Largest manifest, index or configuration document fetched or read.
    pub max_manifest_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_metadata_bytes: 64 << 20,
            max_binary_bytes: 128 << 20,
            max_layer_bytes: 64 << 30,
            max_entries: 5_000_000,
            max_archive_depth: 4,
            max_manifest_bytes: 4 << 20,
        }
    }
}

/// How to inventory a target.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub platform: Platform,
    pub limits: Limits,
    pub registry: RegistryAuth,
}

/// Inventories a target: reads its layers (or its root directory) and runs every cataloger.
pub fn inventory(target: &Target, options: &Options) -> Result<Inventory, InventoryError> {
    let span = tracing::info_span!("inventory", target = %target);
    let _guard = span.enter();
    let mut builder = walk::TreeBuilder::new(&options.limits);
    let mut image_digest = None;
    match target {
        Target::Dir(path) => walk::walk_dir(path, &mut builder)?,
        Target::Pid(pid) => process::walk_pid(*pid, &mut builder)?,
        Target::Container(id) => process::walk_container(id, &mut builder)?,
        Target::OciLayout { dir, reference } => {
            image_digest = Some(image::walk_oci_layout(
                dir,
                reference.as_deref(),
                options,
                &mut builder,
            )?);
        }
        Target::OciArchive(path) => {
            image_digest = Some(image::walk_oci_archive(path, options, &mut builder)?);
        }
        Target::DockerArchive(path) => {
            image_digest = Some(image::walk_docker_archive(path, options, &mut builder)?);
        }
        Target::Registry(reference) => {
            image_digest = Some(registry::walk_registry(reference, options, &mut builder)?);
        }
    }
    let (tree, layers, mut warnings) = builder.finish();
    let found = catalog::run(&tree, &layers, &mut warnings);
    let mut inv = Inventory::new(
        target.to_string(),
        found.os,
        found.packages,
        layers,
        warnings,
    );
    inv.image_digest = image_digest;
    tracing::info!(
        packages = inv.packages.len(),
        warnings = inv.warnings.len(),
        "inventory complete"
    );
    Ok(inv)
}
