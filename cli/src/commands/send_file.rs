//! `parley send-file`: a file, encrypted end to end, with a progress bar on stderr.

use std::path::PathBuf;

use parley_proto::content::Body;
use serde::Serialize;

use super::{Conversation, To, hex, target, with_messenger};
use crate::{CliError, Context, Outcome, Output};

/// `send-file`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recipient: a user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub to: To,
    /// The file.
    pub path: PathBuf,
    /// A caption.
    #[arg(long)]
    pub caption: Option<String>,
}

/// `{"user", "group", "id", "status": "sent", "file": "report.pdf", "size": <bytes>}`.
#[derive(Debug, Serialize)]
struct SentFile {
    #[serde(flatten)]
    sent: super::send::Sent,
    file: String,
    size: u64,
}

/// Uploads the file, then sends its pointer. A failed upload queues nothing (the command can
/// simply be run again); a failed send of the pointer stays queued like a text message.
pub async fn run(ctx: &Context, out: &Output, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.to).await?;
        let progress = out.progress("upload");
        let uploaded =
            parley_client::files::upload(m.relay(), &args.path, progress.callback()).await;
        progress.finish(uploaded.is_ok());
        let attachment = uploaded?;
        let (file, size) = (
            attachment.file_name.clone().unwrap_or_default(),
            attachment.size,
        );
        let body = Body::File {
            attachment,
            caption: args.caption.clone(),
            reply_to: None,
        };
        let id = m.send_body(&to, body).await.map_err(CliError::queued)?;
        let json = SentFile {
            sent: super::send::Sent {
                to: Conversation::from(&to),
                id: hex(&id.0),
                status: "sent",
            },
            file,
            size,
        };
        Outcome::new(&json, "")
    })
    .await
}
