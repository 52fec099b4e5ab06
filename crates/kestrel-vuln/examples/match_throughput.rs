//! Matching throughput: every package name the database knows, at every version its ranges
//! mention (so each lookup really evaluates ranges), matched in one call.
//!
//! `cargo run --release -p kestrel-vuln --example match_throughput -- advisories.db`

use std::collections::BTreeSet;
use std::time::Instant;

use kestrel_package::{Ecosystem, Installer, Package};
use kestrel_vulndb::Database;
use kestrel_vulndb::osv::Event;

fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: match_throughput ADVISORIES.db");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut db = rt.block_on(Database::open(path.as_ref())).unwrap();
    let all = rt.block_on(db.all_advisories()).unwrap();
    let mut wanted: BTreeSet<(String, String, String)> = BTreeSet::new();
    for a in &all {
        for aff in &a.affected {
            let Some(p) = &aff.package else { continue };
            for r in &aff.ranges {
                for e in &r.events {
                    let v = match e {
                        Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) => v,
                        Event::Limit(_) => continue,
                    };
                    if v != "0" {
                        wanted.insert((p.ecosystem.clone(), p.name.clone(), v.clone()));
                    }
                }
            }
        }
    }
    let packages: Vec<Package> = wanted
        .into_iter()
        .filter_map(|(eco, name, version)| {
            let ecosystem: Ecosystem = eco.parse().ok()?;
            Some(Package {
                purl: format!("pkg:{}/{name}@{version}", ecosystem.kind.purl_type()),
                name,
                version,
                ecosystem,
                licenses: vec![],
                files: vec![],
                location: String::new(),
                layer: None,
                installer: Installer::Pip,
                source: None,
            })
        })
        .collect();
    let t = Instant::now();
    let snapshot = rt
        .block_on(db.snapshot_for(&kestrel_vuln::lookup_keys(&packages)))
        .unwrap();
    let lookup = t.elapsed();
    let t = Instant::now();
    let findings = kestrel_vuln::match_packages(&packages, &snapshot);
    let matching = t.elapsed();
    println!(
        "{} advisories in the database; {} packages; {} candidate advisories loaded in {:.3} s; \
         matched in {:.3} s = {:.0} packages/s; {} findings",
        all.len(),
        packages.len(),
        snapshot.advisories.len(),
        lookup.as_secs_f64(),
        matching.as_secs_f64(),
        packages.len() as f64 / matching.as_secs_f64(),
        findings.len()
    );
}
