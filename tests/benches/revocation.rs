//! How fast a revocation reaches the online clients of an org, with the real relay on this
//! machine.
//!
//! **What is measured.** An admin revokes a device with [`Messenger::revoke_device`]
//! (`RevokeReason::Lost`). The clock starts just before that call. The relay appends the
//! `DeviceRevoked` entry, revokes the device's credentials and closes its socket, and announces
//! the log's new length (`log_advanced`) on every open delivery socket; each client's event
//! stream then runs `sync_org` (fetch the new entries, verify them, store the log, drop the
//! device from the cached contact) and yields `Event::DevicesChanged` naming the device. For
//! each of 50 listening clients the sample is the time until its event stream returned that
//! event: from then on its contact cache, which is what every send reads
//! (`devices_of`/`recipient_devices_of`), no longer lists the device, so it will not encrypt
//! to it. Also reported per round: the time until `revoke_device` returned, the time until the
//! revoked device's own delivery socket was closed by the relay, and the admin's own cache
//! (see below).
//!
//! **The scene.** The admin `alice` and 50 users `user00` … `user49`, one device each, all 51
//! with their event stream running on a task (online and listening). The victim is a second
//! device of `user00`, linked afresh for every round and online too, so its user stays in the
//! org and colleagues keep sending to him (and `user00.1` learns of its own device's
//! revocation like everyone else). The 50 samples per round are the 50 users' devices, the
//! victim's user's other device among them. The admin is the 51st client and is not one of
//! the samples: it learns of the entry through its own `revoke_device` call, a different path,
//! which is reported on its own (whether its cache still lists the device when the call
//! returned, and once every listener had the event). Since `admin_append` updates the admin's
//! contacts from the entry it appended (`follow_log`), the admin's cache should have let go
//! when the call returns; the table shows it. (When this bench was first run, at `7423188`,
//! it did so only when its own event stream won a race, which is how the bug was found.)
//!
//! Also per round: the CPU time this process (the 51 clients) and the relay used from the start
//! until every listener had the event (`/proc/<pid>/stat`, 10 ms ticks), to tell waiting from
//! computing.
//!
//! Before the clock starts, every one of the 51 clients has sent a message to `user00` (or,
//! for `user00.1`, to the admin, which refreshes its own user's list), and the bench checks
//! that each one's cached contact lists the victim: the revocation has something to undo, and
//! every client has a session with the victim. After each round it checks that every listener's
//! cached contact no longer lists the victim and that the relay refuses the victim's
//! credentials (`Error::DeviceRevoked`).
//!
//! **What is not measured.**
//! - Clients that are offline: the relay announces the log's length when a socket opens, so
//!   they learn at their next connection, before the queued envelopes.
//! - Clients that are online but not listening (no delivery socket): they keep their cached
//!   list until their next send to that user, which the relay refuses with a 409 (an extra
//!   device); the engine then refreshes the list (and the log) and sends again without it. Or
//!   until the cache is older than `directory::MAX_AGE_MS`.
//! - Groups: none here; the sender-key rotation a revocation causes in groups with the victim
//!   is not part of these numbers.
//! - A network: everything is on loopback, and the 51 clients, their SQLite stores and the
//!   relay share this machine's cores (the client side of the numbers is the busiest it could
//!   be: 50 clients doing their sync at once on the same CPUs as the relay).
//!
//! `cargo bench -p parley-e2e --bench revocation [-- --backend postgres] [-- --quick]`;
//! prints a Markdown table on stdout (progress on stderr). `--quick` runs 3 rounds, the full
//! run 10. With 50 samples a round, a round's p99 is its maximum; the pooled row is over all
//! rounds.
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

use parley_client::Error;
use parley_client::messaging::{Event, Messenger, Target};
use parley_e2e::{Backend, Device, Org, Server};
use parley_proto::UserId;
use parley_proto::org::RevokeReason;
use tokio::sync::mpsc;

/// Listening users (the samples).
const LISTENERS: usize = 50;
/// The `who` of the admin's listener.
const ADMIN: usize = LISTENERS;
/// The `who` of the victim's listener.
const VICTIM: usize = LISTENERS + 1;
/// How long any step may take before the bench gives up.
const STEP: Duration = Duration::from_secs(120);

/// What a listener saw.
#[derive(Debug)]
enum Seen {
    /// Its queue was delivered: the socket is open.
    CaughtUp,
    /// `DevicesChanged` for `user00`.
    Changed { added: Vec<u32>, revoked: Vec<u32> },
    /// A text message.
    Text(String),
    /// The stream ended (how).
    Ended(String),
}

#[derive(Debug)]
struct Note {
    who: usize,
    seen: Seen,
    at: Instant,
}

/// Runs `d`'s event stream on a task, reporting what it sees as `who`.
fn listen(who: usize, d: Arc<Device>, out: mpsc::UnboundedSender<Note>) {
    tokio::spawn(async move {
        let note = |seen| Note {
            who,
            seen,
            at: Instant::now(),
        };
        let mut events = match d.m.events().await {
            Ok(e) => e,
            Err(e) => {
                let _ = out.send(note(Seen::Ended(format!("connect: {e}"))));
                return;
            }
        };
        let victim_user = UserId::new("user00").unwrap();
        let end = loop {
            let seen = match events.next().await {
                None => break "closed without a word".to_owned(),
                Some(Err(e)) => break e.to_string(),
                Some(Ok(Event::CaughtUp)) => Seen::CaughtUp,
                Some(Ok(Event::DevicesChanged {
                    user,
                    added,
                    revoked,
                })) if user == victim_user => Seen::Changed { added, revoked },
                Some(Ok(Event::Message(msg))) => match msg.text() {
                    Some(t) => Seen::Text(t.to_owned()),
                    None => continue,
                },
                Some(Ok(Event::TrustAlarm { error })) => {
                    eprintln!("client {who}: trust alarm: {}", error.message);
                    continue;
                }
                Some(Ok(Event::Dropped { from, error })) => {
                    eprintln!("client {who}: dropped from {from}: {}", error.message);
                    continue;
                }
                Some(Ok(_)) => continue,
            };
            if out.send(note(seen)).is_err() {
                return;
            }
        };
        let _ = out.send(note(Seen::Ended(end)));
    });
}

/// Receives notes until `done` says so (it sees each note first); panics after [`STEP`].
async fn until(
    rx: &mut mpsc::UnboundedReceiver<Note>,
    what: &str,
    mut done: impl FnMut(Option<&Note>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + STEP;
    if done(None) {
        return;
    }
    loop {
        let note = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .expect("listeners alive");
        if let Seen::Ended(why) = &note.seen
            && note.who != VICTIM
        {
            panic!("client {}'s event stream ended: {why}", note.who);
        }
        if done(Some(&note)) {
            return;
        }
    }
}

/// The devices `m`'s cached contact of `user` lists, and whether the entry is fresh (a send
/// uses it as it is).
async fn cached(m: &Messenger, user: &str) -> (Vec<u32>, bool) {
    let mut tx = m.store().begin().await.unwrap();
    let contact = tx.contact(user).await.unwrap();
    tx.commit().await.unwrap();
    contact.map_or((Vec::new(), false), |c| {
        (
            c.devices.iter().map(|d| d.device).collect(),
            c.updated_at > 0,
        )
    })
}

/// This device's number.
async fn device_number(m: &Messenger) -> u32 {
    let mut tx = m.store().begin().await.unwrap();
    let account = tx.account().await.unwrap().unwrap();
    tx.commit().await.unwrap();
    account.device
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Round {
    /// Until `revoke_device` returned, ms.
    returned: f64,
    /// Each listener's time to the processed event, ms, sorted.
    samples: Vec<f64>,
    /// Until the victim's socket was closed, ms.
    victim_closed: Option<f64>,
    /// The admin's cache no longer listed the device when `revoke_device` returned.
    admin_clear_at_return: bool,
    /// … once every listener had the event.
    admin_clear_after: bool,
    /// The admin's own event stream reported the revocation, ms.
    admin_event: Option<f64>,
    /// CPU time used from the start until every listener had the event, ms: by this process
    /// (the 51 clients) and by the relay.
    cpu: (f64, f64),
}

/// CPU time (user + system) process `pid` has used, ms (`/proc/<pid>/stat`, in ticks of
/// 10 ms).
fn cpu_ms(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    // utime and stime are fields 14 and 15; the first after ')' is field 3.
    (fields.get(11).unwrap_or(&0.0) + fields.get(12).unwrap_or(&0.0)) * 10.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".to_owned())
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
    let rounds = if quick { 3 } else { 10 };
    let load_start = loadavg();

    let server = Server::start(backend).await;
    let relay_pid = server.child.id().unwrap().to_string();
    let (org, admin) = Org::create(&server, "alice").await;
    eprintln!("enrolling {LISTENERS} users…");
    let mut devices = Vec::with_capacity(LISTENERS);
    for i in 0..LISTENERS {
        devices.push(org.invite(&admin, &format!("user{i:02}")).await);
    }
    // Everyone's log up to date before the first round.
    admin.m.sync_org().await.unwrap();
    for d in &devices {
        d.m.sync_org().await.unwrap();
    }
    let admin = Arc::new(admin);
    let devices: Vec<Arc<Device>> = devices.into_iter().map(Arc::new).collect();
    let user00 = devices[0].user();
    let alice = admin.user();

    let (tx, mut rx) = mpsc::unbounded_channel();
    listen(ADMIN, admin.clone(), tx.clone());
    for (i, d) in devices.iter().enumerate() {
        listen(i, d.clone(), tx.clone());
    }
    let mut connected = [false; LISTENERS + 1];
    until(&mut rx, "the listeners to connect", |n| {
        if let Some(Note {
            who,
            seen: Seen::CaughtUp,
            ..
        }) = n
        {
            connected[*who] = true;
        }
        connected.iter().all(|c| *c)
    })
    .await;

    let mut results = Vec::with_capacity(rounds);
    for round in 0..rounds {
        // A fresh second device of user00, online.
        let victim = Arc::new(org.link(&devices[0], round as u32 + 2).await);
        let victim_id = device_number(&victim.m).await;
        listen(VICTIM, victim.clone(), tx.clone());
        let mut added = [false; LISTENERS + 1];
        let mut victim_up = false;
        until(&mut rx, "the new device to be known", |n| {
            match n {
                Some(Note {
                    who,
                    seen: Seen::Changed { added: a, .. },
                    ..
                }) if a.contains(&victim_id) => added[*who] = true,
                Some(Note {
                    who: VICTIM,
                    seen: Seen::CaughtUp,
                    ..
                }) => victim_up = true,
                _ => {}
            }
            victim_up && added.iter().all(|a| *a)
        })
        .await;

        // Every client sends to user00 (user00.1 to alice), so that every cache lists the
        // victim and every client has a session with it.
        let tag = format!("warm {round} ");
        let to_user00 = Target::User(user00.clone());
        admin
            .m
            .send_text(&to_user00, &format!("{tag}admin"))
            .await
            .unwrap();
        for (i, d) in devices.iter().enumerate().skip(1) {
            d.m.send_text(&to_user00, &format!("{tag}{i}"))
                .await
                .unwrap();
        }
        devices[0]
            .m
            .send_text(&Target::User(alice.clone()), &format!("{tag}0"))
            .await
            .unwrap();
        // user00.1 gets 50 (49 users and the admin), the admin 1, the victim those 50 and
        // user00.1's copy of its own message.
        let (mut u0, mut adm, mut vic) = (0, 0, 0);
        until(&mut rx, "the warm-up messages", |n| {
            if let Some(Note {
                who,
                seen: Seen::Text(t),
                ..
            }) = n
                && t.starts_with(&tag)
            {
                match *who {
                    0 => u0 += 1,
                    ADMIN => adm += 1,
                    VICTIM => vic += 1,
                    _ => {}
                }
            }
            u0 == LISTENERS && adm == 1 && vic == LISTENERS + 1
        })
        .await;
        for (who, m) in devices.iter().map(|d| &d.m).chain([&admin.m]).enumerate() {
            let (list, fresh) = cached(m, user00.as_str()).await;
            assert!(
                fresh && list.contains(&victim_id),
                "round {round}: client {who}'s cache does not list the victim before the revocation: {list:?} (fresh: {fresh})"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;

        eprintln!("round {}/{rounds}: revoking user00.{victim_id}…", round + 1);
        let cpu_before = (cpu_ms("self"), cpu_ms(&relay_pid));
        let start = Instant::now();
        admin
            .m
            .revoke_device(&user00, victim_id, RevokeReason::Lost)
            .await
            .unwrap();
        let returned = start.elapsed();
        let admin_clear_at_return = !cached(&admin.m, user00.as_str())
            .await
            .0
            .contains(&victim_id);

        let mut at: [Option<Instant>; LISTENERS] = [None; LISTENERS];
        let mut victim_closed = None;
        let mut admin_event = None;
        until(&mut rx, "every listener to process the revocation", |n| {
            match n {
                Some(Note {
                    who,
                    seen: Seen::Changed { revoked, .. },
                    at: t,
                }) if revoked.contains(&victim_id) => match *who {
                    ADMIN => admin_event = Some(*t),
                    w if w < LISTENERS => at[w] = Some(*t),
                    _ => {}
                },
                Some(Note {
                    who: VICTIM,
                    seen: Seen::Ended(_),
                    at: t,
                }) => victim_closed = Some(*t),
                _ => {}
            }
            victim_closed.is_some() && at.iter().all(Option::is_some)
        })
        .await;
        let cpu = (
            cpu_ms("self") - cpu_before.0,
            cpu_ms(&relay_pid) - cpu_before.1,
        );
        // The admin's event, if it comes, comes with the others'; give it a moment.
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Ok(n) = rx.try_recv() {
            if n.who == ADMIN
                && let Seen::Changed { revoked, .. } = &n.seen
                && revoked.contains(&victim_id)
            {
                admin_event = Some(n.at);
            }
        }

        // Every listener's cache has let go of the victim; the relay refuses it.
        for (who, d) in devices.iter().enumerate() {
            let (list, _) = cached(&d.m, user00.as_str()).await;
            assert!(
                !list.contains(&victim_id),
                "round {round}: client {who} still lists the revoked device: {list:?}"
            );
        }
        let admin_clear_after = !cached(&admin.m, user00.as_str())
            .await
            .0
            .contains(&victim_id);
        match victim.m.events().await {
            Err(Error::DeviceRevoked(RevokeReason::Lost)) => {}
            Err(e) => panic!("round {round}: the revoked device was refused with {e}"),
            Ok(_) => panic!("round {round}: the relay still accepts the revoked device"),
        }

        let mut samples: Vec<f64> = at
            .iter()
            .map(|t| ms(t.unwrap().duration_since(start)))
            .collect();
        samples.sort_by(f64::total_cmp);
        let r = Round {
            returned: ms(returned),
            samples,
            victim_closed: victim_closed.map(|t| ms(t.duration_since(start))),
            admin_clear_at_return,
            admin_clear_after,
            admin_event: admin_event.map(|t| ms(t.duration_since(start))),
            cpu,
        };
        eprintln!(
            "  returned {:.1} ms, listeners p50 {:.1} / max {:.1} ms, admin cache cleared: {}",
            r.returned,
            percentile(&r.samples, 0.5),
            percentile(&r.samples, 1.0),
            r.admin_clear_after
        );
        results.push(r);
    }
    drop(tx);

    let yes = |b: bool| if b { "yes" } else { "**no**" };
    let opt = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.1}"));
    println!(
        "| round ({backend:?}) | `revoke_device` returned, ms | listeners processed: p50 ms | p99 ms | max ms | victim's socket closed, ms | admin's event, ms | admin's cache clear at return / after | CPU ms until all had it: clients / relay |\n|---|---:|---:|---:|---:|---:|---:|---|---:|"
    );
    for (i, r) in results.iter().enumerate() {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {} | {} | {} / {} | {:.0} / {:.0} |",
            i + 1,
            r.returned,
            percentile(&r.samples, 0.5),
            percentile(&r.samples, 0.99),
            percentile(&r.samples, 1.0),
            opt(r.victim_closed),
            opt(r.admin_event),
            yes(r.admin_clear_at_return),
            yes(r.admin_clear_after),
            r.cpu.0,
            r.cpu.1,
        );
    }
    let mut pooled: Vec<f64> = results.iter().flat_map(|r| r.samples.clone()).collect();
    pooled.sort_by(f64::total_cmp);
    let mut returned: Vec<f64> = results.iter().map(|r| r.returned).collect();
    returned.sort_by(f64::total_cmp);
    println!(
        "| all {} rounds ({} samples) | p50 {:.1} | {:.1} | {:.1} | {:.1} | | | | |",
        results.len(),
        pooled.len(),
        percentile(&returned, 0.5),
        percentile(&pooled, 0.5),
        percentile(&pooled, 0.99),
        percentile(&pooled, 1.0),
    );
    println!(
        "\n{LISTENERS} listening clients + the admin, one process (2 tokio workers), relay on loopback; load average at start {load_start}, at end {}",
        loadavg()
    );
    drop(org);
}
