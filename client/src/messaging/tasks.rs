//! Tasks in conversations (docs/architecture.md §7): the calls that create and change them,
//! the list, reminders, and what a received change does to the store. The merge rules that
//! make every device end with the same task are in [`crate::tasks`].
//!
//! A change is sent like a message (under the sender key in a group, with the conversation's
//! disappearing timer) and kept as a row of the conversation, so the conversation shows who
//! created, reassigned or finished what. Any member of the conversation may change a task;
//! the assignee must be a member when the change is made.
//!
//! Reminders come from this device's clock only: [`Messenger::take_task_reminders`] fires
//! once when a task assigned to this user is near its deadline (the reminder lead, one hour
//! unless set) and once when the deadline comes. The event stream checks every second.

use std::sync::atomic::Ordering;

use parley_proto::UserId;
use parley_proto::content::{Body, Content, MessageId as ContentId, TaskChange, TaskId};

use crate::error::{Error, Result};
use crate::store::StoreTx;
use crate::tasks::{Reminder, Stamp, Task, TaskFilter, TaskState};

use super::*;

/// How long before a deadline a task reminds, unless the user sets it (seconds).
pub const DEFAULT_REMINDER_LEAD_SECS: u64 = 3_600;

/// A task to create (see [`Messenger::create_task`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTask {
    /// What is to be done.
    pub title: String,
    /// Who is to do it (a member of the conversation).
    pub assignee: UserId,
    /// When it is due (ms since the Unix epoch).
    pub deadline: Option<u64>,
    /// More words about it.
    pub description: Option<String>,
}

impl Messenger {
    /// Creates a task in `to` and sends it to the conversation; returns its id.
    pub async fn create_task(&self, to: &Target, new: NewTask) -> Result<TaskId> {
        let id = TaskId(rand16());
        let change = TaskChange::Create {
            title: new.title.trim().to_owned(),
            assignee: new.assignee,
            deadline: new.deadline,
            description: new.description.filter(|d| !d.trim().is_empty()),
        };
        self.change_task(to, id, change).await?;
        Ok(id)
    }

    /// Sends a change to task `task` of `to` (any but a create needs the task to be known
    /// here). Stamped above every change this device has seen on it. Queued like a message:
    /// if the relay cannot take it now, the error is returned and it is retried.
    pub async fn change_task(
        &self,
        to: &Target,
        task: TaskId,
        change: TaskChange,
    ) -> Result<ContentId> {
        let mut tx = self.store.begin().await?;
        let conversation = self.conversation_id(to);
        let state = tx.task(&conversation, &task).await?;
        let known = state.as_ref().is_some_and(|s| s.created.is_some());
        if !known && !matches!(change, TaskChange::Create { .. }) {
            return Err(Error::NoSuchTask);
        }
        if let TaskChange::Create { assignee, .. } | TaskChange::Assign { assignee } = &change
            && !self.in_conversation(&mut tx, to, assignee).await?
        {
            return Err(Error::AssigneeNotMember);
        }
        let stamp = state.map_or_else(now_ms, |s| s.next_stamp(now_ms()));
        let body = Body::Task {
            task,
            stamp,
            change,
        };
        let (id, item) = self.queue(&mut tx, to, body, None).await?;
        tx.commit().await?;
        self.flush_outbox_for(&[item.id]).await?;
        Ok(id)
    }

    /// The tasks `filter` picks, across conversations: open ones first, soonest deadline
    /// first (those without one after), then the oldest.
    pub async fn tasks(&self, filter: &TaskFilter) -> Result<Vec<Task>> {
        let now = now_ms();
        let me = UserId::new(self.account.user.clone())?;
        let only = filter
            .conversation
            .as_ref()
            .map(|t| self.conversation_id(t));
        let mut tx = self.store.begin().await?;
        let mut out = Vec::new();
        for (conversation, id, state) in tx.tasks().await? {
            if only.is_some_and(|c| c != conversation) {
                continue;
            }
            let Some(target) = tx
                .conversation(&conversation)
                .await?
                .as_ref()
                .and_then(disappearing::target_of)
            else {
                continue;
            };
            let Some(task) = state.view(id, target, now) else {
                continue;
            };
            let keep = (filter.done || task.status.is_open())
                && (!filter.mine || task.assignee == me)
                && (!filter.by_me || task.creator == me)
                && (!filter.overdue || task.overdue);
            if keep {
                out.push(task);
            }
        }
        tx.commit().await?;
        out.sort_by_key(|t| {
            (
                !t.status.is_open(),
                t.deadline.unwrap_or(u64::MAX),
                t.created_at,
                t.id,
            )
        });
        Ok(out)
    }

    /// The task whose id starts with `prefix` (hex), across conversations.
    pub async fn find_task(&self, prefix: &str) -> Result<Task> {
        let prefix = prefix.to_ascii_lowercase();
        let all = TaskFilter {
            done: true,
            ..TaskFilter::default()
        };
        let mut found = self.tasks(&all).await?.into_iter().filter(|t| {
            !prefix.is_empty() && parley_proto::hex::encode(t.id.0).starts_with(&prefix)
        });
        match (found.next(), found.next()) {
            (Some(t), None) => Ok(t),
            (Some(_), Some(_)) => Err(Error::AmbiguousTask),
            (None, _) => Err(Error::NoSuchTask),
        }
    }

    /// How long before a deadline this device reminds (seconds).
    pub async fn task_reminder_lead(&self) -> Result<u64> {
        let mut tx = self.store.begin().await?;
        let lead = tx.task_reminder_lead().await?;
        tx.commit().await?;
        Ok(lead.unwrap_or(DEFAULT_REMINDER_LEAD_SECS))
    }

    /// Sets how long before a deadline this device reminds (seconds; 0: only at it).
    pub async fn set_task_reminder_lead(&self, secs: u64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        tx.set_task_reminder_lead(secs).await?;
        tx.commit().await?;
        self.next_reminder.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// The reminders due now for tasks assigned to this user (each fires once, from this
    /// device's clock). Cheap when none is due: the time of the next one is kept in
    /// memory, and the store is read only once it has come or a task changed.
    pub async fn take_task_reminders(&self) -> Result<Vec<Reminder>> {
        let now = now_ms();
        let next = self.next_reminder.load(Ordering::Relaxed);
        if next != 0 && now < next {
            return Ok(Vec::new());
        }
        let me = UserId::new(self.account.user.clone())?;
        let mut tx = self.store.begin().await?;
        let lead = tx
            .task_reminder_lead()
            .await?
            .unwrap_or(DEFAULT_REMINDER_LEAD_SECS)
            .saturating_mul(1000);
        let mut fired = Vec::new();
        let mut soonest = u64::MAX;
        for (conversation, id, mut state) in tx.tasks().await? {
            if state.assignee.as_ref().is_none_or(|a| a.value != me) {
                continue;
            }
            if let Some(kind) = state.take_reminder(now, lead) {
                tx.put_task(&conversation, &id, &state).await?;
                let target = tx
                    .conversation(&conversation)
                    .await?
                    .as_ref()
                    .and_then(disappearing::target_of);
                if let Some(task) = target.and_then(|t| state.view(id, t, now)) {
                    fired.push(Reminder {
                        task: Box::new(task),
                        kind,
                    });
                }
            }
            if let Some((at, _)) = state.next_reminder(lead) {
                soonest = soonest.min(at);
            }
        }
        tx.commit().await?;
        self.next_reminder.store(soonest.max(1), Ordering::Relaxed);
        Ok(fired)
    }

    /// Merges a change to `task` from `author` (in `content`) into `conversation`'s task.
    /// `expires_at` is when the change's row disappears: the task goes with the last of them,
    /// and never if any did not.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn apply_task(
        &self,
        tx: &mut StoreTx<'_>,
        conversation: &ConversationId,
        author: &UserId,
        content: &Content,
        task: &TaskId,
        stamp: u64,
        change: &TaskChange,
        expires_at: Option<u64>,
    ) -> Result<()> {
        let (mut state, new) = match tx.task(conversation, task).await? {
            Some(s) => (s, false),
            None => (TaskState::default(), true),
        };
        let stamp = Stamp {
            at: stamp,
            author: author.clone(),
            id: content.id,
        };
        state.apply(change, &stamp);
        state.expires_at = match (new, state.expires_at, expires_at) {
            (true, _, at) => at,
            (false, Some(a), Some(b)) => Some(a.max(b)),
            (false, _, _) => None,
        };
        tx.put_task(conversation, task, &state).await?;
        self.next_reminder.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Whether `user` is in the conversation `to` (this user or the peer; a group's member).
    async fn in_conversation(
        &self,
        tx: &mut StoreTx<'_>,
        to: &Target,
        user: &UserId,
    ) -> Result<bool> {
        Ok(match to {
            Target::User(peer) => user == peer || user.as_str() == self.account.user,
            Target::Group(_) => group_members(tx, &self.conversation_id(to))
                .await?
                .iter()
                .any(|m| m == user.as_str()),
        })
    }
}
