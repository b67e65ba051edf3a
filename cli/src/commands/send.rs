//! `parley send`: a text message to a colleague or a group.

use serde::Serialize;

use super::{Conversation, To, hex, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley send --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley send bob 'the launch is on Friday'
  parley send '#Ops' 'deploy at 5'         # a group, by name
  parley send '#3f2a' 'deploy at 5'        # a group, by the start of its id
  parley send '#Ops' '@bob can you check?' # @user mentions a member; @all everyone
                                           # (org and group admins only)
  parley --json send bob hi                # {\"user\":\"bob\",\"group\":null,\"id\":…,\"status\":\"sent\"}

Exits 75 when the relay cannot be reached: the message stays queued, and the next
send or listen sends it.";

/// `send`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recipient: a user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub to: To,
    /// The text.
    pub text: String,
}

/// `{"user": "bob", "group": null, "id": "<hex>", "status": "sent"}`.
#[derive(Debug, Serialize)]
pub struct Sent {
    /// The conversation.
    #[serde(flatten)]
    pub to: Conversation,
    /// The message's id (for edit, delete, react).
    pub id: String,
    /// Always `sent`: the relay accepted it.
    pub status: &'static str,
}

/// Sends the message.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.to).await?;
        let body = m.text_body(&to, &args.text, None).await?;
        let id = m.send_body(&to, body).await.map_err(CliError::queued)?;
        let json = Sent {
            to: Conversation::from(&to),
            id: hex(&id.0),
            status: "sent",
        };
        Outcome::new(&json, "")
    })
    .await
}
