//! `kestrel version compare`: order two versions with an ecosystem's own rules, one pair on the
//! command line or many on standard input, so the comparators can be checked against native
//! tools in bulk.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use kestrel_package::Ecosystem;
use kestrel_version::Scheme;

#[derive(Debug, Subcommand)]
pub enum VersionCmd {
    /// Print `<`, `=` or `>` for A against B.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// OSV ecosystem name: Debian, Ubuntu, Alpine, Red Hat, PyPI, npm, Go, crates.io, Maven,
    /// RubyGems, NuGet, Packagist (a release suffix such as Debian:12 is accepted).
    #[arg(long, short)]
    ecosystem: Ecosystem,
    /// Read lines `A<TAB>B` from standard input and print one symbol per line.
    #[arg(long, conflicts_with_all = ["a", "b"])]
    stdin: bool,
    /// The first version.
    #[arg(required_unless_present = "stdin")]
    a: Option<String>,
    /// The second version.
    #[arg(required_unless_present = "stdin")]
    b: Option<String>,
}

pub fn run(cmd: VersionCmd) -> anyhow::Result<ExitCode> {
    let VersionCmd::Compare(args) = cmd;
    let scheme = Scheme::for_ecosystem(args.ecosystem.kind);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.stdin {
        for (n, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.context("reading standard input")?;
            let Some((a, b)) = line.split_once('\t') else {
                bail!(
                    "standard input line {}: expected `A<TAB>B`, got {line:?}",
                    n + 1
                );
            };
            let o = scheme
                .compare(a, b)
                .with_context(|| format!("standard input line {}", n + 1))?;
            writeln!(out, "{}", symbol(o))?;
        }
    } else {
        let (a, b) = (args.a.unwrap_or_default(), args.b.unwrap_or_default());
        writeln!(out, "{}", symbol(scheme.compare(&a, &b)?))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn symbol(o: std::cmp::Ordering) -> &'static str {
    match o {
        std::cmp::Ordering::Less => "<",
        std::cmp::Ordering::Equal => "=",
        std::cmp::Ordering::Greater => ">",
    }
}
