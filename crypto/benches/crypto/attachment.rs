//! Item 5: encrypting a 16 MiB attachment, ours (STREAM over AES-256-GCM, 64 KiB chunks, with a
//! SHA-256 digest of the ciphertext) against raw AES-256-GCM over the same bytes in the same
//! chunks, the floor.

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use criterion::{Criterion, Throughput};
use parley_crypto::attachment::{self, AttachmentKey};
use parley_crypto::consts::ATTACHMENT_CHUNK_LEN;
use rand_core::Rng;
use sha2::{Digest, Sha256};

use std::time::Duration;

use crate::fixtures::{group, rng};
use crate::paired::{Selection, compare, plain};

const LEN: usize = 16 * 1024 * 1024;

/// Our attachment header length, used as every chunk's associated data.
const HEADER_LEN: usize = 21;

/// Raw AES-256-GCM over `data` in 64 KiB chunks, in place: one key schedule, one seal per
/// chunk with a counter nonce and the header as associated data, tags collected aside.
fn raw_gcm(cipher: &Aes256Gcm, data: &mut [u8], tags: &mut Vec<Tag>) {
    let header = [1u8; HEADER_LEN];
    tags.clear();
    for (i, chunk) in data.chunks_mut(ATTACHMENT_CHUNK_LEN).enumerate() {
        let mut nonce = [0u8; 12];
        nonce[7..11].copy_from_slice(&u32::try_from(i).unwrap().to_be_bytes());
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), &header, chunk.into())
            .unwrap();
        tags.push(tag);
    }
}

pub fn attachments(c: &mut Criterion) {
    let mut g = group(c, "attachment_16MiB", 4);
    g.sample_size(10)
        .throughput(Throughput::Bytes(u64::try_from(LEN).unwrap()));

    let mut rng_a = rng(50);
    let mut plaintext = vec![0u8; LEN];
    rng_a.fill_bytes(&mut plaintext);
    let key = AttachmentKey::generate(&mut rng_a);
    // The output buffer is reused so that page faults of a fresh 16 MiB allocation are not
    // measured (a real client writes to a file).
    let mut out = Vec::with_capacity(LEN + LEN / 1000 + 1024);
    g.bench_function("ours/encrypt", |b| {
        b.iter(|| {
            out.clear();
            attachment::encrypt(
                &key,
                &mut rng_a,
                black_box(&plaintext[..]),
                &mut out,
                |_| {},
            )
            .unwrap()
        });
    });
    out.clear();
    let info = attachment::encrypt(&key, &mut rng_a, &plaintext[..], &mut out, |_| {}).unwrap();
    let ciphertext = out.clone();
    g.bench_function("ours/decrypt", |b| {
        b.iter(|| {
            out.clear();
            attachment::decrypt(
                &key,
                Some(&info.digest),
                black_box(&ciphertext[..]),
                &mut out,
                |_| {},
            )
            .unwrap()
        });
    });

    let cipher = Aes256Gcm::new(&[3u8; 32].into());
    let mut data = plaintext.clone();
    let mut tags = Vec::with_capacity(LEN / ATTACHMENT_CHUNK_LEN + 1);
    g.bench_function("floor/aes-256-gcm", |b| {
        b.iter(|| raw_gcm(&cipher, black_box(&mut data), &mut tags));
    });
    g.bench_function("floor/aes-256-gcm + sha-256 of the ciphertext", |b| {
        b.iter(|| {
            raw_gcm(&cipher, black_box(&mut data), &mut tags);
            Sha256::digest(&data)
        });
    });
    g.bench_function("floor/sha-256", |b| {
        b.iter(|| Sha256::digest(black_box(&data)));
    });
    g.finish();
}

/// Paired run: ours against raw AES-256-GCM.
pub fn pairs(sel: &Selection) {
    if !sel.wants("attachment_16MiB: ours/encrypt vs floor/aes-256-gcm") {
        return;
    }
    let mut rng_a = rng(51);
    let mut plaintext = vec![0u8; LEN];
    rng_a.fill_bytes(&mut plaintext);
    let key = AttachmentKey::generate(&mut rng_a);
    let mut out = Vec::with_capacity(LEN + LEN / 1000 + 1024);
    let cipher = Aes256Gcm::new(&[3u8; 32].into());
    let mut data = plaintext.clone();
    let mut tags = Vec::with_capacity(LEN / ATTACHMENT_CHUNK_LEN + 1);
    compare(
        sel,
        "attachment_16MiB: ours/encrypt vs floor/aes-256-gcm",
        |n| {
            plain(n, || {
                out.clear();
                attachment::encrypt(&key, &mut rng_a, &plaintext[..], &mut out, |_| {}).unwrap()
            })
        },
        |n| plain(n, || raw_gcm(&cipher, &mut data, &mut tags)),
        Duration::from_secs(6),
    );
}
