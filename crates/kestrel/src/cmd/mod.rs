//! One module per subcommand: argument types and the glue from arguments to library calls.

pub mod config;
pub mod version;
pub mod db;
pub mod scan_image;
pub mod sbom;
pub mod scan_k8s;
pub mod rules;
