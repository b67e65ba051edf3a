//! `parley delete`: delete one of this user's messages for everyone.

use parley_proto::content::MessageId;

use super::edit::Changed;
use super::{Conversation, To, hex, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// `delete`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The conversation: a user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub with: To,
    /// The message id (`history --ids`).
    #[arg(value_parser = super::message_id)]
    pub id: MessageId,
}

/// Sends the delete; the JSON is `{"user", "group", "target", "id", "status": "sent"}`.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.with).await?;
        let id = m.delete(&to, args.id).await.map_err(CliError::queued)?;
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
