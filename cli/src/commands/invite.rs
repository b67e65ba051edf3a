//! `parley invite` (also `parley admin invite`): an admin adds a colleague to the directory
//! and invites them (or a further device of an existing colleague). It writes `UserAdded`
//! (and `AdminAdded` for `--role admin`) and `InviteIssued` to the org log.

use std::path::PathBuf;

use parley_client::enrol;
use parley_client::messaging::Messenger;
use parley_proto::UserId;
use parley_proto::org::Profile;
use serde::Serialize;

use super::root_key::{self, Passphrase};
use super::with_messenger;
use crate::{CliError, Context, Outcome};

/// The role a new colleague gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// A member.
    #[default]
    Member,
    /// An administrator (needs the org root key: on this device, or `--root-key FILE`).
    Admin,
}

/// `invite`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The user id the invite enrols.
    pub user: UserId,
    /// Invite a further device of an existing user instead of a new user.
    #[arg(long, conflicts_with_all = ["role", "name", "email", "title", "department", "phone"])]
    pub device: bool,
    /// The new user's role.
    #[arg(long, value_enum, default_value_t = Role::Member)]
    pub role: Role,
    /// Display name in the directory (default: the user id).
    #[arg(long)]
    pub name: Option<String>,
    /// Email address.
    #[arg(long)]
    pub email: Option<String>,
    /// Job title.
    #[arg(long)]
    pub title: Option<String>,
    /// Department.
    #[arg(long)]
    pub department: Option<String>,
    /// Phone number or extension.
    #[arg(long)]
    pub phone: Option<String>,
    /// For `--role admin`: the root key's recovery file, when this device does not hold it.
    #[arg(long, value_name = "FILE", requires = "role")]
    pub root_key: Option<PathBuf>,
    /// Where the passphrase comes from.
    #[command(flatten)]
    pub passphrase: Passphrase,
}

/// `{"invite": "parley-invite:…", "user": "bob", "new_user": true, "role": "member"}`.
#[derive(Debug, Serialize)]
struct Invite {
    invite: String,
    user: String,
    new_user: bool,
    role: &'static str,
}

/// Creates the invite.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| invite(m, args).await).await
}

/// Creates the invite with the account of `m`.
pub async fn invite(m: &Messenger, args: &Args) -> Result<Outcome, CliError> {
    let profile = (!args.device).then(|| Profile {
        display_name: args.name.clone().unwrap_or_else(|| args.user.to_string()),
        email: args.email.clone().unwrap_or_default(),
        title: args.title.clone().unwrap_or_default(),
        department: args.department.clone().unwrap_or_default(),
        phone: args.phone.clone().unwrap_or_default(),
    });
    let admin = args.role == Role::Admin;
    // With the root key from its file, the invite is a member's, then the key appoints.
    let root = match admin {
        true => root_key::from_file(m, args.root_key.as_deref(), &args.passphrase).await?,
        false => None,
    };
    let text = enrol::invite(m.store(), &args.user, profile, admin && root.is_none()).await?;
    if let Some(root) = &root {
        m.appoint_admin(&args.user, Some(root)).await?;
    }
    let json = Invite {
        invite: text.clone(),
        user: args.user.to_string(),
        new_user: !args.device,
        role: if admin { "admin" } else { "member" },
    };
    Outcome::new(&json, text)
}
