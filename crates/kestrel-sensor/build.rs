//! Compiles the CO-RE eBPF programs in `bpf/` with clang and leaves the object in `OUT_DIR`,
//! where `src/loader.rs` embeds it with `include_bytes!`.
//!
//! Needs `clang` (14 or later) and the libbpf headers (`apt-get install clang libbpf-dev`). The
//! kernel types come from the committed `bpf/<arch>/vmlinux.h`; regenerate it on a machine
//! running the target kernel family with
//! `bpftool btf dump file /sys/kernel/btf/vmlinux format c > bpf/x86_64/vmlinux.h`.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let arch = env::var("CARGO_CFG_TARGET_ARCH").expect("set by cargo");
    let (bpf_arch, dir) = match arch.as_str() {
        "x86_64" => ("x86", "x86_64"),
        "aarch64" => ("arm64", "aarch64"),
        other => panic!("kestrel-sensor: no vmlinux.h for target architecture {other}"),
    };
    let bpf = manifest.join("bpf");
    let vmlinux_dir = bpf.join(dir);
    if !vmlinux_dir.join("vmlinux.h").exists() {
        panic!(
            "kestrel-sensor: {} is missing; generate it with `bpftool btf dump file /sys/kernel/btf/vmlinux format c`",
            vmlinux_dir.join("vmlinux.h").display()
        );
    }
    for f in ["sensor.bpf.c", "sensor.h"] {
        println!("cargo:rerun-if-changed={}", bpf.join(f).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        vmlinux_dir.join("vmlinux.h").display()
    );
    println!("cargo:rerun-if-env-changed=CLANG");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_owned());
    let obj = out.join("sensor.bpf.o");
    let status = Command::new(&clang)
        .args(["-g", "-O2", "-Wall", "-Werror", "-target", "bpf"])
        .arg(format!("-D__TARGET_ARCH_{bpf_arch}"))
        .arg("-I")
        .arg(&vmlinux_dir)
        .arg("-I")
        .arg(&bpf)
        .arg("-c")
        .arg(bpf.join("sensor.bpf.c"))
        .arg("-o")
        .arg(&obj)
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("kestrel-sensor: {clang} failed to compile bpf/sensor.bpf.c ({s})"),
        Err(e) => panic!(
            "kestrel-sensor: cannot run {clang} ({e}); install clang and libbpf-dev (apt-get install clang libbpf-dev)"
        ),
    }
}
