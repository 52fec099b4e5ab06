//! Errors reading objects. Each names the source and the document or object at fault.

use std::path::PathBuf;
use std::sync::Arc;

use crate::object::Kind;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{source_name}: document {document} (line {line}) is not valid YAML: {message}")]
    Yaml {
        source_name: Arc<str>,
        document: usize,
        line: usize,
        message: String,
    },
    #[error("{source_name}: not valid JSON: {source}")]
    Json {
        source_name: Arc<str>,
        source: serde_json::Error,
    },
    #[error(
        "{source_name}: document {document}: {kind} {name:?} does not match the Kubernetes schema: {message}"
    )]
    Schema {
        source_name: Arc<str>,
        document: usize,
        kind: Kind,
        name: String,
        message: String,
    },
    #[error(
        "{source_name}: document {document}: {kind} {name:?} does not match the Gateway API schema: {message}"
    )]
    GatewaySchema {
        source_name: Arc<str>,
        document: usize,
        kind: crate::gateway::GatewayKind,
        name: String,
        message: String,
    },
    #[error("{path}: no Kubernetes manifests (*.yaml, *.yml, *.json) found")]
    NoManifests { path: PathBuf },
}

/// Errors reading a live cluster.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("cannot build a Kubernetes client (kubeconfig or in-cluster configuration): {0}")]
    Config(String),
    #[error("cannot list {kind} from the cluster: {message}")]
    List { kind: Kind, message: String },
    #[error("the cluster rejected the credentials (401 Unauthorized) listing {kind}: {message}")]
    Unauthorized { kind: Kind, message: String },
    #[error(transparent)]
    Load(#[from] LoadError),
}
