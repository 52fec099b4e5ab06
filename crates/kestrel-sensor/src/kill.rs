//! Keeping the kernel's exec kill maps equal to a wanted set of kill targets (executables and
//! task names, as kill rules reduce to) across rule reloads. Entries of the static deny list are
//! never touched: they were put there by configuration, not by rules.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::loader::DenyMode;
use crate::pipeline::{DenyError, ExeId, SensorHandle};

/// A kill-map update the kernel refused.
#[derive(Debug, thiserror::Error)]
#[error("{action} kill target {target}: {source}")]
pub struct KillTargetError {
    /// `adding` or `removing`.
    pub action: &'static str,
    pub target: String,
    #[source]
    pub source: Box<DenyError>,
}

/// The rule-derived part of the kill maps. What it tracks changes with each kernel update that
/// succeeds, so an update failing halfway (a full map) leaves no kernel entry it would never
/// remove.
#[derive(Debug)]
pub struct KillSync {
    mode: DenyMode,
    static_ids: HashSet<ExeId>,
    ids: HashMap<ExeId, String>,
    names: BTreeSet<String>,
}

impl KillSync {
    /// Targets are entered with `mode`; `static_ids` (the static deny list) keep their own.
    pub fn new(mode: DenyMode, static_ids: HashSet<ExeId>) -> KillSync {
        KillSync {
            mode,
            static_ids,
            ids: HashMap::new(),
            names: BTreeSet::new(),
        }
    }

    /// Makes the kernel's rule-derived entries exactly `exe_paths` and `names`. A path that
    /// does not exist is logged and skipped: executables are keyed by inode, so there is nothing
    /// to deny until the file exists.
    pub fn apply(
        &mut self,
        sensor: &SensorHandle,
        exe_paths: &[String],
        names: &[String],
    ) -> Result<(), KillTargetError> {
        fn err(action: &'static str, target: &str) -> impl FnOnce(DenyError) -> KillTargetError {
            let target = target.to_owned();
            move |source| KillTargetError {
                action,
                target,
                source: Box::new(source),
            }
        }
        let mut ids = HashMap::new();
        for p in exe_paths {
            match ExeId::of(p.as_ref()) {
                Ok(id) => {
                    ids.insert(id, p.clone());
                }
                Err(e) => tracing::warn!("kill rule target not enforced in the kernel: {e}"),
            }
        }
        let names: BTreeSet<String> = names.iter().cloned().collect();
        let stale: Vec<(ExeId, String)> = self
            .ids
            .iter()
            .filter(|(id, _)| !ids.contains_key(id))
            .map(|(id, p)| (*id, p.clone()))
            .collect();
        for (id, path) in stale {
            sensor.allow_exe(id).map_err(err("removing", &path))?;
            self.ids.remove(&id);
            tracing::info!(path = %path, "kill target removed");
        }
        let stale: Vec<String> = self.names.difference(&names).cloned().collect();
        for n in stale {
            sensor.allow_exec_name(&n).map_err(err("removing", &n))?;
            self.names.remove(&n);
            tracing::info!(name = %n, "kill target removed");
        }
        // A file also on the static deny list keeps that list's mode, and is never removed.
        for (id, path) in ids
            .into_iter()
            .filter(|(id, _)| !self.static_ids.contains(id))
        {
            sensor
                .deny_exe(id, self.mode)
                .map_err(err("adding", &path))?;
            tracing::info!(path = %path, mode = ?self.mode, "kill rule target");
            self.ids.insert(id, path);
        }
        for n in names {
            sensor
                .deny_exec_name(&n, self.mode)
                .map_err(err("adding", &n))?;
            tracing::info!(name = %n, mode = ?self.mode, "kill rule target");
            self.names.insert(n);
        }
        Ok(())
    }
}
