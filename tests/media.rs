//! Files through the real server: uploads in chunks and their resumption,
//! content stored once and checked by hash, downloads over the protocol and
//! over a signed HTTPS URL (fetched by curl, pinning the certificate), the
//! access rule (uploader, or a message the reader may see: recall, expiry,
//! a kick, leaving and a block decide; no block), the limits, and the
//! sweep. Avatars are in `avatars.rs`.

use crate::common;

use std::time::Duration;

use common::process::stats;
use common::talk::{code, open_group, pushed_so_far};
use common::{Kind, TestServer, TestUser, SOON};
use kith::client::{attachment, sha256, Client, FileShape};
use kith::codec::decode_wire;
use kith::config::Config;
use kith::protocol::{
    BlockRequest, ErrorCode, FinishUploadRequest, GetMediaRequest, KickMemberRequest, LeaveGroupRequest, MediaContent,
    MediaPurpose, MediaUrl, MediaUrlRequest, MessageKind, RecallRequest, RetentionRequest, StartUploadRequest, Target,
    UploadChunkRequest, UploadStatusRequest,
};

/// `n` bytes no two calls repeat: SHA-256 blocks chained from a random seed.
pub(crate) fn noise(n: usize) -> Vec<u8> {
    let mut block = sha256(&kith::client::new_client_msg_id());
    let mut out = Vec::with_capacity(n + 32);
    while out.len() < n {
        block = sha256(&block);
        out.extend_from_slice(&block);
    }
    out.truncate(n);
    out
}

const JPEG: &str = "image/jpeg";

async fn upload(user: &TestUser, bytes: &[u8]) -> u64 {
    user.client.upload(bytes, FileShape::attachment(JPEG)).await.expect("uploads").media_id
}

/// Sends file `media` to `to` as an image; returns the message id.
async fn send_image(user: &TestUser, to: Target, media: u64) -> u64 {
    user.client.send_media(to, MessageKind::Image, &attachment(media, "photo.jpg")).await.expect("sends").message_id
}

async fn url(client: &Client, media_id: u64) -> Result<MediaUrl, kith::client::ClientError> {
    client.call(&MediaUrlRequest { media_id }).await
}

/// Whether `client` can read file `media` by either path, as a pair:
/// (`GetMedia` answered, `MediaUrl` answered). A refusal must be `NotFound`.
pub(crate) async fn reads(client: &Client, media: u64) -> (bool, bool) {
    let chunk = client.call(&GetMediaRequest { media_id: media, offset: 0, length: 16 }).await.map(drop);
    let link = url(client, media).await.map(drop);
    let answered = (chunk.is_ok(), link.is_ok());
    for refused in [code(chunk), code(link)].into_iter().flatten() {
        assert_eq!(refused, ErrorCode::NotFound, "a file one may not read is not found");
    }
    answered
}

async fn a_photo_reaches_its_recipient_whole(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let mut bob = server.user(kind, "bob").await;
    let photo = noise(300_000);
    let shape = FileShape { mime: JPEG, purpose: MediaPurpose::Message, size_px: (1920, 1080), duration_ms: 0 };
    let info = alice.client.upload(&photo, shape).await.unwrap();
    assert_eq!((info.size, info.mime.as_str(), info.sha256), (300_000, JPEG, sha256(&photo)));
    let mut content = attachment(info.media_id, "IMG_0001.jpg");
    content.size = 1;
    content.mime = "text/plain".into();
    content.caption = "the view".into();
    alice.client.send_media(Target::User(bob.user_id), MessageKind::Image, &content).await.unwrap();

    let message = bob.client.message_within(SOON).await.unwrap();
    assert_eq!(message.kind, MessageKind::Image);
    let got: MediaContent = decode_wire(&message.content).unwrap();
    assert_eq!(got.media_id, info.media_id);
    assert_eq!(
        (got.size, got.mime.as_str(), got.width, got.height),
        (300_000, JPEG, 1920, 1080),
        "the server's values"
    );
    assert_eq!((got.name.as_str(), got.caption.as_str()), ("IMG_0001.jpg", "the view"));
    let bytes = bob.client.download(got.media_id).await.unwrap();
    assert_eq!(sha256(&bytes), sha256(&photo));
    let tail =
        bob.client.call(&GetMediaRequest { media_id: got.media_id, offset: 299_990, length: 100 }).await.unwrap();
    assert_eq!((tail.size, tail.data.as_slice()), (300_000, &photo[299_990..]), "a chunk stops at the end");
    let past = bob.client.call(&GetMediaRequest { media_id: got.media_id, offset: 300_000, length: 1 }).await;
    assert_eq!(code(past), Some(ErrorCode::InvalidArgument));
}
crate::per_transport!(a_photo_reaches_its_recipient_whole);

async fn twenty_megabytes_round_trip(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let video = noise(20 * 1024 * 1024);
    let media = alice.client.upload(&video, FileShape::attachment("video/mp4")).await.unwrap();
    assert_eq!(media.sha256, sha256(&video));
    let back = alice.client.download_from(media.media_id, 0, 64 * 1024).await.unwrap();
    assert!(back == video, "the download is the upload");
}
crate::per_transport!(twenty_megabytes_round_trip);

/// A connection drops mid-upload; another picks it up from where the
/// server holds the bytes, resending at most the one chunk in doubt.
async fn an_upload_resumes_after_a_dropped_connection(kind: Kind) {
    let server = TestServer::start().await;
    let alice = server.user(kind, "alice").await;
    let file = noise(10 * 64 * 1024 + 123);
    let started = alice.client.start_upload(&file, FileShape::attachment("application/pdf")).await.unwrap();
    let chunk = started.chunk_bytes as usize;
    for i in 0..4 {
        let data = file[i * chunk..(i + 1) * chunk].to_vec();
        let offset = (i * chunk) as u64;
        let held = alice.client.call(&UploadChunkRequest { upload_id: started.upload_id, offset, data }).await.unwrap();
        assert_eq!(held.offset, ((i + 1) * chunk) as u64);
    }
    drop(alice);

    let (again, _) = server.device(kind, "alice", "alice-phone", kith::protocol::DeviceType::Mobile).await;
    let status = again.call(&UploadStatusRequest { upload_id: started.upload_id }).await.unwrap();
    assert_eq!(status.offset, 4 * chunk as u64, "the server holds four chunks");
    // Unsure whether the fourth arrived, the phone sends it again: the
    // known bytes are skipped and nothing is written twice.
    let resent = file[3 * chunk..4 * chunk].to_vec();
    let offset = (3 * chunk) as u64;
    let held = again.call(&UploadChunkRequest { upload_id: started.upload_id, offset, data: resent }).await.unwrap();
    assert_eq!(held.offset, 4 * chunk as u64);
    let gap = file[5 * chunk..6 * chunk].to_vec();
    let ahead =
        again.call(&UploadChunkRequest { upload_id: started.upload_id, offset: 5 * chunk as u64, data: gap }).await;
    assert_eq!(code(ahead), Some(ErrorCode::InvalidArgument), "a chunk past what the server holds leaves a gap");
    let early = again.call(&FinishUploadRequest { upload_id: started.upload_id }).await;
    assert_eq!(code(early), Some(ErrorCode::InvalidArgument), "not every byte is there yet");

    let (info, sent) = again.send_upload(&started, &file).await.unwrap();
    assert_eq!(sent, (file.len() - 4 * chunk) as u64, "only the rest was sent");
    assert_eq!(info.sha256, sha256(&file));
    assert!(again.download(info.media_id).await.unwrap() == file);
    let retried = again.call(&FinishUploadRequest { upload_id: started.upload_id }).await.unwrap();
    assert_eq!(retried, info, "a retried finish gets the same file");
    let late = again.call(&UploadChunkRequest { upload_id: started.upload_id, offset: 0, data: vec![1] }).await;
    assert_eq!(code(late), Some(ErrorCode::Conflict));
}
crate::per_transport!(an_upload_resumes_after_a_dropped_connection);

/// The server restarts mid-upload: the upload goes on from its file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_survives_a_restart() {
    let mut server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let file = noise(3 * 64 * 1024);
    let started = alice.client.start_upload(&file, FileShape::attachment(JPEG)).await.unwrap();
    let data = file[..64 * 1024].to_vec();
    alice.client.call(&UploadChunkRequest { upload_id: started.upload_id, offset: 0, data }).await.unwrap();
    drop(alice);
    server.restart().await;
    let (again, _) = server.device(Kind::Quic, "alice", "alice-phone", kith::protocol::DeviceType::Mobile).await;
    let (info, sent) = again.send_upload(&started, &file).await.unwrap();
    assert_eq!(sent, 2 * 64 * 1024);
    assert_eq!(info.sha256, sha256(&file), "the hash was rebuilt from the file");
}

/// Two devices finishing the same upload at once both get the one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_finishes_of_one_upload_store_it_once() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let (laptop, _) = server.device(Kind::Quic, "alice", "alice-laptop", kith::protocol::DeviceType::Desktop).await;
    let file = noise(200_000);
    let started = alice.client.start_upload(&file, FileShape::attachment(JPEG)).await.unwrap();
    let step = started.chunk_bytes as usize;
    for (i, data) in file.chunks(step).enumerate() {
        let chunk = UploadChunkRequest { upload_id: started.upload_id, offset: (i * step) as u64, data: data.to_vec() };
        alice.client.call(&chunk).await.unwrap();
    }
    let finish = FinishUploadRequest { upload_id: started.upload_id };
    let (a, b) = tokio::join!(alice.client.call(&finish), laptop.call(&finish));
    assert_eq!(a.unwrap(), b.unwrap(), "one file, the same answer");
    assert_eq!(stats(&server.data_dir())["media_files"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_hash_stores_nothing() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let file = noise(100_000);
    let mut declared = noise(100_000);
    declared[0] ^= 1;
    let started = alice.client.start_upload(&declared, FileShape::attachment(JPEG)).await.unwrap();
    let refused = alice.client.send_upload(&started, &file).await;
    assert_eq!(code(refused), Some(ErrorCode::InvalidArgument));
    let gone = alice.client.call(&UploadStatusRequest { upload_id: started.upload_id }).await;
    assert_eq!(code(gone), Some(ErrorCode::NotFound), "the upload is discarded");
    assert_eq!(stats(&server.data_dir())["media_files"], 0);
    assert!(blobs_on_disk(&server).is_empty());
}

/// Knowing a file's hash and size gets nobody the file: the declaration
/// is checked against the bytes, and access against references.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_hash_gives_no_access_without_the_bytes() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let mallory = server.user(Kind::Tls, "mallory").await;
    let secret = noise(200_000);
    let media = upload(&alice, &secret).await;
    assert_eq!(reads(&mallory.client, media).await, (false, false));

    let claim = StartUploadRequest {
        size: secret.len() as u64,
        mime: JPEG.into(),
        sha256: sha256(&secret),
        purpose: MediaPurpose::Message,
        width: 0,
        height: 0,
        duration_ms: 0,
    };
    let started = mallory.client.call(&claim).await.unwrap();
    let finish = mallory.client.call(&FinishUploadRequest { upload_id: started.upload_id }).await;
    assert_eq!(code(finish), Some(ErrorCode::InvalidArgument), "no bytes, no file");
    let guessed = mallory.client.send_upload(&started, &noise(200_000)).await;
    assert_eq!(code(guessed), Some(ErrorCode::InvalidArgument), "other bytes, no file");
    let forward =
        mallory.client.send_media(Target::User(mallory.user_id), MessageKind::Image, &attachment(media, "")).await;
    assert_eq!(code(forward), Some(ErrorCode::NotFound), "nor can a message carry a file one may not read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identical_content_is_stored_once_and_counted_per_user() {
    let server = TestServer::start_with(|c| c.media.quota_bytes = 250_000).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let file = noise(200_000);
    let first = upload(&alice, &file).await;
    let second = upload(&alice, &file).await;
    let bobs = upload(&bob, &file).await;
    assert!(first != second && second != bobs, "each upload is its own media id");
    let s = stats(&server.data_dir());
    assert_eq!((s["media_files"].as_u64(), s["media_bytes"].as_u64()), (Some(1), Some(200_000)));
    assert_eq!(blobs_on_disk(&server).len(), 1, "one file on disk");
    let du = media_du(&server);
    assert_eq!(du.len(), 2);
    for row in du {
        assert_eq!((row["bytes"].as_u64(), row["files"].as_u64()), (Some(200_000), Some(1)), "{row}");
    }
    // Alice's quota holds the file once: the same bytes again cost nothing,
    // other bytes of the same size would pass it.
    upload(&alice, &file).await;
    let over = alice.client.upload(&noise(200_000), FileShape::attachment(JPEG)).await;
    let error = over.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::QuotaExceeded));
    assert_eq!((error.limit(), error.used()), (Some(250_000), Some(200_000)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_refuse_uploads_while_messages_go_on() {
    let server = TestServer::start_with(|c| {
        c.media.max_file_bytes = 1_000_000;
        c.media.uploads_per_user = 2;
    })
    .await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let big = StartUploadRequest {
        size: 1_000_001,
        mime: "video/mp4".into(),
        sha256: [0; 32],
        purpose: MediaPurpose::Message,
        width: 0,
        height: 0,
        duration_ms: 0,
    };
    let error = alice.client.call(&big).await.unwrap_err();
    assert_eq!((error.code(), error.limit()), (Some(ErrorCode::FileTooLarge), Some(1_000_000)));
    let empty = alice.client.call(&StartUploadRequest { size: 0, ..big.clone() }).await;
    assert_eq!(code(empty), Some(ErrorCode::InvalidArgument));
    for mime in ["jpeg", "image/", "/jpeg", "image/jp eg", "a/b/c"] {
        let bad = alice.client.call(&StartUploadRequest { size: 10, mime: mime.into(), ..big.clone() }).await;
        assert_eq!(code(bad), Some(ErrorCode::InvalidArgument), "{mime}");
    }
    let small = StartUploadRequest { size: 10, ..big.clone() };
    alice.client.call(&small).await.unwrap();
    let second = alice.client.call(&small).await.unwrap();
    let third = alice.client.call(&small).await.unwrap_err();
    assert_eq!((third.code(), third.limit(), third.used()), (Some(ErrorCode::NotPermitted), Some(2), Some(2)));
    let oversized = vec![0; 64 * 1024 + 1];
    let chunk =
        alice.client.call(&UploadChunkRequest { upload_id: second.upload_id, offset: 0, data: oversized }).await;
    assert_eq!(code(chunk), Some(ErrorCode::InvalidArgument));
    let long =
        alice.client.call(&UploadChunkRequest { upload_id: second.upload_id, offset: 0, data: vec![0; 11] }).await;
    assert_eq!(code(long), Some(ErrorCode::InvalidArgument), "past the declared size");
    let others = bob.client.call(&UploadStatusRequest { upload_id: second.upload_id }).await;
    assert_eq!(code(others), Some(ErrorCode::NotFound), "an upload is its uploader's alone");
    alice.client.send_text(bob.user_id, "still here").await.expect("messages go on");
    let bad_content = alice
        .client
        .call(&kith::protocol::SendRequest {
            to: Target::User(bob.user_id),
            client_msg_id: kith::client::new_client_msg_id(),
            kind: MessageKind::Voice,
            content: b"not a media content".to_vec(),
            extra: None,
            reply_to: 0,
            mentions: Vec::new(),
        })
        .await;
    assert_eq!(code(bad_content), Some(ErrorCode::InvalidArgument));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nearly_full_disk_refuses_uploads_and_not_messages() {
    let server = TestServer::start_with(|c| c.media.free_disk_floor_mb = u64::MAX / (1 << 21)).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let error = alice.client.upload(&noise(1000), FileShape::attachment(JPEG)).await.unwrap_err();
    assert_eq!(error.code(), Some(ErrorCode::StorageFull));
    assert_eq!(error.limit(), Some(u64::MAX / (1 << 21) * 1024 * 1024));
    assert!(error.used().is_some_and(|free| free > 0), "the free space is told");
    alice.client.send_text(bob.user_id, "messages still go through").await.unwrap();
}

/// Who may read a file, by both paths, as the access rule says: the
/// uploader; whoever may see a message carrying it; nobody across a block;
/// nobody once the message is recalled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_may_read_a_file() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let carol = server.user(Kind::Tcp, "carol").await;
    let stranger = server.user(Kind::Tls, "stranger").await;
    let kicked = server.user(Kind::Tls, "kicked").await;

    let unsent = upload(&alice, &noise(5000)).await;
    assert_eq!(reads(&alice.client, unsent).await, (true, true), "the uploader");
    assert_eq!(reads(&bob.client, unsent).await, (false, false), "nobody else before it is sent");

    let direct = upload(&alice, &noise(5000)).await;
    send_image(&alice, Target::User(bob.user_id), direct).await;
    assert_eq!(reads(&bob.client, direct).await, (true, true), "the recipient");
    assert_eq!(reads(&carol.client, direct).await, (false, false), "a third user");
    assert_eq!(reads(&stranger.client, 999_999).await, (false, false), "an id that names nothing");

    // Bob forwards it to Carol: a file one may read may be sent on.
    send_image(&bob, Target::User(carol.user_id), direct).await;
    assert_eq!(reads(&carol.client, direct).await, (true, true), "a recipient of the forward");

    // A group: members read; a member kicked before it was sent does not.
    let group = open_group(&alice, &[&carol, &kicked]).await;
    alice.client.call(&KickMemberRequest { group_id: group, user_id: kicked.user_id }).await.unwrap();
    let in_group = upload(&alice, &noise(5000)).await;
    send_image(&alice, Target::Group(group), in_group).await;
    assert_eq!(reads(&carol.client, in_group).await, (true, true), "a member");
    assert_eq!(reads(&kicked.client, in_group).await, (false, false), "a member kicked before");
    assert_eq!(reads(&bob.client, in_group).await, (false, false), "a non-member");

    // A block between the uploader and a reader ends the reader's access.
    carol.client.call(&BlockRequest { user_id: alice.user_id }).await.unwrap();
    assert_eq!(reads(&carol.client, in_group).await, (false, false), "across a block");
    assert_eq!(reads(&carol.client, direct).await, (false, false), "across a block, forwarded or not");

    // A recall ends it at once, for both paths, URLs already handed out included.
    let recalled = upload(&alice, &noise(5000)).await;
    let message = send_image(&alice, Target::User(bob.user_id), recalled).await;
    let link = url(&bob.client, recalled).await.unwrap();
    assert_eq!(curl(&server, &link.path, &[]).0, 200);
    alice.client.call(&RecallRequest { with: Target::User(bob.user_id), message_id: message }).await.unwrap();
    assert_eq!(reads(&bob.client, recalled).await, (false, false), "after the recall");
    assert_eq!(curl(&server, &link.path, &[]).0, 404, "the URL handed out before");
    assert_eq!(reads(&alice.client, recalled).await, (true, true), "the uploader keeps it");
}

/// Expiry and leaving decide as `History` does: a file goes from its
/// readers once the message carrying it expires (before the purge removes
/// it), and a member who left keeps the files of the messages up to their
/// exit, not those sent after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_and_leaving_decide_as_history_does() {
    let server = TestServer::start_with(|c| c.conversation.purge_interval_secs = 3600).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Quic, "bob").await;
    let leaver = server.user(Kind::Tcp, "leaver").await;

    let fleeting = upload(&alice, &noise(3000)).await;
    let to_bob = Target::User(bob.user_id);
    alice.client.send_text(bob.user_id, "photos from today vanish tomorrow").await.unwrap();
    alice.client.call(&RetentionRequest { with: to_bob, set: Some(2) }).await.unwrap();
    let message = send_image(&alice, to_bob, fleeting).await;
    assert_eq!(reads(&bob.client, fleeting).await, (true, true), "before it expires");
    let link = url(&bob.client, fleeting).await.unwrap();
    let at = kith::id::id_time_ms(message) + 2_000 + 50;
    tokio::time::sleep(Duration::from_millis(at.saturating_sub(kith::id::now_ms()))).await;
    assert_eq!(reads(&bob.client, fleeting).await, (false, false), "once its message expired");
    assert_eq!(curl(&server, &link.path, &[]).0, 404, "the URL handed out before");

    let group = open_group(&alice, &[&leaver]).await;
    let before = upload(&alice, &noise(3000)).await;
    send_image(&alice, Target::Group(group), before).await;
    leaver.client.call(&LeaveGroupRequest { group_id: group }).await.unwrap();
    let after = upload(&alice, &noise(3000)).await;
    send_image(&alice, Target::Group(group), after).await;
    assert_eq!(reads(&leaver.client, before).await, (true, true), "a former member, a file from their time");
    assert_eq!(reads(&leaver.client, after).await, (false, false), "a former member, a file sent after");
}

/// The signed URL, fetched by curl pinning the server's public key, as an
/// Android image loader or player would: whole, by Range, by ETag; and
/// refused when altered, expired, or asked with another method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_url_serves_the_file_over_https() {
    let server = TestServer::start_with(|c: &mut Config| c.media.url_secs = 2).await;
    let alice = server.user(Kind::Tls, "alice").await;
    let mut bob = server.user(Kind::Quic, "bob").await;
    let photo = noise(150_000);
    let media = upload(&alice, &photo).await;
    send_image(&alice, Target::User(bob.user_id), media).await;
    pushed_so_far(&server, "bob", &mut bob.client).await;
    let link = url(&bob.client, media).await.unwrap();
    assert!(link.path.starts_with(&format!("/media/{media}?")));

    let (status, body, headers) = curl(&server, &link.path, &[]);
    assert_eq!(status, 200, "{headers}");
    assert!(body == photo, "the whole file");
    assert!(headers.contains("content-type: image/jpeg"), "{headers}");
    assert!(headers.contains("accept-ranges: bytes"), "{headers}");
    let etag = format!("\"{}\"", kith::hex::hex(&sha256(&photo)));
    assert!(headers.contains(&format!("etag: {etag}")), "{headers}");

    let (status, body, headers) = curl(&server, &link.path, &["-H", "Range: bytes=1000-1999"]);
    assert_eq!(status, 206);
    assert!(body == photo[1000..2000]);
    assert!(headers.contains("content-range: bytes 1000-1999/150000"), "{headers}");
    let (status, body, _) = curl(&server, &link.path, &["-H", "Range: bytes=-10"]);
    assert_eq!((status, body.as_slice()), (206, &photo[149_990..]));
    let (status, _, headers) = curl(&server, &link.path, &["-H", "Range: bytes=150000-"]);
    assert_eq!(status, 416);
    assert!(headers.contains("content-range: bytes */150000"), "{headers}");
    let (status, body, _) = curl(&server, &link.path, &["-H", &format!("If-None-Match: {etag}")]);
    assert_eq!((status, body.len()), (304, 0));
    let (status, _, headers) = curl(&server, &link.path, &["--head"]);
    assert_eq!(status, 200, "HEAD");
    assert!(headers.contains("content-length: 150000"), "{headers}");
    assert_eq!(curl(&server, &link.path, &["-X", "POST"]).0, 405);

    let other_user = link.path.replace(&format!("user={}", bob.user_id), &format!("user={}", alice.user_id));
    assert_eq!(curl(&server, &other_user, &[]).0, 404, "a URL signed for someone else");
    let later = link.path.replace("expires=", "expires=9");
    assert_eq!(curl(&server, &later, &[]).0, 404, "an altered expiry");
    assert_eq!(curl(&server, "/media/1", &[]).0, 404);
    assert_eq!(curl(&server, "/", &[]).0, 404);
    tokio::time::sleep(Duration::from_millis(link.expires_ms.saturating_sub(kith::id::now_ms()) + 50)).await;
    assert_eq!(curl(&server, &link.path, &[]).0, 403, "an expired URL: ask for a new one");

    // The kith protocol goes on on the same port.
    bob.client.heartbeat().await.unwrap();
}

/// Files nobody may read go after the grace period; the rest stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_deletes_unreferenced_files_after_the_grace_and_nothing_else() {
    let server = TestServer::start_with(|c| {
        c.media.orphan_grace_secs = 1;
        c.media.sweep_interval_secs = 1;
    })
    .await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let unsent = upload(&alice, &noise(1000)).await;
    let kept = upload(&alice, &noise(1000)).await;
    let recalled = upload(&alice, &noise(1000)).await;
    send_image(&alice, Target::User(bob.user_id), kept).await;
    let message = send_image(&alice, Target::User(bob.user_id), recalled).await;
    alice.client.call(&RecallRequest { with: Target::User(bob.user_id), message_id: message }).await.unwrap();
    assert_eq!(blobs_on_disk(&server).len(), 3);

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while stats(&server.data_dir())["media_files"] != 1 {
        assert!(std::time::Instant::now() < deadline, "the sweep did not delete the two files");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(reads(&alice.client, unsent).await, (false, false), "never sent: gone");
    assert_eq!(reads(&alice.client, recalled).await, (false, false), "recalled: gone");
    assert_eq!(reads(&bob.client, kept).await, (true, true), "still carried: kept");
    assert_eq!(blobs_on_disk(&server).len(), 1);
    assert_eq!(media_du(&server)[0]["bytes"], 1000, "what was deleted no longer counts");
}

/// Every file under `media/blobs`.
fn blobs_on_disk(server: &TestServer) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for shard in std::fs::read_dir(server.data_dir().join("media/blobs")).unwrap() {
        for file in std::fs::read_dir(shard.unwrap().path()).unwrap() {
            out.push(file.unwrap().path());
        }
    }
    out
}

/// What `kith media du --json` prints.
fn media_du(server: &TestServer) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(common::process::KITH)
        .args(["media", "du", "--json", "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap().as_array().unwrap().clone()
}

/// Fetches `path` from the server's TLS port with curl, which pins the
/// certificate's public key: (status, body, lower-cased headers).
fn curl(server: &TestServer, path: &str, extra: &[&str]) -> (u16, Vec<u8>, String) {
    let addr = server.server().tls_addr.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let headers = dir.path().join("headers");
    let out = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--http1.1", "--insecure", "--max-time", "10"])
        .arg("--pinnedpubkey")
        .arg(public_key_pin(server).replacen("sha256/", "sha256//", 1))
        .arg("--dump-header")
        .arg(&headers)
        .args(extra)
        .arg(format!("https://{addr}{path}"))
        .output()
        .expect("curl runs");
    let headers = std::fs::read_to_string(&headers).unwrap_or_default().to_lowercase();
    let status = headers.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    let status = status.unwrap_or_else(|| panic!("curl: {}", String::from_utf8_lossy(&out.stderr)));
    (status, out.stdout, headers)
}

/// The SHA-256 of the certificate's public key as OkHttp's
/// `CertificatePinner` takes it (`sha256/<base64>`; curl's
/// `--pinnedpubkey` wants one more '/').
fn public_key_pin(server: &TestServer) -> String {
    use kith::transport::cert::{okhttp_pin, Certificate};
    let certificate = Certificate::load(&server.config.tls.cert, &server.config.tls.key).unwrap();
    okhttp_pin(&certificate.public_key_fingerprint().unwrap())
}

fn kith(args: &[&str], data_dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(common::process::KITH).args(args).arg("--data-dir").arg(data_dir).output().unwrap()
}

/// A backup carries the files; a restore checks each against its hash and
/// brings back files a friend can fetch again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_and_restore_carry_the_files() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let photo = noise(300_000);
    let voice = noise(70_000);
    let sent = upload(&alice, &photo).await;
    send_image(&alice, Target::User(bob.user_id), sent).await;
    let kept = upload(&alice, &voice).await;
    let file = server.dir.path().join("kith.backup");
    let out = kith(&["backup", file.to_str().unwrap()], &server.data_dir());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let restored = tempfile::tempdir().unwrap();
    let target = restored.path().join("data");
    let out = kith(&["restore", file.to_str().unwrap()], &target);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("and 2 files"), "{}", String::from_utf8_lossy(&out.stdout));
    let copy = TestServer::start_with(|c| c.data_dir = target.clone()).await;
    let (bobs, _) = copy.device(Kind::Quic, "bob", "bob-restored", kith::protocol::DeviceType::Desktop).await;
    assert!(bobs.download(sent).await.unwrap() == photo, "the photo came back");
    let (alices, _) = copy.device(Kind::Tcp, "alice", "alice-restored", kith::protocol::DeviceType::Desktop).await;
    assert!(alices.download(kept).await.unwrap() == voice, "the unsent upload came back");
    assert_eq!(stats(&target)["media_bytes"], 370_000);

    // A file whose bytes are not those of its hash is refused, and nothing stays.
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(16).position(|w| w == &photo[1000..1016]).expect("the photo is in the backup");
    bytes[at] ^= 0xff;
    let damaged = server.dir.path().join("damaged.backup");
    std::fs::write(&damaged, bytes).unwrap();
    let other = restored.path().join("other");
    let out = kith(&["restore", damaged.to_str().unwrap()], &other);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("hash"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!other.join("sled").exists() && !other.join("media").exists());
}

/// `kith user export` lists a user's uploads and, with `--files`, copies them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_lists_a_users_files_and_copies_them() {
    let server = TestServer::start().await;
    let alice = server.user(Kind::Tls, "alice").await;
    let bob = server.user(Kind::Tls, "bob").await;
    let photo = noise(40_000);
    let mine = upload(&alice, &photo).await;
    upload(&bob, &noise(1000)).await;
    let out_file = server.dir.path().join("alice.jsonl");
    let files = server.dir.path().join("alice-files");
    let out = kith(
        &["user", "export", "alice", "--output", out_file.to_str().unwrap(), "--files", files.to_str().unwrap()],
        &server.data_dir(),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&out_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v.get("media").is_some())
        .collect();
    assert_eq!(lines.len(), 1, "alice's upload and not bob's: {lines:?}");
    let media = &lines[0]["media"];
    assert_eq!((media["id"].as_u64(), media["size"].as_u64()), (Some(mine), Some(40_000)));
    assert_eq!(media["sha256"].as_str(), Some(kith::hex::hex(&sha256(&photo)).as_str()));
    assert!(std::fs::read(files.join(mine.to_string())).unwrap() == photo, "the file copied");
}
