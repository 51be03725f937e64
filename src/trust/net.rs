//! Which addresses a broker may connect to: the site's network policy, enforced on every
//! outgoing HTTP connection.
//!
//! By default every destination that is not globally routable is denied: the ranges of
//! IANA's IPv4 and IPv6 special-purpose address registries that are not globally
//! reachable (loopback, unspecified, private, shared address space, link-local,
//! unique-local, documentation, benchmarking, reserved), multicast and broadcast, and
//! known cloud metadata addresses. An IPv6 address that embeds an IPv4 one
//! (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged as
//! the IPv4 address it embeds. The site's `[network] deny` adds ranges; `allow` makes
//! exceptions (a metadata address is opened only by an `allow` entry naming that very
//! address, never by a wider range that happens to contain it).
//!
//! A resolver wraps ureq's own: after a host name is resolved, every address it resolved
//! to is checked, and the request is refused before any connection when one is denied.
//! Numeric host forms (`http://2130706434/`, `http://0/`) are normalized by URL parsing
//! first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

use crate::config::site::NetworkSite;

/// IPv4 ranges that are not globally reachable (IANA IPv4 Special-Purpose Address
/// Registry, plus multicast and the limited broadcast address).
const SPECIAL_V4: &[&str] = &[
    "0.0.0.0/8",          // "this network", 0.0.0.0 reaches the local host
    "10.0.0.0/8",         // private
    "100.64.0.0/10",      // shared address space (carrier-grade NAT)
    "127.0.0.0/8",        // loopback
    "169.254.0.0/16",     // link-local (cloud metadata)
    "172.16.0.0/12",      // private
    "192.0.0.0/24",       // IETF protocol assignments
    "192.0.2.0/24",       // documentation (TEST-NET-1)
    "192.88.99.0/24",     // deprecated 6to4 relay anycast
    "192.168.0.0/16",     // private
    "198.18.0.0/15",      // benchmarking
    "198.51.100.0/24",    // documentation (TEST-NET-2)
    "203.0.113.0/24",     // documentation (TEST-NET-3)
    "224.0.0.0/4",        // multicast
    "240.0.0.0/4",        // reserved
    "255.255.255.255/32", // limited broadcast
];

/// IPv6 ranges that are not globally reachable (IANA IPv6 Special-Purpose Address
/// Registry, plus multicast and the deprecated site-local range). The ranges that embed
/// an IPv4 address are not here: they are judged by the address they embed.
const SPECIAL_V6: &[&str] = &[
    "::1/128",        // loopback
    "::/128",         // unspecified
    "64:ff9b:1::/48", // local-use IPv4/IPv6 translation
    "100::/64",       // discard-only
    "100:0:0:1::/64", // dummy prefix
    "2001::/23",      // IETF protocol assignments (Teredo, benchmarking, ORCHID, …)
    "2001:db8::/32",  // documentation
    "3fff::/20",      // documentation
    "5f00::/16",      // segment routing SIDs
    "fc00::/7",       // unique-local (AWS's metadata service is fd00:ec2::254)
    "fe80::/10",      // link-local
    "fec0::/10",      // deprecated site-local
    "ff00::/8",       // multicast
];

/// Cloud metadata services. They sit inside the ranges above, but an `allow` of a wider
/// range (a site opening its 100.64.0.0/10 or fd00::/8 network) must not open them too.
const METADATA: &[&str] = &[
    "169.254.169.254", // AWS, Azure, GCP, OpenStack, DigitalOcean, …
    "169.254.170.2",   // AWS ECS task metadata
    "169.254.0.23",    // Tencent Cloud
    "100.100.100.200", // Alibaba Cloud
    "192.0.0.192",     // Oracle Cloud
    "fd00:ec2::254",   // AWS IPv6
    "fd20:ce::254",    // GCP IPv6
];

/// The IPv4 address an IPv6 address embeds, for the forms that carry one to an IPv4
/// host: IPv4-mapped `::ffff:a.b.c.d`, IPv4-translated `::ffff:0:a.b.c.d`,
/// IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d` and 6to4 `2002:aabb:ccdd::/48`.
pub fn embedded_ipv4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let segments = address.segments();
    let octets = address.octets();
    let last = Ipv4Addr::new(octets[12], octets[13], octets[14], octets[15]);
    match segments {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0xffff, 0, _, _] => Some(last),
        // `::` and `::1` are themselves, not compatible addresses.
        [0, 0, 0, 0, 0, 0, _, _] if u128::from(address) > 1 => Some(last),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(last),
        [0x2002, _, _, ..] => Some(Ipv4Addr::new(octets[2], octets[3], octets[4], octets[5])),
        _ => None,
    }
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter()
        .map(|net| net.parse().expect("a valid built-in range"))
        .collect()
}

/// Which addresses brokers may connect to.
#[derive(Debug, Clone)]
pub struct NetworkPolicy {
    /// Not globally routable: denied unless allowed.
    special: Vec<IpNet>,
    /// Metadata services: denied unless allowed by name.
    metadata: Vec<IpAddr>,
    /// The site's own additions.
    deny: Vec<IpNet>,
    /// The site's exceptions.
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
        let why = "is not a public address: the site's [network] policy denies it \
                   (the server admin can add it to [network] allow)";
        if self.host == self.address.to_string() {
            write!(f, "{} {why}", self.address)
        } else {
            write!(f, "{} resolves to {}, which {why}", self.host, self.address)
        }
    }
}

impl std::error::Error for Refused {}

impl NetworkPolicy {
    /// The policy of the site config.
    pub fn new(site: &NetworkSite) -> NetworkPolicy {
        NetworkPolicy {
            special: nets(SPECIAL_V4)
                .into_iter()
                .chain(nets(SPECIAL_V6))
                .collect(),
            metadata: METADATA
                .iter()
                .map(|address| address.parse().expect("a valid built-in address"))
                .collect(),
            deny: site.deny.clone(),
            allow: site.allow.clone(),
        }
    }

    /// Whether `address` may be reached. An address that embeds an IPv4 address is
    /// judged as that IPv4 address: allowed only when it is (an allowed translation
    /// prefix opens no private IPv4 behind it), denied when either form is. A metadata
    /// address needs an `allow` entry of its own.
    pub fn permits(&self, address: IpAddr) -> bool {
        let judged = match address {
            IpAddr::V6(v6) => embedded_ipv4(v6).map_or(address, IpAddr::V4),
            IpAddr::V4(_) => address,
        };
        let forms = [address, judged];
        if forms.iter().any(|form| self.metadata.contains(form)) {
            return self.allow.iter().any(|net| {
                net.prefix_len() == net.max_prefix_len() && forms.contains(&net.addr())
            });
        }
        if self.allow.iter().any(|net| net.contains(&judged)) {
            return true;
        }
        !self
            .special
            .iter()
            .chain(&self.deny)
            .any(|net| forms.iter().any(|form| net.contains(form)))
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

    fn policy(deny: &[&str], allow: &[&str]) -> NetworkPolicy {
        NetworkPolicy::new(&NetworkSite {
            deny: deny.iter().map(|net| net.parse().expect("net")).collect(),
            allow: allow.iter().map(|net| net.parse().expect("net")).collect(),
        })
    }

    fn permits(policy: &NetworkPolicy, address: &str) -> bool {
        policy.permits(address.parse().expect(address))
    }

    #[test]
    fn everything_not_globally_routable_is_denied_by_default() {
        let default = policy(&[], &[]);
        let denied = [
            "127.0.0.1",
            "127.255.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.100.100.200",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.192",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001::1",
            "100::1",
            "64:ff9b:1::1",
            // IPv4 embedded in IPv6, judged as the IPv4 address.
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::1",
            "::ffff:0:7f00:1",
            "::ffff:0:a9fe:a9fe",
            "100:0:0:1::1",
        ];
        for address in denied {
            assert!(!permits(&default, address), "{address} must be denied");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ];
        for address in public {
            assert!(permits(&default, address), "{address} must be allowed");
        }
    }

    #[test]
    fn allow_makes_exceptions_and_deny_adds_ranges() {
        let site = policy(&["8.8.0.0/16"], &["127.0.0.0/8", "10.1.2.3/32"]);
        assert!(permits(&site, "127.0.0.1"));
        assert!(
            permits(&site, "::ffff:127.0.0.1"),
            "mapped form of an allowed range"
        );
        assert!(permits(&site, "10.1.2.3"));
        assert!(!permits(&site, "10.9.9.9"));
        assert!(!permits(&site, "::1"), "IPv6 loopback is its own entry");
        let nat64 = policy(&[], &["64:ff9b::/96"]);
        assert!(permits(&nat64, "64:ff9b::808:808"));
        assert!(
            !permits(&nat64, "64:ff9b::a00:1"),
            "an allowed translation prefix opens no private IPv4 behind it"
        );
        assert!(!permits(&site, "8.8.8.8"), "the site's own deny");
        assert!(permits(&site, "1.1.1.1"));
    }

    #[test]
    fn metadata_addresses_need_an_allow_entry_of_their_own() {
        let wide = policy(&[], &["100.64.0.0/10", "fd00::/8", "169.254.0.0/16"]);
        assert!(permits(&wide, "100.64.0.1"));
        assert!(!permits(&wide, "100.100.100.200"));
        assert!(!permits(&wide, "fd00:ec2::254"));
        assert!(!permits(&wide, "169.254.169.254"));
        assert!(!permits(&wide, "::ffff:169.254.169.254"));
        let exact = policy(&[], &["169.254.169.254/32"]);
        assert!(permits(&exact, "169.254.169.254"));
    }

    #[test]
    fn embedded_forms_are_read_right() {
        let embedded = |text: &str| embedded_ipv4(text.parse().expect("v6"));
        assert_eq!(embedded("::ffff:1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(embedded("::1.2.3.4"), Some(Ipv4Addr::new(1, 2, 3, 4)));
        assert_eq!(
            embedded("64:ff9b::102:304"),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(
            embedded("2002:102:304:5::6"),
            Some(Ipv4Addr::new(1, 2, 3, 4))
        );
        assert_eq!(embedded("::1"), None);
        assert_eq!(embedded("::"), None);
        assert_eq!(embedded("2606:4700::1"), None);
    }
}
