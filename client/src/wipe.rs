//! Remote wipe (docs/architecture.md §5.2): an admin's `WipeOrdered` entry for this device,
//! obeyed as soon as the device reads it in the verified log.
//!
//! The order is in the org log, signed by an admin and verified like every entry, so the
//! relay can neither forge one nor replay one (each order is done once, by its receipt). The
//! device reads the log whenever the relay says it grew (on every connection, so an order
//! made while it was offline is read at its next connection) and when a request is refused.
//!
//! Obeying, in this order: the device signs a receipt (`WipeDone`, naming the order) with its
//! own device key and hands it to the relay, which needs no credentials for it (a lost device
//! may have been revoked first); then it destroys the store key (crypto-shredding: any copy of
//! the database is unreadable from then on); then it deletes the database files, the
//! received files kept encrypted ([`crate::files::FILES_DIR`]) and the account directory's
//! download folder ([`DOWNLOADS_DIR`]). If the receipt cannot be
//! delivered the device wipes all the same: the order matters more than the receipt. Files a
//! user exported elsewhere (`parley listen --download-dir`) are theirs and stay.

use parley_proto::UserId;
use parley_proto::org::{OrgBody, OrgEntry, OrgState};

use crate::error::{Error, Missing, Result};
use crate::messaging::Messenger;
use crate::orglog::VerifiedLog;

/// The folder inside the account directory where received files are saved unless the user
/// chooses another (a wipe deletes it).
pub const DOWNLOADS_DIR: &str = "downloads";

impl Messenger {
    /// Obeys a pending wipe order for this device in `state`, if there is one: returns
    /// [`Error::Wiped`] once done. `Ok` when there is none.
    pub(crate) async fn obey_wipe(&self, state: &OrgState) -> Result<()> {
        let me = UserId::new(self.user())?;
        let device = self.account.device;
        let Some(order) = state.pending_wipe(&me, device).map(|w| w.seq) else {
            return Ok(());
        };
        tracing::warn!(order, "wipe ordered for this device: obeying");
        let mut tx = self.store().begin().await?;
        let identity = tx.identity().await?.ok_or(Missing::Identity)?;
        tx.commit().await?;
        let body = OrgBody::WipeDone {
            user: me,
            device,
            order,
        };
        let mut log = VerifiedLog::from_state(state.clone());
        let receipt = log
            .receipt(self.relay(), |s, now| {
                OrgEntry::after(&s.head(), body.clone(), identity.signing(), now)
            })
            .await;
        drop(identity);
        if let Err(e) = &receipt {
            tracing::warn!(code = e.code(), "the wipe receipt could not be delivered");
        }
        // The key first: from here on nothing of the store can be read.
        let wiped = self.store().wipe_open().await;
        remove_files(self.store().home(), wiped.map_err(Error::from))?;
        tracing::warn!("this device is wiped");
        Err(Error::Wiped {
            receipt: receipt.is_ok(),
        })
    }
}

impl Messenger {
    /// Erases this account from this device, for an application that was told the device is
    /// revoked and must leave nothing readable behind: the store key first, then the database
    /// and the account directory's files, as a remote wipe does (but without a receipt: no one
    /// ordered it). Every later use of this messenger fails.
    pub async fn erase_here(&self) -> Result<()> {
        tracing::warn!("erasing this account from this device");
        let wiped = self.store().wipe_open().await.map_err(Error::from);
        remove_files(self.store().home(), wiped)
    }
}

/// Wipes a store that is not in use (the offline limit, before the engine starts): the key
/// first, then the files.
pub(crate) async fn wipe_store(store: crate::store::Store) -> Result<()> {
    let home = store.home().to_path_buf();
    let wiped = store.wipe().await;
    remove_files(&home, wiped.map_err(Error::from))
}

/// Erases the account in `home` without opening its store (one whose remote secret the relay
/// deleted, or whose device is over): the local key first, then the database and the
/// account directory's files.
pub async fn erase_at(home: &std::path::Path, key_source: &crate::store::KeySource) -> Result<()> {
    let wiped = crate::store::Store::wipe_at(home, key_source)
        .await
        .map_err(Error::from);
    remove_files(home, wiped)
}

/// After the store's key and database are gone (`wiped` says how that went): deletes the
/// kept files, the download folder and the account directory if nothing else is in it.
fn remove_files(home: &std::path::Path, wiped: Result<()>) -> Result<()> {
    let mut removed = Ok(());
    for dir in [crate::files::FILES_DIR, DOWNLOADS_DIR] {
        match std::fs::remove_dir_all(home.join(dir)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => removed = Err(Error::file(crate::error::FileOp::Delete)(e)),
        }
    }
    let _ = std::fs::remove_dir(home);
    wiped?;
    removed
}
