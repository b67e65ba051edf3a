//! Idle sockets: register many devices, open one authenticated delivery socket for each, and
//! read the relay's resident memory before and after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};

use crate::org::{Org, register_users};

/// What the idle measurement found.
#[derive(Debug, Clone)]
pub struct IdleOutcome {
    /// Devices registered.
    pub devices: usize,
    /// Sockets that could not be opened.
    pub failed: u64,
    /// Sockets open at the second reading.
    pub open: u64,
    /// Seconds spent registering.
    pub register_secs: f64,
    /// Seconds spent opening the sockets.
    pub connect_secs: f64,
    /// Relay RSS after registration, before any socket, bytes.
    pub rss_before: u64,
    /// Relay RSS with every socket open, bytes.
    pub rss_after: u64,
}

/// Registers `users × per_user` devices and opens a socket for each; `rss` reads the relay's
/// resident memory.
pub async fn run(
    org: &Arc<Org>,
    users: usize,
    per_user: usize,
    rss: impl Fn() -> anyhow::Result<u64>,
) -> anyhow::Result<IdleOutcome> {
    let t = Instant::now();
    let devices: Vec<_> = register_users(org, "idle", users, per_user, 16)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let register_secs = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss()?;

    let t = Instant::now();
    let open = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let sem = Arc::new(Semaphore::new(64));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(devices.len());
    for d in &devices {
        let relay = d.relay.clone();
        let (open, failed, sem) = (open.clone(), failed.clone(), sem.clone());
        let mut stop = stop_rx.clone();
        tasks.push(tokio::spawn(async move {
            let socket = {
                let _permit = sem.acquire().await;
                relay.connect().await
            };
            let Ok(mut socket) = socket else {
                failed.fetch_add(1, Ordering::Relaxed);
                return;
            };
            open.fetch_add(1, Ordering::Relaxed);
            // Keep reading so pings are answered; the queue is empty.
            loop {
                tokio::select! {
                    f = socket.next() => if f.is_none() { break },
                    _ = stop.changed() => break,
                }
            }
            open.fetch_sub(1, Ordering::Relaxed);
            socket.close().await;
        }));
    }
    while open.load(Ordering::Relaxed) + failed.load(Ordering::Relaxed) < devices.len() as u64 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_secs = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = rss()?;
    let open_now = open.load(Ordering::Relaxed);
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    Ok(IdleOutcome {
        devices: devices.len(),
        failed: failed.load(Ordering::Relaxed),
        open: open_now,
        register_secs,
        connect_secs,
        rss_before,
        rss_after,
    })
}
