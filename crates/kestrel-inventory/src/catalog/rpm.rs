//! rpm: the SQLite rpmdb (`rpmdb.sqlite`, rpm 4.16+) read from memory, each `Packages.blob` an rpm
//! header parsed here. Berkeley DB (`Packages`) and NDB (`Packages.db`) databases have no sound
//! pure-Rust reader: they are reported as unsupported.

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package, SourcePackage};

use super::{Ctx, purl};
use crate::WarningKind;

const SQLITE_PATHS: &[&str] = &[
    "/var/lib/rpm/rpmdb.sqlite",
    "/usr/lib/sysimage/rpm/rpmdb.sqlite",
];
const OTHER_PATHS: &[&str] = &[
    "/var/lib/rpm/Packages",
    "/var/lib/rpm/Packages.db",
    "/usr/lib/sysimage/rpm/Packages.db",
];

const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;
const TAG_DIRINDEXES: u32 = 1116;
const TAG_BASENAMES: u32 = 1117;
const TAG_DIRNAMES: u32 = 1118;

const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The fields of one installed package's header.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Header {
    pub name: String,
    pub version: String,
    pub release: String,
    pub epoch: Option<u32>,
    pub arch: String,
    pub license: String,
    pub source_rpm: String,
    pub files: Vec<String>,
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Parses a header blob as stored in the rpmdb (no lead, no magic): index count, data length,
/// 16-byte index entries, then the data store. Every offset is bounds-checked.
pub(crate) fn parse_header(blob: &[u8]) -> Result<Header, String> {
    let il = be32(blob, 0).ok_or("header too short")? as usize;
    let dl = be32(blob, 4).ok_or("header too short")? as usize;
    let index_end = il
        .checked_mul(16)
        .and_then(|n| n.checked_add(8))
        .ok_or("index count overflows")?;
    let data = blob
        .get(index_end..index_end.checked_add(dl).ok_or("data length overflows")?)
        .ok_or("header shorter than its index and data lengths")?;
    let strings = |offset: usize, count: usize| -> Result<Vec<String>, String> {
        let mut out = Vec::with_capacity(count.min(65536));
        let mut at = offset;
        for _ in 0..count {
            let rest = data.get(at..).ok_or("string offset outside the data")?;
            let end = rest
                .iter()
                .position(|&b| b == 0)
                .ok_or("unterminated string")?;
            out.push(String::from_utf8_lossy(&rest[..end]).into_owned());
            at += end + 1;
        }
        Ok(out)
    };
    let mut h = Header::default();
    let mut dirindexes = Vec::new();
    let mut basenames = Vec::new();
    let mut dirnames = Vec::new();
    for i in 0..il {
        let e = 8 + i * 16;
        let (tag, ty, offset, count) = (
            be32(blob, e).ok_or("truncated index")?,
            be32(blob, e + 4).ok_or("truncated index")?,
            be32(blob, e + 8).ok_or("truncated index")? as usize,
            be32(blob, e + 12).ok_or("truncated index")? as usize,
        );
        if count > data.len() {
            return Err(format!("tag {tag}: count {count} exceeds the data"));
        }
        let one = |ty: u32| -> Result<String, String> {
            match ty {
                TYPE_STRING | TYPE_I18NSTRING | TYPE_STRING_ARRAY => {
                    Ok(strings(offset, 1)?.pop().unwrap_or_default())
                }
                _ => Err(format!("tag {tag}: unexpected type {ty}")),
            }
        };
        match tag {
            TAG_NAME => h.name = one(ty)?,
            TAG_VERSION => h.version = one(ty)?,
            TAG_RELEASE => h.release = one(ty)?,
            TAG_LICENSE => h.license = one(ty)?,
            TAG_ARCH => h.arch = one(ty)?,
            TAG_SOURCERPM => h.source_rpm = one(ty)?,
            TAG_EPOCH if ty == TYPE_INT32 => {
                h.epoch = Some(be32(data, offset).ok_or("epoch outside the data")?)
            }
            TAG_BASENAMES if ty == TYPE_STRING_ARRAY => basenames = strings(offset, count)?,
            TAG_DIRNAMES if ty == TYPE_STRING_ARRAY => dirnames = strings(offset, count)?,
            TAG_DIRINDEXES if ty == TYPE_INT32 => {
                dirindexes = (0..count)
                    .map(|k| be32(data, offset + 4 * k).map(|v| v as usize))
                    .collect::<Option<Vec<_>>>()
                    .ok_or("dir index outside the data")?
            }
            _ => {}
        }
    }
    if basenames.len() != dirindexes.len() {
        return Err("file name and directory index counts differ".to_owned());
    }
    for (base, di) in basenames.iter().zip(&dirindexes) {
        let dir = dirnames.get(*di).ok_or("directory index out of range")?;
        h.files
            .push(crate::tree::join("/", &format!("{dir}{base}")));
    }
    if h.name.is_empty() || h.version.is_empty() {
        return Err("header without name or version".to_owned());
    }
    Ok(h)
}

fn read_sqlite(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut conn = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    conn.deserialize_read_exact(rusqlite::MAIN_DB, bytes, bytes.len(), true)
        .map_err(|e| format!("not a readable SQLite database: {e}"))?;
    let mut stmt = conn
        .prepare("SELECT blob FROM Packages ORDER BY hnum")
        .map_err(|e| format!("no Packages table: {e}"))?;
    let rows = stmt
        .query_map([], |r| r.get::<_, Vec<u8>>(0))
        .map_err(|e| e.to_string())?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// `openssl-3.0.7-24.el9.src.rpm` -> (`openssl`, `3.0.7-24.el9`).
fn source_package(srpm: &str) -> Option<(String, String)> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    Some((name.to_owned(), format!("{version}-{release}")))
}

pub(super) fn catalog(ctx: &mut Ctx<'_>) {
    for path in OTHER_PATHS {
        if ctx.tree.get(path).is_some() {
            ctx.warn(
                WarningKind::Unsupported,
                path,
                "unsupported rpmdb format (Berkeley DB or NDB): rpm packages are not inventoried",
            );
        }
    }
    let ecosystem = match ctx.os.as_ref().and_then(|o| o.ecosystem()) {
        Some(e)
            if matches!(
                e.kind,
                EcosystemKind::RedHat | EcosystemKind::Rocky | EcosystemKind::AlmaLinux
            ) =>
        {
            e
        }
        _ => Ecosystem::new(EcosystemKind::RedHat),
    };
    let namespace = ctx
        .os
        .as_ref()
        .map(|o| o.id.clone())
        .unwrap_or_else(|| "redhat".to_owned());
    let distro = ctx
        .os
        .as_ref()
        .map(|o| format!("{}-{}", o.id, o.version_id.as_deref().unwrap_or("")))
        .unwrap_or_default();
    for path in SQLITE_PATHS {
        let Some(bytes) = ctx.tree.read(path) else {
            continue;
        };
        let blobs = match read_sqlite(bytes) {
            Ok(b) => b,
            Err(m) => {
                ctx.warn(WarningKind::Malformed, path, m);
                continue;
            }
        };
        let layer = ctx.layer_of(path);
        for (i, blob) in blobs.iter().enumerate() {
            let h = match parse_header(blob) {
                Ok(h) => h,
                Err(m) => {
                    ctx.warn(
                        WarningKind::Malformed,
                        path,
                        format!("package {}: {m}", i + 1),
                    );
                    continue;
                }
            };
            let version = format!("{}-{}", h.version, h.release);
            // OSV's Red Hat versions carry the epoch as `E:V-R`.
            let full = match h.epoch {
                Some(e) if e > 0 => format!("{e}:{version}"),
                _ => version.clone(),
            };
            let epoch = h.epoch.map(|e| e.to_string()).unwrap_or_default();
            let files = ctx.owned_files(h.files);
            ctx.packages.push(Package {
                purl: purl(
                    "rpm",
                    Some(&namespace),
                    &h.name,
                    &version,
                    &[("arch", &h.arch), ("epoch", &epoch), ("distro", &distro)],
                ),
                licenses: if h.license.is_empty() {
                    Vec::new()
                } else {
                    vec![h.license]
                },
                source: source_package(&h.source_rpm)
                    .map(|(name, version)| SourcePackage { name, version }),
                name: h.name,
                version: full,
                ecosystem: ecosystem.clone(),
                files,
                location: (*path).to_owned(),
                layer: layer.clone(),
                installer: Installer::Rpm,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_rpmdb() {
        let db = include_bytes!("../../testdata/rpm/rpmdb.sqlite");
        let headers: Vec<Header> = read_sqlite(db)
            .unwrap()
            .iter()
            .map(|b| parse_header(b).unwrap())
            .collect();
        let hello = headers.iter().find(|h| h.name == "kestrel-hello").unwrap();
        assert_eq!(
            (
                hello.version.as_str(),
                hello.release.as_str(),
                hello.epoch,
                hello.arch.as_str(),
                hello.license.as_str()
            ),
            ("1.2.3", "4.fc40", Some(1), "noarch", "MIT AND Apache-2.0")
        );
        assert_eq!(
            hello.files,
            [
                "/usr/bin/kestrel-hello",
                "/usr/share/kestrel-hello/hello.txt"
            ]
        );
        assert_eq!(
            source_package(&hello.source_rpm).unwrap(),
            ("kestrel-hello".to_owned(), "1.2.3-4.fc40".to_owned())
        );
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn hostile_headers_are_errors() {
        assert!(parse_header(&[]).is_err());
        // An index claiming more entries than the blob holds.
        assert!(parse_header(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]).is_err());
        // A valid real header truncated anywhere never panics.
        let db = include_bytes!("../../testdata/rpm/rpmdb.sqlite");
        let blob = read_sqlite(db).unwrap().remove(0);
        for cut in (0..blob.len()).step_by(7) {
            let _ = parse_header(&blob[..cut]);
        }
        assert!(read_sqlite(b"SQLite format 3\0garbage").is_err());
    }
}
