//! Java archives (jar, war, ear, including jars nested inside them): Maven coordinates from
//! `META-INF/maven/**/pom.properties`, or from `META-INF/MANIFEST.MF` when no pom is embedded.

use std::io::{Cursor, Read};

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package};

use super::purl;
use crate::WarningKind;

type Warnings = Vec<(WarningKind, String, String)>;

/// Metadata entries inside an archive above this size are not read.
const MAX_ENTRY_METADATA: u64 = 1 << 20;

pub(crate) fn is_archive_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".jar", ".war", ".ear", ".jpi", ".hpi"]
        .iter()
        .any(|e| lower.ends_with(e))
}

/// Examines one archive held in memory; `path` is the file in the target (with `!/inner` parts
/// for nested archives).
pub(crate) fn examine(
    path: &str,
    data: &[u8],
    max_depth: u32,
    max_bytes: u64,
    warnings: &mut Warnings,
) -> Vec<Package> {
    let mut out = Vec::new();
    let outer = path.split("!/").next().unwrap_or(path).to_owned();
    walk(
        path, &outer, data, 0, max_depth, max_bytes, warnings, &mut out,
    );
    out
}

#[allow(clippy::too_many_arguments)]
fn walk(
    path: &str,
    outer: &str,
    data: &[u8],
    depth: u32,
    max_depth: u32,
    max_bytes: u64,
    warnings: &mut Warnings,
    out: &mut Vec<Package>,
) {
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            warnings.push((
                WarningKind::Malformed,
                path.to_owned(),
                format!("not a readable zip archive: {e}"),
            ));
            return;
        }
    };
    let mut poms = Vec::new();
    let mut manifest = None;
    let mut nested = Vec::new();
    for i in 0..zip.len() {
        let Ok(entry) = zip.by_index_raw(i) else {
            continue;
        };
        let Ok(name) = entry.name().map(|n| n.into_owned()) else {
            continue;
        };
        if name.starts_with("META-INF/maven/") && name.ends_with("/pom.properties") {
            poms.push(i);
        } else if name == "META-INF/MANIFEST.MF" {
            manifest = Some(i);
        } else if is_archive_name(&name) && !entry.is_dir() {
            nested.push((i, name));
        }
    }
    let read_entry = |zip: &mut zip::ZipArchive<Cursor<&[u8]>>, i: usize, limit: u64| {
        let mut entry = zip.by_index(i).map_err(|e| e.to_string())?;
        let name = entry.name().map_err(|e| e.to_string())?.into_owned();
        if entry.size() > limit {
            return Err(format!(
                "{name}: {} bytes exceeds the {limit} byte limit",
                entry.size()
            ));
        }
        let mut buf = Vec::new();
        // The declared size may lie: cap what is actually inflated too.
        (&mut entry)
            .take(limit + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("{name}: {e}"))?;
        if buf.len() as u64 > limit {
            return Err(format!("{name}: inflates beyond the {limit} byte limit"));
        }
        Ok((name, buf))
    };
    let mut found_pom = false;
    for i in poms {
        match read_entry(&mut zip, i, MAX_ENTRY_METADATA) {
            Ok((name, buf)) => {
                let props = parse_properties(&String::from_utf8_lossy(&buf));
                let get = |k: &str| props.iter().find(|(pk, _)| pk == k).map(|(_, v)| v.clone());
                if let (Some(g), Some(a), Some(v)) =
                    (get("groupId"), get("artifactId"), get("version"))
                {
                    found_pom = true;
                    out.push(maven_package(&g, &a, &v, &format!("{path}!/{name}"), outer));
                }
            }
            Err(m) => warnings.push((WarningKind::Skipped, path.to_owned(), m)),
        }
    }
    if !found_pom && let Some(i) = manifest {
        match read_entry(&mut zip, i, MAX_ENTRY_METADATA) {
            Ok((name, buf)) => {
                let text = String::from_utf8_lossy(&buf);
                let attrs = parse_manifest(&text);
                let get = |k: &str| attrs.iter().find(|(ak, _)| ak == k).map(|(_, v)| v.clone());
                let group = get("Implementation-Vendor-Id").or_else(|| {
                    get("Automatic-Module-Name")
                        .and_then(|m| m.rsplit_once('.').map(|(g, _)| g.to_owned()))
                });
                let artifact = get("Implementation-Title").or_else(|| {
                    get("Bundle-SymbolicName")
                        .map(|s| s.split(';').next().unwrap_or("").trim().to_owned())
                });
                let version = get("Implementation-Version").or_else(|| get("Bundle-Version"));
                if let (Some(g), Some(a), Some(v)) = (group, artifact, version)
                    && !a.is_empty()
                {
                    out.push(maven_package(&g, &a, &v, &format!("{path}!/{name}"), outer));
                }
            }
            Err(m) => warnings.push((WarningKind::Skipped, path.to_owned(), m)),
        }
    }
    for (i, name) in nested {
        let inner_path = format!("{path}!/{name}");
        if depth + 1 > max_depth {
            warnings.push((
                WarningKind::Skipped,
                inner_path,
                format!("not examined: archives nested deeper than {max_depth} levels"),
            ));
            continue;
        }
        match read_entry(&mut zip, i, max_bytes) {
            Ok((_, buf)) => walk(
                &inner_path,
                outer,
                &buf,
                depth + 1,
                max_depth,
                max_bytes,
                warnings,
                out,
            ),
            Err(m) => warnings.push((WarningKind::TooLarge, inner_path, m)),
        }
    }
}

fn maven_package(
    group: &str,
    artifact: &str,
    version: &str,
    location: &str,
    outer: &str,
) -> Package {
    Package {
        name: format!("{group}:{artifact}"),
        version: version.to_owned(),
        ecosystem: Ecosystem::new(EcosystemKind::Maven),
        purl: purl("maven", Some(group), artifact, version, &[]),
        licenses: Vec::new(),
        files: vec![outer.to_owned()],
        location: location.to_owned(),
        layer: None,
        installer: Installer::Maven,
        source: None,
    }
}

/// Java `.properties`: `key=value` or `key: value`, `#`/`!` comments.
fn parse_properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| {
            let i = l.find(['=', ':'])?;
            Some((l[..i].trim().to_owned(), l[i + 1..].trim().to_owned()))
        })
        .collect()
}

/// `MANIFEST.MF` main section: `Key: value`, continuation lines start with one space.
fn parse_manifest(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some((_, v)) = out.last_mut() {
                v.push_str(cont);
            }
        } else if let Some((k, v)) = line.split_once(':') {
            out.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    out
}
