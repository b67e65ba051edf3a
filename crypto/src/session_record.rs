//! All sessions with one remote device, Sesame-style (Signal's "The Sesame Algorithm", §2.3 and
//! §3): one active session and up to [`MAX_ARCHIVED_SESSIONS`] archived ones.
//!
//! - Sending uses the active session; while the peer has not replied, its messages carry the
//!   PQXDH header, so whichever of them arrives first can start the session (§3.1).
//! - A received message is tried on the active session, then on the archived ones; the session
//!   that decrypts it becomes active (§3.3). So when two devices start sessions with each other
//!   at the same moment, both end up on the session the other side last used, and converge as
//!   soon as one of them replies.
//! - A prekey message for a session we already hold (same base key) goes to that session;
//!   otherwise a new session is derived, and becomes active only if its first message decrypts.
//!   Only then are the one-time prekeys it used deleted from the [`PreKeyStore`].
//! - Every path is transactional: on any error the record and the prekey store are unchanged.

use std::collections::VecDeque;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::address::DeviceAddress;
use crate::codec::{Reader, Writer};
use crate::consts::{MAX_ARCHIVED_SESSIONS, MAX_STATE_LEN, PROTOCOL_VERSION};
use crate::error::{DecodeError, Error};
use crate::identity::{IdentityKeyPair, PublicIdentity};
use crate::message::SessionMessage;
use crate::pqxdh;
use crate::prekeys::{PreKeyBundle, PreKeyStore};
use crate::session::Session;

/// The local device's keys, needed to accept a new session.
pub struct LocalDevice<'a> {
    /// Our address.
    pub address: &'a DeviceAddress,
    /// Our identity.
    pub identity: &'a IdentityKeyPair,
    /// Our prekeys; changed only when a new session's first message decrypts.
    pub prekeys: &'a mut PreKeyStore,
}

/// A decrypted message.
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Whether this message started a new session.
    pub new_session: bool,
}

/// The sessions with one remote device.
#[derive(Clone, Debug, Default)]
pub struct SessionRecord {
    current: Option<Session>,
    archived: VecDeque<Session>,
}

impl SessionRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// The active session.
    pub fn current(&self) -> Option<&Session> {
        self.current.as_ref()
    }

    /// Number of archived sessions.
    pub fn archived_len(&self) -> usize {
        self.archived.len()
    }

    /// Starts a new session from a prekey bundle and makes it active.
    pub fn initiate(
        &mut self,
        local: &DeviceAddress,
        remote: &DeviceAddress,
        ours: &IdentityKeyPair,
        bundle: &PreKeyBundle,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<(), Error> {
        let session = Session::initiate(local.clone(), remote.clone(), ours, bundle, rng)?;
        self.promote(session);
        Ok(())
    }

    /// Encrypts with the active session.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<SessionMessage, Error> {
        self.current
            .as_mut()
            .ok_or(Error::NoSession)?
            .encrypt(plaintext)
    }

    /// Decrypts a message from the remote device `remote`. `trusted` is asked about the sender
    /// identity before a new session is accepted (the caller checks it against the org log).
    pub fn decrypt(
        &mut self,
        local: LocalDevice<'_>,
        remote: &DeviceAddress,
        message: &SessionMessage,
        trusted: impl FnOnce(&PublicIdentity) -> bool,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Decrypted, Error> {
        let ratchet_message = message.ratchet_message();
        let init = match message {
            SessionMessage::PreKey(p) => {
                if p.init.recipient != *local.identity.public().signing_key() {
                    return Err(Error::WrongRecipient);
                }
                Some(&p.init)
            }
            SessionMessage::Ratchet(_) => None,
        };
        // An existing session: for a prekey message, the one with its base key.
        let mut first_error = None;
        for slot in 0..=self.archived.len() {
            let session = match slot {
                0 => self.current.as_mut(),
                n => self.archived.get_mut(n - 1),
            };
            let Some(session) = session else { continue };
            if init.is_some_and(|init| session.base_key() != &init.base_key) {
                continue;
            }
            match session.decrypt(ratchet_message, now, rng) {
                Ok(plaintext) => {
                    if let Some(s) = slot.checked_sub(1).and_then(|i| self.archived.remove(i)) {
                        self.promote(s);
                    }
                    return Ok(Decrypted {
                        plaintext,
                        new_session: false,
                    });
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(init) = init else {
            return Err(first_error.unwrap_or(Error::NoSession));
        };
        if let Some(e) = first_error {
            // The session this prekey message belongs to exists and refused it.
            return Err(e);
        }
        // A new session (PQXDH §3.4).
        let (sk, signed_prekey, used) = pqxdh::respond(local.identity, local.prekeys, init)?;
        let mut session = Session::respond(
            local.address.clone(),
            remote.clone(),
            local.identity,
            sk,
            signed_prekey,
            init,
        );
        let plaintext = session.decrypt(ratchet_message, now, rng)?;
        if !trusted(&init.identity) {
            return Err(Error::UntrustedIdentity);
        }
        local.prekeys.consume(&used);
        self.promote(session);
        Ok(Decrypted {
            plaintext,
            new_session: true,
        })
    }

    fn promote(&mut self, session: Session) {
        if let Some(old) = self.current.replace(session) {
            self.archived.push_front(old);
            self.archived.truncate(MAX_ARCHIVED_SESSIONS);
        }
    }

    /// Versioned encoding, for the encrypted local store only.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(PROTOCOL_VERSION);
        match &self.current {
            None => out.put_u8(0),
            Some(s) => {
                out.put_u8(1);
                s.write(&mut out);
            }
        }
        out.put_len(self.archived.len());
        for s in &self.archived {
            s.write(&mut out);
        }
        out
    }

    /// Decodes a stored record.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_STATE_LEN {
            return Err(DecodeError::TooLong.into());
        }
        let mut r = Reader::new(bytes);
        r.version()?;
        let current = if r.bool()? {
            Some(Session::read(&mut r)?)
        } else {
            None
        };
        let n = r.count(MAX_ARCHIVED_SESSIONS, 400)?;
        let mut archived = VecDeque::with_capacity(n);
        for _ in 0..n {
            archived.push_back(Session::read(&mut r)?);
        }
        r.finish()?;
        Ok(Self { current, archived })
    }
}
