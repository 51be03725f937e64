//! The walk of a push's new commits: libgit2's revwalk (topological, reversed), step for
//! step, over gitoxide's object reads.
//!
//! libgit2's walk inflated every commit it passed through its own object cache, then the
//! readers ([`super::read`]) inflated them again: on a 10,000-commit push the walk was a
//! sixth of the CPU, all of it on one thread. This is the same algorithm
//! (`revwalk.c`'s `prepare_walk`, `limit_list` with its slop of 5 and
//! `sort_in_topological_order`, libgit2 1.9), so the order, and with it which commits a
//! capped payload keeps, is byte for byte what libgit2 gave; and it hands the readers
//! what it read ([`Known`]).
//!
//! It reads only commits it can read exactly as libgit2 does ([`super::quick`]): a
//! `tree` line, `parent` lines, `author` lines and a `committer` line whose date is a
//! plain number. On any other commit, a missing object, grafts, or a commit-graph in a
//! shallow repository, it gives up ([`topological`] fails) and the caller asks libgit2,
//! then git.

use std::collections::VecDeque;
use std::path::Path;

use anyhow::{Context, Result, bail};
use gix::ObjectId;

use super::parse;
use super::quick::quick_parse;
use super::read::Objects;

/// How many uninteresting commits libgit2 looks at after it runs out of interesting ones.
const SLOP: u32 = 5;

/// The bytes of commits the walk keeps for the readers ([`Known`]), at most: a push of
/// more (some 16,000 commits of 250 bytes) is read again rather than kept, memory being
/// what such a push is short of (kept, they cost a 70,000-commit push 15 MiB of its
/// peak).
const KNOWN_BYTES: usize = 4 << 20;

/// What the walk read of the commits it listed, so that the readers do not read them
/// again: each one's bytes and first parent; nothing when they are more than
/// [`KNOWN_BYTES`].
#[derive(Default)]
pub struct Known {
    bytes: Vec<u8>,
    commits: gix::hashtable::HashMap<ObjectId, KnownCommit>,
}

/// One commit the walk listed ([`Known`]).
pub struct KnownCommit {
    bytes: std::ops::Range<usize>,
    /// Its first parent and that parent's tree (`None` for a root, or a shallow
    /// repository's cut commit).
    pub first_parent: Option<(ObjectId, ObjectId)>,
}

impl Known {
    /// Commit `id`'s bytes and what the walk knows of it, when it listed it.
    pub fn get(&self, id: &ObjectId) -> Option<(&[u8], &KnownCommit)> {
        let commit = self.commits.get(id)?;
        Some((&self.bytes[commit.bytes.clone()], commit))
    }
}

/// `tips` and what they reach, minus what `hidden` reaches, oldest first (parents before
/// children): libgit2's `GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE` walk of `tips` pushed in
/// order, then `hidden` hidden in order. `git_dir` is the repository's. With them, what
/// the walk read of each ([`Known`]).
pub fn topological(
    git_dir: &Path,
    objects: &Objects,
    tips: &[ObjectId],
    hidden: &[ObjectId],
) -> Result<(Vec<ObjectId>, Known)> {
    if git_dir.join("info/grafts").exists() {
        bail!("the repository has grafts");
    }
    let graph = git_dir.join("objects/info/commit-graph");
    if !objects.shallow.is_empty() && graph.exists() {
        bail!("a shallow repository with a commit-graph");
    }
    let mut walk = Walk::new(objects);
    let input = walk.user_input(tips, hidden);
    if input.is_empty() {
        return Ok(Default::default());
    }
    let commits = walk.prepare(&input)?;
    let limited = walk.limit(commits)?;
    let sorted = walk.sort_topologically(&limited);
    let listed: Vec<u32> = sorted
        .into_iter()
        .rev()
        .filter(|&node| !walk.nodes[node as usize].uninteresting)
        .collect();
    let mut commits = gix::hashtable::HashMap::default();
    commits.reserve(listed.len());
    let ids = listed
        .iter()
        .map(|&node| walk.nodes[node as usize].id)
        .collect();
    // Every commit parsed is kept, or none (past KNOWN_BYTES).
    let Some(bytes) = walk.bytes.take() else {
        return Ok((ids, Known::default()));
    };
    for &node in &listed {
        let entry = &walk.nodes[node as usize];
        let first_parent = (entry.parent_count > 0).then(|| {
            let parent = &walk.nodes[walk.parent(node, 0) as usize];
            (parent.id, parent.tree)
        });
        let kept = entry.bytes.0 as usize..entry.bytes.1 as usize;
        commits.insert(
            entry.id,
            KnownCommit {
                bytes: kept,
                first_parent,
            },
        );
    }
    Ok((ids, Known { bytes, commits }))
}

/// One commit the walk has met (libgit2's `git_commit_list_node`).
struct Node {
    id: ObjectId,
    /// Its tree and where its bytes are in [`Walk::bytes`], once parsed.
    tree: ObjectId,
    bytes: (u32, u32),
    /// The committer's date, once parsed.
    time: i64,
    /// Where its parents are in [`Walk::parents`], once parsed.
    first_parent: u32,
    parent_count: u32,
    parsed: bool,
    seen: bool,
    uninteresting: bool,
    added: bool,
    in_degree: u32,
}

struct Walk<'o> {
    objects: &'o Objects,
    nodes: Vec<Node>,
    index: gix::hashtable::HashMap<ObjectId, u32>,
    parents: Vec<u32>,
    buffer: Vec<u8>,
    parent_ids: Vec<ObjectId>,
    /// The bytes of every commit parsed, one after the other; `None` once they would be
    /// more than [`KNOWN_BYTES`].
    bytes: Option<Vec<u8>>,
}

impl<'o> Walk<'o> {
    fn new(objects: &'o Objects) -> Walk<'o> {
        Walk {
            objects,
            nodes: Vec::new(),
            index: Default::default(),
            parents: Vec::new(),
            buffer: Vec::new(),
            parent_ids: Vec::new(),
            bytes: Some(Vec::new()),
        }
    }

    /// The node for `id`, made when it is met first (`git_revwalk__commit_lookup`).
    fn lookup(&mut self, id: ObjectId) -> u32 {
        let next = self.nodes.len() as u32;
        let node = *self.index.entry(id).or_insert(next);
        if node == next {
            self.nodes.push(Node {
                id,
                tree: ObjectId::null(gix::hash::Kind::Sha1),
                bytes: (0, 0),
                time: 0,
                first_parent: 0,
                parent_count: 0,
                parsed: false,
                seen: false,
                uninteresting: false,
                added: false,
                in_degree: 0,
            });
        }
        node
    }

    fn node(&mut self, node: u32) -> &mut Node {
        &mut self.nodes[node as usize]
    }

    /// Node `node`'s `i`th parent.
    fn parent(&self, node: u32, i: u32) -> u32 {
        self.parents[(self.nodes[node as usize].first_parent + i) as usize]
    }

    fn parent_count(&self, node: u32) -> u32 {
        self.nodes[node as usize].parent_count
    }

    /// The pushes and hides as libgit2 keeps them (`user_input`): each one put in front,
    /// a push of a hidden commit ignored, a hide of a pushed one marking it and listed
    /// again. Empty when nothing was pushed.
    fn user_input(&mut self, tips: &[ObjectId], hidden: &[ObjectId]) -> Vec<u32> {
        let mut input = Vec::with_capacity(tips.len() + hidden.len());
        for &tip in tips {
            let node = self.lookup(tip);
            if !self.node(node).uninteresting {
                input.push(node);
            }
        }
        if input.is_empty() {
            return input;
        }
        for &hide in hidden {
            let node = self.lookup(hide);
            if !self.node(node).uninteresting {
                self.node(node).uninteresting = true;
                input.push(node);
            }
        }
        input.reverse();
        input
    }

    /// `prepare_walk`: each input commit parsed, a hidden one's ancestors marked, each
    /// listed once in input order.
    fn prepare(&mut self, input: &[u32]) -> Result<VecDeque<u32>> {
        let mut commits = VecDeque::with_capacity(input.len());
        for &node in input {
            self.parse(node)?;
            if self.node(node).uninteresting {
                self.mark_parents_uninteresting(node);
            }
            if !self.node(node).seen {
                self.node(node).seen = true;
                commits.push_back(node);
            }
        }
        Ok(commits)
    }

    /// Reads node `node`'s date and parents (`git_commit_list_parse`), once.
    fn parse(&mut self, node: u32) -> Result<()> {
        if self.nodes[node as usize].parsed {
            return Ok(());
        }
        let id = self.nodes[node as usize].id;
        let mut ids = std::mem::take(&mut self.parent_ids);
        let bytes = parse::commit_bytes(&self.objects.odb, &id, &mut self.buffer)?;
        let (tree, time) = quick_parse(bytes, &mut ids).with_context(|| format!("walking {id}"))?;
        let mut kept = (0, 0);
        if let Some(all) = &mut self.bytes {
            match all.len() + bytes.len() <= KNOWN_BYTES {
                true => {
                    kept.0 = all.len() as u32;
                    all.extend_from_slice(bytes);
                    kept.1 = all.len() as u32;
                }
                false => self.bytes = None,
            }
        }
        if self.objects.shallow.contains(&id) {
            ids.clear();
        }
        let first_parent = self.parents.len() as u32;
        for &parent in &ids {
            let parent = self.lookup(parent);
            self.parents.push(parent);
        }
        let entry = self.node(node);
        entry.tree = tree;
        entry.bytes = kept;
        entry.time = time;
        entry.first_parent = first_parent;
        entry.parent_count = ids.len() as u32;
        entry.parsed = true;
        self.parent_ids = ids;
        Ok(())
    }

    /// `mark_parents_uninteresting`: marks what `node` reaches, down first parents, until
    /// a commit already marked or not read yet.
    fn mark_parents_uninteresting(&mut self, node: u32) {
        let mut stack: Vec<u32> = (0..self.parent_count(node))
            .map(|i| self.parent(node, i))
            .collect();
        while let Some(mut commit) = stack.pop() {
            loop {
                let entry = self.node(commit);
                if entry.uninteresting {
                    break;
                }
                entry.uninteresting = true;
                if !entry.parsed {
                    break;
                }
                let count = entry.parent_count;
                stack.extend((0..count).map(|i| self.parent(commit, i)));
                match count {
                    0 => break,
                    _ => commit = self.parent(commit, 0),
                }
            }
        }
    }

    /// `add_parents_to_list`: puts `node`'s parents on `list` by date, once per node.
    fn add_parents(&mut self, node: u32, list: &mut VecDeque<u32>) -> Result<()> {
        if self.node(node).added {
            return Ok(());
        }
        self.node(node).added = true;
        let hidden = self.node(node).uninteresting;
        for i in 0..self.parent_count(node) {
            let parent = self.parent(node, i);
            if hidden {
                self.node(parent).uninteresting = true;
                self.parse(parent)?;
                self.mark_parents_uninteresting(parent);
                self.node(parent).seen = true;
                self.insert_by_date(parent, list);
            } else {
                self.parse(parent)?;
                if !self.node(parent).seen {
                    self.node(parent).seen = true;
                    self.insert_by_date(parent, list);
                }
            }
        }
        Ok(())
    }

    /// `git_commit_list_insert_by_date`: before the first entry older than `node`.
    fn insert_by_date(&self, node: u32, list: &mut VecDeque<u32>) {
        let time = self.nodes[node as usize].time;
        match list
            .iter()
            .position(|&entry| self.nodes[entry as usize].time < time)
        {
            Some(at) => list.insert(at, node),
            None => list.push_back(node),
        }
    }

    /// `still_interesting`: the slop left after an uninteresting commit.
    fn still_interesting(&self, list: &VecDeque<u32>, time: i64, slop: u32) -> u32 {
        let Some(&head) = list.front() else {
            return 0;
        };
        if time <= self.nodes[head as usize].time {
            return SLOP;
        }
        let interesting = list.iter().any(|&entry| {
            let entry = &self.nodes[entry as usize];
            !entry.uninteresting || entry.time > time
        });
        match interesting {
            true => SLOP,
            false => slop - 1,
        }
    }

    /// `limit_list`: the interesting commits, newest first by date as they come off the
    /// list, until only uninteresting ones are left for [`SLOP`] rounds.
    fn limit(&mut self, mut list: VecDeque<u32>) -> Result<Vec<u32>> {
        let mut slop = SLOP;
        let mut time = i64::MAX;
        let mut kept = Vec::new();
        while let Some(commit) = list.pop_front() {
            self.add_parents(commit, &mut list)?;
            if self.node(commit).uninteresting {
                self.mark_parents_uninteresting(commit);
                slop = self.still_interesting(&list, time, slop);
                match slop {
                    0 => break,
                    _ => continue,
                }
            }
            time = self.node(commit).time;
            kept.push(commit);
        }
        Ok(kept)
    }

    /// `sort_in_topological_order`, without time sorting: children before parents, tips
    /// in the order they came.
    fn sort_topologically(&mut self, list: &[u32]) -> Vec<u32> {
        for &node in list {
            self.node(node).in_degree = 1;
        }
        for &node in list {
            for i in 0..self.parent_count(node) {
                let parent = self.parent(node, i);
                if self.node(parent).in_degree != 0 {
                    self.node(parent).in_degree += 1;
                }
            }
        }
        let mut queue: Vec<u32> = list
            .iter()
            .copied()
            .filter(|&node| self.nodes[node as usize].in_degree == 1)
            .collect();
        queue.reverse();
        let mut sorted = Vec::with_capacity(list.len());
        while let Some(next) = queue.pop() {
            for i in 0..self.parent_count(next) {
                let parent = self.parent(next, i);
                let entry = self.node(parent);
                if entry.in_degree == 0 {
                    continue;
                }
                entry.in_degree -= 1;
                if entry.in_degree == 1 {
                    queue.push(parent);
                }
            }
            self.node(next).in_degree = 0;
            sorted.push(next);
        }
        sorted
    }
}

#[cfg(test)]
mod tests;
