//! The options every `[[service]]` has, whatever its broker: typed once, read by the
//! loader ([`super::repo`]) and described by the schema ([`super::schema`]).

use serde::Deserialize;

use super::values::{PathFilter, RefFilter, Timeout};

/// Options every service has, whatever its broker.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommonOptions {
    /// The service's name in messages, the log and `--service`; unique in the file.
    /// Default `<broker>-<n>` (`email-1`, `post-2`).
    pub name: Option<String>,
    /// `false`: configured but off, never delivered (`check` and `brokers --repo` show
    /// it as off).
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Run only when a pushed ref matches one of these globs: a branch's short name
    /// (`main`, `release/*`) or a full ref (`refs/tags/v*`).
    pub branches: Option<RefFilter>,
    /// Run only when a new changeset touches a matching file (`src/**`); `!` excludes
    /// (`!docs/drafts/**`).
    pub paths: Option<PathFilter>,
    /// One attempt's time limit: `"10s"`, `"500ms"`, `"2m"` (a bare number is seconds);
    /// default the site's `[limits] timeout`.
    pub timeout: Option<Timeout>,
    /// Most changesets one delivery carries (0: no cap).
    #[serde(default = "default_max_commits")]
    pub max_commits: usize,
}

fn default_enabled() -> bool {
    true
}

fn default_max_commits() -> usize {
    super::repo::DEFAULT_MAX_COMMITS
}

/// The keys of [`CommonOptions`], in its order.
pub const COMMON_KEYS: &[&str] = &[
    "name",
    "enabled",
    "branches",
    "paths",
    "timeout",
    "max_commits",
];
