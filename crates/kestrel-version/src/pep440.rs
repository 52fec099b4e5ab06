//! Python versions as PEP 440 defines them, normalised the way `packaging.version.Version`
//! normalises them (`1.0-alpha.1` is `1.0a1`, `1.0-1` is `1.0.post1`).
//!
//! Old releases on PyPI carry versions that are not PEP 440 (`0.9-doduo`); advisories list
//! them too. Those sort as `packaging` 21's `LegacyVersion` did: before every PEP 440 version,
//! and among themselves by setuptools' historic rules.

use std::cmp::Ordering;

use crate::cmp_digits;

/// Orders two Python versions; non-PEP 440 strings sort first, by the legacy rules.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => legacy_key(a).cmp(&legacy_key(b)),
    }
}

/// A part of a legacy version. Words sort before numbers, as `*word` sorts before a
/// zero-padded number in setuptools' key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum LegacyPart {
    Word(String),
    Number(NumKey),
}

#[derive(Debug, PartialEq, Eq)]
struct NumKey(String);

impl Ord for NumKey {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.0, &other.0)
    }
}

impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn legacy_key(v: &str) -> Vec<LegacyPart> {
    let v = v.to_ascii_lowercase();
    let mut raw: Vec<String> = Vec::new();
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let n = if c.is_ascii_digit() {
            b[i..].iter().take_while(|c| c.is_ascii_digit()).count()
        } else if c.is_ascii_lowercase() {
            b[i..].iter().take_while(|c| c.is_ascii_lowercase()).count()
        } else {
            1
        };
        raw.push(v[i..i + n].to_owned());
        i += n;
    }
    let mut parts: Vec<LegacyPart> = Vec::new();
    let words = raw
        .into_iter()
        .filter(|p| p != ".")
        .map(|p| match p.as_str() {
            "pre" | "preview" | "rc" => "c".to_owned(),
            "-" => "final-".to_owned(),
            "dev" => "@".to_owned(),
            _ => p,
        })
        .chain(std::iter::once("final".to_owned()));
    for p in words {
        if p.starts_with(|c: char| c.is_ascii_digit()) {
            parts.push(LegacyPart::Number(NumKey(p)));
            continue;
        }
        if p.as_str() < "final" {
            while parts.last() == Some(&LegacyPart::Word("final-".into())) {
                parts.pop();
            }
        }
        while matches!(parts.last(), Some(LegacyPart::Number(n)) if n.0.bytes().all(|b| b == b'0'))
        {
            parts.pop();
        }
        parts.push(LegacyPart::Word(p));
    }
    parts
}

/// A parsed PEP 440 version. Numbers are kept as digit strings so that any length compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version {
    epoch: String,
    release: Vec<String>,
    /// (0 = a, 1 = b, 2 = rc, number)
    pre: Option<(u8, String)>,
    post: Option<String>,
    dev: Option<String>,
    local: Vec<String>,
}

struct Cursor<'a> {
    s: &'a str,
}

impl Cursor<'_> {
    fn eat(&mut self, prefix: &str) -> bool {
        if self.s.len() >= prefix.len() && self.s[..prefix.len()].eq_ignore_ascii_case(prefix) {
            self.s = &self.s[prefix.len()..];
            true
        } else {
            false
        }
    }
    fn sep(&mut self) -> bool {
        self.eat(".") || self.eat("-") || self.eat("_")
    }
    fn digits(&mut self) -> Option<String> {
        let n = self.s.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let d = self.s[..n].trim_start_matches('0');
        self.s = &self.s[n..];
        Some(if d.is_empty() { "0".into() } else { d.into() })
    }
    /// An optional separator then an optional number (implicit 0).
    fn opt_number(&mut self) -> String {
        let save = self.s;
        let had_sep = self.sep();
        match self.digits() {
            Some(n) => n,
            None => {
                if had_sep {
                    self.s = save;
                }
                "0".into()
            }
        }
    }
}

impl Version {
    pub(crate) fn parse(input: &str) -> Result<Version, &'static str> {
        let mut c = Cursor { s: input.trim() };
        c.eat("v");
        let mut epoch = "0".to_owned();
        let first = c.digits().ok_or("a PEP 440 version starts with a number")?;
        let mut release = vec![first];
        if c.eat("!") {
            epoch = release.pop().unwrap_or_default();
            release.push(c.digits().ok_or("no release number after the epoch")?);
        }
        loop {
            let save = c.s;
            if c.eat(".")
                && let Some(d) = c.digits()
            {
                release.push(d);
                continue;
            }
            c.s = save;
            break;
        }
        let mut pre = None;
        {
            let save = c.s;
            c.sep();
            let kind = [
                ("alpha", 0),
                ("a", 0),
                ("beta", 1),
                ("b", 1),
                ("preview", 2),
                ("pre", 2),
                ("rc", 2),
                ("c", 2),
            ]
            .into_iter()
            .find(|(p, _)| c.eat(p));
            match kind {
                Some((_, k)) => pre = Some((k, c.opt_number())),
                None => c.s = save,
            }
        }
        let mut post = None;
        {
            let save = c.s;
            if c.eat("-")
                && let Some(n) = c.digits()
            {
                post = Some(n);
            } else {
                c.s = save;
                c.sep();
                if c.eat("post") || c.eat("rev") || c.eat("r") {
                    post = Some(c.opt_number());
                } else {
                    c.s = save;
                }
            }
        }
        let mut dev = None;
        {
            let save = c.s;
            c.sep();
            if c.eat("dev") {
                dev = Some(c.opt_number());
            } else {
                c.s = save;
            }
        }
        let mut local = Vec::new();
        if c.eat("+") {
            for part in c.s.split(['.', '-', '_']) {
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err("a local version label is alphanumeric parts separated by '.'");
                }
                local.push(part.to_ascii_lowercase());
            }
            c.s = "";
        }
        if !c.s.is_empty() {
            return Err("unexpected text after the version (see PEP 440)");
        }
        // Trailing zeros do not change the release: 1.0 == 1.0.0.
        while release.len() > 1 && release.last().is_some_and(|r| r == "0") {
            release.pop();
        }
        Ok(Version {
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }
}

/// How a missing part sorts: PEP 440 puts a bare `.devN` before any pre-release, a missing
/// pre-release after every pre-release, a missing post-release before every post-release.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Bound<T> {
    Low,
    Value(T),
    High,
}

fn num_key(s: &str) -> (usize, &str) {
    (s.len(), s)
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(&self.epoch, &other.epoch)
            .then_with(|| {
                let n = self.release.len().max(other.release.len());
                (0..n)
                    .map(|i| {
                        cmp_digits(
                            self.release.get(i).map_or("0", String::as_str),
                            other.release.get(i).map_or("0", String::as_str),
                        )
                    })
                    .find(|o| o.is_ne())
                    .unwrap_or(Ordering::Equal)
            })
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            .then_with(|| {
                fn k(v: &Version) -> Bound<(usize, &str)> {
                    match &v.post {
                        None => Bound::Low,
                        Some(p) => Bound::Value(num_key(p)),
                    }
                }
                k(self).cmp(&k(other))
            })
            .then_with(|| {
                fn k(v: &Version) -> Bound<(usize, &str)> {
                    match &v.dev {
                        None => Bound::High,
                        Some(d) => Bound::Value(num_key(d)),
                    }
                }
                k(self).cmp(&k(other))
            })
            .then_with(|| cmp_local(&self.local, &other.local))
    }
}

impl Version {
    fn pre_key(&self) -> Bound<(u8, (usize, &str))> {
        match &self.pre {
            None if self.post.is_none() && self.dev.is_some() => Bound::Low,
            None => Bound::High,
            Some((k, n)) => Bound::Value((*k, num_key(n))),
        }
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Local labels: numeric parts sort after alphanumeric ones and numerically among themselves.
fn cmp_local(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let xn = x.bytes().all(|c| c.is_ascii_digit());
        let yn = y.bytes().all(|c| c.is_ascii_digit());
        let o = match (xn, yn) {
            (true, true) => cmp_digits(x, y),
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        Version::parse(a).unwrap().cmp(&Version::parse(b).unwrap())
    }

    #[test]
    fn normalisation() {
        assert_eq!(cmp("1.0-alpha.1", "1.0a1"), Ordering::Equal);
        assert_eq!(cmp("1.0-1", "1.0.post1"), Ordering::Equal);
        assert_eq!(cmp("1.0.dev", "1.0.dev0"), Ordering::Equal);
        assert_eq!(cmp("1!0.1", "2.0"), Ordering::Greater);
        assert_eq!(cmp("1.0.post1.dev1", "1.0.post1"), Ordering::Less);
        assert_eq!(cmp("1.0+abc.5", "1.0+abc.10"), Ordering::Less);
        assert_eq!(cmp("1.0+5", "1.0+abc"), Ordering::Greater);
        assert!(Version::parse("1.0 foo").is_err());
        assert!(Version::parse("foo").is_err());
    }
}
