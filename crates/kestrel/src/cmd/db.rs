//! `kestrel db`: import, update and inspect the offline advisory database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use kestrel_config::Config;
use kestrel_vulndb::Database;
use kestrel_vulndb::update::{Sources, update};

#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Import OSV zips or directories, a CISA KEV JSON and FIRST EPSS CSVs, in one atomic step.
    Import(ImportArgs),
    /// Download the configured sources (OSV per ecosystem, incrementally where possible; KEV;
    /// EPSS) and import them atomically.
    Update(UpdateArgs),
    /// Show each source, its record count and age.
    Status(StatusArgs),
}

#[derive(Debug, Args)]
pub struct DbArgs {
    /// The database file; overrides `[db] path`.
    #[arg(long, global = true)]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub common: DbArgs,
    /// OSV `all.zip` files, directories of OSV JSON, a KEV JSON, EPSS `.csv`/`.csv.gz`.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub common: DbArgs,
    /// Never touch the network: fail instead.
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub common: DbArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cmd: DbCmd, config: &Config) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(run_async(cmd, config))
}

async fn run_async(cmd: DbCmd, config: &Config) -> anyhow::Result<ExitCode> {
    let path = |a: &DbArgs| a.db.clone().unwrap_or_else(|| config.db.path.clone());
    match cmd {
        DbCmd::Import(a) => {
            let p = path(&a.common);
            let mut db = Database::open_or_create(&p).await?;
            let report = db.import(&a.paths).await?;
            for s in &report.sources {
                println!(
                    "imported {} records into {} from {}",
                    s.records, s.name, s.location
                );
            }
        }
        DbCmd::Update(a) => {
            if a.offline {
                // Checked before the database is even opened: offline means no side effects.
                anyhow::bail!(
                    "`kestrel db update --offline` cannot download anything; use `kestrel db import PATH...` with files from a mirror"
                );
            }
            let p = path(&a.common);
            let mut db = Database::open_or_create(&p).await?;
            let sources = Sources {
                osv_base_url: config.db.osv_base_url.clone(),
                osv_ecosystems: config.db.osv_ecosystems.clone(),
                kev_url: config.db.kev_url.clone(),
                epss_url: config.db.epss_url.clone(),
            };
            for s in update(&mut db, &sources, false).await? {
                println!(
                    "updated {} ({:?}): {} records, {} bytes downloaded",
                    s.name, s.mode, s.records, s.bytes
                );
            }
        }
        DbCmd::Status(a) => {
            let p = path(&a.common);
            let mut db = Database::open(&p).await?;
            let status = db.status().await?;
            if a.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("database: {}", p.display());
                println!(
                    "{:<24} {:<5} {:>9} {:>8}  {:<32} LOCATION",
                    "SOURCE", "KIND", "RECORDS", "AGE", "VERSION"
                );
                for s in status {
                    println!(
                        "{:<24} {:<5} {:>9} {:>8}  {:<32} {}",
                        s.name,
                        s.kind,
                        s.records,
                        age(&s.imported_at),
                        s.version.as_deref().unwrap_or("-"),
                        s.location
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `imported_at` as a short age (`42s`, `5m`, `3h`, `2d`).
fn age(imported_at: &str) -> String {
    let Ok(t) = imported_at.parse::<jiff::Timestamp>() else {
        return "?".into();
    };
    let secs = jiff::Timestamp::now().as_second() - t.as_second();
    match secs {
        s if s < 120 => format!("{}s", s.max(0)),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
