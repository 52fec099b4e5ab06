//! `--server URL --token T` of `kestrel scan k8s` and `kestrel paths`: the results go to a
//! Kestrel server through the agent client (`ship_posture`, `ship_attack_paths`), so the
//! dashboard's posture and attack-path pages show them.
//!
//! Each upload is a snapshot from one source (`kestrel-scan-k8s` or `kestrel-paths`): it
//! replaces what that command uploaded for the same cluster before, so running a scan again
//! updates the cluster's findings instead of adding to them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use kestrel_agent::{AgentClient, Identity, Limits};
use kestrel_store::model::{
    AttackPath, PathHop, PathNode, PostureFinding, ResourceRef, Severity, WorkloadRef,
};

/// How long an upload may take, retries included, before the command gives up.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("upload_token").args(["token", "token_file"]).multiple(false))]
pub struct UploadArgs {
    /// Also upload the results to this Kestrel server (base URL, e.g. http://127.0.0.1:7420).
    #[arg(long, value_name = "URL", requires = "upload_token")]
    server: Option<String>,
    /// Agent enrollment token (kag_...) of the cluster, for --server; prefer --token-file.
    #[arg(long, value_name = "TOKEN", requires = "server")]
    token: Option<String>,
    /// File holding the enrollment token, for --server.
    #[arg(long, value_name = "FILE", requires = "server")]
    token_file: Option<PathBuf>,
    /// Cluster the results belong to (default: the cluster the token enrolls).
    #[arg(long, value_name = "NAME", requires = "server")]
    cluster_name: Option<String>,
    /// PEM CA certificate to trust for an https:// server.
    #[arg(long, value_name = "FILE", requires = "server")]
    server_ca_file: Option<PathBuf>,
}

/// Uploads the posture findings of `kestrel scan k8s`, if `--server` was given.
pub fn posture(args: &UploadArgs, findings: &[kestrel_posture::Finding]) -> anyhow::Result<()> {
    // Converting every finding costs ~10% of a large scan: skip it when nothing is uploaded.
    if args.server.is_none() {
        return Ok(());
    }
    let items = findings.iter().map(posture_finding).collect();
    upload(args, Items::Posture(items))
}

/// Uploads the attack paths of `kestrel paths`, if `--server` was given.
pub fn attack_paths(args: &UploadArgs, paths: &[kestrel_paths::AttackPath]) -> anyhow::Result<()> {
    if args.server.is_none() {
        return Ok(());
    }
    upload(args, Items::Paths(paths.iter().map(attack_path).collect()))
}

/// What one command uploads.
enum Items {
    Posture(Vec<PostureFinding>),
    Paths(Vec<AttackPath>),
}

impl Items {
    /// The snapshot source: a new upload from the same command replaces the previous one.
    fn source(&self) -> &'static str {
        match self {
            Items::Posture(_) => "kestrel-scan-k8s",
            Items::Paths(_) => "kestrel-paths",
        }
    }

    fn describe(&self) -> String {
        match self {
            Items::Posture(v) => format!("{} posture findings", v.len()),
            Items::Paths(v) => format!("{} attack paths", v.len()),
        }
    }

    async fn ship(self, client: &AgentClient) {
        match self {
            Items::Posture(v) => client.ship_posture(v).await,
            Items::Paths(v) => client.ship_attack_paths(v).await,
        }
    }
}

fn upload(args: &UploadArgs, items: Items) -> anyhow::Result<()> {
    let Some(server) = args.server.as_deref() else {
        return Ok(());
    };
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        bail!("--server {server:?}: the URL must start with http:// or https://");
    }
    let what = items.describe();
    let source = items.source();
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read token file {}", path.display()))?
            .trim()
            .to_owned(),
        (None, None) => bail!("--server needs --token or --token-file"),
    };
    let limits = Limits {
        retry_max: Duration::from_secs(5),
        ..Limits::default()
    };
    let http = kestrel_agent::http_client(args.server_ca_file.as_deref(), limits.request_timeout)?;
    let buffer = SpoolDir::create()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let cluster = match &args.cluster_name {
            Some(c) => c.clone(),
            None => kestrel_agent::token_cluster(&http, server, &token)
                .await
                .context("cannot learn the token's cluster (or pass --cluster-name)")?,
        };
        let identity = Identity {
            cluster: cluster.clone(),
            node: source.to_owned(),
        };
        let client = AgentClient::with_http(server, &token, buffer.path(), identity, limits, http)?;
        items.ship(&client).await;
        let drained = client.drain(UPLOAD_TIMEOUT).await;
        let stats = client.stats();
        let error = client.last_error();
        client.shutdown().await;
        let why = error.unwrap_or_else(|| "no answer".to_owned());
        if stats.rejected_batches > 0 {
            bail!("{server} refused the {what}: {why}");
        }
        if !drained {
            bail!(
                "could not upload the {what} to {server} within {}s: {why}",
                UPLOAD_TIMEOUT.as_secs()
            );
        }
        eprintln!("uploaded {what} to {server} (cluster {cluster:?})");
        Ok(())
    })
}

/// The agent client's buffer for one upload, removed afterwards.
struct SpoolDir(PathBuf);

impl SpoolDir {
    fn create() -> anyhow::Result<SpoolDir> {
        let nanos = jiff::Timestamp::now().as_nanosecond();
        let dir =
            std::env::temp_dir().join(format!("kestrel-upload-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir)
            .with_context(|| format!("cannot create the upload buffer {}", dir.display()))?;
        Ok(SpoolDir(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SpoolDir {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!("cannot remove the upload buffer {}: {e}", self.0.display());
        }
    }
}

fn posture_finding(f: &kestrel_posture::Finding) -> PostureFinding {
    PostureFinding {
        check_id: f.check.id.to_owned(),
        title: f.check.title.to_owned(),
        severity: match f.check.severity {
            kestrel_posture::Severity::Critical => Severity::Critical,
            kestrel_posture::Severity::High => Severity::High,
            kestrel_posture::Severity::Medium => Severity::Medium,
            kestrel_posture::Severity::Low => Severity::Low,
        },
        resource: ResourceRef {
            kind: f.resource.kind.as_str().to_owned(),
            namespace: f.resource.namespace.clone(),
            name: f.resource.name.clone(),
        },
        container: f.container.clone(),
        path: Some(f.path.clone()).filter(|p| !p.is_empty()),
        owasp: Some(f.check.owasp.join(", ")).filter(|o| !o.is_empty()),
        crosswalk: serde_json::to_value(f.check.crosswalk).unwrap_or_default(),
        message: f.message.clone(),
    }
}

fn path_node(n: &kestrel_paths::Node) -> PathNode {
    PathNode {
        kind: n.kind.as_str().to_owned(),
        namespace: n.namespace.clone(),
        name: n.name.clone(),
    }
}

/// The server ranks paths by score; kestrel-paths finds shortest paths without ranking them.
/// The score says how little an attacker needs: 10 for a one-hop path, one less per further
/// hop (at least 1), halved when the path starts from a workload assumed compromised rather
/// than from the Internet.
fn path_score(p: &kestrel_paths::AttackPath) -> f64 {
    let base = (11.0 - p.length as f64).max(1.0);
    if p.source.kind == kestrel_paths::NodeKind::Internet {
        base
    } else {
        base / 2.0
    }
}

fn attack_path(p: &kestrel_paths::AttackPath) -> AttackPath {
    let entry = p.entry_workload().unwrap_or(&p.source);
    AttackPath {
        id: p.id.clone(),
        title: format!("{} → {} ({} hops)", p.source, p.target, p.length),
        score: path_score(p),
        workload: WorkloadRef {
            namespace: entry.namespace.clone().unwrap_or_default(),
            kind: entry.kind.as_str().to_owned(),
            name: entry.name.clone(),
        },
        hops: p
            .hops
            .iter()
            .map(|h| PathHop {
                from: path_node(&h.from),
                to: path_node(&h.to),
                relation: h.edge.as_str().to_owned(),
                explanation: h.explanation.clone(),
            })
            .collect(),
    }
}
