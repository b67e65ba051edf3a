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
//! - A session made from a prekey message remembers the SHA-256 of that message's
//!   [`PreKeyInit`] encoding. A later prekey message with the same base key must carry exactly
//!   the same `PreKeyInit`, or it is refused with [`Error::PreKeyInitMismatch`]: the prekey
//!   ids, KEM ciphertext and one-time prekey id are not in the ratchet's associated data, so
//!   without this check a copy with those fields altered would decrypt as the genuine message.
//!   A session we initiated accepts no prekey message at all.
//! - Every path is transactional: on any error the record and the prekey store are unchanged.
//!
//! # Encoding
//!
//! ```text
//! record  = version:u8 (SESSION_RECORD_VERSION) || has_current:u8 || [entry]
//!           || archived_count:u32 || entry*
//! entry   = session || has_init_digest:u8 || [init_digest:32]
//! ```
//! Version 1 (the [`PROTOCOL_VERSION`]) records, whose entries are bare sessions, are still
//! read: their sessions get no digest, so they decrypt ratchet messages as before but refuse
//! every prekey message matched by base key (the sender stops sending those as soon as it
//! hears from us, which it has if our reply got through). Any other version is
//! [`DecodeError::UnknownVersion`].

use std::collections::VecDeque;

use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::address::DeviceAddress;
use crate::codec::{Reader, Writer};
use crate::consts::{
    MAX_ARCHIVED_SESSIONS, MAX_STATE_LEN, PROTOCOL_VERSION, SESSION_RECORD_VERSION,
};
use crate::error::{DecodeError, Error};
use crate::identity::{IdentityKeyPair, PublicIdentity};
use crate::message::SessionMessage;
use crate::pqxdh::{self, PreKeyInit};
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

/// SHA-256 of a [`PreKeyInit`]'s encoding.
type InitDigest = [u8; 32];

fn init_digest(init: &PreKeyInit) -> InitDigest {
    let mut encoding = Vec::new();
    init.write(&mut encoding);
    Sha256::digest(&encoding).into()
}

/// A session and, if a prekey message created it, the digest of that message's `PreKeyInit`.
#[derive(Clone, Debug)]
struct Entry {
    session: Session,
    init_digest: Option<InitDigest>,
}

impl Entry {
    fn write(&self, out: &mut Vec<u8>) {
        self.session.write(out);
        match &self.init_digest {
            None => out.put_u8(0),
            Some(digest) => {
                out.put_u8(1);
                out.put_raw(digest);
            }
        }
    }

    /// Reads an entry of a record of `version` (1: a bare session).
    fn read(r: &mut Reader<'_>, version: u8) -> Result<Self, Error> {
        let session = Session::read(r)?;
        let init_digest = if version != PROTOCOL_VERSION && r.bool()? {
            Some(r.array()?)
        } else {
            None
        };
        Ok(Self {
            session,
            init_digest,
        })
    }
}

/// The sessions with one remote device.
#[derive(Clone, Debug, Default)]
pub struct SessionRecord {
    current: Option<Entry>,
    archived: VecDeque<Entry>,
}

impl SessionRecord {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// The active session.
    pub fn current(&self) -> Option<&Session> {
        self.current.as_ref().map(|e| &e.session)
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
        self.promote(Entry {
            session,
            init_digest: None,
        });
        Ok(())
    }

    /// Encrypts with the active session.
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<SessionMessage, Error> {
        self.current
            .as_mut()
            .ok_or(Error::NoSession)?
            .session
            .encrypt(plaintext)
    }

    /// Whether decrypting `message` would start a new session: a prekey message whose base
    /// key no session of this record has. Only then does [`SessionRecord::decrypt`] use the
    /// prekey store or ask `trusted`, so a caller may leave both out otherwise (an empty
    /// [`PreKeyStore`], a `trusted` that refuses).
    pub fn starts_new_session(&self, message: &SessionMessage) -> bool {
        match message {
            SessionMessage::Ratchet(_) => false,
            SessionMessage::PreKey(p) => !self
                .current
                .iter()
                .chain(&self.archived)
                .any(|e| e.session.base_key() == &p.init.base_key),
        }
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
        let digest = init.map(init_digest);
        // An existing session: for a prekey message, the one with its base key, and only if
        // the message carries the very `PreKeyInit` that created it.
        let mut first_error = None;
        for slot in 0..=self.archived.len() {
            let entry = match slot {
                0 => self.current.as_mut(),
                n => self.archived.get_mut(n - 1),
            };
            let Some(entry) = entry else { continue };
            if let (Some(init), Some(digest)) = (init, &digest) {
                if entry.session.base_key() != &init.base_key {
                    continue;
                }
                if entry.init_digest.as_ref() != Some(digest) {
                    first_error.get_or_insert(Error::PreKeyInitMismatch);
                    continue;
                }
            }
            match entry.session.decrypt(ratchet_message, now, rng) {
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
        self.promote(Entry {
            session,
            init_digest: digest,
        });
        Ok(Decrypted {
            plaintext,
            new_session: true,
        })
    }

    fn promote(&mut self, entry: Entry) {
        if let Some(old) = self.current.replace(entry) {
            self.archived.push_front(old);
            self.archived.truncate(MAX_ARCHIVED_SESSIONS);
        }
    }

    /// Versioned encoding, for the encrypted local store only.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(SESSION_RECORD_VERSION);
        match &self.current {
            None => out.put_u8(0),
            Some(e) => {
                out.put_u8(1);
                e.write(&mut out);
            }
        }
        out.put_len(self.archived.len());
        for e in &self.archived {
            e.write(&mut out);
        }
        out
    }

    /// Decodes a stored record, of this version or of version 1 (see the module doc).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_STATE_LEN {
            return Err(DecodeError::TooLong.into());
        }
        let mut r = Reader::new(bytes);
        let version = match r.u8()? {
            v @ (PROTOCOL_VERSION | SESSION_RECORD_VERSION) => v,
            other => return Err(DecodeError::UnknownVersion(other).into()),
        };
        let current = if r.bool()? {
            Some(Entry::read(&mut r, version)?)
        } else {
            None
        };
        let n = r.count(MAX_ARCHIVED_SESSIONS, 400)?;
        let mut archived = VecDeque::with_capacity(n);
        for _ in 0..n {
            archived.push_back(Entry::read(&mut r, version)?);
        }
        r.finish()?;
        Ok(Self { current, archived })
    }
}
