use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// Everything that can go wrong while building the image or running the Pod.
///
/// Each variant names the file, command, field or container at fault, because
/// the reader is usually a developer looking at a failed integration test.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "the test environment needs root (debootstrap, chroot, podman with cgroupfs); run the tests as root"
    )]
    NotRoot,

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("could not start `{program}`: {source} (is it installed? see .ci/apt-packages.txt)")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: ExitStatus,
        stderr: String,
    },

    #[error(
        "building the test image failed ({status}); its output is above, and its partial \
         directory {partial} is kept until the next build (debootstrap.log is in it)"
    )]
    Build {
        status: ExitStatus,
        partial: PathBuf,
    },

    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },

    #[error("{what}: {message}")]
    Invalid { what: String, message: String },

    #[error("pod manifest {path}: {source}")]
    PodYaml {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },

    #[error("pod manifest {path}: {field}: {message}")]
    PodSpec {
        path: PathBuf,
        field: String,
        message: String,
    },

    #[error("container `{container}` of pod {pod} was not ready after {waited:?}: {detail}")]
    NotReady {
        pod: String,
        container: String,
        waited: Duration,
        detail: String,
    },

    #[error("pod {pod} has no container named `{container}` (it has: {known})")]
    NoSuchContainer {
        pod: String,
        container: String,
        known: String,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }

    pub(crate) fn json(what: impl Into<String>) -> impl FnOnce(serde_json::Error) -> Error {
        let what = what.into();
        move |source| Error::Json { what, source }
    }

    pub(crate) fn invalid(what: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Invalid {
            what: what.into(),
            message: message.into(),
        }
    }
}
