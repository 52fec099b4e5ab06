//! The library path of `kestrel scan k8s --format json` without the rest of the binary, for
//! `bench/posture/run.sh`: read manifests, scan, serialise the JSON report to standard output.
//!
//! `cargo run --release -p kestrel-posture --example scan -- PATH...`

use std::io::Write;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut inv = kestrel_k8s::Inventory::new();
    for p in std::env::args_os().skip(1) {
        kestrel_k8s::load::load_path(&mut inv, p.as_ref())?;
    }
    let report = kestrel_posture::scan(&inv);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, &kestrel_posture::output::to_json(&report, &[]))?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}
