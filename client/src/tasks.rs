//! Tasks in a conversation (docs/architecture.md §7): the state a device merges from the
//! encrypted changes ([`Body::Task`](parley_proto::content::Body::Task)) it receives.
//!
//! A task is created in a 1:1 or group conversation with a title, an assignee, and an
//! optional deadline and description; any member then changes its status, reassigns it,
//! moves its deadline or comments on it. Each change is a message like any other, so the
//! relay learns nothing about tasks, and members' devices receive the changes in whatever
//! order the network gives. So that every device ends with the same task:
//!
//! - every change is ordered by its [`Stamp`]: the author's clock, raised above every stamp
//!   the author had seen on the task (a hybrid logical clock, so a change made after seeing
//!   another always orders after it, whatever the clocks say), then the author's user id,
//!   then the message id;
//! - the assignee, the deadline and the status are each a last-writer-wins register: the
//!   change with the greatest stamp holds it;
//! - the title, description and creator are the create's (the earliest create, if a buggy or
//!   hostile client sends two);
//! - comments are a set ordered by stamp (a repeat is kept once); past [`MAX_COMMENTS`] the
//!   earliest ones go.
//!
//! A change that arrives before its create is kept, and the task is shown once the create
//! has come. Each rule is commutative, associative and idempotent, so any order of any
//! number of copies gives the same state (`converges_whatever_the_order` tries every order).
//!
//! Beside the merged fields a task's record keeps what is this device's own: when it
//! disappears (in a conversation with disappearing messages, once the last message about it
//! has), and which of its reminders have fired.

use serde::{Deserialize, Serialize};

use parley_proto::UserId;
use parley_proto::content::{MessageId, TaskChange, TaskId, TaskStatus};

use crate::messaging::Target;

/// Most comments kept on a task (the earliest go first).
pub const MAX_COMMENTS: usize = 1_000;

/// Orders the changes of a task: the greater one wins a field.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamp {
    /// The change's `stamp` (ms).
    pub at: u64,
    /// Its author.
    pub author: UserId,
    /// Its message id.
    pub id: MessageId,
}

/// A field and the change that set it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Register<T> {
    /// Its value.
    pub value: T,
    /// The change that set it.
    pub stamp: Stamp,
}

/// Sets `register` to `value` if `stamp` is greater than the stamp that set it.
fn set<T>(register: &mut Option<Register<T>>, value: T, stamp: &Stamp) -> bool {
    if register.as_ref().is_some_and(|r| r.stamp >= *stamp) {
        return false;
    }
    *register = Some(Register {
        value,
        stamp: stamp.clone(),
    });
    true
}

/// What the create of a task said.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    /// Who created it.
    pub by: UserId,
    /// The create's stamp.
    pub stamp: Stamp,
    /// What is to be done.
    pub title: String,
    /// More words about it.
    pub description: Option<String>,
}

/// A comment on a task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comment {
    /// The comment's change (its author, and where it sorts).
    pub stamp: Stamp,
    /// What it says.
    pub text: String,
}

/// Which of a deadline's reminders have fired on this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reminded {
    /// The deadline they were for (a new deadline starts again).
    pub deadline: u64,
    /// The last one that fired.
    pub kind: ReminderKind,
}

/// A reminder of a task's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReminderKind {
    /// The deadline is near (this device's reminder lead before it).
    Soon,
    /// The deadline has come.
    Due,
}

/// A task as this device merged it (see the [module docs](self)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskState {
    /// The create, once it has come.
    pub created: Option<Created>,
    /// Who is to do it.
    pub assignee: Option<Register<UserId>>,
    /// When it is due.
    pub deadline: Option<Register<Option<u64>>>,
    /// Where it stands.
    pub status: Option<Register<TaskStatus>>,
    /// Comments, in stamp order.
    pub comments: Vec<Comment>,
    /// The greatest stamp of any change received: the next change made here is stamped
    /// above it.
    pub max_stamp: u64,
    /// This device's: when the task disappears (ms; `None`: never).
    #[serde(default)]
    pub expires_at: Option<u64>,
    /// This device's: which reminders have fired.
    #[serde(default)]
    pub reminded: Option<Reminded>,
}

impl TaskState {
    /// Merges one change, stamped `stamp`; returns whether it changed anything.
    pub fn apply(&mut self, change: &TaskChange, stamp: &Stamp) -> bool {
        self.max_stamp = self.max_stamp.max(stamp.at);
        match change {
            TaskChange::Create {
                title,
                assignee,
                deadline,
                description,
            } => {
                if self.created.as_ref().is_some_and(|c| c.stamp <= *stamp) {
                    return false;
                }
                self.created = Some(Created {
                    by: stamp.author.clone(),
                    stamp: stamp.clone(),
                    title: title.clone(),
                    description: description.clone(),
                });
                set(&mut self.assignee, assignee.clone(), stamp);
                set(&mut self.deadline, *deadline, stamp);
                set(&mut self.status, TaskStatus::Open, stamp);
                true
            }
            TaskChange::Status { status } => set(&mut self.status, *status, stamp),
            TaskChange::Assign { assignee } => set(&mut self.assignee, assignee.clone(), stamp),
            TaskChange::Deadline { deadline } => set(&mut self.deadline, *deadline, stamp),
            TaskChange::Comment { text } => {
                let at = match self.comments.binary_search_by(|c| c.stamp.cmp(stamp)) {
                    Ok(_) => return false,
                    Err(at) => at,
                };
                self.comments.insert(
                    at,
                    Comment {
                        stamp: stamp.clone(),
                        text: text.clone(),
                    },
                );
                if self.comments.len() > MAX_COMMENTS {
                    self.comments.remove(0);
                }
                true
            }
        }
    }

    /// The stamp for a change made here now (`now` in ms): later than every change seen.
    pub fn next_stamp(&self, now: u64) -> u64 {
        now.max(self.max_stamp.saturating_add(1))
    }

    /// The current deadline.
    pub fn deadline(&self) -> Option<u64> {
        self.deadline.as_ref().and_then(|r| r.value)
    }

    /// The current status.
    pub fn status(&self) -> TaskStatus {
        self.status.as_ref().map(|r| r.value).unwrap_or_default()
    }

    /// The reminder that is due at `now` for a task with a deadline, `lead` ms before it and
    /// at it, unless it fired already; it is then marked as fired. A device that was off
    /// when the first was due gets only the latest.
    pub fn take_reminder(&mut self, now: u64, lead: u64) -> Option<ReminderKind> {
        let (at, kind) = self.next_reminder(lead)?;
        if now < at {
            return None;
        }
        let deadline = self.deadline()?;
        let kind = if now >= deadline {
            ReminderKind::Due
        } else {
            kind
        };
        self.reminded = Some(Reminded { deadline, kind });
        Some(kind)
    }

    /// When the next reminder is due (ms) and which one: none for a task without a deadline,
    /// one that is done, or one whose reminders have all fired.
    pub fn next_reminder(&self, lead: u64) -> Option<(u64, ReminderKind)> {
        self.created.as_ref()?;
        if !self.status().is_open() {
            return None;
        }
        let deadline = self.deadline()?;
        let fired = self
            .reminded
            .filter(|r| r.deadline == deadline)
            .map(|r| r.kind);
        match fired {
            None if lead > 0 => Some((deadline.saturating_sub(lead), ReminderKind::Soon)),
            None | Some(ReminderKind::Soon) => Some((deadline, ReminderKind::Due)),
            Some(ReminderKind::Due) => None,
        }
    }

    /// The task as callers see it; `None` until its create has come.
    pub fn view(&self, id: TaskId, target: Target, now: u64) -> Option<Task> {
        let created = self.created.as_ref()?;
        let deadline = self.deadline();
        let status = self.status();
        Some(Task {
            id,
            target,
            title: created.title.clone(),
            description: created.description.clone(),
            creator: created.by.clone(),
            created_at: created.stamp.at,
            assignee: self
                .assignee
                .as_ref()
                .map_or_else(|| created.by.clone(), |r| r.value.clone()),
            deadline,
            status,
            overdue: status.is_open() && deadline.is_some_and(|d| d <= now),
            comments: self
                .comments
                .iter()
                .map(|c| TaskComment {
                    author: c.stamp.author.clone(),
                    at: c.stamp.at,
                    text: c.text.clone(),
                })
                .collect(),
            updated_at: self.max_stamp,
        })
    }
}

/// A task, as the CLI and the app show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Its id.
    pub id: TaskId,
    /// The conversation it is in.
    pub target: Target,
    /// What is to be done.
    pub title: String,
    /// More words about it.
    pub description: Option<String>,
    /// Who created it.
    pub creator: UserId,
    /// When (the creator's stamp, ms).
    pub created_at: u64,
    /// Who is to do it.
    pub assignee: UserId,
    /// When it is due (ms).
    pub deadline: Option<u64>,
    /// Where it stands.
    pub status: TaskStatus,
    /// Not done, and past its deadline.
    pub overdue: bool,
    /// Comments, oldest first.
    pub comments: Vec<TaskComment>,
    /// When it last changed (the greatest stamp, ms).
    pub updated_at: u64,
}

/// A comment, as the CLI and the app show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskComment {
    /// Who wrote it.
    pub author: UserId,
    /// When (its stamp, ms).
    pub at: u64,
    /// What it says.
    pub text: String,
}

/// A reminder that fired (see [`crate::messaging::Event::TaskReminder`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reminder {
    /// Of which task (as it is now).
    pub task: Box<Task>,
    /// Near, or due.
    pub kind: ReminderKind,
}

/// Which tasks [`crate::messaging::Messenger::tasks`] lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only tasks assigned to this user.
    pub mine: bool,
    /// Only tasks this user created.
    pub by_me: bool,
    /// Only overdue tasks.
    pub overdue: bool,
    /// Done tasks too.
    pub done: bool,
    /// Only the tasks of this conversation.
    pub conversation: Option<Target>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn user(s: &str) -> UserId {
        UserId::new(s).unwrap()
    }

    fn stamp(at: u64, author: &str, id: u8) -> Stamp {
        Stamp {
            at,
            author: user(author),
            id: MessageId([id; 16]),
        }
    }

    fn changes() -> Vec<(TaskChange, Stamp)> {
        vec![
            (
                TaskChange::Create {
                    title: "Quarterly report".into(),
                    assignee: user("bob"),
                    deadline: Some(1_000),
                    description: None,
                },
                stamp(10, "alice", 1),
            ),
            (
                TaskChange::Assign {
                    assignee: user("carol"),
                },
                stamp(20, "bob", 2),
            ),
            // Concurrent with Bob's (same stamp): the greater author wins.
            (
                TaskChange::Assign {
                    assignee: user("dave"),
                },
                stamp(20, "alice", 3),
            ),
            (
                TaskChange::Status {
                    status: TaskStatus::InProgress,
                },
                stamp(21, "carol", 4),
            ),
            (
                TaskChange::Comment {
                    text: "half way".into(),
                },
                stamp(22, "carol", 5),
            ),
            (
                TaskChange::Status {
                    status: TaskStatus::Done,
                },
                stamp(30, "carol", 6),
            ),
            (
                TaskChange::Deadline { deadline: None },
                stamp(25, "alice", 7),
            ),
            (
                TaskChange::Comment {
                    text: "thanks".into(),
                },
                stamp(31, "alice", 8),
            ),
        ]
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn converges_whatever_the_order() {
        let all = changes();
        let mut expected = TaskState::default();
        for (c, s) in &all {
            expected.apply(c, s);
        }
        let task = expected.view(TaskId([1; 16]), Target::User(user("bob")), 0);
        let task = task.unwrap();
        assert_eq!(
            task.assignee.as_str(),
            "carol",
            "bob's assign (to carol) wins the tie"
        );
        assert_eq!(task.status, TaskStatus::Done);
        assert_eq!(task.deadline, None);
        assert_eq!(
            task.comments
                .iter()
                .map(|c| c.text.as_str())
                .collect::<Vec<_>>(),
            ["half way", "thanks"]
        );
        let orders = permutations(all.len());
        assert_eq!(orders.len(), 40_320);
        for order in orders {
            let mut state = TaskState::default();
            for &i in &order {
                let (c, s) = &all[i];
                state.apply(c, s);
                // Repeats change nothing.
                assert!(!state.apply(c, s));
            }
            assert_eq!(state, expected, "{order:?}");
        }
    }

    #[test]
    fn a_change_before_its_create_waits_for_it() {
        let all = changes();
        let mut state = TaskState::default();
        state.apply(&all[3].0, &all[3].1);
        assert!(
            state
                .view(TaskId([1; 16]), Target::User(user("bob")), 0)
                .is_none()
        );
        state.apply(&all[0].0, &all[0].1);
        let task = state
            .view(TaskId([1; 16]), Target::User(user("bob")), 0)
            .unwrap();
        assert_eq!(
            task.status,
            TaskStatus::InProgress,
            "the later change holds"
        );
        assert_eq!(state.next_stamp(5), 22);
        assert_eq!(state.next_stamp(99), 99);
    }

    #[test]
    fn reminders_fire_once_each_and_start_again_for_a_new_deadline() {
        let mut state = TaskState::default();
        let (create, s) = &changes()[0];
        state.apply(create, s); // due at 1,000
        assert_eq!(state.next_reminder(100), Some((900, ReminderKind::Soon)));
        assert_eq!(state.take_reminder(899, 100), None);
        assert_eq!(state.take_reminder(900, 100), Some(ReminderKind::Soon));
        assert_eq!(state.take_reminder(950, 100), None);
        assert_eq!(state.take_reminder(1_000, 100), Some(ReminderKind::Due));
        assert_eq!(state.take_reminder(5_000, 100), None);
        state.apply(
            &TaskChange::Deadline {
                deadline: Some(2_000),
            },
            &stamp(40, "bob", 9),
        );
        // Off past both: only the latest fires.
        assert_eq!(state.take_reminder(3_000, 100), Some(ReminderKind::Due));
        assert_eq!(state.next_reminder(100), None);
        state.apply(
            &TaskChange::Deadline {
                deadline: Some(9_000),
            },
            &stamp(41, "bob", 10),
        );
        state.apply(
            &TaskChange::Status {
                status: TaskStatus::Done,
            },
            &stamp(42, "bob", 11),
        );
        assert_eq!(state.next_reminder(100), None, "done: no reminder");
    }

    #[test]
    fn past_the_limit_the_earliest_comments_go() {
        let mut state = TaskState::default();
        for i in 0..=MAX_COMMENTS as u64 {
            let s = Stamp {
                at: i,
                author: user("bob"),
                id: MessageId([0; 16]),
            };
            state.apply(
                &TaskChange::Comment {
                    text: i.to_string(),
                },
                &s,
            );
        }
        assert_eq!(state.comments.len(), MAX_COMMENTS);
        assert_eq!(state.comments[0].text, "1");
    }
}
