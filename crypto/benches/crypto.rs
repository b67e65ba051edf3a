//! Benchmarks of `parley-crypto` next to vodozemac (Olm, Megolm) and the primitive floor, all
//! in one run so that ratios compare like with like. Results and targets: `docs/benchmarks.md`.
//!
//! Run with `cargo bench -p parley-crypto --bench crypto`; every group keeps its warm-up and
//! measurement short so the whole run takes a few minutes on a shared two-core machine.
//!
//! Items 4 and 5 (`crypto/group.rs`, `crypto/attachment.rs`) use `parley_crypto::sender_key`
//! and `parley_crypto::attachment`, which are not on this branch yet. Once they are, add
//! `#[path = "crypto/group.rs"] mod group;` and `#[path = "crypto/attachment.rs"] mod
//! attachment;`, put `group::group_messages, attachment::attachments` in `criterion_group!`,
//! and call `group::pairs(&selection); attachment::pairs(&selection);` in `main`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use criterion::{Criterion, criterion_group};

#[path = "crypto/fixtures.rs"]
mod fixtures;
#[path = "crypto/floor.rs"]
mod floor;
#[path = "crypto/paired.rs"]
mod paired;
#[path = "crypto/pairwise.rs"]
mod pairwise;
#[path = "crypto/primitives.rs"]
mod primitives;

criterion_group!(
    benches,
    pairwise::setup,
    pairwise::message,
    pairwise::ping_pong,
    primitives::pqxdh,
    primitives::primitives,
);
fn main() {
    benches();
    let selection = paired::Selection::from_args();
    pairwise::pairs(&selection);
    Criterion::default().configure_from_args().final_summary();
}
