//! The commit each pushed ref now points to, when the push's new commits do not show it:
//! a branch or tag created at an existing commit, an annotated tag (its commit is
//! under the tag object), a tip the commit cap left out. GitHub's `head_commit` is that
//! commit; it is read here, once, so no broker reads the repository again.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Result;
use git2::Oid;

use super::input::RefUpdate;
use super::{read, to_gix};
use crate::event::Commit;

/// The head commit of every pushed ref that is not deleted and whose new value is not
/// one of `kept` (by id), by full ref name. A commit several refs point to is read once.
pub fn read_heads(
    objects: &read::Objects,
    updates: &[RefUpdate],
    tips: &[Option<Oid>],
    kept: &[Commit],
) -> Result<BTreeMap<String, Commit>> {
    let listed: HashSet<&str> = kept.iter().map(|commit| commit.raw_node.as_str()).collect();
    let mut wanted: Vec<(&RefUpdate, Oid)> = Vec::new();
    for (update, tip) in updates.iter().zip(tips) {
        let Some(tip) = *tip else { continue };
        if update.new == tip && listed.contains(tip.to_string().as_str()) {
            continue;
        }
        wanted.push((update, tip));
    }
    let mut ids: Vec<Oid> = wanted.iter().map(|(_, tip)| *tip).collect();
    ids.sort();
    ids.dedup();
    let to_read: Vec<_> = ids.iter().map(|id| (to_gix(*id), None)).collect();
    let read = read::read_commits(objects, &to_read, &Default::default())?;
    let by_id: HashMap<Oid, Commit> = ids.into_iter().zip(read).collect();
    Ok(wanted
        .into_iter()
        .filter_map(|(update, tip)| {
            let mut commit = by_id.get(&tip)?.clone();
            commit.branch = update.name.strip_prefix("refs/heads/").map(str::to_string);
            Some((update.name.clone(), commit))
        })
        .collect())
}
