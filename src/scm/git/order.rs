//! The order of a push's new commits: grouped by the pushed branch each is attributed
//! to, in the hook's input order, then the commits no pushed branch reaches (tags, other
//! refs); within a group, git's topological order. Parents still come before their
//! children: a branch that reaches a commit reaches its parents, so a parent's branch is
//! never later in the input than its child's.

use std::collections::HashMap;

use git2::Oid;

use super::input::RefUpdate;

/// `commits` (topologically ordered, oldest first) regrouped by ref, stably (a sort of
/// runs already in order: linear for a push of one branch).
pub fn by_ref(
    mut commits: Vec<Oid>,
    updates: &[RefUpdate],
    branches: &HashMap<Oid, &str>,
) -> Vec<Oid> {
    let mut rank: HashMap<&str, usize> = HashMap::new();
    for update in updates {
        if let Some(name) = update.name.strip_prefix("refs/heads/") {
            let next = rank.len();
            rank.entry(name).or_insert(next);
        }
    }
    let last = rank.len();
    commits.sort_by_key(|oid| {
        branches
            .get(oid)
            .and_then(|name| rank.get(name).copied())
            .unwrap_or(last)
    });
    commits
}
