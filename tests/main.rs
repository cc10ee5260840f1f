//! The integration tests, one binary: each module starts the real server
//! (in process, or the built `kith` binary) on ephemeral ports with a
//! temporary data directory and talks to it over real sockets. One binary
//! links the crate once instead of once per file.
//!
//! Run one area with a filter, e.g. `cargo test --release --test integration messaging::`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

mod accounts;
mod admin;
mod authorization;
mod avatars;
mod binary;
mod commit;
mod conversations;
mod crash;
mod crash_conversations;
mod crash_groups;
mod crash_media;
mod crash_moments;
mod crash_sealing;
mod crash_social;
mod deletion;
mod fidelity;
mod groups;
mod independent_client;
mod invitations;
mod limits;
mod media;
mod mentions;
mod message_lifecycle;
mod message_window;
mod messaging;
mod migration;
mod moments;
mod pins_and_drafts;
mod power_loss;
mod presence;
mod properties;
mod protocol_doc;
mod protocol_errors;
mod push;
mod quic;
mod reactions;
mod replies_and_edits;
mod retention;
mod sealing;
mod security;
mod social;
mod typing;
mod updates;
mod visibility;
