//! Git: post-receive input to new commits and ref changes, with one revwalk.
//!
//! The rule (SPEC "Which changesets are new", git-multimail's): a commit is new when some
//! pushed ref's new value reaches it and no ref reached it before the push, that is the
//! old values of the pushed refs and the current values of every ref the push did not
//! touch, in any namespace. Each new commit is listed once, attributed to the first
//! pushed branch that reaches it, and listed with that branch's commits ([`order`]).
//!
//! Whatever `git log` shows is read: objects are read with gitoxide and their headers
//! by [`parse`], which refuses nothing; the walk is libgit2's algorithm ([`walk`]), with
//! libgit2 itself when a commit on the way is not one [`walk`] reads as libgit2 does,
//! and git's own (`git rev-list`, [`cli`]) when libgit2 refuses it. A commit that still
//! cannot be read is listed marked unreadable, and the push is delivered.

mod ancestry;
mod cli;
mod commit;
mod heads;
pub mod input;
mod new_commits;
mod order;
mod parse;
mod patch;
mod quick;
mod read;
mod refs;
mod tree_diff;
mod walk;

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};
use git2::{Oid, Repository};

pub use input::RefUpdate;

use super::{Changes, Limits};
use crate::event::{RefChange, RefKind};

/// Reads the push described by `updates` out of `repo`.
pub fn collect(repo: &Repository, updates: &[RefUpdate], limits: Limits) -> Result<Changes> {
    collect_known(repo, updates, limits, None)
}

/// As [`collect`], with the push's new commits given (oldest first) instead of walked:
/// a push spooled raw is rebuilt from the commits that were new when it happened,
/// whatever refs moved since.
pub fn collect_known(
    repo: &Repository,
    updates: &[RefUpdate],
    limits: Limits,
    known: Option<&[Oid]>,
) -> Result<Changes> {
    let objects = read::open_objects(repo.path())?;
    let tips = tips(&objects, updates)?;
    let (new_commits, walked) = match known {
        Some(known) => (known.to_vec(), walk::Known::default()),
        None => new_commits::walk_new_commits(repo, &objects, updates, &tips)?,
    };
    let boundary =
        ancestry::Boundary::new(&objects, &new_commits, tips.iter().flatten().count() == 1);
    let mut refs = updates
        .iter()
        .zip(&tips)
        .map(|(update, tip)| ref_change(repo, &objects, update, *tip, &boundary))
        .collect::<Result<Vec<_>>>()?;
    walk_discarded(repo, &objects, updates, &tips, &mut refs);
    let branches = attribute_branches(&objects, updates, &tips, &new_commits);
    let total_commits = new_commits.len();
    let keep = match limits.max_commits {
        0 => total_commits,
        cap => cap.min(total_commits),
    };
    // The newest `keep` in git's topological order, then grouped by ref.
    let kept = order::by_ref(
        new_commits[total_commits - keep..].to_vec(),
        updates,
        &branches,
    );
    let wanted: Vec<(gix::ObjectId, Option<&str>)> = kept
        .iter()
        .map(|oid| (to_gix(*oid), branches.get(oid).copied()))
        .collect();
    let mut commits = read::read_commits(&objects, &wanted, &walked)?;
    drop(walked);
    let heads = match limits.heads {
        true => heads::read_heads(&objects, updates, &tips, &commits)?,
        false => Default::default(),
    };
    if let Some(cap) = limits.diff_lines {
        for (commit, (id, _)) in commits.iter_mut().zip(&wanted) {
            commit.hidden.diff = Some(patch::patch(repo, &objects, *id, cap));
        }
    }
    Ok(Changes {
        commits,
        total_commits,
        refs,
        heads,
    })
}

/// `id` in hexadecimal, as `to_string` writes it, without the formatting machinery
/// (three ids a changeset, two a ref: 30,000 on a 10,000-commit push).
fn hex(id: &gix::oid) -> String {
    let mut digits = [0u8; 64];
    id.hex_to_buf(&mut digits).to_string()
}

/// The same object id, as gitoxide spells it.
fn to_gix(oid: Oid) -> gix::ObjectId {
    gix::ObjectId::try_from(oid.as_bytes()).expect("a SHA-1 from libgit2 is 20 bytes")
}

/// The same object id, as libgit2 spells it.
fn from_gix(id: gix::ObjectId) -> Oid {
    Oid::from_bytes(id.as_bytes()).expect("a SHA-1 from gitoxide is 20 bytes")
}

/// The push's new commits, oldest first: what a raw spool entry keeps of them.
pub fn new_commit_ids(repo: &Repository, updates: &[RefUpdate]) -> Result<Vec<Oid>> {
    let objects = read::open_objects(repo.path())?;
    let tips = tips(&objects, updates)?;
    let (ids, _) = new_commits::walk_new_commits(repo, &objects, updates, &tips)?;
    Ok(ids)
}

/// The commit each pushed ref's new value peels to, when it names a commit at all.
fn tips(objects: &read::Objects, updates: &[RefUpdate]) -> Result<Vec<Option<Oid>>> {
    updates
        .iter()
        .map(|update| match update.is_delete() {
            true => Ok(None),
            false => peel_to_commit(objects, update.new)
                .with_context(|| format!("reading {} of {}", update.new, update.name)),
        })
        .collect()
}

/// The ref `HEAD` names (`refs/heads/main`); `None` for a detached `HEAD`.
pub fn head_target(repo: &Repository) -> Option<String> {
    let head = repo.find_reference("HEAD").ok()?;
    head.symbolic_target().ok().flatten().map(str::to_string)
}

/// The commit an object id peels to; `None` for a tag on a tree or blob. (Read with
/// gitoxide: libgit2 parses the commit to find it, and refuses some that git shows.)
fn peel_to_commit(objects: &read::Objects, oid: Oid) -> Result<Option<Oid>> {
    Ok(objects.peeled.get(&objects.odb, to_gix(oid))?.map(from_gix))
}

/// Whether `new` contains `old`: libgit2's answer, git's when libgit2 cannot read the
/// commits between them.
fn contains(repo: &Repository, new: Oid, old: Oid) -> Result<bool> {
    repo.graph_descendant_of(new, old)
        .or_else(|_| cli::is_ancestor(repo.path(), old, new))
}

fn ref_change(
    repo: &Repository,
    objects: &read::Objects,
    update: &RefUpdate,
    new_commit: Option<Oid>,
    boundary: &ancestry::Boundary,
) -> Result<RefChange> {
    let (kind, name) = if let Some(name) = update.name.strip_prefix("refs/heads/") {
        (RefKind::Branch, name)
    } else if let Some(name) = update.name.strip_prefix("refs/tags/") {
        (RefKind::Tag, name)
    } else {
        (RefKind::Other, update.name.as_str())
    };
    let forced = match (update.is_create() || update.is_delete(), new_commit) {
        (false, Some(new)) => match peel_to_commit(objects, update.old) {
            // The old value is gone (pruned): nothing shows it is contained.
            Err(_) => true,
            Ok(Some(old)) => {
                old != new
                    && !boundary.contains(old)
                    && !contains(repo, new, old)
                        .with_context(|| format!("comparing old and new {}", update.name))?
            }
            Ok(None) => false,
        },
        _ => false,
    };
    Ok(RefChange {
        refname: update.name.clone(),
        name: name.to_string(),
        kind,
        old: (!update.is_create()).then(|| hex(&to_gix(update.old))),
        new: (!update.is_delete()).then(|| hex(&to_gix(update.new))),
        created: update.is_create(),
        deleted: update.is_delete(),
        forced,
        discarded: None,
    })
}

/// Fills in what each forced or deleted branch lost ([`RefChange::discarded`]): a forced
/// update's commits that the old value reaches and the new one does not (the newest
/// 100 read, all counted), a deletion's old tip. Only forced and deleted branches pay
/// for a walk; a ref whose old value cannot be read or walked lists nothing.
fn walk_discarded(
    repo: &Repository,
    objects: &read::Objects,
    updates: &[RefUpdate],
    tips: &[Option<Oid>],
    refs: &mut [RefChange],
) {
    const LISTED: usize = 100;
    for ((update, tip), change) in updates.iter().zip(tips).zip(refs.iter_mut()) {
        if change.kind != RefKind::Branch || !(change.forced || change.deleted) {
            continue;
        }
        let Ok(Some(old)) = peel_to_commit(objects, update.old) else {
            continue;
        };
        let ids = match tip {
            None => vec![old],
            Some(new) => match new_commits::walk(repo, objects, &[old], &[*new]) {
                Ok((ids, _)) => ids,
                Err(_) => continue,
            },
        };
        let mut buffer = Vec::new();
        let commits = ids[ids.len().saturating_sub(LISTED)..]
            .iter()
            .map(|oid| {
                let summary = match parse::commit_bytes(&objects.odb, &to_gix(*oid), &mut buffer) {
                    Ok(bytes) => {
                        let raw = parse::commit(bytes);
                        let start =
                            &raw.message[..raw.message.len().min(crate::text::FIRST_LINE_SCAN)];
                        crate::text::first_line(&crate::text::decode(start, raw.encoding), 200)
                    }
                    Err(_) => "(unreadable commit)".to_string(),
                };
                crate::event::DiscardedCommit {
                    node: super::short_id(&oid.to_string()),
                    raw_node: oid.to_string(),
                    summary,
                }
            })
            .collect();
        change.discarded = Some(crate::event::Discarded {
            commits,
            total: ids.len(),
        });
    }
}

/// The first pushed branch (in input order) that reaches each new commit. Commits that
/// only a tag or another ref reaches have no entry.
fn attribute_branches<'u>(
    objects: &read::Objects,
    updates: &'u [RefUpdate],
    tips: &[Option<Oid>],
    new_commits: &[Oid],
) -> HashMap<Oid, &'u str> {
    let branch_tips: Vec<(&str, Oid)> = updates
        .iter()
        .zip(tips)
        .filter_map(|(update, tip)| {
            let name = update.name.strip_prefix("refs/heads/")?;
            Some((name, (*tip)?))
        })
        .collect();
    let mut branches = HashMap::with_capacity(new_commits.len());
    let reaching = tips.iter().flatten().count();
    if let ([(name, _)], 1) = (branch_tips.as_slice(), reaching) {
        // One ref brought every new commit, and it is a branch: no graph to read.
        branches.extend(new_commits.iter().map(|oid| (*oid, *name)));
        return branches;
    }
    let is_new: HashSet<Oid> = new_commits.iter().copied().collect();
    let mut buffer = Vec::new();
    for (name, tip) in branch_tips {
        let mut stack = vec![tip];
        while let Some(oid) = stack.pop() {
            if !is_new.contains(&oid) || branches.contains_key(&oid) {
                continue;
            }
            branches.insert(oid, name);
            // A commit that cannot be read is listed unreadable; what only it leads to
            // gets its branch from another path, or none.
            if let Ok(bytes) = parse::commit_bytes(&objects.odb, &to_gix(oid), &mut buffer) {
                stack.extend(parse::commit(bytes).parents.into_iter().map(from_gix));
            }
        }
    }
    branches
}

/// A test event's changes: the tip of the default branch (what `HEAD` names) as one
/// changeset on that branch, its parent as the old value.
pub fn tip_of_default_branch(repo: &Repository) -> Result<Changes> {
    let head = repo.find_reference("HEAD").context("reading HEAD")?;
    let refname = head_target(repo).unwrap_or_else(|| "HEAD".to_string());
    let no_commits = || format!("the default branch {refname} has no commits yet");
    let target = head
        .resolve()
        .ok()
        .and_then(|reference| reference.target())
        .with_context(no_commits)?;
    let objects = read::open_objects(repo.path())?;
    let tip = peel_to_commit(&objects, target)?.with_context(no_commits)?;
    let name = refname
        .strip_prefix("refs/heads/")
        .unwrap_or(&refname)
        .to_string();
    let commit =
        commit::CommitReader::new(objects.clone()).read_or_mark(to_gix(tip), Some(name.clone()));
    // A shallow repository's cut commit has no parent here, as its changeset says.
    let parent = match objects.shallow.contains(&to_gix(tip)) {
        true => None,
        false => {
            let mut buffer = Vec::new();
            parse::commit_bytes(&objects.odb, &to_gix(tip), &mut buffer)
                .ok()
                .and_then(|bytes| parse::commit(bytes).parents.first().copied())
                .map(from_gix)
        }
    };
    Ok(Changes {
        commits: vec![commit],
        total_commits: 1,
        refs: vec![RefChange {
            refname: refname.clone(),
            name,
            kind: RefKind::Branch,
            old: parent.map(|oid| oid.to_string()),
            new: Some(tip.to_string()),
            created: parent.is_none(),
            deleted: false,
            forced: false,
            discarded: None,
        }],
        heads: Default::default(),
    })
}
