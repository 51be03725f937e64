//! Secrets: `env:NAME` and `file:PATH` references, resolved at delivery time only.
//!
//! Neither type prints its value: `Debug` shows the reference (or `***` for a value
//! written inline), so a secret cannot leak through a log line or an error message.

use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::de::{Deserialize, Deserializer, Error};

/// Where a secret comes from, as written in the config.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// `env:NAME`: the hook's environment variable `NAME`.
    Env(String),
    /// `file:/path`: the file's contents, trailing newline removed.
    File(PathBuf),
    /// A value written inline; `check` warns when the file is readable by others.
    Inline(Secret),
}

impl SecretRef {
    /// Parses a config value.
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
        } else if text.is_empty() {
            Err("empty secret: write \"env:NAME\" or \"file:/path\"".into())
        } else {
            Ok(SecretRef::Inline(Secret(text.to_string())))
        }
    }

    /// Reads the secret's value now.
    pub fn resolve(&self) -> Result<Secret> {
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

/// A resolved secret value. Only [`Secret::expose`] gives it out.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

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

/// Whether a config value is a secret reference, to redact it in the payload's `service`.
pub fn is_reference(text: &str) -> bool {
    text.starts_with("env:") || text.starts_with("file:")
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
        let inline = SecretRef::parse("hunter2").expect("inline");
        assert!(matches!(inline, SecretRef::Inline(_)));
        assert_eq!(format!("{inline:?}"), "***");
        let resolved = inline.resolve().expect("inline resolves");
        assert_eq!(format!("{resolved:?}"), "***");
        assert_eq!(resolved.expose(), "hunter2");
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
