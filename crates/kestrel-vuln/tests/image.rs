//! End to end: the project's test image (a real Debian 12 rootfs with pinned PyPI and npm
//! applications, built by `kestrel-testenv`) inventoried by `kestrel-inventory` and matched
//! against the real advisories in `kestrel-vulndb/testdata` plus the labelled synthetic Debian
//! records.
//!
//! Every expected finding below was checked by hand against its record (the `affected` ranges
//! of each id listed, and the GHSA table in the test data README), and independently with
//! Python's `packaging` evaluating the same ranges. True negatives in the data that must not
//! appear: GHSA-gxpj-cx7g-858c (debug 2.6.9 is its fix), GHSA-jf85-cpcp-j695 (lodash fixed in
//! 4.17.12), GHSA-vh95-rmgr-6w4m (minimist fixed in 1.2.3), DSA-9002-1 (glibc fixed in u10),
//! DLA-9003-1 (Debian 11), DSA-9005-1 (withdrawn), DSA-9006-1 (names a binary package).

use std::path::{Path, PathBuf};

use kestrel_inventory::{Options, Target};
use kestrel_vuln::{lookup_keys, match_packages};
use kestrel_vulndb::Database;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kestrel-vulndb/testdata")
        .join(rel)
}

/// `package version id [aliases] fixed=...`, sorted by package then severity then id.
const EXPECTED: &[&str] = &[
    // PYSEC-2022-190 + GHSA-2gwj-7jmv-h26r: <3.2.13 (3.2 line).
    "Django 3.2.12 CVE-2022-28346 [GHSA-2gwj-7jmv-h26r PYSEC-2022-190] fixed=3.2.13",
    // PYSEC-2022-191: introduced 3.2, fixed 3.2.13.
    "Django 3.2.12 CVE-2022-28347 [GHSA-w24h-v9qh-8gxj PYSEC-2022-191] fixed=3.2.13",
    // PYSEC-2022-213: introduced 3.2, fixed 3.2.14.
    "Django 3.2.12 CVE-2022-34265 [GHSA-p64x-8rxx-wf6q PYSEC-2022-213] fixed=3.2.14",
    // PYSEC-2022-245: fixed 3.2.15.
    "Django 3.2.12 CVE-2022-36359 [GHSA-8x94-hmjh-97hq PYSEC-2022-245] fixed=3.2.15",
    // PYSEC-2022-304: fixed 3.2.16.
    "Django 3.2.12 CVE-2022-41323 [PYSEC-2022-304] fixed=3.2.16",
    // PYSEC-2023-12: fixed 3.2.17.
    "Django 3.2.12 CVE-2023-23969 [PYSEC-2023-12] fixed=3.2.17",
    // PYSEC-2023-13: fixed 3.2.18.
    "Django 3.2.12 CVE-2023-24580 [PYSEC-2023-13] fixed=3.2.18",
    // PYSEC-2023-61: fixed 3.2.19.
    "Django 3.2.12 CVE-2023-31047 [PYSEC-2023-61] fixed=3.2.19",
    // PYSEC-2023-100: fixed 3.2.20.
    "Django 3.2.12 CVE-2023-36053 [PYSEC-2023-100] fixed=3.2.20",
    // PYSEC-2023-225: fixed 3.2.21.
    "Django 3.2.12 CVE-2023-41164 [PYSEC-2023-225] fixed=3.2.21",
    // PYSEC-2023-226: fixed 3.2.22.
    "Django 3.2.12 CVE-2023-43665 [PYSEC-2023-226] fixed=3.2.22",
    // PYSEC-2023-222: fixed 3.2.23.
    "Django 3.2.12 CVE-2023-46695 [PYSEC-2023-222] fixed=3.2.23",
    // PYSEC-2024-28: fixed 3.2.24.
    "Django 3.2.12 CVE-2024-24680 [PYSEC-2024-28] fixed=3.2.24",
    // PYSEC-2024-47: fixed 3.2.25.
    "Django 3.2.12 CVE-2024-27351 [PYSEC-2024-47] fixed=3.2.25",
    // GHSA-h5c8-rqwp-cp95: <3.1.3.
    "Jinja2 3.1.2 CVE-2024-22195 [GHSA-h5c8-rqwp-cp95] fixed=3.1.3",
    // GHSA-3f63-hfp8-52jq: <10.2.0.
    "Pillow 9.5.0 CVE-2023-50447 [GHSA-3f63-hfp8-52jq] fixed=10.2.0",
    // PYSEC-2023-227: <10.0.0.
    "Pillow 9.5.0 CVE-2023-44271 [PYSEC-2023-227] fixed=10.0.0",
    // PYSEC-2023-175 (no aliases in the record): <10.0.1.
    "Pillow 9.5.0 PYSEC-2023-175 [] fixed=10.0.1",
    // SYNTHETIC DSA-9001-1: glibc < 2.36-9+deb12u15; libc-bin and libc6 come from glibc.
    "libc-bin 2.36-9+deb12u14 DSA-9001-1 [] fixed=2.36-9+deb12u15",
    "libc6 2.36-9+deb12u14 DSA-9001-1 [] fixed=2.36-9+deb12u15",
    // SYNTHETIC DSA-9004-1: zlib, introduced 0, no fix.
    "zlib1g 1:1.2.13.dfsg-1 DSA-9004-1 [] fixed=",
    // npm, per the GHSA table in the test data README.
    "body-parser 1.19.0 CVE-2024-45590 [GHSA-qwcr-r2fm-qrc7] fixed=1.20.3",
    "cookie 0.4.0 CVE-2024-47764 [GHSA-pxg6-pf52-xh8x] fixed=0.7.0",
    "express 4.17.1 CVE-2024-29041 [GHSA-rv95-896h-c2vc] fixed=4.19.2",
    "express 4.17.1 CVE-2024-43796 [GHSA-qw6h-vgh9-j6wx] fixed=4.20.0",
    "lodash 4.17.15 CVE-2020-8203 [GHSA-p6mc-m468-83gw] fixed=4.17.20",
    "lodash 4.17.15 CVE-2021-23337 [GHSA-35jh-r3h4-6jhm] fixed=4.17.21",
    "lodash 4.17.15 CVE-2020-28500 [GHSA-29mw-wpgm-hmr9] fixed=4.17.21",
    "minimist 1.2.5 CVE-2021-44906 [GHSA-xvch-5gv4-984h] fixed=1.2.6",
    "path-to-regexp 0.1.7 CVE-2024-45296 [GHSA-9wv6-86v2-598j] fixed=0.1.10",
    "qs 6.7.0 CVE-2022-24999 [GHSA-hrpp-h998-j3pp] fixed=6.7.3",
    // PYSEC-2018-28 + GHSA-x84v-xcm2-53pg: <2.20.0.
    "requests 2.19.1 CVE-2018-18074 [GHSA-x84v-xcm2-53pg PYSEC-2018-28] fixed=2.20.0",
    // PYSEC-2023-74 + GHSA-j8r2-6x86-q33q: introduced 2.3.0, fixed 2.31.0.
    "requests 2.19.1 CVE-2023-32681 [GHSA-j8r2-6x86-q33q PYSEC-2023-74] fixed=2.31.0",
    "send 0.17.1 CVE-2024-43799 [GHSA-m6fv-jmcg-4jfg] fixed=0.19.0",
    "serve-static 1.14.1 CVE-2024-43800 [GHSA-cm22-4g7w-348p] fixed=1.16.0",
    // PYSEC-2019-133 + GHSA-mh33-7rrq-662w: <1.24.2.
    "urllib3 1.23 CVE-2019-11324 [GHSA-mh33-7rrq-662w PYSEC-2019-133] fixed=1.24.2",
    // PYSEC-2023-192: <1.26.17.
    "urllib3 1.23 CVE-2023-43804 [GHSA-v845-jxx5-vc9f PYSEC-2023-192] fixed=1.26.17",
    // PYSEC-2023-207: <1.24.2.
    "urllib3 1.23 CVE-2018-25091 [PYSEC-2023-207] fixed=1.24.2",
    // PYSEC-2023-212: <1.26.18.
    "urllib3 1.23 CVE-2023-45803 [GHSA-g4mx-q9vg-27p4 PYSEC-2023-212] fixed=1.26.18",
    // PYSEC-2019-132: <1.24.3.
    "urllib3 1.23 CVE-2019-11236 [GHSA-r64q-w8jr-g9qp PYSEC-2019-132] fixed=1.24.3",
    // PYSEC-2020-148: <1.25.9.
    "urllib3 1.23 CVE-2020-26137 [GHSA-wqvq-5m8c-6g24 PYSEC-2020-148] fixed=1.25.9",
    // PYSEC-2021-108: <1.26.5.
    "urllib3 1.23 CVE-2021-33503 [GHSA-q2q7-5pp4-w6pg PYSEC-2021-108] fixed=1.26.5",
];

#[test]
fn test_image_gives_exactly_the_expected_findings() {
    let image = kestrel_testenv::TestImage::get().expect("the test image (needs root and podman)");
    let target = Target::parse(&format!(
        "oci:{}:{}",
        image.oci_layout().display(),
        image.oci_tag()
    ))
    .unwrap();
    let inv = kestrel_inventory::inventory(&target, &Options::default()).unwrap();

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let snapshot = rt.block_on(async {
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
        db.snapshot_for(&lookup_keys(&inv.packages)).await.unwrap()
    });
    let findings = match_packages(&inv.packages, &snapshot);
    let got: Vec<String> = findings
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
        .collect();
    let mut want: Vec<&str> = EXPECTED.to_vec();
    let mut got_sorted: Vec<&str> = got.iter().map(String::as_str).collect();
    want.sort();
    got_sorted.sort();
    assert_eq!(got_sorted, want, "\nfull list:\n{}", got.join("\n"));
}
