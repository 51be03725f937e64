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
    granted: Vec<Grant>,
}

/// One secret granted to the repository.
#[derive(Debug, Clone)]
struct Grant {
    name: String,
    value: SecretRef,
    /// Where it may be sent; any destination when empty.
    hosts: Vec<String>,
}

/// Where a broker will send a secret (or what it signs with it).
#[derive(Debug, Clone, Copy)]
pub enum Destination<'a> {
    /// A request to this host.
    Host(&'a str),
    /// A custom broker program, which may send it anywhere.
    Program,
}

impl Grant {
    /// Whether this secret may go to `destination`: anywhere when the grant names no
    /// hosts; else only to a host it names (`*.example.com` names every subdomain), and
    /// never to a program.
    fn allows(&self, destination: Destination<'_>) -> Result<(), String> {
        if self.hosts.is_empty() {
            return Ok(());
        }
        let name = &self.name;
        let hosts = self.hosts.join(", ");
        match destination {
            Destination::Host(host)
                if self.hosts.iter().any(|pattern| host_matches(pattern, host)) =>
            {
                Ok(())
            }
            Destination::Host(host) => Err(format!(
                "secret:{name} may be sent only to {hosts} (the site's [secrets.{name}] hosts), \
                 not to {host}"
            )),
            Destination::Program => Err(format!(
                "secret:{name} may be sent only to {hosts} (the site's [secrets.{name}] hosts): \
                 a custom broker cannot take it"
            )),
        }
    }
}

/// Whether `host` is `pattern`, or a subdomain of `x` for a pattern `*.x`; case-blind.
fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (pattern.to_ascii_lowercase(), host.to_ascii_lowercase());
    match pattern.strip_prefix("*.") {
        Some(domain) => host.ends_with(&format!(".{domain}")),
        None => pattern == host,
    }
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
            .map(|(name, grant)| Grant {
                name: name.clone(),
                value: grant.value.clone(),
                hosts: grant.hosts.clone(),
            })
            .collect();
        Grants {
            repository,
            granted,
        }
    }

    /// Whether the repository may use `secret` at all (where it goes is judged when the
    /// service is built); the error says what to do, in one line, without any secret
    /// value.
    pub fn check(&self, secret: &RepoSecret) -> Result<(), String> {
        self.grant(secret).map(|_| ())
    }

    /// Where a granted reference's value comes from (`None` for a value written inline
    /// or a reference that is not granted), for `check` to try reading it.
    pub fn source(&self, secret: &RepoSecret) -> Option<SecretRef> {
        self.grant(secret)
            .ok()
            .flatten()
            .map(|grant| grant.value.clone())
    }

    /// The secret, if the repository may use it and send it to `destination`.
    pub fn permit(
        &self,
        secret: &RepoSecret,
        destination: Destination<'_>,
    ) -> Result<Granted, String> {
        match self.grant(secret)? {
            None => match secret {
                RepoSecret::Inline(value) => Ok(Granted(SecretRef::Inline(value.clone()))),
                _ => unreachable!("only inline values need no grant"),
            },
            Some(grant) => {
                grant.allows(destination)?;
                Ok(Granted(grant.value.clone()))
            }
        }
    }

    /// The grant `secret` needs (`None` for a value written inline), if there is one.
    fn grant(&self, secret: &RepoSecret) -> Result<Option<&Grant>, String> {
        let repository = self.repository.display();
        match secret {
            RepoSecret::Inline(_) => Ok(None),
            RepoSecret::Named(name) => self
                .granted
                .iter()
                .find(|grant| &grant.name == name)
                .map(Some)
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
                .find(|grant| &grant.value == reference)
                .map(Some)
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
    /// The secret of a repository config, if granted for `destination`, as an error for
    /// a broker's build.
    pub fn secret(&self, secret: &RepoSecret, destination: Destination<'_>) -> Result<Granted> {
        self.permit(secret, destination).map_err(anyhow::Error::msg)
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
                // A URL secret is judged by the host it names, once it is read.
                let grant = self.grant(secret).map_err(anyhow::Error::msg)?;
                let value = match (grant, secret) {
                    (Some(grant), _) => grant.value.resolve()?,
                    (None, RepoSecret::Inline(value)) => value.clone(),
                    (None, _) => unreachable!("only inline values need no grant"),
                };
                let HttpUrl(url) = HttpUrl::parse(value.expose().trim())
                    .map_err(|problem| anyhow::anyhow!("the URL in {secret:?}: {problem}"))?;
                if let Some(grant) = grant {
                    grant
                        .allows(Destination::Host(url.host_str().unwrap_or("")))
                        .map_err(anyhow::Error::msg)?;
                }
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
            widgets
                .permit(&named, Destination::Host("anywhere.example"))
                .is_ok(),
            "a grant without hosts goes anywhere"
        );
        assert!(
            RepoSecret::parse("hunter2")
                .map(|inline| widgets.check(&inline).is_ok())
                .unwrap_or(false),
            "inline values are the repository's own"
        );
    }

    #[test]
    fn a_grant_with_hosts_goes_only_there() {
        let site = site(
            "[secrets.ci]\nvalue = \"env:CI\"\nrepositories = [\"**\"]\n\
             hosts = [\"ci.example.com\", \"*.hooks.example.com\"]\n",
        );
        let grants = Grants::for_repository(&site, Path::new("/srv/git/x.git"));
        let named = RepoSecret::parse("secret:ci").expect("named");
        for host in ["ci.example.com", "CI.example.com", "a.hooks.example.com"] {
            assert!(
                grants.permit(&named, Destination::Host(host)).is_ok(),
                "{host}"
            );
        }
        for host in [
            "evil.example.com",
            "hooks.example.com",
            "xhooks.example.com",
            "127.0.0.1",
        ] {
            let error = grants
                .permit(&named, Destination::Host(host))
                .expect_err(host);
            assert!(error.contains(&format!("not to {host}")), "{error}");
        }
        let error = grants
            .permit(&named, Destination::Program)
            .expect_err("a program");
        assert!(error.contains("a custom broker cannot take it"), "{error}");
    }
}
