//! RubyGems version ordering (`Gem::Version#<=>`).
//!
//! A version is split into segments at `.` and at every switch between digits and letters;
//! trailing zero segments are dropped from the numeric part and from the pre-release part; a
//! letter segment makes the version a pre-release of the numbers before it, so `1.0.a` sorts
//! before `1.0`.

use std::cmp::Ordering;

use crate::cmp_digits;

fn segments(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for piece in v.split('.') {
        let b = piece.as_bytes();
        let mut start = 0;
        for j in 1..=b.len() {
            if j == b.len() || b[j].is_ascii_digit() != b[j - 1].is_ascii_digit() {
                out.push(&piece[start..j]);
                start = j;
            }
        }
        if b.is_empty() {
            out.push(piece);
        }
    }
    // Numbers up to the first letter segment, then the rest; trailing zeros dropped in each.
    let split = out.iter().position(|s| !is_num(s)).unwrap_or(out.len());
    let (nums, rest) = out.split_at(split);
    let mut canon = trim_zeros(nums).to_vec();
    canon.extend_from_slice(trim_zeros(rest));
    canon
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn trim_zeros<'a, 'b>(s: &'b [&'a str]) -> &'b [&'a str] {
    let n = s.iter().rposition(|x| *x != "0").map_or(0, |p| p + 1);
    &s[..n]
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (sa, sb) = (segments(a.trim()), segments(b.trim()));
    for i in 0..sa.len().max(sb.len()) {
        let x = sa.get(i).copied().unwrap_or("0");
        let y = sb.get(i).copied().unwrap_or("0");
        let o = match (is_num(x), is_num(y)) {
            (true, true) => cmp_digits(x, y),
            (false, false) => x.cmp(y),
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
        };
        if o.is_ne() {
            return o;
        }
    }
    Ordering::Equal
}
