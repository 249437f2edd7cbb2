//! Rate limits and connection limits as settings (`GATEHOUSE_RATE_*`, `GATEHOUSE_MAX_*`,
//! `GATEHOUSE_*_TIMEOUT`): every limit has today's value as its default, and clients behind
//! one NAT can be given room.

use std::time::Duration;

use super::parse::parse_duration;
use super::{bad, ConfigError};

/// `count` requests per `per`, refilled evenly (a token bucket of `count`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

const fn per_minute(count: u32) -> Rate {
    Rate {
        count,
        per: Duration::from_secs(60),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub sign_in_per_ip: Rate,
    pub sign_in_per_account: Rate,
    pub register_per_ip: Rate,
    pub token_per_ip: Rate,
    pub token_per_client: Rate,
    pub authorize_per_ip: Rate,
    pub cimd_fetch_per_ip: Rate,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            // A shared NAT can hold many people: generous per IP, strict per account.
            sign_in_per_ip: per_minute(20),
            sign_in_per_account: per_minute(5),
            // Every DCR call creates a client: a client registers once per install.
            register_per_ip: per_minute(20),
            token_per_ip: per_minute(120),
            // A client refreshes each user's token about once an hour.
            token_per_client: per_minute(600),
            authorize_per_ip: per_minute(60),
            // Each new metadata-document client_id is an outbound fetch and a stored client.
            cimd_fetch_per_ip: per_minute(10),
        }
    }
}

/// The settings of this file, by environment name without the prefix.
pub const SETTINGS: &[&str] = &[
    "RATE_SIGN_IN_PER_IP",
    "RATE_SIGN_IN_PER_ACCOUNT",
    "RATE_REGISTER_PER_IP",
    "RATE_TOKEN_PER_IP",
    "RATE_TOKEN_PER_CLIENT",
    "RATE_AUTHORIZE_PER_IP",
    "RATE_CIMD_FETCH_PER_IP",
    "MAX_CONNECTIONS_PER_IP",
    "HEADER_READ_TIMEOUT",
    "BODY_READ_TIMEOUT",
];

/// `20/1m`: a count, a slash, a duration.
fn parse_rate(name: &str, value: Option<&str>, default: Rate) -> Result<Rate, ConfigError> {
    let Some(v) = value else {
        return Ok(default);
    };
    let fix = "use a count and a duration, e.g. 20/1m";
    let (count, per) = v
        .split_once('/')
        .ok_or_else(|| bad(name, format!("'{v}' is not a rate"), fix))?;
    let count = count
        .trim()
        .parse::<u32>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| bad(name, format!("'{v}' is not a rate"), fix))?;
    let per = parse_duration(name, Some(per.trim()), 0)?;
    if per.is_zero() {
        return Err(bad(name, format!("'{v}' has no period"), fix));
    }
    Ok(Rate { count, per })
}

pub(super) fn parse_rates(get: &dyn Fn(&str) -> Option<String>) -> Result<RateLimits, ConfigError> {
    let d = RateLimits::default();
    let rate = |name: &str, default: Rate| parse_rate(name, get(name).as_deref(), default);
    Ok(RateLimits {
        sign_in_per_ip: rate("RATE_SIGN_IN_PER_IP", d.sign_in_per_ip)?,
        sign_in_per_account: rate("RATE_SIGN_IN_PER_ACCOUNT", d.sign_in_per_account)?,
        register_per_ip: rate("RATE_REGISTER_PER_IP", d.register_per_ip)?,
        token_per_ip: rate("RATE_TOKEN_PER_IP", d.token_per_ip)?,
        token_per_client: rate("RATE_TOKEN_PER_CLIENT", d.token_per_client)?,
        authorize_per_ip: rate("RATE_AUTHORIZE_PER_IP", d.authorize_per_ip)?,
        cimd_fetch_per_ip: rate("RATE_CIMD_FETCH_PER_IP", d.cimd_fetch_per_ip)?,
    })
}

/// What one client may hold open, and how long a request may take to arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Open connections per client address (IPv6 by /64); trusted proxies are exempt.
    pub max_per_ip: usize,
    /// From accepting a connection (or the end of the previous request) to the end of the
    /// next request's headers.
    pub header_read_timeout: Duration,
    /// From the headers to the end of the body.
    pub body_read_timeout: Duration,
}

pub(super) fn parse_connections(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<ConnectionLimits, ConfigError> {
    let max_per_ip = match get("MAX_CONNECTIONS_PER_IP") {
        None => 256,
        Some(v) => v.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            bad(
                "MAX_CONNECTIONS_PER_IP",
                format!("'{v}' is not a positive number"),
                "use a number of connections, e.g. 256",
            )
        })?,
    };
    let timeout = |name: &str, default: u64| -> Result<Duration, ConfigError> {
        let d = parse_duration(name, get(name).as_deref(), default)?;
        if d.is_zero() {
            return Err(bad(
                name,
                "a timeout of 0 refuses every request",
                "use e.g. 10s",
            ));
        }
        Ok(d)
    };
    Ok(ConnectionLimits {
        max_per_ip,
        header_read_timeout: timeout("HEADER_READ_TIMEOUT", 10)?,
        body_read_timeout: timeout("BODY_READ_TIMEOUT", 30)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_name_their_setting() {
        assert_eq!(
            parse_rate("RATE_TOKEN_PER_IP", Some("300/1m"), per_minute(1)),
            Ok(per_minute(300))
        );
        assert_eq!(
            parse_rate("X", Some("5/10s"), per_minute(1)).map(|r| r.per),
            Ok(Duration::from_secs(10))
        );
        for bad_value in ["20", "0/1m", "x/1m", "20/0s", "20/forever"] {
            let err = parse_rate("RATE_TOKEN_PER_IP", Some(bad_value), per_minute(1))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("GATEHOUSE_RATE_TOKEN_PER_IP"), "{err}");
        }
    }
}
