//! One module per table, each adding its typed accessors to [`super::StoreTx`].

mod account;
mod attachments;
mod contacts;
mod conversations;
mod group_logs;
mod messages;
mod outbox;
mod sender_keys;
mod sessions;
mod tasks;
