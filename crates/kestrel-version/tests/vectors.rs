//! Version-ordering vectors: osv-scalibr's hand-written files and our own files generated with
//! the native tools (`dpkg --compare-versions`, Python `packaging`). See `testdata/README.md`.

use std::cmp::Ordering;
use std::path::Path;

use kestrel_version::Scheme;

/// Checks every `a <op> b` line of `file` under each of `schemes`, reporting all mismatches.
fn check(file: &str, schemes: &[Scheme]) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with("# ") || line.starts_with("// ") {
            continue;
        }
        let fields: Vec<&str> = line.split(' ').collect();
        let [a, op, b] = fields[..] else {
            panic!("{file}:{}: expected `a <op> b`, got {line:?}", n + 1);
        };
        let want = match op {
            "<" => Ordering::Less,
            "=" => Ordering::Equal,
            ">" => Ordering::Greater,
            _ => panic!("{file}:{}: unknown operator {op:?}", n + 1),
        };
        for &scheme in schemes {
            count += 1;
            // Ordering must be antisymmetric, so check both directions.
            match (scheme.compare(a, b), scheme.compare(b, a)) {
                (Ok(got), Ok(rev)) if got == want && rev == want.reverse() => {}
                (got, rev) => failures.push(format!(
                    "{file}:{} [{scheme}] {a} {op} {b}: got {got:?}, reversed {rev:?}",
                    n + 1
                )),
            }
        }
    }
    assert!(count > 0, "{file} has no vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} comparisons failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn alpine() {
    check("alpine-versions.txt", &[Scheme::Apk]);
}

#[test]
fn debian() {
    check("debian-versions.txt", &[Scheme::Dpkg]);
}

#[test]
fn maven() {
    check("maven-versions.txt", &[Scheme::Maven]);
}

#[test]
fn nuget() {
    check("nuget-versions.txt", &[Scheme::NuGet]);
}

#[test]
fn packagist() {
    check("packagist-versions.txt", &[Scheme::Packagist]);
}

#[test]
fn pypi() {
    check("pypi-versions.txt", &[Scheme::Pep440]);
}

#[test]
fn redhat() {
    check("redhat-versions.txt", &[Scheme::Rpm]);
}

#[test]
fn rubygems() {
    check("rubygems-versions.txt", &[Scheme::RubyGems]);
}

#[test]
fn semver() {
    check("semver-versions.txt", &[Scheme::SemVer, Scheme::Go]);
}

#[test]
fn debian_native() {
    check("debian-native.txt", &[Scheme::Dpkg]);
}

#[test]
fn pypi_native() {
    check("pypi-native.txt", &[Scheme::Pep440]);
}

/// Cross-checks the dpkg comparator against the real `dpkg --compare-versions` on this machine,
/// for pairs that the checked-in files do not hold.
#[test]
fn dpkg_live() {
    let mut versions: Vec<String> = Vec::new();
    for file in ["debian-native.txt", "debian-versions.txt"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata")
            .join(file);
        for line in std::fs::read_to_string(path).unwrap().lines() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(' ').collect();
            for v in [f[0], f[2]] {
                if !versions.iter().any(|x| x == v) {
                    versions.push(v.to_owned());
                }
            }
        }
    }
    // A stride through the list gives pairs unlike the files' random ones.
    let mut failures = Vec::new();
    let mut count = 0;
    for (i, a) in versions.iter().enumerate() {
        for b in versions.iter().skip(i + 1).step_by(7).take(4) {
            let native = dpkg_order(a, b);
            count += 1;
            let ours = Scheme::Dpkg.compare(a, b).unwrap();
            if ours != native {
                failures.push(format!("{a} vs {b}: dpkg says {native:?}, we say {ours:?}"));
            }
        }
    }
    assert!(count > 200, "only {count} live comparisons");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn dpkg_order(a: &str, b: &str) -> Ordering {
    for (op, ord) in [
        ("lt", Ordering::Less),
        ("eq", Ordering::Equal),
        ("gt", Ordering::Greater),
    ] {
        let status = std::process::Command::new("dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("dpkg must be installed (it is on every Debian system)");
        if status.success() {
            return ord;
        }
    }
    panic!("dpkg could not order {a:?} and {b:?}");
}
