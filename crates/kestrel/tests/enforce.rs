//! Rule-driven enforcement in `kestrel watch` as a user runs it (root, real eBPF sensor): a
//! forbidden program, named by `proc.name` or by `proc.exepath` in an `action: kill` rule, is
//! killed by the kernel before it does anything; a dry run lets it run and reports `would_kill`;
//! a rule reload moves the kill from one program to another.
//!
//! Each test forbids program names and files of its own: every running sensor sees every exec
//! on the machine, so tests running at the same time must not forbid each other's programs.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Watch, kill_rule, run_touch};
use serde_json::Value;

/// Rule files are re-read every second, for the reload test.
const CONFIG: &str = "[detection]\nreload_interval_secs = 1\n";

/// The alert of `rule` for the program at `exe`.
fn alert_for(w: &mut Watch, rule: &str, exe: &Path) -> Value {
    let exe = exe.to_str().unwrap();
    w.wait_alert(
        rule,
        |a| a["output_fields"]["proc.exepath"] == exe,
        Duration::from_secs(60),
    )
}

/// A copy of `/bin/sh` at `dir/name`: a program of its own (inode) with its own task name.
fn forbidden_copy(dir: &Path, name: &str) -> PathBuf {
    common::renamed_copy("/bin/sh", dir, name)
}

fn setup(dir: &Path, rules: &str) -> PathBuf {
    let rules_file = dir.join("kill.yaml");
    std::fs::write(&rules_file, rules).unwrap();
    rules_file
}

#[test]
fn enforce_kills_forbidden_programs_before_they_run() {
    let dir = tempfile::tempdir().unwrap();
    let by_name = forbidden_copy(dir.path(), "evilkill");
    let by_path = forbidden_copy(dir.path(), "sneaky");
    // Another name for the same file: the kernel keys executables by inode.
    let alias = dir.path().join("renamed");
    std::fs::hard_link(&by_path, &alias).unwrap();
    let innocent = forbidden_copy(dir.path(), "innocent");
    let rules = kill_rule("Forbidden by name", "proc.name = evilkill")
        + &kill_rule(
            "Forbidden by path",
            &format!("proc.exepath = \"{}\"", by_path.display()),
        );
    let rules_file = setup(dir.path(), &rules);
    let mut w = Watch::start_with_config(
        CONFIG,
        &["--rules", rules_file.to_str().unwrap(), "--enforce"],
    );
    w.wait_log(
        |l| l.contains("kill rule target") && l.contains("evilkill"),
        "the name target",
    );
    w.wait_log(
        |l| l.contains("kill rule target") && l.contains("sneaky"),
        "the path target",
    );

    let (status, marker) = run_touch(&by_name, &dir.path().join("m1"));
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(!marker, "the killed program ran its command");
    let a = alert_for(&mut w, "Forbidden by name", &by_name);
    assert_eq!(a["action"], "killed", "{a:#}");
    assert_eq!(a["priority"], "Critical", "{a:#}");

    let (status, marker) = run_touch(&by_path, &dir.path().join("m2"));
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(!marker, "the killed program ran its command");
    let a = alert_for(&mut w, "Forbidden by path", &by_path);
    assert_eq!(a["action"], "killed", "{a:#}");

    // The hard link is the same file: killed too, although no rule names its path (and so the
    // rule, which matches paths, raises no alert for it).
    let (status, marker) = run_touch(&alias, &dir.path().join("m3"));
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(!marker);

    // A copy of the same program under another name and inode runs.
    let (status, marker) = run_touch(&innocent, &dir.path().join("m4"));
    assert!(status.success(), "{status:?}");
    assert!(marker);
}

#[test]
fn dry_run_reports_would_kill_and_lets_the_program_run() {
    let dir = tempfile::tempdir().unwrap();
    let prog = forbidden_copy(dir.path(), "evildry");
    let rules_file = setup(
        dir.path(),
        &kill_rule("Forbidden dry", "proc.name = evildry"),
    );
    let mut w = Watch::start_with_config(
        CONFIG,
        &["--rules", rules_file.to_str().unwrap(), "--dry-run"],
    );
    w.wait_log(
        |l| l.contains("kill rule target") && l.contains("evildry"),
        "the name target",
    );
    let (status, marker) = run_touch(&prog, &dir.path().join("m"));
    assert!(status.success(), "{status:?}");
    assert!(marker, "the program did not run its command");
    let a = alert_for(&mut w, "Forbidden dry", &prog);
    assert_eq!(a["action"], "would_kill", "{a:#}");
}

#[test]
fn without_enforcement_kill_rules_only_alert() {
    let dir = tempfile::tempdir().unwrap();
    let prog = forbidden_copy(dir.path(), "eviloff");
    let rules_file = setup(
        dir.path(),
        &kill_rule("Forbidden off", "proc.name = eviloff"),
    );
    let mut w = Watch::start_with_config(CONFIG, &["--rules", rules_file.to_str().unwrap()]);
    let (status, marker) = run_touch(&prog, &dir.path().join("m"));
    assert!(status.success(), "{status:?}");
    assert!(marker);
    let a = alert_for(&mut w, "Forbidden off", &prog);
    assert!(a.get("action").is_none(), "{a:#}");
}

#[test]
fn rule_reload_moves_the_kill() {
    let dir = tempfile::tempdir().unwrap();
    let first = forbidden_copy(dir.path(), "evilfirst");
    let second = forbidden_copy(dir.path(), "evilsecond");
    let rules_file = setup(dir.path(), &kill_rule("Forbidden", "proc.name = evilfirst"));
    let mut w = Watch::start_with_config(
        CONFIG,
        &["--rules", rules_file.to_str().unwrap(), "--enforce"],
    );
    w.wait_log(
        |l| l.contains("kill rule target") && l.contains("evilfirst"),
        "the first target",
    );
    let (status, _) = run_touch(&first, &dir.path().join("m1"));
    assert_eq!(status.signal(), Some(9), "{status:?}");

    std::fs::write(
        &rules_file,
        kill_rule("Forbidden", "proc.name = evilsecond"),
    )
    .unwrap();
    w.wait_log(
        |l| l.contains("kill target removed") && l.contains("evilfirst"),
        "the first target removed",
    );
    w.wait_log(
        |l| l.contains("kill rule target") && l.contains("evilsecond"),
        "the second target",
    );
    let (status, marker) = run_touch(&first, &dir.path().join("m2"));
    assert!(status.success(), "{status:?}");
    assert!(marker);
    let (status, marker) = run_touch(&second, &dir.path().join("m3"));
    assert_eq!(status.signal(), Some(9), "{status:?}");
    assert!(!marker);
    let a = alert_for(&mut w, "Forbidden", &second);
    assert_eq!(a["action"], "killed", "{a:#}");
}
