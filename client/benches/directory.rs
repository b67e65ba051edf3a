//! Directory search over 10,000 colleagues (issue target: under 5 ms per search). The org log
//! is built and verified once; then the index is built, and searched for a few kinds of
//! query. Also the decoding of that org state from its stored bytes: what every read of the
//! stored log cost before the messenger kept the decoded state per log head. Results:
//! `docs/benchmarks.md`.
//!
//! Run with `cargo bench -p parley-client --bench directory`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use parley_client::search::DirectoryIndex;
use parley_crypto::keys::{SigningKeyPair, os_rng};
use parley_proto::UserId;
use parley_proto::org::{OrgBody, OrgEntry, OrgState, Profile};

const PEOPLE: usize = 10_000;

const FIRST: [&str; 12] = [
    "Anna",
    "Boris",
    "Olga",
    "Ivan",
    "Maria",
    "Sergey",
    "Ольга",
    "Иван",
    "Мария",
    "Сергей",
    "Пётр",
    "Елена",
];
const LAST: [&str; 10] = [
    "Berg",
    "Accardo",
    "Smith",
    "Novak",
    "Петров",
    "Семёнова",
    "Кузнецов",
    "Соколова",
    "Lee",
    "Orlov",
];
const TITLES: [&str; 8] = [
    "Senior Accountant",
    "Engineer",
    "Главный бухгалтер",
    "Водитель",
    "Sales Manager",
    "Юрист",
    "Product Designer",
    "Аналитик",
];
const DEPARTMENTS: [&str; 6] = [
    "Finance",
    "Platform",
    "Бухгалтерия",
    "Логистика",
    "Sales",
    "Юридический отдел",
];

/// A verified org log with `PEOPLE` users.
fn org() -> OrgState {
    let root = SigningKeyPair::generate(&mut os_rng());
    let genesis = OrgEntry::genesis(&root, "Acme", 100);
    let mut state = OrgState::new(&genesis, &genesis.hash()).unwrap();
    for i in 0..PEOPLE {
        let first = FIRST[i % FIRST.len()];
        let last = LAST[(i / FIRST.len()) % LAST.len()];
        let body = OrgBody::UserAdded {
            user: UserId::new(format!("u{i:05}")).unwrap(),
            profile: Profile {
                display_name: format!("{first} {last}"),
                email: format!("u{i:05}@acme.example"),
                title: TITLES[i % TITLES.len()].to_owned(),
                department: DEPARTMENTS[i % DEPARTMENTS.len()].to_owned(),
                phone: format!("+7 (495) {:03}-{:02}-{:02}", i % 1000, i % 97, i % 89),
            },
        };
        let entry = OrgEntry::after(&state.head(), body, &root, 101 + i as u64);
        state.apply(&entry).unwrap();
    }
    state
}

fn directory(c: &mut Criterion) {
    let state = org();
    let mut g = c.benchmark_group("directory_10000");
    g.sample_size(30);
    g.bench_function("build_index", |b| {
        b.iter(|| DirectoryIndex::new(black_box(&state)))
    });
    let bytes = state.to_bytes();
    g.bench_function("decode_state", |b| {
        b.iter(|| OrgState::from_bytes(black_box(&bytes)).unwrap())
    });
    let index = DirectoryIndex::new(&state);
    for (name, query) in [
        ("prefix_latin", "acc"),
        ("prefix_cyrillic", "бухг"),
        ("two_words", "ольга сем"),
        ("phone_digits", "7495123"),
        ("no_match", "zzzz"),
        ("empty_all_by_name", ""),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| index.search(black_box(query), false, 20))
        });
    }
    g.finish();
}

criterion_group!(benches, directory);
criterion_main!(benches);
