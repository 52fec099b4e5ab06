//! Errors (the whole inventory failed) and warnings (one file or layer was skipped).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Why an inventory could not be produced at all.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("{path}: {message}")]
    InvalidImage { path: String, message: String },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "no manifest for platform {platform} in {path} (available: {available}); choose one with --platform"
    )]
    NoMatchingPlatform {
        path: String,
        platform: String,
        available: String,
    },
    #[error("{path}: no image tagged {reference:?} (tags: {available})")]
    NoSuchTag {
        path: String,
        reference: String,
        available: String,
    },
    #[error(
        "{what} has digest {actual}, expected {expected}: the content was altered or corrupted"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error(
        "layer {layer} inflates beyond {limit} bytes: refusing a possible decompression bomb (raise limits.max_layer_bytes if it is genuine)"
    )]
    LayerTooLarge { layer: String, limit: u64 },
    #[error("layer {layer} has more than {limit} entries: refusing it")]
    TooManyEntries { layer: String, limit: u64 },
    #[error("layer {layer}: malformed tar stream: {source}")]
    Tar {
        layer: String,
        #[source]
        source: std::io::Error,
    },
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("no process found for container {id:?} (looked for a process whose cgroup names it)")]
    ContainerNotFound { id: String },
    #[error("process {pid}: {message}")]
    Process { pid: u32, message: String },
    #[error("invalid platform {0:?}: expected os/arch[/variant], e.g. linux/amd64")]
    InvalidPlatform(String),
}

impl InventoryError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        InventoryError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn image(path: impl std::fmt::Display, message: impl Into<String>) -> Self {
        InventoryError::InvalidImage {
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// What kind of thing a warning reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// An entry that tries to leave the root (`..`, absolute path, hardlink outside).
    UnsafePath,
    /// A file larger than the limit for its kind; not examined.
    TooLarge,
    /// A package database or manifest that could not be parsed.
    Malformed,
    /// A format Kestrel recognises but cannot read (e.g. a Berkeley DB rpmdb).
    Unsupported,
    /// A symlink loop, a hardlink to a missing file, a nesting limit reached.
    Skipped,
}

/// One file or layer that was skipped or only partly understood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    pub kind: WarningKind,
    /// The path inside the target (or the layer digest) at fault.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<u32>,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.layer {
            Some(l) => write!(f, "{} (layer {l}): {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}
