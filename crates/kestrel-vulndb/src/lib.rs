//! The offline advisory database.
//!
//! It owns the advisory model ([`osv::Advisory`], the OSV schema), the SQLite file that holds
//! OSV records, the CISA Known Exploited Vulnerabilities catalog and FIRST EPSS scores, and the
//! ways to fill it: [`Database::import`] from files (OSV `all.zip` exactly as OSV publishes it,
//! directories or single OSV JSON files, KEV JSON, EPSS CSV plain or gzip) and
//! [`update::update`] from the public sources or a mirror over HTTP.
//!
//! Every import runs in one SQLite transaction: a failed, interrupted or killed import leaves
//! the previous contents intact and readable (SQLite's journal rolls an unfinished transaction
//! back when the file is next opened). Readers never see half an import.
//!
//! Lookups are by (ecosystem, normalised package name), through an index; the matcher in
//! `kestrel-vuln` asks for the advisories of an inventory's packages and decides what applies.
//!
//! Architecture invariant: this crate stores and retrieves advisories; it never decides whether
//! a package is affected. The network is touched only by [`update`], and never when the caller
//! asks for offline operation.

pub mod import;
pub mod osv;
pub mod update;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use kestrel_package::EcosystemKind;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Row, SqliteConnection};

pub use import::{ImportReport, SourceKind};
pub use osv::Advisory;

/// Errors of the advisory database. Each names the file, record, URL or table at fault.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "advisory database {path} does not exist: run `kestrel db import PATH...` or `kestrel db update` first"
    )]
    Missing { path: PathBuf },
    #[error("cannot open advisory database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("advisory database {path}: {context}: {source}")]
    Sql {
        path: PathBuf,
        context: &'static str,
        source: sqlx::Error,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid zip archive (corrupt or truncated download?): {source}")]
    Zip {
        path: PathBuf,
        source: zip::result::ZipError,
    },
    #[error("{location}: malformed OSV record: {source}")]
    Record {
        location: String,
        source: serde_json::Error,
    },
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
    #[error(
        "{path}: cannot tell what this is (expected an OSV .zip, a directory or .json of OSV records, a KEV .json or an EPSS .csv/.csv.gz)"
    )]
    UnknownFormat { path: PathBuf },
    #[error("download of {url} failed: {message}")]
    Http { url: String, message: String },
    #[error("`--offline` forbids network access, and {what} needs it")]
    Offline { what: String },
}

/// The open advisory database.
#[derive(Debug)]
pub struct Database {
    conn: SqliteConnection,
    path: PathBuf,
}

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS sources (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        location TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        records INTEGER NOT NULL,
        version TEXT
    )",
    "CREATE TABLE IF NOT EXISTS advisories (
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        modified TEXT NOT NULL,
        withdrawn INTEGER NOT NULL,
        json TEXT NOT NULL,
        PRIMARY KEY (source, id)
    )",
    "CREATE TABLE IF NOT EXISTS affected (
        source TEXT NOT NULL,
        id TEXT NOT NULL,
        ecosystem TEXT NOT NULL,
        name TEXT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS affected_by_package ON affected (ecosystem, name)",
    "CREATE INDEX IF NOT EXISTS affected_by_advisory ON affected (source, id)",
    "CREATE TABLE IF NOT EXISTS kev (
        cve TEXT PRIMARY KEY,
        vendor TEXT NOT NULL,
        product TEXT NOT NULL,
        name TEXT NOT NULL,
        date_added TEXT NOT NULL,
        due_date TEXT,
        ransomware TEXT NOT NULL,
        required_action TEXT
    )",
    "CREATE TABLE IF NOT EXISTS epss (
        cve TEXT PRIMARY KEY,
        score REAL NOT NULL,
        percentile REAL NOT NULL
    )",
];

/// One row of `kestrel db status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    /// `osv:PyPI`, `kev`, `epss`, ...
    pub name: String,
    pub kind: SourceKind,
    /// The file or URL it was last imported from.
    pub location: String,
    /// When it was last imported or updated (RFC 3339, UTC).
    pub imported_at: String,
    pub records: i64,
    /// KEV's catalogVersion, EPSS's score date, the newest OSV `modified`.
    pub version: Option<String>,
}

/// A CISA KEV entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KevEntry {
    pub cve: String,
    pub vendor: String,
    pub product: String,
    pub name: String,
    pub date_added: String,
    pub due_date: Option<String>,
    /// `knownRansomwareCampaignUse`: `Known` or `Unknown`.
    pub ransomware: String,
    pub required_action: Option<String>,
}

impl KevEntry {
    /// Whether CISA knows of ransomware campaigns using this vulnerability.
    pub fn known_ransomware_use(&self) -> bool {
        self.ransomware.eq_ignore_ascii_case("known")
    }
}

/// A FIRST EPSS score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Epss {
    /// Probability of exploitation activity in the next 30 days, 0 to 1.
    pub score: f64,
    /// Rank among all scored CVEs, 0 to 1.
    pub percentile: f64,
}

/// An advisory and the source it was imported from (`osv:PyPI`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAdvisory {
    pub source: String,
    pub advisory: Advisory,
}

/// What the matcher needs from the database for one inventory: candidate advisories and the
/// exploitation signals of their ids.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub advisories: Vec<StoredAdvisory>,
    pub kev: HashMap<String, KevEntry>,
    pub epss: HashMap<String, Epss>,
}

impl Database {
    /// Opens the database at `path`, creating it (and its directory) if missing.
    pub async fn open_or_create(path: &Path) -> Result<Database, DbError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| DbError::Io {
                path: dir.to_owned(),
                source,
            })?;
        }
        Self::connect(path, true).await
    }

    /// Opens an existing database; a missing file is an error that says how to create one.
    pub async fn open(path: &Path) -> Result<Database, DbError> {
        if !path.exists() {
            return Err(DbError::Missing {
                path: path.to_owned(),
            });
        }
        Self::connect(path, false).await
    }

    async fn connect(path: &Path, create: bool) -> Result<Database, DbError> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(create)
            // WAL lets `kestrel scan` read while an import writes, and makes an interrupted
            // import roll back on the next open.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(30));
        let mut conn = SqliteConnection::connect_with(&opts)
            .await
            .map_err(|source| DbError::Open {
                path: path.to_owned(),
                source,
            })?;
        for stmt in SCHEMA {
            sqlx::query(*stmt)
                .execute(&mut conn)
                .await
                .map_err(|source| DbError::Open {
                    path: path.to_owned(),
                    source,
                })?;
        }
        Ok(Database {
            conn,
            path: path.to_owned(),
        })
    }

    /// The file this database lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every source, its record count and when it was imported.
    pub async fn status(&mut self) -> Result<Vec<SourceStatus>, DbError> {
        let path = self.path.clone();
        let rows = sqlx::query(
            "SELECT name, kind, location, imported_at, records, version FROM sources ORDER BY name",
        )
        .fetch_all(&mut self.conn)
        .await
        .map_err(|source| DbError::Sql {
            path: path.clone(),
            context: "reading sources",
            source,
        })?;
        rows.into_iter()
            .map(|r| {
                let kind: String = r.get("kind");
                Ok(SourceStatus {
                    name: r.get("name"),
                    kind: SourceKind::from_str(&kind).map_err(|_| DbError::Invalid {
                        location: format!("{} table sources", path.display()),
                        message: format!("unknown source kind {kind:?}"),
                    })?,
                    location: r.get("location"),
                    imported_at: r.get("imported_at"),
                    records: r.get("records"),
                    version: r.get("version"),
                })
            })
            .collect()
    }

    /// The advisories that name any of `packages` (ecosystem, name as installed), with the KEV
    /// and EPSS data of their ids and aliases. Names are normalised per ecosystem here.
    pub async fn snapshot_for(
        &mut self,
        packages: &[(EcosystemKind, String)],
    ) -> Result<Snapshot, DbError> {
        let keys: BTreeSet<(String, String)> = packages
            .iter()
            .map(|(k, n)| (k.osv_name().to_owned(), osv::normalize_name(*k, n)))
            .collect();
        let keys_json = serde_json::to_string(&keys.iter().collect::<Vec<_>>())
            .expect("strings always serialise");
        let path = self.path.clone();
        let err = |context| {
            let path = path.clone();
            move |source| DbError::Sql {
                path,
                context,
                source,
            }
        };
        let rows = sqlx::query(
            "SELECT DISTINCT a.source, a.id, a.json FROM affected f
             JOIN advisories a ON a.source = f.source AND a.id = f.id
             WHERE (f.ecosystem, f.name) IN
                   (SELECT value ->> 0, value ->> 1 FROM json_each(?1))
             ORDER BY a.id, a.source",
        )
        .bind(keys_json)
        .fetch_all(&mut self.conn)
        .await
        .map_err(err("looking up advisories"))?;
        let mut snapshot = Snapshot::default();
        for r in rows {
            let json: String = r.get("json");
            let id: String = r.get("id");
            let adv: Advisory = serde_json::from_str(&json).map_err(|source| DbError::Record {
                location: format!("{} advisory {id}", path.display()),
                source,
            })?;
            snapshot.advisories.push(StoredAdvisory {
                source: r.get("source"),
                advisory: adv,
            });
        }
        let ids: BTreeSet<&str> = snapshot
            .advisories
            .iter()
            .flat_map(|a| {
                a.advisory
                    .all_ids()
                    .into_iter()
                    .chain(a.advisory.upstream.iter().map(String::as_str))
            })
            .collect();
        let ids_json = serde_json::to_string(&ids).expect("strings always serialise");
        let rows = sqlx::query(
            "SELECT cve, vendor, product, name, date_added, due_date, ransomware, required_action
             FROM kev WHERE cve IN (SELECT value FROM json_each(?1))",
        )
        .bind(&ids_json)
        .fetch_all(&mut self.conn)
        .await
        .map_err(err("looking up KEV entries"))?;
        for r in rows {
            let e = KevEntry {
                cve: r.get("cve"),
                vendor: r.get("vendor"),
                product: r.get("product"),
                name: r.get("name"),
                date_added: r.get("date_added"),
                due_date: r.get("due_date"),
                ransomware: r.get("ransomware"),
                required_action: r.get("required_action"),
            };
            snapshot.kev.insert(e.cve.clone(), e);
        }
        let rows = sqlx::query(
            "SELECT cve, score, percentile FROM epss WHERE cve IN (SELECT value FROM json_each(?1))",
        )
        .bind(&ids_json)
        .fetch_all(&mut self.conn)
        .await
        .map_err(err("looking up EPSS scores"))?;
        for r in rows {
            snapshot.epss.insert(
                r.get("cve"),
                Epss {
                    score: r.get("score"),
                    percentile: r.get("percentile"),
                },
            );
        }
        Ok(snapshot)
    }

    /// Every advisory in the database (for benchmarks and full exports).
    pub async fn all_advisories(&mut self) -> Result<Vec<Advisory>, DbError> {
        let path = self.path.clone();
        let rows = sqlx::query("SELECT id, json FROM advisories ORDER BY id")
            .fetch_all(&mut self.conn)
            .await
            .map_err(|source| DbError::Sql {
                path: path.clone(),
                context: "reading advisories",
                source,
            })?;
        rows.into_iter()
            .map(|r| {
                let json: String = r.get("json");
                let id: String = r.get("id");
                serde_json::from_str(&json).map_err(|source| DbError::Record {
                    location: format!("{} advisory {id}", path.display()),
                    source,
                })
            })
            .collect()
    }
}

/// The current time as RFC 3339 UTC, for `imported_at`.
pub(crate) fn now_rfc3339() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map_or_else(|_| jiff::Timestamp::now().to_string(), |t| t.to_string())
}
