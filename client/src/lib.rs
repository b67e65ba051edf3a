//! # parley-client
//!
//! The engine every Parley client uses. This first part is [`relay`]: a typed client for the
//! relay's HTTP API and delivery WebSocket (DESIGN.md §4), used by the CLI, the desktop app,
//! the load generator and the end-to-end tests.
#![forbid(unsafe_code)]

pub mod relay;
