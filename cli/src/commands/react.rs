//! `parley react`: react to a message with an emoji (or take the reaction back).

use parley_proto::UserId;
use parley_proto::content::{MessageId, MessageRef};
use serde::Serialize;

use super::{Conversation, To, hex, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// `react`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The conversation: a user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub with: To,
    /// The message's author.
    pub author: UserId,
    /// The message id (`history --ids`).
    #[arg(value_parser = super::message_id)]
    pub id: MessageId,
    /// The emoji.
    pub emoji: String,
    /// Take the reaction back.
    #[arg(long)]
    pub remove: bool,
}

/// `{"user", "group", "author", "target", "emoji", "removed", "id", "status": "sent"}`.
#[derive(Debug, Serialize)]
struct Reacted {
    #[serde(flatten)]
    with: Conversation,
    author: String,
    target: String,
    emoji: String,
    removed: bool,
    id: String,
    status: &'static str,
}

/// Sends the reaction.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.with).await?;
        let message = MessageRef {
            author: args.author.clone(),
            id: args.id,
        };
        let id = m
            .react(&to, message, &args.emoji, args.remove)
            .await
            .map_err(CliError::queued)?;
        let json = Reacted {
            with: Conversation::from(&to),
            author: args.author.to_string(),
            target: hex(&args.id.0),
            emoji: args.emoji.clone(),
            removed: args.remove,
            id: hex(&id.0),
            status: "sent",
        };
        Outcome::new(&json, "")
    })
    .await
}
