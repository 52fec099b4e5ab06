//! `kestrel sbom`: the real binary on the inventory crate's root-filesystem fixture.

use std::path::PathBuf;
use std::process::Command;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kestrel-inventory/testdata/rootfs")
}

fn kestrel(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kestrel"))
        .args(args)
        .env_remove("KESTREL_CONFIG_FILE")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn formats() {
    let dir = format!("dir:{}", fixture().display());
    let (code, out, err) = kestrel(&["sbom", &dir, "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let inv: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(inv["os"]["id"], "debian");
    assert_eq!(inv["packages"].as_array().unwrap().len(), 19);

    let (code, out, err) = kestrel(&["sbom", fixture().to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let cdx: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (cdx["bomFormat"].as_str(), cdx["specVersion"].as_str()),
        (Some("CycloneDX"), Some("1.5"))
    );

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("sbom.spdx.json");
    let (code, _, err) = kestrel(&["sbom", &dir, "-f", "spdx", "-o", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let spdx: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(spdx["spdxVersion"], "SPDX-2.3");
}

#[test]
fn bad_targets_name_the_problem() {
    let (code, out, err) = kestrel(&["sbom", "nope:/x"]);
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("unknown target kind \"nope\""), "{err}");
    let (code, _, err) = kestrel(&["sbom", "oci:/definitely/missing"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("/definitely/missing") && err.contains("oci-layout"),
        "{err}"
    );
    let (code, _, err) = kestrel(&["sbom", "dir:/", "--platform", "linux"]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid platform \"linux\""), "{err}");
}
