//! Opening a served repository (Git or Mercurial) and the places pushbroker uses in it.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use git2::Repository;

use crate::event::Scm;
use crate::state::{Sharing, StateDir};

/// libgit2's object cache (its default is 256 MiB). libgit2 walks the push and writes
/// patches; the commits and trees of the payload are read with gitoxide
/// ([`crate::scm::git`]), so a small cache keeps the hits and spares the memory.
const CACHE_BYTES: isize = 32 << 20;

/// The version control system behind a [`RepoContext`].
pub enum Vcs {
    /// A Git repository, read in-process with libgit2.
    Git(Repository),
    /// A Mercurial repository, read through `hg` (see [`crate::scm::hg`]).
    Hg,
}

/// A repository pushbroker serves, with its config and state paths.
pub struct RepoContext {
    /// Git or Mercurial.
    pub vcs: Vcs,
    /// Where pushbroker's files live: `$GIT_DIR` (the `.git` directory or the bare
    /// repository), or `.hg`.
    pub meta_dir: PathBuf,
    /// The directory named after the repository (work tree, bare repository, hg root).
    pub top: PathBuf,
}

impl RepoContext {
    /// Opens the repository at `path` (a Git work tree, `.git` directory or bare
    /// repository, or a Mercurial root), or the Git repository the environment names
    /// (`GIT_DIR`, or the current directory) when `path` is `None`.
    pub fn open(path: Option<&Path>) -> Result<RepoContext> {
        if let Some(path) = path
            && path.join(".hg").is_dir()
        {
            return RepoContext::open_hg(path);
        }
        if path.is_none()
            && std::env::var_os("GIT_DIR").is_none()
            && let Some(root) = enclosing_hg_root()
        {
            return RepoContext::open_hg(&root);
        }
        // libgit2 re-hashes every object it reads to verify it; git itself does not, and
        // on a long push that hashing was a quarter of the time. The objects were
        // verified when they were received.
        git2::opts::strict_hash_verification(false);
        // Trees over 4 KiB are not cached by default, so a directory of a few hundred
        // files was inflated again for every commit's diff.
        // SAFETY: a process-wide setting, made before any thread reads the repository.
        let _ = unsafe { git2::opts::set_cache_object_limit(git2::ObjectType::Tree, 4 << 20) };
        // SAFETY: as above.
        let _ = unsafe { git2::opts::set_cache_max_size(CACHE_BYTES) };
        // libgit2's errors end in `; class=… code=…`: say it in our words instead.
        let git = match path {
            Some(path) => Repository::open(path).map_err(|error| not_opened(path, &error))?,
            None => Repository::open_from_env().map_err(|_| {
                anyhow::anyhow!(
                    "not inside a Git or Mercurial repository: run it in one, or name one (e.g. /srv/git/widgets.git)"
                )
            })?,
        };
        crate::state::set_sharing(git_sharing(&git));
        let meta_dir = absolute(git.path());
        let top = match git.workdir() {
            Some(workdir) => absolute(workdir),
            None => meta_dir.clone(),
        };
        Ok(RepoContext {
            vcs: Vcs::Git(git),
            meta_dir,
            top,
        })
    }

    /// Opens the Mercurial repository whose root is `root`.
    pub fn open_hg(root: &Path) -> Result<RepoContext> {
        let top = absolute(root);
        if !top.join(".hg").is_dir() {
            bail!(
                "{} is not a Mercurial repository (no .hg directory)",
                root.display()
            );
        }
        crate::state::set_sharing(hg_sharing(&top.join(".hg/store")));
        Ok(RepoContext {
            vcs: Vcs::Hg,
            meta_dir: top.join(".hg"),
            top,
        })
    }

    /// The repository's path as grants and the queue name it: `top`, symlinks resolved.
    pub fn repository_path(&self) -> PathBuf {
        std::fs::canonicalize(&self.top).unwrap_or_else(|_| self.top.clone())
    }

    /// The Git repository; an error for a Mercurial one.
    pub fn git(&self) -> Result<&Repository> {
        match &self.vcs {
            Vcs::Git(git) => Ok(git),
            Vcs::Hg => bail!(
                "{} is a Mercurial repository: use --rev REVSET",
                self.top.display()
            ),
        }
    }

    /// The version control system.
    pub fn scm(&self) -> Scm {
        match self.vcs {
            Vcs::Git(_) => Scm::Git,
            Vcs::Hg => Scm::Hg,
        }
    }

    /// The default branch: the branch `HEAD` names in Git (`main` when it names none),
    /// `default` in Mercurial.
    pub fn default_branch(&self) -> String {
        match &self.vcs {
            Vcs::Git(git) => crate::scm::git::head_target(git)
                .and_then(|target| target.strip_prefix("refs/heads/").map(str::to_string))
                .unwrap_or_else(|| Scm::Git.usual_default_branch().to_string()),
            Vcs::Hg => Scm::Hg.usual_default_branch().to_string(),
        }
    }

    /// The repository config file, `$GIT_DIR/pushbroker.toml` or `.hg/pushbroker.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.meta_dir.join("pushbroker.toml")
    }

    /// The state directory, `$GIT_DIR/pushbroker/` or `.hg/pushbroker/`.
    pub fn state(&self) -> StateDir {
        StateDir::new(self.meta_dir.join("pushbroker"))
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

/// Why `path` could not be opened as a Git repository, in one line of our words.
fn not_opened(path: &Path, error: &git2::Error) -> anyhow::Error {
    let shown = path.display();
    if !path.exists() {
        anyhow::anyhow!("{shown} does not exist")
    } else if error.code() == git2::ErrorCode::NotFound {
        anyhow::anyhow!("{shown} is not a Git or Mercurial repository")
    } else {
        anyhow::anyhow!(
            "{shown} cannot be opened as a Git repository: {}",
            error.message()
        )
    }
}

/// Git's `core.sharedRepository`: `group`/`true`, `all`/`world`/`everybody`, or a mode
/// (`0660`: shared with the group; readable by others as well: all).
fn git_sharing(git: &Repository) -> Sharing {
    let value = git
        .config()
        .and_then(|config| config.get_string("core.sharedRepository"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    match value.as_str() {
        "group" | "true" | "1" => Sharing::Group,
        "all" | "world" | "everybody" | "2" => Sharing::All,
        octal if octal.starts_with('0') && octal.len() > 1 => {
            mode_sharing(u32::from_str_radix(octal, 8).unwrap_or(0))
        }
        _ => Sharing::Private,
    }
}

/// Mercurial has no setting: a store its group may write is a shared repository, and hg
/// itself gives new files the store's permissions.
fn hg_sharing(store: &Path) -> Sharing {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(store).map_or(Sharing::Private, |meta| {
        mode_sharing(meta.permissions().mode())
    })
}

fn mode_sharing(mode: u32) -> Sharing {
    match (mode & 0o020 != 0, mode & 0o004 != 0) {
        (false, _) => Sharing::Private,
        (true, false) => Sharing::Group,
        (true, true) => Sharing::All,
    }
}

/// The Mercurial root around the current directory, unless a Git repository is closer.
fn enclosing_hg_root() -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    for dir in cwd.ancestors() {
        if dir.join(".hg").is_dir() {
            return Some(dir.to_path_buf());
        }
        if dir.join(".git").exists() || (dir.join("HEAD").is_file() && dir.join("objects").is_dir())
        {
            return None;
        }
    }
    None
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
