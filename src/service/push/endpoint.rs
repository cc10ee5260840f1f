//! Where a wake-up may be posted: the endpoint URL a device gives, and the
//! addresses it resolves to. An endpoint is `https://` at public addresses
//! only, unless the operator lists its host in `push.local_hosts` (a
//! distributor on the home network): otherwise anyone with an account could
//! make the server post into the network it stands in. The check runs when
//! the endpoint is set and again before every request, which then goes to
//! an address that passed it (a name that later resolves elsewhere gains
//! nothing).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hyper::Uri;

/// Longest endpoint URL accepted, in bytes.
pub(crate) const MAX_URL_BYTES: usize = 1024;

/// An endpoint URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    /// Whether it is `https`.
    pub https: bool,
    /// The host as the URL writes it (an IPv6 address without brackets).
    pub host: String,
    /// The port, the scheme's by default.
    pub port: u16,
    /// `scheme://host[:port]`: the VAPID audience.
    pub origin: String,
    /// The `Host` header.
    pub authority: String,
    /// What the request line names.
    pub path: String,
}

impl Endpoint {
    /// Reads `url` by the rules above.
    pub(super) fn parse(url: &str, local_hosts: &[String]) -> Result<Endpoint, String> {
        if url.len() > MAX_URL_BYTES {
            return Err(format!("the endpoint URL is longer than {MAX_URL_BYTES} bytes"));
        }
        let uri: Uri = url.parse().map_err(|e| format!("the endpoint is not a URL: {e}"))?;
        let authority = uri.authority().ok_or("the endpoint URL has no host")?;
        if authority.as_str().contains('@') {
            return Err("the endpoint URL must not carry a user name or password".into());
        }
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let local = is_local(&host, local_hosts);
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") if local => false,
            Some("http") => {
                return Err(format!("the endpoint must be https:// (http:// only for push.local_hosts, not {host})"))
            }
            _ => return Err("the endpoint must be an https:// URL".into()),
        };
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let scheme = if https { "https" } else { "http" };
        Ok(Endpoint {
            https,
            origin: format!("{scheme}://{}", authority.as_str().to_ascii_lowercase()),
            authority: authority.as_str().to_string(),
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
            host,
            port,
        })
    }

    /// The addresses to connect to: all of the host's, which must all be
    /// public unless the host is a local one.
    pub(super) async fn resolve(&self, local_hosts: &[String], within: Duration) -> Result<Vec<SocketAddr>, String> {
        let lookup = tokio::net::lookup_host((self.host.as_str(), self.port));
        let addresses: Vec<SocketAddr> = tokio::time::timeout(within, lookup)
            .await
            .map_err(|_| format!("{} did not resolve in time", self.host))?
            .map_err(|e| format!("{} does not resolve: {e}", self.host))?
            .collect();
        if addresses.is_empty() {
            return Err(format!("{} has no address", self.host));
        }
        if !is_local(&self.host, local_hosts) {
            if let Some(inner) = addresses.iter().find(|a| !is_public(a.ip())) {
                return Err(format!(
                    "{} resolves to {}, which is not a public address (the operator may list the host in \
                     push.local_hosts)",
                    self.host,
                    inner.ip()
                ));
            }
        }
        Ok(addresses)
    }
}

fn is_local(host: &str, local_hosts: &[String]) -> bool {
    local_hosts.iter().any(|h| h.trim_start_matches('[').trim_end_matches(']').eq_ignore_ascii_case(host))
}

/// Whether an address is one on the public internet: not loopback,
/// private, link-local, shared (CGNAT), unspecified, multicast, broadcast,
/// documentation or unique-local, nor an IPv4 one of those in IPv6 dress.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
                    || first == 0x2001 && v6.segments()[1] == 0x0db8
                    || first == 0x0064 && v6.segments()[1] == 0xff9b)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_unless_local() {
        let local = vec!["ntfy.lan".to_string(), "127.0.0.1".to_string()];
        let e = Endpoint::parse("https://ntfy.sh/upAbC?up=1", &local).unwrap();
        assert_eq!((e.https, e.host.as_str(), e.port), (true, "ntfy.sh", 443));
        assert_eq!((e.origin.as_str(), e.path.as_str()), ("https://ntfy.sh", "/upAbC?up=1"));
        let e = Endpoint::parse("http://NTFY.lan:8080/up", &local).unwrap();
        assert_eq!((e.https, e.port, e.origin.as_str()), (false, 8080, "http://ntfy.lan:8080"));
        assert!(Endpoint::parse("http://127.0.0.1:9/x", &local).is_ok());
        let e = Endpoint::parse("https://[2001:db8::1]:8443/x", &local).unwrap();
        assert_eq!((e.host.as_str(), e.authority.as_str()), ("2001:db8::1", "[2001:db8::1]:8443"));
        for bad in [
            "http://ntfy.sh/up",
            "ftp://ntfy.sh/up",
            "https://user:pw@ntfy.sh/up",
            "/relative",
            "not a url",
            &format!("https://ntfy.sh/{}", "a".repeat(MAX_URL_BYTES)),
        ] {
            assert!(Endpoint::parse(bad, &local).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_public_addresses_are_public() {
        for public in ["93.184.216.34", "2606:4700::1111", "::ffff:93.184.216.34", "100.128.0.1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for inner in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.20",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
        ] {
            assert!(!is_public(inner.parse().unwrap()), "{inner}");
        }
    }

    #[tokio::test]
    async fn a_loopback_endpoint_resolves_only_when_listed() {
        let endpoint = Endpoint::parse("https://localhost:9/up", &[]).unwrap();
        assert!(endpoint.resolve(&[], Duration::from_secs(5)).await.unwrap_err().contains("not a public address"));
        assert!(!endpoint.resolve(&["localhost".into()], Duration::from_secs(5)).await.unwrap().is_empty());
    }
}
