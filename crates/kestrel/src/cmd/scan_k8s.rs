//! `kestrel scan k8s`: posture of Kubernetes manifests, a cluster dump or a live cluster.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kestrel_k8s::live::ClusterOptions;
use kestrel_k8s::{Inventory, load};
use kestrel_posture::{Exceptions, Severity, output};

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("input").required(true).args(["paths", "snapshot", "cluster"]))]
pub struct K8sArgs {
    /// Manifest files or directories (YAML or JSON, multi-document, `List` kinds); `-` reads
    /// standard input, e.g. `helm template . | kestrel scan k8s -`.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// A cluster dump from `kubectl get ... -A -o json`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["paths", "cluster"])]
    snapshot: Option<PathBuf>,
    /// Read the live cluster (read-only list calls) from the kubeconfig or in-cluster account.
    #[arg(long, conflicts_with = "paths")]
    cluster: bool,
    /// Kubeconfig file for --cluster (default: $KUBECONFIG, ~/.kube/config, in-cluster).
    #[arg(long, value_name = "FILE", requires = "cluster")]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context for --cluster (default: the current context).
    #[arg(long, requires = "cluster")]
    context: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Report only findings of this severity or higher (low, medium, high, critical).
    #[arg(long, default_value = "low", value_parser = parse_severity)]
    severity: Severity,
    /// Exceptions file (YAML): accepted risks with a reason and an optional expiry date.
    #[arg(long, value_name = "FILE")]
    exceptions: Option<PathBuf>,
    /// Exit with this code when findings remain after filtering and exceptions.
    #[arg(long, value_name = "N", default_value_t = 0)]
    exit_code: u8,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Sarif,
    Junit,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

pub fn run(args: K8sArgs) -> anyhow::Result<ExitCode> {
    let inv = read_input(&args)?;
    for i in &inv.ignored {
        tracing::debug!(
            "ignored {} {} {:?} in {} document {}",
            i.api_version.as_deref().unwrap_or("?"),
            i.kind.as_deref().unwrap_or("(not a Kubernetes object)"),
            i.name,
            i.origin.source,
            i.origin.document
        );
    }
    if !inv.ignored.is_empty() {
        tracing::info!(
            "{} documents are not kinds Kestrel assesses (see --log-level debug)",
            inv.ignored.len()
        );
    }
    let mut report = kestrel_posture::scan(&inv);
    report.filter_severity(args.severity);
    let exceptions = match &args.exceptions {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read exceptions file {}", path.display()))?;
            Exceptions::parse(&text, &path.display().to_string())?
        }
        None => Exceptions::default(),
    };
    let today = jiff::Zoned::now().date();
    exceptions.apply(&mut report, today);
    for e in &report.expired {
        tracing::warn!(
            "exception for check {} expired on {}: {}",
            e.check,
            e.expires.map(|d| d.to_string()).unwrap_or_default(),
            e.reason
        );
    }
    let out = match args.format {
        Format::Table => output::to_table(&report),
        Format::Json => {
            serde_json::to_string_pretty(&output::to_json(&report, &exceptions.items))? + "\n"
        }
        Format::Sarif => serde_json::to_string_pretty(&output::to_sarif(&report))? + "\n",
        Format::Junit => output::to_junit(&report),
    };
    print!("{out}");
    if !report.findings.is_empty() && args.exit_code != 0 {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}

fn read_input(args: &K8sArgs) -> anyhow::Result<Inventory> {
    let mut inv = Inventory::new();
    if args.cluster {
        let opts = ClusterOptions {
            kubeconfig: args.kubeconfig.clone(),
            context: args.context.clone(),
        };
        return Ok(kestrel_k8s::live::read_cluster(&opts)?);
    }
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
