//! The token endpoint's request (RFC 6749 §4.1.3, §6) as a tagged enum: a verifier is a
//! required field of the code grant, so "PKCE always" is structural. Plus the rules for
//! redeeming an authorization code.

use super::error::{ErrorCode, OAuthError};
use crate::domain::UnixTime;
use crate::domain::{CodeChallenge, PkceVerifier};

/// Client credentials as presented in the body (`client_secret_post` or public clients).
/// HTTP Basic credentials are read by the HTTP layer and take precedence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyClient {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: String,
        verifier: PkceVerifier,
        resources: Vec<String>,
        client: BodyClient,
    },
    RefreshToken {
        refresh_token: String,
        resources: Vec<String>,
        client: BodyClient,
    },
}

fn invalid(text: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequest, text)
}

impl TokenRequest {
    /// Parses the form pairs. Every parameter but `resource` may appear once (RFC 6749 §3.2).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, OAuthError> {
        let mut single: std::collections::BTreeMap<String, String> = Default::default();
        let mut resources = Vec::new();
        for (key, value) in pairs {
            if key == "resource" {
                resources.push(value);
            } else if single.insert(key.clone(), value).is_some() {
                return Err(invalid(&format!("parameter '{key}' is repeated")));
            }
        }
        let mut take = |k: &str| single.remove(k).filter(|v| !v.is_empty());
        let client = BodyClient {
            client_id: take("client_id"),
            client_secret: take("client_secret"),
        };
        match take("grant_type").as_deref() {
            Some("authorization_code") => {
                let code = take("code").ok_or_else(|| invalid("code is required"))?;
                let redirect_uri =
                    take("redirect_uri").ok_or_else(|| invalid("redirect_uri is required"))?;
                let verifier = take("code_verifier")
                    .ok_or_else(|| invalid("code_verifier is required (PKCE)"))?;
                let verifier = PkceVerifier::parse(&verifier)
                    .map_err(|e| OAuthError::new(ErrorCode::InvalidGrant, e.to_string()))?;
                Ok(Self::AuthorizationCode {
                    code,
                    redirect_uri,
                    verifier,
                    resources,
                    client,
                })
            }
            Some("refresh_token") => {
                let refresh_token =
                    take("refresh_token").ok_or_else(|| invalid("refresh_token is required"))?;
                Ok(Self::RefreshToken {
                    refresh_token,
                    resources,
                    client,
                })
            }
            Some(other) => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type '{}' is not supported",
                    other.chars().take(40).collect::<String>()
                ),
            )),
            None => Err(invalid("grant_type is required")),
        }
    }
}

/// What the store knows about a presented authorization code.
#[derive(Debug, Clone)]
pub struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: CodeChallenge,
    pub expires_at: UnixTime,
    pub used: bool,
    /// Slugs granted with this code.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeDecision {
    /// Issue tokens for these slugs (the requested subset, or all granted).
    Issue {
        resources: Vec<String>,
    },
    /// The code was already redeemed by this very client, redirect and verifier: revoke
    /// everything issued from it (RFC 6749 §4.1.2) and refuse.
    ValidReplay,
    Refuse(OAuthError),
}

/// `requested` are the `resource` parameters already mapped to slugs (unknown ones rejected
/// by the caller as `invalid_target`).
pub fn redeem(
    code: &CodeRecord,
    client_id: &str,
    redirect_uri: &str,
    verifier: &PkceVerifier,
    requested: &[String],
    now: UnixTime,
) -> CodeDecision {
    let grant_error =
        |text: &str| CodeDecision::Refuse(OAuthError::new(ErrorCode::InvalidGrant, text));
    if code.client_id != client_id {
        return grant_error("the code was issued to another client");
    }
    if code.redirect_uri != redirect_uri {
        return grant_error("redirect_uri does not match the authorization request");
    }
    if !code.challenge.verify(verifier) {
        return grant_error("code_verifier does not match the code_challenge");
    }
    if code.used {
        return CodeDecision::ValidReplay;
    }
    if now >= code.expires_at {
        return grant_error("the code has expired");
    }
    if let Some(extra) = requested.iter().find(|r| !code.resources.contains(r)) {
        return CodeDecision::Refuse(OAuthError::new(
            ErrorCode::InvalidTarget,
            format!("resource for '{extra}' was not granted"),
        ));
    }
    let resources = if requested.is_empty() {
        code.resources.clone()
    } else {
        requested.to_vec()
    };
    CodeDecision::Issue { resources }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn code_grant_requires_a_verifier() {
        let err = TokenRequest::from_pairs(pairs(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", "https://x/cb"),
        ]))
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(err.description.contains("code_verifier"));
    }

    #[test]
    fn parses_both_grants_and_repeated_resources() {
        let r = TokenRequest::from_pairs(pairs(&[
            ("grant_type", "authorization_code"),
            ("code", "c"),
            ("redirect_uri", "https://x/cb"),
            ("code_verifier", VERIFIER),
            ("client_id", "cid"),
            ("resource", "a"),
            ("resource", "b"),
        ]))
        .unwrap();
        assert!(
            matches!(r, TokenRequest::AuthorizationCode { ref resources, ref client, .. } if resources.len() == 2 && client.client_id.as_deref() == Some("cid"))
        );
        let r = TokenRequest::from_pairs(pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt"),
        ]))
        .unwrap();
        assert!(matches!(r, TokenRequest::RefreshToken { .. }));
    }

    #[test]
    fn unknown_grants_and_duplicates_are_refused() {
        let e = TokenRequest::from_pairs(pairs(&[("grant_type", "password")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedGrantType);
        let e =
            TokenRequest::from_pairs(pairs(&[("grant_type", "client_credentials")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedGrantType);
        let e = TokenRequest::from_pairs(pairs(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "a"),
            ("refresh_token", "b"),
        ]))
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert_eq!(
            TokenRequest::from_pairs(vec![]).unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    fn code() -> CodeRecord {
        CodeRecord {
            client_id: "cid".into(),
            redirect_uri: "https://x.example/cb".into(),
            challenge: CodeChallenge::parse(Some(CHALLENGE), Some("S256")).unwrap(),
            expires_at: 1000,
            used: false,
            resources: vec!["gmail".into(), "drive".into()],
        }
    }

    fn v(s: &str) -> PkceVerifier {
        PkceVerifier::parse(s).unwrap()
    }

    #[test]
    fn redeem_rules() {
        let c = code();
        let ok = redeem(&c, "cid", "https://x.example/cb", &v(VERIFIER), &[], 999);
        assert_eq!(
            ok,
            CodeDecision::Issue {
                resources: vec!["gmail".into(), "drive".into()]
            }
        );
        let subset = redeem(
            &c,
            "cid",
            "https://x.example/cb",
            &v(VERIFIER),
            &["drive".into()],
            999,
        );
        assert_eq!(
            subset,
            CodeDecision::Issue {
                resources: vec!["drive".into()]
            }
        );
        let refuse = |d: CodeDecision| matches!(d, CodeDecision::Refuse(_));
        assert!(refuse(redeem(
            &c,
            "other",
            "https://x.example/cb",
            &v(VERIFIER),
            &[],
            999
        )));
        assert!(refuse(redeem(
            &c,
            "cid",
            "https://x.example/cb2",
            &v(VERIFIER),
            &[],
            999
        )));
        assert!(refuse(redeem(
            &c,
            "cid",
            "https://x.example/cb",
            &v(&"a".repeat(43)),
            &[],
            999
        )));
        assert!(refuse(redeem(
            &c,
            "cid",
            "https://x.example/cb",
            &v(VERIFIER),
            &[],
            1000
        )));
        assert!(
            matches!(redeem(&c, "cid", "https://x.example/cb", &v(VERIFIER), &["other".into()], 999), CodeDecision::Refuse(e) if e.code == ErrorCode::InvalidTarget)
        );
    }

    #[test]
    fn only_a_fully_valid_replay_is_a_replay() {
        let mut c = code();
        c.used = true;
        assert_eq!(
            redeem(&c, "cid", "https://x.example/cb", &v(VERIFIER), &[], 999),
            CodeDecision::ValidReplay
        );
        assert!(matches!(
            redeem(
                &c,
                "cid",
                "https://x.example/cb",
                &v(&"b".repeat(43)),
                &[],
                999
            ),
            CodeDecision::Refuse(_)
        ));
        assert!(matches!(
            redeem(&c, "evil", "https://x.example/cb", &v(VERIFIER), &[], 999),
            CodeDecision::Refuse(_)
        ));
    }
}
