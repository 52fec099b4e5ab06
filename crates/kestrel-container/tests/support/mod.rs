//! A real podman for integration tests: a private API service on a temporary socket, a tiny
//! busybox image built locally (no registry), and pods and containers removed on drop.
//!
//! Needs `podman`, `runc` and `busybox-static` (see `.ci/apt-packages.txt`); runs as root.

#![allow(dead_code)]

pub mod apiserver;
pub mod recorded;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const IMAGE: &str = "localhost/kestrel-container-test:1.0";

/// This host's cgroup layout needs runc and the cgroupfs manager (see
/// `docs/containers.md`); podman reads this file through `CONTAINERS_CONF`.
const CONTAINERS_CONF: &str = r#"[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
"#;

pub struct Podman {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    service: Child,
    suffix: String,
    pods: Vec<String>,
    containers: Vec<String>,
}

impl Podman {
    pub fn start() -> Podman {
        let found = Command::new("podman").arg("--version").output();
        assert!(
            matches!(&found, Ok(o) if o.status.success()),
            "podman is needed: apt-get install podman runc uidmap busybox-static ({found:?})"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("containers.conf"), CONTAINERS_CONF).unwrap();
        let socket = dir.path().join("podman.sock");
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let suffix = format!("{}-{nanos}", std::process::id());
        let service = Command::new("podman")
            .env("CONTAINERS_CONF", dir.path().join("containers.conf"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start podman system service");
        let podman = Podman {
            dir,
            socket,
            service,
            suffix,
            pods: Vec::new(),
            containers: Vec::new(),
        };
        podman.ensure_image();
        // The service creates its socket once it listens; readiness, not a timing assertion.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !podman.socket.exists() {
            assert!(
                Instant::now() < deadline,
                "podman system service did not create {}",
                podman.socket.display()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        podman
    }

    pub fn podman(&self, args: &[&str]) -> String {
        let out = Command::new("podman")
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "podman {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn ensure_image(&self) {
        let exists = Command::new("podman")
            .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
            .args(["image", "exists", IMAGE])
            .status()
            .unwrap();
        if exists.success() {
            return;
        }
        let busybox = Path::new("/bin/busybox");
        assert!(
            busybox.exists(),
            "/bin/busybox is needed: apt-get install busybox-static"
        );
        let root = self.dir.path().join("rootfs");
        std::fs::create_dir_all(root.join("bin")).unwrap();
        std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
        for applet in ["sh", "sleep", "cat"] {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
        let tar = self.dir.path().join("rootfs.tar");
        let status = Command::new("tar")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        self.podman(&[
            "import",
            "--change",
            "ENV PATH=/bin",
            "--change",
            "LABEL org.kestrel.test=container",
            tar.to_str().unwrap(),
            IMAGE,
        ]);
    }

    /// A unique name for this test run.
    pub fn name(&self, base: &str) -> String {
        format!("kestrel-{base}-{}", self.suffix)
    }

    /// Creates a podman pod whose cgroup looks like kubelet's for a BestEffort pod `uid`.
    pub fn pod(&mut self, base: &str, uid: &str, labels: &[&str]) -> String {
        let name = self.name(base);
        let parent = format!("--cgroup-parent=/kubepods/besteffort/pod{uid}");
        let mut args = vec![
            "pod",
            "create",
            "--network",
            "none",
            &parent,
            "--name",
            &name,
        ];
        for l in labels {
            args.extend(["--label", l]);
        }
        self.podman(&args);
        self.pods.push(name.clone());
        name
    }

    /// Runs (`start`) or only creates a container; returns its full id.
    pub fn container(&mut self, base: &str, start: bool, extra: &[&str]) -> String {
        let name = self.name(base);
        let mut args = vec![if start { "run" } else { "create" }];
        if start {
            args.push("-d");
        }
        args.extend(["--network", "none", "--name", &name]);
        // `--pod` and `--network` exclude each other.
        if extra.contains(&"--pod") {
            args.retain(|a| *a != "--network" && *a != "none");
        }
        args.extend(extra);
        args.extend([IMAGE, "sleep", "300"]);
        let id = self.podman(&args);
        self.containers.push(name);
        id
    }

    pub fn pid_of(&self, name_or_id: &str) -> u32 {
        self.podman(&["inspect", "-f", "{{.State.Pid}}", name_or_id])
            .parse()
            .unwrap()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new("podman")
                .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
                .args(["rm", "-f", "-t", "0", c])
                .output();
        }
        for p in &self.pods {
            let _ = Command::new("podman")
                .env("CONTAINERS_CONF", self.dir.path().join("containers.conf"))
                .args(["pod", "rm", "-f", "-t", "0", p])
                .output();
        }
        let _ = self.service.kill();
        let _ = self.service.wait();
    }
}
