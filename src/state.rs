//! The repository's state directory (`$GIT_DIR/pushbroker/`), safe file writing, and
//! reading its files as the untrusted input they are (another account may write them).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};

/// Who besides the owner may use the files pushbroker writes for a repository: what the
/// repository itself allows (Git's `core.sharedRepository`; the mode of Mercurial's
/// `.hg/store`). Several accounts pushing to one shared repository must all be able to
/// append to its log and write its spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// The owner only (0700 directories, 0600 files): the default.
    Private,
    /// The owner and the group (2770, 0660).
    Group,
    /// Everyone may read, the group may write (2775, 0664).
    All,
}

impl Sharing {
    fn dir_mode(self) -> u32 {
        match self {
            Sharing::Private => 0o700,
            Sharing::Group => 0o2770,
            Sharing::All => 0o2775,
        }
    }

    /// The mode of files pushbroker creates.
    pub fn file_mode(self) -> u32 {
        match self {
            Sharing::Private => 0o600,
            Sharing::Group => 0o660,
            Sharing::All => 0o664,
        }
    }
}

static SHARING: OnceLock<Sharing> = OnceLock::new();

/// Sets the sharing of this process's repository, once, when it is opened.
pub fn set_sharing(sharing: Sharing) {
    let _ = SHARING.set(sharing);
}

/// The sharing of this process's repository (private until one is opened).
pub fn sharing() -> Sharing {
    SHARING.get().copied().unwrap_or(Sharing::Private)
}

/// Creates `dir` (and its missing parents) for the repository's [`sharing`]: readable by
/// its owner only unless the repository is shared. The process umask does not narrow a
/// shared mode, and directories of a shared repository keep their group (setgid).
pub fn create_state_dir(dir: &Path) -> Result<()> {
    let sharing = sharing();
    let missing: Vec<&Path> = dir.ancestors().take_while(|path| !path.exists()).collect();
    fs::DirBuilder::new()
        .recursive(true)
        .mode(sharing.dir_mode())
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    if sharing != Sharing::Private {
        for created in missing {
            fs::set_permissions(created, fs::Permissions::from_mode(sharing.dir_mode()))
                .with_context(|| format!("sharing {}", created.display()))?;
        }
    }
    Ok(())
}

/// Opens `path` with `options` as a file of the repository's [`sharing`].
pub fn open_file(options: &mut fs::OpenOptions, path: &Path) -> std::io::Result<fs::File> {
    let sharing = sharing();
    let file = options.mode(sharing.file_mode()).open(path)?;
    if sharing != Sharing::Private {
        // The umask may have narrowed the mode; a file another account created is theirs
        // to keep as it is.
        let _ = file.set_permissions(fs::Permissions::from_mode(sharing.file_mode()));
    }
    Ok(file)
}

/// Writes `bytes` to `path` so that readers see the old file or the whole new one, never
/// a part: a temporary file beside it (mode 0600, or as the repository is shared),
/// synced, then renamed over it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("a file path has a parent")?;
    let name = path.file_name().context("a file path has a name")?;
    let temporary = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        uuid::Uuid::new_v4().simple()
    ));
    let result = (|| {
        let mut file = open_file(
            fs::OpenOptions::new().write(true).create_new(true),
            &temporary,
        )?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// The entries of `dir` with their types (a symlink is a symlink), sorted; none when it
/// does not exist.
pub fn list(dir: &Path) -> Result<Vec<(PathBuf, fs::FileType)>> {
    let listing = match fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("listing {}", dir.display())),
    };
    let mut paths: Vec<(PathBuf, fs::FileType)> = listing
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| entry.file_type().ok().map(|kind| (entry.path(), kind)))
        .collect();
    paths.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(paths)
}

/// Reads a regular file without following a symlink (the last component).
pub fn read_regular(path: &Path, file_type: fs::FileType) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    if !file_type.is_file() {
        return Err("not a regular file".into());
    }
    let mut bytes = Vec::new();
    fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|error| format!("cannot be read ({error})"))?;
    Ok(bytes)
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
