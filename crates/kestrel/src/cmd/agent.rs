//! `kestrel agent`: runs the sensor and the rule engine on this node and ships alerts and sensor
//! health to a Kestrel server through the buffered [`kestrel_agent::AgentClient`].
//!
//! What it ships today: alerts (sensor events evaluated by the Falco-syntax rules of
//! `[detection]`) and sensor health (events, drops, events per second, degradation, the agent's
//! buffer). Workload inventory, vulnerability findings, posture findings and attack paths have
//! ingest APIs and client methods (`ship_inventory`, `ship_findings`, `ship_posture`,
//! `ship_attack_paths`) but are not produced by this command yet.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use kestrel_agent::{AgentClient, Identity, Limits};
use kestrel_config::Config;
use kestrel_store::model::{SensorHealth, SensorStatus};

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Server base URL; overrides `[agent] server`.
    #[arg(long)]
    server: Option<String>,
    /// Enrollment token (kag_...); prefer --token-file or KESTREL_AGENT__TOKEN.
    #[arg(long)]
    token: Option<String>,
    /// File holding the enrollment token; overrides `[agent] token_file`.
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Cluster the token enrolls; overrides `[agent] cluster`.
    #[arg(long)]
    cluster: Option<String>,
    /// Node name; defaults to `[agent] node`, then $NODE_NAME, then the host name.
    #[arg(long)]
    node: Option<String>,
    /// On-disk buffer directory; overrides `[agent] buffer_dir`.
    #[arg(long)]
    buffer_dir: Option<PathBuf>,
    /// PEM CA certificate to trust for the server; overrides `[agent] ca_file`.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Seconds between sensor health reports.
    #[arg(long, default_value_t = 10)]
    health_interval: u64,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// The sensor and rule engine running on a thread, feeding an agent client.
#[derive(Debug)]
pub struct Detection {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    health: tokio::task::JoinHandle<()>,
    forward: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Shared {
    stats: Option<kestrel_sensor::StatsSnapshot>,
    degraded: Option<String>,
}

fn load_rules(config: &Config) -> anyhow::Result<kestrel_rules::RuleSet> {
    let mut sources = Vec::new();
    if config.detection.builtin_rules {
        sources.extend(kestrel_rules::default_sources());
    }
    for path in &config.detection.rules_files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read rules file {}", path.display()))?;
        sources.push(kestrel_rules::RuleSource {
            name: path.display().to_string(),
            text,
        });
    }
    if sources.is_empty() {
        bail!("no rules: [detection] builtin_rules is false and rules_files is empty");
    }
    Ok(kestrel_rules::RuleSet::from_sources(&sources)?)
}

impl Detection {
    /// Starts the sensor (eBPF, or the `/proc` fallback reported as degraded) and the rule
    /// engine, forwarding alerts to `client` and health every `interval`. Must run inside a
    /// Tokio runtime.
    pub fn start(
        client: Arc<AgentClient>,
        config: &Config,
        interval: Duration,
    ) -> anyhow::Result<Detection> {
        let rules = load_rules(config)?;
        let min: kestrel_event::Priority = config
            .detection
            .min_priority
            .parse()
            .context("[detection] min_priority")?;
        let node = client.identity().node.clone();
        let mut engine = kestrel_rules::Engine::new(Arc::new(rules))
            .hostname(node)
            .min_priority(min);
        let sensor =
            kestrel_sensor::Sensor::start(Default::default()).context("cannot start the sensor")?;
        if let Some(why) = sensor.degraded() {
            tracing::warn!("sensor degraded: {why}");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let alerts_total = Arc::new(AtomicU64::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<kestrel_event::Alert>(10_000);
        let thread = {
            let stop = stop.clone();
            let shared = shared.clone();
            let alerts_total = alerts_total.clone();
            std::thread::Builder::new()
                .name("kestrel-detect".into())
                .spawn(move || {
                    let mut out = Vec::new();
                    let mut last = std::time::Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        match sensor.events().recv_timeout(Duration::from_millis(200)) {
                            Ok(ev) => {
                                engine.evaluate(&ev, &mut out);
                                for a in out.drain(..) {
                                    alerts_total.fetch_add(1, Ordering::Relaxed);
                                    if tx.blocking_send(a).is_err() {
                                        return;
                                    }
                                }
                            }
                            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                        }
                        if last.elapsed() >= Duration::from_secs(1) {
                            let mut s = shared.lock().expect("detection state lock");
                            s.stats = Some(sensor.stats());
                            s.degraded = sensor.degraded().map(str::to_owned);
                            last = std::time::Instant::now();
                        }
                    }
                    sensor.stop();
                })
                .context("cannot start the detection thread")?
        };
        let forward = {
            let client = client.clone();
            tokio::spawn(async move {
                while let Some(a) = rx.recv().await {
                    client.ship_alert(a, None).await;
                }
            })
        };
        let health = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                let (stats, degraded) = {
                    let s = shared.lock().expect("detection state lock");
                    (s.stats.clone(), s.degraded.clone())
                };
                let Some(stats) = stats else { continue };
                let health = SensorHealth {
                    cluster: String::new(),
                    node: String::new(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    status: if degraded.is_some() {
                        SensorStatus::Degraded
                    } else {
                        SensorStatus::Ok
                    },
                    events_total: stats.events_out,
                    drops_total: stats.drops.values().sum::<u64>() + stats.decode_errors,
                    alerts_total: alerts_total.load(Ordering::Relaxed),
                    events_per_second: stats.events_per_sec as f64,
                    messages: degraded.into_iter().collect(),
                    buffer_bytes: 0,
                    buffer_dropped_batches: 0,
                };
                if let Err(e) = client.ship_health(health).await {
                    tracing::debug!("health report not delivered: {e}");
                }
            }
        });
        Ok(Detection {
            stop,
            thread: Some(thread),
            health,
            forward,
        })
    }

    /// Stops the sensor; alerts already raised are still handed to the client.
    pub async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
        self.health.abort();
        let _ = (&mut self.forward).await;
    }
}

pub fn run(args: AgentArgs, config: &Config) -> anyhow::Result<std::process::ExitCode> {
    let cfg = &config.agent;
    let server = args
        .server
        .or_else(|| cfg.server.clone())
        .context("no server: pass --server URL or set [agent] server")?;
    let token = match (
        args.token,
        args.token_file.or_else(|| cfg.token_file.clone()),
        &cfg.token,
    ) {
        (Some(t), _, _) => t,
        (None, Some(path), _) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read token file {}", path.display()))?
            .trim()
            .to_owned(),
        (None, None, Some(t)) => t.clone(),
        (None, None, None) => {
            bail!("no enrollment token: pass --token-file FILE or set KESTREL_AGENT__TOKEN")
        }
    };
    let node = args
        .node
        .or_else(|| cfg.node.clone())
        .or_else(|| std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()))
        .unwrap_or_else(hostname);
    let identity = Identity {
        cluster: args.cluster.unwrap_or_else(|| cfg.cluster.clone()),
        node,
    };
    let limits = Limits {
        buffer_max_bytes: cfg.buffer_max_bytes,
        ..Limits::default()
    };
    let buffer_dir = args.buffer_dir.unwrap_or_else(|| cfg.buffer_dir.clone());
    let ca = args.ca_file.or_else(|| cfg.ca_file.clone());
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    rt.block_on(async move {
        let http = kestrel_agent::http_client(ca.as_deref(), limits.request_timeout)?;
        let client = Arc::new(AgentClient::with_http(
            &server,
            &token,
            &buffer_dir,
            identity.clone(),
            limits,
            http,
        )?);
        let detection = Detection::start(
            client.clone(),
            config,
            Duration::from_secs(args.health_interval.max(1)),
        )?;
        println!(
            "kestrel agent shipping to {server} as {}/{} (buffer {})",
            identity.cluster,
            identity.node,
            buffer_dir.display()
        );
        super::server::terminated().await;
        tracing::info!("stopping");
        detection.stop().await;
        if let Ok(client) = Arc::try_unwrap(client) {
            client.shutdown().await;
        }
        Ok(std::process::ExitCode::SUCCESS)
    })
}
