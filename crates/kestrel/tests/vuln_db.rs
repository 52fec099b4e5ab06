//! `kestrel db` and `kestrel version` through the real binary: a killed import leaves the
//! previous database usable, status reports it, and version comparison works in bulk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn kestrel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kestrel"));
    c.env_remove("KESTREL_CONFIG_FILE")
        .env("KESTREL_LOG__LEVEL", "warn");
    c
}

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kestrel-vulndb/testdata")
        .join(rel)
}

fn status(db: &Path) -> serde_json::Value {
    let out = kestrel()
        .args(["db", "status", "--json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn records(status: &serde_json::Value, name: &str) -> Option<i64> {
    status
        .as_array()?
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["records"].as_i64())
}

/// SIGKILL an import half-way through: the previous contents must still answer, and the next
/// import must work.
#[test]
fn killed_import_leaves_previous_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("advisories.db");
    let ok = kestrel()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(testdata("osv/npm/all.zip"))
        .status()
        .unwrap();
    assert!(ok.success());
    let before = status(&db);
    assert_eq!(records(&before, "osv:npm"), Some(15));

    // A large source: 40,000 records derived from a real one, so the import takes seconds.
    let big = dir.path().join("npm");
    std::fs::create_dir(&big).unwrap();
    let template = std::fs::read_to_string(testdata("osv/Debian/DSA-9001-1.json")).unwrap();
    for i in 0..40_000 {
        let id = format!("DSA-{i}-1");
        std::fs::write(
            big.join(format!("{id}.json")),
            template.replace("DSA-9001-1", &id),
        )
        .unwrap();
    }
    let mut child = kestrel()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(&big)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the import is visibly writing (its write-ahead log grows), then kill it.
    let wal = dir.path().join("advisories.db-wal");
    let start = Instant::now();
    loop {
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if size > 2 << 20 {
            break;
        }
        if let Some(s) = child.try_wait().unwrap() {
            panic!("import finished ({s}) before it could be killed; make the source larger");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the import never started writing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    let st = child.wait().unwrap();
    assert!(!st.success());

    let after = status(&db);
    assert_eq!(after, before, "a killed import changed the database");
    assert_eq!(records(&after, "osv:npm"), Some(15));

    // Still writable afterwards.
    let ok = kestrel()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(testdata("kev/known_exploited_vulnerabilities.json"))
        .status()
        .unwrap();
    assert!(ok.success());
    assert_eq!(records(&status(&db), "kev"), Some(8));
}

#[test]
fn corrupt_zip_is_named_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    assert!(
        kestrel()
            .args(["db", "import", "--db"])
            .arg(&db)
            .arg(testdata("osv/npm/all.zip"))
            .status()
            .unwrap()
            .success()
    );
    let before = status(&db);
    let bad = dir.path().join("all.zip");
    let bytes = std::fs::read(testdata("osv/PyPI/all.zip")).unwrap();
    std::fs::write(&bad, &bytes[..1000]).unwrap();
    let out = kestrel()
        .args(["db", "import", "--db"])
        .arg(&db)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&bad.display().to_string()) && err.contains("not a valid zip"),
        "{err}"
    );
    assert_eq!(status(&db), before);
}

#[test]
fn update_offline_never_touches_anything() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let out = kestrel()
        .args(["db", "update", "--offline", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--offline"));
    assert!(!db.exists());
}

#[test]
fn version_compare_in_bulk() {
    let mut child = kestrel()
        .args(["version", "compare", "--ecosystem", "Debian", "--stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"1.0~rc1\t1.0\n1:0.1\t2.0\n2.36-9+deb12u4\t2.36-9+deb12u4\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "<\n>\n=\n");

    let out = kestrel()
        .args(["version", "compare", "-e", "PyPI", "1.0.dev0", "1.0a0"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "<\n");

    let out = kestrel()
        .args(["version", "compare", "-e", "Hackage", "1", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Hackage"));

    let out = kestrel()
        .args(["version", "compare", "-e", "npm", "1.0.0", "latest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"latest\""));
}
