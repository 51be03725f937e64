//! The walk of a push's new commits: the tips the push brought, minus what every other
//! ref and the pushed refs' old values reach, walked by [`super::walk`], libgit2, or
//! git, whichever reads the commits on the way.

use std::collections::HashSet;

use anyhow::{Context, Result};
use git2::{Oid, Repository, Sort};

use super::{RefUpdate, cli, from_gix, peel_to_commit, read, refs, to_gix, walk};

/// Every new commit of the push, oldest first (parents before children), and what the
/// walk read of them.
pub fn walk_new_commits(
    repo: &Repository,
    objects: &read::Objects,
    updates: &[RefUpdate],
    tips: &[Option<Oid>],
) -> Result<(Vec<Oid>, walk::Known)> {
    if tips.iter().all(Option::is_none) {
        return Ok(Default::default());
    }
    // Each commit once: a push of many tags names the same few over and over.
    let mut once = HashSet::new();
    let tips: Vec<Oid> = tips
        .iter()
        .flatten()
        .copied()
        .filter(|tip| once.insert(*tip))
        .collect();
    let mut hidden = Vec::new();
    for update in updates.iter().filter(|update| !update.is_create()) {
        // An old value that no longer exists or is not a commit hides nothing.
        if let Ok(Some(old)) = peel_to_commit(objects, update.old) {
            hidden.push(old);
        }
    }
    let pushed: HashSet<&str> = updates.iter().map(|update| update.name.as_str()).collect();
    if let Some(values) = refs::other_values(repo.path(), &objects.peeled, &pushed) {
        for value in values {
            if let Ok(Some(commit)) = objects.peeled.get(&objects.odb, value) {
                hidden.push(from_gix(commit));
            }
        }
    } else {
        other_refs_libgit2(repo, objects, &pushed, &mut hidden)?;
    }
    let mut once = HashSet::new();
    hidden.retain(|commit| once.insert(*commit));
    walk(repo, objects, &tips, &hidden).context("walking the pushed commits")
}

/// `tips` and what they reach, minus what `hidden` reaches, oldest first: our walk
/// ([`super::walk`], with what it read of them), libgit2's when ours cannot read a
/// commit the way libgit2 does, git's (`git rev-list`) when libgit2 refuses one too.
pub fn walk(
    repo: &Repository,
    objects: &read::Objects,
    tips: &[Oid],
    hidden: &[Oid],
) -> Result<(Vec<Oid>, walk::Known)> {
    let ids = |oids: &[Oid]| oids.iter().copied().map(to_gix).collect::<Vec<_>>();
    if let Ok((walked, known)) = walk::topological(repo.path(), objects, &ids(tips), &ids(hidden)) {
        return Ok((walked.into_iter().map(from_gix).collect(), known));
    }
    let walked =
        libgit2_walk(repo, tips, hidden).or_else(|_| cli::rev_list(repo.path(), tips, hidden))?;
    Ok((walked, walk::Known::default()))
}

/// The refs the push did not touch, peeled to commits, as libgit2 lists them: for a
/// store [`refs::other_values`] does not read.
fn other_refs_libgit2(
    repo: &Repository,
    objects: &read::Objects,
    pushed: &HashSet<&str>,
    hidden: &mut Vec<Oid>,
) -> Result<()> {
    for reference in repo.references().context("listing the repository's refs")? {
        let reference = reference.context("reading a ref")?;
        let Ok(name) = reference.name() else { continue };
        if pushed.contains(name) {
            continue;
        }
        let target = reference
            .resolve()
            .ok()
            .and_then(|resolved| resolved.target());
        if let Some(Ok(Some(commit))) = target.map(|target| peel_to_commit(objects, target)) {
            hidden.push(commit);
        }
    }
    Ok(())
}

/// libgit2's walk: fast, but it fails on a commit whose author or date it cannot parse.
fn libgit2_walk(repo: &Repository, tips: &[Oid], hidden: &[Oid]) -> Result<Vec<Oid>> {
    let mut walk = repo.revwalk().context("starting the revision walk")?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE)?;
    for tip in tips {
        walk.push(*tip)?;
    }
    for hide in hidden {
        walk.hide(*hide)?;
    }
    Ok(walk.collect::<Result<Vec<_>, _>>()?)
}
