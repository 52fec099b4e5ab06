//! apk: Alpine's installed database `/lib/apk/db/installed` (`P:` name, `V:` version, `A:` arch,
//! `L:` license, `o:` origin, `F:` directory then `R:` files in it).

use std::collections::BTreeSet;

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package, SourcePackage};

use super::{Ctx, purl};
use crate::WarningKind;

pub(crate) const INSTALLED: &str = "/lib/apk/db/installed";

#[derive(Debug, Default)]
struct Entry {
    name: String,
    version: String,
    arch: String,
    license: String,
    origin: String,
    files: Vec<String>,
}

fn parse(text: &str) -> (Vec<Entry>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    for block in text.split("\n\n") {
        let mut e = Entry::default();
        let mut dir = String::new();
        for line in block.lines() {
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            match k {
                "P" => e.name = v.to_owned(),
                "V" => e.version = v.to_owned(),
                "A" => e.arch = v.to_owned(),
                "L" => e.license = v.to_owned(),
                "o" => e.origin = v.to_owned(),
                "F" => dir = v.to_owned(),
                "R" => e.files.push(crate::tree::join("/", &format!("{dir}/{v}"))),
                _ => {}
            }
        }
        if e.name.is_empty() && e.version.is_empty() {
            if !block.trim().is_empty() {
                bad += 1;
            }
            continue;
        }
        if e.name.is_empty() || e.version.is_empty() {
            bad += 1;
            continue;
        }
        out.push(e);
    }
    (out, bad)
}

pub(super) fn catalog(ctx: &mut Ctx<'_>) {
    let Some(bytes) = ctx.tree.read(INSTALLED) else {
        return;
    };
    let text = String::from_utf8_lossy(bytes).into_owned();
    let (entries, bad) = parse(&text);
    if bad > 0 {
        ctx.warn(
            WarningKind::Malformed,
            INSTALLED,
            format!("{bad} package entries without P: or V: were skipped"),
        );
    }
    let ecosystem = match ctx.os.as_ref().and_then(|o| o.ecosystem()) {
        Some(e) if e.kind == EcosystemKind::Alpine => e,
        _ => Ecosystem::new(EcosystemKind::Alpine),
    };
    let distro = ctx
        .os
        .as_ref()
        .map(|o| format!("{}-{}", o.id, o.version_id.as_deref().unwrap_or("")))
        .unwrap_or_default();
    // Each layer's database, to find the layer that installed each version.
    let history: Vec<(u32, BTreeSet<(String, String)>)> = ctx
        .tree
        .history
        .get(INSTALLED)
        .map(|h| {
            h.iter()
                .map(|(l, c)| {
                    let (es, _) = parse(&String::from_utf8_lossy(c));
                    (*l, es.into_iter().map(|e| (e.name, e.version)).collect())
                })
                .collect()
        })
        .unwrap_or_default();
    for e in entries {
        let key = (e.name.clone(), e.version.clone());
        let mut first = None;
        for (layer, set) in history.iter().rev() {
            if set.contains(&key) {
                first = Some(*layer);
            } else {
                break;
            }
        }
        let layer = first
            .and_then(|l| ctx.layer_ref(l))
            .or_else(|| ctx.layer_of(INSTALLED));
        let files = ctx.owned_files(e.files);
        ctx.packages.push(Package {
            purl: purl(
                "apk",
                Some("alpine"),
                &e.name,
                &e.version,
                &[("arch", &e.arch), ("distro", &distro)],
            ),
            licenses: if e.license.is_empty() {
                Vec::new()
            } else {
                vec![e.license]
            },
            source: (!e.origin.is_empty()).then(|| SourcePackage {
                name: e.origin,
                version: e.version.clone(),
            }),
            name: e.name,
            version: e.version,
            ecosystem: ecosystem.clone(),
            files,
            location: INSTALLED.to_owned(),
            layer,
            installer: Installer::Apk,
        });
    }
}
