//! The desktop app's benchmark (docs/benchmarks.md, "The desktop app"): the real app in
//! WebKitGTK under Xvfb, driven through WebDriver as the end-to-end tests drive it.
//!
//! - **Cold start**: from asking WebDriver for a session (the app process starts) to the
//!   conversation list rendered with its 100 conversations; beside it, the same app to its
//!   first-run screen (no account: the platform's floor, WebKit and the bundle).
//! - **Opening a conversation of 10,000 messages**: from the click to its newest message on
//!   screen, timed inside the page.
//! - **Scrolling it**: frame times while it scrolls up 300 px a frame for 240 frames
//!   (older pages load as it goes), timed by `requestAnimationFrame` inside the page.
//! - **Memory**: resident memory of the app and its WebKit processes with 100
//!   conversations open, beside the first-run screen.
//!
//! The account is made by the engine in-process: Bob's store gets 100 conversations and
//! 10,000 messages from Alice written through the store's own API (the same sealed records
//! receiving writes), then the app opens it. Run with
//! `xvfb-run -a cargo bench -p parley-app --bench app`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    missing_docs
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use parley_client::store::{Conversation, ConversationKind, KeySource, Message, MessageStatus};
use parley_proto::content::{Body, Content, MessageId};
use serde_json::{Value, json};

const RUNS: usize = 5;
const MESSAGES: usize = 10_000;
const CONVERSATIONS: usize = 100;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

/// Writes 100 conversations into Bob's store, one of them with 10,000 messages.
async fn fill(home: &std::path::Path, keys: &std::path::Path) {
    let store = parley_client::unlock::open_store(home, KeySource::key_file_in(keys))
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let start = now - (MESSAGES as u64 + 10) * 60_000;
    for c in 0..CONVERSATIONS {
        let peer = if c == 0 {
            "alice".to_owned()
        } else {
            format!("colleague{c:03}")
        };
        let id = store.direct_conversation_id(&peer);
        tx.set_conversation(&Conversation {
            id,
            kind: ConversationKind::Direct { peer: peer.clone() },
            title: String::new(),
            created_at: start,
            last_read: 0,
            notify: parley_client::store::NotifySettings::default(),
            timer: parley_client::store::Timer::default(),
            announcement: false,
        })
        .await
        .unwrap();
        let n = if c == 0 { MESSAGES } else { 20 };
        for i in 0..n {
            let outgoing = i % 3 == 0;
            let author = if outgoing { "bob" } else { peer.as_str() };
            let mut mid = [0u8; 16];
            mid[..8].copy_from_slice(&(c as u64).to_be_bytes());
            mid[8..].copy_from_slice(&(i as u64).to_be_bytes());
            let sent_at = start + i as u64 * 60_000 + c as u64;
            let text = format!(
                "Message {i} about the quarterly figures, the audit and the plan for next week"
            );
            let content = Content::new(
                MessageId(mid),
                sent_at,
                Body::Text {
                    text,
                    reply_to: None,
                    mentions: Vec::new(),
                    mention_all: false,
                },
            );
            tx.put_message(&Message {
                id: store.message_row_id(author, &mid),
                conversation: id,
                outgoing,
                timestamp: sent_at,
                sender: parley_crypto::DeviceAddress::new(author, 1).unwrap(),
                sent_at,
                body: content.to_bytes(),
                status: if outgoing {
                    MessageStatus::Read
                } else {
                    MessageStatus::Seen
                },
                expires_at: None,
            })
            .await
            .unwrap();
        }
    }
    tx.commit().await.unwrap();
    store.close().await;
}

/// Proportional resident memory (PSS, KiB: shared pages split between the processes that
/// map them) of the app and the WebKit processes it started.
fn memory_kib() -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmd) = std::fs::read_to_string(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = cmd.replace('\0', " ");
        let ours = cmd.contains("parley-app")
            || cmd.contains("WebKitWebProcess")
            || cmd.contains("WebKitNetworkProcess");
        if !ours {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("smaps_rollup")).unwrap_or_default();
        for line in status.lines() {
            if let Some(v) = line.strip_prefix("Pss:") {
                total += v
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap_or(0);
            }
        }
    }
    total
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; anything else (a filter) is ignored.
    let server = Server::start(Backend::Sqlite).await;
    let (org, alice) = parley_e2e::Org::create(&server, "alice").await;
    let bob = org.invite(&alice, "bob").await;
    let (home, keys) = (bob.home.clone(), org.key_dir());
    bob.m.close().await;
    fill(&home, &keys).await;

    let env = [
        ("PARLEY_HOME", home.to_str().unwrap()),
        ("PARLEY_KEY_DIR", keys.to_str().unwrap()),
    ];

    // The floor: the first-run screen of a fresh app.
    let mut floor_start = Vec::new();
    let mut floor_mem = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let app = App::start(&[]).await;
        app.find(&App::id("invite-input", "")).await;
        floor_start.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        floor_mem.push(memory_kib() as f64 / 1024.0);
        app.quit().await;
    }

    let mut start = Vec::new();
    let mut open = Vec::new();
    let mut mem = Vec::new();
    let mut frames = Vec::new();
    let mut page_call = Vec::new();
    let mut list_call = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let app = App::start(&env).await;
        let deadline = Instant::now() + PATIENCE;
        while app.find_all(&App::id("chat-item", "")).await.len() < CONVERSATIONS {
            assert!(
                Instant::now() < deadline,
                "the list never showed 100 conversations"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        start.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        mem.push(memory_kib() as f64 / 1024.0);

        // The two commands the view waits for, alone: a page of 200 rows, the list of 100.
        let calls = app
            .script(
                "const invoke = window.__TAURI_INTERNALS__.invoke; const t0 = performance.now(); \
                 return invoke('timeline', {chat: {kind: 'user', user: 'alice'}, before: null, limit: 200}) \
                   .then(() => { const t1 = performance.now(); \
                     return invoke('conversations').then(() => [t1 - t0, performance.now() - t1]); });",
                vec![],
            )
            .await;
        page_call.push(calls[0].as_f64().unwrap_or(f64::NAN));
        list_call.push(calls[1].as_f64().unwrap_or(f64::NAN));

        let item = app
            .find(&App::id("chat-item", "[data-chat=\"alice\"]"))
            .await;
        let newest = format!("{:016x}{:016x}", 0u64, (MESSAGES - 1) as u64);
        let ms = app
            .script(
                "const [el, id] = arguments; const t0 = performance.now(); el.click(); \
                 return new Promise(done => { const tick = () => { \
                   if (document.querySelector(`[data-testid=\"message\"][data-id=\"${id}\"]`)) \
                     done(performance.now() - t0); else requestAnimationFrame(tick); }; tick(); });",
                vec![item, json!(newest)],
            )
            .await;
        open.push(ms.as_f64().unwrap_or(f64::NAN));

        let list = app.find(&App::id("message-list", "")).await;
        let deltas = app
            .script(
                "const list = arguments[0]; \
                 const scroller = [list, ...list.querySelectorAll('*')].find(e => \
                   e.scrollHeight > e.clientHeight + 10 && getComputedStyle(e).overflowY !== 'visible') || list; \
                 return new Promise(done => { const out = []; let last = performance.now(); let n = 0; \
                   const step = now => { out.push(now - last); last = now; scroller.scrollTop -= 300; \
                     if (++n < 240) requestAnimationFrame(step); else done(out.slice(1)); }; \
                   requestAnimationFrame(step); });",
                vec![list],
            )
            .await;
        if let Value::Array(d) = deltas {
            frames.extend(d.iter().filter_map(Value::as_f64));
        }
        app.quit().await;
    }

    println!("The desktop app (WebKitGTK under Xvfb, software rendering), {RUNS} runs, medians:");
    println!(
        "  cold start to the first-run screen (floor):     {:>8.0} ms",
        median(floor_start)
    );
    println!(
        "  cold start to the list of {CONVERSATIONS} conversations:      {:>8.0} ms",
        median(start)
    );
    println!(
        "  opening a conversation of {MESSAGES} messages:     {:>8.1} ms",
        median(open)
    );
    println!(
        "    of which the command for its first 200 rows:  {:>8.1} ms",
        median(page_call)
    );
    println!(
        "    and the list of {CONVERSATIONS} conversations (reloaded on open): {:>5.1} ms",
        median(list_call)
    );
    println!(
        "  scrolling it, frame time p50 / p95 / max:       {:>8.1} / {:.1} / {:.1} ms ({} frames)",
        percentile(frames.clone(), 0.5),
        percentile(frames.clone(), 0.95),
        percentile(frames.clone(), 1.0),
        frames.len()
    );
    println!(
        "  memory (PSS), first-run screen (floor):         {:>8.0} MiB",
        median(floor_mem)
    );
    println!(
        "  memory (PSS) with {CONVERSATIONS} conversations:           {:>8.0} MiB",
        median(mem)
    );
    drop(alice);
    drop(server);
}
