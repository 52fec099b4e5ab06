//! Semantic Versioning 2.0 precedence, as npm, crates.io, Go and (with four components and
//! case-insensitive labels) NuGet use it.
//!
//! Tolerant where advisories are: a leading `v` is ignored, missing components are zero, and
//! numeric components past the scheme's count become part of the pre-release label.

use std::cmp::Ordering;

use crate::{cmp_digits, split_digits};

struct Parsed<'a> {
    numbers: Vec<&'a str>,
    /// The pre-release label without its `-`, or empty.
    pre: String,
}

fn parse(v: &str, components: usize, fold_case: bool) -> Parsed<'_> {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    // Build metadata never affects precedence.
    let v = v.split_once('+').map_or(v, |(a, _)| a);
    let mut numbers = Vec::new();
    let mut rest = v;
    loop {
        let (d, r) = split_digits(rest);
        if d.is_empty() {
            break;
        }
        numbers.push(d);
        rest = r;
        match rest.strip_prefix('.') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
            _ => break,
        }
    }
    let mut pre = String::new();
    if numbers.len() > components {
        pre = numbers[components..].join(".");
        numbers.truncate(components);
    }
    let label = rest.strip_prefix(['-', '.']).unwrap_or(rest);
    if !label.is_empty() {
        if !pre.is_empty() {
            pre.push('.');
        }
        pre.push_str(label);
    }
    if fold_case {
        pre.make_ascii_lowercase();
    }
    Parsed { numbers, pre }
}

pub(crate) fn validate(v: &str) -> Result<(), &'static str> {
    let s = v.strip_prefix(['v', 'V']).unwrap_or(v);
    if !s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("a semantic version starts with a number (optionally after 'v')");
    }
    Ok(())
}

pub(crate) fn compare(a: &str, b: &str, components: usize, fold_case: bool) -> Ordering {
    let (pa, pb) = (
        parse(a, components, fold_case),
        parse(b, components, fold_case),
    );
    for i in 0..components {
        let o = cmp_digits(
            pa.numbers.get(i).copied().unwrap_or("0"),
            pb.numbers.get(i).copied().unwrap_or("0"),
        );
        if o.is_ne() {
            return o;
        }
    }
    match (pa.pre.is_empty(), pb.pre.is_empty()) {
        (true, true) => Ordering::Equal,
        // A pre-release sorts before its release.
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => cmp_prerelease(&pa.pre, &pb.pre),
    }
}

fn cmp_prerelease(a: &str, b: &str) -> Ordering {
    let mut ia = a.split('.');
    let mut ib = b.split('.');
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let xn = !x.is_empty() && x.bytes().all(|c| c.is_ascii_digit());
                let yn = !y.is_empty() && y.bytes().all(|c| c.is_ascii_digit());
                let o = match (xn, yn) {
                    (true, true) => cmp_digits(x, y),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if o.is_ne() {
                    return o;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_pseudo_versions() {
        let c = |a, b| compare(a, b, 3, false);
        assert_eq!(
            c(
                "v0.0.0-20210101000000-abcdef123456",
                "v0.0.0-20220101000000-abcdef123456"
            ),
            Ordering::Less
        );
        assert_eq!(
            c("v1.2.4-0.20210101000000-abcdef123456", "v1.2.3"),
            Ordering::Greater
        );
        assert_eq!(c("v2.0.0+incompatible", "v2.0.0"), Ordering::Equal);
    }
}
