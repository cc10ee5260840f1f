//! THE table of request actions. One line per action: its byte, its name,
//! its request and reply bodies, and who may send it. From this table come
//! the [`Action`] enum (a repeated byte is a repeated discriminant, which
//! does not compile), the typed [`Request`] a frame decodes into, the list
//! of every action, the authentication rule, and each body's [`Rpc`] impl.
//!
//! Action bytes are grouped in one block per domain, so a domain's actions
//! sit together and new domains do not collide:
//!
//! | block | domain |
//! |---|---|
//! | `0x01–0x0F` | account and connection |
//! | `0x10–0x17` | messages |
//! | `0x18–0x1F` | the update log (sync, acknowledgements) |
//! | `0x20–0x2F` | social graph |
//! | `0x30–0x47` | groups |
//! | `0x48–0x57` | conversations |
//! | `0x58–0x5F` | media |
//! | `0x60–0x6F` | moments |
//! | `0x70–0x7E` | server administration and onboarding |
//!
//! `0x7F` is the error response ([`super::ERROR_ACTION`]); `0x80–0xFF` are
//! pushes ([`super::push`]).

// Every body type of the protocol, as the crate exports them: a new
// action's types need no import line here.
use super::rpc::{Rpc, Who};
use super::*;
use crate::codec::{decode_wire, encode_wire, DecodeError};

macro_rules! actions {
    ($( $(#[$meta:meta])* $byte:literal $name:ident($request:ty) -> $reply:ty, $who:ident; )+) => {
        /// Every request action. A successful response carries its
        /// request's action byte; a failed one [`super::ERROR_ACTION`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Action {
            $( $(#[$meta])* $name = $byte, )+
        }

        impl Action {
            /// Every action, in table order.
            pub const ALL: &'static [Action] = &[$(Action::$name),+];

            /// The action a byte names, if any.
            pub fn from_byte(byte: u8) -> Option<Action> {
                Action::ALL.iter().copied().find(|a| *a as u8 == byte)
            }

            /// Who may send it.
            pub fn who(self) -> Who {
                match self {
                    $( Action::$name => Who::$who, )+
                }
            }

            /// Its name, as the documentation spells it.
            pub fn name(self) -> &'static str {
                match self {
                    $( Action::$name => stringify!($name), )+
                }
            }

            /// Its request and reply types' names, as the table spells them,
            /// for the test that holds the document's summary to the table.
            pub fn bodies(self) -> (&'static str, &'static str) {
                match self {
                    $( Action::$name => (stringify!($request), stringify!($reply)), )+
                }
            }

            /// Decodes a successful response body of this action, for tools
            /// that see raw frames (the fuzz target, the documentation test).
            pub fn decode_reply(self, body: &[u8]) -> Result<Box<dyn std::fmt::Debug>, DecodeError> {
                Ok(match self {
                    $( Action::$name => Box::new(decode_wire::<$reply>(body)?), )+
                })
            }
        }

        /// A request, decoded by its action byte: "parse, don't validate" —
        /// the server works only with this typed value.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Request {
            $( $(#[$meta])* $name($request), )+
        }

        impl Request {
            /// Decodes the body of a frame with this action.
            pub fn decode(action: Action, body: &[u8]) -> Result<Request, DecodeError> {
                Ok(match action {
                    $( Action::$name => Request::$name(decode_wire(body)?), )+
                })
            }

            /// The action byte this request travels under.
            pub fn action(&self) -> Action {
                match self {
                    $( Request::$name(_) => Action::$name, )+
                }
            }

            /// Encodes the body.
            pub fn encode(&self) -> Vec<u8> {
                encode_wire(self)
            }
        }

        /// A request's body alone: the action travels in the header.
        impl serde::Serialize for Request {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $( Request::$name(body) => serde::Serialize::serialize(body, s), )+
                }
            }
        }

        $(
            impl Rpc for $request {
                const ACTION: Action = Action::$name;
                const WHO: Who = Who::$who;
                type Reply = $reply;
            }

            impl From<$request> for Request {
                fn from(body: $request) -> Request {
                    Request::$name(body)
                }
            }

            impl TryFrom<Request> for $request {
                type Error = Request;

                fn try_from(request: Request) -> Result<$request, Request> {
                    match request {
                        Request::$name(body) => Ok(body),
                        other => Err(other),
                    }
                }
            }
        )+
    };
}

actions! {
    // Account and connection, 0x01–0x0F.
    /// Keeps a connection alive; answers the server time.
    0x01 Heartbeat(Heartbeat) -> HeartbeatReply, Anyone;
    /// Creates an account.
    0x02 Register(RegisterRequest) -> RegisterReply, Anyone;
    /// Password login for one device; authenticates the connection.
    0x03 Login(LoginRequest) -> LoginReply, Anonymous;
    /// Token login; authenticates the connection.
    0x04 Auth(AuthRequest) -> AuthReply, Anonymous;
    /// Revokes this device's token and ends the connection.
    0x05 Logout(Logout) -> (), User;
    /// Changes the password and revokes every other token of the user.
    0x06 ChangePassword(ChangePasswordRequest) -> TokenReply, User;
    /// Looks a user up by exact username.
    0x07 FindUser(FindUserRequest) -> UserInfo, User;
    /// A fresh token for this device; the one in use stays valid until the new one is used.
    0x08 RenewToken(RenewToken) -> TokenReply, User;
    /// Deletes the caller's account for good and ends every session of it.
    0x09 DeleteAccount(DeleteAccountRequest) -> (), User;
    /// The server's VAPID key and wake-up settings, and whether this device is registered.
    0x0A PushKey(PushKey) -> PushKeyReply, User;
    /// Sets or clears where this device is woken when it has no connection.
    0x0B SetPushEndpoint(SetPushEndpointRequest) -> (), User;

    // Messages, 0x10–0x17.
    /// Stores a message and delivers it.
    0x10 Send(SendRequest) -> SendReply, User;
    /// Pages through one conversation's log, either direction.
    0x13 History(HistoryRequest) -> Page, User;
    /// Replaces the text of a message the caller sent, within the edit window.
    0x14 Edit(EditRequest) -> Message, User;

    // The update log, 0x18–0x1F.
    /// Pages through this user's update log after an update id.
    0x18 Sync(SyncRequest) -> SyncPage, User;
    /// Moves this device's cursor in the update log forward.
    0x19 Ack(AckRequest) -> AckReply, User;

    // Social graph, 0x20–0x2F.
    /// A user's profile (the caller's own included).
    0x20 GetProfile(GetProfileRequest) -> UserProfile, User;
    /// Replaces the caller's profile.
    0x21 SetProfile(SetProfileRequest) -> UserProfile, User;
    /// Reads or changes the caller's search visibility and friend request policy.
    0x22 Privacy(PrivacyRequest) -> PrivacySettings, User;
    /// Finds users by exact username or nickname prefix.
    0x23 SearchUsers(SearchUsersRequest) -> UserPage, User;
    /// Asks a user to be friends.
    0x24 AddFriend(AddFriendRequest) -> FriendRequestInfo, User;
    /// Accepts or rejects an incoming friend request.
    0x25 AnswerFriend(AnswerFriendRequest) -> FriendRequestInfo, User;
    /// Pages through incoming or outgoing friend requests.
    0x26 ListFriendRequests(ListFriendRequestsRequest) -> FriendRequestPage, User;
    /// Pages through the caller's friends.
    0x27 ListFriends(ListFriendsRequest) -> FriendPage, User;
    /// Ends a friendship, for both.
    0x28 RemoveFriend(RemoveFriendRequest) -> (), User;
    /// Sets the caller's private name for a friend.
    0x29 SetRemark(SetRemarkRequest) -> (), User;
    /// Blocks a user.
    0x2A Block(BlockRequest) -> (), User;
    /// Unblocks a user.
    0x2B Unblock(UnblockRequest) -> (), User;
    /// Pages through the users the caller blocked.
    0x2C ListBlocked(ListBlockedRequest) -> BlockedPage, User;
    /// Read or set who sees the personal fields of one's profile.
    0x2D ProfileVisibility(ProfileVisibilityRequest) -> FieldVisibility, User;
    /// Who of these users is online, or when they were last seen; watches them on this connection.
    0x2E Presence(PresenceRequest) -> PresenceList, User;

    // Groups, 0x30–0x47.
    /// Creates a group owned by the caller, inviting its first members.
    0x30 CreateGroup(CreateGroupRequest) -> CreateGroupReply, User;
    /// A group's information (an invite-only group: members and invitees only).
    0x31 GetGroup(GetGroupRequest) -> GroupInfo, User;
    /// Replaces a group's information (owner, admins).
    0x32 UpdateGroup(UpdateGroupRequest) -> GroupInfo, User;
    /// Ends a group (owner).
    0x33 DissolveGroup(DissolveGroupRequest) -> (), User;
    /// Hands the group to another member (owner).
    0x34 TransferGroup(TransferGroupRequest) -> (), User;
    /// Leaves a group (anyone but the owner).
    0x35 LeaveGroup(LeaveGroupRequest) -> (), User;
    /// Pages through the caller's groups.
    0x36 ListGroups(ListGroupsRequest) -> GroupPage, User;
    /// Joins an open group, or asks to join an approval group.
    0x37 JoinGroup(JoinGroupRequest) -> JoinOutcome, User;
    /// Admits or rejects a join request (owner, admins).
    0x38 AnswerJoinRequest(AnswerJoinRequest) -> JoinRequestInfo, User;
    /// Pages through a group's pending join requests (owner, admins).
    0x39 ListJoinRequests(ListJoinRequestsRequest) -> JoinRequestPage, User;
    /// Invites a user into a group.
    0x3A InviteToGroup(InviteToGroupRequest) -> InvitationInfo, User;
    /// Accepts or declines an invitation.
    0x3B AnswerInvitation(AnswerInvitationRequest) -> InvitationInfo, User;
    /// Pages through the caller's pending invitations.
    0x3C ListInvitations(ListInvitationsRequest) -> InvitationPage, User;
    /// Removes a member (owner: anyone; admins: ordinary members).
    0x3D KickMember(KickMemberRequest) -> (), User;
    /// Appoints or removes an admin (owner).
    0x3E SetAdmin(SetAdminRequest) -> (), User;
    /// Bans or unbans a user (owner, admins).
    0x3F BanUser(BanRequest) -> (), User;
    /// Pages through a group's ban list (owner, admins).
    0x40 ListBans(ListBansRequest) -> BanPage, User;
    /// Mutes a member until a time, or lifts it (owner, admins).
    0x41 MuteMember(MuteMemberRequest) -> (), User;
    /// Mutes or unmutes the whole group (owner, admins).
    0x42 MuteGroup(MuteGroupRequest) -> (), User;
    /// Sets the caller's alias inside a group.
    0x43 SetAlias(SetAliasRequest) -> (), User;
    /// Pages through a group's members (members only).
    0x44 ListMembers(ListMembersRequest) -> MemberPage, User;
    /// How many of a group's members are online.
    0x45 GroupOnline(GroupOnlineRequest) -> GroupOnline, User;

    // Conversations, 0x48–0x57.
    /// Pages through the caller's conversations, most recently changed first.
    0x48 ListConversations(ListConversationsRequest) -> ConversationPage, User;
    /// Moves the caller's read position in a conversation.
    0x49 MarkRead(MarkReadRequest) -> ReadPosition, User;
    /// Reads or changes whether the caller sends read receipts.
    0x4A ReadReceipts(ReadReceiptsRequest) -> ReadReceiptsSetting, User;
    /// How many members of a group (and, in small groups, who) read a message.
    0x4B MessageReaders(MessageReadersRequest) -> MessageReaders, User;
    /// Takes back a message (its sender within the window, a group's owner or admins).
    0x4C Recall(RecallRequest) -> Recalled, User;
    /// Hides messages, or clears a conversation, for the caller alone.
    0x4D DeleteForMe(DeleteForMeRequest) -> DeletedForMe, User;
    /// Reads or sets how long a conversation keeps its messages.
    0x4E Retention(RetentionRequest) -> RetentionSetting, User;
    /// Tells the conversation's other online devices that the caller is typing, or stopped.
    0x4F Typing(TypingRequest) -> (), User;
    /// Reads or sets whether the caller pins a conversation, and its draft, for all their devices.
    0x50 ConversationState(ConversationStateRequest) -> ConversationState, User;
    /// Every conversation the caller pinned or keeps a draft in.
    0x51 ConversationStates(ConversationStatesRequest) -> ConversationStates, User;
    /// Adds or removes one of the caller's emoji on a message.
    0x52 React(ReactRequest) -> MessageReactions, User;
    /// The reactions on a message.
    0x53 Reactions(ReactionsRequest) -> MessageReactions, User;

    // Media, 0x58–0x5F.
    /// Declares a file to upload: size, type, SHA-256, purpose.
    0x58 StartUpload(StartUploadRequest) -> UploadStarted, User;
    /// Sends bytes of an upload at an offset.
    0x59 UploadChunk(UploadChunkRequest) -> UploadOffset, User;
    /// How many bytes of an upload the server holds, to resume it.
    0x5A UploadStatus(UploadStatusRequest) -> UploadOffset, User;
    /// Checks an upload's hash and stores the file.
    0x5B FinishUpload(FinishUploadRequest) -> MediaInfo, User;
    /// Reads bytes of a file the caller may read.
    0x5C GetMedia(GetMediaRequest) -> MediaChunk, User;
    /// A short-lived signed HTTPS URL of a file the caller may read.
    0x5D MediaUrl(MediaUrlRequest) -> MediaUrl, User;

    // Moments, 0x60–0x6F.
    /// Posts a moment: text, photos or a video, a place, an audience.
    0x60 PublishMoment(PublishMomentRequest) -> MomentPublished, User;
    /// Takes down one of the caller's moments, with its likes and comments.
    0x61 DeleteMoment(DeleteMomentRequest) -> (), User;
    /// The caller's and their friends' moments, newest first.
    0x62 Feed(FeedRequest) -> MomentPage, User;
    /// One user's moments the caller may see, newest first.
    0x63 UserMoments(UserMomentsRequest) -> MomentPage, User;
    /// One moment the caller may see.
    0x64 GetMoment(GetMomentRequest) -> Moment, User;
    /// Likes a moment, or takes the like back.
    0x65 LikeMoment(LikeMomentRequest) -> (), User;
    /// Comments on a moment, or replies to a comment on it.
    0x66 CommentMoment(CommentMomentRequest) -> MomentComment, User;
    /// Takes down a comment (its writer, or the moment's author).
    0x67 DeleteComment(DeleteCommentRequest) -> (), User;
    /// Pages through the comments on a moment the caller may see.
    0x68 MomentComments(MomentCommentsRequest) -> CommentPage, User;
    /// Reads or sets how far back others see the caller's moments.
    0x69 MomentSettings(MomentSettingsRequest) -> MomentSettings, User;
    /// Reads or sets "don't show my moments to them" and "hide their moments from my feed".
    0x6A MomentFilter(MomentFilterRequest) -> MomentFilter, User;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_stay_below_the_error_byte() {
        for a in Action::ALL {
            assert_eq!(Action::from_byte(*a as u8), Some(*a));
            assert!((*a as u8) > 0 && (*a as u8) < super::super::ERROR_ACTION, "{a:?}");
        }
        assert_eq!(Action::from_byte(0x00), None);
        assert_eq!(Action::from_byte(0x12), None, "SyncInbox is retired");
    }

    #[test]
    fn requests_round_trip_through_the_table() {
        let request = Request::from(AckRequest { up_to: 7 });
        assert_eq!(request.action(), Action::Ack);
        assert_eq!(Request::decode(Action::Ack, &request.encode()).unwrap(), request);
        assert_eq!(AckRequest::try_from(request).unwrap(), AckRequest { up_to: 7 });
    }
}
