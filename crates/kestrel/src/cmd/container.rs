//! `kestrel container`: which containers run on this host, and what a cgroup path says.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use kestrel_config::Config;
use kestrel_container::{ContainerResolver, containers_in_proc, identify_cgroup};

#[derive(Debug, Subcommand)]
pub enum ContainerCmd {
    /// List the containers with a running process, with their runtime and pod metadata.
    List(ListArgs),
    /// Show the container id, runtime and pod uid a cgroup path (or /proc/PID/cgroup line) names.
    Identify(IdentifyArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print one JSON object per container (`{"container": ..., "pids": [...]}`).
    #[arg(long)]
    pub json: bool,
    /// How long to wait for each container's metadata, in milliseconds; defaults to
    /// `[container] hold_ms`.
    #[arg(long)]
    pub wait_ms: Option<u64>,
    /// The proc file system to scan; overrides `[container] proc_root`.
    #[arg(long)]
    pub proc_root: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct IdentifyArgs {
    /// Cgroup paths such as `/kubepods/besteffort/pod<uid>/<id>`, or lines of /proc/PID/cgroup.
    #[arg(required = true)]
    pub paths: Vec<String>,
}

pub fn run(cmd: ContainerCmd, config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        ContainerCmd::Identify(a) => identify(a),
        ContainerCmd::List(a) => list(a, config),
    }
}

fn identify(args: IdentifyArgs) -> anyhow::Result<ExitCode> {
    let mut all_found = true;
    let mut lines = Vec::new();
    for path in &args.paths {
        let identity = identify_cgroup(path);
        all_found &= identity.is_some();
        lines.push(serde_json::json!({ "path": path, "identity": identity }).to_string());
    }
    print_lines(&lines)?;
    // Exit 1 when some path names no container, so scripts can test for it.
    Ok(if all_found {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn list(args: ListArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let mut settings = config.container.clone();
    if let Some(p) = args.proc_root {
        settings.proc_root = p;
    }
    let running = containers_in_proc(&settings.proc_root)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let rows = rt.block_on(async {
        let (resolver, hold) = ContainerResolver::start(&settings).await;
        let wait = args.wait_ms.map_or(hold, std::time::Duration::from_millis);
        let infos: Vec<_> = running
            .iter()
            .map(|r| resolver.resolve(&r.identity))
            .collect();
        let mut rows = Vec::new();
        for (r, first) in running.iter().zip(infos) {
            let info = resolver
                .wait_resolved(&first.id, wait)
                .await
                .unwrap_or(first);
            rows.push((info, r.pids.clone()));
        }
        rows
    });
    let mut lines = Vec::new();
    if args.json {
        for (info, pids) in &rows {
            lines.push(serde_json::json!({ "container": info, "pids": pids }).to_string());
        }
        print_lines(&lines)?;
        return Ok(ExitCode::SUCCESS);
    }
    lines.push(format!(
        "{:<12}  {:<10}  {:<24}  {:<40}  {:<32}  PIDS",
        "CONTAINER", "RUNTIME", "NAME", "IMAGE", "POD"
    ));
    for (info, pids) in &rows {
        let runtime = info
            .runtime
            .and_then(|r| serde_json::to_value(r).ok()?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "-".to_owned());
        let image = info
            .image
            .as_ref()
            .map_or("-".to_owned(), |i| match &i.tag {
                Some(t) => format!("{}:{t}", i.repository),
                None => i.repository.clone(),
            });
        let pod = info.pod.as_ref().map_or("-".to_owned(), |p| {
            if p.name.is_empty() {
                p.uid.clone()
            } else if p.namespace.is_empty() {
                p.name.clone()
            } else {
                format!("{}/{}", p.namespace, p.name)
            }
        });
        lines.push(format!(
            "{:<12}  {:<10}  {:<24}  {:<40}  {:<32}  {}",
            info.id.short(),
            runtime,
            info.name.as_deref().unwrap_or("-"),
            image,
            pod,
            pids.len()
        ));
    }
    print_lines(&lines)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes lines to standard output; a reader that went away (`| head`) is not an error.
fn print_lines(lines: &[String]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    for line in lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            Err(e) => return Err(e).context("cannot write to standard output"),
        }
    }
    Ok(())
}
