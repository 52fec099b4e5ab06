//! `kestrel paths`: attack paths from the Internet (or any pod) to cluster admin.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kestrel_k8s::{Inventory, load};
use kestrel_paths::{Options, output};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["paths", "snapshot"]))]
pub struct PathsArgs {
    /// Manifest files or directories (YAML or JSON, multi-document, `List` kinds); `-` reads
    /// standard input.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// A cluster dump from `kubectl get ... -A -o json`.
    #[arg(long, value_name = "FILE", conflicts_with = "paths")]
    snapshot: Option<PathBuf>,
    /// Output format (`dot` is the whole graph for Graphviz, paths in red).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Where paths start: the Internet only, or also every workload ("if this pod is
    /// compromised").
    #[arg(long, value_enum, default_value_t = FromArg::Internet)]
    from: FromArg,
    /// Leave out paths longer than this many hops.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    max_hops: u16,
    /// Exit with this code when at least one path is found.
    #[arg(long, value_name = "N", default_value_t = 0)]
    exit_code: u8,
    #[command(flatten)]
    upload: super::upload::UploadArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Dot,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FromArg {
    Internet,
    Any,
}

pub fn run(args: PathsArgs) -> anyhow::Result<ExitCode> {
    let inv = read_input(&args)?;
    if !inv.ignored.is_empty() {
        tracing::info!(
            "{} documents are not kinds Kestrel reads and are left out of the graph",
            inv.ignored.len()
        );
    }
    if inv.is_not_assessed(kestrel_k8s::Kind::Secret) {
        tracing::warn!("Secrets could not be read: paths through token Secrets are not shown");
    }
    let options = Options {
        from: match args.from {
            FromArg::Internet => kestrel_paths::From::Internet,
            FromArg::Any => kestrel_paths::From::Any,
        },
        max_hops: usize::from(args.max_hops),
    };
    let report = kestrel_paths::analyze(&inv, &options);
    let out = match args.format {
        Format::Table => output::to_table(&report),
        Format::Json => serde_json::to_string_pretty(&output::to_json(&report))? + "\n",
        Format::Dot => output::to_dot(&report),
    };
    print!("{out}");
    super::upload::attack_paths(&args.upload, &report.paths)?;
    if !report.paths.is_empty() && args.exit_code != 0 {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}

/// The same inputs as `kestrel scan k8s` (without `--cluster`), read by the same loader.
fn read_input(args: &PathsArgs) -> anyhow::Result<Inventory> {
    let mut inv = Inventory::new();
    if let Some(snap) = &args.snapshot {
        load::load_path(&mut inv, snap)?;
        return Ok(inv);
    }
    for p in &args.paths {
        if p.as_os_str() == "-" {
            let mut stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("`-` reads manifests from standard input, but standard input is a terminal");
            }
            let mut text = String::new();
            stdin
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            load::load_str(&mut inv, &text, "<stdin>")?;
        } else {
            load::load_path(&mut inv, p)?;
        }
    }
    Ok(inv)
}
