//! The agent's shipping client: everything a node produces (alerts, workload inventory,
//! vulnerability and posture findings, attack paths, sensor health) goes to the server through
//! an [`AgentClient`].
//!
//! Alerts are batched and every batch is written to an on-disk buffer (the spool) before it is
//! sent; a background task sends spooled files oldest first and deletes each only after the
//! server accepted it. While the server is unreachable the spool grows, up to
//! [`Limits::buffer_max_bytes`]; past that, new batches are dropped, counted in
//! [`Stats::dropped_batches`] (shipped to the server in each health report, where it becomes a
//! metric) and logged once per episode. Each alert gets an id (`node:start-time:counter`) when it
//! is batched and keeps it in the spool, so a resend after a lost response, a server restart or an
//! agent restart is recognised by the server: nothing is lost or stored twice.
//!
//! Snapshots (inventory, findings, paths) replace what the node reported before, so a newer
//! snapshot of a kind removes older unsent ones from the spool. Health reports are sent directly
//! and never buffered: a stale one has no value.
//!
//! ```no_run
//! # async fn f(alert: kestrel_event::Alert) -> Result<(), kestrel_agent::AgentError> {
//! use kestrel_agent::{AgentClient, Identity, Limits};
//! let id = Identity { cluster: "prod".into(), node: "node-1".into() };
//! let client = AgentClient::new("https://kestrel:7420", "kag_...", "/var/lib/kestrel/buffer".as_ref(), id, Limits::default())?;
//! client.ship_alert(alert, None).await;
//! client.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: the agent client only talks to the Kestrel server over HTTP(S) and
//! only writes inside its buffer directory. It never decides what is an alert or a finding; it
//! ships what it is given, unchanged.

mod spool;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kestrel_event::Alert;
use kestrel_store::model::{
    AlertBatch, AlertIn, AttackPath, PostureFinding, SensorHealth, Snapshot, VulnFinding, Workload,
    WorkloadRef,
};
use serde::Serialize;
use tokio::sync::{Notify, mpsc};

pub use spool::Kind;
use spool::Spool;

/// Errors setting up a client. Each names the URL, file or directory at fault.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("invalid server URL {url:?}: it must start with http:// or https://")]
    BadUrl { url: String },
    #[error("cannot use buffer directory {dir}: {source}")]
    Buffer {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read CA certificate {path}: {message}")]
    Ca { path: PathBuf, message: String },
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
    #[error("the enrollment token is empty")]
    EmptyToken,
    /// The server could not be reached or refused a request; the message names the URL and
    /// the server's answer.
    #[error("{0}")]
    Server(String),
}

/// Which cluster and node this agent reports for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub cluster: String,
    pub node: String,
}

/// Batching, buffering and retry settings.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Alerts per batch at most.
    pub batch_max: usize,
    /// A partial batch is written after this long.
    pub flush_interval: Duration,
    /// Largest spool size; beyond it new batches are dropped.
    pub buffer_max_bytes: u64,
    /// First wait after a failed send; doubles up to `retry_max`.
    pub retry_min: Duration,
    pub retry_max: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            batch_max: 500,
            flush_interval: Duration::from_secs(1),
            buffer_max_bytes: 256 * 1024 * 1024,
            retry_min: Duration::from_millis(500),
            retry_max: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// Counters of a client, for health reports and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Alerts handed to the client.
    pub alerts_queued: u64,
    /// Spool files the server accepted.
    pub sent_batches: u64,
    /// Batches dropped because the spool was full.
    pub dropped_batches: u64,
    /// Alerts in dropped batches.
    pub dropped_alerts: u64,
    /// Files the server refused with a 4xx (moved to `rejected/`).
    pub rejected_batches: u64,
    /// Bytes in the spool now.
    pub buffer_bytes: u64,
    /// Files in the spool now.
    pub buffer_files: u64,
}

#[derive(Debug, Default)]
struct Counters {
    alerts_queued: AtomicU64,
    sent_batches: AtomicU64,
    dropped_batches: AtomicU64,
    dropped_alerts: AtomicU64,
    rejected_batches: AtomicU64,
    /// The last failed send, for one-shot callers that must say why nothing arrived.
    last_error: std::sync::Mutex<Option<String>>,
}

impl Counters {
    fn set_error(&self, e: &str) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(e.to_owned());
        }
    }
}

enum Msg {
    Alert(Box<AlertIn>),
    Snapshot(Kind, Vec<u8>),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// The shipping client. Cheap to share behind an `Arc`; all methods take `&self`.
#[derive(Debug)]
pub struct AgentClient {
    tx: mpsc::Sender<Msg>,
    identity: Identity,
    spool: Arc<Spool>,
    counters: Arc<Counters>,
    http: reqwest::Client,
    server: String,
    token: String,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop: Arc<Notify>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Alert(a) => write!(f, "Alert({})", a.id),
            Msg::Snapshot(k, b) => write!(f, "Snapshot({k:?}, {} bytes)", b.len()),
            Msg::Flush(_) => f.write_str("Flush"),
        }
    }
}

/// Builds the HTTP client, trusting `ca_file` besides the system roots.
pub fn http_client(
    ca_file: Option<&Path>,
    timeout: Duration,
) -> Result<reqwest::Client, AgentError> {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("kestrel-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| AgentError::Ca {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| AgentError::Ca {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        b = b.add_root_certificate(cert);
    }
    b.build().map_err(|e| AgentError::Http(e.to_string()))
}

impl AgentClient {
    /// Starts a client shipping to `server` (base URL) with the cluster enrollment `token`,
    /// buffering in `buffer_dir` (created if missing; batches left there by a previous run are
    /// sent first). Must be called inside a Tokio runtime: it spawns the background tasks.
    pub fn new(
        server: &str,
        token: &str,
        buffer_dir: &Path,
        identity: Identity,
        limits: Limits,
    ) -> Result<AgentClient, AgentError> {
        let http = http_client(None, limits.request_timeout)?;
        AgentClient::with_http(server, token, buffer_dir, identity, limits, http)
    }

    /// Like [`AgentClient::new`] with a prepared HTTP client (for a private CA).
    pub fn with_http(
        server: &str,
        token: &str,
        buffer_dir: &Path,
        identity: Identity,
        limits: Limits,
        http: reqwest::Client,
    ) -> Result<AgentClient, AgentError> {
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(AgentError::BadUrl {
                url: server.to_owned(),
            });
        }
        if token.trim().is_empty() {
            return Err(AgentError::EmptyToken);
        }
        let spool = Arc::new(Spool::open(buffer_dir, limits.buffer_max_bytes).map_err(
            |source| AgentError::Buffer {
                dir: buffer_dir.to_owned(),
                source,
            },
        )?);
        let counters = Arc::new(Counters::default());
        let (tx, rx) = mpsc::channel(limits.batch_max.max(1) * 4);
        let wake = Arc::new(Notify::new());
        let stop = Arc::new(Notify::new());
        let server = server.trim_end_matches('/').to_owned();
        let batcher = tokio::spawn(batch_loop(
            rx,
            identity.clone(),
            limits.clone(),
            spool.clone(),
            counters.clone(),
            wake.clone(),
        ));
        let sender = tokio::spawn(send_loop(
            http.clone(),
            server.clone(),
            token.to_owned(),
            limits,
            spool.clone(),
            counters.clone(),
            wake,
            stop.clone(),
        ));
        Ok(AgentClient {
            tx,
            identity,
            spool,
            counters,
            http,
            server,
            token: token.to_owned(),
            tasks: vec![batcher, sender],
            stop,
        })
    }

    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Queues an alert. Waits only when the in-memory queue is full (back-pressure).
    pub async fn ship_alert(&self, alert: Alert, workload: Option<WorkloadRef>) {
        self.counters.alerts_queued.fetch_add(1, Ordering::Relaxed);
        let item = AlertIn {
            id: String::new(),
            workload,
            alert,
        };
        let _ = self.tx.send(Msg::Alert(Box::new(item))).await;
    }

    async fn ship_snapshot<T: Serialize>(&self, kind: Kind, items: Vec<T>) {
        let snap = Snapshot {
            cluster: self.identity.cluster.clone(),
            source: self.identity.node.clone(),
            generated_at: jiff::Timestamp::now().to_string(),
            items,
        };
        let body = serde_json::to_vec(&snap).expect("model types serialise");
        let _ = self.tx.send(Msg::Snapshot(kind, body)).await;
    }

    /// Ships the node's workload inventory, replacing its previous one.
    pub async fn ship_inventory(&self, workloads: Vec<Workload>) {
        self.ship_snapshot(Kind::Workloads, workloads).await
    }

    /// Ships the node's ranked vulnerability findings, replacing its previous ones.
    pub async fn ship_findings(&self, findings: Vec<VulnFinding>) {
        self.ship_snapshot(Kind::Vulnerabilities, findings).await
    }

    /// Ships posture findings, replacing the previous ones from this node.
    pub async fn ship_posture(&self, findings: Vec<PostureFinding>) {
        self.ship_snapshot(Kind::Posture, findings).await
    }

    /// Ships attack paths, replacing the previous ones from this node.
    pub async fn ship_attack_paths(&self, paths: Vec<AttackPath>) {
        self.ship_snapshot(Kind::AttackPaths, paths).await
    }

    /// Sends a health report now, with the buffer's figures filled in. Not buffered: returns
    /// the error when the server cannot be reached.
    pub async fn ship_health(&self, mut health: SensorHealth) -> Result<(), String> {
        let stats = self.stats();
        health.cluster = self.identity.cluster.clone();
        health.node = self.identity.node.clone();
        health.buffer_bytes = stats.buffer_bytes;
        health.buffer_dropped_batches = stats.dropped_batches;
        let body = serde_json::to_vec(&health).expect("model types serialise");
        match post(
            &self.http,
            &self.server,
            &self.token,
            "/api/v1/ingest/health",
            body,
        )
        .await
        {
            Ok(()) => Ok(()),
            Err(SendError::Retry(e) | SendError::Permanent(e)) => Err(e),
        }
    }

    /// Writes the partial alert batch to the spool now.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Flushes, then waits up to `timeout` for the spool to empty. Returns whether it did.
    pub async fn drain(&self, timeout: Duration) -> bool {
        self.flush().await;
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.spool.files() == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.spool.files() == 0
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            alerts_queued: c.alerts_queued.load(Ordering::Relaxed),
            sent_batches: c.sent_batches.load(Ordering::Relaxed),
            dropped_batches: c.dropped_batches.load(Ordering::Relaxed),
            dropped_alerts: c.dropped_alerts.load(Ordering::Relaxed),
            rejected_batches: c.rejected_batches.load(Ordering::Relaxed),
            buffer_bytes: self.spool.bytes(),
            buffer_files: self.spool.files(),
        }
    }

    /// Why the last send failed (the server's answer or the connection error), if one did.
    pub fn last_error(&self) -> Option<String> {
        self.counters.last_error.lock().ok().and_then(|e| e.clone())
    }

    /// Writes pending alerts to the spool and stops. Unsent batches stay on disk for the next
    /// client on the same directory.
    pub async fn shutdown(self) {
        self.flush().await;
        let AgentClient {
            tx, tasks, stop, ..
        } = self;
        drop(tx);
        let mut tasks = tasks.into_iter();
        if let Some(batcher) = tasks.next() {
            let _ = batcher.await;
        }
        // A send in flight may be cut: its file stays in the spool and is sent again by the
        // next client, and the server drops the duplicate ids.
        stop.notify_one();
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

async fn batch_loop(
    mut rx: mpsc::Receiver<Msg>,
    identity: Identity,
    limits: Limits,
    spool: Arc<Spool>,
    counters: Arc<Counters>,
    wake: Arc<Notify>,
) {
    // Ids must never repeat for this node, across restarts too: the start time separates runs.
    let run = jiff::Timestamp::now().as_nanosecond();
    let mut counter: u64 = 0;
    let mut pending: Vec<AlertIn> = Vec::new();
    let mut tick = tokio::time::interval(limits.flush_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let write = |pending: &mut Vec<AlertIn>| {
        if pending.is_empty() {
            return;
        }
        let alerts = std::mem::take(pending);
        let n = alerts.len() as u64;
        let batch = AlertBatch {
            cluster: identity.cluster.clone(),
            node: identity.node.clone(),
            alerts,
        };
        let body = serde_json::to_vec(&batch).expect("model types serialise");
        match spool.push(Kind::Alerts, &body) {
            Ok(true) => wake.notify_one(),
            Ok(false) => {
                counters.dropped_batches.fetch_add(1, Ordering::Relaxed);
                counters.dropped_alerts.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                tracing::error!(dir = %spool.dir().display(), "cannot write to the agent buffer, {n} alerts lost: {e}");
                counters.dropped_batches.fetch_add(1, Ordering::Relaxed);
                counters.dropped_alerts.fetch_add(n, Ordering::Relaxed);
            }
        }
    };
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Alert(mut a)) => {
                    counter += 1;
                    a.id = format!("{}:{run}:{counter}", identity.node);
                    pending.push(*a);
                    if pending.len() >= limits.batch_max {
                        write(&mut pending);
                    }
                }
                Some(Msg::Snapshot(kind, body)) => {
                    match spool.push_snapshot(kind, &body) {
                        Ok(true) => wake.notify_one(),
                        Ok(false) => {
                            counters.dropped_batches.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => tracing::error!(dir = %spool.dir().display(), "cannot write a {kind:?} snapshot to the agent buffer: {e}"),
                    }
                }
                Some(Msg::Flush(done)) => {
                    write(&mut pending);
                    let _ = done.send(());
                }
                None => {
                    write(&mut pending);
                    return;
                }
            },
            _ = tick.tick() => write(&mut pending),
        }
    }
}

/// The cluster an enrollment `token` belongs to, asked of the server at `server` (base URL).
pub async fn token_cluster(
    http: &reqwest::Client,
    server: &str,
    token: &str,
) -> Result<String, AgentError> {
    #[derive(serde::Deserialize)]
    struct AgentCluster {
        cluster: String,
    }
    let url = format!("{}/api/v1/ingest/cluster", server.trim_end_matches('/'));
    let resp = http
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| AgentError::Server(format!("cannot reach {url}: {e}")))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(AgentError::Server(format!(
            "{url} answered {status}: {}",
            text.trim()
        )));
    }
    serde_json::from_str::<AgentCluster>(&text)
        .map(|c| c.cluster)
        .map_err(|e| AgentError::Server(format!("{url} answered an unexpected body ({e}): {text}")))
}

enum SendError {
    /// Network error, 5xx, 429: try again later.
    Retry(String),
    /// Another 4xx: the same request will never succeed.
    Permanent(String),
}

async fn post(
    http: &reqwest::Client,
    server: &str,
    token: &str,
    path: &str,
    body: Vec<u8>,
) -> Result<(), SendError> {
    let url = format!("{server}{path}");
    let resp = http
        .post(&url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| SendError::Retry(format!("cannot reach {url}: {e}")))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    let msg = format!("{url} answered {status}: {}", text.trim());
    if status.as_u16() == 429 || status.is_server_error() {
        Err(SendError::Retry(msg))
    } else {
        Err(SendError::Permanent(msg))
    }
}

#[allow(clippy::too_many_arguments)]
async fn send_loop(
    http: reqwest::Client,
    server: String,
    token: String,
    limits: Limits,
    spool: Arc<Spool>,
    counters: Arc<Counters>,
    wake: Arc<Notify>,
    stop: Arc<Notify>,
) {
    let mut backoff = limits.retry_min;
    let mut down_since: Option<tokio::time::Instant> = None;
    loop {
        let next = spool.oldest();
        let Some((path, kind)) = next else {
            tokio::select! {
                _ = wake.notified() => continue,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                _ = stop.notified() => return,
            }
        };
        let body = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(file = %path.display(), "cannot read a buffered batch, discarding it: {e}");
                spool.remove(&path);
                continue;
            }
        };
        match post(&http, &server, &token, kind.endpoint(), body).await {
            Ok(()) => {
                spool.remove(&path);
                counters.sent_batches.fetch_add(1, Ordering::Relaxed);
                backoff = limits.retry_min;
                if let Some(t) = down_since.take() {
                    tracing::info!(
                        "server reachable again after {:?}; resending the buffer",
                        t.elapsed()
                    );
                }
            }
            Err(SendError::Permanent(e)) => {
                counters.set_error(&e);
                tracing::error!(file = %path.display(), "the server refused a batch; kept in rejected/: {e}");
                spool.reject(&path);
                counters.rejected_batches.fetch_add(1, Ordering::Relaxed);
            }
            Err(SendError::Retry(e)) => {
                counters.set_error(&e);
                if down_since.is_none() {
                    tracing::warn!("cannot ship to the server, buffering on disk: {e}");
                    down_since = Some(tokio::time::Instant::now());
                } else {
                    tracing::debug!("still cannot ship: {e}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.notified() => return,
                }
                backoff = (backoff * 2).min(limits.retry_max);
            }
        }
    }
}
