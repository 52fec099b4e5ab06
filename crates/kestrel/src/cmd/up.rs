//! `kestrel up`: everything on one machine. A server on SQLite under the data directory, the
//! dashboard on `http://127.0.0.1:PORT`, and a local agent (sensor and rules, shipping to that
//! server). Prints the dashboard URL with an admin token.
//!
//! The admin and agent tokens are kept (mode 0600) in the data directory, so a second `up` prints
//! the same token instead of minting a new one each time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use kestrel_agent::{AgentClient, Identity, Limits};
use kestrel_config::Config;
use kestrel_server::{Server, ServerOptions};
use kestrel_store::Store;
use kestrel_store::model::{Principal, Role};

use super::agent::Detection;
use super::server::write_secret;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Port of the dashboard and API on 127.0.0.1.
    #[arg(long, default_value_t = 7420)]
    port: u16,
    /// Address to listen on (127.0.0.1 keeps it on this machine).
    #[arg(long, default_value = "127.0.0.1")]
    address: std::net::IpAddr,
    /// Where the database, tokens and agent buffer live; defaults to $XDG_DATA_HOME/kestrel or
    /// ~/.local/share/kestrel.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Do not start the local agent (server and dashboard only).
    #[arg(long)]
    no_agent: bool,
}

fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("kestrel");
    }
    match std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/kestrel"),
        None => PathBuf::from(".kestrel"),
    }
}

/// The token saved in `file` if it still authenticates as `want`, else a new one saved there.
async fn kept_token(
    store: &Store,
    file: &Path,
    accept: impl Fn(&Principal) -> bool,
    mint: impl AsyncFnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(file) {
        let t = text.trim().to_owned();
        if let Some(p) = store.authenticate(&t).await?
            && accept(&p)
        {
            return Ok(t);
        }
    }
    let t = mint().await?;
    write_secret(file, &t)?;
    Ok(t)
}

pub fn run(args: UpArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let data = args.data_dir.unwrap_or_else(default_data_dir);
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create data directory {}", data.display()))?;
    let db = data.join("kestrel.db");
    let listen = SocketAddr::new(args.address, args.port);
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let mut opts = ServerOptions::new(listen, db.display().to_string());
        // `up` keeps its own admin token file instead of printing a bootstrap token.
        opts.bootstrap_admin = false;
        opts.sinks = super::server::options(&config.server)?.sinks;
        let server = Server::start(opts).await?;
        let store = server.store.clone();
        let admin = kept_token(
            &store,
            &data.join("admin-token"),
            |p| matches!(p, Principal::User { role: Role::Admin, .. }),
            async || Ok(store.create_api_token("kestrel-up", Role::Admin).await?.token),
        )
        .await?;
        let url = server.url();
        let hup = super::server::hangups()?;
        let mut detection = None;
        let mut client = None;
        let mut risk = None;
        if !args.no_agent {
            let agent_token = kept_token(
                &store,
                &data.join("agent-token"),
                |p| matches!(p, Principal::Agent { cluster, .. } if cluster == "local"),
                async || Ok(store.create_enrollment_token("local").await?.token),
            )
            .await?;
            let node = std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "localhost".to_owned());
            let c = Arc::new(AgentClient::new(
                &url,
                &agent_token,
                &data.join("agent-buffer"),
                Identity {
                    cluster: "local".to_owned(),
                    node,
                },
                Limits::default(),
            )?);
            // The same node assessment the agent ships, so the dashboard's top risks are filled.
            let cfg = &config.agent;
            let containers = kestrel_container::ContainerResolver::start(&config.container).await;
            let assessment = match cfg.risk_interval_secs {
                0 => None,
                _ => match super::agent::assessor(config, containers.0.clone()).await {
                    Ok(a) => Some((a, Arc::new(Mutex::new(super::agent::observation(config))))),
                    Err(e) => {
                        eprintln!("kestrel up: risk assessment off: {e:#}");
                        None
                    }
                },
            };
            match Detection::start_observing(
                c.clone(),
                config,
                Duration::from_secs(10),
                assessment.as_ref().map(|(_, o)| o.clone()),
                containers,
            )
            .await
            {
                Ok(d) => {
                    detection = Some(d);
                    risk = assessment.map(|(assessor, observation)| {
                        tokio::spawn(super::agent::assess_periodically(
                            assessor,
                            observation,
                            c.clone(),
                            Duration::from_secs(cfg.risk_first_delay_secs),
                            Duration::from_secs(cfg.risk_interval_secs),
                        ))
                    });
                }
                Err(e) => eprintln!(
                    "kestrel up: local agent not started: {e:#}\n  (the sensor needs root and eBPF; the server and dashboard run without it)"
                ),
            }
            client = Some(c);
        }
        println!("Kestrel is up.");
        println!("  dashboard:   {url}/#token={admin}");
        println!("  API:         {url}/api/v1 (Authorization: Bearer {admin})");
        println!("  admin token: {admin}");
        println!("  database:    {}", db.display());
        println!(
            "  local agent: {}",
            match (&detection, &risk) {
                (Some(_), Some(_)) => "running (sensor, rules, risk assessment)",
                (Some(_), None) => "running (sensor + rules)",
                _ => "not running",
            }
        );
        println!("Press Ctrl-C to stop.");
        super::server::terminated_reloading(hup, detection.as_ref()).await;
        if let Some(task) = risk {
            task.abort();
            let _ = task.await;
        }
        if let Some(d) = detection {
            d.stop().await;
        }
        if let Some(c) = client.and_then(|c| Arc::try_unwrap(c).ok()) {
            c.drain(Duration::from_secs(5)).await;
            c.shutdown().await;
        }
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}
