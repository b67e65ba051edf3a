//! `parley invite`: an admin invites a colleague (or a further device of one).

use parley_client::enrol;
use parley_client::store::Store;
use parley_proto::UserId;
use serde::Serialize;

use crate::{CliError, Context, Outcome};

/// `invite`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The user id the invite enrols.
    pub user: UserId,
    /// Invite a further device of an existing user instead of a new user.
    #[arg(long)]
    pub device: bool,
}

/// `{"invite": "parley-invite:…", "user": "bob", "new_user": true}`.
#[derive(Debug, Serialize)]
struct Invite {
    invite: String,
    user: String,
    new_user: bool,
}

/// Creates the invite.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    let store = Store::open(&ctx.home()?, ctx.keys()?, None)
        .await
        .map_err(parley_client::Error::from)?;
    let text = enrol::invite(&store, &args.user, !args.device).await;
    store.close().await;
    let text = text?;
    let json = Invite {
        invite: text.clone(),
        user: args.user.to_string(),
        new_user: !args.device,
    };
    Outcome::new(&json, text)
}
