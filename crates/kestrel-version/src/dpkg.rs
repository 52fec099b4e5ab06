//! Debian version ordering, as `deb-version(7)` and dpkg's `verrevcmp` define it.

use std::cmp::Ordering;

use crate::{cmp_digits, split_digits};

struct Parts<'a> {
    epoch: &'a str,
    upstream: &'a str,
    revision: &'a str,
}

fn split(v: &str) -> Parts<'_> {
    let (epoch, rest) = match v.split_once(':') {
        Some((e, r)) => (e, r),
        None => ("0", v),
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((u, r)) => (u, r),
        None => (rest, ""),
    };
    Parts {
        epoch,
        upstream,
        revision,
    }
}

pub(crate) fn validate(v: &str) -> Result<(), &'static str> {
    if let Some((epoch, rest)) = v.split_once(':') {
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the epoch (before ':') must be a number");
        }
        if rest.is_empty() {
            return Err("nothing after the epoch's ':'");
        }
    }
    let p = split(v);
    if p.upstream.is_empty() {
        return Err("the upstream version is empty");
    }
    if v.contains('-') && p.revision.is_empty() {
        return Err("the revision (after the last '-') is empty");
    }
    Ok(())
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (split(a), split(b));
    cmp_digits(a.epoch, b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// The weight of a character in the non-digit part: `~` sorts before the end of the string,
/// letters before everything else that is not a digit.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

fn verrevcmp(mut a: &str, mut b: &str) -> Ordering {
    while !a.is_empty() || !b.is_empty() {
        // Non-digit prefixes, character by character.
        let (mut ab, mut bb) = (a.as_bytes(), b.as_bytes());
        while ab.first().is_some_and(|c| !c.is_ascii_digit())
            || bb.first().is_some_and(|c| !c.is_ascii_digit())
        {
            let (ca, cb) = (ab.first().copied(), bb.first().copied());
            let (wa, wb) = (weight(ca), weight(cb));
            if wa != wb {
                return wa.cmp(&wb);
            }
            if ca.is_some_and(|c| !c.is_ascii_digit()) {
                ab = &ab[1..];
            }
            if cb.is_some_and(|c| !c.is_ascii_digit()) {
                bb = &bb[1..];
            }
        }
        a = &a[a.len() - ab.len()..];
        b = &b[b.len() - bb.len()..];
        let (da, ra) = split_digits(a);
        let (db, rb) = split_digits(b);
        let o = cmp_digits(da, db);
        if o != Ordering::Equal {
            return o;
        }
        a = ra;
        b = rb;
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_and_revision() {
        assert_eq!(compare("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(compare("1.0~~", "1.0~"), Ordering::Less);
        assert_eq!(compare("1:0.1", "2.0"), Ordering::Greater);
        assert_eq!(compare("1.0-1", "1.0-1+deb12u1"), Ordering::Less);
        assert_eq!(compare("1.0a", "1.0+"), Ordering::Less);
        assert_eq!(compare("2.36-9+deb12u4", "2.36-9+deb12u10"), Ordering::Less);
    }

    #[test]
    fn bad_syntax() {
        assert!(validate("a:1").is_err());
        assert!(validate("1:").is_err());
        assert!(validate("1.0-").is_err());
        assert!(validate("1:1.0-1").is_ok());
    }
}
