//! `MomentSettings` (how far back others see one's moments) and
//! `MomentFilter` (the two per-friend settings), read or set.

use super::store;
use crate::protocol::{MomentFilter, MomentFilterRequest, MomentSettings, MomentSettingsRequest};
use crate::service::{Call, Outcome, ServiceError, ServiceResult};

pub(super) async fn moment_settings(call: Call, req: MomentSettingsRequest) -> ServiceResult<Outcome<MomentSettings>> {
    let me = call.me()?.user_id;
    match req.window {
        None => {
            let window = call.services.read(move |s| store::window(s, me)).await?;
            Ok(Outcome::Reply(MomentSettings { window }))
        }
        Some(window) => {
            call.services
                .write(move |tx| {
                    store::set_window(tx, me, window);
                    Ok(MomentSettings { window })
                })
                .await
        }
    }
}

pub(super) async fn moment_filter(call: Call, req: MomentFilterRequest) -> ServiceResult<Outcome<MomentFilter>> {
    let me = call.me()?.user_id;
    let peer = req.user_id;
    if peer == me {
        return Err(ServiceError::invalid("user_id: not yourself"));
    }
    if !call.services.accounts.user_exists(peer) {
        return Err(ServiceError::not_found("no such user"));
    }
    let shown =
        move |f: store::PairFilter| MomentFilter { user_id: peer, hide_mine: f.hide_mine, hide_theirs: f.hide_theirs };
    if req.hide_mine.is_none() && req.hide_theirs.is_none() {
        let filter = call.services.read(move |s| store::filter(s, me, peer)).await?;
        return Ok(Outcome::Reply(shown(filter)));
    }
    call.services
        .write(move |tx| {
            let now = store::filter(tx, me, peer)?;
            let (mine, theirs) = (req.hide_mine.unwrap_or(now.hide_mine), req.hide_theirs.unwrap_or(now.hide_theirs));
            store::set_filter(tx, me, peer, mine, theirs)?;
            Ok(shown(store::filter(tx, me, peer)?))
        })
        .await
}
