//! `parley`: Parley's command-line client. Each account lives in its own directory (`--home`),
//! so several accounts can run on one machine; its encrypted store's key lives in a 0600 key
//! file outside that directory (`--key-dir`, default `$XDG_DATA_HOME/parley/keys`).
//!
//! Exit codes: 0 success, 1 the operation failed (the reason is printed), 2 bad usage.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use parley_client::enrol;
use parley_client::messaging::{Event, Messenger, Target};
use parley_client::store::{KeySource, Store};
use parley_proto::UserId;
use parley_proto::content::{Body, MessageId, MessageRef};

/// Parley: end-to-end encrypted messaging for your organisation.
#[derive(Debug, Parser)]
#[command(name = "parley", version)]
struct Cli {
    /// The account directory [default: $PARLEY_HOME, else ~/.parley].
    #[arg(long, global = true, env = "PARLEY_HOME")]
    home: Option<PathBuf>,
    /// Where the store key file is kept (must be outside --home)
    /// [default: $XDG_DATA_HOME/parley/keys].
    #[arg(long, global = true, env = "PARLEY_KEY_DIR")]
    key_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the org on a new relay, with this device as its first admin.
    InitOrg {
        /// The relay's URL, e.g. http://127.0.0.1:8787.
        #[arg(long)]
        relay: String,
        /// The SHA-256 of the relay's TLS certificate, as parley-server prints it at start:
        /// the relay must present exactly that certificate, to you and to everyone you invite.
        #[arg(long, value_parser = tls_pin)]
        tls_pin: Option<TlsPin>,
        /// The setup token the relay printed at its first start.
        #[arg(long, env = "PARLEY_SETUP_TOKEN", hide_env_values = true)]
        setup_token: String,
        /// Your user id (lowercase letters, digits, '.', '_', '-').
        #[arg(long)]
        user: UserId,
        /// The organisation's display name.
        #[arg(long, default_value = "Parley")]
        org_name: String,
    },
    /// Invite a colleague (admins only); prints the invite to hand over.
    Invite {
        /// The user id the invite enrols.
        user: UserId,
        /// Invite a further device of an existing user instead of a new user.
        #[arg(long)]
        device: bool,
    },
    /// Create a one-time code to add another device of yours (run `join` with it there).
    LinkDevice,
    /// Join an org with an invite.
    Join {
        /// The invite text (parley-invite:…).
        invite: String,
    },
    /// Show this account.
    Whoami,
    /// List a user's devices (default: your own).
    Devices {
        /// The user.
        user: Option<UserId>,
    },
    /// Send a text message to a colleague (all their devices, and your other devices) or to a
    /// group (`#<name>` or `#<id>`).
    Send {
        /// The recipient: a user id, or `#` and a group's name or id.
        to: String,
        /// The text.
        text: String,
    },
    /// Send a file (end-to-end encrypted; the relay stores only ciphertext).
    SendFile {
        /// The recipient: a user id, or `#` and a group's name or id.
        to: String,
        /// The file.
        path: PathBuf,
        /// A caption.
        #[arg(long)]
        caption: Option<String>,
    },
    /// Print incoming messages as they arrive; received files are saved to --download-dir.
    Listen {
        /// One JSON object per line, for scripts.
        #[arg(long)]
        json: bool,
        /// Exit once everything queued for this device has been received.
        #[arg(long)]
        drain: bool,
        /// Where received files are saved [default: <home>/downloads].
        #[arg(long)]
        download_dir: Option<PathBuf>,
    },
    /// Show the conversation with a colleague or a group.
    History {
        /// A user id, or `#` and a group's name or id.
        with: String,
        /// Most messages shown.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Show each message's id (for edit, delete and react).
        #[arg(long)]
        ids: bool,
    },
    /// Replace the text of one of your messages (everyone's copy).
    Edit {
        /// The conversation: a user id, or `#` and a group's name or id.
        with: String,
        /// The message id (`history --ids`).
        id: String,
        /// The new text.
        text: String,
    },
    /// Delete one of your messages for everyone.
    Delete {
        /// The conversation: a user id, or `#` and a group's name or id.
        with: String,
        /// The message id (`history --ids`).
        id: String,
    },
    /// React to a message with an emoji.
    React {
        /// The conversation: a user id, or `#` and a group's name or id.
        with: String,
        /// The message's author.
        author: UserId,
        /// The message id (`history --ids`).
        id: String,
        /// The emoji.
        emoji: String,
        /// Take the reaction back.
        #[arg(long)]
        remove: bool,
    },
    /// Group conversations.
    #[command(subcommand)]
    Group(GroupCommand),
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
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
    /// List your groups.
    List,
}

fn home(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.home {
        Some(h) => Ok(h.clone()),
        None => {
            let home = std::env::var_os("HOME").context("no --home given and $HOME is not set")?;
            Ok(PathBuf::from(home).join(".parley"))
        }
    }
}

fn key_source(cli: &Cli) -> anyhow::Result<KeySource> {
    match &cli.key_dir {
        Some(dir) => Ok(KeySource::key_file_in(dir.clone())),
        None => Ok(KeySource::default_key_file()?),
    }
}

/// A TLS certificate pin: 32 bytes.
#[derive(Clone, Copy, Debug)]
struct TlsPin([u8; 32]);

fn tls_pin(text: &str) -> Result<TlsPin, String> {
    parley_client::tls::parse_pin(text)
        .map(TlsPin)
        .ok_or_else(|| "a pin is 64 hex digits (the SHA-256 parley-server prints)".to_owned())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A user id, or `#` and a group's name or id.
async fn target(m: &Messenger, to: &str) -> anyhow::Result<Target> {
    match to.strip_prefix('#') {
        Some(group) => Ok(Target::Group(m.find_group(group).await?)),
        None => Ok(Target::User(UserId::new(to)?)),
    }
}

fn message_id(text: &str) -> anyhow::Result<MessageId> {
    let bytes = text.as_bytes();
    let mut id = [0u8; 16];
    if bytes.len() != 32 {
        anyhow::bail!("a message id is 32 hex digits (see `parley history --ids`)");
    }
    for (o, pair) in id.iter_mut().zip(bytes.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).context("a message id is hex digits")?;
        *o = u8::from_str_radix(pair, 16).context("a message id is hex digits")?;
    }
    Ok(MessageId(id))
}

/// Opens the messenger of the account at `home`, runs `f`, and closes it whatever happened.
async fn with_messenger<T>(
    home: &std::path::Path,
    keys: KeySource,
    f: impl AsyncFnOnce(&Messenger) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let m = Messenger::new(Store::open(home, keys, None).await?).await?;
    let result = f(&m).await;
    m.close().await;
    result
}

const QUEUED: &str =
    "not sent yet: the message stays queued and the next send or listen retries it";

async fn run(cli: Cli) -> anyhow::Result<()> {
    let home = home(&cli)?;
    let keys = key_source(&cli)?;
    match &cli.command {
        Command::InitOrg {
            relay,
            tls_pin,
            setup_token,
            user,
            org_name,
        } => {
            let store = enrol::create_org(
                &home,
                keys,
                relay,
                tls_pin.map(|p| p.0),
                setup_token,
                user,
                org_name,
            )
            .await?;
            println!("Created the org {org_name:?}; you are {user}, device 1, its first admin.");
            println!(
                "The org root key stays in this device's encrypted store ({}).",
                home.display()
            );
            store.close().await;
        }
        Command::Invite { user, device } => {
            let store = Store::open(&home, keys, None).await?;
            let text = enrol::invite(&store, user, !device).await;
            store.close().await;
            println!("{}", text?);
        }
        Command::LinkDevice => {
            let store = Store::open(&home, keys, None).await?;
            let text = enrol::link(&store).await;
            store.close().await;
            println!("{}", text?);
        }
        Command::Join { invite } => {
            let store = enrol::join(&home, keys, invite).await?;
            let mut tx = store.begin().await?;
            let account = tx.account().await?.context("the account was not saved")?;
            tx.commit().await?;
            println!("Joined as {}, device {}.", account.user, account.device);
            store.close().await;
        }
        Command::Whoami => {
            let store = Store::open(&home, keys, None).await?;
            let mut tx = store.begin().await?;
            let account = tx
                .account()
                .await?
                .context("this account is not enrolled")?;
            tx.commit().await?;
            store.close().await;
            println!("user:    {}", account.user);
            println!("device:  {}", account.device);
            println!("relay:   {}", account.relay_url);
            println!("org:     {}", hex(&account.org_genesis_hash));
        }
        Command::Devices { user } => {
            let store = Store::open(&home, keys, None).await?;
            let mut tx = store.begin().await?;
            let account = tx
                .account()
                .await?
                .context("this account is not enrolled")?;
            tx.commit().await?;
            store.close().await;
            let user = match user {
                Some(u) => u.clone(),
                None => UserId::new(account.user.clone())?,
            };
            let list = enrol::relay_for(&account)?.devices(&user).await?;
            for d in list.devices {
                println!(
                    "{user}.{}  registered {}  identity {}…",
                    d.device,
                    d.created_at,
                    hex(d.identity.as_bytes().get(1..9).unwrap_or_default())
                );
            }
        }
        Command::Send { to, text } => {
            with_messenger(&home, keys, async |m| {
                let to = target(m, to).await?;
                m.send_text(&to, text).await.context(QUEUED)?;
                Ok(())
            })
            .await?;
        }
        Command::SendFile { to, path, caption } => {
            with_messenger(&home, keys, async |m| {
                let to = target(m, to).await?;
                let result = m
                    .send_file(&to, path, caption.clone(), progress_bar("upload"))
                    .await;
                eprintln!();
                result.context("the file was not sent")?;
                Ok(())
            })
            .await?;
        }
        Command::Listen {
            json,
            drain,
            download_dir,
        } => {
            let downloads = download_dir
                .clone()
                .unwrap_or_else(|| home.join("downloads"));
            with_messenger(&home, keys, async |m| {
                listen(m, *json, *drain, &downloads).await
            })
            .await?;
        }
        Command::History { with, limit, ids } => {
            with_messenger(&home, keys, async |m| {
                let to = target(m, with).await?;
                let group = matches!(to, Target::Group(_));
                for e in m.history(&to, *limit).await? {
                    let id = if *ids {
                        format!("{} ", hex(&e.id.0))
                    } else {
                        String::new()
                    };
                    let mark = if e.outgoing { ">" } else { "<" };
                    if group && !e.outgoing {
                        println!("{id}{mark} {}: {}", e.author, e.text);
                    } else {
                        println!("{id}{mark} {}", e.text);
                    }
                }
                Ok(())
            })
            .await?;
        }
        Command::Edit { with, id, text } => {
            with_messenger(&home, keys, async |m| {
                let to = target(m, with).await?;
                m.edit(&to, message_id(id)?, text).await.context(QUEUED)?;
                Ok(())
            })
            .await?;
        }
        Command::Delete { with, id } => {
            with_messenger(&home, keys, async |m| {
                let to = target(m, with).await?;
                m.delete(&to, message_id(id)?).await.context(QUEUED)?;
                Ok(())
            })
            .await?;
        }
        Command::React {
            with,
            author,
            id,
            emoji,
            remove,
        } => {
            with_messenger(&home, keys, async |m| {
                let to = target(m, with).await?;
                let target = MessageRef {
                    author: author.clone(),
                    id: message_id(id)?,
                };
                m.react(&to, target, emoji, *remove).await.context(QUEUED)?;
                Ok(())
            })
            .await?;
        }
        Command::Group(command) => {
            with_messenger(&home, keys, async |m| group(m, command).await).await?;
        }
    }
    Ok(())
}

async fn group(m: &Messenger, command: &GroupCommand) -> anyhow::Result<()> {
    match command {
        GroupCommand::Create { name, members } => {
            let id = m.create_group(name, members).await.context(QUEUED)?;
            println!("{}", hex(&id.0));
        }
        GroupCommand::Add { group, members } => {
            let id = m.find_group(group).await?;
            m.add_members(&id, members).await.context(QUEUED)?;
        }
        GroupCommand::Remove { group, members } => {
            let id = m.find_group(group).await?;
            m.remove_members(&id, members).await.context(QUEUED)?;
        }
        GroupCommand::List => {
            for g in m.groups().await? {
                println!("{}  {}  ({})", hex(&g.id.0), g.name, g.members.join(", "));
            }
        }
    }
    Ok(())
}

/// Receives until interrupted (or, with `drain`, until the queue is empty).
/// A progress line on stderr: `label 42% (1.2 of 2.9 MiB)`, redrawn in place.
fn progress_bar(label: &'static str) -> impl Fn(u64, u64) + Send + Sync + 'static {
    use std::io::Write as _;
    let last = std::sync::atomic::AtomicU64::new(u64::MAX);
    move |done, total| {
        let pct = (done.saturating_mul(100)).checked_div(total).unwrap_or(100);
        if last.swap(pct, std::sync::atomic::Ordering::Relaxed) != pct {
            let mib = |b: u64| b as f64 / 1_048_576.0;
            let mut err = std::io::stderr().lock();
            let _ = write!(
                err,
                "\r{label} {pct:>3}% ({:.1} of {:.1} MiB)",
                mib(done),
                mib(total)
            );
            let _ = err.flush();
        }
    }
}

async fn listen(
    m: &Messenger,
    json: bool,
    drain: bool,
    downloads: &std::path::Path,
) -> anyhow::Result<()> {
    if let Err(e) = m.flush_outbox(true).await {
        eprintln!("warning: queued messages not sent yet: {e}");
    }
    let mut events = m.events().await?;
    let mut upkept = false;
    while let Some(event) = events.next().await {
        match event? {
            Event::Message(msg) => {
                let mut text = match &msg.body {
                    Body::Text { .. } | Body::File { .. } => {
                        msg.text().unwrap_or_default().to_owned()
                    }
                    Body::Edit { target, text } => {
                        format!("[edited {}] {text}", hex(&target.id.0))
                    }
                    Body::Delete { target } => format!("[deleted {}]", hex(&target.id.0)),
                    Body::Receipt { receipt, targets } => {
                        format!("[{receipt:?} receipt for {} message(s)]", targets.len())
                    }
                    Body::Typing { started: true } => "[typing]".to_owned(),
                    Body::Typing { started: false } => "[stopped typing]".to_owned(),
                    body => parley_client::messaging::describe(body)
                        .unwrap_or_else(|| "[a message this version cannot show]".to_owned()),
                };
                let mut saved = None;
                if let Some(file) = msg.file() {
                    let result = parley_client::files::download(
                        m.relay(),
                        file,
                        downloads,
                        progress_bar("download"),
                    )
                    .await;
                    eprintln!();
                    match result {
                        Ok(path) => {
                            saved = Some(path.display().to_string());
                            let note = format!("[file saved to {}]", path.display());
                            text = if text.is_empty() {
                                note
                            } else {
                                format!("{text} {note}")
                            };
                        }
                        Err(e) => text = format!("[a file that could not be downloaded: {e}]"),
                    }
                }
                let group = match msg.group {
                    Some(g) => m.group(&g).await.ok().map(|g| g.name),
                    None => None,
                };
                if json {
                    let line = serde_json::json!({
                        "from": msg.from, "device": msg.device, "to": msg.sync_to,
                        "group": group, "id": hex(&msg.id.0),
                        "sent_at": msg.sent_at, "text": text, "file": saved,
                    });
                    println!("{line}");
                } else if let Some(g) = &group {
                    println!("#{g} {}: {text}", msg.from);
                } else if let Some(to) = &msg.sync_to {
                    println!("(you, to {to}) {text}");
                } else {
                    println!("{}: {text}", msg.from);
                }
            }
            Event::Dropped { from, error } => {
                eprintln!(
                    "warning: dropped an envelope from {from}: {}",
                    error.message
                );
            }
            Event::CaughtUp => {
                // Prekeys are refilled once what was queued has been read: a refill may
                // forget the oldest claimed keys, which queued first messages could need.
                if !upkept {
                    upkept = true;
                    if let Err(e) = m.upkeep().await {
                        eprintln!("warning: could not refresh prekeys: {e}");
                    }
                }
                if drain {
                    break;
                }
            }
            _ => {}
        }
    }
    events.close().await;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
