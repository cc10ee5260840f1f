//! Client addresses as the server counts them: per-address limits (open
//! connections, login failures, registrations) count an IPv6 address by its
//! /64, the block one subscriber usually holds, so that one subscriber
//! cannot multiply a per-address limit by picking fresh addresses.

use std::net::IpAddr;

/// The address a limit counts against: IPv4 (also IPv4-mapped IPv6) as is,
/// other IPv6 by its /64.
pub fn subscriber(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_counts_by_its_slash_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(subscriber(a), subscriber(b));
        assert_ne!(subscriber(a), subscriber(other));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(subscriber(mapped), "10.0.0.1".parse::<IpAddr>().unwrap());
    }
}
