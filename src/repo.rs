//! Opening a served repository and the places pushbroker uses inside it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use git2::Repository;

use crate::event::Scm;
use crate::state::StateDir;

/// A repository pushbroker serves, with its config and state paths.
pub struct RepoContext {
    /// The open Git repository.
    pub git: Repository,
    /// `$GIT_DIR` (the `.git` directory, or the bare repository itself).
    pub git_dir: PathBuf,
    /// The directory named after the repository (the work tree, or the bare repository).
    pub top: PathBuf,
}

impl RepoContext {
    /// Opens the repository at `path` (a work tree, a `.git` directory or a bare
    /// repository), or the one the environment names (`GIT_DIR`, or the current
    /// directory) when `path` is `None`.
    pub fn open(path: Option<&Path>) -> Result<RepoContext> {
        let git = match path {
            Some(path) => Repository::open(path)
                .with_context(|| format!("{} is not a Git repository", path.display()))?,
            None => Repository::open_from_env()
                .context("not inside a Git repository (is GIT_DIR set?)")?,
        };
        let git_dir = absolute(git.path());
        let top = match git.workdir() {
            Some(workdir) => absolute(workdir),
            None => git_dir.clone(),
        };
        Ok(RepoContext { git, git_dir, top })
    }

    /// The version control system.
    pub fn scm(&self) -> Scm {
        Scm::Git
    }

    /// The repository config file, `$GIT_DIR/pushbroker.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.git_dir.join("pushbroker.toml")
    }

    /// The state directory, `$GIT_DIR/pushbroker/`.
    pub fn state(&self) -> StateDir {
        StateDir::new(self.git_dir.join("pushbroker"))
    }

    /// The default repository name: the directory name without `.git`.
    pub fn default_name(&self) -> String {
        let name = file_name(&self.top);
        name.strip_suffix(".git").unwrap_or(&name).to_string()
    }

    /// The default owner: the parent directory's name.
    pub fn default_owner(&self) -> String {
        self.top.parent().map(file_name).unwrap_or_default()
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn absolute(path: &Path) -> PathBuf {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    // git2 reports directories with a trailing slash; components() drops it.
    path.components().collect()
}
