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
}
