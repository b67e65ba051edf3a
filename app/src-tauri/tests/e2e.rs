//! The real app as a person uses it, in a real WebView (WebKitGTK through WebDriver), against
//! a real `parley-server`, with `parley` CLI colleagues on the other side:
//! - join with an invite; send a message the CLI receives; receive a reply that renders; edit
//!   and react, and the CLI gets both; send a file, see the progress reach 100 %, and the CLI
//!   gets the same bytes; receive an image and see its preview; as an admin, revoke a CLI
//!   user's device (the app stops offering it) and dismiss a user;
//! - an admin wipes the app's own device from the CLI: the app shows the wiped screen, its
//!   data directory is gone, and the admin's CLI verifies the signed receipt;
//! - in a Russian locale the main screens are in Russian.
//!
//! Screenshots of the main screens, in both languages and both themes, are written to
//! `$PARLEY_SCREENSHOTS` (`docs/screenshots/` when refreshing them) or the target folder.
//! Run under an X display: `xvfb-run -a cargo test -p parley-app --test e2e`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;
use serde_json::Value;

/// One app at a time: they share the display and the machine's cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Joins the app with an invite as a person does: paste, check whom they join, join.
async fn join(app: &App, invite: &str) {
    app.type_into(&App::id("invite-input", ""), invite).await;
    app.click_on(&App::id("invite-continue", "")).await;
    app.wait_text(&App::id("preview-org-name", ""), |t| {
        t.contains("Acme Bank")
    })
    .await;
    app.click_on(&App::id("join-button", "")).await;
    app.find(&App::id("chat-list", "")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_chat_edit_react_files_and_admin() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_server, alice) = org().await;
    let invite = invite(&alice, "bob", "Bob Stone", "admin").await;
    let carol = cli_colleague(&alice, "carol", "Carol Reed").await;
    let shots = screenshots();

    let app = App::start(&[]).await;
    app.find(&App::id("invite-input", "")).await;
    app.screenshot(&shots.join("welcome-en-light.png")).await;
    join(&app, &invite).await;

    // Alice writes first; the app shows her message in her conversation.
    alice
        .run(&["send", "bob", "Hello Bob, welcome aboard"])
        .await;
    app.click_on(&App::id("chat-item", "[data-chat=\"alice\"]"))
        .await;
    app.wait_text(&App::id("message-text", ""), |t| {
        t.contains("Hello Bob, welcome aboard")
    })
    .await;

    // Bob answers with Enter; Alice's CLI receives it.
    app.type_into(&App::id("composer-input", ""), "Thanks Alice\u{E007}")
        .await;
    app.find(&App::id("message", "[data-outgoing=\"true\"]"))
        .await;
    alice.run(&["listen", "--drain"]).await;
    let history = alice.history("bob").await;
    assert!(
        history
            .iter()
            .any(|(a, t, _)| a == "bob" && t == "Thanks Alice"),
        "{history:?}"
    );

    // Bob edits his message and reacts to Alice's; the CLI gets both.
    let mine = app
        .find(&App::id("message", "[data-outgoing=\"true\"]"))
        .await;
    app.click_in(&mine, "action-edit").await;
    app.clear(&App::id("composer-input", "")).await;
    app.type_into(&App::id("composer-input", ""), "Thanks, Alice!\u{E007}")
        .await;
    app.find(&App::id("edited-mark", "")).await;
    let hers = app
        .find(&App::id("message", "[data-author=\"alice\"]"))
        .await;
    app.click_in(&hers, "action-react").await;
    app.click_on(&App::id("emoji-👍", "")).await;
    app.find(&App::id("reaction-chip", "[data-emoji=\"👍\"]"))
        .await;
    alice.run(&["listen", "--drain"]).await;
    let history = alice.history("bob").await;
    assert!(
        history
            .iter()
            .any(|(a, t, edited)| a == "bob" && t == "Thanks, Alice!" && *edited),
        "the edit reached the CLI: {history:?}"
    );
    assert!(
        history
            .iter()
            .any(|(a, t, _)| a == "bob" && t.contains("reacted 👍")),
        "the reaction reached the CLI: {history:?}"
    );

    // Bob sends a file through the system's file dialog; the progress bar reaches 100 % and
    // Alice gets the same bytes.
    let files = tempfile::tempdir().unwrap();
    let report = files.path().join("q3-report.bin");
    let bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&report, &bytes).unwrap();
    app.click_on(&App::id("attach-button", "")).await;
    answer_file_dialog(&report).await;
    app.wait_text(&App::id("upload-percent", ""), |t| t.contains("100"))
        .await;
    let progress = app.find(&App::id("upload-progress", "")).await;
    assert_eq!(
        app.attr(&progress, "value").await,
        app.attr(&progress, "max").await
    );
    let downloads = files.path().join("alice-downloads");
    alice
        .run(&[
            "listen",
            "--drain",
            "--download-dir",
            downloads.to_str().unwrap(),
        ])
        .await;
    assert_eq!(
        std::fs::read(downloads.join("q3-report.bin")).unwrap(),
        bytes,
        "the CLI got the same bytes"
    );

    // Alice sends an image; the app shows its preview.
    let png = files.path().join("chart.png");
    std::fs::write(&png, chart_png()).unwrap();
    alice
        .run(&["send-file", "bob", png.to_str().unwrap()])
        .await;
    let img = app.find(&App::id("image-preview", "")).await;
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let src = app.attr(&img, "src").await.unwrap_or_default();
        let width = app
            .script("return arguments[0].naturalWidth", vec![img.clone()])
            .await;
        if src.starts_with("data:image/png;base64,") && width == 240 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no decoded preview: {width} {src:.40}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    app.screenshot(&shots.join("conversation-en-light.png"))
        .await;

    // Notifications for Alice: never. The engine stores it; the list shows the bell off.
    app.click_on(&App::id("notify-button", "")).await;
    app.click_on(&App::id("notify-none", "")).await;
    app.click_on(&App::id("notify-save", "")).await;
    app.find(&App::id("chat-muted", "")).await;
    app.click_on(&App::id("notify-button", "")).await;
    let none = app.find(&App::id("notify-none", "")).await;
    let checked = app.script("return arguments[0].checked", vec![none]).await;
    assert_eq!(checked, Value::from(true), "the setting was stored");
    app.click_on(&App::id("notify-all", "")).await;
    app.click_on(&App::id("notify-save", "")).await;
    app.wait_gone(&App::id("chat-muted", "")).await;

    // Disappearing messages for both: Alice's CLI learns the timer, the app shows who set it.
    app.click_on(&App::id("timer-button", "")).await;
    app.select(&App::id("timer-select", ""), "30").await;
    app.click_on(&App::id("timer-save", "")).await;
    app.wait_text(&App::id("timer-notice", ""), |t| t.contains("30 seconds"))
        .await;
    alice.run(&["listen", "--drain"]).await;
    let timer = alice.run(&["--json", "disappear", "bob"]).await;
    assert!(timer.contains("\"secs\":30"), "{timer}");
    app.click_on(&App::id("timer-button", "")).await;
    app.select(&App::id("timer-select", ""), "0").await;
    app.click_on(&App::id("timer-save", "")).await;
    app.wait_text(&App::id("timer-button", ""), |t| !t.contains("30"))
        .await;

    // A task for Alice from the app; her CLI sees it, finishes it and comments; the app
    // shows both in the conversation and on the task.
    app.click_on(&App::id("tasks-button", "")).await;
    app.click_on(&App::id("new-task", "")).await;
    app.type_into(&App::id("new-task-title", ""), "Send the Q3 figures")
        .await;
    app.select(&App::id("new-task-assignee", ""), "alice").await;
    app.type_into(&App::id("new-task-description", ""), "for the board pack")
        .await;
    app.click_on(&App::id("new-task-create", "")).await;
    app.wait_text(&App::id("task-title", ""), |t| t == "Send the Q3 figures")
        .await;
    alice.run(&["listen", "--drain"]).await;
    let mine = alice.run(&["--json", "tasks", "--mine"]).await;
    assert!(
        mine.contains("\"title\":\"Send the Q3 figures\"") && mine.contains("\"creator\":\"bob\""),
        "{mine}"
    );
    let id = mine
        .split("\"id\":\"")
        .nth(1)
        .and_then(|rest| rest.get(..8))
        .unwrap()
        .to_owned();
    alice
        .run(&["task", "comment", &id, "attached to the pack"])
        .await;
    alice.run(&["task", "status", &id, "done"]).await;
    app.wait_text(&App::id("task-status-badge", ""), |t| t == "Done")
        .await;
    app.wait_text(&App::id("task-comment-line", ""), |t| {
        t.contains("attached to the pack")
    })
    .await;
    app.screenshot(&shots.join("tasks-en-light.png")).await;
    app.click_on(&App::id("tasks-close", "")).await;
    let notices = app.find_all(&App::id("task-notice", "")).await;
    let mut said = Vec::new();
    for n in &notices {
        said.push(app.text(n).await);
    }
    assert!(
        said.iter()
            .any(|t| t.contains("marked “Send the Q3 figures”: Done")),
        "{said:?}"
    );

    // In the Risk department's group, "@ca" offers Carol; Enter picks her, Enter sends, and
    // Carol's CLI gets the message with her mentioned.
    app.script(
        "[...document.querySelectorAll('[data-testid=\"chat-item\"]')] \
         .find((e) => e.textContent.includes('Risk')).click(); return true",
        vec![],
    )
    .await;
    app.wait_text(&App::id("conversation-title", ""), |t| t == "Risk")
        .await;
    app.type_into(&App::id("composer-input", ""), "Figures are in, @ca")
        .await;
    app.wait_text(&App::id("mention-option", ""), |t| t.contains("@carol"))
        .await;
    app.screenshot(&shots.join("mentions-en-light.png")).await;
    app.type_into(&App::id("composer-input", ""), "\u{E007}")
        .await;
    app.type_into(&App::id("composer-input", ""), "\u{E007}")
        .await;
    app.wait_text(&App::id("mention", ""), |t| t == "@carol")
        .await;
    let heard = carol.run(&["--json", "listen", "--drain"]).await;
    assert!(
        heard
            .lines()
            .any(|l| l.contains("Figures are in, @carol") && l.contains("\"mentioned\":true")),
        "{heard}"
    );

    // A group made in the app with Carol: her CLI reads the first message and answers into
    // the group; the app renames the group and her CLI sees the new name; then the app
    // removes her, and her CLI no longer has the group.
    app.click_on(&App::id("new-group", "")).await;
    app.type_into(&App::id("group-name", ""), "Audit").await;
    app.click_on(&App::id("group-member", "[data-user=\"carol\"]"))
        .await;
    app.click_on(&App::id("group-create", "")).await;
    app.wait_text(&App::id("conversation-title", ""), |t| t == "Audit")
        .await;
    app.type_into(
        &App::id("composer-input", ""),
        "Audit starts Monday\u{E007}",
    )
    .await;
    let deadline = std::time::Instant::now() + PATIENCE;
    let mut heard = String::new();
    while !heard.contains("Audit starts Monday") {
        assert!(std::time::Instant::now() < deadline, "{heard}");
        heard.push_str(&carol.run(&["--json", "listen", "--drain"]).await);
    }
    carol
        .run(&["send", "#Audit", "I will bring the ledgers"])
        .await;
    app.wait_page("I will bring the ledgers").await;
    app.click_on(&App::id("group-members-button", "")).await;
    app.clear(&App::id("group-rename-input", "")).await;
    app.type_into(&App::id("group-rename-input", ""), "Audit 2026")
        .await;
    app.click_on(&App::id("group-rename", "")).await;
    app.wait_text(&App::id("conversation-title", ""), |t| t == "Audit 2026")
        .await;
    carol.run(&["listen", "--drain"]).await;
    let groups = carol.run(&["--json", "group", "list"]).await;
    assert!(groups.contains("\"Audit 2026\""), "{groups}");
    let row = app
        .find(&App::id("group-member-row", "[data-user=\"carol\"]"))
        .await;
    app.click_in(&row, "group-remove").await;
    app.wait_gone(&App::id("group-member-row", "[data-user=\"carol\"]"))
        .await;
    app.click_on(&App::id("group-close", "")).await;
    // Carol keeps what she read, but is no longer a member.
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        carol.run(&["listen", "--drain"]).await;
        let groups: Value =
            serde_json::from_str(&carol.run(&["--json", "group", "list"]).await).unwrap();
        let audit = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["name"] == "Audit 2026")
            .cloned()
            .unwrap_or_default();
        if audit["members"] == serde_json::json!(["bob"]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{audit}");
    }

    // As an admin: revoke Carol's device (lost). The confirmation names her and the device;
    // afterwards the app offers no action on it, and Carol's CLI is refused.
    app.click_on(&App::id("nav-admin", "")).await;
    app.click_on(&App::id("admin-tab-users", "")).await;
    let row = App::id("device-row", "[data-user=\"carol\"][data-device=\"1\"]");
    let device = app.find(&row).await;
    app.click_in(&device, "device-revoke").await;
    let dialog = app
        .wait_text(&App::id("confirm-dialog", ""), |t| t.contains("carol"))
        .await;
    assert!(
        dialog.contains('1'),
        "the dialog names the device: {dialog}"
    );
    app.screenshot(&shots.join("admin-confirm-en-light.png"))
        .await;
    app.click_on(&App::id("confirm-ok", "")).await;
    let revoked = App::id(
        "device-row",
        "[data-user=\"carol\"][data-device=\"1\"][data-revoked=\"lost\"]",
    );
    let device = app.find(&revoked).await;
    let offered = app
        .script(
            "return arguments[0].querySelectorAll('[data-testid^=\"device-\"]').length",
            vec![device],
        )
        .await;
    assert_eq!(offered, Value::from(0), "a revoked device offers no action");
    let refused = carol.try_run(&["send", "alice", "still here?"]).await;
    assert!(
        !refused.status.success(),
        "Carol's revoked device is refused"
    );

    // Dismiss Carol: the audit log shows it, signed by Bob's device.
    let dismiss = app
        .find(&App::id("admin-user", "[data-user=\"carol\"]"))
        .await;
    app.click_in(&dismiss, "user-dismiss").await;
    app.wait_text(&App::id("confirm-dialog", ""), |t| t.contains("carol"))
        .await;
    app.click_on(&App::id("confirm-ok", "")).await;
    // The console shows her as a former colleague once the entry is appended.
    app.find(".admin-user.former[data-user=\"carol\"]").await;
    app.click_on(&App::id("admin-tab-audit", "")).await;
    app.find(&App::id("audit-line", "[data-kind=\"user-dismissed\"]"))
        .await;
    app.screenshot(&shots.join("admin-audit-en-light.png"))
        .await;
    let audit = alice.run(&["admin", "audit"]).await;
    assert!(audit.contains("carol dismissed"), "{audit}");

    // The dark theme.
    app.click_on(&App::id("nav-settings", "")).await;
    app.select(&App::id("theme-select", ""), "dark").await;
    let theme = app
        .script("return document.documentElement.dataset.theme", vec![])
        .await;
    assert_eq!(theme, Value::from("dark"));
    app.click_on(&App::id("nav-chats", "")).await;
    app.click_on(&App::id("chat-item", "[data-chat=\"alice\"]"))
        .await;
    app.wait_text(&App::id("conversation-title", ""), |t| t.contains("alice"))
        .await;
    app.find(&App::id("image-preview", "")).await;
    app.screenshot(&shots.join("conversation-en-dark.png"))
        .await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_wipe_leaves_nothing_and_is_receipted() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_server, alice) = org().await;
    let invite = invite(&alice, "dan", "Dan Wolf", "member").await;
    let app = App::start(&[]).await;
    // Where CI runs a Secret Service (gnome-keyring on a private D-Bus), the store key goes
    // there and no key file is written; elsewhere into a key file.
    let keyring = std::env::var_os("PARLEY_E2E_KEYSTORE").is_some();
    let before = keyring_entries();
    join(&app, &invite).await;
    let key_files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(app.data.path().join("keys"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "key"))
                    .collect()
            })
            .unwrap_or_default()
    };
    if keyring {
        assert_eq!(keyring_entries(), before + 1, "the key is in the keyring");
        assert!(key_files().is_empty(), "and in no file: {:?}", key_files());
    } else {
        assert_eq!(key_files().len(), 1);
    }
    alice
        .run(&["send", "dan", "Quarterly numbers attached"])
        .await;
    app.find(&App::id("chat-item", "[data-chat=\"alice\"]"))
        .await;
    let home = app.home();
    assert!(home.exists());

    alice.run(&["admin", "wipe", "dan", "1", "--yes"]).await;
    app.find(&App::id("gone-screen", "[data-reason=\"wiped\"]"))
        .await;
    app.screenshot(&screenshots().join("wiped-en-light.png"))
        .await;
    let deadline = std::time::Instant::now() + PATIENCE;
    while home.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the account directory is still there: {:?}",
            std::fs::read_dir(&home).map(|d| d.count())
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(key_files().is_empty(), "the store key is destroyed");
    assert_eq!(keyring_entries(), before, "the keyring entry is destroyed");

    let audit = alice.run(&["admin", "audit"]).await;
    assert!(
        audit.contains("dan.1 wiped itself on order"),
        "the admin's CLI verified the device's signed receipt: {audit}"
    );
    app.quit().await;
}

/// The app opened by a `parley-invite:` link shows whom it joins at once; a second link
/// opened while it runs goes to the running app (one process per account, over D-Bus where
/// a session bus runs), which says that this computer already has an account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invite_link_opens_the_app_on_its_preview() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_server, alice) = org().await;
    let link = invite(&alice, "erin", "Erin Cole", "member").await;
    let app = App::start_with_args(&[], &[&link]).await;
    app.wait_text(&App::id("preview-user", ""), |t| t.contains("Erin Cole"))
        .await;
    app.wait_text(&App::id("preview-org-name", ""), |t| {
        t.contains("Acme Bank")
    })
    .await;
    app.click_on(&App::id("join-button", "")).await;
    app.find(&App::id("chat-list", "")).await;

    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        let again = invite(&alice, "fred", "Fred Hall", "member").await;
        let second = tokio::process::Command::new(env!("CARGO_BIN_EXE_parley-app"))
            .arg(&again)
            .env("PARLEY_HOME", app.home())
            .env("PARLEY_KEY_DIR", app.data.path().join("keys"))
            .env("GSETTINGS_BACKEND", "memory")
            .kill_on_drop(true)
            .status();
        let status = tokio::time::timeout(PATIENCE, second)
            .await
            .expect("the second start handed over and ended")
            .unwrap();
        assert!(status.success(), "{status:?}");
        app.wait_text(&App::id("app-notice", ""), |t| {
            t.contains("already has a Parley account")
        })
        .await;
    }
    app.quit().await;
}

/// How many store keys the Secret Service holds (`secret-tool`; 0 where none runs).
fn keyring_entries() -> usize {
    std::process::Command::new("secret-tool")
        .args([
            "search",
            "--all",
            "service",
            parley_client::store::KEYSTORE_SERVICE,
        ])
        .output()
        .map(|o| {
            // Items are listed on stdout, each from a "[/org/freedesktop/secrets/…]" line.
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .chain(String::from_utf8_lossy(&o.stderr).lines())
                .filter(|l| l.starts_with("[/"))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_russian_locale_renders_in_russian() {
    let _one = ONE_AT_A_TIME.lock().await;
    let (_server, alice) = org().await;
    let invite = invite(&alice, "ivan", "Иван Петров", "admin").await;
    let app = App::start(&[("LANG", "ru_RU.UTF-8"), ("LC_ALL", "ru_RU.UTF-8")]).await;
    // The first-run screen is in Russian before anyone chose a language.
    app.wait_page("Войти по приглашению").await;
    app.screenshot(&screenshots().join("welcome-ru-light.png"))
        .await;
    join(&app, &invite).await;
    alice.run(&["send", "ivan", "Добрый день!"]).await;
    app.click_on(&App::id("chat-item", "[data-chat=\"alice\"]"))
        .await;
    app.wait_text(&App::id("message-text", ""), |t| t.contains("Добрый день"))
        .await;
    let lang = app
        .script("return document.documentElement.lang", vec![])
        .await;
    assert_eq!(lang, Value::from("ru"));
    app.screenshot(&screenshots().join("conversation-ru-light.png"))
        .await;
    app.click_on(&App::id("nav-directory", "")).await;
    app.wait_page("Иван Петров").await;
    // The engine's search: case and ё/е ignored, a word's prefix.
    app.type_into(&App::id("directory-search", ""), "ПЁТР")
        .await;
    app.wait_text("ul.people", |t| {
        t.contains("Иван Петров") && !t.contains("lice")
    })
    .await;
    app.click_on(&App::id("nav-admin", "")).await;
    app.click_on(&App::id("admin-tab-users", "")).await;
    app.wait_page("Завершить сеанс").await;
    app.click_on(&App::id("nav-settings", "")).await;
    app.select(&App::id("theme-select", ""), "dark").await;
    app.click_on(&App::id("nav-admin", "")).await;
    app.screenshot(&screenshots().join("admin-ru-dark.png"))
        .await;
    app.quit().await;
}
