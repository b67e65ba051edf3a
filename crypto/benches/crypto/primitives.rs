//! PQXDH's cost split (item 6) and single primitive operations (item 7), in the same run as
//! the protocol benchmarks so the ratios compare like with like.

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::Criterion;
use ml_kem::Seed;
use parley_crypto::keys::{PublicKey as OurPublicKey, SigningPublicKey};
use parley_crypto::pqxdh;

use crate::fixtures::{Device, MSG, group, rng};
use crate::floor::{AAD_LEN, Dk, SetupFloor, dh, hkdf, hmac, pqxdh_sk, x25519_keygen};

/// Item 6: PQXDH alone, ours against its X25519, ML-KEM-1024 and Ed25519 parts measured on the
/// primitive crates.
pub fn pqxdh(c: &mut Criterion) {
    let mut g = group(c, "pqxdh", 2);

    let alice = Device::new("alice", 1, 0);
    let bob = Device::new("bob", 2, 1);
    let bundle = bob.bundle();
    let mut rng_a = rng(20);
    let (_, init) = pqxdh::initiate(&alice.identity, &bundle, &mut rng_a).unwrap();
    g.bench_function("ours/initiate", |b| {
        b.iter(|| pqxdh::initiate(&alice.identity, black_box(&bundle), &mut rng_a).unwrap());
    });
    g.bench_function("ours/respond", |b| {
        b.iter(|| pqxdh::respond(&bob.identity, &bob.prekeys, black_box(&init)).unwrap());
    });

    let floor = SetupFloor::new(&mut rng(21));
    let mut rng_f = rng(22);
    let (base_key, ct, _) = floor.pqxdh_initiate(&mut rng_f);
    g.bench_function("floor/initiate", |b| {
        b.iter(|| floor.pqxdh_initiate(&mut rng_f));
    });
    g.bench_function("floor/respond", |b| {
        b.iter(|| floor.pqxdh_respond(black_box(&base_key), black_box(&ct)));
    });
    g.bench_function("x25519/initiator (keygen + 4 DH)", |b| {
        b.iter(|| floor.x25519_initiator(&mut rng_f));
    });
    g.bench_function("x25519/responder (4 DH)", |b| {
        b.iter(|| floor.x25519_responder(black_box(&base_key)));
    });
    g.bench_function("ml-kem-1024/encapsulate", |b| {
        b.iter(|| floor.encapsulate(&mut rng_f));
    });
    g.bench_function("ml-kem-1024/decapsulate", |b| {
        b.iter(|| floor.decapsulate(black_box(&ct)));
    });
    g.bench_function("ed25519/verify 2 prekey signatures", |b| {
        b.iter(|| floor.verify_prekeys());
    });
    let dhs = floor.x25519_responder(&base_key);
    let ss = floor.decapsulate(&ct);
    g.bench_function("hkdf/SK", |b| {
        b.iter(|| pqxdh_sk(black_box(dhs), black_box(&ss)));
    });
    g.finish();
}

/// Item 7: the single primitive operations a message and a session set-up are made of.
pub fn primitives(c: &mut Criterion) {
    let mut g = group(c, "primitives", 2);

    // Per message (×2: sender and receiver).
    let key = [7u8; 32];
    g.bench_function("hmac-sha256 (32 B key, 1 B)", |b| {
        b.iter(|| hmac(black_box(&key), black_box(&[0x01])));
    });
    g.bench_function("hkdf-sha256 (32 B → 44 B)", |b| {
        b.iter(|| hkdf::<44>(&[0u8; 32], black_box(&key), b"Parley_MessageKeys_v1"));
    });
    let aad = [3u8; AAD_LEN];
    let nonce = Nonce::from([9u8; 12]);
    g.bench_function("aes-256-gcm/key schedule + seal 100 B", |b| {
        b.iter(|| {
            let mut buf = MSG;
            Aes256Gcm::new(&black_box(key).into())
                .encrypt_inout_detached(&nonce, &aad, (&mut buf[..]).into())
                .unwrap()
        });
    });
    let mut sealed = MSG;
    let tag = Aes256Gcm::new(&key.into())
        .encrypt_inout_detached(&nonce, &aad, (&mut sealed[..]).into())
        .unwrap();
    g.bench_function("aes-256-gcm/key schedule + open 100 B", |b| {
        b.iter(|| {
            let mut buf = sealed;
            Aes256Gcm::new(&black_box(key).into())
                .decrypt_inout_detached(&nonce, &aad, (&mut buf[..]).into(), &tag)
                .unwrap();
            buf
        });
    });

    // Per session set-up.
    let mut rng_p = rng(30);
    let (secret, _) = x25519_keygen(&mut rng_p);
    let (_, public) = x25519_keygen(&mut rng_p);
    g.bench_function("x25519/keygen", |b| {
        b.iter(|| x25519_keygen(&mut rng_p));
    });
    g.bench_function("x25519/dh", |b| {
        b.iter(|| dh(black_box(&secret), black_box(&public)));
    });
    let floor = SetupFloor::new(&mut rng(31));
    g.bench_function("ed25519/decompress + verify (identity)", |b| {
        b.iter(|| floor.verify_identity());
    });

    // Costs our code adds around the primitives (evidence for docs/benchmarks.md).
    let public_bytes = public.to_bytes();
    g.bench_function(
        "ours/x25519 PublicKey::from_bytes (small-order check)",
        |b| {
            b.iter(|| OurPublicKey::from_bytes(black_box(public_bytes)).unwrap());
        },
    );
    let alice = Device::new("alice", 1, 0);
    let signing = alice.identity.public().signing_key().to_bytes();
    g.bench_function("ours/ed25519 SigningPublicKey::from_bytes", |b| {
        b.iter(|| SigningPublicKey::from_bytes(black_box(&signing)).unwrap());
    });
    let seed = [5u8; 64];
    g.bench_function("ml-kem-1024/expand key pair from seed", |b| {
        b.iter(|| Dk::from_seed(Seed::from(black_box(seed))));
    });
    g.finish();
}
