//! `Username`: the sign-in name, compared case-insensitively by storing it lowercased.

use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("a username needs 1 to 64 characters")]
    Length,
    #[error("a username uses only letters, digits and . _ - @")]
    Charset,
}

impl Username {
    pub fn parse(input: &str) -> Result<Self, UsernameError> {
        let name = input.trim().to_ascii_lowercase();
        if name.is_empty() || name.len() > 64 {
            return Err(UsernameError::Length);
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
        {
            return Err(UsernameError::Charset);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Username {
    type Err = UsernameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl std::fmt::Display for Username {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_trimmed_and_lowercased() {
        assert_eq!(Username::parse("  Alice ").map(|u| u.0), Ok("alice".into()));
        assert_eq!(
            Username::parse("a.b_c-d@example.org").map(|u| u.0),
            Ok("a.b_c-d@example.org".into())
        );
    }

    #[test]
    fn bad_usernames_are_refused() {
        assert_eq!(Username::parse(""), Err(UsernameError::Length));
        assert_eq!(Username::parse(&"a".repeat(65)), Err(UsernameError::Length));
        assert_eq!(Username::parse("al ice"), Err(UsernameError::Charset));
        assert_eq!(Username::parse("<script>"), Err(UsernameError::Charset));
    }
}
