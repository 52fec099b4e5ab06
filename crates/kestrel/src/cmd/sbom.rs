//! `kestrel sbom TARGET`: inventory an image, registry image, directory or running container and
//! print a CycloneDX, SPDX or Kestrel JSON document.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use kestrel_inventory::sbom::{self, SbomMeta};
use kestrel_inventory::{Options, Platform, RegistryAuth, Target};

#[derive(Debug, Args)]
pub struct SbomArgs {
    /// What to inventory: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, dir:PATH,
    /// registry:REF, container:ID, pid:PID, or a bare path (detected).
    pub target: String,
    /// Output document format.
    #[arg(long, short, value_enum, default_value_t = SbomFormat::Cyclonedx)]
    pub format: SbomFormat,
    /// Write the document to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Platform to select from a multi-platform image (os/arch[/variant]); defaults to this
    /// machine's.
    #[arg(long)]
    pub platform: Option<String>,
    /// Registry user name (registry: targets).
    #[arg(long, env = "KESTREL_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Registry password or token; from the environment only, so that it never shows in `ps`.
    #[arg(
        long = "password-env",
        hide = true,
        env = "KESTREL_REGISTRY_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Talk plain HTTP to the registry (default: only for loopback registries).
    #[arg(long)]
    pub plain_http: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    Spdx,
    /// Kestrel's own inventory JSON (every package with its files, layers, warnings).
    Json,
}

pub fn run(args: SbomArgs) -> anyhow::Result<ExitCode> {
    let target = Target::parse(&args.target)?;
    let mut options = Options::default();
    if let Some(p) = &args.platform {
        options.platform = p.parse::<Platform>()?;
    }
    options.registry = RegistryAuth {
        username: args.username.clone(),
        password: args.password.clone(),
        plain_http: args.plain_http.then_some(true),
    };
    let inv = kestrel_inventory::inventory(&target, &options)
        .with_context(|| format!("inventory of {target}"))?;
    let meta = SbomMeta::now();
    let doc = match args.format {
        SbomFormat::Cyclonedx => sbom::cyclonedx(&inv, &meta),
        SbomFormat::Spdx => sbom::spdx(&inv, &meta),
        SbomFormat::Json => serde_json::to_value(&inv)?,
    };
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    match &args.output {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to standard output")?,
    }
    tracing::info!(
        packages = inv.packages.len(),
        warnings = inv.warnings.len(),
        "sbom written"
    );
    Ok(ExitCode::SUCCESS)
}
