//! libgit2's quick parse of a commit (`commit_parse` with `GIT_COMMIT_PARSE_QUICK`), for
//! the walk ([`super::walk`]): its tree, parents and committer date, from the commits it
//! reads exactly as libgit2 does. Any other commit is an error, and the walk leaves the
//! push to libgit2.

use anyhow::{Context, Result, bail};
use gix::ObjectId;

/// A commit-graph keeps 34 bits of a commit's date; libgit2 reads it from there when one
/// exists. Later dates (the year 2514 on) are left to libgit2.
const GRAPH_DATE_LIMIT: i64 = 1 << 34;

/// A commit's tree, parents (into `parents`) and committer date, read as libgit2's quick
/// parse reads them; a commit it would read differently, or refuse, is an error.
pub fn quick_parse(data: &[u8], parents: &mut Vec<ObjectId>) -> Result<(ObjectId, i64)> {
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
    (hex.len() == 40).then(|| ObjectId::from_hex(hex).ok())?
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
