//! Test parties: a device with an identity, prekeys and session records.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::collections::HashMap;

use parley_crypto::DeviceAddress;
use parley_crypto::error::Error;
use parley_crypto::identity::{IdentityKeyPair, PublicIdentity};
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::{PreKeyBundle, PreKeyStore};
use parley_crypto::session_record::{Decrypted, LocalDevice, SessionRecord};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

pub const DAY: u64 = 24 * 60 * 60;

pub fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

pub struct Party {
    pub address: DeviceAddress,
    pub identity: IdentityKeyPair,
    pub prekeys: PreKeyStore,
    pub sessions: HashMap<DeviceAddress, SessionRecord>,
    pub rng: ChaCha20Rng,
}

impl Party {
    pub fn new(user: &str, device: u32, seed: u8, one_time: usize) -> Self {
        let mut rng = rng(seed);
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut prekeys = PreKeyStore::new(&identity, 0, &mut rng);
        prekeys.generate_one_time(&identity, one_time, &mut rng);
        Self {
            address: DeviceAddress::new(user, device).unwrap(),
            identity,
            prekeys,
            sessions: HashMap::new(),
            rng,
        }
    }

    pub fn bundle(&self) -> PreKeyBundle {
        self.prekeys.bundle(self.identity.public()).unwrap()
    }

    /// Starts a session with `bundle` of the device at `to`.
    pub fn start(&mut self, to: &DeviceAddress, bundle: &PreKeyBundle) {
        let record = self.sessions.entry(to.clone()).or_default();
        record
            .initiate(&self.address, to, &self.identity, bundle, &mut self.rng)
            .unwrap();
    }

    pub fn encrypt(&mut self, to: &DeviceAddress, text: &[u8]) -> Vec<u8> {
        self.sessions
            .get_mut(to)
            .expect("no session")
            .encrypt(text)
            .unwrap()
            .to_bytes()
    }

    pub fn decrypt_at(
        &mut self,
        from: &DeviceAddress,
        bytes: &[u8],
        now: u64,
    ) -> Result<Vec<u8>, Error> {
        self.decrypt_with(from, bytes, now, |_| true)
            .map(|d| d.plaintext.to_vec())
    }

    /// Decrypts with a caller-supplied trust decision for new sessions; an empty record left
    /// behind by a failed first message is removed again.
    pub fn decrypt_with(
        &mut self,
        from: &DeviceAddress,
        bytes: &[u8],
        now: u64,
        trusted: impl FnOnce(&PublicIdentity) -> bool,
    ) -> Result<Decrypted, Error> {
        let message = SessionMessage::from_bytes(bytes)?;
        let record = self.sessions.entry(from.clone()).or_default();
        let local = LocalDevice {
            address: &self.address,
            identity: &self.identity,
            prekeys: &mut self.prekeys,
        };
        let result = record.decrypt(local, from, &message, trusted, now, &mut self.rng);
        if record.current().is_none() {
            self.sessions.remove(from);
        }
        result
    }

    pub fn decrypt(&mut self, from: &DeviceAddress, bytes: &[u8]) -> Result<Vec<u8>, Error> {
        self.decrypt_at(from, bytes, 1_000)
    }

    /// Serialised session record with `peer` and prekey store, to compare states.
    pub fn snapshot(&self, peer: &DeviceAddress) -> (Vec<u8>, Vec<u8>) {
        let record = self
            .sessions
            .get(peer)
            .map(|r| r.to_bytes().to_vec())
            .unwrap_or_default();
        (record, self.prekeys.to_bytes().to_vec())
    }
}

/// Alice and Bob with a session that Bob has accepted and answered.
pub fn established() -> (Party, Party) {
    let mut alice = Party::new("alice", 1, 1, 5);
    let mut bob = Party::new("bob", 1, 2, 5);
    let bundle = bob.bundle();
    alice.start(&bob.address.clone(), &bundle);
    let m = alice.encrypt(&bob.address.clone(), b"hello");
    assert_eq!(bob.decrypt(&alice.address.clone(), &m).unwrap(), b"hello");
    let r = bob.encrypt(&alice.address.clone(), b"hi");
    assert_eq!(alice.decrypt(&bob.address.clone(), &r).unwrap(), b"hi");
    (alice, bob)
}
