//! Errors of the local store. `Display` never contains paths, key bytes, user identifiers or
//! message contents: only the kind of failure and, for records, the table.

use std::io;

/// Everything that can go wrong opening, reading, writing or wiping a [`Store`](super::Store).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the schema migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file operation failed; only the kind of the I/O error is kept.
    #[error("I/O error on the {what}: {kind}")]
    Io {
        /// Which file: "account directory", "database", "key file", "key directory".
        what: &'static str,
        /// The kind of I/O error.
        kind: io::ErrorKind,
    },
    /// The account directory holds no store.
    #[error("no store in this account directory")]
    NotFound,
    /// [`Store::create`](super::Store::create) found a store already there.
    #[error("a store already exists in this account directory")]
    AlreadyExists,
    /// The database has no (or a malformed) `meta` row: not a Parley store, or damaged.
    #[error("not a Parley store")]
    NotAStore,
    /// The store was written by a newer build.
    #[error("unsupported store format {0}")]
    UnsupportedFormat(i64),
    /// The local key (key file or keystore entry) does not exist: never created, or wiped.
    #[error("the local storage key is missing")]
    KeyMissing,
    /// The key opened nothing: wrong local key, wrong or missing remote secret.
    #[error("the storage key does not open this store")]
    WrongKey,
    /// The key file is readable or writable by others than its owner; it is not used.
    #[error("the key file has permissions wider than 0600")]
    KeyFilePermissions,
    /// The key file is a symbolic link, directory or other non-regular file; it is not used.
    #[error("the key file is not a regular file")]
    KeyFileNotRegular,
    /// The key file does not hold exactly one key.
    #[error("the key file is malformed")]
    KeyFileMalformed,
    /// The key file would be inside the account directory, beside the database it opens.
    #[error("the key file must not be inside the account directory")]
    KeyInsideAccountDir,
    /// Neither `XDG_DATA_HOME` nor `HOME` is set, so there is no default key directory.
    #[error("no default key directory (set XDG_DATA_HOME or HOME, or choose one)")]
    NoKeyDir,
    /// Key files need Unix permissions; use the OS keystore on this platform.
    #[error("key files are not supported on this platform")]
    KeyFileUnsupported,
    /// The OS keystore failed (the message is the backend's, without the secret).
    #[error("OS keystore error: {0}")]
    Keystore(String),
    /// A record failed to authenticate: its ciphertext was altered, it was moved to another
    /// row or table, or its plaintext routing columns were changed.
    #[error("a record in {table} failed to authenticate")]
    Tampered {
        /// The table holding the record.
        table: &'static str,
    },
    /// A record authenticated but does not decode (a bug or an unknown record version).
    #[error("a record in {table} is malformed")]
    Malformed {
        /// The table holding the record.
        table: &'static str,
    },
    /// The store was opened without a remote secret, so it has none to keep or hand out.
    #[error("this store has no remote secret")]
    NoRemoteSecret,
    /// A number does not fit the database's signed 64-bit integers.
    #[error("value out of range for the database")]
    OutOfRange,
}

impl StoreError {
    /// An I/O error on `what`, keeping only its kind.
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |e| Self::Io {
            what,
            kind: e.kind(),
        }
    }
}

/// `Result` with [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;
