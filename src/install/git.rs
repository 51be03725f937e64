//! Git: the `post-receive` hook.
//!
//! The hook is a small shell shim that calls the binary by absolute path. A hook that was
//! already there is kept: it is renamed to `post-receive.before-pushbroker`, and the shim
//! hands it the same input first. `uninstall` puts it back.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::repo::RepoContext;

/// Marks a hook file as written by pushbroker.
pub(super) const MARKER: &str = "# pushbroker-hook: written by `pushbroker install`";
/// Where an existing hook is kept while pushbroker's is installed.
const CHAINED: &str = "post-receive.before-pushbroker";

/// Installs the hook into a Git repository; returns what was done, for the user.
pub fn install(context: &RepoContext, binary: &Path) -> Result<Vec<String>> {
    let hooks = context.meta_dir.join("hooks");
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
    Ok(done)
}

/// Removes pushbroker's hook and restores the one it kept.
pub fn uninstall(context: &RepoContext) -> Result<Vec<String>> {
    let hooks = context.meta_dir.join("hooks");
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
