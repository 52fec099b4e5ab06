//! From [`Ast`] to [`Expr`]: macros inlined, lists expanded, fields resolved, literals parsed into
//! the field's type, and every operator checked against the field's type. What comes out needs
//! no string parsing and no lookups when an event is evaluated.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use kestrel_event::EventKind;
use regex::Regex;

use crate::fields::{self, Ctx, Field, FieldError, FieldType, Value};
use crate::parser::{Ast, FieldRef, Literal, Op, Operand, Pos};

/// Event type codes: one bit each in a [`TypeMask`].
pub type TypeMask = u64;

/// Syscall-style names accepted in `evt.type`, with the code of the event Kestrel produces for
/// them. Several names share one code where one Kestrel event stands for several syscalls.
const TYPE_NAMES: &[(&str, u8)] = &[
    ("execve", 0),
    ("execveat", 0),
    ("clone", 1),
    ("clone3", 1),
    ("fork", 1),
    ("vfork", 1),
    ("procexit", 2),
    ("open", 3),
    ("openat", 3),
    ("openat2", 3),
    ("creat", 3),
    ("rename", 4),
    ("renameat", 4),
    ("renameat2", 4),
    ("unlink", 5),
    ("unlinkat", 5),
    ("rmdir", 5),
    ("link", 6),
    ("linkat", 6),
    ("symlink", 7),
    ("symlinkat", 7),
    ("chmod", 8),
    ("fchmod", 8),
    ("fchmodat", 8),
    ("chown", 9),
    ("fchown", 9),
    ("lchown", 9),
    ("fchownat", 9),
    ("mmap", 10),
    ("mmap2", 10),
    ("mount", 11),
    ("memfd_create", 12),
    ("connect", 13),
    ("accept", 14),
    ("accept4", 14),
    ("bind", 15),
    ("listen", 16),
    ("socket", 17),
    ("dns", 18),
    ("setuid", 19),
    ("setgid", 20),
    ("setreuid", 21),
    ("setregid", 22),
    ("setresuid", 23),
    ("setresgid", 24),
    ("setfsuid", 25),
    ("setfsgid", 26),
    ("capset", 27),
    ("ptrace", 28),
    ("process_vm_writev", 29),
    ("init_module", 30),
    ("finit_module", 31),
    ("bpf", 32),
    ("unshare", 33),
    ("setns", 34),
    ("sensor", 35),
];

/// Number of event type codes; code `NCODES - 1` is a set-id syscall Kestrel does not name.
pub const NCODES: usize = 37;
/// Every event type.
pub const ALL_TYPES: TypeMask = (1 << NCODES) - 1;

/// The code of a syscall name, `None` for a name Kestrel never produces.
pub fn type_code(name: &str) -> Option<u8> {
    // Looked up for every event: a hash of a short name instead of a scan of the table.
    static CODES: std::sync::OnceLock<HashMap<&'static str, u8, FnvBuild>> =
        std::sync::OnceLock::new();
    CODES
        .get_or_init(|| TYPE_NAMES.iter().copied().collect())
        .get(name)
        .copied()
}

/// The canonical name of each code, for listings.
pub fn code_name(code: usize) -> &'static str {
    TYPE_NAMES
        .iter()
        .find(|(_, c)| usize::from(*c) == code)
        .map_or("setid", |(n, _)| n)
}

/// The code of an event.
pub fn event_code(kind: &EventKind) -> usize {
    match kind {
        EventKind::SetId { syscall, .. } | EventKind::ModuleLoad { syscall, .. } => {
            match type_code(syscall) {
                Some(c) => usize::from(c),
                None if matches!(kind, EventKind::ModuleLoad { .. }) => 30,
                None => NCODES - 1,
            }
        }
        k => type_code(k.type_name()).map_or(NCODES - 1, usize::from),
    }
}

/// An IP network (an address is a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            (IpAddr::V4(_), IpAddr::V6(a)) => {
                a.to_ipv4_mapped().is_some_and(|a| self.contains(a.into()))
            }
            (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// A shell-style glob: `*` any run of characters (including `/`), `?` one character, `[...]`
/// a class (with `!` or `^` negation and ranges).
#[derive(Debug, Clone)]
pub struct Glob {
    pat: Vec<char>,
    /// The pattern's bytes when it is ASCII: then ASCII text is matched byte by byte, without
    /// collecting characters (paths and names nearly always are ASCII).
    ascii: Option<Vec<u8>>,
    fold: bool,
}

impl Glob {
    pub fn new(p: &str, fold: bool) -> Glob {
        let p = if fold { p.to_lowercase() } else { p.to_owned() };
        Glob {
            ascii: p.is_ascii().then(|| p.as_bytes().to_vec()),
            pat: p.chars().collect(),
            fold,
        }
    }

    pub fn matches(&self, s: &str) -> bool {
        if let Some(p) = &self.ascii
            && s.is_ascii()
        {
            return if self.fold {
                glob_match(p, s.as_bytes(), |b: u8| b.to_ascii_lowercase())
            } else {
                glob_match(p, s.as_bytes(), |b| b)
            };
        }
        let owned;
        let s = if self.fold {
            owned = s.to_lowercase();
            &owned
        } else {
            s
        };
        let t: Vec<char> = s.chars().collect();
        glob_match(&self.pat, &t, |c| c)
    }
}

/// Glob matching with `*`, `?` and `[...]` classes, over bytes or characters; `norm` maps each
/// text unit before comparison (ASCII lower-casing for `iglob`).
fn glob_match<T: Copy + Ord + From<u8>>(p: &[T], t: &[T], norm: impl Fn(T) -> T) -> bool {
    let (star_c, any_c, open_c) = (T::from(b'*'), T::from(b'?'), T::from(b'['));
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        let c = norm(t[ti]);
        if pi < p.len() {
            let pc = p[pi];
            if pc == star_c {
                star = Some((pi, ti));
                pi += 1;
                continue;
            }
            if pc == any_c {
                pi += 1;
                ti += 1;
                continue;
            }
            if pc == open_c {
                if let Some((ok, next)) = class(p, pi, c) {
                    if ok {
                        pi = next;
                        ti += 1;
                        continue;
                    }
                } else if c == open_c {
                    pi += 1;
                    ti += 1;
                    continue;
                }
            } else if pc == c {
                pi += 1;
                ti += 1;
                continue;
            }
        }
        match star {
            Some((sp, st)) => {
                pi = sp + 1;
                ti = st + 1;
                star = Some((sp, st + 1));
            }
            None => return false,
        }
    }
    p[pi..].iter().all(|&c| c == star_c)
}

/// Matches `c` against the class starting at `p[i] == '['`: (matched, index after `]`).
fn class<T: Copy + Ord + From<u8>>(p: &[T], i: usize, c: T) -> Option<(bool, usize)> {
    let (close, dash) = (T::from(b']'), T::from(b'-'));
    let mut j = i + 1;
    let neg = p
        .get(j)
        .is_some_and(|&x| x == T::from(b'!') || x == T::from(b'^'));
    if neg {
        j += 1;
    }
    let mut ok = false;
    let mut first = true;
    while j < p.len() && (p[j] != close || first) {
        first = false;
        if j + 2 < p.len() && p[j + 1] == dash && p[j + 2] != close {
            ok |= p[j] <= c && c <= p[j + 2];
            j += 3;
        } else {
            ok |= p[j] == c;
            j += 1;
        }
    }
    (j < p.len()).then_some((ok != neg, j + 1))
}

/// FNV-1a: list members are short names and paths, for which SipHash's collision resistance
/// buys nothing (the lists come from rule files, not from events) and costs time on every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvBuild = std::hash::BuildHasherDefault<Fnv>;

/// A set of strings, linear for a few and hashed for many.
#[derive(Debug, Clone)]
pub enum StrSet {
    Few(Vec<Box<str>>),
    Many(HashSet<Box<str>, FnvBuild>),
}

impl StrSet {
    fn new(items: Vec<String>) -> StrSet {
        if items.len() <= 8 {
            StrSet::Few(items.into_iter().map(String::into_boxed_str).collect())
        } else {
            StrSet::Many(items.into_iter().map(String::into_boxed_str).collect())
        }
    }

    fn contains(&self, s: &str) -> bool {
        match self {
            StrSet::Few(v) => v.iter().any(|x| &**x == s),
            StrSet::Many(h) => h.contains(s),
        }
    }
}

/// A string test.
#[derive(Debug, Clone)]
pub enum StrTest {
    Eq(Box<str>),
    /// A substring search prepared once (SIMD `memmem`), since `contains` on command lines and
    /// paths is the most common test of Falco rules.
    Contains(Box<memchr::memmem::Finder<'static>>),
    IContains(Box<str>),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    BContains(Vec<u8>),
    BStartsWith(Vec<u8>),
    Glob(Glob),
    In(StrSet),
    Pmatch(Vec<Box<str>>),
    Regex(Regex),
    /// `= val(field)`.
    Field(Field),
    /// Any of several tests of one field: an `or` of tests on the same field, merged at load so
    /// that the field is read once.
    Any(Vec<StrTest>),
}

/// A numeric test.
#[derive(Debug, Clone)]
pub enum NumTest {
    Cmp(Op, i64),
    In(Vec<i64>),
}

/// What to test a field's value against.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exists,
    Str(StrTest),
    Num(NumTest),
    Bool(bool),
    Ip(Vec<IpNet>),
}

/// A function applied to a string field before testing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    None,
    Lower,
    Upper,
    Basename,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Const(bool),
    /// `evt.type` in a set of event codes.
    Type(TypeMask),
    Check {
        field: Field,
        transform: Transform,
        /// `!=`: the test is inverted, but a missing value is still false (Falco's semantics).
        negate: bool,
        matcher: Matcher,
    },
}

fn pmatch(prefixes: &[Box<str>], v: &str) -> bool {
    prefixes.iter().any(|p| {
        v == &**p
            || (v.starts_with(&**p)
                && (p.ends_with('/') || v.as_bytes().get(p.len()) == Some(&b'/')))
    })
}

/// Case-insensitive `contains` for a lower-case needle, without allocating for ASCII text.
fn contains_ignore_case(hay: &str, needle: &str) -> bool {
    if !hay.is_ascii() || !needle.is_ascii() {
        return hay.to_lowercase().contains(needle);
    }
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty()
        || h.windows(n.len())
            .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

fn find_bytes(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

impl StrTest {
    fn test(&self, v: &str, ev: &kestrel_event::Event, cx: &Ctx<'_>) -> bool {
        match self {
            StrTest::Eq(x) => v == &**x,
            StrTest::Contains(f) => f.find(v.as_bytes()).is_some(),
            StrTest::IContains(x) => contains_ignore_case(v, x),
            StrTest::StartsWith(x) => v.starts_with(&**x),
            StrTest::EndsWith(x) => v.ends_with(&**x),
            StrTest::BContains(b) => find_bytes(v.as_bytes(), b),
            StrTest::BStartsWith(b) => v.as_bytes().starts_with(b),
            StrTest::Glob(g) => g.matches(v),
            StrTest::In(set) => set.contains(v),
            StrTest::Pmatch(p) => pmatch(p, v),
            StrTest::Regex(r) => r.is_match(v),
            StrTest::Field(f) => fields::extract(f, ev, cx).is_some_and(|o| o.to_string() == v),
            StrTest::Any(tests) => tests.iter().any(|t| t.test(v, ev, cx)),
        }
    }
}

fn num_test(t: &NumTest, n: i64) -> bool {
    match t {
        NumTest::Cmp(op, x) => match op {
            Op::Eq => n == *x,
            Op::Lt => n < *x,
            Op::Le => n <= *x,
            Op::Gt => n > *x,
            Op::Ge => n >= *x,
            _ => false,
        },
        NumTest::In(v) => v.contains(&n),
    }
}

fn transform(t: Transform, v: &str) -> std::borrow::Cow<'_, str> {
    match t {
        Transform::None => v.into(),
        Transform::Lower => v.to_lowercase().into(),
        Transform::Upper => v.to_uppercase().into(),
        Transform::Basename => v.rsplit('/').next().unwrap_or(v).into(),
    }
}

impl Expr {
    /// Evaluates the condition on an event whose code is `code`.
    pub fn eval(&self, ev: &kestrel_event::Event, code: usize, cx: &Ctx<'_>) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.eval(ev, code, cx)),
            Expr::Or(v) => v.iter().any(|e| e.eval(ev, code, cx)),
            Expr::Not(e) => !e.eval(ev, code, cx),
            Expr::Const(b) => *b,
            Expr::Type(m) => m & (1 << code) != 0,
            Expr::Check {
                field,
                transform: tr,
                negate,
                matcher,
            } => {
                let Some(v) = fields::extract(field, ev, cx) else {
                    return false;
                };
                let hit = match (matcher, &v) {
                    (Matcher::Exists, _) => true,
                    (Matcher::Str(t), Value::Str(s)) => t.test(&transform(*tr, s), ev, cx),
                    (Matcher::Str(t), Value::List(l)) => {
                        l.iter().any(|s| t.test(&transform(*tr, s), ev, cx))
                    }
                    (Matcher::Str(t), other) => t.test(&other.to_string(), ev, cx),
                    (Matcher::Num(t), Value::Int(n)) => num_test(t, *n),
                    (Matcher::Num(t), Value::Int2(a, b)) => num_test(t, *a) || num_test(t, *b),
                    (Matcher::Bool(b), Value::Bool(x)) => b == x,
                    (Matcher::Ip(nets), Value::Ip(ip)) => nets.iter().any(|n| n.contains(*ip)),
                    (Matcher::Ip(nets), Value::Ip2(a, b)) => {
                        nets.iter().any(|n| n.contains(*a) || n.contains(*b))
                    }
                    _ => false,
                };
                hit != *negate
            }
        }
    }

    /// The event types for which this condition can be true (a superset).
    pub fn types(&self) -> TypeMask {
        match self {
            Expr::And(v) => v.iter().fold(ALL_TYPES, |m, e| m & e.types()),
            Expr::Or(v) => v.iter().fold(0, |m, e| m | e.types()),
            Expr::Not(e) => match &**e {
                Expr::Type(m) => ALL_TYPES & !m,
                Expr::Const(b) => {
                    if *b {
                        0
                    } else {
                        ALL_TYPES
                    }
                }
                _ => ALL_TYPES,
            },
            Expr::Const(false) => 0,
            Expr::Const(true) => ALL_TYPES,
            Expr::Type(m) => *m,
            Expr::Check { .. } => ALL_TYPES,
        }
    }

    /// Direct conjuncts (the expression itself when it is not an `and`).
    pub fn conjuncts(&self) -> &[Expr] {
        match self {
            Expr::And(v) => v,
            e => std::slice::from_ref(e),
        }
    }
}

/// A compile error at a byte offset of the condition being compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub pos: Pos,
    pub message: String,
    /// The macro whose condition holds the error, `None` for the condition itself.
    pub in_macro: Option<String>,
}

/// Lists and macros visible to conditions.
#[derive(Debug, Default)]
pub struct Env {
    pub lists: HashMap<String, Vec<String>>,
    pub macros: HashMap<String, Ast>,
    /// `evt.type` names used that Kestrel never produces, for warnings.
    pub unknown_types: std::cell::RefCell<Vec<String>>,
}

/// Falco lets list items carry their own quotes (`'"(systemd)"'`).
pub fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

struct Compiler<'e> {
    env: &'e Env,
    stack: Vec<String>,
}

/// Compiles a parsed condition.
pub fn compile(ast: &Ast, env: &Env) -> Result<Expr, CompileError> {
    let mut c = Compiler {
        env,
        stack: Vec::new(),
    };
    c.expr(ast).map(fold)
}

fn err(pos: Pos, message: String) -> CompileError {
    CompileError {
        pos,
        message,
        in_macro: None,
    }
}

impl Compiler<'_> {
    fn expr(&mut self, ast: &Ast) -> Result<Expr, CompileError> {
        Ok(match ast {
            Ast::And(v) => Expr::And(v.iter().map(|a| self.expr(a)).collect::<Result<_, _>>()?),
            Ast::Or(v) => Expr::Or(v.iter().map(|a| self.expr(a)).collect::<Result<_, _>>()?),
            Ast::Not(a) => Expr::Not(Box::new(self.expr(a)?)),
            Ast::Macro { name, pos } => {
                let Some(body) = self.env.macros.get(name) else {
                    return Err(err(*pos, format!("undefined macro {name:?}")));
                };
                if self.stack.contains(name) {
                    return Err(err(
                        *pos,
                        format!("macro {name:?} refers to itself through {:?}", self.stack),
                    ));
                }
                self.stack.push(name.clone());
                let r = self.expr(body).map_err(|mut e| {
                    if e.in_macro.is_none() {
                        e.in_macro = Some(name.clone());
                    }
                    e
                });
                self.stack.pop();
                r?
            }
            Ast::Check {
                field,
                transformer,
                op,
                op_pos,
                value,
            } => self.check(field, transformer.as_deref(), *op, *op_pos, value)?,
        })
    }

    /// The literal strings of an operand, with list names expanded.
    fn strings(&self, value: &Operand) -> Vec<(String, Pos)> {
        let mut out = Vec::new();
        let mut push = |l: &Literal| match self.env.lists.get(&l.text).filter(|_| !l.quoted) {
            Some(items) => out.extend(items.iter().map(|i| (i.clone(), l.pos))),
            None => out.push((l.text.clone(), l.pos)),
        };
        match value {
            Operand::Single(l) => push(l),
            Operand::List(v) => v.iter().for_each(push),
            Operand::None | Operand::Field(_) => {}
        }
        out
    }

    fn check(
        &mut self,
        fref: &FieldRef,
        transformer: Option<&str>,
        op: Op,
        op_pos: Pos,
        value: &Operand,
    ) -> Result<Expr, CompileError> {
        let (mut field, mut ty) = fields::resolve(&fref.name, fref.arg.as_deref()).map_err(|e| match e {
            FieldError::Unknown if fields::FALCO_FIELDS_WITHOUT_DATA.contains(&fref.name.as_str()) => err(
                fref.pos,
                format!("unsupported field {fref}: Kestrel's events carry no data for this Falco field"),
            ),
            FieldError::Unknown => err(fref.pos, format!("unsupported field {fref}")),
            FieldError::BadArg(m) => err(fref.pos, m),
        })?;
        // Falco renders the uid argument with the user's name, so rules compare it with names
        // (`evt.arg.uid=nobody`); such a comparison reads the name.
        if field == Field::EvtArg(fields::EvtArg::Uid)
            && matches!(value, Operand::Single(_) | Operand::List(_))
            && self
                .strings(value)
                .iter()
                .any(|(v, _)| parse_int(v).is_none())
        {
            field = Field::EvtArgUserName;
            ty = FieldType::Str;
        }
        let tr = match transformer {
            None => Transform::None,
            Some("tolower") => Transform::Lower,
            Some("toupper") => Transform::Upper,
            Some("basename") => Transform::Basename,
            Some(t) => return Err(err(fref.pos, format!("unsupported transformer {t}()"))),
        };
        if tr != Transform::None && !matches!(ty, FieldType::Str | FieldType::StrList) {
            return Err(err(
                fref.pos,
                format!("{transformer:?} needs a string field, {fref} is a {ty}"),
            ));
        }
        if op == Op::Exists {
            return Ok(Expr::Check {
                field,
                transform: tr,
                negate: false,
                matcher: Matcher::Exists,
            });
        }
        if matches!(value, Operand::List(_)) && !op.takes_list() {
            return Err(err(
                op_pos,
                format!("operator {op} takes one value, not a list"),
            ));
        }
        if let Operand::Field(other) = value {
            let (of, _) = fields::resolve(&other.name, other.arg.as_deref())
                .map_err(|_| err(other.pos, format!("unsupported field {other}")))?;
            if !matches!(op, Op::Eq | Op::Ne) {
                return Err(err(
                    op_pos,
                    format!("val() is supported with = and != only, not {op}"),
                ));
            }
            return Ok(Expr::Check {
                field,
                transform: tr,
                negate: op == Op::Ne,
                matcher: Matcher::Str(StrTest::Field(of)),
            });
        }
        let vals = self.strings(value);
        let negate = op == Op::Ne;
        let base = if negate { Op::Eq } else { op };
        let bad_op = || {
            err(
                op_pos,
                format!("operator {op} does not apply to {fref}, a {ty} field"),
            )
        };
        let one = || -> Result<&(String, Pos), CompileError> {
            match vals.as_slice() {
                [v] => Ok(v),
                _ => Err(err(
                    op_pos,
                    format!("operator {op} needs exactly one value"),
                )),
            }
        };
        // evt.type equality and membership become a bit test on the event's code.
        if field == Field::EvtType && matches!(base, Op::Eq | Op::In | Op::Intersects) {
            let mut mask = 0;
            for (name, pos) in &vals {
                match type_code(name) {
                    Some(c) => mask |= 1 << c,
                    None if name
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
                    {
                        self.env.unknown_types.borrow_mut().push(name.clone());
                    }
                    None => return Err(err(*pos, format!("{name:?} is not an event type"))),
                }
            }
            let e = Expr::Type(mask);
            return Ok(if negate { Expr::Not(Box::new(e)) } else { e });
        }
        let matcher = match ty {
            FieldType::Str | FieldType::StrList => {
                let lower = tr == Transform::Lower;
                let t = match base {
                    Op::Eq => StrTest::Eq(one()?.0.clone().into()),
                    Op::Contains => StrTest::Contains(Box::new(
                        memchr::memmem::Finder::new(one()?.0.as_bytes()).into_owned(),
                    )),
                    Op::IContains => StrTest::IContains(one()?.0.to_lowercase().into()),
                    Op::StartsWith => StrTest::StartsWith(one()?.0.clone().into()),
                    Op::EndsWith => StrTest::EndsWith(one()?.0.clone().into()),
                    Op::BContains | Op::BStartsWith => {
                        let (hex, pos) = one()?;
                        let bytes = decode_hex(hex).ok_or_else(|| {
                            err(*pos, format!("{op} needs hex bytes, found {hex:?}"))
                        })?;
                        if base == Op::BContains {
                            StrTest::BContains(bytes)
                        } else {
                            StrTest::BStartsWith(bytes)
                        }
                    }
                    Op::Glob => StrTest::Glob(Glob::new(&one()?.0, false)),
                    Op::IGlob => StrTest::Glob(Glob::new(&one()?.0, true)),
                    Op::In | Op::Intersects => StrTest::In(StrSet::new(
                        vals.iter()
                            .map(|(v, _)| if lower { v.to_lowercase() } else { v.clone() })
                            .collect(),
                    )),
                    Op::Pmatch => {
                        StrTest::Pmatch(vals.iter().map(|(v, _)| v.clone().into()).collect())
                    }
                    Op::Regex => {
                        let (re, pos) = one()?;
                        StrTest::Regex(Regex::new(re).map_err(|e| {
                            err(*pos, format!("invalid regular expression {re:?}: {e}"))
                        })?)
                    }
                    Op::Lt | Op::Le | Op::Gt | Op::Ge => return Err(bad_op()),
                    Op::Ne | Op::Exists => unreachable!("handled above"),
                };
                Matcher::Str(t)
            }
            FieldType::Int => {
                let nums = vals
                    .iter()
                    .map(|(v, pos)| {
                        parse_int(v)
                            .ok_or_else(|| err(*pos, format!("{fref} is a number, {v:?} is not")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                match base {
                    Op::Eq | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                        one()?;
                        Matcher::Num(NumTest::Cmp(base, nums[0]))
                    }
                    Op::In | Op::Intersects => Matcher::Num(NumTest::In(nums)),
                    _ => return Err(bad_op()),
                }
            }
            FieldType::Bool => match base {
                Op::Eq => {
                    let (v, pos) = one()?;
                    Matcher::Bool(match v.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(err(*pos, format!("{fref} is true or false, not {v:?}"))),
                    })
                }
                _ => return Err(bad_op()),
            },
            FieldType::Ip => match base {
                Op::Eq | Op::In | Op::Intersects => Matcher::Ip(
                    vals.iter()
                        .map(|(v, pos)| {
                            IpNet::parse(v).ok_or_else(|| {
                                err(
                                    *pos,
                                    format!("{fref} takes an IP address or network, not {v:?}"),
                                )
                            })
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(bad_op()),
            },
        };
        Ok(Expr::Check {
            field,
            transform: tr,
            negate,
            matcher,
        })
    }
}

fn parse_int(s: &str) -> Option<i64> {
    match s.strip_prefix("0x") {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Constant folding: a Kestrel event is one completed syscall carrying both its arguments and its
/// result, so it is Falco's enter (`>`) and exit (`<`) event at once and `evt.dir = <` or
/// `evt.dir = >` always holds. Nested
/// `and`/`or` flatten, so that evaluation does less work.
fn fold(e: Expr) -> Expr {
    match e {
        Expr::And(v) => {
            let mut out = Vec::new();
            for x in v.into_iter().map(fold) {
                match x {
                    Expr::Const(true) => {}
                    Expr::Const(false) => return Expr::Const(false),
                    Expr::And(inner) => out.extend(inner),
                    x => out.push(x),
                }
            }
            // Cheapest and most selective first: the type test, then positive tests of specific
            // fields, then compound terms, then tests almost every event of its type passes
            // (open flags, `container`), then negations (exceptions, rarely true). `and` has no
            // side effects and a missing field is false wherever it sits, so order is free.
            out.sort_by_key(rank);
            match out.len() {
                0 => Expr::Const(true),
                1 => out.pop().expect("one"),
                _ => Expr::And(out),
            }
        }
        Expr::Or(v) => {
            let mut out = Vec::new();
            for x in v.into_iter().map(fold) {
                match x {
                    Expr::Const(false) => {}
                    Expr::Const(true) => return Expr::Const(true),
                    Expr::Or(inner) => out.extend(inner),
                    x => out.push(x),
                }
            }
            let mut out = merge_same_field(out);
            match out.len() {
                0 => Expr::Const(false),
                1 => out.pop().expect("one"),
                _ => Expr::Or(out),
            }
        }
        Expr::Not(x) => match fold(*x) {
            Expr::Const(b) => Expr::Const(!b),
            x => Expr::Not(Box::new(x)),
        },
        Expr::Check {
            field: Field::EvtDir,
            negate,
            matcher: Matcher::Str(StrTest::Eq(v)),
            ..
        } => Expr::Const(matches!(&*v, "<" | ">") != negate),
        e => e,
    }
}

/// Merges the positive string tests of an `or` that read the same field (with the same
/// transformer) into one test: `fd.name startswith /a or fd.name startswith /b or fd.name = /c`
/// reads `fd.name` once, and equalities become one set lookup. `or` has no side effects and a
/// missing field fails every test alike, so the merge keeps the meaning.
fn merge_same_field(terms: Vec<Expr>) -> Vec<Expr> {
    let mut out: Vec<Expr> = Vec::with_capacity(terms.len());
    for t in terms {
        let target = match &t {
            Expr::Check {
                field,
                transform,
                negate: false,
                matcher: Matcher::Str(st),
            } if !matches!(st, StrTest::Field(_)) => out.iter().position(|o| {
                matches!(o, Expr::Check {
                    field: f2,
                    transform: t2,
                    negate: false,
                    matcher: Matcher::Str(s2),
                } if f2 == field && t2 == transform && !matches!(s2, StrTest::Field(_)))
            }),
            _ => None,
        };
        match (target, t) {
            (
                Some(i),
                Expr::Check {
                    matcher: Matcher::Str(new),
                    ..
                },
            ) => {
                if let Expr::Check {
                    matcher: Matcher::Str(prev),
                    ..
                } = &mut out[i]
                {
                    let old = std::mem::replace(prev, StrTest::Any(Vec::new()));
                    *prev = combine(old, new);
                }
            }
            (_, t) => out.push(t),
        }
    }
    out
}

/// One test holding when `a` or `b` does; equalities and sets become one set.
fn combine(a: StrTest, b: StrTest) -> StrTest {
    let mut tests = Vec::new();
    for t in [a, b] {
        match t {
            StrTest::Any(v) => tests.extend(v),
            t => tests.push(t),
        }
    }
    let mut members: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    for t in tests {
        match t {
            StrTest::Eq(x) => members.push(x.into()),
            StrTest::In(StrSet::Few(v)) => members.extend(v.into_iter().map(String::from)),
            StrTest::In(StrSet::Many(h)) => members.extend(h.into_iter().map(String::from)),
            t => rest.push(t),
        }
    }
    members.sort();
    members.dedup();
    match members.len() {
        0 => {}
        1 => rest.insert(0, StrTest::Eq(members.pop().expect("one").into())),
        _ => rest.insert(0, StrTest::In(StrSet::new(members))),
    }
    if rest.len() == 1 {
        rest.pop().expect("one")
    } else {
        StrTest::Any(rest)
    }
}

fn rank(e: &Expr) -> u8 {
    match e {
        Expr::Type(_) | Expr::Const(_) => 0,
        Expr::Check { field, negate, .. } => match field {
            Field::EvtIsOpenRead
            | Field::EvtIsOpenWrite
            | Field::EvtIsOpenExec
            | Field::FdTypechar
            | Field::FdType
            | Field::FdNum
            | Field::EvtRes
            | Field::EvtRawRes
            | Field::EvtFailed
            | Field::FdL4proto
            | Field::ContainerId
            | Field::ContainerFullId => 3,
            _ if *negate => 3,
            _ => 1,
        },
        Expr::And(_) | Expr::Or(_) => 2,
        Expr::Not(_) => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = |p: &str, s: &str| Glob::new(p, false).matches(s);
        assert!(g("/etc/*", "/etc/shadow"));
        assert!(g("*.sh", "/tmp/a/b.sh"));
        assert!(g("/dev/sh?", "/dev/shm"));
        assert!(g("[a-c]x", "bx"));
        assert!(!g("[!a-c]x", "bx"));
        assert!(!g("/etc/*", "/tmp/x"));
        assert!(Glob::new("*.SH", true).matches("a.sh"));
    }

    #[test]
    fn nets() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(
            IpNet::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(
            IpNet::parse("fd00::/8")
                .unwrap()
                .contains("fd12::1".parse().unwrap())
        );
        assert!(IpNet::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn prefixes() {
        let p: Vec<Box<str>> = vec!["/usr/bin".into(), "/tmp/".into()];
        assert!(pmatch(&p, "/usr/bin/ls"));
        assert!(pmatch(&p, "/usr/bin"));
        assert!(!pmatch(&p, "/usr/binx"));
        assert!(pmatch(&p, "/tmp/x"));
    }
}
