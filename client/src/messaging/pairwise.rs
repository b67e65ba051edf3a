//! The pairwise path to one user's devices: a session per device (PQXDH from a claimed
//! bundle the first time, then the Double Ratchet), the advanced sessions committed before
//! the envelopes leave, and repair when the relay reports changed devices (409/410).

use std::collections::BTreeSet;

use parley_crypto::DeviceAddress;
use parley_crypto::identity::PublicIdentity;
use parley_crypto::keys::os_rng;
use parley_crypto::prekeys::{
    KemPreKeyPublic, OneTimePreKeyPublic, PreKeyBundle, SignedPreKeyPublic,
};
use parley_crypto::session_record::SessionRecord;
use parley_proto::api::{OutgoingEnvelope, SendRequest};
use parley_proto::content::Content;
use parley_proto::envelope::EnvelopeBody;
use parley_proto::{B64, DeviceId, UserId};

use crate::error::{Error, Misbehaviour, Result, TrustFailure};
use crate::store::{ContactDevice, OutboxId, StoreTx};

use super::*;

/// Attempts at a send when the relay reports changed devices (409/410).
pub(crate) const SEND_ATTEMPTS: usize = 3;

impl Messenger {
    /// The devices of `user` this device sends to (all of them but itself).
    pub(crate) async fn recipient_devices(
        &self,
        user: &UserId,
        refresh: bool,
    ) -> Result<Vec<ContactDevice>> {
        let mut devices = self.devices_of(user, refresh).await?;
        self.leave_out_this_device(user.as_str(), &mut devices);
        Ok(devices)
    }

    /// Removes this device from a list of `user`'s devices (a device never sends to itself).
    pub(crate) fn leave_out_this_device(&self, user: &str, devices: &mut Vec<ContactDevice>) {
        if user == self.account.user {
            devices.retain(|d| d.device != self.account.device);
        }
    }

    /// Encrypts `content` pairwise for every current device of `user` (but this one) and
    /// sends it, repairing sessions and the device list when the relay says they changed.
    /// Returns the devices it went to.
    pub(crate) async fn send_content(
        &self,
        user: &UserId,
        content: &Content,
    ) -> Result<Vec<ContactDevice>> {
        Ok(self.send_pairwise(user, content, None).await?.0)
    }

    /// [`Messenger::send_content`], whose first attempt may have been encrypted already
    /// (`prepared`, made in the transaction that queued the message). Returns the devices
    /// it went to, and this user's other devices if the relay's answer listed them (see
    /// [`Messenger::note_own_devices`]).
    pub(super) async fn send_pairwise(
        &self,
        user: &UserId,
        content: &Content,
        prepared: Option<Prepared>,
    ) -> Result<(Vec<ContactDevice>, Option<Vec<ContactDevice>>)> {
        let plaintext = content.to_bytes();
        let (mut devices, mut ready) = match prepared {
            Some(p) => (p.devices, Some(p.messages)),
            None => (self.recipient_devices(user, false).await?, None),
        };
        let mut stale: BTreeSet<DeviceId> = BTreeSet::new();
        for _ in 0..SEND_ATTEMPTS {
            if devices.is_empty() {
                return Ok((devices, None)); // e.g. no other device of one's own user
            }
            let messages = match ready.take() {
                Some(messages) => messages,
                None => {
                    // Encrypt and commit the advanced sessions before anything is sent.
                    let mut tx = self.store.begin().await?;
                    let mut records = Vec::with_capacity(devices.len());
                    for d in &devices {
                        let addr = address(user.as_str(), d.device)?;
                        records.push(match tx.session(&addr).await? {
                            Some(r) if !stale.contains(&d.device) => r,
                            _ => self.new_session(self.identity(), user, d, &addr).await?,
                        });
                    }
                    let messages = seal(&mut tx, user, &devices, records, &plaintext).await?;
                    tx.commit().await?;
                    messages
                }
            };
            match self
                .relay
                .send(
                    user,
                    &SendRequest {
                        messages,
                        ttl_secs: content.expires_in,
                    },
                )
                .await
            {
                Ok(answer) => {
                    let own = self.note_own_devices(&answer.sender_devices).await?;
                    return Ok((devices, own));
                }
                Err(e) => {
                    let Some(body) = e.body().cloned() else {
                        return Err(e.into());
                    };
                    if body.mismatched.is_none() && body.stale.is_none() {
                        return Err(e.into());
                    }
                    tracing::debug!(
                        mismatched = body.mismatched.is_some(),
                        stale = body.stale.as_ref().map_or(0, Vec::len),
                        "the relay reported changed devices; refreshing the list"
                    );
                    stale.extend(body.stale.iter().flatten().copied());
                    devices = self.recipient_devices(user, true).await?;
                }
            }
        }
        Err(Error::DevicesChanging)
    }

    /// Encrypts `plaintext` for `devices` of `user` inside `tx`, the transaction that queues
    /// it, when a session with each of them is stored (`None` otherwise: starting one needs
    /// the relay, which the flush asks). The advanced sessions commit with the message and
    /// its outbox item, so the first attempt costs no commit of its own; if that attempt
    /// fails, the retry encrypts again (the receiver skips the unused message key).
    pub(super) async fn prepare(
        &self,
        tx: &mut StoreTx<'_>,
        item: OutboxId,
        user: &UserId,
        devices: Vec<ContactDevice>,
        plaintext: &[u8],
    ) -> Result<Option<Prepared>> {
        let mut records = Vec::with_capacity(devices.len());
        for d in &devices {
            match tx.session(&address(user.as_str(), d.device)?).await? {
                Some(r) if r.current().is_some() => records.push(r),
                _ => return Ok(None),
            }
        }
        let messages = seal(tx, user, &devices, records, plaintext).await?;
        Ok(Some(Prepared {
            item,
            user: user.clone(),
            devices,
            messages,
        }))
    }

    /// Starts a session with one device from a bundle claimed from the relay. The bundle's
    /// identity must be the one the directory lists for the device.
    pub(super) async fn new_session(
        &self,
        ours: &parley_crypto::identity::IdentityKeyPair,
        user: &UserId,
        device: &ContactDevice,
        addr: &DeviceAddress,
    ) -> Result<SessionRecord> {
        let bundles = self.relay.claim_prekeys(user, Some(device.device)).await?;
        let b = bundles.devices.first().ok_or(Misbehaviour::NoBundle)?;
        let identity =
            PublicIdentity::from_bytes(&b.identity.0).map_err(|_| Misbehaviour::MalformedBundle)?;
        if identity != device.identity {
            return Err(TrustFailure::BundleIdentityMismatch.into());
        }
        let kem = match &b.one_time_kem {
            Some(k) => KemPreKeyPublic::from_bytes(&k.0),
            None => KemPreKeyPublic::from_bytes(&b.last_resort_kem.0),
        }
        .map_err(|_| Misbehaviour::MalformedBundle)?;
        let one_time = match &b.one_time {
            Some(k) => Some(
                OneTimePreKeyPublic::from_bytes(&k.0).map_err(|_| Misbehaviour::MalformedBundle)?,
            ),
            None => None,
        };
        let signed = SignedPreKeyPublic::from_bytes(&b.signed_prekey.0)
            .map_err(|_| Misbehaviour::MalformedBundle)?;
        let bundle = PreKeyBundle::new(identity, signed, kem, one_time);
        let mut record = SessionRecord::new();
        record
            .initiate(&self.me()?, addr, ours, &bundle, &mut os_rng())
            .map_err(|_| TrustFailure::BundleSignature)?;
        Ok(record)
    }
}

/// A pairwise send's first attempt, encrypted in the transaction that queued its outbox item
/// (see [`Messenger::prepare`]).
#[derive(Debug)]
pub(super) struct Prepared {
    /// The outbox item.
    pub(super) item: OutboxId,
    /// Its first recipient.
    pub(super) user: UserId,
    /// The devices the envelopes are for.
    devices: Vec<ContactDevice>,
    /// One envelope per device.
    messages: Vec<OutgoingEnvelope>,
}

/// Encrypts `plaintext` with each device's session (`records`, in the order of `devices`)
/// and stores the advanced sessions in `tx`; returns the envelopes.
async fn seal(
    tx: &mut StoreTx<'_>,
    user: &UserId,
    devices: &[ContactDevice],
    records: Vec<SessionRecord>,
    plaintext: &[u8],
) -> Result<Vec<OutgoingEnvelope>> {
    let mut messages = Vec::with_capacity(devices.len());
    for (d, mut record) in devices.iter().zip(records) {
        let wire = record.encrypt(plaintext).map_err(Error::Crypto)?;
        tx.set_session(&address(user.as_str(), d.device)?, &record)
            .await?;
        messages.push(OutgoingEnvelope {
            device: d.device,
            registration_id: d.registration_id,
            body: B64(EnvelopeBody::Session(&wire.to_bytes()).to_bytes()),
        });
    }
    Ok(messages)
}
