//! Tests of streamed attachment encryption (`parley_crypto::attachment`): round trips at
//! every chunk boundary, each attack the module doc lists, short reads, progress, constant
//! memory on a large stream, and property tests that no altered ciphertext decrypts.
//!
//! Long because every attack of the module doc has its own test; they share the fixtures at
//! the top.
#![allow(
    clippy::arithmetic_side_effects,
    reason = "tests compute small, fixed lengths; an overflow would fail the test"
)]

use std::io::{self, Read, Write};
use std::sync::OnceLock;

use parley_crypto::attachment::{
    self, AttachmentError, AttachmentInfo, AttachmentKey, HEADER_LEN, TAG_LEN, ciphertext_digest,
    ciphertext_len,
};
use parley_crypto::consts::ATTACHMENT_CHUNK_LEN as CHUNK;
use proptest::prelude::*;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use sha2::{Digest, Sha256};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SEALED: usize = CHUNK + TAG_LEN;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn key(seed: u8) -> AttachmentKey {
    AttachmentKey::generate(&mut rng(seed))
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn seal(key: &AttachmentKey, pt: &[u8]) -> Result<(Vec<u8>, AttachmentInfo), AttachmentError> {
    let mut ct = Vec::new();
    let info = attachment::encrypt(key, &mut rng(99), pt, &mut ct, |_| {})?;
    Ok((ct, info))
}

fn open(
    key: &AttachmentKey,
    digest: Option<&[u8; 32]>,
    ct: &[u8],
) -> Result<Vec<u8>, AttachmentError> {
    let mut pt = Vec::new();
    let n = attachment::decrypt(key, digest, ct, &mut pt, |_| {})?;
    assert_eq!(n, pt.len() as u64);
    Ok(pt)
}

/// The header and the sealed chunks of a ciphertext.
fn split(ct: &[u8]) -> (&[u8], Vec<&[u8]>) {
    let (header, body) = ct.split_at(HEADER_LEN.min(ct.len()));
    (header, body.chunks(SEALED).collect())
}

fn join(header: &[u8], chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = header.to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out
}

fn flip(ct: &[u8], at: usize) -> Vec<u8> {
    let mut out = ct.to_vec();
    if let Some(b) = out.get_mut(at) {
        *b ^= 0x01;
    }
    out
}

/// Long enough that the digest moves to its own thread, fills several batches of chunks
/// and reuses every buffer (the exact batch sizes are internal, so the lengths cover many).
#[test]
fn long_streams_have_the_digest_of_their_bytes() -> TestResult {
    let k = key(2);
    for len in [5 * CHUNK, 16 * CHUNK + 1, 17 * CHUNK - 1, 41 * CHUNK + 333] {
        let pt = plaintext(len);
        let (ct, info) = seal(&k, &pt)?;
        let digest: [u8; 32] = Sha256::digest(&ct).into();
        assert_eq!(info.digest, digest, "len {len}");
        assert_eq!(info.ciphertext_len, ct.len() as u64, "len {len}");
        assert_eq!(open(&k, Some(&info.digest), &ct)?, pt, "len {len}");
        let mut wrong = info.digest;
        wrong[31] ^= 1;
        assert_eq!(
            open(&k, Some(&wrong), &ct),
            Err(AttachmentError::DigestMismatch),
            "len {len}"
        );
        // A flipped bit near the end fails to authenticate before the digest is checked.
        let bad = flip(&ct, ct.len() - 1);
        assert_eq!(
            open(&k, Some(&info.digest), &bad),
            Err(AttachmentError::DecryptFailed),
            "len {len}"
        );
    }
    Ok(())
}

#[test]
fn round_trip_at_chunk_boundaries() -> TestResult {
    let k = key(1);
    for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
        let pt = plaintext(len);
        let (ct, info) = seal(&k, &pt)?;
        assert_eq!(info.plaintext_len, len as u64, "len {len}");
        assert_eq!(info.ciphertext_len, ct.len() as u64, "len {len}");
        assert_eq!(ciphertext_len(len as u64), ct.len() as u64, "len {len}");
        let digest: [u8; 32] = Sha256::digest(&ct).into();
        assert_eq!(info.digest, digest, "len {len}");
        assert_eq!(ciphertext_digest(&ct[..])?, digest, "len {len}");
        // One final chunk, shorter than a full chunk, after len / CHUNK full ones.
        let (_, chunks) = split(&ct);
        assert_eq!(chunks.len(), len / CHUNK + 1, "len {len}");
        assert_eq!(open(&k, Some(&info.digest), &ct)?, pt, "len {len}");
        assert_eq!(open(&k, None, &ct)?, pt, "len {len}");
    }
    Ok(())
}

#[test]
fn ciphertext_len_formula() {
    assert_eq!(ciphertext_len(0), (HEADER_LEN + TAG_LEN) as u64);
    assert_eq!(
        ciphertext_len(CHUNK as u64),
        (HEADER_LEN + CHUNK + 2 * TAG_LEN) as u64
    );
    assert_eq!(ciphertext_len(u64::MAX), u64::MAX);
}

/// Pins the format: a change of the header, key derivation, nonce or chunking shows here.
/// The expected values were computed independently of this crate, from the construction in
/// the module doc, with Python's `cryptography` (AESGCM) and `hmac`/`hashlib` (HKDF-SHA256).
#[test]
fn known_answer() -> TestResult {
    let k = AttachmentKey::from_bytes(&[7; 32]);
    let mut ct = Vec::new();
    let info = attachment::encrypt(&k, &mut rng(1), &b"attachment"[..], &mut ct, |_| {})?;
    assert_eq!(
        hex::encode(&ct),
        "0100010000023f37203a2476c42566a61cc55c3ca8\
         a97ac9a1ccac52d30856\
         63a3c8b175f6df5c9456b8e75ebb949e"
    );
    assert_eq!(
        hex::encode(info.digest),
        "a0594ef564e5aaea3cfa06336ffbb21299435d4aa5b14e08c66a4121cd08c5ce"
    );
    assert_eq!(open(&k, Some(&info.digest), &ct)?, b"attachment");
    Ok(())
}

/// Multi-chunk known answers (same independent computation): a full non-final chunk
/// (counter 0, flag 0) then a final one (counter 1, flag 1), short or empty.
#[test]
fn known_answer_multi_chunk() -> TestResult {
    let k = AttachmentKey::from_bytes(&[7; 32]);
    for (len, digest) in [
        (
            CHUNK + 5,
            "457cb5fa3e363c7521662325739504f624c164f79d4af768c582432965f1b014",
        ),
        (
            2 * CHUNK,
            "f75ba651bbc4c48f012465166ed6967af33adafed87fe8b813629400baa28bf8",
        ),
    ] {
        let mut ct = Vec::new();
        let info = attachment::encrypt(&k, &mut rng(1), &plaintext(len)[..], &mut ct, |_| {})?;
        assert_eq!(hex::encode(info.digest), digest, "len {len}");
    }
    Ok(())
}

#[test]
fn same_key_twice_gives_unrelated_ciphertexts() -> TestResult {
    let k = key(1);
    let pt = plaintext(100);
    let mut a = Vec::new();
    let mut b = Vec::new();
    attachment::encrypt(&k, &mut rng(1), &pt[..], &mut a, |_| {})?;
    attachment::encrypt(&k, &mut rng(2), &pt[..], &mut b, |_| {})?;
    assert_eq!(a.len(), b.len());
    let (_, ca) = split(&a);
    let (_, cb) = split(&b);
    assert_ne!(ca, cb);
    Ok(())
}

#[test]
fn missing_final_chunk_is_truncated() -> TestResult {
    let k = key(1);
    // Two full chunks and an empty final one; and one full chunk and a 1-byte final one.
    for len in [2 * CHUNK, CHUNK + 1] {
        let (ct, _) = seal(&k, &plaintext(len))?;
        let (header, chunks) = split(&ct);
        let without_final = chunks
            .split_last()
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        assert_eq!(
            open(&k, None, &join(header, without_final)),
            Err(AttachmentError::Truncated),
            "len {len}"
        );
    }
    Ok(())
}

#[test]
fn cut_anywhere_is_detected() -> TestResult {
    let k = key(1);
    let (ct, _) = seal(&k, &plaintext(CHUNK + 40))?;
    // Inside the header, on a chunk boundary, or inside a tag: the end is missing.
    for cut in (0..=HEADER_LEN).chain([HEADER_LEN + SEALED, HEADER_LEN + SEALED + 15]) {
        let short = ct.get(..cut).ok_or("cut")?;
        assert_eq!(
            open(&k, None, short),
            Err(AttachmentError::Truncated),
            "cut {cut}"
        );
    }
    // Inside a chunk's body: the short piece was not sealed as final.
    for cut in [HEADER_LEN + 16, HEADER_LEN + SEALED - 1, ct.len() - 1] {
        let short = ct.get(..cut).ok_or("cut")?;
        assert_eq!(
            open(&k, None, short),
            Err(AttachmentError::DecryptFailed),
            "cut {cut}"
        );
    }
    Ok(())
}

#[test]
fn reordered_chunks_fail() -> TestResult {
    let k = key(1);
    let (ct, _) = seal(&k, &plaintext(3 * CHUNK + 17))?;
    let (header, mut chunks) = split(&ct);
    chunks.swap(0, 1);
    assert_eq!(
        open(&k, None, &join(header, &chunks)),
        Err(AttachmentError::DecryptFailed)
    );
    Ok(())
}

#[test]
fn duplicated_or_replaced_chunks_fail() -> TestResult {
    let k = key(1);
    let (ct, _) = seal(&k, &plaintext(3 * CHUNK + 17))?;
    let (header, chunks) = split(&ct);

    let mut duplicated = chunks.clone();
    duplicated.insert(1, chunks.first().copied().ok_or("chunk")?);
    assert_eq!(
        open(&k, None, &join(header, &duplicated)),
        Err(AttachmentError::DecryptFailed)
    );

    let mut replaced = chunks.clone();
    replaced.swap_remove(1);
    replaced.insert(1, chunks.first().copied().ok_or("chunk")?);
    assert_eq!(
        open(&k, None, &join(header, &replaced)),
        Err(AttachmentError::DecryptFailed)
    );
    Ok(())
}

#[test]
fn chunk_from_another_file_fails() -> TestResult {
    let k = key(1);
    let (a, _) = seal(&k, &plaintext(2 * CHUNK + 3))?;
    let mut b = Vec::new();
    attachment::encrypt(
        &k,
        &mut rng(5),
        &plaintext(2 * CHUNK + 3)[..],
        &mut b,
        |_| {},
    )?;
    let (header_a, mut chunks_a) = split(&a);
    let (_, chunks_b) = split(&b);
    *chunks_a.get_mut(1).ok_or("chunk")? = chunks_b.get(1).copied().ok_or("chunk")?;
    assert_eq!(
        open(&k, None, &join(header_a, &chunks_a)),
        Err(AttachmentError::DecryptFailed)
    );
    Ok(())
}

#[test]
fn tampering_is_detected() -> TestResult {
    let k = key(1);
    let (ct, _) = seal(&k, &plaintext(CHUNK + 100))?;
    // Salt, first body byte, a tag byte, a byte of the final chunk.
    for at in [
        5,
        20,
        HEADER_LEN,
        HEADER_LEN + CHUNK + 3,
        ct.len() - 20,
        ct.len() - 1,
    ] {
        assert_eq!(
            open(&k, None, &flip(&ct, at)),
            Err(AttachmentError::DecryptFailed),
            "byte {at}"
        );
    }
    assert_eq!(
        open(&k, None, &flip(&ct, 0)),
        Err(AttachmentError::UnknownVersion(0))
    );
    for at in 1..5 {
        assert_eq!(
            open(&k, None, &flip(&ct, at)),
            Err(AttachmentError::BadHeader),
            "byte {at}"
        );
    }
    Ok(())
}

#[test]
fn appended_data_is_detected() -> TestResult {
    let k = key(1);
    for len in [0, 5, CHUNK, CHUNK + 5] {
        let (ct, _) = seal(&k, &plaintext(len))?;
        for extra in [1, TAG_LEN, SEALED] {
            let mut longer = ct.clone();
            longer.resize(ct.len() + extra, 0);
            assert_eq!(
                open(&k, None, &longer),
                Err(AttachmentError::DecryptFailed),
                "len {len} extra {extra}"
            );
        }
        // A whole valid chunk of the same stream appended after the final one.
        let (_, chunks) = split(&ct);
        let mut longer = ct.clone();
        longer.extend_from_slice(chunks.first().copied().ok_or("chunk")?);
        assert_eq!(
            open(&k, None, &longer),
            Err(AttachmentError::DecryptFailed),
            "len {len}"
        );
    }
    Ok(())
}

/// Yields `first`, reports the end once, then yields `then` (a file still being appended to).
struct ResumingReader<'a> {
    first: &'a [u8],
    ended: bool,
    then: &'a [u8],
}

impl Read for ResumingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.first.is_empty() {
            return self.first.read(buf);
        }
        if !self.ended {
            self.ended = true;
            return Ok(0);
        }
        self.then.read(buf)
    }
}

#[test]
fn data_after_the_end_is_trailing() -> TestResult {
    let k = key(1);
    let (ct, _) = seal(&k, &plaintext(10))?;
    let reader = ResumingReader {
        first: &ct,
        ended: false,
        then: b"more",
    };
    let result = attachment::decrypt(&k, None, reader, io::sink(), |_| {});
    assert_eq!(result, Err(AttachmentError::TrailingData));
    Ok(())
}

#[test]
fn wrong_key_fails() -> TestResult {
    for len in [0, 1, CHUNK + 1] {
        let (ct, _) = seal(&key(1), &plaintext(len))?;
        assert_eq!(
            open(&key(2), None, &ct),
            Err(AttachmentError::DecryptFailed),
            "len {len}"
        );
    }
    Ok(())
}

#[test]
fn wrong_digest_fails() -> TestResult {
    let k = key(1);
    for len in [0, CHUNK + 1] {
        let (ct, info) = seal(&k, &plaintext(len))?;
        let mut wrong = info.digest;
        wrong[31] ^= 1;
        assert_eq!(
            open(&k, Some(&wrong), &ct),
            Err(AttachmentError::DigestMismatch),
            "len {len}"
        );
    }
    Ok(())
}

#[test]
fn empty_and_garbage_inputs_fail() {
    let k = key(1);
    assert_eq!(open(&k, None, b""), Err(AttachmentError::Truncated));
    assert_eq!(
        open(&k, None, &[2]),
        Err(AttachmentError::UnknownVersion(2))
    );
    assert_eq!(open(&k, None, &[1, 0]), Err(AttachmentError::Truncated));
    assert_eq!(
        open(&k, None, &[0xff; 100]),
        Err(AttachmentError::UnknownVersion(0xff))
    );
}

/// Returns at most one byte per call, and `Interrupted` on every other call.
struct Trickle<R> {
    inner: R,
    interrupt: bool,
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let one = buf.get_mut(..1).unwrap_or_default();
        self.inner.read(one)
    }
}

#[test]
fn short_and_interrupted_reads_work() -> TestResult {
    let k = key(1);
    let pt = plaintext(CHUNK + 300);
    let (expected, info) = seal(&k, &pt)?;

    let mut ct = Vec::new();
    let reader = Trickle {
        inner: &pt[..],
        interrupt: false,
    };
    let trickled = attachment::encrypt(&k, &mut rng(99), reader, &mut ct, |_| {})?;
    assert_eq!(trickled, info);
    assert_eq!(ct, expected);

    let mut out = Vec::new();
    let reader = Trickle {
        inner: &ct[..],
        interrupt: false,
    };
    attachment::decrypt(&k, Some(&info.digest), reader, &mut out, |_| {})?;
    assert_eq!(out, pt);
    Ok(())
}

#[test]
fn progress_sums_to_length() -> TestResult {
    let k = key(1);
    let len = 3 * CHUNK + 17;
    let pt = plaintext(len);
    let mut ct = Vec::new();
    let mut calls = Vec::new();
    attachment::encrypt(&k, &mut rng(1), &pt[..], &mut ct, |n| calls.push(n))?;
    assert_eq!(calls, [CHUNK as u64, CHUNK as u64, CHUNK as u64, 17]);

    let mut calls = Vec::new();
    let n = attachment::decrypt(&k, None, &ct[..], io::sink(), |n| calls.push(n))?;
    assert_eq!(n, len as u64);
    assert_eq!(calls.iter().sum::<u64>(), len as u64);
    Ok(())
}

/// 64 MiB through encrypt and decrypt over a pipe, never held in memory.
#[test]
fn large_stream_in_constant_memory() -> TestResult {
    const LEN: u64 = 64 << 20;
    let k = AttachmentKey::from_bytes(&[3; 32]);
    let (pipe_reader, pipe_writer) = io::pipe()?;
    let sender = std::thread::spawn(move || {
        let source = io::repeat(0xa5).take(LEN);
        attachment::encrypt(&k, &mut rng(1), source, pipe_writer, |_| {})
    });

    let k = AttachmentKey::from_bytes(&[3; 32]);
    let mut check = Checker::default();
    let n = attachment::decrypt(&k, None, pipe_reader, &mut check, |_| {})?;
    let info = sender.join().map_err(|_| "encrypting thread panicked")??;
    assert_eq!(n, LEN);
    assert_eq!(check.len, LEN);
    assert!(check.all_a5);
    assert_eq!(info.plaintext_len, LEN);
    assert_eq!(info.ciphertext_len, ciphertext_len(LEN));
    Ok(())
}

/// A writer that checks every byte is 0xa5 and counts them.
struct Checker {
    len: u64,
    all_a5: bool,
}

impl Default for Checker {
    fn default() -> Self {
        Self {
            len: 0,
            all_a5: true,
        }
    }
}

impl Write for Checker {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.all_a5 &= buf.iter().all(|b| *b == 0xa5);
        self.len += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct Failing;

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "/home/alice/secret-plans.pdf",
        ))
    }
}

impl Write for Failing {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::StorageFull, "/tmp/out"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn io_errors_keep_only_their_kind() -> TestResult {
    let k = key(1);
    let err = attachment::encrypt(&k, &mut rng(1), Failing, io::sink(), |_| {});
    assert_eq!(
        err,
        Err(AttachmentError::Io(io::ErrorKind::PermissionDenied))
    );
    let shown = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(!shown.contains("alice"), "{shown}");

    let err = attachment::encrypt(&k, &mut rng(1), &b"x"[..], Failing, |_| {});
    assert_eq!(err, Err(AttachmentError::Io(io::ErrorKind::StorageFull)));

    let (ct, _) = seal(&k, b"x")?;
    let err = attachment::decrypt(&k, None, &ct[..], Failing, |_| {});
    assert_eq!(err, Err(AttachmentError::Io(io::ErrorKind::StorageFull)));
    let err = attachment::decrypt(&k, None, Failing, io::sink(), |_| {});
    assert_eq!(
        err,
        Err(AttachmentError::Io(io::ErrorKind::PermissionDenied))
    );
    Ok(())
}

#[test]
fn key_debug_prints_no_bytes_and_round_trips() {
    let k = AttachmentKey::from_bytes(&[0xab; 32]);
    assert_eq!(format!("{k:?}"), "AttachmentKey(..)");
    assert_eq!(*k.to_bytes(), [0xab; 32]);
    let mut r = parley_crypto::codec::Reader::new(&[0xcd; 32]);
    let read = AttachmentKey::read(&mut r).map(|k| *k.to_bytes());
    assert_eq!(read, Ok([0xcd; 32]));
    assert_ne!(*key(1).to_bytes(), *key(2).to_bytes());
}

/// Ciphertexts of lengths that cover an empty file, a single short chunk, and several
/// chunks, encrypted once for all property cases.
fn fixtures() -> &'static [(AttachmentKey, Vec<u8>)] {
    static FIXTURES: OnceLock<Vec<(AttachmentKey, Vec<u8>)>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        [0, 100, 2 * CHUNK + 100]
            .into_iter()
            .map(|len| {
                let k = key(7);
                let ct = seal(&k, &plaintext(len)).map(|(ct, _)| ct);
                (k, ct.unwrap_or_default())
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn any_single_byte_change_fails(
        which in 0..3usize,
        at in any::<prop::sample::Index>(),
        mask in 1..=255u8,
    ) {
        let (k, ct) = fixtures().get(which).ok_or_else(|| TestCaseError::fail("fixture"))?;
        prop_assert!(!ct.is_empty());
        let at = at.index(ct.len());
        let mut bad = ct.clone();
        if let Some(b) = bad.get_mut(at) {
            *b ^= mask;
        }
        prop_assert!(open(k, None, &bad).is_err());
    }

    #[test]
    fn any_truncation_fails(which in 0..3usize, cut in any::<prop::sample::Index>()) {
        let (k, ct) = fixtures().get(which).ok_or_else(|| TestCaseError::fail("fixture"))?;
        prop_assert!(!ct.is_empty());
        let short = ct.get(..cut.index(ct.len())).unwrap_or_default();
        prop_assert!(open(k, None, short).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_decrypt(mut bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        // Also with a valid header, so that the chunk path is exercised.
        let k = key(7);
        prop_assert!(open(&k, None, &bytes).is_err());
        let header = fixtures().first().and_then(|(_, ct)| ct.get(..HEADER_LEN));
        let mut with_header = header.unwrap_or_default().to_vec();
        with_header.append(&mut bytes);
        prop_assert!(open(&k, None, &with_header).is_err());
    }
}
