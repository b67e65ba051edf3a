//! The `tasks` table: one sealed record per task (docs/architecture.md §7), keyed by a keyed
//! hash of (conversation, task id), with the task's expiry in the clear (bound into the
//! record's associated data) so that disappearing tasks can be found.

use parley_proto::content::TaskId;
use serde::{Deserialize, Serialize};

use crate::tasks::TaskState;
use error::{StoreError, StoreResult};
use records::ConversationId;

use super::super::*;

/// A task's record: where it is, and its state.
#[derive(Serialize, Deserialize)]
struct TaskRecord {
    #[serde(with = "parley_proto::hex::serde_array")]
    conversation: [u8; 32],
    task: TaskId,
    state: TaskState,
}

fn routing(expires_at: Option<u64>) -> Vec<u8> {
    expires_at
        .map(u64::to_be_bytes)
        .map_or_else(Vec::new, |b| b.to_vec())
}

impl StoreTx<'_> {
    fn task_lookup(&self, conversation: &ConversationId, task: &TaskId) -> [u8; 32] {
        let mut value = conversation.0.to_vec();
        value.extend_from_slice(&task.0);
        self.store.sealer.lookup("task", &value)
    }

    /// The state of `task` in `conversation`, if any change to it has come.
    pub async fn task(
        &mut self,
        conversation: &ConversationId,
        task: &TaskId,
    ) -> StoreResult<Option<TaskState>> {
        let lookup = self.task_lookup(conversation, task);
        let row: Option<(Option<i64>, Vec<u8>)> =
            sqlx::query_as("SELECT expires_at, record FROM tasks WHERE lookup = ?")
                .bind(&lookup[..])
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(|(expires_at, sealed)| self.open_task(&lookup, expires_at, &sealed))
            .transpose()
            .map(|r| r.map(|r| r.state))
    }

    /// Stores the state of `task` in `conversation`.
    pub async fn put_task(
        &mut self,
        conversation: &ConversationId,
        task: &TaskId,
        state: &TaskState,
    ) -> StoreResult<()> {
        let lookup = self.task_lookup(conversation, task);
        let record = TaskRecord {
            conversation: conversation.0,
            task: *task,
            state: state.clone(),
        };
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(&record).map_err(|_| StoreError::Malformed { table: T_TASKS })?,
        );
        let sealed = self
            .store
            .sealer
            .seal(T_TASKS, &lookup, &routing(state.expires_at), &plain);
        sqlx::query(
            "INSERT INTO tasks (lookup, expires_at, record) VALUES (?, ?, ?) \
             ON CONFLICT (lookup) DO UPDATE SET expires_at = excluded.expires_at, \
             record = excluded.record",
        )
        .bind(&lookup[..])
        .bind(state.expires_at.map(to_i64).transpose()?)
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Every task this device holds: (conversation, id, state).
    pub async fn tasks(&mut self) -> StoreResult<Vec<(ConversationId, TaskId, TaskState)>> {
        let rows: Vec<(Vec<u8>, Option<i64>, Vec<u8>)> =
            sqlx::query_as("SELECT lookup, expires_at, record FROM tasks")
                .fetch_all(&mut *self.tx)
                .await?;
        rows.into_iter()
            .map(|(lookup, expires_at, sealed)| {
                let r = self.open_task(&lookup, expires_at, &sealed)?;
                Ok((ConversationId(r.conversation), r.task, r.state))
            })
            .collect()
    }

    /// Deletes every task whose time was up at `now` (ms); returns how many.
    pub async fn delete_expired_tasks(&mut self, now: u64) -> StoreResult<u64> {
        let done =
            sqlx::query("DELETE FROM tasks WHERE expires_at IS NOT NULL AND expires_at <= ?")
                .bind(to_i64(now)?)
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected())
    }

    fn open_task(
        &self,
        lookup: &[u8],
        expires_at: Option<i64>,
        sealed: &[u8],
    ) -> StoreResult<TaskRecord> {
        let expires_at = expires_at.map(to_u64).transpose()?;
        let plain = self
            .store
            .sealer
            .open(T_TASKS, lookup, &routing(expires_at), sealed)?;
        let mut record: TaskRecord = serde_json::from_slice(&plain).map_err(malformed(T_TASKS))?;
        if self.task_lookup(&ConversationId(record.conversation), &record.task)[..] != *lookup {
            return Err(StoreError::Tampered { table: T_TASKS });
        }
        record.state.expires_at = expires_at;
        Ok(record)
    }
}
