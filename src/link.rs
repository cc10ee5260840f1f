//! Join links: everything a phone needs to reach a server safely and
//! create its account, in one string (and one QR code).
//!
//! ```text
//! kith://join?host=chat.example.org&tls=7420&quic=7420&pin=<64 hex>&spki=<base64, %-escaped>&invite=<48 hex>
//! ```
//!
//! The grammar is in `docs/PROTOCOL.md` (section 12); this module writes
//! links and reads them back exactly by that grammar.

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use crate::hex::{hex, unhex};

/// The scheme and path every join link starts with.
pub const PREFIX: &str = "kith://join?";

/// What a join link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinLink {
    /// Host name, IPv4 address or IPv6 address (without brackets).
    pub host: String,
    /// TCP+TLS port, if the server listens there.
    pub tls_port: Option<u16>,
    /// QUIC (UDP) port, if the server listens there.
    pub quic_port: Option<u16>,
    /// SHA-256 of the server's certificate (DER), to pin.
    pub pin: [u8; 32],
    /// SHA-256 of the certificate's public key (SubjectPublicKeyInfo): the
    /// pin that outlives renewals with the same key, written in base64 as
    /// Android's OkHttp takes it. Links from before it was added lack it.
    pub spki: Option<[u8; 32]>,
    /// The 24-byte invitation code for `Register`.
    pub invitation: Vec<u8>,
}

impl fmt::Display for JoinLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}host={}", self.host)?;
        if let Some(port) = self.tls_port {
            write!(f, "&tls={port}")?;
        }
        if let Some(port) = self.quic_port {
            write!(f, "&quic={port}")?;
        }
        write!(f, "&pin={}", hex(&self.pin))?;
        if let Some(spki) = &self.spki {
            // Base64's '+', '/' and '=' escaped, so a query parser hands back
            // the base64 itself (and never reads '+' as a space).
            let escaped = BASE64.encode(spki).replace('+', "%2B").replace('/', "%2F").replace('=', "%3D");
            write!(f, "&spki={escaped}")?;
        }
        write!(f, "&invite={}", hex(&self.invitation))
    }
}

/// Why a string is not a join link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a kith join link: {0}")]
pub struct LinkError(String);

impl std::str::FromStr for JoinLink {
    type Err = LinkError;

    fn from_str(text: &str) -> Result<JoinLink, LinkError> {
        let query = text.strip_prefix(PREFIX).ok_or_else(|| LinkError(format!("it does not start with {PREFIX}")))?;
        let (mut host, mut tls_port, mut quic_port, mut pin, mut invitation) = (None, None, None, None, None);
        let mut spki = None;
        for param in query.split('&') {
            let (name, value) = param.split_once('=').ok_or_else(|| LinkError(format!("{param:?} has no '='")))?;
            let port =
                || value.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| LinkError(format!("bad {name} port")));
            match name {
                "host" if valid_host(value) => host = Some(value.to_string()),
                "tls" => tls_port = Some(port()?),
                "quic" => quic_port = Some(port()?),
                "pin" => pin = unhex(value).and_then(|b| <[u8; 32]>::try_from(b).ok()),
                "spki" => {
                    let base64 = value.replace("%2B", "+").replace("%2F", "/").replace("%3D", "=");
                    let hash = BASE64.decode(base64).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
                    spki = Some(hash.ok_or_else(|| LinkError("spki is not the base64 of 32 bytes".into()))?);
                }
                "invite" => invitation = unhex(value).filter(|b| b.len() == 24),
                // Parameters of later revisions are skipped.
                _ if name == "host" => return Err(LinkError(format!("bad host {value:?}"))),
                _ => {}
            }
        }
        let link = JoinLink {
            host: host.ok_or_else(|| LinkError("no host".into()))?,
            tls_port,
            quic_port,
            pin: pin.ok_or_else(|| LinkError("no pin of 64 hex digits".into()))?,
            spki,
            invitation: invitation.ok_or_else(|| LinkError("no invite of 48 hex digits".into()))?,
        };
        if link.tls_port.is_none() && link.quic_port.is_none() {
            return Err(LinkError("neither a tls nor a quic port".into()));
        }
        Ok(link)
    }
}

/// A host as links carry it: letters, digits, '.', '-' and ':' (an IPv6
/// address), so it never needs escaping.
fn valid_host(host: &str) -> bool {
    (1..=253).contains(&host.len()) && host.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> JoinLink {
        JoinLink {
            host: "chat.example.org".into(),
            tls_port: Some(7420),
            quic_port: Some(7421),
            pin: [0xab; 32],
            spki: Some([0xfb; 32]),
            invitation: (0..24).collect(),
        }
    }

    #[test]
    fn a_link_reads_back_as_written() {
        let text = link().to_string();
        assert!(text.starts_with("kith://join?host=chat.example.org&tls=7420&quic=7421&pin=abab"));
        assert_eq!(text.parse::<JoinLink>().unwrap(), link());
        let v6 = JoinLink { host: "2001:db8::1".into(), quic_port: None, ..link() };
        assert_eq!(v6.to_string().parse::<JoinLink>().unwrap(), v6);
        let later = format!("{text}&future=1");
        assert_eq!(later.parse::<JoinLink>().unwrap(), link(), "unknown parameters are skipped");
        // The public-key pin is OkHttp's base64, with its '+', '/' and '='
        // escaped; links written before it existed still read.
        assert!(text.contains("&spki=%2B%2Fv7%2B%2Fv7"), "{text}");
        assert!(text.ends_with("%2B%2Fs%3D&invite=000102030405060708090a0b0c0d0e0f1011121314151617"), "{text}");
        let older = JoinLink { spki: None, ..link() };
        assert!(!older.to_string().contains("spki"));
        assert_eq!(older.to_string().parse::<JoinLink>().unwrap(), older);
    }

    #[test]
    fn broken_links_are_refused() {
        let text = link().to_string();
        for bad in [
            text.replace("kith://", "http://"),
            text.replace("tls=7420&quic=7421&", ""),
            text.replace("pin=ab", "pin=AB"),
            text.replace("spki=%2B", "spki=%2B%2B"),
            text.replace("host=chat.example.org", "host=a b"),
            text.replace("tls=7420", "tls=0"),
            text[..text.len() - 2].to_string(),
        ] {
            assert!(bad.parse::<JoinLink>().is_err(), "{bad}");
        }
    }
}
