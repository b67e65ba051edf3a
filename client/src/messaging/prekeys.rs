//! Prekey upkeep (docs/architecture.md §4): rotation of the signed and last-resort prekeys,
//! refill of the one-time prekeys.

use parley_crypto::consts::MAX_ONE_TIME_PREKEYS;
use parley_crypto::keys::os_rng;
use parley_proto::B64;
use parley_proto::api::PreKeyUpload;

use crate::error::{Missing, Result};

use super::*;

/// One-time prekeys of a kind below which [`Messenger::upkeep`] refills.
pub const REFILL_BELOW: usize = 20;

/// How many one-time prekeys of each kind a refill brings the relay back to.
pub const REFILL_TO: usize = 100;

/// Age at which the signed and last-resort prekeys are rotated.
pub const ROTATE_AFTER_SECS: u64 = 7 * 24 * 60 * 60;

impl Messenger {
    /// Keeps this device's prekeys on the relay healthy (docs/architecture.md §4): rotates the signed and
    /// last-resort prekeys once they are a week old (the previous ones stay usable for a
    /// while, as the prekey store keeps two), and refills the one-time prekeys when fewer
    /// than [`REFILL_BELOW`] of a kind are left. The private halves are stored before the
    /// public ones are uploaded. Returns whether anything was uploaded.
    pub async fn upkeep(&self) -> Result<bool> {
        let count = self.relay.prekey_count().await?;
        let now = now_ms() / 1000;
        let mut tx = self.store.begin().await?;
        let identity = self.identity();
        let mut prekeys = tx.prekeys().await?.ok_or(Missing::PreKeys)?;
        let rotate = prekeys
            .signed_prekey_created_at()
            .is_none_or(|t| now.saturating_sub(t) >= ROTATE_AFTER_SECS);
        let low =
            usize::try_from(count.one_time.min(count.one_time_kem)).unwrap_or(0) < REFILL_BELOW;
        if !rotate && !low {
            tx.commit().await?;
            return Ok(false);
        }
        if rotate {
            prekeys.rotate(identity, now, &mut os_rng());
        }
        let (ec, kem) = if low {
            // Keys peers claimed but have not used yet stay here (their first message may still
            // be queued) until room is needed; then the oldest go first (the relay hands out
            // the oldest first, so those are claimed ones, claimed longest ago).
            let left = usize::try_from(count.one_time.max(count.one_time_kem)).unwrap_or(0);
            let new = REFILL_TO.saturating_sub(left);
            let (held_ec, held_kem) = prekeys.one_time_counts();
            let over = |held: usize| {
                held.saturating_add(new)
                    .saturating_sub(MAX_ONE_TIME_PREKEYS)
            };
            prekeys.forget_oldest_one_time(over(held_ec), over(held_kem));
            prekeys.generate_one_time(identity, new, &mut os_rng())
        } else {
            (Vec::new(), Vec::new())
        };
        tx.set_prekeys(&prekeys).await?;
        tx.commit().await?;
        let upload = PreKeyUpload {
            signed_prekey: if rotate {
                prekeys.signed_prekey().map(|k| B64(k.to_bytes()))
            } else {
                None
            },
            last_resort_kem: if rotate {
                prekeys.last_resort_kem_prekey().map(|k| B64(k.to_bytes()))
            } else {
                None
            },
            one_time: ec.iter().map(|k| B64(k.to_bytes())).collect(),
            one_time_kem: kem.iter().map(|k| B64(k.to_bytes())).collect(),
            replace_one_time: false,
        };
        self.relay.upload_prekeys(&upload).await?;
        tracing::info!(
            rotated = rotate,
            one_time = upload.one_time.len(),
            "prekeys uploaded"
        );
        Ok(true)
    }
}
