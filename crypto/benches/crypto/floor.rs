//! The primitive floor: the same primitive calls our protocol makes, made directly on the
//! primitive crates with no parsing, validation, allocation or state handling around them.
//! What the protocol spends above these numbers is overhead that an implementation could cut.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use ml_kem::kem::{Decapsulate, Encapsulate};
use ml_kem::{MlKem1024, Seed};
use rand_chacha::ChaCha20Rng;
use rand_core::Rng;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

pub type Dk = ml_kem::DecapsulationKey<MlKem1024>;
pub type Ek = ml_kem::EncapsulationKey<MlKem1024>;
pub type KemCt = ml_kem::Ciphertext<MlKem1024>;

/// Length of our message associated data for the benchmark addresses (`alice`/1, `bob`/1):
/// version (1) + two identities (2 × 64) + two addresses (4 + 5 + 4, 4 + 3 + 4) + header (40).
pub const AAD_LEN: usize = 1 + 128 + 13 + 11 + 40;

/// HMAC-SHA256.
pub fn hmac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// HKDF-SHA256 into `N` bytes.
pub fn hkdf<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand(info, &mut out)
        .unwrap();
    out
}

/// X25519 key generation: 32 random bytes and one fixed-base scalar multiplication.
pub fn x25519_keygen(rng: &mut ChaCha20Rng) -> (StaticSecret, PublicKey) {
    let secret = StaticSecret::random_from_rng(rng);
    let public = PublicKey::from(&secret);
    (secret, public)
}

/// X25519 with the contributory check our protocol makes.
pub fn dh(secret: &StaticSecret, public: &PublicKey) -> [u8; 32] {
    let shared = secret.diffie_hellman(public);
    assert!(shared.was_contributory());
    shared.to_bytes()
}

/// The AES key and nonce that a message key yields (HKDF-SHA256 → 44 bytes).
fn aead_key(message_key: &[u8; 32]) -> ([u8; 32], [u8; 12]) {
    let okm = hkdf::<44>(&[0u8; 32], message_key, b"Parley_MessageKeys_v1");
    let (k, n) = okm.split_at(32);
    (k.try_into().unwrap(), n.try_into().unwrap())
}

/// One step of a symmetric chain: message key and next chain key (2 HMAC calls).
fn chain_step(ck: &mut [u8; 32]) -> [u8; 32] {
    let mk = hmac(ck, &[0x01]);
    *ck = hmac(ck, &[0x02]);
    mk
}

/// The primitives of one message, sender and receiver: per side 2 HMAC-SHA256, one HKDF, one
/// AES-256-GCM key schedule and seal (or open) of the plaintext.
pub struct MessageFloor {
    send_chain: [u8; 32],
    recv_chain: [u8; 32],
    aad: [u8; AAD_LEN],
}

impl Default for MessageFloor {
    fn default() -> Self {
        Self {
            send_chain: [7; 32],
            recv_chain: [7; 32],
            aad: [3; AAD_LEN],
        }
    }
}

impl MessageFloor {
    /// Sender half: seals `buf` in place and returns the tag.
    pub fn seal(&mut self, buf: &mut [u8]) -> Tag {
        let mk = chain_step(&mut self.send_chain);
        let (key, nonce) = aead_key(&mk);
        Aes256Gcm::new(&key.into())
            .encrypt_inout_detached(&Nonce::from(nonce), &self.aad, buf.into())
            .unwrap()
    }

    /// Receiver half: opens `buf` in place, checking `tag`.
    pub fn open(&mut self, buf: &mut [u8], tag: &Tag) {
        let mk = chain_step(&mut self.recv_chain);
        let (key, nonce) = aead_key(&mk);
        Aes256Gcm::new(&key.into())
            .decrypt_inout_detached(&Nonce::from(nonce), &self.aad, buf.into(), tag)
            .unwrap();
    }

    /// Sender then receiver, for a plaintext of at most 256 bytes.
    pub fn round(&mut self, plaintext: &[u8]) -> usize {
        let mut buf = [0u8; 256];
        let buf = &mut buf[..plaintext.len()];
        buf.copy_from_slice(plaintext);
        let tag = self.seal(buf);
        self.open(buf, &tag);
        buf.len()
    }
}

/// A DH ratchet step on receipt (Double Ratchet §3.5): `KDF_RK` with the DH to the peer's
/// new ratchet key, a new key pair, and `KDF_RK` with the DH from it. 1 keygen, 2 DH, 2 HKDF.
pub fn ratchet_step(
    rng: &mut ChaCha20Rng,
    root: &mut [u8; 32],
    ours: &StaticSecret,
    theirs: &PublicKey,
) -> (StaticSecret, PublicKey, [u8; 32], [u8; 32]) {
    let okm = hkdf::<64>(root, &dh(ours, theirs), b"Parley_Ratchet_v1");
    let recv: [u8; 32] = okm[32..].try_into().unwrap();
    let (secret, public) = x25519_keygen(rng);
    let okm = hkdf::<64>(&okm[..32], &dh(&secret, theirs), b"Parley_Ratchet_v1");
    root.copy_from_slice(&okm[..32]);
    let send: [u8; 32] = okm[32..].try_into().unwrap();
    (secret, public, recv, send)
}

/// Key material for a session set-up, made once outside the measurement.
pub struct SetupFloor {
    alice_dh: StaticSecret,
    alice_dh_pub: PublicKey,
    alice_signing: [u8; 32],
    alice_identity_msg: Vec<u8>,
    alice_identity_sig: Signature,
    bob_signing: VerifyingKey,
    bob_dh: StaticSecret,
    bob_dh_pub: PublicKey,
    spk: StaticSecret,
    spk_pub: PublicKey,
    spk_msg: Vec<u8>,
    spk_sig: Signature,
    opk: StaticSecret,
    opk_pub: PublicKey,
    kem_msg: Vec<u8>,
    kem_sig: Signature,
    kem_dk: Dk,
    kem_ek: Ek,
}

/// What the initiator sends (the parts the responder's primitives need).
pub struct InitiatorOutput {
    base_key: PublicKey,
    ratchet_key: PublicKey,
    kem_ct: KemCt,
    ciphertext: [u8; 256],
    len: usize,
    tag: Tag,
}

impl SetupFloor {
    pub fn new(rng: &mut ChaCha20Rng) -> Self {
        let alice_signer = SigningKey::generate(rng);
        let bob_signer = SigningKey::generate(rng);
        let (alice_dh, alice_dh_pub) = x25519_keygen(rng);
        let (bob_dh, bob_dh_pub) = x25519_keygen(rng);
        let (spk, spk_pub) = x25519_keygen(rng);
        let (opk, opk_pub) = x25519_keygen(rng);
        let mut seed = [0u8; 64];
        rng.fill_bytes(&mut seed);
        let kem_dk = Dk::from_seed(Seed::from(seed));
        let kem_ek = kem_dk.encapsulation_key().clone();
        // The signed messages have the lengths of ours: context || id || key.
        let mut alice_identity_msg = b"Parley_IdentityKey_v1".to_vec();
        alice_identity_msg.extend_from_slice(alice_dh_pub.as_bytes());
        let mut spk_msg = b"Parley_SignedPreKey_v1\0\0\0\x01".to_vec();
        spk_msg.extend_from_slice(spk_pub.as_bytes());
        let mut kem_msg = b"Parley_KemPreKey_v1\x02\0\0\0\x02".to_vec();
        kem_msg.extend_from_slice(&[0x5a; 1568]);
        Self {
            alice_signing: alice_signer.verifying_key().to_bytes(),
            alice_identity_sig: alice_signer.sign(&alice_identity_msg),
            alice_identity_msg,
            alice_dh,
            alice_dh_pub,
            bob_signing: bob_signer.verifying_key(),
            bob_dh,
            bob_dh_pub,
            spk,
            spk_pub,
            spk_sig: bob_signer.sign(&spk_msg),
            spk_msg,
            opk,
            opk_pub,
            kem_sig: bob_signer.sign(&kem_msg),
            kem_msg,
            kem_dk,
            kem_ek,
        }
    }

    /// The two prekey signatures an initiator checks (signed prekey, KEM prekey).
    pub fn verify_prekeys(&self) {
        self.bob_signing
            .verify_strict(&self.spk_msg, &self.spk_sig)
            .unwrap();
        self.bob_signing
            .verify_strict(&self.kem_msg, &self.kem_sig)
            .unwrap();
    }

    /// The initiator's X25519 part of PQXDH: `EK_A` keygen and DH1..DH4.
    pub fn x25519_initiator(&self, rng: &mut ChaCha20Rng) -> (PublicKey, [[u8; 32]; 4]) {
        let (ek, ek_pub) = x25519_keygen(rng);
        let dhs = [
            dh(&self.alice_dh, &self.spk_pub),
            dh(&ek, &self.bob_dh_pub),
            dh(&ek, &self.spk_pub),
            dh(&ek, &self.opk_pub),
        ];
        (ek_pub, dhs)
    }

    /// The responder's X25519 part of PQXDH: DH1..DH4.
    pub fn x25519_responder(&self, base_key: &PublicKey) -> [[u8; 32]; 4] {
        [
            dh(&self.spk, &self.alice_dh_pub),
            dh(&self.bob_dh, base_key),
            dh(&self.spk, base_key),
            dh(&self.opk, base_key),
        ]
    }

    /// ML-KEM-1024 encapsulation to the KEM prekey.
    pub fn encapsulate(&self, rng: &mut ChaCha20Rng) -> (KemCt, ml_kem::SharedKey) {
        self.kem_ek.encapsulate_with_rng(rng)
    }

    /// ML-KEM-1024 decapsulation with the KEM prekey.
    pub fn decapsulate(&self, ct: &KemCt) -> ml_kem::SharedKey {
        self.kem_dk.decapsulate(ct)
    }

    /// The initiator's identity signature as the responder checks it: the key arrives as
    /// bytes, so it is decompressed first.
    pub fn verify_identity(&self) {
        VerifyingKey::from_bytes(&self.alice_signing)
            .unwrap()
            .verify_strict(&self.alice_identity_msg, &self.alice_identity_sig)
            .unwrap();
    }

    /// Initiator, PQXDH only: 2 signature checks, `EK_A` keygen, 4 DH, encapsulation, HKDF.
    pub fn pqxdh_initiate(&self, rng: &mut ChaCha20Rng) -> (PublicKey, KemCt, [u8; 32]) {
        self.verify_prekeys();
        let (ek_pub, dhs) = self.x25519_initiator(rng);
        let (ct, ss) = self.encapsulate(rng);
        (ek_pub, ct, pqxdh_sk(dhs, &ss))
    }

    /// Responder, PQXDH only: 4 DH, decapsulation, HKDF.
    pub fn pqxdh_respond(&self, base_key: &PublicKey, ct: &KemCt) -> [u8; 32] {
        let dhs = self.x25519_responder(base_key);
        let ss = self.decapsulate(ct);
        pqxdh_sk(dhs, &ss)
    }

    /// Initiator: PQXDH, then the first ratchet key (keygen, DH, `KDF_RK`) and the first message.
    pub fn initiate(&self, rng: &mut ChaCha20Rng, plaintext: &[u8]) -> InitiatorOutput {
        let (base_key, kem_ct, sk) = self.pqxdh_initiate(rng);
        let (ratchet, ratchet_key) = x25519_keygen(rng);
        let okm = hkdf::<64>(&sk, &dh(&ratchet, &self.spk_pub), b"Parley_Ratchet_v1");
        let mut message = MessageFloor {
            send_chain: okm[32..].try_into().unwrap(),
            ..MessageFloor::default()
        };
        let mut ciphertext = [0u8; 256];
        let len = plaintext.len();
        ciphertext[..len].copy_from_slice(plaintext);
        let tag = message.seal(&mut ciphertext[..len]);
        InitiatorOutput {
            base_key,
            ratchet_key,
            kem_ct,
            ciphertext,
            len,
            tag,
        }
    }

    /// Responder: the initiator's identity signature (its key arrives as bytes), PQXDH, the DH
    /// ratchet step of Double Ratchet §3.5 (2 DH, 1 keygen, 2 `KDF_RK`) and the first message.
    pub fn respond(&self, rng: &mut ChaCha20Rng, init: &InitiatorOutput) -> u8 {
        self.verify_identity();
        let mut root = self.pqxdh_respond(&init.base_key, &init.kem_ct);
        let (_, _, recv, _) = ratchet_step(rng, &mut root, &self.spk, &init.ratchet_key);
        let mut message = MessageFloor {
            recv_chain: recv,
            ..MessageFloor::default()
        };
        let mut buf = init.ciphertext;
        let buf = &mut buf[..init.len];
        message.open(buf, &init.tag);
        buf[0]
    }
}

/// PQXDH's `SK = HKDF(F || DH1..DH4 || SS)`.
pub fn pqxdh_sk(dhs: [[u8; 32]; 4], ss: &[u8]) -> [u8; 32] {
    let mut ikm = [0xffu8; 32 * 6];
    for (chunk, dh) in ikm[32..].chunks_exact_mut(32).zip(dhs.iter()) {
        chunk.copy_from_slice(dh);
    }
    ikm[160..].copy_from_slice(ss);
    hkdf::<32>(&[0u8; 32], &ikm, b"Parley_CURVE25519_SHA-256_ML-KEM-1024")
}
