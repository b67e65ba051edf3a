//! Prekey upload, count and claim.

use super::*;

both!(
    prekeys_upload_count_claim,
    concurrent_claims_never_share_a_key,
);

fn upload(n: usize, tag: u8) -> PreKeyUpload {
    PreKeyUpload {
        signed_prekey: Some(B64(vec![tag; 100])),
        last_resort_kem: Some(B64(vec![tag; 1700])),
        one_time: (0..n)
            .map(|i| B64(vec![tag, (i >> 8) as u8, i as u8]))
            .collect(),
        one_time_kem: (0..n)
            .map(|i| B64(vec![tag, (i >> 8) as u8, i as u8, 0]))
            .collect(),
        replace_one_time: false,
    }
}

async fn prekeys_upload_count_claim(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let alice = org.join("alice").await.unwrap();
    let bob = org.join("bob").await.unwrap();
    let bob2 = org.link(&bob).await.unwrap();
    assert_eq!(
        code(
            &alice
                .relay
                .claim_prekeys(&bob.user, None)
                .await
                .unwrap_err()
        ),
        Some(ErrorCode::NotFound)
    );

    let c = bob.relay.upload_prekeys(&upload(2, 1)).await.unwrap();
    assert_eq!((c.one_time, c.one_time_kem), (2, 2));
    bob2.relay.upload_prekeys(&upload(1, 2)).await.unwrap();

    let all = alice.relay.claim_prekeys(&bob.user, None).await.unwrap();
    assert_eq!(all.devices.len(), 2);
    assert_eq!(all.devices[0].device, 1);
    assert_eq!(all.devices[0].one_time.as_ref().unwrap().0, vec![1, 0, 0]);
    assert_eq!(
        all.devices[0].identity.0,
        bob.identity.public().to_bytes().to_vec()
    );
    assert_eq!(
        all.devices[1].one_time_kem.as_ref().unwrap().0,
        vec![2, 0, 0, 0]
    );
    let one = alice.relay.claim_prekeys(&bob.user, Some(1)).await.unwrap();
    assert_eq!(one.devices.len(), 1);
    assert_eq!(one.devices[0].one_time.as_ref().unwrap().0, vec![1, 0, 1]);
    // None left: only the signed and last-resort keys.
    let last = alice.relay.claim_prekeys(&bob.user, Some(1)).await.unwrap();
    assert!(last.devices[0].one_time.is_none() && last.devices[0].one_time_kem.is_none());
    assert_eq!(last.devices[0].last_resort_kem.0, vec![1; 1700]);
    let c = bob.relay.prekey_count().await.unwrap();
    assert_eq!((c.one_time, c.one_time_kem), (0, 0));

    // At most 100 of each kind, per upload and in store; a refused upload changes nothing.
    bob.relay.upload_prekeys(&upload(100, 3)).await.unwrap();
    let e = bob.relay.upload_prekeys(&upload(1, 3)).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    let e = bob.relay.upload_prekeys(&upload(101, 3)).await.unwrap_err();
    assert_eq!(code(&e), Some(ErrorCode::TooLarge));
    assert_eq!(bob.relay.prekey_count().await.unwrap().one_time, 100);
    let mut replace = upload(5, 4);
    replace.replace_one_time = true;
    assert_eq!(
        bob.relay.upload_prekeys(&replace).await.unwrap().one_time,
        5
    );
    let mut big = upload(0, 5);
    big.last_resort_kem = Some(B64(vec![0; 5000]));
    assert_eq!(
        code(&bob.relay.upload_prekeys(&big).await.unwrap_err()),
        Some(ErrorCode::TooLarge)
    );
    let mut empty = upload(0, 5);
    empty.one_time = vec![B64(Vec::new())];
    assert_eq!(
        code(&bob.relay.upload_prekeys(&empty).await.unwrap_err()),
        Some(ErrorCode::InvalidInput)
    );
    finish(storage, server).await;
}

async fn concurrent_claims_never_share_a_key(backend: Backend) {
    let (storage, server) = start(backend).await;
    let org = common::create_org(server.relay()).await;
    let bob = org.join("bob").await.unwrap();
    bob.relay.upload_prekeys(&upload(100, 1)).await.unwrap();
    let mut claimers = Vec::new();
    for i in 0..8 {
        claimers.push(org.join(&format!("claimer{i}")).await.unwrap());
    }
    let mut tasks = Vec::new();
    for c in claimers {
        let target = bob.user.clone();
        tasks.push(tokio::spawn(async move {
            let mut got = Vec::new();
            for _ in 0..16 {
                let b = c.relay.claim_prekeys(&target, Some(1)).await.unwrap();
                got.push((
                    b.devices[0].one_time.clone(),
                    b.devices[0].one_time_kem.clone(),
                ));
            }
            got
        }));
    }
    let mut x = Vec::new();
    let mut kem = Vec::new();
    for t in tasks {
        for (a, b) in t.await.unwrap() {
            x.extend(a.map(|k| k.0));
            kem.extend(b.map(|k| k.0));
        }
    }
    // 128 claims for 100 keys of each kind: every key handed out exactly once.
    assert_eq!(x.len(), 100);
    assert_eq!(kem.len(), 100);
    assert_eq!(x.iter().collect::<BTreeSet<_>>().len(), 100);
    assert_eq!(kem.iter().collect::<BTreeSet<_>>().len(), 100);
    finish(storage, server).await;
}
