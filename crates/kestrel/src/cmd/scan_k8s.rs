//! `kestrel scan k8s`: posture of Kubernetes manifests, a cluster dump or a live cluster.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kestrel_config::Config;
use kestrel_k8s::live::ClusterOptions;
use kestrel_k8s::{Inventory, load};
use kestrel_posture::{Exceptions, Severity, catalog, output};

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
    /// Report only findings of this severity or higher (low, medium, high, critical)
    /// [default: `[posture] min_severity`, else low].
    #[arg(long, value_parser = parse_severity)]
    severity: Option<Severity>,
    /// Exceptions file (YAML): accepted risks with a reason and an optional expiry date
    /// [default: `[posture] exceptions`].
    #[arg(long, value_name = "FILE")]
    exceptions: Option<PathBuf>,
    /// Never report this check (repeatable); replaces `[posture] disabled_checks`.
    #[arg(long = "disable-check", value_name = "CHECK_ID")]
    disable_checks: Vec<String>,
    /// Exit with this code when findings remain after filtering and exceptions
    /// [default: `[posture] exit_code`, else 0].
    #[arg(long, value_name = "N")]
    exit_code: Option<u8>,
    #[command(flatten)]
    upload: super::upload::UploadArgs,
}

/// The scan's settings once flags and `[posture]` are merged: a flag wins over the file.
struct Settings {
    severity: Severity,
    exceptions: Option<PathBuf>,
    disabled: BTreeSet<&'static str>,
    exit_code: u8,
}

impl Settings {
    fn resolve(args: &K8sArgs, config: &Config) -> anyhow::Result<Settings> {
        let posture = &config.posture;
        let severity = match args.severity {
            Some(s) => s,
            None => posture
                .min_severity
                .parse()
                .map_err(|e| anyhow::anyhow!("[posture] min_severity: {e}"))?,
        };
        let (ids, origin) = if args.disable_checks.is_empty() {
            (&posture.disabled_checks, "[posture] disabled_checks")
        } else {
            (&args.disable_checks, "--disable-check")
        };
        let disabled = ids
            .iter()
            .map(|id| {
                catalog::by_id(id).map(|c| c.id).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{origin}: unknown check id {id:?} (see `docs/posture.md` for the list)"
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Settings {
            severity,
            exceptions: args
                .exceptions
                .clone()
                .or_else(|| posture.exceptions.clone()),
            disabled,
            exit_code: args.exit_code.unwrap_or(posture.exit_code),
        })
    }
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

pub fn run(args: K8sArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let settings = Settings::resolve(&args, config)?;
    let mut inv = read_input(&args)?;
    // Node files are followed only for manifests read from this machine's paths: a snapshot's
    // mirror pods name files on some other cluster's nodes.
    if !args.paths.is_empty() {
        load_encryption_configs(&mut inv)?;
    }
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
    report.filter_severity(settings.severity);
    report.disable_checks(&settings.disabled);
    let exceptions = match &settings.exceptions {
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
    let mut stdout = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        Format::Table => stdout.write_all(output::to_table(&report).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut stdout,
                &output::to_json(&report, &exceptions.items),
            )?;
            stdout.write_all(b"\n")?;
        }
        Format::Sarif => {
            serde_json::to_writer_pretty(&mut stdout, &output::to_sarif(&report))?;
            stdout.write_all(b"\n")?;
        }
        Format::Junit => stdout.write_all(output::to_junit(&report).as_bytes())?,
    }
    stdout.flush().context("cannot write the report")?;
    super::upload::posture(&args.upload, &report.findings)?;
    if !report.findings.is_empty() && settings.exit_code != 0 {
        return Ok(ExitCode::from(settings.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the `--encryption-provider-config` files the scanned API server static pods name,
/// unless they were among the inputs. The path is the node's (through the pod's hostPath
/// mounts); a manifest read from `ROOT/etc/kubernetes/manifests/` is a copy of a node's files,
/// so `ROOT` + path is tried before the path itself.
fn load_encryption_configs(inv: &mut Inventory) -> anyhow::Result<()> {
    let refs = kestrel_posture::components::encryption_config_references(inv);
    let mut loaded: BTreeSet<PathBuf> = inv
        .encryption_configs
        .iter()
        .filter_map(|l| std::fs::canonicalize(&*l.origin.source).ok())
        .collect();
    for r in refs {
        let candidates = encryption_config_candidates(&r.origin.source, &r.host_path);
        let Some(found) = candidates.iter().find(|p| p.is_file()) else {
            let reason = format!(
                "{} names --encryption-provider-config={}, which is not among the inputs and not found at {}",
                r.pod,
                r.container_path,
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            );
            tracing::warn!("{reason}: its providers are not assessed");
            inv.not_assessed.push(kestrel_k8s::NotAssessed {
                kind: kestrel_k8s::Kind::EncryptionConfiguration,
                namespace: None,
                reason,
            });
            continue;
        };
        let canonical = std::fs::canonicalize(found)
            .with_context(|| format!("cannot resolve {}", found.display()))?;
        if loaded.insert(canonical) {
            tracing::info!(
                "reading {} (--encryption-provider-config of {})",
                found.display(),
                r.pod
            );
            load::load_path(inv, found)?;
        }
    }
    Ok(())
}

fn encryption_config_candidates(manifest: &str, host_path: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let manifest = Path::new(manifest);
    if let Some(dir) = manifest.parent()
        && dir.ends_with("etc/kubernetes/manifests")
        && let Some(root) = dir.ancestors().nth(3)
        && root != Path::new("/")
    {
        let root = if root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            root
        };
        out.push(root.join(host_path.trim_start_matches('/')));
    }
    out.push(PathBuf::from(host_path));
    out
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
