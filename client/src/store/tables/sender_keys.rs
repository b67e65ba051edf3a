//! The `sender_keys` and `own_sender_keys` tables: other devices' sender keys, this
//! device's own, and the devices its own key went to.

use parley_crypto::DeviceAddress;
use parley_crypto::sender_key::{GroupId, OwnSenderKey, SenderKeyRecord};

use error::StoreResult;
use records::SenderKeyShare;

use super::super::*;

impl StoreTx<'_> {
    fn sender_key_lookup(&self, group: &GroupId, sender: &DeviceAddress) -> [u8; 32] {
        let mut value = group.0.to_vec();
        value.extend_from_slice(&address_bytes(sender));
        self.store.sealer.lookup("sender-key", &value)
    }

    /// The sender-key record of `sender` in `group`.
    pub async fn sender_key(
        &mut self,
        group: &GroupId,
        sender: &DeviceAddress,
    ) -> StoreResult<Option<SenderKeyRecord>> {
        let lookup = self.sender_key_lookup(group, sender);
        self.get_record(T_SENDER_KEYS, "lookup", &lookup)
            .await?
            .map(|b| SenderKeyRecord::from_bytes(&b).map_err(malformed(T_SENDER_KEYS)))
            .transpose()
    }

    /// Stores the sender-key record of `sender` in `group`.
    pub async fn set_sender_key(
        &mut self,
        group: &GroupId,
        sender: &DeviceAddress,
        record: &SenderKeyRecord,
    ) -> StoreResult<()> {
        let lookup = self.sender_key_lookup(group, sender);
        self.put_record(T_SENDER_KEYS, "lookup", &lookup, &record.to_bytes())
            .await
    }

    /// Deletes the sender-key record of `sender` in `group`; true if there was one.
    pub async fn delete_sender_key(
        &mut self,
        group: &GroupId,
        sender: &DeviceAddress,
    ) -> StoreResult<bool> {
        let lookup = self.sender_key_lookup(group, sender);
        self.delete_record(T_SENDER_KEYS, "lookup", &lookup).await
    }

    /// This device's own sender key in `group`.
    pub async fn own_sender_key(&mut self, group: &GroupId) -> StoreResult<Option<OwnSenderKey>> {
        let lookup = self.store.sealer.lookup("own-sender-key", &group.0);
        self.get_record(T_OWN_SENDER_KEYS, "lookup", &lookup)
            .await?
            .map(|b| OwnSenderKey::from_bytes(&b).map_err(malformed(T_OWN_SENDER_KEYS)))
            .transpose()
    }

    /// Stores this device's own sender key (its group is inside it).
    pub async fn set_own_sender_key(&mut self, key: &OwnSenderKey) -> StoreResult<()> {
        let lookup = self
            .store
            .sealer
            .lookup("own-sender-key", &key.group_id().0);
        self.put_record(T_OWN_SENDER_KEYS, "lookup", &lookup, &key.to_bytes())
            .await
    }

    /// Deletes this device's own sender key in `group`; true if there was one.
    pub async fn delete_own_sender_key(&mut self, group: &GroupId) -> StoreResult<bool> {
        let lookup = self.store.sealer.lookup("own-sender-key", &group.0);
        self.delete_record(T_OWN_SENDER_KEYS, "lookup", &lookup)
            .await
    }

    /// The devices this device's own sender key of `group` was distributed to (kept in the
    /// `own_sender_keys` table under its own lookup).
    pub async fn sender_key_shares(&mut self, group: &GroupId) -> StoreResult<Vec<SenderKeyShare>> {
        let lookup = self.store.sealer.lookup("own-sender-key-shares", &group.0);
        self.get_record(T_OWN_SENDER_KEYS, "lookup", &lookup)
            .await?
            .map(|b| records::decode_shares(&b).map_err(malformed(T_OWN_SENDER_KEYS)))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Replaces the list of devices this device's own sender key of `group` went to.
    pub async fn set_sender_key_shares(
        &mut self,
        group: &GroupId,
        shares: &[SenderKeyShare],
    ) -> StoreResult<()> {
        let lookup = self.store.sealer.lookup("own-sender-key-shares", &group.0);
        self.put_record(
            T_OWN_SENDER_KEYS,
            "lookup",
            &lookup,
            &records::encode_shares(shares),
        )
        .await
    }
}
