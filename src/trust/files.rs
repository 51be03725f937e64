//! Which files a repository's config may have read: the one decision, made here.
//!
//! A `template_file` is read only from the repository's template directory,
//! `pushbroker/templates/` beside `pushbroker.toml` (`$GIT_DIR/pushbroker/templates/`,
//! `.hg/pushbroker/templates/`), after every symlink is resolved: a symlink may point
//! from one template to another, never outside. Neither the directory nor the state
//! directory holding it may be a symlink, and the file is checked again through the
//! descriptor that was opened, so swapping a path between the check and the read does
//! not help. A file with more than one name (a hard link, which may be the repository's
//! own `config`) is not read either.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::state::StateDir;

/// The template directory's name inside the state directory.
pub const TEMPLATES: &str = "templates";

/// The largest template read.
pub const MAX_TEMPLATE_BYTES: u64 = 1 << 20;

/// The repository's template directory.
pub fn templates_dir(state: &StateDir) -> PathBuf {
    state.root.join(TEMPLATES)
}

/// Reads the template `relative` (to the template directory), if it lies inside it.
pub fn read_template(state: &StateDir, relative: &Path) -> Result<String> {
    let dir = templates_dir(state);
    let shown = dir.join(relative);
    let state_name = state.root.file_name().unwrap_or_default();
    let expected = fs::canonicalize(state.config_dir())
        .with_context(|| format!("resolving {}", state.config_dir().display()))?
        .join(state_name)
        .join(TEMPLATES);
    match fs::canonicalize(&dir) {
        Ok(real) if real == expected => {}
        Ok(_) => bail!(
            "{} is not a directory of its own (it, or the state directory, is a symlink): \
             template files are read only from a real {}/ directory",
            dir.display(),
            TEMPLATES
        ),
        Err(_) => bail!(
            "no template directory {}: put the template files there",
            dir.display()
        ),
    }
    let outside = || {
        anyhow::anyhow!(
            "template_file {:?} leads outside {} (symlinks resolved): not read",
            relative.display().to_string(),
            dir.display()
        )
    };
    let real = fs::canonicalize(&shown)
        .with_context(|| format!("reading the template {}", shown.display()))?;
    if !real.starts_with(&expected) {
        return Err(outside());
    }
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&real)
        .with_context(|| format!("reading the template {}", shown.display()))?;
    // What was opened, wherever the path points by now.
    let opened = fs::read_link(format!("/proc/self/fd/{}", {
        use std::os::fd::AsRawFd;
        file.as_raw_fd()
    }))
    .unwrap_or(real);
    let metadata = file
        .metadata()
        .with_context(|| format!("reading the template {}", shown.display()))?;
    if !opened.starts_with(&expected) {
        return Err(outside());
    }
    if !metadata.is_file() {
        bail!("the template {} is not a regular file", shown.display());
    }
    // A hard link is another name of a file that may live anywhere (the repository's
    // own config, say): a template has one name, in this directory.
    if std::os::unix::fs::MetadataExt::nlink(&metadata) > 1 {
        bail!(
            "the template {} has other names (hard links): not read; copy the file instead",
            shown.display()
        );
    }
    if metadata.len() > MAX_TEMPLATE_BYTES {
        bail!(
            "the template {} is larger than {} KiB",
            shown.display(),
            MAX_TEMPLATE_BYTES >> 10
        );
    }
    let mut text = String::new();
    file.take(MAX_TEMPLATE_BYTES)
        .read_to_string(&mut text)
        .with_context(|| format!("reading the template {} (UTF-8 text)", shown.display()))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_read_only_from_the_template_directory() {
        let root = tempfile::tempdir().expect("tempdir");
        let git_dir = root.path().join("repo.git");
        let state = StateDir::new(git_dir.join("pushbroker"));
        fs::create_dir_all(git_dir.join("pushbroker")).expect("state");
        fs::write(
            git_dir.join("config"),
            "[remote \"m\"]\nurl = https://tok@x/\n",
        )
        .expect("config");
        fs::write(root.path().join("outside"), "secret").expect("outside");
        let read = |name: &str| read_template(&state, Path::new(name));
        let error = read("push.j2").expect_err("no directory yet");
        assert!(
            format!("{error:#}").contains("no template directory"),
            "{error:#}"
        );
        let dir = templates_dir(&state);
        fs::create_dir(&dir).expect("templates");
        fs::write(dir.join("push.j2"), "{{ user }}").expect("template");
        assert_eq!(read("push.j2").expect("inside"), "{{ user }}");
        std::os::unix::fs::symlink("push.j2", dir.join("alias.j2")).expect("symlink");
        assert_eq!(read("alias.j2").expect("a symlink inside"), "{{ user }}");
        std::os::unix::fs::symlink(root.path().join("outside"), dir.join("out.j2"))
            .expect("symlink");
        std::os::unix::fs::symlink(git_dir.join("config"), dir.join("config")).expect("symlink");
        fs::hard_link(git_dir.join("config"), dir.join("hard.j2")).expect("hard link");
        for name in [
            "out.j2",
            "config",
            "../../config",
            "../deliveries.jsonl",
            "hard.j2",
        ] {
            let error = read(name).expect_err(name);
            assert!(!format!("{error:#}").contains("tok@"), "{error:#}");
        }
        // The directory itself a symlink to elsewhere.
        fs::remove_dir_all(&dir).expect("remove");
        fs::create_dir(root.path().join("elsewhere")).expect("elsewhere");
        fs::write(root.path().join("elsewhere/push.j2"), "x").expect("write");
        std::os::unix::fs::symlink(root.path().join("elsewhere"), &dir).expect("symlink");
        let error = read("push.j2").expect_err("symlinked directory");
        assert!(format!("{error:#}").contains("symlink"), "{error:#}");
    }
}
