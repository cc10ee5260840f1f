//! Bodies of the group actions (`0x30–0x47`): lifecycle, roles, join
//! requests and invitations, bans, mutes, members; the bodies of the group
//! update kinds; and the membership events the group log carries as system
//! messages.

use serde::{Deserialize, Serialize};

use super::social::{RequestState, UserCard};
use super::wire_enum;

wire_enum! {
    /// How a user gets into a group.
    pub enum JoinPolicy: u8 {
        /// Anyone not banned joins directly.
        Open = 1,
        /// A join request, accepted or rejected by the owner or an admin.
        Approval = 2,
        /// Only by an invitation from the owner or an admin.
        InviteOnly = 3,
    }
}

wire_enum! {
    /// A member's role.
    pub enum GroupRole: u8 {
        /// An ordinary member.
        Member = 1,
        /// Appointed by the owner: may kick, ban and mute ordinary members,
        /// answer join requests, invite and change the group's information.
        Admin = 2,
        /// Exactly one per group.
        Owner = 3,
    }
}

/// A group as its members see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Group id (a snowflake: its time is when the group was created).
    pub group_id: u64,
    /// 1–64 characters.
    pub name: String,
    /// Media id of the group's avatar, an image the owner or an admin
    /// uploaded; 0 for none.
    pub avatar: u64,
    /// Up to 512 characters.
    pub introduction: String,
    /// Up to 2,048 characters.
    pub announcement: String,
    /// How users get in.
    pub join_policy: JoinPolicy,
    /// Whether new members see the messages from before they joined.
    pub history_visible: bool,
    /// Whether only the owner and admins may speak.
    pub muted: bool,
    /// The owner's user id.
    pub owner: u64,
    /// Members now.
    pub member_count: u32,
    /// The caller's role, if the caller is a member.
    pub my_role: Option<GroupRole>,
}

/// The group's editable fields, as `CreateGroup` sets them and
/// `UpdateGroup` changes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFields {
    /// 1–64 characters.
    pub name: String,
    /// Media id of the group's avatar, an image the owner or an admin
    /// uploaded; 0 for none.
    pub avatar: u64,
    /// Up to 512 characters.
    pub introduction: String,
    /// Up to 2,048 characters.
    pub announcement: String,
    /// How users get in.
    pub join_policy: JoinPolicy,
    /// Whether new members see the messages from before they joined.
    pub history_visible: bool,
}

/// `CreateGroup` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroupRequest {
    /// The group's information.
    pub fields: GroupFields,
    /// Users to invite at once; each joins, is invited or is refused by
    /// their own friend request policy and blocks, as with `InviteToGroup`.
    pub members: Vec<u64>,
}

/// `CreateGroup` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateGroupReply {
    /// The new group.
    pub group: GroupInfo,
    /// Initial members who joined at once.
    pub joined: Vec<u64>,
    /// Initial members who were sent an invitation.
    pub invited: Vec<u64>,
    /// Initial members who could not be invited (unknown, blocked, or
    /// refusing requests).
    pub refused: Vec<u64>,
}

/// Declares request bodies that name the same fields but travel under
/// different actions (each action has its own body type).
macro_rules! same_shape {
    ($fields:tt $( $(#[$meta:meta])* $name:ident; )+) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
            pub struct $name $fields
        )+
    };
}

same_shape! {
    {
        /// The group.
        pub group_id: u64,
    }
    /// `GetGroup` request.
    GetGroupRequest;
    /// `DissolveGroup` request (owner only).
    DissolveGroupRequest;
    /// `LeaveGroup` request (not the owner).
    LeaveGroupRequest;
}

same_shape! {
    {
        /// The group.
        pub group_id: u64,
        /// The user.
        pub user_id: u64,
    }
    /// `TransferGroup` request: `user_id` becomes the owner.
    TransferGroupRequest;
    /// `KickMember` request.
    KickMemberRequest;
    /// `InviteToGroup` request.
    InviteToGroupRequest;
}

same_shape! {
    {
        /// The group.
        pub group_id: u64,
        /// Entries of users with ids above this one; 0 to start.
        pub after: u64,
        /// Page size, 1–100.
        pub limit: u16,
    }
    /// `ListJoinRequests` request (owner and admins).
    ListJoinRequestsRequest;
    /// `ListBans` request (owner and admins).
    ListBansRequest;
}

/// `UpdateGroup` request: replaces the group's information.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateGroupRequest {
    /// The group.
    pub group_id: u64,
    /// Its new information.
    pub fields: GroupFields,
}

/// `ListGroups` request: the caller's groups by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListGroupsRequest {
    /// Groups with ids above this one; 0 to start.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `ListGroups` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPage {
    /// Groups in ascending id order.
    pub groups: Vec<GroupInfo>,
    /// True when more follow; page on from the last id until false.
    pub more: bool,
}

/// `JoinGroup` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinGroupRequest {
    /// The group.
    pub group_id: u64,
    /// For an approval group: a message to the deciders, up to 256 characters.
    pub message: String,
}

/// `JoinGroup` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinOutcome {
    /// An open group: the caller is a member now.
    Joined(GroupInfo),
    /// An approval group: the request waits for the owner or an admin.
    Requested(JoinRequestInfo),
}

/// A join request as the requester and the deciders see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequestInfo {
    /// Request id (a snowflake: its time is when it was made).
    pub id: u64,
    /// The group.
    pub group_id: u64,
    /// The group's name.
    pub group_name: String,
    /// Who asked.
    pub user: UserCard,
    /// Their message.
    pub message: String,
    /// `Pending`, `Accepted` or `Rejected`.
    pub state: RequestState,
    /// Who answered (0 while pending).
    pub answered_by: u64,
}

/// `AnswerJoinRequest` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerJoinRequest {
    /// The group.
    pub group_id: u64,
    /// Who asked.
    pub user_id: u64,
    /// True to admit them, false to reject.
    pub accept: bool,
}

/// `ListJoinRequests` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRequestPage {
    /// Pending requests, by requester id.
    pub requests: Vec<JoinRequestInfo>,
    /// True when more follow.
    pub more: bool,
}

/// An invitation into a group, as the invitee and the inviter see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationInfo {
    /// Invitation id (a snowflake: its time is when it was sent).
    pub id: u64,
    /// The group.
    pub group_id: u64,
    /// The group's name.
    pub group_name: String,
    /// Who invited.
    pub inviter: UserCard,
    /// Who is invited.
    pub invitee: UserCard,
    /// `Pending`, `Accepted` (the invitee is a member) or `Rejected`.
    pub state: RequestState,
}

/// `AnswerInvitation` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerInvitationRequest {
    /// The group the caller is invited to.
    pub group_id: u64,
    /// True to join, false to decline.
    pub accept: bool,
}

/// `ListInvitations` request: the caller's pending invitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListInvitationsRequest {
    /// Invitations to groups with ids above this one; 0 to start.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `ListInvitations` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPage {
    /// Pending invitations, by group id.
    pub invitations: Vec<InvitationInfo>,
    /// True when more follow.
    pub more: bool,
}

/// `SetAdmin` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAdminRequest {
    /// The group.
    pub group_id: u64,
    /// A member other than the owner.
    pub user_id: u64,
    /// True to appoint, false to remove.
    pub admin: bool,
}

/// `BanUser` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRequest {
    /// The group.
    pub group_id: u64,
    /// The user (a member is kicked as well).
    pub user_id: u64,
    /// True to ban, false to unban.
    pub banned: bool,
}

/// One entry of a group's ban list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    /// Who is banned.
    pub user: UserCard,
    /// Who banned them.
    pub by: u64,
    /// Since, ms since the Unix epoch.
    pub since: u64,
}

/// `ListBans` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanPage {
    /// Banned users, by id.
    pub bans: Vec<Ban>,
    /// True when more follow.
    pub more: bool,
}

/// `MuteMember` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteMemberRequest {
    /// The group.
    pub group_id: u64,
    /// The member.
    pub user_id: u64,
    /// Muted until this time (ms since the Unix epoch); 0 lifts the mute.
    pub until: u64,
}

/// `MuteGroup` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MuteGroupRequest {
    /// The group.
    pub group_id: u64,
    /// True: only the owner and admins speak.
    pub muted: bool,
}

/// `SetAlias` request: the caller's name inside a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetAliasRequest {
    /// The group.
    pub group_id: u64,
    /// Up to 32 characters; empty for none.
    pub alias: String,
}

/// `ListMembers` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListMembersRequest {
    /// The group.
    pub group_id: u64,
    /// Members with ids above this one; 0 to start.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
    /// Only members online now (whose presence the caller may see).
    pub online_only: bool,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Who.
    pub user: UserCard,
    /// Their role.
    pub role: GroupRole,
    /// Their name inside the group (may be empty).
    pub alias: String,
    /// When they joined, ms since the Unix epoch.
    pub joined_at: u64,
    /// Muted until (ms since the Unix epoch); 0 or past: not muted.
    pub muted_until: u64,
    /// Whether a device of theirs is connected now, if the caller may see
    /// their presence (false otherwise).
    pub online: bool,
}

/// `GroupOnline` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOnlineRequest {
    /// The group (members only).
    pub group_id: u64,
}

/// `GroupOnline` response: how many of a group's members are online, of
/// those whose presence the caller may see (the caller included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOnline {
    /// Members in the group.
    pub member_count: u32,
    /// Members online now whose presence the caller may see.
    pub online: u32,
}

/// `ListMembers` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPage {
    /// Members, by user id.
    pub members: Vec<Member>,
    /// True when more follow.
    pub more: bool,
    /// Members in the group.
    pub member_count: u32,
}

/// A group whose log holds messages that are in no member's update log
/// (it was above the write diffusion threshold when they were sent): the
/// device pulls them with `History`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupNews {
    /// The group.
    pub group_id: u64,
    /// Its newest such message id.
    pub latest: u64,
}

/// What a system message in a group log says (`MessageKind::System`; the
/// content is this value's encoding).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupEvent {
    /// The group was created.
    Created {
        /// Its creator and owner.
        by: u64,
    },
    /// A user became a member.
    Joined {
        /// The new member.
        user_id: u64,
        /// Who let them in: themselves (open group), the approver or the inviter.
        by: u64,
    },
    /// A member left.
    Left {
        /// Who.
        user_id: u64,
    },
    /// A member was removed.
    Kicked {
        /// Who.
        user_id: u64,
        /// By whom.
        by: u64,
    },
    /// A user was banned (and, if a member, removed).
    Banned {
        /// Who.
        user_id: u64,
        /// By whom.
        by: u64,
    },
    /// A member's role changed.
    RoleChanged {
        /// Who.
        user_id: u64,
        /// The new role.
        role: GroupRole,
        /// By whom.
        by: u64,
    },
    /// The group's information (name, announcement, policy …) changed.
    InfoChanged {
        /// By whom.
        by: u64,
        /// The information now.
        fields: GroupFields,
    },
    /// The owner handed the group over.
    OwnershipTransferred {
        /// The old owner (now an ordinary member).
        from: u64,
        /// The new owner.
        to: u64,
    },
    /// A member was muted, or their mute lifted.
    Muted {
        /// Who.
        user_id: u64,
        /// Until (ms since the Unix epoch); 0: the mute is lifted.
        until: u64,
        /// By whom.
        by: u64,
    },
    /// The whole group was muted or unmuted.
    GroupMuted {
        /// True: only the owner and admins speak.
        muted: bool,
        /// By whom.
        by: u64,
    },
    /// The owner dissolved the group; nothing more will be said in it.
    Dissolved {
        /// The owner.
        by: u64,
    },
    /// A message was recalled: its content is gone from the log.
    MessageRecalled {
        /// The message.
        message_id: u64,
        /// Who sent it.
        sender: u64,
        /// Who recalled it: the sender, the owner or an admin.
        by: u64,
    },
    /// The owner or an admin changed how long the group keeps its messages.
    RetentionChanged {
        /// The group's own retention in seconds now, 0 for none.
        seconds: u64,
        /// By whom.
        by: u64,
    },
    /// A member edited a message they sent: read it again for its text.
    MessageEdited {
        /// The message.
        message_id: u64,
        /// Who sent and edited it.
        sender: u64,
        /// When, milliseconds since the Unix epoch.
        edited_at: u64,
    },
}

impl GroupEvent {
    /// The user the event is about, who hears of it even when it removes
    /// them from the group.
    pub fn subject(&self) -> Option<u64> {
        match self {
            GroupEvent::Joined { user_id, .. }
            | GroupEvent::Left { user_id }
            | GroupEvent::Kicked { user_id, .. }
            | GroupEvent::Banned { user_id, .. }
            | GroupEvent::RoleChanged { user_id, .. }
            | GroupEvent::Muted { user_id, .. } => Some(*user_id),
            GroupEvent::OwnershipTransferred { to, .. } => Some(*to),
            GroupEvent::Created { .. }
            | GroupEvent::InfoChanged { .. }
            | GroupEvent::GroupMuted { .. }
            | GroupEvent::Dissolved { .. }
            | GroupEvent::MessageRecalled { .. }
            | GroupEvent::RetentionChanged { .. }
            | GroupEvent::MessageEdited { .. } => None,
        }
    }
}
