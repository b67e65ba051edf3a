//! Writes the seed corpora for the fuzz targets (valid encodings of every decoded type, and a
//! few malformed ones). Run on purpose only: `cargo test -p parley-crypto --test seed_corpus --
//! --ignored`. The output is committed under `fuzz/corpus/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::fs;
use std::path::Path;

use common::{Party, established};
use parley_crypto::attachment;
use parley_crypto::fuzz_targets::{
    FIXED_GROUP, FIXED_RECORD_DECRYPTED, fixed_attachment_key, fixed_safety_numbers, fixed_sender,
    fixed_sender_key,
};
use parley_crypto::sender_key::SenderKeyRecord;
use sha2::{Digest, Sha256};

fn write(target: &str, data: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    fs::create_dir_all(&dir).unwrap();
    let name = hex::encode(&Sha256::digest(data)[..8]);
    fs::write(dir.join(name), data).unwrap();
}

#[test]
#[ignore = "writes files: run on purpose to refresh the seed corpora"]
fn write_seed_corpus() {
    let (mut alice, mut bob) = established();
    let (a, b) = (alice.address.clone(), bob.address.clone());
    write("public_identity", &alice.identity.public().to_bytes());
    write("private_identity", &alice.identity.to_bytes());
    write("prekey_bundle", &bob.bundle().to_bytes());
    write("prekey_store", &bob.prekeys.to_bytes());
    let fresh = Party::new("carol", 3, 9, 0);
    write("prekey_bundle", &fresh.bundle().to_bytes());
    write("prekey_store", &fresh.prekeys.to_bytes());
    let m = alice.encrypt(&b, b"seed message");
    write("session_message", &m);
    write("session_decrypt", &m);
    let mut carol = Party::new("carol", 3, 9, 1);
    carol.start(&b, &bob.bundle());
    let pre = carol.encrypt(&b, b"prekey seed");
    write("session_message", &pre);
    write("session_decrypt", &pre);
    let _ = bob.decrypt(&a, &m);
    write("session_record", &bob.sessions[&a].to_bytes());
    write("session_record", &carol.sessions[&b].to_bytes());
    for target in [
        "public_identity",
        "prekey_bundle",
        "session_message",
        "session_record",
    ] {
        write(target, &[]);
        write(target, &[1]);
        write(target, &[2, 0, 0, 0]);
    }
    write_sender_key_seeds();
    write_attachment_seeds();
    write_safety_number_seeds();
}

/// Messages of the fixed sender key (some of which the fixed record decrypts), its
/// distribution messages, and records.
fn write_sender_key_seeds() {
    let sender = fixed_sender();
    let mut own = fixed_sender_key();
    write(
        "sender_key_distribution",
        &own.distribution_message().to_bytes(),
    );
    let mut record = SenderKeyRecord::new();
    record.process_distribution(&own.distribution_message());
    write("sender_key_record", &record.to_bytes());
    for i in 0..=FIXED_RECORD_DECRYPTED + 1 {
        let m = own
            .encrypt(&sender, format!("group {i}").as_bytes())
            .unwrap();
        // 0 and 1 decrypt with skipped keys, 2 is a replay, 3 advances the chain.
        write("sender_key_message", &m);
        if i == FIXED_RECORD_DECRYPTED {
            record.decrypt(&FIXED_GROUP, &sender, &m).unwrap();
            write("sender_key_record", &record.to_bytes());
        }
    }
    // The same chain further on: the distribution advances the fixed record's chain.
    write(
        "sender_key_distribution",
        &own.distribution_message().to_bytes(),
    );
    let mut other = parley_crypto::sender_key::OwnSenderKey::new(FIXED_GROUP, &mut common::rng(4));
    write(
        "sender_key_distribution",
        &other.distribution_message().to_bytes(),
    );
    write(
        "sender_key_message",
        &other.encrypt(&sender, b"unknown chain").unwrap(),
    );
    for target in [
        "sender_key_distribution",
        "sender_key_message",
        "sender_key_record",
    ] {
        write(target, &[]);
        write(target, &[1]);
    }
}

/// Genuine streams under the fixed key (empty and short plaintexts), each behind the mode
/// byte of the target, and a header alone.
fn write_attachment_seeds() {
    let key = fixed_attachment_key();
    for (mode, plaintext) in [
        (0u8, &b""[..]),
        (0, b"attachment seed"),
        (7, b"trickled"),
        (0x80, b"x"),
    ] {
        let mut out = vec![mode];
        attachment::encrypt(&key, &mut common::rng(mode), plaintext, &mut out, |_| ()).unwrap();
        write("attachment_decrypt", &out);
        if plaintext.is_empty() {
            out.truncate(1 + attachment::HEADER_LEN);
            write("attachment_decrypt", &out);
        }
    }
}

/// The code that matches the fixed number, one that does not, and a short one.
fn write_safety_number_seeds() {
    let (ours, theirs) = fixed_safety_numbers();
    write("safety_number_scan", &theirs.scannable());
    write("safety_number_scan", &ours.scannable());
    write("safety_number_scan", &theirs.scannable()[..10]);
}
