//! `parley save-file`: saves a received file. `listen` keeps received files encrypted in the
//! account directory (their keys are only in the encrypted store); this decrypts one into a
//! folder of the user's choosing, under its own name, never replacing a file.

use std::path::PathBuf;

use parley_proto::UserId;
use parley_proto::content::MessageId;
use serde::Serialize;

use super::{hex, with_messenger};
use crate::output::Output;
use crate::{CliError, Context, Outcome};

/// `save-file`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Who sent the file.
    pub from: UserId,
    /// The message id (`listen` prints it; `history --ids`).
    #[arg(value_parser = super::message_id)]
    pub id: MessageId,
    /// The folder to save it in [default: the current folder].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

/// `{"from", "id", "saved": "<path>"}`.
#[derive(Debug, Serialize)]
struct Saved {
    from: String,
    id: String,
    saved: String,
}

/// Saves the file.
pub async fn run(ctx: &Context, out: &Output, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let progress = out.progress("download");
        let result = m
            .save_file(&args.from, &args.id, &args.dir, progress.callback())
            .await;
        progress.finish(result.is_ok());
        let path = result?;
        let json = Saved {
            from: args.from.to_string(),
            id: hex(&args.id.0),
            saved: path.display().to_string(),
        };
        Outcome::new(&json, format!("{}\n", path.display()))
    })
    .await
}
