//! # parley-client
//!
//! The engine every Parley client uses:
//!
//! - [`relay`]: a typed client for the relay's HTTP API and delivery WebSocket (docs/architecture.md §4),
//!   used by the CLI, the desktop app, the load generator and the end-to-end tests.
//! - [`store`]: the encrypted local store of one account (docs/architecture.md §5, §6).
//! - [`enrol`]: creating the org, inviting, joining (docs/architecture.md §2, §4).
//! - [`messaging`]: the [`messaging::Messenger`]: 1:1 messages, the outbox, receiving, the
//!   event stream, edits, deletes, reactions, receipts; [`groups`]: group conversations with
//!   sender keys; [`files`]: attachments.
#![forbid(unsafe_code)]

pub mod admin;
pub mod departments;
pub mod directory;
pub mod enrol;
pub mod error;
pub mod files;
pub mod groups;
pub mod messaging;
pub mod orglog;
pub mod relay;
pub mod search;
pub mod store;
pub mod tasks;
pub mod tls;
pub mod unlock;
pub mod wipe;

pub use error::{Error, ErrorInfo, Result};
