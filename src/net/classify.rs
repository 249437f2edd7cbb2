//! Which addresses outbound requests may reach. Pure: the SSRF rules as data and a function.
//! Private, loopback, link-local (cloud metadata), CGNAT, "this network", IPv4-mapped and
//! translated IPv6, unique-local, multicast and reserved ranges are refused unless an
//! operator allow-list names them.

use std::net::IpAddr;

use ipnet::IpNet;

/// Ranges no outbound request may reach by default.
const FORBIDDEN: &[&str] = &[
    "0.0.0.0/8",       // "this network"
    "10.0.0.0/8",      // private
    "100.64.0.0/10",   // CGNAT
    "127.0.0.0/8",     // loopback
    "169.254.0.0/16",  // link-local, incl. 169.254.169.254 cloud metadata
    "172.16.0.0/12",   // private
    "192.0.0.0/24",    // IETF protocol assignments
    "192.0.2.0/24",    // documentation
    "192.88.99.0/24",  // 6to4 relay anycast
    "192.168.0.0/16",  // private
    "198.18.0.0/15",   // benchmarking
    "198.51.100.0/24", // documentation
    "203.0.113.0/24",  // documentation
    "224.0.0.0/4",     // multicast
    "240.0.0.0/4",     // reserved, incl. broadcast
    "::/128",          // unspecified
    "::1/128",         // loopback
    "::ffff:0:0/96",   // IPv4-mapped: would reach any IPv4 address
    "::/96",           // IPv4-compatible (deprecated)
    "64:ff9b::/96",    // NAT64: translated IPv4
    "64:ff9b:1::/48",  // local-use NAT64
    "100::/64",        // discard
    "2001::/32",       // Teredo (embeds IPv4)
    "2001:db8::/32",   // documentation
    "2002::/16",       // 6to4 (embeds IPv4)
    "fc00::/7",        // unique-local, incl. fd00:ec2::254 metadata
    "fe80::/10",       // link-local
    "ff00::/8",        // multicast
];

fn forbidden_nets() -> impl Iterator<Item = IpNet> {
    FORBIDDEN.iter().filter_map(|s| s.parse().ok())
}

/// True when `ip` is in a range outbound traffic must not reach by default.
pub fn is_restricted(ip: IpAddr) -> bool {
    forbidden_nets().any(|net| net.contains(&ip))
}

/// True when a request may connect to `ip`: a public address, or one the allow-list names.
pub fn is_allowed(ip: IpAddr, allow: &[IpNet]) -> bool {
    !is_restricted(ip) || allow.iter().any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_restricted_range_is_refused() {
        for addr in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.9.9.9",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.0.8",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:8.8.8.8",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "2002:a00:1::1",
            "2001:0:a00:1::1",
            "2001:db8::1",
        ] {
            assert!(is_restricted(ip(addr)), "{addr} must be refused");
            assert!(!is_allowed(ip(addr), &[]), "{addr}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "142.250.74.78",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "169.253.255.255",
            "2a00:1450:4001:80b::200e",
            "2606:4700:4700::1111",
        ] {
            assert!(!is_restricted(ip(addr)), "{addr} is public");
        }
    }

    #[test]
    fn allow_list_opens_only_its_ranges() {
        let allow: Vec<IpNet> = vec!["10.1.0.0/16".parse().unwrap(), "::1/128".parse().unwrap()];
        assert!(is_allowed(ip("10.1.2.3"), &allow));
        assert!(is_allowed(ip("::1"), &allow));
        assert!(!is_allowed(ip("10.2.0.1"), &allow));
        assert!(!is_allowed(ip("169.254.169.254"), &allow));
        assert!(
            !is_allowed(ip("127.0.0.1"), &allow),
            "IPv6 loopback allowed does not allow IPv4 loopback"
        );
    }
}
