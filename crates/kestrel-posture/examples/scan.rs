//! The library path of `kestrel scan k8s --format json` without the rest of the binary, for
//! `bench/posture/run.sh`: read manifests, scan, serialise the JSON report.
//!
//! `cargo run --release -p kestrel-posture --example scan -- PATH...`

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut inv = kestrel_k8s::Inventory::new();
    for p in std::env::args_os().skip(1) {
        kestrel_k8s::load::load_path(&mut inv, p.as_ref())?;
    }
    let report = kestrel_posture::scan(&inv);
    let json = serde_json::to_string_pretty(&kestrel_posture::output::to_json(&report, &[]))?;
    std::io::stdout().lock().write_all(json.as_bytes())?;
    Ok(())
}
