//! Benchmarks of `parley-crypto` next to vodozemac (Olm, Megolm) and the primitive floor, all
//! in one run so that ratios compare like with like. Results and targets: `docs/benchmarks.md`.
//!
//! Run with `cargo bench -p parley-crypto --bench crypto`; every group keeps its warm-up and
//! measurement short so the whole run takes a few minutes on a shared two-core machine.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use criterion::{Criterion, criterion_group};

#[path = "crypto/attachment.rs"]
mod attachment;
#[path = "crypto/fixtures.rs"]
mod fixtures;
#[path = "crypto/floor.rs"]
mod floor;
#[path = "crypto/group.rs"]
mod group;
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
    group::group_messages,
    attachment::attachments,
    primitives::pqxdh,
    primitives::primitives,
);
fn main() {
    benches();
    let selection = paired::Selection::from_args();
    pairwise::pairs(&selection);
    group::pairs(&selection);
    attachment::pairs(&selection);
    Criterion::default().configure_from_args().final_summary();
}
