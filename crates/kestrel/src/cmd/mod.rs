//! One module per subcommand: argument types and the glue from arguments to library calls.

pub mod agent;
pub mod config;
pub mod container;
pub mod db;
pub mod paths;
pub mod risk;
pub mod rules;
pub mod sbom;
pub mod scan_image;
pub mod scan_k8s;
pub mod server;
pub mod up;
pub mod upload;
pub mod version;
pub mod watch;
