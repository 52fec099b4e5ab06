//! The advisory database against real published files (see `testdata/README.md`): imports of
//! every format, status, lookups, atomicity on bad input, and `update` against an HTTP server on
//! 127.0.0.1 serving the same files in OSV's bucket layout.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use kestrel_package::EcosystemKind;
use kestrel_vulndb::update::{Mode, Sources, update};
use kestrel_vulndb::{Database, DbError, SourceKind};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn counts(db: &mut Database) -> BTreeMap<String, i64> {
    db.status()
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.name, s.records))
        .collect()
}

#[test]
fn import_every_format_and_look_up() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open_or_create(&dir.path().join("a.db"))
            .await
            .unwrap();
        let report = db
            .import(&[
                testdata("osv/PyPI/all.zip"),
                testdata("osv/npm/all.zip"),
                testdata("kev/known_exploited_vulnerabilities.json"),
                testdata("epss/epss_scores-synthetic.csv.gz"),
            ])
            .await
            .unwrap();
        assert_eq!(report.sources.len(), 4);
        let status = db.status().await.unwrap();
        let by_name: BTreeMap<_, _> = status.iter().map(|s| (s.name.as_str(), s)).collect();
        assert_eq!(by_name["osv:PyPI"].records, 241);
        assert_eq!(by_name["osv:npm"].records, 15);
        assert_eq!(by_name["kev"].records, 8);
        assert_eq!(by_name["kev"].kind, SourceKind::Kev);
        assert_eq!(by_name["kev"].version.as_deref(), Some("2025.08.25"));
        assert_eq!(by_name["epss"].records, 257);
        assert_eq!(
            by_name["osv:npm"].version.as_deref(),
            Some("2024-10-04T20:31:00Z")
        );

        // PyPI names are looked up normalised (PEP 503): `Jinja2` and `jinja2` are one.
        let snap = db
            .snapshot_for(&[
                (EcosystemKind::PyPI, "Jinja2".into()),
                (EcosystemKind::Npm, "minimist".into()),
            ])
            .await
            .unwrap();
        let mut ids: Vec<&str> = snap
            .advisories
            .iter()
            .map(|a| a.advisory.id.as_str())
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            [
                "GHSA-vh95-rmgr-6w4m",
                "GHSA-xvch-5gv4-984h",
                "PYSEC-2014-8",
                "PYSEC-2014-82",
                "PYSEC-2019-217",
                "PYSEC-2019-220",
                "PYSEC-2021-66"
            ]
        );
        // EPSS is keyed by CVE; the synthetic file scores every CVE of the test records.
        assert!(snap.epss.contains_key("CVE-2021-44906"));

        // A second full import of a source replaces it rather than adding to it.
        db.import(&[testdata("osv/npm/all.zip")]).await.unwrap();
        assert_eq!(counts(&mut db).await["osv:npm"], 15);
    });
}

#[test]
fn directory_and_single_record_imports() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("Debian");
        std::fs::create_dir(&src).unwrap();
        for f in std::fs::read_dir(testdata("osv/Debian")).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, src.join(f.file_name().unwrap())).unwrap();
        }
        let mut db = Database::open_or_create(&dir.path().join("a.db"))
            .await
            .unwrap();
        db.import(std::slice::from_ref(&src)).await.unwrap();
        let n = counts(&mut db).await["osv:Debian"];
        assert!(n >= 3, "{n}");
        // Debian advisories are keyed by source package.
        let snap = db
            .snapshot_for(&[(EcosystemKind::Debian, "glibc".into())])
            .await
            .unwrap();
        assert!(!snap.advisories.is_empty());
    });
}

/// A corrupt zip, a malformed record and an unknown file fail with an error naming the file, and
/// leave what was there before untouched, even when good files came first in the same import.
#[test]
fn bad_input_leaves_database_intact() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let mut db = Database::open_or_create(&path).await.unwrap();
        db.import(&[testdata("osv/npm/all.zip")]).await.unwrap();
        let before = counts(&mut db).await;

        // Truncated download: no central directory.
        let bytes = std::fs::read(testdata("osv/PyPI/all.zip")).unwrap();
        let corrupt = dir.path().join("PyPI").join("all.zip");
        std::fs::create_dir_all(corrupt.parent().unwrap()).unwrap();
        std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
        let e = db
            .import(&[testdata("osv/PyPI-ghsa/all.zip"), corrupt.clone()])
            .await
            .unwrap_err();
        assert!(matches!(e, DbError::Zip { .. }), "{e}");
        assert!(
            e.to_string().contains(&corrupt.display().to_string()),
            "{e}"
        );

        // A zip whose central directory is fine but whose data is damaged.
        let mut damaged = bytes.clone();
        for b in &mut damaged[200..2000] {
            *b ^= 0x5a;
        }
        let damaged_path = dir.path().join("damaged.zip");
        std::fs::write(&damaged_path, &damaged).unwrap();
        let e = db.import(&[damaged_path]).await.unwrap_err();
        assert!(e.to_string().contains("damaged.zip"), "{e}");

        // A record that is not OSV: `affected` must be a list.
        let bad = dir.path().join("npm-bad");
        std::fs::create_dir(&bad).unwrap();
        std::fs::write(
            bad.join("GHSA-bad.json"),
            r#"{"id":"GHSA-bad","modified":"2024-01-01T00:00:00Z","affected":{"package":"x"}}"#,
        )
        .unwrap();
        let e = db.import(std::slice::from_ref(&bad)).await.unwrap_err();
        let msg = e.to_string();
        assert!(
            matches!(e, DbError::Record { .. }) && msg.contains("GHSA-bad.json"),
            "{msg}"
        );

        let unknown = dir.path().join("notes.txt");
        std::fs::write(&unknown, "hello").unwrap();
        let e = db.import(&[unknown]).await.unwrap_err();
        assert!(matches!(e, DbError::UnknownFormat { .. }), "{e}");

        drop(db);
        let mut db = Database::open(&path).await.unwrap();
        assert_eq!(counts(&mut db).await, before);
        let snap = db
            .snapshot_for(&[(EcosystemKind::Npm, "lodash".into())])
            .await
            .unwrap();
        assert_eq!(snap.advisories.len(), 4);
    });
}

#[test]
fn missing_database_says_how_to_create_it() {
    rt().block_on(async {
        let e = Database::open(Path::new("/nonexistent/advisories.db"))
            .await
            .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("/nonexistent/advisories.db") && msg.contains("kestrel db import"),
            "{msg}"
        );
    });
}

/// A tiny HTTP/1.1 server on 127.0.0.1 serving `files` (path → body), recording each request.
struct Server {
    base: String,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let files: Arc<Mutex<BTreeMap<String, Vec<u8>>>> = Arc::default();
        let requests: Arc<Mutex<Vec<String>>> = Arc::default();
        let (f, r) = (files.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { break };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&buf);
                let path = req.split(' ').nth(1).unwrap_or("/").to_owned();
                r.lock().unwrap().push(path.clone());
                let body = f.lock().unwrap().get(&path).cloned();
                let resp = match body {
                    Some(b) => {
                        let mut h = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        )
                        .into_bytes();
                        h.extend(b);
                        h
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = s.write_all(&resp);
            }
        });
        Server {
            base,
            files,
            requests,
        }
    }

    fn put(&self, path: &str, body: Vec<u8>) {
        self.files.lock().unwrap().insert(path.to_owned(), body);
    }

    fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// The records of an OSV zip, as (id, modified, bytes).
fn zip_records(path: &Path) -> Vec<(String, String, Vec<u8>)> {
    let mut z = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut e = z.by_index(i).unwrap();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        out.push((
            v["id"].as_str().unwrap().to_owned(),
            v["modified"].as_str().unwrap().to_owned(),
            b,
        ));
    }
    out
}

fn modified_id_csv(records: &[(String, String, Vec<u8>)]) -> Vec<u8> {
    let mut rows: Vec<(&str, &str)> = records
        .iter()
        .map(|(id, m, _)| (m.as_str(), id.as_str()))
        .collect();
    rows.sort_by(|a, b| b.cmp(a));
    rows.iter()
        .map(|(m, id)| format!("{m},{id}\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn update_full_then_incremental_over_http() {
    let server = Server::start();
    let npm_zip = testdata("osv/npm/all.zip");
    let mut records = zip_records(&npm_zip);
    server.put("/osv/npm/all.zip", std::fs::read(&npm_zip).unwrap());
    server.put("/osv/npm/modified_id.csv", modified_id_csv(&records));
    for (id, _, b) in &records {
        server.put(&format!("/osv/npm/{id}.json"), b.clone());
    }
    server.put(
        "/kev.json",
        std::fs::read(testdata("kev/known_exploited_vulnerabilities.json")).unwrap(),
    );
    server.put(
        "/epss.csv.gz",
        std::fs::read(testdata("epss/epss_scores-synthetic.csv.gz")).unwrap(),
    );
    let sources = Sources {
        osv_base_url: format!("{}/osv", server.base),
        osv_ecosystems: vec!["npm".into()],
        kev_url: format!("{}/kev.json", server.base),
        epss_url: format!("{}/epss.csv.gz", server.base),
    };
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open_or_create(&dir.path().join("a.db"))
            .await
            .unwrap();

        // Offline: an error before any request.
        let e = update(&mut db, &sources, true).await.unwrap_err();
        assert!(matches!(e, DbError::Offline { .. }), "{e}");
        assert!(server.take_requests().is_empty());

        let first = update(&mut db, &sources, false).await.unwrap();
        assert_eq!(first[0].mode, Mode::Full);
        assert_eq!(first[0].records, 15);
        assert_eq!(
            server.take_requests(),
            ["/osv/npm/all.zip", "/kev.json", "/epss.csv.gz"]
        );

        // Nothing changed: only the index is fetched.
        let second = update(&mut db, &sources, false).await.unwrap();
        assert_eq!(second[0].mode, Mode::Incremental);
        assert_eq!(second[0].records, 0);
        assert_eq!(
            server.take_requests(),
            ["/osv/npm/modified_id.csv", "/kev.json", "/epss.csv.gz"]
        );

        // One record is republished with a newer `modified` and a new summary.
        let (id, _, bytes) = records
            .iter_mut()
            .find(|(id, _, _)| id == "GHSA-xvch-5gv4-984h")
            .unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        v["modified"] = "2025-01-01T00:00:00Z".into();
        v["summary"] = "republished".into();
        *bytes = serde_json::to_vec(&v).unwrap();
        let id = id.clone();
        server.put(&format!("/osv/npm/{id}.json"), bytes.clone());
        server.put(
            "/osv/npm/modified_id.csv",
            modified_id_csv(&records_with(&records, &id)),
        );
        let third = update(&mut db, &sources, false).await.unwrap();
        assert_eq!(third[0].mode, Mode::Incremental);
        assert_eq!(third[0].records, 1);
        assert_eq!(
            server.take_requests(),
            [
                "/osv/npm/modified_id.csv",
                "/osv/npm/GHSA-xvch-5gv4-984h.json",
                "/kev.json",
                "/epss.csv.gz"
            ]
        );
        let snap = db
            .snapshot_for(&[(EcosystemKind::Npm, "minimist".into())])
            .await
            .unwrap();
        let rec = snap
            .advisories
            .iter()
            .find(|a| a.advisory.id == id)
            .unwrap();
        assert_eq!(rec.advisory.summary.as_deref(), Some("republished"));
        assert_eq!(counts(&mut db).await["osv:npm"], 15);

        // A failed download (404) changes nothing.
        let mut broken = sources.clone();
        broken.osv_ecosystems.push("PyPI".into());
        let e = update(&mut db, &broken, false).await.unwrap_err();
        assert!(e.to_string().contains("/osv/PyPI/all.zip"), "{e}");
        assert!(e.to_string().contains("404"), "{e}");
        assert!(!counts(&mut db).await.contains_key("osv:PyPI"));
    });
}

/// The records with `id`'s `modified` taken from its (updated) body.
fn records_with(records: &[(String, String, Vec<u8>)], id: &str) -> Vec<(String, String, Vec<u8>)> {
    records
        .iter()
        .map(|(i, m, b)| {
            if i == id {
                let v: serde_json::Value = serde_json::from_slice(b).unwrap();
                (
                    i.clone(),
                    v["modified"].as_str().unwrap().to_owned(),
                    b.clone(),
                )
            } else {
                (i.clone(), m.clone(), b.clone())
            }
        })
        .collect()
}
