//! The open account of the app and its delivery loop.
//!
//! The app holds one [`Messenger`] while the account is open. A background task keeps its
//! delivery connection: every event is stored by the engine first, then told to the UI as a
//! [`UiEvent`] on [`EVENT`]. When the connection drops it reconnects with a growing delay
//! (1 s doubling to 60 s, jittered); when the engine says this device was revoked or wiped it
//! erases what is left of the account here and tells the UI why ([`UiEvent::Gone`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use parley_client::messaging::{Event, Messenger, Target};
use parley_client::store::{KeySource, OsKeystore, Store};
use parley_proto::content::Body;
use tauri::{AppHandle, Emitter as _};
use tokio::sync::Mutex;

use crate::dto::{
    Chat, CommandError, Connection, GoneReason, Item, PresenceDto, StatusDto, TaskDto, UiEvent,
};

/// A file in the key folder whose presence says the account's store key is in the OS
/// keystore, not in that folder.
const OS_KEYSTORE_MARK: &str = "in-os-keystore";

/// The name of the Tauri event that carries [`UiEvent`]s.
pub const EVENT: &str = "parley://event";

/// Where the account lives and the open session, if any.
pub struct Shared {
    /// The account directory.
    pub home: PathBuf,
    /// Where the store key's local half is kept (a 0600 file in this folder, outside `home`).
    pub key_dir: PathBuf,
    session: Mutex<Option<Session>>,
    /// The delivery connection's state, for a window that asks (`connection_state`) after
    /// the event that set it went by.
    connection: std::sync::Mutex<Connection>,
    /// The `parley-invite:` link the app was started with, until the first-run screen takes it.
    invite: std::sync::Mutex<Option<String>>,
}

struct Session {
    messenger: Arc<Messenger>,
    listener: tauri::async_runtime::JoinHandle<()>,
}

impl Shared {
    /// The app's state for an account in `home`, its key in `key_dir`.
    pub fn new(home: PathBuf, key_dir: PathBuf) -> Self {
        Self {
            home,
            key_dir,
            session: Mutex::new(None),
            connection: std::sync::Mutex::new(Connection::Connecting),
            invite: std::sync::Mutex::new(None),
        }
    }

    /// Keeps the invite link the app was opened with, for the first-run screen.
    pub fn offer_invite(&self, invite: String) {
        if let Ok(mut i) = self.invite.lock() {
            *i = Some(invite);
        }
    }

    /// The invite link the app was opened with, once.
    pub fn take_invite(&self) -> Option<String> {
        self.invite.lock().ok().and_then(|mut i| i.take())
    }

    /// The key source of the account here: the OS keystore if the account was made with it
    /// ([`Shared::new_keys`] left its mark in `key_dir`), else a key file in `key_dir`.
    pub fn keys(&self) -> KeySource {
        if self.in_os_keystore() {
            KeySource::os_keystore()
        } else {
            KeySource::key_file_in(self.key_dir.clone())
        }
    }

    /// Whether the account's store key is in the OS keystore.
    pub fn in_os_keystore(&self) -> bool {
        self.key_dir.join(OS_KEYSTORE_MARK).exists()
    }

    /// The key source for a new account: the OS keystore (the Secret Service on Linux) when
    /// one answers, else a 0600 file in `key_dir`. `PARLEY_KEYSTORE=file` always takes the
    /// file; `PARLEY_KEYSTORE=os` requires the keystore.
    pub async fn new_keys(&self) -> Result<KeySource, CommandError> {
        let choice = std::env::var("PARLEY_KEYSTORE").unwrap_or_default();
        let os = match choice.as_str() {
            "file" => false,
            _ => OsKeystore::available(Duration::from_secs(5)).await,
        };
        if choice == "os" && !os {
            return Err(CommandError::new(
                "keystore_unavailable",
                "the system keyring does not answer",
            ));
        }
        let mark = self.key_dir.join(OS_KEYSTORE_MARK);
        let written = if os {
            std::fs::create_dir_all(&self.key_dir).and_then(|()| std::fs::write(&mark, b""))
        } else {
            match std::fs::remove_file(&mark) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            }
        };
        written.map_err(|_| {
            CommandError::new("store_failed", "the key folder could not be written")
        })?;
        tracing::info!(
            os_keystore = os,
            "where the new account's store key is kept"
        );
        Ok(self.keys())
    }

    /// Whether an account exists here (enrolled or not).
    pub fn has_account(&self) -> bool {
        Store::database_path(&self.home).exists()
    }

    /// The open messenger; `not_open` when there is none.
    pub async fn messenger(&self) -> Result<Arc<Messenger>, CommandError> {
        self.session
            .lock()
            .await
            .as_ref()
            .map(|s| Arc::clone(&s.messenger))
            .ok_or_else(|| CommandError::new("not_open", "no account is open on this computer"))
    }

    /// Opens the account with `store` and starts its delivery loop (an open one is closed
    /// first).
    pub async fn start(
        self: &Arc<Self>,
        app: &AppHandle,
        store: Store,
    ) -> Result<Arc<Messenger>, parley_client::Error> {
        let messenger = Arc::new(Messenger::new(store).await?);
        let listener = tauri::async_runtime::spawn(listen(
            app.clone(),
            Arc::clone(self),
            Arc::clone(&messenger),
        ));
        let old = self.session.lock().await.replace(Session {
            messenger: Arc::clone(&messenger),
            listener,
        });
        if let Some(old) = old {
            old.listener.abort();
        }
        Ok(messenger)
    }

    /// The delivery connection's state now.
    pub fn connection(&self) -> Connection {
        self.connection
            .lock()
            .map_or(Connection::Connecting, |c| *c)
    }

    /// Records the connection's state and tells the UI.
    fn set_connection(&self, app: &AppHandle, state: Connection) {
        if let Ok(mut c) = self.connection.lock() {
            *c = state;
        }
        emit(app, UiEvent::Connection { state });
    }

    /// This device is revoked or wiped: erase what is left and tell the UI.
    pub async fn gone(&self, app: &AppHandle, m: &Messenger, reason: GoneReason) {
        if reason != GoneReason::Wiped
            && reason != GoneReason::OfflineWiped
            && let Err(e) = m.erase_here().await
        {
            tracing::warn!(code = e.code(), "erasing the revoked account failed");
        }
        // The session ends. Its listener is the caller (or was already told): the handle is
        // dropped, not aborted, and the listener returns right after.
        drop(self.session.lock().await.take());
        emit(app, UiEvent::Gone { reason });
    }
}

/// Sends `event` to the UI; a window that is gone is not an error.
pub fn emit(app: &AppHandle, event: UiEvent) {
    if let Err(e) = app.emit(EVENT, event) {
        tracing::debug!(error = %e, "no window took the event");
    }
}

/// The session's background work: delivery, and deleting messages whose time is up.
async fn listen(app: AppHandle, shared: Arc<Shared>, m: Arc<Messenger>) {
    tokio::select! {
        () = deliver(app.clone(), shared, Arc::clone(&m)) => {}
        () = sweep(app, m) => {}
    }
}

/// Deletes disappearing messages as their time comes (each second), and tells the UI which
/// conversations lost some; fires task reminders.
async fn sweep(app: AppHandle, m: Arc<Messenger>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match m.sweep_expired().await {
            Ok(targets) => {
                for target in targets {
                    emit(
                        &app,
                        UiEvent::Changed {
                            chat: Chat::of(&target),
                            notify: None,
                        },
                    );
                }
            }
            Err(e) => tracing::debug!(code = e.code(), "sweep failed"),
        }
        // Reminders keep time while the relay is out of reach too.
        match m.take_task_reminders().await {
            Ok(fired) => {
                for r in fired {
                    emit(
                        &app,
                        UiEvent::TaskReminder {
                            task: TaskDto::from(&*r.task),
                            reminder: r.kind.into(),
                        },
                    );
                }
            }
            Err(e) => tracing::debug!(code = e.code(), "reminders not checked"),
        }
    }
}

/// The delivery loop: connect, report each event, reconnect after a drop.
async fn deliver(app: AppHandle, shared: Arc<Shared>, m: Arc<Messenger>) {
    let mut delay = Duration::from_secs(1);
    loop {
        shared.set_connection(&app, Connection::Connecting);
        let failure = match m.events().await {
            Ok(mut events) => {
                delay = Duration::from_secs(1);
                let mut failure = None;
                while let Some(next) = events.next().await {
                    match next {
                        Ok(Event::CaughtUp) => shared.set_connection(&app, Connection::Online),
                        Ok(event) => report(&app, &m, event).await,
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                events.close().await;
                failure
            }
            Err(e) => Some(e),
        };
        if let Some(e) = failure {
            let e = m.explain(e).await;
            if let Some(reason) = GoneReason::of(&e) {
                shared.gone(&app, &m, reason).await;
                return;
            }
            if matches!(e, parley_client::Error::ConnectionReplaced) {
                tracing::warn!("another connection of this device took over delivery");
            }
            tracing::info!(code = e.code(), "delivery connection lost; reconnecting");
        }
        tokio::time::sleep(jitter(delay)).await;
        delay = (delay * 2).min(Duration::from_secs(60));
    }
}

/// Between 50 % and 100 % of `d`, so that many apps do not reconnect in step.
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    d / 2 + d.mul_f64(f64::from(nanos % 1000) / 2000.0)
}

/// Tells the UI about one engine event.
async fn report(app: &AppHandle, m: &Messenger, event: Event) {
    let ui = match event {
        Event::Message(r) => {
            let chat = match (&r.group, &r.sync_to) {
                (Some(group), _) => Chat::of(&Target::Group(*group)),
                (None, Some(to)) => Chat::of(&Target::User(to.clone())),
                (None, None) => Chat::of(&Target::User(r.from.clone())),
            };
            if let Body::Presence { state, last_seen } = r.body {
                UiEvent::Presence {
                    presence: PresenceDto {
                        user: r.from.to_string(),
                        state: state.into(),
                        last_seen,
                    },
                }
            } else if let Body::Status { text, until, .. } = r.body {
                UiEvent::Status {
                    status: StatusDto {
                        user: r.from.to_string(),
                        text,
                        until,
                    },
                }
            } else if let Body::Typing { started } = r.body {
                UiEvent::Typing {
                    chat,
                    user: r.from.to_string(),
                    started,
                }
            } else {
                // The engine decided from this user's settings for the conversation.
                let notify = match r.notify {
                    true => newest(m, &chat, &r.id).await,
                    false => None,
                };
                UiEvent::Changed { chat, notify }
            }
        }
        // A change that adds and revokes nothing (a dismissal of a user whose devices were
        // already revoked) is nothing to warn about.
        Event::DevicesChanged { added, revoked, .. } if added.is_empty() && revoked.is_empty() => {
            return;
        }
        Event::DevicesChanged {
            user,
            added,
            revoked,
        } => UiEvent::DevicesChanged {
            user: user.to_string(),
            added,
            revoked,
        },
        Event::DirectoryGroupsChanged { groups } => {
            for g in groups {
                emit(
                    app,
                    UiEvent::Changed {
                        chat: Chat::of(&Target::Group(g)),
                        notify: None,
                    },
                );
            }
            return;
        }
        Event::TaskReminder(r) => UiEvent::TaskReminder {
            task: TaskDto::from(&*r.task),
            reminder: r.kind.into(),
        },
        Event::TrustAlarm { error } => UiEvent::TrustAlarm {
            error: error.into(),
        },
        Event::Dropped { from, error } => UiEvent::Dropped {
            from: from.to_string(),
            error: error.into(),
        },
        _ => return,
    };
    emit(app, ui);
}

/// The stored row of message `id` in `chat`, as the UI shows it (for a notification).
async fn newest(m: &Messenger, chat: &Chat, id: &parley_proto::content::MessageId) -> Option<Item> {
    let target = chat.target().ok()?;
    let rows = m.timeline(&target, None, 20).await.ok()?;
    rows.into_iter()
        .rev()
        .find(|i| i.id == *id)
        .and_then(Item::of)
}
