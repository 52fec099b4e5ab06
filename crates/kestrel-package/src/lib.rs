//! The one package model shared by inventory, vulnerability matching and risk.
//!
//! A [`Package`] is a piece of installed software as a cataloger found it: name, version,
//! [`Ecosystem`] (OSV's names, with the distro release for OS packages), purl, licenses, the files
//! it owns, the image layer that introduced it and the tool that installed it. Matching trusts
//! exactly one [`Installer`] per file, so a file owned by dpkg is never also matched as a PyPI
//! file.
//!
//! Architecture invariant: this crate is plain data. It does no I/O, knows nothing of how
//! packages are found or how versions compare, and depends on nothing but `serde`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The ecosystems Kestrel knows, named as OSV names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EcosystemKind {
    Debian,
    Ubuntu,
    Alpine,
    RedHat,
    Rocky,
    AlmaLinux,
    PyPI,
    Npm,
    Go,
    CratesIo,
    Maven,
    RubyGems,
    NuGet,
    Packagist,
    Kubernetes,
}

impl EcosystemKind {
    /// Every kind, in a stable order.
    pub const ALL: [EcosystemKind; 15] = [
        EcosystemKind::Debian,
        EcosystemKind::Ubuntu,
        EcosystemKind::Alpine,
        EcosystemKind::RedHat,
        EcosystemKind::Rocky,
        EcosystemKind::AlmaLinux,
        EcosystemKind::PyPI,
        EcosystemKind::Npm,
        EcosystemKind::Go,
        EcosystemKind::CratesIo,
        EcosystemKind::Maven,
        EcosystemKind::RubyGems,
        EcosystemKind::NuGet,
        EcosystemKind::Packagist,
        EcosystemKind::Kubernetes,
    ];

    /// OSV's spelling (case-sensitive), e.g. `crates.io`, `Red Hat`.
    pub fn osv_name(self) -> &'static str {
        match self {
            EcosystemKind::Debian => "Debian",
            EcosystemKind::Ubuntu => "Ubuntu",
            EcosystemKind::Alpine => "Alpine",
            EcosystemKind::RedHat => "Red Hat",
            EcosystemKind::Rocky => "Rocky Linux",
            EcosystemKind::AlmaLinux => "AlmaLinux",
            EcosystemKind::PyPI => "PyPI",
            EcosystemKind::Npm => "npm",
            EcosystemKind::Go => "Go",
            EcosystemKind::CratesIo => "crates.io",
            EcosystemKind::Maven => "Maven",
            EcosystemKind::RubyGems => "RubyGems",
            EcosystemKind::NuGet => "NuGet",
            EcosystemKind::Packagist => "Packagist",
            EcosystemKind::Kubernetes => "Kubernetes",
        }
    }

    /// The purl type (`deb`, `pypi`, `npm`, ...).
    pub fn purl_type(self) -> &'static str {
        match self {
            EcosystemKind::Debian | EcosystemKind::Ubuntu => "deb",
            EcosystemKind::Alpine => "apk",
            EcosystemKind::RedHat | EcosystemKind::Rocky | EcosystemKind::AlmaLinux => "rpm",
            EcosystemKind::PyPI => "pypi",
            EcosystemKind::Npm => "npm",
            EcosystemKind::Go => "golang",
            EcosystemKind::CratesIo => "cargo",
            EcosystemKind::Maven => "maven",
            EcosystemKind::RubyGems => "gem",
            EcosystemKind::NuGet => "nuget",
            EcosystemKind::Packagist => "composer",
            EcosystemKind::Kubernetes => "k8s",
        }
    }

    /// Whether packages of this ecosystem are installed by an operating system package manager.
    pub fn is_os(self) -> bool {
        matches!(
            self,
            EcosystemKind::Debian
                | EcosystemKind::Ubuntu
                | EcosystemKind::Alpine
                | EcosystemKind::RedHat
                | EcosystemKind::Rocky
                | EcosystemKind::AlmaLinux
        )
    }
}

/// An ecosystem with an optional release, written as OSV writes it: `Debian:12`, `Alpine:v3.19`,
/// `PyPI`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ecosystem {
    pub kind: EcosystemKind,
    /// The distro release (`12`, `v3.19`, `22.04`), for OS ecosystems only.
    pub release: Option<String>,
}

impl Ecosystem {
    pub fn new(kind: EcosystemKind) -> Self {
        Ecosystem {
            kind,
            release: None,
        }
    }

    pub fn with_release(kind: EcosystemKind, release: impl Into<String>) -> Self {
        Ecosystem {
            kind,
            release: Some(release.into()),
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.osv_name())?;
        if let Some(r) = &self.release {
            write!(f, ":{r}")?;
        }
        Ok(())
    }
}

/// An ecosystem name that is not one of OSV's names that Kestrel supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown ecosystem {0:?} (expected one of OSV's names, e.g. Debian:12, PyPI, npm, Go, crates.io, Maven, RubyGems, NuGet, Packagist, Alpine:v3.19, Red Hat)"
)]
pub struct UnknownEcosystem(pub String);

impl FromStr for Ecosystem {
    type Err = UnknownEcosystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, release) = match s.split_once(':') {
            Some((n, r)) if !r.is_empty() => (n, Some(r.to_owned())),
            Some((n, _)) => (n, None),
            None => (s, None),
        };
        let kind = EcosystemKind::ALL
            .into_iter()
            .find(|k| k.osv_name() == name)
            .or_else(|| {
                // OSV spells these in lower case in some feeds (`Kubernetes` is `kubernetes` in
                // the Kubernetes CVE feed); accept case-insensitively only where unambiguous.
                EcosystemKind::ALL
                    .into_iter()
                    .find(|k| k.osv_name().eq_ignore_ascii_case(name))
            })
            .ok_or_else(|| UnknownEcosystem(s.to_owned()))?;
        Ok(Ecosystem { kind, release })
    }
}

impl Serialize for Ecosystem {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Ecosystem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Who installed a package, so that a file is matched against one advisory source only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Installer {
    Dpkg,
    Apk,
    Rpm,
    Pip,
    Npm,
    GoBuild,
    CargoAuditable,
    Maven,
    RubyGems,
    Composer,
    NuGet,
}

impl Installer {
    /// Whether this is an operating system package manager.
    pub fn is_os(self) -> bool {
        matches!(self, Installer::Dpkg | Installer::Apk | Installer::Rpm)
    }
}

/// The image layer that introduced a package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LayerRef {
    /// 0 for the base layer.
    pub index: u32,
    /// `sha256:...` digest of the uncompressed layer (diff id) when known, else the blob digest.
    pub digest: String,
}

/// The source package an OS binary package was built from (Debian advisories are keyed by it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SourcePackage {
    pub name: String,
    pub version: String,
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    pub ecosystem: Ecosystem,
    /// Package URL (<https://github.com/package-url/purl-spec>).
    pub purl: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
    /// Absolute paths inside the image or container root that this package owns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
    /// The path of the metadata the package was read from (`/var/lib/dpkg/status`,
    /// `.../METADATA`, `.../package.json`, a binary).
    pub location: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
    pub installer: Installer,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourcePackage>,
}

/// Percent-encodes a purl component (name, namespace or version) per the purl spec.
pub fn purl_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecosystem_round_trip() {
        for s in [
            "Debian:12",
            "PyPI",
            "crates.io",
            "Red Hat",
            "Alpine:v3.19",
            "npm",
        ] {
            let e: Ecosystem = s.parse().unwrap();
            assert_eq!(e.to_string(), s);
        }
        let k: Ecosystem = "kubernetes".parse().unwrap();
        assert_eq!(k.kind, EcosystemKind::Kubernetes);
    }

    #[test]
    fn unknown_ecosystem_named() {
        let e = "Hackage".parse::<Ecosystem>().unwrap_err();
        assert!(e.to_string().contains("Hackage"));
    }

    #[test]
    fn serde_as_string() {
        let e = Ecosystem::with_release(EcosystemKind::Debian, "12");
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"Debian:12\"");
    }

    #[test]
    fn purl_encoding() {
        assert_eq!(purl_encode("@types/node"), "%40types%2Fnode");
        assert_eq!(purl_encode("1.0+b1"), "1.0%2Bb1");
    }
}
