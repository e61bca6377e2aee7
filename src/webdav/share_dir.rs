//! Checking a directory chosen for sharing, the same way for every front end (`--share-dir`, the Folders panel).

use std::path::{Path, PathBuf};

/// Why a directory cannot be shared: `PATH: reason`. Front ends add their own context (the CLI its flag name).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ShareDirError {
    /// The path given.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// Checks that `path` exists and is a directory, and returns its canonical absolute form.
pub fn check(path: &Path) -> Result<PathBuf, ShareDirError> {
    let err = |reason: String| ShareDirError { path: path.display().to_string(), reason };
    let canonical = std::fs::canonicalize(path).map_err(|e| err(format!("cannot open it ({e})")))?;
    if !canonical.is_dir() {
        return Err(err("not a directory".into()));
    }
    Ok(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_path_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check(dir.path()).unwrap().is_absolute());
        let missing = dir.path().join("missing");
        let e = check(&missing).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}: cannot open it (", missing.display())), "{e}");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(check(&file).unwrap_err().to_string(), format!("{}: not a directory", file.display()));
    }
}
