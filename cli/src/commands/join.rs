//! `parley join`: join an org (or add this device) with an invite.

use parley_client::enrol;

use super::{AccountJson, account_of};
use crate::{CliError, Context, Outcome};

/// `join`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The invite text (parley-invite:…).
    pub invite: String,
}

/// Joins; the JSON is the account's (`{"user", "device", "relay", "org"}`).
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    let store = enrol::join(&ctx.home()?, ctx.keys()?, &args.invite).await?;
    let account = account_of(&store).await;
    store.close().await;
    let account = account?;
    let human = format!("Joined as {}, device {}.", account.user, account.device);
    Outcome::new(&AccountJson::from(&account), human)
}
