//! The event stream of a connected device, as the CLI and the desktop app consume it.

use parley_proto::UserId;

use crate::error::{Error, Result};

use super::*;

/// What happens to this device, as the CLI and the desktop app consume it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Something arrived and its effects are stored.
    Message(Box<Received>),
    /// Everything queued for this device while it was away has been received.
    CaughtUp,
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
}

impl Messenger {
    /// Connects to the relay and returns the stream of [`Event`]s for this device: each
    /// envelope is decrypted and stored, then acknowledged, then reported.
    pub async fn events(&self) -> Result<Events<'_>> {
        let ws = self.relay.connect().await?;
        tracing::info!("delivery socket connected");
        Ok(Events {
            messenger: self,
            ws,
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
            let frame = match self.ws.next().await? {
                Ok(f) => f,
                Err(e) => return Some(Err(e.into())),
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
                // Answers to sends over the socket, which this loop does not make.
                ServerFrame::Sent { .. } | ServerFrame::SendFailed { .. } => continue,
            };
            let event = match self.messenger.receive(&env).await {
                Ok(Some(msg)) => Some(Event::Message(Box::new(msg))),
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
