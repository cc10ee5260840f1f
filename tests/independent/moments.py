"""Moments (revision 24, docs/PROTOCOL.md section 5, Moments, PublishMoment
to MomentFilter; section 8.2, kinds 23 to 25) between users of this
independent client on their phones, over plain TCP:

    python3 moments.py --tcp HOST:PORT --name NAME --peer PEER

NAME befriends PEER, NAME + "c" and NAME + "e" (AddFriend, AnswerFriend);
NAME + "d" stays a stranger, and PEER and NAME + "e" do not know each
other. NAME uploads two photos (purpose 4 Moment) and posts a moment with
them and a place, to every friend except NAME + "c" (audience Except). PEER's
phone is pushed a MomentPosted update (kind 25, its id the moment's) that
Sync never holds; he finds the moment in his feed with both files as the
server stored them (MIME type, size, dimensions) and downloads a photo with
GetMedia. NAME + "c" is pushed nothing (a message NAME sends her is her
next update); her feed does not hold the moment, and GetMoment and GetMedia
of the photo are NotFound for her. The stranger's UserMoments of NAME's page
is an empty page and GetMoment NotFound. PEER likes and comments: NAME gets
MomentLiked (kind 23) and MomentCommented (kind 24, its id the comment's)
live and finds both by Sync under the same ids. NAME + "e" sees the moment
but, not being PEER's friend, neither his like nor his comment (the
mutual-friend rule). NAME replies to PEER's comment; PEER gets kind 24 with
`reply_to` naming his comment; NAME + "e" sees the reply, since its author
wrote it, but as a comment of its own (`reply_to` None, `reply_to_user` 0).
Refusals: ten photos (InvalidArgument, limit 9, nothing posted), NAME + "c"
liking or commenting (NotFound), NAME + "e" deleting PEER's comment
(NotPermitted) or answering it (NotFound), PEER deleting NAME's moment
(NotPermitted). Last, NAME deletes the moment: GetMoment and GetMedia are
NotFound for PEER, it leaves the feeds, and no Sync holds the kind 23 and 24
notices about it any more. Needs open registration. Prints "all checks
passed"; exits non-zero on a failed check.
"""

import os
import sys

import kith_client as k
from scenario_main import CHECKS, expect, expect_refused, ok, open_account, run_scenario

PASSWORD = "moments password"


def befriend(alice: k.KithClient, friend: k.KithClient, friend_id: int) -> None:
    """`alice` asks, `friend` accepts (AddFriend, AnswerFriend)."""
    asked = alice.add_friend(friend_id, "from the lake")
    expect(asked.state == k.REQUEST_PENDING, f"a pending request: {asked}")
    answered = friend.answer_friend(asked.id, True)
    expect(answered.state == k.REQUEST_ACCEPTED, f"accepted: {answered}")


def moment_notices(client: k.KithClient, moment_id: int) -> list:
    """The ids of the kind 23 and 24 updates about `moment_id` in the caller's log."""
    out = []
    for u in client.sync_all(0):
        if u.kind == k.UPDATE_MOMENT_LIKED and u.value.moment_id == moment_id:
            out.append(u.id)
        elif u.kind == k.UPDATE_MOMENT_COMMENTED and u.value.comment.moment_id == moment_id:
            out.append(u.id)
    return out


def run(host: str, port: int, name: str, peer_name: str) -> None:
    (alice, alice_id), (bob, bob_id), (carol, carol_id), (dave, _), (eve, eve_id) = (
        open_account(host, port, n, PASSWORD, f"moments-{n}", k.DEVICE_MOBILE)
        for n in (name, peer_name, name + "c", name + "d", name + "e"))
    for friend, friend_id in ((bob, bob_id), (carol, carol_id), (eve, eve_id)):
        befriend(alice, friend, friend_id)
    ok("PEER, NAME + 'c' and NAME + 'e' are NAME's friends (AddFriend, AnswerFriend); NAME + 'd' is a stranger")

    # Two photos, purpose Moment, and the moment to every friend but carol.
    photos = [os.urandom(90_000), os.urandom(30_000)]
    infos = [alice.upload(p, "image/jpeg", k.PURPOSE_MOMENT, width=1080, height=720 + i)
             for i, p in enumerate(photos)]
    expect([(i.size, i.mime) for i in infos] == [(len(p), "image/jpeg") for p in photos], f"uploaded: {infos}")
    ids = [i.media_id for i in infos]
    place = k.Location.of_degrees("Lac de Joux", 46.6333, 6.2833)
    audience = k.MomentVisibility(k.MOMENT_EXCEPT, [carol_id])
    posted = alice.publish_moment("Sunday at the lake", k.MomentMedia.of_images(ids), place, audience)
    expect(not posted.duplicate, f"a new moment: {posted}")
    moment_id = posted.moment_id
    ok("two photos uploaded with purpose Moment, posted as a moment to every friend but NAME + 'c' (Except)")

    # The feed's badge: kind 25 to bob, live only, its id the moment's.
    badge = bob.next_update(10, k.UPDATE_MOMENT_POSTED)
    expect(badge.id == moment_id and badge.value == k.MomentPosted(moment_id, alice_id), f"kind 25: {badge}")
    expect(not any(u.kind == k.UPDATE_MOMENT_POSTED for u in bob.sync_all(0)), "Sync holds no MomentPosted")
    ok("PEER's phone is pushed MomentPosted (kind 25, id the moment's); Sync never holds it")

    # Bob's feed: the moment with both files as stored; a photo downloaded.
    files = [k.MomentFile(i, "image/jpeg", len(p), 1080, 720 + n, 0) for n, (i, p) in enumerate(zip(ids, photos))]
    page = bob.feed(0, 20)
    expect([m.moment_id for m in page.moments] == [moment_id] and not page.more, f"PEER's feed: {page}")
    seen = page.moments[0]
    expect((seen.author, seen.text, seen.media.images, seen.location) == (alice_id, "Sunday at the lake", ids, place),
           f"the moment as posted: {seen}")
    expect(seen.files == files, f"its files as stored: {seen.files}")
    expect(seen.visibility is None, f"the audience is the author's alone to read: {seen.visibility}")
    expect((seen.like_count, seen.likes, seen.liked, seen.comment_count, seen.comments) == (0, [], False, 0, []),
           f"no likes nor comments yet: {seen}")
    expect(bob.download(ids[0]) == photos[0], "GetMedia gives PEER the first photo")
    mine = alice.get_moment(moment_id)
    expect(mine.visibility == audience and mine.files == files, f"the author reads her audience: {mine}")
    ok("PEER's feed holds the moment: text, place, both files (MIME type, size, dimensions), no audience; "
       "he downloads a photo with GetMedia; NAME reads her audience (Except NAME + 'c')")

    # Carol, excluded: no badge, no moment, no photo.
    alice.send(carol_id, "are you coming next Sunday?")
    while True:
        u = carol.next_update(10)
        expect(u.kind != k.UPDATE_MOMENT_POSTED, f"NAME + 'c' is pushed no MomentPosted: {u}")
        if u.kind == k.UPDATE_MESSAGE:
            break
    expect(moment_id not in [m.moment_id for m in carol.feed(0, 20).moments], "the moment is not in her feed")
    expect(carol.user_moments(alice_id).moments == [], "nor on NAME's page for her")
    expect_refused(k.NOT_FOUND, "GetMoment by the excluded friend", carol.get_moment, moment_id)
    expect_refused(k.NOT_FOUND, "GetMedia of the photo by the excluded friend", carol.get_media, ids[0], 0, 10)
    ok("NAME + 'c', excluded, is pushed nothing; feed and page without it; GetMoment and GetMedia NotFound")

    # Dave, a stranger: an empty page.
    expect(dave.user_moments(alice_id) == k.MomentPage([], False), "the stranger's UserMoments: an empty page")
    expect(dave.feed(0, 20).moments == [], "the stranger's feed is empty")
    expect_refused(k.NOT_FOUND, "GetMoment by a stranger", dave.get_moment, moment_id)
    ok("NAME + 'd', a stranger, finds NAME's page empty (UserMoments) and GetMoment NotFound")

    # Bob likes and comments; alice hears of both, live and by Sync.
    bob.like_moment(moment_id)
    liked = alice.next_update(10, k.UPDATE_MOMENT_LIKED)
    expect(liked.value == k.MomentLiked(moment_id, bob_id), f"kind 23: {liked}")
    comment = bob.comment_moment(moment_id, "what a view!")
    expect((comment.moment_id, comment.author, comment.text, comment.reply_to, comment.reply_to_user)
           == (moment_id, bob_id, "what a view!", None, 0), f"CommentMoment's answer: {comment}")
    commented = alice.next_update(10, k.UPDATE_MOMENT_COMMENTED)
    expect(commented.id == comment.comment_id and commented.value == k.MomentCommented(alice_id, comment),
           f"kind 24: {commented}")
    expect(moment_notices(alice, moment_id) == [liked.id, commented.id], "Sync gives both under the same ids")
    mine = alice.get_moment(moment_id)
    expect((mine.like_count, mine.likes, mine.liked, mine.comment_count, mine.comments)
           == (1, [bob_id], False, 1, [comment]), f"the author sees the like and the comment: {mine}")
    ok("PEER likes and comments; NAME gets MomentLiked (23) and MomentCommented (24, id the comment's) live, "
       "Sync gives both under the same ids, and her moment counts them")

    # Eve, alice's friend but not bob's, sees neither.
    seen = eve.get_moment(moment_id)
    expect((seen.like_count, seen.likes, seen.liked, seen.comment_count, seen.comments) == (0, [], False, 0, []),
           f"NAME + 'e' sees neither PEER's like nor his comment: {seen}")
    expect(moment_id in [m.moment_id for m in eve.feed(0, 20).moments], "the moment is in her feed")
    expect(eve.moment_comments(moment_id) == k.CommentPage([], False), "MomentComments: none for her")
    ok("NAME + 'e', NAME's friend but not PEER's, sees the moment without his like or comment (0 and 0)")

    # Alice answers bob: he hears of it, reply_to set; eve sees a comment of its own.
    reply = alice.comment_moment(moment_id, "come along next time", reply_to=comment.comment_id)
    expect((reply.author, reply.reply_to, reply.reply_to_user) == (alice_id, comment.comment_id, bob_id),
           f"the reply names his comment: {reply}")
    answered = bob.next_update(10, k.UPDATE_MOMENT_COMMENTED)
    expect(answered.id == reply.comment_id and answered.value == k.MomentCommented(alice_id, reply),
           f"kind 24 to PEER: {answered}")
    expect(moment_notices(alice, moment_id) == [liked.id, commented.id], "NAME is told nothing of her own reply")
    seen = bob.get_moment(moment_id)
    expect((seen.like_count, seen.liked, seen.comment_count, seen.comments) == (1, True, 2, [comment, reply]),
           f"PEER sees his like, his comment and the reply: {seen}")
    alone = k.MomentComment(reply.comment_id, moment_id, alice_id, "come along next time", None, 0)
    seen = eve.get_moment(moment_id)
    expect((seen.like_count, seen.comment_count, seen.comments) == (0, 1, [alone]),
           f"NAME + 'e' sees the author's reply as a comment of its own: {seen}")
    expect(eve.moment_comments(moment_id) == k.CommentPage([alone], False), "and so in MomentComments")
    ok("NAME replies to PEER's comment: he gets kind 24 with reply_to and reply_to_user; NAME + 'e' sees "
       "the reply, the author's, with reply_to None and reply_to_user 0")

    # Refusals.
    more = [alice.upload(os.urandom(2_000 + n), "image/jpeg", k.PURPOSE_MOMENT).media_id for n in range(8)]
    e = expect_refused(k.INVALID_ARGUMENT, "a moment of ten photos", alice.publish_moment,
                       "too many", k.MomentMedia.of_images(ids + more))
    expect(e.limit == 9, f"the limit is 9: {e.limit}")
    expect([m.moment_id for m in alice.user_moments(alice_id).moments] == [moment_id], "nothing was posted")
    expect_refused(k.NOT_FOUND, "a like by the excluded friend", carol.like_moment, moment_id)
    expect_refused(k.NOT_FOUND, "a comment by the excluded friend", carol.comment_moment, moment_id, "nice")
    expect_refused(k.NOT_PERMITTED, "NAME + 'e' deleting PEER's comment", eve.delete_comment, moment_id,
                   comment.comment_id)
    expect_refused(k.NOT_FOUND, "NAME + 'e' answering a comment she does not see", eve.comment_moment, moment_id,
                   "me too", comment.comment_id)
    expect_refused(k.NOT_PERMITTED, "PEER deleting NAME's moment", bob.delete_moment, moment_id)
    expect(bob.get_moment(moment_id).comments == [comment, reply], "PEER's comment stands")
    ok("refused: ten photos (InvalidArgument, limit 9), the excluded friend's like and comment (NotFound), "
       "another's comment deleted (NotPermitted) or answered unseen (NotFound), another's moment deleted "
       "(NotPermitted)")

    # Alice deletes the moment: gone for bob, with its photos and every notice.
    expect(moment_notices(bob, moment_id) == [answered.id], "PEER's log holds the reply's notice")
    alice.delete_moment(moment_id)
    expect_refused(k.NOT_FOUND, "PEER's GetMoment of the deleted moment", bob.get_moment, moment_id)
    expect_refused(k.NOT_FOUND, "PEER's GetMedia of its photo", bob.get_media, ids[0], 0, 10)
    expect_refused(k.NOT_FOUND, "a like of the deleted moment", bob.like_moment, moment_id)
    expect(moment_id not in [m.moment_id for m in bob.feed(0, 20).moments], "it left PEER's feed")
    expect(alice.user_moments(alice_id).moments == [], "and NAME's page")
    expect(moment_notices(alice, moment_id) == [], "NAME's Sync no longer holds the kind 23 and 24 notices")
    expect(moment_notices(bob, moment_id) == [], "nor PEER's the reply's")
    expect(alice.download(ids[0]) == photos[0], "the uploader still reads her photo")
    ok("NAME deletes the moment: GetMoment and GetMedia NotFound for PEER, gone from the feed, and no Sync "
       "holds its kind 23 and 24 notices any more")
    for c in (alice, bob, carol, dave, eve):
        c.close()


if __name__ == "__main__":
    sys.exit(run_scenario(
        __doc__, run,
        name_help="the author's username; her excluded friend is NAME + 'c', a stranger NAME + 'd', "
                  "a friend PEER does not know NAME + 'e'",
        peer_help="the username of a friend who sees the moment",
        what="moments check",
        passed=lambda: f"all checks passed ({CHECKS[0]} checks)",
    ))
