//! `parley send-file`: a file, encrypted end to end, with a progress bar on stderr.

use std::path::PathBuf;

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

/// Uploads and sends the file.
pub async fn run(ctx: &Context, out: &Output, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.to).await?;
        let progress = out.progress("upload");
        let result = m
            .send_file(&to, &args.path, args.caption.clone(), progress.callback())
            .await;
        progress.finish(result.is_ok());
        let id = result.map_err(CliError::queued)?;
        let size = std::fs::metadata(&args.path).map_or(0, |md| md.len());
        let file = args
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
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
