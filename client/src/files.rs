//! Files (docs/architecture.md §3, attachments): a random key per file, streamed chunked AEAD
//! (`parley_crypto::attachment`), the ciphertext uploaded to the relay, and key + digest sent
//! inside the end-to-end encrypted message. Both directions stream through a temporary file,
//! so memory stays constant in the file size. A received file is kept as the relay served it,
//! encrypted, in the account's [`FILES_DIR`] ([`fetch`]) until it is saved ([`save`]), which
//! writes it to its destination only after every chunk authenticated and the digest matched.

use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt as _;
use parley_crypto::attachment::{self, AttachmentKey};
use parley_crypto::keys::os_rng;
use parley_proto::B64;
use parley_proto::content::{AttachmentPointer, is_attachment_id};
use tokio::io::AsyncWriteExt as _;

use crate::error::{Error, FileOp, Misbehaviour, Result};
use crate::relay::Relay;

/// Encrypts and uploads the file at `path`; `progress(done, total)` follows the plaintext
/// bytes encrypted, then the ciphertext bytes uploaded.
pub async fn upload(
    relay: &Relay,
    path: &Path,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<AttachmentPointer> {
    let progress = Arc::new(progress);
    let total = tokio::fs::metadata(path)
        .await
        .map_err(Error::file(FileOp::ReadSource))?
        .len();
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let key = AttachmentKey::generate(&mut os_rng());
    let cipher_file = tempfile::NamedTempFile::new().map_err(Error::file(FileOp::TempFile))?;
    let (source, sink) = (path.to_path_buf(), cipher_file.path().to_path_buf());
    let key_bytes = key.to_bytes();
    let p = progress.clone();
    let info = tokio::task::spawn_blocking(move || {
        let key = AttachmentKey::from_bytes(&key_bytes);
        let reader =
            BufReader::new(std::fs::File::open(&source).map_err(Error::file(FileOp::ReadSource))?);
        let writer =
            BufWriter::new(std::fs::File::create(&sink).map_err(Error::file(FileOp::TempFile))?);
        let mut done = 0u64;
        attachment::encrypt(&key, &mut os_rng(), reader, writer, |n| {
            done = done.saturating_add(n);
            p(done, total);
        })
        .map_err(Error::Attachment)
    })
    .await
    .map_err(|_| Error::File {
        op: FileOp::Task,
        kind: std::io::ErrorKind::Other,
    })??;
    let file = tokio::fs::File::open(cipher_file.path())
        .await
        .map_err(Error::file(FileOp::TempFile))?;
    let cipher_total = info.ciphertext_len;
    let mut sent = 0u64;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024).map(move |chunk| {
        if let Ok(c) = &chunk {
            sent = sent.saturating_add(c.len() as u64);
            progress(sent, cipher_total);
        }
        chunk
    });
    let created = relay
        .upload_attachment(reqwest::Body::wrap_stream(stream))
        .await?;
    Ok(AttachmentPointer {
        id: created.id,
        key: B64(key.to_bytes().to_vec()),
        digest: B64(info.digest.to_vec()),
        size: info.plaintext_len,
        content_type: content_type(file_name.as_deref().unwrap_or_default()).into(),
        file_name,
    })
}

/// The MIME type a file's name suggests, for the receiver to show it as what it is (an image
/// preview); `application/octet-stream` for what it does not know. It is only a hint: the
/// receiver decides what to do with a type (the app previews PNG, JPEG, GIF and WebP only).
pub fn content_type(file_name: &str) -> &'static str {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        "txt" | "log" => "text/plain",
        "csv" => "text/csv",
        "md" => "text/markdown",
        "json" => "application/json",
        "zip" => "application/zip",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "odt" => "application/vnd.oasis.opendocument.text",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// The account directory's folder of received files, kept as the relay served them
/// (encrypted; the key is only in the message, in the encrypted store) until one is saved
/// ([`save`]). A wipe deletes it.
pub const FILES_DIR: &str = "files";

/// Checks a received file's pointer: an id in the relay's form (it goes into a URL path: a
/// peer chose it), a 32-byte key and digest.
fn checked(pointer: &AttachmentPointer) -> Result<([u8; 32], [u8; 32])> {
    if !is_attachment_id(&pointer.id) {
        return Err(Error::InvalidAttachmentId);
    }
    let key = pointer
        .key
        .as_bytes()
        .try_into()
        .map_err(|_| Error::FileCorrupt)?;
    let digest = pointer
        .digest
        .as_bytes()
        .try_into()
        .map_err(|_| Error::FileCorrupt)?;
    Ok((key, digest))
}

/// Downloads a received file's ciphertext into `dir` (the account's [`FILES_DIR`]) as
/// `<attachment id>`, with the digest its message announced checked; returns its path. It
/// stays encrypted there: a copy of the disk without the store key reveals nothing of it.
/// A file already kept is not downloaded again. `progress(done, total)` follows the bytes.
///
/// The attachment id was chosen by the sender and goes into the request's path and the file
/// name, so anything that is not an id as the relay makes them fails with
/// [`Error::InvalidAttachmentId`] before any request is made or anything is written.
pub async fn fetch(
    relay: &Relay,
    pointer: &AttachmentPointer,
    dir: &Path,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<PathBuf> {
    let (_, digest) = checked(pointer)?;
    let target = dir.join(&pointer.id);
    if target.exists() {
        return Ok(target);
    }
    create_private_dir(dir).await?;
    let cipher_file =
        tempfile::NamedTempFile::new_in(dir).map_err(Error::file(FileOp::TempFile))?;
    download_to(relay, pointer, cipher_file.path(), progress).await?;
    let source = cipher_file.path().to_path_buf();
    let got = tokio::task::spawn_blocking(move || {
        let reader =
            BufReader::new(std::fs::File::open(&source).map_err(Error::file(FileOp::TempFile))?);
        attachment::ciphertext_digest(reader).map_err(Error::Attachment)
    })
    .await
    .map_err(|_| Error::File {
        op: FileOp::Task,
        kind: std::io::ErrorKind::Other,
    })??;
    if got != digest {
        return Err(Error::FileCorrupt);
    }
    match cipher_file.persist_noclobber(&target) {
        Ok(_) => Ok(target),
        // Another listener kept it meanwhile.
        Err(_) if target.exists() => Ok(target),
        Err(e) => Err(Error::file(FileOp::Save)(e.error)),
    }
}

/// Saves a received file: decrypts the ciphertext kept at `kept` ([`fetch`]) into a new file
/// in `dest` named after the file (never replacing one); returns its path. Every chunk is
/// authenticated, and the digest checked, before the file appears under its name.
pub async fn save(pointer: &AttachmentPointer, kept: &Path, dest: &Path) -> Result<PathBuf> {
    let (key, digest) = checked(pointer)?;
    tokio::fs::create_dir_all(dest)
        .await
        .map_err(Error::file(FileOp::CreateFolder))?;
    let name = safe_name(pointer.file_name.as_deref().unwrap_or("file"));
    let plain_file =
        tempfile::NamedTempFile::new_in(dest).map_err(Error::file(FileOp::TempFile))?;
    let (source, sink) = (kept.to_path_buf(), plain_file.path().to_path_buf());
    tokio::task::spawn_blocking(move || {
        let key = AttachmentKey::from_bytes(&key);
        let reader =
            BufReader::new(std::fs::File::open(&source).map_err(Error::file(FileOp::TempFile))?);
        let writer =
            BufWriter::new(std::fs::File::create(&sink).map_err(Error::file(FileOp::TempFile))?);
        attachment::decrypt(&key, Some(&digest), reader, writer, |_| {}).map_err(Error::Attachment)
    })
    .await
    .map_err(|_| Error::File {
        op: FileOp::Task,
        kind: std::io::ErrorKind::Other,
    })??;
    let mut target = dest.join(&name);
    let mut n = 1;
    while target.exists() {
        target = dest.join(format!("{n}-{name}"));
        n += 1;
    }
    plain_file
        .persist_noclobber(&target)
        .map_err(|e| Error::file(FileOp::Save)(e.error))?;
    Ok(target)
}

/// Decrypts a received file kept at `kept` ([`fetch`]) into memory, for an application that
/// shows it (an image preview) without writing its plaintext to disk. Files announced as
/// larger than `max` bytes are refused with [`Error::TooLarge`] before anything is read.
pub async fn open_in_memory(
    pointer: &AttachmentPointer,
    kept: &Path,
    max: u64,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    if pointer.size > max {
        return Err(Error::TooLarge);
    }
    let (key, digest) = checked(pointer)?;
    let capacity = usize::try_from(pointer.size).map_err(|_| Error::TooLarge)?;
    let source = kept.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let key = AttachmentKey::from_bytes(&key);
        let reader =
            BufReader::new(std::fs::File::open(&source).map_err(Error::file(FileOp::TempFile))?);
        let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(capacity));
        attachment::decrypt(&key, Some(&digest), reader, &mut *plain, |_| {})
            .map_err(Error::Attachment)?;
        Ok(plain)
    })
    .await
    .map_err(|_| Error::File {
        op: FileOp::Task,
        kind: std::io::ErrorKind::Other,
    })?
}

/// Downloads and decrypts a received file straight into `dir` (an explicit export, such as
/// `listen --download-dir`): [`fetch`] into a temporary folder there, then [`save`].
pub async fn download(
    relay: &Relay,
    pointer: &AttachmentPointer,
    dir: &Path,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<PathBuf> {
    checked(pointer)?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(Error::file(FileOp::CreateFolder))?;
    let staging = tempfile::tempdir_in(dir).map_err(Error::file(FileOp::TempFile))?;
    let kept = fetch(relay, pointer, staging.path(), progress).await?;
    save(pointer, &kept, dir).await
}

/// Streams the ciphertext of `pointer` from the relay into `path`, refusing more bytes than
/// its announced size gives.
async fn download_to(
    relay: &Relay,
    pointer: &AttachmentPointer,
    path: &Path,
    progress: impl Fn(u64, u64) + Send + Sync + 'static,
) -> Result<()> {
    let response = relay.download_attachment(&pointer.id).await?;
    let total = attachment::ciphertext_len(pointer.size);
    let mut out = tokio::fs::File::create(path)
        .await
        .map_err(Error::file(FileOp::TempFile))?;
    let mut stream = response.bytes_stream();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| Error::from(crate::relay::RelayError::Http(e)))?;
        got = got.saturating_add(chunk.len() as u64);
        if got > total {
            return Err(Misbehaviour::OversizedFile.into());
        }
        out.write_all(&chunk)
            .await
            .map_err(Error::file(FileOp::TempFile))?;
        progress(got, total);
    }
    out.flush().await.map_err(Error::file(FileOp::TempFile))?;
    Ok(())
}

/// Creates `dir` readable by its owner only.
async fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder
        .create(dir)
        .await
        .map_err(Error::file(FileOp::CreateFolder))
}

/// A file name without directories or control characters.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("file");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    match cleaned.trim_start_matches('.') {
        "" => "file".into(),
        s => s.chars().take(200).collect(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use parley_proto::B64;
    use parley_proto::content::AttachmentPointer;

    use crate::error::Error;
    use crate::relay::Relay;

    fn pointer(id: &str) -> AttachmentPointer {
        AttachmentPointer {
            id: id.into(),
            key: B64(vec![1; 32]),
            digest: B64(vec![2; 32]),
            size: 5,
            content_type: "application/octet-stream".into(),
            file_name: Some("a.txt".into()),
        }
    }

    #[test]
    fn a_file_name_suggests_its_type() {
        assert_eq!(super::content_type("Chart.PNG"), "image/png");
        assert_eq!(super::content_type("photo.jpeg"), "image/jpeg");
        assert_eq!(super::content_type("report.pdf"), "application/pdf");
        assert_eq!(
            super::content_type("drawing.svg"),
            "application/octet-stream"
        );
        assert_eq!(
            super::content_type("no-extension"),
            "application/octet-stream"
        );
        assert_eq!(super::content_type(""), "application/octet-stream");
    }

    /// A peer-chosen id that is not the relay's form is refused before any connection is made;
    /// a well-formed one does reach the relay (here a listener that hangs up at once).
    #[tokio::test]
    async fn a_malformed_attachment_id_makes_no_request() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let connections = std::sync::Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        let server = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                drop(socket);
            }
        });
        let relay = Relay::new(base);
        let dir = tempfile::tempdir().unwrap();
        let downloads = dir.path().join("downloads");
        for bad in [
            String::new(),
            "../../v1/org".into(),
            format!("{}/../../v1/org", "0".repeat(32)),
            "0".repeat(31),
            "0".repeat(33),
            "ABCDEF".repeat(6).chars().take(32).collect(),
            format!("{}?x=1", "0".repeat(28)),
            format!("{}%2f", "0".repeat(29)),
        ] {
            let e = super::download(&relay, &pointer(&bad), &downloads, |_, _| {})
                .await
                .unwrap_err();
            assert!(matches!(e, Error::InvalidAttachmentId), "{bad:?}: {e}");
            assert_eq!(e.code(), "invalid_attachment_id");
        }
        assert_eq!(connections.load(Ordering::SeqCst), 0);
        assert!(!downloads.exists());
        let e = super::download(&relay, &pointer(&"0a".repeat(16)), &downloads, |_, _| {})
            .await
            .unwrap_err();
        assert!(!matches!(e, Error::InvalidAttachmentId), "{e}");
        assert!(connections.load(Ordering::SeqCst) > 0);
        server.abort();
    }

    #[test]
    fn names_are_made_safe() {
        assert_eq!(super::safe_name("../../etc/passwd"), "passwd");
        assert_eq!(super::safe_name("..\\x.txt"), "x.txt");
        assert_eq!(super::safe_name(".."), "file");
        assert_eq!(super::safe_name("a\nb.txt"), "ab.txt");
    }
}
