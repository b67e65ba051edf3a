//! `parley devices`: a user's active devices, as the verified org log lists them.

use parley_proto::UserId;
use parley_proto::org::DeviceRecord;
use serde::Serialize;

use super::{hex, with_messenger};
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
    with_messenger(ctx, async |m| {
        let user = match &args.user {
            Some(u) => u.clone(),
            None => UserId::new(m.user()).map_err(parley_client::Error::from)?,
        };
        let devices: Vec<(u32, DeviceRecord)> = m
            .org_devices(&user)
            .await?
            .into_iter()
            .filter(|(_, d)| d.is_active())
            .collect();
        let mut human = String::new();
        for (n, d) in &devices {
            let identity = d.identity.to_bytes();
            human.push_str(&format!(
                "{user}.{n}  added {}  identity {}…\n",
                d.added_at,
                hex(identity.get(1..9).unwrap_or_default())
            ));
        }
        let json = Devices {
            user: user.to_string(),
            devices: devices
                .iter()
                .map(|(n, d)| Device {
                    device: *n,
                    registered_at: d.added_at,
                    identity: hex(&d.identity.to_bytes()),
                })
                .collect(),
        };
        Outcome::new(&json, human)
    })
    .await
}
