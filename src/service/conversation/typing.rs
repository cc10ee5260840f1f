//! `Typing`: "alice is typing…", pushed to the online devices of those who
//! would receive a message from the caller in that conversation now — the
//! peer of a 1:1 conversation the caller may message, the other members of
//! a group the caller may speak in — and to nobody across a block. Never
//! stored, never in `Sync`, no write job: a signal lost is a signal late.
//! The client repeats it every few seconds while its user types; a receiver
//! shows it for `for_ms` unless it is renewed or stopped, so a sender that
//! goes away stops being shown by itself.

use std::time::Instant;

use bytes::Bytes;

use super::send::reachable;
use crate::protocol::{Push, Target, TypingPush, TypingRequest};
use crate::service::{group, social, Call, Outcome, ServiceResult, Services};
use crate::storage::Store;

/// How long a receiver shows a typing signal that is not renewed: the
/// client renews it every 3 seconds while its user types (PROTOCOL
/// section 5, `Typing`), so one lost push does not blink it off.
const SHOWN_MS: u32 = 6_000;

pub(super) async fn typing(call: Call, req: TypingRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    call.services.typing.allow(me, 1, Instant::now())?;
    let services = call.services.clone();
    let audience = call.services.read(move |s| Ok(audience(&services, s, me, req.with))).await??;
    if audience.is_empty() {
        return Ok(Outcome::Reply(()));
    }
    let with = match req.with {
        Target::User(_) => Target::User(me),
        group => group,
    };
    let push = Push::Typing(TypingPush { user_id: me, with, typing: req.typing, for_ms: SHOWN_MS });
    let frame = Bytes::from(push.frame());
    for user in audience {
        call.services.hub().deliver(user, &frame, None);
    }
    Ok(Outcome::Reply(()))
}

/// The users whose online devices are told: those the caller may reach in
/// `with`, online now, with no block between them and the caller. Refused
/// as `Send` would refuse a message there.
fn audience(services: &Services, s: &Store, me: u64, with: Target) -> ServiceResult<Vec<u64>> {
    let candidates = match with {
        Target::User(peer) => {
            reachable(services, s, me, peer)?;
            vec![peer]
        }
        Target::Group(id) => group::typing_audience(services, s, id, me)?.to_vec(),
    };
    let mut out = Vec::new();
    for user in candidates {
        // Online first: a large group's offline members cost no lookup.
        if user != me && services.hub().is_online(user) && social::receipts_pass(s, me, user)? {
            out.push(user);
        }
    }
    Ok(out)
}
