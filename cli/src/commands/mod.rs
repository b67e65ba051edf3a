//! One module per command; each has an `Args` (clap) and a `run` giving an
//! [`Outcome`](crate::Outcome). What they share is here.

pub mod admin;
pub mod completions;
pub mod delete;
pub mod devices;
pub mod directory;
pub mod disappear;
pub mod edit;
pub mod group;
pub mod history;
pub mod init_org;
pub mod invite;
pub mod join;
pub mod link_device;
pub mod listen;
pub mod notify;
pub mod presence;
pub mod react;
pub mod root_key;
pub mod safety_number;
pub mod save_file;
pub mod send;
pub mod send_file;
pub mod status;
pub mod tasks;
pub mod whoami;

use parley_client::messaging::{Messenger, Target};
use parley_client::store::{Account, Store};
use parley_proto::UserId;
use parley_proto::content::MessageId;
use serde::Serialize;

use crate::{CliError, Context};

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `text` without control characters (terminal escapes, bidi overrides, line breaks), as
/// text someone else wrote is printed: what they chose must not rewrite the terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// Seconds from a number and a unit: `m`, `h`, `d`, and `s` if `seconds` (30s, 5m, 8h, 7d),
/// between one unit and a year.
pub fn parse_duration(text: &str, seconds: bool) -> Result<u64, String> {
    let units = if seconds {
        "30s, 5m, 8h or 7d"
    } else {
        "30m, 8h or 7d"
    };
    let bad = || format!("'{text}' is not a duration like {units}");
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" if seconds => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .ok_or_else(bad)?;
    if n == 0 || secs > 366 * 86_400 {
        return Err(format!(
            "'{text}': give at least one {unit} and at most a year"
        ));
    }
    Ok(secs)
}

/// A conversation as typed: a user id, or `#` and a group's name or id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum To {
    /// A user.
    User(UserId),
    /// A group's name or (a prefix of) its id.
    Group(String),
}

/// Parses [`To`] (clap value parser: a bad user id is a usage error).
pub fn to(text: &str) -> Result<To, String> {
    match text.strip_prefix('#') {
        Some("") => Err("give a group's name or id after '#'".to_owned()),
        Some(group) => Ok(To::Group(group.to_owned())),
        None => UserId::new(text).map(To::User).map_err(|e| e.to_string()),
    }
}

/// The engine's target for `to` (a group is looked up by name or id).
pub async fn target(m: &Messenger, to: &To) -> Result<Target, CliError> {
    Ok(match to {
        To::User(user) => Target::User(user.clone()),
        To::Group(group) => Target::Group(m.find_group(group).await?),
    })
}

/// A conversation in JSON: `{"user": "bob", "group": null}` or `{"user": null, "group":
/// "<hex id>"}`.
#[derive(Debug, Serialize)]
pub struct Conversation {
    /// The peer of a 1:1 conversation.
    pub user: Option<String>,
    /// The group's id, in hex.
    pub group: Option<String>,
}

impl From<&Target> for Conversation {
    fn from(t: &Target) -> Self {
        match t {
            Target::User(u) => Self {
                user: Some(u.to_string()),
                group: None,
            },
            Target::Group(g) => Self {
                user: None,
                group: Some(hex(&g.0)),
            },
        }
    }
}

/// Parses a message id: 32 hex digits (clap value parser).
pub fn message_id(text: &str) -> Result<MessageId, String> {
    const WHAT: &str = "a message id is 32 hex digits (see `parley history --ids`)";
    let bytes = text.as_bytes();
    if bytes.len() != 32 {
        return Err(WHAT.to_owned());
    }
    let mut id = [0u8; 16];
    for (o, pair) in id.iter_mut().zip(bytes.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| WHAT.to_owned())?;
        *o = u8::from_str_radix(pair, 16).map_err(|_| WHAT.to_owned())?;
    }
    Ok(MessageId(id))
}

/// Opens the messenger of the account, runs `f`, and closes it whatever happened.
pub async fn with_messenger<T>(
    ctx: &Context,
    f: impl AsyncFnOnce(&Messenger) -> Result<T, CliError>,
) -> Result<T, CliError> {
    let store = parley_client::unlock::open_store(&ctx.home()?, ctx.keys()?).await?;
    let m = match Messenger::new(store).await {
        Ok(m) => m,
        Err(e) => return Err(e.into()),
    };
    let result = match f(&m).await {
        // Refused credentials: say why, if the org log revoked this device.
        Err(CliError::Engine { error, queued }) => Err(CliError::Engine {
            error: m.explain(error).await,
            queued,
        }),
        other => other,
    };
    m.close().await;
    result
}

/// The enrolled account of `store`.
pub async fn account_of(store: &Store) -> Result<Account, CliError> {
    let mut tx = store.begin().await.map_err(parley_client::Error::from)?;
    let account = tx.account().await.map_err(parley_client::Error::from)?;
    tx.commit().await.map_err(parley_client::Error::from)?;
    account.ok_or_else(|| parley_client::Error::NotEnrolled.into())
}

/// The account at `ctx`'s home, read and closed.
pub async fn account(ctx: &Context) -> Result<Account, CliError> {
    let store = parley_client::unlock::open_store(&ctx.home()?, ctx.keys()?).await?;
    let account = account_of(&store).await;
    store.close().await;
    account
}

/// An account in JSON (`init-org`, `join`, `whoami`).
#[derive(Debug, Serialize)]
pub struct AccountJson {
    /// The user id.
    pub user: String,
    /// This device's number.
    pub device: u32,
    /// The relay's URL.
    pub relay: String,
    /// The org's genesis hash, in hex (the same for everyone in the org).
    pub org: String,
}

impl From<&Account> for AccountJson {
    fn from(a: &Account) -> Self {
        Self {
            user: a.user.clone(),
            device: a.device,
            relay: a.relay_url.clone(),
            org: hex(&a.org_genesis_hash),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_32_hex_digits() {
        let id = message_id("000102030405060708090a0b0c0d0eff").unwrap();
        assert_eq!(id.0[15], 0xff);
        assert_eq!(hex(&id.0), "000102030405060708090a0b0c0d0eff");
        assert!(message_id("00").is_err());
        assert!(message_id("zz0102030405060708090a0b0c0d0eff").is_err());
        assert!(message_id("ü0102030405060708090a0b0c0d0eff").is_err());
    }

    #[test]
    fn a_conversation_is_a_user_or_a_group() {
        assert_eq!(to("#Ops"), Ok(To::Group("Ops".into())));
        assert_eq!(to("bob"), Ok(To::User(UserId::new("bob").unwrap())));
        assert!(to("Not A User").is_err());
        assert!(to("#").is_err());
    }
}
