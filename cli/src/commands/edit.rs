//! `parley edit`: replace the text of one of this user's messages.

use parley_proto::content::MessageId;
use serde::Serialize;

use super::{Conversation, To, hex, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// `edit`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The conversation: a user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub with: To,
    /// The message id (`history --ids`).
    #[arg(value_parser = super::message_id)]
    pub id: MessageId,
    /// The new text.
    pub text: String,
}

/// `{"user", "group", "target": "<edited id>", "id": "<the edit's id>", "status": "sent"}`.
#[derive(Debug, Serialize)]
pub struct Changed {
    /// The conversation.
    #[serde(flatten)]
    pub with: Conversation,
    /// The message changed.
    pub target: String,
    /// The id of the change itself.
    pub id: String,
    /// Always `sent`.
    pub status: &'static str,
}

/// Sends the edit.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.with).await?;
        let id = m
            .edit(&to, args.id, &args.text)
            .await
            .map_err(CliError::queued)?;
        let json = Changed {
            with: Conversation::from(&to),
            target: hex(&args.id.0),
            id: hex(&id.0),
            status: "sent",
        };
        Outcome::new(&json, "")
    })
    .await
}
