//! podman's API service (`podman system service`) on a private socket, for tests whose code
//! under test resolves container names, images and pod labels through the runtime's API.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// `podman system service` on a socket in a private directory, with the test environment's
/// podman configuration; stopped, and its directory removed, on drop.
#[derive(Debug)]
pub struct PodmanService {
    dir: PathBuf,
    socket: PathBuf,
    child: Child,
}

impl PodmanService {
    /// Starts the service and returns once its socket exists (the service creates it when it
    /// listens: readiness, not a timing assumption).
    pub fn start() -> Result<PodmanService> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "kestrel-podman-service-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let socket = dir.join("podman.sock");
        let child = crate::podman()
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| Error::Spawn {
                program: "podman system service".to_owned(),
                source,
            })?;
        let service = PodmanService { dir, socket, child };
        // Attaching to cgroups and storage takes longer on a loaded machine.
        let deadline = Instant::now() + Duration::from_secs(60);
        while !service.socket.exists() {
            if Instant::now() > deadline {
                return Err(Error::Invalid {
                    what: "podman system service".to_owned(),
                    message: format!("did not create {} within 60 s", service.socket.display()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(service)
    }

    /// The service's Unix socket (`[container] podman_socket`).
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
