//! The test image: built once per content of `tests/env/`, then reused.
//!
//! Cache layout (root: `$KESTREL_TESTENV_CACHE`, default `/var/cache/kestrel-testenv`):
//!
//! ```text
//! lock                      flock(2) held while checking, building or loading
//! debs/                     debootstrap's .deb download cache, kept across keys
//! <key>/                    a complete build: rootfs/ oci/ image.*.tar manifest.json
//! <key>.partial-<pid>/      a build in progress (stale once its builder is gone)
//! ```
//!
//! A build runs in a `.partial-<pid>` directory and is renamed to `<key>` only
//! after `manifest.json` is written, so a crash can never leave something that
//! looks complete. All of this happens under the lock, so two test processes
//! asking at once build once; the second one waits and reuses.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest as _, Sha256};

use crate::cmd::{self, env_dir, podman, podman_stdout};
use crate::error::{Error, Result};
use crate::manifest::{FORMAT, InstalledPackage, Manifest};

/// Image name in the OCI layout, archives and podman; the tag is the content key.
pub const IMAGE_NAME: &str = "kestrel-test";

/// Builds whose `last-used` stamp is older than this are deleted after a new
/// build (another checkout may still use a recent one).
const PRUNE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The built test image, present on disk in every form and loaded in podman.
#[derive(Clone, Debug)]
pub struct TestImage {
    dir: PathBuf,
    manifest: Arc<Manifest>,
}

static IMAGE: Mutex<Option<TestImage>> = Mutex::new(None);

impl TestImage {
    /// Returns the image for the current content of `tests/env/`, building it
    /// (a few minutes) only if no complete build is cached, and loading it into
    /// podman if podman does not have it.
    pub fn get() -> Result<TestImage> {
        // Tests in one process share the answer; the file lock below covers
        // other processes.
        let mut slot = IMAGE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(image) = slot.as_ref() {
            return Ok(image.clone());
        }
        let image = Cache::from_env().image()?;
        *slot = Some(image.clone());
        Ok(image)
    }

    /// The cache directory of this build.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The root filesystem the image was made from (a plain directory).
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The OCI image layout directory; the image is tagged [`Self::oci_tag`].
    pub fn oci_layout(&self) -> PathBuf {
        self.dir.join("oci")
    }

    /// The image as an oci-archive (a tar of an OCI layout).
    pub fn oci_archive(&self) -> PathBuf {
        self.dir.join("image.oci.tar")
    }

    /// The image as a docker-archive (`docker save` format), named [`Self::podman_ref`].
    pub fn docker_archive(&self) -> PathBuf {
        self.dir.join("image.docker.tar")
    }

    pub fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    /// `kestrel-test:<key>`: the reference name inside the layout and archives.
    pub fn oci_tag(&self) -> &str {
        &self.manifest.tag
    }

    /// `localhost/kestrel-test:<key>`: the image as podman knows it.
    pub fn podman_ref(&self) -> &str {
        &self.manifest.podman_ref
    }

    /// Podman's image id: the 64 hex digits of the image config digest.
    pub fn image_id(&self) -> &str {
        self.manifest.config_digest.hex()
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Every package installed in the image, with the app that loads it.
    pub fn packages(&self) -> &[InstalledPackage] {
        &self.manifest.packages
    }
}

/// Hash of every file under `env` that affects the build (all but `*.md`
/// and tool litter), plus [`FORMAT`]: 16 hex digits.
pub fn content_key(env: &Path) -> Result<String> {
    let mut files = Vec::new();
    collect_files(env, env, &mut files)?;
    files.sort();
    let mut hasher = Sha256::new();
    hasher.update(format!("kestrel-testenv format {FORMAT}\n").as_bytes());
    for relative in files {
        let path = env.join(&relative);
        let bytes = std::fs::read(&path).map_err(Error::io(&path))?;
        let mode = std::fs::metadata(&path)
            .map_err(Error::io(&path))?
            .permissions()
            .mode();
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0, u8::from(mode & 0o111 != 0)]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
    }
    let mut key = cmd::hex(&hasher.finalize());
    key.truncate(16);
    Ok(key)
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry.file_type().map_err(Error::io(&path))?;
        if kind.is_dir() {
            // A developer running the apps by hand leaves these behind; they
            // are not inputs of the build.
            if !matches!(name.as_ref(), "node_modules" | "__pycache__") {
                collect_files(root, &path, out)?;
            }
        } else if !name.ends_with(".md") {
            let relative = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            out.push(relative);
        }
    }
    Ok(())
}

/// The on-disk cache of builds.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// `$KESTREL_TESTENV_CACHE`, or `/var/cache/kestrel-testenv`.
    pub fn from_env() -> Cache {
        let root = std::env::var_os("KESTREL_TESTENV_CACHE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/cache/kestrel-testenv"));
        Cache { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reuses or builds the image for the current `tests/env/`, under the lock.
    pub fn image(&self) -> Result<TestImage> {
        cmd::require_root()?;
        let env = env_dir();
        let key = content_key(&env)?;
        let tag = format!("{IMAGE_NAME}:{key}");
        std::fs::create_dir_all(&self.root).map_err(Error::io(&self.root))?;
        let _lock = self.lock()?;

        let dir = self.root.join(&key);
        let mut built = false;
        if !dir.join("manifest.json").is_file() {
            self.build(&env, &key, &tag, &dir)?;
            built = true;
        }
        let manifest = Manifest::read(&dir.join("manifest.json"))?;
        let image = TestImage {
            dir,
            manifest: Arc::new(manifest),
        };
        ensure_loaded(&image)?;
        touch(&image.dir.join("last-used"))?;
        if built {
            self.prune(&key);
        }
        Ok(image)
    }

    fn lock(&self) -> Result<File> {
        let path = self.root.join("lock");
        let file = File::create(&path).map_err(Error::io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                tracing::info!(lock = %path.display(), "another process is building the test image; waiting");
                file.lock().map_err(Error::io(&path))?;
            }
            Err(std::fs::TryLockError::Error(err)) => return Err(Error::io(&path)(err)),
        }
        Ok(file)
    }

    fn build(&self, env: &Path, key: &str, tag: &str, dir: &Path) -> Result<()> {
        // We hold the lock, so any partial build left is from a dead builder.
        self.remove_partials()?;
        let partial = self
            .root
            .join(format!("{key}.partial-{}", std::process::id()));
        let script = env.join("build.sh");
        tracing::info!(key, partial = %partial.display(), "building the test image (a few minutes)");
        eprintln!(
            "kestrel-testenv: building test image {tag} in {}",
            partial.display()
        );
        let started = Instant::now();
        let mut command = Command::new("bash");
        command
            .arg(&script)
            .arg(&partial)
            .arg(tag)
            .env("KESTREL_TESTENV_DEB_CACHE", self.root.join("debs"))
            // The script's progress goes to stderr, which test harnesses do not
            // capture, so a developer waiting minutes sees what is happening.
            .stdout(stderr_stdio()?)
            .stderr(Stdio::inherit());
        let status = command.status().map_err(|source| Error::Spawn {
            program: cmd::describe(&command),
            source,
        })?;
        if !status.success() {
            return Err(Error::Build { status, partial });
        }
        let seconds = started.elapsed().as_secs_f64();
        let manifest = Manifest::assemble(&partial, key, tag, (seconds * 10.0).round() / 10.0)?;
        manifest.write(&partial.join("manifest.json"))?;
        std::fs::rename(&partial, dir).map_err(Error::io(dir))?;
        eprintln!("kestrel-testenv: built {tag} in {seconds:.0} s");
        Ok(())
    }

    fn remove_partials(&self) -> Result<()> {
        for entry in std::fs::read_dir(&self.root).map_err(Error::io(&self.root))? {
            let path = entry.map_err(Error::io(&self.root))?.path();
            if path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().contains(".partial-"))
            {
                tracing::info!(path = %path.display(), "removing an interrupted build");
                cmd::remove_build_dir(&path)?;
            }
        }
        Ok(())
    }

    /// Deletes other builds not used for [`PRUNE_AFTER`], and their podman
    /// images. Failures only cost disk space, so they are logged, not raised.
    fn prune(&self, current: &str) {
        let Ok(entries) = std::fs::read_dir(&self.root) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_build = name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_build || name == current {
                continue;
            }
            let last_used =
                std::fs::metadata(entry.path().join("last-used")).and_then(|m| m.modified());
            let stale = last_used
                .map(|time| {
                    SystemTime::now().duration_since(time).unwrap_or_default() > PRUNE_AFTER
                })
                .unwrap_or(true);
            if !stale {
                continue;
            }
            tracing::info!(build = %entry.path().display(), "pruning an old test image build");
            if let Err(err) = cmd::remove_build_dir(&entry.path()) {
                tracing::warn!(%err, "could not prune an old test image build");
            }
            if let Err(err) = podman_stdout(["rmi", &format!("localhost/{IMAGE_NAME}:{name}")]) {
                tracing::debug!(%err, "old test image not removed from podman");
            }
        }
    }
}

/// Loads the image into podman unless podman already has it under its name
/// with the same id (the podman store is not part of the cache and may have
/// been reset, or the tag may have been loaded from another build).
fn ensure_loaded(image: &TestImage) -> Result<()> {
    let inspect = || {
        podman()
            .args([
                "image",
                "inspect",
                "--format",
                "{{.Id}}",
                image.podman_ref(),
            ])
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    if inspect().as_deref() == Some(image.image_id()) {
        return Ok(());
    }
    tracing::info!(
        image = image.podman_ref(),
        "loading the test image into podman"
    );
    let archive = image.oci_archive();
    cmd::run(
        podman()
            .arg("load")
            .arg("--quiet")
            .arg("--input")
            .arg(&archive),
    )?;
    match inspect() {
        Some(id) if id == image.image_id() => Ok(()),
        other => Err(Error::invalid(
            archive.display().to_string(),
            format!(
                "podman loaded it as {} but its config digest is {}",
                other.as_deref().unwrap_or("nothing"),
                image.image_id()
            ),
        )),
    }
}

fn touch(path: &Path) -> Result<()> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(Error::io(path))?;
    file.set_modified(SystemTime::now())
        .map_err(Error::io(path))
}

fn stderr_stdio() -> Result<Stdio> {
    use std::os::fd::AsFd;
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(Error::io("standard error"))?;
    Ok(Stdio::from(fd))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_key_follows_inputs_but_not_docs() {
        let dir = std::env::temp_dir().join(format!("kestrel-testenv-key-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("python/__pycache__")).unwrap();
        std::fs::write(dir.join("build.sh"), "echo one\n").unwrap();
        let first = content_key(&dir).unwrap();
        assert_eq!(first.len(), 16);

        std::fs::write(dir.join("README.md"), "docs\n").unwrap();
        std::fs::write(dir.join("python/__pycache__/app.pyc"), "litter").unwrap();
        assert_eq!(
            content_key(&dir).unwrap(),
            first,
            "docs and litter are not inputs"
        );

        std::fs::write(dir.join("python/requirements.txt"), "requests==2.19.1\n").unwrap();
        let second = content_key(&dir).unwrap();
        assert_ne!(second, first);

        let mut perms = std::fs::metadata(dir.join("build.sh"))
            .unwrap()
            .permissions();
        perms.set_mode(0o755);
        std::fs::set_permissions(dir.join("build.sh"), perms).unwrap();
        assert_ne!(
            content_key(&dir).unwrap(),
            second,
            "the executable bit is an input"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
