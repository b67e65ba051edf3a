//! # parley-proto
//!
//! Parley's wire formats (docs/architecture.md §4): the JSON types of every relay endpoint (requests,
//! responses and the error body), the WebSocket frames, and the binary signed org records that
//! the relay checks and clients verify (docs/architecture.md §2).
//!
//! Binary fields travel as standard base64 ([`B64`]). Every API path carries its version
//! (`/v1/…`); every binary record carries a version byte, and an unknown version is a typed
//! error. The relay's OpenAPI document is generated from these types.
#![forbid(unsafe_code)]

pub mod api;
pub mod b64;
pub mod content;
pub mod envelope;
pub mod error;
pub mod group;
pub mod hex;
pub mod ids;
pub mod invite;
pub mod org;
pub mod ws;

pub use b64::B64;
pub use error::{ErrorBody, ErrorCode};
pub use ids::{DeviceId, UserId};
