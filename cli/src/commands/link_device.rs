//! `parley link-device`: a one-time code to add another device of this user.

use parley_client::enrol;
use serde::Serialize;

use crate::{CliError, Context, Outcome};

/// `{"invite": "parley-invite:…"}` (what `join` takes on the other device).
#[derive(Debug, Serialize)]
struct Link {
    invite: String,
}

/// Creates the code.
pub async fn run(ctx: &Context) -> Result<Outcome, CliError> {
    let store = parley_client::unlock::open_store(&ctx.home()?, ctx.keys()?).await?;
    let text = enrol::link(&store).await;
    store.close().await;
    let text = text?;
    Outcome::new(
        &Link {
            invite: text.clone(),
        },
        text,
    )
}
