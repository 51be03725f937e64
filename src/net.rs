//! The site's network policy, enforced on every outgoing HTTP connection.
//!
//! A resolver wraps ureq's own: after a host name is resolved, every address it resolved
//! to is checked, and the request is refused before any connection when one is denied.
//! Numeric host forms (`http://2130706434/`) are normalized by URL parsing first, and
//! IPv4-mapped IPv6 addresses are checked as IPv4.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::config::site::NetworkSite;

/// Which addresses brokers may connect to.
#[derive(Debug, Clone)]
pub struct NetworkPolicy {
    deny: Vec<IpNet>,
    allow: Vec<IpNet>,
}

/// A destination the policy refused.
#[derive(Debug)]
pub struct Refused {
    /// The host as written.
    pub host: String,
    /// The denied address.
    pub address: IpAddr,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host == self.address.to_string() {
            write!(
                f,
                "{} is denied by the site's [network] policy",
                self.address
            )
        } else {
            write!(
                f,
                "{} resolves to {}, which the site's [network] policy denies",
                self.host, self.address
            )
        }
    }
}

impl std::error::Error for Refused {}

impl NetworkPolicy {
    /// The policy of the site config.
    pub fn new(site: &NetworkSite) -> NetworkPolicy {
        NetworkPolicy {
            deny: site.deny.clone(),
            allow: site.allow.clone(),
        }
    }

    /// Whether `address` may be reached: allowed explicitly, or not denied.
    pub fn permits(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.allow.iter().any(|net| net.contains(&address))
            || !self.deny.iter().any(|net| net.contains(&address))
    }
}

/// ureq's resolver with the policy applied to every resolved address.
#[derive(Debug)]
pub struct PolicyResolver {
    policy: NetworkPolicy,
    inner: DefaultResolver,
}

impl PolicyResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: NetworkPolicy) -> PolicyResolver {
        PolicyResolver {
            policy,
            inner: DefaultResolver::default(),
        }
    }
}

impl Resolver for PolicyResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let addresses = self.inner.resolve(uri, config, timeout)?;
        if let Some(denied) = addresses
            .iter()
            .find(|address| !self.policy.permits(address.ip()))
        {
            return Err(ureq::Error::Other(Box::new(Refused {
                host: uri
                    .host()
                    .unwrap_or_default()
                    .trim_matches(['[', ']'])
                    .to_string(),
                address: denied.ip(),
            })));
        }
        Ok(addresses)
    }
}

/// The policy's refusal inside a ureq error, if that is what it is.
pub fn refusal(error: &ureq::Error) -> Option<&Refused> {
    match error {
        ureq::Error::Other(inner) => inner.downcast_ref::<Refused>(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_policy_denies_link_local_and_allow_makes_exceptions() {
        let policy = NetworkPolicy::new(&NetworkSite::default());
        assert!(!policy.permits("169.254.169.254".parse().expect("ip")));
        assert!(!policy.permits("fe80::1".parse().expect("ip")));
        assert!(
            !policy.permits("::ffff:169.254.169.254".parse().expect("ip")),
            "mapped IPv4 is IPv4"
        );
        assert!(policy.permits("127.0.0.1".parse().expect("ip")));
        let policy = NetworkPolicy {
            deny: vec!["10.0.0.0/8".parse().expect("net")],
            allow: vec!["10.1.2.3/32".parse().expect("net")],
        };
        assert!(!policy.permits("10.9.9.9".parse().expect("ip")));
        assert!(policy.permits("10.1.2.3".parse().expect("ip")));
    }
}
