//! The encrypted local store of one account (docs/architecture.md §5, §6).
//!
//! Each account directory (the CLI's `--home`; one machine may hold several) has one SQLite
//! database, `store.db` (with its `-wal` and `-shm` files), opened through `sqlx`. SQLCipher
//! is not available with the bundled SQLite, so the store encrypts **records**: every
//! sensitive value is sealed with AES-256-GCM before it reaches SQLite (`store/seal.rs` gives
//! the format), under a store key that is never written beside the database (see [`key`]).
//!
//! # What is in the clear
//!
//! | table | plaintext columns | why |
//! |---|---|---|
//! | `meta` | `format`, `store_id`, `key_check` (a sealed constant) | needed before the key is known: the schema version, and the id that names the key file / keystore entry |
//! | `singletons` | `name` (`account`, `identity`, `prekeys`) | fixed names, say nothing |
//! | `sessions`, `sender_keys`, `own_sender_keys`, `contacts` | `lookup` | a keyed hash (HMAC-SHA256 under a subkey of the store key) of the device address, (group id, sender address), group id or user id: finds the row, names nobody |
//! | `conversations` | `id` | a keyed hash of the peer's user id or of the group id |
//! | `messages` | `id` (random), `conversation`, `timestamp`, `outgoing`, `expires_at` | page a conversation in order without decrypting it all; find disappearing messages whose time is up |
//! | `outbox` | `id` (random), `next_attempt` | select the items that are due |
//! | `attachments` | `id` (random), `message` | find a message's attachments |
//! | `group_logs` | `lookup` | a keyed hash of the group id |
//! | `tasks` | `lookup`, `expires_at` | a keyed hash of (conversation, task id); when a task of a conversation with disappearing messages goes |
//!
//! Everything else — the account (user id, device, credentials secret, registration id,
//! relay URL, genesis hash), the identity key pair, the prekey store, session and sender-key
//! states, contacts and their devices, conversation members and titles, message senders,
//! bodies, claimed send times and statuses, outbox recipients and payloads, attachment keys,
//! digests, names and paths — is only in sealed `record` columns. A reader of the files
//! learns how many rows each table has, their sizes, which messages share a conversation,
//! and the local times of messages and retries; nothing about who or what.
//!
//! The associated data of each record binds its table, its row key and its row's plaintext
//! columns, so a record moved to another row or table, or a message moved to another
//! conversation or time, fails to open ([`StoreError::Tampered`]). Not detected: a record
//! copied back over its own row from an older copy of the file (a rollback), and deleted
//! rows; nothing short of a trusted counter outside the disk could detect those. An attacker
//! who can write the files can thus lose messages or replay an older session state, but
//! cannot read, forge or move anything.
//!
//! # Keys
//!
//! The store key is derived from a local key kept by a [`KeySource`] (the OS keystore, or a
//! 0600 key file outside the account directory) and an optional remote secret (docs/architecture.md
//! §5.3): see [`key`]. A wrong key or remote secret is [`StoreError::WrongKey`].
//!
//! # Transactions
//!
//! All reads and writes go through a [`StoreTx`] ([`Store::begin`] and [`StoreTx::commit`],
//! or [`Store::transaction`]); a transaction dropped without commit rolls back. So the engine
//! can decrypt an envelope, store the new session state and the message in one transaction,
//! commit, and only then ack the envelope: a crash in between redelivers an envelope whose
//! effects were never stored. The store uses one SQLite connection: transactions are
//! serialized, and opening a second one while holding the first waits (and times out).
//!
//! # Wipe
//!
//! [`Store::wipe`] (and [`Store::wipe_at`], for a store that can no longer be opened)
//! destroys the local key first — the keystore entry, or the key file overwritten, synced and
//! unlinked — and only then deletes the database files. Once the key is gone the records in
//! any surviving copy of the database (backups, unlinked blocks) are unreadable.
//! SQLite's `secure_delete` is on, so deleted rows are zeroed in the file as well.

pub mod error;
pub mod key;
pub mod records;
mod seal;
mod sealed;
mod tables;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parley_crypto::DeviceAddress;
use parley_crypto::sender_key::GroupId;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use zeroize::Zeroizing;

pub use error::{StoreError, StoreResult};
#[cfg(feature = "os-keystore")]
pub use key::OsKeystore;
pub use key::{KEYSTORE_SERVICE, KeySource, Keystore, MemoryKeystore, StoreId, default_key_dir};
pub use records::{
    Account, Attachment, AttachmentId, Contact, ContactDevice, Conversation, ConversationId,
    ConversationKind, Message, MessageId, MessageStatus, NotifySettings, OutboxId, OutboxItem,
    Presence, SenderKeyShare, Status, Timer, Unlock,
};

use seal::Sealer;

/// The database file's name inside the account directory.
pub const DATABASE_FILE: &str = "store.db";

/// The store format this build writes (the `meta.format` column).
const FORMAT: i64 = 1;

const T_META: &str = "meta";
const T_SINGLETONS: &str = "singletons";
const T_SESSIONS: &str = "sessions";
const T_SENDER_KEYS: &str = "sender_keys";
const T_OWN_SENDER_KEYS: &str = "own_sender_keys";
const T_CONTACTS: &str = "contacts";
const T_CONVERSATIONS: &str = "conversations";
const T_MESSAGES: &str = "messages";
const T_OUTBOX: &str = "outbox";
const T_ATTACHMENTS: &str = "attachments";
const T_GROUP_LOGS: &str = "group_logs";
const T_TASKS: &str = "tasks";

const KEY_CHECK: &[u8] = b"Parley local store key check";

/// The encrypted store of one account. See the [module docs](self).
pub struct Store {
    pool: SqlitePool,
    home: PathBuf,
    store_id: StoreId,
    key_source: KeySource,
    sealer: Sealer,
    /// What the local key alone opens: the unlock record's sealer and the unlock token.
    local: LocalKeys,
    /// The remote secret the store key was derived with, if any.
    remote_secret: Option<Zeroizing<[u8; 32]>>,
}

/// The keys derived from the local key alone.
struct LocalKeys {
    unlock: Sealer,
    token: Zeroizing<[u8; key::KEY_LEN]>,
}

impl LocalKeys {
    fn new(local: &[u8; key::KEY_LEN], store_id: &StoreId) -> Self {
        Self {
            unlock: Sealer::new(&key::unlock_key(local, store_id)),
            token: key::unlock_token(local, store_id),
        }
    }
}

/// A store whose local key is loaded but whose store key is not known yet: it tells where the
/// remote secret is ([`LockedStore::unlock`]) and opens with it ([`LockedStore::open`]).
pub struct LockedStore {
    pool: SqlitePool,
    home: PathBuf,
    store_id: StoreId,
    key_source: KeySource,
    local_key: Zeroizing<[u8; key::KEY_LEN]>,
    local: LocalKeys,
    check: Vec<u8>,
    unlock: Option<Unlock>,
}

impl fmt::Debug for LockedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockedStore")
            .field("store_id", &self.store_id)
            .field("unlock", &self.unlock)
            .finish_non_exhaustive()
    }
}

impl LockedStore {
    /// The unlock record, if the store has one (a store made by [`Store::create`] alone has
    /// none, and needs no remote secret unless it was made with one).
    pub fn unlock(&self) -> Option<&Unlock> {
        self.unlock.as_ref()
    }

    /// The token that fetches the remote secret from the relay.
    pub fn unlock_token(&self) -> &[u8; key::KEY_LEN] {
        &self.local.token
    }

    /// Opens the store with `remote_secret` (`None` if it was created without one). A wrong
    /// secret is [`StoreError::WrongKey`].
    pub async fn open(self, remote_secret: Option<&[u8; 32]>) -> StoreResult<Store> {
        let Self {
            pool,
            home,
            store_id,
            key_source,
            local_key,
            local,
            check,
            unlock: _,
        } = self;
        let sealer = Sealer::new(&key::store_key(
            &local_key,
            remote_secret.map(|s| &s[..]),
            &store_id,
        ));
        match sealer.open(T_META, b"key_check", &[], &check) {
            Ok(v) if v.as_slice() == KEY_CHECK => {}
            _ => {
                pool.close().await;
                return Err(StoreError::WrongKey);
            }
        }
        Ok(Store {
            pool,
            home,
            store_id,
            key_source,
            sealer,
            local,
            remote_secret: remote_secret.map(|s| Zeroizing::new(*s)),
        })
    }

    /// Closes the database.
    pub async fn close(self) {
        self.pool.close().await;
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("store_id", &self.store_id)
            .field("key_source", &self.key_source)
            .finish_non_exhaustive()
    }
}

/// The database files of an account directory: the database, its WAL and shared memory.
fn database_files(home: &Path) -> [PathBuf; 3] {
    [
        home.join(DATABASE_FILE),
        home.join(format!("{DATABASE_FILE}-wal")),
        home.join(format!("{DATABASE_FILE}-shm")),
    ]
}

async fn connect(home: &Path, create: bool) -> StoreResult<SqlitePool> {
    let opts = SqliteConnectOptions::new()
        .filename(home.join(DATABASE_FILE))
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("secure_delete", "ON");
    // One connection, kept open and not pinged before each use (a ping is one more hand-off
    // to the connection's thread per transaction).
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(opts)
        .await?;
    sqlx::migrate!("./migrations").run(&pool).await?;
    Ok(pool)
}

async fn read_meta(pool: &SqlitePool) -> StoreResult<(StoreId, Vec<u8>)> {
    let row: Option<(i64, Vec<u8>, Vec<u8>)> =
        sqlx::query_as("SELECT format, store_id, key_check FROM meta WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    let (format, id, check) = row.ok_or(StoreError::NotAStore)?;
    if format != FORMAT {
        return Err(StoreError::UnsupportedFormat(format));
    }
    let id = <[u8; 16]>::try_from(id.as_slice()).map_err(|_| StoreError::NotAStore)?;
    Ok((StoreId(id), check))
}

fn exists(path: &Path) -> StoreResult<bool> {
    path.try_exists().map_err(StoreError::io("database"))
}

impl Store {
    /// Creates the store of a new account in `home` (created with mode 0700 if missing), with a
    /// fresh local key kept by `key_source`. Fails with [`StoreError::AlreadyExists`] if
    /// `home` already has a store.
    pub async fn create(
        home: &Path,
        key_source: KeySource,
        remote_secret: Option<&[u8; 32]>,
    ) -> StoreResult<Self> {
        create_home(home)?;
        let [db, ..] = database_files(home);
        if exists(&db)? {
            return Err(StoreError::AlreadyExists);
        }
        let store_id = StoreId::generate();
        let local_key = key_source.create(home, &store_id).await?;
        let sealer = Sealer::new(&key::store_key(
            &local_key,
            remote_secret.map(|s| &s[..]),
            &store_id,
        ));
        let local = LocalKeys::new(&local_key, &store_id);
        let created = async {
            let pool = connect(home, true).await?;
            restrict_file(&db)?;
            let check = sealer.seal(T_META, b"key_check", &[], KEY_CHECK);
            sqlx::query("INSERT INTO meta (id, format, store_id, key_check) VALUES (1, ?, ?, ?)")
                .bind(FORMAT)
                .bind(&store_id.0[..])
                .bind(check)
                .execute(&pool)
                .await?;
            Ok::<_, StoreError>(pool)
        }
        .await;
        match created {
            Ok(pool) => Ok(Self {
                pool,
                home: home.to_path_buf(),
                store_id,
                key_source,
                sealer,
                local,
                remote_secret: remote_secret.map(|s| Zeroizing::new(*s)),
            }),
            Err(e) => {
                // Leave nothing half-made behind: no orphan key, no database without a key.
                let _ = key_source.destroy(&store_id).await;
                remove_database_files(home);
                Err(e)
            }
        }
    }

    /// Opens the store in `home` with the local key from `key_source` and the remote secret
    /// (`None` if the store was created without one). A wrong key or secret is
    /// [`StoreError::WrongKey`]; a store that is not there is [`StoreError::NotFound`].
    pub async fn open(
        home: &Path,
        key_source: KeySource,
        remote_secret: Option<&[u8; 32]>,
    ) -> StoreResult<Self> {
        Self::locked(home, key_source)
            .await?
            .open(remote_secret)
            .await
    }

    /// Loads the local key of the store in `home` and reads its unlock record, without the
    /// store key: the first half of [`Store::open`], for a caller that must fetch the remote
    /// secret first.
    pub async fn locked(home: &Path, key_source: KeySource) -> StoreResult<LockedStore> {
        let [db, ..] = database_files(home);
        if !exists(&db)? {
            return Err(StoreError::NotFound);
        }
        let pool = connect(home, false).await?;
        let result = async {
            let (store_id, check) = read_meta(&pool).await?;
            let local_key = key_source.load(home, &store_id).await?;
            let local = LocalKeys::new(&local_key, &store_id);
            let sealed: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT unlock FROM meta WHERE id = 1")
                    .fetch_one(&pool)
                    .await?;
            let unlock = match sealed {
                Some(sealed) => {
                    let bytes = local
                        .unlock
                        .open(T_META, b"unlock", &[], &sealed)
                        .map_err(|_| StoreError::WrongKey)?;
                    Some(
                        Unlock::decode(&bytes)
                            .map_err(|_| StoreError::Malformed { table: T_META })?,
                    )
                }
                None => None,
            };
            Ok::<_, StoreError>((store_id, check, local_key, local, unlock))
        }
        .await;
        match result {
            Ok((store_id, check, local_key, local, unlock)) => Ok(LockedStore {
                pool,
                home: home.to_path_buf(),
                store_id,
                key_source,
                local_key,
                local,
                check,
                unlock,
            }),
            Err(e) => {
                pool.close().await;
                Err(e)
            }
        }
    }

    /// Writes the unlock record: where the remote secret is kept, and whether this store keeps
    /// a copy of it (`keep_secret`, when the org's policy allows opening offline). Needs a
    /// store opened with a remote secret.
    pub async fn set_unlock(
        &self,
        relay_url: &str,
        tls_pins: Option<parley_proto::invite::TlsPins>,
        keep_secret: bool,
    ) -> StoreResult<()> {
        let secret = self
            .remote_secret
            .as_ref()
            .ok_or(StoreError::NoRemoteSecret)?;
        let unlock = Unlock {
            relay_url: relay_url.to_owned(),
            tls_pins,
            remote_secret: keep_secret.then(|| secret.clone()),
        };
        let sealed = self
            .local
            .unlock
            .seal(T_META, b"unlock", &[], &unlock.encode());
        sqlx::query("UPDATE meta SET unlock = ? WHERE id = 1")
            .bind(sealed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The token that fetches the remote secret from the relay (the relay keeps its SHA-256).
    pub fn unlock_token(&self) -> &[u8; key::KEY_LEN] {
        &self.local.token
    }

    /// The store's random id (names its key file or keystore entry).
    pub fn store_id(&self) -> StoreId {
        self.store_id
    }

    /// The path of the database file in `home`.
    pub fn database_path(home: &Path) -> PathBuf {
        home.join(DATABASE_FILE)
    }

    /// The conversation id of the 1:1 conversation with `peer`.
    pub fn direct_conversation_id(&self, peer: &str) -> ConversationId {
        ConversationId(self.sealer.lookup("conversation-direct", peer.as_bytes()))
    }

    /// The conversation id of group `group`.
    pub fn group_conversation_id(&self, group: &GroupId) -> ConversationId {
        ConversationId(self.sealer.lookup("conversation-group", &group.0))
    }

    /// The row id of the message `id` written by `author`: a keyed hash of both, so two
    /// authors' ids never collide and the row names neither.
    pub fn message_row_id(&self, author: &str, id: &[u8; 16]) -> MessageId {
        let mut value = Vec::with_capacity(author.len().saturating_add(17));
        value.extend_from_slice(author.as_bytes());
        value.push(0);
        value.extend_from_slice(id);
        let hash = self.sealer.lookup("message", &value);
        let mut out = [0u8; 16];
        out.copy_from_slice(hash.get(..16).unwrap_or(&[0; 16]));
        MessageId(out)
    }

    /// Starts a transaction. Dropping it without [`StoreTx::commit`] rolls it back.
    pub async fn begin(&self) -> StoreResult<StoreTx<'_>> {
        Ok(StoreTx {
            tx: self.pool.begin().await?,
            store: self,
            conversation: None,
        })
    }

    /// Runs `f` in a transaction: commits if it returns `Ok`, rolls back if it returns `Err`.
    pub async fn transaction<T, E>(
        &self,
        f: impl AsyncFnOnce(&mut StoreTx<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let mut tx = self.begin().await?;
        match f(&mut tx).await {
            Ok(value) => {
                tx.commit().await?;
                Ok(value)
            }
            Err(e) => {
                // Dropping the transaction rolls back as well; an explicit rollback reports
                // nothing the caller's error does not already explain.
                let _ = tx.tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Closes the database.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// Crypto-shredding: destroys the local key, then closes and deletes the database files.
    /// If destroying the key fails the files are still deleted, and the key error returned.
    pub async fn wipe(self) -> StoreResult<()> {
        let Self {
            pool,
            home,
            store_id,
            key_source,
            sealer,
            local,
            remote_secret,
        } = self;
        drop((sealer, local, remote_secret));
        let destroyed = key_source.destroy(&store_id).await;
        pool.close().await;
        let removed = delete_database_files(&home);
        destroyed.and(removed)
    }

    /// Wipes the store while others may still hold it (a remote wipe, from inside the
    /// engine): destroys the local key first, closes the pool (every later use fails), then
    /// deletes the database files. The sealer's copy of the key goes when the store is
    /// dropped.
    pub async fn wipe_open(&self) -> StoreResult<()> {
        let destroyed = self.key_source.destroy(&self.store_id).await;
        self.pool.close().await;
        let removed = delete_database_files(&self.home);
        destroyed.and(removed)
    }

    /// The account directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Wipes the store in `home` without opening it (for a device whose remote secret is
    /// already gone, or whose key no longer opens the store): reads the store id, destroys
    /// the local key, deletes the database files.
    pub async fn wipe_at(home: &Path, key_source: &KeySource) -> StoreResult<()> {
        let [db, ..] = database_files(home);
        if !exists(&db)? {
            return Err(StoreError::NotFound);
        }
        let pool = connect(home, false).await?;
        let id = read_meta(&pool).await;
        pool.close().await;
        let destroyed = match id {
            Ok((store_id, _)) => key_source.destroy(&store_id).await,
            Err(e) => Err(e),
        };
        let removed = delete_database_files(home);
        destroyed.and(removed)
    }
}

fn create_home(home: &Path) -> StoreResult<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder
        .create(home)
        .map_err(StoreError::io("account directory"))
}

/// Makes the database file readable by its owner only (SQLite gives its WAL and shared-memory
/// files the same mode).
fn restrict_file(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(StoreError::io("database"))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

fn delete_database_files(home: &Path) -> StoreResult<()> {
    let mut result = Ok(());
    for path in database_files(home) {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => result = result.and(Err(StoreError::io("database")(e))),
        }
    }
    result
}

fn remove_database_files(home: &Path) {
    let _ = delete_database_files(home);
}

fn to_i64(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::OutOfRange)
}

fn to_u64(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::OutOfRange)
}

fn array<const N: usize>(table: &'static str, bytes: &[u8]) -> StoreResult<[u8; N]> {
    <[u8; N]>::try_from(bytes).map_err(|_| StoreError::Malformed { table })
}

fn malformed<E>(table: &'static str) -> impl FnOnce(E) -> StoreError {
    move |_| StoreError::Malformed { table }
}

fn address_bytes(address: &DeviceAddress) -> Vec<u8> {
    let mut out = Vec::new();
    address.write(&mut out);
    out
}

/// An open transaction on a [`Store`], with the typed accessors. Dropping it without
/// [`StoreTx::commit`] rolls it back.
pub struct StoreTx<'s> {
    tx: Transaction<'static, Sqlite>,
    store: &'s Store,
    /// The conversation this transaction last read or wrote (`None` inside: not stored), so
    /// the steps of one send or receive that each need it read it once. Only this
    /// transaction writes what it sees, and every write of the table goes through it.
    conversation: Option<(ConversationId, Option<Conversation>)>,
}

impl fmt::Debug for StoreTx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StoreTx(..)")
    }
}

impl StoreTx<'_> {
    /// Commits the transaction.
    pub async fn commit(self) -> StoreResult<()> {
        Ok(self.tx.commit().await?)
    }

    /// Rolls the transaction back (as dropping it does, but waiting for it).
    pub async fn rollback(self) -> StoreResult<()> {
        Ok(self.tx.rollback().await?)
    }
}
