//! Assembling the [`Push`] event: the SCM's changes plus who, where and when.

use crate::config::{RepositoryConfig, SiteConfig};
use crate::event::{Push, Repository};
use crate::repo::RepoContext;
use crate::scm::{Changes, dates};

/// Environment variables that name the pusher, most specific first: what the server
/// that ran `git receive-pack` knows (gitolite's `GL_USER`, GitLab Shell's
/// `GL_USERNAME`, Gitea's and Forgejo's `GITEA_PUSHER_NAME`, Gogs's
/// `GOGS_AUTH_USER_NAME`), a web server's authenticated user (`REMOTE_USER`, which
/// `git http-backend` and hgweb get from Apache or nginx), then the login's.
pub const PUSHER_VARIABLES: &[&str] = &[
    "GL_USER",
    "GL_USERNAME",
    "GITEA_PUSHER_NAME",
    "GOGS_AUTH_USER_NAME",
    "REMOTE_USER",
    "USER",
    "LOGNAME",
];

/// The pusher's name: the first of [`PUSHER_VARIABLES`] that is set and not empty, else
/// the name of the account the hook runs as (a daemon often sets no `USER`), else
/// `unknown`.
pub fn pusher() -> String {
    PUSHER_VARIABLES
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .chain(std::iter::from_fn(account_name).take(1))
        .map(|value| crate::text::one_line(&value, 100))
        .find(|value| !value.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// The name of the process's effective user, from the password database (NSS: files,
/// LDAP, …); `None` when it has no entry.
fn account_name() -> Option<String> {
    // SAFETY: geteuid cannot fail and touches no memory.
    let uid = unsafe { libc::geteuid() };
    let mut size = 1024;
    while size <= 1 << 20 {
        let mut buffer = vec![0 as libc::c_char; size];
        // SAFETY: passwd is plain data (pointers and integers); all-zero is a valid value.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local of the size given; getpwuid_r writes
        // the strings into `buffer`, which outlives the reads below.
        let status =
            unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), size, &mut found) };
        if status == libc::ERANGE {
            size *= 4;
            continue;
        }
        if status != 0 || found.is_null() || entry.pw_name.is_null() {
            return None;
        }
        // SAFETY: pw_name points into `buffer`, NUL-terminated by getpwuid_r.
        let name = unsafe { std::ffi::CStr::from_ptr(entry.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
    None
}

/// The payload's repository block from the config, the directory names and the site's
/// URL templates.
pub fn repository(
    context: &RepoContext,
    config: &RepositoryConfig,
    site: &SiteConfig,
) -> Repository {
    let name = config
        .name
        .clone()
        .unwrap_or_else(|| context.default_name());
    let owner = config
        .owner
        .clone()
        .unwrap_or_else(|| context.default_owner());
    let slug = slug(&name);
    let canon_url = site.canon_url();
    let website = match &config.url {
        Some(url) => url.redacted().trim_end_matches('/').to_string(),
        None => fill(
            &site.repo_url,
            &[
                ("canon_url", &canon_url),
                ("owner", &owner),
                ("slug", &slug),
                ("name", &name),
            ],
        ),
    };
    Repository {
        absolute_url: format!("/{owner}/{slug}/"),
        fork: false,
        is_private: config.private.unwrap_or(true),
        name,
        owner,
        scm: context.scm(),
        slug,
        website,
        default_branch: context.default_branch(),
    }
}

/// The event: `changes` with every commit's link filled in.
pub fn assemble(changes: Changes, repository: Repository, site: &SiteConfig, user: String) -> Push {
    let canon_url = site.canon_url();
    let mut commits = changes.commits;
    let mut heads = changes.heads;
    for commit in commits.iter_mut().chain(heads.values_mut()) {
        commit.url = fill(
            &site.commit_url,
            &[
                ("repo_url", &repository.website),
                ("canon_url", &canon_url),
                ("owner", &repository.owner),
                ("slug", &repository.slug),
                ("name", &repository.name),
                ("node", &commit.raw_node),
                ("short", &commit.node),
            ],
        );
    }
    Push {
        canon_url,
        user,
        repository,
        commits,
        total_commits: changes.total_commits,
        refs: changes.refs,
        heads,
        pushed_at: dates::now_rfc3339(),
        test: false,
    }
}

/// A URL-safe slug: lower case, runs of other characters as one `-`.
fn slug(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for ch in name.chars() {
        if ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.trim_matches('-').to_string()
}

/// Replaces `{name}` placeholders; unknown ones stay as written.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_string();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_templates() {
        assert_eq!(slug("My Widgets!"), "my-widgets");
        assert_eq!(slug("widgets.rs"), "widgets.rs");
        assert_eq!(
            fill(
                "{canon_url}/{owner}/{slug}",
                &[("canon_url", "https://x"), ("owner", "acme"), ("slug", "w")]
            ),
            "https://x/acme/w"
        );
    }
}
