//! Every table's records round-trip.

use super::*;
use parley_crypto::attachment::AttachmentKey;
use parley_crypto::identity::IdentityKeyPair;
use parley_crypto::keys::os_rng;
use parley_crypto::prekeys::PreKeyStore;
use parley_crypto::sender_key::{GroupId, OwnSenderKey, SenderKeyRecord};

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
    changed.tls_pins = None;
    tx.set_account(&changed).await.unwrap();
    assert_eq!(tx.account().await.unwrap().unwrap(), changed);
}

#[test]
fn pins_saved_before_backup_pins_read_the_same() {
    // Before backup pins, the account and unlock records ended without the trailing backup.
    let mut old = account().encode().to_vec();
    assert_eq!(old.pop(), Some(0), "no backup: one trailing zero");
    assert_eq!(Account::decode(&old).unwrap(), account());
    let mut two = account();
    two.tls_pins = Some(parley_proto::invite::TlsPins {
        primary: [7; 32],
        backup: Some([8; 32]),
    });
    assert_eq!(Account::decode(&two.encode()).unwrap(), two);

    let unlock = Unlock {
        relay_url: "https://relay.example:8787".into(),
        tls_pins: two.tls_pins,
        remote_secret: None,
    };
    assert_eq!(Unlock::decode(&unlock.encode()).unwrap(), unlock);
    let one = Unlock {
        tls_pins: account().tls_pins,
        ..unlock
    };
    let mut old = one.encode().to_vec();
    assert_eq!(old.pop(), Some(0));
    assert_eq!(Unlock::decode(&old).unwrap(), one);
    // A backup without a primary is damage.
    let mut damaged = Unlock {
        tls_pins: None,
        ..one
    }
    .encode()
    .to_vec();
    damaged.pop();
    damaged.push(1);
    damaged.extend_from_slice(&[8; 32]);
    assert!(Unlock::decode(&damaged).is_err());
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
        notify: NotifySettings::default(),
        timer: Timer::default(),
        announcement: false,
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
        notify: NotifySettings {
            notify: parley_proto::content::NotifyLevel::Mentions,
            muted_until: 1_900_000_000_000,
            revision: 3,
        },
        timer: Timer {
            secs: 3600,
            set_at: 42,
        },
        announcement: true,
    };
    // A record written before the settings existed ends after `last_read`: the defaults.
    let old = direct.encode();
    let old = old.get(..old.len() - 34).unwrap();
    assert_eq!(Conversation::decode(direct.id, old).unwrap(), direct);
    // One written before announcement channels: not one.
    let old = team.encode();
    let old = old.get(..old.len() - 1).unwrap();
    assert_eq!(
        Conversation::decode(team.id, old).unwrap(),
        Conversation {
            announcement: false,
            ..team.clone()
        }
    );
    let mut bad = team.encode().to_vec();
    let level = bad.len() - 34;
    bad[level] = 9;
    assert!(Conversation::decode(team.id, &bad).is_err());
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
    assert!(tx.conversation(&team.id).await.unwrap().is_none());
    assert_eq!(tx.conversations().await.unwrap(), vec![direct.clone()]);
    tx.commit().await.unwrap();

    // A transaction reads its own writes of the conversation it last read, and nothing of
    // it outlives a rollback.
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.conversation(&direct.id).await.unwrap().unwrap(), direct);
    let mut renamed = direct.clone();
    renamed.title = "Bob, renamed".into();
    tx.set_conversation(&renamed).await.unwrap();
    assert_eq!(tx.conversation(&direct.id).await.unwrap().unwrap(), renamed);
    assert!(tx.delete_conversation(&direct.id).await.unwrap());
    assert!(tx.conversation(&direct.id).await.unwrap().is_none());
    tx.rollback().await.unwrap();
    let mut tx = store.begin().await.unwrap();
    assert_eq!(tx.conversation(&direct.id).await.unwrap().unwrap(), direct);
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
async fn expired_messages_are_taken_out_and_the_expiry_is_bound() {
    let d = dirs();
    let store = d.create().await;
    let conv = store.direct_conversation_id("bob");
    let forever = message(conv, 10, "forever");
    let soon = Message {
        expires_at: Some(1_000),
        ..message(conv, 20, "soon")
    };
    let later = Message {
        expires_at: Some(5_000),
        ..message(conv, 30, "later")
    };
    let mut tx = store.begin().await.unwrap();
    for m in [&forever, &soon, &later] {
        tx.put_message(m).await.unwrap();
    }
    assert_eq!(tx.message(&later.id).await.unwrap().unwrap(), later);
    assert!(tx.take_expired(999).await.unwrap().is_empty());
    assert_eq!(tx.take_expired(1_000).await.unwrap(), vec![soon.clone()]);
    assert_eq!(
        tx.messages(&conv, None, 10).await.unwrap(),
        vec![forever.clone(), later.clone()]
    );
    tx.commit().await.unwrap();

    // A row whose expiry was pushed back (or cleared) on disk no longer opens.
    sqlx::query("UPDATE messages SET expires_at = NULL WHERE id = ?")
        .bind(&later.id.0[..])
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.message(&later.id).await,
        Err(StoreError::Tampered { .. })
    ));
}

#[tokio::test]
async fn tasks_round_trip_stay_in_their_conversation_and_expire() {
    use crate::tasks::{Stamp, TaskState};
    use parley_proto::content::{MessageId as ContentId, TaskChange, TaskId};
    let d = dirs();
    let store = d.create().await;
    let ops = store.direct_conversation_id("bob");
    let other = store.direct_conversation_id("carol");
    let mut state = TaskState::default();
    state.apply(
        &TaskChange::Create {
            title: "Renew the lease".into(),
            assignee: parley_proto::UserId::new("bob").unwrap(),
            deadline: Some(9),
            description: None,
        },
        &Stamp {
            at: 1,
            author: parley_proto::UserId::new("alice").unwrap(),
            id: ContentId([1; 16]),
        },
    );
    let task = TaskId([7; 16]);
    let brief = TaskState {
        expires_at: Some(1_000),
        ..state.clone()
    };
    let mut tx = store.begin().await.unwrap();
    tx.put_task(&ops, &task, &state).await.unwrap();
    tx.put_task(&other, &task, &brief).await.unwrap();
    assert_eq!(tx.task(&ops, &task).await.unwrap(), Some(state.clone()));
    assert!(
        tx.task(&store.direct_conversation_id("dave"), &task)
            .await
            .unwrap()
            .is_none(),
        "the same id elsewhere is another task"
    );
    assert_eq!(tx.tasks().await.unwrap().len(), 2);
    assert_eq!(tx.delete_expired_tasks(999).await.unwrap(), 0);
    assert_eq!(tx.delete_expired_tasks(1_000).await.unwrap(), 1);
    assert_eq!(tx.tasks().await.unwrap(), vec![(ops, task, state.clone())]);
    tx.put_task(&other, &task, &brief).await.unwrap();
    tx.commit().await.unwrap();

    // An expiry cleared on disk, or a record moved to another task's row, no longer opens.
    sqlx::query("UPDATE tasks SET expires_at = NULL WHERE expires_at IS NOT NULL")
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(matches!(
        tx.task(&other, &task).await,
        Err(StoreError::Tampered { .. })
    ));
    tx.rollback().await.unwrap();
    sqlx::query("DELETE FROM tasks WHERE record NOT IN (SELECT record FROM tasks LIMIT 1)")
        .execute(&store.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE tasks SET lookup = zeroblob(32)")
        .execute(&store.pool)
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    assert!(tx.tasks().await.is_err());
}
