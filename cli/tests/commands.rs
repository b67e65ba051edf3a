//! Every command's `--json` result and its exit codes: 1 for a refused failure, 75 for a
//! temporary one (the relay stopped), with `{"error": {"code", "message"}}` on stdout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::Path;

use common::{
    TOKEN, alice_and_bob, invite_and_join, is_hex, json, json_error, parley, relay, relay_at,
    stderr, stdout,
};

/// Each command's `--json` object, with its fields checked against what happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_prints_one_json_object() {
    let relay = relay().await;
    let tmp = tempfile::tempdir().unwrap();
    let (alice, bob, carol, keys) = (
        tmp.path().join("alice"),
        tmp.path().join("bob"),
        tmp.path().join("carol"),
        tmp.path().join("keys"),
    );

    let init = [
        "init-org",
        "--relay",
        &relay.url,
        "--setup-token",
        TOKEN,
        "--user",
        "alice",
        "--org-name",
        "Acme",
    ];
    let v = json(&alice, &keys, &init, 0).await;
    assert_eq!(v["user"], "alice");
    assert_eq!(v["device"], 1);
    assert_eq!(v["org_name"], "Acme");
    assert_eq!(v["relay"], relay.url.as_str());
    let org = v["org"].as_str().unwrap().to_owned();
    assert!(is_hex(&org, 64), "{v}");

    let v = json(&alice, &keys, &["invite", "bob"], 0).await;
    assert_eq!((&v["user"], &v["new_user"]), (&"bob".into(), &true.into()));
    let invite = v["invite"].as_str().unwrap().to_owned();
    assert!(invite.starts_with("parley-invite:"), "{v}");

    let v = json(&bob, &keys, &["join", &invite], 0).await;
    assert_eq!(
        (v["user"].as_str(), v["device"].as_u64()),
        (Some("bob"), Some(1))
    );
    assert_eq!(v["org"], org.as_str(), "the same org");

    let v = json(&bob, &keys, &["whoami"], 0).await;
    assert_eq!(v["user"], "bob");
    assert_eq!(v["org"], org.as_str());
    assert_eq!(v["relay"], relay.url.as_str());

    let v = json(&bob, &keys, &["devices", "alice"], 0).await;
    assert_eq!(v["user"], "alice");
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 1, "{v}");
    assert_eq!(devices[0]["device"], 1);
    assert!(
        is_hex(devices[0]["identity"].as_str().unwrap(), 2 * 129),
        "{v}"
    );
    assert!(devices[0]["registered_at"].as_u64().unwrap() > 1_600_000_000);

    let v = json(&alice, &keys, &["link-device"], 0).await;
    assert!(v["invite"].as_str().unwrap().starts_with("parley-invite:"));

    // A message and what can be done to it.
    let v = json(
        &alice,
        &keys,
        &["send", "bob", "the launch is on Friday"],
        0,
    )
    .await;
    assert_eq!(v["user"], "bob");
    assert!(v["group"].is_null());
    assert_eq!(v["status"], "sent");
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(is_hex(&id, 32), "{v}");

    let out = parley(&bob, &keys, &["--json", "listen", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{}", stdout(&out));
    assert_eq!(lines[0]["event"], "message");
    assert_eq!(lines[0]["from"], "alice");
    assert_eq!(lines[0]["device"], 1);
    assert_eq!(lines[0]["id"], id.as_str(), "the id send printed");
    assert_eq!(lines[0]["text"], "the launch is on Friday");
    assert!(lines[0]["group"].is_null() && lines[0]["file"].is_null());

    let v = json(&alice, &keys, &["history", "bob", "--limit", "5"], 0).await;
    assert_eq!(v["user"], "bob");
    let messages = v["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{v}");
    assert_eq!(messages[0]["id"], id.as_str());
    assert_eq!(messages[0]["author"], "alice");
    assert_eq!(messages[0]["outgoing"], true);
    assert_eq!(messages[0]["text"], "the launch is on Friday");
    assert!(messages[0]["sent_at"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(
        ["sent", "delivered", "read"].contains(&messages[0]["status"].as_str().unwrap()),
        "{v}"
    );

    let v = json(
        &alice,
        &keys,
        &["edit", "bob", &id, "the launch is on Monday"],
        0,
    )
    .await;
    assert_eq!(
        (v["user"].as_str(), v["target"].as_str()),
        (Some("bob"), Some(id.as_str()))
    );
    let edit_id = v["id"].as_str().unwrap().to_owned();
    assert!(is_hex(&edit_id, 32) && edit_id != id, "{v}");

    let v = json(&bob, &keys, &["react", "alice", "alice", &id, "👍"], 0).await;
    assert_eq!(v["user"], "alice");
    assert_eq!(v["author"], "alice");
    assert_eq!(v["target"], id.as_str());
    assert_eq!(v["emoji"], "👍");
    assert_eq!(v["removed"], false);
    assert!(is_hex(v["id"].as_str().unwrap(), 32));

    let v = json(&alice, &keys, &["delete", "bob", &id], 0).await;
    assert_eq!(v["target"], id.as_str());
    assert_eq!(v["status"], "sent");

    let out = parley(&bob, &keys, &["--json", "listen", "--drain"]).await;
    let texts: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        texts,
        [
            format!("[edited {id}] the launch is on Monday"),
            format!("[deleted {id}]")
        ]
    );

    // A file.
    let path = tmp.path().join("notes.txt");
    std::fs::write(&path, b"agenda: launch").unwrap();
    let out = parley(
        &alice,
        &keys,
        &["--json", "send-file", "bob", path.to_str().unwrap()],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no progress bar under --json");
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        (v["file"].as_str(), v["size"].as_u64()),
        (Some("notes.txt"), Some(14))
    );
    assert_eq!(v["user"], "bob");
    assert!(is_hex(v["id"].as_str().unwrap(), 32));

    // Groups.
    invite_and_join(&alice, &carol, &keys, "carol").await;
    let v = json(&alice, &keys, &["group", "create", "Ops", "bob"], 0).await;
    let group = v["id"].as_str().unwrap().to_owned();
    assert!(is_hex(&group, 64), "{v}");
    assert_eq!(v["name"], "Ops");
    assert_eq!(v["members"], serde_json::json!(["alice", "bob"]));
    let v = json(&alice, &keys, &["group", "add", "Ops", "carol"], 0).await;
    assert_eq!(v["group"], group.as_str());
    assert_eq!(v["added"], serde_json::json!(["carol"]));
    let v = json(&alice, &keys, &["send", "#Ops", "deploy at 5"], 0).await;
    assert_eq!(
        (v["group"].as_str(), v["user"].is_null()),
        (Some(group.as_str()), true)
    );
    let v = json(&alice, &keys, &["group", "remove", "Ops", "carol"], 0).await;
    assert_eq!(v["removed"], serde_json::json!(["carol"]));
    // Only the group's admins change it.
    let out = parley(&bob, &keys, &["--json", "listen", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let code = json_error(&bob, &keys, &["group", "rename", "Ops", "Bob's"], 1).await;
    assert_eq!(code, "not_group_admin");
    let v = json(&alice, &keys, &["group", "promote", "Ops", "bob"], 0).await;
    assert_eq!(v["promoted"], serde_json::json!(["bob"]));
    let v = json(&alice, &keys, &["group", "rename", "Ops", "Ops2"], 0).await;
    assert_eq!(v["renamed"], "Ops2");
    let v = json(&alice, &keys, &["group", "demote", "Ops2", "bob"], 0).await;
    assert_eq!(v["demoted"], serde_json::json!(["bob"]));
    let v = json(&alice, &keys, &["group", "rename", "Ops2", "Ops"], 0).await;
    assert_eq!(v["renamed"], "Ops");
    let v = json(&alice, &keys, &["group", "list"], 0).await;
    let groups = v["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 2, "Ops and the company channel: {v}");
    assert!(
        groups.contains(&serde_json::json!({"id": group, "name": "Ops",
        "members": ["alice", "bob"], "admins": ["alice"], "epoch": 6, "announcement": false}))
    );
    let v = json(&alice, &keys, &["group", "announce", "Ops", "on"], 0).await;
    assert_eq!(v["announcement"], true);
    // The company channel the directory makes, named after the org, with everyone in it.
    assert!(
        groups
            .iter()
            .any(|g| g["name"] == "Acme"
                && g["members"] == serde_json::json!(["alice", "bob", "carol"])),
        "{v}"
    );
    let out = parley(&bob, &keys, &["--json", "listen", "--drain"]).await;
    let last: serde_json::Value =
        serde_json::from_str(stdout(&out).lines().last().unwrap()).unwrap();
    assert_eq!(last["group"], "Ops", "{}", stdout(&out));

    let v = json(&alice, &keys, &["completions", "fish"], 0).await;
    assert_eq!(v["shell"], "fish");
    assert!(v["script"].as_str().unwrap().contains("complete -c parley"));

    relay.shut_down().await;
}

/// Refused failures exit 1 with the engine's code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_failures_exit_1() {
    let relay = relay().await;
    let (tmp, alice, bob, keys) = alice_and_bob(&relay).await;
    let nobody = tmp.path().join("nobody");
    let id = "000102030405060708090a0b0c0d0e0f";

    // A second org on the same relay.
    let init = [
        "init-org",
        "--relay",
        &relay.url,
        "--setup-token",
        TOKEN,
        "--user",
        "mallory",
    ];
    let code = json_error(&tmp.path().join("mallory"), &keys, &init, 1).await;
    assert!(
        ["not_authorized", "conflict", "relay_refused", "no_org"].contains(&code.as_str()),
        "{code}"
    );
    assert_eq!(
        json_error(&bob, &keys, &["invite", "carol"], 1).await,
        "not_admin",
        "not an admin"
    );
    assert_eq!(
        json_error(&nobody, &keys, &["link-device"], 1).await,
        "no_account"
    );
    assert_eq!(
        json_error(&nobody, &keys, &["join", "parley-invite:AAAA"], 1).await,
        "invite_invalid"
    );
    assert_eq!(
        json_error(&nobody, &keys, &["whoami"], 1).await,
        "no_account"
    );
    assert_eq!(
        json_error(&bob, &keys, &["devices", "zed"], 1).await,
        "no_such_user"
    );
    assert_eq!(
        json_error(&alice, &keys, &["send", "zed", "hi"], 1).await,
        "no_such_user"
    );
    let missing = tmp.path().join("missing.bin");
    assert_eq!(
        json_error(
            &alice,
            &keys,
            &["send-file", "bob", missing.to_str().unwrap()],
            1
        )
        .await,
        "file_error"
    );
    assert_eq!(
        json_error(&nobody, &keys, &["listen", "--drain"], 1).await,
        "no_account"
    );
    assert_eq!(
        json_error(&alice, &keys, &["history", "#nope"], 1).await,
        "no_such_group"
    );
    assert_eq!(
        json_error(&alice, &keys, &["edit", "#nope", id, "x"], 1).await,
        "no_such_group"
    );
    assert_eq!(
        json_error(&alice, &keys, &["delete", "#nope", id], 1).await,
        "no_such_group"
    );
    assert_eq!(
        json_error(&alice, &keys, &["react", "zed", "zed", id, "👍"], 1).await,
        "no_such_user"
    );
    assert_eq!(
        json_error(&alice, &keys, &["group", "add", "nope", "bob"], 1).await,
        "no_such_group"
    );

    // For people: `error: <sentence>` on stderr, nothing on stdout, no Rust type names.
    let out = parley(&alice, &keys, &["send", "zed", "hi"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        "error: no such user (or the user has no device)\n"
    );
    let out = parley(&bob, &keys, &["invite", "carol"]).await;
    assert!(
        stderr(&out) == "error: only an administrator's device may do this\n",
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("Error"), "{}", stderr(&out));

    // A bad message id is a usage error (2), under --json too.
    let out = parley(&alice, &keys, &["--json", "delete", "bob", "12"]).await;
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["error"]["code"], "usage");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("32 hex digits"),
        "{v}"
    );

    relay.shut_down().await;
}

/// With the relay stopped, every command that needs it exits 75; what was queued is sent
/// once the relay is back, and the local ones still work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn temporary_failures_exit_75_and_stay_queued() {
    let relay = relay().await;
    let (tmp, alice, bob, keys) = alice_and_bob(&relay).await;
    let out = parley(&alice, &keys, &["invite", "carol"]).await;
    let carol_invite = stdout(&out).trim().to_owned();
    let sent = json(&alice, &keys, &["send", "bob", "before"], 0).await;
    let before = sent["id"].as_str().unwrap().to_owned();
    json(&alice, &keys, &["group", "create", "Ops", "bob"], 0).await;
    let out = parley(&bob, &keys, &["listen", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    let addr = relay.addr();
    let dir = relay.shut_down().await;

    let unreachable = |code: String| {
        assert_eq!(code, "relay_unreachable");
    };
    let init = [
        "init-org",
        "--relay",
        &format!("http://{addr}"),
        "--setup-token",
        TOKEN,
        "--user",
        "zoe",
    ];
    unreachable(json_error(&tmp.path().join("zoe"), &keys, &init, 75).await);
    unreachable(json_error(&alice, &keys, &["invite", "dave"], 75).await);
    unreachable(json_error(&alice, &keys, &["link-device"], 75).await);
    unreachable(
        json_error(
            &tmp.path().join("carol"),
            &keys,
            &["join", &carol_invite],
            75,
        )
        .await,
    );
    unreachable(json_error(&alice, &keys, &["devices"], 75).await);
    unreachable(json_error(&alice, &keys, &["send", "bob", "while you were away"], 75).await);
    let path = tmp.path().join("f.txt");
    std::fs::write(&path, b"file").unwrap();
    unreachable(
        json_error(
            &alice,
            &keys,
            &["send-file", "bob", path.to_str().unwrap()],
            75,
        )
        .await,
    );
    unreachable(json_error(&alice, &keys, &["edit", "bob", &before, "before!"], 75).await);
    unreachable(json_error(&bob, &keys, &["react", "alice", "alice", &before, "👀"], 75).await);
    unreachable(json_error(&alice, &keys, &["group", "create", "Dev", "bob"], 75).await);
    unreachable(json_error(&bob, &keys, &["listen", "--give-up-after", "0"], 75).await);

    // For people: the sentence, and that the message stays queued.
    let out = parley(&alice, &keys, &["send", "bob", "and again"]).await;
    assert_eq!(out.status.code(), Some(75));
    let err = stderr(&out);
    assert!(err.starts_with("error: cannot reach the relay"), "{err}");
    assert!(err.contains("stays queued"), "{err}");
    // The upload failed, so nothing of the file was queued, and it is not said to be.
    let out = parley(&alice, &keys, &["send-file", "bob", path.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(75));
    assert!(!stderr(&out).contains("queued"), "{}", stderr(&out));

    // Local commands still work.
    let v = json(&alice, &keys, &["whoami"], 0).await;
    assert_eq!(v["user"], "alice");
    let v = json(&alice, &keys, &["history", "bob"], 0).await;
    let texts: Vec<&str> = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["before!", "while you were away", "and again"],
        "{v}"
    );
    json(&alice, &keys, &["group", "list"], 0).await;

    // The relay is back: the next send sends what was queued, then Bob gets each once.
    let relay = relay_at(dir, &addr).await;
    json(&alice, &keys, &["send", "bob", "back"], 0).await;
    json(&bob, &keys, &["react", "alice", "alice", &before, "👍"], 0).await;
    let out = parley(&bob, &keys, &["--json", "listen", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let texts: Vec<String> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["group"].is_null())
        .map(|v| v["text"].as_str().unwrap().to_owned())
        .collect();
    // Each once, in the order Alice wrote them (the outbox sends the oldest first, though
    // the older items were retried more often).
    let expected = [
        "while you were away".to_owned(),
        format!("[edited {before}] before!"),
        "and again".to_owned(),
        "back".to_owned(),
    ];
    assert_eq!(texts, expected);
    relay.shut_down().await;
}

/// `parley admin …`: each action's `--json` object, what it does to the other devices, and
/// its exit codes (1 refused, 75 relay down).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands() {
    let relay = relay().await;
    let (tmp, alice, bob, keys) = alice_and_bob(&relay).await;
    let bob2 = tmp.path().join("bob2");
    let link = json(&bob, &keys, &["link-device"], 0).await;
    json(&bob2, &keys, &["join", link["invite"].as_str().unwrap()], 0).await;

    // A colleague with a directory entry, invited by the admin.
    let v = json(
        &alice,
        &keys,
        &[
            "admin",
            "invite",
            "carol",
            "--name",
            "Carol Q",
            "--title",
            "Accountant",
            "--department",
            "Finance",
        ],
        0,
    )
    .await;
    assert_eq!(
        (&v["user"], &v["role"]),
        (&"carol".into(), &"member".into())
    );

    let v = json(&alice, &keys, &["admin", "devices", "bob"], 0).await;
    let devices = v["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2, "{v}");
    assert!(devices.iter().all(|d| d["revoked"].is_null()), "{v}");
    assert!(is_hex(devices[1]["signing_key"].as_str().unwrap(), 64));

    // Both sides see the same safety number; it changes when a device goes.
    let a = json(&alice, &keys, &["safety-number", "bob"], 0).await;
    let b = json(&bob, &keys, &["safety-number", "alice"], 0).await;
    let number = a["safety_number"].as_str().unwrap().to_owned();
    assert_eq!(number.len(), 60, "{a}");
    assert!(number.bytes().all(|c| c.is_ascii_digit()));
    assert_eq!(b["safety_number"], number.as_str());

    // Destructive actions want a confirmation; without a terminal, --yes.
    let code = json_error(&alice, &keys, &["admin", "revoke", "bob", "2"], 1).await;
    assert_eq!(code, "confirmation_needed");
    // Only admins administer.
    let code = json_error(&bob, &keys, &["admin", "revoke", "alice", "1", "--yes"], 1).await;
    assert_eq!(code, "not_admin");
    let code = json_error(&bob, &keys, &["admin", "appoint", "bob"], 1).await;
    assert_eq!(code, "no_root_key");

    let v = json(
        &alice,
        &keys,
        &["admin", "revoke", "bob", "2", "--reason", "lost", "--yes"],
        0,
    )
    .await;
    assert_eq!(v["appended"]["kind"], "device-revoked");
    let revoked_at = v["appended"]["seq"].as_u64().unwrap();
    let v = json(&alice, &keys, &["admin", "devices", "bob"], 0).await;
    assert_eq!(v["devices"][1]["revoked"]["reason"], "lost", "{v}");
    let a = json(&alice, &keys, &["safety-number", "bob"], 0).await;
    assert_ne!(a["safety_number"], number.as_str(), "bob lost a device");
    assert_eq!(v["devices"][1]["revoked"]["seq"], revoked_at);

    // Bob's other device hears of it; the revoked one is told, and refused.
    let out = parley(&bob, &keys, &["--json", "listen", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["event"] == "devices_changed" && v["revoked"] == serde_json::json!([2])
        }),
        "{}",
        stdout(&out)
    );
    let code = json_error(&bob2, &keys, &["send", "alice", "still here?"], 1).await;
    assert_eq!(code, "device_revoked");
    let out = parley(&bob2, &keys, &["listen"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("signed out by your administrator (lost)"),
        "{}",
        stderr(&out)
    );

    // Forced logout: the device's keys and sessions are destroyed when it next hears of it;
    // from then on every command says so, even without the relay.
    let bob3 = tmp.path().join("bob3");
    let link = json(&bob, &keys, &["link-device"], 0).await;
    json(&bob3, &keys, &["join", link["invite"].as_str().unwrap()], 0).await;
    let v = json(&alice, &keys, &["admin", "logout", "bob", "3", "--yes"], 0).await;
    assert_eq!(v["appended"]["kind"], "device-revoked");
    let code = json_error(&bob3, &keys, &["send", "alice", "hi"], 1).await;
    assert_eq!(code, "device_revoked");
    let out = parley(&bob3, &keys, &["history", "alice"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("signed out by your administrator (logout)"),
        "{}",
        stderr(&out)
    );
    // Bob comes back on that machine as a new device: joining erases what the signed-out
    // device left there and enrols afresh; a machine whose account is in use is not taken over.
    let key_files = || -> std::collections::BTreeSet<_> {
        std::fs::read_dir(&keys)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect()
    };
    let before = key_files();
    let link = json(&bob, &keys, &["link-device"], 0).await;
    let v = json(&bob3, &keys, &["join", link["invite"].as_str().unwrap()], 0).await;
    assert_eq!((&v["user"], &v["device"]), (&"bob".into(), &4.into()));
    let after = key_files();
    assert_eq!(
        before.difference(&after).count(),
        1,
        "the old store's key is gone"
    );
    assert_eq!(
        after.difference(&before).count(),
        1,
        "the new one has its own"
    );
    json(&alice, &keys, &["send", "bob", "welcome back"], 0).await;
    let out = parley(&bob3, &keys, &["--json", "listen", "--drain"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("welcome back"), "{}", stdout(&out));
    let link = json(&bob, &keys, &["link-device"], 0).await;
    let code = json_error(&bob3, &keys, &["join", link["invite"].as_str().unwrap()], 1).await;
    assert_eq!(code, "account_exists");

    // Policy.
    let v = json(
        &alice,
        &keys,
        &[
            "admin",
            "policy",
            "set",
            "--offline-lock",
            "3600",
            "--remote-secret",
            "on",
        ],
        0,
    )
    .await;
    assert_eq!(v["appended"]["kind"], "policy-set");
    let v = json(&bob, &keys, &["admin", "policy", "show"], 0).await;
    assert_eq!(
        (&v["offline_lock_secs"], &v["remote_secret"], &v["presence"]),
        (&3600.into(), &true.into(), &true.into())
    );

    // Dismissal: bob's last device is refused too. It read the policy, so its store needs
    // the remote secret, which the relay deleted: what it stored no longer opens.
    let v = json(&alice, &keys, &["admin", "dismiss", "bob", "--yes"], 0).await;
    assert_eq!(v["appended"]["kind"], "user-dismissed");
    let code = json_error(&bob, &keys, &["send", "alice", "hello?"], 1).await;
    assert_eq!(code, "remote_secret_gone");
    let code = json_error(&alice, &keys, &["send", "bob", "are you there?"], 1).await;
    assert_eq!(code, "no_such_user");

    // The audit trail: every entry, verified, with its signer.
    let v = json(&bob2, &keys, &["admin", "audit"], 0).await;
    let entries = v["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "org-created");
    assert_eq!(kinds.last(), Some(&"user-dismissed"));
    assert!(kinds.contains(&"device-revoked") && kinds.contains(&"policy-set"));
    let revoke = &entries[revoked_at as usize];
    assert_eq!(
        (
            &revoke["signer_user"],
            &revoke["signer_device"],
            &revoke["user"],
            &revoke["device"]
        ),
        (&"alice".into(), &1.into(), &"bob".into(), &2.into())
    );
    assert!(
        entries
            .iter()
            .enumerate()
            .all(|(i, e)| e["seq"].as_u64() == Some(i as u64))
    );

    // With the relay down, they wait (75): the policy needs the relay to open the store.
    let _dir = relay.shut_down().await;
    for args in [
        &["admin", "devices", "bob"][..],
        &["admin", "audit"],
        &["admin", "policy", "show"],
        &["admin", "revoke", "carol", "1", "--yes"],
    ] {
        assert_eq!(
            json_error(&alice, &keys, args, 75).await,
            "relay_required",
            "{args:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_key_leaves_the_device() {
    let relay = relay().await;
    let (tmp, alice, bob, keys) = alice_and_bob(&relay).await;
    let file = tmp.path().join("root.key");
    let (pass, wrong, short) = (
        tmp.path().join("pass"),
        tmp.path().join("wrong"),
        tmp.path().join("short"),
    );
    std::fs::write(&pass, "a long and secret passphrase\n").unwrap();
    std::fs::write(&wrong, "a long and secret passphrasE\n").unwrap();
    std::fs::write(&short, "too short\n").unwrap();
    let file_arg = file.to_str().unwrap();
    let with = |p: &Path| {
        [
            "--passphrase-file".to_owned(),
            p.to_str().unwrap().to_owned(),
        ]
    };
    let args = |head: &[&str], p: &Path| -> Vec<String> {
        head.iter()
            .map(|s| (*s).to_owned())
            .chain(with(p))
            .collect()
    };
    let run = async |home: &Path, a: Vec<String>, code: i32| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        json(home, &keys, &a, code).await
    };

    // Only the device that holds the key can export it; a short passphrase is refused.
    let v = run(
        &bob,
        args(&["admin", "export-root-key", file_arg], &pass),
        1,
    )
    .await;
    assert_eq!(v["error"]["code"], "no_root_key", "{v}");
    let v = run(
        &alice,
        args(&["admin", "export-root-key", file_arg], &short),
        1,
    )
    .await;
    assert_eq!(v["error"]["code"], "weak_passphrase", "{v}");
    assert!(!file.exists());

    // Exported and removed: the file is the owner's only, and the device no longer appoints.
    let v = run(
        &alice,
        args(&["admin", "export-root-key", file_arg, "--remove"], &pass),
        0,
    )
    .await;
    assert_eq!(v["removed"], true, "{v}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("-----BEGIN PARLEY ORG ROOT KEY-----"),
        "{text}"
    );
    let code = json_error(&alice, &keys, &["admin", "appoint", "bob"], 1).await;
    assert_eq!(code, "no_root_key");

    // With the file: a wrong passphrase opens nothing; the right one appoints a second admin.
    let appoint = ["admin", "appoint", "bob", "--root-key", file_arg];
    let v = run(&alice, args(&appoint, &wrong), 1).await;
    assert_eq!(v["error"]["code"], "wrong_passphrase", "{v}");
    let v = run(&alice, args(&appoint, &pass), 0).await;
    assert_eq!(v["appended"]["kind"], "admin-added", "{v}");

    // The second admin invites a third as admin with the file, then holds the key itself.
    let v = run(
        &bob,
        args(
            &[
                "admin",
                "invite",
                "carol",
                "--role",
                "admin",
                "--root-key",
                file_arg,
            ],
            &pass,
        ),
        0,
    )
    .await;
    assert_eq!(v["role"], "admin", "{v}");
    let v = run(
        &bob,
        args(&["admin", "import-root-key", file_arg], &pass),
        0,
    )
    .await;
    assert_eq!(v["imported"], true, "{v}");
    // An existing file is never replaced.
    let v = run(
        &bob,
        args(&["admin", "export-root-key", file_arg], &pass),
        1,
    )
    .await;
    assert_eq!(v["error"]["code"], "root_key_file", "{v}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), text);
    let v = json(&bob, &keys, &["admin", "remove-admin", "carol", "--yes"], 0).await;
    assert_eq!(v["appended"]["kind"], "admin-removed", "{v}");
    let v = json(&alice, &keys, &["admin", "audit"], 0).await;
    let by_root: Vec<&str> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "admin-added" || e["kind"] == "admin-removed")
        .map(|e| e["signer"].as_str().unwrap_or("?"))
        .collect();
    // alice (at creation), bob, carol; carol removed: all by the root key.
    assert_eq!(by_root, ["root"; 4], "{v}");
}
