//! Which of the server's secrets a repository may use: the one decision, made here.
//!
//! The site config names secrets (`[secrets.NAME]`: a value and the repository paths
//! granted it). A repository config refers to a granted secret as `"secret:NAME"`; an
//! `env:`/`file:` reference in it is honoured only when a secret granted to that
//! repository has exactly that value (configs written before grants keep working once the
//! server admin grants what they use); a value written inline is the repository's own.
//! Nothing else of the server's environment or files is ever read for a repository.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::config::SiteConfig;
use crate::config::secret::{RepoSecret, Secret, SecretRef};
use crate::config::values::{HttpUrl, ServiceUrl};
use crate::trust::urls;

/// A service's URL, ready to use, and how messages may show it.
pub struct ShownUrl {
    /// The URL to call.
    pub url: url::Url,
    /// What messages show of it.
    pub shown: String,
}

/// The secrets the site grants to one repository.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    /// The repository's path as grants match it.
    repository: PathBuf,
    /// The granted secrets, by name.
    granted: Vec<(String, SecretRef)>,
}

/// A secret a repository may use: the only way a repository config's secret is read.
#[derive(Debug, Clone)]
pub struct Granted(SecretRef);

impl Granted {
    /// Reads its value now.
    pub fn resolve(&self) -> Result<Secret> {
        self.0.resolve()
    }
}

impl Grants {
    /// What `site` grants to the repository at `top` (the directory named after it: a
    /// bare repository, a work tree, a Mercurial root), matched with symlinks resolved.
    pub fn for_repository(site: &SiteConfig, top: &Path) -> Grants {
        let repository = std::fs::canonicalize(top).unwrap_or_else(|_| top.to_path_buf());
        let granted = site
            .secrets
            .iter()
            .filter(|(_, grant)| grant.repositories.matches(&repository))
            .map(|(name, grant)| (name.clone(), grant.value.clone()))
            .collect();
        Grants {
            repository,
            granted,
        }
    }

    /// Whether the repository may use `secret`; the error says what to do, in one line,
    /// without any secret value.
    pub fn check(&self, secret: &RepoSecret) -> Result<(), String> {
        self.permit(secret).map(|_| ())
    }

    /// The secret, if the repository may use it.
    pub fn permit(&self, secret: &RepoSecret) -> Result<Granted, String> {
        let repository = self.repository.display();
        match secret {
            RepoSecret::Inline(value) => Ok(Granted(SecretRef::Inline(value.clone()))),
            RepoSecret::Named(name) => self
                .granted
                .iter()
                .find(|(granted, _)| granted == name)
                .map(|(_, value)| Granted(value.clone()))
                .ok_or_else(|| {
                    format!(
                        "secret:{name} is not granted to this repository ({repository}): \
                         the server admin grants it in the site config with [secrets.{name}] \
                         value = \"…\", repositories = [\"{repository}\"]"
                    )
                }),
            RepoSecret::Site(reference) => self
                .granted
                .iter()
                .find(|(_, value)| value == reference)
                .map(|(_, value)| Granted(value.clone()))
                .ok_or_else(|| {
                    format!(
                        "{reference:?} is not granted to this repository ({repository}): a \
                         repository config reads none of the server's variables or files; the \
                         server admin grants a secret in the site config ([secrets.NAME] \
                         value = \"{reference:?}\", repositories = [\"{repository}\"]), then \
                         write \"secret:NAME\""
                    )
                }),
        }
    }
}

impl Grants {
    /// The secret of a repository config, if granted, as an error for a broker's build.
    pub fn secret(&self, secret: &RepoSecret) -> Result<Granted> {
        self.permit(secret).map_err(anyhow::Error::msg)
    }

    /// A service's URL: as written (shown masked), or read from a granted secret (shown
    /// as its scheme and host alone). `host_only` shows a written URL that way too (chat
    /// webhooks, whose path is the credential).
    pub fn url(&self, url: &ServiceUrl, host_only: bool) -> Result<ShownUrl> {
        match url {
            ServiceUrl::Literal(HttpUrl(url)) => Ok(ShownUrl {
                shown: match host_only {
                    true => urls::host_only(url),
                    false => urls::masked(url),
                },
                url: url.clone(),
            }),
            ServiceUrl::Secret(secret) => {
                let value = self.secret(secret)?.resolve()?;
                let HttpUrl(url) = HttpUrl::parse(value.expose().trim())
                    .map_err(|problem| anyhow::anyhow!("the URL in {secret:?}: {problem}"))?;
                Ok(ShownUrl {
                    shown: urls::host_only(&url),
                    url,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(text: &str) -> SiteConfig {
        toml::from_str(text).expect("site config")
    }

    #[test]
    fn only_granted_secrets_resolve() {
        let site = site(
            "[secrets.ci]\nvalue = \"env:CI_SECRET\"\nrepositories = [\"/srv/git/acme/*.git\"]\n\
             [secrets.all]\nvalue = \"file:/etc/pushbroker/all\"\nrepositories = [\"**\"]\n",
        );
        let widgets = Grants::for_repository(&site, Path::new("/srv/git/acme/widgets.git"));
        let other = Grants::for_repository(&site, Path::new("/srv/git/evil/widgets.git"));
        let deep = Grants::for_repository(&site, Path::new("/srv/git/acme/sub/x.git"));
        let named = RepoSecret::parse("secret:ci").expect("named");
        let by_value = RepoSecret::parse("env:CI_SECRET").expect("env");
        let ungranted = RepoSecret::parse("env:SMTP_PASSWORD").expect("env");
        let file = RepoSecret::parse("file:/etc/passwd").expect("file");
        assert!(widgets.check(&named).is_ok());
        assert!(widgets.check(&by_value).is_ok());
        assert!(widgets.check(&ungranted).is_err());
        assert!(widgets.check(&file).is_err());
        assert!(other.check(&named).is_err(), "another owner's repository");
        assert!(deep.check(&named).is_err(), "* stays within one directory");
        let all = RepoSecret::parse("secret:all").expect("named");
        assert!(other.check(&all).is_ok());
        let error = other.check(&ungranted).expect_err("not granted");
        assert!(
            error.contains("env:SMTP_PASSWORD is not granted"),
            "{error}"
        );
        assert!(
            RepoSecret::parse("hunter2")
                .map(|inline| widgets.check(&inline).is_ok())
                .unwrap_or(false),
            "inline values are the repository's own"
        );
    }
}
