//! Groups: lifecycle, roles, join requests and invitations, bans, mutes,
//! members, and how a group's messages reach its members.
//!
//! Every change is one job on the group commit that re-reads what it
//! depends on — the group record, the actor's and the target's
//! memberships, the ban list — so a check and the write it guards cannot
//! race. Membership events are system messages in the group's log
//! ([`announce`]), reaching members the way any group message does
//! ([`diffuse`]); requests and invitations are updates in the logs of those
//! who must answer them.
//!
//! Uses: message (a system message goes in through
//! [`crate::service::message::append`]; a member's read state starts and
//! ends with the membership), update, social (blocks and friend policies on
//! invitations, the presence rule for who shows online), media (the
//! avatar's file).

mod export;
mod membership;
mod post;
mod roster;
mod rules;
mod store;

pub(crate) use post::{may_speak, news, send, typing_audience, windows};
pub(crate) use roster::member_ids;
pub(crate) use roster::Rosters;
// What the other domains and the start-up checks use of this one.
pub(crate) use export::{export, reached_groups};
pub(crate) use store::{check, from_v7, group as record, memberships, reshape_fields, stats};

use std::sync::atomic::{AtomicU64, Ordering};

use self::store::{GroupRecord, MemberRecord};
use super::{media, social, update, Call, Outcome, PageLimit, Router, ServiceError, ServiceResult, Tx};
use crate::config::GroupConfig;
use crate::id::id_time_ms;
use crate::protocol::{
    CreateGroupReply, CreateGroupRequest, DissolveGroupRequest, ErrorCode, GetGroupRequest, GroupEvent, GroupInfo,
    GroupOnline, GroupOnlineRequest, GroupPage, GroupRole, JoinPolicy, LeaveGroupRequest, ListGroupsRequest,
    ListMembersRequest, Member, MemberPage, Message, MessageKind, RequestState, SetAliasRequest, TransferGroupRequest,
    UpdateBody, UpdateGroupRequest,
};
use crate::service::message::{self, Conversation, StoredMessage};
use crate::storage::{Get, StorageError, Store};

/// Registers the group handlers.
pub(super) fn routes(router: &mut Router) {
    router
        .add(create)
        .add(get)
        .add(update_group)
        .add(dissolve)
        .add(transfer)
        .add(leave)
        .add(list_groups)
        .add(set_alias)
        .add(list_members)
        .add(group_online);
    membership::routes(router);
}

/// The group, or `NotFound`.
fn load(r: &impl Get, group: u64) -> ServiceResult<GroupRecord> {
    store::group(r, group)?.ok_or_else(|| ServiceError::not_found("no such group"))
}

/// The user's membership, or `NotPermitted`.
fn membership(r: &impl Get, group: u64, user: u64) -> ServiceResult<MemberRecord> {
    store::member(r, group, user)?
        .ok_or_else(|| ServiceError::new(ErrorCode::NotPermitted, "you are not a member of this group"))
}

/// Refuses a banned user.
fn check_not_banned(r: &impl Get, group: u64, user: u64) -> ServiceResult<()> {
    match store::ban(r, group, user)? {
        Some(_) => Err(ServiceError::new(ErrorCode::Banned, "banned from this group")),
        None => Ok(()),
    }
}

/// The group as a user sees it.
fn info(id: u64, record: &GroupRecord, my_role: Option<GroupRole>) -> GroupInfo {
    GroupInfo {
        group_id: id,
        name: record.fields.name.clone(),
        avatar: record.fields.avatar,
        introduction: record.fields.introduction.clone(),
        announcement: record.fields.announcement.clone(),
        join_policy: record.fields.join_policy,
        history_visible: record.fields.history_visible,
        muted: record.muted,
        owner: record.owner,
        member_count: record.member_count,
        my_role,
    }
}

/// Runs a group change as one write job on the group commit: `job` gets
/// the caller's user id and the group settings; the answer goes out once
/// what it wrote is durable.
async fn change<T: serde::Serialize + Send + 'static>(
    call: &Call,
    job: impl FnOnce(&mut Tx<'_>, &GroupConfig, u64) -> ServiceResult<T> + Send + 'static,
) -> ServiceResult<Outcome<T>> {
    let me = call.me()?.user_id;
    let config = call.services.config.group.clone();
    call.services.write(move |tx| job(tx, &config, me)).await
}

/// Puts a group message where members find it and pushes it to their
/// online devices (except `origin`). A group of at most `write_diffusion_max`
/// members gets it in every member's update log; a larger one only records
/// it as the group's newest unlogged message, which `Sync` reports. Users in
/// `also` get it in their logs either way (the member an event removes, or
/// everyone when the group ends), and live.
fn diffuse(
    tx: &mut Tx<'_>,
    config: &GroupConfig,
    group: u64,
    members: Vec<u64>,
    also: &[u64],
    origin: Option<u64>,
    message: Message,
) {
    let (id, body) = (message.id, UpdateBody::Message(message));
    let small = members.len() <= config.write_diffusion_max as usize;
    let mut also = also.to_vec();
    also.sort_unstable();
    also.dedup();
    let mut live = members;
    live.extend_from_slice(&also);
    live.sort_unstable();
    live.dedup();
    if small {
        update::publish_to(tx, &live.clone(), live, origin, id, body);
    } else {
        store::set_unlogged(tx, group, id);
        update::publish_to(tx, &also, live, origin, id, body);
    }
}

/// Writes a system message into the group's log under a fresh id and
/// diffuses it to the current members (plus the event's subject, who may
/// have just left); returns the id.
pub(crate) fn announce(
    tx: &mut Tx<'_>,
    config: &GroupConfig,
    group: u64,
    by: u64,
    event: GroupEvent,
) -> ServiceResult<u64> {
    let id = tx.next_id();
    say(tx, config, group, id, by, event, &[])?;
    Ok(id)
}

/// Ends `user`'s membership with `event`, caused by `by` and announced to
/// the members and to `user`, whose window stays readable up to that
/// message.
fn remove(
    tx: &mut Tx<'_>,
    config: &GroupConfig,
    group: u64,
    record: &mut GroupRecord,
    user: u64,
    by: u64,
    event: GroupEvent,
) -> ServiceResult<()> {
    let exit = tx.next_id();
    store::remove_member(tx, group, record, user, (exit, config.left_groups_kept as usize))?;
    say(tx, config, group, exit, by, event, &[])
}

/// [`announce`] under a given id, with extra users who must find it in their logs.
fn say(
    tx: &mut Tx<'_>,
    config: &GroupConfig,
    group: u64,
    id: u64,
    by: u64,
    event: GroupEvent,
    also: &[u64],
) -> ServiceResult<()> {
    let mut also = also.to_vec();
    also.extend(event.subject());
    let message = StoredMessage {
        sender: by,
        client_msg_id: [0; 16],
        kind: MessageKind::System,
        content: crate::codec::encode_wire(&event),
        extra: None,
        reply_to: 0,
        edited: 0,
        mentions: Vec::new(),
    };
    let conversation = Conversation::Group(group);
    message::append(tx, conversation, id, &message)?;
    let members = store::members_in(tx, group)?.into_iter().map(|(user, _)| user).collect();
    diffuse(tx, config, group, members, &also, None, message::wire_message(id, conversation, &message));
    Ok(())
}

/// Whether `actor` may recall `sender`'s messages at any time: the owner
/// anyone's, an admin those of ordinary and former members.
pub(crate) fn may_recall_any(r: &impl Get, group: u64, actor: u64, sender: u64) -> ServiceResult<bool> {
    Ok(match membership(r, group, actor)?.role {
        GroupRole::Owner => true,
        GroupRole::Admin => store::member(r, group, sender)?.is_none_or(|m| m.role == GroupRole::Member),
        GroupRole::Member => false,
    })
}

/// Refuses anyone but a group's owner and admins.
pub(crate) fn need_admin(r: &impl Get, group: u64, user: u64) -> ServiceResult<()> {
    rules::need_admin(membership(r, group, user)?.role)
}

async fn create(call: Call, mut req: CreateGroupRequest) -> ServiceResult<Outcome<CreateGroupReply>> {
    let me = call.me()?.user_id;
    rules::check_fields(&mut req.fields)?;
    let config = call.services.config.group.clone();
    let most = rules::INITIAL_MEMBERS.min(config.max_members.saturating_sub(1) as usize);
    // Counted as invited: the caller and repeats are not.
    let mut seen = std::collections::HashSet::new();
    let members: Vec<u64> = req.members.into_iter().filter(|user| *user != me && seen.insert(*user)).collect();
    if members.len() > most {
        return Err(ServiceError::invalid(format!("members: at most {most} at creation; invite the others"))
            .with_limit(most as u64));
    }
    if !members.is_empty() {
        call.services.invitations.allow(me, members.len() as u32, std::time::Instant::now())?;
    }
    let (services, origin) = (call.services.clone(), call.session_id);
    call.services
        .write(move |tx| {
            membership::check_group_count(tx, &config, me)?;
            let id = tx.next_id();
            media::set_avatar(tx, media::Holder::Group(id), me, 0, req.fields.avatar)?;
            let mut record = GroupRecord { fields: req.fields, muted: false, owner: me, member_count: 0, roster: 0 };
            let visible_from = if record.fields.history_visible { 0 } else { id };
            let owner =
                MemberRecord { role: GroupRole::Owner, alias: String::new(), joined: id, visible_from, muted_until: 0 };
            store::add_member(tx, id, &mut record, me, &owner)?;
            say(tx, &config, id, id, me, GroupEvent::Created { by: me }, &[])?;
            let mut reply =
                CreateGroupReply { group: info(id, &record, None), joined: vec![], invited: vec![], refused: vec![] };
            for user in members {
                match membership::invite(tx, &services, &config, id, (me, origin), user) {
                    Ok(info) if info.state == RequestState::Accepted => reply.joined.push(user),
                    Ok(_) => reply.invited.push(user),
                    Err(e) if !e.is_internal() => reply.refused.push(user),
                    Err(e) => return Err(e),
                }
            }
            let record = load(tx, id)?;
            reply.group = info(id, &record, Some(GroupRole::Owner));
            Ok(reply)
        })
        .await
}

async fn get(call: Call, req: GetGroupRequest) -> ServiceResult<Outcome<GroupInfo>> {
    let me = call.me()?.user_id;
    let group = req.group_id;
    let found =
        call.services.read(move |s| Ok(shown(s, group, me).map(|(record, role)| info(group, &record, role)))).await??;
    Ok(Outcome::Reply(found))
}

/// The group as `user` may see it, with their role: members, and anyone
/// not banned from a group that is not invite-only (an invite-only group
/// shows itself to its members and to those invited, not to anyone
/// guessing ids). `GetGroup` and the group avatar's readers ask here.
pub(crate) fn shown(r: &impl Get, group: u64, user: u64) -> ServiceResult<(GroupRecord, Option<GroupRole>)> {
    let record = load(r, group)?;
    check_not_banned(r, group, user)?;
    let role = store::member(r, group, user)?.map(|m| m.role);
    let invited = || store::invitation(r, user, group).map(|i| i.is_some());
    if role.is_none() && record.fields.join_policy == JoinPolicy::InviteOnly && !invited()? {
        return Err(ServiceError::not_found("no such group"));
    }
    Ok((record, role))
}

/// Whether two users are members of one group (a look at each group of
/// `a`'s, at most `group.max_groups_per_user`).
pub(crate) fn share_a_group(r: &impl Get, a: u64, b: u64) -> Result<bool, StorageError> {
    for g in store::groups_of(r, a, 0) {
        if store::member(r, g?, b)?.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn update_group(call: Call, mut req: UpdateGroupRequest) -> ServiceResult<Outcome<GroupInfo>> {
    rules::check_fields(&mut req.fields)?;
    change(&call, move |tx, config, me| {
        let group = req.group_id;
        let mut record = load(tx, group)?;
        let role = membership(tx, group, me)?.role;
        rules::need_admin(role)?;
        media::set_avatar(tx, media::Holder::Group(group), me, record.fields.avatar, req.fields.avatar)?;
        record.fields = req.fields.clone();
        store::put_group(tx, group, &record);
        announce(tx, config, group, me, GroupEvent::InfoChanged { by: me, fields: req.fields })?;
        Ok(info(group, &record, Some(role)))
    })
    .await
}

async fn dissolve(call: Call, req: DissolveGroupRequest) -> ServiceResult<Outcome<()>> {
    change(&call, move |tx, config, me| {
        let group = req.group_id;
        load(tx, group)?;
        rules::need_owner(membership(tx, group, me)?.role)?;
        end(tx, config, group, me)
    })
    .await
}

/// Ends a group, `by` its owner: everyone gets the event in their own log
/// and keeps the window they had; invitations into it no longer stand, and
/// each invitee hears so once.
fn end(tx: &mut Tx<'_>, config: &GroupConfig, group: u64, by: u64) -> ServiceResult<()> {
    let avatar = load(tx, group)?.fields.avatar;
    media::set_avatar(tx, media::Holder::Group(group), by, avatar, 0)?;
    let members = store::members_in(tx, group)?;
    let everyone: Vec<u64> = members.iter().map(|(user, _)| *user).collect();
    let id = tx.next_id();
    for (user, member) in &members {
        store::keep_window(tx, (group, *user), member, id, config.left_groups_kept as usize)?;
    }
    say(tx, config, group, id, by, GroupEvent::Dissolved { by }, &everyone)?;
    for (user, invitation) in store::clear_invitations(tx, group)? {
        let info = membership::expired_invitation(tx, group, user, &invitation)?;
        let notice = tx.next_id();
        update::publish(tx, &[user], None, notice, UpdateBody::GroupInvitation(info));
    }
    store::dissolve(tx, group, &members)?;
    Ok(())
}

async fn transfer(call: Call, req: TransferGroupRequest) -> ServiceResult<Outcome<()>> {
    change(&call, move |tx, config, me| {
        let (group, to) = (req.group_id, req.user_id);
        let mut record = load(tx, group)?;
        rules::need_owner(membership(tx, group, me)?.role)?;
        if to == me {
            return Err(ServiceError::invalid("user_id: you already own this group"));
        }
        store::member(tx, group, to)?.ok_or_else(|| ServiceError::not_found("not a member of this group"))?;
        hand_over(tx, config, group, &mut record, me, to)
    })
    .await
}

/// Makes member `to` the owner in place of `from`, who stays a member.
fn hand_over(
    tx: &mut Tx<'_>,
    config: &GroupConfig,
    group: u64,
    record: &mut GroupRecord,
    from: u64,
    to: u64,
) -> ServiceResult<()> {
    let mut mine = membership(tx, group, from)?;
    let mut theirs = membership(tx, group, to)?;
    mine.role = GroupRole::Member;
    theirs.role = GroupRole::Owner;
    // Nobody may lift an owner's mute, so the new owner has none.
    theirs.muted_until = 0;
    store::put_member(tx, group, from, &mine);
    store::put_member(tx, group, to, &theirs);
    record.owner = to;
    store::put_group(tx, group, record);
    announce(tx, config, group, from, GroupEvent::OwnershipTransferred { from, to })?;
    Ok(())
}

/// Takes a deleted account out of its groups, one group per call: a group
/// it owns passes to the longest-standing admin, else the longest-standing
/// member, and ends if nobody else is in it; then it leaves with a `Left`
/// event. True when it is in no group any more ([`forget`] goes on).
pub(crate) fn erase(tx: &mut Tx<'_>, config: &GroupConfig, user: u64) -> ServiceResult<bool> {
    let Some(group) = store::first_group_of(tx, user)? else {
        return Ok(true);
    };
    let mut record = load(tx, group)?;
    if record.owner == user {
        let heir = store::members_in(tx, group)?
            .into_iter()
            .filter(|(member, _)| *member != user)
            .min_by_key(|(_, m)| (m.role != GroupRole::Admin, m.joined))
            .map(|(member, _)| member);
        match heir {
            Some(heir) => hand_over(tx, config, group, &mut record, user, heir)?,
            None => return end(tx, config, group, user).map(|()| false),
        }
    }
    remove(tx, config, group, &mut record, user, user, GroupEvent::Left { user_id: user })?;
    Ok(false)
}

/// Forgets a deleted account that [`erase`] took out of every group: its
/// invitations and past windows, then its join requests, bans and kept
/// mutes, looking at `most` groups per call from the group after `next`
/// (moved on by each call). True when every group has been looked at.
pub(crate) fn forget(tx: &mut Tx<'_>, user: u64, next: &AtomicU64, most: usize) -> Result<bool, StorageError> {
    match store::forget_user(tx, user, next.load(Ordering::Relaxed), most)? {
        Some(last) => {
            next.store(last, Ordering::Relaxed);
            Ok(false)
        }
        None => Ok(true),
    }
}

async fn leave(call: Call, req: LeaveGroupRequest) -> ServiceResult<Outcome<()>> {
    change(&call, move |tx, config, me| {
        let group = req.group_id;
        let mut record = load(tx, group)?;
        if membership(tx, group, me)?.role == GroupRole::Owner {
            return Err(ServiceError::new(
                ErrorCode::Conflict,
                "the owner cannot leave: transfer the group or dissolve it",
            ));
        }
        remove(tx, config, group, &mut record, me, me, GroupEvent::Left { user_id: me })
    })
    .await
}

async fn list_groups(call: Call, req: ListGroupsRequest) -> ServiceResult<Outcome<GroupPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let me = call.me()?.user_id;
    let page = call
        .services
        .read(move |s| {
            let mut groups = Vec::new();
            for entry in store::groups_of(s, me, req.after) {
                let id = entry?;
                if groups.len() == limit {
                    return Ok(GroupPage { groups, more: true });
                }
                let (Some(record), Some(member)) = (store::group(s, id)?, store::member(s, id, me)?) else { continue };
                groups.push(info(id, &record, Some(member.role)));
            }
            Ok(GroupPage { groups, more: false })
        })
        .await?;
    Ok(Outcome::Reply(page))
}

async fn set_alias(call: Call, req: SetAliasRequest) -> ServiceResult<Outcome<()>> {
    let me = call.me()?.user_id;
    let alias = rules::check_alias(&req.alias)?;
    call.services
        .write(move |tx| {
            load(tx, req.group_id)?;
            let mut mine = membership(tx, req.group_id, me)?;
            mine.alias = alias;
            store::put_member(tx, req.group_id, me, &mine);
            Ok(())
        })
        .await
}

/// Reads `group` as the caller, a member of it, may: `read` gets the
/// group's record and the caller's membership. No such group is
/// `NotFound`; not a member, `NotPermitted`.
async fn read_as_member<T: Send + 'static>(
    call: &Call,
    group: u64,
    read: impl FnOnce(&Store, u64, GroupRecord, MemberRecord) -> ServiceResult<T> + Send + 'static,
) -> ServiceResult<T> {
    let me = call.me()?.user_id;
    call.services
        .read(move |s| {
            Ok((|| {
                let record = load(s, group)?;
                let member = membership(s, group, me)?;
                read(s, me, record, member)
            })())
        })
        .await?
}

async fn list_members(call: Call, req: ListMembersRequest) -> ServiceResult<Outcome<MemberPage>> {
    let limit = PageLimit::requested(req.limit)?.count;
    let services = call.services.clone();
    let page = read_as_member(&call, req.group_id, move |s, me, record, _| {
        let mut members = Vec::new();
        for entry in store::members_page(s, req.group_id, req.after) {
            let (user, m) = entry?;
            // Online first: an offline member costs no rule reading.
            let online = services.hub().is_online(user) && social::presence_shown(&services, s, me, user)?;
            if req.online_only && !online {
                continue;
            }
            if members.len() == limit {
                return Ok(MemberPage { members, more: true, member_count: record.member_count });
            }
            members.push(member_view(s, user, m, online)?);
        }
        Ok(MemberPage { members, more: false, member_count: record.member_count })
    })
    .await?;
    Ok(Outcome::Reply(page))
}

/// How many of a group's members are online, of those whose presence the
/// caller may see: a count read on demand, where a stream of presence
/// pushes from a large group would cost every member.
async fn group_online(call: Call, req: GroupOnlineRequest) -> ServiceResult<Outcome<GroupOnline>> {
    let services = call.services.clone();
    let counted = read_as_member(&call, req.group_id, move |s, me, record, _| {
        let mut online = 0;
        for user in services.rosters.members(s, req.group_id, &record)?.iter().copied() {
            if services.hub().is_online(user) && social::presence_shown(&services, s, me, user)? {
                online += 1;
            }
        }
        Ok(GroupOnline { member_count: record.member_count, online })
    })
    .await?;
    Ok(Outcome::Reply(counted))
}

fn member_view(r: &impl Get, user: u64, m: MemberRecord, online: bool) -> Result<Member, StorageError> {
    Ok(Member {
        user: super::social::card(r, user)?,
        role: m.role,
        alias: m.alias,
        joined_at: id_time_ms(m.joined),
        muted_until: m.muted_until,
        online,
    })
}
