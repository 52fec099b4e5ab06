//! Kestrel's server: the HTTP API that agents ship to and people query, its OpenAPI document,
//! bearer-token auth, TLS, Prometheus metrics, alert sinks and the embedded dashboard.
//!
//! [`Server::start`] opens the [`Store`], binds the listener and serves until
//! [`RunningServer::shutdown`]. Routes live in [`api`]; who may call what is decided in [`auth`]
//! from the token alone (`/healthz`, `/readyz` and the dashboard's static files need none).
//!
//! ```no_run
//! # async fn f() -> Result<(), kestrel_server::ServerError> {
//! let opts = kestrel_server::ServerOptions::new("127.0.0.1:8443".parse().unwrap(), "kestrel.db");
//! let server = kestrel_server::Server::start(opts).await?;
//! println!("listening on {}", server.local_addr());
//! server.wait().await;
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: the server never talks to a kernel, a container runtime or a
//! Kubernetes API; it only stores and serves what producers send. Every route except the health
//! probes and static dashboard assets checks a token before touching the store.

pub mod api;
pub mod auth;
pub mod metrics;
pub mod sinks;
mod tls;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use kestrel_store::Store;
use tokio::sync::watch;

pub use sinks::{SinkKind, SinkSpec};

/// Errors starting or running the server. Each names the file, address or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] kestrel_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read TLS {what} {path}: {message}")]
    Tls {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    #[error("invalid sink {name:?}: {message}")]
    Sink { name: String, message: String },
}

/// TLS certificate chain and private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    pub listen: SocketAddr,
    /// `sqlite://PATH`, a file path, or `postgres://...`.
    pub database: String,
    pub tls: Option<TlsFiles>,
    pub sinks: Vec<SinkSpec>,
    /// Create an admin token at start when the database has none, and return it.
    pub bootstrap_admin: bool,
}

impl ServerOptions {
    pub fn new(listen: SocketAddr, database: impl Into<String>) -> ServerOptions {
        ServerOptions {
            listen,
            database: database.into(),
            tls: None,
            sinks: Vec::new(),
            bootstrap_admin: true,
        }
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub metrics: Arc<metrics::Metrics>,
    pub sinks: Arc<sinks::Sinks>,
}

/// Entry point: see [`Server::start`].
#[derive(Debug)]
pub struct Server;

/// A server that is serving.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    tls: bool,
    /// The admin token created at this start, if the database had none.
    pub bootstrap_token: Option<String>,
    pub store: Store,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    sink_tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Opens the database (migrating it), binds `opts.listen` and starts serving in the
    /// background.
    pub async fn start(opts: ServerOptions) -> Result<RunningServer, ServerError> {
        let store = Store::open(&opts.database).await?;
        let tls = opts.tls.as_ref().map(tls::load).transpose()?;
        let metrics = Arc::new(metrics::Metrics::new());
        let (sinks, sink_tasks) =
            sinks::Sinks::start(opts.sinks.clone(), store.clone(), metrics.clone())?;
        let bootstrap_token = if opts.bootstrap_admin && store.count_admin_tokens().await? == 0 {
            let t = store
                .create_api_token("bootstrap-admin", kestrel_store::model::Role::Admin)
                .await?;
            Some(t.token)
        } else {
            None
        };
        let state = AppState {
            store: store.clone(),
            metrics,
            sinks: Arc::new(sinks),
        };
        let app = api::router(state);
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: opts.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: opts.listen,
            source,
        })?;
        let (shutdown, mut rx) = watch::channel(false);
        let is_tls = tls.is_some();
        let task = match tls {
            Some(cfg) => tokio::spawn(tls::serve(listener, cfg, app, rx)),
            None => tokio::spawn(async move {
                let r = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.wait_for(|v| *v).await;
                    })
                    .await;
                if let Err(e) = r {
                    tracing::error!("HTTP server stopped: {e}");
                }
            }),
        };
        tracing::info!(%addr, tls = is_tls, database = store.display_url(), "server listening");
        Ok(RunningServer {
            addr,
            tls: is_tls,
            bootstrap_token,
            store,
            shutdown,
            task,
            sink_tasks,
        })
    }
}

impl RunningServer {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    /// Serves until the task ends (it ends only on [`RunningServer::shutdown`] or a fatal error).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    /// Stops accepting connections, lets requests in flight finish, drains nothing further
    /// from the sink queues, and closes the database.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        for t in self.sink_tasks {
            t.abort();
        }
        self.store.close().await;
    }
}
