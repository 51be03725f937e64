//! Reading what a push delivered out of the repository.
//!
//! Each SCM module turns its hook input into [`Changes`]: the new changesets (oldest
//! first, capped) and the ref changes. The event is assembled from them in
//! [`crate::push`]; nothing here knows about services or brokers.

pub mod dates;
pub mod git;
pub mod hg;

use crate::event::{Commit, RefChange};

/// What the SCM layer found in one push.
#[derive(Debug, Default)]
pub struct Changes {
    /// New changesets, parents before children (Git: grouped by ref, see `git::order`);
    /// the newest `Limits::max_commits` of them.
    pub commits: Vec<Commit>,
    /// The true number of new changesets.
    pub total_commits: usize,
    /// Every ref the push changed, in input order.
    pub refs: Vec<RefChange>,
    /// The commit a pushed ref now points to, by full ref name, when `commits` does not
    /// hold it under the ref's new id (see [`Push::heads`](crate::event::Push::heads));
    /// read only when [`Limits::heads`] asks.
    pub heads: std::collections::BTreeMap<String, Commit>,
}

/// How much of the push to read in detail: only what some service will deliver.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Keep details (files, message, …) for at most this many of the newest changesets;
    /// 0 keeps all.
    pub max_commits: usize,
    /// When set, also build each kept changeset's patch, capped at this many lines.
    pub diff_lines: Option<usize>,
    /// Also read each pushed ref's head commit when the new changesets do not hold it
    /// (a per-ref service, GitHub's `head_commit`, reports it).
    pub heads: bool,
}

/// The short form of a changeset id used in payloads: its first 12 characters.
pub fn short_id(full: &str) -> String {
    match full.char_indices().nth(12) {
        Some((end, _)) => full[..end].to_string(),
        None => full.to_string(),
    }
}
