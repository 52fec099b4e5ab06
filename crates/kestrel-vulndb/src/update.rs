//! `kestrel db update`: download the public sources (or a mirror of them) and import them.
//!
//! OSV is updated per ecosystem. The first time, `<base>/<Ecosystem>/all.zip` is imported
//! whole. After that `<base>/<Ecosystem>/modified_id.csv` (lines `<modified>,<ID>`, newest
//! first, as OSV publishes it) says which records changed since the newest `modified` already
//! held, and only those `<base>/<Ecosystem>/<ID>.json` are fetched; past
//! [`MAX_INCREMENTAL`] changes a full download is cheaper and is done instead.
//!
//! Everything is downloaded first and then written in one transaction, so a failed download
//! changes nothing.

use std::io::Cursor;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::{Connection, Row};

use crate::import::{OsvWriter, import_epss, import_kev, import_osv_zip};
use crate::{Database, DbError};

/// Past this many changed records, an update downloads `all.zip` instead of single records.
pub const MAX_INCREMENTAL: usize = 2000;

/// Where to download from. Every URL can point at a mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sources {
    /// Base of the OSV bucket layout: `<base>/<Ecosystem>/all.zip`, `.../modified_id.csv`.
    pub osv_base_url: String,
    /// OSV ecosystems to download (bucket directory names: `PyPI`, `npm`, `Debian`, ...).
    pub osv_ecosystems: Vec<String>,
    /// The CISA KEV catalog JSON; empty to skip.
    pub kev_url: String,
    /// The FIRST EPSS CSV (gzip or plain); empty to skip.
    pub epss_url: String,
}

/// How one source was updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The whole source was downloaded and replaced.
    Full,
    /// Only records changed since the last update were downloaded.
    Incremental,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatedSource {
    pub name: String,
    pub mode: Mode,
    /// Records written (all of them for a full update, the changed ones otherwise).
    pub records: u64,
    /// Bytes downloaded.
    pub bytes: u64,
}

enum Download {
    OsvFull {
        name: String,
        url: String,
        bytes: Vec<u8>,
    },
    OsvRecords {
        name: String,
        url: String,
        records: Vec<(String, Vec<u8>)>,
        bytes: u64,
    },
    Kev {
        url: String,
        bytes: Vec<u8>,
    },
    Epss {
        url: String,
        bytes: Vec<u8>,
    },
}

/// Downloads every configured source and imports it atomically. With `offline`, fails before
/// any network access.
pub async fn update(
    db: &mut Database,
    sources: &Sources,
    offline: bool,
) -> Result<Vec<UpdatedSource>, DbError> {
    if offline {
        return Err(DbError::Offline {
            what: "`kestrel db update`".into(),
        });
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .connect_timeout(Duration::from_secs(30))
        .user_agent(concat!("kestrel/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| DbError::Http {
            url: sources.osv_base_url.clone(),
            message: e.to_string(),
        })?;
    let base = sources.osv_base_url.trim_end_matches('/');
    let mut downloads = Vec::new();
    for eco in &sources.osv_ecosystems {
        let name = format!("osv:{eco}");
        let newest = newest_modified(db, &name).await?;
        let mut done = false;
        if let Some(newest) = newest {
            let url = format!("{base}/{}/modified_id.csv", url_segment(eco));
            let csv = fetch(&client, &url).await?;
            let text = String::from_utf8_lossy(&csv);
            let changed = changed_since(&text, &newest).map_err(|message| DbError::Invalid {
                location: url.clone(),
                message,
            })?;
            if changed.len() <= MAX_INCREMENTAL {
                let mut records = Vec::new();
                let mut total = csv.len() as u64;
                for id in changed {
                    let rurl = format!("{base}/{}/{}.json", url_segment(eco), url_segment(&id));
                    let body = fetch(&client, &rurl).await?;
                    total += body.len() as u64;
                    records.push((rurl, body));
                }
                downloads.push(Download::OsvRecords {
                    name: name.clone(),
                    url: format!("{base}/{}", url_segment(eco)),
                    records,
                    bytes: total,
                });
                done = true;
            } else {
                tracing::info!(source = %name, changed = changed.len(), "too many changes, downloading all.zip");
            }
        }
        if !done {
            let url = format!("{base}/{}/all.zip", url_segment(eco));
            let bytes = fetch(&client, &url).await?;
            downloads.push(Download::OsvFull { name, url, bytes });
        }
    }
    if !sources.kev_url.is_empty() {
        let bytes = fetch(&client, &sources.kev_url).await?;
        downloads.push(Download::Kev {
            url: sources.kev_url.clone(),
            bytes,
        });
    }
    if !sources.epss_url.is_empty() {
        let bytes = fetch(&client, &sources.epss_url).await?;
        downloads.push(Download::Epss {
            url: sources.epss_url.clone(),
            bytes,
        });
    }

    let db_path = db.path.clone();
    let mut tx = db.conn.begin().await.map_err(|source| DbError::Sql {
        path: db_path.clone(),
        context: "starting the update",
        source,
    })?;
    let mut report = Vec::new();
    for d in downloads {
        match d {
            Download::OsvFull { name, url, bytes } => {
                let n = bytes.len() as u64;
                let s = import_osv_zip(
                    &mut tx,
                    &db_path,
                    &name,
                    &url,
                    Path::new(&url),
                    Cursor::new(bytes),
                )
                .await?;
                report.push(UpdatedSource {
                    name,
                    mode: Mode::Full,
                    records: s.records,
                    bytes: n,
                });
            }
            Download::OsvRecords {
                name,
                url,
                records,
                bytes,
            } => {
                let mut w = OsvWriter::upsert(&mut tx, &db_path, &name).await?;
                for (rurl, body) in &records {
                    w.add(&mut tx, rurl, body).await?;
                }
                let s = w.finish(&mut tx, &url).await?;
                report.push(UpdatedSource {
                    name,
                    mode: Mode::Incremental,
                    records: s.records,
                    bytes,
                });
            }
            Download::Kev { url, bytes } => {
                let s = import_kev(&mut tx, &db_path, &url, &bytes).await?;
                report.push(UpdatedSource {
                    name: s.name,
                    mode: Mode::Full,
                    records: s.records,
                    bytes: bytes.len() as u64,
                });
            }
            Download::Epss { url, bytes } => {
                let s = import_epss(&mut tx, &db_path, &url, &bytes).await?;
                report.push(UpdatedSource {
                    name: s.name,
                    mode: Mode::Full,
                    records: s.records,
                    bytes: bytes.len() as u64,
                });
            }
        }
    }
    tx.commit().await.map_err(|source| DbError::Sql {
        path: db_path,
        context: "committing the update",
        source,
    })?;
    Ok(report)
}

/// Percent-encodes a path segment (`Red Hat` → `Red%20Hat`).
fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, DbError> {
    let err = |message: String| DbError::Http {
        url: url.to_owned(),
        message,
    };
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| err(e.to_string()))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(err(format!("HTTP status {status}")));
    }
    let body = resp.bytes().await.map_err(|e| err(e.to_string()))?;
    tracing::debug!(url, bytes = body.len(), "downloaded");
    Ok(body.to_vec())
}

async fn newest_modified(db: &mut Database, source: &str) -> Result<Option<String>, DbError> {
    let row = sqlx::query("SELECT version FROM sources WHERE name = ?1 AND kind = 'osv'")
        .bind(source)
        .fetch_optional(&mut db.conn)
        .await
        .map_err(|source| DbError::Sql {
            path: db.path.clone(),
            context: "reading the update cursor",
            source,
        })?;
    Ok(row.and_then(|r| r.get::<Option<String>, _>("version")))
}

/// The ids in OSV's `modified_id.csv` modified after `since`.
fn changed_since(csv: &str, since: &str) -> Result<Vec<String>, String> {
    let since_ts: jiff::Timestamp = since
        .parse()
        .map_err(|e| format!("stored cursor {since:?} is not a timestamp: {e}"))?;
    let mut out = Vec::new();
    for (i, line) in csv.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((ts, id)) = line.split_once(',') else {
            return Err(format!("line {}: expected `<modified>,<ID>`", i + 1));
        };
        let t: jiff::Timestamp = ts
            .parse()
            .map_err(|e| format!("line {}: {ts:?} is not a timestamp: {e}", i + 1))?;
        if t > since_ts {
            // The id may carry a directory in some buckets (`GHSA-x/GHSA-x`): keep the last part.
            out.push(id.rsplit('/').next().unwrap_or(id).trim().to_owned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_ids() {
        let csv = "2024-05-02T10:00:00.5Z,GHSA-b\n2024-05-01T00:00:00Z,GHSA-a\n2023-01-01T00:00:00Z,OLD\n";
        assert_eq!(
            changed_since(csv, "2024-04-30T23:59:59.999Z").unwrap(),
            vec!["GHSA-b", "GHSA-a"]
        );
        assert!(changed_since("nonsense", "2024-01-01T00:00:00Z").is_err());
        assert_eq!(url_segment("Red Hat"), "Red%20Hat");
    }
}
