//! Composer (Packagist) version ordering: PHP's `version_compare` after Composer's
//! normalisation (a leading `v` dropped, `-`, `_` and `+` read as `.`).
//!
//! Special words sort `dev < alpha = a < beta = b < RC = rc < (number) < pl = p`; any other
//! word sorts with `dev`.

use std::cmp::Ordering;

use crate::cmp_digits;

fn canonical(v: &str) -> Vec<String> {
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    let mut s = String::with_capacity(v.len() + 4);
    let mut prev: Option<char> = None;
    for c in v.chars() {
        let c = if matches!(c, '-' | '_' | '+') { '.' } else { c };
        if let Some(p) = prev
            && p != '.'
            && c != '.'
            && p.is_ascii_digit() != c.is_ascii_digit()
        {
            s.push('.');
        }
        s.push(c);
        prev = Some(c);
    }
    s.split('.').map(str::to_owned).collect()
}

fn weight(s: &str) -> u8 {
    if s.starts_with("RC") {
        return 3;
    }
    ["dev", "a", "b", "rc", "#", "p"]
        .iter()
        .position(|p| s.starts_with(p))
        .map_or(0, |p| p as u8)
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn cmp_parts(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (is_num(x), is_num(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => weight(x).cmp(&weight(y)),
            (true, false) => weight("#").cmp(&weight(y)),
            (false, true) => weight(x).cmp(&weight("#")),
        };
        if o.is_ne() {
            return o;
        }
    }
    let hash = ["#".to_owned()];
    match a.len().cmp(&b.len()) {
        Ordering::Equal => Ordering::Equal,
        Ordering::Greater if is_num(&a[b.len()]) => Ordering::Greater,
        Ordering::Greater => cmp_parts(&a[b.len()..], &hash),
        Ordering::Less if is_num(&b[a.len()]) => Ordering::Less,
        Ordering::Less => cmp_parts(&hash, &b[a.len()..]),
    }
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    cmp_parts(&canonical(a), &canonical(b))
}
