//! `kestrel risk`: one-shot runtime-aware risk ranking of the containers running on this node,
//! through `kestrel_assess` (the same assessment the agent ships).
//!
//! Order matters: the sensor (with `--observe`) starts before the `/proc` snapshot so that no
//! process starting in between is missed; the assessment runs after observation so that
//! containers that started during it are included.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kestrel_assess::{Assessor, MissingDatabase, Observation, Settings};
use kestrel_config::Config;
use kestrel_container::ContainerResolver;
use kestrel_risk::{EnvironmentMap, InUse, RiskFinding};

#[derive(Debug, Args)]
pub struct RiskArgs {
    /// Watch with the eBPF sensor for this long before ranking (e.g. `30s`, `5m`). Without it,
    /// only the `/proc` snapshot is used and packages not seen loaded are "unknown".
    #[arg(long, value_parser = parse_duration)]
    observe: Option<Duration>,
    /// A workload observed from its start for at least this long, whose package was never
    /// touched, has that package "not in use" (shorter: "unknown").
    /// Default: `[risk] min_observation_secs` (60 s).
    #[arg(long, value_parser = parse_duration)]
    min_observation: Option<Duration>,
    /// Advisory database (default: `[db] path`).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Only these containers (id, id prefix of 12+ hex digits, or name).
    #[arg(long = "container")]
    containers: Vec<String>,
    #[arg(long, value_enum, default_value_t = RiskFormat::Table)]
    format: RiskFormat,
    /// Print only the N highest-ranked findings (table format).
    #[arg(long)]
    top: Option<usize>,
    /// Kubernetes objects (manifests or a `kubectl get -o json` dump; repeatable) giving the
    /// Services, Ingresses, host networking and namespace labels that decide exposure and
    /// environment.
    #[arg(long = "k8s")]
    k8s: Vec<PathBuf>,
    /// Also write the ranking as an OpenVEX document to this file.
    #[arg(long)]
    vex: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum RiskFormat {
    Table,
    Json,
}

/// Parses `500ms`, `30s`, `5m`, `2h` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| s.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 30s, 5m, 2h"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub fn run(args: RiskArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut k8s = kestrel_k8s::Inventory::new();
    for p in &args.k8s {
        kestrel_k8s::load::load_path(&mut k8s, p)?;
    }
    let settings = Settings {
        proc_root: config.container.proc_root.clone(),
        database: args.db.clone().unwrap_or_else(|| config.db.path.clone()),
        missing_database: MissingDatabase::Fail,
        containers: args.containers.clone(),
        environments: EnvironmentMap::from_config(
            &config.risk.environment_labels,
            &config.risk.environment_words,
        )
        .map_err(anyhow::Error::msg)?,
        min_observation: args
            .min_observation
            .unwrap_or(Duration::from_secs(config.risk.min_observation_secs)),
        resolve_timeout: Duration::from_secs(3),
    };
    // A missing database is reported before observing for minutes.
    if !settings.database.exists() {
        bail!(
            "advisory database {} does not exist: run `kestrel db import PATH...` or `kestrel db update` first",
            settings.database.display()
        );
    }
    let (resolver, _hold) = rt.block_on(ContainerResolver::start(&config.container));
    let observation = Mutex::new(Observation::default());
    if let Some(d) = args.observe {
        observe(config, d, &observation)?;
    }
    let mut assessor = Assessor::new(settings, resolver, k8s);
    let assessment = rt.block_on(assessor.assess(&observation))?;
    let ranked = &assessment.findings;

    if let Some(path) = &args.vex {
        let ts = jiff::Timestamp::now().to_string();
        let doc = kestrel_risk::vex::openvex(
            ranked,
            &format!("urn:kestrel:risk:{}", now_ns()),
            "Kestrel",
            &ts,
        );
        std::fs::write(path, serde_json::to_vec_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        RiskFormat::Json => {
            let doc = serde_json::json!({
                "observed_secs": args.observe.map(|d| d.as_secs()),
                "workloads": assessment.workloads.len(),
                "findings": ranked.iter().map(json_row).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        RiskFormat::Table => print_table(&mut out, ranked, args.top)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Watches with the sensor (every file open: interpreters read their modules with open(2)) and
/// the detection rules for `d`, folding events and alerts into `observation`.
fn observe(config: &Config, d: Duration, observation: &Mutex<Observation>) -> anyhow::Result<()> {
    let cfg = kestrel_sensor::SensorConfig {
        open_prefixes: vec![String::new()],
        ..Default::default()
    };
    let rules = if config.detection.rules_files.is_empty() {
        kestrel_rules::RuleSet::defaults()
    } else {
        kestrel_rules::RuleSet::load(&config.detection.rules_files)
    }
    .context("loading detection rules")?;
    let mut engine = kestrel_rules::Engine::new(Arc::new(rules))
        .boot_clock_offset(kestrel_sensor::boot_to_unix_ns());
    let mut alerts = Vec::new();
    let sensor = kestrel_sensor::Sensor::start(cfg).context("starting the sensor")?;
    let mut obs = observation.lock().expect("observation lock");
    match sensor.degraded() {
        // Without file events, an untouched package proves nothing: never "not in use".
        Some(why) => tracing::warn!(
            "sensor degraded: {why}; file opens are not observed, unused packages stay unknown"
        ),
        None => obs.start(now_ns()),
    }
    tracing::info!("observing for {:?}", d);
    let deadline = Instant::now() + d;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match sensor
            .events()
            .recv_timeout(left.min(Duration::from_millis(200)))
        {
            Ok(ev) => {
                alerts.clear();
                engine.evaluate(&ev, &mut alerts);
                if let Some(c) = &ev.container {
                    for a in &alerts {
                        obs.record_alert(c.id.as_str(), &a.rule, a.priority, ev.ts);
                    }
                }
                obs.record_event(&ev);
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    tracing::info!(stats = ?sensor.stats(), observation = ?obs.stats(), "observation finished");
    sensor.stop();
    Ok(())
}

fn json_row(f: &RiskFinding) -> serde_json::Value {
    let x = &f.vulnerability.exploitability;
    serde_json::json!({
        "workload": {
            "pod": f.workload.pod,
            "namespace": f.workload.namespace,
            "container": f.workload.container,
            "container_id": f.workload.container_id,
        },
        "image": f.workload.image,
        "package": {
            "name": f.vulnerability.package.name,
            "version": f.vulnerability.package.version,
            "ecosystem": f.vulnerability.package.ecosystem,
        },
        "vulnerability": f.vulnerability.id,
        "aliases": f.vulnerability.aliases,
        "score": f.score.total,
        "score_parts": f.score,
        "reasons": f.reasons,
        "in_use": f.in_use.as_str(),
        "evidence": match &f.in_use { InUse::Yes { evidence } => serde_json::to_value(evidence).unwrap_or_default(), _ => serde_json::Value::Array(vec![]) },
        "exposure": f.workload.exposure,
        "environment": f.workload.environment,
        "kev": x.kev,
        "kev_ransomware": x.kev_ransomware,
        "epss": x.epss.map(|(p, pct)| serde_json::json!({"score": p, "percentile": pct})),
        "cvss": x.cvss,
        "severity": x.severity,
        "fixed_versions": x.fixed_versions,
    })
}

fn print_table(
    out: &mut impl Write,
    ranked: &[RiskFinding],
    top: Option<usize>,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{:>5}  {:<7}  {:<28}  {:<28}  {:<20}  REASONS",
        "SCORE", "IN USE", "WORKLOAD", "PACKAGE", "VULNERABILITY"
    )?;
    for f in ranked.iter().take(top.unwrap_or(usize::MAX)) {
        let w = &f.workload;
        let place = match (&w.namespace, &w.pod) {
            (Some(ns), Some(p)) => format!("{ns}/{p}/{}", w.container),
            _ => w.container.clone(),
        };
        let pkg = format!(
            "{}@{}",
            f.vulnerability.package.name, f.vulnerability.package.version
        );
        writeln!(
            out,
            "{:>5.1}  {:<7}  {:<28}  {:<28}  {:<20}  {}",
            f.score.total,
            f.in_use.as_str(),
            place,
            pkg,
            f.vulnerability.id,
            f.reasons.join("; ")
        )?;
    }
    if ranked.is_empty() {
        writeln!(out, "no vulnerabilities found in the running containers")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("x").is_err());
    }
}
