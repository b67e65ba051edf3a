//! A damaged or moved record is a typed error, and a wrong key opens nothing.

use super::*;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::os_rng;
use std::sync::Arc;

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
