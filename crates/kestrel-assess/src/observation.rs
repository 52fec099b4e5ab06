//! What the sensor saw, folded into the few facts ranking needs, so that memory depends on
//! how many distinct files each container touches, not on how long it is watched.
//!
//! Per container: each file executed, mapped or opened once (how, first and last seen, and
//! the process that touched it first in the strongest way), the sockets it listened on, how
//! many inbound connections came from public addresses, and the alerts raised on it. Nothing
//! here knows which package owns a file: that needs the container's inventory, which the
//! assessment builds later; [`Observation::take_files`] hands the files over then.
//!
//! Alerts count as "attacked" only within a recent window ([`Observation::with_attacked_window`]):
//! they are kept as counts per (time bucket, priority, rule), a sixtieth of the window wide, so
//! a container's alert memory is bounded by the rules that fired on it, not by how many times.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use kestrel_event::{Event, EventKind, Priority, SockAddr};
use kestrel_risk::{Attacked, EvidenceKind, ListenSocket};

/// Distinct files kept per container by default. A file path and its facts take about 200
/// bytes, so the default bounds one container's file set near 6 MiB.
pub const DEFAULT_MAX_FILES_PER_CONTAINER: usize = 32_768;

/// One file a container's processes touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileAccess {
    /// The strongest way it was touched: exec, then mmap, then open.
    pub kind: EvidenceKind,
    /// The first process that touched it that way.
    pub pid: u32,
    pub process: String,
    /// Nanoseconds since the Unix epoch.
    pub first_seen: u64,
    pub last_seen: u64,
}

#[derive(Debug, Default)]
struct Observed {
    files: HashMap<String, FileAccess>,
    listening: BTreeSet<ListenSocket>,
    public_inbound: u64,
    /// Alert counts per (bucket start in ns, priority, rule).
    alerts: BTreeMap<(u64, Priority, String), u64>,
    last_event: u64,
}

/// The runtime facts of one container, for its workload.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    pub listening: Vec<ListenSocket>,
    pub public_inbound: u64,
    pub attacked: Attacked,
}

/// Sizes, for logs and health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservationStats {
    pub containers: usize,
    pub files: usize,
    /// Distinct files not kept because their container was at its limit.
    pub files_dropped: u64,
}

/// Sensor observations of the node's containers. See the module documentation.
#[derive(Debug)]
pub struct Observation {
    since: Option<u64>,
    max_files: usize,
    /// How far back alerts count, in ns; `None`: for the whole observation.
    attacked_window: Option<u64>,
    containers: HashMap<String, Observed>,
    files_dropped: u64,
}

impl Default for Observation {
    fn default() -> Self {
        Observation::new(DEFAULT_MAX_FILES_PER_CONTAINER)
    }
}

impl Observation {
    pub fn new(max_files_per_container: usize) -> Observation {
        Observation {
            since: None,
            max_files: max_files_per_container.max(1),
            attacked_window: None,
            containers: HashMap::new(),
            files_dropped: 0,
        }
    }

    /// Alerts older than `window` before the time [`Observation::facts`] is asked for no longer
    /// make a container "attacked". A long-running agent needs this: one alert would otherwise
    /// mark a workload attacked for as long as it runs. The edge is exact to a sixtieth of the
    /// window. A zero window counts no alert.
    pub fn with_attacked_window(mut self, window: std::time::Duration) -> Observation {
        self.attacked_window = Some(u64::try_from(window.as_nanos()).unwrap_or(u64::MAX));
        self
    }

    /// Width of an alert bucket: a sixtieth of the window (at least a second), or one bucket
    /// for everything when there is no window.
    fn bucket(&self, ts: u64) -> u64 {
        match self.attacked_window {
            Some(w) => {
                let width = (w / 60).max(1_000_000_000);
                ts - ts % width
            }
            None => 0,
        }
    }

    /// The oldest bucket start that still counts at `now`.
    fn oldest_counted(&self, now: u64) -> u64 {
        match self.attacked_window {
            Some(0) => u64::MAX,
            Some(w) => self.bucket(now.saturating_sub(w)),
            None => 0,
        }
    }

    /// Marks when complete observation began: the sensor attached with every file event it
    /// needs (not degraded). Only containers whose first process started after this can have
    /// a package judged "not in use". The earliest call wins.
    pub fn start(&mut self, ts: u64) {
        self.since = Some(self.since.map_or(ts, |t| t.min(ts)));
    }

    pub fn since(&self) -> Option<u64> {
        self.since
    }

    fn container(&mut self, id: &str) -> &mut Observed {
        // Most events are for a container already present: avoid allocating its key.
        if !self.containers.contains_key(id) {
            self.containers.insert(id.to_owned(), Observed::default());
        }
        self.containers.get_mut(id).expect("inserted above")
    }

    /// Folds one sensor event in. Events of host processes are not kept.
    pub fn record_event(&mut self, ev: &Event) {
        let Some(c) = &ev.container else { return };
        match &ev.kind {
            EventKind::Listen {
                local: SockAddr::Inet(addr),
                result: 0,
                protocol,
                ..
            } => {
                let socket = ListenSocket {
                    address: addr.ip().to_string(),
                    port: addr.port(),
                    protocol: format!("{protocol:?}").to_ascii_lowercase(),
                };
                let o = self.container(c.id.as_str());
                o.last_event = o.last_event.max(ev.ts);
                o.listening.insert(socket);
            }
            EventKind::Accept {
                remote: SockAddr::Inet(peer),
                result,
                ..
            } if *result >= 0 && is_public(peer.ip()) => {
                let o = self.container(c.id.as_str());
                o.last_event = o.last_event.max(ev.ts);
                o.public_inbound += 1;
            }
            EventKind::Exec | EventKind::Mmap { .. } | EventKind::Open { .. } => {
                let Some((path, kind)) = kestrel_risk::touched_file(ev) else {
                    return;
                };
                // Pseudo file systems hold no package files.
                if ["/proc/", "/sys/", "/dev/"]
                    .iter()
                    .any(|p| path.starts_with(p))
                {
                    return;
                }
                let max = self.max_files;
                let o = self.container(c.id.as_str());
                o.last_event = o.last_event.max(ev.ts);
                if let Some(f) = o.files.get_mut(&path) {
                    f.first_seen = f.first_seen.min(ev.ts);
                    f.last_seen = f.last_seen.max(ev.ts);
                    // EvidenceKind orders exec < mmap < open: smaller is stronger.
                    if kind < f.kind {
                        f.kind = kind;
                        f.pid = ev.pid;
                        f.process = process_name(ev);
                    }
                    return;
                }
                if o.files.len() >= max {
                    self.files_dropped += 1;
                    if self.files_dropped.is_power_of_two() {
                        tracing::warn!(
                            container = %c.id.short(),
                            limit = max,
                            dropped = self.files_dropped,
                            "container touched more distinct files than kept; later ones are not evidence of use"
                        );
                    }
                    return;
                }
                o.files.insert(
                    path,
                    FileAccess {
                        kind,
                        pid: ev.pid,
                        process: process_name(ev),
                        first_seen: ev.ts,
                        last_seen: ev.ts,
                    },
                );
            }
            _ => {}
        }
    }

    /// Records an alert raised on a container at `ts` (ns since the Unix epoch, the time of
    /// the event that raised it): the "attacked" signal.
    pub fn record_alert(&mut self, container_id: &str, rule: &str, priority: Priority, ts: u64) {
        let bucket = self.bucket(ts);
        let oldest = self.oldest_counted(ts);
        let o = self.container(container_id);
        o.last_event = o.last_event.max(ts);
        // Buckets that no longer count at this alert's time are dropped here, so the map stays
        // within one window of buckets without a timer.
        if o.alerts
            .first_key_value()
            .is_some_and(|(k, _)| k.0 < oldest)
        {
            o.alerts = o
                .alerts
                .split_off(&(oldest, Priority::Emergency, String::new()));
        }
        *o.alerts
            .entry((bucket, priority, rule.to_owned()))
            .or_default() += 1;
    }

    /// Hands over the files a container touched since the last call, for ownership lookup.
    pub fn take_files(&mut self, container_id: &str) -> HashMap<String, FileAccess> {
        self.containers
            .get_mut(container_id)
            .map(|o| std::mem::take(&mut o.files))
            .unwrap_or_default()
    }

    /// Listening sockets, public inbound connections and alerts of a container; alerts as of
    /// `now` (ns since the Unix epoch), within the attacked window.
    pub fn facts(&self, container_id: &str, now: u64) -> ContainerFacts {
        let oldest = self.oldest_counted(now);
        self.containers
            .get(container_id)
            .map(|o| {
                let mut attacked = Attacked::default();
                for ((_, priority, rule), n) in o
                    .alerts
                    .range((oldest, Priority::Emergency, String::new())..)
                {
                    attacked.record_n(rule, *priority, *n);
                }
                ContainerFacts {
                    listening: o.listening.iter().cloned().collect(),
                    public_inbound: o.public_inbound,
                    attacked,
                }
            })
            .unwrap_or_default()
    }

    /// Forgets containers that are gone: those `running` does not list and that produced no
    /// event after `before` (a container started since the caller's `/proc` snapshot is kept).
    pub fn retain_running(&mut self, running: impl Fn(&str) -> bool, before: u64) {
        self.containers
            .retain(|id, o| running(id) || o.last_event >= before);
    }

    pub fn stats(&self) -> ObservationStats {
        ObservationStats {
            containers: self.containers.len(),
            files: self.containers.values().map(|o| o.files.len()).sum(),
            files_dropped: self.files_dropped,
        }
    }
}

fn process_name(ev: &Event) -> String {
    ev.process
        .as_ref()
        .map_or_else(String::new, |p| p.name.clone())
}

/// A peer address on the Internet: not loopback, private, link-local, shared (CGNAT),
/// unspecified or multicast.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || (o[0] == 100 && (64..128).contains(&o[1])))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use kestrel_event::{
        ContainerId, ContainerInfo, FileId, NetProtocol, OpenFlags, ProcessInfo, SocketFamily,
    };

    use super::*;

    fn event(kind: EventKind, pid: u32, name: &str, ts: u64) -> Event {
        let id = ContainerId::parse(&"ab".repeat(32)).unwrap();
        Event {
            ts,
            pid,
            tid: pid,
            kind,
            process: Some(Arc::new(ProcessInfo {
                pid,
                name: name.into(),
                cwd: "/app".into(),
                ..Default::default()
            })),
            container: Some(Arc::new(ContainerInfo::bare(id))),
        }
    }

    fn open(path: &str) -> EventKind {
        EventKind::Open {
            path: path.into(),
            flags: OpenFlags(0),
            mode: 0,
            result: 3,
        }
    }

    #[test]
    fn aggregates_per_file_and_keeps_the_strongest_access() {
        let id = "ab".repeat(32);
        let mut o = Observation::new(3);
        // The same module read 100,000 times is one entry.
        for ts in 0..100_000u64 {
            o.record_event(&event(
                open("lib/a.py"),
                10 + (ts % 7) as u32,
                "python3",
                ts,
            ));
        }
        o.record_event(&event(
            EventKind::Mmap {
                path: "/lib/x.so".into(),
                file: FileId::default(),
                prot: 5,
                flags: 2,
            },
            20,
            "python3",
            5,
        ));
        o.record_event(&event(open("/lib/x.so"), 21, "cat", 3));
        o.record_event(&event(open("/proc/self/status"), 22, "python3", 6));
        o.record_event(&event(open("/etc/hosts"), 22, "python3", 7));
        // Over the limit of 3 files: dropped and counted.
        o.record_event(&event(open("/etc/passwd"), 22, "python3", 8));
        let s = o.stats();
        assert_eq!((s.containers, s.files, s.files_dropped), (1, 3, 1));
        let files = o.take_files(&id);
        assert_eq!(files["/app/lib/a.py"].first_seen, 0);
        assert_eq!(files["/app/lib/a.py"].last_seen, 99_999);
        let so = &files["/lib/x.so"];
        assert_eq!(
            (so.kind, so.pid, so.process.as_str()),
            (EvidenceKind::Mmap, 20, "python3")
        );
        assert_eq!((so.first_seen, so.last_seen), (3, 5));
        assert!(o.take_files(&id).is_empty(), "handed over once");
    }

    #[test]
    fn listens_public_peers_alerts_and_pruning() {
        let id = "ab".repeat(32);
        let mut o = Observation::default();
        let listen = EventKind::Listen {
            local: SockAddr::Inet("0.0.0.0:8080".parse().unwrap()),
            family: SocketFamily::Inet,
            backlog: 128,
            protocol: NetProtocol::Tcp,
            result: 0,
        };
        o.record_event(&event(listen.clone(), 1, "python3", 1));
        o.record_event(&event(listen, 1, "python3", 2));
        for peer in ["8.8.8.8:5000", "10.0.0.1:5000", "127.0.0.1:5000"] {
            o.record_event(&event(
                EventKind::Accept {
                    local: SockAddr::Inet("0.0.0.0:8080".parse().unwrap()),
                    remote: SockAddr::Inet(peer.parse().unwrap()),
                    family: SocketFamily::Inet,
                    protocol: NetProtocol::Tcp,
                    result: 4,
                },
                1,
                "python3",
                3,
            ));
        }
        o.record_alert(&id, "Terminal shell in container", Priority::Notice, 3);
        let f = o.facts(&id, 3);
        assert_eq!(f.listening.len(), 1);
        assert_eq!(f.listening[0].port, 8080);
        assert_eq!(f.public_inbound, 1);
        assert_eq!(f.attacked.total(), 1);
        // Not running and quiet since before the snapshot: forgotten.
        o.retain_running(|_| true, 100);
        assert_eq!(o.stats().containers, 1);
        o.retain_running(|_| false, 2);
        assert_eq!(o.stats().containers, 1, "active after the snapshot");
        o.retain_running(|_| false, 100);
        assert_eq!(o.stats().containers, 0);
    }

    #[test]
    fn alerts_count_within_the_attacked_window() {
        const S: u64 = 1_000_000_000;
        const MIN: u64 = 60 * S;
        let id = "cd".repeat(32);
        let attacked = |o: &Observation, now: u64| {
            let a = o.facts(&id, now).attacked;
            (a.total(), a.worst(), a.rules)
        };
        // One hour: buckets of a minute.
        let mut o = Observation::default().with_attacked_window(Duration::from_secs(3600));
        let t0 = 1_800_000_000 * S;
        o.record_alert(&id, "A", Priority::Critical, t0);
        o.record_alert(&id, "B", Priority::Notice, t0 + 30 * MIN);
        o.record_alert(&id, "B", Priority::Notice, t0 + 30 * MIN + S);
        assert_eq!(o.containers[&id].alerts.len(), 2, "same bucket, one count");
        assert_eq!(
            attacked(&o, t0 + 50 * MIN),
            (
                3,
                Some(Priority::Critical),
                vec!["A".to_owned(), "B".to_owned()]
            )
        );
        // An hour and a minute later, A's bucket has left the window.
        assert_eq!(
            attacked(&o, t0 + 61 * MIN),
            (2, Some(Priority::Notice), vec!["B".to_owned()])
        );
        assert_eq!(attacked(&o, t0 + 92 * MIN), (0, None, vec![]));
        // A later alert drops the buckets that no longer count.
        o.record_alert(&id, "C", Priority::Warning, t0 + 120 * MIN);
        assert_eq!(o.containers[&id].alerts.len(), 1);
        assert_eq!(
            attacked(&o, t0 + 120 * MIN),
            (1, Some(Priority::Warning), vec!["C".to_owned()])
        );

        // No window: every alert of the observation, whenever asked.
        let mut o = Observation::default();
        for i in 0..1000 {
            o.record_alert(&id, "A", Priority::Critical, t0 + i * MIN);
        }
        assert_eq!(o.containers[&id].alerts.len(), 1);
        assert_eq!(attacked(&o, u64::MAX).0, 1000);

        // A zero window counts nothing.
        let mut o = Observation::default().with_attacked_window(Duration::ZERO);
        o.record_alert(&id, "A", Priority::Critical, t0);
        assert_eq!(attacked(&o, t0).0, 0);
    }

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
}
