//! Binary encoding of wire messages and persistent state (model: rustls `msgs/codec.rs`).
//!
//! Integers are big-endian. Variable-length fields carry a `u32` length that is checked
//! against a limit before anything is allocated. A [`Reader`] must be [`Reader::finish`]ed,
//! which rejects trailing bytes. Nothing here panics on any input.

use zeroize::Zeroizing;

use crate::error::DecodeError;

/// A cursor over untrusted bytes.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, tail) = self.buf.split_at_checked(n).ok_or(DecodeError::Truncated)?;
        self.buf = tail;
        Ok(head)
    }

    /// Takes a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        <[u8; N]>::try_from(bytes).map_err(|_| DecodeError::Truncated)
    }

    /// Takes a fixed-size secret into a zeroizing box.
    pub fn secret<const N: usize>(&mut self) -> Result<Zeroizing<[u8; N]>, DecodeError> {
        let bytes = self.take(N)?;
        let mut out = Zeroizing::new([0u8; N]);
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Takes one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Takes a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// Takes a boolean encoded as 0 or 1.
    pub fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::InvalidValue),
        }
    }

    /// Takes a `u32` length, checks it against `max`, then takes that many bytes.
    pub fn bytes(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.len(max)?;
        self.take(len)
    }

    /// Takes a `u32` count or length and checks it against `max` (and against the bytes left,
    /// when each item takes at least `min_item_len` bytes — see [`Reader::count`]).
    pub fn len(&mut self, max: usize) -> Result<usize, DecodeError> {
        let len = usize::try_from(self.u32()?).map_err(|_| DecodeError::TooLong)?;
        if len > max {
            return Err(DecodeError::TooLong);
        }
        Ok(len)
    }

    /// Takes a `u32` item count, checked against `max` and against the bytes left given that
    /// each item takes at least `min_item_len` bytes, so a hostile count cannot make the
    /// caller reserve memory the input could never fill.
    pub fn count(&mut self, max: usize, min_item_len: usize) -> Result<usize, DecodeError> {
        let n = self.len(max)?;
        if n.saturating_mul(min_item_len.max(1)) > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }

    /// Takes the version byte and checks that it is [`crate::consts::PROTOCOL_VERSION`].
    pub fn version(&mut self) -> Result<(), DecodeError> {
        match self.u8()? {
            crate::consts::PROTOCOL_VERSION => Ok(()),
            other => Err(DecodeError::UnknownVersion(other)),
        }
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Ends reading: fails if bytes remain.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }
}

/// Appends encodings to a byte vector.
pub trait Writer {
    /// Appends one byte.
    fn put_u8(&mut self, v: u8);
    /// Appends a big-endian `u32`.
    fn put_u32(&mut self, v: u32);
    /// Appends a big-endian `u64`.
    fn put_u64(&mut self, v: u64);
    /// Appends raw bytes.
    fn put_raw(&mut self, v: &[u8]);
    /// Appends a `u32` length, then the bytes.
    fn put_bytes(&mut self, v: &[u8]);
    /// Appends a `u32` count or length.
    fn put_len(&mut self, n: usize);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_raw(&mut self, v: &[u8]) {
        self.extend_from_slice(v);
    }
    fn put_bytes(&mut self, v: &[u8]) {
        self.put_len(v.len());
        self.extend_from_slice(v);
    }
    fn put_len(&mut self, n: usize) {
        // Every length we write was checked against a limit far below u32::MAX.
        self.put_u32(u32::try_from(n).unwrap_or(u32::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_rejects_truncation_trailing_and_oversize() {
        let mut r = Reader::new(&[0, 0, 0, 5, 1, 2]);
        assert_eq!(r.bytes(10), Err(DecodeError::Truncated));
        let mut r = Reader::new(&[0, 0, 0, 5, 1, 2, 3, 4, 5]);
        assert_eq!(r.bytes(4), Err(DecodeError::TooLong));
        let mut r = Reader::new(&[1, 2]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.finish(), Err(DecodeError::TrailingBytes));
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(r.count(usize::MAX, 32), Err(DecodeError::Truncated));
    }

    #[test]
    fn round_trip() {
        let mut v = Vec::new();
        v.put_u8(7);
        v.put_u32(0xdead_beef);
        v.put_u64(42);
        v.put_bytes(b"abc");
        let mut r = Reader::new(&v);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u32(), Ok(0xdead_beef));
        assert_eq!(r.u64(), Ok(42));
        assert_eq!(r.bytes(3), Ok(&b"abc"[..]));
        assert_eq!(r.finish(), Ok(()));
    }
}
