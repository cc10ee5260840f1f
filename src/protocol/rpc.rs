//! What every request type declares about itself, next to its body.

use serde::{de::DeserializeOwned, Serialize};

use super::{Action, Request};

/// Who may send a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Any connection, before or after authenticating.
    Anyone,
    /// Only an authenticated connection; others get `NotAuthenticated`.
    User,
    /// Only a connection not authenticated yet (a login); an authenticated
    /// one gets `AlreadyAuthenticated`, once the body has decoded.
    Anonymous,
}

/// A request type: its action byte, who may send it and what it is answered
/// with. Implemented by the action table ([`super::actions`]), never by hand.
pub trait Rpc:
    Serialize + DeserializeOwned + Into<Request> + TryFrom<Request, Error = Request> + Send + 'static
{
    /// The action byte it travels under.
    const ACTION: Action;
    /// Who may send it.
    const WHO: Who;
    /// The body of its successful response.
    type Reply: Serialize + DeserializeOwned + Send + 'static;
}
