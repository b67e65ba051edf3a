//! The client engine end to end, with the real relay on this machine (issue 4's benchmark):
//!
//! - latency from `send` in one client to the event in the receiving client, p50/p99, 1:1 and
//!   to a 50-member group (one sample per receiving member device);
//! - how many messages per second one client can send (each `send` returns once the relay
//!   has stored the message), 1:1 and to the group, while the recipients receive.
//!
//! `cargo bench -p parley-e2e --bench messaging [-- postgres] [-- --quick] [-- direct]`
//! (`direct`: the 1:1 figures only, with one colleague instead of 49, quick to repeat);
//! prints a Markdown table on stdout. Latency samples are sequential (the next message is sent once
//! every recipient has the previous one), so they hold no queueing delay.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use parley_client::messaging::{Event, Messenger, Target};
use parley_e2e::{Backend, Device, Org, Server};
use tokio::sync::mpsc;

/// Runs `m`'s event stream on a task, forwarding (text, arrival) for every message.
fn listen(m: Arc<Messenger>, out: mpsc::UnboundedSender<(String, Instant)>) {
    tokio::spawn(async move {
        let mut events = m.events().await.unwrap();
        while let Some(event) = events.next().await {
            if let Ok(Event::Message(msg)) = event
                && let Some(text) = msg.text()
                && out.send((text.to_owned(), Instant::now())).is_err()
            {
                break;
            }
        }
    });
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

struct Latency {
    p50: f64,
    p99: f64,
    n: usize,
    /// Median time `send` took (until the relay had the message).
    send_p50: f64,
}

/// Sends `count` messages from `sender` to `to`, one at a time, each once all `receivers`
/// got the previous; returns the latencies in ms.
async fn latency(
    sender: &Messenger,
    to: &Target,
    rx: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    receivers: usize,
    count: usize,
) -> Latency {
    let mut samples = Vec::with_capacity(count * receivers);
    let mut sends = Vec::with_capacity(count);
    for i in 0..count {
        let text = format!("lat {i}");
        let start = Instant::now();
        sender.send_text(to, &text).await.unwrap();
        sends.push(start.elapsed().as_secs_f64() * 1000.0);
        let mut got = 0;
        while got < receivers {
            let (t, at) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
                .await
                .expect("delivered in time")
                .unwrap();
            if t == text {
                samples.push(at.duration_since(start).as_secs_f64() * 1000.0);
                got += 1;
            }
        }
    }
    samples.sort_by(f64::total_cmp);
    sends.sort_by(f64::total_cmp);
    Latency {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
        n: samples.len(),
        send_p50: percentile(&sends, 0.5),
    }
}

/// Sends `count` messages back to back; returns messages/s until the last `send` returned,
/// and until every receiver had every message.
async fn throughput(
    sender: &Messenger,
    to: &Target,
    rx: &mut mpsc::UnboundedReceiver<(String, Instant)>,
    receivers: usize,
    count: usize,
) -> (f64, f64) {
    let start = Instant::now();
    for i in 0..count {
        sender.send_text(to, &format!("tp {i}")).await.unwrap();
    }
    let sent = start.elapsed().as_secs_f64();
    let mut got = 0;
    while got < count * receivers {
        let (t, _) = tokio::time::timeout(Duration::from_secs(120), rx.recv())
            .await
            .expect("delivered in time")
            .unwrap();
        if t.starts_with("tp ") {
            got += 1;
        }
    }
    let delivered = start.elapsed().as_secs_f64();
    (count as f64 / sent, count as f64 / delivered)
}

/// The floor under the numbers above, measured in the same run: one HTTP round trip to the
/// relay (`GET /healthz`) and one durable commit of the client store (a small record,
/// `synchronous = FULL`), p50 in ms.
async fn floors(m: &Messenger, n: usize) -> (Latency, Latency) {
    let mut http = Vec::with_capacity(n);
    let mut commit = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        m.relay().health().await.unwrap();
        http.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let mut tx = m.store().begin().await.unwrap();
        let mut contact = tx.contact(m.user()).await.unwrap().unwrap();
        contact.display_name = format!("{}", t.elapsed().as_nanos());
        tx.set_contact(&contact).await.unwrap();
        tx.commit().await.unwrap();
        commit.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let stats = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        Latency {
            p50: percentile(&v, 0.5),
            p99: percentile(&v, 0.99),
            n: v.len(),
            send_p50: 0.0,
        }
    };
    (stats(http), stats(commit))
}

fn print_table(
    backend: Backend,
    direct: &Latency,
    grouped: Option<&Latency>,
    http: &Latency,
    commit: &Latency,
) {
    println!(
        "| measurement ({backend:?}) | p50 ms | p99 ms | samples | `send` returned, p50 ms |\n|---|---:|---:|---:|---:|"
    );
    println!(
        "| 1:1 send → event | {:.2} | {:.2} | {} | {:.2} |",
        direct.p50, direct.p99, direct.n, direct.send_p50
    );
    if let Some(grouped) = grouped {
        println!(
            "| 50-member group send → event (each of 49 devices) | {:.2} | {:.2} | {} | {:.2} |",
            grouped.p50, grouped.p99, grouped.n, grouped.send_p50
        );
    }
    println!(
        "| floor: one HTTP round trip to the relay (GET /healthz) | {:.2} | {:.2} | {} | |",
        http.p50, http.p99, http.n
    );
    println!(
        "| floor: one durable commit of the client store | {:.2} | {:.2} | {} | |",
        commit.p50, commit.p99, commit.n
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let backend = if args.iter().any(|a| a == "postgres") {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    let quick = args.iter().any(|a| a == "--quick");
    // Only the 1:1 figures (no group, so one colleague is enrolled, not 49): quick to repeat.
    let direct_only = args.iter().any(|a| a == "direct");
    let (lat_n, tp_n, group_lat_n, group_tp_n) = if quick {
        (20, 50, 5, 10)
    } else {
        (300, 1000, 50, 100)
    };
    let server = Server::start(backend).await;
    let (org, alice) = Org::create(&server, "alice").await;
    let colleagues = if direct_only { 1 } else { 49 };
    eprintln!("enrolling {colleagues} colleagues…");
    let mut members: Vec<Device> = Vec::new();
    for i in 1..=colleagues {
        members.push(org.invite(&alice, &format!("user{i:02}")).await);
    }
    let alice = Arc::new(alice.m);

    // 1:1: alice -> user01.
    let bob = Arc::new(members.remove(0).m);
    let (tx, mut rx) = mpsc::unbounded_channel();
    listen(bob.clone(), tx);
    let to_bob = Target::User(parley_proto::UserId::new("user01").unwrap());
    latency(&alice, &to_bob, &mut rx, 1, 10).await; // sessions, warm-up
    let direct = latency(&alice, &to_bob, &mut rx, 1, lat_n).await;
    let direct_tp = throughput(&alice, &to_bob, &mut rx, 1, tp_n).await;

    if direct_only {
        let (http, commit) = floors(&alice, lat_n).await;
        print_table(backend, &direct, None, &http, &commit);
        println!(
            "\n| throughput ({backend:?}) | sends/s (send returned) | messages/s (all delivered) |\n|---|---:|---:|\n| 1:1, {tp_n} messages | {:.0} | {:.0} |",
            direct_tp.0, direct_tp.1
        );
        return;
    }

    // The group: alice and 49 others.
    let mut ids = vec![parley_proto::UserId::new("user01").unwrap()];
    ids.extend(members.iter().map(Device::user));
    let group = alice.create_group("Everyone", &ids).await.unwrap();
    let (tx, mut grx) = mpsc::unbounded_channel();
    listen(bob.clone(), tx.clone());
    for d in members {
        listen(Arc::new(d.m), tx.clone());
    }
    drop(tx);
    let to_group = Target::Group(group);
    eprintln!("warming up the group (sender-key distribution to 49 devices)…");
    latency(&alice, &to_group, &mut grx, 49, 3).await;
    let grouped = latency(&alice, &to_group, &mut grx, 49, group_lat_n).await;
    let group_tp = throughput(&alice, &to_group, &mut grx, 49, group_tp_n).await;
    let (http, commit) = floors(&alice, lat_n).await;

    print_table(backend, &direct, Some(&grouped), &http, &commit);
    println!(
        "\n| throughput ({backend:?}) | sends/s (send returned) | messages/s (all delivered) |\n|---|---:|---:|"
    );
    println!(
        "| 1:1, {tp_n} messages | {:.0} | {:.0} |",
        direct_tp.0, direct_tp.1
    );
    println!(
        "| 50-member group, {group_tp_n} messages | {:.0} | {:.0} |",
        group_tp.0, group_tp.1
    );
    drop(org);
}
