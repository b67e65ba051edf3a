//! The store key: remote secret, key files, keystore, wipe.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;

use super::*;

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
    for attempt in [Some(&wrong), None] {
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
    let store = Store::create(&d.home, d.source(), Some(&[7; 32]))
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

#[tokio::test]
async fn signing_out_destroys_the_device_keys_and_sessions_and_keeps_the_history() {
    use parley_crypto::identity::IdentityKeyPair;
    use parley_crypto::keys::os_rng;
    use parley_crypto::prekeys::PreKeyStore;
    use parley_crypto::session_record::SessionRecord;

    let d = dirs();
    let store = d.create().await;
    let identity = IdentityKeyPair::generate(&mut os_rng());
    let peer = parley_crypto::DeviceAddress::new("bob", 1).unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.set_account(&account()).await.unwrap();
    tx.set_identity(&identity).await.unwrap();
    tx.set_prekeys(&PreKeyStore::new(&identity, 1, &mut os_rng()))
        .await
        .unwrap();
    tx.set_session(&peer, &SessionRecord::default())
        .await
        .unwrap();
    assert!(!tx.signed_out().await.unwrap());
    tx.sign_out().await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = store.begin().await.unwrap();
    assert!(tx.signed_out().await.unwrap());
    assert!(tx.identity().await.unwrap().is_none());
    assert!(tx.prekeys().await.unwrap().is_none());
    assert!(tx.session(&peer).await.unwrap().is_none());
    assert_eq!(
        tx.account().await.unwrap().unwrap(),
        account(),
        "the account stays"
    );
}
