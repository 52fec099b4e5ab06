//! Hot reload: a [`SharedRules`] cell that engines poll with one atomic load per event, and a
//! [`Reloader`] that rebuilds the rule set from its files on request (SIGHUP) or when a file
//! changes. A rule set that fails to load leaves the running one in place.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::{LoadError, RuleSet, RuleSource};

/// The current rule set, shared between the reloader and the engines.
#[derive(Debug, Clone)]
pub struct SharedRules {
    inner: Arc<(RwLock<Arc<RuleSet>>, AtomicU64)>,
}

impl SharedRules {
    pub fn new(rules: Arc<RuleSet>) -> SharedRules {
        SharedRules {
            inner: Arc::new((RwLock::new(rules), AtomicU64::new(1))),
        }
    }

    pub fn generation(&self) -> u64 {
        self.inner.1.load(Ordering::Acquire)
    }

    /// The rule set and its generation.
    pub fn current(&self) -> (Arc<RuleSet>, u64) {
        let guard = self.inner.0.read().unwrap_or_else(|p| p.into_inner());
        (guard.clone(), self.generation())
    }

    pub fn store(&self, rules: Arc<RuleSet>) {
        let mut guard = self.inner.0.write().unwrap_or_else(|p| p.into_inner());
        *guard = rules;
        self.inner.1.fetch_add(1, Ordering::AcqRel);
    }
}

/// Rebuilds rules from the embedded defaults (optionally) and a list of files.
#[derive(Debug)]
pub struct Reloader {
    files: Vec<PathBuf>,
    defaults: bool,
    shared: SharedRules,
    stamps: Vec<Option<(SystemTime, u64)>>,
}

/// Modification time and length: the length catches a rewrite that lands within the file
/// system's timestamp granularity of the previous one.
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

impl Reloader {
    /// Loads the rules once; fails if they do not load.
    pub fn new(files: Vec<PathBuf>, defaults: bool) -> Result<Reloader, LoadError> {
        let st = stamps(&files);
        let rules = Self::build(&files, defaults)?;
        Ok(Reloader {
            shared: SharedRules::new(Arc::new(rules)),
            files,
            defaults,
            stamps: st,
        })
    }

    fn build(files: &[PathBuf], defaults: bool) -> Result<RuleSet, LoadError> {
        let mut sources: Vec<RuleSource> = if defaults {
            crate::default_sources()
        } else {
            Vec::new()
        };
        let mut errors = Vec::new();
        for f in files {
            match std::fs::read_to_string(f) {
                Ok(text) => sources.push(RuleSource {
                    name: f.display().to_string(),
                    text,
                }),
                Err(source) => errors.push(crate::RuleError::Read {
                    path: f.clone(),
                    source,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(LoadError { errors });
        }
        RuleSet::from_sources(&sources)
    }

    pub fn shared(&self) -> SharedRules {
        self.shared.clone()
    }

    /// Reloads now. On error the running rules stay.
    pub fn reload(&mut self) -> Result<Arc<RuleSet>, LoadError> {
        self.stamps = stamps(&self.files);
        match Self::build(&self.files, self.defaults) {
            Ok(r) => {
                let r = Arc::new(r);
                self.shared.store(r.clone());
                tracing::info!(rules = r.rules().len(), "rules reloaded");
                Ok(r)
            }
            Err(e) => {
                tracing::error!("rules not reloaded, the running rules stay: {e}");
                Err(e)
            }
        }
    }

    /// Reloads if a file's modification time or length changed since the last load; `None`
    /// when nothing changed.
    pub fn reload_if_changed(&mut self) -> Option<Result<Arc<RuleSet>, LoadError>> {
        (stamps(&self.files) != self.stamps).then(|| self.reload())
    }

    /// Polls the files every `interval` on a background thread until the process exits.
    pub fn watch(mut self, interval: Duration) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(interval);
                let _ = self.reload_if_changed();
            }
        })
    }
}
