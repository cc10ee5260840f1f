//! From a raw frame to a reply: the checks every request passes, in order,
//! before the router hands it to its handler.
//!
//! 1. the connection's request rate;
//! 2. the action byte names a request;
//! 3. the sequence id is not 0 and not that of a request still in progress;
//! 4. the action table's rule on who may send it;
//! 5. the body decodes as the action's request type;
//! 6. the handler's own rules.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{Inflight, Session};
use crate::codec::encode_wire;
use crate::protocol::{
    encode_frame, Action, DisconnectReason, ErrorCode, RateLimitReason, RawFrame, Request, Who, ERROR_ACTION,
    PUSH_SEQUENCE,
};
use crate::service::{Call, Outcome, ServiceError};

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

/// An error response frame.
pub(crate) fn error_frame(sequence: u32, error: &ServiceError) -> Vec<u8> {
    if error.is_internal() {
        tracing::error!(error = %error, "request failed");
    }
    encode_frame(ERROR_ACTION, sequence, &encode_wire(&error.to_body()))
}

impl Session {
    /// Handles one request frame.
    pub(crate) async fn handle(&mut self, frame: RawFrame) -> Step {
        let seq = frame.header.sequence;
        let refuse = |code, message: String| Step::Reply(error_frame(seq, &ServiceError::new(code, message)));
        // Every frame counts against the rate, even ones that are refused.
        if let Err(wait) = self.limiter.allow(Instant::now()) {
            return Step::Reply(error_frame(
                seq,
                &ServiceError::rate_limited(RateLimitReason::Requests, "too many requests; slow down", wait),
            ));
        }
        let Some(action) = Action::from_byte(frame.header.action) else {
            return refuse(ErrorCode::UnknownAction, format!("unknown action 0x{:02x}", frame.header.action));
        };
        if seq == PUSH_SEQUENCE {
            return refuse(ErrorCode::BadSequence, "sequence id 0 is reserved for pushes".into());
        }
        if self.pending.contains(&seq) {
            return refuse(ErrorCode::BadSequence, format!("sequence id {seq} belongs to a request still in progress"));
        }
        if action.who() == Who::User && self.identity.is_none() {
            return refuse(ErrorCode::NotAuthenticated, "log in or authenticate first".into());
        }
        let request = match Request::decode(action, &frame.body) {
            Ok(request) => request,
            Err(e) => return refuse(ErrorCode::MalformedBody, format!("malformed body: {e}")),
        };
        if action.who() == Who::Anonymous && self.identity.is_some() {
            return refuse(ErrorCode::AlreadyAuthenticated, "connection is already authenticated".into());
        }
        let call = Call {
            services: self.ctx.services.clone(),
            identity: self.identity.clone(),
            session_id: self.session_id,
            peer: self.ctx.peer,
        };
        let reply = |body: &[u8]| encode_frame(action as u8, seq, body);
        match self.ctx.services.dispatch(call, request).await {
            Ok(Outcome::Reply(body)) => Step::Reply(reply(&body)),
            Ok(Outcome::Later(done)) => Step::Inflight(
                seq,
                Box::pin(async move {
                    let frame = match done.await {
                        Ok(body) => encode_frame(action as u8, seq, &body),
                        Err(e) => error_frame(seq, &e),
                    };
                    (seq, frame)
                }),
            ),
            Ok(Outcome::Authenticated(body, identity)) => {
                let queue = self.become_authenticated(identity.clone());
                // A password change, reset or disable that committed while
                // this login was in flight shows now; one that commits later
                // finds the session in the hub.
                match self.ctx.services.confirm_session(&identity).await {
                    Ok(()) => Step::Authenticated(reply(&body), queue),
                    Err((error, reason)) => Step::Close(error_frame(seq, &error), reason),
                }
            }
            Ok(Outcome::Close(body, reason)) => Step::Close(reply(&body), reason),
            Err(e) => Step::Reply(error_frame(seq, &e)),
        }
    }
}
