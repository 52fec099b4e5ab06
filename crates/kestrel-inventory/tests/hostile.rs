//! Hostile input: each case ends in a clear error or a skipped entry with a warning naming it,
//! never a crash, and never a read outside the target.

mod common;

use common::*;
use kestrel_inventory::{InventoryError, Limits, Options, Target, WarningKind};

const STATUS: &str = "Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\n\n";

fn image(layers: &[Vec<u8>]) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), layers, "t");
    let t = format!("oci:{}", tmp.path().display());
    (tmp, t)
}

fn try_inventory(
    target: &str,
    options: &Options,
) -> Result<kestrel_inventory::Inventory, InventoryError> {
    kestrel_inventory::inventory(&Target::parse(target).unwrap(), options)
}

fn warned(inv: &kestrel_inventory::Inventory, kind: WarningKind, path: &str) -> bool {
    inv.warnings
        .iter()
        .any(|w| w.kind == kind && w.path == path)
}

#[test]
fn path_traversal_and_absolute_entries_are_skipped() {
    let layer = Layer::new()
        .file("../../var/lib/dpkg/status", STATUS.as_bytes())
        .file("usr/../../etc/passwd", b"root:x:0:0")
        .file("/var/lib/dpkg/status", STATUS.as_bytes())
        .file("ok/file", b"fine")
        .finish();
    let (_tmp, t) = image(&[layer]);
    let inv = inventory(&t);
    assert!(
        inv.packages.is_empty(),
        "nothing outside the root may be cataloged: {:?}",
        inv.packages
    );
    assert!(
        warned(&inv, WarningKind::UnsafePath, "../../var/lib/dpkg/status"),
        "{:?}",
        inv.warnings
    );
    assert!(warned(
        &inv,
        WarningKind::UnsafePath,
        "usr/../../etc/passwd"
    ));
    assert!(warned(
        &inv,
        WarningKind::UnsafePath,
        "/var/lib/dpkg/status"
    ));
    assert!(
        inv.warnings
            .iter()
            .all(|w| w.message.starts_with("skipped"))
    );
}

#[test]
fn symlinks_never_escape_the_root() {
    // In a layer: the status file is a symlink climbing far above the root. It resolves inside
    // the image (to /etc/status-elsewhere), which does not exist: nothing is read.
    let layer = Layer::new()
        .symlink(
            "var/lib/dpkg/status",
            "../../../../../../../../tmp/outside-status",
        )
        .finish();
    let (_tmp, t) = image(&[layer]);
    assert!(inventory(&t).packages.is_empty());

    // In a directory: a symlink to a real package database on the host outside the root must
    // not be followed.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("status"), STATUS).unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/dpkg")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("status"),
        root.path().join("var/lib/dpkg/status"),
    )
    .unwrap();
    // A symlinked directory leading outside is not entered either.
    std::os::unix::fs::symlink(outside.path(), root.path().join("var/lib/escape")).unwrap();
    let inv = inventory(&format!("dir:{}", root.path().display()));
    assert!(inv.packages.is_empty(), "{:?}", inv.packages);
    assert_eq!(inv.owner_of("/var/lib/escape/status"), None);
}

#[test]
fn hardlink_cycles_and_dangling_links_are_skipped() {
    let layer = Layer::new()
        .hardlink("a", "b")
        .hardlink("b", "a")
        .hardlink("self", "self")
        .hardlink("escape", "../../etc/passwd")
        // A hard link to an earlier regular file is honoured, content included.
        .file(
            "srv/node_modules/x/package.json",
            br#"{"name": "x", "version": "1.0.0"}"#,
        )
        .hardlink(
            "srv/node_modules/y/package.json",
            "srv/node_modules/x/package.json",
        )
        // A hard link cannot give content that was not kept for the file's own name.
        .file("var/lib/dpkg/real-status", STATUS.as_bytes())
        .hardlink("var/lib/dpkg/status", "var/lib/dpkg/real-status")
        .finish();
    let (_tmp, t) = image(&[layer]);
    let inv = inventory(&t);
    for p in ["a", "b", "self"] {
        assert!(
            inv.warnings
                .iter()
                .any(|w| w.kind == WarningKind::Skipped && w.path == format!("/{p}")),
            "{p}: {:?}",
            inv.warnings
        );
    }
    assert!(warned(&inv, WarningKind::UnsafePath, "/escape"));
    assert!(
        warned(&inv, WarningKind::Skipped, "/var/lib/dpkg/status"),
        "{:?}",
        inv.warnings
    );
    let locations: Vec<&str> = inv.packages.iter().map(|p| p.location.as_str()).collect();
    assert_eq!(
        locations,
        [
            "/srv/node_modules/x/package.json",
            "/srv/node_modules/y/package.json"
        ]
    );
}

#[test]
fn device_files_and_fifos_are_never_read() {
    let layer = Layer::new()
        .char_device("var/lib/dpkg/status")
        .char_device("dev/zero")
        .finish();
    let (_tmp, t) = image(&[layer]);
    let inv = inventory(&t);
    assert!(inv.packages.is_empty());

    // A FIFO where a package database belongs: opening it would block forever.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/lib/dpkg")).unwrap();
    let fifo = root.path().join("var/lib/dpkg/status");
    run(std::process::Command::new("mkfifo").arg(&fifo));
    let inv = inventory(&format!("dir:{}", root.path().display()));
    assert!(inv.packages.is_empty());
}

#[test]
fn decompression_bomb_is_refused() {
    // 64 MiB of zeros compress to about 64 KiB.
    let zeros = vec![0u8; 64 << 20];
    let layer = Layer::new().file("bomb", &zeros).finish();
    let (_tmp, t) = image(&[layer]);
    let options = Options {
        limits: Limits {
            max_layer_bytes: 16 << 20,
            ..Limits::default()
        },
        ..Options::default()
    };
    let err = try_inventory(&t, &options).unwrap_err();
    assert!(matches!(err, InventoryError::LayerTooLarge { .. }), "{err}");
    assert!(err.to_string().contains("decompression bomb"), "{err}");
}

#[test]
fn enormous_metadata_files_are_skipped_with_a_warning() {
    let mut status = String::new();
    while status.len() < 8192 {
        status.push_str(STATUS);
    }
    let layer = Layer::new()
        .file("var/lib/dpkg/status", status.as_bytes())
        .finish();
    let (_tmp, t) = image(&[layer]);
    let options = Options {
        limits: Limits {
            max_metadata_bytes: 4096,
            ..Limits::default()
        },
        ..Options::default()
    };
    let inv = try_inventory(&t, &options).unwrap();
    assert!(inv.packages.is_empty());
    assert!(
        warned(&inv, WarningKind::TooLarge, "/var/lib/dpkg/status"),
        "{:?}",
        inv.warnings
    );
}

fn jar_containing(inner: Option<(&str, Vec<u8>)>, pom: &str) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    w.start_file(
        format!("META-INF/maven/org.example/{pom}/pom.properties"),
        opts,
    )
    .unwrap();
    w.write_all(format!("groupId=org.example\nartifactId={pom}\nversion=1.0\n").as_bytes())
        .unwrap();
    if let Some((name, data)) = inner {
        w.start_file(name, opts).unwrap();
        w.write_all(&data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn deeply_nested_jars_stop_at_the_depth_limit() {
    let mut jar = jar_containing(None, "level9");
    for level in (0..9).rev() {
        jar = jar_containing(
            Some((&format!("lib/level{}.jar", level + 1), jar)),
            &format!("level{level}"),
        );
    }
    let layer = Layer::new().file("app/app.war", &jar).finish();
    let (_tmp, t) = image(&[layer]);
    let inv = inventory(&t);
    let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    // Depth 0 (the war) through the default limit of 4 nested levels.
    assert_eq!(
        names,
        [
            "org.example:level0",
            "org.example:level1",
            "org.example:level2",
            "org.example:level3",
            "org.example:level4"
        ]
    );
    // Every package of a nested jar is owned by the file in the image.
    assert!(inv.packages.iter().all(|p| p.files == ["/app/app.war"]));
    let skipped: Vec<_> = inv
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::Skipped)
        .collect();
    assert_eq!(skipped.len(), 1, "{:?}", inv.warnings);
    assert!(
        skipped[0].path.ends_with("lib/level5.jar"),
        "{}",
        skipped[0].path
    );
}

#[test]
fn malformed_package_databases_warn_and_continue() {
    let layer = Layer::new()
        .file(
            "var/lib/dpkg/status",
            b"Package: broken\nStatus: install ok installed\n\nthis is not a stanza\n",
        )
        .file("srv/node_modules/bad/package.json", b"{ not json")
        .file(
            "srv/node_modules/noversion/package.json",
            br#"{"name": "noversion"}"#,
        )
        .file(
            "py/x-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: x\n",
        )
        .file(
            "app/broken.jar",
            &[&b"PK\x03\x04"[..], &[0xAA; 200]].concat(),
        )
        .file("app/composer/installed.json", b"[{\"name\": 1}]")
        .file("app/x.deps.json", b"{\"libraries\": 5}")
        .file(
            "srv/node_modules/good/package.json",
            br#"{"name": "good", "version": "1.0.0"}"#,
        )
        .finish();
    let (_tmp, t) = image(&[layer]);
    let inv = inventory(&t);
    let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["good"]);
    for path in [
        "/var/lib/dpkg/status",
        "/srv/node_modules/bad/package.json",
        "/srv/node_modules/noversion/package.json",
        "/py/x-1.0.dist-info/METADATA",
        "/app/broken.jar",
        "/app/composer/installed.json",
        "/app/x.deps.json",
    ] {
        assert!(
            warned(&inv, WarningKind::Malformed, path),
            "{path}: {:?}",
            inv.warnings
        );
    }
}

#[test]
fn corrupted_layers_fail_digest_verification() {
    let layer = Layer::new().file("a", b"hello").finish();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), std::slice::from_ref(&layer), "t");
    // Replace the layer blob's content, keeping its name (a tampered registry mirror).
    let digest = sha256(&gzip(&layer));
    let blob = tmp
        .path()
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::write(&blob, gzip(&Layer::new().file("a", b"evil!").finish())).unwrap();
    let err = try_inventory(
        &format!("oci:{}", tmp.path().display()),
        &Options::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, InventoryError::DigestMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(&digest), "{err}");
}

#[test]
fn malformed_layers_and_layouts_name_the_fault() {
    let tmp = tempfile::tempdir().unwrap();
    // Not a layout at all.
    let err = try_inventory(
        &format!("oci:{}", tmp.path().display()),
        &Options::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("no oci-layout file"), "{err}");
    // A truncated gzip layer.
    let layer = gzip(&Layer::new().file("a", &vec![7u8; 100_000]).finish());
    write_layout(tmp.path(), &[Layer::new().finish()], "t");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    let manifest_path = tmp.path().join("blobs/sha256").join(&manifest_digest);
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let truncated = &layer[..layer.len() / 2];
    let d = sha256(truncated);
    std::fs::write(
        tmp.path()
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:")),
        truncated,
    )
    .unwrap();
    manifest["layers"][0]["digest"] = d.clone().into();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let md = sha256(&bytes);
    std::fs::write(
        tmp.path()
            .join("blobs/sha256")
            .join(md.trim_start_matches("sha256:")),
        &bytes,
    )
    .unwrap();
    let mut index = index;
    index["manifests"][0]["digest"] = md.into();
    std::fs::write(
        tmp.path().join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    let err = try_inventory(
        &format!("oci:{}", tmp.path().display()),
        &Options::default(),
    )
    .unwrap_err();
    assert!(matches!(err, InventoryError::Tar { .. }), "{err}");
    assert!(err.to_string().contains(&d), "{err}");
    // An unknown tag lists the tags there are.
    let err = try_inventory(
        &format!("oci:{}:nope", tmp.path().display()),
        &Options::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("tags: t"), "{err}");
}

#[test]
fn whiteouts_and_opaque_directories_remove_lower_packages() {
    let pkg = |n: &str| format!(r#"{{"name": "{n}", "version": "1.0.0"}}"#);
    let l0 = Layer::new()
        .file("app/node_modules/a/package.json", pkg("a").as_bytes())
        .file("app/node_modules/b/package.json", pkg("b").as_bytes())
        .file("other/node_modules/c/package.json", pkg("c").as_bytes())
        .finish();
    let l1 = Layer::new()
        .whiteout("app/node_modules/a")
        .opaque("other/node_modules")
        .file("other/node_modules/d/package.json", pkg("d").as_bytes())
        .file(".wh...", b"")
        .finish();
    let (_tmp, t) = image(&[l0, l1]);
    let inv = inventory(&t);
    let names: Vec<&str> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["b", "d"]);
    assert!(
        warned(&inv, WarningKind::UnsafePath, ".wh..."),
        "{:?}",
        inv.warnings
    );
}
