//! The encrypted local store of one account (DESIGN.md §5, §6).
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
//! | `messages` | `id` (random), `conversation`, `timestamp`, `outgoing` | page a conversation in order without decrypting it all |
//! | `outbox` | `id` (random), `next_attempt` | select the items that are due |
//! | `attachments` | `id` (random), `message` | find a message's attachments |
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
//! 0600 key file outside the account directory) and an optional remote secret (DESIGN.md
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
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use parley_crypto::DeviceAddress;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::SigningKeyPair;
use parley_crypto::prekeys::PreKeyStore;
use parley_crypto::sender_key::{GroupId, OwnSenderKey, SenderKeyRecord};
use parley_crypto::session_record::SessionRecord;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use zeroize::Zeroizing;

pub use error::{StoreError, StoreResult};
pub use key::{KeySource, Keystore, MemoryKeystore, StoreId, default_key_dir};
pub use records::{
    Account, Attachment, AttachmentId, Contact, ContactDevice, Conversation, ConversationId,
    ConversationKind, Message, MessageId, MessageStatus, OutboxId, OutboxItem, SenderKeyShare,
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

const KEY_CHECK: &[u8] = b"Parley local store key check";

/// The encrypted store of one account. See the [module docs](self).
pub struct Store {
    pool: SqlitePool,
    home: PathBuf,
    store_id: StoreId,
    key_source: KeySource,
    sealer: Sealer,
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
        remote_secret: Option<&[u8]>,
    ) -> StoreResult<Self> {
        create_home(home)?;
        let [db, ..] = database_files(home);
        if exists(&db)? {
            return Err(StoreError::AlreadyExists);
        }
        let store_id = StoreId::generate();
        let local = key_source.create(home, &store_id).await?;
        let sealer = Sealer::new(&key::store_key(&local, remote_secret, &store_id));
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
        remote_secret: Option<&[u8]>,
    ) -> StoreResult<Self> {
        let [db, ..] = database_files(home);
        if !exists(&db)? {
            return Err(StoreError::NotFound);
        }
        let pool = connect(home, false).await?;
        let (store_id, check) = read_meta(&pool).await?;
        let local = key_source.load(home, &store_id).await?;
        let sealer = Sealer::new(&key::store_key(&local, remote_secret, &store_id));
        match sealer.open(T_META, b"key_check", &[], &check) {
            Ok(v) if v.as_slice() == KEY_CHECK => {}
            _ => {
                pool.close().await;
                return Err(StoreError::WrongKey);
            }
        }
        Ok(Self {
            pool,
            home: home.to_path_buf(),
            store_id,
            key_source,
            sealer,
        })
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
        } = self;
        drop(sealer);
        let destroyed = key_source.destroy(&store_id).await;
        pool.close().await;
        let removed = delete_database_files(&home);
        destroyed.and(removed)
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

    // ---- generic keyed records ------------------------------------------------------------

    async fn get_record(
        &mut self,
        table: &'static str,
        key_column: &str,
        key: &[u8],
    ) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        let sql = format!("SELECT record FROM {table} WHERE {key_column} = ?");
        let sealed: Option<Vec<u8>> = sqlx::query_scalar(&sql)
            .bind(key)
            .fetch_optional(&mut *self.tx)
            .await?;
        sealed
            .map(|s| self.store.sealer.open(table, key, &[], &s))
            .transpose()
    }

    async fn put_record(
        &mut self,
        table: &'static str,
        key_column: &str,
        key: &[u8],
        plaintext: &[u8],
    ) -> StoreResult<()> {
        let sealed = self.store.sealer.seal(table, key, &[], plaintext);
        let sql = format!(
            "INSERT INTO {table} ({key_column}, record) VALUES (?, ?) \
             ON CONFLICT ({key_column}) DO UPDATE SET record = excluded.record"
        );
        sqlx::query(&sql)
            .bind(key)
            .bind(sealed)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn delete_record(
        &mut self,
        table: &'static str,
        key_column: &str,
        key: &[u8],
    ) -> StoreResult<bool> {
        let sql = format!("DELETE FROM {table} WHERE {key_column} = ?");
        let done = sqlx::query(&sql).bind(key).execute(&mut *self.tx).await?;
        Ok(done.rows_affected() > 0)
    }

    async fn all_records(
        &mut self,
        table: &'static str,
        key_column: &str,
    ) -> StoreResult<Vec<(Vec<u8>, Zeroizing<Vec<u8>>)>> {
        let sql = format!("SELECT {key_column}, record FROM {table} ORDER BY {key_column}");
        let rows: Vec<(Vec<u8>, Vec<u8>)> = sqlx::query_as(&sql).fetch_all(&mut *self.tx).await?;
        rows.into_iter()
            .map(|(key, sealed)| {
                let plain = self.store.sealer.open(table, &key, &[], &sealed)?;
                Ok((key, plain))
            })
            .collect()
    }

    async fn put_singleton(&mut self, name: &str, plaintext: &[u8]) -> StoreResult<()> {
        // `name` is TEXT; binding its bytes as a BLOB would make a different key, so bind the
        // text and seal with its bytes.
        let sealed = self
            .store
            .sealer
            .seal(T_SINGLETONS, name.as_bytes(), &[], plaintext);
        sqlx::query(
            "INSERT INTO singletons (name, record) VALUES (?, ?) \
             ON CONFLICT (name) DO UPDATE SET record = excluded.record",
        )
        .bind(name)
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    // ---- account, identity, prekeys -------------------------------------------------------

    /// This device's account, once enrolled.
    pub async fn account(&mut self) -> StoreResult<Option<Account>> {
        self.get_singleton_text("account")
            .await?
            .map(|b| Account::decode(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()
    }

    /// Stores the account.
    pub async fn set_account(&mut self, account: &Account) -> StoreResult<()> {
        self.put_singleton("account", &account.encode()).await
    }

    /// This device's identity key pair.
    pub async fn identity(&mut self) -> StoreResult<Option<IdentityKeyPair>> {
        self.get_singleton_text("identity")
            .await?
            .map(|b| IdentityKeyPair::from_bytes(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()
    }

    /// Stores the identity key pair.
    pub async fn set_identity(&mut self, identity: &IdentityKeyPair) -> StoreResult<()> {
        self.put_singleton("identity", &identity.to_bytes()).await
    }

    /// The org root key, on the device that created the org (DESIGN.md §1: it never leaves
    /// that device).
    pub async fn org_root(&mut self) -> StoreResult<Option<SigningKeyPair>> {
        self.get_singleton_text("org_root")
            .await?
            .map(|b| {
                let seed: [u8; 32] = b.as_slice().try_into().map_err(malformed(T_SINGLETONS))?;
                Ok(SigningKeyPair::from_seed(&seed))
            })
            .transpose()
    }

    /// Stores the org root key.
    pub async fn set_org_root(&mut self, root: &SigningKeyPair) -> StoreResult<()> {
        self.put_singleton("org_root", &root.seed()[..]).await
    }

    /// This device's prekey store.
    pub async fn prekeys(&mut self) -> StoreResult<Option<PreKeyStore>> {
        self.get_singleton_text("prekeys")
            .await?
            .map(|b| PreKeyStore::from_bytes(&b).map_err(malformed(T_SINGLETONS)))
            .transpose()
    }

    /// Stores the prekey store (after generating, rotating or consuming prekeys).
    pub async fn set_prekeys(&mut self, prekeys: &PreKeyStore) -> StoreResult<()> {
        self.put_singleton("prekeys", &prekeys.to_bytes()).await
    }

    async fn get_singleton_text(&mut self, name: &str) -> StoreResult<Option<Zeroizing<Vec<u8>>>> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT record FROM singletons WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *self.tx)
                .await?;
        sealed
            .map(|s| {
                self.store
                    .sealer
                    .open(T_SINGLETONS, name.as_bytes(), &[], &s)
            })
            .transpose()
    }

    // ---- sessions -------------------------------------------------------------------------

    fn session_lookup(&self, address: &DeviceAddress) -> [u8; 32] {
        self.store.sealer.lookup("session", &address_bytes(address))
    }

    /// The session record with a remote device.
    pub async fn session(&mut self, address: &DeviceAddress) -> StoreResult<Option<SessionRecord>> {
        let lookup = self.session_lookup(address);
        self.get_record(T_SESSIONS, "lookup", &lookup)
            .await?
            .map(|b| SessionRecord::from_bytes(&b).map_err(malformed(T_SESSIONS)))
            .transpose()
    }

    /// Stores the session record with a remote device.
    pub async fn set_session(
        &mut self,
        address: &DeviceAddress,
        record: &SessionRecord,
    ) -> StoreResult<()> {
        let lookup = self.session_lookup(address);
        self.put_record(T_SESSIONS, "lookup", &lookup, &record.to_bytes())
            .await
    }

    /// Deletes the session with a remote device (revoked device, forced logout); true if there
    /// was one.
    pub async fn delete_session(&mut self, address: &DeviceAddress) -> StoreResult<bool> {
        let lookup = self.session_lookup(address);
        self.delete_record(T_SESSIONS, "lookup", &lookup).await
    }

    // ---- sender keys ----------------------------------------------------------------------

    fn sender_key_lookup(&self, group: &GroupId, sender: &DeviceAddress) -> [u8; 32] {
        let mut value = group.0.to_vec();
        value.extend_from_slice(&address_bytes(sender));
        self.store.sealer.lookup("sender-key", &value)
    }

    /// The sender-key record of `sender` in `group`.
    pub async fn sender_key(
        &mut self,
        group: &GroupId,
        sender: &DeviceAddress,
    ) -> StoreResult<Option<SenderKeyRecord>> {
        let lookup = self.sender_key_lookup(group, sender);
        self.get_record(T_SENDER_KEYS, "lookup", &lookup)
            .await?
            .map(|b| SenderKeyRecord::from_bytes(&b).map_err(malformed(T_SENDER_KEYS)))
            .transpose()
    }

    /// Stores the sender-key record of `sender` in `group`.
    pub async fn set_sender_key(
        &mut self,
        group: &GroupId,
        sender: &DeviceAddress,
        record: &SenderKeyRecord,
    ) -> StoreResult<()> {
        let lookup = self.sender_key_lookup(group, sender);
        self.put_record(T_SENDER_KEYS, "lookup", &lookup, &record.to_bytes())
            .await
    }

    /// Deletes the sender-key record of `sender` in `group`; true if there was one.
    pub async fn delete_sender_key(
        &mut self,
        group: &GroupId,
        sender: &DeviceAddress,
    ) -> StoreResult<bool> {
        let lookup = self.sender_key_lookup(group, sender);
        self.delete_record(T_SENDER_KEYS, "lookup", &lookup).await
    }

    /// This device's own sender key in `group`.
    pub async fn own_sender_key(&mut self, group: &GroupId) -> StoreResult<Option<OwnSenderKey>> {
        let lookup = self.store.sealer.lookup("own-sender-key", &group.0);
        self.get_record(T_OWN_SENDER_KEYS, "lookup", &lookup)
            .await?
            .map(|b| OwnSenderKey::from_bytes(&b).map_err(malformed(T_OWN_SENDER_KEYS)))
            .transpose()
    }

    /// Stores this device's own sender key (its group is inside it).
    pub async fn set_own_sender_key(&mut self, key: &OwnSenderKey) -> StoreResult<()> {
        let lookup = self
            .store
            .sealer
            .lookup("own-sender-key", &key.group_id().0);
        self.put_record(T_OWN_SENDER_KEYS, "lookup", &lookup, &key.to_bytes())
            .await
    }

    /// Deletes this device's own sender key in `group`; true if there was one.
    pub async fn delete_own_sender_key(&mut self, group: &GroupId) -> StoreResult<bool> {
        let lookup = self.store.sealer.lookup("own-sender-key", &group.0);
        self.delete_record(T_OWN_SENDER_KEYS, "lookup", &lookup)
            .await
    }

    /// The devices this device's own sender key of `group` was distributed to (kept in the
    /// `own_sender_keys` table under its own lookup).
    pub async fn sender_key_shares(&mut self, group: &GroupId) -> StoreResult<Vec<SenderKeyShare>> {
        let lookup = self.store.sealer.lookup("own-sender-key-shares", &group.0);
        self.get_record(T_OWN_SENDER_KEYS, "lookup", &lookup)
            .await?
            .map(|b| records::decode_shares(&b).map_err(malformed(T_OWN_SENDER_KEYS)))
            .transpose()
            .map(Option::unwrap_or_default)
    }

    /// Replaces the list of devices this device's own sender key of `group` went to.
    pub async fn set_sender_key_shares(
        &mut self,
        group: &GroupId,
        shares: &[SenderKeyShare],
    ) -> StoreResult<()> {
        let lookup = self.store.sealer.lookup("own-sender-key-shares", &group.0);
        self.put_record(
            T_OWN_SENDER_KEYS,
            "lookup",
            &lookup,
            &records::encode_shares(shares),
        )
        .await
    }

    // ---- contacts -------------------------------------------------------------------------

    fn contact_lookup(&self, user: &str) -> [u8; 32] {
        self.store.sealer.lookup("contact", user.as_bytes())
    }

    /// The cached directory entry of `user`.
    pub async fn contact(&mut self, user: &str) -> StoreResult<Option<Contact>> {
        let lookup = self.contact_lookup(user);
        self.get_record(T_CONTACTS, "lookup", &lookup)
            .await?
            .map(|b| Contact::decode(&b).map_err(malformed(T_CONTACTS)))
            .transpose()
    }

    /// Stores (or replaces) a directory entry.
    pub async fn set_contact(&mut self, contact: &Contact) -> StoreResult<()> {
        let lookup = self.contact_lookup(&contact.user);
        self.put_record(T_CONTACTS, "lookup", &lookup, &contact.encode())
            .await
    }

    /// Deletes the entry of `user`; true if there was one.
    pub async fn delete_contact(&mut self, user: &str) -> StoreResult<bool> {
        let lookup = self.contact_lookup(user);
        self.delete_record(T_CONTACTS, "lookup", &lookup).await
    }

    /// Every cached directory entry (in no meaningful order).
    pub async fn contacts(&mut self) -> StoreResult<Vec<Contact>> {
        self.all_records(T_CONTACTS, "lookup")
            .await?
            .into_iter()
            .map(|(_, b)| Contact::decode(&b).map_err(malformed(T_CONTACTS)))
            .collect()
    }

    // ---- conversations --------------------------------------------------------------------

    /// A conversation.
    pub async fn conversation(&mut self, id: &ConversationId) -> StoreResult<Option<Conversation>> {
        self.get_record(T_CONVERSATIONS, "id", &id.0)
            .await?
            .map(|b| Conversation::decode(*id, &b).map_err(malformed(T_CONVERSATIONS)))
            .transpose()
    }

    /// Stores (or replaces) a conversation.
    pub async fn set_conversation(&mut self, conversation: &Conversation) -> StoreResult<()> {
        self.put_record(
            T_CONVERSATIONS,
            "id",
            &conversation.id.0,
            &conversation.encode(),
        )
        .await
    }

    /// Deletes a conversation with its messages and their attachments; true if it existed.
    pub async fn delete_conversation(&mut self, id: &ConversationId) -> StoreResult<bool> {
        sqlx::query(
            "DELETE FROM attachments WHERE message IN \
             (SELECT id FROM messages WHERE conversation = ?)",
        )
        .bind(&id.0[..])
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("DELETE FROM messages WHERE conversation = ?")
            .bind(&id.0[..])
            .execute(&mut *self.tx)
            .await?;
        self.delete_record(T_CONVERSATIONS, "id", &id.0).await
    }

    /// Every conversation (in no meaningful order).
    pub async fn conversations(&mut self) -> StoreResult<Vec<Conversation>> {
        self.all_records(T_CONVERSATIONS, "id")
            .await?
            .into_iter()
            .map(|(id, b)| {
                let id = ConversationId(array(T_CONVERSATIONS, &id)?);
                Conversation::decode(id, &b).map_err(malformed(T_CONVERSATIONS))
            })
            .collect()
    }

    // ---- messages -------------------------------------------------------------------------

    /// Stores (or replaces) a message.
    pub async fn put_message(&mut self, message: &Message) -> StoreResult<()> {
        let routing = Message::routing(&message.conversation, message.timestamp, message.outgoing);
        let sealed = self
            .store
            .sealer
            .seal(T_MESSAGES, &message.id.0, &routing, &message.encode());
        sqlx::query(
            "INSERT INTO messages (id, conversation, timestamp, outgoing, record) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET conversation = excluded.conversation, \
             timestamp = excluded.timestamp, outgoing = excluded.outgoing, \
             record = excluded.record",
        )
        .bind(&message.id.0[..])
        .bind(&message.conversation.0[..])
        .bind(to_i64(message.timestamp)?)
        .bind(i64::from(message.outgoing))
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    fn open_message(&self, row: MessageRow) -> StoreResult<Message> {
        let (id, conversation, timestamp, outgoing, sealed) = row;
        let id = MessageId(array(T_MESSAGES, &id)?);
        let conversation = ConversationId(array(T_MESSAGES, &conversation)?);
        let timestamp = to_u64(timestamp)?;
        let outgoing = match outgoing {
            0 => false,
            1 => true,
            _ => return Err(StoreError::Malformed { table: T_MESSAGES }),
        };
        let routing = Message::routing(&conversation, timestamp, outgoing);
        let plain = self
            .store
            .sealer
            .open(T_MESSAGES, &id.0, &routing, &sealed)?;
        Message::decode(id, conversation, timestamp, outgoing, &plain)
            .map_err(malformed(T_MESSAGES))
    }

    /// A message.
    pub async fn message(&mut self, id: &MessageId) -> StoreResult<Option<Message>> {
        let row: Option<MessageRow> = sqlx::query_as(
            "SELECT id, conversation, timestamp, outgoing, record FROM messages WHERE id = ?",
        )
        .bind(&id.0[..])
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(|r| self.open_message(r)).transpose()
    }

    /// Up to `limit` messages of a conversation with a timestamp before `before` (all if
    /// `None`): the latest ones, returned oldest first.
    pub async fn messages(
        &mut self,
        conversation: &ConversationId,
        before: Option<u64>,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let before = match before {
            Some(t) => to_i64(t)?,
            None => i64::MAX,
        };
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT id, conversation, timestamp, outgoing, record FROM messages \
             WHERE conversation = ? AND timestamp < ? \
             ORDER BY timestamp DESC, id DESC LIMIT ?",
        )
        .bind(&conversation.0[..])
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        let mut out = rows
            .into_iter()
            .map(|r| self.open_message(r))
            .collect::<StoreResult<Vec<_>>>()?;
        out.reverse();
        Ok(out)
    }

    /// Changes the status of a message; false if there is no such message.
    pub async fn set_message_status(
        &mut self,
        id: &MessageId,
        status: MessageStatus,
    ) -> StoreResult<bool> {
        match self.message(id).await? {
            Some(mut m) => {
                m.status = status;
                self.put_message(&m).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Deletes a message and its attachments' metadata; true if it existed.
    pub async fn delete_message(&mut self, id: &MessageId) -> StoreResult<bool> {
        sqlx::query("DELETE FROM attachments WHERE message = ?")
            .bind(&id.0[..])
            .execute(&mut *self.tx)
            .await?;
        self.delete_record(T_MESSAGES, "id", &id.0).await
    }

    // ---- outbox ---------------------------------------------------------------------------

    /// Stores (or replaces, e.g. after a failed attempt) an outbox item.
    pub async fn put_outbox(&mut self, item: &OutboxItem) -> StoreResult<()> {
        let routing = OutboxItem::routing(item.next_attempt);
        let sealed = self
            .store
            .sealer
            .seal(T_OUTBOX, &item.id.0, &routing, &item.encode());
        sqlx::query(
            "INSERT INTO outbox (id, next_attempt, record) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET next_attempt = excluded.next_attempt, \
             record = excluded.record",
        )
        .bind(&item.id.0[..])
        .bind(to_i64(item.next_attempt)?)
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    fn open_outbox(&self, row: (Vec<u8>, i64, Vec<u8>)) -> StoreResult<OutboxItem> {
        let (id, next_attempt, sealed) = row;
        let id = OutboxId(array(T_OUTBOX, &id)?);
        let next_attempt = to_u64(next_attempt)?;
        let plain =
            self.store
                .sealer
                .open(T_OUTBOX, &id.0, &OutboxItem::routing(next_attempt), &sealed)?;
        OutboxItem::decode(id, next_attempt, &plain).map_err(malformed(T_OUTBOX))
    }

    /// An outbox item.
    pub async fn outbox_item(&mut self, id: &OutboxId) -> StoreResult<Option<OutboxItem>> {
        let row: Option<(Vec<u8>, i64, Vec<u8>)> =
            sqlx::query_as("SELECT id, next_attempt, record FROM outbox WHERE id = ?")
                .bind(&id.0[..])
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(|r| self.open_outbox(r)).transpose()
    }

    /// Up to `limit` items due at `now`, earliest first.
    pub async fn due_outbox(&mut self, now: u64, limit: u32) -> StoreResult<Vec<OutboxItem>> {
        let rows: Vec<(Vec<u8>, i64, Vec<u8>)> = sqlx::query_as(
            "SELECT id, next_attempt, record FROM outbox WHERE next_attempt <= ? \
             ORDER BY next_attempt, id LIMIT ?",
        )
        .bind(to_i64(now)?)
        .bind(i64::from(limit))
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(|r| self.open_outbox(r)).collect()
    }

    /// Removes an outbox item (sent, or given up); true if it existed.
    pub async fn remove_outbox(&mut self, id: &OutboxId) -> StoreResult<bool> {
        self.delete_record(T_OUTBOX, "id", &id.0).await
    }

    // ---- attachments ----------------------------------------------------------------------

    /// Stores (or replaces) an attachment's metadata.
    pub async fn put_attachment(&mut self, attachment: &Attachment) -> StoreResult<()> {
        let sealed = self.store.sealer.seal(
            T_ATTACHMENTS,
            &attachment.id.0,
            &attachment.message.0,
            &attachment.encode(),
        );
        sqlx::query(
            "INSERT INTO attachments (id, message, record) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET message = excluded.message, \
             record = excluded.record",
        )
        .bind(&attachment.id.0[..])
        .bind(&attachment.message.0[..])
        .bind(sealed)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    fn open_attachment(&self, row: (Vec<u8>, Vec<u8>, Vec<u8>)) -> StoreResult<Attachment> {
        let (id, message, sealed) = row;
        let id = AttachmentId(array(T_ATTACHMENTS, &id)?);
        let message = MessageId(array(T_ATTACHMENTS, &message)?);
        let plain = self
            .store
            .sealer
            .open(T_ATTACHMENTS, &id.0, &message.0, &sealed)?;
        Attachment::decode(id, message, &plain).map_err(malformed(T_ATTACHMENTS))
    }

    /// An attachment's metadata.
    pub async fn attachment(&mut self, id: &AttachmentId) -> StoreResult<Option<Attachment>> {
        let row: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> =
            sqlx::query_as("SELECT id, message, record FROM attachments WHERE id = ?")
                .bind(&id.0[..])
                .fetch_optional(&mut *self.tx)
                .await?;
        row.map(|r| self.open_attachment(r)).transpose()
    }

    /// The attachments of a message.
    pub async fn attachments_of(&mut self, message: &MessageId) -> StoreResult<Vec<Attachment>> {
        let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT id, message, record FROM attachments WHERE message = ? ORDER BY id",
        )
        .bind(&message.0[..])
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(|r| self.open_attachment(r)).collect()
    }

    /// Deletes an attachment's metadata; true if it existed.
    pub async fn delete_attachment(&mut self, id: &AttachmentId) -> StoreResult<bool> {
        self.delete_record(T_ATTACHMENTS, "id", &id.0).await
    }
}

type MessageRow = (Vec<u8>, Vec<u8>, i64, i64, Vec<u8>);
