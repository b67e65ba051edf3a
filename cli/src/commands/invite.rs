//! `parley invite` (also `parley admin invite`): an admin adds a colleague to the directory
//! and invites them (or a further device of an existing colleague). It writes `UserAdded`
//! (and `AdminAdded` for `--role admin`) and `InviteIssued` to the org log.

use parley_client::enrol;
use parley_client::store::Store;
use parley_proto::UserId;
use parley_proto::org::Profile;
use serde::Serialize;

use crate::{CliError, Context, Outcome};

/// The role a new colleague gets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// A member.
    #[default]
    Member,
    /// An administrator (needs the org root key, on the device that created the org).
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
    let store = Store::open(&ctx.home()?, ctx.keys()?, None)
        .await
        .map_err(parley_client::Error::from)?;
    let outcome = invite(&store, args).await;
    store.close().await;
    outcome
}

/// Creates the invite with the account in `store`.
pub async fn invite(store: &Store, args: &Args) -> Result<Outcome, CliError> {
    let profile = (!args.device).then(|| Profile {
        display_name: args.name.clone().unwrap_or_else(|| args.user.to_string()),
        email: args.email.clone().unwrap_or_default(),
        title: args.title.clone().unwrap_or_default(),
        department: args.department.clone().unwrap_or_default(),
        phone: args.phone.clone().unwrap_or_default(),
    });
    let admin = args.role == Role::Admin;
    let text = enrol::invite(store, &args.user, profile, admin).await?;
    let json = Invite {
        invite: text.clone(),
        user: args.user.to_string(),
        new_user: !args.device,
        role: if admin { "admin" } else { "member" },
    };
    Outcome::new(&json, text)
}
