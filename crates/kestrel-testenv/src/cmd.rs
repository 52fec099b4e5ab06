//! Running host tools (podman, bash, umount) with errors that show the command line.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::error::{Error, Result};

/// The repository's `tests/env/` directory: the build recipe, pinned package
/// lists, apps, Pod manifest and podman configuration.
pub fn env_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/env")
}

/// The podman configuration every podman call of the test environment uses
/// (runc, cgroupfs): export it as `CONTAINERS_CONF` to run podman by hand
/// against the same containers.
pub fn containers_conf() -> PathBuf {
    env_dir().join("containers.conf")
}

/// A `podman` command with `CONTAINERS_CONF` pointing at [`containers_conf`].
pub fn podman() -> Command {
    let mut command = Command::new("podman");
    command.env("CONTAINERS_CONF", containers_conf());
    command
}

pub(crate) fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}

/// Runs `command` to completion and fails unless it exits with status 0.
pub(crate) fn run(command: &mut Command) -> Result<Output> {
    let output = command.output().map_err(|source| Error::Spawn {
        program: command.get_program().to_string_lossy().into_owned(),
        source,
    })?;
    if !output.status.success() {
        return Err(Error::Command {
            command: describe(command),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(output)
}

/// Runs `command` and returns its standard output, trimmed.
pub(crate) fn run_stdout(command: &mut Command) -> Result<String> {
    let output = run(command)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

pub(crate) fn podman_stdout<I, S>(args: I) -> Result<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_stdout(podman().args(args))
}

/// Fails with [`Error::NotRoot`] unless the effective uid is 0, read from
/// `/proc/self/status` so no `unsafe` libc call is needed.
pub(crate) fn require_root() -> Result<()> {
    let status =
        std::fs::read_to_string("/proc/self/status").map_err(Error::io("/proc/self/status"))?;
    let euid = status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1));
    match euid {
        Some("0") => Ok(()),
        _ => Err(Error::NotRoot),
    }
}

/// The start time (clock ticks since boot, field 22 of `/proc/PID/stat`) of a
/// live process: with the PID it identifies a process even after PID reuse.
pub(crate) fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: fields
    // after it start behind the last ')'. Field 3 is the first one there.
    let after_comm = &stat[stat.rfind(')')? + 1..];
    after_comm.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// Mount points at or below `dir`, deepest first, from `/proc/self/mountinfo`.
pub(crate) fn mounts_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(Error::io("/proc/self/mountinfo"))?;
    let mut mounts: Vec<PathBuf> = info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|mount| mount.starts_with(dir))
        .collect();
    mounts.sort();
    mounts.reverse();
    Ok(mounts)
}

/// Deletes a build directory, first detaching any mount a failed debootstrap
/// left inside it, so the deletion can never recurse into a live `/proc` or `/sys`.
pub(crate) fn remove_build_dir(dir: &Path) -> Result<()> {
    for mount in mounts_below(dir)? {
        run(Command::new("umount").arg("--lazy").arg(&mount))?;
    }
    if !mounts_below(dir)?.is_empty() {
        return Err(Error::invalid(
            dir.display().to_string(),
            "still has mounts below it after umount; not deleting it",
        ));
    }
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(Error::io(dir)(err)),
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}
