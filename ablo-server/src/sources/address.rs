//! Which addresses a Data Source URL may name. Link-local addresses (where
//! cloud metadata services answer, `169.254.169.254` among them) and the
//! unspecified address are refused, both in the URL when a source is
//! configured and in every address its host name resolves to when the
//! server calls it (so a name cannot be re-pointed there later). Loopback
//! and private addresses stay allowed: sources often run beside the server.

use std::net::{IpAddr, SocketAddr};

/// Why an address is refused, or `None` when a source may use it.
///
/// ```ignore
/// assert!(refused("169.254.169.254".parse().unwrap()).is_some());
/// assert!(refused("127.0.0.1".parse().unwrap()).is_none());
/// ```
pub(crate) fn refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address (cloud metadata)"),
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_broadcast() => {
            Some("an unspecified or broadcast address")
        }
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80 => {
            Some("a link-local address (cloud metadata)")
        }
        IpAddr::V6(v6) if v6.is_unspecified() => Some("an unspecified address"),
        // AWS's IPv6 metadata endpoint.
        IpAddr::V6(v6) if v6.segments() == [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254] => {
            Some("a cloud metadata address")
        }
        IpAddr::V6(v6) => v6.to_ipv4_mapped().and_then(|v4| refused(IpAddr::V4(v4))),
        IpAddr::V4(_) => None,
    }
}

/// The resolver source calls go through: it refuses to connect to a host
/// name any of whose addresses is refused.
#[derive(Debug, Default)]
pub(crate) struct CheckedResolver;

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((addr, why)) = addrs
                .iter()
                .find_map(|a| refused(a.ip()).map(|why| (a, why)))
            {
                return Err(format!(
                    "`{host}` resolves to {addr}, {why}; Data Sources may not use it"
                )
                .into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client of source calls: no redirects (a source answers itself
/// or fails), refused addresses never dialled.
pub(crate) fn source_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(CheckedResolver))
        .build()
        .expect("the source HTTP client builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_addresses_are_refused() {
        for bad in [
            "169.254.169.254",
            "169.254.1.1",
            "0.0.0.0",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::",
        ] {
            assert!(refused(bad.parse().unwrap()).is_some(), "{bad}");
        }
        for good in ["127.0.0.1", "10.0.0.5", "192.168.1.2", "::1", "2001:db8::1"] {
            assert!(refused(good.parse().unwrap()).is_none(), "{good}");
        }
    }
}
