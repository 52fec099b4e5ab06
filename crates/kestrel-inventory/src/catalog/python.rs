//! Python: `*.dist-info/METADATA` + `RECORD` and `*.egg-info` (directory with `PKG-INFO` and
//! `installed-files.txt`, or a single file). `RECORD` gives every installed file, so vendored
//! shared libraries (`pillow.libs/*.so`) belong to their distribution.

use std::collections::BTreeSet;

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package};

use super::{Ctx, parse_stanzas, purl};
use crate::WarningKind;
use crate::tree::{self, NodeKind};

pub(super) fn catalog(ctx: &mut Ctx<'_>) {
    let mut metas: Vec<(String, Kind)> = Vec::new();
    for (path, node) in ctx.tree.iter() {
        if node.content.is_none() && node.kind == NodeKind::File {
            continue;
        }
        let name = tree::file_name(path);
        let parent = tree::file_name(tree::parent(path));
        if name == "METADATA" && parent.ends_with(".dist-info") {
            metas.push((path.to_owned(), Kind::DistInfo));
        } else if name == "PKG-INFO" && parent.ends_with(".egg-info") {
            metas.push((path.to_owned(), Kind::EggInfoDir));
        } else if name.ends_with(".egg-info") && node.kind == NodeKind::File {
            metas.push((path.to_owned(), Kind::EggInfoFile));
        }
    }
    for (path, kind) in metas {
        let Some(bytes) = ctx.tree.read(&path) else {
            continue;
        };
        let text = String::from_utf8_lossy(bytes);
        // Only the header block: the description that follows may contain anything.
        let header = text.split("\n\n").next().unwrap_or("");
        let stanza = parse_stanzas(header).into_iter().next().unwrap_or_default();
        let get = |k: &str| super::field(&stanza, k).map(str::to_owned);
        let (Some(name), Some(version)) = (get("Name"), get("Version")) else {
            ctx.warn(
                WarningKind::Malformed,
                &path,
                "Python package metadata without Name or Version: skipped",
            );
            continue;
        };
        let licenses = licenses(&stanza);
        let files = match kind {
            Kind::DistInfo => {
                let dist_info = tree::parent(&path);
                let site = tree::parent(dist_info);
                record_files(ctx, &format!("{dist_info}/RECORD"), site)
            }
            Kind::EggInfoDir => {
                let egg = tree::parent(&path);
                let mut files = installed_files(ctx, &format!("{egg}/installed-files.txt"), egg);
                files.extend(ctx.tree.below(egg).map(|(p, _)| p.to_owned()));
                files
            }
            Kind::EggInfoFile => vec![path.clone()],
        };
        let files = ctx.owned_files(files);
        let layer = ctx.layer_of(&path);
        ctx.packages.push(Package {
            purl: purl("pypi", None, &normalize_name(&name), &version, &[]),
            name,
            version,
            ecosystem: Ecosystem::new(EcosystemKind::PyPI),
            licenses,
            files,
            location: path,
            layer,
            installer: Installer::Pip,
            source: None,
        });
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    DistInfo,
    EggInfoDir,
    EggInfoFile,
}

/// PEP 503 normalization, as purls for PyPI require.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
            continue;
        }
        if sep && !out.is_empty() {
            out.push('-');
        }
        sep = false;
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn licenses(stanza: &[(String, String)]) -> Vec<String> {
    let mut set = BTreeSet::new();
    for (k, v) in stanza {
        if k.eq_ignore_ascii_case("License-Expression") && !v.is_empty() {
            set.insert(v.clone());
        } else if k.eq_ignore_ascii_case("Classifier")
            && let Some(l) = v.strip_prefix("License :: ")
        {
            let l = l.rsplit(" :: ").next().unwrap_or(l);
            set.insert(l.to_owned());
        }
    }
    if set.is_empty()
        && let Some(l) = super::field(stanza, "License")
    {
        // The free-text License field sometimes holds the whole license text; keep a short one.
        let l = l.trim();
        if !l.is_empty() && l.len() <= 64 && !l.contains('\n') && l != "UNKNOWN" {
            set.insert(l.to_owned());
        }
    }
    set.into_iter().collect()
}

/// `RECORD` is CSV: `path,hash,size`, paths relative to the site-packages directory (and may
/// climb out of it, e.g. `../../../bin/flask`).
fn record_files(ctx: &mut Ctx<'_>, record: &str, site: &str) -> Vec<String> {
    let Some(bytes) = ctx.tree.read(record) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some(p) = first_csv_field(line) else {
            continue;
        };
        if p.is_empty() {
            continue;
        }
        out.push(tree::join(site, &p));
    }
    if out.is_empty() && !text.trim().is_empty() {
        ctx.warn(
            WarningKind::Malformed,
            record,
            "no file paths could be read",
        );
    }
    out
}

fn installed_files(ctx: &Ctx<'_>, list: &str, egg: &str) -> Vec<String> {
    let Some(bytes) = ctx.tree.read(list) else {
        return Vec::new();
    };
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| tree::join(egg, l.trim()))
        .collect()
}

fn first_csv_field(line: &str) -> Option<String> {
    if let Some(rest) = line.strip_prefix('"') {
        let mut out = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    out.push('"');
                } else {
                    return Some(out);
                }
            } else {
                out.push(c);
            }
        }
        None
    } else {
        Some(line.split(',').next().unwrap_or("").to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_csv() {
        assert_eq!(normalize_name("Jinja2"), "jinja2");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(normalize_name("A__b-.C"), "a-b-c");
        assert_eq!(first_csv_field("a/b.py,sha256=x,12").unwrap(), "a/b.py");
        assert_eq!(
            first_csv_field("\"a,\"\"b\"\".py\",,").unwrap(),
            "a,\"b\".py"
        );
    }
}
