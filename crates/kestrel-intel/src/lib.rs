//! Threat-intelligence indicators: IP addresses, CIDR networks and domains from feed files, and
//! the matcher that turns connections and DNS answers into alerts naming the indicator and its
//! feed.
//!
//! Feed formats:
//! - plain text: one indicator per line, `#` starts a comment (whole line or after a blank);
//!   the feed is named after the file;
//! - CSV (`.csv`, or a first line with commas): a header row naming an `indicator` (or `ioc`,
//!   `value`) column and optionally a `source` (or `feed`) column naming the feed of each row.
//!
//! A domain indicator covers its subdomains. A connection whose remote address is listed raises
//! an alert; so does a connection to an address that a DNS answer for a listed domain returned
//! (within the answer's TTL, at least five minutes).
//!
//! Architecture invariant: matching ([`IntelMatcher::observe`]) does no I/O and no parsing; only
//! loading and the reloader read files, and a feed that fails to load leaves the running
//! indicators in place.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use kestrel_event::{Alert, Event, EventKind, Priority, SockAddr};

/// Errors loading a feed, naming the file and line.
#[derive(Debug, thiserror::Error)]
pub enum IntelError {
    #[error("cannot read intel feed {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the intel feed reload thread: {0}")]
    Thread(std::io::Error),
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

/// What an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndicatorKind {
    Ip,
    Cidr,
    Domain,
}

impl IndicatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Ip => "ip",
            IndicatorKind::Cidr => "cidr",
            IndicatorKind::Domain => "domain",
        }
    }
}

/// One indicator and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// As written in the feed (lower-cased for domains).
    pub value: String,
    pub kind: IndicatorKind,
    pub feed: Arc<str>,
}

fn is_domain(s: &str) -> bool {
    s.contains('.')
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Parses one indicator.
pub fn parse_indicator(raw: &str, feed: Arc<str>) -> Result<Indicator, String> {
    let v = raw.trim();
    if kestrel_rules::IpNet::parse(v).is_some() {
        let kind = if v.contains('/') {
            IndicatorKind::Cidr
        } else {
            IndicatorKind::Ip
        };
        return Ok(Indicator {
            value: v.to_owned(),
            kind,
            feed,
        });
    }
    let d = v
        .trim_start_matches("*.")
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if is_domain(&d) {
        return Ok(Indicator {
            value: d,
            kind: IndicatorKind::Domain,
            feed,
        });
    }
    Err(format!(
        "{v:?} is not an IP address, CIDR network or domain name"
    ))
}

/// Parses a feed's text. `name` is the file name, used for errors and as the default feed name.
pub fn parse_feed(name: &str, text: &str) -> Result<Vec<Indicator>, IntelError> {
    let feed_name: Arc<str> = Path::new(name)
        .file_stem()
        .map_or(name.into(), |s| s.to_string_lossy().into());
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let l = match l.find(" #").or_else(|| l.find("\t#")) {
                Some(c) => &l[..c],
                None => l,
            };
            (i + 1, l.trim())
        })
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let invalid = |line: usize, message: String| IntelError::Invalid {
        file: name.to_owned(),
        line,
        message,
    };
    let csv = name.ends_with(".csv") || lines.first().is_some_and(|(_, l)| l.contains(','));
    let mut out = Vec::new();
    if !csv {
        for (n, l) in lines {
            out.push(parse_indicator(l, feed_name.clone()).map_err(|m| invalid(n, m))?);
        }
        return Ok(out);
    }
    let Some(((hn, header), rows)) = lines.split_first() else {
        return Ok(out);
    };
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let ind = cols
        .iter()
        .position(|c| matches!(c.as_str(), "indicator" | "ioc" | "value"))
        .ok_or_else(|| {
            invalid(
                *hn,
                format!("CSV header {header:?} has no indicator column (indicator, ioc or value)"),
            )
        })?;
    let src = cols
        .iter()
        .position(|c| matches!(c.as_str(), "source" | "feed"));
    for (n, row) in rows {
        let cells: Vec<&str> = row.split(',').map(|c| c.trim().trim_matches('"')).collect();
        let value = cells
            .get(ind)
            .ok_or_else(|| invalid(*n, format!("row has no column {}", ind + 1)))?;
        let feed = match src.and_then(|i| cells.get(i)).filter(|s| !s.is_empty()) {
            Some(s) => Arc::from(*s),
            None => feed_name.clone(),
        };
        out.push(parse_indicator(value, feed).map_err(|m| invalid(*n, m))?);
    }
    Ok(out)
}

/// Indicators indexed for lookup: IP networks by prefix length, domains by name.
#[derive(Debug, Default)]
pub struct IntelSet {
    indicators: Vec<Indicator>,
    v4: Vec<(u8, HashMap<u32, u32>)>,
    v6: Vec<(u8, HashMap<u128, u32>)>,
    domains: HashMap<String, u32>,
}

fn mask4(a: u32, p: u8) -> u32 {
    a & u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0)
}

fn mask6(a: u128, p: u8) -> u128 {
    a & u128::MAX.checked_shl(128 - u32::from(p)).unwrap_or(0)
}

impl IntelSet {
    pub fn new(indicators: Vec<Indicator>) -> IntelSet {
        let mut s = IntelSet::default();
        let mut v4: HashMap<u8, HashMap<u32, u32>> = HashMap::new();
        let mut v6: HashMap<u8, HashMap<u128, u32>> = HashMap::new();
        for (i, ind) in indicators.iter().enumerate() {
            let i = i as u32;
            match ind.kind {
                IndicatorKind::Domain => {
                    s.domains.entry(ind.value.clone()).or_insert(i);
                }
                _ => {
                    let net = kestrel_rules::IpNet::parse(&ind.value).expect("validated");
                    match net.addr {
                        IpAddr::V4(a) => {
                            v4.entry(net.prefix)
                                .or_default()
                                .entry(mask4(a.into(), net.prefix))
                                .or_insert(i);
                        }
                        IpAddr::V6(a) => {
                            v6.entry(net.prefix)
                                .or_default()
                                .entry(mask6(a.into(), net.prefix))
                                .or_insert(i);
                        }
                    }
                }
            }
        }
        s.v4 = v4.into_iter().collect();
        s.v4.sort_by_key(|e| std::cmp::Reverse(e.0));
        s.v6 = v6.into_iter().collect();
        s.v6.sort_by_key(|e| std::cmp::Reverse(e.0));
        s.indicators = indicators;
        s
    }

    /// Loads feed files.
    pub fn load(paths: &[PathBuf]) -> Result<IntelSet, IntelError> {
        let mut all = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(p).map_err(|source| IntelError::Read {
                path: p.clone(),
                source,
            })?;
            all.extend(parse_feed(&p.display().to_string(), &text)?);
        }
        Ok(IntelSet::new(all))
    }

    pub fn len(&self) -> usize {
        self.indicators.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indicators.is_empty()
    }

    /// The most specific indicator covering `ip`.
    pub fn lookup_ip(&self, ip: IpAddr) -> Option<&Indicator> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        let i = match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().find_map(|(p, m)| m.get(&mask4(a, *p)))
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().find_map(|(p, m)| m.get(&mask6(a, *p)))
            }
        }?;
        self.indicators.get(*i as usize)
    }

    /// The indicator for `name` or its nearest listed parent domain.
    pub fn lookup_domain(&self, name: &str) -> Option<&Indicator> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        let mut cur = name.as_str();
        loop {
            if let Some(i) = self.domains.get(cur) {
                return self.indicators.get(*i as usize);
            }
            cur = cur.split_once('.')?.1;
        }
    }
}

/// The current indicators, shared between a reloader and matchers.
#[derive(Debug, Clone)]
pub struct SharedIntel {
    inner: Arc<(RwLock<Arc<IntelSet>>, AtomicU64)>,
}

impl SharedIntel {
    pub fn new(set: Arc<IntelSet>) -> SharedIntel {
        SharedIntel {
            inner: Arc::new((RwLock::new(set), AtomicU64::new(1))),
        }
    }

    pub fn generation(&self) -> u64 {
        self.inner.1.load(Ordering::Acquire)
    }

    pub fn current(&self) -> Arc<IntelSet> {
        self.inner
            .0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn store(&self, set: Arc<IntelSet>) {
        *self.inner.0.write().unwrap_or_else(|p| p.into_inner()) = set;
        self.inner.1.fetch_add(1, Ordering::AcqRel);
    }
}

/// Reloads feed files when they change.
#[derive(Debug)]
pub struct IntelReloader {
    files: Vec<PathBuf>,
    stamps: Vec<Option<(SystemTime, u64)>>,
    shared: SharedIntel,
}

/// Modification time and length: the length catches an append that lands within the file
/// system's timestamp granularity of the previous write.
fn stamps(files: &[PathBuf]) -> Vec<Option<(SystemTime, u64)>> {
    files
        .iter()
        .map(|f| {
            std::fs::metadata(f)
                .and_then(|m| Ok((m.modified()?, m.len())))
                .ok()
        })
        .collect()
}

impl IntelReloader {
    pub fn new(files: Vec<PathBuf>) -> Result<IntelReloader, IntelError> {
        let st = stamps(&files);
        let set = IntelSet::load(&files)?;
        Ok(IntelReloader {
            shared: SharedIntel::new(Arc::new(set)),
            files,
            stamps: st,
        })
    }

    pub fn shared(&self) -> SharedIntel {
        self.shared.clone()
    }

    /// Reloads now; on error the running indicators stay.
    pub fn reload(&mut self) -> Result<usize, IntelError> {
        self.stamps = stamps(&self.files);
        match IntelSet::load(&self.files) {
            Ok(s) => {
                let n = s.len();
                self.shared.store(Arc::new(s));
                tracing::info!(indicators = n, "intel feeds reloaded");
                Ok(n)
            }
            Err(e) => {
                tracing::error!("intel feeds not reloaded, the running indicators stay: {e}");
                Err(e)
            }
        }
    }

    /// Reloads when a file's modification time or length changed; `None` when nothing changed.
    pub fn reload_if_changed(&mut self) -> Option<Result<usize, IntelError>> {
        (stamps(&self.files) != self.stamps).then(|| self.reload())
    }

    /// Checks the files every `interval` on a background thread for as long as the process
    /// runs; matchers made from [`IntelReloader::shared`] pick up each reload.
    pub fn watch(mut self, interval: std::time::Duration) -> std::io::Result<()> {
        std::thread::Builder::new()
            .name("kestrel-intel-reload".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    // A failed reload is logged by `reload` and keeps the running indicators.
                    let _ = self.reload_if_changed();
                }
            })
            .map(drop)
    }
}

/// Threat intelligence as `kestrel watch` and `kestrel agent` run it: the feeds loaded, checked
/// for changes every `reload_every` (never when zero) and a matcher over them; `None` when there
/// are no feeds.
pub fn start(
    files: &[PathBuf],
    reload_every: std::time::Duration,
    hostname: &str,
) -> Result<Option<IntelMatcher>, IntelError> {
    if files.is_empty() {
        return Ok(None);
    }
    let reloader = IntelReloader::new(files.to_vec())?;
    let set = reloader.shared().current();
    tracing::info!(
        indicators = set.len(),
        feeds = files.len(),
        "threat-intel feeds loaded"
    );
    let matcher = IntelMatcher::new(reloader.shared(), hostname);
    if !reload_every.is_zero() {
        reloader.watch(reload_every).map_err(IntelError::Thread)?;
    }
    Ok(Some(matcher))
}

/// Minimum time a DNS answer links an address to the domain, whatever its TTL: clients cache
/// longer than TTLs say.
const MIN_DNS_LINK_NS: u64 = 300 * 1_000_000_000;
const MAX_LINKS: usize = 65_536;

/// Rule names of intel alerts.
pub const RULE_IP: &str = "Connection to threat-intel IP indicator";
pub const RULE_DOMAIN: &str = "Connection to threat-intel domain indicator";

/// Turns events into intel alerts.
#[derive(Debug)]
pub struct IntelMatcher {
    shared: SharedIntel,
    set: Arc<IntelSet>,
    generation: u64,
    hostname: String,
    /// Address -> (domain indicator, name asked, expiry ns).
    links: HashMap<IpAddr, (Indicator, String, u64)>,
}

fn remote_ip(ev: &Event) -> Option<IpAddr> {
    match &ev.kind {
        EventKind::Connect { remote, result, .. } | EventKind::Accept { remote, result, .. }
            if *result >= 0 || *result == -115 =>
        {
            match remote {
                SockAddr::Inet(sa) => Some(sa.ip()),
                _ => None,
            }
        }
        _ => None,
    }
}

impl IntelMatcher {
    pub fn new(shared: SharedIntel, hostname: impl Into<String>) -> IntelMatcher {
        IntelMatcher {
            set: shared.current(),
            generation: shared.generation(),
            shared,
            hostname: hostname.into(),
            links: HashMap::new(),
        }
    }

    /// Looks at one event; returns an alert when it contacts an indicator.
    pub fn observe(&mut self, ev: &Event) -> Option<Alert> {
        if self.shared.generation() != self.generation {
            self.set = self.shared.current();
            self.generation = self.shared.generation();
        }
        if let EventKind::Dns(m) = &ev.kind {
            if m.response {
                self.learn(ev.ts, m);
            }
            return None;
        }
        let ip = remote_ip(ev)?;
        if let Some(ind) = self.set.lookup_ip(ip) {
            let ind = ind.clone();
            return Some(self.alert(ev, RULE_IP, &ind, None));
        }
        let (ind, name, exp) = self.links.get(&ip)?.clone();
        if ev.ts > exp {
            self.links.remove(&ip);
            return None;
        }
        Some(self.alert(ev, RULE_DOMAIN, &ind, Some(&name)))
    }

    fn learn(&mut self, ts: u64, m: &kestrel_event::DnsMessage) {
        let asked = m
            .questions
            .iter()
            .find_map(|q| self.set.lookup_domain(q).map(|i| (i.clone(), q.clone())));
        for a in &m.answers {
            if !matches!(a.rtype.as_str(), "A" | "AAAA") {
                continue;
            }
            let Ok(ip) = a.data.parse::<IpAddr>() else {
                continue;
            };
            let hit = asked.clone().or_else(|| {
                self.set
                    .lookup_domain(&a.name)
                    .map(|i| (i.clone(), a.name.clone()))
            });
            if let Some((ind, name)) = hit {
                if self.links.len() >= MAX_LINKS {
                    self.links.retain(|_, (_, _, exp)| *exp >= ts);
                    if self.links.len() >= MAX_LINKS {
                        self.links.clear();
                    }
                }
                let ttl = u64::from(a.ttl) * 1_000_000_000;
                self.links
                    .insert(ip, (ind, name, ts + ttl.max(MIN_DNS_LINK_NS)));
            }
        }
    }

    fn alert(&self, ev: &Event, rule: &str, ind: &Indicator, domain: Option<&str>) -> Alert {
        let what = match domain {
            Some(d) => format!("{d} (listed {} {})", ind.kind.as_str(), ind.value),
            None => format!("{} {}", ind.kind.as_str(), ind.value),
        };
        let template = "(connection=%fd.name process=%proc.name command=%proc.cmdline user=%user.name container_id=%container.id container_name=%container.name k8s_ns=%k8s.ns.name k8s_pod=%k8s.pod.name)";
        let (rendered, mut fields) = kestrel_rules::render_output(template, ev, &self.hostname)
            .expect("the intel template uses known fields");
        fields.insert("intel.indicator".into(), ind.value.clone().into());
        fields.insert("intel.kind".into(), ind.kind.as_str().into());
        fields.insert("intel.feed".into(), ind.feed.to_string().into());
        if let Some(d) = domain {
            fields.insert("intel.domain".into(), d.into());
        }
        let priority = Priority::Critical;
        Alert {
            time: kestrel_rules::fields::rfc3339(ev.ts),
            rule: rule.to_owned(),
            priority,
            output: format!(
                "{}: {priority} Contact with threat-intel indicator {what} from feed {} {rendered}",
                kestrel_rules::fields::time_of_day(ev.ts),
                ind.feed
            ),
            output_fields: fields,
            source: "syscall".into(),
            tags: vec![
                "maturity_stable".into(),
                "network".into(),
                "threat_intel".into(),
                "mitre_command_and_control".into(),
                "T1071".into(),
            ],
            hostname: self.hostname.clone(),
            action: None,
            suppressed: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc as StdArc;

    use kestrel_event::{DnsMessage, DnsRecord, NetProtocol, ProcessInfo, SocketFamily};

    use super::*;

    fn connect(ts: u64, to: &str) -> Event {
        Event {
            ts,
            pid: 9,
            tid: 9,
            kind: EventKind::Connect {
                family: SocketFamily::Inet,
                protocol: NetProtocol::Tcp,
                local: Some(SockAddr::Inet("10.0.0.2:40000".parse().unwrap())),
                remote: SockAddr::Inet(to.parse().unwrap()),
                result: 0,
            },
            process: Some(StdArc::new(ProcessInfo {
                pid: 9,
                name: "curl".into(),
                args: vec!["curl".into(), "http://evil.example.net/".into()],
                ..Default::default()
            })),
            container: None,
        }
    }

    fn dns(ts: u64, q: &str, ip: &str) -> Event {
        Event {
            ts,
            pid: 9,
            tid: 9,
            kind: EventKind::Dns(DnsMessage {
                id: 7,
                response: true,
                questions: vec![q.into()],
                answers: vec![DnsRecord {
                    name: q.into(),
                    rtype: "A".into(),
                    data: ip.into(),
                    ttl: 30,
                }],
                rcode: 0,
                server: SockAddr::Inet("10.96.0.10:53".parse().unwrap()),
            }),
            process: None,
            container: None,
        }
    }

    fn matcher(files: &[(&str, &str)]) -> IntelMatcher {
        let mut all = Vec::new();
        for (n, t) in files {
            all.extend(parse_feed(n, t).unwrap());
        }
        IntelMatcher::new(SharedIntel::new(Arc::new(IntelSet::new(all))), "node-1")
    }

    const TXT: &str = "# abuse.ch style\n203.0.113.7\n198.51.100.0/24  # a whole net\nevil.example.net\n\n2001:db8::/32\n";
    const CSV: &str =
        "indicator,type,source\n192.0.2.9,ip,feodo\n*.bad.example.org,domain,urlhaus\n";

    #[test]
    fn feeds_parse_and_lookup() {
        let set = IntelSet::new(
            [
                parse_feed("/etc/kestrel/blocklist.txt", TXT).unwrap(),
                parse_feed("x.csv", CSV).unwrap(),
            ]
            .concat(),
        );
        assert_eq!(set.len(), 6);
        let ip = |s: &str| {
            set.lookup_ip(s.parse().unwrap())
                .map(|i| (i.value.clone(), i.feed.to_string()))
        };
        assert_eq!(
            ip("203.0.113.7"),
            Some(("203.0.113.7".into(), "blocklist".into()))
        );
        assert_eq!(
            ip("198.51.100.200"),
            Some(("198.51.100.0/24".into(), "blocklist".into()))
        );
        assert_eq!(
            ip("::ffff:192.0.2.9"),
            Some(("192.0.2.9".into(), "feodo".into()))
        );
        assert_eq!(
            ip("2001:db8::1"),
            Some(("2001:db8::/32".into(), "blocklist".into()))
        );
        assert_eq!(ip("203.0.113.8"), None);
        assert_eq!(
            set.lookup_domain("a.b.bad.example.org.")
                .unwrap()
                .feed
                .as_ref(),
            "urlhaus"
        );
        assert!(set.lookup_domain("example.org").is_none());
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = parse_feed("f.txt", "1.2.3.4\nnot a thing\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "f.txt:2: \"not a thing\" is not an IP address, CIDR network or domain name"
        );
        let e = parse_feed("f.csv", "ip,source\n1.2.3.4,x\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.csv:1: CSV header"), "{e}");
    }

    #[test]
    fn connection_to_listed_ip() {
        let mut m = matcher(&[("blocklist.txt", TXT)]);
        let a = m.observe(&connect(1, "198.51.100.4:443")).unwrap();
        assert_eq!(a.rule, RULE_IP);
        assert_eq!(a.output_fields["intel.indicator"], "198.51.100.0/24");
        assert_eq!(a.output_fields["intel.feed"], "blocklist");
        assert_eq!(a.output_fields["proc.name"], "curl");
        assert!(a.output.contains("from feed blocklist"), "{}", a.output);
        assert!(m.observe(&connect(1, "192.0.2.1:443")).is_none());
    }

    #[test]
    fn dns_answer_then_connection() {
        let mut m = matcher(&[("blocklist.txt", TXT)]);
        assert!(
            m.observe(&dns(1, "cdn.evil.example.net", "192.0.2.50"))
                .is_none()
        );
        let a = m.observe(&connect(2, "192.0.2.50:443")).unwrap();
        assert_eq!(a.rule, RULE_DOMAIN);
        assert_eq!(a.output_fields["intel.domain"], "cdn.evil.example.net");
        assert_eq!(a.output_fields["intel.indicator"], "evil.example.net");
        // Past the link's lifetime the address is no longer tied to the domain.
        assert!(
            m.observe(&connect(2 + MIN_DNS_LINK_NS + 1, "192.0.2.50:443"))
                .is_none()
        );
    }

    #[test]
    fn reload_on_change_keeps_old_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("feed.txt");
        std::fs::write(&f, "203.0.113.7\n").unwrap();
        let mut r = IntelReloader::new(vec![f.clone()]).unwrap();
        let mut m = IntelMatcher::new(r.shared(), "n");
        assert!(m.observe(&connect(1, "203.0.113.7:80")).is_some());
        assert!(r.reload_if_changed().is_none());
        std::fs::write(&f, "203.0.113.8\n").unwrap();
        // Make the change visible even on file systems with coarse timestamps.
        let t = SystemTime::now() + std::time::Duration::from_secs(2);
        std::fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(t)
            .unwrap();
        assert_eq!(r.reload_if_changed().unwrap().unwrap(), 1);
        assert!(m.observe(&connect(1, "203.0.113.7:80")).is_none());
        assert!(m.observe(&connect(1, "203.0.113.8:80")).is_some());
        std::fs::write(&f, "garbage here\n").unwrap();
        assert!(r.reload().is_err());
        assert!(m.observe(&connect(1, "203.0.113.8:80")).is_some());
    }
}
