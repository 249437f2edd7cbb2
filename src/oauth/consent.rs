//! The consent rules (DESIGN.md §3): what the user's answer on the consent page decides, given
//! the servers the request named and the servers the user has.

use super::error::{ErrorCode, OAuthError};

/// The user's answer on the consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Approve, with the slugs of the servers ticked.
    Approve(Vec<String>),
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentDecision {
    /// Grant these servers (the user's own, in the user's order).
    Grant(Vec<String>),
    /// Answer the client with this error at its redirect URI.
    Refuse(OAuthError),
    /// The form is not acceptable as sent: the user must choose again.
    ChooseAgain(&'static str),
}

/// `requested`: the slugs named by `resource` parameters; `owned`: the user's slugs.
pub fn decide(requested: &[String], owned: &[String], answer: &Answer) -> ConsentDecision {
    // RFC 8707 §2: a resource the user has no server for cannot be granted, whatever the answer.
    if requested.iter().any(|slug| !owned.contains(slug)) {
        return ConsentDecision::Refuse(OAuthError::new(
            ErrorCode::InvalidTarget,
            "the requested server does not exist for this user",
        ));
    }
    match answer {
        Answer::Deny => ConsentDecision::Refuse(OAuthError::new(
            ErrorCode::AccessDenied,
            "the user denied the request",
        )),
        Answer::Approve(selected)
            if selected.is_empty() || selected.iter().any(|s| !owned.contains(s)) =>
        {
            ConsentDecision::ChooseAgain("choose at least one of your servers")
        }
        Answer::Approve(selected) => ConsentDecision::Grant(
            owned
                .iter()
                .filter(|slug| selected.contains(slug))
                .cloned()
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slugs(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn approve_grants_the_ticked_servers() {
        let owned = slugs(&["gmail", "drive", "notes"]);
        let answer = Answer::Approve(slugs(&["notes", "gmail"]));
        assert_eq!(
            decide(&slugs(&["gmail"]), &owned, &answer),
            ConsentDecision::Grant(slugs(&["gmail", "notes"]))
        );
    }

    #[test]
    fn a_requested_server_the_user_lacks_is_invalid_target_even_when_denied() {
        let owned = slugs(&["gmail"]);
        for answer in [Answer::Deny, Answer::Approve(slugs(&["gmail"]))] {
            match decide(&slugs(&["drive"]), &owned, &answer) {
                ConsentDecision::Refuse(e) => assert_eq!(e.code, ErrorCode::InvalidTarget),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn deny_is_access_denied() {
        match decide(&[], &slugs(&["gmail"]), &Answer::Deny) {
            ConsentDecision::Refuse(e) => assert_eq!(e.code, ErrorCode::AccessDenied),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn approving_nothing_or_a_foreign_server_asks_again() {
        let owned = slugs(&["gmail"]);
        for selected in [slugs(&[]), slugs(&["gmail", "someone-elses"])] {
            assert!(matches!(
                decide(&[], &owned, &Answer::Approve(selected)),
                ConsentDecision::ChooseAgain(_)
            ));
        }
    }
}
