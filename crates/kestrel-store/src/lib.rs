//! Kestrel's database: alerts, workloads, ranked vulnerabilities, posture findings, attack paths,
//! sensors, tokens and dead letters, in SQLite (one file, WAL) or PostgreSQL.
//!
//! One set of migrations (`migrations/`) serves both databases: it uses only portable types,
//! application-chosen text keys and JSON payloads in TEXT columns next to indexed filter columns.
//! Queries go through [`sqlx::Any`], so each query is written once; `$N` placeholders work on
//! both (SQLite reads `$N` as parameter N). Several servers can share one PostgreSQL database:
//! ingestion is idempotent by key and migrations take PostgreSQL's advisory lock.
//!
//! ```no_run
//! # async fn f() -> Result<(), kestrel_store::StoreError> {
//! let store = kestrel_store::Store::open("sqlite:///var/lib/kestrel/kestrel.db").await?;
//! let page = store.list_alerts(&Default::default()).await?;
//! println!("{} alerts", page.total);
//! # Ok(()) }
//! ```
//!
//! Architecture invariant: this crate knows SQL and the stored shapes, nothing else. It does no
//! HTTP, no authorisation decisions (it only says who a token belongs to) and never talks to a
//! kernel or a cluster. SQL text is built only from constants; every value is bound.

pub mod filter;
pub mod model;
#[cfg(feature = "test-support")]
pub mod test_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row};

use filter::AlertBounds;
pub use filter::{
    AlertFilter, Order, PathFilter, PostureFilter, VulnFilter, VulnSort, WorkloadFilter,
};
use model::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Longest accepted record id (alert ids from agents, attack path ids from producers).
pub const MAX_ID_LEN: usize = 200;

/// Errors from the store. Each names the database, record or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "unsupported database URL {url:?}: use sqlite://PATH, a file path, or postgres://USER@HOST/DB"
    )]
    BadUrl { url: String },
    #[error("cannot connect to {database}: {source}")]
    Connect {
        database: String,
        source: sqlx::Error,
    },
    #[error("cannot migrate {database}: {source}")]
    Migrate {
        database: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database error during {operation}: {source}")]
    Query {
        operation: &'static str,
        source: sqlx::Error,
    },
    #[error("invalid {what}: {message}")]
    Invalid { what: String, message: String },
    #[error("corrupt stored {table} row {key}: {message}")]
    Corrupt {
        table: &'static str,
        key: String,
        message: String,
    },
}

impl StoreError {
    fn invalid(what: impl Into<String>, message: impl Into<String>) -> StoreError {
        StoreError::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}

type Result<T, E = StoreError> = std::result::Result<T, E>;

fn q(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { operation, source }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A connection pool to Kestrel's database, migrated to the current schema.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time and its busy handler polls: under concurrent ingest a
    /// waiting transaction can starve past the busy timeout ("database is locked"). Writers
    /// of one process queue here instead, first come first served. Unused on PostgreSQL.
    sqlite_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// The URL without credentials, for messages.
    display: String,
}

/// Turns what a user typed into a sqlx URL: a bare path means a SQLite file, created if missing.
fn normalise_url(url: &str) -> Result<(String, Backend)> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((url.to_owned(), Backend::Postgres));
    }
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let mut u = url.to_owned();
        if !rest.contains("mode=") && !rest.contains(":memory:") {
            u.push(if rest.contains('?') { '&' } else { '?' });
            u.push_str("mode=rwc");
        }
        return Ok((u, Backend::Sqlite));
    }
    if url.contains("://") || url.is_empty() {
        return Err(StoreError::BadUrl {
            url: url.to_owned(),
        });
    }
    Ok((format!("sqlite://{url}?mode=rwc"), Backend::Sqlite))
}

fn redact(url: &str) -> String {
    // postgres://user:secret@host/db → postgres://user:***@host/db
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

pub(crate) fn now_ns() -> i64 {
    i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap_or(i64::MAX)
}

/// RFC 3339 text of a Unix-nanosecond time.
pub fn format_ns(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ns.to_string())
}

/// Unix nanoseconds of an RFC 3339 time; `what` names the field in the error.
pub fn parse_time(text: &str, what: &str) -> Result<i64> {
    let t: jiff::Timestamp = text
        .parse()
        .map_err(|e| StoreError::invalid(what, format!("{text:?} is not an RFC 3339 time: {e}")))?;
    i64::try_from(t.as_nanosecond())
        .map_err(|_| StoreError::invalid(what, format!("{text:?} is out of range")))
}

fn sha256_hex(data: &str) -> String {
    Sha256::digest(data.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS random source failing is not recoverable for token generation.
    getrandom::fill(&mut buf).expect("the operating system's random source is unavailable");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("model types always serialise")
}

fn from_json<T: DeserializeOwned>(table: &'static str, key: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        table,
        key: key.to_owned(),
        message: e.to_string(),
    })
}

fn get<'r, T>(row: &'r AnyRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(col).map_err(q("reading a row"))
}

/// A value bound to a `$N` placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Arg {
    I(i64),
    F(f64),
    S(String),
}

/// A WHERE clause built from constant SQL fragments and bound values.
#[derive(Debug, Default)]
pub(crate) struct Where {
    sql: String,
    args: Vec<Arg>,
}

impl Where {
    /// Adds `expr`, where each `?` stands for `arg` (the same value if it appears twice).
    pub(crate) fn cond(&mut self, expr: &'static str, arg: Arg) {
        let n = self.args.len() + 1;
        self.sql.push_str(if self.sql.is_empty() {
            " WHERE "
        } else {
            " AND "
        });
        self.sql.push_str(&expr.replace('?', &format!("${n}")));
        self.args.push(arg);
    }

    fn bind<'q>(&self, mut query: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        for a in &self.args {
            query = match a {
                Arg::I(v) => query.bind(*v),
                Arg::F(v) => query.bind(*v),
                Arg::S(v) => query.bind(v.clone()),
            };
        }
        query
    }

    fn next_param(&self) -> usize {
        self.args.len() + 1
    }
}

fn page_bounds(limit: Option<u64>, offset: Option<u64>) -> (u64, u64) {
    (limit.unwrap_or(100).clamp(1, 1000), offset.unwrap_or(0))
}

/// The constant SQL of a paged list (see `Store::list_page`).
struct Listing<'a> {
    /// Names the query in errors.
    operation: &'static str,
    /// The table after FROM, with its alias if the columns use one.
    from: &'static str,
    columns: &'static str,
    /// ORDER BY, built from constants only; it ends in a unique column so pages are stable.
    order: &'a str,
}

/// The page query of a list; binds `w`'s values, then the limit and the offset.
fn page_sql(l: &Listing<'_>, w: &Where) -> String {
    let n = w.next_param();
    format!(
        "SELECT {} FROM {}{} ORDER BY {} LIMIT ${} OFFSET ${}",
        l.columns,
        l.from,
        w.sql,
        l.order,
        n,
        n + 1
    )
}

/// Alerts per INSERT statement: 14 values each, far below SQLite's and PostgreSQL's limits on
/// bound parameters (32,766 and 65,535).
const ALERT_CHUNK: usize = 100;

/// `INSERT INTO alerts ... VALUES (...), (...) ON CONFLICT (id) DO NOTHING RETURNING id` for
/// `rows` alerts, placeholders numbered from `$1`.
fn alert_insert_sql(rows: usize) -> String {
    const COLUMNS: usize = 14;
    let mut sql = String::from(
        "INSERT INTO alerts (id, cluster, node, time_ns, received_ns, rule, priority, \
         priority_rank, source, namespace, pod, workload, container, body) VALUES ",
    );
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..COLUMNS {
            if c > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", r * COLUMNS + c + 1));
        }
        sql.push(')');
    }
    sql.push_str(" ON CONFLICT (id) DO NOTHING RETURNING id");
    sql
}

/// One hour in nanoseconds: the bucket of `alert_counts` and of the overview's timeline.
const HOUR: i64 = 3_600_000_000_000;

/// Newest first. Every alert index used for listing ends in `(time_ns, id)`, so this order
/// needs no sort (`tests::alert_list_plans_use_indexes`).
const ALERT_ORDER: &str = "time_ns DESC, id DESC";

/// The kinds of snapshot, for the `snapshots` bookkeeping table.
#[derive(Debug, Clone, Copy)]
enum SnapshotKind {
    Workloads,
    Vulnerabilities,
    Posture,
    AttackPaths,
}

impl SnapshotKind {
    fn table(self) -> &'static str {
        match self {
            SnapshotKind::Workloads => "workloads",
            SnapshotKind::Vulnerabilities => "vulnerabilities",
            SnapshotKind::Posture => "posture_findings",
            SnapshotKind::AttackPaths => "attack_paths",
        }
    }
}

#[derive(Serialize, serde::Deserialize)]
struct AlertBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workload: Option<WorkloadRef>,
    alert: kestrel_event::Alert,
}

fn field_str(alert: &kestrel_event::Alert, key: &str) -> Option<String> {
    alert
        .output_fields
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty() && *s != "<NA>")
        .map(str::to_owned)
}

/// Alert priority as a number that sorts by severity: 7 for Emergency down to 0 for Debug.
pub fn priority_rank(p: kestrel_event::Priority) -> i64 {
    7 - kestrel_event::Priority::ALL
        .iter()
        .position(|x| *x == p)
        .unwrap_or(7) as i64
}

/// Which alerts of an ingest call were new.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertIngest {
    /// Indexes (into the batch) of the alerts stored by this call.
    pub accepted: Vec<usize>,
    /// How many the store already had.
    pub duplicates: u64,
}

impl AlertIngest {
    pub fn result(&self) -> IngestResult {
        IngestResult {
            accepted: self.accepted.len() as u64,
            duplicates: self.duplicates,
        }
    }
}

/// Run on every SQLite connection. sqlx already opens SQLite in WAL mode.
/// - `synchronous = NORMAL` is durable in WAL mode except for the last transactions before a
///   power cut, and several times faster than FULL.
/// - SQLite's default page cache is 2 MiB per connection: with the alert indexes of a busy
///   cluster that made ingest re-read pages with pread(2) (12 % of ingest CPU in a profile).
///   32 MiB of cache per connection and reads through a 256 MiB mapping of the file avoid it.
const SQLITE_PRAGMAS: &str =
    "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32768; PRAGMA mmap_size = 268435456;";

impl Store {
    /// Connects to `url` (`sqlite://PATH`, a plain file path, or `postgres://...`) and applies
    /// pending migrations.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (url, backend) = normalise_url(url)?;
        let shown = redact(&url);
        if backend == Backend::Sqlite
            && let Some(path) = url
                .strip_prefix("sqlite://")
                .and_then(|p| p.split('?').next())
            && let Some(parent) = Path::new(path).parent()
            && !parent.as_os_str().is_empty()
            && !parent.exists()
        {
            return Err(StoreError::invalid(
                "database path",
                format!("directory {} does not exist", parent.display()),
            ));
        }
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time anyway; readers share the WAL.
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            // SQLite pragmas hold per connection, so every pooled connection gets them.
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if sqlite {
                        sqlx::Executor::execute(&mut *conn, SQLITE_PRAGMAS).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|source| StoreError::Connect {
                database: shown.clone(),
                source,
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                database: shown.clone(),
                source,
            })?;
        tracing::info!(database = %shown, "database ready");
        Ok(Store {
            pool,
            backend,
            sqlite_writer: Default::default(),
            display: shown,
        })
    }

    /// Waits for this process's turn to write to SQLite (see `sqlite_writer`); hold the guard
    /// until the transaction is committed.
    async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().await),
            Backend::Postgres => None,
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database URL without its password.
    pub fn display_url(&self) -> &str {
        &self.display
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(q("ping"))?;
        Ok(())
    }

    /// Size of the database in bytes (the SQLite file's pages, or PostgreSQL's database size).
    pub async fn size_bytes(&self) -> Result<i64> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()"
            }
            Backend::Postgres => "SELECT CAST(pg_database_size(current_database()) AS BIGINT)",
        };
        let row = sqlx::query(sql)
            .fetch_one(&self.pool)
            .await
            .map_err(q("database size"))?;
        row.try_get::<i64, _>(0).map_err(q("database size"))
    }

    /// Stores a batch of alerts; alerts whose id is already stored are counted as duplicates.
    pub async fn ingest_alerts(
        &self,
        cluster: &str,
        node: &str,
        alerts: &[AlertIn],
    ) -> Result<AlertIngest> {
        let received = now_ns();
        let mut rows = Vec::with_capacity(alerts.len());
        for (i, a) in alerts.iter().enumerate() {
            if a.id.is_empty() || a.id.len() > MAX_ID_LEN {
                return Err(StoreError::invalid(
                    format!("alerts[{i}].id"),
                    format!("must be 1 to {MAX_ID_LEN} characters"),
                ));
            }
            let time = parse_time(
                &a.alert.time,
                &format!("alerts[{i}].alert.time (id {})", a.id),
            )?;
            rows.push(time);
        }
        let mut out = AlertIngest::default();
        // New alerts per (hour, rule, priority rank) for `alert_counts`. A BTreeMap so that
        // concurrent ingest transactions update rollup rows in the same order (no deadlock on
        // PostgreSQL's row locks).
        let mut counts: BTreeMap<(i64, &str, i64), (&'static str, i64)> = BTreeMap::new();
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await.map_err(q("ingesting alerts"))?;
        // Multi-row INSERTs: one statement per ALERT_CHUNK alerts instead of one per alert.
        // RETURNING names the rows stored; an id it does not return was already there (or
        // earlier in this batch).
        let all: Vec<(usize, &AlertIn, i64)> = alerts
            .iter()
            .zip(rows)
            .enumerate()
            .map(|(i, (a, t))| (i, a, t))
            .collect();
        for chunk in all.chunks(ALERT_CHUNK) {
            let mut query = sqlx::query(AssertSqlSafe(alert_insert_sql(chunk.len())));
            for &(_, a, time) in chunk {
                let namespace = a
                    .workload
                    .as_ref()
                    .map(|w| w.namespace.clone())
                    .or_else(|| field_str(&a.alert, "k8s.ns.name"));
                let pod = field_str(&a.alert, "k8s.pod.name");
                let workload = a.workload.as_ref().map(|w| w.name.clone()).or(pod.clone());
                let body = to_json(&AlertBody {
                    workload: a.workload.clone(),
                    alert: a.alert.clone(),
                });
                query = query
                    .bind(a.id.clone())
                    .bind(cluster.to_owned())
                    .bind(node.to_owned())
                    .bind(time)
                    .bind(received)
                    .bind(a.alert.rule.clone())
                    .bind(a.alert.priority.as_str())
                    .bind(priority_rank(a.alert.priority))
                    .bind(a.alert.source.clone())
                    .bind(namespace)
                    .bind(pod)
                    .bind(workload)
                    .bind(field_str(&a.alert, "container.name"))
                    .bind(body);
            }
            let stored = query
                .fetch_all(&mut *tx)
                .await
                .map_err(q("inserting alerts"))?;
            let mut stored: std::collections::HashSet<String> = stored
                .iter()
                .map(|r| get::<String>(r, "id"))
                .collect::<Result<_>>()?;
            for &(i, a, time) in chunk {
                if stored.remove(&a.id) {
                    out.accepted.push(i);
                    let p = a.alert.priority;
                    counts
                        .entry((
                            time.div_euclid(HOUR),
                            a.alert.rule.as_str(),
                            priority_rank(p),
                        ))
                        .or_insert((p.as_str(), 0))
                        .1 += 1;
                } else {
                    out.duplicates += 1;
                }
            }
        }
        for ((hour, rule, rank), (priority, n)) in counts {
            sqlx::query(
                "INSERT INTO alert_counts (hour, cluster, rule, priority_rank, priority, n) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (hour, cluster, rule, priority_rank) \
                 DO UPDATE SET n = alert_counts.n + excluded.n",
            )
            .bind(hour)
            .bind(cluster.to_owned())
            .bind(rule.to_owned())
            .bind(rank)
            .bind(priority)
            .bind(n)
            .execute(&mut *tx)
            .await
            .map_err(q("counting alerts per hour"))?;
        }
        tx.commit().await.map_err(q("committing alerts"))?;
        Ok(out)
    }

    /// Alerts matching `f`, newest first.
    pub async fn list_alerts(&self, f: &AlertFilter) -> Result<Page<StoredAlert>> {
        let b = f.bounds()?;
        let w = f.where_between(b.since, b.until, b.min_rank);
        let total = self.count_alerts(f, b).await?;
        self.list_page(
            Listing {
                operation: "listing alerts",
                from: "alerts",
                columns: "id, cluster, node, received_ns, body",
                order: ALERT_ORDER,
            },
            &w,
            page_bounds(f.limit, f.offset),
            Some(total),
            |r| {
                let id: String = get(r, "id")?;
                let body: AlertBody = from_json("alerts", &id, &get::<String>(r, "body")?)?;
                Ok(StoredAlert {
                    cluster: get(r, "cluster")?,
                    node: get(r, "node")?,
                    received: format_ns(get(r, "received_ns")?),
                    workload: body.workload,
                    alert: body.alert,
                    id,
                })
            },
        )
        .await
    }

    /// How many alerts match `f`. Whole hours are summed from `alert_counts`; only the partial
    /// hours at the edges of a time range are counted in `alerts` (through the time index). A
    /// filter on a column the rollup lacks (node, namespace, pod, workload) counts in `alerts`
    /// through that column's index.
    async fn count_alerts(&self, f: &AlertFilter, b: AlertBounds) -> Result<u64> {
        if let (Some(s), Some(u)) = (b.since, b.until)
            && s >= u
        {
            return Ok(0);
        }
        // First whole hour at or after `since`, end of the last whole hour before `until`.
        let first_hour = b
            .since
            .map(|s| s.div_euclid(HOUR) + i64::from(s.rem_euclid(HOUR) != 0));
        let end_hour = b.until.map(|u| u.div_euclid(HOUR));
        let within_one_hour = matches!((first_hour, end_hour), (Some(a), Some(e)) if a >= e);
        let rollup = match f.rollup_where(first_hour, end_hour, b.min_rank) {
            Some(w) if !within_one_hour => w,
            _ => {
                return self
                    .count("alerts", &f.where_between(b.since, b.until, b.min_rank))
                    .await;
            }
        };
        let row = rollup
            .bind(sqlx::query(AssertSqlSafe(format!(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM alert_counts{}",
                rollup.sql
            ))))
            .fetch_one(&self.pool)
            .await
            .map_err(q("counting alerts"))?;
        let mut total = row
            .try_get::<i64, _>(0)
            .map_err(q("counting alerts"))?
            .max(0) as u64;
        if let (Some(s), Some(h)) = (b.since, first_hour)
            && s < h * HOUR
        {
            let edge = f.where_between(Some(s), Some(h * HOUR), b.min_rank);
            total += self.count("alerts", &edge).await?;
        }
        if let (Some(u), Some(h)) = (b.until, end_hour)
            && h * HOUR < u
        {
            let edge = f.where_between(Some(h * HOUR), Some(u), b.min_rank);
            total += self.count("alerts", &edge).await?;
        }
        Ok(total)
    }

    async fn count(&self, table: &'static str, w: &Where) -> Result<u64> {
        let sql = format!("SELECT COUNT(*) FROM {table}{}", w.sql);
        let row = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .fetch_one(&self.pool)
            .await
            .map_err(q("counting rows"))?;
        Ok(row.try_get::<i64, _>(0).map_err(q("counting rows"))?.max(0) as u64)
    }

    /// One page of a list: the total (counted with `w` unless given), then the page's rows in
    /// `l.order`, each turned into an item by `item`.
    async fn list_page<T>(
        &self,
        l: Listing<'_>,
        w: &Where,
        (limit, offset): (u64, u64),
        total: Option<u64>,
        item: impl Fn(&AnyRow) -> Result<T>,
    ) -> Result<Page<T>> {
        let total = match total {
            Some(t) => t,
            None => self.count(l.from, w).await?,
        };
        let items = if offset >= total {
            Vec::new()
        } else {
            let rows = w
                .bind(sqlx::query(AssertSqlSafe(page_sql(&l, w))))
                .bind(limit as i64)
                .bind(offset as i64)
                .fetch_all(&self.pool)
                .await
                .map_err(q(l.operation))?;
            rows.iter().map(item).collect::<Result<Vec<_>>>()?
        };
        Ok(Page {
            items,
            total,
            offset,
            limit,
        })
    }

    /// Checks the snapshot is not older than the stored one and, in `tx`, records it and
    /// deletes what its source reported before. Returns false for a stale snapshot.
    async fn begin_snapshot(
        tx: &mut sqlx::Transaction<'_, Any>,
        kind: SnapshotKind,
        cluster: &str,
        source: &str,
        generated: i64,
    ) -> Result<bool> {
        let stored = sqlx::query(
            "SELECT generated_ns FROM snapshots WHERE cluster = $1 AND source = $2 AND kind = $3",
        )
        .bind(cluster.to_owned())
        .bind(source.to_owned())
        .bind(kind.table())
        .fetch_optional(&mut **tx)
        .await
        .map_err(q("reading snapshot times"))?;
        if let Some(row) = stored {
            let prev: i64 = get(&row, "generated_ns")?;
            if prev > generated {
                return Ok(false);
            }
        }
        sqlx::query(
            "INSERT INTO snapshots (cluster, source, kind, generated_ns) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (cluster, source, kind) DO UPDATE SET generated_ns = excluded.generated_ns",
        )
        .bind(cluster.to_owned())
        .bind(source.to_owned())
        .bind(kind.table())
        .bind(generated)
        .execute(&mut **tx)
        .await
        .map_err(q("recording a snapshot"))?;
        let sql = format!(
            "DELETE FROM {} WHERE cluster = $1 AND source = $2",
            kind.table()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(cluster.to_owned())
            .bind(source.to_owned())
            .execute(&mut **tx)
            .await
            .map_err(q("replacing a snapshot"))?;
        Ok(true)
    }

    fn check_snapshot<T>(s: &Snapshot<T>) -> Result<i64> {
        if s.cluster.is_empty() {
            return Err(StoreError::invalid("cluster", "must not be empty"));
        }
        if s.source.is_empty() {
            return Err(StoreError::invalid("source", "must not be empty"));
        }
        parse_time(&s.generated_at, "generated_at")
    }

    /// Replaces the workloads `s.source` reported for `s.cluster`.
    pub async fn replace_workloads(&self, s: &Snapshot<Workload>) -> Result<IngestResult> {
        let generated = Self::check_snapshot(s)?;
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await.map_err(q("storing workloads"))?;
        if !Self::begin_snapshot(
            &mut tx,
            SnapshotKind::Workloads,
            &s.cluster,
            &s.source,
            generated,
        )
        .await?
        {
            return Ok(IngestResult {
                accepted: 0,
                duplicates: s.items.len() as u64,
            });
        }
        for w in &s.items {
            sqlx::query(
                "INSERT INTO workloads (cluster, namespace, kind, name, source, exposure, \
                 environment, images, seen_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (cluster, namespace, kind, name) DO UPDATE SET source = excluded.source, \
                 exposure = excluded.exposure, environment = excluded.environment, \
                 images = excluded.images, seen_ns = excluded.seen_ns, body = excluded.body",
            )
            .bind(s.cluster.clone())
            .bind(w.namespace.clone())
            .bind(w.kind.clone())
            .bind(w.name.clone())
            .bind(s.source.clone())
            .bind(w.exposure.as_str())
            .bind(w.environment.as_str())
            .bind(w.images.join(" "))
            .bind(generated)
            .bind(to_json(w))
            .execute(&mut *tx)
            .await
            .map_err(q("inserting a workload"))?;
        }
        tx.commit().await.map_err(q("committing workloads"))?;
        Ok(IngestResult {
            accepted: s.items.len() as u64,
            duplicates: 0,
        })
    }

    /// Replaces the vulnerability findings `s.source` reported for `s.cluster`.
    pub async fn replace_vulnerabilities(&self, s: &Snapshot<VulnFinding>) -> Result<IngestResult> {
        let generated = Self::check_snapshot(s)?;
        for (i, v) in s.items.iter().enumerate() {
            if !v.score.is_finite() {
                return Err(StoreError::invalid(
                    format!("items[{i}].score"),
                    "must be a finite number",
                ));
            }
        }
        let _turn = self.write_turn().await;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(q("storing vulnerabilities"))?;
        if !Self::begin_snapshot(
            &mut tx,
            SnapshotKind::Vulnerabilities,
            &s.cluster,
            &s.source,
            generated,
        )
        .await?
        {
            return Ok(IngestResult {
                accepted: 0,
                duplicates: s.items.len() as u64,
            });
        }
        for v in &s.items {
            let id = sha256_hex(&format!("{}|{}", s.cluster, v.key()))[..32].to_owned();
            sqlx::query(
                "INSERT INTO vulnerabilities (id, cluster, source, namespace, workload_kind, workload, \
                 image, package, vuln_id, severity, severity_rank, score, in_use, kev, epss, seen_ns, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) \
                 ON CONFLICT (id) DO UPDATE SET source = excluded.source, severity = excluded.severity, \
                 severity_rank = excluded.severity_rank, score = excluded.score, in_use = excluded.in_use, \
                 kev = excluded.kev, epss = excluded.epss, seen_ns = excluded.seen_ns, body = excluded.body",
            )
            .bind(id)
            .bind(s.cluster.clone())
            .bind(s.source.clone())
            .bind(v.workload.namespace.clone())
            .bind(v.workload.kind.clone())
            .bind(v.workload.name.clone())
            .bind(v.image.clone())
            .bind(v.package.name.clone())
            .bind(v.vulnerability.clone())
            .bind(v.severity.as_str())
            .bind(v.severity.rank())
            .bind(v.score)
            .bind(in_use_code(v.in_use))
            .bind(i64::from(v.kev))
            .bind(v.epss)
            .bind(generated)
            .bind(to_json(v))
            .execute(&mut *tx)
            .await
            .map_err(q("inserting a vulnerability"))?;
        }
        tx.commit().await.map_err(q("committing vulnerabilities"))?;
        Ok(IngestResult {
            accepted: s.items.len() as u64,
            duplicates: 0,
        })
    }

    /// Replaces the posture findings `s.source` reported for `s.cluster`.
    pub async fn replace_posture(&self, s: &Snapshot<PostureFinding>) -> Result<IngestResult> {
        let generated = Self::check_snapshot(s)?;
        let _turn = self.write_turn().await;
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(q("storing posture findings"))?;
        if !Self::begin_snapshot(
            &mut tx,
            SnapshotKind::Posture,
            &s.cluster,
            &s.source,
            generated,
        )
        .await?
        {
            return Ok(IngestResult {
                accepted: 0,
                duplicates: s.items.len() as u64,
            });
        }
        for p in &s.items {
            let id = sha256_hex(&format!("{}|{}", s.cluster, p.key()))[..32].to_owned();
            sqlx::query(
                "INSERT INTO posture_findings (id, cluster, source, check_id, severity, severity_rank, \
                 kind, namespace, name, seen_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                 ON CONFLICT (id) DO UPDATE SET source = excluded.source, severity = excluded.severity, \
                 severity_rank = excluded.severity_rank, seen_ns = excluded.seen_ns, body = excluded.body",
            )
            .bind(id)
            .bind(s.cluster.clone())
            .bind(s.source.clone())
            .bind(p.check_id.clone())
            .bind(p.severity.as_str())
            .bind(p.severity.rank())
            .bind(p.resource.kind.clone())
            .bind(p.resource.namespace.clone().unwrap_or_default())
            .bind(p.resource.name.clone())
            .bind(generated)
            .bind(to_json(p))
            .execute(&mut *tx)
            .await
            .map_err(q("inserting a posture finding"))?;
        }
        tx.commit()
            .await
            .map_err(q("committing posture findings"))?;
        Ok(IngestResult {
            accepted: s.items.len() as u64,
            duplicates: 0,
        })
    }

    /// Replaces the attack paths `s.source` reported for `s.cluster`.
    pub async fn replace_attack_paths(&self, s: &Snapshot<AttackPath>) -> Result<IngestResult> {
        let generated = Self::check_snapshot(s)?;
        for (i, p) in s.items.iter().enumerate() {
            if p.id.is_empty() || p.id.len() > MAX_ID_LEN {
                return Err(StoreError::invalid(
                    format!("items[{i}].id"),
                    format!("must be 1 to {MAX_ID_LEN} characters"),
                ));
            }
            if p.hops.is_empty() {
                return Err(StoreError::invalid(
                    format!("items[{i}].hops"),
                    "a path needs at least one hop",
                ));
            }
        }
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await.map_err(q("storing attack paths"))?;
        if !Self::begin_snapshot(
            &mut tx,
            SnapshotKind::AttackPaths,
            &s.cluster,
            &s.source,
            generated,
        )
        .await?
        {
            return Ok(IngestResult {
                accepted: 0,
                duplicates: s.items.len() as u64,
            });
        }
        for p in &s.items {
            // Ids are the producer's; scope them by cluster so two clusters cannot collide.
            let id = format!("{}/{}", s.cluster, p.id);
            sqlx::query(
                "INSERT INTO attack_paths (id, cluster, source, namespace, workload, score, seen_ns, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET source = excluded.source, namespace = excluded.namespace, \
                 workload = excluded.workload, score = excluded.score, seen_ns = excluded.seen_ns, \
                 body = excluded.body",
            )
            .bind(id)
            .bind(s.cluster.clone())
            .bind(s.source.clone())
            .bind(p.workload.namespace.clone())
            .bind(p.workload.name.clone())
            .bind(p.score)
            .bind(generated)
            .bind(to_json(p))
            .execute(&mut *tx)
            .await
            .map_err(q("inserting an attack path"))?;
        }
        tx.commit().await.map_err(q("committing attack paths"))?;
        Ok(IngestResult {
            accepted: s.items.len() as u64,
            duplicates: 0,
        })
    }

    /// Records a sensor's health report.
    pub async fn record_sensor(&self, h: &SensorHealth) -> Result<()> {
        sqlx::query(
            "INSERT INTO sensors (cluster, node, version, status, events_total, drops_total, \
             alerts_total, events_per_second, last_seen_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (cluster, node) DO UPDATE SET version = excluded.version, status = excluded.status, \
             events_total = excluded.events_total, drops_total = excluded.drops_total, \
             alerts_total = excluded.alerts_total, events_per_second = excluded.events_per_second, \
             last_seen_ns = excluded.last_seen_ns, body = excluded.body",
        )
        .bind(h.cluster.clone())
        .bind(h.node.clone())
        .bind(h.version.clone())
        .bind(h.status.as_str())
        .bind(i64::try_from(h.events_total).unwrap_or(i64::MAX))
        .bind(i64::try_from(h.drops_total).unwrap_or(i64::MAX))
        .bind(i64::try_from(h.alerts_total).unwrap_or(i64::MAX))
        .bind(h.events_per_second)
        .bind(now_ns())
        .bind(to_json(h))
        .execute(&self.pool)
        .await
        .map_err(q("recording sensor health"))?;
        Ok(())
    }

    /// Every sensor, by cluster and node.
    pub async fn list_sensors(&self) -> Result<Vec<StoredSensor>> {
        let rows = sqlx::query(
            "SELECT cluster, node, last_seen_ns, body FROM sensors ORDER BY cluster, node",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing sensors"))?;
        rows.iter()
            .map(|r| {
                let key = format!(
                    "{}/{}",
                    get::<String>(r, "cluster")?,
                    get::<String>(r, "node")?
                );
                Ok(StoredSensor {
                    health: from_json("sensors", &key, &get::<String>(r, "body")?)?,
                    last_seen: format_ns(get(r, "last_seen_ns")?),
                })
            })
            .collect()
    }

    /// Workloads matching `f`, riskiest first.
    pub async fn list_workloads(&self, f: &WorkloadFilter) -> Result<Page<WorkloadSummary>> {
        let w = f.to_where()?;
        self.list_page(
            Listing {
                operation: "listing workloads",
                from: "workloads w",
                columns: "w.cluster, w.namespace, w.name, w.seen_ns, w.body, \
                 (SELECT COUNT(*) FROM vulnerabilities v WHERE v.cluster = w.cluster AND v.namespace = w.namespace \
                   AND v.workload_kind = w.kind AND v.workload = w.name) AS vulns, \
                 (SELECT COALESCE(MAX(v.score), 0.0) FROM vulnerabilities v WHERE v.cluster = w.cluster \
                   AND v.namespace = w.namespace AND v.workload_kind = w.kind AND v.workload = w.name) AS max_score, \
                 (SELECT COUNT(*) FROM alerts a WHERE a.cluster = w.cluster AND a.namespace = w.namespace \
                   AND a.workload = w.name) AS alert_count",
                order: "max_score DESC, w.namespace, w.name, w.kind",
            },
            &w,
            page_bounds(f.limit, f.offset),
            None,
            |r| {
                let key = format!(
                    "{}/{}",
                    get::<String>(r, "namespace")?,
                    get::<String>(r, "name")?
                );
                Ok(WorkloadSummary {
                    cluster: get(r, "cluster")?,
                    workload: from_json("workloads", &key, &get::<String>(r, "body")?)?,
                    last_seen: format_ns(get(r, "seen_ns")?),
                    vulnerabilities: get::<i64>(r, "vulns")?.max(0) as u64,
                    max_score: get(r, "max_score")?,
                    alerts: get::<i64>(r, "alert_count")?.max(0) as u64,
                })
            },
        )
        .await
    }

    /// Vulnerability findings matching `f`, sorted as it asks (riskiest first by default).
    pub async fn list_vulnerabilities(&self, f: &VulnFilter) -> Result<Page<StoredVuln>> {
        let w = f.to_where()?;
        self.list_page(
            Listing {
                operation: "listing vulnerabilities",
                from: "vulnerabilities",
                columns: "id, cluster, body",
                order: &f.order_by(),
            },
            &w,
            page_bounds(f.limit, f.offset),
            None,
            |r| {
                let id: String = get(r, "id")?;
                Ok(StoredVuln {
                    cluster: get(r, "cluster")?,
                    finding: from_json("vulnerabilities", &id, &get::<String>(r, "body")?)?,
                    id,
                })
            },
        )
        .await
    }

    /// Posture findings matching `f`, most severe first.
    pub async fn list_posture(&self, f: &PostureFilter) -> Result<Page<StoredPosture>> {
        let w = f.to_where()?;
        self.list_page(
            Listing {
                operation: "listing posture findings",
                from: "posture_findings",
                columns: "id, cluster, body",
                order: "severity_rank DESC, check_id, namespace, name, id",
            },
            &w,
            page_bounds(f.limit, f.offset),
            None,
            |r| {
                let id: String = get(r, "id")?;
                Ok(StoredPosture {
                    cluster: get(r, "cluster")?,
                    finding: from_json("posture_findings", &id, &get::<String>(r, "body")?)?,
                    id,
                })
            },
        )
        .await
    }

    /// Attack paths matching `f`, highest score first.
    pub async fn list_attack_paths(&self, f: &PathFilter) -> Result<Page<StoredPath>> {
        let w = f.to_where()?;
        self.list_page(
            Listing {
                operation: "listing attack paths",
                from: "attack_paths",
                columns: "id, cluster, body",
                order: "score DESC, id",
            },
            &w,
            page_bounds(f.limit, f.offset),
            None,
            |r| {
                let id: String = get(r, "id")?;
                Ok(StoredPath {
                    cluster: get(r, "cluster")?,
                    path: from_json("attack_paths", &id, &get::<String>(r, "body")?)?,
                })
            },
        )
        .await
    }

    /// One attack path by cluster and producer id.
    pub async fn get_attack_path(&self, cluster: &str, id: &str) -> Result<Option<StoredPath>> {
        let key = format!("{cluster}/{id}");
        let row = sqlx::query("SELECT cluster, body FROM attack_paths WHERE id = $1")
            .bind(key.clone())
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading an attack path"))?;
        row.map(|r| {
            Ok(StoredPath {
                cluster: get(&r, "cluster")?,
                path: from_json("attack_paths", &key, &get::<String>(&r, "body")?)?,
            })
        })
        .transpose()
    }

    /// The dashboard's overview at `now_ns`: counts, the ten riskiest findings, the last 24
    /// hours of alerts per hour and priority, and every sensor.
    pub async fn overview(&self) -> Result<Overview> {
        let none = Where::default();
        let now = now_ns();
        let first_hour = now.div_euclid(HOUR) - 23;
        let rows = sqlx::query(
            "SELECT hour, priority, CAST(SUM(n) AS BIGINT) AS n FROM alert_counts \
             WHERE hour >= $1 GROUP BY hour, priority",
        )
        .bind(first_hour)
        .fetch_all(&self.pool)
        .await
        .map_err(q("alert timeline"))?;
        let mut buckets: BTreeMap<i64, BTreeMap<String, u64>> = (first_hour..=now.div_euclid(HOUR))
            .map(|h| (h, BTreeMap::new()))
            .collect();
        for r in &rows {
            let hour: i64 = get(r, "hour")?;
            let n: i64 = get(r, "n")?;
            if let Some(b) = buckets.get_mut(&hour) {
                *b.entry(get(r, "priority")?).or_default() += n.max(0) as u64;
            }
        }
        let top = self
            .list_vulnerabilities(&VulnFilter {
                limit: Some(10),
                ..Default::default()
            })
            .await?;
        Ok(Overview {
            workloads: self.count("workloads", &none).await?,
            vulnerabilities: top.total,
            alerts: self
                .count_alerts(&AlertFilter::default(), AlertBounds::default())
                .await?,
            posture_findings: self.count("posture_findings", &none).await?,
            attack_paths: self.count("attack_paths", &none).await?,
            top_risks: top.items,
            timeline: buckets
                .into_iter()
                .map(|(h, counts)| TimelineBucket {
                    start: format_ns(h * HOUR),
                    counts,
                })
                .collect(),
            sensors: self.list_sensors().await?,
        })
    }

    /// Creates a bearer token for an API user.
    pub async fn create_api_token(&self, name: &str, role: Role) -> Result<NewToken> {
        let id = random_hex(6);
        let token = format!("kst_{}", random_hex(24));
        sqlx::query(
            "INSERT INTO api_tokens (id, name, role, secret_sha256, created_ns) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.clone())
        .bind(name.to_owned())
        .bind(role.as_str())
        .bind(sha256_hex(&token))
        .bind(now_ns())
        .execute(&self.pool)
        .await
        .map_err(q("creating an API token"))?;
        Ok(NewToken { id, token })
    }

    /// Creates an enrollment token for the agents of `cluster`.
    pub async fn create_enrollment_token(&self, cluster: &str) -> Result<NewToken> {
        if cluster.is_empty() {
            return Err(StoreError::invalid("cluster", "must not be empty"));
        }
        let id = random_hex(6);
        let token = format!("kag_{}", random_hex(24));
        sqlx::query(
            "INSERT INTO enrollment_tokens (id, cluster, secret_sha256, created_ns) VALUES ($1, $2, $3, $4)",
        )
        .bind(id.clone())
        .bind(cluster.to_owned())
        .bind(sha256_hex(&token))
        .bind(now_ns())
        .execute(&self.pool)
        .await
        .map_err(q("creating an enrollment token"))?;
        Ok(NewToken { id, token })
    }

    /// Who `token` belongs to, or `None` for an unknown or revoked token. Only the SHA-256 of
    /// tokens is stored.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>> {
        let hash = sha256_hex(token);
        if token.starts_with("kag_") {
            let row =
                sqlx::query("SELECT id, cluster FROM enrollment_tokens WHERE secret_sha256 = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(q("checking a token"))?;
            return row
                .map(|r| {
                    Ok(Principal::Agent {
                        token_id: get(&r, "id")?,
                        cluster: get(&r, "cluster")?,
                    })
                })
                .transpose();
        }
        let row = sqlx::query("SELECT id, role FROM api_tokens WHERE secret_sha256 = $1")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("checking a token"))?;
        row.map(|r| {
            let id: String = get(&r, "id")?;
            let role: String = get(&r, "role")?;
            let role = role
                .parse()
                .map_err(|e: UnknownValue| StoreError::Corrupt {
                    table: "api_tokens",
                    key: id.clone(),
                    message: e.to_string(),
                })?;
            Ok(Principal::User { token_id: id, role })
        })
        .transpose()
    }

    /// Every token, user and agent, without secrets.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query(
            "SELECT id, name, role, created_ns FROM api_tokens \
             UNION ALL SELECT id, cluster AS name, 'agent' AS role, created_ns FROM enrollment_tokens \
             ORDER BY created_ns, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing tokens"))?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    id: get(r, "id")?,
                    name: get(r, "name")?,
                    role: get(r, "role")?,
                    created: format_ns(get(r, "created_ns")?),
                })
            })
            .collect()
    }

    /// Revokes a user or agent token by id. Returns false when no token has that id.
    pub async fn revoke_token(&self, id: &str) -> Result<bool> {
        let a = sqlx::query("DELETE FROM api_tokens WHERE id = $1")
            .bind(id.to_owned())
            .execute(&self.pool)
            .await
            .map_err(q("revoking a token"))?;
        let b = sqlx::query("DELETE FROM enrollment_tokens WHERE id = $1")
            .bind(id.to_owned())
            .execute(&self.pool)
            .await
            .map_err(q("revoking a token"))?;
        Ok(a.rows_affected() + b.rows_affected() > 0)
    }

    /// How many admin tokens exist (the server creates one at first start when there is none).
    pub async fn count_admin_tokens(&self) -> Result<u64> {
        let row = sqlx::query("SELECT COUNT(*) FROM api_tokens WHERE role = 'admin'")
            .fetch_one(&self.pool)
            .await
            .map_err(q("counting admin tokens"))?;
        Ok(row
            .try_get::<i64, _>(0)
            .map_err(q("counting admin tokens"))?
            .max(0) as u64)
    }

    /// Records a sink delivery that failed every attempt.
    pub async fn add_dead_letter(
        &self,
        sink: &str,
        payload: &serde_json::Value,
        error: &str,
        attempts: u32,
    ) -> Result<String> {
        let id = random_hex(8);
        sqlx::query(
            "INSERT INTO dead_letters (id, sink, payload, error, attempts, created_ns) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.clone())
        .bind(sink.to_owned())
        .bind(payload.to_string())
        .bind(error.to_owned())
        .bind(i64::from(attempts))
        .bind(now_ns())
        .execute(&self.pool)
        .await
        .map_err(q("recording a dead letter"))?;
        Ok(id)
    }

    /// Dead letters, newest first.
    pub async fn list_dead_letters(
        &self,
        limit: Option<u64>,
        offset: Option<u64>,
    ) -> Result<Page<DeadLetter>> {
        self.list_page(
            Listing {
                operation: "listing dead letters",
                from: "dead_letters",
                columns: "id, sink, payload, error, attempts, created_ns",
                order: "created_ns DESC, id",
            },
            &Where::default(),
            page_bounds(limit, offset),
            None,
            |r| {
                let id: String = get(r, "id")?;
                Ok(DeadLetter {
                    payload: from_json("dead_letters", &id, &get::<String>(r, "payload")?)?,
                    sink: get(r, "sink")?,
                    error: get(r, "error")?,
                    attempts: get::<i64>(r, "attempts")?.max(0) as u64,
                    created: format_ns(get(r, "created_ns")?),
                    id,
                })
            },
        )
        .await
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            normalise_url("/var/lib/k.db").unwrap(),
            (
                "sqlite:///var/lib/k.db?mode=rwc".to_owned(),
                Backend::Sqlite
            )
        );
        assert_eq!(
            normalise_url("sqlite://k.db").unwrap().0,
            "sqlite://k.db?mode=rwc"
        );
        assert_eq!(
            normalise_url("postgres://u@h/d").unwrap().1,
            Backend::Postgres
        );
        assert!(normalise_url("mysql://x").is_err());
        assert_eq!(
            redact("postgres://kestrel:hunter2@127.0.0.1/k"),
            "postgres://kestrel:***@127.0.0.1/k"
        );
    }

    /// Every pooled SQLite connection has the pragmas, not only the first one.
    #[tokio::test]
    async fn sqlite_pragmas_hold_on_every_connection() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("k.db").to_str().unwrap())
            .await
            .unwrap();
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut held {
            let mut pragma = async |name: &str| -> i64 {
                sqlx::query(AssertSqlSafe(format!("PRAGMA {name}")))
                    .fetch_one(&mut **conn)
                    .await
                    .unwrap()
                    .get(0)
            };
            assert_eq!(pragma("synchronous").await, 1, "NORMAL");
            assert_eq!(pragma("cache_size").await, -32768);
            assert_eq!(pragma("mmap_size").await, 268_435_456);
        }
    }

    /// SQLite's plan for a page of alerts matching `f`: one line per step.
    async fn alert_page_plan(store: &Store, f: &AlertFilter) -> String {
        let b = f.bounds().unwrap();
        let w = f.where_between(b.since, b.until, b.min_rank);
        let l = Listing {
            operation: "explaining",
            from: "alerts",
            columns: "id, body",
            order: ALERT_ORDER,
        };
        let sql = format!("EXPLAIN QUERY PLAN {}", page_sql(&l, &w));
        let rows = w
            .bind(sqlx::query(AssertSqlSafe(sql)))
            .bind(100i64)
            .bind(0i64)
            .fetch_all(&store.pool)
            .await
            .unwrap();
        rows.iter()
            .map(|r| get::<String>(r, "detail").unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Every filter of the alert list reads its page through an index already in the list's
    /// order: no full scan of the table, no sort of all matching rows. (The plan is
    /// deterministic for a given schema; timings are in bench/server.)
    #[tokio::test]
    async fn alert_list_plans_use_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("k.db").to_str().unwrap())
            .await
            .unwrap();
        let s = |v: &str| Some(v.to_owned());
        let cases = [
            (
                AlertFilter::default(),
                "SCAN alerts USING INDEX alerts_time_id",
            ),
            (
                AlertFilter {
                    priority: s("critical"),
                    ..Default::default()
                },
                "SCAN alerts USING INDEX alerts_time_id",
            ),
            (
                AlertFilter {
                    since: s("2026-11-27T10:00:00Z"),
                    until: s("2026-11-27T11:30:00Z"),
                    priority: s("warning"),
                    ..Default::default()
                },
                "SEARCH alerts USING INDEX alerts_time_id (time_ns>? AND time_ns<?)",
            ),
            (
                AlertFilter {
                    rule: s("Terminal shell in container"),
                    priority: s("warning"),
                    ..Default::default()
                },
                "SEARCH alerts USING INDEX alerts_rule_time_id (rule=?)",
            ),
            (
                AlertFilter {
                    cluster: s("prod"),
                    namespace: s("shop"),
                    workload: s("web"),
                    ..Default::default()
                },
                "SEARCH alerts USING INDEX alerts_workload_time_id (cluster=? AND namespace=? AND workload=?)",
            ),
            (
                AlertFilter {
                    namespace: s("shop"),
                    pod: s("web-0"),
                    ..Default::default()
                },
                "SEARCH alerts USING INDEX alerts_pod_time_id (namespace=? AND pod=?)",
            ),
            (
                AlertFilter {
                    node: s("node-1"),
                    ..Default::default()
                },
                "SEARCH alerts USING INDEX alerts_node_time_id (node=?)",
            ),
        ];
        for (f, want) in cases {
            let plan = alert_page_plan(&store, &f).await;
            assert_eq!(plan, want, "plan of the alert page for {f:?}");
        }
    }

    /// A database migrated before `alert_counts` existed gets it filled from its alerts, with
    /// hours floored (also before 1970) exactly as ingest computes them.
    async fn upgrade_fills_the_rollup(url: &str) {
        sqlx::any::install_default_drivers();
        let (u, _) = normalise_url(url).unwrap();
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(&u)
            .await
            .unwrap();
        MIGRATOR.run_to(1, &pool).await.unwrap();
        let old = [
            ("a", "prod", -1, "R1", 4, "Warning"),
            ("b", "prod", 0, "R1", 4, "Warning"),
            ("c", "prod", HOUR - 1, "R1", 4, "Warning"),
            ("d", "prod", HOUR, "R1", 4, "Warning"),
            ("e", "prod", 2 * HOUR - 1, "R2", 6, "Alert"),
            ("f", "staging", 2 * HOUR - 1, "R2", 6, "Alert"),
        ];
        for (id, cluster, time, rule, rank, priority) in old {
            sqlx::query(
                "INSERT INTO alerts (id, cluster, node, time_ns, received_ns, rule, priority, \
                 priority_rank, source, body) VALUES ($1, $2, 'n', $3, 0, $4, $5, $6, 'syscall', '{}')",
            )
            .bind(id)
            .bind(cluster)
            .bind(time)
            .bind(rule)
            .bind(priority)
            .bind(rank as i64)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;
        let store = Store::open(url).await.unwrap();
        let rows = sqlx::query(
            "SELECT hour, cluster, rule, priority_rank, priority, n FROM alert_counts \
             ORDER BY hour, cluster, rule",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let got: Vec<(i64, String, String, i64, String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    get(r, "hour").unwrap(),
                    get(r, "cluster").unwrap(),
                    get(r, "rule").unwrap(),
                    get(r, "priority_rank").unwrap(),
                    get(r, "priority").unwrap(),
                    get(r, "n").unwrap(),
                )
            })
            .collect();
        let row = |h: i64, c: &str, r: &str, k: i64, p: &str, n: i64| {
            (h, c.to_owned(), r.to_owned(), k, p.to_owned(), n)
        };
        assert_eq!(
            got,
            [
                row(-1, "prod", "R1", 4, "Warning", 1),
                row(0, "prod", "R1", 4, "Warning", 2),
                row(1, "prod", "R1", 4, "Warning", 1),
                row(1, "prod", "R2", 6, "Alert", 1),
                row(1, "staging", "R2", 6, "Alert", 1),
            ]
        );
        store.close().await;
    }

    #[tokio::test]
    async fn upgrade_fills_the_rollup_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        upgrade_fills_the_rollup(dir.path().join("k.db").to_str().unwrap()).await;
    }

    #[tokio::test]
    async fn upgrade_fills_the_rollup_postgres() {
        upgrade_fills_the_rollup(&test_support::fresh_postgres_database().await).await;
    }

    #[test]
    fn priority_ranks_sort_by_severity() {
        use kestrel_event::Priority;
        assert_eq!(priority_rank(Priority::Emergency), 7);
        assert_eq!(priority_rank(Priority::Debug), 0);
        assert!(priority_rank(Priority::Critical) > priority_rank(Priority::Warning));
    }
}
