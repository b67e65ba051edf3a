//! `parley listen`: prints what arrives, saving files, until interrupted (or, with `--drain`,
//! until caught up). When the connection drops or cannot be made, it reconnects with
//! jittered exponential backoff ([`crate::backoff`]) and flushes the outbox again; it gives
//! up (exit 75) when no working connection could be had for `--give-up-after` seconds.
//! A bare close of the WebSocket is a dropped connection, not the end.
//!
//! A message's line for people is passed through [`printable`]: its text, caption, file
//! name, reaction and group name were chosen by peers and must not rewrite the terminal
//! (docs/threat-model.md); the `--json` line keeps them exact.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use parley_client::messaging::{Event, Messenger, Received};
use parley_client::tasks::ReminderKind;
use parley_proto::content::Body;
use serde::Serialize;

use super::{hex, printable, with_messenger};
use crate::backoff::Backoff;
use crate::{CliError, Context, Outcome, Output};

/// Examples in `parley listen --help`.
pub const AFTER_HELP: &str = "\
Examples:
  parley listen                            # until Ctrl-C; reconnects when the relay goes away
  parley listen --drain                    # what is queued for this device, then exit
  parley --json listen | jq -r .text       # one JSON object per event, for bots
  parley listen --give-up-after 60         # exit 75 after a minute without a connection

A message that your notification settings keep quiet (parley notify) starts with (quiet).

Exits 0 when interrupted (Ctrl-C, SIGTERM) or, with --drain, once caught up; 75 when it
gives up reconnecting.";

/// A connection that stayed up this long starts the backoff again from its first delay.
const STABLE: Duration = Duration::from_secs(30);

/// `listen`'s arguments.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exit once everything queued for this device has been received.
    #[arg(long)]
    pub drain: bool,
    /// Save received files (decrypted) into this folder. Without it they are kept encrypted
    /// in the account directory until `parley save-file` saves one.
    #[arg(long)]
    pub download_dir: Option<PathBuf>,
    /// Give up (exit 75) when no working connection could be had for this many seconds;
    /// 0 gives up at the first failure.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub give_up_after: u64,
}

/// `{"event": "message", "from", "device", "to", "group", "id", "sent_at", "text", "file",
/// "mentioned", "notify"}`: `to` is the recipient of a copy of one's own 1:1 message from
/// another device, `group` the group's name, `file` where a received file was saved (with
/// `--download-dir`), `kept` whether it is kept encrypted for `save-file`, `mentioned`
/// whether it mentions you, `notify` whether your settings for the conversation say it
/// should notify (a message from someone else that should not starts with `(quiet)` for
/// people).
#[derive(Debug, Serialize)]
struct MessageLine {
    event: &'static str,
    from: String,
    device: u32,
    to: Option<String>,
    group: Option<String>,
    id: String,
    sent_at: u64,
    text: String,
    file: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    kept: bool,
    mentioned: bool,
    notify: bool,
}

/// `{"event": "dropped", "from": "bob", "error": {"code", "message"}}`.
#[derive(Debug, Serialize)]
struct DroppedLine<'a> {
    event: &'static str,
    from: &'a str,
    error: &'a parley_client::ErrorInfo,
}

/// Listens.
pub async fn run(ctx: &Context, out: &Output, args: &Args) -> Result<Outcome, CliError> {
    let downloads = args.download_dir.as_deref();
    with_messenger(ctx, async |m| {
        tokio::select! {
            result = listen(m, out, args, downloads) => result,
            () = interrupted() => {
                tracing::info!("interrupted");
                Ok(())
            }
        }
    })
    .await?;
    Ok(Outcome::streamed())
}

/// Resolves on Ctrl-C or SIGTERM (never, if they cannot be watched).
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                r = tokio::signal::ctrl_c() => if r.is_err() { std::future::pending::<()>().await },
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// How a connection ended.
enum End {
    /// Caught up with `--drain`.
    Drained,
    /// It could not be made, for now.
    Failed(parley_client::Error),
    /// It was made, then dropped.
    Lost {
        /// Why.
        error: parley_client::Error,
        /// How long it was up.
        up: Duration,
    },
}

/// Connects, receives, and reconnects until drained, or gives up.
async fn listen(
    m: &Messenger,
    out: &Output,
    args: &Args,
    downloads: Option<&Path>,
) -> Result<(), CliError> {
    let give_up = Duration::from_secs(args.give_up_after);
    let mut backoff = Backoff::new();
    // When the last working connection was lost (or the first attempt failed), and the
    // connection attempts that failed since.
    let mut lost: Option<(Instant, u32)> = None;
    loop {
        let error = match session(m, out, args, downloads, &mut lost).await? {
            End::Drained => return Ok(()),
            End::Failed(error) => {
                let (_, attempts) = lost.get_or_insert((Instant::now(), 0));
                *attempts = attempts.saturating_add(1);
                error
            }
            End::Lost { error, up } => {
                if up >= STABLE {
                    backoff.reset();
                }
                lost.get_or_insert((Instant::now(), 0));
                error
            }
        };
        let (since, attempts) = lost.unwrap_or((Instant::now(), 0));
        let elapsed = since.elapsed();
        if elapsed >= give_up {
            return Err(CliError::GaveUp {
                error,
                attempts,
                after: elapsed,
            });
        }
        let delay = backoff.next_delay().min(give_up.saturating_sub(elapsed));
        tracing::info!(error = %error, delay_ms = delay.as_millis(), "no connection");
        out.warn(format_args!(
            "{error}; reconnecting in {:.1} s",
            delay.as_secs_f64()
        ));
        tokio::time::sleep(delay).await;
    }
}

/// One connection: connects, flushes the outbox, then prints events until it drops (or,
/// with `--drain`, until caught up). A working connection (caught up) clears `lost`.
async fn session(
    m: &Messenger,
    out: &Output,
    args: &Args,
    downloads: Option<&Path>,
    lost: &mut Option<(Instant, u32)>,
) -> Result<End, CliError> {
    let mut events = match m.events().await {
        Ok(events) => events,
        Err(e) if e.is_temporary() => return Ok(End::Failed(e)),
        Err(e) => return Err(e.into()),
    };
    let since = Instant::now();
    if lost.is_some() {
        out.note("reconnected");
    }
    tracing::info!("connected to the relay");
    match m.flush_outbox(true).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(sent = n, "queued messages sent"),
        Err(e) => out.warn(format_args!("queued messages not sent yet: {e}")),
    }
    let mut upkept = false;
    let end = loop {
        let event = match events.next().await {
            // The stream ended without a word from the relay: a dropped connection.
            None => {
                break End::Lost {
                    error: parley_client::Error::ConnectionClosed,
                    up: since.elapsed(),
                };
            }
            Some(Err(e)) if e.is_temporary() => {
                break End::Lost {
                    error: e,
                    up: since.elapsed(),
                };
            }
            Some(Err(e)) => {
                events.close().await;
                return Err(e.into());
            }
            Some(Ok(event)) => event,
        };
        match event {
            Event::Message(msg) => message(m, out, downloads, &msg).await?,
            Event::Dropped { from, error } => {
                if out.is_json() {
                    out.event(
                        "",
                        &DroppedLine {
                            event: "dropped",
                            from: from.as_str(),
                            error: &error,
                        },
                    )?;
                } else {
                    out.warn(format_args!(
                        "dropped an envelope from {from}: {}",
                        error.message
                    ));
                }
            }
            Event::DevicesChanged {
                user,
                added,
                revoked,
            } => {
                let list = |v: &[u32]| {
                    v.iter()
                        .map(|d| format!("{user}.{d}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut words = Vec::new();
                if !added.is_empty() {
                    words.push(format!("added {}", list(&added)));
                }
                if !revoked.is_empty() {
                    words.push(format!("revoked {}", list(&revoked)));
                }
                if words.is_empty() {
                    words.push("all devices removed".to_owned());
                }
                let human = format!("* {user}'s devices changed: {}", words.join("; "));
                let json = serde_json::json!({
                    "event": "devices_changed",
                    "user": user.as_str(),
                    "added": added,
                    "revoked": revoked,
                });
                out.event(&human, &json)?;
            }
            Event::DirectoryGroupsChanged { groups } => {
                let mut names = Vec::new();
                for g in &groups {
                    names.push(match m.group(g).await {
                        Ok(info) => format!("#{}", printable(&info.name)),
                        Err(_) => hex(&g.0),
                    });
                }
                let human = format!("* the directory changed {}", names.join(", "));
                let ids: Vec<String> = groups.iter().map(|g| hex(&g.0)).collect();
                let json = serde_json::json!({ "event": "groups_changed", "groups": ids });
                out.event(&human, &json)?;
            }
            Event::TaskReminder(reminder) => {
                let (word, kind) = match reminder.kind {
                    ReminderKind::Soon => ("soon", "soon"),
                    ReminderKind::Due => ("now", "due"),
                };
                let human = format!(
                    "* reminder: due {word}: {}",
                    super::tasks::line(m, &reminder.task).await
                );
                let json = serde_json::json!({
                    "event": "task_reminder",
                    "kind": kind,
                    "task": hex(&reminder.task.id.0),
                    "title": reminder.task.title,
                    "deadline": reminder.task.deadline,
                });
                out.event(&human, &json)?;
            }
            Event::TrustAlarm { error } => {
                if out.is_json() {
                    let json = serde_json::json!({ "event": "trust_alarm", "error": &error });
                    out.event("", &json)?;
                } else {
                    out.warn(format_args!(
                        "SECURITY WARNING: {} ({}). Nothing from it was used; tell your \
                         security team.",
                        error.message, error.code
                    ));
                }
            }
            Event::CaughtUp => {
                *lost = None;
                // Prekeys are refilled once what was queued has been read: a refill may
                // forget the oldest claimed keys, which queued first messages could need.
                if !upkept {
                    upkept = true;
                    if let Err(e) = m.upkeep().await {
                        out.warn(format_args!("could not refresh prekeys: {e}"));
                    }
                }
                if args.drain {
                    break End::Drained;
                }
            }
            _ => {}
        }
    };
    events.close().await;
    Ok(end)
}

/// Prints a received message (downloading its file, if any).
async fn message(
    m: &Messenger,
    out: &Output,
    downloads: Option<&Path>,
    msg: &Received,
) -> Result<(), CliError> {
    let mut text = match &msg.body {
        Body::Text { .. } | Body::File { .. } => msg.text().unwrap_or_default().to_owned(),
        Body::Edit { target, text, .. } => format!("[edited {}] {text}", hex(&target.id.0)),
        Body::Delete { target } => format!("[deleted {}]", hex(&target.id.0)),
        Body::Receipt { receipt, targets } => {
            format!("[{receipt:?} receipt for {} message(s)]", targets.len())
        }
        Body::Typing { started: true } => "[typing]".to_owned(),
        Body::Typing { started: false } => "[stopped typing]".to_owned(),
        body => parley_client::messaging::describe(body)
            .unwrap_or_else(|| "[a message this version cannot show]".to_owned()),
    };
    let (mut saved, mut kept) = (None, false);
    if let Some(file) = msg.file() {
        let progress = out.progress("download");
        let result = match downloads {
            Some(dir) => parley_client::files::download(m.relay(), file, dir, progress.callback())
                .await
                .map(Some),
            None => m.keep_file(file, progress.callback()).await.map(|_| None),
        };
        progress.finish(result.is_ok());
        let note = match result {
            Ok(Some(path)) => {
                saved = Some(path.display().to_string());
                format!("[file saved to {}]", path.display())
            }
            Ok(None) => {
                kept = true;
                format!(
                    "[file kept encrypted; save it with: parley save-file {} {} DIR]",
                    msg.from,
                    hex(&msg.id.0)
                )
            }
            Err(e) => format!("[a file that could not be downloaded: {e}]"),
        };
        text = if text.is_empty() || note.starts_with("[a file that") {
            note
        } else {
            format!("{text} {note}")
        };
    }
    let group = match msg.group {
        Some(g) => m.group(&g).await.ok().map(|g| g.name),
        None => None,
    };
    // A message or file from someone else that the settings keep quiet says so.
    let quiet = !msg.notify
        && msg.from.as_str() != m.user()
        && matches!(msg.body, Body::Text { .. } | Body::File { .. });
    let human = if quiet { "(quiet) " } else { "" }.to_owned()
        + &printable(&if let Some(g) = &group {
            format!("#{g} {}: {text}", msg.from)
        } else if let Some(to) = &msg.sync_to {
            format!("(you, to {to}) {text}")
        } else {
            format!("{}: {text}", msg.from)
        });
    let line = MessageLine {
        event: "message",
        from: msg.from.to_string(),
        device: msg.device,
        to: msg.sync_to.as_ref().map(ToString::to_string),
        group,
        id: hex(&msg.id.0),
        sent_at: msg.sent_at,
        text,
        file: saved,
        kept,
        mentioned: msg.mentioned,
        notify: msg.notify,
    };
    out.event(&human, &line)
}
