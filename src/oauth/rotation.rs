//! Refresh-token rotation with reuse detection (DESIGN.md §3, OAuth 2.1 §4.3.1): a used
//! refresh token is accepted again only inside a grace window and only until its successor
//! is used; any other reuse revokes the whole family.

use crate::domain::UnixTime;

/// What the store knows about a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRecord {
    pub client_id: String,
    pub used_at: Option<UnixTime>,
    /// True once any token issued from this one has itself been used.
    pub successor_used: bool,
    pub expires_at: UnixTime,
    pub family_absolute_expiry: UnixTime,
    pub revoked: bool,
    /// A grace-window retry replaced this token before it was used: presenting it is reuse.
    pub superseded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// First use: issue a new pair and mark this token used.
    Rotate,
    /// A retry of a refresh whose answer was lost: a fresh pair in the same family, which
    /// supersedes the unused pair it replaces (exactly one chain lives).
    RetryWithinGrace,
    /// Reuse outside the rules: revoke every token of the family.
    ReuseDetected,
    /// Expired, revoked or another client's: `invalid_grant`, nothing revoked.
    Refuse,
}

pub fn decide(
    record: &RefreshRecord,
    client_id: &str,
    now: UnixTime,
    grace_secs: i64,
) -> RefreshDecision {
    if record.client_id != client_id || record.revoked {
        return RefreshDecision::Refuse;
    }
    if now >= record.expires_at || now >= record.family_absolute_expiry {
        return RefreshDecision::Refuse;
    }
    if record.superseded {
        return RefreshDecision::ReuseDetected;
    }
    match record.used_at {
        None => RefreshDecision::Rotate,
        Some(used) if !record.successor_used && now - used < grace_secs => {
            RefreshDecision::RetryWithinGrace
        }
        Some(_) => RefreshDecision::ReuseDetected,
    }
}

/// A new refresh token's expiry: sliding, but never past the family's absolute cap.
pub fn next_expiry(now: UnixTime, sliding_secs: i64, family_absolute_expiry: UnixTime) -> UnixTime {
    (now + sliding_secs).min(family_absolute_expiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: UnixTime = 1_800_000_000;

    fn record(used_at: Option<UnixTime>, successor_used: bool) -> RefreshRecord {
        RefreshRecord {
            client_id: "c1".into(),
            used_at,
            successor_used,
            expires_at: T0 + 30 * 86400,
            family_absolute_expiry: T0 + 90 * 86400,
            revoked: false,
            superseded: false,
        }
    }

    #[test]
    fn a_superseded_token_is_reuse_even_inside_grace() {
        let mut r = record(None, false);
        r.superseded = true;
        assert_eq!(decide(&r, "c1", T0, 30), RefreshDecision::ReuseDetected);
    }

    #[test]
    fn first_use_rotates() {
        assert_eq!(
            decide(&record(None, false), "c1", T0, 30),
            RefreshDecision::Rotate
        );
    }

    #[test]
    fn retry_within_grace_gets_a_fresh_pair() {
        assert_eq!(
            decide(&record(Some(T0), false), "c1", T0 + 29, 30),
            RefreshDecision::RetryWithinGrace
        );
    }

    #[test]
    fn reuse_after_grace_revokes_the_family() {
        assert_eq!(
            decide(&record(Some(T0), false), "c1", T0 + 30, 30),
            RefreshDecision::ReuseDetected
        );
        // A zero window turns retries off.
        assert_eq!(
            decide(&record(Some(T0), false), "c1", T0, 0),
            RefreshDecision::ReuseDetected
        );
    }

    #[test]
    fn reuse_after_the_successor_was_used_revokes_even_inside_grace() {
        assert_eq!(
            decide(&record(Some(T0), true), "c1", T0 + 1, 30),
            RefreshDecision::ReuseDetected
        );
    }

    #[test]
    fn expired_revoked_or_foreign_tokens_are_refused_without_revocation() {
        let mut r = record(None, false);
        assert_eq!(decide(&r, "other-client", T0, 30), RefreshDecision::Refuse);
        assert_eq!(decide(&r, "c1", r.expires_at, 30), RefreshDecision::Refuse);
        r.revoked = true;
        assert_eq!(decide(&r, "c1", T0, 30), RefreshDecision::Refuse);
        let mut capped = record(None, false);
        capped.family_absolute_expiry = T0 + 10;
        assert_eq!(decide(&capped, "c1", T0 + 10, 30), RefreshDecision::Refuse);
    }

    #[test]
    fn expiry_slides_up_to_the_absolute_cap() {
        assert_eq!(next_expiry(T0, 100, T0 + 1000), T0 + 100);
        assert_eq!(next_expiry(T0, 100, T0 + 50), T0 + 50);
    }
}
