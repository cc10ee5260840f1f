//! Moments, as people on their phones see them: a post of text with photos
//! or a video, shown to the audience its author chose — in the friends'
//! feed, on the author's page, by its id and through its files, one rule
//! for all of them, with nothing leaking past it; likes and comments seen
//! between friends; the notices they make (live and by `Sync`, gone again
//! with what they tell of) and the feed's badge (live only); the feed paged
//! without gap or repeat; who may delete what; the limits; `kith stats`.

use crate::common;
use crate::media::{noise, reads};

use common::process::stats;
use common::talk::{befriend, code, none_pushed, pushed};
use common::{Kind, TestServer, TestUser};
use kith::client::{new_client_msg_id, Client, ClientError, FileShape};
use kith::protocol::{
    BlockRequest, CommentMomentRequest, DeleteCommentRequest, DeleteMomentRequest, DeviceType, ErrorCode, FeedRequest,
    GetMomentRequest, LikeMomentRequest, Location, MediaPurpose, Moment, MomentAudience, MomentComment,
    MomentCommented, MomentCommentsRequest, MomentFile, MomentFilter, MomentFilterRequest, MomentLiked, MomentMedia,
    MomentPage, MomentPosted, MomentPublished, MomentSettingsRequest, MomentVisibility, MomentWindow,
    PublishMomentRequest, RateLimitReason, RemoveFriendRequest, UpdateBody, UpdateKind, UserMomentsRequest,
};

const JPEG: &str = "image/jpeg";

/// Uploads `bytes` as a moment's file; returns its media id.
async fn upload(client: &Client, mime: &str, bytes: &[u8], size_px: (u32, u32), duration_ms: u32) -> u64 {
    let shape = FileShape { mime, purpose: MediaPurpose::Moment, size_px, duration_ms };
    client.upload(bytes, shape).await.expect("uploads").media_id
}

/// Uploads a small photo; returns its media id.
async fn photo(client: &Client) -> u64 {
    upload(client, JPEG, &noise(2000), (640, 480), 0).await
}

/// A request to post `text` and `media` to `audience` (listing `users`),
/// under a fresh client id, with no place.
fn moment(text: &str, media: MomentMedia, audience: MomentAudience, users: &[u64]) -> PublishMomentRequest {
    PublishMomentRequest {
        client_id: new_client_msg_id(),
        text: text.into(),
        media,
        location: None,
        visibility: MomentVisibility { audience, users: users.to_vec() },
    }
}

/// `request` posted from the place `name`, at these coordinates.
fn located(request: PublishMomentRequest, name: &str, latitude_e7: i32, longitude_e7: i32) -> PublishMomentRequest {
    PublishMomentRequest { location: Some(Location { name: name.into(), latitude_e7, longitude_e7 }), ..request }
}

/// Posts a moment; returns its id.
async fn publish(client: &Client, request: &PublishMomentRequest) -> u64 {
    let published = client.call(request).await.expect("posts");
    assert!(!published.duplicate, "a new client id posts a new moment");
    published.moment_id
}

/// Posts `text` alone to `audience` (listing `users`); returns the moment's id.
async fn post(client: &Client, text: &str, audience: MomentAudience, users: &[u64]) -> u64 {
    publish(client, &moment(text, MomentMedia::None, audience, users)).await
}

async fn feed_page(client: &Client, before: u64, limit: u16) -> MomentPage {
    client.call(&FeedRequest { before, limit }).await.expect("reads the feed")
}

/// The newest hundred moments of the caller's feed.
async fn feed(client: &Client) -> Vec<Moment> {
    feed_page(client, 0, 100).await.moments
}

/// The caller's whole feed below `before`, read in pages of `limit`,
/// checking each page holds at most `limit` moments, newest first.
async fn whole_feed(client: &Client, mut before: u64, limit: u16) -> Vec<Moment> {
    let mut out = Vec::new();
    loop {
        let batch = feed_page(client, before, limit).await;
        assert!(batch.moments.len() <= usize::from(limit), "a page of {} for a limit of {limit}", batch.moments.len());
        assert!(batch.moments.windows(2).all(|w| w[0].moment_id > w[1].moment_id), "newest first");
        out.extend(batch.moments.iter().cloned());
        match (batch.more, batch.moments.last()) {
            (true, Some(last)) => before = last.moment_id,
            _ => return out,
        }
    }
}

/// The newest hundred moments of `author`'s page the caller sees.
async fn page(client: &Client, author: u64) -> Result<Vec<Moment>, ClientError> {
    Ok(client.call(&UserMomentsRequest { user_id: author, before: 0, limit: 100 }).await?.moments)
}

async fn get(client: &Client, moment_id: u64) -> Result<Moment, ClientError> {
    client.call(&GetMomentRequest { moment_id }).await
}

async fn like(client: &Client, moment_id: u64, like: bool) -> Result<(), ClientError> {
    client.call(&LikeMomentRequest { moment_id, like }).await
}

async fn comment(
    client: &Client,
    moment_id: u64,
    text: &str,
    reply_to: Option<u64>,
) -> Result<MomentComment, ClientError> {
    client.call(&CommentMomentRequest { moment_id, text: text.into(), reply_to }).await
}

/// The first hundred comments on a moment the caller sees.
async fn comments(client: &Client, moment_id: u64) -> Result<Vec<MomentComment>, ClientError> {
    Ok(client.call(&MomentCommentsRequest { moment_id, after: 0, limit: 100 }).await?.comments)
}

async fn delete_comment(client: &Client, moment_id: u64, comment_id: u64) -> Result<(), ClientError> {
    client.call(&DeleteCommentRequest { moment_id, comment_id }).await
}

async fn delete_moment(client: &Client, moment_id: u64) -> Result<(), ClientError> {
    client.call(&DeleteMomentRequest { moment_id }).await
}

/// Sets the caller's settings about `user_id` (`None` keeps one) and
/// returns them.
async fn filter(client: &Client, user_id: u64, hide_mine: Option<bool>, hide_theirs: Option<bool>) -> MomentFilter {
    client.call(&MomentFilterRequest { user_id, hide_mine, hide_theirs }).await.expect("moment filter")
}

/// Sets the caller's visible window (`None` reads it) and returns it.
async fn window(client: &Client, set: Option<MomentWindow>) -> MomentWindow {
    client.call(&MomentSettingsRequest { window: set }).await.expect("moment settings").window
}

fn ids(moments: &[Moment]) -> Vec<u64> {
    moments.iter().map(|m| m.moment_id).collect()
}

/// Every id of `lists`, newest first.
fn newest_first(lists: &[&[u64]]) -> Vec<u64> {
    let mut all: Vec<u64> = lists.iter().flat_map(|l| l.iter().copied()).collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    all
}

/// The ids of the moment notices (kinds 23 and 24) about `moment` in the
/// caller's update log, as `Sync` gives them.
async fn notices(client: &Client, moment: u64) -> Vec<u64> {
    let log = client.sync_all(0).await.expect("syncs");
    log.iter()
        .filter(|u| match u.decode().expect("an update decodes") {
            Some(UpdateBody::MomentLiked(liked)) => liked.moment_id == moment,
            Some(UpdateBody::MomentCommented(said)) => said.comment.moment_id == moment,
            _ => false,
        })
        .map(|u| u.id)
        .collect()
}

/// What the caller is shown of a moment's likes and comments: who likes
/// it (by user id), whether they do, and the comments — the counts checked
/// against the lists, and `MomentComments` against the moment's own.
async fn activity(client: &Client, moment: u64) -> (Vec<u64>, bool, Vec<MomentComment>) {
    let m = get(client, moment).await.expect("sees the moment");
    assert_eq!(m.like_count as usize, m.likes.len(), "likes counted as shown");
    assert_eq!(m.comment_count as usize, m.comments.len(), "comments counted as shown");
    assert_eq!(comments(client, moment).await.unwrap(), m.comments, "MomentComments shows the same");
    let mut likers = m.likes;
    likers.sort_unstable();
    (likers, m.liked, m.comments)
}

fn sorted(mut users: Vec<u64>) -> Vec<u64> {
    users.sort_unstable();
    users
}

/// A file as a moment shows it: a photo or a cover, with no duration.
fn still(media_id: u64, mime: &str, size: u64, width: u32, height: u32) -> MomentFile {
    MomentFile { media_id, mime: mime.into(), size, width, height, duration_ms: 0 }
}

/// Where a viewer finds a moment: in their feed, on its author's page, by
/// its id, and whether they may read its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    feed: bool,
    page: bool,
    by_id: bool,
    file: bool,
}

const EVERYWHERE: Seen = Seen { feed: true, page: true, by_id: true, file: true };
const NOWHERE: Seen = Seen { feed: false, page: false, by_id: false, file: false };
/// Everywhere but in the feed: a stranger's view of a public moment, or a
/// friend's who hides the author from their feed.
const NOT_IN_FEED: Seen = Seen { feed: false, ..EVERYWHERE };

/// Where `viewer` finds moment `id` of `author`, which shows `file`. Each
/// surface that shows it shows the same moment; one that does not show it
/// by id leaves nothing to act on: its comments, a like, a comment and a
/// deletion are all "no such moment".
async fn seen(viewer: &TestUser, author: u64, id: u64, file: u64) -> Seen {
    let client = &viewer.client;
    let in_feed = feed(client).await.into_iter().find(|m| m.moment_id == id);
    let on_page = match page(client, author).await {
        Ok(moments) => moments.into_iter().find(|m| m.moment_id == id),
        Err(refused) => {
            assert_eq!(refused.code(), Some(ErrorCode::NotFound), "{}: a page refused: {refused}", viewer.name);
            None
        }
    };
    let by_id = match get(client, id).await {
        Ok(shown) => {
            for listed in [&in_feed, &on_page].into_iter().flatten() {
                assert_eq!(listed, &shown, "{}: one moment wherever it is shown", viewer.name);
            }
            comments(client, id).await.expect("the comments of a moment one sees");
            true
        }
        Err(refused) => {
            let who = &viewer.name;
            assert_eq!(refused.code(), Some(ErrorCode::NotFound), "{who}: {refused}");
            assert_eq!(code(comments(client, id).await), Some(ErrorCode::NotFound), "{who}: its comments");
            assert_eq!(code(like(client, id, true).await), Some(ErrorCode::NotFound), "{who}: a like");
            assert_eq!(code(comment(client, id, "hello?", None).await), Some(ErrorCode::NotFound), "{who}: a comment");
            assert_eq!(code(delete_moment(client, id).await), Some(ErrorCode::NotFound), "{who}: a deletion");
            false
        }
    };
    let (chunk, link) = reads(client, file).await;
    assert_eq!(chunk, link, "{}: GetMedia and MediaUrl agree", viewer.name);
    Seen { feed: in_feed.is_some(), page: on_page.is_some(), by_id, file: chunk }
}

/// Alice posts two photos from Lisbon to her friends except carol: bob, a
/// friend, finds the same moment in his feed, on her page and by its id,
/// without its audience, and downloads both photos whole; carol, left out,
/// and dave, a stranger, find nothing anywhere and may not read the files.
/// Alice sees her moment with its audience, and the server's values of
/// each file.
async fn a_moment_with_photos_reaches_the_friends_it_is_for(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let bob = server.user(kind, "bob").await;
    let carol = server.user(kind, "carol").await;
    let dave = server.user(kind, "dave").await;
    befriend(&alice, &bob).await;
    befriend(&alice, &carol).await;
    let (tram, river) = (noise(120_000), noise(45_000));
    let first = upload(&alice.client, JPEG, &tram, (1600, 1200), 0).await;
    let second = upload(&alice.client, "image/png", &river, (800, 600), 0).await;
    let media = MomentMedia::Images(vec![first, second]);
    let request = moment("Lisbon at last", media, MomentAudience::Except, &[carol.user_id]);
    let request = located(request, "Lisboa", 387_223_000, -91_393_000);
    let id = publish(&alice.client, &request).await;

    let own = get(&alice.client, id).await.unwrap();
    assert_eq!((own.moment_id, own.author, own.text.as_str()), (id, alice.user_id, "Lisbon at last"));
    assert_eq!((&own.media, &own.location), (&request.media, &request.location));
    assert_eq!(own.visibility, Some(request.visibility.clone()), "the author sees the audience");
    assert_eq!(own.files, [still(first, JPEG, 120_000, 1600, 1200), still(second, "image/png", 45_000, 800, 600)]);
    assert_eq!((own.like_count, own.liked, own.comment_count), (0, false, 0));
    assert_eq!(feed(&alice.client).await, std::slice::from_ref(&own), "her own feed");
    assert_eq!(page(&alice.client, alice.user_id).await.unwrap(), std::slice::from_ref(&own), "her own page");

    let shown = Moment { visibility: None, ..own.clone() };
    assert_eq!(feed(&bob.client).await, std::slice::from_ref(&shown), "a friend's feed");
    assert_eq!(page(&bob.client, alice.user_id).await.unwrap(), std::slice::from_ref(&shown), "her page, to a friend");
    assert_eq!(get(&bob.client, id).await.unwrap(), shown, "by id, to a friend");
    assert!(bob.client.download(first).await.unwrap() == tram, "the first photo, whole");
    assert!(bob.client.download(second).await.unwrap() == river, "the second photo, whole");

    for (user, who) in [(&carol, "a friend left out"), (&dave, "a stranger")] {
        assert!(feed(&user.client).await.is_empty(), "{who}: the feed");
        assert!(page(&user.client, alice.user_id).await.unwrap().is_empty(), "{who}: her page");
        assert_eq!(code(get(&user.client, id).await), Some(ErrorCode::NotFound), "{who}: by id");
        for media_id in [first, second] {
            assert_eq!(code(user.client.download(media_id).await), Some(ErrorCode::NotFound), "{who}: a photo");
        }
    }
}
per_transport!(a_moment_with_photos_reaches_the_friends_it_is_for);

/// A video with its cover image is posted, with ten characters of text
/// (`moments.text_max_chars` 10, counted in characters) and a place at the
/// edges of the map; everything a moment may not be is refused with the
/// documented code, and posts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_moment_may_not_be_is_refused() {
    let server = TestServer::start_with(|c| c.moments.text_max_chars = 10).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let mallory = server.user(Kind::Quic, "mallory").await;
    befriend(&alice, &bob).await;
    let mut images = Vec::new();
    for _ in 0..10 {
        images.push(photo(&alice.client).await);
    }
    let clip = noise(200_000);
    let video = upload(&alice.client, "video/mp4", &clip, (1280, 720), 15_000).await;
    let theirs = photo(&mallory.client).await;

    let friends = |text: &str, media: MomentMedia| moment(text, media, MomentAudience::Friends, &[]);
    let listing = |audience, users: &[u64]| moment("hi", MomentMedia::None, audience, users);
    let (invalid, not_found) = (ErrorCode::InvalidArgument, ErrorCode::NotFound);
    let cases = [
        ("ten images", friends("", MomentMedia::Images(images.clone())), invalid, Some(9)),
        ("Images without an image", friends("hi", MomentMedia::Images(Vec::new())), invalid, Some(9)),
        ("an image twice", friends("", MomentMedia::Images(vec![images[0], images[0]])), invalid, None),
        ("a video that is its own cover", friends("", MomentMedia::Video { video, cover: video }), invalid, None),
        ("someone else's upload", friends("", MomentMedia::Images(vec![theirs])), not_found, None),
        ("an id that names no file", friends("", MomentMedia::Images(vec![1])), not_found, None),
        (
            "an image as the video",
            friends("", MomentMedia::Video { video: images[0], cover: images[1] }),
            invalid,
            None,
        ),
        ("a video as an image", friends("", MomentMedia::Images(vec![video])), invalid, None),
        ("neither text nor files", friends("", MomentMedia::None), invalid, None),
        ("only spaces", friends("   ", MomentMedia::None), invalid, None),
        ("eleven characters", friends(&"é".repeat(11), MomentMedia::None), invalid, Some(10)),
        ("a control character", friends("a\u{7}b", MomentMedia::None), invalid, None),
        ("Only a stranger", listing(MomentAudience::Only, &[mallory.user_id]), invalid, None),
        ("Only nobody", listing(MomentAudience::Only, &[]), invalid, Some(500)),
        ("Only herself", listing(MomentAudience::Only, &[alice.user_id]), invalid, None),
        ("Except bob twice", listing(MomentAudience::Except, &[bob.user_id, bob.user_id]), invalid, None),
        ("Public listing a friend", listing(MomentAudience::Public, &[bob.user_id]), invalid, None),
        ("Friends listing a friend", listing(MomentAudience::Friends, &[bob.user_id]), invalid, None),
        ("north of the pole", located(friends("hi", MomentMedia::None), "Pole", 900_000_001, 0), invalid, None),
        ("west of the map", located(friends("hi", MomentMedia::None), "Edge", 0, -1_800_000_001), invalid, None),
        ("a place with no name", located(friends("hi", MomentMedia::None), "", 0, 0), invalid, None),
        (
            "a place named at length",
            located(friends("hi", MomentMedia::None), &"x".repeat(65), 0, 0),
            invalid,
            Some(64),
        ),
    ];
    for (why, request, expected, limit) in cases {
        let refused = alice.client.call(&request).await.expect_err(why);
        assert_eq!((refused.code(), refused.limit()), (Some(expected), limit), "{why}: {refused}");
    }
    assert!(page(&alice.client, alice.user_id).await.unwrap().is_empty(), "nothing was posted");

    let cover = images[0];
    let request = friends(&"é".repeat(10), MomentMedia::Video { video, cover });
    let id = publish(&alice.client, &located(request, "the North Pole", 900_000_000, -1_800_000_000)).await;
    let shown = get(&bob.client, id).await.unwrap();
    assert_eq!(shown.media, MomentMedia::Video { video, cover });
    let files: Vec<_> =
        shown.files.iter().map(|f| (f.media_id, f.mime.as_str(), f.size, f.width, f.duration_ms)).collect();
    assert_eq!(files, [(video, "video/mp4", 200_000, 1280, 15_000), (cover, JPEG, 2000, 640, 0)], "the video first");
    assert!(bob.client.download(video).await.unwrap() == clip, "the video, whole");
    assert_eq!(bob.client.download(cover).await.unwrap().len(), 2000, "its cover");
    assert_eq!(shown.location.map(|l| (l.latitude_e7, l.longitude_e7)), Some((900_000_000, -1_800_000_000)));
}

/// A retried publish answers the moment its client id posted, whatever it
/// now says and even past the daily limit (`moments.per_day` 2), which
/// refuses a new moment: `RateLimited`, reason `Quota`, limit told. A
/// client id is its author's: someone else's same id posts anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_publish_posts_once_and_a_day_holds_so_many() {
    let server = TestServer::start_with(|c| c.moments.per_day = 2).await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let first = moment("one", MomentMedia::None, MomentAudience::Friends, &[]);
    let one = publish(&alice.client, &first).await;
    let retried = alice.client.call(&first).await.unwrap();
    assert_eq!(retried, MomentPublished { moment_id: one, duplicate: true });
    let second = moment("two", MomentMedia::None, MomentAudience::Friends, &[]);
    let two = publish(&alice.client, &second).await;

    let third = moment("three", MomentMedia::None, MomentAudience::Friends, &[]);
    let refused = alice.client.call(&third).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::RateLimited), "{refused}");
    assert_eq!((refused.rate_limit_reason(), refused.limit()), (Some(RateLimitReason::Quota), Some(2)));
    assert!(refused.retry_after().is_some(), "told when to retry");

    for (request, id) in [(&first, one), (&second, two)] {
        let again = alice.client.call(request).await.expect("a retry past the limit");
        assert_eq!(again, MomentPublished { moment_id: id, duplicate: true });
    }
    let edited = PublishMomentRequest { text: "two, edited".into(), ..second.clone() };
    assert_eq!(alice.client.call(&edited).await.unwrap(), MomentPublished { moment_id: two, duplicate: true });
    assert_eq!(ids(&page(&alice.client, alice.user_id).await.unwrap()), [two, one], "two moments, as first posted");
    assert_eq!(get(&alice.client, two).await.unwrap().text, "two");

    let bobs = publish(&bob.client, &first).await;
    assert_ne!(bobs, one, "another author's client id is his own");

    // A deleted moment still counts against the day, and frees its client id.
    delete_moment(&alice.client, two).await.unwrap();
    let refused = alice.client.call(&third).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::RateLimited), "deleting does not make room: {refused}");
    let refused = alice.client.call(&second).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::RateLimited), "the deleted moment's client id is free: {refused}");
}

/// A page says `more` only when another moment the viewer sees follows: a
/// stranger paging through a page of one public moment above older
/// moments for friends learns nothing of them, and taking back a like is
/// refused on a moment they never saw, as if it did not exist.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_tells_nothing_of_hidden_moments() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let carol = server.user(Kind::Quic, "carol").await;
    befriend(&alice, &bob).await;
    let mut hidden = Vec::new();
    for i in 0..3 {
        hidden.push(post(&alice.client, &format!("for friends {i}"), MomentAudience::Friends, &[]).await);
    }
    let public = post(&alice.client, "for everyone", MomentAudience::Public, &[]).await;

    let strangers =
        carol.client.call(&UserMomentsRequest { user_id: alice.user_id, before: 0, limit: 1 }).await.unwrap();
    assert_eq!((ids(&strangers.moments), strangers.more), (vec![public], false));
    let friends = bob.client.call(&UserMomentsRequest { user_id: alice.user_id, before: 0, limit: 1 }).await.unwrap();
    assert_eq!((ids(&friends.moments), friends.more), (vec![public], true));
    let own = alice.client.call(&FeedRequest { before: 0, limit: 1 }).await.unwrap();
    assert!(own.more, "her own feed goes on");

    assert_eq!(code(like(&carol.client, hidden[0], false).await), Some(ErrorCode::NotFound));
    like(&bob.client, hidden[0], true).await.unwrap();
    alice.client.call(&RemoveFriendRequest { user_id: bob.user_id }).await.unwrap();
    like(&bob.client, hidden[0], false).await.expect("his own like goes back from a moment he no longer sees");
    assert_eq!(get(&alice.client, hidden[0]).await.unwrap().like_count, 0);
}

/// Each audience through every surface, for each kind of viewer: the
/// author; a friend the moment does not list; the friend it lists (in
/// `Only` and `Except`); a stranger; a friend the author blocked; a friend
/// who blocked the author (both blocks made after posting). The feed, the
/// author's page, the moment by id and its photo agree, and a viewer who
/// may not see a moment can neither read its comments nor like it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audience_decides_who_sees_a_moment_everywhere() {
    let server = TestServer::start().await;
    let author = server.user(Kind::Tcp, "author").await;
    let friend = server.user(Kind::Tls, "friend").await;
    let listed = server.user(Kind::Quic, "listed").await;
    let stranger = server.user(Kind::Tcp, "stranger").await;
    let blocked = server.user(Kind::Tls, "blocked").await;
    let blocker = server.user(Kind::Quic, "blocker").await;
    for user in [&friend, &listed, &blocked, &blocker] {
        befriend(&author, user).await;
    }
    let mut moments = Vec::new();
    for (audience, users) in [
        (MomentAudience::Public, Vec::new()),
        (MomentAudience::Friends, Vec::new()),
        (MomentAudience::Only, vec![listed.user_id]),
        (MomentAudience::Except, vec![listed.user_id]),
    ] {
        let file = photo(&author.client).await;
        let id = publish(&author.client, &moment("", MomentMedia::Images(vec![file]), audience, &users)).await;
        moments.push((audience, id, file));
    }
    author.client.call(&BlockRequest { user_id: blocked.user_id }).await.unwrap();
    blocker.client.call(&BlockRequest { user_id: author.user_id }).await.unwrap();

    let viewers = [
        ("the author", &author),
        ("a friend not listed", &friend),
        ("the listed friend", &listed),
        ("a stranger", &stranger),
        ("a friend the author blocked", &blocked),
        ("a friend who blocked the author", &blocker),
    ];
    let (all, none, elsewhere) = (EVERYWHERE, NOWHERE, NOT_IN_FEED);
    let table = [
        (MomentAudience::Public, [all, all, all, elsewhere, none, none]),
        (MomentAudience::Friends, [all, all, all, none, none, none]),
        (MomentAudience::Only, [all, none, all, none, none, none]),
        (MomentAudience::Except, [all, all, none, none, none, none]),
    ];
    for (&(audience, id, file), (listed_as, cells)) in moments.iter().zip(table) {
        assert_eq!(audience, listed_as);
        for (&(who, viewer), expected) in viewers.iter().zip(cells) {
            assert_eq!(seen(viewer, author.user_id, id, file).await, expected, "{audience:?} moment, {who}");
        }
    }
    let nobody = friend.client.call(&UserMomentsRequest { user_id: u64::MAX, before: 0, limit: 10 }).await;
    assert_eq!(code(nobody), Some(ErrorCode::NotFound), "the page of no user");
    assert_eq!(code(get(&friend.client, 1).await), Some(ErrorCode::NotFound), "an id that names no moment");
}

/// The two settings about one person: "hide mine" hides every moment of
/// the author from that friend (or stranger), everywhere; "hide theirs"
/// takes a friend's moments out of one's feed and leaves their page and
/// their moments by id. Each reads back, and one is kept when the other
/// changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hiding_mine_and_hiding_theirs() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let erin = server.user(Kind::Tcp, "erin").await;
    befriend(&alice, &bob).await;
    let (file, open_file) = (photo(&alice.client).await, photo(&alice.client).await);
    let id = publish(&alice.client, &moment("", MomentMedia::Images(vec![file]), MomentAudience::Friends, &[])).await;
    let open =
        publish(&alice.client, &moment("", MomentMedia::Images(vec![open_file]), MomentAudience::Public, &[])).await;
    let settings = |user_id, hide_mine, hide_theirs| MomentFilter { user_id, hide_mine, hide_theirs };
    assert_eq!(filter(&alice.client, bob.user_id, None, None).await, settings(bob.user_id, false, false));
    assert_eq!(seen(&bob, alice.user_id, id, file).await, EVERYWHERE);
    assert_eq!(seen(&erin, alice.user_id, open, open_file).await, NOT_IN_FEED);

    assert_eq!(filter(&alice.client, bob.user_id, Some(true), None).await, settings(bob.user_id, true, false));
    assert_eq!(filter(&alice.client, bob.user_id, None, None).await, settings(bob.user_id, true, false));
    assert_eq!(seen(&bob, alice.user_id, id, file).await, NOWHERE, "hidden from bob");
    assert_eq!(seen(&bob, alice.user_id, open, open_file).await, NOWHERE, "a public one too");
    assert_eq!(seen(&alice, alice.user_id, id, file).await, EVERYWHERE, "the author");
    assert_eq!(
        filter(&bob.client, alice.user_id, None, None).await,
        settings(alice.user_id, false, false),
        "bob's own"
    );
    filter(&alice.client, erin.user_id, Some(true), None).await;
    assert_eq!(seen(&erin, alice.user_id, open, open_file).await, NOWHERE, "hidden from a stranger");

    assert_eq!(filter(&alice.client, bob.user_id, Some(false), None).await, settings(bob.user_id, false, false));
    assert_eq!(seen(&bob, alice.user_id, id, file).await, EVERYWHERE, "shown again");

    assert_eq!(filter(&bob.client, alice.user_id, None, Some(true)).await, settings(alice.user_id, false, true));
    assert_eq!(seen(&bob, alice.user_id, id, file).await, NOT_IN_FEED, "out of his feed, nowhere else");
    assert_eq!(seen(&bob, alice.user_id, open, open_file).await, NOT_IN_FEED);
    assert_eq!(filter(&bob.client, alice.user_id, Some(true), None).await, settings(alice.user_id, true, true));
    assert_eq!(filter(&alice.client, bob.user_id, None, None).await, settings(bob.user_id, false, false), "hers");
    assert_eq!(seen(&alice, alice.user_id, id, file).await, EVERYWHERE, "bob's settings are about his moments");

    let herself = MomentFilterRequest { user_id: alice.user_id, hide_mine: None, hide_theirs: None };
    assert_eq!(code(alice.client.call(&herself).await), Some(ErrorCode::InvalidArgument), "herself");
    let nobody = MomentFilterRequest { user_id: u64::MAX, hide_mine: Some(true), hide_theirs: None };
    assert_eq!(code(alice.client.call(&nobody).await), Some(ErrorCode::NotFound), "no such user");
}

/// The visible window reads back as set (`All` until then) and is one's
/// own; whatever it is, a moment just posted is seen by those it is for,
/// and the author sees their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visible_window_reads_back_and_spares_a_new_moment() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Quic, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let erin = server.user(Kind::Tls, "erin").await;
    befriend(&alice, &bob).await;
    assert_eq!(window(&alice.client, None).await, MomentWindow::All, "until set");
    assert_eq!(window(&alice.client, Some(MomentWindow::ThreeDays)).await, MomentWindow::ThreeDays);
    assert_eq!(window(&alice.client, None).await, MomentWindow::ThreeDays, "read back");
    assert_eq!(window(&bob.client, None).await, MomentWindow::All, "one's own");

    let (file, open_file) = (photo(&alice.client).await, photo(&alice.client).await);
    let id = publish(&alice.client, &moment("", MomentMedia::Images(vec![file]), MomentAudience::Friends, &[])).await;
    let open =
        publish(&alice.client, &moment("", MomentMedia::Images(vec![open_file]), MomentAudience::Public, &[])).await;
    for &set in MomentWindow::ALL {
        assert_eq!(window(&alice.client, Some(set)).await, set);
        assert_eq!(window(&alice.client, None).await, set);
        assert_eq!(seen(&bob, alice.user_id, id, file).await, EVERYWHERE, "{set:?}: a friend");
        assert_eq!(seen(&erin, alice.user_id, open, open_file).await, NOT_IN_FEED, "{set:?}: a stranger");
        assert_eq!(seen(&alice, alice.user_id, id, file).await, EVERYWHERE, "{set:?}: the author");
    }
}

/// Whose likes and comments one sees: alice's friends bob and carol do not
/// know each other, dave knows both alice and bob. Bob's like and comment
/// are seen by alice (her moment), bob (his own) and dave (his friend's),
/// not by carol, who sees the moment with nothing on it; alice's comments
/// are seen by all. Carol may answer alice's comment, not bob's, which she
/// does not see; a reply names its comment's writer to those who see them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn likes_and_comments_are_seen_between_friends() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let dave = server.user(Kind::Tcp, "dave").await;
    for friend in [&bob, &carol, &dave] {
        befriend(&alice, friend).await;
    }
    befriend(&bob, &dave).await;
    let id = post(&alice.client, "first snow", MomentAudience::Friends, &[]).await;

    like(&bob.client, id, true).await.unwrap();
    let bobs = comment(&bob.client, id, "so early this year", None).await.unwrap();
    assert_eq!((bobs.moment_id, bobs.author, bobs.text.as_str()), (id, bob.user_id, "so early this year"));
    assert_eq!((bobs.reply_to, bobs.reply_to_user), (None, 0));
    assert_eq!(activity(&alice.client, id).await, (vec![bob.user_id], false, vec![bobs.clone()]), "the author");
    assert_eq!(activity(&bob.client, id).await, (vec![bob.user_id], true, vec![bobs.clone()]), "his own");
    assert_eq!(activity(&dave.client, id).await, (vec![bob.user_id], false, vec![bobs.clone()]), "a friend's");
    assert_eq!(activity(&carol.client, id).await, (vec![], false, vec![]), "a stranger's");

    let thanks = comment(&alice.client, id, "and so much of it", None).await.unwrap();
    assert_eq!(activity(&carol.client, id).await.2, std::slice::from_ref(&thanks), "the author's, seen by all");
    assert_eq!(activity(&bob.client, id).await.2, [bobs.clone(), thanks.clone()]);

    let answer = comment(&carol.client, id, "none here", Some(thanks.comment_id)).await.unwrap();
    assert_eq!((answer.reply_to, answer.reply_to_user), (Some(thanks.comment_id), alice.user_id));
    let unseen = comment(&carol.client, id, "who are you?", Some(bobs.comment_id)).await;
    assert_eq!(code(unseen), Some(ErrorCode::NotFound), "an answer to a comment carol does not see");
    let elsewhere = post(&alice.client, "and the day after", MomentAudience::Friends, &[]).await;
    let astray = comment(&carol.client, elsewhere, "same", Some(thanks.comment_id)).await;
    assert_eq!(code(astray), Some(ErrorCode::NotFound), "an answer to a comment of another moment");
    like(&carol.client, id, true).await.unwrap();

    let (b, c) = (bob.user_id, carol.user_id);
    let everything = vec![bobs.clone(), thanks.clone(), answer.clone()];
    assert_eq!(activity(&alice.client, id).await, (sorted(vec![b, c]), false, everything));
    assert_eq!(activity(&bob.client, id).await, (vec![b], true, vec![bobs.clone(), thanks.clone()]));
    assert_eq!(activity(&carol.client, id).await, (vec![c], true, vec![thanks.clone(), answer.clone()]));
    assert_eq!(activity(&dave.client, id).await, (vec![b], false, vec![bobs.clone(), thanks.clone()]));

    let reply = comment(&alice.client, id, "@bob indeed", Some(bobs.comment_id)).await.unwrap();
    assert_eq!((reply.reply_to, reply.reply_to_user), (Some(bobs.comment_id), b), "the answered comment's writer");
    let shown_to = |comments: Vec<MomentComment>| comments.into_iter().find(|m| m.comment_id == reply.comment_id);
    assert_eq!(shown_to(activity(&bob.client, id).await.2), Some(reply.clone()), "bob, whom it answers");
    assert_eq!(shown_to(activity(&dave.client, id).await.2), Some(reply.clone()), "dave, bob's friend");
    let to_carol = shown_to(activity(&carol.client, id).await.2).expect("the author's reply");
    assert_eq!(to_carol.reply_to_user, 0, "carol does not see bob's comments, nor whom it answers");
}

/// Bob likes alice's moment while she is online: a `MomentLiked` update
/// reaches her at once, and `Sync` finds it under the same id; liking
/// again tells nobody. While she is offline bob comments: back online,
/// `Sync` gives her the `MomentCommented` update under the comment's id.
/// Her reply to bob's comment reaches bob the same way, and not her.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_author_hears_of_likes_and_comments_and_a_commenter_of_replies() {
    let server = TestServer::start().await;
    let mut alice = server.user(Kind::Tls, "alice").await;
    let mut bob = server.user(Kind::Quic, "bob").await;
    befriend(&alice, &bob).await;
    let id = post(&alice.client, "new flat!", MomentAudience::Friends, &[]).await;

    like(&bob.client, id, true).await.unwrap();
    let (live, body) = pushed(&mut alice.client, UpdateKind::MomentLiked).await;
    assert_eq!(body, UpdateBody::MomentLiked(MomentLiked { moment_id: id, user_id: bob.user_id }));
    assert!(alice.client.sync_all(0).await.unwrap().contains(&live), "Sync gives the update pushed");
    like(&bob.client, id, true).await.unwrap();
    none_pushed(&server, "alice", &mut alice.client, UpdateKind::MomentLiked).await;
    let liked = live.id;
    assert_eq!(notices(&alice.client, id).await, [liked], "one like, one notice");

    let alice_id = alice.user_id;
    drop(alice);
    let said = comment(&bob.client, id, "housewarming when?", None).await.unwrap();
    let (phone, _) = server.device(Kind::Tcp, "alice", "alice-phone", DeviceType::Mobile).await;
    let log = phone.sync_all(0).await.unwrap();
    let notice = log.iter().find(|u| u.id == said.comment_id).expect("the comment's notice, under its id");
    assert_eq!(notice.kind, UpdateKind::MomentCommented as u8);
    let told = MomentCommented { moment_author: alice_id, comment: said.clone() };
    assert_eq!(notice.decode().unwrap(), Some(UpdateBody::MomentCommented(told)));

    let reply = comment(&phone, id, "saturday!", Some(said.comment_id)).await.unwrap();
    assert_eq!((reply.reply_to, reply.reply_to_user), (Some(said.comment_id), bob.user_id));
    let (live, body) = pushed(&mut bob.client, UpdateKind::MomentCommented).await;
    assert_eq!(live.id, reply.comment_id, "the update's id is the comment's");
    assert_eq!(body, UpdateBody::MomentCommented(MomentCommented { moment_author: alice_id, comment: reply.clone() }));
    assert!(bob.client.sync_all(0).await.unwrap().contains(&live), "Sync gives the update pushed");
    assert_eq!(notices(&phone, id).await, [liked, said.comment_id], "not told of her own reply");
}

/// A notice goes with what it tells of: a like taken back, a comment
/// deleted by its writer (the author's reply to it stays) or by the
/// moment's author, and the moment deleted with its likes and comments —
/// after which its photo is no longer its viewers' to read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_go_with_what_they_tell_of() {
    let server = TestServer::start().await;
    let mut alice = server.user(Kind::Quic, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    befriend(&alice, &bob).await;
    let file = photo(&alice.client).await;
    let request = moment("our garden", MomentMedia::Images(vec![file]), MomentAudience::Friends, &[]);
    let id = publish(&alice.client, &request).await;

    like(&bob.client, id, true).await.unwrap();
    let (liked, _) = pushed(&mut alice.client, UpdateKind::MomentLiked).await;
    let first = comment(&bob.client, id, "the roses!", None).await.unwrap();
    let second = comment(&bob.client, id, "and the pond", None).await.unwrap();
    let reply = comment(&alice.client, id, "planted in may", Some(first.comment_id)).await.unwrap();
    assert_eq!(notices(&alice.client, id).await, [liked.id, first.comment_id, second.comment_id]);
    assert_eq!(notices(&bob.client, id).await, [reply.comment_id]);

    like(&bob.client, id, false).await.unwrap();
    assert_eq!(notices(&alice.client, id).await, [first.comment_id, second.comment_id], "the like taken back");
    assert_eq!(get(&alice.client, id).await.unwrap().like_count, 0);
    like(&bob.client, id, false).await.expect("taking back a like not given changes nothing");

    delete_comment(&bob.client, id, first.comment_id).await.unwrap();
    assert_eq!(notices(&alice.client, id).await, [second.comment_id], "the comment deleted by its writer");
    // The reply stays, and answers nothing any more.
    let alone = MomentComment { reply_to: None, reply_to_user: 0, ..reply.clone() };
    assert_eq!(comments(&alice.client, id).await.unwrap(), [second.clone(), alone], "the reply stays");
    delete_comment(&alice.client, id, reply.comment_id).await.unwrap();
    assert!(notices(&bob.client, id).await.is_empty(), "the reply deleted by the author");

    like(&bob.client, id, true).await.unwrap();
    let again = comment(&alice.client, id, "come and see", Some(second.comment_id)).await.unwrap();
    assert_eq!(notices(&alice.client, id).await.len(), 2, "a like and a comment");
    assert_eq!(notices(&bob.client, id).await, [again.comment_id]);
    assert_eq!(reads(&bob.client, file).await, (true, true), "a friend reads the photo");
    delete_moment(&alice.client, id).await.unwrap();
    for (user, who) in [(&alice, "the author"), (&bob, "a friend")] {
        assert!(notices(&user.client, id).await.is_empty(), "{who}: no notice left");
        assert_eq!(code(get(&user.client, id).await), Some(ErrorCode::NotFound), "{who}: by id");
        assert_eq!(code(comments(&user.client, id).await), Some(ErrorCode::NotFound), "{who}: its comments");
        assert_eq!(code(like(&user.client, id, true).await), Some(ErrorCode::NotFound), "{who}: a like");
        assert!(page(&user.client, alice.user_id).await.unwrap().is_empty(), "{who}: her page");
    }
    assert_eq!(reads(&bob.client, file).await, (false, false), "the photo is no longer the friend's");
    assert_eq!(reads(&alice.client, file).await, (true, true), "its uploader keeps it");
    assert_eq!(code(delete_moment(&alice.client, id).await), Some(ErrorCode::NotFound), "deleted once");
}

/// A new moment badges the feeds that show it: an online friend gets a
/// `MomentPosted` update live under the moment's id, never found by
/// `Sync`; so does the author's other device, not the one that posted; a
/// friend the audience leaves out, one who hides the author from their
/// feed and a stranger get nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_moment_badges_the_feeds_that_show_it() {
    let server = TestServer::start().await;
    let mut alice = server.user(Kind::Tcp, "alice").await;
    let mut bob = server.user(Kind::Tls, "bob").await;
    let mut carol = server.user(Kind::Quic, "carol").await;
    let mut dave = server.user(Kind::Tcp, "dave").await;
    let mut erin = server.user(Kind::Tls, "erin").await;
    for friend in [&bob, &carol, &dave] {
        befriend(&alice, friend).await;
    }
    filter(&dave.client, alice.user_id, None, Some(true)).await;
    let (mut laptop, _) = server.device(Kind::Quic, "alice", "alice-laptop", DeviceType::Desktop).await;

    let id = post(&alice.client, "guess where", MomentAudience::Except, &[carol.user_id]).await;
    let badge = UpdateBody::MomentPosted(MomentPosted { moment_id: id, author: alice.user_id });
    let (live, body) = pushed(&mut bob.client, UpdateKind::MomentPosted).await;
    assert_eq!((live.id, body), (id, badge.clone()), "a friend it is for");
    assert_eq!(pushed(&mut laptop, UpdateKind::MomentPosted).await.1, badge, "the author's other device");
    none_pushed(&server, "alice", &mut alice.client, UpdateKind::MomentPosted).await;
    none_pushed(&server, "carol", &mut carol.client, UpdateKind::MomentPosted).await;
    let log = bob.client.sync_all(0).await.unwrap();
    assert!(log.iter().all(|u| u.kind != UpdateKind::MomentPosted as u8), "never in the log: {log:?}");

    let open = post(&alice.client, "the beach, for everyone", MomentAudience::Public, &[]).await;
    let (live, _) = pushed(&mut carol.client, UpdateKind::MomentPosted).await;
    assert_eq!(live.id, open, "carol, whom this one does not leave out");
    none_pushed(&server, "dave", &mut dave.client, UpdateKind::MomentPosted).await;
    none_pushed(&server, "erin", &mut erin.client, UpdateKind::MomentPosted).await;
    assert_eq!(ids(&feed(&bob.client).await), [open, id], "the feed shows what the badge told of");
}

/// Each of `users` posts a moment to their friends, in turn, `rounds`
/// times; returns each one's moment ids.
async fn post_in_turns(users: &[&TestUser], rounds: usize) -> Vec<Vec<u64>> {
    let mut posted = vec![Vec::new(); users.len()];
    for round in 0..rounds {
        for (user, theirs) in users.iter().zip(&mut posted) {
            let text = format!("{} #{round}", user.name);
            theirs.push(post(&user.client, &text, MomentAudience::Friends, &[]).await);
        }
    }
    posted
}

/// Alice's feed, paged three at a time, holds her moments and her two
/// friends' — posted in turns, one of bob's hidden from her — each once,
/// newest first, whatever is posted meanwhile. Bob's feed holds his and
/// alice's, not those of carol, who is not his friend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_pages_without_gap_or_repeat() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let carol = server.user(Kind::Tls, "carol").await;
    befriend(&alice, &bob).await;
    befriend(&alice, &carol).await;
    let mut posted = post_in_turns(&[&alice, &bob, &carol], 4).await;
    let hidden = post(&bob.client, "not for alice", MomentAudience::Except, &[alice.user_id]).await;
    for (theirs, later) in posted.iter_mut().zip(post_in_turns(&[&alice, &bob, &carol], 3).await) {
        theirs.extend(later);
    }
    let [alices, bobs, carols] = [&posted[0], &posted[1], &posted[2]];
    let everything = newest_first(&[alices, bobs, carols]);
    assert_eq!(everything.len(), 21);

    let first = feed_page(&alice.client, 0, 3).await;
    assert!(first.more, "more follow");
    let cursor = first.moments.last().unwrap().moment_id;
    let meanwhile = post(&bob.client, "posted meanwhile", MomentAudience::Friends, &[]).await;
    let mut paged = ids(&first.moments);
    paged.extend(ids(&whole_feed(&alice.client, cursor, 3).await));
    assert_eq!(paged, everything, "each moment once, newest first");
    assert!(!paged.contains(&hidden), "bob's moment that leaves her out");
    assert_eq!(ids(&feed_page(&alice.client, 0, 1).await.moments), [meanwhile], "a fresh first page starts with it");

    let mut his = bobs.clone();
    his.extend([hidden, meanwhile]);
    assert_eq!(ids(&whole_feed(&bob.client, 0, 4).await), newest_first(&[alices, &his]), "bob's feed");
    for limit in [0, 101] {
        let refused = alice.client.call(&FeedRequest { before: 0, limit }).await.unwrap_err();
        assert_eq!((refused.code(), refused.limit()), (Some(ErrorCode::InvalidArgument), Some(100)), "{limit}");
    }
}

/// Unfriending takes effect on the next page: once alice and carol are no
/// longer friends, the rest of alice's feed holds none of carol's moments,
/// and carol's moments for her friends are not alice's any more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfriending_takes_effect_on_the_next_page() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Quic, "carol").await;
    befriend(&alice, &bob).await;
    befriend(&alice, &carol).await;
    let posted = post_in_turns(&[&bob, &carol], 7).await;
    let (bobs, carols) = (&posted[0], &posted[1]);

    let first = feed_page(&alice.client, 0, 3).await;
    assert!(ids(&first.moments).iter().any(|id| carols.contains(id)), "the first page holds carol's newest");
    let cursor = first.moments.last().unwrap().moment_id;
    alice.client.call(&RemoveFriendRequest { user_id: carol.user_id }).await.unwrap();
    let rest = ids(&whole_feed(&alice.client, cursor, 3).await);
    let expected: Vec<u64> = newest_first(&[bobs]).into_iter().filter(|&id| id < cursor).collect();
    assert_eq!(rest, expected, "bob's older moments, and none of carol's");
    assert!(page(&alice.client, carol.user_id).await.unwrap().is_empty(), "carol's page");
    assert_eq!(code(get(&alice.client, carols[0]).await), Some(ErrorCode::NotFound), "carol's moment by id");
}

/// Only its author deletes a moment: a friend who sees it is not
/// permitted, a stranger who does not finds no such moment. A comment is
/// deleted by its writer or by the moment's author: not by another friend,
/// and a stranger finds no such moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_author_deletes_a_moment_and_a_comment_has_two_owners() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let carol = server.user(Kind::Quic, "carol").await;
    let dave = server.user(Kind::Tcp, "dave").await;
    befriend(&alice, &bob).await;
    befriend(&alice, &carol).await;
    let id = post(&alice.client, "garage sale on saturday", MomentAudience::Friends, &[]).await;
    let other = post(&alice.client, "and sunday", MomentAudience::Friends, &[]).await;

    assert_eq!(code(delete_moment(&bob.client, id).await), Some(ErrorCode::NotPermitted), "a friend who sees it");
    assert_eq!(code(delete_moment(&dave.client, id).await), Some(ErrorCode::NotFound), "a stranger who does not");
    assert_eq!(code(delete_moment(&bob.client, u64::MAX).await), Some(ErrorCode::NotFound), "no such moment");
    assert_eq!(get(&bob.client, id).await.unwrap().moment_id, id, "still there");

    let bobs = comment(&bob.client, id, "what time?", None).await.unwrap();
    let carols = comment(&carol.client, id, "any bikes?", None).await.unwrap();
    let blank = comment(&bob.client, id, "  ", None).await;
    assert_eq!(code(blank), Some(ErrorCode::InvalidArgument), "a comment of spaces");
    let refused = delete_comment(&carol.client, id, bobs.comment_id).await;
    assert_eq!(code(refused), Some(ErrorCode::NotPermitted), "someone else's comment");
    let refused = delete_comment(&bob.client, id, carols.comment_id).await;
    assert_eq!(code(refused), Some(ErrorCode::NotPermitted), "someone else's comment");
    let unseen = delete_comment(&dave.client, id, bobs.comment_id).await;
    assert_eq!(code(unseen), Some(ErrorCode::NotFound), "a stranger, who does not see the moment");
    let astray = delete_comment(&bob.client, other, bobs.comment_id).await;
    assert_eq!(code(astray), Some(ErrorCode::NotFound), "a comment of another moment");
    assert_eq!(code(delete_comment(&bob.client, id, u64::MAX).await), Some(ErrorCode::NotFound), "no such comment");
    assert_eq!(comments(&alice.client, id).await.unwrap(), [bobs.clone(), carols.clone()], "both still there");

    delete_comment(&bob.client, id, bobs.comment_id).await.expect("its writer");
    delete_comment(&alice.client, id, carols.comment_id).await.expect("the moment's author");
    assert!(comments(&alice.client, id).await.unwrap().is_empty());
    assert_eq!(get(&alice.client, id).await.unwrap().comment_count, 0);
    assert_eq!(code(delete_comment(&bob.client, id, bobs.comment_id).await), Some(ErrorCode::NotFound), "twice");

    delete_moment(&alice.client, id).await.expect("its author");
    assert_eq!(ids(&page(&bob.client, alice.user_id).await.unwrap()), [other]);
}

/// A moment holds `moments.likes_per_moment` likes and
/// `moments.comments_per_moment` comments (2 each here): one more is not
/// permitted, with the limit and the count told, until one goes. Liking
/// twice is one like.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moment_holds_so_many_likes_and_comments() {
    let server = TestServer::start_with(|c| {
        c.moments.likes_per_moment = 2;
        c.moments.comments_per_moment = 2;
    })
    .await;
    let alice = server.user(Kind::Quic, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Tls, "carol").await;
    let dave = server.user(Kind::Tcp, "dave").await;
    for friend in [&bob, &carol, &dave] {
        befriend(&alice, friend).await;
    }
    let id = post(&alice.client, "vote: pizza or curry", MomentAudience::Friends, &[]).await;

    like(&bob.client, id, true).await.unwrap();
    like(&bob.client, id, true).await.unwrap();
    let shown = get(&alice.client, id).await.unwrap();
    assert_eq!((shown.like_count, shown.likes), (1, vec![bob.user_id]), "liking twice is one like");
    like(&carol.client, id, true).await.unwrap();
    let over = like(&dave.client, id, true).await.unwrap_err();
    assert_eq!((over.code(), over.limit(), over.used()), (Some(ErrorCode::NotPermitted), Some(2), Some(2)));
    like(&bob.client, id, true).await.expect("a like already given, at the limit");
    like(&bob.client, id, false).await.unwrap();
    like(&dave.client, id, true).await.expect("a like taken back makes room");
    assert_eq!(activity(&alice.client, id).await.0, sorted(vec![carol.user_id, dave.user_id]));

    let pizza = comment(&bob.client, id, "pizza", None).await.unwrap();
    comment(&carol.client, id, "curry", None).await.unwrap();
    for user in [&dave, &alice] {
        let over = comment(&user.client, id, "both?", None).await.unwrap_err();
        assert_eq!((over.code(), over.limit(), over.used()), (Some(ErrorCode::NotPermitted), Some(2), Some(2)));
    }
    delete_comment(&bob.client, id, pizza.comment_id).await.unwrap();
    comment(&dave.client, id, "both?", None).await.expect("a comment deleted makes room");
    assert_eq!(get(&alice.client, id).await.unwrap().comment_count, 2);
}

/// `kith stats` counts moments, likes and comments, and counts them down
/// as they go: a like taken back, a comment deleted, a moment deleted with
/// what it held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kith_stats_counts_moments_likes_and_comments() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    let carol = server.user(Kind::Quic, "carol").await;
    befriend(&alice, &bob).await;
    befriend(&alice, &carol).await;
    let counted = || {
        let s = stats(&server.data_dir());
        let n = |key: &str| s[key].as_u64().unwrap_or_else(|| panic!("{key} in {s}"));
        (n("moments"), n("moment_likes"), n("moment_comments"))
    };
    assert_eq!(counted(), (0, 0, 0));
    let first = post(&alice.client, "one", MomentAudience::Friends, &[]).await;
    let second = post(&alice.client, "two", MomentAudience::Public, &[]).await;
    like(&bob.client, first, true).await.unwrap();
    like(&carol.client, first, true).await.unwrap();
    like(&bob.client, second, true).await.unwrap();
    comment(&bob.client, first, "nice", None).await.unwrap();
    let carols = comment(&carol.client, first, "very", None).await.unwrap();
    comment(&alice.client, second, "thanks", None).await.unwrap();
    assert_eq!(counted(), (2, 3, 3));

    like(&carol.client, first, false).await.unwrap();
    delete_comment(&carol.client, first, carols.comment_id).await.unwrap();
    assert_eq!(counted(), (2, 2, 2));
    delete_moment(&alice.client, first).await.unwrap();
    assert_eq!(counted(), (1, 1, 1), "the moment with its like and comment");
}

/// Runs `kith` with `args` and `--data-dir dir`, expecting success.
fn kith(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    let out = std::process::Command::new(common::process::KITH).args(args).arg("--data-dir").arg(dir).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `kith user export` holds a user's moments, likes and comments; a backup
/// carries them, and the restored database passes the restore check and
/// counts the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moments_are_exported_and_backed_up() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    befriend(&alice, &bob).await;
    let file = photo(&alice.client).await;
    let request = located(
        moment("the lake", MomentMedia::Images(vec![file]), MomentAudience::Except, &[bob.user_id]),
        "Lake Quill",
        473_769_000,
        85_417_000,
    );
    let hers = publish(&alice.client, &request).await;
    let open = post(&alice.client, "the hill", MomentAudience::Friends, &[]).await;
    like(&bob.client, open, true).await.unwrap();
    let said = comment(&bob.client, open, "which hill?", None).await.unwrap();

    let lines = |name: &str| -> Vec<serde_json::Value> {
        let out = server.dir.path().join(format!("{name}.jsonl"));
        kith(&["user", "export", name, "--output", out.to_str().unwrap()], &server.data_dir());
        std::fs::read_to_string(&out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let alices = lines("alice");
    let posted: Vec<&serde_json::Value> = alices.iter().filter_map(|l| l.get("moment")).collect();
    assert_eq!(posted.len(), 2, "{alices:?}");
    let lake = posted.iter().find(|m| m["id"] == hers).expect("her moment");
    assert_eq!((lake["text"].as_str(), lake["audience"].as_str()), (Some("the lake"), Some("except")));
    assert_eq!((lake["files"][0].as_u64(), lake["listed"][0].as_u64()), (Some(file), Some(bob.user_id)));
    assert_eq!(lake["location"]["latitude_e7"], 473_769_000);
    let bobs = lines("bob");
    let liked: Vec<&serde_json::Value> = bobs.iter().filter_map(|l| l.get("moment_like")).collect();
    assert_eq!(liked.len(), 1);
    assert_eq!(liked[0]["moment"], open);
    let wrote: Vec<&serde_json::Value> = bobs.iter().filter_map(|l| l.get("moment_comment")).collect();
    assert_eq!(
        (wrote.len(), &wrote[0]["id"], wrote[0]["text"].as_str()),
        (1, &said.comment_id.into(), Some("which hill?"))
    );

    let backup = server.dir.path().join("backup.kith");
    common::process::backup(&server.data_dir(), &backup);
    let target = server.dir.path().join("restored");
    kith(&["restore", backup.to_str().unwrap()], &target);
    let counted = stats(&target);
    let moments = (counted["moments"].clone(), counted["moment_likes"].clone(), counted["moment_comments"].clone());
    assert_eq!(moments, (2.into(), 1.into(), 1.into()), "{counted}");
}

/// Under `moments.retention_secs`, a moment older than that goes with its
/// likes, comments, notices and its hold on its photo; a newer one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moments_past_their_retention_are_deleted() {
    let server = TestServer::start_with(|c| {
        c.moments.retention_secs = 2;
        c.conversation.purge_interval_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tcp, "alice").await;
    let bob = server.user(Kind::Tcp, "bob").await;
    befriend(&alice, &bob).await;
    let file = photo(&alice.client).await;
    let old =
        publish(&alice.client, &moment("old", MomentMedia::Images(vec![file]), MomentAudience::Friends, &[])).await;
    like(&bob.client, old, true).await.unwrap();
    comment(&bob.client, old, "lovely", None).await.unwrap();
    assert_eq!(notices(&alice.client, old).await.len(), 2);
    assert_eq!(crate::media::reads(&bob.client, file).await, (true, true), "bob reads the photo of a moment he sees");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let new = post(&alice.client, "new", MomentAudience::Friends, &[]).await;

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while get(&alice.client, old).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "the old moment was not deleted");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ids(&page(&bob.client, alice.user_id).await.unwrap()), [new], "the newer one stays");
    assert!(notices(&alice.client, old).await.is_empty(), "its notices went with it");
    assert_eq!(crate::media::reads(&bob.client, file).await, (false, false), "its photo is no longer bob's to read");
    let counted = stats(&server.data_dir());
    assert_eq!((counted["moment_likes"].clone(), counted["moment_comments"].clone()), (0.into(), 0.into()));
}
