//! The matcher against real advisories (and the labelled synthetic Debian ones) in
//! `kestrel-vulndb/testdata`, with packages written out by hand.

use std::path::{Path, PathBuf};

use kestrel_package::{Ecosystem, EcosystemKind, Installer, Package, SourcePackage};
use kestrel_vuln::report::{Format, Report};
use kestrel_vuln::vex::Vex;
use kestrel_vuln::{Filters, Finding, Severity, filter, lookup_keys, match_packages};
use kestrel_vulndb::{Database, Snapshot};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kestrel-vulndb/testdata")
        .join(rel)
}

/// Imports every test source into a fresh database and returns the snapshot for `packages`.
fn snapshot(packages: &[Package]) -> Snapshot {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Database::open_or_create(&dir.path().join("a.db"))
            .await
            .unwrap();
        db.import(&[
            testdata("osv/PyPI/all.zip"),
            testdata("osv/PyPI-ghsa/all.zip"),
            testdata("osv/npm/all.zip"),
            testdata("osv/Debian"),
            testdata("kev/known_exploited_vulnerabilities.json"),
            testdata("epss/epss_scores-synthetic.csv.gz"),
        ])
        .await
        .unwrap();
        db.snapshot_for(&lookup_keys(packages)).await.unwrap()
    })
}

fn pkg(eco: &str, name: &str, version: &str, installer: Installer, location: &str) -> Package {
    let ecosystem: Ecosystem = eco.parse().unwrap();
    Package {
        name: name.into(),
        version: version.into(),
        purl: format!(
            "pkg:{}/{}@{}",
            ecosystem.kind.purl_type(),
            name.to_lowercase(),
            version
        ),
        ecosystem,
        licenses: vec![],
        files: vec![],
        location: location.into(),
        layer: None,
        installer,
        source: None,
    }
}

fn deb(name: &str, version: &str, source: Option<(&str, &str)>) -> Package {
    let mut p = pkg(
        "Debian:12",
        name,
        version,
        Installer::Dpkg,
        "/var/lib/dpkg/status",
    );
    p.source = source.map(|(n, v)| SourcePackage {
        name: n.into(),
        version: v.into(),
    });
    p
}

/// `package id [aliases] fixed` per finding, for compact assertions.
fn summary(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| {
            format!(
                "{} {} {} [{}] fixed={}",
                f.package.name,
                f.package.version,
                f.id,
                f.aliases.join(" "),
                f.fixed_versions.join(",")
            )
        })
        .collect()
}

fn run(packages: &[Package]) -> Vec<Finding> {
    match_packages(packages, &snapshot(packages))
}

#[test]
fn aliases_merge_into_one_finding() {
    // PYSEC-2018-28 and GHSA-x84v-xcm2-53pg are both CVE-2018-18074; PYSEC-2023-74 and
    // GHSA-j8r2-6x86-q33q are both CVE-2023-32681.
    let f = run(&[pkg(
        "PyPI",
        "requests",
        "2.19.1",
        Installer::Pip,
        "/venv/requests-2.19.1.dist-info/METADATA",
    )]);
    assert_eq!(
        summary(&f),
        [
            "requests 2.19.1 CVE-2018-18074 [GHSA-x84v-xcm2-53pg PYSEC-2018-28] fixed=2.20.0",
            "requests 2.19.1 CVE-2023-32681 [GHSA-j8r2-6x86-q33q PYSEC-2023-74] fixed=2.31.0",
        ]
    );
    // GHSA-x84v-xcm2-53pg publishes CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N.
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].cvss.as_ref().unwrap().score, Some(7.5));
}

#[test]
fn fixed_versions_are_not_matched() {
    // requests 2.31.0 is the fix of the newest record in the test data.
    let f = run(&[pkg(
        "PyPI",
        "requests",
        "2.31.0",
        Installer::Pip,
        "/venv/r/METADATA",
    )]);
    assert_eq!(summary(&f), Vec::<String>::new());
}

#[test]
fn debian_is_keyed_by_source_package_and_release() {
    let packages = [
        // glibc 2.36-9+deb12u14: DSA-9001-1 (fixed u15) applies, DSA-9002-1 (fixed u10) not.
        deb(
            "libc6",
            "2.36-9+deb12u14",
            Some(("glibc", "2.36-9+deb12u14")),
        ),
        // zlib: DSA-9004-1 has no fix; DLA-9003-1 is for Debian 11.
        deb(
            "zlib1g",
            "1:1.2.13.dfsg-1",
            Some(("zlib", "1:1.2.13.dfsg-1")),
        ),
        // DSA-9005-1 for bash is withdrawn.
        deb("bash", "5.2.15-2+b13", Some(("bash", "5.2.15-2"))),
        // DSA-9006-1 names the binary package libssl3, which Debian never does: no match.
        deb(
            "libssl3",
            "3.0.20-1~deb12u2",
            Some(("openssl", "3.0.20-1~deb12u2")),
        ),
    ];
    let f = run(&packages);
    assert_eq!(
        summary(&f),
        [
            "libc6 2.36-9+deb12u14 DSA-9001-1 [] fixed=2.36-9+deb12u15",
            "zlib1g 1:1.2.13.dfsg-1 DSA-9004-1 [] fixed=",
        ]
    );
    assert_eq!(f[0].source, "osv:Debian");
    // The same package on Debian 11 sees only the Debian 11 advisory.
    let mut old = deb(
        "zlib1g",
        "1:1.2.13.dfsg-1",
        Some(("zlib", "1:1.2.13.dfsg-1")),
    );
    old.ecosystem = "Debian:11".parse().unwrap();
    assert_eq!(
        summary(&run(&[old])),
        ["zlib1g 1:1.2.13.dfsg-1 DLA-9003-1 [] fixed=1:1.2.13.dfsg-2"]
    );
}

#[test]
fn os_owned_files_are_not_matched_as_language_packages() {
    let meta = "/usr/lib/python3/dist-packages/urllib3-1.23.dist-info/METADATA";
    let mut os = deb(
        "python3-urllib3",
        "1.23-1",
        Some(("python-urllib3", "1.23-1")),
    );
    os.files = vec![meta.into()];
    let owned = pkg("PyPI", "urllib3", "1.23", Installer::Pip, meta);
    let free = pkg(
        "PyPI",
        "urllib3",
        "1.23",
        Installer::Pip,
        "/opt/venv/lib/python3.11/site-packages/urllib3-1.23.dist-info/METADATA",
    );
    let f = run(&[os.clone(), owned]);
    assert!(f.is_empty(), "{:?}", summary(&f));
    let f = run(&[os.clone(), free]);
    assert_eq!(f.len(), 7, "{:?}", summary(&f));
    assert!(
        f.iter()
            .all(|f| f.package.location.starts_with("/opt/venv"))
    );
}

#[test]
fn kev_and_epss_are_attached() {
    // PYSEC-2020-102 (salt, CVE-2020-11651) is in the KEV catalog, added 2021-11-03.
    let f = run(&[pkg(
        "PyPI",
        "salt",
        "2019.2.3",
        Installer::Pip,
        "/s/METADATA",
    )]);
    let hit = f
        .iter()
        .find(|f| f.id == "CVE-2020-11651")
        .expect("salt finding");
    let kev = hit.kev.as_ref().expect("KEV entry");
    assert_eq!(kev.date_added, "2021-11-03");
    assert!(!kev.ransomware);
    assert_eq!(hit.epss.as_ref().unwrap().cve, "CVE-2020-11651");
}

#[test]
fn filters_and_vex() {
    let packages = [
        pkg(
            "npm",
            "lodash",
            "4.17.15",
            Installer::Npm,
            "/app/node_modules/lodash/package.json",
        ),
        deb(
            "zlib1g",
            "1:1.2.13.dfsg-1",
            Some(("zlib", "1:1.2.13.dfsg-1")),
        ),
    ];
    let all = run(&packages);
    assert_eq!(all.len(), 4);
    let unfixed_dropped = filter(
        all.clone(),
        &Filters {
            ignore_unfixed: true,
            ..Filters::default()
        },
    );
    assert!(unfixed_dropped.iter().all(|f| f.package.name == "lodash"));
    assert_eq!(unfixed_dropped.len(), 3);
    // lodash: CVE-2020-8203 (7.4) and CVE-2021-23337 (7.2) are HIGH, CVE-2020-28500 MEDIUM.
    let high = filter(
        all.clone(),
        &Filters {
            min_severity: Some(Severity::High),
            ..Filters::default()
        },
    );
    assert_eq!(
        high.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(),
        ["CVE-2020-8203", "CVE-2021-23337"]
    );

    let vex = Vex::parse(
        br#"{
          "@context": "https://openvex.dev/ns/v0.2.0",
          "@id": "https://example.com/vex/1",
          "timestamp": "2026-11-01T00:00:00Z",
          "statements": [
            {"vulnerability": {"name": "GHSA-p6mc-m468-83gw"},
             "products": [{"@id": "pkg:npm/lodash@4.17.15"}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
            {"vulnerability": {"name": "CVE-2021-23337"},
             "products": [{"@id": "pkg:npm/lodash"}],
             "status": "affected", "action_statement": "upgrade to 4.17.21"},
            {"vulnerability": {"name": "CVE-2020-28500"},
             "products": [{"@id": "pkg:npm/express"}],
             "status": "fixed"}
          ]
        }"#,
        "vex.json",
    )
    .unwrap();
    let (kept, suppressed) = vex.apply(high);
    // Suppressed through its GHSA alias; the annotation stays on the other.
    assert_eq!(suppressed, 1);
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].id, "CVE-2021-23337");
    let a = kept[0].vex.as_ref().unwrap();
    assert_eq!(a.action_statement.as_deref(), Some("upgrade to 4.17.21"));
    assert_eq!(a.document, "https://example.com/vex/1");
}

#[test]
fn output_formats() {
    let packages = [pkg(
        "npm",
        "minimist",
        "1.2.5",
        Installer::Npm,
        "/app/node_modules/minimist/package.json",
    )];
    let findings = run(&packages);
    let report = Report {
        target: "dir:/app".into(),
        packages: packages.to_vec(),
        vulnerabilities: findings,
    };
    expect_test::expect![[r#"
        dir:/app: 1 packages, 1 vulnerabilities
        PACKAGE   VERSION  ECOSYSTEM  ID              SEVERITY  CVSS  FIXED  KEV  EPSS
        minimist  1.2.5    npm        CVE-2021-44906  CRITICAL  9.8   1.2.6  -    0.000 (10%)
    "#]]
    .assert_eq(&report.render(Format::Table));

    let json: serde_json::Value = serde_json::from_str(&report.render(Format::Json)).unwrap();
    let v = &json["vulnerabilities"][0];
    for key in [
        "id",
        "aliases",
        "package",
        "fixed_versions",
        "severity",
        "cvss",
        "kev",
        "epss",
        "source",
    ] {
        assert!(v.get(key).is_some(), "JSON finding lacks {key}: {v}");
    }
    assert_eq!(v["package"]["purl"], "pkg:npm/minimist@1.2.5");
    assert_eq!(v["aliases"], serde_json::json!(["GHSA-xvch-5gv4-984h"]));
    assert_eq!(json["target"], "dir:/app");
    assert_eq!(json["packages"][0]["name"], "minimist");

    let sarif: serde_json::Value = serde_json::from_str(&report.render(Format::Sarif)).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "CVE-2021-44906");
    assert_eq!(sarif["runs"][0]["results"][0]["level"], "error");

    let cdx: serde_json::Value = serde_json::from_str(&report.render(Format::CycloneDx)).unwrap();
    assert_eq!(cdx["bomFormat"], "CycloneDX");
    let vuln = &cdx["vulnerabilities"][0];
    assert_eq!(vuln["id"], "CVE-2021-44906");
    assert_eq!(vuln["ratings"][0]["method"], "CVSSv31");
    assert_eq!(vuln["affects"][0]["ref"], cdx["components"][0]["bom-ref"]);
    let _ = EcosystemKind::Npm;
}
