//! `parley init-org`: create the org on a new relay, with this device as its first admin.

use parley_client::enrol;
use parley_proto::UserId;
use parley_proto::invite::TlsPins;
use serde::Serialize;

use super::{AccountJson, account_of};
use crate::{CliError, Context, Outcome};

/// `init-org`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The relay's URL, e.g. http://127.0.0.1:8787.
    #[arg(long)]
    pub relay: String,
    /// The SHA-256 of the relay's TLS public key, as parley-server prints it at start: the
    /// relay must present a certificate for exactly that key, to you and to everyone you
    /// invite.
    #[arg(long, value_parser = tls_pin)]
    pub tls_pin: Option<TlsPin>,
    /// The SHA-256 of a second TLS public key the relay may move to, kept in reserve (e.g.
    /// `openssl pkey -in backup.key -pubout -outform DER | sha256sum`): devices accept it as
    /// they accept the first, so the relay can change keys without everyone enrolling again.
    #[arg(long, value_parser = tls_pin, requires = "tls_pin")]
    pub tls_backup_pin: Option<TlsPin>,
    /// The setup token the relay printed at its first start.
    #[arg(long, env = "PARLEY_SETUP_TOKEN", hide_env_values = true)]
    pub setup_token: String,
    /// Your user id (lowercase letters, digits, '.', '_', '-').
    #[arg(long)]
    pub user: UserId,
    /// The organisation's display name.
    #[arg(long, default_value = "Parley")]
    pub org_name: String,
}

/// A TLS certificate pin: 32 bytes.
#[derive(Clone, Copy, Debug)]
pub struct TlsPin(pub [u8; 32]);

fn tls_pin(text: &str) -> Result<TlsPin, String> {
    parley_client::tls::parse_pin(text)
        .map(TlsPin)
        .ok_or_else(|| "a pin is 64 hex digits (the SHA-256 parley-server prints)".to_owned())
}

/// `{"user", "device", "relay", "org", "org_name"}`.
#[derive(Debug, Serialize)]
struct Created {
    #[serde(flatten)]
    account: AccountJson,
    org_name: String,
}

/// Creates the org.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    let home = ctx.home()?;
    let store = enrol::create_org(
        &home,
        ctx.keys()?,
        &args.relay,
        args.tls_pin.map(|p| TlsPins {
            primary: p.0,
            backup: args.tls_backup_pin.map(|b| b.0),
        }),
        &args.setup_token,
        &args.user,
        &args.org_name,
    )
    .await?;
    let account = account_of(&store).await;
    store.close().await;
    let account = account?;
    let human = format!(
        "Created the org {:?}; you are {}, device {}, its first admin.\n\
         The org root key stays in this device's encrypted store ({}).",
        args.org_name,
        args.user,
        account.device,
        home.display()
    );
    let json = Created {
        account: AccountJson::from(&account),
        org_name: args.org_name.clone(),
    };
    Outcome::new(&json, human)
}
