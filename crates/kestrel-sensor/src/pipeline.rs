//! The sensor as a library: [`Sensor::start`] loads the kernel side, starts the pipeline
//! threads and returns a [`SensorHandle`] with a channel of enriched [`Event`]s and live stats.
//!
//! ```text
//!  kernel ring buffer ──► reader thread ──raw batches──► enrich thread ──Event──► handle.events()
//!  per-CPU drop counters ──► stats thread ──drops, health──┘   (decode, process table,
//!                                                                container, hold, record)
//! ```
//!
//! Back-pressure is deliberate: when the consumer is slow the channels fill, the reader stops
//! draining, the ring buffer fills and the kernel counts drops per kind, which the stats thread
//! reports in-band as `sensor` events. Nothing is dropped silently in user space.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kestrel_event::{ContainerId, Event, EventKind, Sensor as SensorEvent};

use crate::loader::{self, AttachReport, DenyMode, LoadError, LoadOptions, Loaded};
use crate::metadata::MetadataSource;
use crate::normalize::{NormalizeConfig, Normalizer};
use crate::record::{self, KIND_SLOTS, Kind};
use crate::recording::{Frame, Recorder, RecordingError, Replayer};

/// Everything the sensor can be told.
#[derive(Debug, Clone)]
pub struct SensorConfig {
    /// Ring buffer size in bytes (a power of two; rounded up).
    pub ring_buffer_bytes: u32,
    /// Environment variables captured at exec.
    pub env_names: Vec<String>,
    /// Opens under these path prefixes are reported; `""` reports all.
    pub open_prefixes: Vec<String>,
    /// Opens that may write (`O_WRONLY`, `O_RDWR`, `O_CREAT`, `O_TRUNC`, `O_APPEND`) under these
    /// path prefixes are reported.
    pub open_write_prefixes: Vec<String>,
    /// Opens of paths ending with one of these (at most 64 bytes) are reported, whatever the
    /// directory.
    pub open_suffixes: Vec<String>,
    /// Opens with any of these `open(2)` flags are reported whatever the path.
    pub open_flags_mask: u32,
    pub process_table_capacity: usize,
    pub ancestry_depth: usize,
    /// Events buffered between the pipeline and the consumer.
    pub channel_capacity: usize,
    /// Record the raw stream to this file.
    pub record: Option<PathBuf>,
    /// How long events of a container whose metadata is being resolved are held back.
    pub hold_unresolved: Duration,
    /// Consecutive stats intervals with drops before a health alert is raised.
    pub drop_alert_intervals: u32,
    pub stats_interval: Duration,
    /// What to do when eBPF cannot be used.
    pub fallback: Fallback,
    /// Fill `bpf_stats` run-time counters (costs a little per program run).
    pub run_time_stats: bool,
    /// Capture DNS (UDP port 53 datagrams).
    pub dns: bool,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            ring_buffer_bytes: 8 << 20,
            env_names: vec!["LD_PRELOAD".into(), "LD_LIBRARY_PATH".into()],
            open_prefixes: DEFAULT_OPEN_PREFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            open_write_prefixes: DEFAULT_OPEN_WRITE_PREFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            open_suffixes: DEFAULT_OPEN_SUFFIXES
                .iter()
                .map(|s| s.to_string())
                .collect(),
            open_flags_mask: 0,
            process_table_capacity: 32_768,
            ancestry_depth: 8,
            // The channel's slots are allocated and touched up front (136 bytes each),
            // so this is resident memory: 65,536 slots cost 9 MB. Bursts are absorbed by the
            // kernel ring and the raw batches in flight (up to 32,768 records) instead.
            channel_capacity: 4_096,
            record: None,
            hold_unresolved: Duration::from_millis(500),
            drop_alert_intervals: 3,
            stats_interval: Duration::from_secs(1),
            fallback: Fallback::Auto,
            run_time_stats: false,
            dns: true,
        }
    }
}

// One list of defaults, owned by the `[sensor]` configuration; the sensor's own `Default`
// uses the same, so `kestrel watch` and library users never disagree.
pub use kestrel_config::{
    DEFAULT_OPEN_PREFIXES, DEFAULT_OPEN_SUFFIXES, DEFAULT_OPEN_WRITE_PREFIXES,
};

/// Whether to fall back to the proc connector (else `/proc` polling, see [`crate::fallback`])
/// when eBPF is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// Fall back, with a health event saying what is lost.
    Auto,
    /// Fail instead.
    Never,
    /// Use the fallback even when eBPF works (for tests and comparison).
    Force,
}

/// Errors starting the sensor.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Recording(#[from] RecordingError),
    #[error("cannot start sensor thread {name}: {source}")]
    Thread {
        name: &'static str,
        source: std::io::Error,
    },
}

/// Live counters of a running sensor.
#[derive(Debug)]
pub struct SharedStats {
    received: [AtomicU64; KIND_SLOTS as usize],
    kernel_drops: [AtomicU64; KIND_SLOTS as usize],
    decode_errors: AtomicU64,
    events_out: AtomicU64,
    held: AtomicU64,
    table_size: AtomicU64,
    table_evictions: AtomicU64,
    dns_unparsed: AtomicU64,
    events_per_sec: AtomicU64,
    record_errors: AtomicU64,
}

impl Default for SharedStats {
    fn default() -> Self {
        SharedStats {
            received: std::array::from_fn(|_| AtomicU64::new(0)),
            kernel_drops: std::array::from_fn(|_| AtomicU64::new(0)),
            decode_errors: AtomicU64::new(0),
            events_out: AtomicU64::new(0),
            held: AtomicU64::new(0),
            table_size: AtomicU64::new(0),
            table_evictions: AtomicU64::new(0),
            dns_unparsed: AtomicU64::new(0),
            events_per_sec: AtomicU64::new(0),
            record_errors: AtomicU64::new(0),
        }
    }
}

/// A point-in-time copy of the sensor's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Kernel records received, per kind.
    pub received: BTreeMap<String, u64>,
    /// Ring-buffer reservations that failed in the kernel, per kind.
    pub drops: BTreeMap<String, u64>,
    pub decode_errors: u64,
    pub events_out: u64,
    pub events_per_sec: u64,
    pub held: u64,
    pub process_table_size: u64,
    pub process_table_evictions: u64,
    pub dns_unparsed: u64,
    pub record_errors: u64,
}

impl SharedStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let per_kind = |arr: &[AtomicU64; KIND_SLOTS as usize]| {
            Kind::ALL
                .iter()
                .filter_map(|k| {
                    let v = arr[*k as usize].load(Ordering::Relaxed);
                    (v > 0).then(|| (k.name().to_owned(), v))
                })
                .collect()
        };
        StatsSnapshot {
            received: per_kind(&self.received),
            drops: per_kind(&self.kernel_drops),
            decode_errors: self.decode_errors.load(Ordering::Relaxed),
            events_out: self.events_out.load(Ordering::Relaxed),
            events_per_sec: self.events_per_sec.load(Ordering::Relaxed),
            held: self.held.load(Ordering::Relaxed),
            process_table_size: self.table_size.load(Ordering::Relaxed),
            process_table_evictions: self.table_evictions.load(Ordering::Relaxed),
            dns_unparsed: self.dns_unparsed.load(Ordering::Relaxed),
            record_errors: self.record_errors.load(Ordering::Relaxed),
        }
    }
}

enum Msg {
    Raw(RawBatch),
    /// A ready event (sensor health, fallback process events).
    Ready(Event),
}

/// Records drained from the ring buffer in one go, copied back to back: one buffer per batch
/// instead of one allocation per record, and the buffers go back to the reader for reuse.
#[derive(Debug, Default)]
struct RawBatch {
    data: Vec<u8>,
    /// End offset of each record in `data`.
    ends: Vec<usize>,
}

/// A batch is handed over at this many records or bytes, whichever comes first.
const BATCH_RECORDS: usize = 512;
const BATCH_BYTES: usize = 256 << 10;
/// Batches in flight between the reader and the enrich thread. With the bytes per batch this
/// bounds what user space buffers (16 MiB) when the enrich thread falls behind; past it the
/// kernel ring fills and the kernel counts drops.
const BATCHES_IN_FLIGHT: usize = 64;

impl RawBatch {
    fn push(&mut self, record: &[u8]) {
        self.data.extend_from_slice(record);
        self.ends.push(self.data.len());
    }

    fn is_full(&self) -> bool {
        self.ends.len() >= BATCH_RECORDS || self.data.len() >= BATCH_BYTES
    }

    fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let r = &self.data[start..end];
            start = end;
            r
        })
    }
}

/// The running sensor. Dropping it stops the threads and detaches every program.
pub struct SensorHandle {
    events: Receiver<Event>,
    stats: Arc<SharedStats>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    loaded: Option<Arc<Mutex<Loaded>>>,
    report: AttachReport,
    degraded: Option<String>,
}

impl std::fmt::Debug for SensorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SensorHandle")
            .field("report", &self.report)
            .field("degraded", &self.degraded)
            .finish_non_exhaustive()
    }
}

/// Entry point.
#[derive(Debug)]
pub struct Sensor;

impl Sensor {
    /// Loads and attaches the kernel programs (or starts the `/proc` fallback, per
    /// `cfg.fallback`) and starts the pipeline.
    pub fn start(cfg: SensorConfig) -> Result<SensorHandle, SensorError> {
        Self::start_with(cfg, None)
    }

    /// As [`Sensor::start`], with container metadata from `metadata`.
    pub fn start_with(
        cfg: SensorConfig,
        metadata: Option<Arc<dyn MetadataSource>>,
    ) -> Result<SensorHandle, SensorError> {
        let loaded = if cfg.fallback == Fallback::Force {
            Err(None)
        } else {
            let opts = LoadOptions {
                ring_buffer_bytes: cfg.ring_buffer_bytes,
                env_bytes: if cfg.env_names.is_empty() { 0 } else { 4095 },
                open_prefixes: cfg.open_prefixes.clone(),
                open_write_prefixes: cfg.open_write_prefixes.clone(),
                open_suffixes: cfg.open_suffixes.clone(),
                open_flags_mask: cfg.open_flags_mask,
                self_tgid: std::process::id(),
                dns: cfg.dns,
            };
            loader::load(&opts).map_err(Some)
        };
        match loaded {
            Ok(l) => start_ebpf(cfg, l, metadata),
            Err(Some(e)) if cfg.fallback == Fallback::Never => Err(e.into()),
            Err(e) => {
                let why = match e {
                    Some(e) => {
                        tracing::error!("eBPF sensor unavailable: {e}");
                        format!("eBPF unavailable ({e})")
                    }
                    None => "fallback forced by configuration".to_owned(),
                };
                crate::fallback::start(cfg, why, metadata)
            }
        }
    }
}

/// Unix time minus boot time on this machine, in ns: process start times and kernel record
/// times are on the boot clock, events carry Unix times.
pub fn boot_to_unix_ns() -> i64 {
    use nix::time::{ClockId, clock_gettime};
    let ns = |id| {
        clock_gettime(id)
            .map(|t| t.tv_sec() * 1_000_000_000 + t.tv_nsec())
            .unwrap_or(0)
    };
    ns(ClockId::CLOCK_REALTIME) - ns(ClockId::CLOCK_BOOTTIME)
}

fn spawn(
    name: &'static str,
    f: impl FnOnce() + Send + 'static,
) -> Result<JoinHandle<()>, SensorError> {
    std::thread::Builder::new()
        .name(format!("kestrel-{name}"))
        .spawn(f)
        .map_err(|source| SensorError::Thread { name, source })
}

fn start_ebpf(
    cfg: SensorConfig,
    mut loaded: Loaded,
    metadata: Option<Arc<dyn MetadataSource>>,
) -> Result<SensorHandle, SensorError> {
    if cfg.run_time_stats
        && let Err(e) = loaded.enable_run_time_stats()
    {
        tracing::warn!("bpf_stats unavailable: {e}");
    }
    let report = loaded.report.clone();
    tracing::info!(
        attached = report.attached(),
        failed = report.failed().count(),
        ring_buffer_bytes = report.ring_buffer_bytes,
        cgroup = %report.cgroup_mode,
        "eBPF sensor attached"
    );
    let mut ring = loaded.take_ring()?;
    let drops = loaded.take_drops()?;
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(SharedStats::default());
    let (raw_tx, raw_rx) = mpsc::sync_channel::<Msg>(BATCHES_IN_FLIGHT);
    // Emptied batches go back to the reader; when none is waiting it allocates a new one. A few
    // spares suffice; keeping more would hold on to a burst's memory.
    let (spare_tx, spare_rx) = mpsc::sync_channel::<RawBatch>(4);
    let (ev_tx, ev_rx) = mpsc::sync_channel::<Event>(cfg.channel_capacity.max(1));
    // One offset for the live events and the recording, so that a replay reproduces them.
    let clock_offset = boot_to_unix_ns();
    let recorder = match &cfg.record {
        Some(p) => Some(Recorder::create(p, clock_offset)?),
        None => None,
    };

    let mut threads = Vec::new();
    // Reader: drain the ring in batches; sleep in poll(2) when it is empty.
    {
        let stop = stop.clone();
        let tx = raw_tx.clone();
        threads.push(spawn("reader", move || {
            use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
            let mut batch = RawBatch::default();
            while !stop.load(Ordering::Relaxed) {
                while let Some(item) = ring.next() {
                    batch.push(&item);
                    if batch.is_full() {
                        break;
                    }
                }
                if batch.is_empty() {
                    let mut fds = [PollFd::new(ring.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::from(100u16));
                    continue;
                }
                let next = spare_rx.try_recv().unwrap_or_default();
                if tx
                    .send(Msg::Raw(std::mem::replace(&mut batch, next)))
                    .is_err()
                {
                    break;
                }
            }
        })?);
    }
    // Stats: kernel drop counters, events/s, drop alerts.
    {
        let stop = stop.clone();
        let stats = stats.clone();
        let tx = raw_tx;
        let interval = cfg.stats_interval;
        let alert_after = cfg.drop_alert_intervals.max(1);
        let ring_bytes = report.ring_buffer_bytes;
        threads.push(spawn("stats", move || {
            let mut last: BTreeMap<Kind, u64> = BTreeMap::new();
            let mut last_out = 0u64;
            let mut last_t = Instant::now();
            let mut streak = 0u32;
            let mut alerted = false;
            while !stop.load(Ordering::Relaxed) {
                // Sleep in small steps so that stop is prompt.
                let until = Instant::now() + interval;
                while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20).min(interval));
                }
                let totals = drops.totals();
                let mut delta = Vec::new();
                for (k, v) in &totals {
                    stats.kernel_drops[*k as usize].store(*v, Ordering::Relaxed);
                    let d = v - last.get(k).copied().unwrap_or(0);
                    if d > 0 {
                        delta.push((k.name().to_owned(), d));
                    }
                }
                last = totals;
                let out = stats.events_out.load(Ordering::Relaxed);
                let secs = last_t.elapsed().as_secs_f64().max(1e-3);
                stats
                    .events_per_sec
                    .store(((out - last_out) as f64 / secs) as u64, Ordering::Relaxed);
                last_out = out;
                last_t = Instant::now();
                let mut msgs = Vec::new();
                if delta.is_empty() {
                    if alerted {
                        msgs.push(SensorEvent::Health {
                            healthy: true,
                            message: "ring-buffer drops stopped".into(),
                        });
                    }
                    streak = 0;
                    alerted = false;
                } else {
                    let total: u64 = delta.iter().map(|(_, n)| n).sum();
                    tracing::warn!(dropped = total, per_kind = ?delta, "kernel ring buffer full: events dropped");
                    streak += 1;
                    msgs.push(SensorEvent::Drops { counts: delta });
                    if streak >= alert_after && !alerted {
                        alerted = true;
                        let m = format!(
                            "events dropped in {streak} consecutive intervals: the consumer is too slow or the ring buffer ({ring_bytes} bytes) is too small"
                        );
                        tracing::error!("{m}");
                        msgs.push(SensorEvent::Health {
                            healthy: false,
                            message: m,
                        });
                    }
                }
                for m in msgs {
                    if tx.send(Msg::Ready(sensor_event(m))).is_err() {
                        return;
                    }
                }
            }
        })?);
    }
    let normalizer = {
        let n = Normalizer::new(NormalizeConfig {
            process_table_capacity: cfg.process_table_capacity,
            ancestry_depth: cfg.ancestry_depth,
            env_names: cfg.env_names.clone(),
            boot_to_unix_ns: clock_offset,
            proc_root: Some(PathBuf::from("/proc")),
        });
        match metadata {
            Some(m) => n.with_metadata(m),
            None => n,
        }
    };
    {
        let stats = stats.clone();
        let hold = cfg.hold_unresolved;
        threads.push(spawn("enrich", move || {
            enrich_loop(
                normalizer, raw_rx, spare_tx, ev_tx, stats, recorder, hold, true,
            );
        })?);
    }
    Ok(SensorHandle {
        events: ev_rx,
        stats,
        stop,
        threads,
        loaded: Some(Arc::new(Mutex::new(loaded))),
        report,
        degraded: None,
    })
}

pub(crate) fn sensor_event(s: SensorEvent) -> Event {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    Event {
        ts,
        pid: std::process::id(),
        tid: std::process::id(),
        kind: EventKind::Sensor(s),
        process: None,
        container: None,
    }
}

struct Held {
    until: Instant,
    event: Event,
}

#[allow(clippy::too_many_arguments)]
fn enrich_loop(
    mut n: Normalizer,
    rx: Receiver<Msg>,
    spare: SyncSender<RawBatch>,
    tx: SyncSender<Event>,
    stats: Arc<SharedStats>,
    mut recorder: Option<Recorder>,
    hold: Duration,
    bootstrap: bool,
) {
    if bootstrap {
        let added = n.table_mut().bootstrap(std::path::Path::new("/proc"), &[]);
        tracing::info!(processes = added, "process table bootstrapped from /proc");
        if let Some(r) = recorder.as_mut() {
            // Oldest first, so that parents precede children on replay.
            for p in n.table().iter().rev() {
                if let Err(e) = r.process(p) {
                    tracing::error!("recording stopped: {e}");
                    stats.record_errors.fetch_add(1, Ordering::Relaxed);
                    recorder = None;
                    break;
                }
            }
        }
    }
    let mut held: VecDeque<Held> = VecDeque::new();
    // How many held events each container has, so that a later event of the same container
    // queues behind them (order is kept per container) without a walk of the queue.
    let mut held_per_container: HashMap<ContainerId, usize> = HashMap::new();
    let send = |e: Event| -> bool {
        stats.events_out.fetch_add(1, Ordering::Relaxed);
        tx.send(e).is_ok()
    };
    loop {
        let msg = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        match msg {
            Some(Msg::Raw(mut batch)) => {
                for raw in batch.iter() {
                    if let Some(r) = recorder.as_mut()
                        && let Err(e) = r.record(raw)
                    {
                        tracing::error!("recording stopped: {e}");
                        stats.record_errors.fetch_add(1, Ordering::Relaxed);
                        recorder = None;
                    }
                    let rec = match record::decode(raw) {
                        Ok(r) => r,
                        Err(e) => {
                            tracing::debug!("undecodable record: {e}");
                            stats.decode_errors.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                    };
                    stats.received[rec.hdr.kind as usize].fetch_add(1, Ordering::Relaxed);
                    let Some(event) = n.normalize(&rec) else {
                        continue;
                    };
                    let pending = event.container.as_ref().is_some_and(|c| {
                        held_per_container.contains_key(&c.id) || n.container_pending(&c.id)
                    });
                    if pending {
                        if let Some(c) = &event.container {
                            *held_per_container.entry(c.id.clone()).or_default() += 1;
                        }
                        held.push_back(Held {
                            until: Instant::now() + hold,
                            event,
                        });
                        stats.held.fetch_add(1, Ordering::Relaxed);
                    } else if !send(event) {
                        return;
                    }
                }
                batch.clear();
                // The reader has enough spares when this fails; the batch is freed.
                let _ = spare.try_send(batch);
            }
            Some(Msg::Ready(event)) => {
                if let Some(r) = recorder.as_mut() {
                    let _ = r.event(&event);
                }
                if !send(event) {
                    return;
                }
            }
            None => {
                if let Some(r) = recorder.as_mut() {
                    let _ = r.flush();
                }
            }
        }
        // Release held events whose container resolved or whose time is up, in order.
        let now = Instant::now();
        while let Some(h) = held.front() {
            let resolved = h
                .event
                .container
                .as_ref()
                .is_some_and(|c| !n.container_pending(&c.id));
            if !resolved && h.until > now {
                break;
            }
            let mut h = held.pop_front().expect("front exists");
            if let Some(c) = &h.event.container
                && let Some(count) = held_per_container.get_mut(&c.id)
            {
                *count -= 1;
                if *count == 0 {
                    held_per_container.remove(&c.id);
                }
            }
            n.refresh_container(&mut h.event);
            if !send(h.event) {
                return;
            }
        }
        stats
            .table_size
            .store(n.table().len() as u64, Ordering::Relaxed);
        stats
            .table_evictions
            .store(n.table().evictions(), Ordering::Relaxed);
        stats
            .dns_unparsed
            .store(n.stats().dns_unparsed, Ordering::Relaxed);
    }
    for mut h in held {
        n.refresh_container(&mut h.event);
        if !send(h.event) {
            break;
        }
    }
    if let Some(r) = recorder.as_mut()
        && let Err(e) = r.flush()
    {
        tracing::error!("recording: {e}");
    }
}

impl SensorHandle {
    /// The enriched events, in kernel order per CPU (held containers aside).
    pub fn events(&self) -> &Receiver<Event> {
        &self.events
    }

    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Kernel features and probes, as found at start.
    pub fn report(&self) -> &AttachReport {
        &self.report
    }

    /// `Some(reason)` when running the `/proc` fallback instead of eBPF.
    pub fn degraded(&self) -> Option<&str> {
        self.degraded.as_deref()
    }

    /// Adds the executable at `path` to the kernel deny list (keyed by its device and inode).
    pub fn deny_exec(&self, path: &std::path::Path, mode: DenyMode) -> Result<(), DenyError> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).map_err(|source| DenyError::Stat {
            path: path.to_owned(),
            source,
        })?;
        let loaded = self.loaded.as_ref().ok_or(DenyError::NoEbpf)?;
        let mut l = loaded.lock().expect("loader lock");
        l.deny_exec(md.dev(), md.ino(), mode)
            .map_err(DenyError::Map)
    }

    /// Removes `path` from the deny list; `false` when it was not there.
    pub fn allow_exec(&self, path: &std::path::Path) -> Result<bool, DenyError> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).map_err(|source| DenyError::Stat {
            path: path.to_owned(),
            source,
        })?;
        let loaded = self.loaded.as_ref().ok_or(DenyError::NoEbpf)?;
        let mut l = loaded.lock().expect("loader lock");
        l.allow_exec(md.dev(), md.ino()).map_err(DenyError::Map)
    }

    /// Adds an executable identified by device and inode to the kernel deny list.
    pub fn deny_exe(&self, id: ExeId, mode: DenyMode) -> Result<(), DenyError> {
        let loaded = self.loaded.as_ref().ok_or(DenyError::NoEbpf)?;
        let mut l = loaded.lock().expect("loader lock");
        l.deny_exec(id.dev, id.ino, mode).map_err(DenyError::Map)
    }

    /// Removes an executable identified by device and inode; `false` when it was not there.
    /// Unlike [`SensorHandle::allow_exec`] this works after the file was removed.
    pub fn allow_exe(&self, id: ExeId) -> Result<bool, DenyError> {
        let loaded = self.loaded.as_ref().ok_or(DenyError::NoEbpf)?;
        let mut l = loaded.lock().expect("loader lock");
        l.allow_exec(id.dev, id.ino).map_err(DenyError::Map)
    }

    /// Adds a process name to the kernel deny list: an exec whose new task name (`comm`, which
    /// is what `proc.name` reports) equals `name` is killed, or flagged in a dry run.
    pub fn deny_exec_name(&self, name: &str, mode: DenyMode) -> Result<(), DenyError> {
        let key = comm_key(name)?;
        let loaded = self.loaded.as_ref().ok_or(DenyError::NoEbpf)?;
        let mut l = loaded.lock().expect("loader lock");
        l.deny_exec_comm(key, mode).map_err(DenyError::Map)
    }

    /// Removes a process name from the deny list; `false` when it was not there.
    pub fn allow_exec_name(&self, name: &str) -> Result<bool, DenyError> {
        let key = comm_key(name)?;
        let loaded = self.loaded.as_ref().ok_or(DenyError::NoEbpf)?;
        let mut l = loaded.lock().expect("loader lock");
        l.allow_exec_comm(key).map_err(DenyError::Map)
    }

    /// Per-program `bpf_stats` (when `run_time_stats` was set).
    pub fn program_run_times(&self) -> Vec<loader::ProgramRunTime> {
        self.loaded
            .as_ref()
            .map(|l| l.lock().expect("loader lock").program_run_times())
            .unwrap_or_default()
    }

    /// Stops the threads and detaches every program.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Drain so that an enrich thread blocked on a full channel can finish.
        while self.events.try_recv().is_ok() {}
        for t in self.threads.drain(..) {
            while !t.is_finished() {
                while self.events.try_recv().is_ok() {}
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = t.join();
        }
        if self.loaded.take().is_some() {
            tracing::info!("eBPF programs detached");
        }
    }

    pub(crate) fn new_fallback(
        events: Receiver<Event>,
        stats: Arc<SharedStats>,
        stop: Arc<AtomicBool>,
        threads: Vec<JoinHandle<()>>,
        reason: String,
    ) -> SensorHandle {
        SensorHandle {
            events,
            stats,
            stop,
            threads,
            loaded: None,
            report: AttachReport::default(),
            degraded: Some(reason),
        }
    }
}

impl Drop for SensorHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An executable as the exec deny list keys it: the file's `stat(2)` device and inode, so that
/// a rename or another path to the same file is still denied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExeId {
    pub dev: u64,
    pub ino: u64,
}

impl ExeId {
    /// The device and inode of the file at `path` (symbolic links followed, as exec does).
    pub fn of(path: &std::path::Path) -> Result<ExeId, DenyError> {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).map_err(|source| DenyError::Stat {
            path: path.to_owned(),
            source,
        })?;
        Ok(ExeId {
            dev: md.dev(),
            ino: md.ino(),
        })
    }
}

/// The kernel's task name is at most 15 bytes and NUL-terminated in 16; the key is NUL-padded.
fn comm_key(name: &str) -> Result<[u8; 16], DenyError> {
    let bad = |reason: &'static str| DenyError::Name {
        name: name.to_owned(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("it is empty"));
    }
    if name.len() > 15 {
        return Err(bad(
            "it is longer than the 15 bytes of a kernel task name, so no process can have it",
        ));
    }
    if name.contains('\0') {
        return Err(bad("it contains a NUL byte"));
    }
    let mut key = [0u8; 16];
    key[..name.len()].copy_from_slice(name.as_bytes());
    Ok(key)
}

/// Errors of the enforcement API.
#[derive(Debug, thiserror::Error)]
pub enum DenyError {
    #[error("cannot stat {path}: {source}")]
    Stat {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot deny the process name {name:?}: {reason}")]
    Name { name: String, reason: &'static str },
    #[error("exec enforcement needs the eBPF sensor; it is running in its degraded fallback mode")]
    NoEbpf,
    #[error(transparent)]
    Map(LoadError),
}

/// Replays a recording through the decoder and the enrichment, in the calling thread.
#[derive(Debug)]
pub struct Replay {
    replayer: Replayer,
    normalizer: Normalizer,
    /// Decoder errors met so far (the replay continues past them).
    pub decode_errors: u64,
    pub records: u64,
}

impl Replay {
    /// Unix time minus boot time on the machine that made the recording, in ns.
    pub fn boot_to_unix_ns(&self) -> i64 {
        self.replayer.boot_to_unix_ns
    }

    pub fn open(path: &std::path::Path, cfg: &SensorConfig) -> Result<Replay, RecordingError> {
        let replayer = Replayer::open(path)?;
        let normalizer = Normalizer::new(NormalizeConfig {
            process_table_capacity: cfg.process_table_capacity,
            ancestry_depth: cfg.ancestry_depth,
            env_names: cfg.env_names.clone(),
            boot_to_unix_ns: replayer.boot_to_unix_ns,
            proc_root: None,
        });
        Ok(Replay {
            replayer,
            normalizer,
            decode_errors: 0,
            records: 0,
        })
    }

    pub fn normalizer(&self) -> &Normalizer {
        &self.normalizer
    }
}

impl Iterator for Replay {
    type Item = Result<Event, RecordingError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let frame = match self.replayer.next_frame() {
                Ok(Some(f)) => f,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            match frame {
                Frame::Process(p) => {
                    self.normalizer.table_mut().insert(p);
                }
                Frame::Event(e) => return Some(Ok(e)),
                Frame::Record(raw) => {
                    self.records += 1;
                    match record::decode(&raw) {
                        Ok(rec) => {
                            if let Some(e) = self.normalizer.normalize(&rec) {
                                return Some(Ok(e));
                            }
                        }
                        Err(e) => {
                            tracing::debug!("undecodable record in recording: {e}");
                            self.decode_errors += 1;
                        }
                    }
                }
            }
        }
    }
}
