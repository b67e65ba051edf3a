//! Which devices each colleague has, cached in the store's contacts (docs/architecture.md §2, §4).
//!
//! A send encrypts to the devices of the cached list and needs no extra round trip; the
//! relay's 409 (missing or extra devices) or 410 (re-registered devices) makes the engine
//! refresh the entry and retry, as Signal's clients do; an entry older than [`MAX_AGE_MS`] is
//! fetched again. This user's own list is checked against the one the relay returns with every
//! accepted send ([`parley_proto::api::SendResponse::sender_devices`]): a user with one device
//! sends no copy to itself, so no 409 could tell it of a newly linked device. A prekey message from a device the
//! cache does not list, or lists with another identity, also refreshes it.
//!
//! Trust: the list comes from the relay, which the org log will replace as the source once it
//! carries `DeviceAdded`/`DeviceRevoked` entries (docs/architecture.md §2). Until then a malicious relay
//! could list a device of its own for a user. What the cache gives is narrower: while a device
//! (number and registration id) stays listed, its identity key cannot change (a refresh that
//! changes it is refused), and a new session is made only with a bundle whose identity is the
//! listed one. A relay that drops a device and lists it again, or changes its registration id,
//! can present a new key; the org log closes that.

use std::collections::BTreeMap;

use parley_crypto::identity::PublicIdentity;
use parley_proto::{DeviceId, UserId};

use crate::error::{Misbehaviour, Result, TrustFailure};
use crate::messaging::{Messenger, now_ms};
use crate::store::{Contact, ContactDevice};

/// Age after which a cached device list is fetched again before use.
pub const MAX_AGE_MS: u64 = 60 * 60 * 1000;

/// A cached device list young enough to use.
fn fresh(c: &Contact) -> bool {
    c.updated_at > 0 && now_ms().saturating_sub(c.updated_at) < MAX_AGE_MS
}

impl Messenger {
    /// The devices of `user`, from the cache unless there is none or `refresh` is set (then
    /// from the relay, and the cache is updated).
    pub(crate) async fn devices_of(
        &self,
        user: &UserId,
        refresh: bool,
    ) -> Result<Vec<ContactDevice>> {
        if !refresh {
            let mut tx = self.store().begin().await?;
            let cached = tx.contact(user.as_str()).await?;
            tx.commit().await?;
            if let Some(c) = cached.filter(fresh) {
                return Ok(c.devices);
            }
        }
        // A user the relay does not know (never enrolled, or dismissed) has no devices.
        let listed = match self.relay().devices(user).await {
            Ok(list) => list.devices,
            Err(e) if e.status() == Some(reqwest::StatusCode::NOT_FOUND) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let mut devices = Vec::with_capacity(listed.len());
        for d in listed {
            let identity = PublicIdentity::from_bytes(&d.identity.0)
                .map_err(|_| Misbehaviour::MalformedIdentity)?;
            devices.push(ContactDevice {
                device: d.device,
                registration_id: d.registration_id,
                identity,
            });
        }
        let mut tx = self.store().begin().await?;
        let mut contact = tx.contact(user.as_str()).await?.unwrap_or_else(|| Contact {
            user: user.to_string(),
            display_name: String::new(),
            email: String::new(),
            title: String::new(),
            department: String::new(),
            devices: Vec::new(),
            updated_at: 0,
        });
        // Pin identities: the same device number and registration id must keep its key.
        for new in &devices {
            if contact.devices.iter().any(|old| {
                old.device == new.device
                    && old.registration_id == new.registration_id
                    && old.identity != new.identity
            }) {
                return Err(TrustFailure::IdentityChanged.into());
            }
        }
        contact.devices = devices.clone();
        contact.updated_at = now_ms().max(1);
        tx.set_contact(&contact).await?;
        tx.commit().await?;
        Ok(devices)
    }

    /// The devices of each of `users` (this device left out of its own user's): the cached
    /// lists read in one store transaction, the relay asked only for those not cached or older
    /// than [`MAX_AGE_MS`]. For a group message, which needs every member's devices.
    pub(crate) async fn recipient_devices_of(
        &self,
        users: &[String],
    ) -> Result<BTreeMap<String, Vec<ContactDevice>>> {
        let mut cached = BTreeMap::new();
        let mut tx = self.store().begin().await?;
        for user in users {
            if let Some(c) = tx.contact(user).await?.filter(fresh) {
                cached.insert(user.clone(), c.devices);
            }
        }
        tx.commit().await?;
        let mut out = BTreeMap::new();
        for user in users {
            let mut devices = match cached.remove(user) {
                Some(d) => d,
                None => self.devices_of(&UserId::new(user.clone())?, true).await?,
            };
            self.leave_out_this_device(user, &mut devices);
            out.insert(user.clone(), devices);
        }
        Ok(out)
    }

    /// Takes note of this user's devices as the relay listed them in answer to a send: when
    /// they are not the cached ones (a device was linked or removed), the cache is refreshed,
    /// so the next copy to this user's other devices reaches the new one.
    pub(crate) async fn note_own_devices(&self, listed: &[DeviceId]) -> Result<()> {
        if listed.is_empty() {
            return Ok(()); // a relay that does not say
        }
        let me = UserId::new(self.user())?;
        let mut tx = self.store().begin().await?;
        let cached = tx.contact(me.as_str()).await?;
        tx.commit().await?;
        let cached: std::collections::BTreeSet<DeviceId> = cached
            .iter()
            .flat_map(|c| c.devices.iter().map(|d| d.device))
            .collect();
        if cached != listed.iter().copied().collect() {
            self.devices_of(&me, true).await?;
        }
        Ok(())
    }

    /// The identity of `user`'s device `device` as the directory lists it (refreshing the
    /// cache once when it does not list the device).
    pub(crate) async fn identity_of(
        &self,
        user: &UserId,
        device: DeviceId,
    ) -> Result<Option<PublicIdentity>> {
        let find = |devices: Vec<ContactDevice>| {
            devices
                .into_iter()
                .find(|d| d.device == device)
                .map(|d| d.identity)
        };
        if let Some(identity) = find(self.devices_of(user, false).await?) {
            return Ok(Some(identity));
        }
        Ok(find(self.devices_of(user, true).await?))
    }
}
