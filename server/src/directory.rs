//! In-memory cache of each user's active devices and of each device's queue length, so that
//! a send (`PUT /v1/messages/{user}`) issues no database statement before its group commit.
//!
//! **Devices.** A user's entry (device number, row id, registration id of each active device)
//! is filled from the database by the first send to that user and dropped when the user's
//! devices change: [`Directory::devices_changed`] right after the commit on the node that made
//! the change, and on every other node when the `NOTIFY` on [`DEVICES_CHANNEL`] (sent inside
//! the same transaction, so delivered on commit) arrives. A fill that raced with a change is
//! discarded (a generation counter, bumped by every change, is read before the database is).
//! On PostgreSQL the cache is only used while this node's `LISTEN` connection is up: losing it
//! disables and clears the cache until it is listening again. As a backstop against a
//! connection that died silently, an entry is re-read after [`MAX_AGE`].
//!
//! So a device change is seen by a send on the same node as soon as it committed, and on
//! another node once the `NOTIFY` arrived (typically milliseconds; at most [`MAX_AGE`] if the
//! `LISTEN` connection hangs without an error). Future revocation must call
//! [`Directory::devices_changed`] (and send the `NOTIFY`) in the same way; until its commit is
//! seen, a send to the revoked device can still be accepted, as it could be before this cache
//! between the read of the device list and the group commit.
//!
//! **Queue lengths** (for the per-device queue cap) are read with the devices (the count stops
//! at the cap), then kept by this node's writer: plus the envelopes it committed, minus the
//! acks it deleted (when a batch's delete removed fewer rows than the ids it named, the
//! devices concerned are forgotten and read again). The expiry pass forgets every count. The
//! cap is therefore approximate: sends accepted concurrently with the check can exceed it by
//! what is in flight, a count read while a group commit is in flight can miss that commit,
//! and with several nodes a node sees other nodes' envelopes and acks only when it re-reads
//! the count (at most [`MAX_AGE`] later). The cap protects storage from a runaway sender; it
//! does not need to be exact.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use parley_proto::{DeviceId, UserId};

/// PostgreSQL channel on which relay nodes announce that a user's devices changed (payload:
/// the user id).
pub const DEVICES_CHANNEL: &str = "parley_devices";
/// Longest an entry is used before it is read from the database again.
pub const MAX_AGE: Duration = Duration::from_secs(10);
/// How long other sends use an old entry while one send reads it again.
pub const REFRESH_WAIT: Duration = Duration::from_secs(5);
/// Most cached users (beyond this the cache starts over).
const MAX_USERS: usize = 100_000;

/// One active device of a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActiveDevice {
    /// Device number.
    pub device: DeviceId,
    /// Row id.
    pub pk: i64,
    /// Registration id.
    pub registration_id: i64,
    /// Envelopes queued for it (approximate, see the module doc; stops counting at the cap
    /// when read from the database).
    pub queued: u64,
}

#[derive(Debug)]
struct Entry {
    /// (device number, row id, registration id).
    devices: Arc<[(DeviceId, i64, i64)]>,
    loaded: Instant,
    /// When a send started reading the entry again (it was old, or counts were forgotten).
    refresh_started: Option<Instant>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    users: HashMap<UserId, Entry>,
    /// Queue length by device row id.
    queues: HashMap<i64, u64>,
}

/// The cache (one per relay node).
#[derive(Debug)]
pub struct Directory {
    inner: Mutex<Inner>,
    enabled: AtomicBool,
}

impl Directory {
    /// A cache that is used at once (`enabled`: SQLite, one node) or only once
    /// [`Directory::set_enabled`] is called (PostgreSQL: when `LISTEN` is up).
    pub fn new(enabled: bool) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            enabled: AtomicBool::new(enabled),
        }
    }

    /// The current generation: read it before reading the database for
    /// [`Directory::fill`].
    pub fn generation(&self) -> u64 {
        self.inner.lock().map(|i| i.generation).unwrap_or(u64::MAX)
    }

    /// The user's active devices with their queue lengths, if cached and fresh.
    ///
    /// When the entry is older than [`MAX_AGE`] or its counts were forgotten, the first
    /// caller gets `None` (and reads the database, then [`Directory::fill`]s); while that read
    /// is in flight (up to [`REFRESH_WAIT`]), the other callers go on with the cached devices
    /// (a forgotten count taken as 0), for at most another two [`MAX_AGE`]s: a popular user's
    /// entry is read once, not by every concurrent send. A change of the user's devices
    /// removes the entry, so this never serves a list known to be outdated.
    pub fn lookup(&self, user: &UserId) -> Option<Vec<ActiveDevice>> {
        if !self.enabled.load(Ordering::Acquire) {
            return None;
        }
        let mut inner = self.inner.lock().ok()?;
        let Inner { users, queues, .. } = &mut *inner;
        let entry = users.get_mut(user)?;
        let devices = |unknown: Option<u64>| {
            entry
                .devices
                .iter()
                .map(|&(device, pk, registration_id)| {
                    Some(ActiveDevice {
                        device,
                        pk,
                        registration_id,
                        queued: queues.get(&pk).copied().or(unknown)?,
                    })
                })
                .collect::<Option<Vec<_>>>()
        };
        let age = entry.loaded.elapsed();
        if age <= MAX_AGE
            && let Some(d) = devices(None)
        {
            return Some(d);
        }
        let refreshing = entry
            .refresh_started
            .is_some_and(|t| t.elapsed() < REFRESH_WAIT);
        if refreshing && age <= 3 * MAX_AGE {
            return devices(Some(0));
        }
        entry.refresh_started = Some(Instant::now());
        None
    }

    /// Caches what was read from the database, unless the devices changed since
    /// `generation` was taken. An empty list (no such user) is not cached.
    pub fn fill(&self, generation: u64, user: &UserId, devices: &[ActiveDevice]) {
        if devices.is_empty() || !self.enabled.load(Ordering::Acquire) {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != generation {
            return;
        }
        if inner.users.len() >= MAX_USERS && !inner.users.contains_key(user) {
            inner.users.clear();
            inner.queues.clear();
        }
        for d in devices {
            inner.queues.insert(d.pk, d.queued);
        }
        let list: Arc<[(DeviceId, i64, i64)]> = devices
            .iter()
            .map(|d| (d.device, d.pk, d.registration_id))
            .collect();
        inner.users.insert(
            user.clone(),
            Entry {
                devices: list,
                loaded: Instant::now(),
                refresh_started: None,
            },
        );
    }

    /// A user's devices changed (registered, linked, revoked): forget them. Call it after
    /// the change committed (and on PostgreSQL send the `NOTIFY` in its transaction).
    pub fn devices_changed(&self, user: &UserId) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation = inner.generation.wrapping_add(1);
            if let Some(entry) = inner.users.remove(user) {
                for (_, pk, _) in entry.devices.iter() {
                    inner.queues.remove(pk);
                }
            }
        }
    }

    /// Forgets everything (and with `enabled` false stops using the cache until it is
    /// enabled again).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation = inner.generation.wrapping_add(1);
            inner.users.clear();
            inner.queues.clear();
        }
    }

    /// Starts or stops using the cache; either way it starts empty.
    pub fn set_enabled(&self, enabled: bool) {
        if !enabled {
            self.enabled.store(false, Ordering::Release);
        }
        self.clear();
        if enabled {
            self.enabled.store(true, Ordering::Release);
        }
    }

    /// Forgets every queue length (after envelopes were deleted behind the writer's back,
    /// e.g. by expiry); the users' entries are read again at their next send.
    pub fn forget_queues(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.queues.clear();
        }
    }

    /// The writer committed a batch: `inserted` envelopes per device row, and acks that
    /// named `acked` ids per device row. `all_acks_deleted` says whether the delete removed
    /// as many rows as ids were named; if not, the acking devices' counts are forgotten.
    pub fn committed(
        &self,
        inserted: &BTreeMap<i64, u64>,
        acked: &BTreeMap<i64, u64>,
        all_acks_deleted: bool,
    ) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        for (pk, n) in inserted {
            if let Some(q) = inner.queues.get_mut(pk) {
                *q = q.saturating_add(*n);
            }
        }
        for (pk, n) in acked {
            if all_acks_deleted {
                if let Some(q) = inner.queues.get_mut(pk) {
                    *q = q.saturating_sub(*n);
                }
            } else {
                inner.queues.remove(pk);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]
mod tests {
    use super::*;

    fn user(s: &str) -> UserId {
        UserId::new(s).unwrap()
    }

    fn dev(device: DeviceId, pk: i64, queued: u64) -> ActiveDevice {
        ActiveDevice {
            device,
            pk,
            registration_id: 7,
            queued,
        }
    }

    #[test]
    fn fill_lookup_and_change() {
        let d = Directory::new(true);
        let alice = user("alice");
        assert!(d.lookup(&alice).is_none());
        let g = d.generation();
        d.fill(g, &alice, &[dev(1, 10, 0), dev(2, 11, 3)]);
        assert_eq!(
            d.lookup(&alice).unwrap(),
            vec![dev(1, 10, 0), dev(2, 11, 3)]
        );
        d.devices_changed(&alice);
        assert!(d.lookup(&alice).is_none());
    }

    #[test]
    fn a_fill_that_raced_with_a_change_is_dropped() {
        let d = Directory::new(true);
        let alice = user("alice");
        let g = d.generation();
        // Another user's change in between still invalidates (the generation is global).
        d.devices_changed(&user("bob"));
        d.fill(g, &alice, &[dev(1, 10, 0)]);
        assert!(d.lookup(&alice).is_none());
    }

    #[test]
    fn queue_counts_follow_commits() {
        let d = Directory::new(true);
        let alice = user("alice");
        d.fill(d.generation(), &alice, &[dev(1, 10, 0), dev(2, 11, 3)]);
        let ins = BTreeMap::from([(10, 5), (11, 1), (99, 4)]);
        d.committed(&ins, &BTreeMap::from([(11, 2)]), true);
        let got = d.lookup(&alice).unwrap();
        assert_eq!((got[0].queued, got[1].queued), (5, 2));
        // A delete that removed fewer rows than named: the count is read again.
        d.committed(&BTreeMap::new(), &BTreeMap::from([(10, 1)]), false);
        assert!(d.lookup(&alice).is_none());
        d.fill(d.generation(), &alice, &[dev(1, 10, 4), dev(2, 11, 2)]);
        d.forget_queues();
        assert!(d.lookup(&alice).is_none());
    }

    #[test]
    fn one_send_reads_again_while_the_others_use_the_cached_entry() {
        let d = Directory::new(true);
        let alice = user("alice");
        d.fill(d.generation(), &alice, &[dev(1, 10, 4), dev(2, 11, 2)]);
        d.forget_queues();
        // The first send reads the database; the next ones go on with the cached devices.
        assert!(d.lookup(&alice).is_none());
        assert_eq!(
            d.lookup(&alice).unwrap(),
            vec![dev(1, 10, 0), dev(2, 11, 0)]
        );
        d.fill(d.generation(), &alice, &[dev(1, 10, 5), dev(2, 11, 2)]);
        assert_eq!(
            d.lookup(&alice).unwrap(),
            vec![dev(1, 10, 5), dev(2, 11, 2)]
        );
        // A change is never papered over: the entry is gone.
        d.forget_queues();
        assert!(d.lookup(&alice).is_none());
        d.devices_changed(&alice);
        assert!(d.lookup(&alice).is_none());
        assert!(d.lookup(&alice).is_none());
    }

    #[test]
    fn disabled_cache_is_not_used() {
        let d = Directory::new(false);
        let alice = user("alice");
        d.fill(d.generation(), &alice, &[dev(1, 10, 0)]);
        assert!(d.lookup(&alice).is_none());
        d.set_enabled(true);
        d.fill(d.generation(), &alice, &[dev(1, 10, 0)]);
        assert!(d.lookup(&alice).is_some());
        d.set_enabled(false);
        assert!(d.lookup(&alice).is_none());
        d.set_enabled(true);
        assert!(d.lookup(&alice).is_none());
    }
}
