//! Inventories one TARGET and prints a one-line summary: the benchmark driver
//! (`bench/inventory/run.sh`), without the rest of the `kestrel` binary.
//!
//! ```text
//! cargo run --release -p kestrel-inventory --example inventory -- oci:DIR:TAG
//! ```

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(arg) = std::env::args().nth(1) else {
        eprintln!("usage: inventory TARGET");
        return ExitCode::from(2);
    };
    let target = match kestrel_inventory::Target::parse(&arg) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("inventory: {e}");
            return ExitCode::from(2);
        }
    };
    match kestrel_inventory::inventory(&target, &kestrel_inventory::Options::default()) {
        Ok(inv) => {
            let files: usize = inv.packages.iter().map(|p| p.files.len()).sum();
            println!(
                "{}: {} packages, {} owned files, {} layers, {} warnings",
                inv.target,
                inv.packages.len(),
                files,
                inv.layers.len(),
                inv.warnings.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("inventory: {e}");
            ExitCode::from(1)
        }
    }
}
