//! `parley admin …`: the org's administration, every action a signed org log entry
//! (docs/architecture.md §2, §5). Destructive actions name the user and device; scripts pass
//! `--yes`, people at a terminal confirm by typing the user id.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;

use clap::Subcommand;
use parley_client::admin::{AuditEntry, Signer};
use parley_proto::org::{DeviceRecord, OrgBody, Policy, RevokeReason};
use parley_proto::{DeviceId, UserId};
use serde::Serialize;

use super::root_key::{self, Passphrase};
use super::{hex, printable, with_messenger};
use crate::{CliError, Context, Outcome};

/// Examples in `parley admin --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley admin invite bob --name 'Bob Stone' --title Accountant --department Finance
  parley admin devices bob
  parley admin revoke bob 2 --reason lost    # asks you to type 'bob' to confirm
  parley admin wipe bob 2 --yes             # bob.2 signs a receipt, then wipes itself
  parley admin dismiss bob --yes
  parley admin poster carol on              # carol may post in the company channel
  parley admin policy set --offline-lock 86400 --offline-wipe 604800 --remote-secret on
  parley admin export-root-key /media/usb/acme-root.key --remove   # then keep it offline
  parley admin appoint carol --root-key /media/usb/acme-root.key
  parley --json admin audit                  # the whole log, verified, one object";

/// The admin commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Add a colleague to the directory and print their invite.
    Invite(super::invite::Args),
    /// List a user's devices as the verified org log has them (revoked ones too).
    Devices {
        /// The user.
        user: UserId,
    },
    /// Revoke a device: it can no longer fetch or send, and nobody encrypts to it.
    Revoke {
        /// The user.
        user: UserId,
        /// The device number (`parley admin devices USER`).
        device: DeviceId,
        /// Why.
        #[arg(long, value_enum, default_value_t = Reason::Lost)]
        reason: Reason,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Sign a device out: revoked with the reason "logout".
    Logout {
        /// The user.
        user: UserId,
        /// The device number.
        device: DeviceId,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Order a device to wipe itself: it destroys its store key and files when it next reads
    /// the org log, and signs a receipt first (shown by `audit` and `devices`).
    Wipe {
        /// The user.
        user: UserId,
        /// The device number.
        device: DeviceId,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Dismiss a user: every device revoked, out of the directory, in one step.
    Dismiss {
        /// The user.
        user: UserId,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Let a user post in the company channel beside the admins (on), or no longer (off).
    Poster {
        /// The user.
        user: UserId,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        poster: String,
    },
    /// Make a user an admin, signed by the org root key (this device's, or `--root-key`).
    Appoint {
        /// The user.
        user: UserId,
        /// The root key's recovery file (`export-root-key`), when this device does not hold it.
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
        /// Where the passphrase comes from.
        #[command(flatten)]
        passphrase: Passphrase,
    },
    /// Take a user's admin rights away, signed by the org root key.
    RemoveAdmin {
        /// The user.
        user: UserId,
        /// The root key's recovery file, when this device does not hold it.
        #[arg(long, value_name = "FILE")]
        root_key: Option<PathBuf>,
        /// Where the passphrase comes from.
        #[command(flatten)]
        passphrase: Passphrase,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Write the org root key to a passphrase-protected recovery file (Argon2id, AES-256-GCM).
    ExportRootKey {
        /// The file to create (never replaced).
        file: PathBuf,
        /// Then delete the root key from this device: appointing admins will need the file.
        #[arg(long)]
        remove: bool,
        /// Where the passphrase comes from.
        #[command(flatten)]
        passphrase: Passphrase,
    },
    /// Put the org root key from a recovery file into this device.
    ImportRootKey {
        /// The recovery file.
        file: PathBuf,
        /// Where the passphrase comes from.
        #[command(flatten)]
        passphrase: Passphrase,
    },
    /// The org's policy.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// The whole org log, verified again from the genesis, with who signed each entry.
    Audit,
}

/// `parley admin policy …`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the policy in force.
    Show,
    /// Replace the policy (options not given are off).
    Set {
        /// Seconds without reaching the relay after which a device locks (0: never).
        #[arg(long, default_value_t = 0)]
        offline_lock: u64,
        /// Seconds without reaching the relay after which a device wipes itself (0: never).
        #[arg(long, default_value_t = 0)]
        offline_wipe: u64,
        /// Whether store keys need the per-device remote secret the relay holds.
        #[arg(long, value_enum, default_value_t = Switch::Off)]
        remote_secret: Switch,
        /// Longest disappearing-message timer, seconds (0: no limit).
        #[arg(long, default_value_t = 0)]
        max_disappearing: u64,
        /// Whether presence, last seen and typing are shared.
        #[arg(long, value_enum, default_value_t = Switch::On)]
        presence: Switch,
    },
}

/// Why a device is revoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Reason {
    /// Lost or stolen.
    Lost,
    /// Replaced by another device.
    Replaced,
    /// Signed out.
    Logout,
}

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// A device as the log lists it.
#[derive(Debug, Serialize)]
struct Device {
    device: DeviceId,
    /// The device's Ed25519 signing key, hex.
    signing_key: String,
    /// The entry that added it.
    added_seq: u64,
    /// `null` while active.
    revoked: Option<Revoked>,
    /// The last wipe ordered for it, `null` if none.
    wipe: Option<Wipe>,
}

/// A wipe order and its receipt.
#[derive(Debug, Serialize)]
struct Wipe {
    /// The `WipeOrdered` entry.
    ordered_seq: u64,
    /// The device's signed receipt (`WipeDone`), `null` until it arrives.
    receipt_seq: Option<u64>,
    /// When the device wiped itself (the receipt's time).
    wiped_at: Option<u64>,
}

#[derive(Debug, Serialize)]
struct Revoked {
    reason: &'static str,
    seq: u64,
    at: u64,
}

impl Device {
    fn new(device: DeviceId, d: &DeviceRecord, wipe: Option<Wipe>) -> Self {
        Self {
            wipe,
            device,
            signing_key: hex(d.identity.signing_key().as_bytes()),
            added_seq: d.added_seq,
            revoked: d.revoked.map(|r| Revoked {
                reason: r.reason.as_str(),
                seq: r.seq,
                at: r.timestamp,
            }),
        }
    }
}

/// An entry appended: `{"appended": {"seq": 12, "kind": "device-revoked"}}`.
#[derive(Debug, Serialize)]
struct Appended {
    appended: AppendedEntry,
}

#[derive(Debug, Serialize)]
struct AppendedEntry {
    seq: u64,
    kind: &'static str,
}

/// Runs an admin command.
pub async fn run(ctx: &Context, command: &AdminCommand) -> Result<Outcome, CliError> {
    with_messenger(ctx, async |m| match command {
        AdminCommand::Invite(args) => super::invite::invite(m, args).await,
        AdminCommand::Devices { user } => {
            let org = m.org().await?;
            let devices: Vec<(DeviceId, DeviceRecord)> = org
                .user(user)
                .ok_or(parley_client::Error::NoSuchUser)?
                .devices
                .iter()
                .map(|(n, d)| (*n, *d))
                .collect();
            let wipe_of = |n: DeviceId| {
                org.wipe_orders()
                    .iter()
                    .rev()
                    .find(|w| &w.user == user && w.device == n)
                    .map(|w| Wipe {
                        ordered_seq: w.seq,
                        receipt_seq: w.done.map(|d| d.0),
                        wiped_at: w.done.map(|d| d.1),
                    })
            };
            let mut human = String::new();
            for (n, d) in &devices {
                let state = match &d.revoked {
                    None => "active".to_owned(),
                    Some(r) => format!(
                        "revoked ({}) {} by entry {}",
                        r.reason.as_str(),
                        utc(r.timestamp),
                        r.seq
                    ),
                };
                let key = hex(d.identity.signing_key().as_bytes());
                let wipe = match wipe_of(*n) {
                    None => String::new(),
                    Some(Wipe {
                        receipt_seq: Some(r),
                        wiped_at: Some(at),
                        ..
                    }) => format!("  wiped {} (signed receipt, entry {r})", utc(at)),
                    Some(w) => format!("  wipe ordered (entry {}), no receipt yet", w.ordered_seq),
                };
                human.push_str(&format!(
                    "{user}.{n}  {state}  key {}…{wipe}\n",
                    key.get(..16).unwrap_or_default()
                ));
            }
            let json = serde_json::json!({
                "user": user.as_str(),
                "devices": devices
                    .iter()
                    .map(|(n, d)| Device::new(*n, d, wipe_of(*n)))
                    .collect::<Vec<_>>(),
            });
            Outcome::new(&json, human)
        }
        AdminCommand::Revoke {
            user,
            device,
            reason,
            yes,
        } => {
            let reason = match reason {
                Reason::Lost => RevokeReason::Lost,
                Reason::Replaced => RevokeReason::Replaced,
                Reason::Logout => RevokeReason::Logout,
            };
            confirm(*yes, &format!("revoke device {user}.{device}"), user)?;
            appended(m.revoke_device(user, *device, reason).await?)
        }
        AdminCommand::Logout { user, device, yes } => {
            confirm(*yes, &format!("sign out device {user}.{device}"), user)?;
            appended(m.revoke_device(user, *device, RevokeReason::Logout).await?)
        }
        AdminCommand::Wipe { user, device, yes } => {
            confirm(*yes, &format!("wipe device {user}.{device}"), user)?;
            appended(m.order_wipe(user, *device).await?)
        }
        AdminCommand::Dismiss { user, yes } => {
            confirm(
                *yes,
                &format!("dismiss {user} and revoke all their devices"),
                user,
            )?;
            appended(m.dismiss_user(user).await?)
        }
        AdminCommand::Poster { user, poster } => {
            appended(m.set_poster(user, poster == "on").await?)
        }
        AdminCommand::Appoint {
            user,
            root_key,
            passphrase,
        } => {
            let root = root_key::from_file(m, root_key.as_deref(), passphrase).await?;
            appended(m.appoint_admin(user, root.as_ref()).await?)
        }
        AdminCommand::RemoveAdmin {
            user,
            root_key,
            passphrase,
            yes,
        } => {
            confirm(*yes, &format!("take {user}'s admin rights away"), user)?;
            let root = root_key::from_file(m, root_key.as_deref(), passphrase).await?;
            appended(m.remove_admin(user, root.as_ref()).await?)
        }
        AdminCommand::ExportRootKey {
            file,
            remove,
            passphrase,
        } => root_key::export(m, file, *remove, passphrase).await,
        AdminCommand::ImportRootKey { file, passphrase } => {
            root_key::import(m, file, passphrase).await
        }
        AdminCommand::Policy(PolicyCommand::Show) => {
            let org = m.org().await?;
            policy_outcome(org.policy())
        }
        AdminCommand::Policy(PolicyCommand::Set {
            offline_lock,
            offline_wipe,
            remote_secret,
            max_disappearing,
            presence,
        }) => {
            let policy = Policy {
                offline_lock_secs: *offline_lock,
                offline_wipe_secs: *offline_wipe,
                remote_secret: *remote_secret == Switch::On,
                max_disappearing_secs: *max_disappearing,
                presence: *presence == Switch::On,
            };
            appended(m.set_policy(policy).await?)
        }
        AdminCommand::Audit => {
            let entries = m.audit().await?;
            let human: String = entries
                .iter()
                .map(|e| format!("{}\n", describe(e)))
                .collect();
            let json = serde_json::json!({
                "entries": entries.iter().map(audit_json).collect::<Vec<_>>(),
            });
            Outcome::new(&json, human)
        }
    })
    .await
}

fn appended(entry: parley_proto::org::OrgEntry) -> Result<Outcome, CliError> {
    let kind = entry.body.kind_name();
    let json = Appended {
        appended: AppendedEntry {
            seq: entry.seq,
            kind,
        },
    };
    Outcome::new(
        &json,
        format!("done: {kind} is entry {} of the org log", entry.seq),
    )
}

fn policy_outcome(p: &Policy) -> Result<Outcome, CliError> {
    let secs = |s: u64| match s {
        0 => "off".to_owned(),
        s => format!("{s} s"),
    };
    let human = format!(
        "offline lock: {}\noffline wipe: {}\nremote secret: {}\nmax disappearing: {}\npresence: {}",
        secs(p.offline_lock_secs),
        secs(p.offline_wipe_secs),
        if p.remote_secret { "on" } else { "off" },
        secs(p.max_disappearing_secs),
        if p.presence { "on" } else { "off" },
    );
    let json = serde_json::json!({
        "offline_lock_secs": p.offline_lock_secs,
        "offline_wipe_secs": p.offline_wipe_secs,
        "remote_secret": p.remote_secret,
        "max_disappearing_secs": p.max_disappearing_secs,
        "presence": p.presence,
    });
    Outcome::new(&json, human)
}

/// Asks at a terminal for the user id to be typed back; refuses without a terminal unless
/// `--yes`.
fn confirm(yes: bool, action: &str, user: &UserId) -> Result<(), CliError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::local(
            "confirmation_needed",
            format!("this would {action}: pass --yes to confirm"),
        ));
    }
    let mut err = std::io::stderr();
    let _ = write!(
        err,
        "This will {action}. Type the user id ({user}) to confirm: "
    );
    let _ = err.flush();
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    if line.trim() == user.as_str() {
        Ok(())
    } else {
        Err(CliError::local(
            "not_confirmed",
            "not confirmed: nothing was done",
        ))
    }
}

/// Seconds since the Unix epoch as `2026-12-04T23:50:00Z`.
fn utc(secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// An audit entry in words.
fn describe(e: &AuditEntry) -> String {
    let what = match &e.body {
        OrgBody::OrgCreated { name, .. } => format!("org \"{}\" created", printable(name)),
        OrgBody::AdminAdded { user } => format!("{user} made an admin"),
        OrgBody::AdminRemoved { user } => format!("{user} is no longer an admin"),
        OrgBody::UserAdded { user, profile } => {
            format!("{user} added ({})", printable(&profile.display_name))
        }
        OrgBody::UserUpdated { user, .. } => format!("{user}'s directory entry updated"),
        OrgBody::InviteIssued {
            user, expires_at, ..
        } => format!("invite issued for {user}, valid until {}", utc(*expires_at)),
        OrgBody::DeviceAdded { user, device, .. } => format!("device {user}.{device} added"),
        OrgBody::DeviceRevoked {
            user,
            device,
            reason,
        } => format!("device {user}.{device} revoked ({})", reason.as_str()),
        OrgBody::UserDismissed { user } => format!("{user} dismissed"),
        OrgBody::WipeOrdered { user, device } => format!("wipe of {user}.{device} ordered"),
        OrgBody::WipeDone {
            user,
            device,
            order,
        } => format!("{user}.{device} wiped itself on order #{order} (its signed receipt)"),
        OrgBody::PolicySet { .. } => "policy set".to_owned(),
        OrgBody::PosterSet { user, poster: true } => {
            format!("{user} may post in the company channel")
        }
        OrgBody::PosterSet {
            user,
            poster: false,
        } => format!("{user} may no longer post in the company channel"),
    };
    format!(
        "#{:<4} {}  {what}  (signed by {})",
        e.seq,
        utc(e.timestamp),
        e.signer
    )
}

fn audit_json(e: &AuditEntry) -> serde_json::Value {
    let (signer_user, signer_device) = match &e.signer {
        Signer::Device { user, device } => (Some(user.to_string()), Some(*device)),
        Signer::Root | Signer::InviteKey => (None, None),
    };
    let signer = match &e.signer {
        Signer::Root => "root",
        Signer::Device { .. } => "device",
        Signer::InviteKey => "invite_key",
    };
    let device = match &e.body {
        OrgBody::DeviceAdded { device, .. }
        | OrgBody::DeviceRevoked { device, .. }
        | OrgBody::WipeOrdered { device, .. }
        | OrgBody::WipeDone { device, .. } => Some(*device),
        _ => None,
    };
    serde_json::json!({
        "seq": e.seq,
        "timestamp": e.timestamp,
        "kind": e.body.kind_name(),
        "user": e.body.user().map(UserId::as_str),
        "device": device,
        "signer": signer,
        "signer_user": signer_user,
        "signer_device": signer_device,
        "summary": describe(e),
    })
}
