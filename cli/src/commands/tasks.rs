//! `parley tasks` and `parley task`: tasks in conversations — created, handed over, finished
//! and commented on with end-to-end encrypted messages (the merge rules are in the engine's
//! `tasks` module), listed across conversations, and reminded of from this device's clock.

use clap::Subcommand;
use parley_client::messaging::{Messenger, NewTask, Target, now_ms, short_task_id};
use parley_client::tasks::{Task, TaskFilter};
use parley_proto::UserId;
use parley_proto::content::{TaskChange, TaskStatus};
use serde::Serialize;

use super::{Conversation, To, hex, parse_duration, printable, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley tasks --help`.
pub const LIST_HELP: &str = "\
Examples:
  parley tasks                             # open tasks assigned to you or by you
  parley tasks --mine --overdue            # yours, past their deadline
  parley tasks --in '#Ops' --done          # everything in #Ops, finished ones too
  parley --json tasks                      # {\"tasks\":[{\"id\",\"title\",\"assignee\",\"deadline\",\"status\",…}]}

`parley task --help` creates and changes tasks. Times are UTC.";

/// Examples in `parley task --help`.
pub const TASK_HELP: &str = "\
Examples:
  parley task new '#Ops' 'Rotate the VPN certificate' --for bob --due 2026-12-11
  parley task new carol 'Sign the NDA' --due 3d --about 'the new supplier'
  parley task status 1a2b in-progress      # open, in-progress, done, reopened
  parley task assign 1a2b carol
  parley task due 1a2b '2026-12-11 17:00'  # or 8h, 3d, none
  parley task comment 1a2b 'waiting for the CA'
  parley task show 1a2b
  parley task remind 30m                   # remind this long before deadlines (off: only at them)

A task is named by the first digits of its id (any unique prefix). Deadlines are a date
(end of that day), a date and time, or a time from now (30m, 8h, 3d); times are UTC.
`parley listen` prints a reminder when a task of yours is near its deadline and when it
is due.";

/// `tasks`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only tasks assigned to you.
    #[arg(long)]
    pub mine: bool,
    /// Only tasks you created.
    #[arg(long)]
    pub by_me: bool,
    /// Only tasks past their deadline.
    #[arg(long)]
    pub overdue: bool,
    /// Finished tasks too.
    #[arg(long)]
    pub done: bool,
    /// Every task of your conversations, not only yours.
    #[arg(long, conflicts_with_all = ["mine", "by_me"])]
    pub all: bool,
    /// Only the tasks of this conversation (a user id, or `#` and a group).
    #[arg(long = "in", value_parser = super::to)]
    pub within: Option<To>,
}

/// The task commands.
#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Create a task in a conversation.
    New {
        /// The conversation: a user id, or `#` and a group's name or id.
        #[arg(value_parser = super::to)]
        to: To,
        /// What is to be done.
        title: String,
        /// Who is to do it (a member of the conversation) [default: you].
        #[arg(long = "for")]
        assignee: Option<UserId>,
        /// When it is due: a date, a date and time (UTC), or 30m, 8h, 3d from now.
        #[arg(long, value_parser = deadline)]
        due: Option<Deadline>,
        /// More words about it.
        #[arg(long)]
        about: Option<String>,
    },
    /// Show a task with its comments.
    Show {
        /// The task (a prefix of its id).
        id: String,
    },
    /// Change a task's status: open, in-progress, done, reopened.
    Status {
        /// The task (a prefix of its id).
        id: String,
        /// The new status.
        #[arg(value_parser = status)]
        status: TaskStatus,
    },
    /// Hand a task to someone else in its conversation.
    Assign {
        /// The task (a prefix of its id).
        id: String,
        /// The new assignee.
        user: UserId,
    },
    /// Move a task's deadline (none: no deadline).
    Due {
        /// The task (a prefix of its id).
        id: String,
        /// A date, a date and time (UTC), 30m, 8h, 3d from now, or none.
        #[arg(value_parser = deadline)]
        when: Deadline,
    },
    /// Comment on a task.
    Comment {
        /// The task (a prefix of its id).
        id: String,
        /// The comment.
        text: String,
    },
    /// Show or set how long before a deadline this device reminds you (off: only at it).
    Remind {
        /// 30m, 8h, 1d or off.
        #[arg(value_parser = lead)]
        lead: Option<u64>,
    },
}

/// A deadline as typed: a time (ms since the Unix epoch), or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deadline(pub Option<u64>);

/// Parses a deadline: `none`, `30s`/`30m`/`8h`/`3d` from now, `2026-12-11` (the end of that day,
/// UTC), `2026-12-11 17:00` or an RFC 3339 time.
pub fn deadline(text: &str) -> Result<Deadline, String> {
    deadline_at(text, now_ms())
}

fn deadline_at(text: &str, now: u64) -> Result<Deadline, String> {
    let text = text.trim();
    if matches!(text, "none" | "off") {
        return Ok(Deadline(None));
    }
    if let Ok(secs) = parse_duration(text, true) {
        return Ok(Deadline(Some(
            now.saturating_add(secs.saturating_mul(1000)),
        )));
    }
    let full = match text.len() {
        10 => format!("{text} 23:59:59"),
        16 => format!("{text}:00"),
        _ => text.to_owned(),
    };
    let at = humantime::parse_rfc3339_weak(&full).map_err(|_| {
        format!("'{text}' is not a deadline like 2026-12-11, '2026-12-11 17:00', 8h, 3d or none")
    })?;
    let ms = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| format!("'{text}' is before 1970"))?
        .as_millis();
    u64::try_from(ms)
        .ok()
        .filter(|&ms| ms <= parley_proto::content::MAX_TASK_TIME)
        .map(|ms| Deadline(Some(ms)))
        .ok_or_else(|| format!("'{text}' is too far away"))
}

/// Parses a reminder lead: `off`, or 30m, 8h, 1d (seconds).
fn lead(text: &str) -> Result<u64, String> {
    match text {
        "off" | "0" => Ok(0),
        text => parse_duration(text, false),
    }
}

fn status(word: &str) -> Result<TaskStatus, String> {
    TaskStatus::parse(word)
        .ok_or_else(|| format!("'{word}' is not open, in-progress, done or reopened"))
}

/// A time in ms as people read it: `2026-12-11 17:00 UTC`.
fn when(ms: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    let mut s = humantime::format_rfc3339_seconds(t).to_string(); // 2026-12-11T17:00:00Z
    s.truncate(16);
    format!("{} UTC", s.replace('T', " "))
}

/// A task in JSON.
#[derive(Debug, Serialize)]
struct TaskJson {
    /// 32 hex digits.
    id: String,
    #[serde(flatten)]
    conversation: Conversation,
    title: String,
    description: Option<String>,
    creator: String,
    assignee: String,
    /// ms since the Unix epoch.
    deadline: Option<u64>,
    status: &'static str,
    overdue: bool,
    created_at: u64,
    updated_at: u64,
    comments: Vec<CommentJson>,
}

#[derive(Debug, Serialize)]
struct CommentJson {
    author: String,
    at: u64,
    text: String,
}

impl From<&Task> for TaskJson {
    fn from(t: &Task) -> Self {
        Self {
            id: hex(&t.id.0),
            conversation: Conversation::from(&t.target),
            title: t.title.clone(),
            description: t.description.clone(),
            creator: t.creator.to_string(),
            assignee: t.assignee.to_string(),
            deadline: t.deadline,
            status: t.status.as_str(),
            overdue: t.overdue,
            created_at: t.created_at,
            updated_at: t.updated_at,
            comments: t
                .comments
                .iter()
                .map(|c| CommentJson {
                    author: c.author.to_string(),
                    at: c.at,
                    text: c.text.clone(),
                })
                .collect(),
        }
    }
}

/// `#Ops` or `with bob`.
async fn place(m: &Messenger, target: &Target) -> String {
    match target {
        Target::User(u) => format!("with {u}"),
        Target::Group(g) => match m.group(g).await {
            Ok(info) => format!("in #{}", printable(&info.name)),
            Err(_) => format!("in #{}", &hex(&g.0)[..8]),
        },
    }
}

/// One line for a task: `1a2b3c4d  in progress  Rotate the VPN certificate → bob, due … in #Ops`.
pub async fn line(m: &Messenger, t: &Task) -> String {
    let mut line = format!(
        "{}  {:<11}  {} → {}",
        short_task_id(&t.id),
        t.status.as_str().replace('_', " "),
        printable(&t.title),
        t.assignee
    );
    if let Some(d) = t.deadline {
        line.push_str(&format!(", due {}", when(d)));
    }
    if t.overdue {
        line.push_str(" (OVERDUE)");
    }
    line.push(' ');
    line.push_str(&place(m, &t.target).await);
    line
}

/// Lists tasks.
pub async fn list(ctx: &Context, args: &ListArgs) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let me = UserId::new(m.user()).map_err(parley_client::Error::from)?;
        let conversation = match &args.within {
            Some(to) => Some(target(m, to).await?),
            None => None,
        };
        let filter = TaskFilter {
            mine: args.mine,
            by_me: args.by_me,
            overdue: args.overdue,
            done: args.done,
            conversation,
        };
        let tasks: Vec<Task> = m
            .tasks(&filter)
            .await?
            .into_iter()
            .filter(|t| args.all || args.mine || args.by_me || t.assignee == me || t.creator == me)
            .collect();
        let mut human = String::new();
        for t in &tasks {
            human.push_str(&line(m, t).await);
            human.push('\n');
        }
        if tasks.is_empty() {
            human.push_str("no tasks\n");
        }
        #[derive(Serialize)]
        struct List {
            tasks: Vec<TaskJson>,
        }
        let json = List {
            tasks: tasks.iter().map(TaskJson::from).collect(),
        };
        Outcome::new(&json, human)
    })
    .await
}

/// Carries out a task command.
pub async fn run(ctx: &Context, command: &TaskCommand) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let (id, change) = match command {
            TaskCommand::New {
                to,
                title,
                assignee,
                due,
                about,
            } => {
                let to = target(m, to).await?;
                let new = NewTask {
                    title: title.clone(),
                    assignee: match assignee {
                        Some(a) => a.clone(),
                        None => UserId::new(m.user()).map_err(parley_client::Error::from)?,
                    },
                    deadline: due.and_then(|d| d.0),
                    description: about.clone(),
                };
                let id = m.create_task(&to, new).await.map_err(CliError::queued)?;
                return show(m, &m.find_task(&hex(&id.0)).await?, "created").await;
            }
            TaskCommand::Show { id } => return show(m, &m.find_task(id).await?, "").await,
            TaskCommand::Remind { lead } => return remind(m, *lead).await,
            TaskCommand::Status { id, status } => (id, TaskChange::Status { status: *status }),
            TaskCommand::Assign { id, user } => (
                id,
                TaskChange::Assign {
                    assignee: user.clone(),
                },
            ),
            TaskCommand::Due { id, when } => (id, TaskChange::Deadline { deadline: when.0 }),
            TaskCommand::Comment { id, text } => (id, TaskChange::Comment { text: text.clone() }),
        };
        let task = m.find_task(id).await?;
        m.change_task(&task.target, task.id, change)
            .await
            .map_err(CliError::queued)?;
        show(m, &m.find_task(&hex(&task.id.0)).await?, "changed").await
    })
    .await
}

/// A task in full, after `verb` ("created", "changed", or nothing).
async fn show(m: &Messenger, t: &Task, verb: &str) -> Result<Outcome, CliError> {
    let mut human = String::new();
    if !verb.is_empty() {
        human.push_str(&format!("{verb} task {}\n", short_task_id(&t.id)));
    }
    human.push_str(&format!(
        "{}\n  {} · assigned to {} by {} {}\n",
        printable(&t.title),
        t.status.as_str().replace('_', " "),
        t.assignee,
        t.creator,
        place(m, &t.target).await
    ));
    match t.deadline {
        Some(d) if t.overdue => human.push_str(&format!("  due {} (OVERDUE)\n", when(d))),
        Some(d) => human.push_str(&format!("  due {}\n", when(d))),
        None => human.push_str("  no deadline\n"),
    }
    if let Some(about) = &t.description {
        human.push_str(&format!("  {}\n", printable(about)));
    }
    for c in &t.comments {
        human.push_str(&format!(
            "  {} {}: {}\n",
            when(c.at),
            c.author,
            printable(&c.text)
        ));
    }
    Outcome::new(&TaskJson::from(t), human)
}

/// Shows or sets the reminder lead.
async fn remind(m: &Messenger, lead: Option<u64>) -> Result<Outcome, CliError> {
    if let Some(secs) = lead {
        m.set_task_reminder_lead(secs).await?;
    }
    let secs = m.task_reminder_lead().await?;
    #[derive(Serialize)]
    struct Lead {
        /// Seconds before a deadline; 0: only at it.
        lead_secs: u64,
    }
    let human = if secs == 0 {
        "reminders at the deadline only\n".to_owned()
    } else {
        format!(
            "reminders {} before a deadline, and at it\n",
            parley_client::messaging::duration(secs)
        )
    };
    Outcome::new(&Lead { lead_secs: secs }, human)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deadlines() {
        let now = 1_000_000;
        assert_eq!(deadline_at("none", now), Ok(Deadline(None)));
        assert_eq!(deadline_at("8h", now), Ok(Deadline(Some(now + 28_800_000))));
        assert_eq!(
            deadline_at("2026-12-11", now),
            Ok(Deadline(Some(1_797_033_599_000)))
        );
        assert_eq!(
            deadline_at("2026-12-11 17:00", now),
            Ok(Deadline(Some(1_797_008_400_000)))
        );
        assert_eq!(
            deadline_at("2026-12-11T17:00:00Z", now),
            Ok(Deadline(Some(1_797_008_400_000)))
        );
        for bad in ["", "tomorrow", "2026-13-01", "8x", "99999-01-01"] {
            assert!(deadline_at(bad, now).is_err(), "{bad}");
        }
        assert_eq!(when(1_797_008_400_000), "2026-12-11 17:00 UTC");
    }
}
