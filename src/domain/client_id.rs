//! `ClientId`: an OAuth client identifier — a registered (DCR) id, or the https URL of a
//! Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document, DESIGN.md §3).

use url::Url;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientId {
    Registered(String),
    /// The URL, kept byte for byte: the document's `client_id` must equal it exactly.
    MetadataDocument(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdError {
    #[error("client_id is empty or too long")]
    Length,
    #[error("a URL client_id must be https with a host and a path, without fragment, user name, or dot segments")]
    BadDocumentUrl,
}

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, ClientIdError> {
        if raw.is_empty() || raw.len() > 2000 {
            return Err(ClientIdError::Length);
        }
        if !raw.contains("://") {
            return Ok(Self::Registered(raw.to_owned()));
        }
        let url = Url::parse(raw).map_err(|_| ClientIdError::BadDocumentUrl)?;
        let path = raw
            .split_once("://")
            .map(|(_, rest)| rest)
            .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
            .unwrap_or("");
        let path = path.split(['?', '#']).next().unwrap_or("");
        let dot_segment = path.split('/').any(|seg| {
            seg == "."
                || seg == ".."
                || seg.eq_ignore_ascii_case("%2e")
                || seg.eq_ignore_ascii_case("%2e%2e")
        });
        let ok = url.scheme() == "https"
            && url.host_str().is_some_and(|h| !h.is_empty())
            && url.username().is_empty()
            && url.password().is_none()
            && url.fragment().is_none()
            && !raw.contains('#')
            && path.len() > 1
            && !dot_segment;
        if ok {
            Ok(Self::MetadataDocument(raw.to_owned()))
        } else {
            Err(ClientIdError::BadDocumentUrl)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_client_ids() {
        for ok in [
            "https://claude.ai/oauth/claude-code-client-metadata",
            "https://vscode.dev/oauth/client-metadata.json",
            "https://app.example.com/client.json?v=2",
        ] {
            assert_eq!(
                ClientId::parse(ok),
                Ok(ClientId::MetadataDocument(ok.to_owned())),
                "{ok}"
            );
        }
        for bad in [
            "http://app.example.com/client.json",
            "https://app.example.com",
            "https://app.example.com/",
            "https://app.example.com/client.json#frag",
            "https://user:pw@app.example.com/client.json",
            "https://app.example.com/a/../client.json",
            "https://app.example.com/./client.json",
            "https://app.example.com/a/%2E%2E/client.json",
        ] {
            assert_eq!(
                ClientId::parse(bad),
                Err(ClientIdError::BadDocumentUrl),
                "{bad}"
            );
        }
    }

    #[test]
    fn other_ids_are_registered_ids() {
        assert_eq!(
            ClientId::parse("gh_client_abc"),
            Ok(ClientId::Registered("gh_client_abc".into()))
        );
        assert_eq!(ClientId::parse(""), Err(ClientIdError::Length));
    }
}
