//! The cost of a department move for a 200-member department group, with the real relay on
//! this machine.
//!
//! **The scene.** The admin `alice` and 200 users `user000` … `user199` in the department
//! "Finance", one device each, all listening (their event streams run on tasks). Before the
//! rounds, `user199` writes to the Finance group so that every member holds its sender key.
//!
//! **A round.** The admin moves one member (`user000`, then `user001`, …) to "Sales"
//! ([`Messenger::update_user`]); the clock starts just before the call. The relay appends
//! the entry and announces the log's new length; each client's stream runs `sync_org`, which
//! brings the directory's groups in step (the remaining members drop their sender keys: the
//! rotation) and yields `Event::DirectoryGroupsChanged`. Measured:
//! - **rotated**: for each of the 199 other members, the time until its stream yielded the
//!   event (from then on its next Finance message starts a fresh chain the leaver never gets);
//! - **first message after**: `user199` writes to Finance: the time until `send` returned
//!   (a fresh sender key distributed pairwise to the other 198 members' devices, then one
//!   group envelope each) and until each of them had the text.
//!
//! The anchor, measured in the same run before the first move: `user199`'s first message to
//! Finance, which distributes its sender key to the 199 other members the same way.
//!
//! `cargo bench -p parley-e2e --bench department [-- --quick]`; a Markdown table on stdout
//! (progress on stderr). `--quick` runs 1 round, the full run 3. Everything is on loopback
//! and the 201 clients share the machine's cores with the relay.
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
use parley_e2e::{Backend, Org, Server, profile};
use parley_proto::UserId;
use parley_proto::org::{Profile, department_group};
use tokio::sync::mpsc;

/// Members of the department.
const MEMBERS: usize = 200;
/// How long any step may take before the bench gives up.
const STEP: Duration = Duration::from_secs(300);

#[derive(Debug)]
enum Seen {
    CaughtUp,
    GroupsChanged,
    Text(String),
}

/// Runs `m`'s event stream on a task, reporting what it sees as `who`.
fn listen(who: usize, m: Arc<Messenger>, out: mpsc::UnboundedSender<(usize, Seen, Instant)>) {
    tokio::spawn(async move {
        let mut events = m.events().await.unwrap();
        while let Some(Ok(event)) = events.next().await {
            let seen = match event {
                Event::CaughtUp => Seen::CaughtUp,
                Event::DirectoryGroupsChanged { .. } => Seen::GroupsChanged,
                Event::Message(msg) => match msg.text() {
                    Some(t) => Seen::Text(t.to_owned()),
                    None => continue,
                },
                _ => continue,
            };
            if out.send((who, seen, Instant::now())).is_err() {
                return;
            }
        }
    });
}

/// Collects, for each of `who`, the first time `hit` matched what it saw.
async fn first_times(
    rx: &mut mpsc::UnboundedReceiver<(usize, Seen, Instant)>,
    who: &[usize],
    what: &str,
    hit: impl Fn(&Seen) -> bool,
) -> Vec<Instant> {
    let mut at: Vec<Option<Instant>> = vec![None; MEMBERS];
    let deadline = tokio::time::Instant::now() + STEP;
    while who.iter().any(|w| at[*w].is_none()) {
        let (w, seen, t) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("listeners alive");
        if hit(&seen) && at[w].is_none() {
            at[w] = Some(t);
        }
    }
    who.iter().map(|w| at[*w].unwrap()).collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// p50 / p99 / max of the times from `start`.
fn summary(start: Instant, times: &[Instant]) -> (f64, f64, f64) {
    let mut v: Vec<f64> = times.iter().map(|t| ms(*t - start)).collect();
    v.sort_by(f64::total_cmp);
    (
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        *v.last().unwrap(),
    )
}

fn in_department(user: &str, department: &str) -> Profile {
    Profile {
        department: department.to_owned(),
        ..profile(user).unwrap()
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 3 };
    let server = Server::start(Backend::Sqlite).await;
    let (org, admin) = Org::create(&server, "alice").await;
    eprintln!("enrolling {MEMBERS} users into Finance…");
    let mut members = Vec::with_capacity(MEMBERS);
    for i in 0..MEMBERS {
        let user = format!("user{i:03}");
        let d = org.invite(&admin, &user).await;
        admin
            .m
            .update_user(&d.user(), in_department(&user, "Finance"))
            .await
            .unwrap();
        members.push(d);
    }
    let genesis = admin.m.org().await.unwrap().genesis_hash();
    let finance = Target::Group(department_group(&genesis, "Finance"));
    eprintln!("bringing every log up to date…");
    for d in &members {
        d.m.sync_org().await.unwrap();
    }
    let members: Vec<Arc<Messenger>> = members.into_iter().map(|d| Arc::new(d.m)).collect();
    let (tx, mut rx) = mpsc::unbounded_channel();
    for (i, m) in members.iter().enumerate() {
        listen(i, Arc::clone(m), tx.clone());
    }
    drop(tx);
    let all: Vec<usize> = (0..MEMBERS).collect();
    first_times(&mut rx, &all, "the listeners to connect", |s| {
        matches!(s, Seen::CaughtUp)
    })
    .await;
    let writer = MEMBERS - 1;
    eprintln!("warming up: user{writer:03} writes to Finance (its key to 199 devices)…");
    let start = Instant::now();
    members[writer]
        .send_text(&finance, "warm-up")
        .await
        .unwrap();
    let warm_sent = ms(start.elapsed());
    let others: Vec<usize> = (0..writer).collect();
    let warm = first_times(
        &mut rx,
        &others,
        "the warm-up",
        |s| matches!(s, Seen::Text(t) if t == "warm-up"),
    )
    .await;
    let (w50, w99, wmax) = summary(start, &warm);
    println!(
        "anchor: the first message to Finance before any move (the writer's key to 199 devices): \
         send returned {warm_sent:.0} ms; each member had it p50 / p99 / max {w50:.0} / {w99:.0} / {wmax:.0} ms\n"
    );

    println!(
        "| round | rotated on the other members' devices p50 / p99 / max (ms) | first message after: `send` returned (ms) | … each member had it p50 / p99 / max (ms) |"
    );
    println!("|---|---|---:|---|");
    for round in 0..rounds {
        let mover = round;
        let user = format!("user{mover:03}");
        eprintln!("round {round}: moving {user} to Sales…");
        let stayers: Vec<usize> = (rounds..writer).chain([writer]).collect();
        let start = Instant::now();
        admin
            .m
            .update_user(
                &UserId::new(user.clone()).unwrap(),
                in_department(&user, "Sales"),
            )
            .await
            .unwrap();
        let rotated = first_times(&mut rx, &stayers, "the rotation", |s| {
            matches!(s, Seen::GroupsChanged)
        })
        .await;
        let (r50, r99, rmax) = summary(start, &rotated);
        let text = format!("after move {round}");
        let start = Instant::now();
        members[writer].send_text(&finance, &text).await.unwrap();
        let sent = ms(start.elapsed());
        let readers: Vec<usize> = (rounds..writer).collect();
        let got = first_times(
            &mut rx,
            &readers,
            "the first message after",
            |s| matches!(s, Seen::Text(t) if *t == text),
        )
        .await;
        let (g50, g99, gmax) = summary(start, &got);
        println!(
            "| {round} | {r50:.0} / {r99:.0} / {rmax:.0} | {sent:.0} | {g50:.0} / {g99:.0} / {gmax:.0} |"
        );
    }
}
