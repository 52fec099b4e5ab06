//! One module per subcommand: argument types and the glue from arguments to library calls.

pub mod config;
pub mod version;
pub mod sbom;
pub mod scan_k8s;
