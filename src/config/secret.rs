//! Secrets as configs write them: the site's own (`env:NAME`, `file:PATH`, or inline),
//! and a repository config's (`secret:NAME`, naming a secret the site grants it, or a
//! value written inline). Which of them a repository may use is decided in
//! [`crate::trust::secrets`]; only what it grants is ever read.
//!
//! No type here prints its value: `Debug` shows the reference (or `***` for a value
//! written inline), so a secret cannot leak through a log line or an error message.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::de::{Deserialize, Deserializer, Error};

/// A secret of the site config: where its value comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`: the process's environment variable `NAME`.
    Env(String),
    /// `file:/path`: the file's contents, trailing newline removed.
    File(PathBuf),
    /// A value written inline.
    Inline(Secret),
}

impl SecretRef {
    /// Parses a site config value.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        if let Some(name) = text.strip_prefix("env:") {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "invalid environment variable name {name:?}: write e.g. \"env:CI_HOOK_SECRET\""
                ));
            }
            Ok(SecretRef::Env(name.to_string()))
        } else if let Some(path) = text.strip_prefix("file:") {
            let path = PathBuf::from(path);
            if !path.is_absolute() {
                return Err("a secret file must be an absolute path: write e.g. \"file:/etc/pushbroker/ci.secret\"".into());
            }
            Ok(SecretRef::File(path))
        } else if text.starts_with("secret:") {
            Err(
                "secret:NAME is for repository configs; here write \"env:NAME\" or \"file:/path\""
                    .into(),
            )
        } else if text.is_empty() {
            Err("empty secret: write \"env:NAME\" or \"file:/path\"".into())
        } else {
            Ok(SecretRef::Inline(Secret(text.to_string())))
        }
    }

    /// Reads the secret's value now. Only for the site's own values and what
    /// [`crate::trust::secrets`] granted: a repository config's references never reach
    /// here unchecked.
    pub(crate) fn resolve(&self) -> Result<Secret> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(Secret(value)),
                _ => bail!("the secret's environment variable {name} is not set"),
            },
            SecretRef::File(path) => {
                let value = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the secret file {}", path.display()))?;
                Ok(Secret(value.trim_end_matches(['\r', '\n']).to_string()))
            }
            SecretRef::Inline(secret) => Ok(secret.clone()),
        }
    }
}

impl fmt::Debug for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "env:{name}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Inline(_) => write!(f, "***"),
        }
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SecretRef::parse(&text).map_err(D::Error::custom)
    }
}

/// A secret as a repository config writes it.
#[derive(Clone, PartialEq, Eq)]
pub enum RepoSecret {
    /// `secret:NAME`: the site's `[secrets.NAME]`, if granted to this repository.
    Named(String),
    /// `env:NAME` or `file:/path`: usable only when a secret the site grants to this
    /// repository has exactly this value (what configs written before grants used).
    Site(SecretRef),
    /// A value written inline: the repository's own (a webhook's shared secret).
    Inline(Secret),
}

impl RepoSecret {
    /// Parses a repository config value.
    pub fn parse(text: &str) -> Result<RepoSecret, String> {
        if let Some(name) = text.strip_prefix("secret:") {
            if !valid_name(name) {
                return Err(format!(
                    "invalid secret name {name:?}: write e.g. \"secret:ci_hook\" (letters, digits, _ and -)"
                ));
            }
            return Ok(RepoSecret::Named(name.to_string()));
        }
        match SecretRef::parse(text)? {
            SecretRef::Inline(secret) => Ok(RepoSecret::Inline(secret)),
            reference => Ok(RepoSecret::Site(reference)),
        }
    }
}

/// Whether `name` can name a site secret.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

impl fmt::Debug for RepoSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoSecret::Named(name) => write!(f, "secret:{name}"),
            RepoSecret::Site(reference) => write!(f, "{reference:?}"),
            RepoSecret::Inline(_) => write!(f, "***"),
        }
    }
}

impl<'de> Deserialize<'de> for RepoSecret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        RepoSecret::parse(&text).map_err(D::Error::custom)
    }
}

/// A resolved secret value. Only [`Secret::expose`] gives it out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    /// The value, for signing or authenticating; never for printing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// `[secrets.NAME]` in the site config: a secret and the repositories granted it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretGrant {
    /// Where the value comes from: `env:NAME` (the hook's environment), `file:/path`, or
    /// inline.
    pub value: SecretRef,
    /// The repositories that may use it: globs of their paths on this server
    /// (`/srv/git/acme/*.git`; `*` stays within one directory, `**` crosses them, so
    /// `"**"` grants it to every repository).
    pub repositories: RepoGlobs,
    /// The hosts it may be sent to (or sign requests for): `"ci.example.com"`,
    /// `"*.example.com"`. Empty (the default): any destination, so the repository's
    /// admin can in effect read it (a matrix token sent to their own server); with
    /// hosts, no custom broker may take it.
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// Globs of repository paths.
#[derive(Clone)]
pub struct RepoGlobs {
    patterns: Vec<String>,
    set: globset::GlobSet,
}

impl RepoGlobs {
    /// Whether the repository at `path` (absolute, symlinks resolved) matches.
    pub fn matches(&self, path: &std::path::Path) -> bool {
        self.set.is_match(path)
    }
}

impl fmt::Debug for RepoGlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.patterns)
    }
}

impl<'de> Deserialize<'de> for RepoGlobs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let patterns = Vec::<String>::deserialize(deserializer)?;
        let mut set = globset::GlobSetBuilder::new();
        for pattern in &patterns {
            if !(pattern.starts_with('/') || pattern.starts_with("**")) {
                return Err(D::Error::custom(format!(
                    "{pattern:?} is not a repository path: write an absolute path or glob, \
                     e.g. \"/srv/git/acme/*.git\", or \"**\" for every repository"
                )));
            }
            let glob = globset::GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|error| D::Error::custom(format!("bad glob {pattern:?}: {error}")))?;
            set.add(glob);
        }
        let set = set
            .build()
            .map_err(|error| D::Error::custom(format!("bad globs: {error}")))?;
        Ok(RepoGlobs { patterns, set })
    }
}

/// Whether a config value is a secret reference, to redact it in the payload's `service`.
pub fn is_reference(text: &str) -> bool {
    text.starts_with("env:") || text.starts_with("file:") || text.starts_with("secret:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references_and_never_prints_values() {
        assert_eq!(
            SecretRef::parse("env:HOOK_SECRET"),
            Ok(SecretRef::Env("HOOK_SECRET".into()))
        );
        assert!(SecretRef::parse("env:").is_err());
        assert!(SecretRef::parse("file:relative").is_err());
        assert!(SecretRef::parse("secret:x").is_err());
        let inline = SecretRef::parse("hunter2").expect("inline");
        assert!(matches!(inline, SecretRef::Inline(_)));
        assert_eq!(format!("{inline:?}"), "***");
        let resolved = inline.resolve().expect("inline resolves");
        assert_eq!(format!("{resolved:?}"), "***");
        assert_eq!(resolved.expose(), "hunter2");
        assert_eq!(
            RepoSecret::parse("secret:ci_hook"),
            Ok(RepoSecret::Named("ci_hook".into()))
        );
        assert!(RepoSecret::parse("secret:../x").is_err());
        assert_eq!(
            format!("{:?}", RepoSecret::parse("hunter2").expect("inline")),
            "***"
        );
    }

    #[test]
    fn a_missing_variable_names_the_variable_only() {
        let error = SecretRef::Env("PUSHBROKER_SURELY_UNSET".into())
            .resolve()
            .expect_err("unset");
        assert_eq!(
            error.to_string(),
            "the secret's environment variable PUSHBROKER_SURELY_UNSET is not set"
        );
    }
}
