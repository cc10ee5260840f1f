//! Section 10.13 Files: a photo uploaded, sent, and fetched (revision 15).

use super::*;

pub(super) fn examples() -> Vec<Example> {
    vec![
        // StartUpload request (sequence 80)
        request(80, &StartUploadRequest {
            size: 245760,
            mime: "image/jpeg".into(),
            sha256: [159, 134, 208, 129, 136, 76, 125, 101, 154, 47, 234, 160, 197, 90, 208, 21, 163, 191, 79, 27, 43, 11, 130, 44, 209, 93, 108, 21, 176, 240, 10, 8],
            purpose: MediaPurpose::Message,
            width: 1920,
            height: 1080,
            duration_ms: 0,
        }),
        // StartUpload response
        response::<StartUploadRequest>(80, &UploadStarted {
            upload_id: 133902316343394305,
            chunk_bytes: 65536,
            expires_ms: 1767700800000,
        }),
        // StartUpload refused: alice is at her quota (code 23 QuotaExceeded)
        error(Action::StartUpload, 80, &ErrorBody {
            code: 23,
            message: "over quota".into(),
            retry_after_ms: None,
            limit: Some(5368709120),
            reason: None,
            used: Some(5368000000),
        }),
        // UploadStatus request (a new connection, sequence 2, after Auth)
        request(2, &UploadStatusRequest {
            upload_id: 133902316343394305,
        }),
        // UploadStatus response: the server holds three chunks
        response::<UploadStatusRequest>(2, &UploadOffset {
            offset: 196608,
        }),
        // UploadChunk request (sequence 84)
        request(84, &UploadChunkRequest {
            upload_id: 133902316343394305,
            offset: 245744,
            data: hex("303132333435363738393a3b3c3dffd9"),
        })
        .note("data", " (a JPEG ends ff d9)"),
        // UploadChunk response
        response::<UploadChunkRequest>(84, &UploadOffset {
            offset: 245760,
        }),
        // FinishUpload request (sequence 85)
        request(85, &FinishUploadRequest {
            upload_id: 133902316343394305,
        }),
        // FinishUpload response
        response::<FinishUploadRequest>(85, &MediaInfo {
            media_id: 133902316347588609,
            size: 245760,
            mime: "image/jpeg".into(),
            sha256: [159, 134, 208, 129, 136, 76, 125, 101, 154, 47, 234, 160, 197, 90, 208, 21, 163, 191, 79, 27, 43, 11, 130, 44, 209, 93, 108, 21, 176, 240, 10, 8],
        })
        .note("sha256", " (as the server computed it)"),
        // Send request: the photo to bob (sequence 86)
        request(86, &SendRequest {
            to: Target::User(2),
            client_msg_id: hex16("11111111111111111111111111111111"),
            kind: MessageKind::Image,
            content: hex("01dbb7728080000100000000000000000c494d475f303030312e6a7067000000000000000000000000000000000000000000000000000000000000000000000000"),
            extra: None,
            reply_to: 0,
            mentions: vec![],
        })
        .note("content.size", " (the server fills it)")
        .note("content.mime", " (the server fills it)")
        .note("content.width", " (the server fills it)"),
        // GetMedia request: bob reads the file's last bytes (sequence 9)
        request(9, &GetMediaRequest {
            media_id: 133902316347588609,
            offset: 245744,
            length: 65536,
        }),
        // GetMedia response: 16 bytes, the end of the file
        response::<GetMediaRequest>(9, &MediaChunk {
            size: 245760,
            mime: "image/jpeg".into(),
            data: hex("303132333435363738393a3b3c3dffd9"),
        }),
        // MediaUrl request (sequence 10)
        request(10, &MediaUrlRequest {
            media_id: 133902316347588609,
        }),
        // MediaUrl response (the signature is made up)
        response::<MediaUrlRequest>(10, &MediaUrl {
            path: "/media/133902316347588609?user=2&expires=1767615000000&sig=3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f".into(),
            expires_ms: 1767615000000,
        }),
    ]
}
