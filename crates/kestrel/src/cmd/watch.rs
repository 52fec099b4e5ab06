//! `kestrel watch` (live events and alerts from the eBPF sensor) and `kestrel replay` (the same
//! output from a recording made with `kestrel watch --record`).
//!
//! SIGINT and SIGTERM are blocked in every thread and taken by one waiter thread, so that an
//! interrupt stops the pipeline cleanly and every program is detached before exit.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use kestrel_config::{Config, SensorFallback};
use kestrel_event::{Alert, Event, EventKind, OpenFlags};
use kestrel_sensor::{DenyMode, Fallback, Replay, Sensor, SensorConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One human-readable line per event or alert.
    Text,
    /// One JSON object per line (events as in docs/events.md, alerts in Falco's shape).
    Json,
}

/// What to show, shared by `watch` and `replay`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print every normalized event, not only alerts and sensor health.
    #[arg(long)]
    events: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Only events of this container: its id (full, or a prefix of at least 12 characters) or
    /// its name.
    #[arg(long, value_name = "ID|NAME")]
    container: Option<String>,
    /// Do not evaluate detection rules (no alerts).
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
    /// With deny lists: report `would_kill` instead of killing.
    #[arg(long)]
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
        open_flags_mask: mask,
        process_table_capacity: s.process_table_capacity,
        ancestry_depth: s.ancestry_depth,
        hold_unresolved: Duration::from_millis(config.container.hold_ms),
        fallback: match s.fallback {
            SensorFallback::Auto => Fallback::Auto,
            SensorFallback::Never => Fallback::Never,
            SensorFallback::Force => Fallback::Force,
        },
        ..SensorConfig::default()
    })
}

fn rule_engine(config: &Config, out: &OutputArgs) -> anyhow::Result<Option<kestrel_rules::Engine>> {
    if out.no_rules {
        return Ok(None);
    }
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
        return Ok(None);
    }
    let rules = kestrel_rules::RuleSet::from_sources(&sources)?;
    let min: kestrel_event::Priority = config
        .detection
        .min_priority
        .parse()
        .context("[detection] min_priority")?;
    Ok(Some(
        kestrel_rules::Engine::new(Arc::new(rules)).min_priority(min),
    ))
}

/// Blocks SIGINT and SIGTERM in this thread (and so in every thread started after) and sets
/// `stop` when one arrives.
fn catch_signals(stop: Arc<AtomicBool>) -> anyhow::Result<()> {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.thread_block().context("cannot block SIGINT/SIGTERM")?;
    std::thread::Builder::new()
        .name("kestrel-signals".into())
        .spawn(move || {
            if let Ok(sig) = set.wait() {
                tracing::info!("{sig}: stopping");
                stop.store(true, Ordering::Relaxed);
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
    alerts: Vec<Alert>,
    printed: u64,
    max: Option<u64>,
}

impl Printer {
    fn new(args: &OutputArgs, engine: Option<kestrel_rules::Engine>) -> Printer {
        Printer {
            out: BufWriter::new(std::io::stdout()),
            format: args.format,
            events: args.events,
            container: args.container.clone(),
            engine,
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
            let alerts = std::mem::take(&mut self.alerts);
            for a in &alerts {
                self.line(|out, fmt| match fmt {
                    Format::Json => serde_json::to_writer(&mut *out, a).map_err(Into::into),
                    Format::Text => {
                        write!(out, "{} {}: {}", a.time, a.priority, a.output).map_err(Into::into)
                    }
                })?;
            }
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
    let engine = rule_engine(config, &args.out)?;
    let stop = Arc::new(AtomicBool::new(false));
    catch_signals(stop.clone())?;
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
    let mode = if args.dry_run || config.sensor.deny_dry_run {
        DenyMode::DryRun
    } else {
        DenyMode::Kill
    };
    for p in config.sensor.deny_exec.iter().chain(&args.deny_exec) {
        sensor
            .deny_exec(p, mode)
            .with_context(|| format!("deny list entry {}", p.display()))?;
        tracing::info!(path = %p.display(), ?mode, "exec deny list");
    }
    let mut printer = Printer::new(&args.out, engine);
    let deadline = args
        .duration
        .map(|s| Instant::now() + Duration::from_secs(s));
    while !stop.load(Ordering::Relaxed) && !printer.done() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break;
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
            writeln!(
                o,
                "fallback: /proc polling (degraded), losing {}",
                kestrel_sensor::fallback::LOST_COVERAGE
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
            writeln!(
                o,
                "probes:        {} attached, {} not attached",
                report.attached(),
                failed.len()
            )?;
            for p in &report.probes {
                match &p.error {
                    None => writeln!(o, "  ok    {}", p.hook)?,
                    Some(e) => writeln!(o, "  FAIL  {}: {e}", p.hook)?,
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
    let engine = rule_engine(config, &args.out)?;
    let mut replay = Replay::open(&args.file, &cfg)?;
    let mut printer = Printer::new(&args.out, engine);
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
