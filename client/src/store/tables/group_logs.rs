//! The `group_logs` table: every signed change this device received for each group
//! (docs/architecture.md §3.4), as one JSON record per group.

use parley_crypto::sender_key::GroupId;
use parley_proto::group::SignedGroupChange;

use error::StoreResult;

use super::super::*;

impl StoreTx<'_> {
    /// The signed changes of `group` this device holds (empty for an unknown group).
    pub async fn group_log(&mut self, group: &GroupId) -> StoreResult<Vec<SignedGroupChange>> {
        let lookup = self.store.sealer.lookup("group-log", &group.0);
        self.get_record(T_GROUP_LOGS, "lookup", &lookup)
            .await?
            .map(|b| {
                serde_json::from_slice(&b).map_err(|_| StoreError::Malformed {
                    table: T_GROUP_LOGS,
                })
            })
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Stores the signed changes of `group`.
    pub async fn set_group_log(
        &mut self,
        group: &GroupId,
        changes: &[SignedGroupChange],
    ) -> StoreResult<()> {
        let lookup = self.store.sealer.lookup("group-log", &group.0);
        let bytes = zeroize::Zeroizing::new(serde_json::to_vec(changes).map_err(|_| {
            StoreError::Malformed {
                table: T_GROUP_LOGS,
            }
        })?);
        self.put_record(T_GROUP_LOGS, "lookup", &lookup, &bytes)
            .await
    }
}
