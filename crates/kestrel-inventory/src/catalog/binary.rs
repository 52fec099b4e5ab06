//! Executables: Go build information (`.go.buildinfo`: Go version, main module, dependencies)
//! and Rust `cargo auditable` data (`.dep-v0`: zlib-compressed JSON dependency list).
//!
//! Both are read from the bytes of one binary while it streams past; the buffer is dropped
//! right after.

use std::io::Read;

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package};
use object::{Object, ObjectSection};
use serde::Deserialize;

use super::purl;
use crate::WarningKind;

type Warnings = Vec<(WarningKind, String, String)>;

const GO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Decompressed cargo-auditable data above this is refused (it is a few KiB in practice).
const MAX_AUDIT_JSON: u64 = 8 << 20;

/// Examines one ELF (or other object format `object` reads) binary.
pub(crate) fn examine(path: &str, data: &[u8], warnings: &mut Warnings) -> Vec<Package> {
    let file = object::File::parse(data).ok();
    let go_section = file
        .as_ref()
        .and_then(|f| f.section_by_name(".go.buildinfo"))
        .and_then(|s| s.data().ok());
    let mut out = Vec::new();
    let buildinfo = match go_section {
        Some(s) => s.starts_with(GO_MAGIC).then_some(s),
        None if file.is_none() => find_go_magic(data),
        None => None,
    };
    if let Some(section) = buildinfo {
        match parse_go_buildinfo(section) {
            Ok(Some(info)) => out.extend(go_packages(path, &info)),
            Ok(None) => warnings.push((
                WarningKind::Unsupported,
                path.to_owned(),
                "Go binary built before Go 1.18 (pointer-format build info): modules not read"
                    .to_owned(),
            )),
            Err(m) => warnings.push((WarningKind::Malformed, path.to_owned(), m)),
        }
    }
    if let Some(dep) = file
        .as_ref()
        .and_then(|f| f.section_by_name(".dep-v0"))
        .and_then(|s| s.data().ok())
    {
        match parse_auditable(dep) {
            Ok(pkgs) => out.extend(pkgs.into_iter().map(|p| rust_package(path, p))),
            Err(m) => warnings.push((WarningKind::Malformed, path.to_owned(), m)),
        }
    }
    out
}

fn find_go_magic(data: &[u8]) -> Option<&[u8]> {
    // The build info header is 16-byte aligned.
    (0..data.len().saturating_sub(32))
        .step_by(16)
        .find(|&i| data[i..].starts_with(GO_MAGIC))
        .map(|i| &data[i..])
}

#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct GoBuildInfo {
    pub go_version: String,
    pub main: Option<(String, String)>,
    pub deps: Vec<(String, String)>,
}

fn read_uvarint(data: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, &b) in data.iter().enumerate().take(10) {
        x |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            return Some((x, i + 1));
        }
    }
    None
}

fn read_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, n) = read_uvarint(data)?;
    let len = usize::try_from(len).ok()?;
    let rest = data.get(n..)?;
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// Parses the Go 1.18+ inline build info; `Ok(None)` for the older pointer format.
pub(crate) fn parse_go_buildinfo(section: &[u8]) -> Result<Option<GoBuildInfo>, String> {
    if section.len() < 32 || !section.starts_with(GO_MAGIC) {
        return Err("Go build info header too short".to_owned());
    }
    let flags = section[15];
    if flags & 0x2 == 0 {
        return Ok(None);
    }
    let bad = || "truncated Go build info strings".to_owned();
    let (version, rest) = read_string(&section[32..]).ok_or_else(bad)?;
    let (modinfo, _) = read_string(rest).ok_or_else(bad)?;
    let mut info = GoBuildInfo {
        go_version: String::from_utf8_lossy(version).into_owned(),
        ..Default::default()
    };
    // The module info is wrapped in 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 {
        &modinfo[16..modinfo.len() - 16]
    } else {
        &[][..]
    };
    for line in String::from_utf8_lossy(modinfo).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        match cols.as_slice() {
            ["mod", path, version, ..] => info.main = Some((path.to_string(), version.to_string())),
            ["dep", path, version, ..] => info.deps.push((path.to_string(), version.to_string())),
            ["=>", path, version, ..] => {
                // A replacement applies to the line before it.
                if let Some(last) = info.deps.last_mut() {
                    *last = (path.to_string(), version.to_string());
                } else if let Some(main) = info.main.as_mut() {
                    *main = (path.to_string(), version.to_string());
                }
            }
            _ => {}
        }
    }
    Ok(Some(info))
}

fn go_package(path: &str, module: &str, version: &str) -> Package {
    let (ns, name) = match module.rsplit_once('/') {
        Some((ns, n)) => (Some(ns), n),
        None => (None, module),
    };
    Package {
        name: module.to_owned(),
        version: version.to_owned(),
        ecosystem: Ecosystem::new(EcosystemKind::Go),
        purl: purl("golang", ns, name, version, &[]),
        licenses: Vec::new(),
        files: vec![path.to_owned()],
        location: path.to_owned(),
        layer: None,
        installer: Installer::GoBuild,
        source: None,
    }
}

fn go_packages(path: &str, info: &GoBuildInfo) -> Vec<Package> {
    let mut out = Vec::new();
    // OSV names the Go toolchain's own packages `stdlib`, versioned without the `go` prefix.
    let go = info
        .go_version
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_start_matches("go");
    if !go.is_empty() {
        out.push(go_package(path, "stdlib", go));
    }
    if let Some((m, v)) = &info.main
        && v != "(devel)"
    {
        out.push(go_package(path, m, v));
    }
    for (m, v) in &info.deps {
        out.push(go_package(path, m, v));
    }
    out
}

#[derive(Debug, Deserialize)]
struct AuditData {
    packages: Vec<AuditPackage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    source: Option<String>,
}

fn parse_auditable(section: &[u8]) -> Result<Vec<AuditPackage>, String> {
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(section)
        .take(MAX_AUDIT_JSON + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("cargo-auditable data does not decompress: {e}"))?;
    if json.len() as u64 > MAX_AUDIT_JSON {
        return Err("cargo-auditable data inflates beyond 8 MiB: refused".to_owned());
    }
    let data: AuditData = serde_json::from_slice(&json)
        .map_err(|e| format!("cargo-auditable data is not the expected JSON: {e}"))?;
    // Only registry crates can be matched against crates.io advisories; local and git crates
    // would collide with unrelated published names.
    Ok(data
        .packages
        .into_iter()
        .filter(|p| p.source.as_deref() == Some("crates.io"))
        .collect())
}

fn rust_package(path: &str, p: AuditPackage) -> Package {
    Package {
        purl: purl("cargo", None, &p.name, &p.version, &[]),
        name: p.name,
        version: p.version,
        ecosystem: Ecosystem::new(EcosystemKind::CratesIo),
        licenses: Vec::new(),
        files: vec![path.to_owned()],
        location: path.to_owned(),
        layer: None,
        installer: Installer::CargoAuditable,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(pkgs: &[Package]) -> Vec<String> {
        pkgs.iter()
            .map(|p| format!("{} {} {}", p.name, p.version, p.purl))
            .collect()
    }

    #[test]
    fn go_module_list_from_a_real_binary() {
        // Not an ELF file: the section alone, found by its magic.
        let section = include_bytes!("../../testdata/go/esbuild-0.19.12.go.buildinfo");
        let mut warnings = Vec::new();
        let pkgs = examine("/usr/bin/esbuild", section, &mut warnings);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            summary(&pkgs),
            [
                "stdlib 1.20.12 pkg:golang/stdlib@1.20.12",
                "golang.org/x/sys v0.0.0-20220715151400-c0bba94af5f8 pkg:golang/golang.org/x/sys@v0.0.0-20220715151400-c0bba94af5f8",
            ]
        );
        assert!(
            pkgs.iter()
                .all(|p| p.installer == Installer::GoBuild && p.files == ["/usr/bin/esbuild"])
        );
    }

    #[test]
    fn debian_go_binary_has_only_the_toolchain() {
        let section = include_bytes!("../../testdata/go/debian-cni-loopback.go.buildinfo");
        let info = parse_go_buildinfo(section).unwrap().unwrap();
        assert!(info.go_version.starts_with("go1."), "{}", info.go_version);
        assert!(info.deps.is_empty());
        let mut warnings = Vec::new();
        let pkgs = examine("/usr/lib/cni/loopback", section, &mut warnings);
        assert_eq!(pkgs.len(), 1);
        assert_eq!(pkgs[0].name, "stdlib");
    }

    #[test]
    fn truncated_build_info_is_malformed() {
        let section = include_bytes!("../../testdata/go/esbuild-0.19.12.go.buildinfo");
        let mut warnings = Vec::new();
        let pkgs = examine("/x", &section[..40], &mut warnings);
        assert!(pkgs.is_empty());
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].0, WarningKind::Malformed);
    }

    #[test]
    fn cargo_auditable_data() {
        use std::io::Write;
        let json = br#"{"packages":[{"name":"app","version":"0.1.0","source":"local","root":true},{"name":"smallvec","version":"1.6.0","source":"crates.io","kind":"runtime"}]}"#;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(json).unwrap();
        let pkgs: Vec<Package> = parse_auditable(&z.finish().unwrap())
            .unwrap()
            .into_iter()
            .map(|p| rust_package("/app", p))
            .collect();
        assert_eq!(summary(&pkgs), ["smallvec 1.6.0 pkg:cargo/smallvec@1.6.0"]);
        assert!(parse_auditable(b"not zlib").is_err());
    }
}
