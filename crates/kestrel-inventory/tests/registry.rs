//! Pulling from a real OCI distribution registry (Debian's `docker-registry`) that the test starts
//! on 127.0.0.1 with a temporary configuration and fills with skopeo.

mod common;

use std::path::Path;

use common::*;
use kestrel_inventory::{InventoryError, Options, Platform, RegistryAuth, Target};

fn fixture_layout(dir: &Path) {
    let root = fixture_root();
    let base = Layer::new()
        .tree(&root, &|p| !p.starts_with("srv") && !p.starts_with("opt"))
        .finish();
    let apps = Layer::new()
        .tree(&root, &|p| p.starts_with("srv") || p.starts_with("opt"))
        .finish();
    write_layout(dir, &[base, apps], "v1");
}

#[test]
fn registry_pull_matches_the_layout_with_basic_auth() {
    let tmp = tempfile::tempdir().unwrap();
    fixture_layout(tmp.path());
    let registry = start_registry(true);
    push(
        &format!("oci:{}:v1", tmp.path().display()),
        &registry,
        "kestrel/fixture:v1",
        true,
    );

    let from_layout = inventory(&format!("oci:{}:v1", tmp.path().display()));
    let target = Target::parse(&format!("registry:{}/kestrel/fixture:v1", registry.addr)).unwrap();

    // Without credentials the registry's refusal is reported, naming what to do.
    let err = kestrel_inventory::inventory(&target, &Options::default()).unwrap_err();
    assert!(matches!(err, InventoryError::Registry { .. }), "{err}");
    assert!(err.to_string().contains("--username"), "{err}");

    let options = Options {
        registry: RegistryAuth {
            username: Some(USER.to_owned()),
            password: Some(PASSWORD.to_owned()),
            plain_http: None,
        },
        ..Options::default()
    };
    let from_registry = kestrel_inventory::inventory(&target, &options).unwrap();
    assert_eq!(summary(&from_registry), summary(&from_layout));
    assert_eq!(from_registry.layers, from_layout.layers);
    assert!(
        from_registry.warnings.is_empty(),
        "{:?}",
        from_registry.warnings
    );
    // skopeo keeps the manifest bytes, so the digest is the same as in the layout.
    assert_eq!(from_registry.image_digest, from_layout.image_digest);

    // Pinned by digest: verified against the manifest bytes.
    let digest = from_registry.image_digest.clone().unwrap();
    let pinned = Target::parse(&format!(
        "registry:{}/kestrel/fixture@{digest}",
        registry.addr
    ))
    .unwrap();
    let again = kestrel_inventory::inventory(&pinned, &options).unwrap();
    assert_eq!(summary(&again), summary(&from_layout));

    // A wrong password is refused.
    let wrong = Options {
        registry: RegistryAuth {
            username: Some(USER.to_owned()),
            password: Some("nope".to_owned()),
            plain_http: None,
        },
        ..Options::default()
    };
    let err = kestrel_inventory::inventory(&target, &wrong).unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}

#[test]
fn manifest_lists_select_the_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = |n: &str| format!(r#"{{"name": "{n}", "version": "1.0.0"}}"#);
    write_multiarch_layout(
        tmp.path(),
        &[
            (
                "amd64",
                vec![
                    Layer::new()
                        .file(
                            "app/node_modules/on-amd64/package.json",
                            pkg("on-amd64").as_bytes(),
                        )
                        .finish(),
                ],
            ),
            (
                "arm64",
                vec![
                    Layer::new()
                        .file(
                            "app/node_modules/on-arm64/package.json",
                            pkg("on-arm64").as_bytes(),
                        )
                        .finish(),
                ],
            ),
        ],
        "multi",
    );
    let registry = start_registry(false);
    push(
        &format!("oci:{}:multi", tmp.path().display()),
        &registry,
        "kestrel/multi:1",
        false,
    );
    let target = Target::parse(&format!("registry:{}/kestrel/multi:1", registry.addr)).unwrap();
    for (platform, want) in [("linux/amd64", "on-amd64"), ("linux/arm64", "on-arm64")] {
        let options = Options {
            platform: platform.parse::<Platform>().unwrap(),
            ..Options::default()
        };
        let inv = kestrel_inventory::inventory(&target, &options).unwrap();
        let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, [want], "{platform}");
        // The same selection from the layout on disk.
        let layout = kestrel_inventory::inventory(
            &Target::parse(&format!("oci:{}:multi", tmp.path().display())).unwrap(),
            &options,
        )
        .unwrap();
        assert_eq!(summary(&layout), summary(&inv));
    }
    let options = Options {
        platform: "linux/s390x".parse::<Platform>().unwrap(),
        ..Options::default()
    };
    let err = kestrel_inventory::inventory(&target, &options).unwrap_err();
    assert!(
        matches!(err, InventoryError::NoMatchingPlatform { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("linux/amd64, linux/arm64"),
        "{err}"
    );
    // An unknown tag is a clear 404.
    let missing = Target::parse(&format!("registry:{}/kestrel/multi:nope", registry.addr)).unwrap();
    let err = kestrel_inventory::inventory(&missing, &Options::default()).unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
}
