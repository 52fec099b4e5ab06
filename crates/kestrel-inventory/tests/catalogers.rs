//! Catalogers that the root-filesystem fixture does not cover, on layers built here.

mod common;

use common::*;
use kestrel_inventory::WarningKind;

/// The format of Alpine's `/lib/apk/db/installed` (hand-written in that format: Alpine's package
/// repository is not reachable from the build machines).
const APK_INSTALLED: &str = "C:Q1u3rjPGdN6SgZMZFZ/s0eyrM/1oE=
P:musl
V:1.2.4-r2
A:x86_64
S:407493
I:647168
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
F:lib
R:ld-musl-x86_64.so.1
R:libc.musl-x86_64.so.1

C:Q1wKdSZaRVBmPxmeFCAEyDsqVe1Ms=
P:zlib
V:1.3.1-r0
A:x86_64
L:Zlib
o:zlib
F:lib
R:libz.so.1
R:libz.so.1.3.1

";

#[test]
fn apk_database_with_layer_attribution() {
    let musl_only = APK_INSTALLED.split("\n\n").next().unwrap().to_owned() + "\n\n";
    let l0 = Layer::new()
        .file(
            "etc/os-release",
            b"ID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n",
        )
        .file("lib/apk/db/installed", musl_only.as_bytes())
        .file("lib/ld-musl-x86_64.so.1", b"")
        .finish();
    let l1 = Layer::new()
        .file("lib/apk/db/installed", APK_INSTALLED.as_bytes())
        .file("lib/libz.so.1.3.1", b"")
        .symlink("lib/libz.so.1", "libz.so.1.3.1")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), &[l0, l1], "t");
    let inv = inventory(&format!("oci:{}", tmp.path().display()));
    let got: Vec<String> = inv
        .packages
        .iter()
        .map(|p| {
            format!(
                "{} {} {} layer={} src={:?}",
                p.ecosystem,
                p.name,
                p.purl,
                p.layer.as_ref().unwrap().index,
                p.source.as_ref().map(|s| &s.name)
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "Alpine:v3.19 musl pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1 layer=0 src=Some(\"musl\")",
            "Alpine:v3.19 zlib pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64&distro=alpine-3.19.1 layer=1 src=Some(\"zlib\")",
        ]
    );
    assert_eq!(inv.owner_of("/lib/libz.so.1").unwrap().name, "zlib");
    assert_eq!(
        inv.owner_of("/lib/ld-musl-x86_64.so.1").unwrap().name,
        "musl"
    );
}

#[test]
fn rpm_sqlite_database_and_unsupported_formats() {
    let db = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rpm/rpmdb.sqlite"),
    )
    .unwrap();
    let l0 = Layer::new()
        .file("etc/os-release", b"ID=\"rocky\"\nVERSION_ID=\"9.3\"\n")
        .file("var/lib/rpm/rpmdb.sqlite", &db)
        .file("usr/bin/kestrel-hello", b"#!/bin/sh\necho hello\n")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), &[l0], "t");
    let inv = inventory(&format!("oci:{}", tmp.path().display()));
    let got: Vec<String> = inv
        .packages
        .iter()
        .map(|p| {
            format!(
                "{} {} {} {} {:?} {:?}",
                p.ecosystem,
                p.name,
                p.version,
                p.purl,
                p.licenses,
                p.source
                    .as_ref()
                    .map(|s| format!("{} {}", s.name, s.version))
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "Rocky Linux:9 kestrel-hello 1:1.2.3-4.fc40 pkg:rpm/rocky/kestrel-hello@1.2.3-4.fc40?arch=noarch&distro=rocky-9.3&epoch=1 [\"MIT AND Apache-2.0\"] Some(\"kestrel-hello 1.2.3-4.fc40\")",
            "Rocky Linux:9 kestrel-second 0.9-1 pkg:rpm/rocky/kestrel-second@0.9-1?arch=noarch&distro=rocky-9.3 [\"GPL-2.0-or-later\"] Some(\"kestrel-second 0.9-1\")",
        ]
    );
    assert_eq!(
        inv.owner_of("/usr/bin/kestrel-hello").unwrap().name,
        "kestrel-hello"
    );
    assert!(inv.warnings.is_empty(), "{:?}", inv.warnings);

    // Berkeley DB: recognised, reported, not guessed at.
    let l0 = Layer::new()
        .file("var/lib/rpm/Packages", &[0u8; 4096])
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), &[l0], "t");
    let inv = inventory(&format!("oci:{}", tmp.path().display()));
    assert!(inv.packages.is_empty());
    let w = &inv.warnings[0];
    assert_eq!(
        (w.kind, w.path.as_str()),
        (WarningKind::Unsupported, "/var/lib/rpm/Packages")
    );
    assert!(w.message.contains("unsupported rpmdb format"));

    // A corrupt SQLite database is malformed, named.
    let l0 = Layer::new()
        .file("var/lib/rpm/rpmdb.sqlite", &db[..db.len() / 3])
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), &[l0], "t");
    let inv = inventory(&format!("oci:{}", tmp.path().display()));
    assert!(inv.packages.is_empty());
    assert_eq!(
        (inv.warnings[0].kind, inv.warnings[0].path.as_str()),
        (WarningKind::Malformed, "/var/lib/rpm/rpmdb.sqlite")
    );
}

#[test]
fn composer_and_dotnet_metadata() {
    // Composer 2's installed.json shape and a .NET SDK deps.json shape.
    let installed = br#"{"packages": [
        {"name": "monolog/monolog", "version": "2.9.1", "version_normalized": "2.9.1.0", "license": ["MIT"], "install-path": "../monolog/monolog"},
        {"name": "symfony/polyfill-ctype", "version": "v1.28.0", "license": ["MIT"], "install-path": "../symfony/polyfill-ctype"}
    ], "dev": true, "dev-package-names": []}"#;
    let deps = br#"{"runtimeTarget": {"name": ".NETCoreApp,Version=v8.0"},
        "targets": {".NETCoreApp,Version=v8.0": {}},
        "libraries": {
            "app/1.0.0": {"type": "project", "serviceable": false, "sha512": ""},
            "Newtonsoft.Json/13.0.1": {"type": "package", "serviceable": true, "sha512": "sha512-x", "path": "newtonsoft.json/13.0.1"}
        }}"#;
    let l0 = Layer::new()
        .file("srv/php/vendor/composer/installed.json", installed)
        .file("srv/php/vendor/monolog/monolog/src/Logger.php", b"<?php")
        .file("srv/dotnet/app.deps.json", deps)
        .file("srv/dotnet/Newtonsoft.Json.dll", b"MZ")
        .finish();
    let tmp = tempfile::tempdir().unwrap();
    write_layout(tmp.path(), &[l0], "t");
    let inv = inventory(&format!("oci:{}", tmp.path().display()));
    let got: Vec<String> = inv
        .packages
        .iter()
        .map(|p| format!("{} {} {} {:?}", p.ecosystem, p.name, p.purl, p.files))
        .collect();
    assert_eq!(
        got,
        [
            "NuGet Newtonsoft.Json pkg:nuget/Newtonsoft.Json@13.0.1 [\"/srv/dotnet/Newtonsoft.Json.dll\", \"/srv/dotnet/app.deps.json\"]",
            "Packagist monolog/monolog pkg:composer/monolog/monolog@2.9.1 [\"/srv/php/vendor/monolog/monolog/src/Logger.php\"]",
            "Packagist symfony/polyfill-ctype pkg:composer/symfony/polyfill-ctype@1.28.0 []",
        ]
    );
}
