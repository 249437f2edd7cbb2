//! Rate limits of the abuse-prone endpoints, per client address (IPv6 by /64: one host
//! holds a whole /64) and per account or client. Every limit is a setting (`GATEHOUSE_RATE_*`,
//! README); they are kept per process.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, QuantaClock};
use governor::{state::keyed::DefaultKeyedStateStore, Quota, RateLimiter};

use crate::config::{Rate, RateLimits};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Refused: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for a `Retry-After` header (at least 1).
    pub fn seconds(self) -> u64 {
        self.0.as_secs().max(1)
    }
}

pub struct Limits {
    sign_in_ip: Keyed<IpAddr>,
    sign_in_account: Keyed<String>,
    register_ip: Keyed<IpAddr>,
    token_ip: Keyed<IpAddr>,
    token_client: Keyed<String>,
    authorize_ip: Keyed<IpAddr>,
    cimd_fetch_ip: Keyed<IpAddr>,
}

fn limiter<K: std::hash::Hash + Eq + Clone>(rate: Rate) -> Keyed<K> {
    let burst = NonZeroU32::new(rate.count).unwrap_or(NonZeroU32::MIN);
    let period = (rate.per / burst.get()).max(Duration::from_nanos(1));
    #[allow(clippy::unwrap_used)] // a period of at least 1 ns is never zero
    RateLimiter::keyed(Quota::with_period(period).unwrap().allow_burst(burst))
}

/// Checks one limit; a refusal is counted under the limit's `name` (metrics).
fn check<K: std::hash::Hash + Eq + Clone>(
    name: &'static str,
    limiter: &Keyed<K>,
    key: &K,
) -> Result<(), RetryAfter> {
    limiter.check_key(key).map_err(|n| {
        crate::telemetry::rate_limited(name);
        RetryAfter(n.wait_time_from(QuantaClock::default().now()))
    })
}

/// The key of a client address: IPv4 as is, IPv6 by its /64 (a host is given a whole /64,
/// so per-address keys would let one host have 2^64 budgets). IPv4-mapped IPv6 is IPv4.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Limits {
    pub fn new(rates: &RateLimits) -> Self {
        Self {
            sign_in_ip: limiter(rates.sign_in_per_ip),
            sign_in_account: limiter(rates.sign_in_per_account),
            register_ip: limiter(rates.register_per_ip),
            token_ip: limiter(rates.token_per_ip),
            token_client: limiter(rates.token_per_client),
            authorize_ip: limiter(rates.authorize_per_ip),
            cimd_fetch_ip: limiter(rates.cimd_fetch_per_ip),
        }
    }

    /// One sign-in (or setup-code, sign-up, invite) attempt from `ip` for `account`
    /// (lowercased name).
    pub fn sign_in(&self, ip: IpAddr, account: Option<&str>) -> Result<(), RetryAfter> {
        check("sign_in_per_ip", &self.sign_in_ip, &address_key(ip))?;
        match account {
            Some(account) => check(
                "sign_in_per_account",
                &self.sign_in_account,
                &account.to_owned(),
            ),
            None => Ok(()),
        }
    }

    /// A dynamic client registration (every call creates a client).
    pub fn register(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check("register_per_ip", &self.register_ip, &address_key(ip))
    }

    /// A token request from `ip`, and then for `client` (behind one NAT, many clients).
    pub fn token(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check("token_per_ip", &self.token_ip, &address_key(ip))
    }

    pub fn token_for_client(&self, client_id: &str) -> Result<(), RetryAfter> {
        check(
            "token_per_client",
            &self.token_client,
            &client_id.to_owned(),
        )
    }

    /// An authorization request (each stores a pending request).
    pub fn authorize(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check("authorize_per_ip", &self.authorize_ip, &address_key(ip))
    }

    /// A Client ID Metadata Document fetch caused by a request from `ip` (an outbound
    /// request and a stored client each).
    pub fn cimd_fetch(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check("cimd_fetch_per_ip", &self.cimd_fetch_ip, &address_key(ip))
    }

    /// Drops keys whose limits have fully replenished (called by the periodic sweep).
    pub fn retain_recent(&self) {
        self.sign_in_ip.retain_recent();
        self.sign_in_account.retain_recent();
        self.register_ip.retain_recent();
        self.token_ip.retain_recent();
        self.token_client.retain_recent();
        self.authorize_ip.retain_recent();
        self.cimd_fetch_ip.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn limits() -> Limits {
        Limits::new(&RateLimits::default())
    }

    #[test]
    fn account_limit_trips_after_burst() {
        let limits = limits();
        let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for _ in 0..5 {
            assert!(limits.sign_in(ip, Some("alice")).is_ok());
        }
        let refused = limits.sign_in(ip, Some("alice"));
        assert!(refused.is_err());
        assert!(
            limits.sign_in(ip, Some("bob")).is_ok(),
            "other accounts are unaffected"
        );
    }

    #[test]
    fn ip_limit_trips_across_accounts() {
        let limits = limits();
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for i in 0..20 {
            assert!(limits.sign_in(ip, Some(&format!("user{i}"))).is_ok());
        }
        assert!(limits.sign_in(ip, Some("fresh")).is_err());
        assert!(limits
            .sign_in(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), Some("fresh"))
            .is_ok());
    }

    #[test]
    fn ipv6_addresses_of_one_64_share_a_budget() {
        let limits = limits();
        // Twenty different addresses of one /64, each a fresh name: one budget.
        for i in 0..20u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 7, 8, i));
            assert!(limits.sign_in(ip, Some(&format!("user{i}"))).is_ok());
        }
        let same_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0xffff, 0, 0, 1));
        assert!(limits.sign_in(same_64, Some("fresh")).is_err());
        let other_64 = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1));
        assert!(limits.sign_in(other_64, Some("fresh")).is_ok());
    }

    #[test]
    fn mapped_ipv4_is_keyed_as_ipv4() {
        let v4 = Ipv4Addr::new(192, 0, 2, 9);
        assert_eq!(address_key(IpAddr::V6(v4.to_ipv6_mapped())), IpAddr::V4(v4));
    }

    #[test]
    fn limits_follow_their_settings() {
        let rates = RateLimits {
            token_per_client: Rate {
                count: 2,
                per: Duration::from_secs(60),
            },
            ..RateLimits::default()
        };
        let limits = Limits::new(&rates);
        assert!(limits.token_for_client("c").is_ok());
        assert!(limits.token_for_client("c").is_ok());
        let wait = limits.token_for_client("c").unwrap_err();
        assert!((1..=30).contains(&wait.seconds()), "{wait:?}");
    }
}
