//! Route and integration tests of the relay, each run on SQLite and on PostgreSQL (most
//! through [`both!`]), one module per concern beside this file. What they share is here and in
//! `../common/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Backend, Device, Org, Storage, TestServer, drain, user};
use parley_client::relay::{Delivery, RelayError};
use parley_proto::api::{
    MAX_ENVELOPES_PER_SEND, MismatchedDevices, MultiSendRequest, OutgoingEnvelope, PreKeyUpload,
    RecipientEnvelopes, SendRequest, UserMismatch, UserStale,
};
use parley_proto::ws::{Envelope, ServerFrame};
use parley_proto::{B64, ErrorCode};
use reqwest::StatusCode;

/// Runs a scenario once on SQLite and once on a fresh PostgreSQL database.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::Backend::Postgres).await;
            }
        }
    )*};
}

mod attachments;
mod delivery;
mod group_commits;
mod limits;
mod nodes;
mod ops;
mod org;
mod prekeys;
mod sends;
mod socket_sends;

async fn start(backend: Backend) -> (Storage, TestServer) {
    let storage = Storage::new(backend).await;
    let server = TestServer::start(storage.config()).await;
    (storage, server)
}

async fn finish(storage: Storage, server: TestServer) {
    server.stop().await.unwrap();
    storage.cleanup().await;
}

fn code(e: &RelayError) -> Option<ErrorCode> {
    e.body().map(|b| b.code)
}

fn env(device: &Device, body: &[u8]) -> OutgoingEnvelope {
    OutgoingEnvelope {
        device: device.device,
        registration_id: device.registration_id,
        body: B64(body.to_vec()),
    }
}

async fn send(from: &Device, to: &[&Device], body: &[u8]) -> Result<(), RelayError> {
    let req = SendRequest {
        messages: to.iter().map(|d| env(d, body)).collect(),
        ttl_secs: None,
    };
    from.relay.send(&to[0].user, &req).await.map(|_| ())
}

/// Next envelope within 10 s, skipping `queue_empty`.
async fn next_envelope(ws: &mut Delivery) -> Envelope {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an envelope within 10 s")
            .expect("socket open")
            .expect("valid frame");
        match frame {
            ServerFrame::Envelope(e) => return e,
            ServerFrame::QueueEmpty | ServerFrame::LogAdvanced { .. } => {}
            ServerFrame::Closing { reason } => panic!("closed: {reason}"),
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// `body` for the given devices of `user`, as one user's part of a multi-user send.
fn to(user: &str, devices: &[&Device], body: &[u8]) -> RecipientEnvelopes {
    RecipientEnvelopes {
        user: common::user(user),
        messages: devices.iter().map(|d| env(d, body)).collect(),
    }
}

/// The credentials `d` authenticates with.
fn creds_of(d: &Device) -> parley_client::relay::Credentials {
    d.relay.credentials().unwrap().clone()
}
