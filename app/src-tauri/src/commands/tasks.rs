//! The task commands: list, create, change, and this device's reminder lead.

use parley_client::messaging::NewTask;
use parley_client::tasks::TaskFilter;
use parley_proto::UserId;
use parley_proto::content::TaskId;

use super::{Result, Shared_};
use crate::dto::{Chat, CommandError, TaskChangeDto, TaskDto, TaskQuery};

/// The tasks `query` picks, across conversations (open first, soonest deadline first).
#[tauri::command]
pub async fn tasks(shared: Shared_<'_>, query: TaskQuery) -> Result<Vec<TaskDto>> {
    let m = shared.messenger().await?;
    let filter = TaskFilter {
        mine: query.mine,
        by_me: query.by_me,
        overdue: query.overdue,
        done: query.done,
        conversation: query.chat.as_ref().map(Chat::target).transpose()?,
    };
    Ok(m.tasks(&filter).await?.iter().map(TaskDto::from).collect())
}

/// Creates a task in `chat` for `assignee` (a member), due at `deadline` (ms) if given.
#[tauri::command]
pub async fn create_task(
    shared: Shared_<'_>,
    chat: Chat,
    title: String,
    assignee: String,
    deadline: Option<u64>,
    description: Option<String>,
) -> Result<String> {
    let m = shared.messenger().await?;
    let new = NewTask {
        title,
        assignee: UserId::new(assignee)?,
        deadline,
        description,
    };
    let id = m.create_task(&chat.target()?, new).await?;
    Ok(hex::encode(id.0))
}

/// Changes task `id` of `chat`.
#[tauri::command]
pub async fn change_task(
    shared: Shared_<'_>,
    chat: Chat,
    id: String,
    change: TaskChangeDto,
) -> Result<()> {
    let m = shared.messenger().await?;
    m.change_task(&chat.target()?, task_id(&id)?, change.change()?)
        .await?;
    Ok(())
}

/// How long before a deadline this device reminds (seconds; 0: only at it).
#[tauri::command]
pub async fn task_reminder_lead(shared: Shared_<'_>) -> Result<u64> {
    Ok(shared.messenger().await?.task_reminder_lead().await?)
}

/// Sets how long before a deadline this device reminds (seconds; 0: only at it).
#[tauri::command]
pub async fn set_task_reminder_lead(shared: Shared_<'_>, secs: u64) -> Result<()> {
    Ok(shared
        .messenger()
        .await?
        .set_task_reminder_lead(secs)
        .await?)
}

fn task_id(id: &str) -> Result<TaskId> {
    parley_proto::hex::decode(id)
        .map(TaskId)
        .map_err(|_| CommandError::new("invalid_task_id", "not a task id"))
}
