//! Userspace decode + enrichment throughput on a recorded stream, on one core.
//!
//! ```text
//! cargo run --release -p kestrel-sensor --example decode_bench -- RECORDING [ROUNDS]
//! cargo run --release -p kestrel-sensor --example decode_bench -- RECORDING --json
//! ```
//!
//! The recording (from `kestrel watch --record`) is read into memory once; each round runs every
//! kernel record through `record::decode` and a fresh `Normalizer` (process table seeded from
//! the recorded /proc bootstrap), exactly the code the live enrich thread runs. `--json` prints
//! the events of one round instead, one JSON line each, so that two builds can be compared.

use std::io::Write;
use std::time::Instant;

use kestrel_sensor::normalize::{NormalizeConfig, Normalizer};
use kestrel_sensor::record;
use kestrel_sensor::recording::{Frame, Replayer};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: decode_bench RECORDING [ROUNDS|--json]");
    let mode = args.next();
    let json = mode.as_deref() == Some("--json");
    let rounds: usize = match mode.as_deref() {
        None => 20,
        Some("--json") => 1,
        Some(r) => r.parse().expect("ROUNDS is a number"),
    };
    let mut rp = Replayer::open(path.as_ref()).expect("open recording");
    let mut procs = Vec::new();
    let mut raws = Vec::new();
    while let Some(f) = rp.next_frame().expect("read recording") {
        match f {
            Frame::Process(p) => procs.push(p),
            Frame::Record(r) => raws.push(r),
            Frame::Event(_) => {}
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut total_records = 0u64;
    let mut total_events = 0u64;
    let start = Instant::now();
    for _ in 0..rounds {
        let mut n = Normalizer::new(NormalizeConfig {
            process_table_capacity: 32_768,
            ancestry_depth: 8,
            env_names: vec!["LD_PRELOAD".into(), "LD_LIBRARY_PATH".into()],
            boot_to_unix_ns: rp.boot_to_unix_ns,
            proc_root: None,
        });
        for p in &procs {
            n.table_mut().insert(p.clone());
        }
        for raw in &raws {
            total_records += 1;
            if let Ok(rec) = record::decode(raw)
                && let Some(e) = n.normalize(&rec)
            {
                total_events += 1;
                if json {
                    serde_json::to_writer(&mut out, &e).expect("write");
                    out.write_all(b"\n").expect("write");
                }
                std::hint::black_box(&e);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if !json {
        writeln!(
            out,
            "{} records x {rounds} rounds: {total_records} records, {total_events} events in {secs:.3} s = {:.0} records/s, {:.0} events/s (one thread)",
            raws.len(),
            total_records as f64 / secs,
            total_events as f64 / secs
        )
        .expect("write");
    }
}
