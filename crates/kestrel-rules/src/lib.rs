//! Falco-syntax detection rules.
//!
//! This crate owns the rule language and its evaluation: loading Falco rule files (lists, macros,
//! rules, `append`/`override`, exceptions, `required_engine_version`), parsing conditions,
//! compiling them against the field table into matchers indexed by event type, evaluating events,
//! rendering Falco-compatible [`Alert`]s with per-rule, per-container rate limiting, hot reload
//! ([`SharedRules`], [`Reloader`]), and reducing `action: kill` rules to what the kernel
//! enforces ([`KillTargets`]).
//!
//! ```
//! use kestrel_rules::{Engine, RuleSet, RuleSource};
//! let rules = RuleSet::from_sources(&[RuleSource {
//!     name: "my.yaml".into(),
//!     text: "- rule: Shadow read\n  desc: d\n  condition: evt.type=openat and fd.name=/etc/shadow\n  output: \"%proc.name read %fd.name\"\n  priority: WARNING\n".into(),
//! }]).unwrap();
//! let mut engine = Engine::new(rules.into());
//! # let _ = &mut engine;
//! ```
//!
//! Architecture invariant: evaluation never performs I/O and never parses text: everything a
//! condition or output needs is resolved when rules load. Only loading and the reload watcher
//! touch the file system.

mod compile;
mod dns;
mod enforce;
pub mod fields;
mod loader;
mod output;
pub mod parser;
mod ratelimit;
mod reload;

use std::collections::HashMap;
use std::sync::Arc;

use kestrel_event::{Alert, EnforcementAction, Event, Priority};

pub use compile::{IpNet, NCODES, code_name, event_code, type_code};
pub use dns::DnsNames;
pub use enforce::KillTargets;
pub use loader::{ENGINE_VERSION, LoadError, Location, RuleError, RuleSource};
pub use ratelimit::RateLimit;
pub use reload::{Reloader, SharedRules};

/// The default rule files, embedded in the binary and shipped in `rules/`.
pub const DEFAULT_RULE_FILES: &[(&str, &str)] = &[(
    "kestrel_rules.yaml",
    include_str!("../../../rules/kestrel_rules.yaml"),
)];

/// The default rules as sources.
pub fn default_sources() -> Vec<RuleSource> {
    DEFAULT_RULE_FILES
        .iter()
        .map(|(n, t)| RuleSource {
            name: format!("<builtin>/{n}"),
            text: (*t).to_owned(),
        })
        .collect()
}

/// Renders an output template (`%field` placeholders) for one event, for alerts raised outside
/// the rule engine (threat intelligence). Returns the text and the `output_fields` object, which
/// always carries the standard process, container and pod fields the event has.
pub fn render_output(
    template: &str,
    ev: &Event,
    hostname: &str,
) -> Result<
    (
        String,
        std::collections::BTreeMap<String, serde_json::Value>,
    ),
    String,
> {
    let t = output::Template::parse(template)?;
    let users = UserNames::default();
    let cx = fields::Ctx::new(hostname, 0, &users);
    Ok(t.render(ev, &cx))
}

/// What a rule asks enforcement to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Kill,
}

/// A non-fatal finding while loading (a rule that can never match, an unsupported source, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub location: Location,
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// One compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub source: String,
    pub action: Option<Action>,
    /// Where the rule was (last) defined.
    pub location: Location,
    types: compile::TypeMask,
    expr: compile::Expr,
    output: output::Template,
    kill: Option<KillTargets>,
}

impl Rule {
    /// The canonical names of the event types the rule is evaluated for.
    pub fn event_types(&self) -> Vec<&'static str> {
        (0..NCODES)
            .filter(|c| self.types & (1 << c) != 0)
            .map(code_name)
            .collect()
    }

    /// The fields the rule's output names, in order.
    pub fn output_fields(&self) -> Vec<&str> {
        self.output.field_names().collect()
    }

    /// What the kernel kills for this rule, for `action: kill` rules.
    pub fn kill_targets(&self) -> Option<&KillTargets> {
        self.kill.as_ref()
    }
}

/// A loaded, compiled set of rules with its event-type index.
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// For each event code, the enabled rules to evaluate, in file order.
    index: Vec<Vec<u32>>,
    warnings: Vec<Warning>,
    lists: usize,
    macros: usize,
}

impl RuleSet {
    fn new(rules: Vec<Rule>, warnings: Vec<Warning>, lists: usize, macros: usize) -> RuleSet {
        let mut index = vec![Vec::new(); NCODES];
        for (i, r) in rules.iter().enumerate() {
            if !r.enabled {
                continue;
            }
            for (code, slot) in index.iter_mut().enumerate() {
                if r.types & (1 << code) != 0 {
                    slot.push(i as u32);
                }
            }
        }
        RuleSet {
            rules,
            index,
            warnings,
            lists,
            macros,
        }
    }

    /// Loads rule files in order (later files append to and override earlier ones).
    pub fn load(paths: &[std::path::PathBuf]) -> Result<RuleSet, LoadError> {
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for p in paths {
            match std::fs::read_to_string(p) {
                Ok(text) => sources.push(RuleSource {
                    name: p.display().to_string(),
                    text,
                }),
                Err(source) => errors.push(RuleError::Read {
                    path: p.clone(),
                    source,
                }),
            }
        }
        if !errors.is_empty() {
            return Err(LoadError { errors });
        }
        RuleSet::from_sources(&sources)
    }

    /// Loads rule texts in order.
    pub fn from_sources(sources: &[RuleSource]) -> Result<RuleSet, LoadError> {
        loader::load(sources)
    }

    /// Loads what loads: every rule that compiles, and the errors that keep the others out.
    /// For measuring rule files written for Falco; [`RuleSet::from_sources`] is all or nothing.
    pub fn from_sources_partial(sources: &[RuleSource]) -> (RuleSet, Vec<RuleError>) {
        loader::load_partial(sources)
    }

    /// The default rules.
    pub fn defaults() -> Result<RuleSet, LoadError> {
        RuleSet::from_sources(&default_sources())
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// (lists, macros) defined.
    pub fn definitions(&self) -> (usize, usize) {
        (self.lists, self.macros)
    }

    /// All enabled `action: kill` rules reduced to exec-time targets for the kernel kill map.
    pub fn kill_targets(&self) -> KillTargets {
        let mut k = KillTargets::default();
        for r in self.rules.iter().filter(|r| r.enabled) {
            if let Some(t) = &r.kill {
                k.extend(t);
            }
        }
        k
    }
}

/// User names by uid, for `user.name` (read once by the caller, never on the event path).
#[derive(Debug, Clone)]
pub struct UserNames(HashMap<u32, String>);

impl Default for UserNames {
    fn default() -> Self {
        UserNames(HashMap::from([(0, "root".to_owned())]))
    }
}

impl UserNames {
    /// Parses `/etc/passwd` text.
    pub fn from_passwd(text: &str) -> UserNames {
        let mut m = UserNames::default();
        for line in text.lines() {
            let mut f = line.split(':');
            if let (Some(name), _, Some(uid)) = (f.next(), f.next(), f.next())
                && let Ok(uid) = uid.parse()
            {
                m.0.entry(uid).or_insert_with(|| name.to_owned());
            }
        }
        m
    }

    pub fn get(&self, uid: u32) -> Option<&str> {
        self.0.get(&uid).map(String::as_str)
    }
}

/// Enforcement mode for `action: kill` rules (off by default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Enforcement {
    #[default]
    Off,
    /// Report what would have been killed.
    DryRun,
    /// The kernel kills matching execs (the sensor's deny list holds [`RuleSet::kill_targets`]);
    /// alerts record the verdict the sensor attached to the exec.
    Kill,
}

/// Evaluates events against a rule set and produces alerts.
#[derive(Debug)]
pub struct Engine {
    rules: Arc<RuleSet>,
    shared: Option<SharedRules>,
    generation: u64,
    hostname: String,
    users: UserNames,
    num: u64,
    limiter: Option<ratelimit::Limiter>,
    min_priority: Priority,
    enforcement: Enforcement,
    names: DnsNames,
    boot_to_unix_ns: Option<i64>,
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>) -> Engine {
        Engine {
            rules,
            shared: None,
            generation: 0,
            hostname: String::new(),
            users: UserNames::default(),
            num: 0,
            limiter: None,
            min_priority: Priority::Debug,
            enforcement: Enforcement::Off,
            names: DnsNames::default(),
            boot_to_unix_ns: None,
        }
    }

    /// An engine that picks up every rule set stored in `shared` (hot reload).
    pub fn with_shared(shared: SharedRules) -> Engine {
        let (rules, generation) = shared.current();
        let mut e = Engine::new(rules);
        e.generation = generation;
        e.shared = Some(shared);
        e
    }

    pub fn hostname(mut self, h: impl Into<String>) -> Engine {
        self.hostname = h.into();
        self
    }

    pub fn users(mut self, u: UserNames) -> Engine {
        self.users = u;
        self
    }

    pub fn rate_limit(mut self, r: RateLimit) -> Engine {
        self.limiter = Some(ratelimit::Limiter::new(r));
        self
    }

    /// Alerts below this priority are not produced.
    pub fn min_priority(mut self, p: Priority) -> Engine {
        self.min_priority = p;
        self
    }

    pub fn enforcement(mut self, e: Enforcement) -> Engine {
        self.enforcement = e;
        self
    }

    /// Unix time minus boot time in nanoseconds on the machine the events come from: process
    /// start times are boot-clock times, event times are Unix times. Without it `proc.duration`
    /// has no value.
    pub fn boot_clock_offset(mut self, ns: i64) -> Engine {
        self.boot_to_unix_ns = Some(ns);
        self
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    fn refresh(&mut self) {
        if let Some(s) = &self.shared
            && s.generation() != self.generation
        {
            let (r, g) = s.current();
            self.rules = r;
            self.generation = g;
        }
    }

    /// The rules matching `ev`, without rendering or rate limiting.
    pub fn matching(&mut self, ev: &Event) -> Vec<&Rule> {
        self.refresh();
        self.num += 1;
        if let kestrel_event::EventKind::Dns(m) = &ev.kind {
            self.names.learn(ev.ts, m);
        }
        let mut cx = fields::Ctx::new(&self.hostname, self.num, &self.users);
        cx.names = Some(&self.names);
        cx.boot_to_unix_ns = self.boot_to_unix_ns;
        let code = event_code(&ev.kind);
        self.rules.index[code]
            .iter()
            .map(|&i| &self.rules.rules[i as usize])
            .filter(|r| r.priority.at_least(self.min_priority) && r.expr.eval(ev, code, &cx))
            .collect()
    }

    /// Evaluates `ev` and pushes its alerts (after rate limiting) onto `out`.
    pub fn evaluate(&mut self, ev: &Event, out: &mut Vec<Alert>) {
        self.refresh();
        self.num += 1;
        if let kestrel_event::EventKind::Dns(m) = &ev.kind {
            self.names.learn(ev.ts, m);
        }
        let mut cx = fields::Ctx::new(&self.hostname, self.num, &self.users);
        cx.names = Some(&self.names);
        cx.boot_to_unix_ns = self.boot_to_unix_ns;
        let code = event_code(&ev.kind);
        let rules = &self.rules;
        for &i in &rules.index[code] {
            let r = &rules.rules[i as usize];
            if !r.priority.at_least(self.min_priority) || !r.expr.eval(ev, code, &cx) {
                continue;
            }
            let suppressed = match &mut self.limiter {
                Some(l) => match l.admit(&r.name, ev) {
                    Some(n) => n,
                    None => continue,
                },
                None => 0,
            };
            let (output, output_fields) = r.output.render(ev, &cx);
            // What the kernel did is on the event; without a kernel verdict a dry run still
            // reports what would have happened, and enforcement claims nothing it did not see.
            let kernel = ev.process.as_ref().and_then(|p| p.exe.enforcement);
            let action = match (r.action, self.enforcement) {
                (Some(Action::Kill), Enforcement::Off) | (None, _) => None,
                (Some(Action::Kill), Enforcement::DryRun) => {
                    kernel.or(Some(EnforcementAction::WouldKill))
                }
                (Some(Action::Kill), Enforcement::Kill) => kernel,
            };
            out.push(Alert {
                time: fields::rfc3339(ev.ts),
                rule: r.name.clone(),
                priority: r.priority,
                output: format!("{}: {} {}", fields::time_of_day(ev.ts), r.priority, output),
                output_fields,
                source: r.source.clone(),
                tags: r.tags.clone(),
                hostname: self.hostname.clone(),
                action,
                suppressed,
            });
        }
    }

    /// Alerts for floods that ended: the count of alerts suppressed since the last one emitted,
    /// per rule and container, once `now` (event-time nanoseconds) is a full window past them.
    pub fn flush_suppressed(&mut self, now: u64) -> Vec<(String, String, u64)> {
        match &mut self.limiter {
            Some(l) => l.flush(now),
            None => Vec::new(),
        }
    }
}
