//! `parley safety-number`: the safety number between you and a colleague, from both users'
//! device keys as the verified org log lists them (it changes when either adds or loses a
//! device). Compare it in person or over a trusted call; the org log already certifies
//! colleagues' keys, so this is for those who want to check by hand.

use parley_proto::UserId;
use serde::Serialize;

use super::{hex, with_messenger};
use crate::{CliError, Context, Outcome};

/// `safety-number`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The colleague.
    pub user: UserId,
}

/// `{"user": "bob", "safety_number": "<60 digits>", "scannable": "<hex>"}`.
#[derive(Debug, Serialize)]
struct Number {
    user: String,
    safety_number: String,
    scannable: String,
}

/// Prints the number.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let n = m.safety_number(&args.user).await?;
        let json = Number {
            user: args.user.to_string(),
            safety_number: n.display(),
            scannable: hex(&n.scannable()),
        };
        Outcome::new(
            &json,
            format!("safety number with {}:\n{}", args.user, n.display_grouped()),
        )
    })
    .await
}
