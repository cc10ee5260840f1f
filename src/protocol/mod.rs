//! The wire protocol: frame header, action table, error codes and bodies.
//!
//! Pure data and pure functions — no sockets, no tokio — so that the server,
//! the client library, the load generator and the fuzz target share one
//! definition. `docs/PROTOCOL.md` describes the same thing for client authors.

mod action;
mod body;
mod frame;
mod request;

pub use action::Action;
pub use body::*;
pub use frame::{encode_frame, FatalHeader, Header, HEADER_LEN, PUSH_SEQUENCE, VERSION};
pub use request::{Request, RequestError};

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

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&(*self as $repr), s)
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

wire_enum! {
    /// Why a request failed. The numbers are part of the protocol and never
    /// change meaning. Clients should treat an unknown code like `Internal`.
    pub enum ErrorCode: u16 {
        /// The header's version is not one this server speaks. The connection closes.
        UnsupportedVersion = 1,
        /// The action byte names no request.
        UnknownAction = 2,
        /// The body does not decode as the action's request type.
        MalformedBody = 3,
        /// The header announces a body above the server's limit. The connection closes.
        FrameTooLarge = 4,
        /// The action needs an authenticated connection.
        NotAuthenticated = 5,
        /// Wrong username or password (the two are never told apart).
        BadCredentials = 6,
        /// The user may not do this to that object.
        NotPermitted = 7,
        /// The named object does not exist, or is not visible to this user.
        NotFound = 8,
        /// The request conflicts with existing state, e.g. the username is taken.
        Conflict = 9,
        /// Too many requests; retry later.
        RateLimited = 10,
        /// The server failed; the request may be retried.
        Internal = 11,
        /// A field breaks a documented rule (length, charset, range).
        InvalidArgument = 12,
        /// The connection is already authenticated.
        AlreadyAuthenticated = 13,
        /// The token is unknown, revoked or expired: log in with the password again.
        InvalidToken = 14,
        /// The account is disabled by the operator.
        AccountDisabled = 15,
        /// The sequence id is 0, which is reserved for pushes.
        BadSequence = 16,
    }
}
