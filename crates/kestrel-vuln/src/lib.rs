//! Exact vulnerability matching: which advisories really apply to an inventory's packages.
//!
//! [`match_packages`] takes the packages (however they were found) and a [`Snapshot`] of the
//! advisory database and returns [`Finding`]s:
//! - a package is looked up under its own ecosystem only; OS packages (dpkg, apk, rpm) only
//!   against their vendor's advisories for the same release, Debian and Ubuntu ones by their
//!   source package; a language package whose files an OS package owns is left to the OS
//!   vendor's advisories, so no file is matched twice;
//! - versions are compared with the ecosystem's own rules (`kestrel-version`) and OSV ranges are
//!   evaluated in full ([`affects`]);
//! - withdrawn records never match; records that are aliases of each other (PYSEC and GHSA for
//!   one CVE) become one finding carrying every id.
//!
//! [`filter`], [`vex`] and [`report`] then narrow the findings and write them out as a table,
//! JSON, SARIF or CycloneDX.
//!
//! Architecture invariant: matching is a pure function of (packages, advisory snapshot). It
//! does no I/O, reads no clock and never asks how a package was found.

pub mod affects;
pub mod cvss;
pub mod report;
pub mod vex;

use std::collections::{BTreeSet, HashMap, HashSet};

use kestrel_package::{EcosystemKind, Package};
use kestrel_version::Scheme;
use kestrel_vulndb::osv::{Advisory, normalize_name};
use kestrel_vulndb::{Epss, KevEntry, Snapshot};
use serde::{Deserialize, Serialize};

/// Severity levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// CVSS v3 qualitative rating of a base score.
    pub fn from_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    /// Reads a severity word as advisories write it (`MODERATE` is GitHub's `MEDIUM`).
    pub fn from_word(w: &str) -> Option<Severity> {
        match w.to_ascii_uppercase().as_str() {
            "CRITICAL" => Some(Severity::Critical),
            "HIGH" | "IMPORTANT" => Some(Severity::High),
            "MEDIUM" | "MODERATE" => Some(Severity::Medium),
            "LOW" | "NEGLIGIBLE" => Some(Severity::Low),
            "UNKNOWN" => Some(Severity::Unknown),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl std::str::FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Severity::from_word(s).ok_or_else(|| {
            format!("unknown severity {s:?} (expected unknown, low, medium, high or critical)")
        })
    }
}

/// The package a finding is about, as the JSON output names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingPackage {
    pub name: String,
    pub version: String,
    pub ecosystem: String,
    pub purl: String,
    /// Where the package was found (metadata file or binary).
    pub location: String,
}

/// The CVSS vector a finding's severity is based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cvss {
    /// `CVSS_V3`, `CVSS_V4`, `CVSS_V2`.
    #[serde(rename = "type")]
    pub kind: String,
    pub vector: String,
    /// Base score, computed for v3 vectors.
    pub score: Option<f64>,
}

/// CISA KEV facts for a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kev {
    pub cve: String,
    pub date_added: String,
    pub due_date: Option<String>,
    /// CISA knows of ransomware campaigns using it.
    pub ransomware: bool,
}

/// FIRST EPSS facts for a finding (the highest-scored CVE among its ids).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpssScore {
    pub cve: String,
    pub score: f64,
    pub percentile: f64,
}

/// One vulnerability in one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The preferred id: a CVE when the advisories name one, else the first advisory's id.
    pub id: String,
    /// Every other id of the merged advisories.
    pub aliases: Vec<String>,
    pub package: FindingPackage,
    /// Versions that fix it, newer than the installed one; empty when no fix exists.
    pub fixed_versions: Vec<String>,
    pub severity: Severity,
    pub cvss: Option<Cvss>,
    pub kev: Option<Kev>,
    pub epss: Option<EpssScore>,
    /// The database source of the preferred advisory (`osv:PyPI`).
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// An OpenVEX statement that applies without suppressing it (`affected`,
    /// `under_investigation`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<vex::Annotation>,
}

impl Finding {
    /// The id and every alias.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.id.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// How a package is looked up: which ecosystem, release and name its advisories use.
struct Key {
    kind: EcosystemKind,
    release: Option<String>,
    name: String,
    version: String,
}

fn lookup_key(p: &Package) -> Key {
    let kind = p.ecosystem.kind;
    // Debian and Ubuntu publish advisories per source package, with the source version.
    let (name, version) = match (&p.source, kind) {
        (Some(src), EcosystemKind::Debian | EcosystemKind::Ubuntu | EcosystemKind::Alpine) => {
            (src.name.clone(), src.version.clone())
        }
        _ => (p.name.clone(), p.version.clone()),
    };
    Key {
        kind,
        release: p.ecosystem.release.clone(),
        name: normalize_name(kind, &name),
        version,
    }
}

/// The lookup keys of `packages`, for [`kestrel_vulndb::Database::snapshot_for`].
pub fn lookup_keys(packages: &[Package]) -> Vec<(EcosystemKind, String)> {
    packages
        .iter()
        .map(|p| {
            let k = lookup_key(p);
            (k.kind, k.name)
        })
        .collect()
}

/// Whether an advisory's `Debian:12` applies to a package of release `12`. An advisory without
/// a release applies to every release; a package without one matches only those.
fn release_matches(adv: Option<&str>, pkg: Option<&str>) -> bool {
    match (adv, pkg) {
        (None, _) => true,
        (Some(a), Some(p)) => a == p || a.trim_start_matches('v') == p.trim_start_matches('v'),
        (Some(_), None) => false,
    }
}

struct Hit<'a> {
    advisory: &'a Advisory,
    source: &'a str,
    fixed: Vec<String>,
}

/// Matches every package against the snapshot.
pub fn match_packages(packages: &[Package], snapshot: &Snapshot) -> Vec<Finding> {
    // (kind, normalised name) -> advisories naming it.
    let mut index: HashMap<(EcosystemKind, String), Vec<usize>> = HashMap::new();
    for (i, a) in snapshot.advisories.iter().enumerate() {
        if a.advisory.withdrawn.is_some() {
            continue;
        }
        let mut seen = HashSet::new();
        for aff in &a.advisory.affected {
            let Some(p) = &aff.package else { continue };
            let Ok(eco) = p.ecosystem.parse::<kestrel_package::Ecosystem>() else {
                continue;
            };
            let key = (eco.kind, normalize_name(eco.kind, &p.name));
            if seen.insert(key.clone()) {
                index.entry(key).or_default().push(i);
            }
        }
    }
    // Files owned by the OS package manager are matched against the OS vendor only.
    let os_files: HashSet<&str> = packages
        .iter()
        .filter(|p| p.installer.is_os())
        .flat_map(|p| p.files.iter().map(String::as_str))
        .collect();

    let mut findings = Vec::new();
    for p in packages {
        // `/usr/share/java/x.jar!/META-INF/...`: the file on disk is the jar.
        let on_disk = p.location.split('!').next().unwrap_or(&p.location);
        if !p.installer.is_os()
            && (os_files.contains(on_disk) || p.files.iter().any(|f| os_files.contains(f.as_str())))
        {
            tracing::debug!(package = %p.name, location = %p.location, "owned by the OS package manager; matched only against OS advisories");
            continue;
        }
        let key = lookup_key(p);
        let scheme = Scheme::for_ecosystem(key.kind);
        let Some(candidates) = index.get(&(key.kind, key.name.clone())) else {
            continue;
        };
        let mut hits: Vec<Hit<'_>> = Vec::new();
        for &i in candidates {
            let stored = &snapshot.advisories[i];
            let adv = &stored.advisory;
            let mut affected = false;
            let mut fixed = Vec::new();
            for aff in &adv.affected {
                let Some(ap) = &aff.package else { continue };
                let Ok(eco) = ap.ecosystem.parse::<kestrel_package::Ecosystem>() else {
                    continue;
                };
                if eco.kind != key.kind
                    || normalize_name(eco.kind, &ap.name) != key.name
                    || !release_matches(eco.release.as_deref(), key.release.as_deref())
                {
                    continue;
                }
                let v = affects::evaluate(&key.version, aff, scheme);
                if v.affected {
                    affected = true;
                    fixed.extend(v.fixed);
                }
            }
            if affected {
                hits.push(Hit {
                    advisory: adv,
                    source: &stored.source,
                    fixed,
                });
            }
        }
        for group in merge_aliases(hits) {
            findings.push(finding(p, scheme, &group, snapshot));
        }
    }
    findings.sort_by(|a, b| {
        (&a.package.name, &a.package.version, &a.package.location)
            .cmp(&(&b.package.name, &b.package.version, &b.package.location))
            .then(b.severity.cmp(&a.severity))
            .then(a.id.cmp(&b.id))
    });
    findings
}

/// Groups hits whose ids overlap (transitively).
fn merge_aliases(hits: Vec<Hit<'_>>) -> Vec<Vec<Hit<'_>>> {
    let mut groups: Vec<(BTreeSet<String>, Vec<Hit<'_>>)> = Vec::new();
    for h in hits {
        let ids: BTreeSet<String> = h
            .advisory
            .all_ids()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut merged_ids = ids;
        let mut merged_hits = vec![h];
        let mut rest = Vec::new();
        for (gids, ghits) in groups {
            if gids.intersection(&merged_ids).next().is_some() {
                merged_ids.extend(gids);
                merged_hits.extend(ghits);
            } else {
                rest.push((gids, ghits));
            }
        }
        rest.push((merged_ids, merged_hits));
        groups = rest;
    }
    let mut out: Vec<Vec<Hit<'_>>> = groups.into_iter().map(|(_, h)| h).collect();
    for g in &mut out {
        g.sort_by(|a, b| a.advisory.id.cmp(&b.advisory.id));
    }
    out
}

fn finding(p: &Package, scheme: Scheme, group: &[Hit<'_>], snapshot: &Snapshot) -> Finding {
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    let mut cves: BTreeSet<&str> = BTreeSet::new();
    for h in group {
        for id in h.advisory.all_ids() {
            ids.insert(id);
        }
        for u in &h.advisory.upstream {
            cves.insert(u);
        }
    }
    cves.extend(ids.iter().filter(|i| i.starts_with("CVE-")));
    let id = ids
        .iter()
        .find(|i| i.starts_with("CVE-"))
        .copied()
        .unwrap_or(group[0].advisory.id.as_str())
        .to_owned();
    let primary = group
        .iter()
        .find(|h| h.advisory.all_ids().contains(&id.as_str()))
        .unwrap_or(&group[0]);
    let aliases: Vec<String> = ids
        .iter()
        .filter(|i| **i != id)
        .map(|i| (*i).to_owned())
        .collect();

    let mut fixed: Vec<String> = group.iter().flat_map(|h| h.fixed.clone()).collect();
    fixed.sort_by(|a, b| scheme.compare(a, b).unwrap_or_else(|_| a.cmp(b)));
    fixed.dedup();

    let (severity, cvss) = severity_of(group);
    let kev = cves.iter().find_map(|c| snapshot.kev.get(*c)).map(kev_of);
    let epss = cves
        .iter()
        .filter_map(|c| snapshot.epss.get(*c).map(|e| (*c, e)))
        .max_by(|a, b| a.1.score.total_cmp(&b.1.score))
        .map(|(c, e): (&str, &Epss)| EpssScore {
            cve: c.to_owned(),
            score: e.score,
            percentile: e.percentile,
        });
    Finding {
        id,
        aliases,
        package: FindingPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            ecosystem: p.ecosystem.to_string(),
            purl: p.purl.clone(),
            location: p.location.clone(),
        },
        fixed_versions: fixed,
        severity,
        cvss,
        kev,
        epss,
        source: primary.source.to_owned(),
        summary: primary
            .advisory
            .summary
            .clone()
            .or_else(|| group.iter().find_map(|h| h.advisory.summary.clone())),
        vex: None,
    }
}

fn kev_of(e: &KevEntry) -> Kev {
    Kev {
        cve: e.cve.clone(),
        date_added: e.date_added.clone(),
        due_date: e.due_date.clone(),
        ransomware: e.known_ransomware_use(),
    }
}

/// The highest severity among the merged advisories: a v3 score when one is published, else
/// the word the database gives (`database_specific.severity`), else unknown.
fn severity_of(group: &[Hit<'_>]) -> (Severity, Option<Cvss>) {
    let mut best: (Severity, Option<Cvss>) = (Severity::Unknown, None);
    let mut best_score = -1.0;
    for h in group {
        let a = h.advisory;
        let vectors = a
            .severity
            .iter()
            .chain(a.affected.iter().flat_map(|x| &x.severity));
        for s in vectors {
            let score = if s.kind == "CVSS_V3" {
                cvss::v3_base_score(&s.score)
            } else {
                None
            };
            let sev = score.map_or(Severity::Unknown, Severity::from_score);
            let rank = score.unwrap_or(0.0);
            if best.1.is_none() || rank > best_score {
                best_score = rank;
                best = (
                    sev.max(best.0),
                    Some(Cvss {
                        kind: s.kind.clone(),
                        vector: s.score.clone(),
                        score,
                    }),
                );
            }
        }
        if let Some(word) = a
            .database_specific
            .as_ref()
            .and_then(|d| d.get("severity"))
            .and_then(|s| s.as_str())
            .and_then(Severity::from_word)
        {
            best.0 = best.0.max(word);
        }
    }
    best
}

/// Narrowing of findings after matching.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Keep only findings at or above this severity.
    pub min_severity: Option<Severity>,
    /// Drop findings without a fixed version.
    pub ignore_unfixed: bool,
}

/// Applies `filters` and returns what is left.
pub fn filter(findings: Vec<Finding>, filters: &Filters) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| filters.min_severity.is_none_or(|m| f.severity >= m))
        .filter(|f| !filters.ignore_unfixed || !f.fixed_versions.is_empty())
        .collect()
}
