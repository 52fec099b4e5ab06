//! Alerts: what a rule (or the sensor's own health checks) raises.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Falco's priorities, most severe first. `Ord` sorts `Emergency` lowest, so "at least
/// WARNING" is `p <= Priority::Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    Emergency,
    Alert,
    Critical,
    Error,
    Warning,
    Notice,
    Informational,
    Debug,
}

impl Priority {
    pub const ALL: [Priority; 8] = [
        Priority::Emergency,
        Priority::Alert,
        Priority::Critical,
        Priority::Error,
        Priority::Warning,
        Priority::Notice,
        Priority::Informational,
        Priority::Debug,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }

    /// Whether this priority is at least as severe as `threshold`.
    pub fn at_least(self, threshold: Priority) -> bool {
        self <= threshold
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A priority name that Falco does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown priority {0:?} (expected emergency, alert, critical, error, warning, notice, informational/info or debug)"
)]
pub struct UnknownPriority(pub String);

impl FromStr for Priority {
    type Err = UnknownPriority;

    /// Case-insensitive, accepting Falco's aliases (`info`, `warn`, `crit`, `err`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "emergency" | "emerg" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" | "crit" => Priority::Critical,
            "error" | "err" => Priority::Error,
            "warning" | "warn" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return Err(UnknownPriority(s.to_owned())),
        })
    }
}

/// What enforcement did about the event that raised an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementAction {
    /// The process was killed (SIGKILL from kernel space).
    Killed,
    /// The operation was denied (BPF LSM).
    Denied,
    /// Dry run: the process would have been killed.
    WouldKill,
}

/// An alert in Falco's JSON output shape, so that Falco consumers (Falcosidekick) accept it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// RFC 3339 time of the event, with nanoseconds.
    pub time: String,
    pub rule: String,
    pub priority: Priority,
    /// The rule's output template, rendered.
    pub output: String,
    pub output_fields: BTreeMap<String, serde_json::Value>,
    /// `syscall` for sensor events, `k8s_audit` etc. for others, `kestrel` for self-health.
    pub source: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub hostname: String,
    /// Set when enforcement acted on the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<EnforcementAction>,
    /// How many identical alerts (same rule and container) were folded into this one by rate
    /// limiting, beyond this one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_order_and_parse() {
        assert!(Priority::Critical.at_least(Priority::Warning));
        assert!(!Priority::Notice.at_least(Priority::Warning));
        assert_eq!("WARN".parse::<Priority>().unwrap(), Priority::Warning);
        assert_eq!("info".parse::<Priority>().unwrap(), Priority::Informational);
        assert!("loud".parse::<Priority>().is_err());
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>().unwrap(), p);
        }
    }
}
