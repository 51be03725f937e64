//! git itself, for the walks libgit2 refuses: libgit2 parses every commit it walks and
//! gives up on one whose author has no `<>` or whose date is not a number, which git
//! shows. These run only when libgit2 failed, so the usual push costs no process.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use git2::Oid;

use crate::text::one_line;

/// `git rev-list --topo-order --reverse` of `tips` minus what `hidden` reaches: every
/// commit, oldest first (parents before children).
pub fn rev_list(git_dir: &Path, tips: &[Oid], hidden: &[Oid]) -> Result<Vec<Oid>> {
    let mut input = String::with_capacity((tips.len() + hidden.len()) * 42);
    for tip in tips {
        input.push_str(&format!("{tip}\n"));
    }
    for hide in hidden {
        input.push_str(&format!("^{hide}\n"));
    }
    let output = git(
        git_dir,
        &["rev-list", "--topo-order", "--reverse", "--stdin"],
        &input,
    )?;
    if !output.status.success() {
        bail!("git rev-list failed: {}", stderr(&output));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            Oid::from_str(line.trim()).with_context(|| format!("git rev-list printed {line:?}"))
        })
        .collect()
}

/// Whether `ancestor` is reachable from `descendant` (`git merge-base --is-ancestor`).
pub fn is_ancestor(git_dir: &Path, ancestor: Oid, descendant: Oid) -> Result<bool> {
    let (ancestor, descendant) = (ancestor.to_string(), descendant.to_string());
    let output = git(
        git_dir,
        &["merge-base", "--is-ancestor", &ancestor, &descendant],
        "",
    )?;
    match output.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => bail!("git merge-base failed: {}", stderr(&output)),
    }
}

fn git(git_dir: &Path, args: &[&str], input: &str) -> Result<std::process::Output> {
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run git")?;
    // rev-list reads all of its input before it writes: no deadlock writing it first.
    let mut stdin = child.stdin.take().context("git's stdin")?;
    stdin
        .write_all(input.as_bytes())
        .context("writing to git")?;
    drop(stdin);
    child.wait_with_output().context("waiting for git")
}

fn stderr(output: &std::process::Output) -> String {
    one_line(&String::from_utf8_lossy(&output.stderr), 300)
}
