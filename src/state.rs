//! The repository's state directory (`$GIT_DIR/pushbroker/`) and safe file writing.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{Context, Result};

/// Creates `dir` (and its parents) readable by its owner only, if it does not exist.
pub fn create_private_dir(dir: &Path) -> Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Writes `bytes` to `path` so that readers see the old file or the whole new one, never
/// a part: a temporary file beside it (mode 0600), synced, then renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file path has a parent")?;
    let name = path.file_name().context("a file path has a name")?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// The files in a repository's state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    /// `$GIT_DIR/pushbroker`.
    pub root: std::path::PathBuf,
}

impl StateDir {
    /// The state directory at `root` (created on first write).
    pub fn new(root: std::path::PathBuf) -> StateDir {
        StateDir { root }
    }

    /// `deliveries.jsonl`: one line per delivery attempt.
    pub fn log(&self) -> std::path::PathBuf {
        self.root.join("deliveries.jsonl")
    }

    /// `spool/`: one file per delivery that still has to be made.
    pub fn spool(&self) -> std::path::PathBuf {
        self.root.join("spool")
    }

    /// The directory that holds the state directory and `pushbroker.toml`: `$GIT_DIR`
    /// or `.hg`.
    pub fn config_dir(&self) -> std::path::PathBuf {
        self.root
            .parent()
            .map_or_else(|| self.root.clone(), std::path::Path::to_path_buf)
    }

    /// `outbox/`: the email file transport's default directory.
    pub fn outbox(&self) -> std::path::PathBuf {
        self.root.join("outbox")
    }
}
