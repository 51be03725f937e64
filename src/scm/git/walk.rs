//! The walk of a push's new commits: libgit2's revwalk (topological, reversed), step for
//! step, over gitoxide's object reads.
//!
//! libgit2's walk inflated every commit it passed through its own object cache, then the
//! readers ([`super::read`]) inflated them again: on a 10,000-commit push the walk was a
//! sixth of the CPU, all of it on one thread. This is the same algorithm
//! (`revwalk.c`'s `prepare_walk`, `limit_list` with its slop of 5 and
//! `sort_in_topological_order`, libgit2 1.9), so the order, and with it which commits a
//! capped payload keeps, is byte for byte what libgit2 gave.
//!
//! It reads only commits it can read exactly as libgit2 does: a `tree` line, `parent`
//! lines, `author` lines and a `committer` line whose date is a plain number. On any
//! other commit, a missing object, grafts, or a commit-graph in a shallow repository, it
//! gives up ([`topological`] fails) and the caller asks libgit2, then git.

use std::collections::VecDeque;
use std::path::Path;

use anyhow::{Context, Result, bail};
use gix::ObjectId;

use super::parse;
use super::read::Objects;

/// How many uninteresting commits libgit2 looks at after it runs out of interesting ones.
const SLOP: u32 = 5;

/// A commit-graph keeps 34 bits of a commit's date; libgit2 reads it from there when one
/// exists. Later dates (the year 2514 on) are left to libgit2.
const GRAPH_DATE_LIMIT: i64 = 1 << 34;

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
    if listed
        .iter()
        .any(|&node| walk.nodes[node as usize].bytes.1 == 0)
    {
        return Ok((ids, Known::default())); // past KNOWN_BYTES
    }
    for &node in &listed {
        let entry = &walk.nodes[node as usize];
        let first_parent = (entry.parent_count > 0).then(|| {
            let parent = &walk.nodes[walk.parent(node, 0) as usize];
            (parent.id, parent.tree)
        });
        let bytes = entry.bytes.0 as usize..entry.bytes.1 as usize;
        commits.insert(
            entry.id,
            KnownCommit {
                bytes,
                first_parent,
            },
        );
    }
    let known = Known {
        bytes: walk.bytes,
        commits,
    };
    Ok((ids, known))
}

/// One commit the walk has met (libgit2's `git_commit_list_node`).
struct Node {
    id: ObjectId,
    /// Its tree and where its bytes are in [`Walk::bytes`] (`(0, 0)`: not kept), once
    /// parsed.
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
    /// The bytes of every commit parsed, one after the other, until they are more than
    /// [`KNOWN_BYTES`] (`full`).
    bytes: Vec<u8>,
    full: bool,
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
            bytes: Vec::new(),
            full: false,
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
        let start = self.bytes.len();
        let kept = match start + bytes.len() <= KNOWN_BYTES && !self.full {
            true => {
                self.bytes.extend_from_slice(bytes);
                (start as u32, self.bytes.len() as u32)
            }
            false => {
                self.full = true;
                self.bytes = Vec::new();
                (0, 0)
            }
        };
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

/// A commit's tree, parents (into `parents`) and committer date, read as libgit2's quick
/// parse reads them; a commit it would read differently, or refuse, is an error.
fn quick_parse(data: &[u8], parents: &mut Vec<ObjectId>) -> Result<(ObjectId, i64)> {
    parents.clear();
    let mut rest = data;
    let mut next_line = || -> Result<&[u8]> {
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .context("a header without a newline")?;
        let line = &rest[..end];
        rest = &rest[end + 1..];
        Ok(line)
    };
    let tree = next_line()?;
    let tree = tree
        .strip_prefix(b"tree ")
        .and_then(hex_id)
        .context("no tree line")?;
    let mut line = next_line()?;
    while let Some(hex) = line.strip_prefix(b"parent ") {
        parents.push(hex_id(hex).context("a parent line that names no commit")?);
        line = next_line()?;
    }
    let mut authors = 0;
    while let Some(author) = line.strip_prefix(b"author ") {
        signature_time(author).context("an author line libgit2 reads differently")?;
        authors += 1;
        line = next_line()?;
    }
    let committer = line.strip_prefix(b"committer ");
    match (authors, committer.and_then(signature_time)) {
        (0, _) => bail!("no author line"),
        (_, None) => bail!("no committer line libgit2 reads the same"),
        (_, Some(time)) => Ok((tree, time)),
    }
}

/// A 40-digit hexadecimal object id, alone.
fn hex_id(hex: &[u8]) -> Option<ObjectId> {
    match hex.len() == 40 && hex.iter().all(u8::is_ascii_hexdigit) {
        true => ObjectId::from_hex(hex).ok(),
        false => None,
    }
}

/// The date of `Name <email> 1795770000 +0100`, when libgit2 reads the same date from it
/// (`git_signature__parse`: after the last `>`, which follows the last `<`).
fn signature_time(value: &[u8]) -> Option<i64> {
    let open = value.iter().rposition(|&b| b == b'<')?;
    let close = value.iter().rposition(|&b| b == b'>')?;
    if close <= open || value.get(close + 1) != Some(&b' ') {
        return None;
    }
    let date = &value[close + 2..];
    let digits = date.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 11 {
        return None;
    }
    let time: i64 = std::str::from_utf8(&date[..digits]).ok()?.parse().ok()?;
    (time < GRAPH_DATE_LIMIT).then_some(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";
    const PARENT: &str = "parent 0123456789012345678901234567890123456789\n";

    fn parse(text: &str) -> Result<(i64, usize)> {
        let mut parents = Vec::new();
        quick_parse(text.as_bytes(), &mut parents).map(|(_, time)| (time, parents.len()))
    }

    /// A random history: commits with up to three parents and dates that jump back and
    /// forth (clock skew is what libgit2's slop is for), some equal.
    fn random_history(repo: &git2::Repository, count: usize, seed: &mut u64) -> Vec<git2::Oid> {
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let mut commits: Vec<git2::Oid> = Vec::new();
        for i in 0..count {
            let parent_count = match next(seed) % 10 {
                0 => 0,
                1..=6 => 1,
                7 | 8 => 2,
                _ => 3,
            };
            let mut parents = Vec::new();
            for _ in 0..parent_count.min(i) {
                let back = 1 + (next(seed) % 8).min(i as u64 - 1) as usize;
                let back = match next(seed) % 5 {
                    0 => 1 + (next(seed) as usize % i),
                    _ => back,
                };
                parents.push(repo.find_commit(commits[i - back]).unwrap());
            }
            let time = 1_000_000 + 10 * i as i64 + (next(seed) % 1000) as i64 - 500;
            let time = match next(seed) % 7 {
                0 => 1_000_000,
                _ => time,
            };
            let sig = git2::Signature::new("A", "a@x", &git2::Time::new(time, 0)).unwrap();
            let parents: Vec<&git2::Commit> = parents.iter().collect();
            let message = format!("c{i}");
            commits.push(
                repo.commit(None, &sig, &sig, &message, &tree, &parents)
                    .unwrap(),
            );
        }
        commits
    }

    fn next(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    #[test]
    fn the_walk_is_libgit2s_commit_for_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let mut seed = 0x9e37_79b9_7f4a_7c15;
        let commits = random_history(&repo, 300, &mut seed);
        let objects = super::super::read::open_objects(repo.path()).unwrap();
        let gix = |oid: &git2::Oid| ObjectId::try_from(oid.as_bytes()).unwrap();
        for round in 0..400 {
            let pick = |seed: &mut u64, most: u64| -> Vec<git2::Oid> {
                (0..next(seed) % (most + 1))
                    .map(|_| commits[next(seed) as usize % commits.len()])
                    .collect()
            };
            let mut tips = pick(&mut seed, 4);
            tips.push(commits[commits.len() - 1 - next(&mut seed) as usize % 20]);
            let hidden = pick(&mut seed, 6);
            let mut walk = repo.revwalk().unwrap();
            walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
                .unwrap();
            tips.iter().for_each(|tip| walk.push(*tip).unwrap());
            hidden.iter().for_each(|hide| walk.hide(*hide).unwrap());
            let libgit2: Vec<ObjectId> = walk.map(|oid| gix(&oid.unwrap())).collect();
            let ours = topological(
                repo.path(),
                &objects,
                &tips.iter().map(gix).collect::<Vec<_>>(),
                &hidden.iter().map(gix).collect::<Vec<_>>(),
            )
            .unwrap();
            assert_eq!(
                ours.0, libgit2,
                "round {round}: tips {tips:?} hidden {hidden:?}"
            );
            for id in &ours.0 {
                let (bytes, known) = ours.1.get(id).expect("every listed commit is known");
                let commit = repo.find_commit(git2::Oid::from_bytes(id.as_bytes()).unwrap());
                let commit = commit.unwrap();
                assert_eq!(bytes, repo.odb().unwrap().read(commit.id()).unwrap().data());
                let parent = commit.parents().next();
                let parent = parent.map(|parent| (gix(&parent.id()), gix(&parent.tree_id())));
                assert_eq!(known.first_parent, parent);
            }
        }
    }

    #[test]
    fn a_clean_commit_reads_its_committer_date_and_parents() {
        let commit = format!(
            "{TREE}{PARENT}{PARENT}author A <a@x> 1 +0000\ncommitter C <c@x> 1795770000 +0100\n\nmsg"
        );
        assert_eq!(parse(&commit).unwrap(), (1795770000, 2));
    }

    #[test]
    fn commits_libgit2_reads_otherwise_are_left_to_it() {
        for commit in [
            format!("{TREE}committer C <c@x> 5 +0000\n\n"),
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x>\n\n"),
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> -5 +0000\n\n"),
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C c@x 5 +0000\n\n"),
            format!("{TREE}author A a@x 1 +0000\ncommitter C <c@x> 5 +0000\n\n"),
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 99999999999 +0000\n\n"),
            format!("{TREE}parent 0123\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 5 +0000\n\n"),
            format!("{TREE}author A <a@x> 1 +0000\nencoding x\ncommitter C <c@x> 5 +0000\n\n"),
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 5 +0000"),
            "tree xyz\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 5 +0000\n\n".to_string(),
        ] {
            assert!(parse(&commit).is_err(), "read {commit:?}");
        }
    }
}
