//! Bodies of the moment actions (`0x60–0x6F`): posts with text and up to
//! nine photos or one video, shown to chosen friends, with likes and
//! comments; the friends' feed; and the bodies of their update kinds.
//!
//! Who sees a moment is one rule, written as a table in PROTOCOL section
//! 5 ("Who sees a moment"): the moment's audience, the viewer's tie to the
//! author, the two per-friend settings and the author's visible window.

use serde::{Deserialize, Serialize};

use super::wire_enum;

wire_enum! {
    /// Who a moment is shown to, besides its author.
    pub enum MomentAudience: u8 {
        /// Everyone on the server (strangers on the author's page and by id;
        /// the feed holds only one's own and friends' moments).
        Public = 1,
        /// The author's friends.
        Friends = 2,
        /// Only the listed friends.
        Only = 3,
        /// Every friend except the listed ones.
        Except = 4,
    }
}

wire_enum! {
    /// How far back people other than the author see the author's moments.
    pub enum MomentWindow: u8 {
        /// Every moment.
        All = 1,
        /// Moments of the last 3 days.
        ThreeDays = 2,
        /// Moments of the last 30 days.
        Month = 3,
        /// Moments of the last 180 days.
        HalfYear = 4,
    }
}

impl MomentWindow {
    /// How long, in milliseconds, or `None` for every moment.
    pub fn span_ms(self) -> Option<u64> {
        const DAY_MS: u64 = 86_400_000;
        match self {
            MomentWindow::All => None,
            MomentWindow::ThreeDays => Some(3 * DAY_MS),
            MomentWindow::Month => Some(30 * DAY_MS),
            MomentWindow::HalfYear => Some(180 * DAY_MS),
        }
    }
}

/// A moment's audience: the kind, and the friends it lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentVisibility {
    /// Who sees it.
    pub audience: MomentAudience,
    /// With `Only` and `Except`: the friends listed (1 to the server's
    /// limit, no repeats); empty with `Public` and `Friends`.
    pub users: Vec<u64>,
}

/// Where a moment was posted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The place's name, 1–64 characters, one line.
    pub name: String,
    /// Latitude in degrees × 10⁷, −900,000,000 to 900,000,000.
    pub latitude_e7: i32,
    /// Longitude in degrees × 10⁷, −1,800,000,000 to 1,800,000,000.
    pub longitude_e7: i32,
}

/// The files a moment shows: the author's own uploads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MomentMedia {
    /// Text alone (variant 0).
    None,
    /// 1 to 9 images, in the order shown (variant 1).
    Images(Vec<u64>),
    /// One video and the image shown before it plays (variant 2).
    Video {
        /// The video.
        video: u64,
        /// Its cover image.
        cover: u64,
    },
}

impl MomentMedia {
    /// Every file, in order (a video before its cover).
    pub fn files(&self) -> Vec<u64> {
        match self {
            MomentMedia::None => Vec::new(),
            MomentMedia::Images(images) => images.clone(),
            MomentMedia::Video { video, cover } => vec![*video, *cover],
        }
    }
}

/// `PublishMoment` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishMomentRequest {
    /// Chosen by the client, unique per author: a retried publish with the
    /// same id returns the first one's moment instead of posting twice.
    pub client_id: [u8; 16],
    /// The text, up to the server's limit; may be empty when files are shown.
    pub text: String,
    /// The files.
    pub media: MomentMedia,
    /// Where it was posted from, if the author says.
    pub location: Option<Location>,
    /// Who sees it.
    pub visibility: MomentVisibility,
}

/// `PublishMoment` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentPublished {
    /// The moment's id (a snowflake: its time is when it was posted).
    pub moment_id: u64,
    /// True when `client_id` was seen before and no new moment was posted.
    pub duplicate: bool,
}

/// A file a moment shows, as the server stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentFile {
    /// The file, for `GetMedia` and `MediaUrl`.
    pub media_id: u64,
    /// MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
    /// Width in pixels, 0 if none.
    pub width: u32,
    /// Height in pixels, 0 if none.
    pub height: u32,
    /// Duration in milliseconds, 0 if none.
    pub duration_ms: u32,
}

/// A comment on a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentComment {
    /// The comment's id (a snowflake).
    pub comment_id: u64,
    /// The moment.
    pub moment_id: u64,
    /// Who wrote it.
    pub author: u64,
    /// The text.
    pub text: String,
    /// The comment it answers, when the reader sees it (else `None`).
    pub reply_to: Option<u64>,
    /// Who wrote that comment, when the reader sees it (else 0).
    pub reply_to_user: u64,
}

/// A moment as one viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    /// The moment's id; its time is when it was posted.
    pub moment_id: u64,
    /// Who posted it.
    pub author: u64,
    /// The text.
    pub text: String,
    /// The files' ids.
    pub media: MomentMedia,
    /// What the server stored of each file, in the order of `media`.
    pub files: Vec<MomentFile>,
    /// Where it was posted from.
    pub location: Option<Location>,
    /// Who it is shown to: to its author only; `None` for everyone else.
    pub visibility: Option<MomentVisibility>,
    /// Likes the viewer may see (section 5, "Who sees a moment").
    pub like_count: u32,
    /// The first 20 of them by user id.
    pub likes: Vec<u64>,
    /// Whether the viewer likes it.
    pub liked: bool,
    /// Comments the viewer may see.
    pub comment_count: u32,
    /// The first of them, oldest first, at most 20; `MomentComments` pages on.
    pub comments: Vec<MomentComment>,
}

/// `Feed` request: the caller's and their friends' moments, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedRequest {
    /// Exclusive upper bound on moment ids: 0 for the newest, then the last
    /// moment id of the previous page.
    pub before: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `UserMoments` request: one user's moments the caller may see, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMomentsRequest {
    /// The author (the caller's own id for their own).
    pub user_id: u64,
    /// As in `Feed`.
    pub before: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `Feed` and `UserMoments` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentPage {
    /// Moments, id descending.
    pub moments: Vec<Moment>,
    /// True when more follow: page on from the last id.
    pub more: bool,
}

/// `GetMoment` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetMomentRequest {
    /// The moment.
    pub moment_id: u64,
}

/// `DeleteMoment` request: the author takes a moment down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteMomentRequest {
    /// The moment.
    pub moment_id: u64,
}

/// `LikeMoment` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LikeMomentRequest {
    /// The moment.
    pub moment_id: u64,
    /// True to like, false to take the like back.
    pub like: bool,
}

/// `CommentMoment` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentMomentRequest {
    /// The moment.
    pub moment_id: u64,
    /// The text, 1 character to the server's limit.
    pub text: String,
    /// The comment this answers, one the caller may see on the moment.
    pub reply_to: Option<u64>,
}

/// `DeleteComment` request: its writer, or the moment's author, takes a comment down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteCommentRequest {
    /// The moment.
    pub moment_id: u64,
    /// The comment.
    pub comment_id: u64,
}

/// `MomentComments` request: the comments the caller may see, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentCommentsRequest {
    /// The moment.
    pub moment_id: u64,
    /// Exclusive lower bound on comment ids: 0 for the first page.
    pub after: u64,
    /// Page size, 1–100.
    pub limit: u16,
}

/// `MomentComments` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentPage {
    /// Comments, id ascending.
    pub comments: Vec<MomentComment>,
    /// True when more follow.
    pub more: bool,
}

/// `MomentSettings` request: read, or set, the caller's visible window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentSettingsRequest {
    /// The new window, or `None` to read it.
    pub window: Option<MomentWindow>,
}

/// `MomentSettings` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentSettings {
    /// How far back others see the caller's moments (`All` until set).
    pub window: MomentWindow,
}

/// `MomentFilter` request: read, or set, the caller's two settings about one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentFilterRequest {
    /// The other user.
    pub user_id: u64,
    /// "Don't show my moments to them": the new value, or `None` to keep it.
    pub hide_mine: Option<bool>,
    /// "Hide their moments from my feed": the new value, or `None` to keep it.
    pub hide_theirs: Option<bool>,
}

/// `MomentFilter` response: the two settings after the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentFilter {
    /// The other user.
    pub user_id: u64,
    /// The caller's moments are not shown to them, anywhere.
    pub hide_mine: bool,
    /// Their moments are left out of the caller's feed (their page still shows them).
    pub hide_theirs: bool,
}

/// `MomentLiked` update: someone liked one of the user's moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentLiked {
    /// The moment.
    pub moment_id: u64,
    /// Who liked it.
    pub user_id: u64,
}

/// `MomentCommented` update: a comment on one of the user's moments, or a
/// reply to one of the user's comments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentCommented {
    /// The moment's author.
    pub moment_author: u64,
    /// The comment (its id is the update's id).
    pub comment: MomentComment,
}

/// `MomentPosted` update, pushed live only: a friend posted a moment the
/// user's feed shows — the feed's badge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MomentPosted {
    /// The moment.
    pub moment_id: u64,
    /// Its author.
    pub author: u64,
}
