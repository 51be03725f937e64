//! `install` / `uninstall`: the post-receive hook and the starter config.
//!
//! The hook is a small shell shim that calls the binary by absolute path. A hook that was
//! already there is kept: it is renamed to `post-receive.before-pushbroker`, and the shim
//! hands it the same input first. `uninstall` puts it back.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::repo::RepoContext;

/// Marks a hook file as written by pushbroker.
const MARKER: &str = "# pushbroker-hook: written by `pushbroker install`";
/// Where an existing hook is kept while pushbroker's is installed.
const CHAINED: &str = "post-receive.before-pushbroker";
/// The commented starter config written when a repository has none.
pub const STARTER_CONFIG: &str = include_str!("../config.example.toml");

/// Installs the hook into the repository at `path`; returns what was done, for the user.
pub fn install(path: &Path, binary: &Path) -> Result<Vec<String>> {
    let context = RepoContext::open(Some(path))?;
    let hooks = context.git_dir.join("hooks");
    fs::create_dir_all(&hooks).with_context(|| format!("creating {}", hooks.display()))?;
    let hook = hooks.join("post-receive");
    let chained = hooks.join(CHAINED);
    let mut done = Vec::new();
    if hook.exists() && !is_ours(&hook)? {
        if chained.exists() {
            bail!(
                "{} exists and so does {}: move one of them away first",
                hook.display(),
                chained.display()
            );
        }
        fs::rename(&hook, &chained)
            .with_context(|| format!("moving the existing hook to {}", chained.display()))?;
        done.push(format!("kept the existing hook as {}", chained.display()));
    }
    crate::state::write_atomically(&hook, shim(binary, &chained).as_bytes())?;
    fs::set_permissions(&hook, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("making {} executable", hook.display()))?;
    done.push(format!("installed {}", hook.display()));
    let config = context.config_path();
    if !config.exists() {
        fs::write(&config, STARTER_CONFIG)
            .with_context(|| format!("writing {}", config.display()))?;
        done.push(format!("wrote a starter config to {}", config.display()));
    }
    Ok(done)
}

/// Removes pushbroker's hook and restores the one it kept; the config stays.
pub fn uninstall(path: &Path) -> Result<Vec<String>> {
    let context = RepoContext::open(Some(path))?;
    let hooks = context.git_dir.join("hooks");
    let hook = hooks.join("post-receive");
    let chained = hooks.join(CHAINED);
    let mut done = Vec::new();
    if hook.exists() && is_ours(&hook)? {
        fs::remove_file(&hook).with_context(|| format!("removing {}", hook.display()))?;
        done.push(format!("removed {}", hook.display()));
    } else {
        done.push(format!("no pushbroker hook in {}", hooks.display()));
    }
    if chained.exists() && !hook.exists() {
        fs::rename(&chained, &hook).with_context(|| format!("restoring {}", hook.display()))?;
        done.push(format!("restored the previous hook to {}", hook.display()));
    }
    done.push(format!("left {} in place", context.config_path().display()));
    Ok(done)
}

fn is_ours(hook: &Path) -> Result<bool> {
    let text = fs::read(hook).with_context(|| format!("reading {}", hook.display()))?;
    Ok(String::from_utf8_lossy(&text).contains(MARKER))
}

/// The hook script. Git gives post-receive its ref lines on stdin; both the kept hook
/// and pushbroker must see them, so the shim reads them once and hands each a copy.
fn shim(binary: &Path, chained: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         {MARKER}; `pushbroker uninstall` removes it.\n\
         input=$(cat)\n\
         if [ -x {chained} ]; then\n\
         \tprintf '%s\\n' \"$input\" | {chained} \"$@\"\n\
         fi\n\
         printf '%s\\n' \"$input\" | exec {binary} hook\n",
        chained = quote(chained),
        binary = quote(binary),
    )
}

/// Single-quotes a path for sh.
fn quote(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "'\\''"))
}

/// The running binary's absolute path, for the hook to call.
pub fn current_binary() -> Result<PathBuf> {
    let binary = std::env::current_exe().context("finding the pushbroker binary's path")?;
    Ok(binary.canonicalize().unwrap_or(binary))
}
