//! The project's test environment image (`kestrel-testenv`: debootstrapped Debian bookworm with a
//! Python venv and a Node app) gives the same inventory from every source: the root directory,
//! the OCI layout, the oci-archive, the docker-archive, a registry, and the running Pod's
//! containers (by id and by pid). The inventory matches the ground truth the image records.

mod common;

use std::collections::BTreeSet;

use common::*;
use kestrel_testenv::{Ecosystem, TestImage, TestPod};

fn check_ground_truth(inv: &kestrel_inventory::Inventory, image: &TestImage) {
    let got: BTreeSet<(String, String, String)> = inv
        .packages
        .iter()
        .filter(|p| p.installer != kestrel_inventory::Installer::GoBuild)
        .map(|p| {
            (
                p.ecosystem.kind.osv_name().to_owned(),
                p.name.to_lowercase(),
                p.version.clone(),
            )
        })
        .collect();
    for p in image.packages() {
        let eco = match p.ecosystem {
            Ecosystem::Debian => "Debian",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
        };
        let key = (eco.to_owned(), p.name.to_lowercase(), p.version.clone());
        assert!(got.contains(&key), "{}: missing {key:?}", inv.target);
        if let Some(path) = &p.path {
            let meta = match p.ecosystem {
                Ecosystem::PyPI => format!("{path}/METADATA"),
                _ => format!("{path}/package.json"),
            };
            assert!(
                inv.packages.iter().any(|q| q.location == meta),
                "{}: no package read from {meta}",
                inv.target
            );
        }
    }
    let debian = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem.kind.osv_name() == "Debian")
        .count();
    let truth = image
        .packages()
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
        .count();
    assert_eq!(debian, truth, "{}: Debian package count", inv.target);
    assert_eq!(
        inv.os.as_ref().unwrap().ecosystem().unwrap().to_string(),
        "Debian:12"
    );
}

#[test]
fn same_inventory_from_every_source() {
    let image = TestImage::get()
        .expect("the kestrel-testenv image (needs root, debootstrap, umoci, skopeo, podman)");
    let from_dir = inventory(&format!("dir:{}", image.rootfs().display()));
    check_ground_truth(&from_dir, &image);
    let expected = summary(&from_dir);

    let layout = format!("oci:{}:{}", image.oci_layout().display(), image.oci_tag());
    let from_layout = inventory(&layout);
    assert_eq!(summary(&from_layout), expected, "{layout}");
    assert_eq!(
        from_layout.image_digest.as_deref(),
        Some(image.manifest().manifest_digest.as_str())
    );
    let diff_ids: Vec<String> = image
        .manifest()
        .layers
        .iter()
        .map(|l| l.diff_id.as_str().to_owned())
        .collect();
    let got: Vec<String> = from_layout
        .layers
        .iter()
        .map(|l| l.diff_id.clone().unwrap())
        .collect();
    assert_eq!(got, diff_ids);

    for target in [
        format!("oci-archive:{}", image.oci_archive().display()),
        format!("docker-archive:{}", image.docker_archive().display()),
    ] {
        let inv = inventory(&target);
        assert_eq!(summary(&inv), expected, "{target}");
        assert_eq!(inv.layers.len(), diff_ids.len());
    }

    let registry = start_registry(false);
    push(&layout, &registry, "kestrel/testenv:1", false);
    let from_registry = inventory(&format!("registry:{}/kestrel/testenv:1", registry.addr));
    assert_eq!(summary(&from_registry), expected, "registry");
    drop(registry);

    let pod = TestPod::start(&image).expect("the test Pod under podman");
    for c in pod.containers() {
        let by_pid = inventory(&format!("pid:{}", c.pid));
        assert_eq!(summary(&by_pid), expected, "pid:{} ({})", c.pid, c.name);
        let by_id = inventory(&format!("container:{}", &c.id.as_str()[..12]));
        assert_eq!(summary(&by_id), expected, "container {}", c.id.as_str());
    }
}
