//! Mercurial: hook lines in `.hg/hgrc`, edited line by line so that every other
//! section, hook and comment stays as the admin wrote it.
//!
//! ```ini
//! [hooks]
//! changegroup.pushbroker = python:/srv/hg/w/.hg/pushbroker/hook.py:changegroup_hook
//! txnclose.pushbroker = python:/srv/hg/w/.hg/pushbroker/hook.py:bookmark_hook
//!
//! [pushbroker]
//! binary = /usr/local/bin/pushbroker
//! ```

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::repo::RepoContext;
use crate::scm::hg::ensure_shim;

/// Our hook keys and the shim function each one calls.
pub(super) const HOOKS: &[(&str, &str)] = &[
    ("changegroup.pushbroker", "changegroup_hook"),
    ("txnclose.pushbroker", "bookmark_hook"),
];

/// Adds the hook lines (replacing ours if present) and the `[pushbroker]` section.
pub fn install(context: &RepoContext, binary: &Path) -> Result<Vec<String>> {
    check_hgrc(&context.top)?;
    let shim = ensure_shim(&context.state())?;
    let hgrc = context.meta_dir.join("hgrc");
    let text = read(&hgrc)?;
    let lines: Vec<String> = HOOKS
        .iter()
        .map(|(key, function)| format!("{key} = python:{}:{function}", shim.display()))
        .collect();
    let mut edited = with_hook_lines(&without_ours(&text), &lines);
    edited.push_str(&format!(
        "\n[pushbroker]\n# written by `pushbroker install`; `pushbroker uninstall` removes it\nbinary = {}\n",
        binary.display()
    ));
    crate::state::write_atomically(&hgrc, edited.as_bytes())?;
    Ok(vec![format!(
        "installed the changegroup hook in {}",
        hgrc.display()
    )])
}

/// Removes our hook lines and the `[pushbroker]` section; nothing else.
pub fn uninstall(context: &RepoContext) -> Result<Vec<String>> {
    let hgrc = context.meta_dir.join("hgrc");
    let text = read(&hgrc)?;
    let edited = without_ours(&text);
    if edited == text {
        return Ok(vec![format!("no pushbroker hook in {}", hgrc.display())]);
    }
    crate::state::write_atomically(&hgrc, edited.as_bytes())?;
    Ok(vec![format!("removed the hook from {}", hgrc.display())])
}

fn read(hgrc: &Path) -> Result<String> {
    match std::fs::read_to_string(hgrc) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(error).with_context(|| format!("reading {}", hgrc.display())),
    }
}

/// Refuses to edit an hgrc that hg itself cannot parse.
fn check_hgrc(root: &Path) -> Result<()> {
    let output = Command::new("hg")
        .current_dir(root)
        .env("HGPLAIN", "1")
        .args(["config", "hooks"])
        .output()
        .context("running hg (is Mercurial installed?)")?;
    // `hg config hooks` exits 1 when there is no [hooks] section: only other codes are
    // errors (255 for a file it cannot parse).
    if !matches!(output.status.code(), Some(0 | 1)) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        bail!(
            "hg cannot read this repository's config, so it was left unchanged: {}",
            stderr.lines().next().unwrap_or("").trim()
        );
    }
    Ok(())
}

pub(super) fn section_of(line: &str) -> Option<&str> {
    let line = line.trim();
    line.strip_prefix('[')?.strip_suffix(']').map(str::trim)
}

pub(super) fn is_our_hook(line: &str) -> bool {
    line.split_once('=')
        .is_some_and(|(key, _)| HOOKS.iter().any(|(ours, _)| key.trim() == *ours))
}

/// The text without our hook lines and without the `[pushbroker]` section.
fn without_ours(text: &str) -> String {
    let mut out = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(name) = section_of(line) {
            section = name.to_string();
            if section == "pushbroker" {
                // Drop the blank line we wrote before the section.
                if out.last().is_some_and(|last: &&str| last.trim().is_empty()) {
                    out.pop();
                }
                continue;
            }
        }
        if section == "pushbroker" || (section == "hooks" && is_our_hook(line)) {
            continue;
        }
        out.push(line);
    }
    let mut joined = out.join("\n");
    if !joined.is_empty() {
        joined.push('\n');
    }
    joined
}

/// The text with `lines` at the start of its `[hooks]` section (added when missing).
fn with_hook_lines(text: &str, lines: &[String]) -> String {
    let mut out = String::new();
    let mut added = false;
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if !added && section_of(line) == Some("hooks") {
            for hook in lines {
                out.push_str(hook);
                out.push('\n');
            }
            added = true;
        }
    }
    if !added {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str("[hooks]\n");
        for hook in lines {
            out.push_str(hook);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "# the admin's hgrc\n[ui]\nusername = Admin <a@x>\n\n[hooks]\n# notify the team\nchangegroup.notify = python:hgext.notify.hook\n\n[web]\npush_ssl = false\n";

    #[test]
    fn editing_keeps_everything_else() {
        let lines = vec!["changegroup.pushbroker = python:/x/hook.py:changegroup_hook".to_string()];
        let installed = with_hook_lines(&without_ours(ADMIN), &lines);
        assert_eq!(
            installed,
            "# the admin's hgrc\n[ui]\nusername = Admin <a@x>\n\n[hooks]\nchangegroup.pushbroker = python:/x/hook.py:changegroup_hook\n# notify the team\nchangegroup.notify = python:hgext.notify.hook\n\n[web]\npush_ssl = false\n"
        );
        let with_section = format!("{installed}\n[pushbroker]\n# written\nbinary = /b\n");
        assert_eq!(without_ours(&with_section), ADMIN);
        // Installing twice replaces our lines, never duplicates them.
        let twice = with_hook_lines(&without_ours(&with_section), &lines);
        assert_eq!(twice.matches("changegroup.pushbroker").count(), 1);
    }

    #[test]
    fn an_hgrc_without_hooks_gets_the_section() {
        let lines = vec!["a.pushbroker = x".to_string()];
        assert_eq!(with_hook_lines("", &lines), "[hooks]\na.pushbroker = x\n");
        assert_eq!(
            with_hook_lines("[ui]\nx = 1\n", &lines),
            "[ui]\nx = 1\n\n[hooks]\na.pushbroker = x\n"
        );
    }
}
