//! A request body, decoded according to its action byte: "parse, don't
//! validate" — the session works only with this typed value.

use super::{
    AckRequest, Action, AuthRequest, ChangePasswordRequest, FindUserRequest, HistoryRequest, LoginRequest,
    RegisterRequest, SendRequest, SyncInboxRequest,
};
use crate::codec::{decode_wire, encode_wire, DecodeError};

/// Every request a client can make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `Heartbeat` (empty body).
    Heartbeat,
    /// `Register`.
    Register(RegisterRequest),
    /// `Login`.
    Login(LoginRequest),
    /// `Auth`.
    Auth(AuthRequest),
    /// `Logout` (empty body).
    Logout,
    /// `ChangePassword`.
    ChangePassword(ChangePasswordRequest),
    /// `FindUser`.
    FindUser(FindUserRequest),
    /// `Send`.
    Send(SendRequest),
    /// `Ack`.
    Ack(AckRequest),
    /// `SyncInbox`.
    SyncInbox(SyncInboxRequest),
    /// `History`.
    History(HistoryRequest),
}

/// Why a frame is not a request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The action is a response or push action.
    #[error("action {0:?} is not a request")]
    NotARequest(Action),
    /// The body does not decode as the action's request type.
    #[error("malformed body: {0}")]
    Malformed(#[from] DecodeError),
}

impl Request {
    /// Decodes the body of a frame with this action.
    pub fn decode(action: Action, body: &[u8]) -> Result<Request, RequestError> {
        Ok(match action {
            Action::Heartbeat => decode_wire::<()>(body).map(|()| Request::Heartbeat)?,
            Action::Register => Request::Register(decode_wire(body)?),
            Action::Login => Request::Login(decode_wire(body)?),
            Action::Auth => Request::Auth(decode_wire(body)?),
            Action::Logout => decode_wire::<()>(body).map(|()| Request::Logout)?,
            Action::ChangePassword => Request::ChangePassword(decode_wire(body)?),
            Action::FindUser => Request::FindUser(decode_wire(body)?),
            Action::Send => Request::Send(decode_wire(body)?),
            Action::Ack => Request::Ack(decode_wire(body)?),
            Action::SyncInbox => Request::SyncInbox(decode_wire(body)?),
            Action::History => Request::History(decode_wire(body)?),
            Action::Error | Action::PushMessage | Action::PushDisconnect => {
                return Err(RequestError::NotARequest(action))
            }
        })
    }

    /// The action byte this request travels under.
    pub fn action(&self) -> Action {
        match self {
            Request::Heartbeat => Action::Heartbeat,
            Request::Register(_) => Action::Register,
            Request::Login(_) => Action::Login,
            Request::Auth(_) => Action::Auth,
            Request::Logout => Action::Logout,
            Request::ChangePassword(_) => Action::ChangePassword,
            Request::FindUser(_) => Action::FindUser,
            Request::Send(_) => Action::Send,
            Request::Ack(_) => Action::Ack,
            Request::SyncInbox(_) => Action::SyncInbox,
            Request::History(_) => Action::History,
        }
    }

    /// Encodes the body.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Heartbeat | Request::Logout => encode_wire(&()),
            Request::Register(r) => encode_wire(r),
            Request::Login(r) => encode_wire(r),
            Request::Auth(r) => encode_wire(r),
            Request::ChangePassword(r) => encode_wire(r),
            Request::FindUser(r) => encode_wire(r),
            Request::Send(r) => encode_wire(r),
            Request::Ack(r) => encode_wire(r),
            Request::SyncInbox(r) => encode_wire(r),
            Request::History(r) => encode_wire(r),
        }
    }
}
