//! `kestrel watch` (live events and alerts from the eBPF sensor) and `kestrel replay` (the same
//! output from a recording made with `kestrel watch --record`).
//!
//! SIGINT and SIGTERM are blocked in every thread and taken by one waiter thread, so that an
//! interrupt stops the pipeline cleanly and every program is detached before exit.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kestrel_config::{Config, EnforcementMode, SensorFallback};
use kestrel_event::{Alert, Event, EventKind, OpenFlags};
use kestrel_intel::IntelMatcher;
use kestrel_rules::Enforcement;
use kestrel_sensor::kill::KillSync;
use kestrel_sensor::{
    DenyMode, ExeId, Fallback, Replay, Sensor, SensorConfig, SensorHandle, Skipped,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One human-readable line per event or alert.
    Text,
    /// One JSON object per line (events as in docs/events.md, alerts in Falco's shape).
    Json,
}

/// What to evaluate and show, shared by `watch` and `replay`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Rule file loaded after the built-in rules and `[detection] rules_files` (repeatable;
    /// later files append to and override earlier ones).
    #[arg(long = "rules", value_name = "FILE")]
    rules_files: Vec<PathBuf>,
    /// Threat-intelligence feed: IP, CIDR and domain indicators, one per line or CSV
    /// (repeatable). Adds to `[detection] intel_files`; reloaded when the file changes.
    #[arg(long = "intel", value_name = "FILE")]
    intel_files: Vec<PathBuf>,
    /// Print every normalized event, not only alerts and sensor health.
    #[arg(long)]
    events: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only events of this container: its id (full, or a prefix of at least 12 characters) or
    /// its name.
    #[arg(long, value_name = "ID|NAME")]
    container: Option<String>,
    /// Do not evaluate detection rules (threat-intel feeds still raise alerts).
    #[arg(long)]
    no_rules: bool,
    /// Stop after this many printed lines.
    #[arg(long, value_name = "N")]
    max_events: Option<u64>,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    out: OutputArgs,
    /// Record the raw event stream to FILE, for `kestrel replay FILE`.
    #[arg(long, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Report the kernel features found and the probes attached, then exit (1 if degraded).
    #[arg(long)]
    check: bool,
    /// Kill any process that execs this file (by device and inode; repeatable). Adds to
    /// `[sensor] deny_exec`.
    #[arg(long, value_name = "PATH")]
    deny_exec: Vec<PathBuf>,
    /// Enforce `action: kill` rules: the kernel kills a matching exec before the new program
    /// runs, and the alert records `killed`. Overrides `[detection] enforcement`.
    #[arg(long)]
    enforce: bool,
    /// Report `would_kill` instead of killing, for the deny list and for `action: kill` rules
    /// (turns rule enforcement on in dry-run mode).
    #[arg(long, conflicts_with = "enforce")]
    dry_run: bool,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A recording made with `kestrel watch --record`.
    file: PathBuf,
    #[command(flatten)]
    out: OutputArgs,
}

/// The sensor settings of `[sensor]`.
pub fn sensor_config(config: &Config) -> anyhow::Result<SensorConfig> {
    let s = &config.sensor;
    let mut mask = 0u32;
    for f in &s.open_flags {
        mask |= match f.as_str() {
            "O_WRONLY" => OpenFlags::O_WRONLY,
            "O_RDWR" => OpenFlags::O_RDWR,
            "O_CREAT" => OpenFlags::O_CREAT,
            "O_TRUNC" => OpenFlags::O_TRUNC,
            "O_APPEND" => OpenFlags::O_APPEND,
            other => bail!(
                "[sensor] open_flags: unknown flag {other:?} (expected O_WRONLY, O_RDWR, O_CREAT, O_TRUNC or O_APPEND)"
            ),
        };
    }
    Ok(SensorConfig {
        ring_buffer_bytes: s.ring_buffer_bytes,
        env_names: s.env.clone(),
        open_prefixes: s.open_prefixes.clone(),
        open_write_prefixes: s.open_write_prefixes.clone(),
        open_suffixes: s.open_suffixes.clone(),
        open_flags_mask: mask,
        process_table_capacity: s.process_table_capacity,
        ancestry_depth: s.ancestry_depth,
        dns: s.dns,
        hold_unresolved: Duration::from_millis(config.container.hold_ms),
        fallback: match s.fallback {
            SensorFallback::Auto => Fallback::Auto,
            SensorFallback::Never => Fallback::Never,
            SensorFallback::Force => Fallback::Force,
        },
        ..SensorConfig::default()
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// The rules of `[detection]` and `--rules`, loaded once; `None` when there are none or rules
/// are off. The reloader's shared cell feeds the engine.
fn rule_reloader(
    config: &Config,
    out: &OutputArgs,
) -> anyhow::Result<Option<kestrel_rules::Reloader>> {
    if out.no_rules {
        return Ok(None);
    }
    configured_rules(config, &out.rules_files)
}

/// The rules of `[detection]` (built-in ones, `rules_files`) plus `extra` files, kept for
/// reloads; `None` when that is no rule at all.
pub(super) fn configured_rules(
    config: &Config,
    extra: &[PathBuf],
) -> anyhow::Result<Option<kestrel_rules::Reloader>> {
    let files: Vec<PathBuf> = config
        .detection
        .rules_files
        .iter()
        .chain(extra)
        .cloned()
        .collect();
    if files.is_empty() && !config.detection.builtin_rules {
        return Ok(None);
    }
    let reloader = kestrel_rules::Reloader::new(files, config.detection.builtin_rules)
        .map_err(|e| anyhow::anyhow!("rules do not load:\n{e}"))?;
    Ok(Some(reloader))
}

fn rule_engine(
    config: &Config,
    reloader: Option<&kestrel_rules::Reloader>,
    enforcement: Enforcement,
) -> anyhow::Result<Option<kestrel_rules::Engine>> {
    let Some(reloader) = reloader else {
        return Ok(None);
    };
    let min: kestrel_event::Priority = config
        .detection
        .min_priority
        .parse()
        .context("[detection] min_priority")?;
    Ok(Some(
        kestrel_rules::Engine::with_shared(reloader.shared())
            .hostname(hostname())
            .min_priority(min)
            .enforcement(enforcement),
    ))
}

/// Threat-intel feeds of `[detection] intel_files` and `--intel`, reloaded every
/// `reload_every` (never when zero).
fn intel_matcher(
    config: &Config,
    out: &OutputArgs,
    reload_every: Duration,
) -> anyhow::Result<Option<IntelMatcher>> {
    let files: Vec<PathBuf> = config
        .detection
        .intel_files
        .iter()
        .chain(&out.intel_files)
        .cloned()
        .collect();
    Ok(kestrel_intel::start(&files, reload_every, &hostname())?)
}

/// `[detection] enforcement` with `--enforce` and `--dry-run` applied.
fn enforcement(args: &WatchArgs, config: &Config) -> Enforcement {
    if args.dry_run {
        return Enforcement::DryRun;
    }
    if args.enforce {
        return Enforcement::Kill;
    }
    configured_enforcement(config)
}

/// `[detection] enforcement`.
pub(super) fn configured_enforcement(config: &Config) -> Enforcement {
    match config.detection.enforcement {
        EnforcementMode::Off => Enforcement::Off,
        EnforcementMode::DryRun => Enforcement::DryRun,
        EnforcementMode::Kill => Enforcement::Kill,
    }
}

/// The running rules' upkeep: reloads on request (SIGHUP) and when a rule file changes, with the
/// kernel's kill targets kept in step. A failed reload keeps the running rules and their kill
/// targets (the reloader logs why).
pub(super) struct RuleUpkeep {
    rules: kestrel_rules::Reloader,
    every: Duration,
    next_check: Instant,
    kill: Option<KillSync>,
}

impl RuleUpkeep {
    /// Reloads if `asked`, or if a file changed and the check is due (every `[detection]
    /// reload_interval_secs`, never when 0).
    pub(super) fn turn(
        &mut self,
        sensor: &SensorHandle,
        asked: bool,
    ) -> Result<(), kestrel_sensor::kill::KillTargetError> {
        let now = Instant::now();
        if !asked && (self.every.is_zero() || now < self.next_check) {
            return Ok(());
        }
        self.next_check = now + self.every;
        let reloaded = if asked {
            Some(self.rules.reload())
        } else {
            self.rules.reload_if_changed()
        };
        match (reloaded, self.kill.as_mut()) {
            (Some(Ok(set)), Some(kill)) => {
                let t = set.kill_targets();
                kill.apply(sensor, &t.exe_paths, &t.names)
            }
            _ => Ok(()),
        }
    }
}

/// Fills the sensor's kill maps: the static deny list (`[sensor] deny_exec` and `extra_deny`, in
/// dry-run mode with `dry_run` or `[sensor] deny_dry_run`), then, unless `enforcement` is off,
/// the kill targets of `rules`; returns the upkeep of `rules`, which keeps those targets in step
/// with later reloads. With `lenient` (a node agent, whose one configuration serves every node),
/// what cannot be enforced on this node (an entry, or everything on the `/proc` fallback) is
/// logged and skipped instead of failing.
pub(super) fn arm(
    sensor: &SensorHandle,
    config: &Config,
    extra_deny: &[PathBuf],
    dry_run: bool,
    enforcement: Enforcement,
    rules: Option<kestrel_rules::Reloader>,
    lenient: bool,
) -> anyhow::Result<Option<RuleUpkeep>> {
    let upkeep = |rules, kill| RuleUpkeep {
        rules,
        every: Duration::from_secs(config.detection.reload_interval_secs),
        next_check: Instant::now() + Duration::from_secs(config.detection.reload_interval_secs),
        kill,
    };
    let wanted = enforcement != Enforcement::Off || !config.sensor.deny_exec.is_empty();
    if let Some(why) = sensor.degraded().filter(|_| lenient && wanted) {
        // The `/proc` fallback sees execs after the fact: nothing to kill them with.
        tracing::warn!("enforcement unavailable on this node ({why}); detecting only");
        return Ok(rules.map(|r| upkeep(r, None)));
    }
    let mode = if dry_run || config.sensor.deny_dry_run {
        DenyMode::DryRun
    } else {
        DenyMode::Kill
    };
    let mut static_ids = HashSet::new();
    for p in config.sensor.deny_exec.iter().chain(extra_deny) {
        let denied = ExeId::of(p)
            .map_err(anyhow::Error::from)
            .and_then(|id| Ok(sensor.deny_exe(id, mode).map(|()| id)?))
            .with_context(|| format!("deny list entry {}", p.display()));
        match denied {
            Ok(id) => {
                static_ids.insert(id);
                tracing::info!(path = %p.display(), ?mode, "exec deny list");
            }
            Err(e) if lenient => tracing::warn!("not enforced on this node: {e:#}"),
            Err(e) => return Err(e),
        }
    }
    let Some(rules) = rules else {
        return Ok(None);
    };
    if enforcement == Enforcement::Off {
        return Ok(Some(upkeep(rules, None)));
    }
    log_enforcement_support(enforcement);
    let kill_mode = if enforcement == Enforcement::Kill {
        DenyMode::Kill
    } else {
        DenyMode::DryRun
    };
    let mut kill = KillSync::new(kill_mode, static_ids);
    let t = rules.shared().current().0.kill_targets();
    match kill.apply(sensor, &t.exe_paths, &t.names) {
        Ok(()) => {}
        // What was armed stays armed (the sync tracks it).
        Err(e) if lenient => tracing::warn!("kill rules partly enforced: {e}"),
        Err(e) => return Err(e.into()),
    }
    Ok(Some(upkeep(rules, Some(kill))))
}

/// What the kernel offers for enforcement, said once at start.
fn log_enforcement_support(mode: Enforcement) {
    let why = match std::fs::read_to_string("/sys/kernel/security/lsm") {
        Ok(l) if l.trim().split(',').any(|l| l == "bpf") => {
            "the kernel runs the bpf LSM, but this sensor has no LSM programs"
        }
        Ok(_) => "the kernel does not run the bpf LSM",
        Err(_) => {
            "securityfs is not mounted, so the active LSMs are unknown; this sensor has no LSM programs anyway"
        }
    };
    tracing::info!(
        ?mode,
        "enforcement: SIGKILL from kernel space at exec (bpf_send_signal); denying operations through BPF LSM is not available ({why})"
    );
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and so in every thread started after);
/// sets `stop` when one of the first two arrives and `reload` on SIGHUP.
fn catch_signals(stop: Arc<AtomicBool>, reload: Arc<AtomicBool>) -> anyhow::Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set.thread_block()
        .context("cannot block SIGINT/SIGTERM/SIGHUP")?;
    std::thread::Builder::new()
        .name("kestrel-signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                if sig == Signal::SIGHUP {
                    tracing::info!("SIGHUP: reloading rules");
                    reload.store(true, Ordering::Relaxed);
                    continue;
                }
                tracing::info!("{sig}: stopping");
                stop.store(true, Ordering::Relaxed);
                break;
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

struct Printer {
    out: BufWriter<std::io::Stdout>,
    format: Format,
    events: bool,
    container: Option<String>,
    engine: Option<kestrel_rules::Engine>,
    intel: Option<IntelMatcher>,
    alerts: Vec<Alert>,
    printed: u64,
    max: Option<u64>,
}

impl Printer {
    fn new(
        args: &OutputArgs,
        engine: Option<kestrel_rules::Engine>,
        intel: Option<IntelMatcher>,
    ) -> Printer {
        Printer {
            out: BufWriter::new(std::io::stdout()),
            format: args.format,
            events: args.events,
            container: args.container.clone(),
            engine,
            intel,
            alerts: Vec::new(),
            printed: 0,
            max: args.max_events,
        }
    }

    fn done(&self) -> bool {
        self.max.is_some_and(|m| self.printed >= m)
    }

    fn wanted(&self, e: &Event) -> bool {
        let Some(want) = &self.container else {
            return true;
        };
        let Some(c) = &e.container else {
            return false;
        };
        (want.len() >= 12 && c.id.as_str().starts_with(want.as_str()))
            || c.name.as_deref() == Some(want.as_str())
    }

    /// Prints the event (when asked, or when it is sensor health or enforcement) and its alerts.
    fn handle(&mut self, e: &Event) -> anyhow::Result<()> {
        let always = matches!(e.kind, EventKind::Sensor(_))
            || e.process
                .as_ref()
                .is_some_and(|p| p.exe.enforcement.is_some() && matches!(e.kind, EventKind::Exec));
        if !always && !self.wanted(e) {
            return Ok(());
        }
        if self.events || always {
            self.line(|out, fmt| match fmt {
                Format::Json => serde_json::to_writer(&mut *out, e).map_err(Into::into),
                Format::Text => write!(out, "{}", text(e)).map_err(Into::into),
            })?;
        }
        if let Some(engine) = self.engine.as_mut() {
            engine.evaluate(e, &mut self.alerts);
        }
        if let Some(intel) = self.intel.as_mut()
            && let Some(a) = intel.observe(e)
        {
            self.alerts.push(a);
        }
        if !self.alerts.is_empty() {
            let mut alerts = std::mem::take(&mut self.alerts);
            for a in &alerts {
                self.line(|out, fmt| match fmt {
                    Format::Json => serde_json::to_writer(&mut *out, a).map_err(Into::into),
                    Format::Text => {
                        write!(out, "{} {}: {}", a.time, a.priority, a.output).map_err(Into::into)
                    }
                })?;
            }
            alerts.clear();
            self.alerts = alerts;
        }
        Ok(())
    }

    fn line(
        &mut self,
        f: impl FnOnce(&mut BufWriter<std::io::Stdout>, Format) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        if self.done() {
            return Ok(());
        }
        f(&mut self.out, self.format)?;
        self.out.write_all(b"\n")?;
        self.printed += 1;
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.out.flush().context("writing to standard output")
    }
}

/// One line for a human.
fn text(e: &Event) -> String {
    let secs = (e.ts / 1_000_000_000) as i64;
    let time = jiff::Timestamp::from_second(secs)
        .map(|t| t.strftime("%H:%M:%S").to_string())
        .unwrap_or_default();
    let comm = e.process.as_ref().map_or("?", |p| p.name.as_str());
    let ctr = e
        .container
        .as_ref()
        .map(|c| match &c.name {
            Some(n) => format!(" container={n}"),
            None => format!(" container={}", c.id.short()),
        })
        .unwrap_or_default();
    let what = match &e.kind {
        EventKind::Exec => {
            let p = e.process.as_deref();
            let mut s = format!(
                "{} {}",
                p.map_or("", |p| p.exe.path.as_str()),
                p.map(|p| p.args.iter().skip(1).cloned().collect::<Vec<_>>().join(" "))
                    .unwrap_or_default()
            );
            if let Some(a) = p.and_then(|p| p.exe.enforcement) {
                s.push_str(&format!(" enforcement={a:?}"));
            }
            s
        }
        EventKind::Open {
            path,
            flags,
            result,
            ..
        } => format!("{path} flags={:#o} = {result}", flags.0),
        EventKind::Sensor(s) => format!("{s:?}"),
        other => {
            // The JSON fields without the tag read well enough for the rest.
            let mut v = serde_json::to_value(other).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.remove("type");
            }
            v.to_string()
        }
    };
    format!(
        "{time} {:<12} pid={} {comm}{ctr} {what}",
        e.kind.type_name(),
        e.pid
    )
}

pub fn watch(args: WatchArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let mut cfg = sensor_config(config)?;
    cfg.record = args.record.clone();
    if args.check {
        cfg.fallback = Fallback::Never;
        return check(cfg, args.out.format);
    }
    let enforcement = enforcement(&args, config);
    let rules = rule_reloader(config, &args.out)?;
    // Live events and this host's process start times share this boot.
    let offset = kestrel_sensor::boot_to_unix_ns();
    let engine =
        rule_engine(config, rules.as_ref(), enforcement)?.map(|e| e.boot_clock_offset(offset));
    let reload_every = Duration::from_secs(config.detection.reload_interval_secs);
    let intel = intel_matcher(config, &args.out, reload_every)?;
    let stop = Arc::new(AtomicBool::new(false));
    let reload = Arc::new(AtomicBool::new(false));
    catch_signals(stop.clone(), reload.clone())?;
    // Container names, images and pods come from the container crate's resolver, whose
    // lookups run on this runtime (kept alive for the whole watch).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (resolver, hold) = rt.block_on(kestrel_container::ContainerResolver::start(
        &config.container,
    ));
    cfg.hold_unresolved = hold;
    let sensor = Sensor::start_with(cfg, Some(Arc::new(resolver)))
        .context("cannot start the sensor (it needs root)")?;
    if let Some(why) = sensor.degraded() {
        tracing::warn!("{why}");
    }
    let mut upkeep = arm(
        &sensor,
        config,
        &args.deny_exec,
        args.dry_run,
        enforcement,
        rules,
        false,
    )?;
    let mut printer = Printer::new(&args.out, engine, intel);
    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs(s));
    while !stop.load(Ordering::Relaxed) && !printer.done() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
        }
        let asked = reload.swap(false, Ordering::Relaxed);
        if let Some(u) = upkeep.as_mut() {
            u.turn(&sensor, asked)?;
        }
        match sensor.events().recv_timeout(Duration::from_millis(100)) {
            Ok(e) => printer.handle(&e)?,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => printer.flush()?,
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    printer.flush()?;
    let stats = sensor.stats();
    sensor.stop();
    drop(rt);
    tracing::info!(
        events = stats.events_out,
        drops = stats.drops.values().sum::<u64>(),
        "sensor stopped"
    );
    Ok(ExitCode::SUCCESS)
}

fn check(cfg: SensorConfig, format: Format) -> anyhow::Result<ExitCode> {
    use std::fmt::Write as _;
    // Built as a string and written once, so that a closed pipe (`| head`) is not a panic.
    let mut o = String::new();
    let sensor = match Sensor::start(cfg) {
        Ok(s) => s,
        Err(e) => {
            writeln!(o, "eBPF sensor: UNAVAILABLE: {e}")?;
            let (mode, why_not) = kestrel_sensor::fallback::probe();
            if let Some(why) = why_not {
                writeln!(o, "proc connector: UNAVAILABLE: {why}")?;
            }
            writeln!(
                o,
                "fallback: {mode} (degraded), seeing {}; losing {}",
                mode.coverage(),
                mode.lost_coverage()
            )?;
            let _ = std::io::stdout().write_all(o.as_bytes());
            return Ok(ExitCode::from(1));
        }
    };
    let report = sensor.report().clone();
    sensor.stop();
    let failed: Vec<_> = report.failed().collect();
    match format {
        Format::Json => writeln!(o, "{}", serde_json::to_string_pretty(&report)?)?,
        Format::Text => {
            writeln!(o, "kernel:        {}", report.kernel_release)?;
            writeln!(
                o,
                "BTF:           {}",
                if report.btf { "yes" } else { "no" }
            )?;
            writeln!(
                o,
                "tracefs:       {}",
                if report.tracefs { "mounted" } else { "missing" }
            )?;
            writeln!(
                o,
                "bpffs:         {}",
                if report.bpffs { "mounted" } else { "missing" }
            )?;
            writeln!(o, "cgroups:       {}", report.cgroup_mode)?;
            writeln!(o, "ring buffer:   {} bytes", report.ring_buffer_bytes)?;
            let (mode, why_not) = kestrel_sensor::fallback::probe();
            match why_not {
                None => writeln!(o, "fallback:      {mode} (if eBPF fails)")?,
                Some(why) => writeln!(
                    o,
                    "fallback:      {mode} (if eBPF fails; proc connector: {why})"
                )?,
            }
            let standby = report
                .probes
                .iter()
                .filter(|p| p.skipped == Some(Skipped::Standby))
                .count();
            writeln!(
                o,
                "probes:        {} attached, {} not attached, {standby} on standby",
                report.attached(),
                failed.len()
            )?;
            for p in &report.probes {
                match (p.skipped, &p.error) {
                    (Some(s @ Skipped::Standby), _) => {
                        writeln!(o, "  stby  {} ({})", p.hook, s.why())?
                    }
                    (Some(s @ Skipped::DnsOff), _) => {
                        writeln!(o, "  off   {} {}: {}", p.hook, p.program, s.why())?
                    }
                    (None, None) => writeln!(o, "  ok    {}", p.hook)?,
                    (None, Some(e)) => writeln!(o, "  FAIL  {}: {e}", p.hook)?,
                }
            }
        }
    }
    let _ = std::io::stdout().write_all(o.as_bytes());
    // A syscall this kernel lacks is not a failure of the sensor; anything else is.
    let broken = failed
        .iter()
        .any(|p| !p.error.as_deref().unwrap_or("").contains("No such file"));
    Ok(if broken {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn replay(args: ReplayArgs, config: &Config) -> anyhow::Result<ExitCode> {
    let cfg = sensor_config(config)?;
    let rules = rule_reloader(config, &args.out)?;
    // A recording carries the kernel's verdicts; `Kill` reports exactly those and claims
    // nothing the kernel did not do.
    let mut replay = Replay::open(&args.file, &cfg)?;
    // The recording machine's clocks, not ours: `proc.duration` as it was when recorded.
    let offset = replay.boot_to_unix_ns();
    let engine = rule_engine(config, rules.as_ref(), Enforcement::Kill)?
        .map(|e| e.boot_clock_offset(offset));
    let intel = intel_matcher(config, &args.out, Duration::ZERO)?;
    let mut printer = Printer::new(&args.out, engine, intel);
    for e in replay.by_ref() {
        printer.handle(&e?)?;
        if printer.done() {
            break;
        }
    }
    printer.flush()?;
    if replay.decode_errors > 0 {
        tracing::warn!(
            errors = replay.decode_errors,
            records = replay.records,
            "records in {} could not be decoded",
            args.file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
