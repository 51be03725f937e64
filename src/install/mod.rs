//! `install` / `uninstall`: the hook entry and the starter config, for Git
//! ([`git`]: a `post-receive` shim) and Mercurial ([`hg`]: lines in `.hg/hgrc`).

pub mod git;
pub mod hg;
pub mod inspect;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::repo::{RepoContext, Vcs};

/// The commented starter config written when a repository has none.
pub const STARTER_CONFIG: &str = include_str!("../../config.example.toml");

/// Installs the hook into the repository at `path`; returns what was done, for the user.
pub fn install(path: &Path, binary: &Path) -> Result<Vec<String>> {
    let context = RepoContext::open(Some(path))?;
    let mut done = match context.vcs {
        Vcs::Git(_) => git::install(&context, binary)?,
        Vcs::Hg => hg::install(&context, binary)?,
    };
    let config = context.config_path();
    if !config.exists() {
        std::fs::write(&config, STARTER_CONFIG)
            .with_context(|| format!("writing {}", config.display()))?;
        done.push(format!("wrote a starter config to {}", config.display()));
    }
    Ok(done)
}

/// Removes the hook (restoring what was there before); the config stays.
pub fn uninstall(path: &Path) -> Result<Vec<String>> {
    let context = RepoContext::open(Some(path))?;
    let mut done = match context.vcs {
        Vcs::Git(_) => git::uninstall(&context)?,
        Vcs::Hg => hg::uninstall(&context)?,
    };
    done.push(format!("left {} in place", context.config_path().display()));
    Ok(done)
}

/// The running binary's absolute path, for the hook to call.
pub fn current_binary() -> Result<PathBuf> {
    let binary = std::env::current_exe().context("finding the pushbroker binary's path")?;
    Ok(binary.canonicalize().unwrap_or(binary))
}
