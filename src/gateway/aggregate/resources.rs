//! Which server a resource URI belongs to. Resource URIs stay the upstreams' own (clients show
//! and compare them), so the aggregated `/mcp` remembers, per user, the URIs and template
//! prefixes each server listed, and sends a read only to the server that listed it — never
//! one server's URI (which may carry ids or signed parameters) to another.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::domain::UserId;

/// Entries kept per user; past it the user's index starts over (clients list again).
const MAX_PER_USER: usize = 10_000;

#[derive(Default)]
pub struct ResourceIndex {
    users: Mutex<HashMap<UserId, Known>>,
}

#[derive(Default)]
struct Known {
    /// Exact URIs from `resources/list`.
    uris: HashMap<String, String>,
    /// The literal part of `resources/templates/list` templates (up to the first `{`).
    prefixes: Vec<(String, String)>,
}

impl ResourceIndex {
    fn with<T>(&self, user: UserId, f: impl FnOnce(&mut Known) -> T) -> T {
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        let known = users.entry(user).or_default();
        if known.uris.len() + known.prefixes.len() > MAX_PER_USER {
            *known = Known::default();
        }
        f(known)
    }

    pub fn listed(&self, user: UserId, slug: &str, uri: &str) {
        self.with(user, |k| k.uris.insert(uri.to_owned(), slug.to_owned()));
    }

    pub fn templated(&self, user: UserId, slug: &str, template: &str) {
        let prefix = template.split('{').next().unwrap_or_default();
        if prefix.is_empty() {
            return;
        }
        self.with(user, |k| {
            if !k.prefixes.iter().any(|(p, s)| p == prefix && s == slug) {
                k.prefixes.push((prefix.to_owned(), slug.to_owned()));
            }
        });
    }

    /// The server that listed `uri`, else the one whose template's literal prefix is the
    /// longest match.
    pub fn owner(&self, user: UserId, uri: &str) -> Option<String> {
        self.with(user, |k| {
            k.uris.get(uri).cloned().or_else(|| {
                k.prefixes
                    .iter()
                    .filter(|(prefix, _)| uri.starts_with(prefix.as_str()))
                    .max_by_key(|(prefix, _)| prefix.len())
                    .map(|(_, slug)| slug.clone())
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_goes_only_to_the_server_that_listed_the_uri() {
        let index = ResourceIndex::default();
        let (alice, bob) = (UserId::new(1), UserId::new(2));
        index.listed(alice, "notes", "file:///notes/a.md");
        index.templated(alice, "gmail", "gmail://messages/{id}");
        index.templated(alice, "drive", "gmail://messages/drafts/{id}");
        index.templated(alice, "any", "{whole}");
        assert_eq!(
            index.owner(alice, "file:///notes/a.md").as_deref(),
            Some("notes")
        );
        assert_eq!(
            index.owner(alice, "gmail://messages/42").as_deref(),
            Some("gmail")
        );
        assert_eq!(
            index.owner(alice, "gmail://messages/drafts/7").as_deref(),
            Some("drive")
        );
        assert_eq!(index.owner(alice, "file:///notes/b.md"), None);
        assert_eq!(index.owner(bob, "file:///notes/a.md"), None, "per user");
    }
}
