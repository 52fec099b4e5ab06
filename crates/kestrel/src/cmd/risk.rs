//! `kestrel risk`: one-shot runtime-aware risk ranking of the containers running on this node.
//!
//! Order matters: the sensor (with `--observe`) starts before the `/proc` snapshot so that no
//! process starting in between is missed; inventories are built after observation so that
//! containers that started during it are included; file ownership is resolved after that, from
//! the events kept.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::{Args, ValueEnum};
use kestrel_config::Config;
use kestrel_container::ContainerResolver;
use kestrel_event::{ContainerInfo, Event, EventKind, SockAddr};
use kestrel_inventory::{Inventory, Options, Target};
use kestrel_risk::{
    EnvironmentMap, EvidenceKind, Exploitability, Exposure, InUse, ListenSocket, PackageKey,
    RiskFinding, RiskInput, UsageTracker, VulnFinding, Workload, rank,
};
use kestrel_vulndb::Database;

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

/// A file access kept from the sensor stream until ownership can be resolved.
struct Access {
    container: String,
    event: Event,
}

/// Everything gathered about one running container.
struct Gathered {
    info: Arc<ContainerInfo>,
    pid: u32,
    first_start: u64,
    inventory: Inventory,
}

pub fn run(args: RiskArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let db_path = args.db.clone().unwrap_or_else(|| config.db.path.clone());
    let mut k8s = kestrel_k8s::Inventory::new();
    for p in &args.k8s {
        kestrel_k8s::load::load_path(&mut k8s, p)?;
    }
    let mut db = rt.block_on(Database::open(&db_path))?;
    let (resolver, _hold) = rt.block_on(ContainerResolver::start(&config.container));

    let mut accesses: Vec<Access> = Vec::new();
    // Alerts raised on each container while observing: the "attacked" signal.
    let mut attacked: HashMap<String, kestrel_risk::Attacked> = HashMap::new();
    let mut listens: HashMap<String, Vec<ListenSocket>> = HashMap::new();
    let mut public_inbound: HashMap<String, u64> = HashMap::new();
    let mut observe_start = None;
    if let Some(d) = args.observe {
        let cfg = kestrel_sensor::SensorConfig {
            // Interpreters read their modules with open(2): every path matters here.
            open_prefixes: vec![String::new()],
            ..Default::default()
        };
        let rules = if config.detection.rules_files.is_empty() {
            kestrel_rules::RuleSet::defaults()
        } else {
            kestrel_rules::RuleSet::load(&config.detection.rules_files)
        }
        .context("loading detection rules")?;
        let mut engine = kestrel_rules::Engine::new(Arc::new(rules));
        let mut alerts = Vec::new();
        let sensor = kestrel_sensor::Sensor::start(cfg).context("starting the sensor")?;
        if let Some(why) = sensor.degraded() {
            tracing::warn!("sensor degraded: {why}; file opens are not observed");
        }
        let started = now_ns();
        observe_start = Some(started);
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
                            attacked
                                .entry(c.id.to_string())
                                .or_default()
                                .record(&a.rule, a.priority);
                        }
                    }
                    if let (
                        Some(c),
                        EventKind::Accept {
                            remote: SockAddr::Inet(peer),
                            result,
                            ..
                        },
                    ) = (&ev.container, &ev.kind)
                        && *result >= 0
                        && is_public(peer.ip())
                    {
                        *public_inbound.entry(c.id.to_string()).or_default() += 1;
                    }
                    keep(ev, &mut accesses, &mut listens)
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        let stats = sensor.stats();
        tracing::info!(?stats, "observation finished");
        sensor.stop();
    }

    let snap = kestrel_snapshot::take_at(&config.container.proc_root)?;
    // Group processes by container.
    let mut by_container: BTreeMap<String, Vec<&kestrel_snapshot::ProcessSnapshot>> =
        BTreeMap::new();
    for p in &snap.processes {
        if let Some(c) = &p.container {
            by_container
                .entry(c.container_id.to_string())
                .or_default()
                .push(p);
        }
    }
    let mut gathered: Vec<Gathered> = Vec::new();
    for (id, procs) in &by_container {
        let first = procs
            .iter()
            .min_by_key(|p| p.start_time)
            .expect("non-empty");
        let info = match resolver.resolve_pid(first.pid) {
            Ok(Some(info)) => rt
                .block_on(resolver.wait_resolved(&info.id, Duration::from_secs(3)))
                .unwrap_or(info),
            _ => continue,
        };
        if !args.containers.is_empty()
            && !args.containers.iter().any(|c| {
                (c.len() >= 12 && id.starts_with(c.as_str())) || info.name.as_deref() == Some(c)
            })
        {
            continue;
        }
        let inventory =
            match kestrel_inventory::inventory(&Target::Pid(first.pid), &Options::default()) {
                Ok(inv) => inv,
                Err(e) => {
                    tracing::warn!(container = %id, "skipping container: inventory failed: {e}");
                    continue;
                }
            };
        gathered.push(Gathered {
            info,
            pid: first.pid,
            first_start: first.start_time,
            inventory,
        });
    }

    // Usage: the snapshot first (what is mapped or open now), then the sensor's events.
    let mut usage = UsageTracker::new();
    let inv_of: HashMap<String, &Inventory> = gathered
        .iter()
        .map(|g| (g.info.id.to_string(), &g.inventory))
        .collect();
    let owner = |container: &str, path: &str| -> Option<PackageKey> {
        inv_of
            .get(container)
            .and_then(|inv| inv.owner_of(path))
            .map(PackageKey::from)
    };
    for g in &gathered {
        let id = g.info.id.to_string();
        if let Some(t0) = observe_start
            && g.first_start >= t0
        {
            // Every process of this container ran under the sensor: an untouched package is
            // evidence of non-use once the minimum observation has passed.
            usage.start_observing(&id, g.first_start);
        }
        for p in snap.in_container(&id) {
            let files = p
                .exe
                .iter()
                .chain(p.exec_maps.iter())
                .chain(p.open_files.iter());
            for f in files.filter(|f| kestrel_risk::is_evidence_path(f)) {
                if let Some(pkg) = owner(&id, f) {
                    let seen = UsageTracker::seen(
                        p.pid,
                        &p.name,
                        f,
                        EvidenceKind::Snapshot,
                        snap.taken_at,
                    );
                    usage.record(&id, pkg, seen);
                }
            }
        }
    }
    for a in &accesses {
        if inv_of.contains_key(&a.container) {
            usage.observe_event(&a.event, owner);
        }
    }

    // Vulnerabilities per container image, then the workload facts, then the ranking.
    let env_map = EnvironmentMap::from_config(
        &config.risk.environment_labels,
        &config.risk.environment_words,
    )
    .map_err(anyhow::Error::msg)?;
    let min_observation = args
        .min_observation
        .unwrap_or(Duration::from_secs(config.risk.min_observation_secs));
    let mut workloads = Vec::new();
    let mut findings_per = Vec::new();
    for g in &gathered {
        let id = g.info.id.to_string();
        let keys = kestrel_vuln::lookup_keys(&g.inventory.packages);
        let vsnap = rt.block_on(db.snapshot_for(&keys))?;
        let findings: Vec<VulnFinding> =
            kestrel_vuln::match_packages(&g.inventory.packages, &vsnap)
                .into_iter()
                .filter_map(|f| to_vuln_finding(&g.inventory, f))
                .collect();
        let mut listening: Vec<ListenSocket> = snap
            .in_container(&id)
            .flat_map(|p| p.listening.iter())
            .map(|l| ListenSocket {
                address: l.address.ip().to_string(),
                port: l.address.port(),
                protocol: l.protocol.clone(),
            })
            .chain(listens.get(&id).into_iter().flatten().cloned())
            .collect();
        listening.sort();
        listening.dedup();
        let pod = g.info.pod.as_ref();
        let namespace = pod.map_or("", |p| p.namespace.as_str());
        let ns_labels = k8s
            .namespaces
            .iter()
            .find(|n| n.object.metadata.name.as_deref() == Some(namespace))
            .and_then(|n| n.object.metadata.labels.clone())
            .unwrap_or_default();
        let pod_labels = pod.map_or(&g.info.labels, |p| &p.labels);
        let environment = env_map.classify(namespace, pod_labels, &ns_labels);
        let routes = match pod {
            Some(p) => kestrel_risk::exposure::routes(&k8s, namespace, &p.name, pod_labels),
            None => Vec::new(),
        };
        workloads.push(Workload {
            container_id: id,
            container: g
                .info
                .name
                .clone()
                .unwrap_or_else(|| g.info.id.short().to_owned()),
            pod: pod.map(|p| p.name.clone()).filter(|s| !s.is_empty()),
            namespace: pod.map(|p| p.namespace.clone()).filter(|s| !s.is_empty()),
            image: g
                .info
                .image
                .as_ref()
                .map(|i| match &i.tag {
                    Some(t) => format!("{}:{t}", i.repository),
                    None => i.repository.clone(),
                })
                .unwrap_or_else(|| format!("pid:{}", g.pid)),
            environment,
            exposure: Exposure {
                listening,
                routes,
                public_inbound: public_inbound
                    .get(&g.info.id.to_string())
                    .copied()
                    .unwrap_or(0),
            },
            attacked: attacked.remove(&g.info.id.to_string()).unwrap_or_default(),
        });
        findings_per.push(findings);
    }
    let inputs: Vec<RiskInput<'_>> = workloads
        .iter()
        .zip(&findings_per)
        .map(|(w, f)| RiskInput {
            workload: w,
            findings: f,
        })
        .collect();
    let ranked = rank(&inputs, &usage, now_ns(), min_observation.as_secs());

    if let Some(path) = &args.vex {
        let ts = jiff::Timestamp::now().to_string();
        let doc = kestrel_risk::vex::openvex(
            &ranked,
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
                "workloads": workloads.len(),
                "findings": ranked.iter().map(json_row).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        RiskFormat::Table => print_table(&mut out, &ranked, args.top)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn keep(ev: Event, accesses: &mut Vec<Access>, listens: &mut HashMap<String, Vec<ListenSocket>>) {
    let Some(c) = ev.container.as_ref().map(|c| c.id.to_string()) else {
        return;
    };
    match &ev.kind {
        EventKind::Exec | EventKind::Mmap { .. } => {}
        EventKind::Open { result, .. } if *result >= 0 => {}
        EventKind::Listen {
            local: SockAddr::Inet(addr),
            result: 0,
            protocol,
            ..
        } => {
            listens.entry(c).or_default().push(ListenSocket {
                address: addr.ip().to_string(),
                port: addr.port(),
                protocol: format!("{protocol:?}").to_ascii_lowercase(),
            });
            return;
        }
        _ => return,
    }
    accesses.push(Access {
        container: c,
        event: ev,
    });
}

/// A peer address on the Internet: not loopback, private, link-local, shared (CGNAT),
/// unspecified or multicast.
fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        std::net::IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(std::net::IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80)
        }
    }
}

fn to_vuln_finding(inv: &Inventory, f: kestrel_vuln::Finding) -> Option<VulnFinding> {
    let pkg = inv
        .packages
        .iter()
        .find(|p| p.purl == f.package.purl && p.location == f.package.location)?;
    Some(VulnFinding {
        id: f.id,
        aliases: f.aliases,
        package: PackageKey::from(pkg),
        summary: f.summary,
        exploitability: Exploitability {
            cvss: f.cvss.as_ref().and_then(|c| c.score),
            severity: Some(f.severity.as_str().to_owned()),
            kev: f.kev.is_some(),
            kev_ransomware: f.kev.as_ref().is_some_and(|k| k.ransomware),
            epss: f.epss.as_ref().map(|e| (e.score, e.percentile)),
            fixed_versions: f.fixed_versions,
        },
    })
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
    fn public_addresses() {
        for (ip, public) in [
            ("8.8.8.8", true),
            ("10.1.2.3", false),
            ("192.168.1.1", false),
            ("172.16.0.1", false),
            ("127.0.0.1", false),
            ("100.64.0.1", false),
            ("169.254.1.1", false),
            ("2001:4860::8888", true),
            ("fd00::1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:1.1.1.1", true),
        ] {
            assert_eq!(is_public(ip.parse().unwrap()), public, "{ip}");
        }
    }

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
