//! `parley group …`: group conversations. A group's name was chosen by a peer: people see it
//! through [`printable`] (docs/threat-model.md), `--json` exact.

use clap::Subcommand;
use parley_proto::UserId;
use serde::Serialize;

use super::{hex, printable, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley group --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley group create Ops bob carol        # prints the new group's id
  parley send '#Ops' 'deploy at 5'
  parley group add Ops dave
  parley group remove Ops carol            # your own id leaves the group
  parley group announce Ops on             # only the group's admins post; members read and react
  parley --json group list                 # {\"groups\":[{\"id\",\"name\",\"members\"}]}";

/// The group commands.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Create a group (you are a member); prints its id.
    Create {
        /// Its name.
        name: String,
        /// The other members.
        #[arg(required = true)]
        members: Vec<UserId>,
    },
    /// Add members; they get the group and its name.
    Add {
        /// The group's name or id.
        group: String,
        /// The new members.
        #[arg(required = true)]
        members: Vec<UserId>,
    },
    /// Remove members (your own id leaves the group); everyone left rotates their keys.
    Remove {
        /// The group's name or id.
        group: String,
        /// The members to remove.
        #[arg(required = true)]
        members: Vec<UserId>,
    },
    /// Rename a group (its admins only).
    Rename {
        /// The group's name or id.
        group: String,
        /// The new name.
        name: String,
    },
    /// Make members admins of the group (its admins only).
    Promote {
        /// The group's name or id.
        group: String,
        /// The members.
        #[arg(required = true)]
        members: Vec<UserId>,
    },
    /// Take admin rights in the group away (its admins only; the last admin stays).
    Demote {
        /// The group's name or id.
        group: String,
        /// The admins.
        #[arg(required = true)]
        members: Vec<UserId>,
    },
    /// Make the group an announcement channel (on: only its admins post), or not (off).
    Announce {
        /// The group's name or id.
        group: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        on: String,
    },
    /// List your groups.
    List,
}

/// A group in JSON: `{"id": "<hex>", "name": "Ops", "members": ["alice", "bob"],
/// "admins": ["alice"], "epoch": 3}`.
#[derive(Debug, Serialize)]
struct Group {
    id: String,
    name: String,
    members: Vec<String>,
    admins: Vec<String>,
    epoch: u64,
    /// Only admins post.
    announcement: bool,
}

impl From<parley_client::groups::GroupInfo> for Group {
    fn from(g: parley_client::groups::GroupInfo) -> Self {
        Self {
            id: hex(&g.id.0),
            name: g.name,
            members: g.members,
            admins: g.admins,
            epoch: g.epoch,
            announcement: g.announcement,
        }
    }
}

/// `group add` / `remove` / `promote` / `demote` / `rename`: `{"group": "<hex>", "added":
/// [...]}` (or `"removed"`, `"promoted"`, `"demoted"`, `"renamed"`).
#[derive(Debug, Default, Serialize)]
struct Changed {
    group: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    added: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removed: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    promoted: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    demoted: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    renamed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announcement: Option<bool>,
}

/// `group list`: `{"groups": [...]}`.
#[derive(Debug, Serialize)]
struct Groups {
    groups: Vec<Group>,
}

fn names(members: &[UserId]) -> Vec<String> {
    members.iter().map(ToString::to_string).collect()
}

/// Runs a group command.
pub async fn run(ctx: &Context, command: &GroupCommand) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| match command {
        GroupCommand::Create { name, members } => {
            let id = m
                .create_group(name, members)
                .await
                .map_err(CliError::queued)?;
            let json = match m.group(&id).await {
                Ok(info) => Group::from(info),
                Err(_) => Group {
                    id: hex(&id.0),
                    name: name.clone(),
                    members: names(members),
                    admins: vec![m.user().to_owned()],
                    epoch: 0,
                    announcement: false,
                },
            };
            let human = json.id.clone();
            Outcome::new(&json, human)
        }
        GroupCommand::Add { group, members } => {
            let id = m.find_group(group).await?;
            m.add_members(&id, members)
                .await
                .map_err(CliError::queued)?;
            let json = Changed {
                group: hex(&id.0),
                added: Some(names(members)),
                ..Changed::default()
            };
            Outcome::new(&json, "")
        }
        GroupCommand::Remove { group, members } => {
            let id = m.find_group(group).await?;
            m.remove_members(&id, members)
                .await
                .map_err(CliError::queued)?;
            let json = Changed {
                group: hex(&id.0),
                removed: Some(names(members)),
                ..Changed::default()
            };
            Outcome::new(&json, "")
        }
        GroupCommand::Rename { group, name } => {
            let id = m.find_group(group).await?;
            m.rename_group(&id, name).await.map_err(CliError::queued)?;
            let json = Changed {
                group: hex(&id.0),
                renamed: Some(name.clone()),
                ..Changed::default()
            };
            Outcome::new(&json, "")
        }
        GroupCommand::Promote { group, members } => {
            let id = m.find_group(group).await?;
            m.promote(&id, members).await.map_err(CliError::queued)?;
            let json = Changed {
                group: hex(&id.0),
                promoted: Some(names(members)),
                ..Changed::default()
            };
            Outcome::new(&json, "")
        }
        GroupCommand::Demote { group, members } => {
            let id = m.find_group(group).await?;
            m.demote(&id, members).await.map_err(CliError::queued)?;
            let json = Changed {
                group: hex(&id.0),
                demoted: Some(names(members)),
                ..Changed::default()
            };
            Outcome::new(&json, "")
        }
        GroupCommand::Announce { group, on } => {
            let id = m.find_group(group).await?;
            let on = on == "on";
            m.set_announcement(&id, on)
                .await
                .map_err(CliError::queued)?;
            let json = Changed {
                group: hex(&id.0),
                announcement: Some(on),
                ..Changed::default()
            };
            Outcome::new(&json, "")
        }
        GroupCommand::List => {
            let groups: Vec<Group> = m.groups().await?.into_iter().map(Group::from).collect();
            let human: String = groups
                .iter()
                .map(|g| {
                    format!(
                        "{}  {}  ({}; admins {}){}\n",
                        g.id,
                        printable(&g.name),
                        printable(&g.members.join(", ")),
                        printable(&g.admins.join(", ")),
                        if g.announcement {
                            "  [announcements]"
                        } else {
                            ""
                        }
                    )
                })
                .collect();
            Outcome::new(&Groups { groups }, human)
        }
    })
    .await
}
