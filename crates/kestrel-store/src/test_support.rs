//! Test helpers (feature `test-support`): a fresh PostgreSQL database per test.
//!
//! The server comes from `KESTREL_TEST_POSTGRES_URL` (which `.ci/run` sets from
//! `.ci/services/postgres.sh`); when it is unset the script is run here, so a test never skips
//! PostgreSQL silently.

use sqlx::Connection;

/// The base URL of the test PostgreSQL server, starting it with the CI script if needed.
pub fn postgres_base_url() -> String {
    if let Ok(u) = std::env::var("KESTREL_TEST_POSTGRES_URL")
        && !u.is_empty()
    {
        return u;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../.ci/services/postgres.sh"
    );
    let out = std::process::Command::new("bash")
        .arg(script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed ({}); PostgreSQL tests need it (apt-get install postgresql):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("KESTREL_TEST_POSTGRES_URL="))
        .unwrap_or_else(|| panic!("{script} printed no KESTREL_TEST_POSTGRES_URL: {stdout}"))
        .to_owned()
}

/// Creates an empty database on the test server and returns its URL.
pub async fn fresh_postgres_database() -> String {
    sqlx::any::install_default_drivers();
    let base = postgres_base_url();
    let name = format!("kestrel_test_{}", crate::random_hex(8));
    let mut conn = sqlx::AnyConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL at {base}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name} at {base}: {e}"));
    let _ = conn.close().await;
    let (server, _) = base
        .rsplit_once('/')
        .expect("a postgres URL has a database path");
    format!("{server}/{name}")
}
