//! `kestrel agent`: runs the sensor and the rule engine on this node and ships alerts, sensor
//! health and runtime risk to a Kestrel server through the buffered
//! [`kestrel_agent::AgentClient`].
//!
//! What it ships: alerts (sensor events evaluated by the Falco-syntax rules of `[detection]`),
//! sensor health (events, drops, events per second, degradation, the agent's buffer), and every
//! `[agent] risk_interval_secs` a `kestrel_assess` assessment of the node: its workloads
//! (`ship_inventory`) and their vulnerabilities ranked by runtime risk (`ship_findings`), with
//! in-use evidence from the same live sensor that feeds detection. Posture findings and attack
//! paths come from cluster scans, not from the agent.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Args;
use kestrel_agent::{AgentClient, Identity, Limits};
use kestrel_assess::{Assessor, MissingDatabase, Observation, Settings};
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
    reload: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    health: tokio::task::JoinHandle<()>,
    forward: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Shared {
    stats: Option<kestrel_sensor::StatsSnapshot>,
    degraded: Option<String>,
}

impl Detection {
    /// Starts the sensor (eBPF, or the degraded fallback, reported as such) and the rule
    /// engine, forwarding alerts to `client` and health every `interval`; with `observation`,
    /// every event and alert is also folded into it for risk assessment, and the sensor reports
    /// every file open. Events carry container and pod identity from `containers` (the
    /// resolver of `[container]` and how long to hold an unresolved container's events), so
    /// alerts name their pod and namespace.
    pub async fn start_observing(
        client: Arc<AgentClient>,
        config: &Config,
        interval: Duration,
        observation: Option<Arc<Mutex<Observation>>>,
        containers: (kestrel_container::ContainerResolver, Duration),
    ) -> anyhow::Result<Detection> {
        let Some(rules) = super::watch::configured_rules(config, &[])? else {
            bail!("no rules: [detection] builtin_rules is false and rules_files is empty");
        };
        let enforcement = super::watch::configured_enforcement(config);
        let min: kestrel_event::Priority = config
            .detection
            .min_priority
            .parse()
            .context("[detection] min_priority")?;
        let node = client.identity().node.clone();
        let mut intel = kestrel_intel::start(
            &config.detection.intel_files,
            Duration::from_secs(config.detection.reload_interval_secs),
            &node,
        )?;
        let mut engine = kestrel_rules::Engine::with_shared(rules.shared())
            .hostname(node)
            .min_priority(min)
            .enforcement(enforcement)
            .boot_clock_offset(kestrel_sensor::boot_to_unix_ns());
        let mut sensor_config = super::watch::sensor_config(config)?;
        if observation.is_some() {
            // Interpreters load their modules with open(2), anywhere in the file system: the
            // in-use evidence of risk assessment needs every open, not only the rules' paths.
            sensor_config.open_prefixes = vec![String::new()];
        }
        let (resolver, hold) = containers;
        sensor_config.hold_unresolved = hold;
        // Loading and attaching the programs takes a while: not on a runtime worker's turn.
        let sensor = tokio::task::block_in_place(|| {
            kestrel_sensor::Sensor::start_with(sensor_config, Some(Arc::new(resolver)))
        })
        .context("cannot start the sensor")?;
        let mut upkeep =
            super::watch::arm(&sensor, config, &[], false, enforcement, Some(rules), true)?
                .expect("arm returns the upkeep of the rules it is given");
        match (sensor.degraded(), &observation) {
            (Some(why), _) => tracing::warn!(
                "sensor degraded: {why}; risk assessment will not judge any package unused"
            ),
            // From now on every process start and file use is seen.
            (None, Some(obs)) => obs.lock().expect("observation lock").start(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos() as u64),
            ),
            (None, None) => {}
        }
        let stop = Arc::new(AtomicBool::new(false));
        let reload = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Shared::default()));
        let alerts_total = Arc::new(AtomicU64::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::channel::<kestrel_event::Alert>(10_000);
        let thread = {
            let stop = stop.clone();
            let reload = reload.clone();
            let shared = shared.clone();
            let alerts_total = alerts_total.clone();
            std::thread::Builder::new()
                .name("kestrel-detect".into())
                .spawn(move || {
                    let mut out = Vec::new();
                    let mut last = std::time::Instant::now();
                    while !stop.load(Ordering::Relaxed) {
                        // As in `kestrel watch`, except that a kill-map failure is logged: the
                        // node keeps detecting.
                        let asked = reload.swap(false, Ordering::Relaxed);
                        if let Err(e) = upkeep.turn(&sensor, asked) {
                            tracing::error!("kill targets of the reloaded rules: {e}");
                        }
                        match sensor.events().recv_timeout(Duration::from_millis(200)) {
                            Ok(ev) => {
                                engine.evaluate(&ev, &mut out);
                                out.extend(intel.as_mut().and_then(|m| m.observe(&ev)));
                                if let Some(obs) = &observation {
                                    let mut obs = obs.lock().expect("observation lock");
                                    if let Some(c) = &ev.container {
                                        for a in &out {
                                            obs.record_alert(
                                                c.id.as_str(),
                                                &a.rule,
                                                a.priority,
                                                ev.ts,
                                            );
                                        }
                                    }
                                    obs.record_event(&ev);
                                }
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
            reload,
            thread: Some(thread),
            health,
            forward,
        })
    }

    /// Reloads the rules at the detection thread's next turn (SIGHUP).
    pub fn reload_rules(&self) {
        self.reload.store(true, Ordering::Relaxed);
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
        // One resolver (one runtime client, one pod watch) for the sensor and the assessment.
        let containers = kestrel_container::ContainerResolver::start(&config.container).await;
        let risk = match cfg.risk_interval_secs {
            0 => None,
            _ => Some((
                assessor(config, containers.0.clone()).await?,
                Arc::new(Mutex::new(observation(config))),
            )),
        };
        let hup = super::server::hangups()?;
        let detection = Detection::start_observing(
            client.clone(),
            config,
            Duration::from_secs(args.health_interval.max(1)),
            risk.as_ref().map(|(_, o)| o.clone()),
            containers,
        )
        .await?;
        let risk = risk.map(|(assessor, observation)| {
            tokio::spawn(assess_periodically(
                assessor,
                observation,
                client.clone(),
                Duration::from_secs(cfg.risk_first_delay_secs),
                Duration::from_secs(cfg.risk_interval_secs),
            ))
        });
        println!(
            "kestrel agent shipping to {server} as {}/{} (buffer {})",
            identity.cluster,
            identity.node,
            buffer_dir.display()
        );
        super::server::terminated_reloading(hup, Some(&detection)).await;
        tracing::info!("stopping");
        if let Some(task) = risk {
            task.abort();
            let _ = task.await;
        }
        detection.stop().await;
        if let Ok(client) = Arc::try_unwrap(client) {
            client.shutdown().await;
        }
        Ok(std::process::ExitCode::SUCCESS)
    })
}

/// What the assessment folds sensor events into, with `[risk] attacked_window_secs`.
pub(super) fn observation(config: &Config) -> Observation {
    Observation::default()
        .with_attacked_window(Duration::from_secs(config.risk.attacked_window_secs))
}

/// The node assessment of `[agent]`, `[risk]`, `[db]` and `[container]`.
pub(super) async fn assessor(
    config: &Config,
    resolver: kestrel_container::ContainerResolver,
) -> anyhow::Result<Assessor> {
    let mut k8s = kestrel_k8s::Inventory::new();
    for p in &config.agent.k8s_files {
        kestrel_k8s::load::load_path(&mut k8s, p)
            .with_context(|| format!("[agent] k8s_files: {}", p.display()))?;
    }
    let settings = Settings {
        proc_root: config.container.proc_root.clone(),
        database: config.db.path.clone(),
        missing_database: MissingDatabase::WarnOnce,
        containers: Vec::new(),
        environments: kestrel_risk::EnvironmentMap::from_config(
            &config.risk.environment_labels,
            &config.risk.environment_words,
        )
        .map_err(anyhow::Error::msg)?,
        min_observation: Duration::from_secs(config.risk.min_observation_secs),
        resolve_timeout: Duration::from_secs(3),
    };
    Ok(Assessor::new(settings, resolver, k8s))
}

/// Assesses the node after `first`, then every `every`, and ships its workloads and (when the
/// advisory database exists) its ranked vulnerabilities. A failed assessment is logged and
/// retried at the next tick.
pub(super) async fn assess_periodically(
    mut assessor: Assessor,
    observation: Arc<Mutex<Observation>>,
    client: Arc<AgentClient>,
    first: Duration,
    every: Duration,
) {
    tokio::time::sleep(first).await;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let started = std::time::Instant::now();
        match assessor.assess(&observation).await {
            Ok(a) => {
                tracing::info!(
                    workloads = a.workloads.len(),
                    findings = a.findings.len(),
                    matched = a.matched,
                    took = ?started.elapsed(),
                    "risk assessment shipped"
                );
                client
                    .ship_inventory(kestrel_assess::report::workloads(&a.workloads))
                    .await;
                // Without advisories, an empty findings report would erase the server's last
                // known findings for this node: send none instead.
                if a.matched {
                    client
                        .ship_findings(kestrel_assess::report::findings(&a.findings))
                        .await;
                }
            }
            Err(e) => tracing::warn!("risk assessment failed: {e}"),
        }
    }
}
