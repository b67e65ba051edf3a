//! Tests of the report, the verdicts and the sender sweep.
#![allow(clippy::unwrap_used)]

use super::*;

fn report(backend: Backend) -> Report {
    let peak = Outcome {
        received_per_sec: 40_000.0,
        sent_per_sec: 40_000.0,
        per_request: 4,
        users_per_request: 1,
        relay_cpu_us: Some(20.0),
        loadgen_cpu_us: 10.0,
        transport: Transport::Ws,
        senders: 256,
        pipeline: 1,
        ..Outcome::default()
    };
    Report {
        backend: Some(backend),
        floor: vec![floor::Floor {
            batch: 1000,
            rows_per_sec: 100_000.0,
        }],
        peak: vec![peak.clone()],
        best: vec![peak],
        ..Report::default()
    }
}

fn rate(senders: usize, received: f64, sent: f64) -> Outcome {
    Outcome {
        received_per_sec: received,
        sent_per_sec: sent,
        senders,
        ..Outcome::default()
    }
}

/// The sweep tries each count once, fewest first, and keeps the last that was 5 % faster
/// than the best before it; it stops at the first that is not, or that falls behind.
#[tokio::test]
async fn the_sweep_keeps_the_last_count_that_raised_the_rate() -> anyhow::Result<()> {
    let by_count = |n: usize| match n {
        16 => rate(16, 100.0, 100.0),
        64 => rate(64, 110.0, 110.0),
        256 => rate(256, 114.0, 114.0),
        _ => rate(n, 1000.0, 1000.0),
    };
    let (runs, best) = sweep(&[1024, 64, 16, 256, 16], |n| async move {
        anyhow::Ok(by_count(n))
    })
    .await?;
    let tried: Vec<usize> = runs.iter().map(|o| o.senders).collect();
    assert_eq!(tried, [16, 64, 256]);
    assert_eq!(best.map(|o| o.senders), Some(64));
    // A count whose deliveries fall behind its sends ends the sweep without counting,
    // unless it is the first.
    let behind = |n: usize| match n {
        16 => rate(16, 50.0, 100.0),
        _ => rate(n, 1000.0, 1000.0),
    };
    let (runs, best) = sweep(&[16, 64], |n| async move { anyhow::Ok(behind(n)) }).await?;
    assert_eq!((runs.len(), best.map(|o| o.senders)), (1, Some(16)));
    let (runs, best) = sweep(&[16, 64], |n| async move {
        anyhow::Ok(match n {
            16 => rate(16, 100.0, 100.0),
            _ => rate(n, 500.0, 1000.0),
        })
    })
    .await?;
    assert_eq!((runs.len(), best.map(|o| o.senders)), (2, Some(16)));
    Ok(())
}

/// The verdict compares the peak with the floor; on SQLite (whose relay CPU time includes
/// the database's) the relay's CPU bound follows it, and on PostgreSQL it does not.
#[test]
fn verdicts_give_the_relay_cpu_bound_on_sqlite_only() {
    let cli = Cli::parse_from(["parley-loadgen"]);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let bound = cores as f64 * 1e6 / 20.0;
    let sqlite = render(&cli, &[report(Backend::Sqlite)], &Ceiling::default()).unwrap();
    assert!(
        sqlite.contains("40000 / 100000 = 40% | **missed**"),
        "{sqlite}"
    );
    assert!(
        sqlite.contains(&format!(
            "{cores} × 10⁶ / 20.0 µs per envelope = {bound:.0} = {:.0}% of the floor",
            bound / 1000.0
        )),
        "{sqlite}"
    );
    let pg = render(&cli, &[report(Backend::Postgres)], &Ceiling::default()).unwrap();
    assert!(pg.contains("40000 / 100000 = 40% | **missed**"), "{pg}");
    assert!(!pg.contains("µs per envelope ="), "{pg}");
}
