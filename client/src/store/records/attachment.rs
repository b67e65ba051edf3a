//! Attachments: what a device knows of a file to fetch, verify and decrypt it.

use parley_crypto::attachment::{ATTACHMENT_KEY_LEN, AttachmentKey};
use parley_crypto::codec::{Reader, Writer as _};
use parley_crypto::error::DecodeError;
use std::fmt;
use zeroize::Zeroizing;

use super::*;

/// What a device knows of an attachment: enough to fetch, verify and decrypt it.
pub struct Attachment {
    /// Its id (row key).
    pub id: AttachmentId,
    /// The message that carries it (plaintext column).
    pub message: MessageId,
    /// The relay's id of the ciphertext.
    pub relay_id: String,
    /// The file key.
    pub key: AttachmentKey,
    /// SHA-256 of the ciphertext.
    pub digest: [u8; 32],
    /// Plaintext length.
    pub size: u64,
    /// MIME type.
    pub content_type: String,
    /// Original file name.
    pub file_name: String,
    /// Where the decrypted file is, once downloaded.
    pub local_path: Option<String>,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("id", &self.id)
            .field("message", &self.message)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Attachment {
    pub(crate) fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::new());
        out.put_u8(RECORD_FORMAT);
        out.put_bytes(self.relay_id.as_bytes());
        out.put_raw(&self.key.to_bytes()[..]);
        out.put_raw(&self.digest);
        out.put_u64(self.size);
        out.put_bytes(self.content_type.as_bytes());
        out.put_bytes(self.file_name.as_bytes());
        match &self.local_path {
            Some(path) => {
                out.put_u8(1);
                out.put_bytes(path.as_bytes());
            }
            None => out.put_u8(0),
        }
        out
    }

    pub(crate) fn decode(
        id: AttachmentId,
        message: MessageId,
        bytes: &[u8],
    ) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        format(&mut r)?;
        let relay_id = text(&mut r, MAX_TEXT)?;
        let key = AttachmentKey::from_bytes(&*r.secret::<ATTACHMENT_KEY_LEN>()?);
        let digest = r.array::<32>()?;
        let size = r.u64()?;
        let content_type = text(&mut r, MAX_TEXT)?;
        let file_name = text(&mut r, MAX_TEXT)?;
        let local_path = match r.bool()? {
            true => Some(text(&mut r, MAX_TEXT)?),
            false => None,
        };
        r.finish()?;
        Ok(Self {
            id,
            message,
            relay_id,
            key,
            digest,
            size,
            content_type,
            file_name,
            local_path,
        })
    }
}
