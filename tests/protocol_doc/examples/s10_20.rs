//! Section 10.20 A moment, a like and comments (revision 24).

use super::*;

const MOMENT: u64 = 155268100915200000;
const LIKE: u64 = 155268352573440000;
const COMMENT: u64 = 155268604231680000;
const REPLY: u64 = 155268855889920000;
const PHOTOS: [u64; 2] = [155266842624000000, 155266846818304000];

fn photo(media_id: u64, size: u64) -> MomentFile {
    MomentFile { media_id, mime: "image/jpeg".into(), size, width: 4032, height: 3024, duration_ms: 0 }
}

fn except_carol() -> MomentVisibility {
    MomentVisibility { audience: MomentAudience::Except, users: vec![3] }
}

fn bobs_comment() -> MomentComment {
    MomentComment {
        comment_id: COMMENT,
        moment_id: MOMENT,
        author: 2,
        text: "Which trail?".into(),
        reply_to: None,
        reply_to_user: 0,
    }
}

fn alices_reply() -> MomentComment {
    MomentComment {
        comment_id: REPLY,
        moment_id: MOMENT,
        author: 1,
        text: "The north one".into(),
        reply_to: Some(COMMENT),
        reply_to_user: 2,
    }
}

/// The moment as a viewer who has not liked it sees it, with what it holds then.
fn moment(visibility: Option<MomentVisibility>, likes: Vec<u64>, comments: Vec<MomentComment>) -> Moment {
    Moment {
        moment_id: MOMENT,
        author: 1,
        text: "Sunday at the lake".into(),
        media: MomentMedia::Images(PHOTOS.to_vec()),
        files: vec![photo(PHOTOS[0], 2_481_152), photo(PHOTOS[1], 2_207_744)],
        location: Some(Location { name: "Lake Quill".into(), latitude_e7: 473_769_000, longitude_e7: 85_417_000 }),
        visibility,
        like_count: likes.len() as u32,
        liked: false,
        likes,
        comment_count: comments.len() as u32,
        comments,
    }
}

pub(super) fn examples() -> Vec<Example> {
    vec![
        // PublishMoment request (alice's phone, sequence 60)
        request(
            60,
            &PublishMomentRequest {
                client_id: hex16("5e1f0a9c33d24b7e8f6a1c2d3e4f5a6b"),
                text: "Sunday at the lake".into(),
                media: MomentMedia::Images(PHOTOS.to_vec()),
                location: Some(Location {
                    name: "Lake Quill".into(),
                    latitude_e7: 473_769_000,
                    longitude_e7: 85_417_000,
                }),
                visibility: except_carol(),
            },
        )
        .note("location.latitude_e7", " (47.3769°)")
        .note("location.longitude_e7", " (8.5417°)"),
        // PublishMoment response
        response::<PublishMomentRequest>(60, &MomentPublished { moment_id: MOMENT, duplicate: false }),
        // Update push, kind MomentPosted, to bob's phone
        push(&Push::Update(Update::new(
            MOMENT,
            &UpdateBody::MomentPosted(MomentPosted { moment_id: MOMENT, author: 1 }),
        ))),
        // Feed request (bob's phone, sequence 30)
        request(30, &FeedRequest { before: 0, limit: 20 }),
        // Feed response: the moment as bob sees it
        response::<FeedRequest>(30, &MomentPage { moments: vec![moment(None, vec![], vec![])], more: false }),
        // LikeMoment request (bob's phone, sequence 31)
        request(31, &LikeMomentRequest { moment_id: MOMENT, like: true }),
        // LikeMoment response
        response::<LikeMomentRequest>(31, &()),
        // Update push, kind MomentLiked, to alice's phone
        push(&Push::Update(Update::new(LIKE, &UpdateBody::MomentLiked(MomentLiked { moment_id: MOMENT, user_id: 2 })))),
        // CommentMoment request (bob's phone, sequence 32)
        request(32, &CommentMomentRequest { moment_id: MOMENT, text: "Which trail?".into(), reply_to: None }),
        // CommentMoment response
        response::<CommentMomentRequest>(32, &bobs_comment()),
        // Update push, kind MomentCommented, to alice's phone
        push(&Push::Update(Update::new(
            COMMENT,
            &UpdateBody::MomentCommented(MomentCommented { moment_author: 1, comment: bobs_comment() }),
        ))),
        // CommentMoment request: alice replies (alice's phone, sequence 61)
        request(61, &CommentMomentRequest { moment_id: MOMENT, text: "The north one".into(), reply_to: Some(COMMENT) }),
        // CommentMoment response
        response::<CommentMomentRequest>(61, &alices_reply()),
        // Update push, kind MomentCommented, to bob's phone
        push(&Push::Update(Update::new(
            REPLY,
            &UpdateBody::MomentCommented(MomentCommented { moment_author: 1, comment: alices_reply() }),
        ))),
        // GetMoment request (alice's phone, sequence 62)
        request(62, &GetMomentRequest { moment_id: MOMENT }),
        // GetMoment response: the moment as its author sees it
        response::<GetMomentRequest>(62, &moment(Some(except_carol()), vec![2], vec![bobs_comment(), alices_reply()])),
        // GetMoment failure: carol asks for it (sequence 12, code 8 NotFound)
        error(
            Action::GetMoment,
            12,
            &ErrorBody {
                code: 8,
                message: "no such moment".into(),
                retry_after_ms: None,
                limit: None,
                reason: None,
                used: None,
            },
        ),
        // UserMoments request (carol's phone, sequence 13)
        request(13, &UserMomentsRequest { user_id: 1, before: 0, limit: 20 }),
        // UserMoments response: nothing carol may see
        response::<UserMomentsRequest>(13, &MomentPage { moments: vec![], more: false }),
        // MomentComments request (bob's phone, sequence 33)
        request(33, &MomentCommentsRequest { moment_id: MOMENT, after: 0, limit: 20 }),
        // MomentComments response
        response::<MomentCommentsRequest>(
            33,
            &CommentPage { comments: vec![bobs_comment(), alices_reply()], more: false },
        ),
        // MomentSettings request (alice's phone, sequence 63)
        request(63, &MomentSettingsRequest { window: Some(MomentWindow::Month) }),
        // MomentSettings response
        response::<MomentSettingsRequest>(63, &MomentSettings { window: MomentWindow::Month }),
        // MomentFilter request (bob's phone, sequence 34)
        request(34, &MomentFilterRequest { user_id: 4, hide_mine: None, hide_theirs: Some(true) }),
        // MomentFilter response
        response::<MomentFilterRequest>(34, &MomentFilter { user_id: 4, hide_mine: false, hide_theirs: true }),
        // DeleteComment request (bob's phone, sequence 35)
        request(35, &DeleteCommentRequest { moment_id: MOMENT, comment_id: COMMENT }),
        // DeleteComment response
        response::<DeleteCommentRequest>(35, &()),
        // DeleteMoment request (alice's phone, sequence 64)
        request(64, &DeleteMomentRequest { moment_id: MOMENT }),
        // DeleteMoment response
        response::<DeleteMomentRequest>(64, &()),
    ]
}
