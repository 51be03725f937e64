//! The repository's refs as the new-commit walk needs them: each ref's value peeled to
//! the commit it names, each object peeled once.
//!
//! A push of many tags names the same few commits over and over, and the walk peels
//! every ref of the repository that the push did not touch. So: each object is read once
//! ([`Peeled::get`]); an annotated tag that `packed-refs` lists with its peeled value (the
//! `^` line under it, in a file marked `fully-peeled`) is not read at all; and the refs
//! are listed from `packed-refs` and the loose files under `refs/` ([`other_values`]),
//! reading no loose file of a pushed ref (receive-pack leaves each pushed ref loose).
//! A store this does not read (reftable, a worktree's, a symbolic ref under `refs/`) is
//! listed by libgit2 instead.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use anyhow::Result;
use gix::ObjectId;

use super::parse;

/// What `packed-refs` holds: each ref and its value, and each tag's peeled value.
#[derive(Default)]
pub struct Packed {
    refs: Vec<(String, ObjectId)>,
    /// Tag objects to the object `packed-refs` says they peel to (`fully-peeled` only).
    peeled: gix::hashtable::HashMap<ObjectId, ObjectId>,
}

/// What each object peels to, as far as read.
pub struct Peeled {
    packed_refs: PathBuf,
    packed: OnceLock<Packed>,
    seen: Mutex<gix::hashtable::HashMap<ObjectId, Option<ObjectId>>>,
}

impl Peeled {
    /// Nothing peeled yet, for the repository whose `$GIT_DIR` is `git_dir`.
    pub fn new(git_dir: &Path) -> Peeled {
        Peeled {
            packed_refs: git_dir.join("packed-refs"),
            packed: OnceLock::new(),
            seen: Mutex::new(Default::default()),
        }
    }

    /// `packed-refs`, read once.
    fn packed(&self) -> &Packed {
        self.packed.get_or_init(|| read_packed(&self.packed_refs))
    }

    /// The commit `id` peels to; `None` for a tree or a blob (or a tag on one).
    pub fn get(&self, odb: &gix::odb::Handle, id: ObjectId) -> Result<Option<ObjectId>> {
        if let Some(known) = self.lock().get(&id) {
            return Ok(*known);
        }
        let start = self.packed().peeled.get(&id).copied().unwrap_or(id);
        // Ten thousand tags on the same few commits: each commit's header read once.
        let peeled = self.lock().get(&start).copied();
        let commit = match peeled {
            Some(commit) => commit,
            None => parse::peel_to_commit(odb, start)?,
        };
        let mut seen = self.lock();
        seen.insert(id, commit);
        seen.insert(start, commit);
        Ok(commit)
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, gix::hashtable::HashMap<ObjectId, Option<ObjectId>>> {
        // A panic elsewhere leaves the map as it was: still right.
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The value of every ref under `refs/` but those named in `skip`, a loose ref
/// overriding its packed entry; `None` when the store is not one this reads (the caller
/// asks libgit2). A loose file that is no ref (a `.lock`, a name that is not UTF-8, a
/// value that does not read) is passed over, as libgit2 passes over names it cannot read.
pub fn other_values(
    git_dir: &Path,
    peeled: &Peeled,
    skip: &HashSet<&str>,
) -> Option<Vec<ObjectId>> {
    if git_dir.join("commondir").exists() || git_dir.join("reftable").exists() {
        return None;
    }
    let mut values = Vec::new();
    let mut loose = HashSet::new();
    let mut pending = vec![(git_dir.join("refs"), "refs".to_string())];
    while let Some((dir, name)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            let full = format!("{name}/{file_name}");
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push((entry.path(), full)),
                Ok(kind) if kind.is_file() && !file_name.ends_with(".lock") => {
                    if !skip.contains(full.as_str()) {
                        let text = std::fs::read(entry.path()).ok()?;
                        if text.starts_with(b"ref:") {
                            return None;
                        }
                        if let Some(value) =
                            text.get(..40).and_then(|hex| ObjectId::from_hex(hex).ok())
                        {
                            values.push((full.clone(), value));
                        }
                    }
                    loose.insert(full);
                }
                _ => {}
            }
        }
    }
    // In libgit2's order: the loose refs by name, then the packed ones.
    values.sort_unstable();
    let mut values: Vec<ObjectId> = values.into_iter().map(|(_, value)| value).collect();
    for (name, value) in &peeled.packed().refs {
        if !loose.contains(name) && !skip.contains(name.as_str()) {
            values.push(*value);
        }
    }
    Some(values)
}

/// `packed-refs`: its refs, and the `^` lines of a `fully-peeled` file. No file, or a
/// line that does not read, is nothing (the objects are read instead).
fn read_packed(path: &Path) -> Packed {
    let mut packed = Packed::default();
    let Ok(text) = std::fs::read(path) else {
        return packed;
    };
    let mut lines = text.split(|&b| b == b'\n').peekable();
    let fully = lines.peek().is_some_and(|header| {
        header.starts_with(b"# pack-refs with:")
            && header
                .split(|&b| b == b' ')
                .any(|word| word == b"fully-peeled")
    });
    let mut last = None;
    for line in lines {
        if line.starts_with(b"#") {
            continue;
        }
        if let Some(hex) = line.strip_prefix(b"^") {
            if let (true, Some(tag), Ok(target)) = (fully, last.take(), ObjectId::from_hex(hex)) {
                packed.peeled.insert(tag, target);
            }
            continue;
        }
        last = None;
        let (Some(hex), Some(name)) = (line.get(..40), line.get(41..)) else {
            continue;
        };
        if let (Ok(value), Ok(name)) = (ObjectId::from_hex(hex), std::str::from_utf8(name)) {
            packed.refs.push((name.to_string(), value));
            last = Some(value);
        }
    }
    packed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_on_one_commit_peel_to_it_each_and_read_it_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let git = |args: &[&str]| {
            let out = std::process::Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@x", "-C"])
                .arg(dir.path())
                .args(args)
                .output()
                .expect("git");
            assert!(out.status.success(), "git {args:?}");
            String::from_utf8(out.stdout)
                .expect("utf-8")
                .trim()
                .to_string()
        };
        git(&["init", "--quiet"]);
        git(&["commit", "--quiet", "--allow-empty", "-m", "one"]);
        git(&["tag", "-a", "-m", "a", "a"]);
        git(&["tag", "-a", "-m", "b", "b"]);
        git(&["pack-refs", "--all"]);
        let id = |name: &str| ObjectId::from_hex(git(&["rev-parse", name]).as_bytes()).unwrap();
        let (a, b, head) = (id("a"), id("b"), id("HEAD"));
        let git_dir = dir.path().join(".git");
        let odb = gix::odb::at(git_dir.join("objects"), gix::hash::Kind::Sha1).expect("odb");
        let peeled = Peeled::new(&git_dir);
        assert_eq!(peeled.get(&odb, a).unwrap(), Some(head));
        // The commit is read no more: tag b, whose `^` line names it, peels from what
        // tag a found, and so does the commit itself.
        let hex = head.to_string();
        let loose = git_dir.join("objects").join(&hex[..2]).join(&hex[2..]);
        std::fs::remove_file(loose).expect("the commit is a loose object");
        for (tag, name) in [(b, "b"), (a, "a"), (head, "HEAD")] {
            assert_eq!(peeled.get(&odb, tag).unwrap(), Some(head), "{name}");
        }
    }

    #[test]
    fn only_fully_peeled_files_and_caret_lines_count() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("packed-refs");
        let (tag, commit, light) = ("a".repeat(40), "b".repeat(40), "c".repeat(40));
        let body = format!(
            "{tag} refs/tags/v1\n^{commit}\n{light} refs/tags/v2\n^not-hex\n{light} refs/heads/x\n"
        );
        std::fs::write(
            &path,
            format!("# pack-refs with: peeled fully-peeled sorted \n{body}"),
        )
        .expect("write");
        let packed = read_packed(&path);
        let id = |hex: &str| ObjectId::from_hex(hex.as_bytes()).expect("hex");
        assert_eq!(packed.peeled.len(), 1);
        assert_eq!(packed.peeled.get(&id(&tag)), Some(&id(&commit)));
        assert_eq!(packed.refs.len(), 3);
        assert_eq!(packed.refs[2], ("refs/heads/x".to_string(), id(&light)));
        std::fs::write(&path, format!("# pack-refs with: peeled sorted \n{body}")).expect("write");
        let packed = read_packed(&path);
        assert!(packed.peeled.is_empty());
        assert_eq!(packed.refs.len(), 3);
    }
}
