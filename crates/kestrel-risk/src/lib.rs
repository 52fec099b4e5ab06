//! Runtime-aware risk: rank vulnerability findings by what is running, loaded, exposed, in
//! production and attacked, and say why in words.
//!
//! The inputs are typed facts: a workload's vulnerability findings (from the matcher), which of
//! its packages' files its processes executed, mapped or opened ([`usage::UsageTracker`], fed
//! from sensor events and a `/proc` snapshot), its exposure, its environment and the alerts
//! raised on it. [`rank`] turns them into [`RiskFinding`]s ordered by [`score::score`], whose
//! formula is documented in `docs/risk.md`. [`vex`] exports the ranking as OpenVEX.
//!
//! Architecture invariant: ranking is a pure function of its inputs. Nothing here talks to the
//! kernel, the network, a database or the container runtime; [`usage`] only consumes events and
//! paths handed to it. Absence of runtime evidence is never turned into proof: a package not seen
//! in use during a short observation is "unknown", and VEX never says `not_affected` on runtime
//! evidence alone.

pub mod exposure;
pub mod rank;
pub mod score;
pub mod signals;
pub mod usage;
pub mod vex;

pub use rank::{RiskFinding, RiskInput, VulnFinding, Workload, rank};
pub use score::{Score, score};
pub use signals::{
    Attacked, Environment, EnvironmentMap, Evidence, EvidenceKind, Exploitability, Exposure,
    ExposureRoute, InUse, ListenSocket,
};
pub use usage::{PackageKey, UsageTracker, is_evidence_path, touched_file};
