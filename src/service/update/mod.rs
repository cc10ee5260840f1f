//! The per-user update log: how everything a device must not miss reaches
//! it, live and after an offline period, under one id.
//!
//! A job that changes something a user must learn of calls [`publish`]: the
//! update goes into each affected user's log in the same atomic batch as
//! the change, and is pushed to their online devices once durable. A device
//! catches up with `Sync` from its cursor and moves the cursor with `Ack`.
//!
//! The log has two horizons, swept in the background ([`sweep`]), so a log
//! does not grow for ever. Notices (every kind but messages) older than
//! `conversation.notices_kept_secs` go: a `Sync` from below the newest
//! notice removed says so (`notices_dropped`), and the device re-reads its
//! state. Message updates older than `conversation.message_updates_kept_secs`
//! go too, while the messages stay in their conversations' logs: a `Sync`
//! from below them names the conversations they were in (`limited`), and
//! the device pulls those messages with `History`.
//!
//! Uses: message (the log's key). `Sync` and `Ack`, which read the log
//! through what the user may see, are in [`super::sync`].

mod store;

// What the other domains and the start-up checks use of this one.
pub(crate) use store::{
    advance_cursor, check, count, cursor, cursors, entries_after, erase, from_v1, horizon, latest, messages_between,
    remove, rewrite_notices, Kept, StoredUpdate,
};

use std::sync::Mutex;

use tokio_util::sync::CancellationToken;

use super::{Audience, Event, Progress, ServiceResult, Services, Tx};
use crate::protocol::{UpdateBody, UserCard};
use crate::storage::StorageError;

/// Adds update `id` to each user's log and has it pushed, once durable, to
/// their online devices except the session it came from.
pub(crate) fn publish(tx: &mut Tx<'_>, users: &[u64], except: Option<u64>, id: u64, update: UpdateBody) {
    publish_to(tx, users, users.to_vec(), except, id, update);
}

/// Adds update `id` to the logs of `logged` and has it pushed, once
/// durable, to the online devices of `live` (which includes `logged`):
/// a large group's message reaches members live without a row in each log.
pub(crate) fn publish_to(
    tx: &mut Tx<'_>,
    logged: &[u64],
    live: Vec<u64>,
    except: Option<u64>,
    id: u64,
    update: UpdateBody,
) {
    let stored = StoredUpdate::of(&update);
    for user in logged {
        store::append(tx, *user, id, &stored);
    }
    tx.emit(Event { audience: Audience::Users { users: live, except }, id, update });
}

/// Takes a deleted account out of the notices in others' logs (a friend
/// request and its answer, a join request, an invitation): its card keeps
/// only the id, as every list now shows it, and the words it wrote in a
/// request go. One step of `most` entries of all logs from after `next`
/// (moved on by each call); true once every log has been looked at. Its
/// own log is left to [`erase`].
pub(crate) fn forget_cards(
    tx: &mut Tx<'_>,
    user: u64,
    next: &Mutex<(u64, u64)>,
    most: usize,
) -> Result<bool, StorageError> {
    let mut next = next.lock().unwrap_or_else(|e| e.into_inner());
    let last = store::rewrite_notices_after(tx, *next, most, |holder, kind, body| {
        (holder != user).then(|| without(user, kind, body)).flatten()
    })?;
    match last {
        Some(last) => {
            *next = last;
            Ok(false)
        }
        None => Ok(true),
    }
}

/// A notice's body without `user`'s card and words, or `None` when it
/// shows neither (or is of a kind this build does not know).
fn without(user: u64, kind: u8, body: &[u8]) -> Option<Vec<u8>> {
    let mut notice = UpdateBody::decode(kind, body).ok()??;
    let changed = match &mut notice {
        UpdateBody::FriendRequest(r) | UpdateBody::FriendAnswered(r) => {
            let words = r.from.user_id == user && !std::mem::take(&mut r.message).is_empty();
            blank(&mut r.from, user) | blank(&mut r.to, user) | words
        }
        UpdateBody::GroupJoinRequest(r) => {
            let words = r.user.user_id == user && !std::mem::take(&mut r.message).is_empty();
            blank(&mut r.user, user) | words
        }
        UpdateBody::GroupInvitation(i) => blank(&mut i.inviter, user) | blank(&mut i.invitee, user),
        _ => false,
    };
    changed.then(|| notice.encode_body())
}

/// Blanks `card` if it is `user`'s; whether that changed it.
fn blank(card: &mut UserCard, user: u64) -> bool {
    let blank = UserCard { user_id: user, username: String::new(), nickname: String::new(), avatar: 0 };
    let changed = card.user_id == user && *card != blank;
    if changed {
        *card = blank;
    }
    changed
}

/// Removes the updates of one kind past its horizon from every user's log
/// (`conversation.notices_kept_secs` for notices,
/// `conversation.message_updates_kept_secs` for messages), in jobs of at
/// most `conversation.purge_batch` entries looked at, through the group
/// commit like any write. Returns how many went.
pub(crate) async fn sweep(services: &Services, kept: Kept, shutdown: &CancellationToken) -> ServiceResult<u64> {
    let secs = kept_secs(&services.config.conversation, kept);
    if secs == 0 {
        return Ok(0);
    }
    let cutoff = crate::id::first_id_within(secs, crate::id::now_ms());
    let batch = services.config.conversation.purge_batch as usize;
    let last = services.accounts.last_user_id();
    let due = services.read(move |s| store::sweep_due(s, kept, last, cutoff)).await?;
    let (mut removed, mut progress) = (0, Progress::start());
    for (done, &user) in due.iter().enumerate() {
        if progress.due() {
            tracing::info!(?kept, updates = removed, users = done, of = due.len(), "sweeping updates past the horizon");
        }
        loop {
            if shutdown.is_cancelled() {
                return Ok(removed);
            }
            let (n, more) = services
                .committer
                .run(move |tx| ServiceResult::Ok(store::sweep(tx, kept, user, cutoff, batch)?))
                .await?;
            removed += n;
            if !more {
                break;
            }
        }
    }
    Ok(removed)
}

/// Seconds the updates of one kind stay in the logs (0: for ever).
pub(crate) fn kept_secs(config: &crate::config::ConversationConfig, kept: Kept) -> u64 {
    match kept {
        Kept::Notices => config.notices_kept_secs,
        Kept::Messages => config.message_updates_kept_secs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{FriendRequestInfo, InvitationInfo, JoinRequestInfo, NewLogin, RequestState};

    fn card(user_id: u64, name: &str) -> UserCard {
        UserCard { user_id, username: name.into(), nickname: name.to_uppercase(), avatar: user_id * 10 }
    }

    /// `notice` after `user`'s card and words left it, or `None` if they were not in it.
    fn after(user: u64, notice: &UpdateBody) -> Option<UpdateBody> {
        let kind = notice.tag() as u8;
        without(user, kind, &notice.encode_body()).map(|body| UpdateBody::decode(kind, &body).unwrap().unwrap())
    }

    #[test]
    fn a_deleted_accounts_card_and_words_leave_every_notice_that_shows_them() {
        let (dana, gail) = (7, 8);
        let request = FriendRequestInfo {
            id: 1,
            from: card(dana, "dana"),
            to: card(gail, "gail"),
            message: "hi gail".into(),
            state: RequestState::Pending,
            expires_at: 5,
            answered_at: 0,
        };
        let UpdateBody::FriendAnswered(mut blanked) =
            after(dana, &UpdateBody::FriendAnswered(request.clone())).unwrap()
        else {
            unreachable!()
        };
        assert_eq!(blanked.from, UserCard { user_id: dana, username: "".into(), nickname: "".into(), avatar: 0 });
        assert_eq!((&blanked.to, &*blanked.message), (&request.to, ""));
        // Asked by gail: her card and words stay, dana's card goes.
        let asked_by_gail = FriendRequestInfo { from: card(gail, "gail"), to: card(dana, "dana"), ..request.clone() };
        let UpdateBody::FriendRequest(b) = after(dana, &UpdateBody::FriendRequest(asked_by_gail)).unwrap() else {
            unreachable!()
        };
        assert_eq!((&*b.from.username, &*b.to.username, &*b.message), ("gail", "", "hi gail"));
        // Blank already: nothing to rewrite, so a resumed walk writes nothing.
        blanked.state = RequestState::Accepted;
        assert_eq!(after(dana, &UpdateBody::FriendAnswered(blanked)), None);

        let join = JoinRequestInfo {
            id: 2,
            group_id: 3,
            group_name: "choir".into(),
            user: card(dana, "dana"),
            message: "let me in".into(),
            state: RequestState::Pending,
            answered_by: 0,
        };
        let UpdateBody::GroupJoinRequest(j) = after(dana, &UpdateBody::GroupJoinRequest(join.clone())).unwrap() else {
            unreachable!()
        };
        assert_eq!((&*j.user.username, &*j.message, &*j.group_name), ("", "", "choir"));
        assert_eq!(after(gail, &UpdateBody::GroupJoinRequest(join)), None, "not gail's");

        let invitation = InvitationInfo {
            id: 4,
            group_id: 3,
            group_name: "choir".into(),
            inviter: card(dana, "dana"),
            invitee: card(gail, "gail"),
            state: RequestState::Pending,
        };
        let UpdateBody::GroupInvitation(i) = after(dana, &UpdateBody::GroupInvitation(invitation.clone())).unwrap()
        else {
            unreachable!()
        };
        assert_eq!((i.inviter.avatar, &*i.inviter.nickname, &i.invitee), (0, "", &invitation.invitee));
        let UpdateBody::GroupInvitation(i) = after(gail, &UpdateBody::GroupInvitation(invitation)).unwrap() else {
            unreachable!()
        };
        assert_eq!((&*i.inviter.username, &*i.invitee.username), ("dana", ""));

        let login = NewLogin {
            device_id: "dana".into(),
            device_type: crate::protocol::DeviceType::Mobile,
            client_type: crate::protocol::ClientType::Android,
            address: "127.0.0.1".into(),
        };
        assert_eq!(after(dana, &UpdateBody::NewLogin(login)), None, "a kind without cards");
    }
}
