//! Every source kind gives the same inventory of the same content: a root directory, an OCI
//! layout, an oci-archive and a docker-archive (the archives written by skopeo from the layout).

mod common;

use common::*;
use expect_test::expect;

fn layered_image(dir: &std::path::Path) -> String {
    let root = fixture_root();
    // Layer 0: the operating system; layer 1: the applications, plus a deleted jar.
    let base = Layer::new()
        .tree(&root, &|p| !p.starts_with("srv") && !p.starts_with("opt"))
        .finish();
    let apps = Layer::new()
        .tree(&root, &|p| p.starts_with("srv") || p.starts_with("opt"))
        .whiteout("usr/share/java/log4j-to-jul.jar")
        .finish();
    write_layout(dir, &[base, apps], "v1")
}

#[test]
fn root_directory_inventory() {
    let inv = inventory(&format!("dir:{}", fixture_root().display()));
    expect![[r#"
        Dpkg Debian:12 gzip 1.12-1 files=35 licenses=["FSF-manpages", "GFDL-1.3+-no-invariant", "GPL-3+"] at /var/lib/dpkg/status
        Dpkg Debian:12 libssl3 3.0.19-1~deb12u2 files=9 licenses=["Apache-2.0", "Artistic", "Artistic or GPL-1+", "GPL-1+"] at /var/lib/dpkg/status
        Dpkg Debian:12 libzstd1 1.5.4+dfsg2-5 files=5 licenses=["BSD-3-clause", "BSD-3-clause or GPL-2", "Expat", "GPL-2", "zlib"] at /var/lib/dpkg/status
        Dpkg Debian:12 python3-jwt 2.6.0-1 files=22 licenses=["Expat"] at /var/lib/dpkg/status
        Dpkg Debian:12 zlib1g 1:1.2.13.dfsg-1 files=5 licenses=["Zlib"] at /var/lib/dpkg/status
        Pip PyPI Jinja2 3.1.2 files=32 licenses=["BSD License"] at /opt/venv/lib/python3.11/site-packages/Jinja2-3.1.2.dist-info/METADATA
        Pip PyPI Pillow 9.5.0 files=124 licenses=["Historical Permission Notice and Disclaimer (HPND)"] at /opt/venv/lib/python3.11/site-packages/Pillow-9.5.0.dist-info/METADATA
        Pip PyPI PyJWT 2.6.0 files=5 licenses=["MIT License"] at /usr/lib/python3/dist-packages/PyJWT-2.6.0.egg-info/PKG-INFO
        Pip PyPI requests 2.19.1 files=25 licenses=["Apache Software License"] at /opt/venv/lib/python3.11/site-packages/requests-2.19.1.dist-info/METADATA
        Pip PyPI urllib3 1.23 files=43 licenses=["MIT License"] at /opt/venv/lib/python3.11/site-packages/urllib3-1.23.dist-info/METADATA
        Npm npm @types/minimist 1.2.5 files=2 licenses=["MIT"] at /srv/app/node_modules/@types/minimist/package.json
        Npm npm debug 2.6.9 files=2 licenses=["MIT"] at /srv/app/node_modules/debug/package.json
        Npm npm lodash 4.17.15 files=3 licenses=["MIT"] at /srv/app/node_modules/lodash/package.json
        Npm npm minimist 1.2.5 files=3 licenses=["MIT"] at /srv/app/node_modules/minimist/package.json
        Npm npm ms 2.0.0 files=3 licenses=["MIT"] at /srv/app/node_modules/debug/node_modules/ms/package.json
        Npm npm ms 2.1.1 files=3 licenses=["MIT"] at /srv/app/node_modules/ms/package.json
        Maven Maven org.apache.logging.log4j:log4j-jul 2.19.0 files=1 licenses=[] at /usr/share/java/log4j-jul.jar!/META-INF/maven/org.apache.logging.log4j/log4j-jul/pom.properties
        Maven Maven org.apache.logging.log4j:log4j-to-jul 2.19.0 files=1 licenses=[] at /usr/share/java/log4j-to-jul.jar!/META-INF/maven/org.apache.logging.log4j/log4j-to-jul/pom.properties
        RubyGems RubyGems rack 2.2.22 files=1 licenses=["MIT"] at /usr/share/rubygems-integration/all/specifications/rack-2.2.22.gemspec
    "#]]
    .assert_eq(&summary(&inv));
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);
    let os = inv.os.as_ref().unwrap();
    assert_eq!(os.ecosystem().unwrap().to_string(), "Debian:12");
    // The removed package (status "deinstall ok config-files") is not installed software.
    assert!(!inv.packages.iter().any(|p| p.name == "gzip-removed"));
}

#[test]
fn file_ownership() {
    let inv = inventory(&format!("dir:{}", fixture_root().display()));
    let owner = |p: &str| inv.owner_of(p).map(|o| format!("{} {}", o.name, o.version));
    // dpkg info/*.list
    assert_eq!(
        owner("/lib/x86_64-linux-gnu/libz.so.1.2.13").as_deref(),
        Some("zlib1g 1:1.2.13.dfsg-1")
    );
    assert_eq!(owner("/bin/gzip").as_deref(), Some("gzip 1.12-1"));
    // Python RECORD, including a shared library vendored in the wheel.
    let vendored = inv
        .packages
        .iter()
        .find(|p| p.name == "Pillow")
        .unwrap()
        .files
        .iter()
        .find(|f| f.contains("Pillow.libs/") && f.contains(".so"))
        .expect("Pillow's RECORD lists its vendored libraries")
        .clone();
    assert_eq!(owner(&vendored).as_deref(), Some("Pillow 9.5.0"));
    assert_eq!(
        owner("/opt/venv/lib/python3.11/site-packages/requests/api.py").as_deref(),
        Some("requests 2.19.1")
    );
    // npm package directories: the nested copy belongs to the nested package.
    assert_eq!(
        owner("/srv/app/node_modules/debug/node_modules/ms/index.js").as_deref(),
        Some("ms 2.0.0")
    );
    assert_eq!(
        owner("/srv/app/node_modules/ms/index.js").as_deref(),
        Some("ms 2.1.1")
    );
    // Paths are normalised; directories and unknown files have no owner.
    assert_eq!(owner("//bin/../bin/gzip").as_deref(), Some("gzip 1.12-1"));
    assert_eq!(owner("/usr/share/doc"), None);
    assert_eq!(owner("/etc/hostname"), None);
    // Debian's python3-jwt owns the PyJWT egg-info: the PyPI view of it is shadowed.
    let pyjwt = inv.packages.iter().find(|p| p.name == "PyJWT").unwrap();
    assert_eq!(
        owner(&pyjwt.location).as_deref(),
        Some("python3-jwt 2.6.0-1")
    );
    assert!(inv.is_shadowed(pyjwt));
    let requests = inv.packages.iter().find(|p| p.name == "requests").unwrap();
    assert!(!inv.is_shadowed(requests));
}

#[test]
fn every_image_source_agrees() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("layout");
    let manifest_digest = layered_image(&layout);

    let from_layout = inventory(&format!("oci:{}:v1", layout.display()));
    assert_eq!(
        from_layout.image_digest.as_deref(),
        Some(manifest_digest.as_str())
    );
    assert_eq!(from_layout.layers.len(), 2);
    // The whiteout in layer 1 removed a jar of layer 0.
    assert!(
        !from_layout
            .packages
            .iter()
            .any(|p| p.name.ends_with("log4j-to-jul"))
    );
    // Each package is attributed to the layer that brought it.
    for p in &from_layout.packages {
        let want = if p.location.starts_with("/srv") || p.location.starts_with("/opt") {
            1
        } else {
            0
        };
        assert_eq!(p.layer.as_ref().unwrap().index, want, "{}", p.name);
        assert_eq!(
            p.layer.as_ref().unwrap().digest,
            from_layout.layers[want as usize].diff_id.clone().unwrap()
        );
    }
    // The directory minus the whited-out jar is the same software.
    let from_dir = inventory(&format!("dir:{}", fixture_root().display()));
    let dir_summary: String = summary(&from_dir)
        .lines()
        .filter(|l| !l.contains("log4j-to-jul"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(summary(&from_layout), dir_summary);

    let oci_archive = tmp.path().join("image.oci.tar");
    let docker_archive = tmp.path().join("image.docker.tar");
    run(std::process::Command::new("skopeo").args([
        "copy",
        "--quiet",
        &format!("oci:{}:v1", layout.display()),
        &format!("oci-archive:{}", oci_archive.display()),
    ]));
    run(std::process::Command::new("skopeo").args([
        "copy",
        "--quiet",
        &format!("oci:{}:v1", layout.display()),
        &format!(
            "docker-archive:{}:kestrel/fixture:v1",
            docker_archive.display()
        ),
    ]));
    for target in [
        format!("oci-archive:{}", oci_archive.display()),
        format!("docker-archive:{}", docker_archive.display()),
        // Bare paths are detected.
        oci_archive.display().to_string(),
        docker_archive.display().to_string(),
        layout.display().to_string(),
    ] {
        let inv = inventory(&target);
        assert_eq!(summary(&inv), summary(&from_layout), "{target}");
        assert_eq!(inv.layers.len(), 2, "{target}");
        assert!(inv.warnings.is_empty(), "{target}: {:?}", inv.warnings);
    }
}

#[test]
fn package_database_history_attributes_the_installing_layer() {
    // zlib1g is installed in layer 0; layer 1 rewrites the status file adding libzstd1.
    let status = std::fs::read_to_string(fixture_root().join("var/lib/dpkg/status")).unwrap();
    let stanzas: Vec<&str> = status.split("\n\n").collect();
    let zlib = stanzas
        .iter()
        .find(|s| s.starts_with("Package: zlib1g\n"))
        .unwrap();
    let zstd = stanzas
        .iter()
        .find(|s| s.starts_with("Package: libzstd1\n"))
        .unwrap();
    let l0 = Layer::new()
        .file("var/lib/dpkg/status", format!("{zlib}\n\n").as_bytes())
        .finish();
    let l1 = Layer::new()
        .file(
            "var/lib/dpkg/status",
            format!("{zlib}\n\n{zstd}\n\n").as_bytes(),
        )
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), &[l0, l1], "t");
    let inv = inventory(&format!("oci:{}", tmp.path().display()));
    let layer = |n: &str| {
        inv.packages
            .iter()
            .find(|p| p.name == n)
            .unwrap()
            .layer
            .as_ref()
            .unwrap()
            .index
    };
    assert_eq!(layer("zlib1g"), 0);
    assert_eq!(layer("libzstd1"), 1);
}

#[test]
fn zstd_and_uncompressed_layers() {
    // The same layer three ways in one image: zstd, uncompressed, gzip (compression is told by
    // the blob's first bytes, not trusted from the media type).
    let pkg = |n: &str| format!(r#"{{"name": "{n}", "version": "1.0.0"}}"#);
    let layers: Vec<Vec<u8>> = ["zstd", "plain", "gzip"]
        .iter()
        .map(|n| {
            Layer::new()
                .file(
                    &format!("app/node_modules/{n}/package.json"),
                    pkg(n).as_bytes(),
                )
                .finish()
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), &layers, "t");
    // Re-encode the first two blobs and point the manifest at them.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| {
        tmp.path()
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let md = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(blob(&md)).unwrap()).unwrap();
    let encoded = [
        zstd::encode_all(&layers[0][..], 3).unwrap(),
        layers[1].clone(),
    ];
    for (i, data) in encoded.iter().enumerate() {
        let d = sha256(data);
        std::fs::write(blob(&d), data).unwrap();
        manifest["layers"][i]["digest"] = d.into();
        manifest["layers"][i]["mediaType"] = if i == 0 {
            "application/vnd.oci.image.layer.v1.tar+zstd"
        } else {
            "application/vnd.oci.image.layer.v1.tar"
        }
        .into();
    }
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let new_md = sha256(&bytes);
    std::fs::write(blob(&new_md), &bytes).unwrap();
    let mut index = index;
    index["manifests"][0]["digest"] = new_md.into();
    index["manifests"][0]["size"] = bytes.len().into();
    std::fs::write(
        tmp.path().join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();

    let inv = inventory(&format!("oci:{}", tmp.path().display()));
    let got: Vec<(String, u32)> = inv
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.layer.as_ref().unwrap().index))
        .collect();
    assert_eq!(
        got,
        [
            ("gzip".to_owned(), 2),
            ("plain".to_owned(), 1),
            ("zstd".to_owned(), 0)
        ]
    );
}
