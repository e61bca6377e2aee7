//! Skipping a test because a host tool is missing, visibly: the note goes to stderr and, when `make test` runs the
//! tests (`RYLL_TEST_SKIPS` names a file), a line `test name<TAB>reason` goes to that file, so `make test` ends by
//! naming every skipped test instead of passing quietly. In CI (`CI` set) a missing tool fails the test instead.
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

/// Whether `tool --version`-style `probe` runs; when it does not, records the skip (or panics in CI) and returns
/// false. `package` is the Debian package that brings the tool.
pub fn tool_present(tool: &str, probe_arg: &str, package: &str) -> bool {
    let ok = Command::new(tool)
        .arg(probe_arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skip(&format!("{tool} not installed (Debian package {package})"));
    }
    ok
}

/// Records that the current test skips for `reason`. Panics when `CI` is set: CI installs every tool.
pub fn skip(reason: &str) {
    assert!(std::env::var_os("CI").is_none(), "{reason}: required in CI (make deps installs it)");
    let test = std::thread::current().name().unwrap_or("?").to_string();
    eprintln!("skipping {test}: {reason} — run make deps");
    if let Some(path) = std::env::var_os("RYLL_TEST_SKIPS") {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
            let _ = writeln!(f, "{test}\t{reason}");
        }
    }
}
