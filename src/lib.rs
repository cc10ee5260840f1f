//! kith: a self-hosted instant-messaging server in one binary.
//!
//! A frame travels one way through these modules and its reply comes back
//! the other way (see `docs/ARCHITECTURE.md`):
//!
//! * [`transport`] — TCP+TLS, plain-TCP and QUIC listeners; each connection
//!   becomes a reader and a writer.
//! * [`session`] — the one loop per connection: frames in, checks, the
//!   router, replies and pushes out, timeouts and limits.
//! * [`protocol`] — frames, the action table, the push table, update kinds,
//!   error codes and bodies; pure data, shared with the [`client`].
//! * [`codec`] — the single place that serialises bodies and stored values.
//! * [`service`] — one folder per domain (the message logs, the update log,
//!   accounts, the social graph, groups, conversations), each with its
//!   handlers, rules and private keyspaces; `Sync` above them; the ordered
//!   fan-out of updates.
//! * [`hub`] — who is online, with a bounded push queue per session.
//! * [`storage`] — the only module that touches sled: typed keyspaces in one
//!   tree, write jobs on the group commit, migrations, backups.
//! * [`server`] — start and graceful shutdown; [`config`] — every setting.
//! * [`admin`] — operator commands over a local control socket.
//! * [`bench`](mod@bench) — the load generator; [`cli`] — the command line.

#![warn(unreachable_pub)]
// `kith stats` answers with one `json!` object of many fields.
#![recursion_limit = "256"]

pub mod admin;
pub mod bench;
pub mod cli;
pub mod client;
pub mod codec;
pub mod config;
pub mod hex;
pub mod hub;
pub mod id;
pub mod link;
pub mod net;
mod priority;
pub mod protocol;
pub mod server;
pub mod service;
pub mod session;
pub mod storage;
pub mod transport;
