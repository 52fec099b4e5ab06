//! Measures how much of a Falco rule file Kestrel loads: every rule that fails is listed with
//! the field or operator that blocks it, and every loaded rule that can never match is listed
//! with the event types Kestrel does not produce.
//!
//! `cargo run -p kestrel-rules --example falco_compat -- falco_rules.yaml [more.yaml ...]`

use std::collections::BTreeMap;

use kestrel_rules::{RuleError, RuleSet, RuleSource};

fn main() {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let sources: Vec<RuleSource> = files
        .iter()
        .map(|f| RuleSource {
            name: f.clone(),
            text: std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{f}: {e}")),
        })
        .collect();
    let total: usize = sources
        .iter()
        .map(|s| s.text.lines().filter(|l| l.starts_with("- rule:")).count())
        .sum();
    let errors = match RuleSet::from_sources(&sources) {
        Ok(rs) => {
            report_loaded(&rs);
            Vec::new()
        }
        Err(e) => e.errors,
    };
    let mut blocked: BTreeMap<String, String> = BTreeMap::new();
    let mut other = Vec::new();
    for e in &errors {
        match e {
            RuleError::Invalid {
                object, message, ..
            } if object.starts_with("rule ") => {
                blocked.insert(object.clone(), message.clone());
            }
            e => other.push(e.to_string()),
        }
    }
    println!("rule items in files: {total}");
    println!("blocked: {}", blocked.len());
    for (r, m) in &blocked {
        println!("  {r}: {m}");
    }
    for o in other {
        println!("  other error: {o}");
    }
    if !blocked.is_empty() {
        // Load again without the blocked rules to report on the ones that load.
        let mut texts = sources.clone();
        for t in &mut texts {
            for r in blocked.keys() {
                let name = r.trim_start_matches("rule ").trim_matches('"');
                if let Some(start) = t.text.find(&format!("- rule: {name}\n")) {
                    let end = t.text[start + 2..]
                        .find("\n- ")
                        .map_or(t.text.len(), |i| start + 2 + i + 1);
                    t.text.replace_range(start..end, "");
                }
            }
        }
        match RuleSet::from_sources(&texts) {
            Ok(rs) => report_loaded(&rs),
            Err(e) => println!("  (second pass still fails: {e})"),
        }
    }
}

fn report_loaded(rs: &RuleSet) {
    println!(
        "loaded: {} rules ({} macros, {} lists)",
        rs.rules().len(),
        rs.definitions().1,
        rs.definitions().0
    );
    for w in rs.warnings() {
        println!("  warning: {w}");
    }
}
