//! Item 4: a 100-byte group message, ours (sender keys, Ed25519-signed) against vodozemac's
//! Megolm (also Ed25519-signed) and the primitive floor.

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::Criterion;
use ed25519_dalek::{Signer, SigningKey};
use parley_crypto::DeviceAddress;
use parley_crypto::sender_key::{GroupId, OwnSenderKey, SenderKeyRecord};
use vodozemac::megolm::{GroupSession, InboundGroupSession, MegolmMessage, SessionConfig};

use std::time::Duration;

use crate::fixtures::{MSG, group, rng};
use crate::floor::{hkdf, hmac};
use crate::paired::{Selection, compare, plain};

/// Length of a sender-key message's associated data for the benchmark sender (`alice`/1):
/// version (1) + group id (32) + address (4 + 5 + 4) + chain id (4) + iteration (4).
const GROUP_AAD_LEN: usize = 1 + 32 + 13 + 4 + 4;

/// Length of the bytes a sender-key message signature covers for a 100-byte plaintext:
/// version (1) + group id (32) + chain id (4) + iteration (4) + length (4) + ciphertext (116).
const SIGNED_LEN: usize = 1 + 32 + 4 + 4 + 4 + 116;

pub fn group_messages(c: &mut Criterion) {
    let mut g = group(c, "group_100B", 3);
    g.sample_size(60);

    // Ours: one sender chain, one receiving record that holds its distribution.
    let mut rng_g = rng(40);
    let group_id = GroupId::generate(&mut rng_g);
    let sender = DeviceAddress::new("alice", 1).unwrap();
    let mut own = OwnSenderKey::new(group_id, &mut rng_g);
    let mut record = SenderKeyRecord::new();
    record.process_distribution(&own.distribution_message());
    g.bench_function("ours/encrypt+decrypt", |b| {
        b.iter(|| {
            let bytes = own.encrypt(&sender, black_box(&MSG)).unwrap();
            record.decrypt(&group_id, &sender, &bytes).unwrap().len()
        });
    });

    // Megolm.
    let mut outbound = GroupSession::new(SessionConfig::version_1());
    let mut inbound = InboundGroupSession::new(&outbound.session_key(), SessionConfig::version_1());
    g.bench_function("megolm/encrypt+decrypt", |b| {
        b.iter(|| {
            let bytes = outbound.encrypt(black_box(MSG)).to_bytes();
            let message = MegolmMessage::from_bytes(&bytes).unwrap();
            inbound.decrypt(&message).unwrap().plaintext.len()
        });
    });

    // Floor: per side a chain step (2 HMAC), HKDF and AES-256-GCM; the sender signs the
    // message and the receiver verifies it (Ed25519).
    let signer = SigningKey::generate(&mut rng_g);
    let verifier = signer.verifying_key();
    let aad = [5u8; GROUP_AAD_LEN];
    let (mut send_chain, mut recv_chain) = ([9u8; 32], [9u8; 32]);
    g.bench_function("floor/encrypt+decrypt", |b| {
        b.iter(|| {
            let mut signed = [0u8; SIGNED_LEN];
            let (_, body) = signed.split_at_mut(SIGNED_LEN - 116);
            let (buf, tag_out) = body.split_at_mut(100);
            buf.copy_from_slice(black_box(&MSG));
            let mk = hmac(&send_chain, &[0x01]);
            send_chain = hmac(&send_chain, &[0x02]);
            let okm = hkdf::<44>(&[0u8; 32], &mk, b"Parley_SenderKey_Message_v1");
            let (key, nonce) = okm.split_at(32);
            let cipher = Aes256Gcm::new_from_slice(key).unwrap();
            let nonce = Nonce::try_from(nonce).unwrap();
            let tag = cipher
                .encrypt_inout_detached(&nonce, &aad, buf.into())
                .unwrap();
            tag_out.copy_from_slice(&tag);
            let signature = signer.sign(&signed);

            verifier.verify_strict(&signed, &signature).unwrap();
            let mk = hmac(&recv_chain, &[0x01]);
            recv_chain = hmac(&recv_chain, &[0x02]);
            let okm = hkdf::<44>(&[0u8; 32], &mk, b"Parley_SenderKey_Message_v1");
            let (key, nonce) = okm.split_at(32);
            let cipher = Aes256Gcm::new_from_slice(key).unwrap();
            let nonce = Nonce::try_from(nonce).unwrap();
            let (_, body) = signed.split_at_mut(SIGNED_LEN - 116);
            let (buf, _) = body.split_at_mut(100);
            cipher
                .decrypt_inout_detached(&nonce, &aad, buf.into(), &tag)
                .unwrap();
            buf[0]
        });
    });
    g.finish();
}

/// Paired run: ours against Megolm.
pub fn pairs(sel: &Selection) {
    let mut rng_g = rng(41);
    let group_id = GroupId::generate(&mut rng_g);
    let sender = DeviceAddress::new("alice", 1).unwrap();
    let mut own = OwnSenderKey::new(group_id, &mut rng_g);
    let mut record = SenderKeyRecord::new();
    record.process_distribution(&own.distribution_message());
    let mut outbound = GroupSession::new(SessionConfig::version_1());
    let mut inbound = InboundGroupSession::new(&outbound.session_key(), SessionConfig::version_1());
    compare(
        sel,
        "group_100B: ours vs megolm",
        |n| {
            plain(n, || {
                let bytes = own.encrypt(&sender, &MSG).unwrap();
                record.decrypt(&group_id, &sender, &bytes).unwrap().len()
            })
        },
        |n| {
            plain(n, || {
                let bytes = outbound.encrypt(MSG).to_bytes();
                let message = MegolmMessage::from_bytes(&bytes).unwrap();
                inbound.decrypt(&message).unwrap().plaintext.len()
            })
        },
        Duration::from_secs(4),
    );
}
