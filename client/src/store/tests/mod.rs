//! Tests of the encrypted store: round trips of every accessor, tamper and move detection,
//! wrong keys and remote secrets, key-file permissions, wipe, a scan of the files for
//! plaintext, and transactional rollback.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code on values it constructs"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use parley_crypto::DeviceAddress;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::os_rng;
use parley_crypto::prekeys::PreKeyStore;
use parley_crypto::session_record::SessionRecord;
use tempfile::TempDir;
use zeroize::Zeroizing;

use super::*;

mod disk;
mod keys;
mod records;
mod tamper;

const MARKER: &str = "MARKER-b7e1c0de-do-not-leak";

/// An account directory and a key directory beside it (not inside it).
struct Dirs {
    _root: TempDir,
    home: PathBuf,
    keys: PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("account");
    let keys = root.path().join("keys");
    Dirs {
        home,
        keys,
        _root: root,
    }
}

impl Dirs {
    fn source(&self) -> KeySource {
        KeySource::key_file_in(&self.keys)
    }

    async fn create(&self) -> Store {
        Store::create(&self.home, self.source(), None)
            .await
            .unwrap()
    }

    async fn open(&self) -> StoreResult<Store> {
        Store::open(&self.home, self.source(), None).await
    }

    fn key_file(&self, store: &Store) -> PathBuf {
        self.source().key_file_path(&store.store_id()).unwrap()
    }
}

fn addr(user: &str, device: u32) -> DeviceAddress {
    DeviceAddress::new(user, device).unwrap()
}

fn account() -> Account {
    Account {
        user: "alice".into(),
        device: 3,
        credentials_secret: Zeroizing::new(vec![0x5a; 32]),
        registration_id: 1234,
        relay_url: "https://relay.example:8787".into(),
        tls_pins: Some(parley_proto::invite::TlsPins::new([7; 32])),
        org_genesis_hash: [9; 32],
    }
}

fn contact(user: &str) -> Contact {
    let identity = IdentityKeyPair::generate(&mut os_rng());
    Contact {
        user: user.into(),
        display_name: format!("Bob {MARKER}"),
        email: "bob@example.com".into(),
        title: "Engineer".into(),
        department: "R&D".into(),
        devices: vec![ContactDevice {
            device: 1,
            registration_id: 77,
            identity: *identity.public(),
        }],
        updated_at: 1_700_000_000,
    }
}

fn message(conversation: ConversationId, timestamp: u64, body: &str) -> Message {
    Message {
        id: MessageId::generate(),
        conversation,
        outgoing: timestamp.is_multiple_of(2),
        timestamp,
        sender: addr("bob", 1),
        sent_at: timestamp - 1,
        body: body.as_bytes().to_vec(),
        status: MessageStatus::Received,
        expires_at: None,
    }
}

/// A real session: Alice's record after initiating with Bob's bundle.
fn session() -> SessionRecord {
    let bob = IdentityKeyPair::generate(&mut os_rng());
    let bob_prekeys = PreKeyStore::new(&bob, 1, &mut os_rng());
    let bundle = bob_prekeys.bundle(bob.public()).unwrap();
    let alice = IdentityKeyPair::generate(&mut os_rng());
    let mut record = SessionRecord::new();
    record
        .initiate(
            &addr("alice", 1),
            &addr("bob", 1),
            &alice,
            &bundle,
            &mut os_rng(),
        )
        .unwrap();
    record
}

async fn set_raw(store: &Store, sql: &str, a: Vec<u8>, b: Vec<u8>) {
    sqlx::query(sql)
        .bind(a)
        .bind(b)
        .execute(&store.pool)
        .await
        .unwrap();
}

async fn raw_record(store: &Store, table: &str, key_column: &str, key: &[u8]) -> Vec<u8> {
    sqlx::query_scalar(&format!(
        "SELECT record FROM {table} WHERE {key_column} = ?"
    ))
    .bind(key)
    .fetch_one(&store.pool)
    .await
    .unwrap()
}

async fn raw_singleton(store: &Store, name: &str) -> Vec<u8> {
    sqlx::query_scalar("SELECT record FROM singletons WHERE name = ?")
        .bind(name)
        .fetch_one(&store.pool)
        .await
        .unwrap()
}

fn write_0600(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
