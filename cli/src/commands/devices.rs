//! `parley devices`: a user's devices, as the relay lists them.

use parley_client::enrol;
use parley_proto::UserId;
use serde::Serialize;

use super::{account, hex};
use crate::{CliError, Context, Outcome};

/// `devices`' arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The user.
    pub user: Option<UserId>,
}

/// `{"user": "alice", "devices": [{"device": 1, "registered_at": <s>, "identity": "<hex>"}]}`.
#[derive(Debug, Serialize)]
struct Devices {
    user: String,
    devices: Vec<Device>,
}

#[derive(Debug, Serialize)]
struct Device {
    device: u32,
    /// Seconds since the Unix epoch.
    registered_at: u64,
    /// The public identity key, in hex.
    identity: String,
}

/// Lists the devices.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    let account = account(ctx).await?;
    let user = match &args.user {
        Some(u) => u.clone(),
        None => UserId::new(account.user.clone()).map_err(parley_client::Error::from)?,
    };
    let list = enrol::relay_for(&account)?
        .devices(&user)
        .await
        .map_err(parley_client::Error::from)?;
    let mut human = String::new();
    for d in &list.devices {
        human.push_str(&format!(
            "{user}.{}  registered {}  identity {}…\n",
            d.device,
            d.created_at,
            hex(d.identity.as_bytes().get(1..9).unwrap_or_default())
        ));
    }
    let json = Devices {
        user: user.to_string(),
        devices: list
            .devices
            .iter()
            .map(|d| Device {
                device: d.device,
                registered_at: d.created_at,
                identity: hex(d.identity.as_bytes()),
            })
            .collect(),
    };
    Outcome::new(&json, human)
}
