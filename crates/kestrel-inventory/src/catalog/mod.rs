//! Catalogers: each reads one kind of package metadata from the merged tree.
//!
//! [`interest`] is the one predicate that decides, while layers stream past, which files are
//! buffered for the catalogers (metadata), which are examined as they pass (binaries, Java
//! archives) and which are only recorded (everything else). A cataloger can only see what
//! [`interest`] kept, so the two are changed together.

mod apk;
pub(crate) mod binary;
mod dpkg;
mod gems;
pub(crate) mod java;
mod npm;
mod python;
mod rpm;

use std::collections::BTreeSet;

use kestrel_package::{LayerRef, Package};

use crate::tree::{self, Tree};
use crate::{LayerInfo, OsRelease, Warning, WarningKind};

/// What the layer walker does with a regular file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Interest {
    None,
    /// Buffer it (under the metadata size limit) for a cataloger.
    Metadata,
    /// Examine it as it passes if it is an ELF binary (Go build info, cargo-auditable data).
    Binary,
    /// Examine it as it passes as a zip (jar, war, ear).
    JavaArchive,
}

const METADATA_PATHS: &[&str] = &[
    "/etc/os-release",
    "/usr/lib/os-release",
    "/var/lib/dpkg/status",
    "/lib/apk/db/installed",
    "/var/lib/rpm/rpmdb.sqlite",
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/Packages.db",
];

/// Package databases whose every layer's version is kept, to attribute each package to the layer
/// that introduced it.
pub(crate) fn keeps_history(path: &str) -> bool {
    path == "/var/lib/dpkg/status" || path == "/lib/apk/db/installed"
}

pub(crate) fn interest(path: &str, mode: u32) -> Interest {
    let name = tree::file_name(path);
    let parent = tree::parent(path);
    let parent_name = tree::file_name(parent);
    if METADATA_PATHS.contains(&path)
        || path.starts_with("/var/lib/dpkg/status.d/")
        || (path.starts_with("/var/lib/dpkg/info/") && name.ends_with(".list"))
        || (path.starts_with("/usr/share/doc/") && name == "copyright")
        || (parent_name.ends_with(".dist-info") && matches!(name, "METADATA" | "RECORD"))
        || (parent_name.ends_with(".egg-info")
            && matches!(name, "PKG-INFO" | "installed-files.txt"))
        || (name.ends_with(".egg-info") && !parent_name.ends_with(".egg-info"))
        || (name == "package.json" && npm::is_package_dir(parent))
        || (name.ends_with(".gemspec") && parent_name == "specifications")
        || (name == "installed.json" && parent_name == "composer")
        || name.ends_with(".deps.json")
    {
        return Interest::Metadata;
    }
    if java::is_archive_name(name) {
        return Interest::JavaArchive;
    }
    if mode & 0o111 != 0 {
        return Interest::Binary;
    }
    Interest::None
}

/// What the catalogers found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub os: Option<OsRelease>,
    pub packages: Vec<Package>,
}

/// Shared state for the catalogers of one run.
pub(crate) struct Ctx<'a> {
    pub tree: &'a Tree,
    layers: &'a [LayerInfo],
    pub os: Option<OsRelease>,
    warnings: &'a mut Vec<Warning>,
    pub packages: Vec<Package>,
}

impl Ctx<'_> {
    pub fn layer_ref(&self, index: u32) -> Option<LayerRef> {
        self.layers.get(index as usize).map(LayerInfo::layer_ref)
    }

    pub fn layer_of(&self, path: &str) -> Option<LayerRef> {
        self.tree.get(path).and_then(|n| self.layer_ref(n.layer))
    }

    pub fn warn(&mut self, kind: WarningKind, path: &str, message: impl Into<String>) {
        let w = Warning {
            kind,
            path: path.to_owned(),
            layer: self.tree.get(path).map(|n| n.layer),
            message: message.into(),
        };
        tracing::warn!("{w}");
        self.warnings.push(w);
    }

    /// Keeps the paths that are files or links in the tree (directories are shared by many
    /// packages and owned by none), sorted and without duplicates.
    ///
    /// A listed path with other listed paths below it is a directory too, even when the tree
    /// lacks it (a trimmed image, a list naming directories that were never created).
    pub fn owned_files(&self, paths: impl IntoIterator<Item = String>) -> Vec<String> {
        let set: BTreeSet<String> = paths
            .into_iter()
            .filter(|p| p != "/" && !self.tree.is_dir(p))
            .collect();
        set.iter()
            .filter(|p| {
                let prefix = format!("{p}/");
                !set.range(prefix.clone()..)
                    .next()
                    .is_some_and(|next| next.starts_with(&prefix))
            })
            .cloned()
            .collect()
    }
}

/// Runs every cataloger over the merged tree.
pub(crate) fn run(tree: &Tree, layers: &[LayerInfo], warnings: &mut Vec<Warning>) -> Found {
    let mut ctx = Ctx {
        tree,
        layers,
        os: None,
        warnings,
        packages: Vec::new(),
    };
    ctx.os = os_release(&mut ctx);
    dpkg::catalog(&mut ctx);
    apk::catalog(&mut ctx);
    rpm::catalog(&mut ctx);
    python::catalog(&mut ctx);
    npm::catalog(&mut ctx);
    gems::catalog(&mut ctx);
    // Packages found while binaries and archives streamed past.
    let mut streamed = Vec::new();
    for (path, node) in tree.iter() {
        if let Some(found) = &node.found {
            for p in found.iter() {
                let mut p = p.clone();
                p.layer = ctx.layer_ref(node.layer);
                if p.files.is_empty() {
                    p.files = vec![path.to_owned()];
                }
                streamed.push(p);
            }
        }
    }
    ctx.packages.extend(streamed);
    Found {
        os: ctx.os,
        packages: ctx.packages,
    }
}

fn os_release(ctx: &mut Ctx<'_>) -> Option<OsRelease> {
    let path = ["/etc/os-release", "/usr/lib/os-release"]
        .into_iter()
        .find(|p| ctx.tree.read(p).is_some())?;
    let text = String::from_utf8_lossy(ctx.tree.read(path)?).into_owned();
    let parsed = parse_os_release(&text);
    if parsed.is_none() {
        ctx.warn(
            WarningKind::Malformed,
            path,
            "no ID= line; operating system unknown",
        );
    }
    parsed
}

/// Parses the `os-release` shell-like `KEY=value` format (values optionally quoted).
pub(crate) fn parse_os_release(text: &str) -> Option<OsRelease> {
    let mut id = None;
    let mut version_id = None;
    let mut pretty = None;
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
            .unwrap_or(v)
            .to_owned();
        match k {
            "ID" => id = Some(v),
            "VERSION_ID" => version_id = Some(v),
            "PRETTY_NAME" => pretty = Some(v),
            _ => {}
        }
    }
    Some(OsRelease {
        id: id.filter(|s| !s.is_empty())?,
        version_id: version_id.filter(|s| !s.is_empty()),
        pretty_name: pretty,
    })
}

/// A purl: `pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS`, each part percent-encoded (a namespace
/// segment by segment), qualifiers sorted by key as the spec requires.
pub(crate) fn purl(
    ty: &str,
    namespace: Option<&str>,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    use kestrel_package::purl_encode;
    let mut s = format!("pkg:{ty}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        let segs: Vec<String> = ns.split('/').map(purl_encode).collect();
        s.push_str(&segs.join("/"));
        s.push('/');
    }
    s.push_str(&purl_encode(name));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&purl_encode(version));
    }
    let mut q: Vec<&(&str, &str)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&purl_encode(v));
    }
    s
}

/// Parses RFC 822-style stanzas (dpkg status, PKG-INFO headers): `Key: value` with continuation
/// lines starting with whitespace, stanzas separated by blank lines. Returns (key, value) pairs
/// per stanza, keys as written.
pub(crate) fn parse_stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub(crate) fn field<'a>(stanza: &'a [(String, String)], key: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls() {
        assert_eq!(
            purl(
                "deb",
                Some("debian"),
                "libc6",
                "2.36-9+deb12u4",
                &[("distro", "debian-12"), ("arch", "amd64")]
            ),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
        assert_eq!(
            purl("npm", Some("@babel"), "core", "7.0.0", &[]),
            "pkg:npm/%40babel/core@7.0.0"
        );
        assert_eq!(
            purl("golang", Some("github.com/spf13"), "cobra", "v1.8.0", &[]),
            "pkg:golang/github.com/spf13/cobra@v1.8.0"
        );
    }

    #[test]
    fn os_release_parsing() {
        let os = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        )
        .unwrap();
        assert_eq!(os.ecosystem().unwrap().to_string(), "Debian:12");
        let alpine = parse_os_release("ID=alpine\nVERSION_ID=3.19.1\n").unwrap();
        assert_eq!(alpine.ecosystem().unwrap().to_string(), "Alpine:v3.19");
        assert!(parse_os_release("NAME=x\n").is_none());
    }
}
