//! `parley disappear`: a conversation's disappearing-message timer, shown or set for every
//! member (in a group, by an admin of the group or an org admin; the org's policy caps it).

use parley_client::messaging::duration as words;
use serde::Serialize;

use super::{Conversation, To, target, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley disappear --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley disappear bob                     # show the timer
  parley disappear bob 1d                  # messages disappear a day after they are sent
  parley disappear '#Board' 8h             # a group's admins only
  parley disappear bob off
  parley --json disappear bob              # {\"user\":\"bob\",\"group\":null,\"secs\":86400,\"max_secs\":0,\"effective_secs\":86400}

Messages disappear from every device, and from the relay's queue, when their time is up;
a device that was offline longer never shows them. The org's policy may set a maximum
for every conversation (parley admin policy).";

/// `disappear`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The conversation: a user id, or `#` and a group's name or id.
    #[arg(value_parser = super::to)]
    pub to: To,
    /// The timer: a number and s, m, h or d (30s, 5m, 8h, 7d), or `off`.
    #[arg(value_parser = timer)]
    pub timer: Option<u64>,
}

/// Parses a timer (`off` is 0).
pub fn timer(text: &str) -> Result<u64, String> {
    match text {
        "off" => Ok(0),
        _ => super::parse_duration(text, true).map_err(|e| format!("{e}, or off")),
    }
}

/// `{"user", "group", "secs", "max_secs", "effective_secs"}` (0: off / none).
#[derive(Debug, Serialize)]
struct Timer {
    #[serde(flatten)]
    to: Conversation,
    secs: u64,
    max_secs: u64,
    effective_secs: u64,
}

/// Shows or sets the timer.
pub async fn run(ctx: &Context, args: &Args) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| {
        let to = target(m, &args.to).await?;
        if let Some(secs) = args.timer {
            m.set_disappearing(&to, secs)
                .await
                .map_err(CliError::queued)?;
        }
        let d = m.disappearing(&to).await?;
        let effective = d.effective().unwrap_or(0);
        let mut human = match d.secs {
            0 => "disappearing messages are off".to_owned(),
            s => format!("messages disappear after {}", words(s)),
        };
        if d.max_secs > 0 {
            human.push_str(&format!(
                " (the org's policy: at most {}, so {})",
                words(d.max_secs),
                words(effective)
            ));
        }
        human.push('\n');
        Outcome::new(
            &Timer {
                to: Conversation::from(&to),
                secs: d.secs,
                max_secs: d.max_secs,
                effective_secs: effective,
            },
            human,
        )
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers() {
        assert_eq!(timer("off"), Ok(0));
        assert_eq!(timer("30s"), Ok(30));
        assert_eq!(timer("5m"), Ok(300));
        assert_eq!(timer("8h"), Ok(28_800));
        assert_eq!(timer("7d"), Ok(604_800));
        for bad in ["", "0s", "5", "5x", "-5m", "400d", "on"] {
            assert!(timer(bad).is_err(), "{bad}");
        }
    }
}
