//! Reading the kept commits of a push, split over the machine's cores.
//!
//! The commits are cut into contiguous runs, one per thread, each read with its own
//! object handle: neighbouring commits share delta bases and trees, so a run keeps its
//! cache warm. The result is in the order given, whatever the number of threads.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use gix::ObjectId;
use gix::odb::pack::cache::lru::MemoryCappedHashmap;

use super::commit::CommitReader;
use super::walk::Known;
use crate::event::Commit;

/// Each handle's cache of delta bases. Measured on a 10,000-commit push: 1–8 MiB all
/// read within 10% of each other; more only costs memory.
const DELTA_CACHE_BYTES: usize = 2 << 20;

/// Fewer commits than this per thread are read on one thread. A second thread costs
/// some 4 ms of CPU (its cold caches, and on a machine whose two cores are one core's
/// hyperthreads, each thread is slower): measured on 600 commits of a deep tree, 18.6 ms
/// on one thread against 22.6 ms on two. What it buys is wall time, which matters on
/// thousands of commits.
const MIN_COMMITS_PER_THREAD: usize = 1024;

/// At most this many threads: a hook shares the server with the push it serves.
const MAX_THREADS: usize = 4;

/// A repository's objects, as the commit readers see them. Cloned, it is a handle of
/// its own (its delta cache is not shared) on the same store.
#[derive(Clone)]
pub struct Objects {
    /// The object database, alternates included.
    pub odb: gix::odb::Handle,
    /// The commits a shallow repository's history stops at (`$GIT_DIR/shallow`): their
    /// parents are not here, and git shows them as roots.
    pub shallow: Arc<HashSet<ObjectId>>,
    /// What the objects refs name peel to, each read once.
    pub peeled: Arc<super::refs::Peeled>,
}

/// The objects of the repository whose `$GIT_DIR` is `git_dir`, for [`read_commits`].
pub fn open_objects(git_dir: &Path) -> Result<Objects> {
    let objects = git_dir.join("objects");
    let mut odb = gix::odb::at(&objects, gix::hash::Kind::Sha1)
        .with_context(|| format!("opening the object database {}", objects.display()))?;
    odb.set_pack_cache(|| Box::new(MemoryCappedHashmap::new(DELTA_CACHE_BYTES)));
    let shallow = std::fs::read_to_string(git_dir.join("shallow"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| ObjectId::from_hex(line.trim().as_bytes()).ok())
        .collect();
    Ok(Objects {
        odb,
        shallow: Arc::new(shallow),
        peeled: Arc::new(super::refs::Peeled::new(git_dir)),
    })
}

/// Reads each `(commit, branch)` into a changeset, in the order given, reading again
/// none the walk read ([`Known`]); a commit that cannot be read is a changeset marked
/// unreadable, not an error.
pub fn read_commits(
    objects: &Objects,
    wanted: &[(ObjectId, Option<&str>)],
    known: &Known,
) -> Result<Vec<Commit>> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = cores
        .min(MAX_THREADS)
        .min(wanted.len() / MIN_COMMITS_PER_THREAD)
        .max(1);
    // Each thread fills its run of one list, in place: runs read into lists of their
    // own and joined would hold every changeset twice at the end (30 MiB more at the
    // peak of a 70,000-commit push).
    let mut commits = vec![Commit::default(); wanted.len()];
    if threads == 1 {
        read_run(objects.clone(), wanted, known, &mut commits);
        return Ok(commits);
    }
    let run_length = wanted.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let runs: Vec<_> = wanted
            .chunks(run_length)
            .zip(commits.chunks_mut(run_length))
            .map(|(run, slots)| {
                let objects = objects.clone();
                scope.spawn(move || read_run(objects, run, known, slots))
            })
            .collect();
        for run in runs {
            run.join()
                .map_err(|_| anyhow!("a thread reading commits stopped unexpectedly"))?;
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(commits)
}

/// Reads a run of commits into `slots`; one that cannot be read is listed marked
/// unreadable.
fn read_run(
    objects: Objects,
    run: &[(ObjectId, Option<&str>)],
    known: &Known,
    slots: &mut [Commit],
) {
    let mut reader = CommitReader::new(objects);
    for ((id, branch), slot) in run.iter().zip(slots) {
        *slot = reader.read_or_mark_known(*id, branch.map(str::to_string), known.get(id));
    }
}
