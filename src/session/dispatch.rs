//! From a raw frame to a reply: the action table of the server.

use std::time::Instant;

use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::mpsc;

use super::{Inflight, RawFrame, Session};
use crate::codec::{decode_wire, encode_wire};
use crate::error::{ServiceError, ServiceResult};
use crate::id::now_ms;
use crate::protocol::{
    encode_frame, AckRequest, Action, AuthRequest, ChangePasswordRequest, DisconnectReason, ErrorCode, FindUserRequest,
    HeartbeatReply, HistoryRequest, LoginRequest, RegisterRequest, SendRequest, SyncInboxRequest, PUSH_SEQUENCE,
};
use crate::service::{Identity, Services};

/// What the loop does with a handled frame.
pub(crate) enum Step {
    /// Write this reply.
    Reply(Vec<u8>),
    /// Run this (for the request with this sequence id) alongside other
    /// requests, then write what it returns.
    Inflight(u32, Inflight),
    /// Write this reply; the connection is now authenticated and receives
    /// pushes from this queue.
    Authenticated(Vec<u8>, mpsc::Receiver<Bytes>),
    /// Write this reply, then close for this reason.
    Close(Vec<u8>, DisconnectReason),
}

/// An `Error` response frame.
pub(crate) fn error_frame(sequence: u32, error: &ServiceError) -> Vec<u8> {
    if let ServiceError::Storage(_) | ServiceError::Worker(_) | ServiceError::Hashing(_) = error {
        tracing::error!(error = %error, "request failed");
    }
    encode_frame(Action::Error as u8, sequence, &encode_wire(&error.to_body()))
}

fn ok_frame<T: Serialize>(action: Action, sequence: u32, body: &T) -> Vec<u8> {
    encode_frame(action as u8, sequence, &encode_wire(body))
}

fn reply<T: Serialize>(action: Action, sequence: u32, result: ServiceResult<T>) -> Vec<u8> {
    match result {
        Ok(body) => ok_frame(action, sequence, &body),
        Err(e) => error_frame(sequence, &e),
    }
}

fn body<T: DeserializeOwned>(frame: &RawFrame) -> ServiceResult<T> {
    decode_wire(&frame.body).map_err(|e| ServiceError::new(ErrorCode::MalformedBody, format!("malformed body: {e}")))
}

impl Session {
    /// Handles one request frame.
    pub(crate) async fn handle(&mut self, frame: RawFrame) -> Step {
        let seq = frame.header.sequence;
        let refuse = |code, message: String| Step::Reply(error_frame(seq, &ServiceError::new(code, message)));
        // Every frame counts against the rate, even ones that are refused.
        if !self.limiter.allow(Instant::now()) {
            return refuse(ErrorCode::RateLimited, "too many requests; slow down".into());
        }
        let Some(action) = Action::from_byte(frame.header.action).filter(|a| a.is_request()) else {
            return refuse(ErrorCode::UnknownAction, format!("unknown action 0x{:02x}", frame.header.action));
        };
        if seq == PUSH_SEQUENCE {
            return refuse(ErrorCode::BadSequence, "sequence id 0 is reserved for pushes".into());
        }
        if self.pending.contains(&seq) {
            return refuse(ErrorCode::BadSequence, format!("sequence id {seq} belongs to a request still in progress"));
        }
        let identity = match (&self.identity, action.allowed_before_auth()) {
            (Some(identity), _) => Some(identity.clone()),
            (None, true) => None,
            (None, false) => return refuse(ErrorCode::NotAuthenticated, "log in or authenticate first".into()),
        };
        match self.route(action, seq, &frame, identity).await {
            Ok(step) => step,
            Err(e) => Step::Reply(error_frame(seq, &e)),
        }
    }

    async fn route(
        &mut self,
        action: Action,
        seq: u32,
        frame: &RawFrame,
        identity: Option<Identity>,
    ) -> ServiceResult<Step> {
        let services = self.ctx.services.clone();
        let step = match (action, identity) {
            (Action::Heartbeat, _) => {
                body::<()>(frame)?;
                Step::Reply(ok_frame(action, seq, &HeartbeatReply { server_time: now_ms() }))
            }
            (Action::Register, _) => {
                let reply_body = services.register(body::<RegisterRequest>(frame)?).await?;
                Step::Reply(ok_frame(action, seq, &reply_body))
            }
            (Action::Login | Action::Auth, Some(_)) => {
                return Err(ServiceError::new(ErrorCode::AlreadyAuthenticated, "connection is already authenticated"))
            }
            (Action::Login, None) => {
                let (reply_body, identity) = services.login(body::<LoginRequest>(frame)?, self.ctx.peer.ip()).await?;
                let queue = self.become_authenticated(identity);
                Step::Authenticated(ok_frame(action, seq, &reply_body), queue)
            }
            (Action::Auth, None) => {
                let request: AuthRequest = body(frame)?;
                let (reply_body, identity) = services.authenticate(&request.token).await?;
                let queue = self.become_authenticated(identity);
                Step::Authenticated(ok_frame(action, seq, &reply_body), queue)
            }
            (_, None) => return Err(ServiceError::new(ErrorCode::NotAuthenticated, "log in or authenticate first")),
            (Action::Logout, Some(me)) => {
                body::<()>(frame)?;
                services.logout(&me).await?;
                Step::Close(ok_frame(action, seq, &()), DisconnectReason::LoggedOut)
            }
            (Action::ChangePassword, Some(me)) => {
                let request: ChangePasswordRequest = body(frame)?;
                let reply_body = services.change_password(&me, self.session_id, self.ctx.peer.ip(), request).await?;
                Step::Reply(ok_frame(action, seq, &reply_body))
            }
            (Action::FindUser, Some(_)) => {
                let request: FindUserRequest = body(frame)?;
                Step::Reply(ok_frame(action, seq, &services.find_user(&request.username).await?))
            }
            (Action::Send, Some(me)) => {
                let pending = services.send(&me, self.session_id, body::<SendRequest>(frame)?).await?;
                Step::Inflight(
                    seq,
                    Box::pin(async move { (seq, reply(action, seq, Services::send_reply(pending).await)) }),
                )
            }
            (Action::Ack, Some(me)) => {
                let request: AckRequest = body(frame)?;
                Step::Reply(ok_frame(action, seq, &services.ack(&me, request.up_to).await?))
            }
            (Action::SyncInbox, Some(me)) => {
                let request: SyncInboxRequest = body(frame)?;
                Step::Reply(ok_frame(action, seq, &services.sync_inbox(&me, request).await?))
            }
            (Action::History, Some(me)) => {
                let request: HistoryRequest = body(frame)?;
                Step::Reply(ok_frame(action, seq, &services.history(&me, request).await?))
            }
            (Action::Error | Action::PushMessage | Action::PushDisconnect, Some(_)) => {
                return Err(ServiceError::new(ErrorCode::UnknownAction, "not a request action"))
            }
        };
        Ok(step)
    }
}
