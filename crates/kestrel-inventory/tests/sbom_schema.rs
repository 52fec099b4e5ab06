//! CycloneDX 1.5 and SPDX 2.3 output validates against the published JSON schemas
//! (`testdata/schemas`, see its README).

mod common;

use common::*;
use kestrel_inventory::sbom::{self, SbomMeta};
use serde_json::Value;

fn schema(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/schemas")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn meta() -> SbomMeta {
    SbomMeta {
        created: "2026-01-02T03:04:05Z".to_owned(),
        tool_version: "0.1.0".to_owned(),
    }
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "schema violations:\n{}",
        errors.join("\n")
    );
}

fn cyclonedx_validator() -> jsonschema::Validator {
    let base = "http://cyclonedx.org/schema";
    let registry = jsonschema::Registry::new()
        .add(
            format!("{base}/spdx.SNAPSHOT.schema.json"),
            schema("spdx.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .add(
            format!("{base}/jsf-0.82.SNAPSHOT.schema.json"),
            schema("jsf-0.82.SNAPSHOT.schema.json"),
        )
        .unwrap()
        .prepare()
        .unwrap();
    jsonschema::options()
        .with_registry(&registry)
        .build(&schema("bom-1.5.SNAPSHOT.schema.json"))
        .unwrap()
}

#[test]
fn cyclonedx_validates() {
    let inv = inventory(&format!("dir:{}", fixture_root().display()));
    let doc = sbom::cyclonedx(&inv, &meta());
    let validator = cyclonedx_validator();
    assert_valid(&validator, &doc);
    // One component per package plus the operating system.
    assert_eq!(
        doc["components"].as_array().unwrap().len(),
        inv.packages.len() + 1
    );
    let lodash = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "lodash")
        .unwrap();
    assert_eq!(lodash["purl"], "pkg:npm/lodash@4.17.15");
    assert_eq!(lodash["licenses"][0]["license"]["id"], "MIT");
    // The validator is not a rubber stamp: a broken document fails.
    let mut broken = doc.clone();
    broken["components"][1]["type"] = "not-a-type".into();
    assert!(!validator.is_valid(&broken));
}

#[test]
fn spdx_validates() {
    let inv = inventory(&format!("dir:{}", fixture_root().display()));
    let doc = sbom::spdx(&inv, &meta());
    let validator = jsonschema::validator_for(&schema("spdx-2.3.schema.json")).unwrap();
    assert_valid(&validator, &doc);
    let packages = doc["packages"].as_array().unwrap();
    // The target, the operating system and every package.
    assert_eq!(packages.len(), inv.packages.len() + 2);
    let zlib = packages.iter().find(|p| p["name"] == "zlib1g").unwrap();
    assert_eq!(
        zlib["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=debian-12"
    );
    assert_eq!(zlib["licenseDeclared"], "Zlib");
    assert_eq!(
        zlib["sourceInfo"],
        "built from source package zlib 1:1.2.13.dfsg-1"
    );
    let ids: std::collections::HashSet<&str> = packages
        .iter()
        .map(|p| p["SPDXID"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), packages.len(), "SPDX ids are unique");
    let mut broken = doc.clone();
    broken["packages"][0]
        .as_object_mut()
        .unwrap()
        .remove("SPDXID");
    assert!(!validator.is_valid(&broken));
}

#[test]
fn documents_are_stable_for_the_same_content() {
    let a = inventory(&format!("dir:{}", fixture_root().display()));
    let b = inventory(&format!("dir:{}", fixture_root().display()));
    assert_eq!(sbom::cyclonedx(&a, &meta()), sbom::cyclonedx(&b, &meta()));
    assert_eq!(sbom::spdx(&a, &meta()), sbom::spdx(&b, &meta()));
}
