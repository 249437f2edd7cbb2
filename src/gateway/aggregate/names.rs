//! How the aggregated `/mcp` names what it merges: an upstream's tool or prompt `send_email`
//! on the server `gmail` is `gmail__send_email`. Slugs are `[a-z0-9-]`, so the first `__`
//! always ends the slug: two servers' names never collide, and the result keeps to the
//! `[A-Za-z0-9_-]` tool names every client accepts (when the upstream's name does).
//! List cursors name the server whose page comes next and that server's own cursor.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::domain::ServerSlug;

pub const SEPARATOR: &str = "__";

pub fn prefixed(slug: &str, name: &str) -> String {
    format!("{slug}{SEPARATOR}{name}")
}

/// The server and the upstream's own name of a merged name; `None` when it has no valid slug.
pub fn split(merged: &str) -> Option<(ServerSlug, &str)> {
    let (slug, name) = merged.split_once(SEPARATOR)?;
    let slug = ServerSlug::parse(slug).ok()?;
    (!name.is_empty()).then_some((slug, name))
}

/// Where a paginated merged list goes on: this server's page at its own cursor (`None`: its
/// first page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub slug: String,
    pub upstream: Option<String>,
}

impl Cursor {
    /// Opaque to the client (MCP pagination): base64url of `slug`, a NUL, the upstream's cursor.
    pub fn encode(&self) -> String {
        let mut raw = self.slug.clone().into_bytes();
        if let Some(upstream) = &self.upstream {
            raw.push(0);
            raw.extend_from_slice(upstream.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(raw)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (slug, upstream) = match raw.split_once('\0') {
            Some((slug, upstream)) => (slug, Some(upstream.to_owned())),
            None => (raw.as_str(), None),
        };
        let slug = ServerSlug::parse(slug).ok()?.as_str().to_owned();
        Some(Self { slug, upstream })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_cannot_collide() {
        let merged = prefixed("gmail", "send_email");
        assert_eq!(merged, "gmail__send_email");
        let (slug, name) = split(&merged).unwrap();
        assert_eq!((slug.as_str(), name), ("gmail", "send_email"));
        // An upstream name with the separator in it still belongs to its server.
        let merged = prefixed("my-notes", "a__b");
        let (slug, name) = split(&merged).unwrap();
        assert_eq!((slug.as_str(), name), ("my-notes", "a__b"));
        // Two servers, the same tool: two names.
        assert_ne!(prefixed("a", "x"), prefixed("b", "x"));
    }

    #[test]
    fn names_without_a_valid_slug_are_refused() {
        for merged in [
            "send_email",
            "Gmail__send",
            "__send",
            "gmail__",
            "gm_ail__x",
        ] {
            assert!(split(merged).is_none(), "{merged}");
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        for cursor in [
            Cursor {
                slug: "gmail".into(),
                upstream: None,
            },
            Cursor {
                slug: "gmail".into(),
                upstream: Some("page=2\0weird".into()),
            },
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
        for garbage in ["", "!!", &URL_SAFE_NO_PAD.encode("Bad Slug")] {
            assert_eq!(Cursor::decode(garbage), None, "{garbage}");
        }
    }
}
