//! Rate limits for sign-in and other abuse-prone endpoints, per client IP and per account.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{clock::DefaultClock, state::keyed::DefaultKeyedStateStore, Quota, RateLimiter};

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// Refused: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub Duration);

pub struct Limits {
    sign_in_ip: Keyed<IpAddr>,
    sign_in_account: Keyed<String>,
    register_ip: Keyed<IpAddr>,
    token_ip: Keyed<IpAddr>,
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &Keyed<K>, key: &K) -> Result<(), RetryAfter> {
    use governor::clock::Clock;
    limiter
        .check_key(key)
        .map_err(|n| RetryAfter(n.wait_time_from(governor::clock::QuantaClock::default().now())))
}

fn quota(burst: u32, per: Duration) -> Quota {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    #[allow(clippy::unwrap_used)] // `per / burst` of a non-zero period is never zero here
    Quota::with_period(per / burst.get())
        .unwrap()
        .allow_burst(burst)
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // A shared NAT can hold many people: generous per IP, strict per account.
            sign_in_ip: RateLimiter::keyed(quota(20, Duration::from_secs(60))),
            sign_in_account: RateLimiter::keyed(quota(5, Duration::from_secs(60))),
            // Every DCR call creates a client: a client registers once per install.
            register_ip: RateLimiter::keyed(quota(20, Duration::from_secs(60))),
            token_ip: RateLimiter::keyed(quota(120, Duration::from_secs(60))),
        }
    }
}

impl Limits {
    /// One sign-in (or setup-code) attempt from `ip` for `account` (lowercased name).
    pub fn sign_in(&self, ip: IpAddr, account: Option<&str>) -> Result<(), RetryAfter> {
        let clock = governor::clock::QuantaClock::default();
        use governor::clock::Clock;
        self.sign_in_ip
            .check_key(&ip)
            .map_err(|n| RetryAfter(n.wait_time_from(clock.now())))?;
        if let Some(account) = account {
            self.sign_in_account
                .check_key(&account.to_owned())
                .map_err(|n| RetryAfter(n.wait_time_from(clock.now())))?;
        }
        Ok(())
    }

    pub fn register(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check(&self.register_ip, &ip)
    }

    pub fn token(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check(&self.token_ip, &ip)
    }

    /// Drops keys whose limits have fully replenished (called by the periodic sweep).
    pub fn retain_recent(&self) {
        self.sign_in_ip.retain_recent();
        self.sign_in_account.retain_recent();
        self.register_ip.retain_recent();
        self.token_ip.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn account_limit_trips_after_burst() {
        let limits = Limits::default();
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
        let limits = Limits::default();
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        for i in 0..20 {
            assert!(limits.sign_in(ip, Some(&format!("user{i}"))).is_ok());
        }
        assert!(limits.sign_in(ip, Some("fresh")).is_err());
        assert!(limits
            .sign_in(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), Some("fresh"))
            .is_ok());
    }
}
