//! What the files hold, transactions, `Debug`, and crypto state across a reopen.

use super::*;
use parley_crypto::DeviceAddress;
use parley_crypto::attachment::AttachmentKey;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::os_rng;
use parley_crypto::prekeys::PreKeyStore;
use parley_crypto::session_record::SessionRecord;

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
        notify: NotifySettings::default(),
        timer: Timer::default(),
        announcement: false,
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
