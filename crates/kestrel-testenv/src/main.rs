//! `kestrel-testenv`: build the test image or run the test Pod by hand.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kestrel_testenv::{TestImage, TestPod};

#[derive(Debug, Parser)]
#[command(
    about = "Build Kestrel's test image (cached) or run its test Pod",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Build the test image unless it is cached, load it into podman, and
    /// print its manifest (paths, digests, packages) as JSON.
    Build,
    /// Print the content key of tests/env/ and the cache directory.
    Key,
    /// Start the test Pod, print what runs (ids, PIDs, cgroup) as JSON, and
    /// remove it when standard input is closed or a line is entered.
    Pod {
        /// Pod manifest to run instead of tests/env/pod.yaml.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kestrel-testenv: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Cmd) -> Result<(), kestrel_testenv::Error> {
    match command {
        Cmd::Build => {
            let image = TestImage::get()?;
            #[derive(serde::Serialize)]
            struct Built<'a> {
                dir: &'a std::path::Path,
                rootfs: PathBuf,
                oci_layout: PathBuf,
                oci_archive: PathBuf,
                docker_archive: PathBuf,
                image_id: &'a str,
                manifest: &'a kestrel_testenv::Manifest,
            }
            print_json(&Built {
                dir: image.dir(),
                rootfs: image.rootfs(),
                oci_layout: image.oci_layout(),
                oci_archive: image.oci_archive(),
                docker_archive: image.docker_archive(),
                image_id: image.image_id(),
                manifest: image.manifest(),
            })
        }
        Cmd::Key => {
            let env = kestrel_testenv::env_dir();
            let key = kestrel_testenv::image::content_key(&env)?;
            let cache = kestrel_testenv::image::Cache::from_env();
            println!("{key} {}", cache.root().join(&key).display());
            Ok(())
        }
        Cmd::Pod { manifest } => {
            let image = TestImage::get()?;
            let pod = match manifest {
                Some(path) => TestPod::start_manifest(&image, &path)?,
                None => TestPod::start(&image)?,
            };
            print_json(pod.info())?;
            eprintln!("kestrel-testenv: pod running; press Enter (or close stdin) to remove it");
            let _ = std::io::stdin().lock().lines().next();
            pod.remove()
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), kestrel_testenv::Error> {
    let text =
        serde_json::to_string_pretty(value).map_err(|source| kestrel_testenv::Error::Json {
            what: "standard output".into(),
            source,
        })?;
    println!("{text}");
    Ok(())
}
