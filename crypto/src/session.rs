//! One Double Ratchet session with one remote device (Signal's "The Double Ratchet Algorithm",
//! revision 4: §3.2–§3.5, with the §5.2 recommended KDFs; see [`crate::root_key`] and
//! [`crate::chain_key`]).
//!
//! - Initialisation (§3.3, via [`crate::pqxdh`]): the initiator's first sending chain comes
//!   from `KDF_RK(SK, DH(ratchet_A, SPK_B))`; the responder starts with `SK` and its signed
//!   prekey pair as ratchet key, and can send once it has received.
//! - Associated data (docs/architecture.md §3): `version || sender identity || recipient identity ||
//!   sender address || recipient address || header`, so a message is bound to both identities,
//!   both devices, the protocol version and its header.
//! - Limits ([`crate::consts`]): at most [`MAX_SKIP`] skipped keys per chain,
//!   [`MAX_STORED_SKIPPED_KEYS`] stored (oldest evicted), [`MAX_RECEIVER_CHAINS`] receiving
//!   chains, skipped keys deleted after [`SKIPPED_KEY_MAX_AGE_SECS`].
//! - **Compute, then commit**: [`Session::decrypt`] derives every new key into locals, checks
//!   the AEAD tag, and only then writes the new state. A failed decrypt leaves the session
//!   byte-for-byte unchanged. A used message key is deleted at once (forward secrecy).

use std::collections::VecDeque;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::address::DeviceAddress;
use crate::chain_key::{ChainKey, MessageKey};
use crate::codec::{Reader, Writer};
use crate::consts::{
    MAX_PLAINTEXT_LEN, MAX_RECEIVER_CHAINS, MAX_SKIP, MAX_STATE_LEN, MAX_STORED_SKIPPED_KEYS,
    PROTOCOL_VERSION, SKIPPED_KEY_MAX_AGE_SECS,
};
use crate::error::{DecodeError, Error};
use crate::identity::{IdentityKeyPair, PublicIdentity};
use crate::keys::{KeyPair, PublicKey};
use crate::message::{PreKeyMessage, RatchetHeader, RatchetMessage, SessionMessage};
use crate::pqxdh::{self, PreKeyInit, SessionSecret};
use crate::prekeys::PreKeyBundle;
use crate::root_key::RootKey;

#[derive(Clone)]
struct ReceiverChain {
    ratchet_key: PublicKey,
    chain: ChainKey,
}

#[derive(Clone)]
struct SkippedKey {
    ratchet_key: PublicKey,
    key: MessageKey,
    stored_at: u64,
}

/// A Double Ratchet session. Holds secrets: its `Debug` prints none, and it is only serialised
/// by [`Session::to_bytes`], for the encrypted local store.
#[derive(Clone)]
pub struct Session {
    local: DeviceAddress,
    remote: DeviceAddress,
    local_identity: PublicIdentity,
    remote_identity: PublicIdentity,
    base_key: PublicKey,
    root_key: RootKey,
    ratchet: KeyPair,
    sending: Option<ChainKey>,
    previous_counter: u32,
    receiving: VecDeque<ReceiverChain>,
    skipped: VecDeque<SkippedKey>,
    pending: Option<PreKeyInit>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let Self {
            local,
            remote,
            local_identity: _,
            remote_identity,
            base_key,
            root_key: _,
            ratchet,
            sending,
            previous_counter,
            receiving,
            skipped,
            pending,
        } = self;
        f.debug_struct("Session")
            .field("local", local)
            .field("remote", remote)
            .field("remote_identity", remote_identity)
            .field("base_key", base_key)
            .field("ratchet", ratchet.public())
            .field("sending", sending)
            .field("previous_counter", previous_counter)
            .field("receiving_chains", &receiving.len())
            .field("skipped_keys", &skipped.len())
            .field("pending_prekey", &pending.is_some())
            .finish()
    }
}

impl Session {
    /// Starts a session as initiator from a prekey bundle (PQXDH §3.3, Double Ratchet §3.3
    /// `RatchetInitAlice`). Messages carry the PQXDH header until the peer replies.
    pub fn initiate(
        local: DeviceAddress,
        remote: DeviceAddress,
        ours: &IdentityKeyPair,
        bundle: &PreKeyBundle,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Self, Error> {
        let (sk, init) = pqxdh::initiate(ours, bundle, rng)?;
        let ratchet = KeyPair::generate(rng);
        let (root_key, sending) = RootKey::new(sk).ratchet(&ratchet.dh(&bundle.signed_prekey.key)?);
        Ok(Self {
            local,
            remote,
            local_identity: *ours.public(),
            remote_identity: bundle.identity,
            base_key: init.base_key,
            root_key,
            ratchet,
            sending: Some(sending),
            previous_counter: 0,
            receiving: VecDeque::new(),
            skipped: VecDeque::new(),
            pending: Some(init),
        })
    }

    /// Starts a session as responder (Double Ratchet §3.3 `RatchetInitBob`) from the PQXDH
    /// secret and the signed prekey pair the initiator used.
    pub fn respond(
        local: DeviceAddress,
        remote: DeviceAddress,
        ours: &IdentityKeyPair,
        sk: SessionSecret,
        signed_prekey: KeyPair,
        init: &PreKeyInit,
    ) -> Self {
        Self {
            local,
            remote,
            local_identity: *ours.public(),
            remote_identity: init.identity,
            base_key: init.base_key,
            root_key: RootKey::new(sk),
            ratchet: signed_prekey,
            sending: None,
            previous_counter: 0,
            receiving: VecDeque::new(),
            skipped: VecDeque::new(),
            pending: None,
        }
    }

    /// The remote device's identity.
    pub fn remote_identity(&self) -> &PublicIdentity {
        &self.remote_identity
    }

    /// The remote device's address.
    pub fn remote_address(&self) -> &DeviceAddress {
        &self.remote
    }

    /// The session identifier: the initiator's PQXDH base key.
    pub fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// Whether messages still carry the PQXDH header (the peer has not replied yet).
    pub fn is_pending_prekey(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether this session can encrypt (a responder must first receive).
    pub fn can_send(&self) -> bool {
        self.sending.is_some()
    }

    fn aad(&self, outgoing: bool, header: &RatchetHeader) -> Vec<u8> {
        let (sender, recipient, s_addr, r_addr) = if outgoing {
            (
                &self.local_identity,
                &self.remote_identity,
                &self.local,
                &self.remote,
            )
        } else {
            (
                &self.remote_identity,
                &self.local_identity,
                &self.remote,
                &self.local,
            )
        };
        let mut ad = Vec::with_capacity(400);
        ad.put_u8(PROTOCOL_VERSION);
        for id in [sender, recipient] {
            ad.put_raw(id.signing_key().as_bytes());
            ad.put_raw(id.dh_key().as_bytes());
        }
        s_addr.write(&mut ad);
        r_addr.write(&mut ad);
        ad.put_raw(&header.to_bytes());
        ad
    }

    /// Encrypts a message (Double Ratchet §3.4 `RatchetEncrypt`).
    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<SessionMessage, Error> {
        if plaintext.len() > MAX_PLAINTEXT_LEN {
            return Err(Error::PlaintextTooLong);
        }
        let chain = self.sending.as_ref().ok_or(Error::CannotSend)?;
        let next = chain.next()?;
        let key = chain.message_key();
        let header = RatchetHeader {
            ratchet_key: *self.ratchet.public(),
            previous_counter: self.previous_counter,
            counter: key.index(),
        };
        let ciphertext = key.seal(&self.aad(true, &header), plaintext);
        self.sending = Some(next);
        let message = RatchetMessage { header, ciphertext };
        Ok(match &self.pending {
            Some(init) => SessionMessage::PreKey(Box::new(PreKeyMessage {
                init: init.clone(),
                message,
            })),
            None => SessionMessage::Ratchet(message),
        })
    }

    /// Decrypts a message (Double Ratchet §3.5 `RatchetDecrypt`), transactionally.
    pub fn decrypt(
        &mut self,
        message: &RatchetMessage,
        now: u64,
        rng: &mut (impl CryptoRng + ?Sized),
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let header = &message.header;
        let aad = self.aad(false, header);
        let ct = &message.ciphertext;

        // A known receiving chain: either a skipped key or a step forward.
        if let Some(pos) = self
            .receiving
            .iter()
            .position(|c| c.ratchet_key == header.ratchet_key)
        {
            let chain = self
                .receiving
                .get(pos)
                .map(|c| c.chain.clone())
                .ok_or(Error::NoSession)?;
            if header.counter < chain.index() {
                return self.decrypt_skipped(header, &aad, ct, now);
            }
            check_gap(chain.index(), header.counter)?;
            let (skipped, key, next) = chain.skip_to(header.counter)?;
            let plaintext = key.open(&aad, ct)?;
            // Commit.
            if let Some(c) = self.receiving.get_mut(pos) {
                c.chain = next;
            }
            self.store_skipped(header.ratchet_key, skipped, now);
            self.on_received(now);
            return Ok(plaintext);
        }
        if self.find_skipped(header).is_some() {
            return self.decrypt_skipped(header, &aad, ct, now);
        }

        // A new ratchet key from the peer: a DH ratchet step (§3.5 `DHRatchet`).
        let old_chain = self
            .receiving
            .back()
            .map(|c| (c.ratchet_key, c.chain.clone()));
        let old_skipped = match &old_chain {
            Some((_, chain)) if header.previous_counter > chain.index() => {
                check_gap(chain.index(), header.previous_counter)?;
                let (mut keys, last, next) = chain.skip_to(header.previous_counter - 1)?;
                keys.push(last);
                Some((keys, next))
            }
            _ => None,
        };
        check_gap(0, header.counter)?;
        let (root_key, receiving) = self
            .root_key
            .ratchet(&self.ratchet.dh(&header.ratchet_key)?);
        let (new_skipped, key, next) = receiving.skip_to(header.counter)?;
        let plaintext = key.open(&aad, ct)?;

        // Authentic: take the sending step and commit.
        let ratchet = KeyPair::generate(rng);
        let (root_key, sending) = root_key.ratchet(&ratchet.dh(&header.ratchet_key)?);
        if let (Some((old_key, _)), Some((keys, next_old))) = (old_chain, old_skipped) {
            if let Some(c) = self.receiving.back_mut() {
                c.chain = next_old;
            }
            self.store_skipped(old_key, keys, now);
        }
        self.previous_counter = self.sending.as_ref().map_or(0, ChainKey::index);
        self.sending = Some(sending);
        self.ratchet = ratchet;
        self.root_key = root_key;
        self.receiving.push_back(ReceiverChain {
            ratchet_key: header.ratchet_key,
            chain: next,
        });
        while self.receiving.len() > MAX_RECEIVER_CHAINS {
            self.receiving.pop_front();
        }
        self.store_skipped(header.ratchet_key, new_skipped, now);
        self.on_received(now);
        Ok(plaintext)
    }

    fn find_skipped(&self, header: &RatchetHeader) -> Option<usize> {
        self.skipped
            .iter()
            .position(|k| k.ratchet_key == header.ratchet_key && k.key.index() == header.counter)
    }

    fn decrypt_skipped(
        &mut self,
        header: &RatchetHeader,
        aad: &[u8],
        ct: &[u8],
        now: u64,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let idx = self.find_skipped(header).ok_or(Error::DuplicateMessage)?;
        let entry = self.skipped.get(idx).ok_or(Error::DuplicateMessage)?;
        if now.saturating_sub(entry.stored_at) > SKIPPED_KEY_MAX_AGE_SECS {
            return Err(Error::DuplicateMessage);
        }
        let plaintext = entry.key.open(aad, ct)?;
        self.skipped.remove(idx);
        self.on_received(now);
        Ok(plaintext)
    }

    fn store_skipped(&mut self, ratchet_key: PublicKey, keys: Vec<MessageKey>, now: u64) {
        for key in keys {
            if self.skipped.len() >= MAX_STORED_SKIPPED_KEYS {
                self.skipped.pop_front();
            }
            self.skipped.push_back(SkippedKey {
                ratchet_key,
                key,
                stored_at: now,
            });
        }
    }

    fn on_received(&mut self, now: u64) {
        self.pending = None;
        self.skipped
            .retain(|k| now.saturating_sub(k.stored_at) <= SKIPPED_KEY_MAX_AGE_SECS);
    }

    /// Versioned encoding, for the encrypted local store only.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(1024 + self.skipped.len() * 72));
        out.put_u8(PROTOCOL_VERSION);
        self.write(&mut out);
        out
    }

    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        self.local.write(out);
        self.remote.write(out);
        self.local_identity.write(out);
        self.remote_identity.write(out);
        out.put_raw(self.base_key.as_bytes());
        out.put_raw(self.root_key.as_bytes());
        out.put_raw(&self.ratchet.secret_bytes()[..]);
        match &self.sending {
            None => out.put_u8(0),
            Some(chain) => {
                out.put_u8(1);
                chain.write(out);
            }
        }
        out.put_u32(self.previous_counter);
        out.put_len(self.receiving.len());
        for c in &self.receiving {
            out.put_raw(c.ratchet_key.as_bytes());
            c.chain.write(out);
        }
        out.put_len(self.skipped.len());
        for k in &self.skipped {
            out.put_raw(k.ratchet_key.as_bytes());
            k.key.write(out);
            out.put_u64(k.stored_at);
        }
        match &self.pending {
            None => out.put_u8(0),
            Some(init) => {
                out.put_u8(1);
                init.write(out);
            }
        }
    }

    /// Decodes a stored session.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_STATE_LEN {
            return Err(DecodeError::TooLong.into());
        }
        let mut r = Reader::new(bytes);
        r.version()?;
        let session = Self::read(&mut r)?;
        r.finish()?;
        Ok(session)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, Error> {
        let local = DeviceAddress::read(r)?;
        let remote = DeviceAddress::read(r)?;
        // Both were verified when the session was made; a record is only ever read back
        // from where its owner keeps it (an authenticated, encrypted store), so checking
        // their signatures again would cost two Ed25519 verifications per message.
        let local_identity = PublicIdentity::read_verified_before(r)?;
        let remote_identity = PublicIdentity::read_verified_before(r)?;
        let base_key = PublicKey::read(r)?;
        let root_key = RootKey::read(r)?;
        let ratchet = KeyPair::read(r)?;
        let sending = if r.bool()? {
            Some(ChainKey::read(r)?)
        } else {
            None
        };
        let previous_counter = r.u32()?;
        let n = r.count(MAX_RECEIVER_CHAINS, 68)?;
        let mut receiving = VecDeque::with_capacity(n);
        for _ in 0..n {
            receiving.push_back(ReceiverChain {
                ratchet_key: PublicKey::read(r)?,
                chain: ChainKey::read(r)?,
            });
        }
        let n = r.count(MAX_STORED_SKIPPED_KEYS, 76)?;
        let mut skipped = VecDeque::with_capacity(n);
        for _ in 0..n {
            skipped.push_back(SkippedKey {
                ratchet_key: PublicKey::read(r)?,
                key: MessageKey::read(r)?,
                stored_at: r.u64()?,
            });
        }
        let pending = if r.bool()? {
            Some(PreKeyInit::read(r)?)
        } else {
            None
        };
        Ok(Self {
            local,
            remote,
            local_identity,
            remote_identity,
            base_key,
            root_key,
            ratchet,
            sending,
            previous_counter,
            receiving,
            skipped,
            pending,
        })
    }

    #[cfg(test)]
    pub(crate) fn skipped_len(&self) -> usize {
        self.skipped.len()
    }

    /// The next message key of the chain for `ratchet_key`, for forward-secrecy tests.
    #[cfg(test)]
    pub(crate) fn peek_receiving_key(&self, ratchet_key: &PublicKey) -> Option<MessageKey> {
        self.receiving
            .iter()
            .find(|c| c.ratchet_key == *ratchet_key)
            .map(|c| c.chain.message_key())
    }

    /// The message key the next [`Session::encrypt`] will use, for forward-secrecy tests.
    #[cfg(test)]
    pub(crate) fn peek_sending_key(&self) -> Option<MessageKey> {
        self.sending.as_ref().map(ChainKey::message_key)
    }
}

/// Refuses to skip more than [`MAX_SKIP`] keys in one chain.
fn check_gap(from: u32, to: u32) -> Result<(), Error> {
    if to.saturating_sub(from) > MAX_SKIP {
        return Err(Error::TooManySkipped);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use crate::prekeys::PreKeyStore;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    struct Pair {
        alice: Session,
        bob: Session,
        rng: ChaCha20Rng,
    }

    fn addr(user: &str, device: u32) -> DeviceAddress {
        DeviceAddress::new(user, device).unwrap()
    }

    /// A session that Alice started and Bob accepted from Alice's first message.
    fn pair() -> Pair {
        let mut rng = ChaCha20Rng::from_seed([3; 32]);
        let alice_id = IdentityKeyPair::generate(&mut rng);
        let bob_id = IdentityKeyPair::generate(&mut rng);
        let mut store = PreKeyStore::new(&bob_id, 0, &mut rng);
        store.generate_one_time(&bob_id, 1, &mut rng);
        let bundle = store.bundle(bob_id.public()).unwrap();
        let mut alice = Session::initiate(
            addr("alice", 1),
            addr("bob", 1),
            &alice_id,
            &bundle,
            &mut rng,
        )
        .unwrap();
        let SessionMessage::PreKey(first) = alice.encrypt(b"hello").unwrap() else {
            panic!()
        };
        let (sk, spk, _) = pqxdh::respond(&bob_id, &store, &first.init).unwrap();
        let mut bob = Session::respond(
            addr("bob", 1),
            addr("alice", 1),
            &bob_id,
            sk,
            spk,
            &first.init,
        );
        assert_eq!(
            &*bob.decrypt(&first.message, 0, &mut rng).unwrap(),
            b"hello"
        );
        Pair { alice, bob, rng }
    }

    fn send(from: &mut Session, text: &[u8]) -> RatchetMessage {
        from.encrypt(text).unwrap().ratchet_message().clone()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// Forward secrecy: once a message is decrypted, its key is in no serialised state of the
    /// receiver (nor of the sender once sent), so a later theft of the state cannot read it.
    #[test]
    fn used_message_keys_are_not_in_the_serialised_state() {
        let Pair {
            mut alice,
            mut bob,
            mut rng,
        } = pair();
        // In-order message on an existing chain.
        let sending_key = alice.peek_sending_key().unwrap();
        let m = send(&mut alice, b"one");
        assert!(!contains(&alice.to_bytes(), sending_key.as_bytes()));
        let receiving_key = bob.peek_receiving_key(&m.header.ratchet_key).unwrap();
        assert_eq!(receiving_key.as_bytes(), sending_key.as_bytes());
        let before = bob.to_bytes();
        bob.decrypt(&m, 0, &mut rng).unwrap();
        assert!(!contains(&bob.to_bytes(), receiving_key.as_bytes()));
        // Out of order: the skipped key is stored, then deleted when used.
        let k2 = alice.peek_sending_key().unwrap();
        let m2 = send(&mut alice, b"two");
        let m3 = send(&mut alice, b"three");
        bob.decrypt(&m3, 0, &mut rng).unwrap();
        assert!(contains(&bob.to_bytes(), k2.as_bytes()));
        assert_eq!(bob.skipped_len(), 1);
        bob.decrypt(&m2, 0, &mut rng).unwrap();
        assert!(!contains(&bob.to_bytes(), k2.as_bytes()));
        assert_eq!(bob.skipped_len(), 0);
        // A stolen earlier state can still read the message: that is why keys must go.
        let mut stolen = Session::from_bytes(&before).unwrap();
        assert_eq!(&*stolen.decrypt(&m, 0, &mut rng).unwrap(), b"one");
        // But the live state cannot decrypt it twice.
        assert_eq!(bob.decrypt(&m, 0, &mut rng), Err(Error::DuplicateMessage));
    }

    /// Post-compromise security: a copy of Bob's state stolen at T stops decrypting once Bob has
    /// done one round trip with randomness drawn after T (he receives a new ratchet key from
    /// Alice, answers with a fresh ratchet key, and Alice ratchets on it).
    #[test]
    fn stolen_state_stops_decrypting_after_a_round_trip() {
        let Pair {
            mut alice,
            mut bob,
            mut rng,
        } = pair();
        let mut eve_rng = ChaCha20Rng::from_seed([66; 32]);
        let mut eve = Session::from_bytes(&bob.to_bytes()).unwrap();
        // Until Bob has ratcheted with fresh randomness, the thief reads along, even across
        // Alice's next DH step (Bob's ratchet key at T is known to the thief).
        let r1 = send(&mut bob, b"reply made with the stolen ratchet key");
        alice.decrypt(&r1, 0, &mut rng).unwrap();
        let m1 = send(&mut alice, b"still readable");
        assert_eq!(
            &*eve.decrypt(&m1, 0, &mut eve_rng).unwrap(),
            b"still readable"
        );
        // Bob's round trip: he receives m1, and answers with a ratchet key made after T.
        assert_eq!(&*bob.decrypt(&m1, 0, &mut rng).unwrap(), b"still readable");
        let r2 = send(&mut bob, b"fresh key");
        assert_ne!(r2.header.ratchet_key, r1.header.ratchet_key);
        alice.decrypt(&r2, 0, &mut rng).unwrap();
        let m2 = send(&mut alice, b"secret again");
        assert_eq!(&*bob.decrypt(&m2, 0, &mut rng).unwrap(), b"secret again");
        // The thief, even having seen every message, can read nothing Alice sends from now on.
        assert_eq!(
            eve.decrypt(&m2, 0, &mut eve_rng).map(|_| ()),
            Err(Error::DecryptFailed)
        );
        let m3 = send(&mut alice, b"and again");
        assert_eq!(
            eve.decrypt(&m3, 0, &mut eve_rng).map(|_| ()),
            Err(Error::DecryptFailed)
        );
    }

    /// Addresses are part of the associated data.
    #[test]
    fn addresses_are_bound_into_the_associated_data() {
        let Pair {
            mut alice,
            bob,
            mut rng,
        } = pair();
        let m = send(&mut alice, b"x");
        for (local, remote) in [
            (addr("bob", 2), addr("alice", 1)),
            (addr("bob", 1), addr("alice", 2)),
        ] {
            let mut moved = bob.clone();
            moved.local = local;
            moved.remote = remote;
            let before = moved.to_bytes();
            assert_eq!(moved.decrypt(&m, 0, &mut rng), Err(Error::DecryptFailed));
            assert_eq!(*moved.to_bytes(), *before);
        }
    }

    #[test]
    fn debug_prints_no_key_material() {
        let Pair { bob, .. } = pair();
        let dbg = format!("{bob:?}");
        let root = hex::encode(bob.root_key.as_bytes().get(..4).unwrap_or_default());
        assert!(!dbg.contains(&root));
        assert!(!dbg.contains("alice"), "user ids stay out of Debug: {dbg}");
        assert!(dbg.starts_with("Session { local: DeviceAddress(…, 1)"));
    }
}
