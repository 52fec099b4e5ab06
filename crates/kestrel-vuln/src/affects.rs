//! Whether one version falls in an OSV `affected` entry: explicit `versions`, and `ranges` of
//! type `ECOSYSTEM` (the ecosystem's own order), `SEMVER` (SemVer 2.0) and `GIT` (commits).
//!
//! A range is evaluated as OSV's specification describes: events sorted by version
//! (`introduced: "0"` first); walking up to the installed version, `introduced` opens the range,
//! `fixed` closes it at that version, `last_affected` closes it just after; `limit` bounds the
//! whole range from above. `GIT` ranges name commits, which an installed package does not carry,
//! so they never decide a match; `versions` lists (which OSV derives from them) do.

use std::cmp::Ordering;

use kestrel_version::Scheme;
use kestrel_vulndb::osv::{Affected, Event, Range, RangeType};

/// The verdict for one version against one `affected` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub affected: bool,
    /// `fixed` versions of the ranges that matched, newer than the installed version.
    pub fixed: Vec<String>,
}

/// Evaluates `version` against `affected` with the ecosystem ordering `scheme`.
pub fn evaluate(version: &str, affected: &Affected, scheme: Scheme) -> Verdict {
    let mut v = Verdict::default();
    if affected.versions.iter().any(|x| x == version) {
        v.affected = true;
    }
    for range in &affected.ranges {
        let s = match range.kind {
            RangeType::Ecosystem => scheme,
            RangeType::Semver => Scheme::SemVer,
            RangeType::Git => continue,
        };
        if let Some(fix) = in_range(version, range, s) {
            v.affected = true;
            v.fixed.extend(fix);
        }
    }
    v.fixed.sort();
    v.fixed.dedup();
    v
}

fn event_version(e: &Event) -> &str {
    match e {
        Event::Introduced(x) | Event::Fixed(x) | Event::LastAffected(x) | Event::Limit(x) => x,
    }
}

/// Orders event versions; `0` (the introduced-at-the-beginning marker) is below everything.
fn cmp_event(a: &str, b: &str, scheme: Scheme) -> Option<Ordering> {
    match (a == "0", b == "0") {
        (true, true) => Some(Ordering::Equal),
        (true, false) => Some(Ordering::Less),
        (false, true) => Some(Ordering::Greater),
        _ => scheme.compare(a, b).ok(),
    }
}

/// Whether `version` is inside one range: `None` if not, `Some(fix)` if it is, where `fix` is
/// the `fixed` event that ends the interval holding `version` (none when the interval is open
/// or ends with `last_affected`). Later fixes of other release lines are not reported: for
/// Django 3.2.12 the fix is 3.2.13, not 4.0.4.
pub fn in_range(version: &str, range: &Range, scheme: Scheme) -> Option<Option<String>> {
    if scheme.validate(version).is_err() {
        return None;
    }
    // Events whose version cannot be read under the scheme are dropped, with a trace.
    let mut events: Vec<&Event> = range
        .events
        .iter()
        .filter(|e| {
            let x = event_version(e);
            let ok = x == "0" || scheme.validate(x).is_ok();
            if !ok {
                tracing::debug!(event = x, %scheme, "unreadable range event ignored");
            }
            ok
        })
        .collect();
    for e in &events {
        if let Event::Limit(l) = e
            && l != "*"
            && cmp_event(version, l, scheme).is_some_and(|o| o != Ordering::Less)
        {
            return None;
        }
    }
    events.retain(|e| !matches!(e, Event::Limit(_)));
    // Equivalent to walking the events in sorted order (OSV's algorithm) without sorting them,
    // which matters when one package is checked against hundreds of long ranges: the version is
    // affected when the nearest `introduced` at or below it is not followed, up to the version,
    // by a `fixed` (at or below it) or a `last_affected` (below it).
    let mut start: Option<&str> = None;
    for e in &events {
        if let Event::Introduced(i) = e
            && cmp_event(version, i, scheme).is_some_and(|o| o != Ordering::Less)
            && start.is_none_or(|s| cmp_event(i, s, scheme) == Some(Ordering::Greater))
        {
            start = Some(i);
        }
    }
    let start = start?;
    let mut next_above: Option<&Event> = None;
    for e in &events {
        match e {
            Event::Fixed(f) => {
                let after_start = cmp_event(f, start, scheme) != Some(Ordering::Less);
                match cmp_event(version, f, scheme)? {
                    Ordering::Less => {}
                    _ if after_start => return None,
                    _ => continue,
                }
            }
            Event::LastAffected(l) => {
                let after_start = cmp_event(l, start, scheme) != Some(Ordering::Less);
                match cmp_event(version, l, scheme)? {
                    Ordering::Greater if after_start => return None,
                    Ordering::Greater => continue,
                    _ => {}
                }
            }
            _ => continue,
        }
        // An event above the version (a `last_affected` may equal it): keep the lowest.
        let at = event_version(e);
        if next_above
            .is_none_or(|n| cmp_event(at, event_version(n), scheme) == Some(Ordering::Less))
        {
            next_above = Some(e);
        }
    }
    Some(match next_above {
        Some(Event::Fixed(f)) => Some(f.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(kind: &str, events: &str) -> Affected {
        serde_json::from_str(&format!(
            r#"{{"ranges":[{{"type":"{kind}","events":{events}}}]}}"#
        ))
        .unwrap()
    }

    /// Each case: (scheme, range type, events, [(version, affected?)]).
    fn check(scheme: Scheme, kind: &str, events: &str, cases: &[(&str, bool)]) {
        let a = range(kind, events);
        for (v, want) in cases {
            assert_eq!(
                evaluate(v, &a, scheme).affected,
                *want,
                "{v} in {kind} {events}"
            );
        }
    }

    #[test]
    fn introduced_fixed() {
        check(
            Scheme::Pep440,
            "ECOSYSTEM",
            r#"[{"introduced":"0"},{"fixed":"2.20.0"}]"#,
            &[
                ("2.19.1", true),
                ("2.20.0", false),
                ("2.20.0rc1", true),
                ("0.1", true),
            ],
        );
    }

    #[test]
    fn last_affected_is_inclusive() {
        check(
            Scheme::SemVer,
            "SEMVER",
            r#"[{"introduced":"1.0.0"},{"last_affected":"1.2.5"}]"#,
            &[
                ("0.9.0", false),
                ("1.0.0", true),
                ("1.2.5", true),
                ("1.2.6", false),
            ],
        );
    }

    #[test]
    fn several_intervals_in_one_range_unsorted() {
        // Events out of order, as some databases publish them.
        check(
            Scheme::Dpkg,
            "ECOSYSTEM",
            r#"[{"fixed":"2.0-1"},{"introduced":"3.0"},{"introduced":"1.0"},{"fixed":"3.1"}]"#,
            &[
                ("0.9", false),
                ("1.0", true),
                ("1.9-1", true),
                ("2.0-1", false),
                ("2.5", false),
                ("3.0", true),
                ("3.1", false),
                ("3.1~rc1", true),
            ],
        );
    }

    #[test]
    fn limit_bounds_the_range() {
        check(
            Scheme::SemVer,
            "SEMVER",
            r#"[{"introduced":"0"},{"limit":"1.5.0"}]"#,
            &[("1.4.9", true), ("1.5.0", false), ("2.0.0", false)],
        );
    }

    #[test]
    fn explicit_versions_and_git() {
        let a: Affected = serde_json::from_str(
            r#"{"versions":["1.2.3"],"ranges":[{"type":"GIT","repo":"https://x","events":[{"introduced":"0"},{"fixed":"abc123"}]}]}"#,
        )
        .unwrap();
        assert!(evaluate("1.2.3", &a, Scheme::SemVer).affected);
        assert!(!evaluate("1.2.4", &a, Scheme::SemVer).affected);
    }

    #[test]
    fn introduced_only_means_no_fix() {
        let a = range("ECOSYSTEM", r#"[{"introduced":"1.0"}]"#);
        let v = evaluate("5.0", &a, Scheme::Maven);
        assert!(v.affected && v.fixed.is_empty());
    }

    #[test]
    fn fixed_versions_reported() {
        let a = range(
            "ECOSYSTEM",
            r#"[{"introduced":"0"},{"fixed":"3.2.13"},{"introduced":"4.0"},{"fixed":"4.0.4"}]"#,
        );
        assert_eq!(evaluate("3.2.12", &a, Scheme::Pep440).fixed, vec!["3.2.13"]);
        assert_eq!(evaluate("4.0.1", &a, Scheme::Pep440).fixed, vec!["4.0.4"]);
    }

    #[test]
    fn go_pseudo_versions_in_semver() {
        check(
            Scheme::Go,
            "SEMVER",
            r#"[{"introduced":"0"},{"fixed":"0.17.0"}]"#,
            &[
                ("v0.0.0-20220315160706-3147a52a75dd", true),
                ("v0.17.0", false),
                ("v0.16.1-0.20230101000000-abcdefabcdef", true),
            ],
        );
    }
}
