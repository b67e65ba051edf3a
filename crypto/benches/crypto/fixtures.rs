//! Shared set-up: devices, established sessions (ours and Olm), and the group settings.

use std::time::Duration;

use criterion::{BenchmarkGroup, Criterion, measurement::WallTime};
use parley_crypto::DeviceAddress;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::{PreKeyBundle, PreKeyStore};
use parley_crypto::session_record::{LocalDevice, SessionRecord};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use vodozemac::olm::{Account, OlmMessage, Session as OlmSession, SessionConfig};

/// The message every per-message benchmark sends.
pub const MSG: [u8; 100] = [0x42; 100];

/// The receive time passed to our decrypt (no skipped keys are ever stored, so it is inert).
pub const NOW: u64 = 1_000;

pub fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

/// A benchmark group with short warm-up and measurement, so the whole run stays within a few
/// minutes on a shared two-core machine.
pub fn group<'a>(c: &'a mut Criterion, name: &str, secs: u64) -> BenchmarkGroup<'a, WallTime> {
    let mut g = c.benchmark_group(name);
    g.warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(secs))
        .sample_size(40);
    g
}

/// One of our devices: identity, prekeys and the sessions it holds with one peer.
pub struct Device {
    pub address: DeviceAddress,
    pub identity: IdentityKeyPair,
    pub prekeys: PreKeyStore,
    pub record: SessionRecord,
    pub rng: ChaCha20Rng,
}

impl Device {
    pub fn new(user: &str, seed: u8, one_time: usize) -> Self {
        let mut rng = rng(seed);
        let identity = IdentityKeyPair::generate(&mut rng);
        let mut prekeys = PreKeyStore::new(&identity, 0, &mut rng);
        prekeys.generate_one_time(&identity, one_time, &mut rng);
        Self {
            address: DeviceAddress::new(user, 1).unwrap(),
            identity,
            prekeys,
            record: SessionRecord::new(),
            rng,
        }
    }

    /// The bundle a relay would hand out: one-time X25519 and ML-KEM prekeys included.
    pub fn bundle(&self) -> PreKeyBundle {
        self.prekeys.bundle(self.identity.public()).unwrap()
    }

    pub fn encrypt(&mut self, text: &[u8]) -> Vec<u8> {
        self.record.encrypt(text).unwrap().to_bytes()
    }

    /// Parses and decrypts wire bytes, as the client does.
    pub fn decrypt(&mut self, from: &DeviceAddress, bytes: &[u8]) -> usize {
        let message = SessionMessage::from_bytes(bytes).unwrap();
        decrypt_with(
            &mut self.record,
            &self.address,
            &self.identity,
            &mut self.prekeys,
            from,
            &message,
            &mut self.rng,
        )
    }
}

/// [`SessionRecord::decrypt`] with the arguments spelled out, for benchmarks that keep the
/// record and store outside a [`Device`]. Returns the plaintext length.
pub fn decrypt_with(
    record: &mut SessionRecord,
    address: &DeviceAddress,
    identity: &IdentityKeyPair,
    prekeys: &mut PreKeyStore,
    from: &DeviceAddress,
    message: &SessionMessage,
    rng: &mut ChaCha20Rng,
) -> usize {
    let local = LocalDevice {
        address,
        identity,
        prekeys,
    };
    record
        .decrypt(local, from, message, |_| true, NOW, rng)
        .unwrap()
        .plaintext
        .len()
}

/// Alice and Bob with an established session: Alice started it, Bob accepted and replied, so
/// neither side sends prekey messages any more.
pub fn our_pair() -> (Device, Device) {
    let mut alice = Device::new("alice", 1, 0);
    let mut bob = Device::new("bob", 2, 1);
    let bundle = bob.bundle();
    alice
        .record
        .initiate(
            &alice.address,
            &bob.address,
            &alice.identity,
            &bundle,
            &mut alice.rng,
        )
        .unwrap();
    let m = alice.encrypt(b"hello");
    bob.decrypt(&alice.address.clone(), &m);
    let r = bob.encrypt(b"hi");
    alice.decrypt(&bob.address.clone(), &r);
    assert!(!alice.record.current().unwrap().is_pending_prekey());
    (alice, bob)
}

/// An Olm account with one published one-time key.
pub fn olm_account_with_otk() -> (Account, vodozemac::Curve25519PublicKey) {
    let mut account = Account::new();
    account.generate_one_time_keys(1);
    let otk = *account.one_time_keys().values().next().unwrap();
    account.mark_keys_as_published();
    (account, otk)
}

/// Alice and Bob with an established Olm session (Bob has replied).
pub fn olm_pair() -> (OlmSession, OlmSession) {
    let alice = Account::new();
    let (mut bob, otk) = olm_account_with_otk();
    let mut a = alice
        .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
        .unwrap();
    let OlmMessage::PreKey(m) = a.encrypt(b"hello").unwrap() else {
        unreachable!("first message is a prekey message")
    };
    let mut b = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &m)
        .unwrap()
        .session;
    let r = b.encrypt(b"hi").unwrap();
    a.decrypt(&r).unwrap();
    let probe = a.encrypt(b"x").unwrap();
    assert!(matches!(probe, OlmMessage::Normal(_)));
    b.decrypt(&probe).unwrap();
    (a, b)
}

/// Olm encrypt to wire parts.
pub fn olm_encrypt(s: &mut OlmSession, text: &[u8]) -> (usize, Vec<u8>) {
    s.encrypt(text).unwrap().to_parts()
}

/// Olm parse and decrypt; returns the plaintext length.
pub fn olm_decrypt(s: &mut OlmSession, parts: &(usize, Vec<u8>)) -> usize {
    let m = OlmMessage::from_parts(parts.0, &parts.1).unwrap();
    s.decrypt(&m).unwrap().len()
}
