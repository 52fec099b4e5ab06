//! dpkg: `/var/lib/dpkg/status` (and distroless `status.d/`), owned files from `info/*.list`,
//! licenses from machine-readable `/usr/share/doc/<pkg>/copyright`.

use std::collections::BTreeSet;

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package, SourcePackage};

use super::{Ctx, field, parse_stanzas, purl};
use crate::WarningKind;

const STATUS: &str = "/var/lib/dpkg/status";
const STATUS_D: &str = "/var/lib/dpkg/status.d";
const INFO: &str = "/var/lib/dpkg/info";

pub(super) fn catalog(ctx: &mut Ctx<'_>) {
    let ecosystem = match ctx.os.as_ref().and_then(|o| o.ecosystem()) {
        Some(e) if matches!(e.kind, EcosystemKind::Debian | EcosystemKind::Ubuntu) => e,
        _ => Ecosystem::new(EcosystemKind::Debian),
    };
    let distro = ctx
        .os
        .as_ref()
        .map(|o| match &o.version_id {
            Some(v) => format!("{}-{v}", o.id),
            None => o.id.clone(),
        })
        .unwrap_or_default();
    let namespace = if ecosystem.kind == EcosystemKind::Ubuntu {
        "ubuntu"
    } else {
        "debian"
    };

    let mut sources: Vec<(String, String)> = Vec::new();
    if let Some(text) = ctx.tree.read(STATUS) {
        sources.push((
            STATUS.to_owned(),
            String::from_utf8_lossy(text).into_owned(),
        ));
    }
    for (path, node) in ctx.tree.below(STATUS_D) {
        if let Some(c) = &node.content
            && !path.ends_with(".md5sums")
        {
            sources.push((path.to_owned(), String::from_utf8_lossy(c).into_owned()));
        }
    }
    // Which (name, version) each earlier layer's status already had: the first layer of the
    // unbroken run up to the top is the one that installed this version.
    let history: Vec<(u32, BTreeSet<(String, String)>)> = ctx
        .tree
        .history
        .get(STATUS)
        .map(|h| {
            h.iter()
                .map(|(layer, content)| (*layer, installed_set(&String::from_utf8_lossy(content))))
                .collect()
        })
        .unwrap_or_default();

    for (location, text) in sources {
        let stanzas = parse_stanzas(&text);
        if stanzas.is_empty() && !text.trim().is_empty() {
            ctx.warn(
                WarningKind::Malformed,
                &location,
                "no package stanzas found",
            );
            continue;
        }
        for stanza in stanzas {
            let (Some(name), Some(version)) =
                (field(&stanza, "Package"), field(&stanza, "Version"))
            else {
                ctx.warn(
                    WarningKind::Malformed,
                    &location,
                    "a stanza without Package or Version field was skipped",
                );
                continue;
            };
            // Distroless status.d entries carry no Status field: they are installed by definition.
            if let Some(status) = field(&stanza, "Status")
                && !status.ends_with(" installed")
            {
                continue;
            }
            let arch = field(&stanza, "Architecture").unwrap_or("");
            let source = field(&stanza, "Source").map(|s| parse_source(s, name, version));
            let files = owned_files(ctx, name, arch, &location);
            let layer = attribute_layer(ctx, &history, name, version, &location);
            let licenses = copyright_licenses(ctx, name);
            ctx.packages.push(Package {
                name: name.to_owned(),
                version: version.to_owned(),
                ecosystem: ecosystem.clone(),
                purl: purl(
                    "deb",
                    Some(namespace),
                    name,
                    version,
                    &[("arch", arch), ("distro", &distro)],
                ),
                licenses,
                files,
                location: location.clone(),
                layer,
                installer: Installer::Dpkg,
                source,
            });
        }
    }
}

fn installed_set(text: &str) -> BTreeSet<(String, String)> {
    parse_stanzas(text)
        .into_iter()
        .filter(|s| field(s, "Status").is_none_or(|st| st.ends_with(" installed")))
        .filter_map(|s| {
            Some((
                field(&s, "Package")?.to_owned(),
                field(&s, "Version")?.to_owned(),
            ))
        })
        .collect()
}

fn attribute_layer(
    ctx: &Ctx<'_>,
    history: &[(u32, BTreeSet<(String, String)>)],
    name: &str,
    version: &str,
    location: &str,
) -> Option<kestrel_package::LayerRef> {
    if location == STATUS && !history.is_empty() {
        let key = (name.to_owned(), version.to_owned());
        let mut first = None;
        for (layer, set) in history.iter().rev() {
            if set.contains(&key) {
                first = Some(*layer);
            } else {
                break;
            }
        }
        if let Some(l) = first {
            return ctx.layer_ref(l);
        }
    }
    ctx.layer_of(location)
}

/// `Source: name (version)` or `Source: name`; the version defaults to the binary's.
fn parse_source(s: &str, name: &str, version: &str) -> SourcePackage {
    let s = s.trim();
    match s.split_once(' ') {
        Some((src, rest)) => SourcePackage {
            name: src.to_owned(),
            version: rest
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .trim()
                .to_owned(),
        },
        None if s.is_empty() => SourcePackage {
            name: name.to_owned(),
            version: version.to_owned(),
        },
        None => SourcePackage {
            name: s.to_owned(),
            version: version.to_owned(),
        },
    }
}

fn owned_files(ctx: &Ctx<'_>, name: &str, arch: &str, location: &str) -> Vec<String> {
    if location.starts_with(STATUS_D) {
        // Distroless ships `status.d/<pkg>.md5sums` with relative paths instead of info/*.list.
        let md5 = format!("{location}.md5sums");
        let Some(text) = ctx.tree.read(&md5) else {
            return Vec::new();
        };
        let text = String::from_utf8_lossy(text);
        return ctx.owned_files(text.lines().filter_map(|l| {
            let (_, p) = l.split_once("  ")?;
            Some(crate::tree::join("/", p.trim()))
        }));
    }
    let candidates = [
        format!("{INFO}/{name}:{arch}.list"),
        format!("{INFO}/{name}.list"),
    ];
    let Some(text) = candidates.iter().find_map(|p| ctx.tree.read(p)) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(text);
    ctx.owned_files(
        text.lines()
            .filter(|l| l.starts_with('/'))
            .filter_map(crate::tree::normalize_lookup),
    )
}

/// Licenses from a DEP-5 machine-readable copyright file (`License: MIT` lines); nothing for a
/// free-form one, which cannot be read reliably.
fn copyright_licenses(ctx: &Ctx<'_>, name: &str) -> Vec<String> {
    let Some(text) = ctx.tree.read(&format!("/usr/share/doc/{name}/copyright")) else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(text);
    if !text.starts_with("Format:") {
        return Vec::new();
    }
    let set: BTreeSet<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("License:"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    set.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_field() {
        let s = parse_source("glibc (2.36-9+deb12u4)", "libc6", "2.36-9+deb12u4");
        assert_eq!(
            (s.name.as_str(), s.version.as_str()),
            ("glibc", "2.36-9+deb12u4")
        );
        let s = parse_source("util-linux", "bsdutils", "1:2.38.1-5+b1");
        assert_eq!(
            (s.name.as_str(), s.version.as_str()),
            ("util-linux", "1:2.38.1-5+b1")
        );
    }
}
