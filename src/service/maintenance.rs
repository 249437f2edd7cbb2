//! Operator maintenance: re-encrypting stored secrets under the newest key.

use super::ServiceError;
use crate::state::Core;
use crate::vault::rotation;

pub use crate::vault::rotation::Rotated;

/// `gatehouse rotate-key`: rewrites every ciphertext not under the first configured key
/// (resumable; each value only if unchanged). Returns what was done and the key used.
pub async fn rotate_key(core: &Core) -> Result<(Rotated, String), ServiceError> {
    let done = rotation::rotate(&core.pool, &core.cipher)
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
    Ok((done, core.cipher.current_key_id().to_owned()))
}
