//! The write-ahead journal, `<state>/spool/journal/<uuid>.jsonl`: a push's deliveries,
//! on disk before the first byte of any of them goes out.
//!
//! One file per push, whatever its number of deliveries (a per-ref service makes one per
//! ref: a 10,000-tag push is one file, not 10,000). Its first line holds the event and
//! every planned delivery with its id; it is written to a temporary file, `fsync`ed,
//! locked and renamed into place, so it is whole on disk before delivery starts. Each
//! delivery that is made (or skipped, or spooled) appends one `{"settled": id}` line,
//! without `fsync`: a line lost to a power cut makes that delivery go out once more, with
//! its id, rather than not at all. When the hook is done the journal is removed.
//!
//! The live hook holds an exclusive lock on its journal until it exits (the kernel
//! releases it however the process ends, SIGKILL included). `redeliver` takes over only
//! journals whose lock it can take, so it never sends what a running hook is still
//! delivering: each unsettled delivery becomes a spool entry with its original id.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::spool::{self, BadFile, Entry, Item, Spool, is_id, shown};
use crate::event::{Hidden, Push};

/// The journal format's version.
pub const VERSION: u32 = 1;

/// Why a recovered delivery is spooled.
pub const STOPPED: &str = "the hook stopped before this delivery was made";

/// One delivery the push will make.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Planned {
    /// Its delivery id.
    pub id: String,
    /// The service's name.
    pub service: String,
    /// The broker's name.
    pub broker: String,
    /// For a per-ref delivery: the ref's index in the push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ref_index: Option<usize>,
}

#[derive(Serialize)]
struct HeaderOut<'a> {
    version: u32,
    id: &'a str,
    created: String,
    deliveries: &'a [Planned],
    push: &'a Push,
    hidden: BTreeMap<String, Hidden>,
    default_branch: &'a str,
}

#[derive(Deserialize)]
struct HeaderIn {
    version: u32,
    id: String,
    created: String,
    deliveries: Vec<Planned>,
    push: Box<Push>,
    #[serde(default)]
    hidden: BTreeMap<String, Hidden>,
    #[serde(default)]
    default_branch: String,
}

#[derive(Serialize, Deserialize)]
struct Settled {
    settled: String,
}

/// A live journal: locked by this process until dropped.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
}

impl Journal {
    /// Writes the journal of `deliveries` of `push` into `spool`'s journal directory,
    /// synced to disk and locked, before anything is sent.
    pub fn begin(spool: &Spool, push: &Push, deliveries: &[Planned]) -> Result<Journal> {
        let dir = spool.journal_dir();
        crate::state::create_state_dir(&dir)?;
        let id = uuid::Uuid::new_v4().to_string();
        let header = HeaderOut {
            version: VERSION,
            id: &id,
            created: crate::scm::dates::now_rfc3339(),
            deliveries,
            push,
            hidden: spool::hidden_of(push),
            default_branch: &push.repository.default_branch,
        };
        let mut line = serde_json::to_vec(&header).context("serializing the journal")?;
        line.push(b'\n');
        let path = dir.join(format!("{id}.jsonl"));
        let temporary = dir.join(format!(".{id}.tmp"));
        let written = (|| {
            let mut file = crate::state::open_file(
                OpenOptions::new().write(true).create_new(true),
                &temporary,
            )?;
            file.lock()?;
            file.write_all(&line)?;
            file.sync_data()?;
            fs::rename(&temporary, &path)?;
            Ok::<File, std::io::Error>(file)
        })();
        match written {
            Ok(file) => Ok(Journal { file, path }),
            Err(error) => {
                let _ = fs::remove_file(&temporary);
                Err(error).with_context(|| format!("writing {}", path.display()))
            }
        }
    }

    /// Records that delivery `id` needs nothing more from a later run.
    pub fn settled(&self, id: &str) -> Result<()> {
        let mut line = serde_json::to_vec(&Settled {
            settled: id.to_string(),
        })?;
        line.push(b'\n');
        (&self.file)
            .write_all(&line)
            .with_context(|| format!("appending to {}", self.path.display()))
    }

    /// Removes the journal: every delivery was made, skipped or spooled.
    pub fn finish(self) -> Result<()> {
        fs::remove_file(&self.path).with_context(|| format!("removing {}", self.path.display()))
    }
}

/// What [`recover`] found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Deliveries of stopped hooks, now spooled.
    pub spooled: usize,
    /// Journals a running hook still holds.
    pub live: usize,
    /// Files that are not journals (moved to `bad/` by the caller).
    pub bad: Vec<BadFile>,
}

/// Turns the journals of hooks that stopped before they finished into spool entries,
/// one per delivery they did not settle, with its original id; leaves the journals of
/// running hooks alone. Call it holding the spool's lock.
pub fn recover(spool: &Spool) -> Result<Recovered> {
    let mut recovered = Recovered::default();
    for (path, file_type) in crate::state::list(&spool.journal_dir())? {
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if name.starts_with('.') {
            // A journal being written (or whose hook died before a byte went out).
            continue;
        }
        let stem = match name.strip_suffix(".jsonl") {
            Some(stem) if is_id(stem) => stem,
            _ => {
                let problem = "its name is not a journal's (<uuid>.jsonl)".to_string();
                recovered.bad.push(BadFile { path, problem });
                continue;
            }
        };
        if !file_type.is_file() {
            let problem = "not a regular file".to_string();
            recovered.bad.push(BadFile { path, problem });
            continue;
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                recovered.live += 1;
                continue;
            }
            Err(TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("locking {}", path.display()));
            }
        }
        match take_over(spool, &path, stem)? {
            Ok(count) => {
                recovered.spooled += count;
                fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            }
            Err(problem) => recovered.bad.push(BadFile { path, problem }),
        }
        drop(file);
    }
    Ok(recovered)
}

/// Spools the unsettled deliveries of the journal at `path`, named `name`: how many, or
/// what is wrong with the file.
fn take_over(spool: &Spool, path: &Path, name: &str) -> Result<Result<usize, String>> {
    let header = match read_journal(path, name) {
        Ok(read) => read,
        Err(problem) => return Ok(Err(problem)),
    };
    let (header, settled) = header;
    let mut count = 0;
    for planned in header
        .deliveries
        .iter()
        .filter(|planned| !settled.contains(&planned.id))
    {
        let entry = Entry {
            version: spool::VERSION,
            id: planned.id.clone(),
            created: header.created.clone(),
            item: Item::Delivery {
                service: planned.service.clone(),
                broker: planned.broker.clone(),
                ref_index: planned.ref_index,
                attempts: 0,
                last_error: STOPPED.to_string(),
                push: header.push.clone(),
                hidden: header.hidden.clone(),
                default_branch: header.default_branch.clone(),
            },
        };
        spool.write(&entry)?;
        count += 1;
    }
    Ok(Ok(count))
}

/// The journal at `path` (named `name`) and the ids it settled, checked.
fn read_journal(path: &Path, name: &str) -> Result<(HeaderIn, HashSet<String>), String> {
    let file_type = fs::symlink_metadata(path)
        .map_err(|error| format!("cannot be read ({error})"))?
        .file_type();
    let bytes = crate::state::read_regular(path, file_type)?;
    let mut lines = bytes
        .split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty());
    let header: HeaderIn = serde_json::from_slice(lines.next().unwrap_or_default())
        .map_err(|error| format!("not a journal ({error})"))?;
    if header.version != VERSION {
        return Err(format!("unknown journal version {}", header.version));
    }
    if header.id != name {
        return Err(format!(
            "its id {:?} is not its file name",
            shown(&header.id)
        ));
    }
    for planned in &header.deliveries {
        if !is_id(&planned.id) {
            return Err(format!("{:?} is not a delivery id", shown(&planned.id)));
        }
        if planned
            .ref_index
            .is_some_and(|index| index >= header.push.refs.len())
        {
            return Err(format!(
                "delivery {} has a ref_index out of range",
                planned.id
            ));
        }
    }
    // A line cut short by the hook's end is no settlement: that delivery goes out again.
    let settled = lines
        .filter_map(|line| serde_json::from_slice::<Settled>(line).ok())
        .map(|line| line.settled)
        .collect();
    Ok((header, settled))
}
