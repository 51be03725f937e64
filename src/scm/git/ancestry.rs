//! Whether a pushed branch moved forward, answered from the walk when it can be.
//!
//! A branch update is forced when its old value is not contained in its new one. Asking
//! libgit2 (`graph_descendant_of`) walks every commit between them again, which was an
//! eighth of a 10,000-commit push's CPU. When one ref brought every new commit, each of
//! them is in its new value, so a new commit whose parent is the old value shows the old
//! value is contained: in a fast-forward the oldest new commit is one. Only the oldest
//! few are read; any other case is asked of libgit2 as before.

use git2::Oid;

use super::{from_gix, parse, read::Objects, to_gix};

/// How many of the oldest new commits are read for their parents.
const OLDEST_READ: usize = 16;

/// The parents of the push's oldest new commits, when one ref brought them all.
pub struct Boundary {
    parents: Vec<Oid>,
}

impl Boundary {
    /// `new_commits` oldest first; `one_tip` when a single pushed value reaches them all.
    pub fn new(objects: &Objects, new_commits: &[Oid], one_tip: bool) -> Boundary {
        let mut parents = Vec::new();
        if one_tip {
            let mut buffer = Vec::new();
            for oid in new_commits.iter().take(OLDEST_READ) {
                let id = to_gix(*oid);
                if objects.shallow.contains(&id) {
                    continue;
                }
                if let Ok(bytes) = parse::commit_bytes(&objects.odb, &id, &mut buffer) {
                    parents.extend(parse::commit(bytes).parents.into_iter().map(from_gix));
                }
            }
        }
        Boundary { parents }
    }

    /// True when `old` is known to be contained in the new value; false says nothing.
    pub fn contains(&self, old: Oid) -> bool {
        self.parents.contains(&old)
    }
}
