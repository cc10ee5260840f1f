//! From a raw frame to a reply: the action table of the server.

use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::{Inflight, RawFrame, Session};
use crate::codec::encode_wire;
use crate::error::{ServiceError, ServiceResult};
use crate::id::now_ms;
use crate::protocol::{encode_frame, Action, DisconnectReason, ErrorCode, HeartbeatReply, Request, PUSH_SEQUENCE};
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
        let request = match Request::decode(action, &frame.body) {
            Ok(request) => request,
            Err(e) => return refuse(ErrorCode::MalformedBody, e.to_string()),
        };
        match self.route(request, seq, identity).await {
            Ok(step) => step,
            Err(e) => Step::Reply(error_frame(seq, &e)),
        }
    }

    async fn route(&mut self, request: Request, seq: u32, identity: Option<Identity>) -> ServiceResult<Step> {
        let services = self.ctx.services.clone();
        let action = request.action();
        let peer = self.ctx.peer.ip();
        let step = match (request, identity) {
            (Request::Heartbeat, _) => Step::Reply(ok_frame(action, seq, &HeartbeatReply { server_time: now_ms() })),
            (Request::Register(r), _) => Step::Reply(ok_frame(action, seq, &services.register(r).await?)),
            (Request::Login(_) | Request::Auth(_), Some(_)) => {
                return Err(ServiceError::new(ErrorCode::AlreadyAuthenticated, "connection is already authenticated"))
            }
            (Request::Login(r), None) => {
                let (reply_body, identity) = services.login(r, peer).await?;
                let queue = self.become_authenticated(identity);
                Step::Authenticated(ok_frame(action, seq, &reply_body), queue)
            }
            (Request::Auth(r), None) => {
                let (reply_body, identity) = services.authenticate(&r.token).await?;
                let queue = self.become_authenticated(identity);
                Step::Authenticated(ok_frame(action, seq, &reply_body), queue)
            }
            (_, None) => return Err(ServiceError::new(ErrorCode::NotAuthenticated, "log in or authenticate first")),
            (Request::Logout, Some(me)) => {
                services.logout(&me).await?;
                Step::Close(ok_frame(action, seq, &()), DisconnectReason::LoggedOut)
            }
            (Request::ChangePassword(r), Some(me)) => {
                Step::Reply(ok_frame(action, seq, &services.change_password(&me, self.session_id, peer, r).await?))
            }
            (Request::FindUser(r), Some(_)) => {
                Step::Reply(ok_frame(action, seq, &services.find_user(&r.username).await?))
            }
            (Request::Send(r), Some(me)) => {
                let pending = services.send(&me, self.session_id, r).await?;
                Step::Inflight(
                    seq,
                    Box::pin(async move { (seq, reply(action, seq, Services::send_reply(pending).await)) }),
                )
            }
            (Request::Ack(r), Some(me)) => Step::Reply(ok_frame(action, seq, &services.ack(&me, r.up_to).await?)),
            (Request::SyncInbox(r), Some(me)) => {
                Step::Reply(ok_frame(action, seq, &services.sync_inbox(&me, r).await?))
            }
            (Request::History(r), Some(me)) => Step::Reply(ok_frame(action, seq, &services.history(&me, r).await?)),
        };
        Ok(step)
    }
}
