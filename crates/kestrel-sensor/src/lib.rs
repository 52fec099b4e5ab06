//! The Kestrel runtime sensor: eBPF capture of process, file, network, privilege and kernel
//! activity, decoded into the one event model ([`kestrel_event::Event`]) and enriched with the
//! process (and its ancestry) and the container.
//!
//! - `bpf/sensor.bpf.c`: the CO-RE kernel programs (BTF tracepoints for the process lifecycle,
//!   one `syscalls/sys_enter_X`/`sys_exit_X` pair per syscall of interest), one ring buffer,
//!   per-CPU drop counters, the in-kernel open-path filter and the exec deny list.
//! - [`loader`]: loads and attaches them with aya, probing each hook and reporting what failed.
//! - [`record`]: the wire format, decoded without pointer casts.
//! - [`normalize`] and [`proctable`]: records to events, with a process table bootstrapped from
//!   `/proc` and bounded by an LRU.
//! - [`pipeline`]: [`Sensor::start`] → [`SensorHandle`] (events, stats, enforcement), and
//!   [`Replay`] of recordings made with [`recording`].
//! - [`kill`]: keeps the kernel's exec kill maps equal to the kill rules' targets across reloads.
//! - [`fallback`]: when eBPF is unavailable, process events from the proc connector (else
//!   `/proc` polling), reported as degraded.
//!
//! ```no_run
//! let sensor = kestrel_sensor::Sensor::start(Default::default())?;
//! for event in sensor.events().iter().take(10) {
//!     println!("{}", serde_json::to_string(&event).unwrap());
//! }
//! # Ok::<(), kestrel_sensor::SensorError>(())
//! ```
//!
//! Architecture invariant: the sensor only observes, except for the explicit exec deny list
//! (which user space fills); it never blocks the kernel and never drops an event silently: every
//! loss is a counted kernel drop, a counted decode error, or a documented filter. Container
//! metadata is looked up without blocking the event path. This crate contains no `unsafe`.

pub mod fallback;
pub mod kill;
pub mod loader;
pub mod metadata;
pub mod normalize;
pub mod pipeline;
pub mod proctable;
pub mod record;
pub mod recording;

pub use loader::{AttachReport, DenyMode, LoadError, ProbeStatus, ProgramRunTime, Skipped};
pub use metadata::{Lookup, MetadataSource};
pub use pipeline::{
    DEFAULT_OPEN_PREFIXES, DEFAULT_OPEN_SUFFIXES, DEFAULT_OPEN_WRITE_PREFIXES, DenyError, ExeId,
    Fallback, Replay, Sensor, SensorConfig, SensorError, SensorHandle, StatsSnapshot,
    boot_to_unix_ns,
};
