//! Reduction of `action: kill` rules to what the kernel can check at exec time: a set of
//! executable paths and process names. The sensor loads these into its kill map; a rule whose
//! condition cannot be reduced is refused at load, so enforcement never silently widens or
//! narrows what the rule says.

use crate::compile::{self, Expr, Matcher, StrSet, StrTest, TypeMask};
use crate::fields::Field;

/// What a kill rule reduces to. An exec is killed when its executable path is in `exe_paths`
/// or its name is in `names`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KillTargets {
    pub exe_paths: Vec<String>,
    pub names: Vec<String>,
}

impl KillTargets {
    pub fn is_empty(&self) -> bool {
        self.exe_paths.is_empty() && self.names.is_empty()
    }

    pub fn extend(&mut self, other: &KillTargets) {
        for p in &other.exe_paths {
            if !self.exe_paths.contains(p) {
                self.exe_paths.push(p.clone());
            }
        }
        for n in &other.names {
            if !self.names.contains(n) {
                self.names.push(n.clone());
            }
        }
    }
}

fn strings(t: &StrTest) -> Option<Vec<String>> {
    match t {
        StrTest::Eq(s) => Some(vec![s.to_string()]),
        StrTest::In(StrSet::Few(v)) => Some(v.iter().map(|s| s.to_string()).collect()),
        StrTest::In(StrSet::Many(h)) => {
            let mut v: Vec<String> = h.iter().map(|s| s.to_string()).collect();
            v.sort();
            Some(v)
        }
        _ => None,
    }
}

/// Reduces a kill rule's condition. The rule must match exec events only, and one of its
/// top-level `and` terms must be `proc.exepath`/`proc.name` `=`/`in` literals.
pub fn reduce(expr: &Expr, types: TypeMask) -> Result<KillTargets, String> {
    let exec = 1 << compile::type_code("execve").expect("execve is a type");
    if types != exec {
        return Err(
            "a kill rule must match exec events only (evt.type in (execve, execveat))".into(),
        );
    }
    let mut found: Option<KillTargets> = None;
    for term in expr.conjuncts() {
        let reduced = match term {
            Expr::Type(_) => continue,
            Expr::Check {
                field,
                negate: false,
                matcher: Matcher::Str(t),
                ..
            } => match (field, strings(t)) {
                (Field::ProcExePath, Some(v)) if v.iter().any(|p| !p.starts_with('/')) => {
                    return Err(format!(
                        "proc.exepath {:?} is not an absolute path, which the kernel needs to find the file",
                        v.iter().find(|p| !p.starts_with('/')).expect("checked")
                    ));
                }
                (Field::ProcExePath, Some(v)) => Some(KillTargets {
                    exe_paths: v,
                    names: Vec::new(),
                }),
                (Field::ProcName, Some(v)) => {
                    // proc.name is the kernel's task name, at most 15 bytes: a longer name
                    // never matches, and the kernel map could only hold a truncated one.
                    if let Some(long) = v.iter().find(|n| n.len() > 15 || n.is_empty()) {
                        return Err(format!(
                            "proc.name {long:?} can never match: a process name is the kernel's task name, 1 to 15 bytes (use proc.exepath for longer names)"
                        ));
                    }
                    Some(KillTargets {
                        exe_paths: Vec::new(),
                        names: v,
                    })
                }
                _ => None,
            },
            _ => None,
        };
        match (reduced, &found) {
            (Some(k), None) => found = Some(k),
            _ => {
                return Err("a kill rule may only combine evt.type with one `proc.exepath in (...)` or `proc.name in (...)` term: the kernel cannot check anything else, and killing on less than the rule says would widen it".into());
            }
        }
    }
    if let Some(k) = found {
        return Ok(k);
    }
    Err("the condition needs a top-level `proc.exepath in (...)` or `proc.name in (...)` term the kernel can enforce".into())
}
