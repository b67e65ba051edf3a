//! `parley presence`: who is online, away or offline among the people you talk to, and
//! telling them about yourself (while the org's policy shares presence).

use clap::Subcommand;
use parley_client::messaging::now_ms;
use parley_proto::content::PresenceState;
use serde::Serialize;

use super::{printable, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley presence --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley presence list                     # colleagues' last known presence
  parley presence set online               # tell the people you talk to
  parley presence set away
  parley presence hide-last-seen on        # share online/away, never when you were last active
  parley --json presence list              # {\"shared\":true,\"people\":[{\"user\",\"state\",\"last_seen\",\"at\"}]}

When the org's policy turns presence off (parley admin policy set --presence off), nothing
about presence or typing leaves any device.";

/// The presence commands.
#[derive(Debug, Subcommand)]
pub enum PresenceCommand {
    /// Colleagues' presence as they last shared it.
    List,
    /// Tell the people you have conversations with that you are online, away or offline.
    Set {
        /// online, away or offline.
        #[arg(value_parser = state)]
        state: PresenceState,
    },
    /// Hide (on) or share (off) when you were last active.
    HideLastSeen {
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        hide: String,
    },
}

fn state(word: &str) -> Result<PresenceState, String> {
    PresenceState::parse(word).ok_or_else(|| format!("'{word}' is not online, away or offline"))
}

#[derive(Debug, Serialize)]
struct Person {
    user: String,
    state: &'static str,
    /// ms since the Unix epoch, or null when hidden.
    last_seen: Option<u64>,
    /// When they said so (ms).
    at: u64,
}

#[derive(Debug, Serialize)]
struct List {
    /// Whether the org's policy shares presence.
    shared: bool,
    people: Vec<Person>,
}

#[derive(Debug, Serialize)]
struct Told {
    shared: bool,
    state: &'static str,
    /// How many colleagues were told.
    told: usize,
}

/// Carries out a presence command.
pub async fn run(ctx: &Context, command: &PresenceCommand) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| match command {
        PresenceCommand::List => {
            let shared = m.presence_shared().await?;
            let people: Vec<Person> = m
                .presence()
                .await?
                .into_iter()
                .map(|p| Person {
                    user: p.user,
                    state: p.state.as_str(),
                    last_seen: p.last_seen,
                    at: p.at,
                })
                .collect();
            let now = now_ms();
            let human = if !shared {
                "presence is off by the org's policy\n".to_owned()
            } else if people.is_empty() {
                "nobody has shared their presence yet\n".to_owned()
            } else {
                people
                    .iter()
                    .map(|p| {
                        let seen = match p.last_seen {
                            Some(t) => format!(", last seen {} ago", ago(now, t)),
                            None => String::new(),
                        };
                        format!("{}  {}{seen}\n", printable(&p.user), p.state)
                    })
                    .collect()
            };
            Outcome::new(&List { shared, people }, human)
        }
        PresenceCommand::Set { state } => {
            let shared = m.presence_shared().await?;
            let told = m.set_presence(*state).await?;
            let human = if shared {
                format!("told {told} colleague(s) you are {}\n", state.as_str())
            } else {
                "presence is off by the org's policy: nothing was sent\n".to_owned()
            };
            Outcome::new(
                &Told {
                    shared,
                    state: state.as_str(),
                    told,
                },
                human,
            )
        }
        PresenceCommand::HideLastSeen { hide } => {
            let hide = hide == "on";
            m.set_hide_last_seen(hide).await?;
            let human = if hide {
                "your last activity is no longer shared\n"
            } else {
                "your last activity is shared with your presence\n"
            };
            Outcome::new(&serde_json::json!({ "hide_last_seen": hide }), human)
        }
    })
    .await
}

/// `ms` ago in words: "40 s", "5 min", "3 h", "2 d".
fn ago(now: u64, then: u64) -> String {
    let s = now.saturating_sub(then) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86_400 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}
