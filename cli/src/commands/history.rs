//! `parley history`: a conversation, oldest first. Peers wrote the texts: people see them
//! through [`printable`] (docs/threat-model.md), `--json` exact.

use parley_client::messaging::Target;
use parley_client::store::MessageStatus;
use serde::Serialize;

use super::{Conversation, To, hex, printable, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// `history`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub with: To,
    /// Most messages shown.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Show each message's id (for edit, delete and react).
    #[arg(long)]
    pub ids: bool,
}

/// `{"user", "group", "messages": [{"id", "author", "outgoing", "sent_at", "text",
/// "status", "edited"}]}`.
#[derive(Debug, Serialize)]
struct History {
    #[serde(flatten)]
    with: Conversation,
    messages: Vec<Entry>,
}

#[derive(Debug, Serialize)]
struct Entry {
    id: String,
    author: String,
    outgoing: bool,
    /// The author's send time, ms since the Unix epoch.
    sent_at: u64,
    text: String,
    status: &'static str,
    /// Whether its author edited it (`text` is the latest edit).
    edited: bool,
}

fn status(s: MessageStatus) -> &'static str {
    match s {
        MessageStatus::Sending => "sending",
        MessageStatus::Sent => "sent",
        MessageStatus::Delivered => "delivered",
        MessageStatus::Read => "read",
        MessageStatus::Failed => "failed",
        MessageStatus::Received => "received",
        MessageStatus::Seen => "seen",
        _ => "unknown",
    }
}

/// Shows the conversation.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.with).await?;
        let group = matches!(to, Target::Group(_));
        let entries = m.history(&to, args.limit).await?;
        let mut human = String::new();
        for e in &entries {
            if args.ids {
                human.push_str(&hex(&e.id.0));
                human.push(' ');
            }
            human.push_str(if e.outgoing { ">" } else { "<" });
            let mut text = printable(&e.text);
            if e.edited {
                text.push_str(" (edited)");
            }
            if group && !e.outgoing {
                human.push_str(&format!(" {}: {text}\n", printable(&e.author)));
            } else {
                human.push_str(&format!(" {text}\n"));
            }
        }
        let json = History {
            with: Conversation::from(&to),
            messages: entries
                .iter()
                .map(|e| Entry {
                    id: hex(&e.id.0),
                    author: e.author.clone(),
                    outgoing: e.outgoing,
                    sent_at: e.sent_at,
                    text: e.text.clone(),
                    status: status(e.status),
                    edited: e.edited,
                })
                .collect(),
        };
        Outcome::new(&json, human)
    })
    .await
}
