//! Where the local half of the storage key lives, and how the store key is derived from it
//! (docs/architecture.md §5.3, §6).
//!
//! The **local key** is 32 random bytes made when the store is created. It is kept by a
//! [`KeySource`]:
//!
//! - [`KeySource::Keystore`]: an OS keystore entry (service [`KEYSTORE_SERVICE`], account =
//!   the store id in hex). `KeySource::os_keystore` (cargo feature `os-keystore`) uses the
//!   macOS Keychain, the Windows Credential Manager or the freedesktop Secret Service through
//!   the `keyring` crate, with backends that need no system C libraries.
//! - [`KeySource::KeyFile`]: the documented fallback for headless machines and tests, a file
//!   `<dir>/<store id in hex>.key` holding the 32 bytes. The default directory is
//!   `$XDG_DATA_HOME/parley/keys`, else `$HOME/.local/share/parley/keys` ([`default_key_dir`]):
//!   outside the account directory, so copying or backing up an account directory does not
//!   copy its key. A key file inside the account directory is refused. The directory is
//!   created with mode 0700; the file is written to a temporary name with mode 0600, synced,
//!   and then linked into place (so a crash never leaves a short key file, and an existing key
//!   is never replaced). A key file that is not a regular file (e.g. a symlink), or whose mode
//!   grants anything to group or others, is refused.
//!
//! The **store key** is `HKDF-SHA256(salt = remote secret or empty, IKM = local key,
//! info = "Parley_Store_Key_v1" || store id)`. The remote secret is the per-device secret the
//! relay will hold (docs/architecture.md §5.3); once the engine fetches it, a copy of the disk together
//! with the local key is still unreadable after revocation deletes it. Until then it is
//! `None`. From the store key come two subkeys: one seals records, one computes the keyed
//! hashes used as row keys (see [`super`]).

use std::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use parley_crypto::kdf::hkdf;
use rand_core::Rng as _;
use zeroize::Zeroizing;

use super::error::{StoreError, StoreResult};

/// Length of the local key and of the store key.
pub const KEY_LEN: usize = 32;

/// The service name of keystore entries.
pub const KEYSTORE_SERVICE: &str = "parley-store";

/// A secret store outside the database: the OS keystore, or anything that behaves like one
/// (tests use [`MemoryKeystore`]). Entries are named by the store id in hex.
///
/// Implementations may block (the OS keystores do); the store calls them on a blocking
/// thread.
pub trait Keystore: Send + Sync {
    /// The secret of `account`, or `None` if there is none.
    fn load(&self, account: &str) -> StoreResult<Option<Zeroizing<Vec<u8>>>>;
    /// Stores `secret` for `account`, replacing any.
    fn save(&self, account: &str, secret: &[u8]) -> StoreResult<()>;
    /// Deletes the secret of `account`; deleting a missing entry is not an error.
    fn delete(&self, account: &str) -> StoreResult<()>;
}

/// A [`Keystore`] in memory, for tests and for embedding the engine where the host keeps the
/// secret itself.
#[derive(Default)]
pub struct MemoryKeystore {
    entries: Mutex<Vec<(String, Zeroizing<Vec<u8>>)>>,
}

impl MemoryKeystore {
    /// An empty keystore.
    pub fn new() -> Self {
        Self::default()
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Vec<(String, Zeroizing<Vec<u8>>)>> {
        // A poisoned lock only means another thread panicked while holding it; the vector
        // itself is always in a consistent state.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Keystore for MemoryKeystore {
    fn load(&self, account: &str) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        Ok(self
            .entries()
            .iter()
            .find(|(name, _)| name == account)
            .map(|(_, secret)| secret.clone()))
    }

    fn save(&self, account: &str, secret: &[u8]) -> StoreResult<()> {
        let mut entries = self.entries();
        entries.retain(|(name, _)| name != account);
        entries.push((account.to_owned(), Zeroizing::new(secret.to_vec())));
        Ok(())
    }

    fn delete(&self, account: &str) -> StoreResult<()> {
        self.entries().retain(|(name, _)| name != account);
        Ok(())
    }
}

impl fmt::Debug for MemoryKeystore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryKeystore(..)")
    }
}

/// The OS keystore through the `keyring` crate.
#[cfg(feature = "os-keystore")]
#[derive(Debug, Default, Clone, Copy)]
pub struct OsKeystore;

#[cfg(feature = "os-keystore")]
impl OsKeystore {
    fn entry(account: &str) -> StoreResult<keyring::Entry> {
        keyring::Entry::new(KEYSTORE_SERVICE, account).map_err(keystore_error)
    }
}

#[cfg(feature = "os-keystore")]
impl OsKeystore {
    /// Whether the OS keystore answers and keeps a secret: a test entry is saved, read back
    /// and deleted, within `patience` (a keystore that waits for a person to unlock it, or
    /// a desktop without one, counts as none).
    pub async fn available(patience: std::time::Duration) -> bool {
        const PROBE: &str = "parley-probe";
        let probe = tokio::task::spawn_blocking(|| {
            let ks = Self;
            ks.save(PROBE, b"probe")?;
            let back = ks.load(PROBE)?;
            ks.delete(PROBE)?;
            Ok::<_, StoreError>(back.is_some_and(|b| b.as_slice() == b"probe"))
        });
        matches!(
            tokio::time::timeout(patience, probe).await,
            Ok(Ok(Ok(true)))
        )
    }
}

#[cfg(feature = "os-keystore")]
fn keystore_error(e: keyring::Error) -> StoreError {
    // keyring's messages describe the failure, never the secret.
    StoreError::Keystore(e.to_string())
}

#[cfg(feature = "os-keystore")]
impl Keystore for OsKeystore {
    fn load(&self, account: &str) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        match Self::entry(account)?.get_secret() {
            Ok(secret) => Ok(Some(Zeroizing::new(secret))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keystore_error(e)),
        }
    }

    fn save(&self, account: &str, secret: &[u8]) -> StoreResult<()> {
        Self::entry(account)?
            .set_secret(secret)
            .map_err(keystore_error)
    }

    fn delete(&self, account: &str) -> StoreResult<()> {
        match Self::entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keystore_error(e)),
        }
    }
}

/// Where the local key of a store is kept. See the [module docs](self).
#[derive(Clone)]
pub enum KeySource {
    /// A 0600 file `<dir>/<store id in hex>.key`; `dir` must be outside the account directory.
    KeyFile {
        /// The key directory (created with mode 0700 if missing).
        dir: PathBuf,
    },
    /// An entry of a keystore.
    Keystore(Arc<dyn Keystore>),
}

impl KeySource {
    /// A key file in [`default_key_dir`].
    pub fn default_key_file() -> StoreResult<Self> {
        Ok(Self::KeyFile {
            dir: default_key_dir()?,
        })
    }

    /// A key file in `dir`.
    pub fn key_file_in(dir: impl Into<PathBuf>) -> Self {
        Self::KeyFile { dir: dir.into() }
    }

    /// The OS keystore.
    #[cfg(feature = "os-keystore")]
    pub fn os_keystore() -> Self {
        Self::Keystore(Arc::new(OsKeystore))
    }

    /// The key file path of store `store_id`, for [`KeySource::KeyFile`].
    pub fn key_file_path(&self, store_id: &StoreId) -> Option<PathBuf> {
        match self {
            Self::KeyFile { dir } => Some(dir.join(format!("{}.key", store_id.hex()))),
            Self::Keystore(_) => None,
        }
    }

    /// Makes a fresh local key and keeps it; fails if one already exists.
    pub(crate) async fn create(
        &self,
        home: &Path,
        store_id: &StoreId,
    ) -> StoreResult<Zeroizing<[u8; KEY_LEN]>> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        parley_crypto::keys::os_rng().fill_bytes(&mut key[..]);
        match self {
            Self::KeyFile { dir } => {
                let dir = dir.clone();
                let home = home.to_path_buf();
                let name = format!("{}.key", store_id.hex());
                let secret = key.clone();
                blocking(move || write_key_file(&home, &dir, &name, &secret)).await?;
            }
            Self::Keystore(ks) => {
                let ks = Arc::clone(ks);
                let account = store_id.hex();
                let secret = key.clone();
                blocking(move || {
                    if ks.load(&account)?.is_some() {
                        return Err(StoreError::AlreadyExists);
                    }
                    ks.save(&account, &secret[..])?;
                    // Read it back: a keystore that accepts a secret and loses it (a mock
                    // backend, a locked collection) must fail here, not after data is written.
                    match ks.load(&account)? {
                        Some(back) if back.as_slice() == &secret[..] => Ok(()),
                        _ => Err(StoreError::Keystore(
                            "the keystore did not keep the key".into(),
                        )),
                    }
                })
                .await?;
            }
        }
        Ok(key)
    }

    /// Loads the local key of store `store_id`.
    pub(crate) async fn load(
        &self,
        home: &Path,
        store_id: &StoreId,
    ) -> StoreResult<Zeroizing<[u8; KEY_LEN]>> {
        let bytes = match self {
            Self::KeyFile { dir } => {
                let dir = dir.clone();
                let home = home.to_path_buf();
                let name = format!("{}.key", store_id.hex());
                blocking(move || read_key_file(&home, &dir, &name)).await?
            }
            Self::Keystore(ks) => {
                let ks = Arc::clone(ks);
                let account = store_id.hex();
                let bytes = blocking(move || ks.load(&account))
                    .await?
                    .ok_or(StoreError::KeyMissing)?;
                if bytes.len() != KEY_LEN {
                    return Err(StoreError::Keystore("malformed key entry".into()));
                }
                bytes
            }
        };
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return Err(StoreError::KeyFileMalformed);
        }
        key.copy_from_slice(&bytes);
        Ok(key)
    }

    /// Destroys the local key of store `store_id`: deletes the keystore entry, or overwrites
    /// the key file with zeros, syncs it, and unlinks it. A missing key is not an error.
    pub(crate) async fn destroy(&self, store_id: &StoreId) -> StoreResult<()> {
        match self {
            Self::KeyFile { dir } => {
                let path = dir.join(format!("{}.key", store_id.hex()));
                blocking(move || shred_key_file(&path)).await
            }
            Self::Keystore(ks) => {
                let ks = Arc::clone(ks);
                let account = store_id.hex();
                blocking(move || ks.delete(&account)).await
            }
        }
    }
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyFile { dir: _ } => f.write_str("KeySource::KeyFile(..)"),
            Self::Keystore(_) => f.write_str("KeySource::Keystore(..)"),
        }
    }
}

/// The default key directory: `$XDG_DATA_HOME/parley/keys` if `XDG_DATA_HOME` is an absolute
/// path, else `$HOME/.local/share/parley/keys`.
pub fn default_key_dir() -> StoreResult<PathBuf> {
    key_dir_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`default_key_dir`] given the values of `XDG_DATA_HOME` and `HOME`.
pub(crate) fn key_dir_from(
    xdg_data_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> StoreResult<PathBuf> {
    let xdg = xdg_data_home.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = match xdg {
        Some(dir) => dir,
        None => home
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .ok_or(StoreError::NoKeyDir)?
            .join(".local")
            .join("share"),
    };
    Ok(base.join("parley").join("keys"))
}

/// A store's random identifier (16 bytes). Not secret: it names the key file or keystore
/// entry and is stored in the clear in the `meta` table.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StoreId(pub [u8; 16]);

impl StoreId {
    pub(crate) fn generate() -> Self {
        let mut id = [0u8; 16];
        parley_crypto::keys::os_rng().fill_bytes(&mut id);
        Self(id)
    }

    /// Lower-case hex, as used in key file names and keystore entries.
    pub fn hex(&self) -> String {
        parley_proto::hex::encode(self.0)
    }
}

impl fmt::Debug for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreId({})", self.hex())
    }
}

/// Derives the key that seals the unlock record (`meta.unlock`) from the local key alone.
pub(crate) fn unlock_key(local: &[u8; KEY_LEN], store_id: &StoreId) -> Zeroizing<[u8; KEY_LEN]> {
    let mut info = b"Parley_Unlock_Key_v1".to_vec();
    info.extend_from_slice(&store_id.0);
    hkdf::<KEY_LEN>(&[], local, &info)
}

/// Derives the token that fetches the remote secret from the relay, from the local key alone:
/// whoever holds the local key can ask for the secret until the device is revoked.
pub(crate) fn unlock_token(local: &[u8; KEY_LEN], store_id: &StoreId) -> Zeroizing<[u8; KEY_LEN]> {
    let mut info = b"Parley_Unlock_Token_v1".to_vec();
    info.extend_from_slice(&store_id.0);
    hkdf::<KEY_LEN>(&[], local, &info)
}

/// Derives the store key from the local key and the optional remote secret.
pub(crate) fn store_key(
    local: &[u8; KEY_LEN],
    remote_secret: Option<&[u8]>,
    store_id: &StoreId,
) -> Zeroizing<[u8; KEY_LEN]> {
    let mut info = b"Parley_Store_Key_v1".to_vec();
    info.extend_from_slice(&store_id.0);
    hkdf::<KEY_LEN>(remote_secret.unwrap_or(&[]), local, &info)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> StoreResult<T> + Send + 'static,
) -> StoreResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| StoreError::Keystore("key task failed".into()))?
}

/// Creates `dir` (mode 0700) if needed and refuses it if it is inside `home`.
fn key_dir(home: &Path, dir: &Path, create: bool) -> StoreResult<PathBuf> {
    // A lexical check first, so that nothing is created inside the account directory; the
    // check on canonical paths below also catches symlinks and `..`.
    let cwd = std::env::current_dir().map_err(StoreError::io("key directory"))?;
    if cwd.join(dir).starts_with(cwd.join(home)) {
        return Err(StoreError::KeyInsideAccountDir);
    }
    if create {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt as _;
            builder.mode(0o700);
        }
        builder
            .create(dir)
            .map_err(StoreError::io("key directory"))?;
    }
    let dir = match dir.canonicalize() {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::KeyMissing),
        Err(e) => return Err(StoreError::io("key directory")(e)),
    };
    let home = home
        .canonicalize()
        .map_err(StoreError::io("account directory"))?;
    if dir.starts_with(&home) {
        return Err(StoreError::KeyInsideAccountDir);
    }
    Ok(dir)
}

#[cfg(unix)]
fn write_key_file(home: &Path, dir: &Path, name: &str, key: &[u8; KEY_LEN]) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt as _;

    let dir = key_dir(home, dir, true)?;
    let path = dir.join(name);
    let mut suffix = [0u8; 8];
    parley_crypto::keys::os_rng().fill_bytes(&mut suffix);
    let tmp = dir.join(format!(".{name}.tmp-{}", parley_proto::hex::encode(suffix)));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(key)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(StoreError::io("key file")(e));
    }
    // `hard_link` fails if the target exists: an existing key is never replaced.
    let linked = fs::hard_link(&tmp, &path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StoreError::AlreadyExists);
        }
        Err(e) => return Err(StoreError::io("key file")(e)),
    }
    sync_dir(&dir)
}

#[cfg(unix)]
fn read_key_file(home: &Path, dir: &Path, name: &str) -> StoreResult<Zeroizing<Vec<u8>>> {
    use std::io::Read as _;
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};

    let dir = key_dir(home, dir, false)?;
    let path = dir.join(name);
    // O_NOFOLLOW: a symlink planted in place of the key file is refused, not followed.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_NOFOLLOW)
        .open(&path);
    let mut file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(StoreError::KeyMissing),
        Err(_) if is_symlink(&path) => return Err(StoreError::KeyFileNotRegular),
        Err(e) => return Err(StoreError::io("key file")(e)),
    };
    let meta = file.metadata().map_err(StoreError::io("key file"))?;
    if !meta.file_type().is_file() {
        return Err(StoreError::KeyFileNotRegular);
    }
    if meta.mode() & 0o077 != 0 {
        return Err(StoreError::KeyFilePermissions);
    }
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
    std::io::Read::take(&mut file, (KEY_LEN + 1) as u64)
        .read_to_end(&mut bytes)
        .map_err(StoreError::io("key file"))?;
    if bytes.len() != KEY_LEN {
        return Err(StoreError::KeyFileMalformed);
    }
    Ok(bytes)
}

#[cfg(unix)]
use libc::O_NOFOLLOW;

#[cfg(unix)]
fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

#[cfg(unix)]
fn shred_key_file(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::OpenOptionsExt as _;

    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(StoreError::io("key file")(e)),
        Ok(m) if m.file_type().is_file() => {
            // Overwrite in place before unlinking. On copy-on-write file systems and SSDs the
            // old blocks may survive; the OS keystore or full-disk encryption covers that.
            let mut file = fs::OpenOptions::new()
                .write(true)
                .custom_flags(O_NOFOLLOW)
                .open(path)
                .map_err(StoreError::io("key file"))?;
            let len = usize::try_from(m.len()).unwrap_or(KEY_LEN).max(KEY_LEN);
            file.write_all(&vec![0u8; len])
                .and_then(|()| file.sync_all())
                .map_err(StoreError::io("key file"))?;
        }
        Ok(_) => {}
    }
    fs::remove_file(path).map_err(StoreError::io("key file"))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> StoreResult<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io("key directory"))
}

#[cfg(not(unix))]
fn write_key_file(_: &Path, _: &Path, _: &str, _: &[u8; KEY_LEN]) -> StoreResult<()> {
    Err(StoreError::KeyFileUnsupported)
}

#[cfg(not(unix))]
fn read_key_file(_: &Path, _: &Path, _: &str) -> StoreResult<Zeroizing<Vec<u8>>> {
    Err(StoreError::KeyFileUnsupported)
}

#[cfg(not(unix))]
fn shred_key_file(_: &Path) -> StoreResult<()> {
    Err(StoreError::KeyFileUnsupported)
}
