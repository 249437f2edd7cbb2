//! `ServerSlug`: the path segment in `/mcp/{slug}`, unique per user.

use std::str::FromStr;

/// Lowercase ASCII letters, digits and inner hyphens, 1–40 characters, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSlug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a slug needs 1 to 40 characters")]
    Length,
    #[error("a slug uses only lowercase letters a-z, digits and hyphens")]
    Charset,
    #[error("a slug starts with a letter and does not end with a hyphen")]
    Edges,
    #[error("a slug has no two hyphens in a row")]
    DoubleHyphen,
}

impl ServerSlug {
    pub const MAX_LEN: usize = 40;

    pub fn parse(input: &str) -> Result<Self, SlugError> {
        if input.is_empty() || input.len() > Self::MAX_LEN {
            return Err(SlugError::Length);
        }
        if !input
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(SlugError::Charset);
        }
        if !input.starts_with(|c: char| c.is_ascii_lowercase()) || input.ends_with('-') {
            return Err(SlugError::Edges);
        }
        if input.contains("--") {
            return Err(SlugError::DoubleHyphen);
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ServerSlug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for ServerSlug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ServerSlug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slug_rules() {
        let cases: &[(&str, Result<(), SlugError>)] = &[
            ("gmail", Ok(())),
            ("google-drive", Ok(())),
            ("a1", Ok(())),
            ("", Err(SlugError::Length)),
            (&"a".repeat(41), Err(SlugError::Length)),
            ("Gmail", Err(SlugError::Charset)),
            ("g mail", Err(SlugError::Charset)),
            ("g_mail", Err(SlugError::Charset)),
            ("gmail/..", Err(SlugError::Charset)),
            ("ümail", Err(SlugError::Charset)),
            ("1gmail", Err(SlugError::Edges)),
            ("-gmail", Err(SlugError::Edges)),
            ("gmail-", Err(SlugError::Edges)),
            ("g--mail", Err(SlugError::DoubleHyphen)),
        ];
        for (input, expected) in cases {
            assert_eq!(
                ServerSlug::parse(input).map(|_| ()),
                *expected,
                "input {input:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn parsed_slugs_are_url_safe(s in "\\PC{0,50}") {
            if let Ok(slug) = ServerSlug::parse(&s) {
                prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert_eq!(slug.as_str(), s.as_str());
            }
        }
    }
}
