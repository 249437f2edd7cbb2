//! Form plumbing of the browser-facing protocol POSTs (sign-in, consent): the CSRF-checked
//! form extractor and the shape check of handles that go back into URLs.

use axum::extract::{FromRequest, Request};
use axum::Form;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use tower_sessions::Session;

use super::error::WebError;
use super::session;

/// A form whose `_csrf` field matched the session's token; the rest deserializes into `T`.
pub struct CsrfForm<T>(pub T, pub Session);

#[derive(Deserialize)]
struct WithCsrf<T> {
    #[serde(rename = "_csrf", default)]
    csrf: String,
    #[serde(flatten)]
    inner: T,
}

impl<S, T> FromRequest<S> for CsrfForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let session =
            <Session as axum::extract::FromRequestParts<S>>::from_request_parts(&mut parts, state)
                .await
                .map_err(|(_, msg)| WebError::Internal(msg.to_owned()))?;
        let req = Request::from_parts(parts, body);
        let Form(form) = Form::<WithCsrf<T>>::from_request(req, state)
            .await
            .map_err(|rejection| {
                // A body over the limit or a wrong content type is the client's error, said plainly.
                WebError::BadForm(rejection.body_text())
            })?;
        if !session::csrf_matches(&session, &form.csrf).await {
            return Err(WebError::Csrf);
        }
        Ok(CsrfForm(form.inner, session))
    }
}
