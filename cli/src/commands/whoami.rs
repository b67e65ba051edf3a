//! `parley whoami`: this account. The relay URL came with the invite, so people see it
//! through [`printable`] (docs/threat-model.md).

use super::{AccountJson, account, printable};
use crate::{CliError, Context, Outcome};

/// Shows the account; the JSON is `{"user", "device", "relay", "org"}`.
pub async fn run(ctx: &Context) -> Result<Outcome, CliError> {
    let account = account(ctx).await?;
    let json = AccountJson::from(&account);
    let human = format!(
        "user:    {}\ndevice:  {}\nrelay:   {}\norg:     {}",
        json.user,
        json.device,
        printable(&json.relay),
        json.org
    );
    Outcome::new(&json, human)
}
