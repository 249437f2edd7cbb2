//! Reading what outbound requests bring back: bodies with a size limit, errors by their cause.

/// The innermost cause of a request error ("Connection refused", "… resolves to an address
/// Gatehouse may not connect to"): what an operator needs to read, and never the URL, which
/// may hold keys.
pub fn cause(err: &reqwest::Error) -> String {
    let mut text = match err.url() {
        Some(url) => err.to_string().replace(url.as_str(), "…"),
        None => err.to_string(),
    };
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    #[error("reading the response failed: {0}")]
    Read(String),
}

/// Reads a whole body, refusing more than `max` bytes: the rest is never downloaded.
pub async fn read_limited(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(BodyError::TooLarge(max));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Read(cause(&e)))?
    {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
