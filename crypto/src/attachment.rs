//! Attachments: a random key per file and a streamed, chunked AEAD, so that memory stays
//! constant in the size of the file (docs/architecture.md §3, "Attachments": "random per-file key;
//! streamed chunked AEAD so a 1 GiB file never sits in memory; the relay stores only
//! ciphertext; the key and digest travel inside the message").
//!
//! # Construction
//!
//! This is the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár ("Online
//! Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015), with
//! AES-256-GCM as the AEAD, in the form used by age's payload encryption and Tink's
//! streaming AEAD.
//!
//! - The sender draws a random 32-byte [`AttachmentKey`] per file; it travels inside the
//!   (end-to-end encrypted) message together with the [`AttachmentInfo::digest`].
//! - Each encryption draws a random 16-byte salt and derives
//!   `HKDF-SHA256(salt, IKM = file key, info = "Parley_Attachment_v1")` → 39 bytes: a 32-byte
//!   AES-256-GCM key and a 7-byte nonce prefix. Encrypting the same file twice, even under the
//!   same file key, therefore uses unrelated chunk keys and nonces.
//! - The ciphertext is a 21-byte header followed by chunks:
//!
//!   ```text
//!   header = version (u8, PROTOCOL_VERSION) || chunk size (u32 BE) || salt (16 bytes)
//!   chunk  = AES-256-GCM(chunk key, nonce_i, aad = header, plaintext_i) || tag (16 bytes)
//!   nonce_i = prefix (7 bytes) || i (u32 BE) || last (0x01 for the final chunk, else 0x00)
//!   ```
//!
//!   Every chunk but the last carries exactly [`ATTACHMENT_CHUNK_LEN`] plaintext bytes; the
//!   final chunk carries *fewer*, so it is empty when the length is a multiple of the chunk
//!   size, and an empty file is one empty final chunk. A reader therefore knows which chunk
//!   is final from its length alone: a full chunk is never final, a short one always is.
//!   This version accepts only the chunk size [`ATTACHMENT_CHUNK_LEN`]; the field exists so
//!   that a later version can change it without a new header layout.
//! - [`AttachmentInfo::digest`] is SHA-256 over the whole ciphertext (header and chunks),
//!   computed while streaming. The receiver can check a download before decrypting it
//!   ([`ciphertext_digest`]) and [`decrypt`] checks it again when given. Because AES-GCM is
//!   not key-committing, the digest inside the authenticated message is also what pins the
//!   exact ciphertext the sender meant.
//!
//! # What each attack becomes
//!
//! - A chunk moved, duplicated or dropped in the middle: its counter differs from the one
//!   the reader expects, so it fails to authenticate ([`AttachmentError::DecryptFailed`]).
//! - The final chunk dropped (the stream ends on a chunk boundary) or the stream cut inside
//!   a tag: [`AttachmentError::Truncated`]. Cut inside a chunk's body: that short chunk is
//!   taken as final, and fails to authenticate because it was sealed as non-final.
//! - Any changed bit in a chunk, or in the header (bound as the associated data of every
//!   chunk, and the salt also through the key derivation): `DecryptFailed`, or
//!   [`AttachmentError::UnknownVersion`] / [`AttachmentError::BadHeader`] when the
//!   version or chunk size field no longer parses.
//! - Bytes appended after the final chunk: they join the last chunk read, which then fails
//!   to authenticate (`DecryptFailed`); bytes a reader yields after it has already
//!   reported the end of input give [`AttachmentError::TrailingData`].
//! - A wrong key: the first chunk fails to authenticate (`DecryptFailed`).
//! - A ciphertext other than the one the sender described: [`AttachmentError::DigestMismatch`].
//!
//! # Using the output of [`decrypt`]
//!
//! [`decrypt`] writes each chunk's plaintext only after that chunk authenticates, but a
//! truncated, reordered or tampered stream is only noticed when the reader reaches the bad
//! chunk. The output is valid only when [`decrypt`] returns `Ok`: write it to a temporary
//! file and rename it into place on success, delete it on error.
//!
//! # Cost
//!
//! The cipher is keyed once. A file of one chunk uses one buffer of one chunk (plus tag) and
//! the calling thread only. A longer one hashes the ciphertext on a second, scoped thread
//! while the calling thread reads, encrypts (or decrypts) and writes the next chunks; at most
//! four buffers of four sealed chunks (1 MiB) circulate between the two, plus one chunk
//! buffer and one plaintext chunk, so memory stays constant in the size of the file, and
//! every buffer is zeroized when the call ends. With a core free for the hasher, throughput is that of the slower of
//! AES-256-GCM and SHA-256 rather than of both in turn. At most 2^32 chunks (256 TiB) fit one
//! stream.

use core::fmt;
use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, channel, sync_channel};
use std::thread::{Scope, ScopedJoinHandle};

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::Reader;
use crate::consts::{ATTACHMENT_CHUNK_LEN, PROTOCOL_VERSION};
use crate::error::DecodeError;
use crate::kdf;

/// HKDF info string of the chunk key and nonce prefix.
const INFO: &[u8] = b"Parley_Attachment_v1";

/// Length of the random salt in the header.
pub const SALT_LEN: usize = 16;

/// Length of the header: version byte, chunk size (u32) and salt.
pub const HEADER_LEN: usize = 1 + 4 + SALT_LEN;

/// Length of the AES-GCM tag that follows every chunk.
pub const TAG_LEN: usize = 16;

/// Length of the nonce prefix derived with the chunk key.
const NONCE_PREFIX_LEN: usize = 7;

/// Length of an [`AttachmentKey`].
pub const ATTACHMENT_KEY_LEN: usize = 32;

/// Length of a sealed full chunk.
const SEALED_CHUNK_LEN: usize = ATTACHMENT_CHUNK_LEN + TAG_LEN;

const _: () = assert!(ATTACHMENT_CHUNK_LEN > 0 && ATTACHMENT_CHUNK_LEN <= u32::MAX as usize);

/// The chunk size as written in the header (checked to fit by the assertion above).
const CHUNK_LEN_U32: u32 = ATTACHMENT_CHUNK_LEN as u32;

/// The random key of one attachment. Zeroized on drop; `Debug` prints no key bytes.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AttachmentKey(Box<[u8; ATTACHMENT_KEY_LEN]>);

impl AttachmentKey {
    /// Draws a fresh key.
    pub fn generate(rng: &mut (impl CryptoRng + ?Sized)) -> Self {
        let mut key = Box::new([0u8; ATTACHMENT_KEY_LEN]);
        rng.fill_bytes(key.as_mut_slice());
        Self(key)
    }

    /// Rebuilds a key received inside a message.
    pub fn from_bytes(bytes: &[u8; ATTACHMENT_KEY_LEN]) -> Self {
        Self(Box::new(*bytes))
    }

    /// Reads a key from an encoding (32 raw bytes).
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let bytes = r.secret::<ATTACHMENT_KEY_LEN>()?;
        Ok(Self::from_bytes(&bytes))
    }

    /// The key bytes, to put inside the message that announces the attachment.
    pub fn to_bytes(&self) -> Zeroizing<[u8; ATTACHMENT_KEY_LEN]> {
        Zeroizing::new(*self.0)
    }
}

impl fmt::Debug for AttachmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self(_) = self;
        f.write_str("AttachmentKey(..)")
    }
}

/// What the sender learns from [`encrypt`] and puts in the message beside the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// Bytes of plaintext read.
    pub plaintext_len: u64,
    /// Bytes of ciphertext written; always [`ciphertext_len`]`(plaintext_len)`.
    pub ciphertext_len: u64,
    /// SHA-256 of the whole ciphertext.
    pub digest: [u8; 32],
}

/// Why an attachment could not be encrypted or decrypted. `Display` contains no paths,
/// key bytes or data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttachmentError {
    /// Reading or writing failed; only the kind of the I/O error is kept.
    #[error("attachment I/O failed: {0}")]
    Io(io::ErrorKind),
    /// The ciphertext ended before its final chunk (or inside a header or tag).
    #[error("attachment truncated")]
    Truncated,
    /// A chunk failed to authenticate: it was altered, moved, duplicated, cut, extended, or
    /// the key is wrong.
    #[error("attachment decryption failed")]
    DecryptFailed,
    /// The ciphertext does not have the digest the message announced.
    #[error("attachment digest mismatch")]
    DigestMismatch,
    /// The header names a version this build does not know.
    #[error("unknown attachment version {0}")]
    UnknownVersion(u8),
    /// The header is malformed (for example an unsupported chunk size).
    #[error("malformed attachment header")]
    BadHeader,
    /// The reader yielded bytes after the final chunk.
    #[error("trailing data after attachment")]
    TrailingData,
    /// The plaintext needs more than 2^32 chunks.
    #[error("attachment too large")]
    TooLarge,
}

impl From<io::Error> for AttachmentError {
    fn from(e: io::Error) -> Self {
        Self::Io(e.kind())
    }
}

impl From<DecodeError> for AttachmentError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated => Self::Truncated,
            DecodeError::UnknownVersion(v) => Self::UnknownVersion(v),
            _ => Self::BadHeader,
        }
    }
}

/// Length of the ciphertext of a `plaintext_len`-byte file (saturating at `u64::MAX`).
pub fn ciphertext_len(plaintext_len: u64) -> u64 {
    let chunk = len_u64(ATTACHMENT_CHUNK_LEN);
    let full_chunks = plaintext_len.checked_div(chunk).unwrap_or(0);
    // Every chunk, the final one included, adds one tag.
    let tags = full_chunks
        .saturating_add(1)
        .saturating_mul(len_u64(TAG_LEN));
    len_u64(HEADER_LEN)
        .saturating_add(plaintext_len)
        .saturating_add(tags)
}

/// Encrypts everything `reader` yields into `writer` under `key`, with a fresh salt from
/// `rng`. `progress` is called with the number of plaintext bytes of each chunk as it is
/// written, so the calls sum to [`AttachmentInfo::plaintext_len`].
///
/// A file of more than one chunk is hashed on a second thread while this one encrypts the
/// next chunks (see the private `Digester`).
pub fn encrypt<R: Read, W: Write>(
    key: &AttachmentKey,
    rng: &mut (impl CryptoRng + ?Sized),
    mut reader: R,
    mut writer: W,
    mut progress: impl FnMut(u64),
) -> Result<AttachmentInfo, AttachmentError> {
    let mut salt = [0u8; SALT_LEN];
    rng.fill_bytes(&mut salt);
    let header = encode_header(&salt);
    let stream = StreamKey::derive(key, &salt);

    let mut hasher = Sha256::new();
    writer.write_all(&header)?;
    hasher.update(header);
    let mut plaintext_len = 0u64;
    let mut ciphertext_len = len_u64(HEADER_LEN);

    let digest = std::thread::scope(|scope| {
        let mut digester = Digester::new(hasher);
        let mut counter = 0u32;
        loop {
            let slot = digester.slot()?;
            let room = slot
                .get_mut(..ATTACHMENT_CHUNK_LEN)
                .ok_or(AttachmentError::TooLarge)?;
            let n = read_full(&mut reader, room)?.len();
            // A full chunk is never final: the final chunk is always shorter (possibly empty).
            let last = n < ATTACHMENT_CHUNK_LEN;
            let body = slot.get_mut(..n).ok_or(AttachmentError::TooLarge)?;
            let tag = stream
                .cipher
                .encrypt_inout_detached(&stream.nonce(counter, last), &header, body.into())
                // AES-GCM refuses only messages over 2^36 bytes; a chunk is 64 KiB.
                .map_err(|_| AttachmentError::TooLarge)?;
            // Seal in place and put the tag right after the body, so each chunk is one write.
            let sealed_len = n.saturating_add(TAG_LEN);
            slot.get_mut(n..sealed_len)
                .ok_or(AttachmentError::TooLarge)?
                .copy_from_slice(&tag);
            writer.write_all(slot.get(..sealed_len).ok_or(AttachmentError::TooLarge)?)?;
            digester.commit(sealed_len, last)?;

            let n = len_u64(n);
            plaintext_len = plaintext_len.saturating_add(n);
            ciphertext_len = ciphertext_len
                .saturating_add(n)
                .saturating_add(len_u64(TAG_LEN));
            if n > 0 {
                progress(n);
            }
            if last {
                break;
            }
            // More than one chunk: worth a second thread for the digest.
            digester.go_parallel(scope);
            counter = counter.checked_add(1).ok_or(AttachmentError::TooLarge)?;
        }
        digester.finish()
    })?;
    writer.flush()?;
    Ok(AttachmentInfo {
        plaintext_len,
        ciphertext_len,
        digest,
    })
}

/// Decrypts the ciphertext `reader` yields into `writer`, returning the plaintext length.
///
/// When `expected_digest` is given, the SHA-256 of the ciphertext must equal it. Each chunk
/// is written only after it authenticates, but **the output is valid only when this
/// returns `Ok`**: a cut or altered stream is noticed only when its bad chunk is reached,
/// after earlier chunks were written. Write to a temporary file and rename it on success.
/// `progress` is called with the number of plaintext bytes of each chunk as it is written.
///
/// With a digest to check, a ciphertext of more than one chunk is hashed on a second thread
/// while this one decrypts (see the private `Digester`).
pub fn decrypt<R: Read, W: Write>(
    key: &AttachmentKey,
    expected_digest: Option<&[u8; 32]>,
    mut reader: R,
    mut writer: W,
    mut progress: impl FnMut(u64),
) -> Result<u64, AttachmentError> {
    let mut header = [0u8; HEADER_LEN];
    let salt = decode_header(read_full(&mut reader, &mut header)?)?;
    let stream = StreamKey::derive(key, &salt);
    let mut hasher = Sha256::new();
    hasher.update(header);

    // Chunks are decrypted out of place, from a ciphertext buffer (which then goes to the
    // digest, possibly on another thread) into this plaintext buffer.
    let mut plain = Zeroizing::new(vec![0u8; ATTACHMENT_CHUNK_LEN]);
    let plaintext_len = std::thread::scope(|scope| {
        let mut digester = expected_digest.map(|_| Digester::new(hasher));
        let mut own = Zeroizing::new(Vec::new());
        let mut counter = 0u32;
        let mut plaintext_len = 0u64;
        loop {
            let slot = match digester.as_mut() {
                Some(d) => d.slot()?,
                None => {
                    own.resize(SEALED_CHUNK_LEN, 0);
                    own.as_mut_slice()
                }
            };
            let sealed = read_full(&mut reader, slot)?;
            let sealed_len = sealed.len();
            let last = sealed_len < SEALED_CHUNK_LEN;
            // Nothing at all, or less than a tag, where a chunk must be: the end is missing.
            let (body, tag) = sealed
                .split_last_chunk::<TAG_LEN>()
                .ok_or(AttachmentError::Truncated)?;
            let out = plain
                .get_mut(..body.len())
                .ok_or(AttachmentError::DecryptFailed)?;
            let inout = InOutBuf::new(body, out).map_err(|_| AttachmentError::DecryptFailed)?;
            stream
                .cipher
                .decrypt_inout_detached(
                    &stream.nonce(counter, last),
                    &header,
                    inout,
                    &Tag::from(*tag),
                )
                .map_err(|_| AttachmentError::DecryptFailed)?;
            let n = body.len();
            if let Some(d) = digester.as_mut() {
                d.commit(sealed_len, last)?;
            }

            if last {
                let mut probe = [0u8; 1];
                if !read_full(&mut reader, &mut probe)?.is_empty() {
                    return Err(AttachmentError::TrailingData);
                }
                if let (Some(d), Some(expected)) = (digester.take(), expected_digest) {
                    let actual = d.finish()?;
                    if !crate::keys::ct_eq(&actual, expected) {
                        return Err(AttachmentError::DigestMismatch);
                    }
                }
            } else if let Some(d) = digester.as_mut() {
                d.go_parallel(scope);
            }

            writer.write_all(plain.get(..n).ok_or(AttachmentError::DecryptFailed)?)?;
            let n = len_u64(n);
            plaintext_len = plaintext_len.saturating_add(n);
            if n > 0 {
                progress(n);
            }
            if last {
                return Ok(plaintext_len);
            }
            counter = counter.checked_add(1).ok_or(AttachmentError::TooLarge)?;
        }
    })?;
    writer.flush()?;
    Ok(plaintext_len)
}

/// Sealed chunks handed to the hashing thread at a time (fewer hand-overs, each of which may
/// wake a sleeping thread).
const CHUNKS_PER_BATCH: usize = 4;

/// Batch buffers that circulate between the thread that encrypts or decrypts and the one
/// that hashes: enough for one being filled, one being hashed and two waiting.
const PIPELINE_BUFFERS: usize = 4;

/// Memory for sealed chunks, zeroized when dropped (it holds plaintext between reading and
/// sealing).
type ChunkBuffer = Zeroizing<Vec<u8>>;

/// SHA-256 of the ciphertext, computed chunk by chunk as the stream is processed.
///
/// It starts on the calling thread, with one buffer of one sealed chunk. Once a stream turns
/// out to have more than one chunk, [`Digester::go_parallel`] moves the hashing to a second
/// (scoped) thread: sealed chunks are then laid end to end in batch buffers of
/// [`CHUNKS_PER_BATCH`] chunks, each full batch goes to the hasher over a bounded channel,
/// and the hasher hands the buffer back when done, so that SHA-256 runs beside AES-GCM
/// instead of after it. At most [`PIPELINE_BUFFERS`] batch buffers exist (1 MiB), so memory
/// stays constant in the file size. If the thread cannot be started, hashing simply stays on
/// the calling thread.
enum Digester<'scope> {
    /// Hashing on the calling thread.
    Inline { hasher: Sha256, buf: ChunkBuffer },
    /// Hashing on a second thread.
    Parallel {
        to_hasher: SyncSender<(ChunkBuffer, usize)>,
        from_hasher: Receiver<ChunkBuffer>,
        /// The batch being filled and how many bytes of it are used.
        current: Option<(ChunkBuffer, usize)>,
        allocated: usize,
        hasher: ScopedJoinHandle<'scope, Sha256>,
    },
}

impl<'scope> Digester<'scope> {
    fn new(hasher: Sha256) -> Self {
        Self::Inline {
            hasher,
            buf: Zeroizing::new(vec![0u8; SEALED_CHUNK_LEN]),
        }
    }

    /// Room for one sealed chunk ([`SEALED_CHUNK_LEN`] bytes), to fill and then pass to
    /// [`Digester::commit`].
    fn slot(&mut self) -> Result<&mut [u8], AttachmentError> {
        match self {
            Self::Inline { buf, .. } => Ok(buf.as_mut_slice()),
            Self::Parallel {
                from_hasher,
                current,
                allocated,
                ..
            } => {
                let (buf, used) = match current {
                    Some(batch) => batch,
                    None => {
                        let buf = if *allocated < PIPELINE_BUFFERS {
                            *allocated = allocated.saturating_add(1);
                            Zeroizing::new(vec![0u8; CHUNKS_PER_BATCH * SEALED_CHUNK_LEN])
                        } else {
                            // Every buffer is with the hasher, which returns each one when
                            // done; it only hangs up if it panicked, which the scope then
                            // propagates.
                            from_hasher.recv().map_err(|_| hasher_gone())?
                        };
                        current.insert((buf, 0))
                    }
                };
                buf.get_mut(*used..used.saturating_add(SEALED_CHUNK_LEN))
                    .ok_or(AttachmentError::TooLarge)
            }
        }
    }

    /// Hashes the first `len` bytes of the slot last returned by [`Digester::slot`] (now, or
    /// on the hashing thread once its batch is full or `last` is set).
    fn commit(&mut self, len: usize, last: bool) -> Result<(), AttachmentError> {
        let len = len.min(SEALED_CHUNK_LEN);
        match self {
            Self::Inline { hasher, buf } => {
                hasher.update(buf.get(..len).unwrap_or_default());
                Ok(())
            }
            Self::Parallel {
                to_hasher, current, ..
            } => {
                let full = match current.as_mut() {
                    Some((buf, used)) => {
                        *used = used.saturating_add(len);
                        buf.len().saturating_sub(*used) < SEALED_CHUNK_LEN
                    }
                    None => false,
                };
                match current.take_if(|_| last || full) {
                    Some(batch) => to_hasher.send(batch).map_err(|_| hasher_gone()),
                    None => Ok(()),
                }
            }
        }
    }

    /// Moves hashing to a second thread, if it is not there already and a thread can be
    /// started. Called between chunks (after [`Digester::commit`]).
    fn go_parallel(&mut self, scope: &'scope Scope<'scope, '_>) {
        let Self::Inline { hasher, .. } = self else {
            return;
        };
        let mut moved = hasher.clone();
        // At most `PIPELINE_BUFFERS` buffers exist, so the bounded channel to the hasher never
        // blocks for long, and the way back (unbounded, but holding at most that many) never
        // blocks the hasher: no deadlock when this thread stops draining it.
        let (to_hasher, batches) = sync_channel::<(ChunkBuffer, usize)>(PIPELINE_BUFFERS);
        let (returned, from_hasher) = channel::<ChunkBuffer>();
        let spawned = std::thread::Builder::new()
            .name("parley-attachment-sha256".into())
            .spawn_scoped(scope, move || {
                for (buf, len) in batches {
                    moved.update(buf.get(..len).unwrap_or_default());
                    // The other side hangs up only when it stops early; nothing to do then.
                    let _ = returned.send(buf);
                }
                moved
            });
        if let Ok(handle) = spawned {
            *self = Self::Parallel {
                to_hasher,
                from_hasher,
                current: None,
                allocated: 0,
                hasher: handle,
            };
        }
    }

    /// The digest of everything committed.
    fn finish(self) -> Result<[u8; 32], AttachmentError> {
        match self {
            Self::Inline { hasher, .. } => Ok(hasher.finalize().into()),
            Self::Parallel {
                to_hasher,
                current,
                hasher,
                ..
            } => {
                if let Some(batch) = current {
                    to_hasher.send(batch).map_err(|_| hasher_gone())?;
                }
                // Hanging up ends the hashing thread's loop once it has drained the channel.
                drop(to_hasher);
                match hasher.join() {
                    Ok(hasher) => Ok(hasher.finalize().into()),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        }
    }
}

/// The hashing thread stopped early, which happens only if it panicked.
fn hasher_gone() -> AttachmentError {
    AttachmentError::Io(io::ErrorKind::Other)
}

/// SHA-256 of everything `reader` yields, to check a downloaded ciphertext against
/// [`AttachmentInfo::digest`] before decrypting it.
pub fn ciphertext_digest<R: Read>(mut reader: R) -> Result<[u8; 32], AttachmentError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; SEALED_CHUNK_LEN];
    loop {
        let got = read_full(&mut reader, &mut buf)?;
        if got.is_empty() {
            break;
        }
        hasher.update(&*got);
    }
    Ok(hasher.finalize().into())
}

/// The cipher and nonce prefix of one encrypted stream.
struct StreamKey {
    cipher: Aes256Gcm,
    prefix: [u8; NONCE_PREFIX_LEN],
}

impl StreamKey {
    fn derive(key: &AttachmentKey, salt: &[u8; SALT_LEN]) -> Self {
        let okm = kdf::hkdf::<{ 32 + NONCE_PREFIX_LEN }>(salt, key.0.as_slice(), INFO);
        let [aes_key @ .., p0, p1, p2, p3, p4, p5, p6] = &*okm;
        Self {
            cipher: Aes256Gcm::new(aes_key.into()),
            prefix: [*p0, *p1, *p2, *p3, *p4, *p5, *p6],
        }
    }

    /// `prefix || counter (u32 BE) || last-chunk flag`.
    fn nonce(&self, counter: u32, last: bool) -> aes_gcm::aead::Nonce<Aes256Gcm> {
        let [p0, p1, p2, p3, p4, p5, p6] = self.prefix;
        let [c0, c1, c2, c3] = counter.to_be_bytes();
        Nonce::from([p0, p1, p2, p3, p4, p5, p6, c0, c1, c2, c3, u8::from(last)])
    }
}

fn encode_header(salt: &[u8; SALT_LEN]) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    let (version, rest) = header.split_at_mut(1);
    let (chunk_len, salt_out) = rest.split_at_mut(4);
    version.copy_from_slice(&[PROTOCOL_VERSION]);
    chunk_len.copy_from_slice(&CHUNK_LEN_U32.to_be_bytes());
    salt_out.copy_from_slice(salt);
    header
}

/// Parses the header read so far (possibly short) and returns the salt.
fn decode_header(bytes: &[u8]) -> Result<[u8; SALT_LEN], AttachmentError> {
    let mut r = Reader::new(bytes);
    r.version()?;
    if r.u32()? != CHUNK_LEN_U32 {
        return Err(AttachmentError::BadHeader);
    }
    let salt = r.array::<SALT_LEN>()?;
    r.finish()?;
    Ok(salt)
}

/// Reads until `buf` is full or the reader reports the end, retrying interrupted reads;
/// returns the filled part.
fn read_full<'b, R: Read + ?Sized>(
    reader: &mut R,
    buf: &'b mut [u8],
) -> Result<&'b mut [u8], AttachmentError> {
    let mut filled = 0usize;
    while let Some(rest) = buf.get_mut(filled..) {
        if rest.is_empty() {
            break;
        }
        match reader.read(rest) {
            Ok(0) => break,
            // `min` keeps a reader that over-reports its count from moving us past the end.
            Ok(n) => filled = filled.saturating_add(n.min(rest.len())),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(buf.get_mut(..filled).unwrap_or_default())
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
