//! The event stream of a connected device, as the CLI and the desktop app consume it.

use parley_proto::{DeviceId, UserId};

use crate::error::{Error, Result};

use super::*;

/// How long the event stream waits for the relay before it looks at the clock again.
const TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// What happens to this device, as the CLI and the desktop app consume it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Something arrived and its effects are stored.
    Message(Box<Received>),
    /// Everything queued for this device while it was away has been received.
    CaughtUp,
    /// The verified org log changed a colleague's devices (or this user's own): devices
    /// added, devices revoked (a dismissed user's devices are all revoked). Messages go only
    /// to the devices the log lists.
    DevicesChanged {
        /// Whose.
        user: UserId,
        /// Devices added.
        added: Vec<DeviceId>,
        /// Devices revoked.
        revoked: Vec<DeviceId>,
    },
    /// The directory changed who is in these department groups or the company channel (or
    /// their names); the members who left are already rotated out.
    DirectoryGroupsChanged {
        /// The groups.
        groups: Vec<parley_proto::content::GroupId>,
    },
    /// The relay showed an org log that does not verify or does not extend the one this
    /// device verified (a rollback, a rewrite, a fork): an alarm for the user and the
    /// security team. Nothing of it was used.
    TrustAlarm {
        /// What was seen, as a code and a sentence.
        error: crate::ErrorInfo,
    },
    /// A task assigned to this user is near its deadline, or has reached it (from this
    /// device's clock; each fires once).
    TaskReminder(crate::tasks::Reminder),
    /// An envelope could not be decrypted or read and was dropped (it never will be).
    Dropped {
        /// Its sender.
        from: UserId,
        /// Why, as a code and a sentence.
        error: crate::ErrorInfo,
    },
}

/// The event stream of a connected device (see [`Messenger::events`]).
#[derive(Debug)]
pub struct Events<'a> {
    messenger: &'a Messenger,
    ws: crate::relay::Delivery,
    /// Events made by one frame and not yet returned.
    pending: std::collections::VecDeque<Event>,
}

impl Messenger {
    /// Connects to the relay and returns the stream of [`Event`]s for this device: each
    /// envelope is decrypted and stored, then acknowledged, then reported.
    pub async fn events(&self) -> Result<Events<'_>> {
        let ws = match self.relay.connect().await {
            Ok(ws) => ws,
            Err(e) => return Err(self.explain(e.into()).await),
        };
        tracing::info!("delivery socket connected");
        Ok(Events {
            messenger: self,
            ws,
            pending: std::collections::VecDeque::new(),
        })
    }
}

impl Events<'_> {
    /// The next event; `None` when the connection ended without a word from the relay.
    ///
    /// An envelope is acknowledged only after what it carried is stored, so a crash means a
    /// redelivery (ignored as a repeat), never a loss. If the store or the relay fails, the
    /// error is returned and the envelope is not acknowledged.
    pub async fn next(&mut self) -> Option<Result<Event>> {
        use parley_proto::ws::ServerFrame;
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(Ok(event));
            }
            // Messages whose time is up go while the device listens.
            if let Err(e) = self.messenger.sweep_if_due().await {
                return Some(Err(e));
            }
            // Task reminders come from this device's clock.
            match self.messenger.take_task_reminders().await {
                Ok(fired) if !fired.is_empty() => {
                    self.pending
                        .extend(fired.into_iter().map(Event::TaskReminder));
                    continue;
                }
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
            // At least once a second, so expiries and reminders keep time while all is quiet.
            let frame = match tokio::time::timeout(TICK, self.ws.next()).await {
                Err(_quiet) => continue,
                Ok(None) => return None,
                Ok(Some(Ok(f))) => f,
                Ok(Some(Err(e))) => return Some(Err(e.into())),
            };
            let env = match frame {
                ServerFrame::Envelope(env) => env,
                ServerFrame::QueueEmpty => return Some(Ok(Event::CaughtUp)),
                ServerFrame::Closing { reason } => {
                    return Some(Err(if reason == parley_proto::ws::CLOSING_REPLACED {
                        Error::ConnectionReplaced
                    } else {
                        Error::ConnectionClosed
                    }));
                }
                ServerFrame::LogAdvanced { .. } => {
                    match self.messenger.sync_org().await {
                        Ok(events) => self.pending.extend(events),
                        Err(e @ Error::Trust(_)) | Err(e @ Error::OrgLog(_)) => {
                            tracing::warn!(code = e.code(), "the relay's org log does not verify");
                            self.pending
                                .push_back(Event::TrustAlarm { error: e.info() });
                        }
                        Err(e) => return Some(Err(e)),
                    }
                    continue;
                }
                // Answers to sends over the socket, which this loop does not make.
                ServerFrame::Sent { .. } | ServerFrame::SendFailed { .. } => continue,
            };
            let event = match self.messenger.receive(&env).await {
                Ok(Some(msg)) => {
                    if let Some(head) = &msg.org_head {
                        match self.messenger.check_org_head(head).await {
                            Ok(()) => {}
                            Err(e @ (Error::Trust(_) | Error::OrgLog(_))) => {
                                tracing::warn!(code = e.code(), "org log fork suspected");
                                self.pending
                                    .push_back(Event::TrustAlarm { error: e.info() });
                            }
                            // The relay could not be asked now: the next message asks again.
                            Err(e) => tracing::debug!(code = e.code(), "org head not checked"),
                        }
                    }
                    Some(Event::Message(Box::new(msg)))
                }
                Ok(None) => None,
                // Not the envelope's fault (the store, or the relay when asked for the sender's
                // devices): not acked, so it comes again.
                Err(e) if e.is_local_or_relay() => {
                    tracing::debug!(
                        envelope = env.id,
                        code = e.code(),
                        "envelope kept for later"
                    );
                    return Some(Err(e));
                }
                Err(e) => Some(Event::Dropped {
                    from: env.source_user.clone(),
                    error: e.info(),
                }),
            };
            match &event {
                Some(Event::Dropped { error, .. }) => {
                    tracing::warn!(envelope = env.id, code = error.code, "envelope dropped");
                }
                _ => tracing::debug!(envelope = env.id, "envelope received"),
            }
            if let Err(e) = self.ws.ack(vec![env.id]).await {
                return Some(Err(e.into()));
            }
            if let Some(event) = event {
                return Some(Ok(event));
            }
        }
    }

    /// Closes the connection.
    pub async fn close(self) {
        self.ws.close().await;
    }
}
