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
use std::sync::Arc;

use parley_crypto::DeviceAddress;
use parley_crypto::attachment::AttachmentKey;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::os_rng;
use parley_crypto::prekeys::PreKeyStore;
use parley_crypto::sender_key::{GroupId, OwnSenderKey, SenderKeyRecord};
use parley_crypto::session_record::SessionRecord;
use tempfile::TempDir;
use zeroize::Zeroizing;

use super::*;

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
        relay_cert_fingerprint: Some([7; 32]),
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

#[tokio::test]
async fn singletons_round_trip_and_survive_reopen() {
    let d = dirs();
    let store = d.create().await;
    let identity = IdentityKeyPair::generate(&mut os_rng());
    let prekeys = PreKeyStore::new(&identity, 100, &mut os_rng());
    let mut tx = store.begin().await.unwrap();
    assert!(tx.account().await.unwrap().is_none());
    assert!(tx.identity().await.unwrap().is_none());
    assert!(tx.prekeys().await.unwrap().is_none());
    tx.set_account(&account()).await.unwrap();
    tx.set_identity(&identity).await.unwrap();
    tx.set_prekeys(&prekeys).await.unwrap();
    tx.commit().await.unwrap();
    store.close().await;

    let store = d.open().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.account().await.unwrap().unwrap(), account());
    assert_eq!(
        *tx.identity().await.unwrap().unwrap().to_bytes(),
        *identity.to_bytes()
    );
    assert_eq!(
        *tx.prekeys().await.unwrap().unwrap().to_bytes(),
        *prekeys.to_bytes()
    );
    // Replacing works too.
    let mut changed = account();
    changed.relay_cert_fingerprint = None;
    tx.set_account(&changed).await.unwrap();
    assert_eq!(tx.account().await.unwrap().unwrap(), changed);
}

#[tokio::test]
async fn sessions_and_sender_keys_round_trip() {
    let d = dirs();
    let store = d.create().await;
    let bob1 = addr("bob", 1);
    let bob2 = addr("bob", 2);
    let record = session();
    let group = GroupId::generate(&mut os_rng());
    let own = OwnSenderKey::new(group, &mut os_rng());
    let mut received = SenderKeyRecord::new();
    let theirs = OwnSenderKey::new(group, &mut os_rng());
    received.process_distribution(&theirs.distribution_message());

    let mut tx = store.begin().await.unwrap();
    tx.set_session(&bob1, &record).await.unwrap();
    tx.set_sender_key(&group, &bob1, &received).await.unwrap();
    tx.set_own_sender_key(&own).await.unwrap();
    assert_eq!(
        *tx.session(&bob1).await.unwrap().unwrap().to_bytes(),
        *record.to_bytes()
    );
    assert!(tx.session(&bob2).await.unwrap().is_none());
    assert_eq!(
        *tx.sender_key(&group, &bob1)
            .await
            .unwrap()
            .unwrap()
            .to_bytes(),
        *received.to_bytes()
    );
    assert!(tx.sender_key(&group, &bob2).await.unwrap().is_none());
    let other_group = GroupId::generate(&mut os_rng());
    assert!(tx.sender_key(&other_group, &bob1).await.unwrap().is_none());
    assert_eq!(
        *tx.own_sender_key(&group).await.unwrap().unwrap().to_bytes(),
        *own.to_bytes()
    );
    assert!(tx.own_sender_key(&other_group).await.unwrap().is_none());

    assert!(tx.delete_session(&bob1).await.unwrap());
    assert!(!tx.delete_session(&bob1).await.unwrap());
    assert!(tx.session(&bob1).await.unwrap().is_none());
    assert!(tx.delete_sender_key(&group, &bob1).await.unwrap());
    assert!(tx.delete_own_sender_key(&group).await.unwrap());
    assert!(tx.own_sender_key(&group).await.unwrap().is_none());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn contacts_and_conversations_round_trip() {
    let d = dirs();
    let store = d.create().await;
    let bob = contact("bob");
    let carol = contact("carol");
    let group = GroupId::generate(&mut os_rng());
    let direct = Conversation {
        id: store.direct_conversation_id("bob"),
        kind: ConversationKind::Direct { peer: "bob".into() },
        title: String::new(),
        created_at: 10,
        last_read: 0,
    };
    let team = Conversation {
        id: store.group_conversation_id(&group),
        kind: ConversationKind::Group {
            group,
            members: vec!["alice".into(), "bob".into(), "carol".into()],
        },
        title: "Team".into(),
        created_at: 11,
        last_read: 5,
    };
    assert_ne!(direct.id, store.direct_conversation_id("carol"));

    let mut tx = store.begin().await.unwrap();
    tx.set_contact(&bob).await.unwrap();
    tx.set_contact(&carol).await.unwrap();
    tx.set_conversation(&direct).await.unwrap();
    tx.set_conversation(&team).await.unwrap();
    assert_eq!(tx.contact("bob").await.unwrap().unwrap(), bob);
    assert!(tx.contact("dave").await.unwrap().is_none());
    let mut all = tx.contacts().await.unwrap();
    all.sort_by(|a, b| a.user.cmp(&b.user));
    assert_eq!(all, vec![bob.clone(), carol]);
    assert_eq!(tx.conversation(&direct.id).await.unwrap().unwrap(), direct);
    assert_eq!(tx.conversation(&team.id).await.unwrap().unwrap(), team);
    assert_eq!(tx.conversations().await.unwrap().len(), 2);
    assert!(tx.delete_contact("bob").await.unwrap());
    assert!(tx.contact("bob").await.unwrap().is_none());
    assert!(tx.delete_conversation(&team.id).await.unwrap());
    assert_eq!(tx.conversations().await.unwrap(), vec![direct]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn messages_page_in_order_and_change_status() {
    let d = dirs();
    let store = d.create().await;
    let conv = store.direct_conversation_id("bob");
    let other = store.direct_conversation_id("carol");
    let msgs: Vec<Message> = (1..=5)
        .map(|t| message(conv, t * 10, &format!("m{t}")))
        .collect();
    let mut tx = store.begin().await.unwrap();
    for m in msgs.iter().rev() {
        tx.put_message(m).await.unwrap();
    }
    tx.put_message(&message(other, 25, "elsewhere"))
        .await
        .unwrap();
    assert_eq!(tx.message(&msgs[2].id).await.unwrap().unwrap(), msgs[2]);
    assert!(tx.message(&MessageId::generate()).await.unwrap().is_none());
    assert_eq!(tx.messages(&conv, None, 100).await.unwrap(), msgs);
    assert_eq!(tx.messages(&conv, None, 2).await.unwrap(), msgs[3..]);
    assert_eq!(tx.messages(&conv, Some(40), 2).await.unwrap(), msgs[1..3]);
    assert!(
        tx.set_message_status(&msgs[0].id, MessageStatus::Seen)
            .await
            .unwrap()
    );
    assert_eq!(
        tx.message(&msgs[0].id).await.unwrap().unwrap().status,
        MessageStatus::Seen
    );
    assert!(
        !tx.set_message_status(&MessageId::generate(), MessageStatus::Seen)
            .await
            .unwrap()
    );
    assert!(tx.delete_message(&msgs[0].id).await.unwrap());
    assert_eq!(tx.messages(&conv, None, 100).await.unwrap(), msgs[1..]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn outbox_and_attachments_round_trip() {
    let d = dirs();
    let store = d.create().await;
    let conv = store.direct_conversation_id("bob");
    let m = message(conv, 100, "with a file");
    let item = |next_attempt| OutboxItem {
        id: OutboxId::generate(),
        conversation: conv,
        message: Some(m.id),
        recipients: vec!["bob".into()],
        payload: b"payload".to_vec(),
        attempts: 0,
        next_attempt,
        created_at: 90,
    };
    let (early, late) = (item(100), item(200));
    let receipt = OutboxItem {
        message: None,
        ..item(150)
    };
    let key = AttachmentKey::generate(&mut os_rng());
    let key_bytes = *key.to_bytes();
    let attachment = Attachment {
        id: AttachmentId::generate(),
        message: m.id,
        relay_id: "att-1".into(),
        key,
        digest: [3; 32],
        size: 12345,
        content_type: "image/png".into(),
        file_name: "q3.png".into(),
        local_path: Some("/tmp/q3.png".into()),
    };

    let mut tx = store.begin().await.unwrap();
    tx.put_message(&m).await.unwrap();
    for i in [&late, &early, &receipt] {
        tx.put_outbox(i).await.unwrap();
    }
    assert_eq!(tx.due_outbox(99, 10).await.unwrap(), vec![]);
    assert_eq!(
        tx.due_outbox(150, 10).await.unwrap(),
        vec![early.clone(), receipt.clone()]
    );
    assert_eq!(tx.due_outbox(1000, 1).await.unwrap(), vec![early.clone()]);
    // A failed attempt reschedules the item.
    let retried = OutboxItem {
        attempts: 1,
        next_attempt: 300,
        ..early.clone()
    };
    tx.put_outbox(&retried).await.unwrap();
    assert_eq!(tx.outbox_item(&early.id).await.unwrap().unwrap(), retried);
    assert_eq!(tx.due_outbox(250, 10).await.unwrap(), vec![receipt, late]);
    assert!(tx.remove_outbox(&early.id).await.unwrap());
    assert!(tx.outbox_item(&early.id).await.unwrap().is_none());

    tx.put_attachment(&attachment).await.unwrap();
    let got = tx.attachment(&attachment.id).await.unwrap().unwrap();
    assert_eq!(*got.key.to_bytes(), key_bytes);
    assert_eq!(
        (got.id, got.message, &got.relay_id, got.digest, got.size),
        (
            attachment.id,
            m.id,
            &attachment.relay_id,
            attachment.digest,
            12345
        )
    );
    assert_eq!(
        (&got.content_type, &got.file_name, &got.local_path),
        (
            &attachment.content_type,
            &attachment.file_name,
            &attachment.local_path
        )
    );
    assert_eq!(tx.attachments_of(&m.id).await.unwrap().len(), 1);
    // Deleting the message deletes its attachments.
    assert!(tx.delete_message(&m.id).await.unwrap());
    assert!(tx.attachment(&attachment.id).await.unwrap().is_none());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_flipped_byte_is_a_typed_error() {
    let d = dirs();
    let store = d.create().await;
    let conv = store.direct_conversation_id("bob");
    let m = message(conv, 10, "hello");
    let mut tx = store.begin().await.unwrap();
    tx.put_message(&m).await.unwrap();
    tx.set_account(&account()).await.unwrap();
    tx.commit().await.unwrap();

    let sealed = raw_record(&store, "messages", "id", &m.id.0).await;
    for i in [0, 1, 20, 40, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        set_raw(
            &store,
            "UPDATE messages SET record = ? WHERE id = ?",
            bad,
            m.id.0.to_vec(),
        )
        .await;
        let mut tx = store.begin().await.unwrap();
        assert!(matches!(
            tx.message(&m.id).await,
            Err(StoreError::Tampered { table: "messages" })
        ));
    }
    let sealed = raw_singleton(&store, "account").await;
    let mut bad = sealed.clone();
    bad[50] ^= 0x80;
    sqlx::query("UPDATE singletons SET record = ? WHERE name = 'account'")
        .bind(bad)
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.account().await,
        Err(StoreError::Tampered {
            table: "singletons"
        })
    ));
}

#[tokio::test]
async fn a_record_moved_to_another_row_or_table_fails() {
    let d = dirs();
    let store = d.create().await;
    let conv = store.direct_conversation_id("bob");
    let other = store.direct_conversation_id("carol");
    let (a, b) = (message(conv, 10, "first"), message(conv, 20, "second"));
    let bob1 = addr("bob", 1);
    let bob2 = addr("bob", 2);
    let mut tx = store.begin().await.unwrap();
    tx.put_message(&a).await.unwrap();
    tx.put_message(&b).await.unwrap();
    tx.set_session(&bob1, &session()).await.unwrap();
    tx.set_session(&bob2, &session()).await.unwrap();
    tx.set_contact(&contact("bob")).await.unwrap();
    tx.set_identity(&IdentityKeyPair::generate(&mut os_rng()))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Message a's ciphertext copied over message b's row.
    let sealed_a = raw_record(&store, "messages", "id", &a.id.0).await;
    set_raw(
        &store,
        "UPDATE messages SET record = ? WHERE id = ?",
        sealed_a.clone(),
        b.id.0.to_vec(),
    )
    .await;
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.message(&b.id).await,
        Err(StoreError::Tampered { .. })
    ));
    drop(tx);

    // Message a moved to another conversation, or to another time: its routing columns are
    // bound into the associated data.
    set_raw(
        &store,
        "UPDATE messages SET conversation = ? WHERE id = ?",
        other.0.to_vec(),
        a.id.0.to_vec(),
    )
    .await;
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.message(&a.id).await,
        Err(StoreError::Tampered { .. })
    ));
    drop(tx);
    set_raw(
        &store,
        "UPDATE messages SET conversation = ? WHERE id = ?",
        conv.0.to_vec(),
        a.id.0.to_vec(),
    )
    .await;
    sqlx::query("UPDATE messages SET timestamp = 11 WHERE id = ?")
        .bind(&a.id.0[..])
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.message(&a.id).await,
        Err(StoreError::Tampered { .. })
    ));
    drop(tx);

    // bob.1's session swapped into bob.2's row.
    let tx = store.begin().await.unwrap();
    let lookup1 = tx.session_lookup(&bob1);
    let lookup2 = tx.session_lookup(&bob2);
    let contact_lookup = tx.contact_lookup("bob");
    drop(tx);
    let s1 = raw_record(&store, "sessions", "lookup", &lookup1).await;
    set_raw(
        &store,
        "UPDATE sessions SET record = ? WHERE lookup = ?",
        s1.clone(),
        lookup2.to_vec(),
    )
    .await;
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.session(&bob2).await,
        Err(StoreError::Tampered { table: "sessions" })
    ));
    drop(tx);

    // A session record moved into the contacts table under the same key bytes.
    sqlx::query("UPDATE contacts SET lookup = ?, record = ? WHERE lookup = ?")
        .bind(&lookup1[..])
        .bind(&s1)
        .bind(&contact_lookup[..])
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.contacts().await,
        Err(StoreError::Tampered { table: "contacts" })
    ));
    drop(tx);

    // The identity record copied under the name of the prekey store.
    let identity = raw_singleton(&store, "identity").await;
    sqlx::query("INSERT INTO singletons (name, record) VALUES ('prekeys', ?)")
        .bind(identity)
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.prekeys().await,
        Err(StoreError::Tampered { .. })
    ));
}

#[tokio::test]
async fn the_wrong_key_does_not_open_the_store() {
    let d = dirs();
    let store = d.create().await;
    let key_file = d.key_file(&store);
    store.close().await;

    // A different key under the same name.
    let original = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let mut other = original.clone();
    other[0] ^= 1;
    write_0600(&key_file, &other);
    assert!(matches!(d.open().await, Err(StoreError::WrongKey)));

    // The key from another key source (an empty keystore) is missing.
    let keystore = KeySource::Keystore(Arc::new(MemoryKeystore::new()));
    assert!(matches!(
        Store::open(&d.home, keystore, None).await,
        Err(StoreError::KeyMissing)
    ));

    // The right key again opens it.
    std::fs::remove_file(&key_file).unwrap();
    write_0600(&key_file, &original);
    d.open().await.unwrap();
}

fn write_0600(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[tokio::test]
async fn the_remote_secret_is_part_of_the_key() {
    let d = dirs();
    let secret = [0x42u8; 32];
    let store = Store::create(&d.home, d.source(), Some(&secret))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.set_account(&account()).await.unwrap();
    tx.commit().await.unwrap();
    store.close().await;

    let mut wrong = secret;
    wrong[31] ^= 1;
    for attempt in [Some(&wrong[..]), Some(&[][..]), None] {
        assert!(matches!(
            Store::open(&d.home, d.source(), attempt).await,
            Err(StoreError::WrongKey)
        ));
    }
    let store = Store::open(&d.home, d.source(), Some(&secret))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.account().await.unwrap().unwrap(), account());

    // And a store made without a remote secret does not open with one.
    let e = dirs();
    e.create().await.close().await;
    assert!(matches!(
        Store::open(&e.home, e.source(), Some(&secret)).await,
        Err(StoreError::WrongKey)
    ));
}

#[tokio::test]
async fn key_files_are_0600_outside_the_account_and_refused_when_wider() {
    let d = dirs();
    let store = d.create().await;
    let key_file = d.key_file(&store);
    assert!(!key_file.starts_with(&d.home));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&key_file), 0o600);
    assert_eq!(mode(&d.keys), 0o700);
    assert_eq!(mode(&d.home), 0o700);
    assert_eq!(mode(&Store::database_path(&d.home)), 0o600);
    assert_eq!(std::fs::read(&key_file).unwrap().len(), key::KEY_LEN);
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(&d.keys).unwrap().count(), 1);
    store.close().await;

    for wider in [0o640, 0o604, 0o660, 0o644] {
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(wider)).unwrap();
        assert!(matches!(
            d.open().await,
            Err(StoreError::KeyFilePermissions)
        ));
    }
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o400)).unwrap();
    d.open().await.unwrap().close().await;

    // A symlink in place of the key file is refused, not followed.
    let elsewhere = d.keys.join("elsewhere");
    std::fs::rename(&key_file, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &key_file).unwrap();
    assert!(matches!(d.open().await, Err(StoreError::KeyFileNotRegular)));
    std::fs::remove_file(&key_file).unwrap();
    assert!(matches!(d.open().await, Err(StoreError::KeyMissing)));

    // A key file of the wrong length is refused.
    write_0600(&key_file, &[1u8; 31]);
    assert!(matches!(d.open().await, Err(StoreError::KeyFileMalformed)));
}

#[tokio::test]
async fn a_key_file_inside_the_account_directory_is_refused() {
    let d = dirs();
    let inside = KeySource::key_file_in(d.home.join("keys"));
    assert!(matches!(
        Store::create(&d.home, inside, None).await,
        Err(StoreError::KeyInsideAccountDir)
    ));
    // Nothing was left behind: a store can still be created there.
    assert!(!Store::database_path(&d.home).exists());
    assert!(!d.home.join("keys").exists());
    d.create().await;
    // The account directory itself as key directory is refused too.
    let e = dirs();
    let home_itself = KeySource::key_file_in(&e.home);
    assert!(matches!(
        Store::create(&e.home, home_itself, None).await,
        Err(StoreError::KeyInsideAccountDir)
    ));
}

#[tokio::test]
async fn create_refuses_an_existing_store_and_open_a_missing_one() {
    let d = dirs();
    assert!(matches!(d.open().await, Err(StoreError::NotFound)));
    d.create().await.close().await;
    assert!(matches!(
        Store::create(&d.home, d.source(), None).await,
        Err(StoreError::AlreadyExists)
    ));
    d.open().await.unwrap();
}

#[test]
fn default_key_dir_follows_xdg_data_home_then_home() {
    let os = |s: &str| Some(std::ffi::OsString::from(s));
    assert_eq!(
        key::key_dir_from(os("/x/data"), os("/home/a")).unwrap(),
        Path::new("/x/data/parley/keys")
    );
    // A relative XDG_DATA_HOME is ignored, as the XDG spec says.
    assert_eq!(
        key::key_dir_from(os("rel"), os("/home/a")).unwrap(),
        Path::new("/home/a/.local/share/parley/keys")
    );
    assert_eq!(
        key::key_dir_from(None, os("/home/a")).unwrap(),
        Path::new("/home/a/.local/share/parley/keys")
    );
    assert!(matches!(
        key::key_dir_from(None, None),
        Err(StoreError::NoKeyDir)
    ));
    assert!(matches!(
        key::key_dir_from(os(""), os("rel")),
        Err(StoreError::NoKeyDir)
    ));
}

#[tokio::test]
async fn keystore_source_round_trip() {
    let d = dirs();
    let keystore = Arc::new(MemoryKeystore::new());
    let source = KeySource::Keystore(keystore.clone());
    let store = Store::create(&d.home, source.clone(), None).await.unwrap();
    let id = store.store_id();
    store.close().await;
    assert!(keystore.load(&id.hex()).unwrap().is_some());
    let store = Store::open(&d.home, source.clone(), None).await.unwrap();
    // The key file source knows nothing of it.
    assert!(matches!(d.open().await, Err(StoreError::KeyMissing)));
    store.wipe().await.unwrap();
    assert!(keystore.load(&id.hex()).unwrap().is_none());
}

fn copy_database(home: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for f in database_files(home) {
        if f.exists() {
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
}

#[tokio::test]
async fn wipe_destroys_the_key_so_an_old_copy_cannot_be_opened() {
    let d = dirs();
    let store = d.create().await;
    let conv = store.direct_conversation_id("bob");
    let mut tx = store.begin().await.unwrap();
    tx.put_message(&message(conv, 1, MARKER)).await.unwrap();
    tx.commit().await.unwrap();
    let key_file = d.key_file(&store);
    // The attacker's copy, taken before the wipe (while the store is open: with its WAL).
    let copy = d._root.path().join("copy");
    copy_database(&d.home, &copy);
    store.wipe().await.unwrap();

    assert!(!key_file.exists());
    assert_eq!(std::fs::read_dir(&d.keys).unwrap().count(), 0);
    for f in database_files(&d.home) {
        assert!(!f.exists());
    }
    // The copy opens with nothing that is left on disk.
    assert!(matches!(
        Store::open(&copy, d.source(), None).await,
        Err(StoreError::KeyMissing)
    ));
    assert!(matches!(
        Store::open(&copy, KeySource::key_file_in(&copy), None).await,
        Err(StoreError::KeyMissing | StoreError::KeyInsideAccountDir)
    ));
    // Wiping again finds nothing.
    assert!(matches!(
        Store::wipe_at(&d.home, &d.source()).await,
        Err(StoreError::NotFound)
    ));
}

#[tokio::test]
async fn wipe_at_works_without_the_remote_secret() {
    let d = dirs();
    let store = Store::create(&d.home, d.source(), Some(b"remote"))
        .await
        .unwrap();
    let key_file = d.key_file(&store);
    store.close().await;
    // The relay deleted the remote secret: the store cannot be opened, but can be wiped.
    assert!(matches!(d.open().await, Err(StoreError::WrongKey)));
    Store::wipe_at(&d.home, &d.source()).await.unwrap();
    assert!(!key_file.exists());
    assert!(!Store::database_path(&d.home).exists());
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_files_hold_no_marker_and_no_key_bytes() {
    let d = dirs();
    let store = d.create().await;
    let identity = IdentityKeyPair::generate(&mut os_rng());
    let marker_user = format!("user-{MARKER}");
    let conv = store.direct_conversation_id(&marker_user);
    let mut tx = store.begin().await.unwrap();
    let mut acct = account();
    acct.user = marker_user.clone();
    tx.set_account(&acct).await.unwrap();
    tx.set_identity(&identity).await.unwrap();
    tx.set_contact(&contact(&marker_user)).await.unwrap();
    tx.set_conversation(&Conversation {
        id: conv,
        kind: ConversationKind::Direct {
            peer: marker_user.clone(),
        },
        title: MARKER.into(),
        created_at: 1,
        last_read: 1,
    })
    .await
    .unwrap();
    for t in 0..50 {
        let mut m = message(conv, t + 1, &format!("{MARKER} number {t}"));
        m.sender = addr(&marker_user, 1);
        tx.put_message(&m).await.unwrap();
    }
    tx.put_outbox(&OutboxItem {
        id: OutboxId::generate(),
        conversation: conv,
        message: None,
        recipients: vec![marker_user.clone()],
        payload: MARKER.as_bytes().to_vec(),
        attempts: 0,
        next_attempt: 1,
        created_at: 1,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    // Scan while open (the WAL holds the recent pages) and again after closing.
    let local = std::fs::read(d.key_file(&store)).unwrap();
    let local: [u8; 32] = local.try_into().unwrap();
    let store_key = key::store_key(&local, None, &store.store_id());
    let secrets: Vec<Vec<u8>> = vec![
        MARKER.as_bytes().to_vec(),
        b"do-not-leak".to_vec(),
        local.to_vec(),
        store_key.to_vec(),
        store.sealer.lookup("x", b"y").to_vec(),
        acct.credentials_secret.to_vec(),
    ];
    let identity_bytes = identity.to_bytes();
    let store_id = store.store_id();
    let scan = |label: &str| {
        let mut all = Vec::new();
        for f in database_files(&d.home) {
            let Ok(bytes) = std::fs::read(&f) else {
                continue;
            };
            all.extend_from_slice(&bytes);
            for s in &secrets {
                assert!(!contains(&bytes, s), "{label}: a secret is in {f:?}");
            }
            // No 16-byte window of the identity key pair's encoding.
            for w in identity_bytes.windows(16).step_by(8) {
                assert!(!contains(&bytes, w), "{label}: identity bytes in {f:?}");
            }
        }
        // Positive control: the scan does see the plaintext columns (the store id and the
        // conversation id), so the absences above mean something.
        assert!(contains(&all, &store_id.0), "{label}: store id not seen");
        assert!(contains(&all, &conv.0), "{label}: conversation id not seen");
    };
    let secure_delete: i64 = sqlx::query_scalar("PRAGMA secure_delete")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(secure_delete, 1, "deleted rows are zeroed in the file");
    let wal = d.home.join(format!("{DATABASE_FILE}-wal"));
    assert!(
        std::fs::metadata(&wal).unwrap().len() > 0,
        "the WAL is scanned"
    );
    scan("open");
    store.close().await;
    scan("closed");
}

#[tokio::test]
async fn a_dropped_or_failed_transaction_leaves_nothing() {
    let d = dirs();
    let store = d.create().await;
    let conv = store.direct_conversation_id("bob");
    let bob1 = addr("bob", 1);
    let m = message(conv, 1, "never stored");

    // Dropped without commit.
    let mut tx = store.begin().await.unwrap();
    tx.set_session(&bob1, &session()).await.unwrap();
    tx.put_message(&m).await.unwrap();
    assert!(tx.message(&m.id).await.unwrap().is_some());
    drop(tx);

    // Explicit rollback.
    let mut tx = store.begin().await.unwrap();
    tx.set_account(&account()).await.unwrap();
    tx.rollback().await.unwrap();

    // A closure that fails after writing.
    #[derive(Debug)]
    enum Fail {
        Store(#[expect(dead_code, reason = "only printed")] StoreError),
        Decrypt,
    }
    impl From<StoreError> for Fail {
        fn from(e: StoreError) -> Self {
            Self::Store(e)
        }
    }
    let result: Result<(), Fail> = store
        .transaction(async |tx| {
            tx.set_session(&bob1, &session()).await?;
            tx.put_message(&m).await?;
            Err(Fail::Decrypt)
        })
        .await;
    assert!(matches!(result, Err(Fail::Decrypt)));

    let mut tx = store.begin().await.unwrap();
    assert!(tx.session(&bob1).await.unwrap().is_none());
    assert!(tx.message(&m.id).await.unwrap().is_none());
    assert!(tx.account().await.unwrap().is_none());
    drop(tx);

    // A closure that succeeds commits, and the result survives a reopen.
    let id = store
        .transaction(async |tx| {
            tx.set_session(&bob1, &session()).await?;
            tx.put_message(&m).await?;
            Ok::<_, StoreError>(m.id)
        })
        .await
        .unwrap();
    store.close().await;
    let store = d.open().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.session(&bob1).await.unwrap().is_some());
    assert_eq!(tx.message(&id).await.unwrap().unwrap(), m);
}

#[tokio::test]
async fn debug_prints_no_secrets() {
    let d = dirs();
    let store = d.create().await;
    let acct = account();
    let c = contact("bob");
    let conv = store.direct_conversation_id("bob");
    let m = message(conv, 1, MARKER);
    let key = AttachmentKey::generate(&mut os_rng());
    let key_hex = parley_proto::hex::encode(key.to_bytes());
    let att = Attachment {
        id: AttachmentId::generate(),
        message: m.id,
        relay_id: "relay-id".into(),
        key,
        digest: [0; 32],
        size: 1,
        content_type: "text/plain".into(),
        file_name: MARKER.into(),
        local_path: None,
    };
    assert_eq!(
        format!("{acct:?}"),
        "Account { device: 3, registration_id: 1234, .. }"
    );
    let printed = format!("{acct:?} {c:?} {m:?} {att:?} {store:?} {:?}", d.source());
    for secret in [
        "alice",
        "bob",
        "relay.example",
        MARKER,
        "Engineer",
        &key_hex[..16],
        "90, 90",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    assert!(!printed.contains(d.keys.to_str().unwrap()));
}

/// The engine's receive path against two real stores: Bob decrypts Alice's prekey message and
/// stores the new session, his consumed prekeys and the message in one transaction; after both
/// stores are closed and reopened, the stored states still talk to each other.
#[tokio::test]
async fn stored_crypto_state_keeps_working_after_reopening() {
    let (da, db) = (dirs(), dirs());
    let (alice_addr, bob_addr) = (addr("alice", 1), addr("bob", 1));
    let now = 1_700_000_000;

    let bob = db.create().await;
    let bob_identity = IdentityKeyPair::generate(&mut os_rng());
    let mut bob_prekeys = PreKeyStore::new(&bob_identity, now, &mut os_rng());
    let _ = bob_prekeys.generate_one_time(&bob_identity, 5, &mut os_rng());
    let bundle = bob_prekeys.bundle(bob_identity.public()).unwrap();
    let mut tx = bob.begin().await.unwrap();
    tx.set_identity(&bob_identity).await.unwrap();
    tx.set_prekeys(&bob_prekeys).await.unwrap();
    tx.commit().await.unwrap();
    let counts_before = bob_prekeys.one_time_counts();
    drop((bob_identity, bob_prekeys));

    let alice = da.create().await;
    let alice_identity = IdentityKeyPair::generate(&mut os_rng());
    let mut record = SessionRecord::new();
    record
        .initiate(
            &alice_addr,
            &bob_addr,
            &alice_identity,
            &bundle,
            &mut os_rng(),
        )
        .unwrap();
    let wire = record.encrypt(b"hello bob").unwrap().to_bytes();
    let mut tx = alice.begin().await.unwrap();
    tx.set_identity(&alice_identity).await.unwrap();
    tx.set_prekeys(&PreKeyStore::new(&alice_identity, now, &mut os_rng()))
        .await
        .unwrap();
    tx.set_session(&bob_addr, &record).await.unwrap();
    tx.commit().await.unwrap();
    drop(record);

    let conv = bob.direct_conversation_id("alice");
    let receive = async |store: &Store, from: &DeviceAddress, me: &DeviceAddress, wire: &[u8]| {
        store
            .transaction(async |tx| {
                let identity = tx.identity().await?.unwrap();
                let mut prekeys = tx.prekeys().await?.unwrap();
                let mut record = tx.session(from).await?.unwrap_or_default();
                let message = parley_crypto::message::SessionMessage::from_bytes(wire).unwrap();
                let local = parley_crypto::session_record::LocalDevice {
                    address: me,
                    identity: &identity,
                    prekeys: &mut prekeys,
                };
                let plain = record
                    .decrypt(local, from, &message, |_| true, now, &mut os_rng())
                    .unwrap()
                    .plaintext;
                tx.set_session(from, &record).await?;
                tx.set_prekeys(&prekeys).await?;
                tx.put_message(&Message {
                    body: plain.to_vec(),
                    sender: from.clone(),
                    ..message_template(conv)
                })
                .await?;
                Ok::<_, StoreError>(plain.to_vec())
            })
            .await
            .unwrap()
    };
    assert_eq!(
        receive(&bob, &alice_addr, &bob_addr, &wire).await,
        b"hello bob"
    );
    bob.close().await;
    alice.close().await;

    // Reopen both; Bob's one-time prekey was consumed and stays consumed.
    let bob = db.open().await.unwrap();
    let alice = da.open().await.unwrap();
    let mut tx = bob.begin().await.unwrap();
    let counts_after = tx.prekeys().await.unwrap().unwrap().one_time_counts();
    assert_eq!(counts_after.0 + 1, counts_before.0);
    let mut record = tx.session(&alice_addr).await.unwrap().unwrap();
    let reply = record.encrypt(b"hi alice").unwrap().to_bytes();
    tx.set_session(&alice_addr, &record).await.unwrap();
    assert_eq!(tx.messages(&conv, None, 10).await.unwrap().len(), 1);
    tx.commit().await.unwrap();
    assert_eq!(
        receive(&alice, &bob_addr, &alice_addr, &reply).await,
        b"hi alice"
    );
}

fn message_template(conversation: ConversationId) -> Message {
    message(conversation, 5, "")
}
