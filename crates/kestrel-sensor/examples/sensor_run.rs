//! The sensor alone, for overhead and memory measurements without the rest of `kestrel watch`
//! (rules, output): starts the eBPF sensor with the default configuration and discards events
//! until it is killed.
//!
//! ```text
//! cargo build --release -p kestrel-sensor --example sensor_run
//! SENSOR_CMD=target/release/examples/sensor_run bench/sensor/run.sh overhead
//! ```

use kestrel_sensor::{Fallback, Sensor, SensorConfig};

fn main() {
    let h = Sensor::start(SensorConfig {
        fallback: Fallback::Never,
        ..SensorConfig::default()
    })
    .expect("the eBPF sensor starts (root, BTF)");
    // The enrich thread bootstraps the process table before it handles the first record; an
    // event out means it is done.
    let first = h.events().recv();
    eprintln!(
        "eBPF sensor attached ({} probes); process table bootstrapped",
        h.report().attached()
    );
    let mut n = u64::from(first.is_ok());
    for _ in h.events().iter() {
        n += 1;
    }
    eprintln!("sensor stopped events={n}");
}
