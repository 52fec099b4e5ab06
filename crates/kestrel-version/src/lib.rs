//! Version ordering for every ecosystem Kestrel matches advisories in.
//!
//! Each ecosystem has its own idea of which version is newer: dpkg sorts `~` before the empty
//! string, rpm has `^`, PEP 440 puts `.dev` releases before alphas, Maven knows that `1.0-ga` is
//! `1.0`. A [`Scheme`] names one of these orders, [`Scheme::for_ecosystem`] picks the right one
//! for an OSV ecosystem, and [`Scheme::compare`] orders two version strings under it.
//!
//! ```
//! use std::cmp::Ordering;
//! use kestrel_version::Scheme;
//! assert_eq!(Scheme::Dpkg.compare("1.0~rc1", "1.0").unwrap(), Ordering::Less);
//! assert_eq!(Scheme::Pep440.compare("1.0.dev0", "1.0a0").unwrap(), Ordering::Less);
//! ```
//!
//! The comparators are checked against the native tools (`dpkg --compare-versions`, Python's
//! `packaging`) and against osv-scalibr's hand-written vectors; see `testdata/README.md`.
//!
//! Architecture invariant: comparison is a pure function of (scheme, two strings). Nothing here
//! does I/O, allocates per character in a hot loop, or panics on any input: a version that a
//! scheme cannot read is a [`VersionError`].

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use kestrel_package::EcosystemKind;

mod apk;
mod dpkg;
mod maven;
mod packagist;
mod pep440;
mod rpm;
mod rubygems;
mod semver;

/// A version ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Debian and Ubuntu (`deb-version(7)`).
    Dpkg,
    /// The Red Hat family (`rpmvercmp`), with `epoch:version-release`.
    Rpm,
    /// Alpine's apk (`apk-package(5)`).
    Apk,
    /// Python (PEP 440).
    Pep440,
    /// Semantic Versioning 2.0 (npm, crates.io), tolerant of a leading `v` and of more or fewer
    /// than three numeric components.
    SemVer,
    /// Go modules: SemVer with the `v` prefix, pseudo-versions and `+incompatible`.
    Go,
    /// Maven's `ComparableVersion`.
    Maven,
    /// RubyGems' `Gem::Version`.
    RubyGems,
    /// NuGet: four numeric components, case-insensitive pre-release labels.
    NuGet,
    /// Composer (Packagist), PHP's `version_compare` after Composer's normalisation.
    Packagist,
}

impl Scheme {
    /// Every scheme, in a stable order.
    pub const ALL: [Scheme; 10] = [
        Scheme::Dpkg,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Pep440,
        Scheme::SemVer,
        Scheme::Go,
        Scheme::Maven,
        Scheme::RubyGems,
        Scheme::NuGet,
        Scheme::Packagist,
    ];

    /// The ordering OSV's `ECOSYSTEM` ranges use for `kind`.
    pub fn for_ecosystem(kind: EcosystemKind) -> Scheme {
        match kind {
            EcosystemKind::Debian | EcosystemKind::Ubuntu => Scheme::Dpkg,
            EcosystemKind::RedHat | EcosystemKind::Rocky | EcosystemKind::AlmaLinux => Scheme::Rpm,
            EcosystemKind::Alpine => Scheme::Apk,
            EcosystemKind::PyPI => Scheme::Pep440,
            EcosystemKind::Npm | EcosystemKind::CratesIo | EcosystemKind::Kubernetes => {
                Scheme::SemVer
            }
            EcosystemKind::Go => Scheme::Go,
            EcosystemKind::Maven => Scheme::Maven,
            EcosystemKind::RubyGems => Scheme::RubyGems,
            EcosystemKind::NuGet => Scheme::NuGet,
            EcosystemKind::Packagist => Scheme::Packagist,
        }
    }

    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Pep440 => "PEP 440",
            Scheme::SemVer => "SemVer",
            Scheme::Go => "Go module",
            Scheme::Maven => "Maven",
            Scheme::RubyGems => "RubyGems",
            Scheme::NuGet => "NuGet",
            Scheme::Packagist => "Composer",
        }
    }

    /// Checks that `v` is a version this scheme can order.
    pub fn validate(self, v: &str) -> Result<(), VersionError> {
        let err = |reason: &'static str| VersionError {
            scheme: self,
            version: v.to_owned(),
            reason,
        };
        if v.is_empty() {
            return Err(err("the version is empty"));
        }
        if v.chars().any(char::is_whitespace) {
            return Err(err("a version may not contain white space"));
        }
        match self {
            Scheme::Dpkg => dpkg::validate(v).map_err(err),
            Scheme::SemVer | Scheme::Go | Scheme::NuGet => semver::validate(v).map_err(err),
            Scheme::Rpm
            | Scheme::Apk
            | Scheme::Pep440
            | Scheme::Maven
            | Scheme::RubyGems
            | Scheme::Packagist => Ok(()),
        }
    }

    /// Orders `a` against `b`. `Equal` means equal precedence, not equal strings (`1.0` and
    /// `1.0.0` are equal in Maven).
    pub fn compare(self, a: &str, b: &str) -> Result<Ordering, VersionError> {
        self.validate(a)?;
        self.validate(b)?;
        Ok(match self {
            Scheme::Dpkg => dpkg::compare(a, b),
            Scheme::Rpm => rpm::compare(a, b),
            Scheme::Apk => apk::compare(a, b),
            Scheme::Pep440 => pep440::compare(a, b),
            Scheme::SemVer | Scheme::Go => semver::compare(a, b, 3, false),
            Scheme::NuGet => semver::compare(a, b, 4, true),
            Scheme::Maven => maven::compare(a, b),
            Scheme::RubyGems => rubygems::compare(a, b),
            Scheme::Packagist => packagist::compare(a, b),
        })
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A version string that its scheme cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {version:?}: {reason}")]
pub struct VersionError {
    pub scheme: Scheme,
    pub version: String,
    pub reason: &'static str,
}

/// Compares with the ordering of an OSV ecosystem name (`Debian:12`, `PyPI`, `crates.io`).
pub fn compare_in(ecosystem: &str, a: &str, b: &str) -> Result<Ordering, CompareError> {
    let eco = kestrel_package::Ecosystem::from_str(ecosystem)?;
    Ok(Scheme::for_ecosystem(eco.kind).compare(a, b)?)
}

/// An error from [`compare_in`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompareError {
    #[error(transparent)]
    Ecosystem(#[from] kestrel_package::UnknownEcosystem),
    #[error(transparent)]
    Version(#[from] VersionError),
}

/// Orders two runs of ASCII digits of any length by numeric value, without parsing into an
/// integer (advisories carry versions like `999999999999999999999999999999`).
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Splits a leading run of ASCII digits off `s`.
pub(crate) fn split_digits(s: &str) -> (&str, &str) {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    s.split_at(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_of_any_length() {
        assert_eq!(
            cmp_digits(
                "999999999999999999999999999991",
                "999999999999999999999999999999"
            ),
            Ordering::Less
        );
        assert_eq!(cmp_digits("007", "7"), Ordering::Equal);
        assert_eq!(cmp_digits("", "0"), Ordering::Equal);
    }

    #[test]
    fn every_ecosystem_has_a_scheme() {
        for kind in EcosystemKind::ALL {
            let s = Scheme::for_ecosystem(kind);
            assert!(s.compare("1.0", "2.0").unwrap().is_lt(), "{kind:?} {s}");
        }
    }

    #[test]
    fn errors_name_version_and_scheme() {
        let e = Scheme::SemVer.compare("1.0", "latest").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("SemVer") && msg.contains("latest"), "{msg}");
        let e = compare_in("Hackage", "1", "2").unwrap_err();
        assert!(e.to_string().contains("Hackage"));
    }
}
