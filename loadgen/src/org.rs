//! Registering many users and devices on the org (created as a client creates it, with
//! [`parley_testkit::org`]): invites from the admin device, further devices through the link
//! flow.

use std::sync::Arc;

pub use parley_testkit::org::{Device, Org};
use tokio::sync::Semaphore;

/// Registers `users` users named `{prefix}{i}` with `devices_per_user` devices each
/// (`parallel` registrations at a time). Returns them grouped by user.
pub async fn register_users(
    org: &Arc<Org>,
    prefix: &str,
    users: usize,
    devices_per_user: usize,
    parallel: usize,
) -> anyhow::Result<Vec<Vec<Device>>> {
    let sem = Arc::new(Semaphore::new(parallel.max(1)));
    let mut tasks = Vec::with_capacity(users);
    for i in 0..users {
        let org = org.clone();
        let sem = sem.clone();
        let name = format!("{prefix}{i}");
        tasks.push(tokio::spawn(async move {
            let mut devices = Vec::with_capacity(devices_per_user);
            let first = {
                let _permit = sem.acquire().await?;
                org.join(&name).await?
            };
            devices.push(first.clone());
            for _ in 1..devices_per_user {
                let _permit = sem.acquire().await?;
                devices.push(org.link(&first).await?);
            }
            anyhow::Ok(devices)
        }));
    }
    let mut out = Vec::with_capacity(users);
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}
