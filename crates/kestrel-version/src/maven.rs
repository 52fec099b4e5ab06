//! Maven version ordering (`ComparableVersion`, as the Maven version-order specification
//! describes it).
//!
//! A version is split into tokens at `.`, `-` and every switch between digits and letters (a
//! switch counts as `-`). Trailing "null" tokens (`0`, empty, `final`, `ga`) are dropped before
//! each `-`. Tokens compare pairwise, the shorter side padded with nulls; with equal separators
//! numbers compare numerically and qualifiers in the order `alpha < beta < milestone < rc <
//! snapshot < "" < sp < anything else (alphabetically)`; with different separators
//! `.qualifier < -qualifier < -number < .number`.

use std::cmp::Ordering;

use crate::cmp_digits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sep {
    Dot,
    Dash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    sep: Sep,
    value: String,
    /// A padding token (never read from the version itself).
    null: bool,
}

impl Token {
    fn is_number(&self) -> bool {
        !self.value.is_empty() && self.value.bytes().all(|b| b.is_ascii_digit())
    }

    fn sep_rank(&self) -> u8 {
        match (self.sep, self.is_number()) {
            (Sep::Dot, false) => 0,
            (Sep::Dash, false) => 1,
            (Sep::Dash, true) => 2,
            (Sep::Dot, true) => 3,
        }
    }

    fn trims(&self) -> bool {
        matches!(self.value.as_str(), "0" | "" | "final" | "ga")
    }

    fn padding_for(other: &Token) -> Token {
        let value = match other.sep {
            // `sp` is the one qualifier newer than the release; padding it with 0 would make
            // `1.0.sp` older than `1.0`.
            Sep::Dot if other.value == "sp" => String::new(),
            Sep::Dot => "0".to_owned(),
            Sep::Dash => String::new(),
        };
        Token {
            sep: other.sep,
            value,
            null: true,
        }
    }
}

const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];

fn qualifier_rank(q: &str) -> usize {
    QUALIFIERS
        .iter()
        .position(|k| *k == q)
        .unwrap_or(QUALIFIERS.len())
}

fn token_cmp(a: &Token, b: &Token) -> Ordering {
    if a.sep != b.sep {
        return a.sep_rank().cmp(&b.sep_rank());
    }
    let (an, bn) = (a.is_number(), b.is_number());
    if an && bn {
        return cmp_digits(&a.value, &b.value);
    }
    // Numbers sort after qualifiers, unless the number is padding.
    if an && !a.null {
        return Ordering::Greater;
    }
    if bn && !b.null {
        return Ordering::Less;
    }
    let (ra, rb) = (qualifier_rank(&a.value), qualifier_rank(&b.value));
    if ra == QUALIFIERS.len() && rb == QUALIFIERS.len() {
        return a.value.cmp(&b.value);
    }
    ra.cmp(&rb)
}

fn tokens(v: &str) -> Vec<Token> {
    let lower = v.to_ascii_lowercase();
    let mut out: Vec<Token> = Vec::new();
    let mut pieces = Vec::new();
    let (mut sep, mut start) = (Sep::Dot, 0);
    for (i, c) in lower.char_indices() {
        if c == '.' || c == '-' {
            pieces.push((sep, &lower[start..i]));
            sep = if c == '.' { Sep::Dot } else { Sep::Dash };
            start = i + 1;
        }
    }
    pieces.push((sep, &lower[start..]));
    for (sep, piece) in pieces {
        // Split the piece at digit/letter switches.
        let bytes = piece.as_bytes();
        let mut start = 0;
        let mut parts = Vec::new();
        for j in 1..=bytes.len() {
            if j == bytes.len() || bytes[j].is_ascii_digit() != bytes[j - 1].is_ascii_digit() {
                parts.push(&piece[start..j]);
                start = j;
            }
        }
        if parts.is_empty() {
            parts.push("");
        }
        let last = parts.len() - 1;
        for (j, part) in parts.into_iter().enumerate() {
            let this_sep = if j > 0 { Sep::Dash } else { sep };
            let mut value = match part {
                "" => "0".to_owned(),
                "cr" => "rc".to_owned(),
                "ga" | "final" | "release" => String::new(),
                p => p.to_owned(),
            };
            // `a1`, `b1`, `m1` abbreviate alpha, beta, milestone only before a number.
            if j != last {
                match value.as_str() {
                    "a" => value = "alpha".into(),
                    "b" => value = "beta".into(),
                    "m" => value = "milestone".into(),
                    _ => {}
                }
            }
            if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
                let t = value.trim_start_matches('0');
                value = if t.is_empty() { "0".into() } else { t.into() };
            }
            out.push(Token {
                sep: this_sep,
                value,
                null: false,
            });
        }
    }
    // Drop trailing nulls, then again before each remaining `-`, working from the end.
    let mut i = out.len().saturating_sub(1);
    while i > 0 {
        if out[i].trims() {
            out.remove(i);
            i -= 1;
            continue;
        }
        while out.get(i).is_some_and(|t| t.sep != Sep::Dash) {
            if i == 0 {
                return out;
            }
            i -= 1;
        }
        if i == 0 {
            break;
        }
        i -= 1;
    }
    out
}

pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokens(a), tokens(b));
    if ta == tb {
        return Ordering::Equal;
    }
    for i in 0..ta.len().max(tb.len()) {
        let x = ta
            .get(i)
            .cloned()
            .unwrap_or_else(|| Token::padding_for(&tb[i]));
        let y = tb
            .get(i)
            .cloned()
            .unwrap_or_else(|| Token::padding_for(&ta[i]));
        if x.sep == y.sep && x.value == y.value {
            continue;
        }
        return token_cmp(&x, &y);
    }
    Ordering::Equal
}
