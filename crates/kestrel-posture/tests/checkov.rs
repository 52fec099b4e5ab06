//! Side by side with Checkov: on the same manifests, for every Checkov Kubernetes check in our
//! crosswalk, Kestrel flags every resource Checkov flags, or `checkov/known-differences.txt`
//! says why Checkov is wrong there.
//!
//! Checkov is found at `$KESTREL_CHECKOV`, else `/opt/kestrel-checkov/bin/checkov` (what
//! `tests/checkov/install.sh` creates). Without it the test reports that it did not compare
//! and passes, except under CI (`CI` set), where Checkov must be installed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use kestrel_k8s::Inventory;
use kestrel_k8s::load::load_path;
use kestrel_k8s::rbac::Rbac;
use kestrel_posture::{catalog, scan};

fn checkov() -> Option<PathBuf> {
    let p = std::env::var_os("KESTREL_CHECKOV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/kestrel-checkov/bin/checkov"));
    p.exists().then_some(p)
}

/// `Kind.namespace.name`, Checkov's resource id (namespace `default` when unset).
fn resource_id(kind: &str, ns: Option<&str>, name: &str) -> String {
    format!("{kind}.{}.{name}", ns.unwrap_or("default"))
}

#[test]
fn kestrel_flags_everything_checkov_flags() {
    let Some(checkov) = checkov() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Checkov is required in CI: run crates/kestrel-posture/tests/checkov/install.sh"
        );
        eprintln!("checkov not installed: side-by-side comparison not run");
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let out = Command::new(&checkov)
        .args(["-d"])
        .arg(&root)
        .args([
            "--framework",
            "kubernetes",
            "-o",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ])
        .output()
        .expect("run checkov");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let report = if report.is_array() {
        report[0].clone()
    } else {
        report
    };

    let ours: BTreeSet<&str> = catalog::ALL
        .iter()
        .flat_map(|c| c.crosswalk.checkov.iter().copied())
        .collect();
    let known: BTreeSet<(String, String, String)> = include_str!("checkov/known-differences.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split_whitespace();
            let t = (
                f.next().unwrap().to_owned(),
                f.next().unwrap().to_owned(),
                f.next().unwrap().to_owned(),
            );
            assert!(l.contains(" # "), "known difference without a reason: {l}");
            t
        })
        .collect();

    // (file, checkov id) -> resources Kestrel flags with a check crosswalked to that id.
    let mut kestrel: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    let mut compared = 0;
    let mut missed = Vec::new();
    let mut used_known = BTreeSet::new();
    for f in report["results"]["failed_checks"]
        .as_array()
        .expect("failed_checks")
    {
        let id = f["check_id"].as_str().unwrap();
        if !ours.contains(id) {
            continue;
        }
        let file = f["file_path"]
            .as_str()
            .unwrap()
            .trim_start_matches('/')
            .to_owned();
        let resource = f["resource"].as_str().unwrap().to_owned();
        let key = (file.clone(), id.to_owned());
        if !kestrel.contains_key(&key) {
            let mut inv = Inventory::new();
            load_path(&mut inv, &root.join(&file)).unwrap();
            let r = scan(&inv);
            let rbac = Rbac::build(&inv);
            for fd in &r.findings {
                // Checkov flags role definitions; Kestrel reports the binding that grants the
                // role (an unbound role grants nothing), which covers the role it binds.
                let mut ids = vec![resource_id(
                    fd.resource.kind.as_str(),
                    fd.resource.namespace.as_deref(),
                    &fd.resource.name,
                )];
                if let Some(g) = rbac.grants.iter().find(|g| g.binding == fd.resource) {
                    ids.push(resource_id(
                        g.role.kind.as_str(),
                        g.role.namespace.as_deref(),
                        &g.role.name,
                    ));
                }
                for cid in fd.check.crosswalk.checkov {
                    kestrel
                        .entry((file.clone(), cid.to_string()))
                        .or_default()
                        .extend(ids.iter().cloned());
                }
            }
            kestrel.entry(key.clone()).or_default();
        }
        compared += 1;
        let flagged = kestrel[&key].contains(&resource);
        let k = (id.to_owned(), file.clone(), resource.clone());
        if flagged {
            assert!(
                !known.contains(&k),
                "{id} {file} {resource} is listed as a known difference but Kestrel flags it now"
            );
        } else if known.contains(&k) {
            used_known.insert(k);
        } else {
            missed.push(format!("{id} {file} {resource}"));
        }
    }
    let stale: Vec<_> = known.difference(&used_known).collect();
    eprintln!(
        "compared {compared} Checkov failures; {} documented differences",
        used_known.len()
    );
    assert!(
        missed.is_empty(),
        "Checkov flags these and Kestrel does not (fix Kestrel or document why in known-differences.txt):\n{}",
        missed.join("\n")
    );
    assert!(
        stale.is_empty(),
        "known differences Checkov no longer reports: {stale:?}"
    );
    assert!(
        compared > 100,
        "too few comparisons ({compared}): is the crosswalk empty?"
    );
}
