//! Pairwise sessions: set-up, messages on an established chain, and ping-pong with a DH
//! ratchet on every message; ours (PQXDH + Double Ratchet) against vodozemac's Olm and the
//! primitive floor.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion};
use parley_crypto::message::SessionMessage;
use parley_crypto::prekeys::{PreKeyBundle, PreKeyStore};
use parley_crypto::session_record::SessionRecord;
use rand_chacha::ChaCha20Rng;
use vodozemac::olm::{Account, OlmMessage, SessionConfig};

use crate::fixtures::{
    Device, MSG, decrypt_with, group, olm_account_with_otk, olm_decrypt, olm_encrypt, olm_pair,
    our_pair, rng,
};
use crate::floor::{MessageFloor, SetupFloor, ratchet_step, x25519_keygen};
use crate::paired::{Selection, batched, compare, plain};

/// Our set-up: Alice starts a session with Bob, who has one-time X25519 and ML-KEM prekeys
/// (so PQXDH does DH4 as well), and Bob accepts it from the first message.
struct OurSetup {
    alice: Device,
    bob: Device,
    bundle: PreKeyBundle,
}

impl OurSetup {
    fn new() -> Self {
        let alice = Device::new("alice", 1, 0);
        let bob = Device::new("bob", 2, 1);
        let bundle = bob.bundle();
        Self { alice, bob, bundle }
    }

    /// Alice's side: a new record started from `bundle`, and its first message's bytes.
    fn initiate(&self, rng: &mut ChaCha20Rng, bundle: &PreKeyBundle) -> (SessionRecord, Vec<u8>) {
        let alice = &self.alice;
        let mut record = SessionRecord::new();
        record
            .initiate(
                &alice.address,
                &self.bob.address,
                &alice.identity,
                bundle,
                rng,
            )
            .unwrap();
        let bytes = record.encrypt(&MSG).unwrap().to_bytes();
        (record, bytes)
    }

    /// What one `respond` consumes: a copy of Bob's prekey store and an empty record.
    fn bob_state(&self) -> (PreKeyStore, SessionRecord) {
        (self.bob.prekeys.clone(), SessionRecord::new())
    }

    /// Bob's side: parse the first message and accept the session; returns the state (to be
    /// dropped outside the timing) and the plaintext length.
    fn respond(
        &self,
        (mut store, mut record): (PreKeyStore, SessionRecord),
        first: &[u8],
        rng: &mut ChaCha20Rng,
    ) -> (PreKeyStore, SessionRecord, usize) {
        let m = SessionMessage::from_bytes(first).unwrap();
        let bob = &self.bob;
        let n = decrypt_with(
            &mut record,
            &bob.address,
            &bob.identity,
            &mut store,
            &self.alice.address,
            &m,
            rng,
        );
        (store, record, n)
    }
}

/// Item 1: session set-up, each side and both, with the first message. Inputs consumed by an
/// iteration (prekey store, Olm account) are made fresh before each one (`PerIteration`: at
/// ~1 ms per iteration the timer's cost is negligible, and a large batch of prekey stores,
/// ~50 KiB each with their expanded ML-KEM keys, would measure cache misses instead).
pub fn setup(c: &mut Criterion) {
    let mut g = group(c, "setup", 3);

    // Ours.
    let ours = OurSetup::new();
    let bundle_bytes = ours.bundle.to_bytes();
    let mut rng_a = rng(10);
    let mut rng_b = rng(11);
    let (_, first) = ours.initiate(&mut rng_a, &ours.bundle);

    g.bench_function("ours/initiate+encrypt", |b| {
        b.iter(|| ours.initiate(&mut rng_a, black_box(&ours.bundle)));
    });
    g.bench_function("ours/initiate+encrypt (bundle from bytes)", |b| {
        b.iter(|| {
            let bundle = PreKeyBundle::from_bytes(black_box(&bundle_bytes)).unwrap();
            ours.initiate(&mut rng_a, &bundle)
        });
    });
    g.bench_function("ours/respond+decrypt", |b| {
        b.iter_batched(
            || ours.bob_state(),
            |state| ours.respond(state, black_box(&first), &mut rng_b),
            BatchSize::PerIteration,
        );
    });
    g.bench_function("ours/both", |b| {
        b.iter_batched(
            || ours.bob_state(),
            |state| {
                let (sent, bytes) = ours.initiate(&mut rng_a, black_box(&ours.bundle));
                (sent, ours.respond(state, &bytes, &mut rng_b))
            },
            BatchSize::PerIteration,
        );
    });

    // Olm: 3DH with a one-time key, no signatures checked (the caller checks the signed
    // one-time key), no KEM.
    let olm_alice = Account::new();
    let (olm_bob, otk) = olm_account_with_otk();
    let bob_key = olm_bob.curve25519_key();
    let alice_key = olm_alice.curve25519_key();
    let outbound = || {
        let mut s = olm_alice
            .create_outbound_session(SessionConfig::version_1(), bob_key, black_box(otk))
            .unwrap();
        let parts = s.encrypt(MSG).unwrap().to_parts();
        (s, parts)
    };
    let inbound = |account: &mut Account, parts: &(usize, Vec<u8>)| {
        let OlmMessage::PreKey(m) = OlmMessage::from_parts(parts.0, &parts.1).unwrap() else {
            unreachable!("a first message is a prekey message")
        };
        account
            .create_inbound_session(SessionConfig::version_1(), alice_key, &m)
            .unwrap()
    };
    let (_, olm_first) = outbound();
    g.bench_function("olm/outbound+encrypt", |b| b.iter(outbound));
    g.bench_function("olm/inbound+decrypt", |b| {
        b.iter_batched(
            || Account::from_pickle(olm_bob.pickle()),
            |mut account| {
                let r = inbound(&mut account, black_box(&olm_first));
                (account, r)
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("olm/both", |b| {
        b.iter_batched(
            || Account::from_pickle(olm_bob.pickle()),
            |mut account| {
                let (sent, parts) = outbound();
                let r = inbound(&mut account, &parts);
                (account, sent, r)
            },
            BatchSize::PerIteration,
        );
    });

    // Floor: the same primitive calls, directly on the primitive crates.
    let floor = SetupFloor::new(&mut rng(12));
    let mut rng_f = rng(13);
    let floor_first = floor.initiate(&mut rng_f, &MSG);
    g.bench_function("floor/initiate+encrypt", |b| {
        b.iter(|| floor.initiate(&mut rng_f, black_box(&MSG)));
    });
    g.bench_function("floor/respond+decrypt", |b| {
        b.iter(|| floor.respond(&mut rng_f, black_box(&floor_first)));
    });
    g.bench_function("floor/both", |b| {
        b.iter(|| {
            let first = floor.initiate(&mut rng_f, black_box(&MSG));
            floor.respond(&mut rng_f, &first)
        });
    });
    g.finish();
}

/// Item 2: a 100-byte message on an established chain, same direction (no DH step).
pub fn message(c: &mut Criterion) {
    let mut g = group(c, "message_100B", 3);
    g.sample_size(60);

    let (mut alice, mut bob) = our_pair();
    let from = alice.address.clone();
    g.bench_function("ours/encrypt+decrypt", |b| {
        b.iter(|| {
            let bytes = alice.encrypt(black_box(&MSG));
            bob.decrypt(&from, &bytes)
        });
    });
    g.bench_function("ours/encrypt", |b| {
        b.iter(|| alice.encrypt(black_box(&MSG)));
    });
    // Resynchronise: Bob skipped what `ours/encrypt` sent. A new pair keeps the chain clean.
    let (mut alice, mut bob) = our_pair();
    g.bench_function("ours/decrypt", |b| {
        b.iter_batched(
            || alice.encrypt(&MSG),
            |bytes| bob.decrypt(&from, black_box(&bytes)),
            BatchSize::SmallInput,
        );
    });

    let (mut olm_a, mut olm_b) = olm_pair();
    g.bench_function("olm/encrypt+decrypt", |b| {
        b.iter(|| {
            let parts = olm_encrypt(&mut olm_a, black_box(&MSG));
            olm_decrypt(&mut olm_b, &parts)
        });
    });
    g.bench_function("olm/encrypt", |b| {
        b.iter(|| olm_encrypt(&mut olm_a, black_box(&MSG)));
    });
    let (mut olm_a, mut olm_b) = olm_pair();
    g.bench_function("olm/decrypt", |b| {
        b.iter_batched(
            || olm_encrypt(&mut olm_a, &MSG),
            |parts| olm_decrypt(&mut olm_b, black_box(&parts)),
            BatchSize::SmallInput,
        );
    });

    let mut floor = MessageFloor::default();
    g.bench_function("floor/encrypt+decrypt", |b| {
        b.iter(|| floor.round(black_box(&MSG)));
    });
    g.finish();
}

/// Item 3: ping-pong, A→B then B→A; every message carries a new ratchet key, so every
/// receipt is a DH ratchet step.
pub fn ping_pong(c: &mut Criterion) {
    let mut g = group(c, "ping_pong_100B", 3);

    let (mut alice, mut bob) = our_pair();
    let (a_addr, b_addr) = (alice.address.clone(), bob.address.clone());
    g.bench_function("ours/round_trip", |b| {
        b.iter(|| {
            let ping = alice.encrypt(black_box(&MSG));
            bob.decrypt(&a_addr, &ping);
            let pong = bob.encrypt(black_box(&MSG));
            alice.decrypt(&b_addr, &pong)
        });
    });

    let (mut olm_a, mut olm_b) = olm_pair();
    g.bench_function("olm/round_trip", |b| {
        b.iter(|| {
            let ping = olm_encrypt(&mut olm_a, black_box(&MSG));
            olm_decrypt(&mut olm_b, &ping);
            let pong = olm_encrypt(&mut olm_b, black_box(&MSG));
            olm_decrypt(&mut olm_a, &pong)
        });
    });

    // Floor: per message one DH ratchet step (1 keygen, 2 DH, 2 HKDF) and the message
    // primitives on both sides.
    let mut rng_f = rng(14);
    let (mut a_secret, mut a_public) = x25519_keygen(&mut rng_f);
    let (mut b_secret, mut b_public) = x25519_keygen(&mut rng_f);
    let (mut a_root, mut b_root) = ([1u8; 32], [2u8; 32]);
    let mut message = MessageFloor::default();
    g.bench_function("floor/round_trip", |b| {
        b.iter(|| {
            message.round(black_box(&MSG));
            let (s, p, ..) = ratchet_step(&mut rng_f, &mut b_root, &b_secret, &a_public);
            (b_secret, b_public) = (s, p);
            message.round(black_box(&MSG));
            let (s, p, ..) = ratchet_step(&mut rng_f, &mut a_root, &a_secret, &b_public);
            (a_secret, a_public) = (s, p);
        });
    });
    g.finish();
}

/// Paired runs of the comparisons the targets in `docs/benchmarks.md` are about.
pub fn pairs(sel: &Selection) {
    let secs = Duration::from_secs(4);

    // Set-up, both sides with the first message, against the floor.
    let ours = OurSetup::new();
    let (mut rng_a, mut rng_b) = (rng(60), rng(61));
    let floor = SetupFloor::new(&mut rng(62));
    let mut rng_f = rng(63);
    compare(
        sel,
        "setup: ours/both vs floor/both",
        |n| {
            batched(
                n,
                || ours.bob_state(),
                |state| {
                    let (sent, bytes) = ours.initiate(&mut rng_a, &ours.bundle);
                    (sent, ours.respond(state, &bytes, &mut rng_b))
                },
            )
        },
        |n| {
            plain(n, || {
                let first = floor.initiate(&mut rng_f, &MSG);
                floor.respond(&mut rng_f, &first)
            })
        },
        secs,
    );

    // Each side alone, and the cost of taking the bundle as the relay's bytes.
    let short = Duration::from_secs(3);
    let bundle_bytes = ours.bundle.to_bytes();
    let (_, first) = ours.initiate(&mut rng_a, &ours.bundle);
    let floor_first = floor.initiate(&mut rng_f, &MSG);
    let (mut rng_c, mut rng_d) = (rng(64), rng(65));
    compare(
        sel,
        "setup: ours/initiate+encrypt vs floor/initiate+encrypt",
        |n| plain(n, || ours.initiate(&mut rng_a, &ours.bundle)),
        |n| plain(n, || floor.initiate(&mut rng_f, &MSG)),
        short,
    );
    compare(
        sel,
        "setup: ours/initiate+encrypt, bundle from bytes vs parsed",
        |n| {
            plain(n, || {
                let parsed = PreKeyBundle::from_bytes(&bundle_bytes).unwrap();
                ours.initiate(&mut rng_c, &parsed)
            })
        },
        |n| plain(n, || ours.initiate(&mut rng_d, &ours.bundle)),
        short,
    );
    compare(
        sel,
        "setup: ours/respond+decrypt vs floor/respond+decrypt",
        |n| {
            batched(
                n,
                || ours.bob_state(),
                |state| ours.respond(state, &first, &mut rng_b),
            )
        },
        |n| plain(n, || floor.respond(&mut rng_f, &floor_first)),
        short,
    );

    // Messages on an established chain.
    let (mut alice, mut bob) = our_pair();
    let from = alice.address.clone();
    let mut ours = |n| {
        plain(n, || {
            let bytes = alice.encrypt(&MSG);
            bob.decrypt(&from, &bytes)
        })
    };
    let mut floor = MessageFloor::default();
    compare(
        sel,
        "message_100B: ours vs floor",
        &mut ours,
        |n| plain(n, || floor.round(&MSG)),
        secs,
    );
    let (mut olm_a, mut olm_b) = olm_pair();
    compare(
        sel,
        "message_100B: ours vs olm",
        &mut ours,
        |n| {
            plain(n, || {
                let parts = olm_encrypt(&mut olm_a, &MSG);
                olm_decrypt(&mut olm_b, &parts)
            })
        },
        secs,
    );

    // Ping-pong.
    let (mut alice, mut bob) = our_pair();
    let (a_addr, b_addr) = (alice.address.clone(), bob.address.clone());
    let (mut olm_a, mut olm_b) = olm_pair();
    compare(
        sel,
        "ping_pong_100B: ours vs olm",
        |n| {
            plain(n, || {
                let ping = alice.encrypt(&MSG);
                bob.decrypt(&a_addr, &ping);
                let pong = bob.encrypt(&MSG);
                alice.decrypt(&b_addr, &pong)
            })
        },
        |n| {
            plain(n, || {
                let ping = olm_encrypt(&mut olm_a, &MSG);
                olm_decrypt(&mut olm_b, &ping);
                let pong = olm_encrypt(&mut olm_b, &MSG);
                olm_decrypt(&mut olm_a, &pong)
            })
        },
        secs,
    );
}
