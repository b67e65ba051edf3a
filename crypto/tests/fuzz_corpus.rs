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
