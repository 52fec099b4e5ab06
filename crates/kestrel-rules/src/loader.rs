//! Falco rule files: YAML items (`rule`, `macro`, `list`, `required_engine_version`), merged in
//! order with Falco's `append` and `override` semantics, then compiled into a [`RuleSet`].

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use kestrel_event::Priority;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::compile::{self, CompileError, Env};
use crate::output::Template;
use crate::parser::{self, Ast, FieldRef, Literal, Op, Operand};
use crate::{Action, Rule, RuleSet, Warning};

/// The Falco rules engine version whose file format Kestrel implements. Files that require a
/// later version are refused.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 57, 0);

/// Where something is in a rule file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: Arc<str>,
    pub line: u64,
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Errors loading rules. Each names the file and position, and the rule, macro or list at fault.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("cannot read rule file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: invalid rule file: {message}")]
    Yaml { file: Arc<str>, message: String },
    #[error("{location}: {object}: {message}")]
    Invalid {
        location: Location,
        /// `rule "Name"`, `macro "name"` or `list "name"`.
        object: String,
        message: String,
    },
}

/// All the errors of one load; a load with any error loads nothing.
#[derive(Debug)]
pub struct LoadError {
    pub errors: Vec<RuleError>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// One rule file's text and the name it is reported under.
#[derive(Debug, Clone)]
pub struct RuleSource {
    pub name: String,
    pub text: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(n) => write!(f, "{n}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ExcValue {
    List(Vec<ExcValue>),
    One(Scalar),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<String>),
    One(String),
}

#[derive(Debug, Deserialize)]
struct RawException {
    name: String,
    #[serde(default)]
    fields: Option<OneOrMany>,
    #[serde(default)]
    comps: Option<OneOrMany>,
    #[serde(default)]
    values: Option<Vec<ExcValue>>,
}

#[derive(Debug, Deserialize)]
struct RawItem {
    rule: Option<Spanned<String>>,
    #[serde(rename = "macro")]
    macro_: Option<Spanned<String>>,
    list: Option<Spanned<String>>,
    required_engine_version: Option<Spanned<Scalar>>,
    required_plugin_versions: Option<serde::de::IgnoredAny>,
    desc: Option<String>,
    condition: Option<Spanned<String>>,
    output: Option<Spanned<String>>,
    priority: Option<String>,
    tags: Option<Vec<String>>,
    enabled: Option<bool>,
    exceptions: Option<Vec<RawException>>,
    append: Option<bool>,
    #[serde(rename = "override")]
    override_: Option<BTreeMap<String, String>>,
    source: Option<String>,
    items: Option<Vec<Scalar>>,
    /// Kestrel's extension: `kill` enforces the rule in the kernel.
    action: Option<Spanned<String>>,
}

fn loc(file: &Arc<str>, l: serde_saphyr::Location) -> Location {
    Location {
        file: file.clone(),
        line: l.line(),
        column: l.column(),
    }
}

/// A condition built from pieces (definition plus appends), each with where it came from, so
/// that an error in the joined text points into the right file and line.
#[derive(Debug, Clone, Default)]
struct CondText {
    text: String,
    pieces: Vec<(usize, Location, String)>,
}

impl CondText {
    fn new(s: &str, at: Location) -> CondText {
        let mut c = CondText::default();
        c.push(s, at);
        c
    }

    fn push(&mut self, s: &str, at: Location) {
        if !self.text.is_empty() {
            self.text.push(' ');
        }
        self.pieces.push((self.text.len(), at, s.to_owned()));
        self.text.push_str(s);
    }

    /// The file position of byte `pos` of the joined text, and a snippet around it.
    fn locate(&self, pos: usize) -> (Location, String) {
        let (start, at, piece) = self
            .pieces
            .iter()
            .rev()
            .find(|(s, _, _)| *s <= pos)
            .cloned()
            .unwrap_or_else(|| (0, self.pieces[0].1.clone(), self.text.clone()));
        let off = (pos - start).min(piece.len());
        let mut l = at;
        // A single-line plain scalar maps column for column; a block scalar's folding does not,
        // so for those we point at the condition's first line and quote the text instead.
        if !piece.contains('\n') && l.line > 0 {
            l.column += off as u64;
        } else {
            let before = &piece[..off];
            let nl = before.matches('\n').count() as u64;
            if nl > 0 {
                l.line += nl;
                l.column = (off - before.rfind('\n').map_or(0, |i| i + 1)) as u64 + 1;
            }
        }
        let mut a = off.saturating_sub(0);
        while !piece.is_char_boundary(a) {
            a -= 1;
        }
        let mut b = (off + 30).min(piece.len());
        while !piece.is_char_boundary(b) {
            b -= 1;
        }
        (l, piece[a..b].trim_end().replace('\n', " "))
    }
}

#[derive(Debug, Clone)]
struct ExceptionDef {
    name: String,
    fields: Vec<String>,
    comps: Vec<String>,
    values: Vec<Vec<Vec<String>>>,
}

#[derive(Debug, Clone)]
struct RuleDef {
    name: String,
    at: Location,
    desc: String,
    condition: CondText,
    output: String,
    output_at: Location,
    priority: Priority,
    tags: Vec<String>,
    enabled: bool,
    exceptions: Vec<ExceptionDef>,
    source: String,
    action: Option<Action>,
}

#[derive(Debug, Default)]
struct Defs {
    lists: Vec<(String, Vec<String>, Location)>,
    macros: Vec<(String, CondText)>,
    rules: Vec<RuleDef>,
    errors: Vec<RuleError>,
    warnings: Vec<Warning>,
}

fn parse_version(s: &Scalar) -> Option<(u64, u64, u64)> {
    match s {
        Scalar::Int(n) => Some((0, u64::try_from(*n).ok()?, 0)),
        Scalar::Float(x) => parse_version(&Scalar::Str(x.to_string())),
        Scalar::Str(s) => {
            let mut it = s.trim().split('.').map(|p| p.parse::<u64>());
            let a = it.next()?.ok()?;
            let b = it.next().unwrap_or(Ok(0)).ok()?;
            let c = it.next().unwrap_or(Ok(0)).ok()?;
            Some(if s.contains('.') {
                (a, b, c)
            } else {
                (0, a, 0)
            })
        }
        Scalar::Bool(_) => None,
    }
}

fn exceptions_from(raw: Vec<RawException>) -> Result<Vec<ExceptionDef>, String> {
    raw.into_iter()
        .map(|e| {
            let (fields, single) = match e.fields {
                Some(OneOrMany::Many(v)) => (v, false),
                Some(OneOrMany::One(s)) => (vec![s], true),
                None => (Vec::new(), false),
            };
            let comps = match e.comps {
                Some(OneOrMany::Many(v)) => v,
                Some(OneOrMany::One(s)) => vec![s],
                None if single => vec!["in".to_owned()],
                None => vec!["=".to_owned(); fields.len()],
            };
            if comps.len() != fields.len() {
                return Err(format!(
                    "exception {:?}: {} fields but {} comps",
                    e.name,
                    fields.len(),
                    comps.len()
                ));
            }
            let flat = |v: ExcValue| -> Vec<String> {
                match v {
                    ExcValue::One(s) => vec![s.to_string()],
                    ExcValue::List(l) => l
                        .into_iter()
                        .flat_map(|x| match x {
                            ExcValue::One(s) => vec![s.to_string()],
                            ExcValue::List(_) => Vec::new(),
                        })
                        .collect(),
                }
            };
            let mut values = Vec::new();
            for v in e.values.unwrap_or_default() {
                if single {
                    values.push(vec![flat(v)]);
                    continue;
                }
                let ExcValue::List(tuple) = v else {
                    return Err(format!(
                        "exception {:?}: each value must be a list of {} items (one per field)",
                        e.name,
                        fields.len()
                    ));
                };
                if tuple.len() != fields.len() {
                    return Err(format!(
                        "exception {:?}: a value has {} items but there are {} fields",
                        e.name,
                        tuple.len(),
                        fields.len()
                    ));
                }
                values.push(tuple.into_iter().map(flat).collect());
            }
            Ok(ExceptionDef {
                name: e.name,
                fields,
                comps,
                values,
            })
        })
        .collect()
}

fn merge_exceptions(into: &mut Vec<ExceptionDef>, new: Vec<ExceptionDef>) {
    for e in new {
        match into.iter_mut().find(|x| x.name == e.name) {
            Some(x) if e.fields.is_empty() => x.values.extend(e.values),
            Some(x) => *x = e,
            None => into.push(e),
        }
    }
}

impl Defs {
    fn error(&mut self, location: Location, object: String, message: impl Into<String>) {
        self.errors.push(RuleError::Invalid {
            location,
            object,
            message: message.into(),
        });
    }

    fn add_file(&mut self, src: &RuleSource) {
        let file: Arc<str> = src.name.as_str().into();
        if src.text.trim().is_empty() {
            return;
        }
        let items: Vec<Spanned<RawItem>> = match serde_saphyr::from_str(&src.text) {
            Ok(Some(v)) => v,
            Ok(None) => return,
            Err(e) => {
                self.errors.push(RuleError::Yaml {
                    file,
                    message: e.to_string(),
                });
                return;
            }
        };
        for item in items {
            let at = loc(&file, item.referenced);
            self.add_item(&file, at, item.value);
        }
    }

    fn add_item(&mut self, file: &Arc<str>, at: Location, it: RawItem) {
        if let Some(v) = &it.required_engine_version {
            match parse_version(&v.value) {
                Some(req) if req <= ENGINE_VERSION => {}
                Some(req) => self.error(
                    loc(file, v.referenced),
                    "required_engine_version".into(),
                    format!(
                        "the file needs rules engine {}.{}.{}; Kestrel implements {}.{}.{}",
                        req.0, req.1, req.2, ENGINE_VERSION.0, ENGINE_VERSION.1, ENGINE_VERSION.2
                    ),
                ),
                None => self.error(
                    loc(file, v.referenced),
                    "required_engine_version".into(),
                    format!("{} is not a version", v.value),
                ),
            }
            return;
        }
        if it.required_plugin_versions.is_some() {
            return;
        }
        let append = it.append.unwrap_or(false);
        let overrides = it.override_.clone().unwrap_or_default();
        if let Some(name) = &it.list {
            let object = format!("list {:?}", name.value);
            let at = loc(file, name.referenced);
            let Some(items) = it.items else {
                return self.error(at, object, "a list needs items");
            };
            let items: Vec<String> = items
                .iter()
                .map(|s| compile::unquote(&s.to_string()).to_owned())
                .collect();
            let mode = overrides.get("items").map(String::as_str);
            let existing = self.lists.iter_mut().find(|(n, _, _)| *n == name.value);
            match (existing, append || mode == Some("append"), mode) {
                (Some(l), true, _) => l.1.extend(items),
                (None, true, _) => self.error(at, object, "append to a list that is not defined"),
                (Some(l), false, _) => {
                    l.1 = items;
                    l.2 = at;
                }
                (None, false, Some("replace")) => {
                    self.error(at, object, "override of a list that is not defined")
                }
                (None, false, _) => self.lists.push((name.value.clone(), items, at)),
            }
            return;
        }
        if let Some(name) = &it.macro_ {
            let object = format!("macro {:?}", name.value);
            let at = loc(file, name.referenced);
            let Some(cond) = &it.condition else {
                return self.error(at, object, "a macro needs a condition");
            };
            let piece_at = loc(file, cond.referenced);
            let mode = overrides.get("condition").map(String::as_str);
            let existing = self.macros.iter_mut().find(|(n, _)| *n == name.value);
            match (existing, append || mode == Some("append")) {
                (Some(m), true) => m.1.push(&cond.value, piece_at),
                (None, true) => self.error(at, object, "append to a macro that is not defined"),
                (Some(m), false) => m.1 = CondText::new(&cond.value, piece_at),
                (None, false) => self
                    .macros
                    .push((name.value.clone(), CondText::new(&cond.value, piece_at))),
            }
            return;
        }
        if let Some(name) = it.rule.clone() {
            self.add_rule(file, name, it, append, overrides);
            return;
        }
        self.warnings.push(Warning {
            location: at,
            message: "item is not a rule, macro, list or required_engine_version; skipped".into(),
        });
    }

    fn add_rule(
        &mut self,
        file: &Arc<str>,
        name: Spanned<String>,
        it: RawItem,
        append: bool,
        overrides: BTreeMap<String, String>,
    ) {
        let object = format!("rule {:?}", name.value);
        let at = loc(file, name.referenced);
        let exceptions = match it.exceptions.map(exceptions_from).transpose() {
            Ok(e) => e,
            Err(m) => return self.error(at, object, m),
        };
        let priority = match it
            .priority
            .as_deref()
            .map(str::parse::<Priority>)
            .transpose()
        {
            Ok(p) => p,
            Err(e) => return self.error(at, object, e.to_string()),
        };
        let action = match &it.action {
            None => None,
            Some(a) if a.value == "kill" => Some(Action::Kill),
            Some(a) => {
                return self.error(
                    loc(file, a.referenced),
                    object,
                    format!("unknown action {:?} (the only action is kill)", a.value),
                );
            }
        };
        let existing = self.rules.iter().position(|r| r.name == name.value);
        if append || !overrides.is_empty() {
            let Some(i) = existing else {
                return self.error(
                    at,
                    object,
                    "append/override of a rule that is not defined (define it in an earlier file)",
                );
            };
            for (key, mode) in &overrides {
                if !matches!(mode.as_str(), "append" | "replace") {
                    return self.error(
                        at,
                        object,
                        format!("override of {key} must be append or replace, not {mode:?}"),
                    );
                }
                let present = match key.as_str() {
                    "condition" => it.condition.is_some(),
                    "exceptions" => exceptions.is_some(),
                    "output" => it.output.is_some(),
                    "desc" => it.desc.is_some(),
                    "priority" => priority.is_some(),
                    "tags" => it.tags.is_some(),
                    "enabled" => it.enabled.is_some(),
                    "source" => it.source.is_some(),
                    "action" => action.is_some(),
                    _ => {
                        return self.error(at, object, format!("cannot override {key:?}"));
                    }
                };
                if !present {
                    return self.error(
                        at,
                        object,
                        format!("override of {key} without a {key} key"),
                    );
                }
            }
            let mode = |k: &str| -> Option<&str> {
                if append {
                    Some("append")
                } else {
                    overrides.get(k).map(String::as_str)
                }
            };
            let r = &mut self.rules[i];
            if let Some(c) = &it.condition {
                match mode("condition") {
                    Some("append") => r.condition.push(&c.value, loc(file, c.referenced)),
                    _ => r.condition = CondText::new(&c.value, loc(file, c.referenced)),
                }
            }
            if let Some(e) = exceptions {
                match mode("exceptions") {
                    Some("append") => merge_exceptions(&mut r.exceptions, e),
                    _ => r.exceptions = e,
                }
            }
            if let Some(o) = &it.output {
                match mode("output") {
                    Some("append") => {
                        r.output.push(' ');
                        r.output.push_str(o.value.trim());
                    }
                    _ => {
                        r.output = o.value.trim().to_owned();
                        r.output_at = loc(file, o.referenced);
                    }
                }
            }
            if let Some(d) = it.desc {
                r.desc = d;
            }
            if let Some(p) = priority {
                r.priority = p;
            }
            if let Some(t) = it.tags {
                match mode("tags") {
                    Some("append") => r.tags.extend(t),
                    _ => r.tags = t,
                }
            }
            if let Some(e) = it.enabled {
                r.enabled = e;
            }
            if let Some(s) = it.source {
                r.source = s;
            }
            if action.is_some() {
                r.action = action;
            }
            return;
        }
        // `- rule: X` with only `enabled` toggles an existing rule (Falco allows this).
        if let (Some(i), None, Some(en)) = (existing, &it.condition, it.enabled) {
            self.rules[i].enabled = en;
            return;
        }
        let mut missing = Vec::new();
        if it.condition.is_none() {
            missing.push("condition");
        }
        if it.output.is_none() {
            missing.push("output");
        }
        if it.desc.is_none() {
            missing.push("desc");
        }
        if priority.is_none() {
            missing.push("priority");
        }
        if !missing.is_empty() {
            return self.error(at, object, format!("missing {}", missing.join(", ")));
        }
        let cond = it.condition.expect("checked");
        let output = it.output.expect("checked");
        let def = RuleDef {
            name: name.value.clone(),
            at,
            desc: it.desc.unwrap_or_default(),
            condition: CondText::new(&cond.value, loc(file, cond.referenced)),
            output: output.value.trim().to_owned(),
            output_at: loc(file, output.referenced),
            priority: priority.expect("checked"),
            tags: it.tags.unwrap_or_default(),
            enabled: it.enabled.unwrap_or(true),
            exceptions: exceptions.unwrap_or_default(),
            source: it.source.unwrap_or_else(|| "syscall".to_owned()),
            action,
        };
        match existing {
            Some(i) => self.rules[i] = def,
            None => self.rules.push(def),
        }
    }
}

/// The condition `not (t1 or t2 ...)` that an exception adds, as an AST.
fn exception_ast(e: &ExceptionDef) -> Result<Option<Ast>, String> {
    if e.values.is_empty() {
        return Ok(None);
    }
    let fields = e
        .fields
        .iter()
        .map(|f| {
            let mut p = f.trim().splitn(2, '[');
            let name = p.next().unwrap_or_default().to_owned();
            let arg = p.next().map(|a| a.trim_end_matches(']').to_owned());
            FieldRef { name, arg, pos: 0 }
        })
        .collect::<Vec<_>>();
    let ops = e
        .comps
        .iter()
        .map(|c| {
            Op::parse(c.trim())
                .ok_or_else(|| format!("exception {:?}: unknown comparison {c:?}", e.name))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let lit = |s: &str| Literal {
        text: s.to_owned(),
        quoted: false,
        pos: 0,
    };
    let mut alts = Vec::new();
    for tuple in &e.values {
        let mut checks = Vec::new();
        for ((f, op), vals) in fields.iter().zip(&ops).zip(tuple) {
            let value = if op.takes_list() {
                Operand::List(vals.iter().map(|v| lit(v)).collect())
            } else if *op == Op::Exists {
                Operand::None
            } else {
                match vals.as_slice() {
                    [v] => Operand::Single(lit(v)),
                    _ => {
                        return Err(format!(
                            "exception {:?}: comparison {op} on {} takes one value",
                            e.name, f.name
                        ));
                    }
                }
            };
            checks.push(Ast::Check {
                field: f.clone(),
                transformer: None,
                op: *op,
                op_pos: 0,
                value,
            });
        }
        alts.push(if checks.len() == 1 {
            checks.pop().expect("one")
        } else {
            Ast::And(checks)
        });
    }
    Ok(Some(Ast::Not(Box::new(Ast::Or(alts)))))
}

/// Sources Kestrel evaluates; rules for other Falco sources (plugins) are skipped with a warning.
const SOURCES: &[&str] = &["syscall"];

pub(crate) fn load(sources: &[RuleSource]) -> Result<RuleSet, LoadError> {
    let (rules, errors) = load_partial(sources);
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(LoadError { errors })
    }
}

/// Every rule that compiles, and the errors of the others (a rule that fails, or whose macro
/// or list fails, is left out).
pub(crate) fn load_partial(sources: &[RuleSource]) -> (RuleSet, Vec<RuleError>) {
    let mut d = Defs::default();
    for s in sources {
        d.add_file(s);
    }
    let mut env = Env::default();
    // Lists may name lists defined before or after them: expand to a fixed point.
    let raw: HashMap<String, Vec<String>> = d
        .lists
        .iter()
        .map(|(n, items, _)| (n.clone(), items.clone()))
        .collect();
    for (name, _, _) in &d.lists {
        let mut out = Vec::new();
        let mut seen = vec![name.clone()];
        expand_list(name, &raw, &mut out, &mut seen);
        env.lists.insert(name.clone(), out);
    }
    let mut macro_text = HashMap::new();
    for (name, cond) in std::mem::take(&mut d.macros) {
        match parser::parse(&cond.text) {
            Ok(ast) => {
                env.macros.insert(name.clone(), ast);
                macro_text.insert(name, cond);
            }
            Err(e) => {
                let (location, near) = cond.locate(e.pos);
                d.error(
                    location,
                    format!("macro {name:?}"),
                    format!("{} (near {near:?})", e.message),
                );
            }
        }
    }
    let mut rules = Vec::new();
    for r in std::mem::take(&mut d.rules) {
        let object = format!("rule {:?}", r.name);
        if !SOURCES.contains(&r.source.as_str()) {
            d.warnings.push(Warning {
                location: r.at.clone(),
                message: format!("{object}: source {:?} is not supported; skipped", r.source),
            });
            continue;
        }
        let ast = match parser::parse(&r.condition.text) {
            Ok(a) => a,
            Err(e) => {
                let (location, near) = r.condition.locate(e.pos);
                d.error(location, object, format!("{} (near {near:?})", e.message));
                continue;
            }
        };
        let mut full = ast;
        let mut bad = false;
        for e in &r.exceptions {
            match exception_ast(e) {
                Ok(Some(x)) => full = Ast::And(vec![full, x]),
                Ok(None) => {}
                Err(m) => {
                    d.error(r.at.clone(), object.clone(), m);
                    bad = true;
                }
            }
        }
        if bad {
            continue;
        }
        env.unknown_types.borrow_mut().clear();
        let expr = match compile::compile(&full, &env) {
            Ok(x) => x,
            Err(e) => {
                let (location, message) = place(&e, &r, &macro_text);
                d.error(location, object, message);
                continue;
            }
        };
        let output = match Template::parse_lenient(&r.output) {
            Ok((t, missing)) => {
                if !missing.is_empty() {
                    d.warnings.push(Warning {
                        location: r.output_at.clone(),
                        message: format!(
                            "{object}: output fields Kestrel has no data for render as <NA>: {}",
                            missing.join(", ")
                        ),
                    });
                }
                t
            }
            Err(m) => {
                d.error(r.output_at.clone(), object, format!("output: {m}"));
                continue;
            }
        };
        let types = expr.types();
        let unknown = std::mem::take(&mut *env.unknown_types.borrow_mut());
        if types == 0 {
            d.warnings.push(Warning {
                location: r.at.clone(),
                message: format!(
                    "{object} can never match: Kestrel produces none of its event types{}",
                    if unknown.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", unknown.join(", "))
                    }
                ),
            });
        } else if types == compile::ALL_TYPES {
            d.warnings.push(Warning {
                location: r.at.clone(),
                message: format!(
                    "{object} has no evt.type restriction and is evaluated for every event"
                ),
            });
        }
        let kill = match r.action {
            Some(Action::Kill) => match crate::enforce::reduce(&expr, types) {
                Ok(k) => Some(k),
                Err(m) => {
                    d.error(r.at.clone(), object, format!("action kill: {m}"));
                    continue;
                }
            },
            None => None,
        };
        rules.push(Rule {
            name: r.name,
            desc: r.desc,
            priority: r.priority,
            tags: r.tags,
            enabled: r.enabled,
            source: r.source,
            action: r.action,
            location: r.at,
            types,
            expr,
            output,
            kill,
        });
    }
    let set = RuleSet::new(rules, d.warnings, env.lists.len(), env.macros.len());
    (set, d.errors)
}

fn expand_list(
    name: &str,
    raw: &HashMap<String, Vec<String>>,
    out: &mut Vec<String>,
    seen: &mut Vec<String>,
) {
    for item in raw.get(name).map(Vec::as_slice).unwrap_or_default() {
        if raw.contains_key(item) && !seen.contains(item) {
            seen.push(item.clone());
            expand_list(item, raw, out, seen);
        } else {
            out.push(item.clone());
        }
    }
}

fn place(e: &CompileError, r: &RuleDef, macros: &HashMap<String, CondText>) -> (Location, String) {
    match &e.in_macro {
        Some(m) => match macros.get(m) {
            Some(c) => {
                let (l, near) = c.locate(e.pos);
                (l, format!("in macro {m:?}: {} (near {near:?})", e.message))
            }
            None => (r.at.clone(), format!("in macro {m:?}: {}", e.message)),
        },
        None if e.pos == 0 && r.exceptions.iter().any(|x| !x.values.is_empty()) => {
            let (l, near) = r.condition.locate(e.pos);
            (
                l,
                format!(
                    "{} (in the condition or its exceptions, near {near:?})",
                    e.message
                ),
            )
        }
        None => {
            let (l, near) = r.condition.locate(e.pos);
            (l, format!("{} (near {near:?})", e.message))
        }
    }
}
