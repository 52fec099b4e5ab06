//! The test environment does what its users rely on: the image builds, its
//! forms agree, the recorded inventory is right, and the Pod runs as the
//! manifest says, in kubelet-shaped cgroups, and goes away afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use expect_test::expect;
use kestrel_testenv::manifest::{Digest, blob_path, normalize_pypi_name};
use kestrel_testenv::{App, Ecosystem, TestImage, TestPod, podman};

fn image() -> TestImage {
    TestImage::get().unwrap_or_else(|err| panic!("{err}"))
}

fn start_pod(image: &TestImage) -> TestPod {
    TestPod::start(image).unwrap_or_else(|err| panic!("{err}"))
}

/// `sha256:<hex>` of everything `reader` yields. coreutils does the hashing:
/// an independent implementation, and fast in unoptimised test builds.
fn sha256_of(mut reader: impl Read) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    std::io::copy(&mut reader, child.stdin.as_mut().unwrap()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// The decompressed bytes of a gzip file, decompressed by `gzip` (fast in
/// unoptimised test builds); the process is reaped when this is dropped.
struct Gunzip(Child);

impl Read for Gunzip {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.stdout.as_mut().expect("piped stdout").read(buf)
    }
}

impl Drop for Gunzip {
    fn drop(&mut self) {
        drop(self.0.stdout.take());
        let _ = self.0.wait();
    }
}

fn gunzip(path: &Path) -> Gunzip {
    let child = Command::new("gzip")
        .arg("-dc")
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    Gunzip(child)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

#[test]
fn oci_layout_archives_and_podman_agree() {
    let image = image();
    let manifest = image.manifest();
    let layout = image.oci_layout();

    // The OCI layout is content-addressed all the way down.
    let index = read_json(&layout.join("index.json"));
    let tagged: Vec<&serde_json::Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] == image.oci_tag())
        .collect();
    assert_eq!(tagged.len(), 1, "{index}");
    assert_eq!(tagged[0]["digest"], manifest.manifest_digest.as_str());
    for digest in [&manifest.manifest_digest, &manifest.config_digest] {
        assert_eq!(
            sha256_of(File::open(blob_path(&layout, digest)).unwrap()),
            digest.as_str()
        );
    }
    assert!(!manifest.layers.is_empty());
    for layer in &manifest.layers {
        let blob = blob_path(&layout, &layer.digest);
        assert_eq!(sha256_of(File::open(&blob).unwrap()), layer.digest.as_str());
        let uncompressed = gunzip(&blob);
        assert_eq!(
            sha256_of(uncompressed),
            layer.diff_id.as_str(),
            "diff_id of {}",
            layer.digest
        );
    }

    // The oci-archive holds the same manifest under the same tag, and the same blobs.
    let mut oci_archive_blobs = BTreeMap::new();
    let mut archive = tar::Archive::new(File::open(image.oci_archive()).unwrap());
    let mut archive_index = None;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_owned();
        if path == "index.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            archive_index = Some(serde_json::from_str::<serde_json::Value>(&text).unwrap());
        } else if let Some(hex) = path.strip_prefix("blobs/sha256/") {
            let digest = sha256_of(&mut entry);
            oci_archive_blobs.insert(format!("sha256:{hex}"), digest);
        }
    }
    let archive_index = archive_index.expect("oci-archive has an index.json");
    assert_eq!(
        archive_index["manifests"][0]["digest"],
        manifest.manifest_digest.as_str()
    );
    assert_eq!(
        archive_index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        image.oci_tag()
    );
    for digest in [&manifest.manifest_digest, &manifest.config_digest]
        .into_iter()
        .chain(manifest.layers.iter().map(|l| &l.digest))
    {
        assert_eq!(
            oci_archive_blobs.get(digest.as_str()),
            Some(&digest.to_string()),
            "{digest} in the oci-archive"
        );
    }

    // The docker-archive stores uncompressed layers: their digests are the diff_ids.
    let mut docker_files = BTreeMap::new();
    let mut docker_manifest = None;
    let mut archive = tar::Archive::new(File::open(image.docker_archive()).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if path == "manifest.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            docker_manifest = Some(serde_json::from_str::<serde_json::Value>(&text).unwrap());
        } else if entry.header().entry_type().is_file() {
            docker_files.insert(path, sha256_of(&mut entry));
        }
    }
    let docker_manifest = docker_manifest.expect("docker-archive has a manifest.json");
    assert_eq!(docker_manifest[0]["RepoTags"][0], image.podman_ref());
    let docker_layers: Vec<&str> = docker_manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|layer| docker_files[layer.as_str().unwrap()].as_str())
        .collect();
    let diff_ids: Vec<&str> = manifest.layers.iter().map(|l| l.diff_id.as_str()).collect();
    assert_eq!(docker_layers, diff_ids);

    // podman has exactly this image under its name.
    let out = podman()
        .args(["image", "inspect", image.podman_ref()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspect[0]["Id"], image.image_id());
    let podman_layers: Vec<&str> = inspect[0]["RootFS"]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(podman_layers, diff_ids);
    assert_eq!(
        Digest::parse(&format!("sha256:{}", image.image_id())).unwrap(),
        manifest.config_digest
    );
}

#[derive(Debug, PartialEq)]
enum Kind {
    Dir,
    Symlink(String),
    File(u64),
    /// A tar hard link: a file whose content is stored under another name.
    HardLink,
    Other,
}

#[test]
fn layer_holds_exactly_the_rootfs() {
    let image = image();
    let manifest = image.manifest();
    assert_eq!(
        manifest.layers.len(),
        1,
        "the image is one layer made from rootfs/"
    );
    let blob = blob_path(&image.oci_layout(), &manifest.layers[0].digest);
    let mut in_layer = BTreeMap::new();
    let mut archive = tar::Archive::new(gunzip(&blob));
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let path = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        if path.is_empty() || path == "." {
            continue;
        }
        let header = entry.header();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => Kind::Dir,
            tar::EntryType::Symlink => Kind::Symlink(
                entry
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            ),
            tar::EntryType::Regular => Kind::File(header.size().unwrap()),
            tar::EntryType::Link => Kind::HardLink,
            _ => Kind::Other,
        };
        in_layer.insert(path, kind);
    }

    let mut in_rootfs = BTreeMap::new();
    walk(&image.rootfs(), &image.rootfs(), &mut in_rootfs);
    assert!(in_rootfs.len() > 5_000, "{} entries", in_rootfs.len());
    let only_layer: Vec<&String> = in_layer
        .keys()
        .filter(|p| !in_rootfs.contains_key(*p))
        .collect();
    let only_rootfs: Vec<&String> = in_rootfs
        .keys()
        .filter(|p| !in_layer.contains_key(*p))
        .collect();
    assert!(
        only_layer.is_empty() && only_rootfs.is_empty(),
        "only in layer: {only_layer:?}\nonly in rootfs: {only_rootfs:?}"
    );
    for (path, kind) in &in_layer {
        let (on_disk, nlink) = &in_rootfs[path];
        match kind {
            Kind::HardLink => assert!(
                matches!(on_disk, Kind::File(_)) && *nlink > 1,
                "{path}: {on_disk:?}"
            ),
            _ => assert_eq!(kind, on_disk, "{path}"),
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Kind, u64)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let relative = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let kind = if meta.is_dir() {
            walk(root, &path, out);
            Kind::Dir
        } else if meta.is_symlink() {
            Kind::Symlink(
                std::fs::read_link(&path)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        } else if meta.is_file() {
            Kind::File(meta.len())
        } else {
            Kind::Other
        };
        out.insert(relative, (kind, meta.nlink()));
    }
}

#[test]
fn inventory_records_pinned_packages_and_what_the_apps_load() {
    let image = image();
    let mut rendered: Vec<String> = image
        .packages()
        .iter()
        .filter(|p| p.ecosystem != Ecosystem::Debian)
        .map(|p| {
            let path = p.path.as_deref().unwrap_or("");
            // Only nested copies (two versions of one package) need their place shown.
            let nested = path.matches("node_modules").count() > 1;
            let loaded = match p.loaded_by {
                Some(app) => format!("loaded by {app:?}"),
                None => "never loaded".to_owned(),
            };
            let place = if nested {
                format!(" at {}", path.trim_start_matches("/opt/app/node/"))
            } else {
                String::new()
            };
            format!(
                "{:?} {} {}{place}: {loaded}",
                p.ecosystem, p.name, p.version
            )
        })
        .collect();
    rendered.sort_by_key(|line| line.to_lowercase());
    expect![[r#"
        PyPI asgiref 3.5.0: never loaded
        PyPI certifi 2018.8.24: loaded by Python
        PyPI chardet 3.0.4: loaded by Python
        PyPI Django 3.2.12: never loaded
        PyPI idna 2.7: loaded by Python
        PyPI Jinja2 3.1.2: never loaded
        PyPI MarkupSafe 2.1.3: never loaded
        PyPI Pillow 9.5.0: loaded by Python
        PyPI pip 23.0.1: never loaded
        PyPI pytz 2022.1: never loaded
        PyPI requests 2.19.1: loaded by Python
        PyPI setuptools 66.1.1: loaded by Python
        PyPI sqlparse 0.4.2: never loaded
        PyPI urllib3 1.23: loaded by Python
    "#]]
    .assert_eq(
        &(rendered
            .iter()
            .filter(|l| l.starts_with("PyPI"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"),
    );
    let npm: Vec<&String> = rendered.iter().filter(|l| l.starts_with("Npm")).collect();
    assert_eq!(npm.len(), 52, "{npm:#?}");
    for line in [
        "Npm express 4.17.1: loaded by Node",
        "Npm lodash 4.17.15: loaded by Node",
        "Npm minimist 1.2.5: never loaded",
        "Npm ms 2.0.0: loaded by Node",
        "Npm path-to-regexp 0.1.7: loaded by Node",
        "Npm qs 6.7.0: loaded by Node",
    ] {
        assert!(npm.iter().any(|l| *l == line), "{line} not in {npm:#?}");
    }
    assert_eq!(
        npm.iter().filter(|l| l.ends_with("never loaded")).count(),
        1,
        "only minimist is never loaded: {npm:#?}"
    );

    // Debian versions follow the bookworm archive, so only their presence is pinned.
    let debian: BTreeMap<&str, &kestrel_testenv::InstalledPackage> = image
        .packages()
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Debian)
        .map(|p| (p.name.as_str(), p))
        .collect();
    for name in [
        "python3.11",
        "nodejs",
        "liblog4j2-java",
        "zlib1g",
        "libc6",
        "dpkg",
    ] {
        let package = debian
            .get(name)
            .unwrap_or_else(|| panic!("Debian {name} missing"));
        assert!(
            package.source.is_some() && package.arch.is_some() && package.loaded_by.is_none(),
            "{package:?}"
        );
    }
    assert_eq!(
        debian["liblog4j2-java"].source.as_ref().unwrap().name,
        "apache-log4j2"
    );

    // The recorded paths exist in the rootfs.
    for package in image
        .packages()
        .iter()
        .filter(|p| p.ecosystem != Ecosystem::Debian)
    {
        let path = package.path.as_deref().unwrap();
        assert!(
            image.rootfs().join(path.trim_start_matches('/')).is_dir(),
            "{path}"
        );
    }
}

fn cgroup_paths(pid: u32) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    text.lines()
        .map(|line| line.splitn(3, ':').nth(2).unwrap().to_owned())
        .collect()
}

#[test]
fn pod_runs_as_the_manifest_says_in_kubelet_shaped_cgroups() {
    let image = image();
    let pod = start_pod(&image);
    assert_eq!((pod.name(), pod.namespace()), ("shop-web", "shop"));
    assert_eq!(
        pod.cgroup_parent(),
        format!("/kubepods/besteffort/pod{}", pod.uid())
    );
    assert_eq!(
        pod.info().labels.get("app").map(String::as_str),
        Some("shop")
    );

    let python = pod.container("python").unwrap();
    let node = pod.container("node").unwrap();
    for (container, uid, app) in [(python, 1000, App::Python), (node, 1001, App::Node)] {
        // Every hierarchy (v1 controllers and the v2 line) places the main
        // process in the kubelet-shaped cgroup named after its container id.
        let expected = format!("{}/libpod-{}", pod.cgroup_parent(), container.id);
        let paths = cgroup_paths(container.pid);
        assert!(
            !paths.is_empty() && paths.iter().all(|p| *p == expected),
            "{}: {paths:#?}",
            container.name
        );
        assert_eq!(container.cgroup, expected);
        let hostname = std::fs::read_to_string(container.proc_root().join("etc/hostname")).unwrap();
        // The runtime mounts the Pod's hostname over the image's: this read goes
        // through the container's mount namespace.
        assert_eq!(
            hostname.trim(),
            "shop-web",
            "/etc/hostname read through /proc/PID/root"
        );
        assert_eq!(container.uid, uid, "{}", container.name);
        assert_eq!(container.ready.uid, uid);
        assert_eq!(container.ready.app, app);
        assert_eq!(
            container.ready.pid, 1,
            "the app is its container's init process"
        );

        // No network but loopback.
        let dev = std::fs::read_to_string(format!("/proc/{}/net/dev", container.pid)).unwrap();
        let interfaces: Vec<&str> = dev
            .lines()
            .skip(2)
            .filter_map(|l| l.split(':').next())
            .map(str::trim)
            .collect();
        assert_eq!(interfaces, ["lo"], "{}", container.name);

        // Labels follow the CRI conventions enrichment code reads.
        let out = podman()
            .args(["container", "inspect", container.id.as_str()])
            .output()
            .unwrap();
        let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let labels = &inspect[0]["Config"]["Labels"];
        assert_eq!(labels["io.kubernetes.pod.uid"], pod.uid().as_str());
        assert_eq!(labels["io.kubernetes.pod.namespace"], "shop");
        assert_eq!(
            labels["io.kubernetes.container.name"],
            container.name.as_str()
        );
        assert_eq!(inspect[0]["ImageName"], image.podman_ref());
    }
    assert_ne!(python.id, node.id);
    let net_ns = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(
        net_ns(python.pid),
        net_ns(node.pid),
        "containers of a Pod share its network namespace"
    );
    assert_ne!(net_ns(python.pid), net_ns(std::process::id()));

    // Python: Pillow's vendored libraries are mapped; jinja2's extension
    // (markupsafe) never is, and the interpreter has not imported django.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", python.pid)).unwrap();
    let site = "/opt/app/venv/lib/python3.11/site-packages";
    assert!(
        maps.contains(&format!("{site}/Pillow.libs/libjpeg-")),
        "libjpeg not mapped:\n{maps}"
    );
    assert!(maps.contains(&format!(
        "{site}/PIL/_imaging.cpython-311-x86_64-linux-gnu.so"
    )));
    assert!(!maps.contains("/markupsafe/"), "markupsafe mapped:\n{maps}");
    let python_loaded: BTreeSet<(String, &str)> = python
        .ready
        .loaded
        .iter()
        .map(|p| (normalize_pypi_name(&p.name), p.version.as_str()))
        .collect();
    for present in [
        ("requests", "2.19.1"),
        ("urllib3", "1.23"),
        ("pillow", "9.5.0"),
    ] {
        assert!(
            python_loaded.contains(&(present.0.to_owned(), present.1)),
            "{present:?} not in {python_loaded:?}"
        );
    }
    for absent in ["django", "jinja2", "markupsafe"] {
        assert!(
            python_loaded.iter().all(|(name, _)| name != absent),
            "{absent} loaded: {python_loaded:?}"
        );
    }

    // Node: express and lodash are in require.cache, minimist is not.
    let node_loaded: BTreeSet<(&str, &str)> = node
        .ready
        .loaded
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert!(
        node_loaded.contains(&("express", "4.17.1"))
            && node_loaded.contains(&("lodash", "4.17.15"))
    );
    assert!(
        node_loaded.iter().all(|(name, _)| *name != "minimist"),
        "{node_loaded:?}"
    );

    // What the running apps report is what the build recorded as loaded.
    for (container, app) in [(python, App::Python), (node, App::Node)] {
        let recorded: BTreeSet<(String, &str)> = image
            .packages()
            .iter()
            .filter(|p| p.loaded_by == Some(app))
            .map(|p| (normalize_pypi_name(&p.name), p.version.as_str()))
            .collect();
        let reported: BTreeSet<(String, &str)> = container
            .ready
            .loaded
            .iter()
            .map(|p| (normalize_pypi_name(&p.name), p.version.as_str()))
            .collect();
        assert_eq!(recorded, reported, "{app:?}");
    }

    // Both apps serve on the Pod's loopback: python's /items calls node's
    // through requests.
    let script = "require('http').get('http://127.0.0.1:8080/items', (r) => { let d = ''; \
                  r.on('data', (c) => (d += c)); r.on('end', () => console.log(r.statusCode, d)); })";
    let out = pod.exec_ok("node", &["node", "-e", script]).unwrap();
    assert_eq!(
        out,
        r#"200 [{"name": "kestrel", "price": 12}, {"name": "merlin", "price": 21}, {"name": "falcon", "price": 30}]"#
    );
    let out = pod
        .exec_ok("python", &["python", "-c", "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8080/thumbnail.png').read()[:4])"])
        .unwrap();
    assert_eq!(out, r"b'\x89PNG'");

    // Nothing outside loopback is reachable.
    let out = pod
        .exec(
            "python",
            &[
                "python",
                "-c",
                "import socket; socket.create_connection(('10.88.0.1', 80), timeout=3)",
            ],
        )
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Network is unreachable"), "{stderr}");
}

fn container_exists(id: &str) -> bool {
    podman()
        .args(["container", "exists", id])
        .status()
        .unwrap()
        .success()
}

fn pod_cgroup_dirs(uid: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|h| h.path().join(format!("kubepods/besteffort/pod{uid}")))
        .filter(|dir| dir.exists())
        .collect()
}

#[test]
fn pod_is_removed_when_dropped_even_by_a_failing_test() {
    let image = image();
    let (sender, receiver) = std::sync::mpsc::channel();
    let failing_test = std::thread::spawn(move || {
        let pod = start_pod(&image);
        let ids: Vec<String> = pod.containers().iter().map(|c| c.id.to_string()).collect();
        assert!(ids.iter().all(|id| container_exists(id)));
        assert!(!pod_cgroup_dirs(pod.uid().as_str()).is_empty());
        sender
            .send((pod.uid().to_string(), pod.info().podman_pod_id.clone(), ids))
            .unwrap();
        panic!("a test failing while its pod runs");
    });
    assert!(failing_test.join().is_err(), "the thread panicked");
    let (uid, pod_id, ids) = receiver.recv().unwrap();
    for id in &ids {
        assert!(!container_exists(id), "container {id} still exists");
    }
    assert!(
        !podman()
            .args(["pod", "exists", &pod_id])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(pod_cgroup_dirs(&uid), Vec::<std::path::PathBuf>::new());
}

#[test]
fn pods_of_dead_test_processes_are_removed_at_next_start() {
    let image = image();
    // PID 1 exists but did not start at tick 0: this owner is gone.
    let name = format!("kestrel-testenv-stale-{}", std::process::id());
    let out = podman()
        .args([
            "pod",
            "create",
            "--network",
            "none",
            "--name",
            &name,
            "--label",
            "io.kestrel.testenv.owner=1-0",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pod = start_pod(&image);
    assert!(
        !podman()
            .args(["pod", "exists", &name])
            .status()
            .unwrap()
            .success(),
        "stale pod {name} survived"
    );
    // A live owner's pod (this one) is left alone by a second start.
    let second = start_pod(&image);
    assert!(
        podman()
            .args(["pod", "exists", &pod.info().podman_pod_id])
            .status()
            .unwrap()
            .success()
    );
    drop(second);
    drop(pod);
}

#[test]
fn cli_prints_the_content_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_kestrel-testenv"))
        .arg("key")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key = kestrel_testenv::image::content_key(&kestrel_testenv::env_dir()).unwrap();
    let (printed_key, dir) = stdout.trim().split_once(' ').unwrap();
    assert_eq!(printed_key, key);
    assert!(dir.ends_with(&key), "{dir}");
}
