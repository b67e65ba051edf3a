//! `parley status`: your status text ("On holiday until the 20th"), set, cleared or shown
//! with your colleagues', end-to-end encrypted to the people you talk to.

use clap::Subcommand;
use parley_client::messaging::now_ms;
use serde::Serialize;

use super::{parse_duration, printable, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley status --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley status list                         # yours and your colleagues' status texts
  parley status set 'On holiday, back on the 20th' --for 7d
  parley status set 'In a workshop'          # until you change it
  parley status clear
  parley --json status list                  # {\"statuses\":[{\"user\",\"text\",\"until\"}]}

A status goes, end-to-end encrypted, to the people you have conversations with and to your
other devices.";

/// The status commands.
#[derive(Debug, Subcommand)]
pub enum StatusCommand {
    /// Status texts: yours and your colleagues'.
    List,
    /// Set your status text.
    Set {
        /// The text (up to 256 bytes).
        text: String,
        /// Clear it by itself after this long: 30m, 8h, 7d.
        #[arg(long = "for", value_parser = lasting)]
        lasting: Option<u64>,
    },
    /// Clear your status text.
    Clear,
}

fn lasting(text: &str) -> Result<u64, String> {
    parse_duration(text, false)
}

#[derive(Debug, Serialize)]
struct Line {
    user: String,
    text: String,
    /// ms since the Unix epoch, or null.
    until: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Set {
    text: String,
    until: Option<u64>,
    /// How many colleagues were told.
    told: usize,
}

/// Carries out a status command.
pub async fn run(ctx: &Context, command: &StatusCommand) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| match command {
        StatusCommand::List => {
            let list: Vec<Line> = m
                .statuses()
                .await?
                .into_iter()
                .filter(|s| !s.text.is_empty())
                .map(|s| Line {
                    user: s.user,
                    text: s.text,
                    until: s.until,
                })
                .collect();
            let human = if list.is_empty() {
                "no status texts\n".to_owned()
            } else {
                list.iter()
                    .map(|s| format!("{}  {}\n", printable(&s.user), printable(&s.text)))
                    .collect()
            };
            #[derive(Serialize)]
            struct List {
                statuses: Vec<Line>,
            }
            Outcome::new(&List { statuses: list }, human)
        }
        StatusCommand::Set { text, lasting } => {
            let until = lasting.map(|s| now_ms().saturating_add(s.saturating_mul(1000)));
            let told = m.set_status(text, until).await?;
            let human = format!("status set; told {told} colleague(s)\n");
            let text = text.trim().to_owned();
            Outcome::new(&Set { text, until, told }, human)
        }
        StatusCommand::Clear => {
            let told = m.set_status("", None).await?;
            let human = format!("status cleared; told {told} colleague(s)\n");
            Outcome::new(
                &Set {
                    text: String::new(),
                    until: None,
                    told,
                },
                human,
            )
        }
    })
    .await
}
