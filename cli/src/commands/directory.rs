//! `parley directory …`: the org's people, from the verified org log (brought up to date
//! first). What an admin typed into a profile is printed through [`printable`]; `--json`
//! exact.

use clap::Subcommand;
use parley_client::search::DirectoryIndex;
use parley_proto::UserId;
use parley_proto::org::UserRecord;
use serde::Serialize;

use super::{printable, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley directory --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley directory search бухг             # finds \"Главный бухгалтер\"
  parley directory search acc              # finds \"Senior Accountant\"
  parley directory search 'anna fin'       # every word must start a word of the entry
  parley directory search ''               # everyone, by name
  parley directory show anna
  parley --json directory search acc       # {\"people\":[{\"user\",\"display_name\",…,\"matched\"}]}";

/// The directory commands.
#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Find colleagues by name, user id, job title, department, email or phone: each word of
    /// TEXT starts a word of theirs (case and ё/е ignored); best matches first.
    Search {
        /// What to look for (empty: everyone).
        text: String,
        /// Include dismissed colleagues.
        #[arg(long)]
        former: bool,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Show a colleague's directory entry and devices.
    Show {
        /// The user.
        user: UserId,
    },
}

/// A person in JSON.
#[derive(Debug, Serialize)]
struct Person {
    user: String,
    display_name: String,
    email: String,
    title: String,
    department: String,
    phone: String,
    admin: bool,
    dismissed: bool,
    /// Active devices.
    devices: Vec<u32>,
    /// For a search: the field that matched best.
    #[serde(skip_serializing_if = "Option::is_none")]
    matched: Option<&'static str>,
}

impl Person {
    fn of(user: &UserId, r: &UserRecord, matched: Option<&'static str>) -> Self {
        let p = &r.profile;
        Self {
            user: user.to_string(),
            display_name: p.display_name.clone(),
            email: p.email.clone(),
            title: p.title.clone(),
            department: p.department.clone(),
            phone: p.phone.clone(),
            admin: r.admin,
            dismissed: r.dismissed,
            devices: r.active_devices().map(|(n, _)| n).collect(),
            matched,
        }
    }

    /// One line: `anna  Anna Berg — Senior Accountant, Finance`.
    fn line(&self) -> String {
        let role: Vec<&str> = [self.title.as_str(), self.department.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let mut line = format!("{}  {}", self.user, printable(&self.display_name));
        if !role.is_empty() {
            line.push_str(&format!(" — {}", printable(&role.join(", "))));
        }
        if self.admin {
            line.push_str("  [admin]");
        }
        if self.dismissed {
            line.push_str("  [dismissed]");
        }
        line
    }
}

/// `{"people": [...]}`.
#[derive(Debug, Serialize)]
struct People {
    people: Vec<Person>,
}

/// Carries out a directory command.
pub async fn run(ctx: &Context, command: &DirectoryCommand) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let org = m.org().await?;
        match command {
            DirectoryCommand::Search {
                text,
                former,
                limit,
            } => {
                let hits = DirectoryIndex::new(&org).search(text, *former, *limit);
                let people: Vec<Person> = hits
                    .iter()
                    .filter_map(|h| {
                        let r = org.user(&h.user)?;
                        Some(Person::of(&h.user, r, Some(h.field.as_str())))
                    })
                    .collect();
                let human = match people.len() {
                    0 => "nobody found\n".to_owned(),
                    _ => people.iter().map(|p| p.line() + "\n").collect(),
                };
                Outcome::new(&People { people }, human)
            }
            DirectoryCommand::Show { user } => {
                let r = org.user(user).ok_or(parley_client::Error::NoSuchUser)?;
                let person = Person::of(user, r, None);
                let mut human = person.line() + "\n";
                for (label, value) in [("email", &person.email), ("phone", &person.phone)] {
                    if !value.is_empty() {
                        human.push_str(&format!("  {label}: {}\n", printable(value)));
                    }
                }
                let devices: Vec<String> = person.devices.iter().map(u32::to_string).collect();
                human.push_str(&format!(
                    "  devices: {}\n",
                    if devices.is_empty() {
                        "none".to_owned()
                    } else {
                        devices.join(", ")
                    }
                ));
                Outcome::new(&person, human)
            }
        }
    })
    .await
}
