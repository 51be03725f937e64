//! The repository config, `pushbroker.toml`: `[repository]` and `[[service]]` tables.
//!
//! Read with spans kept: each `[[service]]` table is split into the options every
//! service has and its broker's own, and each part is deserialized into its typed struct,
//! so every error points at the exact key. Problems in one service do not hide those in
//! the next: all are collected.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::common::{COMMON_KEYS, CommonOptions};
use super::diagnostic::{ConfigError, ConfigErrors, Source};
use super::secret::{self, RepoSecret};
use super::values::{HttpUrl, PathFilter, RefFilter, Timeout};
use crate::broker::exec::ExecConfig;
use crate::broker::{self, BrokerConfig};
use crate::trust::secrets::Grants;

/// The default `max_commits` of a service.
pub const DEFAULT_MAX_COMMITS: usize = 500;

/// A loaded repository config.
#[derive(Debug)]
pub struct RepoConfig {
    /// The file it came from.
    pub path: PathBuf,
    /// `[repository]`.
    pub repository: RepositoryConfig,
    /// Every `[[service]]`, in file order.
    pub services: Vec<ServiceConfig>,
    /// Places where a secret is written inline (for `check`'s warning).
    pub inline_secrets: Vec<ConfigError>,
}

/// `[repository]`: how the repository is named in payloads.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// Display name; default: the directory name without `.git`.
    pub name: Option<String>,
    /// Owner; default: the parent directory's name.
    pub owner: Option<String>,
    /// Web page; default: the site's `repo_url` template.
    pub url: Option<HttpUrl>,
    /// Whether the repository is private (default true).
    pub private: Option<bool>,
}

/// One `[[service]]`: a broker with its options.
#[derive(Debug)]
pub struct ServiceConfig {
    /// Unique within the repository; default `<broker>-<n>`.
    pub name: String,
    /// The broker's name.
    pub broker: String,
    /// False when the service is configured but off (`enabled = false`): never built,
    /// never delivered.
    pub enabled: bool,
    /// Run only when a pushed ref matches.
    pub branches: Option<RefFilter>,
    /// Run only when a new changeset touches a matching file.
    pub paths: Option<PathFilter>,
    /// Per-delivery timeout; default the site's `[limits] timeout`.
    pub timeout: Option<Timeout>,
    /// Most changesets one delivery carries (0: no cap).
    pub max_commits: usize,
    /// The broker's own options, typed.
    pub options: Box<dyn BrokerConfig>,
    /// The options as the payload's `service` shows them: secrets are `"***"`.
    pub redacted: serde_json::Value,
    /// The whole `[[service]]` table as TOML, as written: what a queued delivery
    /// carries for a worker to build the same service.
    pub written: String,
    /// Every secret reference in the table (`secret:NAME`, `env:`, `file:`), with its
    /// key and place, for `check` to try reading.
    pub references: Vec<SecretUse>,
}

/// A secret reference a service's option makes.
#[derive(Debug, Clone)]
pub struct SecretUse {
    /// The option's key (`secret`, `token`, `url`, …).
    pub key: String,
    /// The reference.
    pub secret: RepoSecret,
    /// Where it is written (the message is empty).
    pub at: ConfigError,
}

/// Option names whose value is a secret, however it is written.
pub(super) const SECRET_KEYS: &[&str] = &["secret", "token", "password"];

/// Loads `path`; a missing file is a config with no services. `registered` names the
/// custom brokers the site config registers: only those and the built-in ones may be
/// used. `grants` are the secrets the site grants this repository: a secret reference
/// to anything else is an error at its value.
pub fn load(path: &Path, registered: &[&str], grants: &Grants) -> Result<RepoConfig, ConfigErrors> {
    if !path.exists() {
        return Ok(RepoConfig {
            path: path.to_path_buf(),
            repository: RepositoryConfig::default(),
            services: Vec::new(),
            inline_secrets: Vec::new(),
        });
    }
    parse(Source::read(path)?, registered, grants)
}

/// Parses a config's text.
pub fn parse(
    source: Source,
    registered: &[&str],
    grants: &Grants,
) -> Result<RepoConfig, ConfigErrors> {
    let doc = DeTable::parse(&source.text)
        .map_err(|error| ConfigErrors(vec![source.toml_error(&error)]))?;
    let mut loader = Loader {
        source: &source,
        errors: Vec::new(),
        inline_secrets: Vec::new(),
        counts: HashMap::new(),
        registered,
        grants,
    };
    let mut repository = RepositoryConfig::default();
    let mut services = Vec::new();
    for (key, value) in doc.into_inner() {
        match key.get_ref().as_ref() {
            "repository" => match RepositoryConfig::deserialize(ValueDeserializer::from(value)) {
                Ok(parsed) => repository = parsed,
                Err(error) => loader.errors.push(source.toml_error(&error)),
            },
            "service" => match value.into_inner() {
                DeValue::Array(items) => {
                    for item in items.iter() {
                        if let Some(service) = loader.service(item.clone()) {
                            services.push(service);
                        }
                    }
                }
                _ => loader.error(
                    key.span(),
                    "write [[service]] (double brackets), not [service]: each service is a \
                     [[service]] table of its own",
                ),
            },
            "brokers" => loader.error(
                key.span(),
                "a repository config cannot register brokers: [brokers.NAME] belongs in the \
                 site config, where the server admin pins a verified program",
            ),
            other => loader.error(
                key.span(),
                format!("unknown section `{other}`: write [repository] or [[service]]"),
            ),
        }
    }
    check_unique_names(&mut loader, &services);
    if !loader.errors.is_empty() {
        return Err(ConfigErrors(loader.errors));
    }
    Ok(RepoConfig {
        path: source.path.clone(),
        repository,
        services,
        inline_secrets: loader.inline_secrets,
    })
}

struct Loader<'s> {
    source: &'s Source,
    errors: Vec<ConfigError>,
    inline_secrets: Vec<ConfigError>,
    /// Services seen so far per broker, for default names.
    counts: HashMap<String, usize>,
    /// The custom brokers the site registers.
    registered: &'s [&'s str],
    /// The secrets the site grants this repository.
    grants: &'s Grants,
}

impl Loader<'_> {
    fn error(&mut self, span: std::ops::Range<usize>, message: impl Into<String>) {
        self.errors.push(self.source.error(Some(span), message));
    }

    fn service(&mut self, item: Spanned<DeValue<'_>>) -> Option<ServiceConfig> {
        let span = item.span();
        let DeValue::Table(table) = item.into_inner() else {
            self.error(span, "each [[service]] must be a table");
            return None;
        };
        let Some(broker_value) = table.get("broker") else {
            self.error(
                span,
                format!(
                    "this [[service]] has no broker: add broker = \"…\" ({})",
                    broker::names_hint(self.registered)
                ),
            );
            return None;
        };
        let Some(broker_name) = broker_value.get_ref().as_str().map(str::to_string) else {
            self.error(
                broker_value.span(),
                "broker must be a string, e.g. broker = \"email\"",
            );
            return None;
        };
        if let Some((key, _)) = table.get_key_value("command") {
            self.error(
                key.span(),
                "a repository config cannot name a program to run: ask the site admin to \
                 verify and register it as [brokers.NAME], then write broker = \"NAME\"",
            );
            return None;
        }
        if broker_name.contains('/') || broker_name.starts_with('.') {
            self.error(
                broker_value.span(),
                "broker must be a name, not a path: ask the site admin to verify and register \
                 the program (`pushbroker verify`)",
            );
            return None;
        }
        let parse_options = broker::parser(&broker_name);
        if parse_options.is_none() && !self.registered.contains(&broker_name.as_str()) {
            self.error(
                broker_value.span(),
                broker::unknown_message(&broker_name, self.registered),
            );
            return None;
        }
        let mut common = DeTable::new();
        let mut own = DeTable::new();
        let mut references = Vec::new();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            if name == "broker" {
                continue;
            }
            self.note_inline_secret(name, value);
            if let Some(secret) = self.check_grant(value) {
                references.push(SecretUse {
                    key: name.to_string(),
                    secret,
                    at: self.source.error(Some(value.span()), ""),
                });
            }
            let target = if COMMON_KEYS.contains(&name) {
                &mut common
            } else {
                &mut own
            };
            target.insert(key.clone(), value.clone());
        }
        let redacted = super::redact::options(&table);
        let written = super::redact::as_written(&table);
        fn as_value<'i>(
            span: &std::ops::Range<usize>,
            table: DeTable<'i>,
        ) -> ValueDeserializer<'i> {
            ValueDeserializer::from(Spanned::new(span.clone(), DeValue::Table(table)))
        }
        let common = CommonOptions::deserialize(as_value(&span, common));
        let options = match parse_options {
            Some(parse_options) => parse_options(as_value(&span, own)),
            None => self.exec_options(&broker_name, &own),
        };
        let (common, options) = match (common, options) {
            (Ok(common), Ok(options)) => (common, options),
            (common, options) => {
                for error in [common.err(), options.err()].into_iter().flatten() {
                    let mut located = self.source.toml_error_also(&error, COMMON_KEYS);
                    if let Some(field) = missing_field(&located.message) {
                        located.message = format!(
                            "this [[service]] (broker = \"{broker_name}\") needs {field} = …: add it"
                        );
                    }
                    self.errors.push(located);
                }
                return None;
            }
        };
        let count = self.counts.entry(broker_name.clone()).or_default();
        *count += 1;
        let name = common
            .name
            .unwrap_or_else(|| format!("{broker_name}-{count}"));
        let mut redacted = redacted;
        if let serde_json::Value::Object(map) = &mut redacted {
            map.insert("name".into(), name.clone().into());
        }
        Some(ServiceConfig {
            name,
            broker: broker_name,
            enabled: common.enabled,
            branches: common.branches,
            paths: common.paths,
            timeout: common.timeout,
            max_commits: common.max_commits,
            options,
            redacted,
            written,
            references,
        })
    }

    /// A registered broker's options: free-form; the secret ones are kept to hand to
    /// the program in its environment.
    fn exec_options(
        &mut self,
        broker_name: &str,
        own: &DeTable<'_>,
    ) -> Result<Box<dyn BrokerConfig>, toml::de::Error> {
        let mut secrets = Vec::new();
        for (key, value) in own.iter() {
            let name = key.get_ref().as_ref();
            let Some(text) = value.get_ref().as_str() else {
                continue;
            };
            if secret::is_reference(text) || SECRET_KEYS.contains(&name) {
                // Through the deserializer, so an error carries the value's position.
                let parsed = RepoSecret::deserialize(ValueDeserializer::from(value.clone()))?;
                secrets.push((name.to_string(), parsed));
            }
        }
        Ok(Box::new(ExecConfig {
            broker: broker_name.to_string(),
            secrets,
        }))
    }

    /// A secret reference the site does not grant this repository is an error at the
    /// value (nothing of the server's is read for it). Returns the reference, if the
    /// value is one.
    fn check_grant(&mut self, value: &Spanned<DeValue<'_>>) -> Option<RepoSecret> {
        let text = value.get_ref().as_str()?;
        if !secret::is_reference(text) {
            return None;
        }
        // A malformed reference is reported where the option is deserialized.
        let reference = RepoSecret::parse(text).ok()?;
        if let Err(problem) = self.grants.check(&reference) {
            self.error(value.span(), problem);
        }
        Some(reference)
    }

    fn note_inline_secret(&mut self, key: &str, value: &Spanned<DeValue<'_>>) {
        if let Some(text) = value.get_ref().as_str()
            && SECRET_KEYS.contains(&key)
            && !secret::is_reference(text)
        {
            let warning = self.source.error(
                Some(value.span()),
                format!(
                    "{key} is written inline: keep this file unreadable to others (chmod \
                     600), or ask the server admin to grant it as [secrets.NAME] and write \
                     \"secret:NAME\""
                ),
            );
            self.inline_secrets.push(warning);
        }
    }
}

/// The field a serde "missing field `x`" message names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.strip_suffix('`')
}

fn check_unique_names(loader: &mut Loader<'_>, services: &[ServiceConfig]) {
    let mut seen = std::collections::HashSet::new();
    for service in services {
        if !seen.insert(service.name.as_str()) {
            let at = loader.source.text.find(&format!("\"{}\"", service.name));
            loader.errors.push(loader.source.error(
                at.map(|at| at..at + 1),
                format!(
                    "two services are named {:?}: give each a unique name = \"…\"",
                    service.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;

    use super::*;

    fn parse_text(text: &str) -> Result<RepoConfig, ConfigErrors> {
        parse(
            Source {
                path: "pushbroker.toml".into(),
                text: text.to_string(),
            },
            &["trello"],
            &Grants::default(),
        )
    }

    const VALID: &str = "[repository]\nname = \"w\"\n\n[[service]]\nbroker = \"email\"\nto = [\"a@example.com\"]\nbranches = [\"main\"]\n\n[[service]]\nbroker = \"post\"\nurl = \"https://x.example.com/\"\nsecret = \"whsec_abc\"\ntimeout = \"2s\"\n";

    #[test]
    fn the_seed_config_is_valid() {
        let config = parse_text(VALID).expect("valid");
        assert_eq!(config.services.len(), 2);
    }

    proptest! {
        /// Arbitrary text: an error list or a config, never a panic.
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            let _ = parse_text(&text);
        }

        /// A valid config with one byte range replaced: every error is located inside
        /// the file.
        #[test]
        fn mutated_configs_never_panic(at in 0..VALID.len(), len in 0usize..8, junk in "[\\[\\]\"= \na-z0-9{}.,*]{0,8}") {
            let end = (at + len).min(VALID.len());
            let (Some(head), Some(tail)) = (VALID.get(..at), VALID.get(end..)) else { return Ok(()) };
            let text = format!("{head}{junk}{tail}");
            if let Err(errors) = parse_text(&text) {
                let lines = text.lines().count().max(1);
                for error in errors.0 {
                    prop_assert!(error.line <= lines + 1, "{error} is past the end");
                    prop_assert!(!error.message.is_empty());
                }
            }
        }
    }
}
