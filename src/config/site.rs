//! The site config: what the server admin decides for every repository.
//!
//! Read from `$PUSHBROKER_SITE` or `/etc/pushbroker/site.toml`; every setting has a
//! default, so pushbroker works without the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{Deserializer, Error};

use super::diagnostic::{ConfigErrors, Source};
pub use super::email::{EmailSite, SmtpTls, SmtpUrl, Transport};
use super::queue::QueueSite;
use super::secret::SecretGrant;
use super::values::Timeout;

/// The site config file used when `PUSHBROKER_SITE` is not set.
pub const DEFAULT_PATH: &str = "/etc/pushbroker/site.toml";

/// The whole site config.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// The forge's base URL; default `https://<this host's name>`.
    pub canon_url: Option<String>,
    /// Template of a repository's web page: `{canon_url}`, `{owner}`, `{slug}`, `{name}`.
    pub repo_url: String,
    /// Template of a commit's link: `{repo_url}`, `{node}` (full id), `{short}`, and the above.
    pub commit_url: String,
    /// How email is sent.
    pub email: EmailSite,
    /// Time limits.
    pub limits: LimitsSite,
    /// Which network destinations brokers may reach.
    pub network: NetworkSite,
    /// Custom brokers the admin verified and registered, by name.
    pub brokers: std::collections::BTreeMap<String, BrokerRegistration>,
    /// Secrets granted to repositories, by name (`[secrets.NAME]`); a repository config
    /// uses one as `"secret:NAME"`.
    pub secrets: std::collections::BTreeMap<String, SecretGrant>,
    /// Queue mode: publish deliveries to NATS JetStream for `pushbroker worker`s.
    pub queue: Option<QueueSite>,
}

impl Default for SiteConfig {
    fn default() -> Self {
        SiteConfig {
            canon_url: None,
            repo_url: "{canon_url}/{owner}/{slug}".into(),
            commit_url: "{repo_url}/commits/{node}".into(),
            email: EmailSite::default(),
            limits: LimitsSite::default(),
            network: NetworkSite::default(),
            brokers: std::collections::BTreeMap::new(),
            secrets: std::collections::BTreeMap::new(),
            queue: None,
        }
    }
}

/// `[limits]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsSite {
    /// Default per-service timeout (10 s).
    pub timeout: Timeout,
    /// The whole hook's budget (30 s).
    pub budget: Timeout,
    /// Most deliveries one run makes at once, so most threads it starts for them
    /// (default: 4 per core, at least 16).
    pub workers: Option<std::num::NonZeroUsize>,
    /// Most deliveries one run makes at once to one destination host (default 4).
    pub per_host: std::num::NonZeroUsize,
}

impl Default for LimitsSite {
    fn default() -> Self {
        LimitsSite {
            timeout: Timeout(std::time::Duration::from_secs(10)),
            budget: Timeout(std::time::Duration::from_secs(30)),
            workers: None,
            per_host: std::num::NonZeroUsize::new(4).expect("4 is not zero"),
        }
    }
}

impl LimitsSite {
    /// The delivery threads of one run: `workers`, or 4 per core and at least 16
    /// (deliveries wait on the network, not on the processor).
    pub fn workers(&self) -> usize {
        self.workers.map_or_else(
            || {
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                (4 * cores).max(16)
            },
            usize::from,
        )
    }
}

/// `[network]`: destinations checked against every address a host resolves to,
/// before any connection. Every address that is not globally routable is always denied
/// (see [`crate::trust::net`]); these lists change that.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSite {
    /// Ranges refused besides the built-in ones.
    pub deny: Vec<ipnet::IpNet>,
    /// Exceptions to every deny rule, built-in ones included (e.g. `"10.0.0.0/8"` for
    /// an internal CI server). A cloud metadata address is opened only by an entry of
    /// its own (`"169.254.169.254/32"`).
    pub allow: Vec<ipnet::IpNet>,
}

/// `[brokers.NAME]`: a custom broker program, pinned by its sha256.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerRegistration {
    /// The program's absolute path.
    pub command: ProgramPath,
    /// The program's sha256 (as `pushbroker verify` printed it); a program that no longer
    /// matches is not run.
    pub sha256: Sha256Hex,
    /// Arguments passed before anything else.
    #[serde(default)]
    pub args: Vec<String>,
    /// Default timeout of its deliveries (a service's own `timeout` wins).
    pub timeout: Option<Timeout>,
}

/// An absolute program path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramPath(pub PathBuf);

impl<'de> Deserialize<'de> for ProgramPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let path = PathBuf::from(String::deserialize(deserializer)?);
        if !path.is_absolute() {
            return Err(D::Error::custom(
                "command must be an absolute path, e.g. \"/usr/local/lib/pushbroker/brokers/trello\"",
            ));
        }
        Ok(ProgramPath(path))
    }
}

/// A sha256 digest in lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sha256Hex(pub String);

impl<'de> Deserialize<'de> for Sha256Hex {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?.to_ascii_lowercase();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(D::Error::custom(
                "sha256 must be 64 hex digits: copy it from `pushbroker verify PROGRAM`",
            ));
        }
        Ok(Sha256Hex(text))
    }
}

/// The site config file in force: `$PUSHBROKER_SITE`, else the default path.
pub fn path() -> PathBuf {
    std::env::var_os("PUSHBROKER_SITE")
        .filter(|value| !value.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from)
}

/// Loads the site config in force; defaults when the default file does not exist.
pub fn load() -> Result<SiteConfig, ConfigErrors> {
    let path = path();
    let named = std::env::var_os("PUSHBROKER_SITE").is_some_and(|value| !value.is_empty());
    if !named && !path.exists() {
        return Ok(SiteConfig::default());
    }
    load_from(&path)
}

/// Loads a site config file.
pub fn load_from(path: &Path) -> Result<SiteConfig, ConfigErrors> {
    let source = Source::read(path)?;
    let site: SiteConfig = toml::from_str(&source.text)
        .map_err(|error| ConfigErrors(vec![source.toml_error(&error)]))?;
    if let Some(name) = site
        .secrets
        .keys()
        .find(|name| !super::secret::valid_name(name))
    {
        let at = source.text.find(name.as_str()).map(|at| at..at + 1);
        return Err(ConfigErrors(vec![source.error(
            at,
            format!("[secrets.{name}]: a secret's name has only letters, digits, _ and -"),
        )]));
    }
    if let Some((key, problem)) = site.queue.as_ref().and_then(QueueSite::problem) {
        let at = source.text.find(key).map(|at| at..at + 1);
        return Err(ConfigErrors(vec![source.error(at, problem)]));
    }
    match site.email.problem() {
        Some((key, problem)) => {
            let at = source.text.find(key).map(|at| at..at + 1);
            Err(ConfigErrors(vec![source.error(at, problem)]))
        }
        None => Ok(site),
    }
}

impl SiteConfig {
    /// The forge's base URL, without a trailing slash.
    pub fn canon_url(&self) -> String {
        match &self.canon_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("https://{}", hostname()),
        }
    }
}

/// This machine's host name, for default URLs, sender addresses and Message-IDs; read
/// once per process.
pub fn hostname() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|name| name.trim().to_string())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "localhost".into())
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SiteConfig, ConfigErrors> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("site.toml");
        std::fs::write(&path, text).expect("write");
        load_from(&path)
    }

    #[test]
    fn defaults_and_overrides() {
        let site = parse("canon_url = \"https://code.example.com/\"\n[limits]\ntimeout = \"2s\"\n")
            .expect("valid");
        assert_eq!(site.canon_url(), "https://code.example.com");
        assert_eq!(
            site.limits.timeout,
            Timeout(std::time::Duration::from_secs(2))
        );
        assert_eq!(site.email.transport, Transport::File);
    }

    #[test]
    fn errors_are_located_and_passwords_hidden() {
        let error = parse("[email]\ntransprt = \"smtp\"\n").expect_err("unknown key");
        assert!(
            error
                .to_string()
                .contains(":2:1: unknown key `transprt`: did you mean `transport`?"),
            "{error}"
        );
        let error = parse("[email]\ntransport = \"smtp\"\n").expect_err("no url");
        assert!(
            error
                .to_string()
                .contains(":2:1: transport = \"smtp\" needs smtp_url"),
            "{error}"
        );
        let site = parse(
            "[email]\ntransport = \"smtp\"\nsmtp_url = \"smtp://u:hunter2@mail.example.com\"\n",
        )
        .expect("valid");
        assert!(!format!("{site:?}").contains("hunter2"));
    }

    #[test]
    fn smtp_password_and_ca_file_need_a_user_and_tls() {
        let email = "[email]\ntransport = \"smtp\"\n";
        let cases = [
            (
                "smtp_url = \"smtp://mail.example.com?tls=required\"\nsmtp_password = \"env:P\"\n",
                ":4:1: smtp_password needs a user name in smtp_url",
            ),
            (
                "smtp_url = \"smtp://u:p@mail.example.com?tls=required\"\nsmtp_password = \"env:P\"\n",
                ":4:1: smtp_url already has a password",
            ),
            (
                "smtp_url = \"smtp://mail.example.com\"\nsmtp_ca_file = \"/etc/ca.pem\"\n",
                ":4:1: smtp_ca_file needs a TLS smtp_url",
            ),
        ];
        for (keys, expected) in cases {
            let error = parse(&format!("{email}{keys}")).expect_err(keys);
            assert!(error.to_string().contains(expected), "{error}");
        }
        let site = parse(&format!(
            "{email}smtp_url = \"smtps://bot@mail.example.com\"\nsmtp_password = \"env:P\"\n\
             smtp_ca_file = \"/etc/ca.pem\"\n"
        ))
        .expect("valid");
        let url = site.email.smtp_url.expect("url");
        assert_eq!(
            (url.user(), url.tls()),
            ("bot".to_string(), SmtpTls::Wrapper)
        );
    }
}
