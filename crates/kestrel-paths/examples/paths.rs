//! The library path of `kestrel paths --format json` (load, build the graph, enumerate, JSON),
//! for `bench/paths/run.sh` without building the whole binary in release mode.
//!
//! Usage: `paths FILE [internet|any]`

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next() else {
        eprintln!("usage: paths FILE [internet|any]");
        return ExitCode::from(2);
    };
    let from = match args.next().as_deref() {
        None | Some("internet") => kestrel_paths::From::Internet,
        Some("any") => kestrel_paths::From::Any,
        Some(other) => {
            eprintln!("unknown source {other:?}: expected internet or any");
            return ExitCode::from(2);
        }
    };
    let mut inv = kestrel_k8s::Inventory::new();
    if let Err(e) = kestrel_k8s::load::load_path(&mut inv, std::path::Path::new(&file)) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let options = kestrel_paths::Options {
        from,
        ..kestrel_paths::Options::default()
    };
    let report = kestrel_paths::analyze(&inv, &options);
    match serde_json::to_string(&kestrel_paths::output::to_json(&report)) {
        Ok(s) => println!("{s}"),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
