//! The `parley` binary as users and scripts run it, against a real `parley-server`:
//! - a 50 MiB file round trip, with the peak memory of both client processes and the growth
//!   of the relay's watched: none holds the file;
//! - a client killed (SIGKILL) at arbitrary points while sending, then run again: each
//!   message it stored is delivered exactly once, and none appears twice;
//! - groups from the command line;
//! - the directory from the command line: search and show.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use parley_e2e::{Backend, SETUP_TOKEN, Server, binaries, contains, memory_kib, read_tree};

fn command(home: &Path, keys: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(&binaries().1);
    cmd.arg("--home")
        .arg(home)
        .arg("--key-dir")
        .arg(keys)
        .args(args)
        .kill_on_drop(true);
    cmd
}

async fn parley(home: &Path, keys: &Path, args: &[&str]) -> Output {
    let out = command(home, keys, args).output().await.unwrap();
    assert!(
        out.status.success(),
        "parley {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `parley` and samples its peak resident memory (`VmHWM`, KiB) until it exits.
async fn parley_peak(home: &Path, keys: &Path, args: &[&str]) -> (Output, u64) {
    let mut child = command(home, keys, args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut peak = 0;
    let mut stdout = child.stdout.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out)
            .await
            .unwrap();
        out
    });
    let status = loop {
        if let Some((_, hwm)) = memory_kib(pid) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let mut stderr = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(child.stderr.as_mut().unwrap(), &mut stderr)
        .await
        .unwrap();
    let out = Output {
        status,
        stdout: reader.await.unwrap(),
        stderr,
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (out, peak)
}

/// Alice creates the org with the CLI and invites Bob.
async fn alice_and_bob(server: &Server, dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let keys = dir.join("keys");
    let (alice, bob) = (dir.join("alice"), dir.join("bob"));
    parley(
        &alice,
        &keys,
        &[
            "init-org",
            "--relay",
            &server.url,
            "--setup-token",
            SETUP_TOKEN,
            "--user",
            "alice",
        ],
    )
    .await;
    let invite = parley(&alice, &keys, &["invite", "bob"]).await;
    let invite = String::from_utf8(invite.stdout).unwrap();
    parley(&bob, &keys, &["join", invite.trim()]).await;
    (alice, bob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_50_mib_file_in_constant_memory() {
    const SIZE: usize = 50 * 1024 * 1024;
    let server = Server::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (alice, bob) = alice_and_bob(&server, dir.path()).await;

    // Distinct content (a counter with a marker every 4 KiB), so that a wrong byte shows.
    let mut data = Vec::with_capacity(SIZE);
    let mut i: u64 = 0;
    while data.len() < SIZE {
        if data.len() % 4096 == 0 {
            data.extend_from_slice(b"FILE-MARKER-");
        }
        data.extend_from_slice(&i.to_le_bytes());
        i += 1;
    }
    data.truncate(SIZE);
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &data).unwrap();

    let (relay_rss_before, _) = server.memory_kib();
    let (_, send_peak) =
        parley_peak(&alice, &keys, &["send-file", "bob", path.to_str().unwrap()]).await;
    let downloads = dir.path().join("downloads");
    let (out, receive_peak) = parley_peak(
        &bob,
        &keys,
        &[
            "listen",
            "--drain",
            "--download-dir",
            downloads.to_str().unwrap(),
        ],
    )
    .await;
    let (_, relay_peak) = server.memory_kib();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("[file saved to"), "{stdout}");
    let received = std::fs::read(downloads.join("big.bin")).unwrap();
    assert!(received == data, "the file arrived byte for byte");

    // None of the three processes held the file: each stays far below its 50 MiB.
    let mib = |kib: u64| kib / 1024;
    eprintln!(
        "peak RSS: sender {} MiB, receiver {} MiB; relay {} -> peak {} MiB",
        mib(send_peak),
        mib(receive_peak),
        mib(relay_rss_before),
        mib(relay_peak)
    );
    assert!(send_peak < 40 * 1024, "sender peak {send_peak} KiB");
    assert!(receive_peak < 40 * 1024, "receiver peak {receive_peak} KiB");
    assert!(
        relay_peak.saturating_sub(relay_rss_before) < 25 * 1024,
        "relay grew from {relay_rss_before} to {relay_peak} KiB"
    );

    // The relay's storage holds the ciphertext only.
    let stored = server.stored_bytes().await;
    assert!(stored.len() > SIZE);
    assert!(!contains(&stored, b"FILE-MARKER-"));
    let mut local = Vec::new();
    read_tree(&bob, &mut local);
    assert!(!local.is_empty());
    assert!(
        !contains(&local, b"FILE-MARKER-"),
        "bob's store holds no file content"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_killed_while_sending_delivers_exactly_once() {
    let server = Server::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (alice, bob) = alice_and_bob(&server, dir.path()).await;
    parley(&alice, &keys, &["send", "bob", "first"]).await;

    // Kill `parley send` at spread-out moments: before it stored the message, while it
    // encrypts, while the relay has the request, after the relay answered.
    let mut completed = Vec::new();
    for i in 0..16u64 {
        let text = format!("kill-test {i}");
        let mut child = command(&alice, &keys, &["send", "bob", &text])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(i * 29 % 450)).await;
        let _ = child.start_kill();
        if child.wait().await.unwrap().success() {
            completed.push(text);
        }
    }
    // Alice's next run sends whatever the killed runs left in the outbox.
    parley(&alice, &keys, &["listen", "--drain"]).await;
    let out = parley(&alice, &keys, &["history", "bob"]).await;
    let stored: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.strip_prefix("> kill-test ")
                .map(|n| format!("kill-test {n}"))
        })
        .collect();

    let out = parley(&bob, &keys, &["listen", "--drain", "--json"]).await;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *seen
            .entry(v["text"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(seen.remove("first"), Some(1));
    for (text, n) in &seen {
        assert_eq!(*n, 1, "{text} arrived {n} times");
    }
    let delivered: Vec<String> = seen.into_keys().collect();
    let mut stored_sorted = stored.clone();
    stored_sorted.sort();
    assert_eq!(
        delivered, stored_sorted,
        "every stored message arrives, once"
    );
    for text in &completed {
        assert!(delivered.contains(text), "{text} was reported sent");
    }
    eprintln!(
        "{} of 16 runs completed, {} messages stored and delivered once",
        completed.len(),
        stored.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_from_the_command_line() {
    let server = Server::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (alice, bob) = alice_and_bob(&server, dir.path()).await;
    let invite = parley(&alice, &keys, &["invite", "carol"]).await;
    let carol = dir.path().join("carol");
    parley(
        &carol,
        &keys,
        &["join", String::from_utf8(invite.stdout).unwrap().trim()],
    )
    .await;

    let out = parley(&alice, &keys, &["group", "create", "Ops", "bob", "carol"]).await;
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(id.len(), 64);
    parley(&bob, &keys, &["listen", "--drain"]).await;
    parley(&carol, &keys, &["listen", "--drain"]).await;
    parley(&bob, &keys, &["send", "#Ops", "deploy at 5"]).await;
    let out = parley(&carol, &keys, &["listen", "--drain"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "#Ops bob: deploy at 5\n"
    );
    let out = parley(&alice, &keys, &["listen", "--drain"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "#Ops bob: deploy at 5\n"
    );

    parley(&alice, &keys, &["group", "remove", "Ops", "carol"]).await;
    let out = parley(&carol, &keys, &["listen", "--drain"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "#Ops alice: [removed carol]\n"
    );
    let out = command(&carol, &keys, &["send", "#Ops", "hello?"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    parley(&bob, &keys, &["listen", "--drain"]).await;
    parley(
        &bob,
        &keys,
        &["send", &format!("#{}", &id[..8]), "carol is gone"],
    )
    .await;
    let out = parley(&alice, &keys, &["listen", "--drain"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "#Ops bob: carol is gone\n"
    );
    let out = parley(&carol, &keys, &["listen", "--drain"]).await;
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "");
    let out = parley(&alice, &keys, &["group", "list"]).await;
    let out = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines.contains(&format!("{id}  Ops  (alice, bob; admins alice)").as_str()),
        "{out}"
    );
    // The company channel the directory makes (announcements only); the org's admins act
    // for it.
    assert!(
        lines
            .iter()
            .any(|l| l.ends_with("  Parley  (alice, bob, carol; admins alice)  [announcements]")),
        "{out}"
    );
    let out = parley(&bob, &keys, &["history", "#Ops"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "< alice: [created the group \"Ops\" with alice, bob, carol]\n> deploy at 5\n\
         < alice: [removed carol]\n> carol is gone\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_from_the_command_line() {
    let server = Server::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (alice, bob) = alice_and_bob(&server, dir.path()).await;
    for (user, name, title, department, phone) in [
        (
            "olga",
            "Ольга Семёнова",
            "Главный бухгалтер",
            "Бухгалтерия",
            "+7 (495) 123-45-67",
        ),
        ("anna", "Anna Berg", "Senior Accountant", "Finance", "2202"),
        ("sam", "Sam Accardo", "Engineer", "Platform", "2201"),
        ("gone", "Accent Former", "Accountant", "Finance", ""),
    ] {
        parley(
            &alice,
            &keys,
            &[
                "invite",
                user,
                "--name",
                name,
                "--title",
                title,
                "--department",
                department,
                "--phone",
                phone,
            ],
        )
        .await;
    }
    parley(&alice, &keys, &["admin", "dismiss", "gone", "--yes"]).await;
    parley(&alice, &keys, &["admin", "poster", "anna", "on"]).await;
    let out = parley(&alice, &keys, &["admin", "audit"]).await;
    let audit = String::from_utf8(out.stdout).unwrap();
    assert!(
        audit.contains("anna may post in the company channel"),
        "{audit}"
    );
    let search = async |args: &[&str]| -> Vec<String> {
        let mut all = vec!["--json", "directory", "search"];
        all.extend_from_slice(args);
        let out = parley(&bob, &keys, &all).await;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        json["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["user"].as_str().unwrap().to_owned())
            .collect()
    };
    // Bob, a plain member, finds colleagues from the log he verified: any field, any case,
    // ё as е, word prefixes; a name before a title; the dismissed only when asked.
    assert_eq!(search(&["бухг"]).await, ["olga"]);
    assert_eq!(search(&["СЕМЕН"]).await, ["olga"]);
    assert_eq!(search(&["74951234567"]).await, ["olga"]);
    assert_eq!(search(&["acc"]).await, ["sam", "anna"]);
    assert_eq!(search(&["acc", "--former"]).await, ["gone", "sam", "anna"]);
    assert_eq!(search(&["finance senior"]).await, ["anna"]);
    assert!(search(&["nobody"]).await.is_empty());
    let out = parley(&bob, &keys, &["directory", "search", "бухг"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "olga  Ольга Семёнова — Главный бухгалтер, Бухгалтерия\n"
    );
    let out = parley(&bob, &keys, &["--json", "directory", "show", "anna"]).await;
    let anna: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(anna["title"], "Senior Accountant");
    assert_eq!(anna["phone"], "2202");
    assert_eq!(
        anna["devices"],
        serde_json::json!([]),
        "invited, not yet joined"
    );
    let out = command(&bob, &keys, &["--json", "directory", "show", "nobody"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(err["error"]["code"], "no_such_user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_status_from_the_command_line() {
    let server = Server::start(Backend::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let (alice, bob) = alice_and_bob(&server, dir.path()).await;
    let json = |out: &Output| -> serde_json::Value { serde_json::from_slice(&out.stdout).unwrap() };
    // Alice hands Bob a task due in two seconds; Bob's `listen` tells him, and reminds him.
    let out = parley(
        &alice,
        &keys,
        &[
            "--json",
            "task",
            "new",
            "bob",
            "Sign the NDA",
            "--for",
            "bob",
            "--due",
            "2026-12-11 17:00",
            "--about",
            "the new supplier",
        ],
    )
    .await;
    let task = json(&out);
    assert_eq!(task["assignee"], "bob");
    assert_eq!(task["deadline"], 1_797_008_400_000u64);
    let id = task["id"].as_str().unwrap()[..6].to_owned();
    let out = parley(&bob, &keys, &["listen", "--drain"]).await;
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains("[new task") && shown.contains("\"Sign the NDA\" for bob"),
        "{shown}"
    );
    parley(&bob, &keys, &["task", "status", &id, "in-progress"]).await;
    parley(&bob, &keys, &["task", "comment", &id, "sent to legal"]).await;
    parley(&bob, &keys, &["task", "assign", &id, "alice"]).await;
    parley(&alice, &keys, &["listen", "--drain"]).await;
    let out = parley(&alice, &keys, &["--json", "tasks", "--mine"]).await;
    let list = json(&out)["tasks"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["status"], "in_progress");
    assert_eq!(list[0]["comments"][0]["text"], "sent to legal");
    assert_eq!(list[0]["creator"], "alice");
    let out = parley(&alice, &keys, &["task", "show", &id]).await;
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.starts_with("Sign the NDA\n  in progress · assigned to alice by alice with bob\n  due 2026-12-11 17:00 UTC\n  the new supplier\n"),
        "{shown}"
    );
    assert!(shown.contains(" bob: sent to legal\n"), "{shown}");

    // Bob neither made it nor has it any more: his `tasks` is empty, `--all` shows it.
    let out = parley(&bob, &keys, &["tasks"]).await;
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "no tasks\n");
    let out = parley(&bob, &keys, &["tasks", "--all"]).await;
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(
        shown.contains("  in progress  Sign the NDA → alice, due 2026-12-11 17:00 UTC with alice"),
        "{shown}"
    );

    // A deadline two seconds away: `listen` reminds Alice at once (it is within her lead),
    // and again when it comes.
    parley(&alice, &keys, &["task", "due", &id, "none"]).await;
    let out = parley(&alice, &keys, &["--json", "task", "remind", "off"]).await;
    assert_eq!(json(&out)["lead_secs"], 0);
    let out = parley(&alice, &keys, &["task", "remind", "1h"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "reminders 1 hour before a deadline, and at it\n"
    );
    parley(&alice, &keys, &["task", "due", &id, "3s"]).await;
    let mut listen = command(&alice, &keys, &["--json", "listen"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(listen.stdout.take().unwrap()));
    let mut kinds = Vec::new();
    while kinds.len() < 2 {
        let line = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
            .await
            .expect("reminders came")
            .unwrap()
            .unwrap();
        let event: serde_json::Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "task_reminder" {
            assert_eq!(event["title"], "Sign the NDA");
            kinds.push(event["kind"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(kinds, ["soon", "due"]);
    listen.kill().await.unwrap();

    // A status text: Bob's `listen` shows it, `status list` keeps it.
    let out = parley(
        &alice,
        &keys,
        &["--json", "status", "set", "In a workshop", "--for", "8h"],
    )
    .await;
    assert_eq!(json(&out)["told"], 1);
    let out = parley(&bob, &keys, &["listen", "--drain"]).await;
    let shown = String::from_utf8(out.stdout).unwrap();
    assert!(shown.contains("[status: In a workshop]"), "{shown}");
    let out = parley(&bob, &keys, &["status", "list"]).await;
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "alice  In a workshop\n"
    );

    // An announcement channel: Bob reads, and may not post.
    parley(&alice, &keys, &["group", "create", "News", "bob"]).await;
    let out = parley(
        &alice,
        &keys,
        &["--json", "group", "announce", "News", "on"],
    )
    .await;
    assert_eq!(json(&out)["announcement"], true);
    parley(&bob, &keys, &["listen", "--drain"]).await;
    let out = parley(&bob, &keys, &["group", "list"]).await;
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("[announcements]"),
        "listed as such"
    );
    let out = command(&bob, &keys, &["--json", "send", "#News", "me too"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["code"], "not_a_poster");

    // Usage errors exit 2; an unknown task is refused with its code.
    let out = command(&alice, &keys, &["task", "status", &id, "later"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = command(&alice, &keys, &["--json", "task", "show", "ffffffff"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["error"]["code"], "no_such_task");
}
