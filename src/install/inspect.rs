//! What `check` says of the hook: whether the push will run pushbroker at all.
//!
//! Git: the `post-receive` file in the directory git runs hooks from (`core.hooksPath`,
//! else `$GIT_DIR/hooks`), its being pushbroker's and executable, and the binary it
//! runs. Mercurial: our hook lines in `.hg/hgrc`, the shim they load and the binary in
//! `[pushbroker]`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::repo::{RepoContext, Vcs};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Pushes will not be delivered because of it.
    Error,
    /// Worth a look; pushes are still delivered.
    Warning,
    /// All is well.
    Ok,
}

/// One thing found about the hook.
pub struct Finding {
    /// How much it matters.
    pub level: Level,
    /// What was found, and what to do.
    pub text: String,
}

fn error(text: String) -> Finding {
    Finding {
        level: Level::Error,
        text,
    }
}

fn warning(text: String) -> Finding {
    Finding {
        level: Level::Warning,
        text,
    }
}

fn fine(text: String) -> Finding {
    Finding {
        level: Level::Ok,
        text,
    }
}

/// The hook's state in `context`, judged against `binary` (the running pushbroker). An
/// installed, working hook is one finding that is not an error.
pub fn hook(context: &RepoContext, binary: &Path) -> Vec<Finding> {
    match &context.vcs {
        Vcs::Git(repo) => git(context, repo, binary),
        Vcs::Hg => hg(context, binary),
    }
}

fn git(context: &RepoContext, repo: &git2::Repository, binary: &Path) -> Vec<Finding> {
    let install = format!("run `pushbroker install {}`", context.top.display());
    let hooks_path = repo
        .config()
        .ok()
        .and_then(|config| config.get_path("core.hooksPath").ok());
    let dir = match &hooks_path {
        Some(path) if path.is_relative() => context.top.join(path),
        Some(path) => path.clone(),
        None => context.meta_dir.join("hooks"),
    };
    let hook = dir.join("post-receive");
    let shown = hook.display();
    let Ok(meta) = std::fs::metadata(&hook) else {
        let text = match &hooks_path {
            Some(path) => format!(
                "hook: git runs hooks from core.hooksPath = {}, where there is no post-receive: \
                 no push is notified (install one there that runs `{} hook`, or unset \
                 core.hooksPath and {install})",
                path.display(),
                binary.display()
            ),
            None => format!("hook: {shown} does not exist: no push is notified; {install}"),
        };
        return vec![error(text)];
    };
    let text = std::fs::read(&hook).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let mut findings = Vec::new();
    if meta.permissions().mode() & 0o111 == 0 {
        findings.push(error(format!(
            "hook: {shown} is not executable: git ignores it, so no push is notified; \
             chmod +x {shown}"
        )));
    }
    if !text.contains(super::git::MARKER) {
        if text.contains("pushbroker") {
            findings.push(warning(format!(
                "hook: {shown} was not written by `pushbroker install`; make sure it hands \
                 its input to `{} hook`",
                binary.display()
            )));
        } else {
            findings.push(error(format!(
                "hook: {shown} does not run pushbroker: no push is notified; {install} (it \
                 keeps the existing hook and runs it first)"
            )));
        }
        return findings;
    }
    if findings.is_empty() {
        findings.extend(runs(
            (&shown.to_string(), "installed, executable"),
            git_binary(&text),
            binary,
            &install,
        ));
    }
    findings
}

/// The binary a shim written by `install` runs: its last line is
/// `printf … | exec '<binary>' hook`.
fn git_binary(text: &str) -> Option<PathBuf> {
    let line = text.lines().rev().find(|line| line.contains("| exec "))?;
    let quoted = line.split_once("| exec ")?.1.strip_suffix(" hook")?;
    let inner = quoted.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(PathBuf::from(inner.replace("'\\''", "'")))
}

/// The finding about the binary a hook runs.
/// `installed` says what was found before (`installed, executable`).
fn runs(
    (hook, installed): (&str, &str),
    runs: Option<PathBuf>,
    binary: &Path,
    install: &str,
) -> Vec<Finding> {
    let Some(runs) = runs else {
        return vec![warning(format!(
            "hook: {hook}: cannot tell which binary it runs; {install} to rewrite it"
        ))];
    };
    let executable = std::fs::metadata(&runs)
        .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    if !executable {
        return vec![error(format!(
            "hook: {hook} runs {}, which is not an executable file: no push is notified; {install}",
            runs.display()
        ))];
    }
    let same = std::fs::canonicalize(&runs).ok() == std::fs::canonicalize(binary).ok();
    if !same {
        return vec![warning(format!(
            "hook: {hook} runs {}, not this binary ({}); {install} to use this one",
            runs.display(),
            binary.display()
        ))];
    }
    vec![fine(format!(
        "hook: {hook}: {installed}, runs this binary ({})",
        binary.display()
    ))]
}

fn hg(context: &RepoContext, binary: &Path) -> Vec<Finding> {
    let install = format!("run `pushbroker install {}`", context.top.display());
    let hgrc = context.meta_dir.join("hgrc");
    let shown = hgrc.display().to_string();
    let text = std::fs::read_to_string(&hgrc).unwrap_or_default();
    let mut section = String::new();
    let mut found = Vec::new();
    let mut runs = None;
    for line in text.lines() {
        if let Some(name) = super::hg::section_of(line) {
            section = name.to_string();
            continue;
        }
        if section == "hooks" && super::hg::is_our_hook(line) {
            found.push(line.to_string());
        }
        if section == "pushbroker"
            && let Some(("binary", value)) = line.split_once('=').map(|(k, v)| (k.trim(), v))
        {
            runs = Some(PathBuf::from(value.trim()));
        }
    }
    let missing: Vec<&str> = super::hg::HOOKS
        .iter()
        .map(|(key, _)| *key)
        .filter(|key| !found.iter().any(|line| line.trim_start().starts_with(key)))
        .collect();
    if !missing.is_empty() {
        return vec![error(format!(
            "hook: {shown} has no {} line in [hooks]: {}; {install}",
            missing.join(" or "),
            if missing.len() == super::hg::HOOKS.len() {
                "no push is notified"
            } else {
                "some pushes are not notified"
            }
        ))];
    }
    for line in &found {
        let shim = line
            .split_once("python:")
            .and_then(|(_, rest)| rest.rsplit_once(':'))
            .map(|(path, _)| PathBuf::from(path.trim()));
        if let Some(shim) = shim
            && !shim.is_file()
        {
            return vec![error(format!(
                "hook: {shown} loads {}, which does not exist: no push is notified; {install}",
                shim.display()
            ))];
        }
    }
    self::runs((&shown, "hook lines installed"), runs, binary, &install)
}
