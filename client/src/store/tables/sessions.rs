//! The `sessions` table: the session record with each remote device.

use parley_crypto::DeviceAddress;
use parley_crypto::session_record::SessionRecord;

use error::StoreResult;

use super::super::*;

impl StoreTx<'_> {
    pub(in crate::store) fn session_lookup(&self, address: &DeviceAddress) -> [u8; 32] {
        self.store.sealer.lookup("session", &address_bytes(address))
    }

    /// The session record with a remote device.
    pub async fn session(&mut self, address: &DeviceAddress) -> StoreResult<Option<SessionRecord>> {
        let lookup = self.session_lookup(address);
        self.get_record(T_SESSIONS, "lookup", &lookup)
            .await?
            .map(|b| SessionRecord::from_bytes(&b).map_err(malformed(T_SESSIONS)))
            .transpose()
    }

    /// Stores the session record with a remote device.
    pub async fn set_session(
        &mut self,
        address: &DeviceAddress,
        record: &SessionRecord,
    ) -> StoreResult<()> {
        let lookup = self.session_lookup(address);
        self.put_record(T_SESSIONS, "lookup", &lookup, &record.to_bytes())
            .await
    }

    /// Deletes the session with a remote device (revoked device, forced logout); true if there
    /// was one.
    pub async fn delete_session(&mut self, address: &DeviceAddress) -> StoreResult<bool> {
        let lookup = self.session_lookup(address);
        self.delete_record(T_SESSIONS, "lookup", &lookup).await
    }
}
