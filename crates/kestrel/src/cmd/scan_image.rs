//! `kestrel scan image TARGET`: inventory a target (every TARGET form of `kestrel sbom`), match
//! its packages against the offline advisory database and report the vulnerabilities.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use kestrel_config::Config;
use kestrel_inventory::{Options, Platform, RegistryAuth, Target};
use kestrel_vuln::report::{Format, Report};
use kestrel_vuln::vex::Vex;
use kestrel_vuln::{Filters, Severity};
use kestrel_vulndb::Database;

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to scan: oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, dir:PATH,
    /// registry:REF, container:ID, pid:PID, or a bare path (detected).
    pub target: String,
    /// Output format.
    #[arg(long, short, value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// Report only findings of this severity or higher: unknown, low, medium, high, critical.
    #[arg(long)]
    pub severity: Option<Severity>,
    /// Drop findings that have no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// OpenVEX documents: `not_affected`/`fixed` statements suppress findings,
    /// `affected`/`under_investigation` annotate them. Repeatable.
    #[arg(long)]
    pub vex: Vec<PathBuf>,
    /// Exit with this code when findings remain after filters and VEX.
    #[arg(long, default_value_t = 0)]
    pub exit_code: u8,
    /// The advisory database file; overrides `[db] path`.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Write the report to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Platform to select from a multi-platform image (os/arch[/variant]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Registry user name (registry: targets).
    #[arg(long, env = "KESTREL_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Registry password or token, from the environment only.
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
pub enum ScanFormat {
    /// Aligned columns for a terminal.
    Table,
    /// Kestrel's JSON report (see docs/vulnerabilities.md).
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX 1.5 with its vulnerabilities section.
    Cyclonedx,
}

pub fn run(args: ImageArgs, config: &Config) -> anyhow::Result<ExitCode> {
    // Read the VEX files first: a typo there should fail before a long inventory.
    let mut vex = Vex::default();
    for p in &args.vex {
        vex.extend(Vex::load(p)?);
    }
    let db_path = args.db.clone().unwrap_or_else(|| config.db.path.clone());
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Open the database before the inventory so a missing database is reported at once.
    let mut db = rt.block_on(Database::open(&db_path))?;
    let inv = kestrel_inventory::inventory(&target, &options)
        .with_context(|| format!("inventory of {target}"))?;
    let keys = kestrel_vuln::lookup_keys(&inv.packages);
    let snapshot = rt.block_on(db.snapshot_for(&keys))?;
    let findings = kestrel_vuln::match_packages(&inv.packages, &snapshot);
    let matched = findings.len();
    let findings = kestrel_vuln::filter(
        findings,
        &Filters {
            min_severity: args.severity,
            ignore_unfixed: args.ignore_unfixed,
        },
    );
    let (findings, suppressed) = vex.apply(findings);
    tracing::info!(
        packages = inv.packages.len(),
        advisories = snapshot.advisories.len(),
        matched,
        suppressed_by_vex = suppressed,
        reported = findings.len(),
        "scan finished"
    );
    let report = Report {
        target: inv.target.clone(),
        // File lists served matching (ownership); `kestrel sbom -f json` has them in full.
        packages: inv
            .packages
            .into_iter()
            .map(|mut p| {
                p.files.clear();
                p
            })
            .collect(),
        vulnerabilities: findings,
    };
    let format = match args.format {
        ScanFormat::Table => Format::Table,
        ScanFormat::Json => Format::Json,
        ScanFormat::Sarif => Format::Sarif,
        ScanFormat::Cyclonedx => Format::CycloneDx,
    };
    let text = report.render(format);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout()
            .lock()
            .write_all(text.as_bytes())
            .context("writing to standard output")?,
    }
    if args.exit_code != 0 && !report.vulnerabilities.is_empty() {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
