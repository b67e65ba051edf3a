//! `parley notify`: this user's notification settings for a conversation, shown or set
//! (and synced, end-to-end encrypted, to this user's other devices).

use std::time::Duration;

use parley_client::messaging::now_ms;
use parley_client::store::NotifySettings;
use parley_proto::content::NotifyLevel;
use serde::Serialize;

use super::{Conversation, To, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley notify --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley notify '#Ops'                     # show the settings
  parley notify '#Ops' mentions            # only when someone @mentions you (or @all)
  parley notify bob none                   # never
  parley notify '#Ops' --mute 8h           # silent for eight hours (30m, 8h, 7d)
  parley notify '#Ops' all --unmute
  parley --json notify '#Ops'              # {\"user\":null,\"group\":…,\"notify\":\"all\",\"muted_until\":0}

`parley listen` marks messages your settings keep quiet with (quiet) (\"notify\": false in
JSON).";

/// When to notify.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Level {
    /// Every new message or file.
    All,
    /// Only messages that mention you (or @all).
    Mentions,
    /// Never.
    None,
}

impl From<Level> for NotifyLevel {
    fn from(l: Level) -> Self {
        match l {
            Level::All => Self::All,
            Level::Mentions => Self::Mentions,
            Level::None => Self::None,
        }
    }
}

/// `notify`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The conversation: a user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub to: To,
    /// When to notify (default: keep as it is).
    #[arg(value_enum)]
    pub level: Option<Level>,
    /// Silent for this long: a number and m, h or d (30m, 8h, 7d).
    #[arg(long, value_parser = duration, conflicts_with = "unmute")]
    pub mute: Option<Duration>,
    /// End a mute.
    #[arg(long)]
    pub unmute: bool,
}

/// Parses `30m`, `8h`, `7d` (up to a year).
pub fn duration(text: &str) -> Result<Duration, String> {
    super::parse_duration(text, false).map(Duration::from_secs)
}

/// `{"user": "bob", "group": null, "notify": "mentions", "muted_until": <ms or 0>}`.
#[derive(Debug, Serialize)]
struct Settings {
    #[serde(flatten)]
    to: Conversation,
    notify: &'static str,
    /// Milliseconds since the Unix epoch; 0: not muted.
    muted_until: u64,
}

/// Shows or sets the settings.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.to).await?;
        let current = m.notify_settings(&to).await?;
        let now = now_ms();
        let settings = if args.level.is_none() && args.mute.is_none() && !args.unmute {
            current
        } else {
            let level = args.level.map_or(current.notify, NotifyLevel::from);
            let muted_until = match (args.mute, args.unmute) {
                (Some(d), _) => now.saturating_add(d.as_millis() as u64),
                (None, true) => 0,
                (None, false) if current.muted_until > now => current.muted_until,
                (None, false) => 0,
            };
            m.set_notify(&to, level, muted_until).await?
        };
        Outcome::new(
            &Settings {
                to: Conversation::from(&to),
                notify: settings.notify.as_str(),
                muted_until: settings.muted_until,
            },
            human(&settings, now),
        )
    })
    .await
}

fn human(s: &NotifySettings, now: u64) -> String {
    let level = match s.notify {
        NotifyLevel::All => "notify on every message",
        NotifyLevel::Mentions => "notify only when you are mentioned",
        NotifyLevel::None => "never notify",
    };
    if s.muted_until > now {
        let mins = (s.muted_until - now).div_ceil(60_000);
        let left = if mins >= 120 {
            format!("{} h", mins.div_ceil(60))
        } else {
            format!("{mins} min")
        };
        format!("{level}; muted for another {left}\n")
    } else {
        format!("{level}\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(duration("8h"), Ok(Duration::from_secs(28_800)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in [
            "",
            "h",
            "8",
            "8x",
            "-1h",
            "0m",
            "400d",
            "99999999999999999999d",
        ] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }
}
