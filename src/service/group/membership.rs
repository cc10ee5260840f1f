//! Who is in a group: joining, join requests, invitations, kicks, roles,
//! bans and mutes.
//!
//! Every way in — joining an open group, an accepted request, an accepted
//! invitation, an invitation accepted by the invitee's policy — ends in
//! [`admit`], which re-checks the ban list and both limits in the job that
//! adds the member.

use super::store::{self, BanRecord, GroupInvitation, GroupRecord, JoinRequestRecord, MemberRecord};
use super::{announce, change, check_not_banned, info, load, membership, read_as_member, rules};
use crate::config::GroupConfig;
use crate::id::now_ms;
use crate::protocol::{
    AnswerInvitationRequest, AnswerJoinRequest, Ban, BanPage, BanRequest, ErrorCode, FriendPolicy, GroupEvent,
    GroupRole, InvitationInfo, InvitationPage, InviteToGroupRequest, JoinGroupRequest, JoinOutcome, JoinPolicy,
    JoinRequestInfo, JoinRequestPage, KickMemberRequest, ListBansRequest, ListInvitationsRequest,
    ListJoinRequestsRequest, MuteGroupRequest, MuteMemberRequest, RequestState, SetAdminRequest, UpdateBody,
};
use crate::service::social::{self, forbids, Surface};
use crate::service::{page_of, update, Call, Outcome, PageLimit, Router, ServiceError, ServiceResult, Services, Tx};
use crate::storage::{Get, StorageError};

pub(super) fn routes(router: &mut Router) {
    router
        .add(join)
        .add(answer_join)
        .add(list_join_requests)
        .add(invite_to_group)
        .add(answer_invitation)
        .add(list_invitations)
        .add(kick)
        .add(set_admin)
        .add(ban)
        .add(list_bans)
        .add(mute_member)
        .add(mute_group);
}

/// Refuses a user already in as many groups as allowed.
pub(super) fn check_group_count(tx: &Tx<'_>, config: &GroupConfig, user: u64) -> ServiceResult<()> {
    if store::group_count(tx, user)? >= config.max_groups_per_user as usize {
        return Err(ServiceError::new(
            ErrorCode::NotPermitted,
            format!("a user may be in at most {} groups", config.max_groups_per_user),
        )
        .with_limit(u64::from(config.max_groups_per_user)));
    }
    Ok(())
}

/// Makes `user` a member, let in `by` someone (themselves for an open
/// group): re-checks the ban list and both limits, clears the user's
/// pending request and invitation, and announces the join.
fn admit(tx: &mut Tx<'_>, config: &GroupConfig, group: u64, user: u64, by: u64) -> ServiceResult<GroupRecord> {
    let mut record = load(tx, group)?;
    check_not_banned(tx, group, user)?;
    if store::member(tx, group, user)?.is_some() {
        return Err(ServiceError::new(ErrorCode::Conflict, "already a member of this group"));
    }
    if record.member_count >= config.max_members {
        return Err(ServiceError::new(ErrorCode::NotPermitted, format!("the group is full ({})", config.max_members))
            .with_limit(u64::from(config.max_members)));
    }
    check_group_count(tx, config, user)?;
    // The join's id is its system message's, so the new member's window
    // opens with the message announcing them.
    let id = tx.next_id();
    let visible_from = if record.fields.history_visible { 0 } else { id };
    let member =
        MemberRecord { role: GroupRole::Member, alias: String::new(), joined: id, visible_from, muted_until: 0 };
    store::add_member(tx, group, &mut record, user, &member)?;
    store::set_request(tx, group, user, None);
    store::set_invitation(tx, user, group, None);
    super::say(tx, config, group, id, by, GroupEvent::Joined { user_id: user, by }, &[])?;
    Ok(record)
}

/// The owner and admins, who decide on join requests.
fn deciders(tx: &Tx<'_>, group: u64) -> Result<Vec<u64>, StorageError> {
    Ok(store::members_in(tx, group)?.into_iter().filter(|(_, m)| m.role != GroupRole::Member).map(|(u, _)| u).collect())
}

fn request_info(
    r: &impl Get,
    group: u64,
    name: &str,
    user: u64,
    record: &JoinRequestRecord,
    state: RequestState,
    answered_by: u64,
) -> Result<JoinRequestInfo, StorageError> {
    Ok(JoinRequestInfo {
        id: record.id,
        group_id: group,
        group_name: name.to_string(),
        user: social::card(r, user)?,
        message: record.message.clone(),
        state,
        answered_by,
    })
}

fn invitation_info(
    r: &impl Get,
    group: u64,
    name: &str,
    invitee: u64,
    record: &GroupInvitation,
    state: RequestState,
) -> Result<InvitationInfo, StorageError> {
    Ok(InvitationInfo {
        id: record.id,
        group_id: group,
        group_name: name.to_string(),
        inviter: social::card(r, record.by)?,
        invitee: social::card(r, invitee)?,
        state,
    })
}

/// An invitation into a group that is ending, as its invitee is told of
/// it: `Expired`.
pub(super) fn expired_invitation(
    r: &impl Get,
    group: u64,
    invitee: u64,
    record: &GroupInvitation,
) -> Result<InvitationInfo, StorageError> {
    let name = store::group(r, group)?.map(|g| g.fields.name).unwrap_or_default();
    invitation_info(r, group, &name, invitee, record, RequestState::Expired)
}

async fn join(call: Call, req: JoinGroupRequest) -> ServiceResult<Outcome<JoinOutcome>> {
    rules::check_request_message(&req.message)?;
    let origin = call.session_id;
    change(&call, move |tx, config, me| {
        let group = req.group_id;
        let record = load(tx, group)?;
        check_not_banned(tx, group, me)?;
        if store::member(tx, group, me)?.is_some() {
            return Err(ServiceError::new(ErrorCode::Conflict, "already a member of this group"));
        }
        match record.fields.join_policy {
            JoinPolicy::Open => {
                let record = admit(tx, config, group, me, me)?;
                Ok(JoinOutcome::Joined(info(group, &record, Some(GroupRole::Member))))
            }
            JoinPolicy::InviteOnly => {
                Err(ServiceError::new(ErrorCode::NotPermitted, "this group admits members by invitation only"))
            }
            JoinPolicy::Approval => {
                // One pending request per user: asking again returns it.
                if let Some(pending) = store::request(tx, group, me)? {
                    let info = request_info(tx, group, &record.fields.name, me, &pending, RequestState::Pending, 0)?;
                    return Ok(JoinOutcome::Requested(info));
                }
                if record.member_count >= config.max_members {
                    return Err(ServiceError::new(ErrorCode::NotPermitted, "the group is full")
                        .with_limit(u64::from(config.max_members)));
                }
                let pending = JoinRequestRecord { id: tx.next_id(), message: req.message };
                store::set_request(tx, group, me, Some(&pending));
                let info = request_info(tx, group, &record.fields.name, me, &pending, RequestState::Pending, 0)?;
                let mut audience = deciders(tx, group)?;
                audience.push(me);
                update::publish(tx, &audience, Some(origin), pending.id, UpdateBody::GroupJoinRequest(info.clone()));
                Ok(JoinOutcome::Requested(info))
            }
        }
    })
    .await
}

async fn answer_join(call: Call, req: AnswerJoinRequest) -> ServiceResult<Outcome<JoinRequestInfo>> {
    let origin = call.session_id;
    change(&call, move |tx, config, me| {
        let (group, user) = (req.group_id, req.user_id);
        let record = load(tx, group)?;
        rules::need_admin(membership(tx, group, me)?.role)?;
        let pending = store::request(tx, group, user)?.ok_or_else(|| ServiceError::not_found("no such request"))?;
        // Deciders are counted before the join: the one admitted is not one.
        let mut audience = deciders(tx, group)?;
        audience.push(user);
        let state = if req.accept {
            admit(tx, config, group, user, me)?;
            RequestState::Accepted
        } else {
            store::set_request(tx, group, user, None);
            RequestState::Rejected
        };
        let info = request_info(tx, group, &record.fields.name, user, &pending, state, me)?;
        let id = tx.next_id();
        update::publish(tx, &audience, Some(origin), id, UpdateBody::GroupJoinRequest(info.clone()));
        Ok(info)
    })
    .await
}

async fn list_join_requests(call: Call, req: ListJoinRequestsRequest) -> ServiceResult<Outcome<JoinRequestPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let page = read_as_member(&call, req.group_id, move |s, _, record, member| {
        rules::need_admin(member.role)?;
        let (entries, more) = page_of(store::requests_page(s, req.group_id, req.after), limit)?;
        let name = &record.fields.name;
        let requests = entries
            .into_iter()
            .map(|(user, pending)| request_info(s, req.group_id, name, user, &pending, RequestState::Pending, 0))
            .collect::<Result<_, StorageError>>()?;
        Ok(JoinRequestPage { requests, more })
    })
    .await?;
    Ok(Outcome::Reply(page))
}

/// Invites `user` into `group` on behalf of `by`, inside a job: the
/// invitation as filed (`Accepted` when the invitee's friend request policy
/// accepts everyone, and they are in now), or why not. A refusal writes
/// nothing. The session `origin` asked, and learns of it from its reply.
pub(super) fn invite(
    tx: &mut Tx<'_>,
    services: &Services,
    config: &GroupConfig,
    group: u64,
    (by, origin): (u64, u64),
    user: u64,
) -> ServiceResult<InvitationInfo> {
    if !services.accounts.user_exists(user) || services.accounts.is_disabled(user) {
        return Err(ServiceError::not_found("no such user"));
    }
    let record = load(tx, group)?;
    check_not_banned(tx, group, user)?;
    if let Some(refusal) = forbids(&social::relation(tx, social::Pair::of(by, user))?, Surface::Message) {
        return Err(refusal);
    }
    if store::member(tx, group, user)?.is_some() {
        return Err(ServiceError::new(ErrorCode::Conflict, "already a member of this group"));
    }
    let name = record.fields.name;
    if let Some(pending) = store::invitation(tx, user, group)? {
        return Ok(invitation_info(tx, group, &name, user, &pending, RequestState::Pending)?);
    }
    let state = match social::privacy_of(tx, user)?.friend_policy {
        FriendPolicy::RefuseAll => {
            return Err(ServiceError::new(ErrorCode::NotPermitted, "this user accepts no requests or invitations"))
        }
        FriendPolicy::AcceptAll => {
            admit(tx, config, group, user, by)?;
            RequestState::Accepted
        }
        FriendPolicy::RequireApproval => RequestState::Pending,
    };
    // Taken after the join's own message, so every device gets the two
    // in id order.
    let invitation = GroupInvitation { id: tx.next_id(), by };
    if state == RequestState::Pending {
        store::set_invitation(tx, user, group, Some(&invitation));
    }
    let info = invitation_info(tx, group, &name, user, &invitation, state)?;
    update::publish(tx, &[by, user], Some(origin), invitation.id, UpdateBody::GroupInvitation(info.clone()));
    Ok(info)
}

async fn invite_to_group(call: Call, req: InviteToGroupRequest) -> ServiceResult<Outcome<InvitationInfo>> {
    let me = call.me()?.user_id;
    if req.user_id == me {
        return Err(ServiceError::invalid("user_id: you cannot invite yourself"));
    }
    // Counted whether or not the invitation goes through, so probing who
    // may be invited costs the same.
    call.services.invitations.allow(me, 1, std::time::Instant::now())?;
    let (services, origin) = (call.services.clone(), call.session_id);
    change(&call, move |tx, config, me| {
        let group = req.group_id;
        let record = load(tx, group)?;
        let role = membership(tx, group, me)?.role;
        if record.fields.join_policy != JoinPolicy::Open {
            rules::need_admin(role)?;
        }
        invite(tx, &services, config, group, (me, origin), req.user_id)
    })
    .await
}

/// The name of an invitation's group and whether the invitation still
/// stands (`Pending`) or not (`Expired`): it stands while the group exists
/// and the inviter is still a member who may invite under its policy now
/// (any member in an open group, the owner and admins otherwise).
fn standing(r: &impl Get, group: u64, inviter: u64) -> Result<(String, RequestState), StorageError> {
    let Some(record) = store::group(r, group)? else { return Ok((String::new(), RequestState::Expired)) };
    let may = store::member(r, group, inviter)?
        .is_some_and(|m| record.fields.join_policy == JoinPolicy::Open || m.role != GroupRole::Member);
    Ok((record.fields.name, if may { RequestState::Pending } else { RequestState::Expired }))
}

async fn answer_invitation(call: Call, req: AnswerInvitationRequest) -> ServiceResult<Outcome<InvitationInfo>> {
    let origin = call.session_id;
    change(&call, move |tx, config, me| {
        let group = req.group_id;
        let pending = store::invitation(tx, me, group)?.ok_or_else(|| ServiceError::not_found("no such invitation"))?;
        let (name, standing) = standing(tx, group, pending.by)?;
        // One that no longer stands is cleared, whatever the answer.
        let state = if standing == RequestState::Expired {
            store::set_invitation(tx, me, group, None);
            RequestState::Expired
        } else if req.accept {
            admit(tx, config, group, me, pending.by)?;
            RequestState::Accepted
        } else {
            store::set_invitation(tx, me, group, None);
            RequestState::Rejected
        };
        let info = invitation_info(tx, group, &name, me, &pending, state)?;
        let id = tx.next_id();
        update::publish(tx, &[pending.by, me], Some(origin), id, UpdateBody::GroupInvitation(info.clone()));
        Ok(info)
    })
    .await
}

async fn list_invitations(call: Call, req: ListInvitationsRequest) -> ServiceResult<Outcome<InvitationPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let me = call.me()?.user_id;
    let page = call
        .services
        .read(move |s| {
            let mut invitations = Vec::new();
            for entry in store::invitations_page(s, me, req.after) {
                let (group, pending) = entry?;
                if store::ban(s, group, me)?.is_some() {
                    continue;
                }
                if invitations.len() == limit {
                    return Ok(InvitationPage { invitations, more: true });
                }
                let (name, state) = standing(s, group, pending.by)?;
                invitations.push(invitation_info(s, group, &name, me, &pending, state)?);
            }
            Ok(InvitationPage { invitations, more: false })
        })
        .await?;
    Ok(Outcome::Reply(page))
}

/// The actor's and the target's memberships, once the actor may act on the
/// target (see [`rules::may_act_on`]).
fn actor_and_target(tx: &Tx<'_>, group: u64, me: u64, user: u64) -> ServiceResult<(MemberRecord, MemberRecord)> {
    if user == me {
        return Err(ServiceError::invalid("user_id: not yourself"));
    }
    let mine = membership(tx, group, me)?;
    let theirs =
        store::member(tx, group, user)?.ok_or_else(|| ServiceError::not_found("not a member of this group"))?;
    rules::may_act_on(mine.role, theirs.role)?;
    Ok((mine, theirs))
}

async fn kick(call: Call, req: KickMemberRequest) -> ServiceResult<Outcome<()>> {
    change(&call, move |tx, config, me| {
        let (group, user) = (req.group_id, req.user_id);
        let mut record = load(tx, group)?;
        actor_and_target(tx, group, me, user)?;
        super::remove(tx, config, group, &mut record, user, me, GroupEvent::Kicked { user_id: user, by: me })
    })
    .await
}

async fn set_admin(call: Call, req: SetAdminRequest) -> ServiceResult<Outcome<()>> {
    change(&call, move |tx, config, me| {
        let (group, user) = (req.group_id, req.user_id);
        load(tx, group)?;
        rules::need_owner(membership(tx, group, me)?.role)?;
        let (_, mut theirs) = actor_and_target(tx, group, me, user)?;
        let role = if req.admin { GroupRole::Admin } else { GroupRole::Member };
        if theirs.role != role {
            theirs.role = role;
            store::put_member(tx, group, user, &theirs);
            announce(tx, config, group, me, GroupEvent::RoleChanged { user_id: user, role, by: me })?;
        }
        Ok(())
    })
    .await
}

async fn ban(call: Call, req: BanRequest) -> ServiceResult<Outcome<()>> {
    let services = call.services.clone();
    change(&call, move |tx, config, me| {
        let (group, user) = (req.group_id, req.user_id);
        let mut record = load(tx, group)?;
        rules::need_admin(membership(tx, group, me)?.role)?;
        if !req.banned {
            if !store::set_ban(tx, group, user, None)? {
                return Err(ServiceError::not_found("not banned"));
            }
            return Ok(());
        }
        if !services.accounts.user_exists(user) {
            return Err(ServiceError::not_found("no such user"));
        }
        let member = store::member(tx, group, user)?.is_some();
        if member {
            actor_and_target(tx, group, me, user)?;
        } else if user == me {
            return Err(ServiceError::invalid("user_id: not yourself"));
        }
        let since = now_ms();
        if !store::set_ban(tx, group, user, Some(BanRecord { by: me, since }))? {
            return Ok(());
        }
        // A pending invitation stays, refused with `Banned` if accepted.
        store::set_request(tx, group, user, None);
        if member {
            super::remove(tx, config, group, &mut record, user, me, GroupEvent::Banned { user_id: user, by: me })?;
        }
        Ok(())
    })
    .await
}

async fn list_bans(call: Call, req: ListBansRequest) -> ServiceResult<Outcome<BanPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let page = read_as_member(&call, req.group_id, move |s, _, _, member| {
        rules::need_admin(member.role)?;
        let (entries, more) = page_of(store::bans_page(s, req.group_id, req.after), limit)?;
        let bans = entries
            .into_iter()
            .map(|(user, ban)| Ok(Ban { user: social::card(s, user)?, by: ban.by, since: ban.since }))
            .collect::<Result<_, StorageError>>()?;
        Ok(BanPage { bans, more })
    })
    .await?;
    Ok(Outcome::Reply(page))
}

async fn mute_member(call: Call, req: MuteMemberRequest) -> ServiceResult<Outcome<()>> {
    change(&call, move |tx, config, me| {
        let (group, user) = (req.group_id, req.user_id);
        load(tx, group)?;
        if req.until != 0 && req.until <= now_ms() {
            return Err(ServiceError::invalid("until: must be in the future, or 0 to lift the mute"));
        }
        let (_, mut theirs) = actor_and_target(tx, group, me, user)?;
        theirs.muted_until = req.until;
        store::put_member(tx, group, user, &theirs);
        announce(tx, config, group, me, GroupEvent::Muted { user_id: user, until: req.until, by: me })?;
        Ok(())
    })
    .await
}

async fn mute_group(call: Call, req: MuteGroupRequest) -> ServiceResult<Outcome<()>> {
    change(&call, move |tx, config, me| {
        let group = req.group_id;
        let mut record = load(tx, group)?;
        rules::need_admin(membership(tx, group, me)?.role)?;
        if record.muted != req.muted {
            record.muted = req.muted;
            store::put_group(tx, group, &record);
            announce(tx, config, group, me, GroupEvent::GroupMuted { muted: req.muted, by: me })?;
        }
        Ok(())
    })
    .await
}
