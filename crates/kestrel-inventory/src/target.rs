//! The `TARGET` syntax: what to inventory.
//!
//! | Syntax | Meaning |
//! |---|---|
//! | `oci:DIR[:REF]` | an OCI image layout directory, optionally the image whose `org.opencontainers.image.ref.name` is `REF` (the directory may not contain `:`) |
//! | `oci-archive:FILE` | a tar of an OCI image layout (`skopeo copy ... oci-archive:`) |
//! | `docker-archive:FILE` | a `docker save` / `podman save` tar |
//! | `dir:PATH` | a root filesystem directory |
//! | `registry:REF` | an image in a registry (`host[:port]/repo[:tag][@sha256:...]`) |
//! | `container:ID` | a running container, by (a prefix of at least 12 hex digits of) its id |
//! | `pid:PID` | the root filesystem of a running process |
//! | `PATH` | a bare path: a directory holding `oci-layout` is `oci:`, another directory is `dir:`, a tar holding `oci-layout` is `oci-archive:`, one holding `manifest.json` is `docker-archive:` |

use std::fmt;
use std::path::{Path, PathBuf};

/// A parsed `TARGET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    OciLayout {
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to select; the only image when `None`.
        reference: Option<String>,
    },
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
    Dir(PathBuf),
    Registry(ImageReference),
    Container(String),
    Pid(u32),
}

/// Why a `TARGET` string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetParseError {
    #[error(
        "empty target: expected e.g. oci:DIR, docker-archive:FILE, dir:PATH, registry:REF, container:ID or pid:PID"
    )]
    Empty,
    #[error("{path}: no such file or directory (as a bare path target)")]
    NoSuchPath { path: String },
    #[error(
        "{path}: cannot tell what this is: not a directory, and not a tar holding oci-layout or manifest.json; prefix it with oci:, oci-archive:, docker-archive: or dir:"
    )]
    Undetectable { path: String },
    #[error(
        "unknown target kind {0:?}: expected oci:, oci-archive:, docker-archive:, dir:, registry:, container: or pid:"
    )]
    UnknownKind(String),
    #[error("invalid pid {0:?}: expected a positive decimal number")]
    InvalidPid(String),
    #[error(
        "invalid container id {0:?}: expected at least 12 hexadecimal digits of the container id"
    )]
    InvalidContainerId(String),
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference { reference: String, reason: String },
}

impl Target {
    /// Parses the `TARGET` syntax (see the module table); a bare path is detected by looking at
    /// it.
    pub fn parse(s: &str) -> Result<Target, TargetParseError> {
        if s.is_empty() {
            return Err(TargetParseError::Empty);
        }
        if let Some(rest) = s.strip_prefix("oci:") {
            // `oci:DIR:REF` splits at the first `:`, as skopeo does: a reference name may itself
            // hold a `:` (`app:1.0`), a directory may not.
            if let Some((dir, tag)) = rest.split_once(':')
                && !tag.is_empty()
                && !dir.is_empty()
            {
                return Ok(Target::OciLayout {
                    dir: dir.into(),
                    reference: Some(tag.to_owned()),
                });
            }
            return Ok(Target::OciLayout {
                dir: rest.into(),
                reference: None,
            });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            return Ok(Target::OciArchive(rest.into()));
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            return Ok(Target::DockerArchive(rest.into()));
        }
        if let Some(rest) = s.strip_prefix("dir:") {
            return Ok(Target::Dir(rest.into()));
        }
        if let Some(rest) = s.strip_prefix("registry:") {
            return ImageReference::parse(rest).map(Target::Registry);
        }
        if let Some(rest) = s.strip_prefix("container:") {
            let id = rest.to_ascii_lowercase();
            if id.len() < 12 || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(TargetParseError::InvalidContainerId(rest.to_owned()));
            }
            return Ok(Target::Container(id));
        }
        if let Some(rest) = s.strip_prefix("pid:") {
            return match rest.parse::<u32>() {
                Ok(p) if p > 0 => Ok(Target::Pid(p)),
                _ => Err(TargetParseError::InvalidPid(rest.to_owned())),
            };
        }
        if let Some((kind, _)) = s.split_once(':')
            && !kind.is_empty()
            && !kind.contains('/')
            && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !Path::new(s).exists()
        {
            return Err(TargetParseError::UnknownKind(kind.to_owned()));
        }
        detect(Path::new(s))
    }
}

fn detect(path: &Path) -> Result<Target, TargetParseError> {
    let shown = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|_| TargetParseError::NoSuchPath {
        path: shown.clone(),
    })?;
    if meta.is_dir() {
        if path.join("oci-layout").is_file() {
            return Ok(Target::OciLayout {
                dir: path.to_owned(),
                reference: None,
            });
        }
        return Ok(Target::Dir(path.to_owned()));
    }
    // Look at the first entries of the tar only: both formats put their marker file early, and
    // the archive may be gigabytes.
    let file = std::fs::File::open(path).map_err(|_| TargetParseError::Undetectable {
        path: shown.clone(),
    })?;
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries()
        .map_err(|_| TargetParseError::Undetectable {
            path: shown.clone(),
        })?;
    for entry in entries.take(10_000) {
        let Ok(entry) = entry else { break };
        let Ok(name) = entry.path() else { continue };
        let name = name.to_string_lossy();
        let name = name.trim_start_matches("./");
        if name == "oci-layout" {
            return Ok(Target::OciArchive(path.to_owned()));
        }
        if name == "manifest.json" {
            return Ok(Target::DockerArchive(path.to_owned()));
        }
    }
    Err(TargetParseError::Undetectable { path: shown })
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::OciLayout {
                dir,
                reference: Some(r),
            } => write!(f, "oci:{}:{r}", dir.display()),
            Target::OciLayout {
                dir,
                reference: None,
            } => write!(f, "oci:{}", dir.display()),
            Target::OciArchive(p) => write!(f, "oci-archive:{}", p.display()),
            Target::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
            Target::Dir(p) => write!(f, "dir:{}", p.display()),
            Target::Registry(r) => write!(f, "registry:{r}"),
            Target::Container(id) => write!(f, "container:{id}"),
            Target::Pid(p) => write!(f, "pid:{p}"),
        }
    }
}

/// An image in a registry: `registry/repository` plus a tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageReference {
    /// Host and optional port, e.g. `127.0.0.1:5000`, `docker.io`.
    pub registry: String,
    /// e.g. `library/debian`.
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:...`; when present it is what is pulled, and the content must match it.
    pub digest: Option<String>,
}

impl ImageReference {
    /// Parses `[registry/]repository[:tag][@sha256:hex]` with Docker's defaults (`docker.io`,
    /// `library/`, `latest`).
    pub fn parse(s: &str) -> Result<ImageReference, TargetParseError> {
        let bad = |reason: &str| TargetParseError::InvalidReference {
            reference: s.to_owned(),
            reason: reason.to_owned(),
        };
        if s.is_empty() {
            return Err(bad("empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("digest must be sha256:<64 hex digits>"))?;
                if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                    return Err(bad("digest must be sha256:<64 lowercase hex digits>"));
                }
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A tag follows the last `:` after the last `/` (a `:` before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (
                &rest[..last_slash + i],
                Some(rest[last_slash + i + 1..].to_owned()),
            ),
            None => (rest, None),
        };
        if let Some(t) = &tag
            && (t.is_empty()
                || t.len() > 128
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')))
        {
            return Err(bad("invalid tag"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, repo))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), repo.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let repository = if registry == "docker.io" && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if repository.is_empty()
            || !repository.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'/' | b'.' | b'_' | b'-')
            })
        {
            return Err(bad(
                "repository must be lowercase letters, digits and . _ - / separators",
            ));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Ok(ImageReference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// What to ask the registry for: the digest when pinned, else the tag.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(input: &str, expect: expect_test::Expect) {
        let got = match Target::parse(input) {
            Ok(t) => format!("{t:?} => {t}"),
            Err(e) => format!("error: {e}"),
        };
        expect.assert_eq(&got);
    }

    #[test]
    fn target_syntax() {
        use expect_test::expect;
        check(
            "oci:/img/layout:v1",
            expect![[
                r#"OciLayout { dir: "/img/layout", reference: Some("v1") } => oci:/img/layout:v1"#
            ]],
        );
        check(
            "oci:/img/layout:app:1.0",
            expect![[
                r#"OciLayout { dir: "/img/layout", reference: Some("app:1.0") } => oci:/img/layout:app:1.0"#
            ]],
        );
        check(
            "oci:/img/layout",
            expect![[r#"OciLayout { dir: "/img/layout", reference: None } => oci:/img/layout"#]],
        );
        check(
            "docker-archive:/x/y.tar",
            expect![[r#"DockerArchive("/x/y.tar") => docker-archive:/x/y.tar"#]],
        );
        check(
            "registry:127.0.0.1:5000/test/app:1.0",
            expect![[
                r#"Registry(ImageReference { registry: "127.0.0.1:5000", repository: "test/app", tag: Some("1.0"), digest: None }) => registry:127.0.0.1:5000/test/app:1.0"#
            ]],
        );
        check(
            "registry:debian",
            expect![[
                r#"Registry(ImageReference { registry: "docker.io", repository: "library/debian", tag: Some("latest"), digest: None }) => registry:docker.io/library/debian:latest"#
            ]],
        );
        check(
            "registry:localhost:5000/a@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            expect![[
                r#"Registry(ImageReference { registry: "localhost:5000", repository: "a", tag: None, digest: Some("sha256:0000000000000000000000000000000000000000000000000000000000000000") }) => registry:localhost:5000/a@sha256:0000000000000000000000000000000000000000000000000000000000000000"#
            ]],
        );
        check(
            "registry:Foo/Bar",
            expect![[
                r#"error: invalid image reference "Foo/Bar": repository must be lowercase letters, digits and . _ - / separators"#
            ]],
        );
        check(
            "pid:0",
            expect![[r#"error: invalid pid "0": expected a positive decimal number"#]],
        );
        check(
            "nope:/x",
            expect![[
                r#"error: unknown target kind "nope": expected oci:, oci-archive:, docker-archive:, dir:, registry:, container: or pid:"#
            ]],
        );
        check("pid:42", expect![[r#"Pid(42) => pid:42"#]]);
        check(
            "container:abc",
            expect![[
                r#"error: invalid container id "abc": expected at least 12 hexadecimal digits of the container id"#
            ]],
        );
        check(
            "/definitely/not/here",
            expect![[
                r#"error: /definitely/not/here: no such file or directory (as a bare path target)"#
            ]],
        );
    }
}
