//! Alpine version ordering (`apk-package(5)`):
//! `number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}`.
//!
//! Suffix order: `alpha`, `beta`, `pre`, `rc`, no suffix, `cvs`, `svn`, `git`, `hg`, `p`. A
//! version with text left over after these parts sorts before one without; two such versions
//! compare as plain strings.

use std::cmp::Ordering;

use crate::{cmp_digits, split_digits};

const SUFFIXES: [&str; 10] = [
    "alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg", "p",
];
const NO_SUFFIX: usize = 4;

#[derive(Debug)]
struct Apk<'a> {
    numbers: Vec<&'a str>,
    letter: Option<u8>,
    suffixes: Vec<(usize, &'a str)>,
    revision: &'a str,
    remainder: &'a str,
    /// Text follows the parts above and is not a `-r` revision.
    invalid: bool,
}

fn parse(v: &str) -> Apk<'_> {
    let mut rest = v;
    let mut numbers = Vec::new();
    loop {
        let (d, r) = split_digits(rest);
        if d.is_empty() {
            break;
        }
        numbers.push(d);
        rest = r;
        match rest.strip_prefix('.') {
            Some(r) if r.starts_with(|c: char| c.is_ascii_digit()) => rest = r,
            Some(r) if r.is_empty() => {
                rest = r;
                break;
            }
            _ => break,
        }
    }
    let mut letter = None;
    if let Some(&c) = rest.as_bytes().first()
        && c.is_ascii_lowercase()
    {
        letter = Some(c);
        rest = &rest[1..];
    }
    let mut suffixes = Vec::new();
    'outer: while let Some(r) = rest.strip_prefix('_') {
        // Longest names first so that `pre` is not read as `p` followed by `re`.
        for (i, name) in SUFFIXES.iter().enumerate() {
            if name.is_empty() || name == &"p" {
                continue;
            }
            if let Some(after) = r.strip_prefix(name) {
                let (n, after) = split_digits(after);
                suffixes.push((i, n));
                rest = after;
                continue 'outer;
            }
        }
        if let Some(after) = r.strip_prefix('p') {
            let (n, after) = split_digits(after);
            suffixes.push((SUFFIXES.len() - 1, n));
            rest = after;
            continue;
        }
        break;
    }
    if let Some(r) = rest.strip_prefix('~') {
        let n = r
            .bytes()
            .take_while(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            .count();
        if n > 0 {
            rest = &r[n..];
        }
    }
    let mut revision = "";
    let invalid = !rest.is_empty() && !rest.starts_with("-r");
    if let Some(r) = rest.strip_prefix("-r") {
        let (n, r) = split_digits(r);
        revision = n;
        rest = r;
    }
    Apk {
        numbers,
        letter,
        suffixes,
        revision,
        remainder: rest,
        invalid,
    }
}

fn cmp_number(i: usize, a: &str, b: &str) -> Ordering {
    // After the first component, a leading zero makes the component a fraction: 1.05 < 1.5.
    if i > 0 && (a.starts_with('0') || b.starts_with('0')) {
        a.cmp(b)
    } else {
        cmp_digits(a, b)
    }
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (pa, pb) = (parse(a), parse(b));
    if pa.invalid && pb.invalid {
        return a.cmp(b);
    }
    let n = pa.numbers.len().max(pb.numbers.len());
    for i in 0..n {
        let x = pa.numbers.get(i).copied().unwrap_or("0");
        let y = pb.numbers.get(i).copied().unwrap_or("0");
        let o = cmp_number(i, x, y);
        if o != Ordering::Equal {
            return o;
        }
    }
    let o = match (pa.letter, pb.letter) {
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (x, y) => x.cmp(&y),
    };
    if o != Ordering::Equal {
        return o;
    }
    let n = pa.suffixes.len().max(pb.suffixes.len());
    for i in 0..n {
        let (wa, na) = pa.suffixes.get(i).copied().unwrap_or((NO_SUFFIX, "0"));
        let (wb, nb) = pb.suffixes.get(i).copied().unwrap_or((NO_SUFFIX, "0"));
        let o = wa.cmp(&wb).then_with(|| cmp_digits(na, nb));
        if o != Ordering::Equal {
            return o;
        }
    }
    let o = cmp_digits(pa.revision, pb.revision);
    if o != Ordering::Equal {
        return o;
    }
    match (pa.remainder.is_empty(), pb.remainder.is_empty()) {
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => Ordering::Equal,
    }
}
