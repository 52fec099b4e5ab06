//! The on-disk buffer: one file per request body, named so that sorting the names gives the
//! order they were written in, and written under a temporary name then renamed so a crash never
//! leaves half a file to send.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// What a spooled request carries; it decides the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Alerts,
    Workloads,
    Vulnerabilities,
    Posture,
    AttackPaths,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Alerts,
        Kind::Workloads,
        Kind::Vulnerabilities,
        Kind::Posture,
        Kind::AttackPaths,
    ];

    fn tag(self) -> &'static str {
        match self {
            Kind::Alerts => "alerts",
            Kind::Workloads => "workloads",
            Kind::Vulnerabilities => "vulnerabilities",
            Kind::Posture => "posture",
            Kind::AttackPaths => "attack-paths",
        }
    }

    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::Alerts => "/api/v1/ingest/alerts",
            Kind::Workloads => "/api/v1/ingest/workloads",
            Kind::Vulnerabilities => "/api/v1/ingest/vulnerabilities",
            Kind::Posture => "/api/v1/ingest/posture",
            Kind::AttackPaths => "/api/v1/ingest/attack-paths",
        }
    }

    fn from_tag(t: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.tag() == t)
    }
}

#[derive(Debug)]
struct Entry {
    kind: Kind,
    size: u64,
}

#[derive(Debug)]
struct State {
    next: u64,
    files: BTreeMap<u64, Entry>,
    bytes: u64,
    /// Whether the last push was refused, so "full" is logged once per episode.
    full: bool,
}

#[derive(Debug)]
pub(crate) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    state: Mutex<State>,
}

fn name(seq: u64, kind: Kind) -> String {
    format!("{seq:020}.{}.json", kind.tag())
}

impl Spool {
    /// Opens (creating) `dir`, picking up files a previous run left.
    pub(crate) fn open(dir: &Path, max_bytes: u64) -> std::io::Result<Spool> {
        std::fs::create_dir_all(dir)?;
        let mut files = BTreeMap::new();
        let mut bytes = 0;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let file_name = entry.file_name();
            let Some(n) = file_name.to_str() else {
                continue;
            };
            if n.starts_with(".tmp-") {
                // A write cut short by a crash: never renamed, never complete.
                let _ = std::fs::remove_file(entry.path());
                continue;
            }
            let mut parts = n.splitn(3, '.');
            let (Some(seq), Some(tag), Some("json")) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(seq), Some(kind)) = (seq.parse::<u64>(), Kind::from_tag(tag)) else {
                continue;
            };
            let size = entry.metadata()?.len();
            bytes += size;
            files.insert(seq, Entry { kind, size });
        }
        if !files.is_empty() {
            tracing::info!(dir = %dir.display(), files = files.len(), bytes, "resending batches buffered by a previous run");
        }
        let next = files.keys().next_back().map_or(0, |k| k + 1);
        Ok(Spool {
            dir: dir.to_owned(),
            max_bytes,
            state: Mutex::new(State {
                next,
                files,
                bytes,
                full: false,
            }),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes a body. Returns false (and writes nothing) when the spool would exceed its bound.
    pub(crate) fn push(&self, kind: Kind, body: &[u8]) -> std::io::Result<bool> {
        let mut st = self.state.lock().expect("spool lock");
        let size = body.len() as u64;
        if st.bytes + size > self.max_bytes {
            if !st.full {
                tracing::warn!(dir = %self.dir.display(), bytes = st.bytes, max_bytes = self.max_bytes,
                    "agent buffer full: dropping new batches until the server is reachable again");
                st.full = true;
            }
            return Ok(false);
        }
        if st.full {
            tracing::info!(dir = %self.dir.display(), "agent buffer has room again");
            st.full = false;
        }
        let seq = st.next;
        st.next += 1;
        let tmp = self.dir.join(format!(".tmp-{seq}"));
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, self.dir.join(name(seq, kind)))?;
        st.files.insert(seq, Entry { kind, size });
        st.bytes += size;
        Ok(true)
    }

    /// Writes a snapshot, first removing unsent older snapshots of the same kind: it replaces
    /// them on the server anyway.
    pub(crate) fn push_snapshot(&self, kind: Kind, body: &[u8]) -> std::io::Result<bool> {
        let stale: Vec<u64> = {
            let st = self.state.lock().expect("spool lock");
            st.files
                .iter()
                .filter(|(_, e)| e.kind == kind)
                .map(|(s, _)| *s)
                .collect()
        };
        for seq in stale {
            self.remove(&self.dir.join(name(seq, kind)));
        }
        self.push(kind, body)
    }

    /// The oldest file and its kind.
    pub(crate) fn oldest(&self) -> Option<(PathBuf, Kind)> {
        let st = self.state.lock().expect("spool lock");
        st.files
            .iter()
            .next()
            .map(|(seq, e)| (self.dir.join(name(*seq, e.kind)), e.kind))
    }

    fn seq_of(path: &Path) -> Option<u64> {
        path.file_name()?.to_str()?.split('.').next()?.parse().ok()
    }

    pub(crate) fn remove(&self, path: &Path) {
        let mut st = self.state.lock().expect("spool lock");
        if let Some(seq) = Spool::seq_of(path)
            && let Some(e) = st.files.remove(&seq)
        {
            st.bytes -= e.size;
        }
        if let Err(e) = std::fs::remove_file(path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::error!(file = %path.display(), "cannot delete a sent batch: {e}");
        }
    }

    /// Moves a file the server refused out of the way, keeping it for inspection.
    pub(crate) fn reject(&self, path: &Path) {
        let rejected = self.dir.join("rejected");
        let moved = std::fs::create_dir_all(&rejected).and_then(|()| {
            std::fs::rename(path, rejected.join(path.file_name().unwrap_or_default()))
        });
        if let Err(e) = moved {
            tracing::error!(file = %path.display(), "cannot move a refused batch to {}: {e}", rejected.display());
        }
        self.remove(path);
    }

    pub(crate) fn bytes(&self) -> u64 {
        self.state.lock().expect("spool lock").bytes
    }

    pub(crate) fn files(&self) -> u64 {
        self.state.lock().expect("spool lock").files.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_ordered_and_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let s = Spool::open(dir.path(), 10).unwrap();
        assert!(s.push(Kind::Alerts, b"12345").unwrap());
        assert!(s.push(Kind::Workloads, b"abc").unwrap());
        assert!(!s.push(Kind::Alerts, b"too big").unwrap(), "8 + 7 > 10");
        assert_eq!((s.files(), s.bytes()), (2, 8));
        let (first, kind) = s.oldest().unwrap();
        assert_eq!(kind, Kind::Alerts);
        assert_eq!(std::fs::read(&first).unwrap(), b"12345");
        // A crash mid-write leaves a temporary file that is never sent.
        std::fs::write(dir.path().join(".tmp-9"), b"half").unwrap();
        drop(s);
        let s = Spool::open(dir.path(), 10).unwrap();
        assert_eq!((s.files(), s.bytes()), (2, 8));
        assert!(!dir.path().join(".tmp-9").exists());
        s.remove(&first);
        assert_eq!(s.oldest().unwrap().1, Kind::Workloads);
        assert!(s.push(Kind::Alerts, b"1234567").unwrap(), "room again");
        // A newer snapshot replaces an unsent older one of its kind.
        assert!(s.push_snapshot(Kind::Workloads, b"new").unwrap());
        let kinds: Vec<_> = std::iter::from_fn(|| {
            let (p, k) = s.oldest()?;
            let body = std::fs::read(&p).unwrap();
            s.remove(&p);
            Some((k, body))
        })
        .collect();
        assert_eq!(
            kinds,
            [
                (Kind::Alerts, b"1234567".to_vec()),
                (Kind::Workloads, b"new".to_vec())
            ]
        );
        assert_eq!(s.bytes(), 0);
    }
}
