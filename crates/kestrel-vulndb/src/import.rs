//! Reading advisory sources into the database, all inside one transaction per import.
//!
//! Formats, recognised by content rather than by name where possible:
//! - an OSV `all.zip` (a flat zip of `<ID>.json`), as OSV publishes per ecosystem;
//! - a directory of OSV `.json` records (searched recursively), or one OSV `.json` record;
//! - the CISA KEV catalog (`known_exploited_vulnerabilities.json`);
//! - a FIRST EPSS CSV (`epss_scores-YYYY-MM-DD.csv`), plain or gzip-compressed.
//!
//! A source is replaced whole by a full import (`osv:PyPI` loses records that are no longer
//! published); a single record is upserted.

use std::fmt;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use kestrel_package::Ecosystem;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, SqliteConnection};

use crate::osv::{Advisory, normalize_name};
use crate::{Database, DbError, now_rfc3339};

/// What a source holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Osv,
    Kev,
    Epss,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Osv => "osv",
            SourceKind::Kev => "kev",
            SourceKind::Epss => "epss",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "osv" => Ok(SourceKind::Osv),
            "kev" => Ok(SourceKind::Kev),
            "epss" => Ok(SourceKind::Epss),
            _ => Err(()),
        }
    }
}

/// What one import wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub sources: Vec<ImportedSource>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportedSource {
    pub name: String,
    pub kind: SourceKind,
    pub location: String,
    pub records: u64,
}

impl Database {
    /// Imports every path in one transaction: either all of them land or none does.
    pub async fn import(&mut self, paths: &[PathBuf]) -> Result<ImportReport, DbError> {
        let db_path = self.path.clone();
        let sql = |context: &'static str| {
            let path = db_path.clone();
            move |source| DbError::Sql {
                path,
                context,
                source,
            }
        };
        let mut tx = self
            .conn
            .begin()
            .await
            .map_err(sql("starting the import"))?;
        let mut report = ImportReport::default();
        for p in paths {
            let imported = import_path(&mut tx, &db_path, p).await?;
            tracing::info!(source = %imported.name, records = imported.records, from = %p.display(), "imported");
            report.sources.push(imported);
        }
        tx.commit().await.map_err(sql("committing the import"))?;
        Ok(report)
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> DbError + '_ {
    move |source| DbError::Io {
        path: path.to_owned(),
        source,
    }
}

async fn import_path(
    tx: &mut SqliteConnection,
    db: &Path,
    path: &Path,
) -> Result<ImportedSource, DbError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    let location = path.display().to_string();
    if meta.is_dir() {
        let name = format!("osv:{}", file_name(path));
        let mut files = Vec::new();
        walk_json(path, &mut files)?;
        files.sort();
        let mut w = OsvWriter::replace(tx, db, &name).await?;
        for f in files {
            let bytes = std::fs::read(&f).map_err(io_err(&f))?;
            w.add(tx, &f.display().to_string(), &bytes).await?;
        }
        return w.finish(tx, &location).await;
    }
    let mut head = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io_err(path))?;
    let head = &head[..n];
    if head.starts_with(b"PK") {
        let name = osv_zip_source_name(path);
        let file = std::fs::File::open(path).map_err(io_err(path))?;
        return import_osv_zip(tx, db, &name, &location, path, file).await;
    }
    if head.starts_with(&[0x1f, 0x8b]) || path.extension().is_some_and(|e| e == "csv") {
        let bytes = std::fs::read(path).map_err(io_err(path))?;
        return import_epss(tx, db, &location, &bytes).await;
    }
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| DbError::UnknownFormat {
            path: path.to_owned(),
        })?;
    if value.get("catalogVersion").is_some() && value.get("vulnerabilities").is_some() {
        return import_kev(tx, db, &location, &bytes).await;
    }
    if value.get("id").is_some() {
        // One record: add to (not replace) the source named after its directory.
        let parent = path.parent().map(file_name).unwrap_or_default();
        let name = format!("osv:{parent}");
        let mut w = OsvWriter::upsert(tx, db, &name).await?;
        w.add(tx, &location, &bytes).await?;
        return w.finish(tx, &location).await;
    }
    Err(DbError::UnknownFormat {
        path: path.to_owned(),
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// `.../PyPI/all.zip` is the source `osv:PyPI`; `npm.zip` is `osv:npm`.
fn osv_zip_source_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem == "all"
        && let Some(parent) = path.parent().filter(|p| p.file_name().is_some())
    {
        return format!("osv:{}", file_name(parent));
    }
    format!("osv:{stem}")
}

fn walk_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), DbError> {
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let p = entry.path();
        let ft = entry.file_type().map_err(io_err(&p))?;
        if ft.is_dir() {
            walk_json(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

/// Reads an OSV zip (from a file or downloaded bytes) as a full replacement of `name`.
pub(crate) async fn import_osv_zip<R: Read + Seek>(
    tx: &mut SqliteConnection,
    db: &Path,
    name: &str,
    location: &str,
    path_for_errors: &Path,
    reader: R,
) -> Result<ImportedSource, DbError> {
    let zip_err = |source| DbError::Zip {
        path: path_for_errors.to_owned(),
        source,
    };
    let mut archive = zip::ZipArchive::new(reader).map_err(zip_err)?;
    let mut w = OsvWriter::replace(tx, db, name).await?;
    let mut buf = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?.into_owned();
        if entry.is_dir() || !name.ends_with(".json") {
            continue;
        }
        let entry_name = format!("{location}!{name}");
        buf.clear();
        entry.read_to_end(&mut buf).map_err(|e| DbError::Invalid {
            location: entry_name.clone(),
            message: format!("cannot decompress (corrupt archive?): {e}"),
        })?;
        drop(entry);
        w.add(tx, &entry_name, &buf).await?;
    }
    w.finish(tx, location).await
}

/// Writes OSV records of one source.
pub(crate) struct OsvWriter {
    source: String,
    db: PathBuf,
    count: u64,
    newest: String,
}

impl OsvWriter {
    /// Starts a full import: the source's previous records are dropped (inside the transaction).
    pub(crate) async fn replace(
        tx: &mut SqliteConnection,
        db: &Path,
        source: &str,
    ) -> Result<OsvWriter, DbError> {
        for stmt in [
            "DELETE FROM affected WHERE source = ?1",
            "DELETE FROM advisories WHERE source = ?1",
        ] {
            sqlx::query(stmt)
                .bind(source)
                .execute(&mut *tx)
                .await
                .map_err(sql(db, "replacing a source"))?;
        }
        Ok(OsvWriter {
            source: source.to_owned(),
            db: db.to_owned(),
            count: 0,
            newest: String::new(),
        })
    }

    /// Starts an incremental import: records are added or replaced one by one.
    pub(crate) async fn upsert(
        _tx: &mut SqliteConnection,
        db: &Path,
        source: &str,
    ) -> Result<OsvWriter, DbError> {
        Ok(OsvWriter {
            source: source.to_owned(),
            db: db.to_owned(),
            count: 0,
            newest: String::new(),
        })
    }

    /// Parses and stores one record; `location` names it in errors.
    pub(crate) async fn add(
        &mut self,
        tx: &mut SqliteConnection,
        location: &str,
        bytes: &[u8],
    ) -> Result<(), DbError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|source| DbError::Record {
                location: location.to_owned(),
                source,
            })?;
        let adv = Advisory::deserialize(&value).map_err(|source| DbError::Record {
            location: location.to_owned(),
            source,
        })?;
        if adv.id.trim().is_empty() {
            return Err(DbError::Invalid {
                location: location.to_owned(),
                message: "the record's `id` is empty".into(),
            });
        }
        let db = self.db.clone();
        sqlx::query("DELETE FROM affected WHERE source = ?1 AND id = ?2")
            .bind(&self.source)
            .bind(&adv.id)
            .execute(&mut *tx)
            .await
            .map_err(sql(&db, "writing an advisory"))?;
        sqlx::query(
            "INSERT OR REPLACE INTO advisories (source, id, modified, withdrawn, json)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(&self.source)
        .bind(&adv.id)
        .bind(&adv.modified)
        .bind(adv.withdrawn.is_some())
        .bind(value.to_string())
        .execute(&mut *tx)
        .await
        .map_err(sql(&db, "writing an advisory"))?;
        let mut keys: Vec<(String, String)> = adv
            .affected
            .iter()
            .filter_map(|a| a.package.as_ref())
            .map(|p| match Ecosystem::from_str(&p.ecosystem) {
                Ok(e) => (
                    e.kind.osv_name().to_owned(),
                    normalize_name(e.kind, &p.name),
                ),
                // Ecosystems Kestrel does not match are kept for completeness.
                Err(_) => (
                    p.ecosystem.split(':').next().unwrap_or("").to_owned(),
                    p.name.clone(),
                ),
            })
            .collect();
        keys.sort();
        keys.dedup();
        for (eco, name) in keys {
            sqlx::query(
                "INSERT INTO affected (source, id, ecosystem, name) VALUES (?1, ?2, ?3, ?4)",
            )
            .bind(&self.source)
            .bind(&adv.id)
            .bind(eco)
            .bind(name)
            .execute(&mut *tx)
            .await
            .map_err(sql(&db, "writing an advisory"))?;
        }
        if adv.modified > self.newest {
            self.newest = adv.modified;
        }
        self.count += 1;
        Ok(())
    }

    /// Records the source's status row.
    pub(crate) async fn finish(
        self,
        tx: &mut SqliteConnection,
        location: &str,
    ) -> Result<ImportedSource, DbError> {
        let db = self.db.clone();
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM advisories WHERE source = ?1")
            .bind(&self.source)
            .fetch_one(&mut *tx)
            .await
            .map_err(sql(&db, "counting advisories"))?;
        let newest: Option<String> =
            sqlx::query_scalar("SELECT max(modified) FROM advisories WHERE source = ?1")
                .bind(&self.source)
                .fetch_one(&mut *tx)
                .await
                .map_err(sql(&db, "counting advisories"))?;
        write_source(
            tx,
            &db,
            &self.source,
            SourceKind::Osv,
            location,
            total,
            newest.as_deref(),
        )
        .await?;
        Ok(ImportedSource {
            name: self.source,
            kind: SourceKind::Osv,
            location: location.to_owned(),
            records: self.count,
        })
    }
}

fn sql<'a>(db: &'a Path, context: &'static str) -> impl Fn(sqlx::Error) -> DbError + 'a {
    move |source| DbError::Sql {
        path: db.to_owned(),
        context,
        source,
    }
}

async fn write_source(
    tx: &mut SqliteConnection,
    db: &Path,
    name: &str,
    kind: SourceKind,
    location: &str,
    records: i64,
    version: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO sources (name, kind, location, imported_at, records, version)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (name) DO UPDATE SET kind = ?2, location = ?3, imported_at = ?4,
             records = ?5, version = ?6",
    )
    .bind(name)
    .bind(kind.as_str())
    .bind(location)
    .bind(now_rfc3339())
    .bind(records)
    .bind(version)
    .execute(&mut *tx)
    .await
    .map_err(sql(db, "recording the source"))?;
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KevCatalog {
    catalog_version: String,
    vulnerabilities: Vec<KevRecord>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KevRecord {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: String,
    product: String,
    vulnerability_name: String,
    date_added: String,
    #[serde(default)]
    due_date: Option<String>,
    #[serde(default)]
    known_ransomware_campaign_use: Option<String>,
    #[serde(default)]
    required_action: Option<String>,
}

/// Replaces the KEV catalog.
pub(crate) async fn import_kev(
    tx: &mut SqliteConnection,
    db: &Path,
    location: &str,
    bytes: &[u8],
) -> Result<ImportedSource, DbError> {
    let cat: KevCatalog = serde_json::from_slice(bytes).map_err(|e| DbError::Invalid {
        location: location.to_owned(),
        message: format!("not a CISA KEV catalog: {e}"),
    })?;
    sqlx::query("DELETE FROM kev")
        .execute(&mut *tx)
        .await
        .map_err(sql(db, "replacing KEV"))?;
    for v in &cat.vulnerabilities {
        sqlx::query(
            "INSERT OR REPLACE INTO kev (cve, vendor, product, name, date_added, due_date,
                 ransomware, required_action)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .bind(&v.cve_id)
        .bind(&v.vendor_project)
        .bind(&v.product)
        .bind(&v.vulnerability_name)
        .bind(&v.date_added)
        .bind(&v.due_date)
        .bind(
            v.known_ransomware_campaign_use
                .as_deref()
                .unwrap_or("Unknown"),
        )
        .bind(&v.required_action)
        .execute(&mut *tx)
        .await
        .map_err(sql(db, "writing KEV"))?;
    }
    let n = cat.vulnerabilities.len() as i64;
    write_source(
        tx,
        db,
        "kev",
        SourceKind::Kev,
        location,
        n,
        Some(&cat.catalog_version),
    )
    .await?;
    Ok(ImportedSource {
        name: "kev".into(),
        kind: SourceKind::Kev,
        location: location.to_owned(),
        records: n as u64,
    })
}

/// Replaces the EPSS scores from a CSV (gzip-compressed or not).
pub(crate) async fn import_epss(
    tx: &mut SqliteConnection,
    db: &Path,
    location: &str,
    bytes: &[u8],
) -> Result<ImportedSource, DbError> {
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut s)
            .map_err(|e| DbError::Invalid {
                location: location.to_owned(),
                message: format!("cannot decompress gzip: {e}"),
            })?;
        s
    } else {
        String::from_utf8(bytes.to_vec()).map_err(|_| DbError::Invalid {
            location: location.to_owned(),
            message: "not UTF-8 text".into(),
        })?
    };
    let rows = parse_epss(&text).map_err(|(line, message)| DbError::Invalid {
        location: format!("{location}:{line}"),
        message,
    })?;
    sqlx::query("DELETE FROM epss")
        .execute(&mut *tx)
        .await
        .map_err(sql(db, "replacing EPSS"))?;
    for (cve, score, pct) in &rows.scores {
        sqlx::query("INSERT OR REPLACE INTO epss (cve, score, percentile) VALUES (?1, ?2, ?3)")
            .bind(cve)
            .bind(score)
            .bind(pct)
            .execute(&mut *tx)
            .await
            .map_err(sql(db, "writing EPSS"))?;
    }
    let n = rows.scores.len() as i64;
    write_source(
        tx,
        db,
        "epss",
        SourceKind::Epss,
        location,
        n,
        rows.score_date.as_deref(),
    )
    .await?;
    Ok(ImportedSource {
        name: "epss".into(),
        kind: SourceKind::Epss,
        location: location.to_owned(),
        records: n as u64,
    })
}

struct EpssRows {
    score_date: Option<String>,
    scores: Vec<(String, f64, f64)>,
}

/// Parses FIRST's CSV: an optional `#model_version:...,score_date:...` line, the header
/// `cve,epss,percentile`, then one row per CVE. Errors carry the 1-based line number.
fn parse_epss(text: &str) -> Result<EpssRows, (usize, String)> {
    let mut score_date = None;
    let mut header_seen = false;
    let mut scores = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            for kv in comment.split(',') {
                if let Some(d) = kv.strip_prefix("score_date:") {
                    score_date = Some(d.to_owned());
                }
            }
            continue;
        }
        if !header_seen {
            if line.replace(' ', "") != "cve,epss,percentile" {
                return Err((
                    n,
                    format!("expected the EPSS header `cve,epss,percentile`, got {line:?}"),
                ));
            }
            header_seen = true;
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let [cve, score, pct] = f[..] else {
            return Err((n, format!("expected 3 fields, got {}", f.len())));
        };
        if !cve.starts_with("CVE-") {
            return Err((n, format!("{cve:?} is not a CVE id")));
        }
        let parse = |s: &str, what: &str| -> Result<f64, (usize, String)> {
            match s.trim().parse::<f64>() {
                Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
                _ => Err((n, format!("{what} {s:?} is not a number between 0 and 1"))),
            }
        };
        scores.push((
            cve.to_owned(),
            parse(score, "score")?,
            parse(pct, "percentile")?,
        ));
    }
    if !header_seen {
        return Err((1, "no EPSS header `cve,epss,percentile` found".into()));
    }
    Ok(EpssRows { score_date, scores })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epss_csv() {
        let rows = parse_epss(
            "#model_version:v2023.03.01,score_date:2024-10-01T00:00:00+0000\ncve,epss,percentile\nCVE-2020-28500,0.00367,0.72371\n",
        )
        .unwrap();
        assert_eq!(rows.score_date.as_deref(), Some("2024-10-01T00:00:00+0000"));
        assert_eq!(
            rows.scores,
            vec![("CVE-2020-28500".into(), 0.00367, 0.72371)]
        );
        let e = parse_epss("cve,epss,percentile\nCVE-1,2.0,0.1\n")
            .err()
            .unwrap();
        assert_eq!(e.0, 2);
        assert!(e.1.contains("score"), "{}", e.1);
        assert!(parse_epss("a,b\n").is_err());
    }

    #[test]
    fn zip_source_names() {
        assert_eq!(
            osv_zip_source_name(Path::new("/x/PyPI/all.zip")),
            "osv:PyPI"
        );
        assert_eq!(osv_zip_source_name(Path::new("npm.zip")), "osv:npm");
    }
}
