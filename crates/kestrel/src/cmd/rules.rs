//! `kestrel rules`: validate rule files and show what is loaded.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use kestrel_config::Config;
use kestrel_rules::{RuleSet, RuleSource};

#[derive(Debug, Subcommand)]
pub enum RulesCmd {
    /// Validate rule files: every error with its file, line, column and rule; exit code 1 when
    /// any file fails to load.
    Check(CheckArgs),
    /// List the loaded rules: the built-in rules and `[detection] rules_files`, or the files given.
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Rule files, loaded in order on top of the built-in rules (so that they may append to
    /// and override them).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Check the files alone, without the built-in rules underneath.
    #[arg(long)]
    no_builtin: bool,
    /// Also print warnings (rules that can never match, rules without an evt.type restriction,
    /// unsupported sources).
    #[arg(long, short)]
    verbose: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Rule files to list instead of the configured ones.
    files: Vec<PathBuf>,
    /// Without the built-in rules.
    #[arg(long)]
    no_builtin: bool,
    /// One JSON object per rule.
    #[arg(long)]
    json: bool,
}

fn sources(files: &[PathBuf], builtin: bool) -> anyhow::Result<Vec<RuleSource>> {
    let mut out = if builtin {
        kestrel_rules::default_sources()
    } else {
        Vec::new()
    };
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read rule file {}: {e}", f.display()))?;
        out.push(RuleSource {
            name: f.display().to_string(),
            text,
        });
    }
    Ok(out)
}

pub fn run(cmd: RulesCmd, config: &Config) -> anyhow::Result<ExitCode> {
    match cmd {
        RulesCmd::Check(a) => {
            let srcs = sources(&a.files, !a.no_builtin)?;
            match RuleSet::from_sources(&srcs) {
                Ok(rs) => {
                    if a.verbose {
                        for w in rs.warnings() {
                            println!("warning: {w}");
                        }
                    }
                    let (lists, macros) = rs.definitions();
                    let enabled = rs.rules().iter().filter(|r| r.enabled).count();
                    println!(
                        "ok: {} rules ({enabled} enabled), {macros} macros, {lists} lists, {} warnings",
                        rs.rules().len(),
                        rs.warnings().len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    for err in &e.errors {
                        println!("error: {err}");
                    }
                    // What would load without the failing rules, for rule files written for
                    // Falco: Kestrel itself never runs a partial rule set.
                    let (partial, errors) = RuleSet::from_sources_partial(&srcs);
                    let blocked: std::collections::BTreeSet<&str> = errors
                        .iter()
                        .filter_map(|e| match e {
                            kestrel_rules::RuleError::Invalid { object, .. }
                                if object.starts_with("rule ") =>
                            {
                                Some(object.as_str())
                            }
                            _ => None,
                        })
                        .collect();
                    let loaded = partial.rules().len();
                    println!(
                        "{} errors: nothing loaded ({loaded} of {} rules compile; {} blocked)",
                        e.errors.len(),
                        loaded + blocked.len(),
                        blocked.len()
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
        RulesCmd::List(a) => {
            let (files, builtin) = if a.files.is_empty() {
                (
                    config.detection.rules_files.clone(),
                    config.detection.builtin_rules && !a.no_builtin,
                )
            } else {
                (a.files, !a.no_builtin)
            };
            let rs = RuleSet::from_sources(&sources(&files, builtin)?)
                .map_err(|e| anyhow::anyhow!("rules do not load:\n{e}"))?;
            for r in rs.rules() {
                if a.json {
                    let j = serde_json::json!({
                        "rule": r.name,
                        "priority": r.priority,
                        "enabled": r.enabled,
                        "source": r.source,
                        "event_types": r.event_types(),
                        "tags": r.tags,
                        "action": r.action.map(|_| "kill"),
                        "file": r.location.to_string(),
                        "desc": r.desc,
                    });
                    println!("{j}");
                } else {
                    println!(
                        "{:<13} {:<8} {:<55} {}",
                        r.priority.as_str(),
                        if r.enabled { "enabled" } else { "disabled" },
                        r.name,
                        r.event_types().join(",")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
