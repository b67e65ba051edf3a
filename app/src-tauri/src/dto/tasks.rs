//! Tasks as they cross into the WebView: a task with its comments, the changes the UI makes,
//! what a task row of a conversation says, and reminders.

use parley_client::tasks::{ReminderKind, Task};
use parley_proto::content::{TaskChange, TaskStatus};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::{Chat, CommandError};

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatusDto {
    /// Not started.
    Open,
    /// Someone is on it.
    InProgress,
    /// Finished.
    Done,
    /// Finished once, open again.
    Reopened,
}

impl From<TaskStatus> for TaskStatusDto {
    fn from(s: TaskStatus) -> Self {
        match s {
            TaskStatus::Open => Self::Open,
            TaskStatus::InProgress => Self::InProgress,
            TaskStatus::Done => Self::Done,
            TaskStatus::Reopened => Self::Reopened,
        }
    }
}

impl From<TaskStatusDto> for TaskStatus {
    fn from(s: TaskStatusDto) -> Self {
        match s {
            TaskStatusDto::Open => Self::Open,
            TaskStatusDto::InProgress => Self::InProgress,
            TaskStatusDto::Done => Self::Done,
            TaskStatusDto::Reopened => Self::Reopened,
        }
    }
}

/// A comment on a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TaskCommentDto {
    /// Who wrote it.
    pub author: String,
    /// When (ms).
    #[ts(type = "number")]
    pub at: u64,
    /// What it says.
    pub text: String,
}

/// A task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TaskDto {
    /// Its id, 32 hex digits.
    pub id: String,
    /// The conversation it is in.
    pub chat: Chat,
    /// What is to be done.
    pub title: String,
    /// More words about it.
    pub description: Option<String>,
    /// Who created it.
    pub creator: String,
    /// Who is to do it.
    pub assignee: String,
    /// When it is due (ms).
    #[ts(type = "number | null")]
    pub deadline: Option<u64>,
    /// Where it stands.
    pub status: TaskStatusDto,
    /// Not done and past its deadline.
    pub overdue: bool,
    /// When it was created (ms).
    #[ts(type = "number")]
    pub created_at: u64,
    /// When it last changed (ms).
    #[ts(type = "number")]
    pub updated_at: u64,
    /// Comments, oldest first.
    pub comments: Vec<TaskCommentDto>,
}

impl From<&Task> for TaskDto {
    fn from(t: &Task) -> Self {
        Self {
            id: hex::encode(t.id.0),
            chat: Chat::of(&t.target),
            title: t.title.clone(),
            description: t.description.clone(),
            creator: t.creator.to_string(),
            assignee: t.assignee.to_string(),
            deadline: t.deadline,
            status: t.status.into(),
            overdue: t.overdue,
            created_at: t.created_at,
            updated_at: t.updated_at,
            comments: t
                .comments
                .iter()
                .map(|c| TaskCommentDto {
                    author: c.author.to_string(),
                    at: c.at,
                    text: c.text.clone(),
                })
                .collect(),
        }
    }
}

/// A change the UI makes to a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskChangeDto {
    /// A new status.
    Status {
        /// It.
        status: TaskStatusDto,
    },
    /// A new assignee (a member of the conversation).
    Assign {
        /// Who.
        assignee: String,
    },
    /// A new deadline (ms), or none.
    Deadline {
        /// It.
        #[ts(type = "number | null")]
        deadline: Option<u64>,
    },
    /// A comment.
    Comment {
        /// What it says.
        text: String,
    },
}

impl TaskChangeDto {
    /// The engine's change; a malformed user id is a typed error.
    pub fn change(self) -> Result<TaskChange, CommandError> {
        Ok(match self {
            Self::Status { status } => TaskChange::Status {
                status: status.into(),
            },
            Self::Assign { assignee } => TaskChange::Assign {
                assignee: parley_proto::UserId::new(assignee)?,
            },
            Self::Deadline { deadline } => TaskChange::Deadline { deadline },
            Self::Comment { text } => TaskChange::Comment { text },
        })
    }
}

/// What a task row of a conversation says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskEvent {
    /// Created, for an assignee.
    Created {
        /// Who is to do it.
        assignee: String,
        /// When it is due (ms).
        #[ts(type = "number | null")]
        deadline: Option<u64>,
    },
    /// A new status.
    Status {
        /// It.
        status: TaskStatusDto,
    },
    /// Handed to someone.
    Assigned {
        /// Whom.
        assignee: String,
    },
    /// A new deadline, or none.
    Deadline {
        /// It (ms).
        #[ts(type = "number | null")]
        deadline: Option<u64>,
    },
    /// A comment.
    Comment {
        /// What it says.
        text: String,
    },
}

impl TaskEvent {
    /// The row of a change; with the title a create carries.
    pub fn of(change: &TaskChange) -> (Self, Option<String>) {
        match change {
            TaskChange::Create {
                title,
                assignee,
                deadline,
                ..
            } => (
                Self::Created {
                    assignee: assignee.to_string(),
                    deadline: *deadline,
                },
                Some(title.clone()),
            ),
            TaskChange::Status { status } => (
                Self::Status {
                    status: (*status).into(),
                },
                None,
            ),
            TaskChange::Assign { assignee } => (
                Self::Assigned {
                    assignee: assignee.to_string(),
                },
                None,
            ),
            TaskChange::Deadline { deadline } => (
                Self::Deadline {
                    deadline: *deadline,
                },
                None,
            ),
            TaskChange::Comment { text } => (Self::Comment { text: text.clone() }, None),
        }
    }
}

/// Which tasks to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct TaskQuery {
    /// Only those assigned to this user.
    pub mine: bool,
    /// Only those this user created.
    pub by_me: bool,
    /// Only overdue ones.
    pub overdue: bool,
    /// Done ones too.
    pub done: bool,
    /// Only this conversation's.
    pub chat: Option<Chat>,
}

/// Which reminder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ReminderDto {
    /// The deadline is near.
    Soon,
    /// The deadline has come.
    Due,
}

impl From<ReminderKind> for ReminderDto {
    fn from(k: ReminderKind) -> Self {
        match k {
            ReminderKind::Soon => Self::Soon,
            ReminderKind::Due => Self::Due,
        }
    }
}
