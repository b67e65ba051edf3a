//! Replays every committed fuzz corpus input through its target (`fuzz/corpus/<target>/*`), so
//! `cargo test` catches a regression that the fuzzer once found, without nightly or cargo-fuzz.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::fs;
use std::path::{Path, PathBuf};

use parley_crypto::fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

#[test]
fn every_target_has_a_fuzz_binary_and_a_corpus() {
    for (name, _) in TARGETS {
        assert!(
            fuzz_dir().join(format!("fuzz_targets/{name}.rs")).is_file(),
            "{name}: no target"
        );
        let corpus = fuzz_dir().join("corpus").join(name);
        let n = fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0);
        assert!(n > 0, "{name}: empty corpus at {}", corpus.display());
    }
}

#[test]
fn replay_corpora() {
    let mut total = 0;
    for (name, target) in TARGETS {
        let corpus = fuzz_dir().join("corpus").join(name);
        let Ok(entries) = fs::read_dir(&corpus) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = fs::read(&path).unwrap();
            target(&data);
            total += 1;
        }
    }
    assert!(total > 0);
}

// ---------------------------------------------------------------------------------------------
// Crashes the fuzzer found, reduced to tests.

/// Whether `bytes` decode to a store that encodes back to exactly `bytes` (or are refused).
fn prekey_store_is_canonical(bytes: &[u8]) -> bool {
    use parley_crypto::prekeys::PreKeyStore;
    PreKeyStore::from_bytes(bytes).map_or(true, |s| *s.to_bytes() == *bytes)
}

/// Found by `prekey_store` (2026-11-26, within seconds): `PreKeyStore::from_bytes` collects
/// one-time prekeys (X25519 and KEM) into maps keyed by id, so an encoding with an id twice
/// (the later entry silently wins) or with ids out of order decodes, and encodes back to other
/// bytes. Fixed: the decoder now refuses ids that are not strictly increasing, as
/// `SenderKeyRecord` does for skipped keys.
#[test]
fn prekey_store_with_repeated_one_time_ids_is_refused() {
    use parley_crypto::identity::IdentityKeyPair;
    use parley_crypto::prekeys::PreKeyStore;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let identity = IdentityKeyPair::generate(&mut rng);
    let mut store = PreKeyStore::new(&identity, 0, &mut rng);
    let (ec, kem) = store.generate_one_time(&identity, 2, &mut rng);
    let bytes = store.to_bytes().to_vec();
    assert!(prekey_store_is_canonical(&bytes));
    // Each list: count 2, then entries of id (4 bytes) and key material.
    for (first, second, entry_len) in [
        (ec[0].id, ec[1].id, 4 + 32),
        (kem[0].id, kem[1].id, 4 + 128),
    ] {
        let mut header = vec![0, 0, 0, 2];
        header.extend_from_slice(&first.to_be_bytes());
        let start = bytes
            .windows(8)
            .position(|w| w == header)
            .expect("list header")
            + 4;
        let second_at = start + entry_len;
        assert_eq!(bytes[second_at..second_at + 4], second.to_be_bytes());
        // The same id twice.
        let mut repeated = bytes.clone();
        repeated[second_at..second_at + 4].copy_from_slice(&first.to_be_bytes());
        assert!(prekey_store_is_canonical(&repeated), "id {first} twice");
        // Both entries, in the other order.
        let mut swapped = bytes.clone();
        swapped[start..start + 2 * entry_len].rotate_left(entry_len);
        assert!(prekey_store_is_canonical(&swapped), "ids out of order");
    }
}
