//! `kestrel server`: the API server, dashboard and alert sinks; `kestrel server token`: mint a
//! token directly in the database (for deployments, before anyone holds an admin token).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use kestrel_config::{Config, ServerConfig};
use kestrel_server::{Server, ServerOptions, SinkKind, SinkSpec, TlsFiles};
use kestrel_store::Store;
use kestrel_store::model::Role;

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Address and port to listen on; overrides `[server] listen`.
    #[arg(long)]
    listen: Option<String>,
    /// `sqlite://PATH`, a file path or `postgres://USER:PASS@HOST/DB`; overrides `[server] database`.
    #[arg(long)]
    database: Option<String>,
    /// PEM certificate chain for HTTPS; overrides `[server] tls_cert`.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS; overrides `[server] tls_key`.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// On first start, write the admin token to this file (mode 0600) instead of printing it.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Option<ServerCmd>,
}

#[derive(Debug, Subcommand)]
enum ServerCmd {
    /// Create a token in the database and print it (the only time it is shown).
    Token(TokenArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TokenRole {
    /// Read-only API user.
    Read,
    /// API administrator.
    Admin,
    /// Agent enrollment token for one cluster.
    Agent,
}

#[derive(Debug, Args)]
struct TokenArgs {
    #[arg(long, value_enum)]
    role: TokenRole,
    /// Token name (read and admin tokens).
    #[arg(long, default_value = "cli")]
    name: String,
    /// Cluster the agent token enrolls (agent tokens).
    #[arg(long, required_if_eq("role", "agent"))]
    cluster: Option<String>,
}

/// Turns the `[server]` section into server options, naming the key at fault.
pub fn options(cfg: &ServerConfig) -> anyhow::Result<ServerOptions> {
    let listen: SocketAddr = cfg
        .listen
        .parse()
        .with_context(|| format!("[server] listen = {:?} is not an address:port", cfg.listen))?;
    let mut opts = ServerOptions::new(listen, cfg.database.clone());
    opts.tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        (None, None) => None,
        _ => bail!("[server] tls_cert and tls_key must be set together"),
    };
    for (i, s) in cfg.sinks.iter().enumerate() {
        let kind: SinkKind = s.kind.parse().map_err(|e: String| {
            anyhow::anyhow!("[[server.sinks]] #{} ({}): {e}", i + 1, s.name)
        })?;
        let min_priority: kestrel_event::Priority = s.min_priority.parse().map_err(|e| {
            anyhow::anyhow!("[[server.sinks]] #{} ({}) min_priority: {e}", i + 1, s.name)
        })?;
        let mut spec = SinkSpec::new(s.name.clone(), kind, s.url.clone());
        spec.min_priority = min_priority;
        spec.max_attempts = s.max_attempts;
        spec.initial_backoff = Duration::from_millis(s.initial_backoff_ms);
        spec.max_backoff = Duration::from_millis(s.max_backoff_ms);
        spec.queue_capacity = s.queue_capacity;
        opts.sinks.push(spec);
    }
    Ok(opts)
}

/// Writes a secret to a new file readable by its owner only.
pub fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{secret}").with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// SIGHUP as a stream, so that it no longer terminates the process: take it before starting
/// anything a SIGHUP may be meant for.
pub fn hangups() -> anyhow::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("cannot install a SIGHUP handler")
}

/// Waits for SIGINT or SIGTERM; reloads `detection`'s rules on every SIGHUP meanwhile.
pub async fn terminated_reloading(
    mut hup: tokio::signal::unix::Signal,
    detection: Option<&super::agent::Detection>,
) {
    let end = terminated();
    tokio::pin!(end);
    loop {
        tokio::select! {
            _ = &mut end => return,
            Some(()) = hup.recv() => match detection {
                Some(d) => {
                    tracing::info!("SIGHUP: reloading rules");
                    d.reload_rules();
                }
                None => tracing::info!("SIGHUP: no local agent, nothing to reload"),
            },
        }
    }
}

/// Resolves when the process gets SIGINT or SIGTERM.
pub async fn terminated() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

pub fn run(args: ServerArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let mut cfg = config.server.clone();
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(d) = args.database {
        cfg.database = d;
    }
    if args.tls_cert.is_some() {
        cfg.tls_cert = args.tls_cert;
        cfg.tls_key = args.tls_key;
    }
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    if let Some(ServerCmd::Token(t)) = args.cmd {
        return rt.block_on(async move {
            let store = Store::open(&cfg.database).await?;
            let token = match t.role {
                TokenRole::Read => store.create_api_token(&t.name, Role::Read).await?,
                TokenRole::Admin => store.create_api_token(&t.name, Role::Admin).await?,
                TokenRole::Agent => {
                    store
                        .create_enrollment_token(t.cluster.as_deref().unwrap_or_default())
                        .await?
                }
            };
            println!("{}", token.token);
            store.close().await;
            Ok(ExitCode::SUCCESS)
        });
    }
    let opts = options(&cfg)?;
    rt.block_on(async move {
        let server = Server::start(opts).await?;
        println!("kestrel server listening on {}", server.url());
        if let Some(token) = &server.bootstrap_token {
            match &args.admin_token_file {
                Some(path) => {
                    write_secret(path, token)?;
                    println!("admin token written to {}", path.display());
                }
                None => println!("admin token (shown once): {token}"),
            }
        }
        terminated().await;
        tracing::info!("shutting down");
        server.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> ServerConfig {
        Config::from_parts(text, "k.toml", Vec::new())
            .unwrap()
            .server
    }

    #[test]
    fn server_section_becomes_options() {
        let cfg = config(
            "[server]\nlisten = \"0.0.0.0:9000\"\ndatabase = \"postgres://k@db/k\"\n\
             [[server.sinks]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"https://hooks.example/x\"\nmin_priority = \"warn\"\nmax_attempts = 3\n",
        );
        let o = options(&cfg).unwrap();
        assert_eq!(o.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(o.database, "postgres://k@db/k");
        assert_eq!(o.sinks.len(), 1);
        assert_eq!(o.sinks[0].kind, SinkKind::Slack);
        assert_eq!(o.sinks[0].min_priority, kestrel_event::Priority::Warning);
        assert_eq!(o.sinks[0].max_attempts, 3);
        assert_eq!(o.sinks[0].initial_backoff, Duration::from_millis(500));
    }

    #[test]
    fn bad_settings_name_the_key() {
        let e = options(&config("[server]\nlisten = \"localhost\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[server] listen") && e.contains("localhost"),
            "{e}"
        );
        let e = options(&config("[server]\ntls_cert = \"c.pem\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("tls_key"), "{e}");
        let e = options(&config(
            "[[server.sinks]]\nname = \"x\"\nkind = \"email\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("#1 (x)") && e.contains("email"), "{e}");
        let e = options(&config(
            "[[server.sinks]]\nname = \"y\"\nmin_priority = \"loud\"\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("min_priority") && e.contains("loud"), "{e}");
        let e = Config::from_parts("[[server.sinks]]\nnmae = \"y\"\n", "k.toml", Vec::new())
            .unwrap_err();
        assert!(e.to_string().contains("nmae"), "{e}");
    }
}
