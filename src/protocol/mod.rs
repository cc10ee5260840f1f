//! The wire protocol: frames, the action table, the push table, error codes
//! and the bodies of every domain.
//!
//! Pure data and pure functions — no sockets, no tokio — so that the server,
//! the client library, the load generator and the fuzz target share one
//! definition. `docs/PROTOCOL.md` describes the same thing for client authors.
//!
//! * [`actions`] — THE table of requests: one line per action gives its
//!   byte, its body type, its reply type and who may send it.
//! * [`push`] — THE table of pushes (server → client, sequence 0).
//! * [`update`] — the per-user update log as clients see it, with its own
//!   table of update kinds.
//! * [`account`], [`message`], [`social`], [`group`], [`conversation`], [`media`] — the bodies of each domain's actions.

pub mod account;
pub mod actions;
pub mod conversation;
mod error;
mod frame;
mod framing;
pub mod group;
pub mod media;
pub mod message;
pub mod moment;
pub mod push;
mod rpc;
pub mod social;
pub mod update;

pub use account::*;
pub use actions::{Action, Request};
pub use conversation::*;
pub use error::{ErrorBody, ErrorCode, RateLimitReason, ERROR_ACTION};
pub use frame::{encode_frame, FatalHeader, Header, HEADER_LEN, PUSH_SEQUENCE, VERSION};
pub use framing::{FrameDecoder, FrameError, RawFrame};
pub use group::*;
pub use media::*;
pub use message::*;
pub use moment::*;
pub use push::{DisconnectPush, DisconnectReason, Push, PushAction};
pub use rpc::{Rpc, Who};
pub use social::*;
pub use update::*;

/// The ALPN protocol name kith speaks over TLS and QUIC.
pub const ALPN: &[u8] = b"kith/1";

/// QUIC idle timeout both sides announce: a phone's keep-alives keep a
/// connection well inside it, while a vanished phone is noticed in a minute.
pub const QUIC_IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How often a QUIC client should send keep-alives.
pub const QUIC_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// Declares a field-less enum that travels as a fixed-width integer, with the
/// list of its values and a readable error for numbers it does not know.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* $variant = $value, )+
        }

        impl $name {
            /// Every value, in protocol order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                v as $repr
            }
        }

        // A newtype around its number: the codecs write the number alone,
        // and a serializer that annotates (the documentation's hex
        // examples) learns the enum's name.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_newtype_struct(stringify!($name), &(*self as $repr))
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = <$repr as serde::Deserialize>::deserialize(d)?;
                $name::try_from(raw).map_err(serde::de::Error::custom)
            }
        }

        impl TryFrom<$repr> for $name {
            type Error = String;

            fn try_from(value: $repr) -> Result<Self, Self::Error> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| *v as $repr == value)
                    .ok_or_else(|| format!(concat!("unknown ", stringify!($name), " {}"), value))
            }
        }
    };
}
pub(crate) use wire_enum;

/// Declares a table of bodies told apart by a tag byte: the tag enum (a
/// repeated byte fails to compile, as a repeated discriminant) and the
/// union of bodies, which encodes and decodes itself by tag. Pushes and
/// update kinds are such tables.
macro_rules! tagged_bodies {
    (
        $(#[$tag_meta:meta])* tag $tag:ident;
        $(#[$union_meta:meta])* union $union:ident;
        $( $(#[$vmeta:meta])* $byte:literal $name:ident($body:ty), )+
    ) => {
        $(#[$tag_meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum $tag {
            $( $(#[$vmeta])* $name = $byte, )+
        }

        impl $tag {
            /// Every tag, in table order.
            pub const ALL: &'static [$tag] = &[$($tag::$name),+];

            /// The tag a byte names, if any.
            pub fn from_byte(byte: u8) -> Option<$tag> {
                $tag::ALL.iter().copied().find(|t| *t as u8 == byte)
            }

            /// Its name, as the documentation spells it.
            pub fn name(self) -> &'static str {
                match self {
                    $( $tag::$name => stringify!($name), )+
                }
            }

            /// Its body type's name, for the document's summary table.
            pub fn body(self) -> &'static str {
                match self {
                    $( $tag::$name => stringify!($body), )+
                }
            }
        }

        $(#[$union_meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $union {
            $( $(#[$vmeta])* $name($body), )+
        }

        /// A body alone, without its tag: the tag travels apart.
        impl serde::Serialize for $union {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( $union::$name(body) => serde::Serialize::serialize(body, s), )+
                }
            }
        }

        impl $union {
            /// Its tag.
            pub fn tag(&self) -> $tag {
                match self {
                    $( $union::$name(_) => $tag::$name, )+
                }
            }

            /// Its body's bytes.
            pub fn encode_body(&self) -> Vec<u8> {
                $crate::codec::encode_wire(self)
            }

            /// Decodes a body by its tag byte; `Ok(None)` for a tag this
            /// build does not know, which a reader skips.
            pub fn decode(tag: u8, body: &[u8]) -> Result<Option<$union>, $crate::codec::DecodeError> {
                let Some(tag) = $tag::from_byte(tag) else { return Ok(None) };
                Ok(Some(match tag {
                    $( $tag::$name => $union::$name($crate::codec::decode_wire(body)?), )+
                }))
            }
        }
    };
}
pub(crate) use tagged_bodies;
