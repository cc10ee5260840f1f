//! Bodies of the media actions (`0x58–0x5F`): uploads in chunks, downloads
//! in chunks, signed URLs, and the content of a media message.
//!
//! A file is uploaded in three steps — `StartUpload` declares its size, type
//! and SHA-256; `UploadChunk` sends its bytes at offsets; `FinishUpload`
//! has the server compare the hash of what it received with the declared
//! one and store the file — and read back by media id, in chunks
//! (`GetMedia`) or over HTTPS with a signed URL (`MediaUrl`).

use serde::{Deserialize, Serialize};

use super::wire_enum;

wire_enum! {
    /// What an upload is for. It decides nothing yet about who may read the
    /// file (references do); it is kept with the file for the operator.
    pub enum MediaPurpose: u8 {
        /// An attachment of a message (image, voice, video, file).
        Message = 1,
        /// A user's avatar.
        Avatar = 2,
        /// A group's avatar.
        GroupAvatar = 3,
        /// A moment's picture or video.
        Moment = 4,
    }
}

/// `StartUpload` request: what the client is about to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartUploadRequest {
    /// Size of the whole file in bytes, 1 to the server's file limit.
    pub size: u64,
    /// MIME type, e.g. `image/jpeg`: 3–127 printable ASCII characters with one `/`.
    pub mime: String,
    /// SHA-256 of the whole file.
    pub sha256: [u8; 32],
    /// What the file is for.
    pub purpose: MediaPurpose,
    /// Width in pixels of an image or video, 0 if none.
    pub width: u32,
    /// Height in pixels of an image or video, 0 if none.
    pub height: u32,
    /// Duration in milliseconds of a voice clip or video, 0 if none.
    pub duration_ms: u32,
}

/// `StartUpload` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStarted {
    /// The upload's id, for its chunks, its status and its finish.
    pub upload_id: u64,
    /// Most bytes one chunk may carry (and one `GetMedia` may ask for).
    pub chunk_bytes: u32,
    /// Milliseconds since the epoch after which an unfinished upload is discarded.
    pub expires_ms: u64,
}

/// `UploadChunk` request: bytes of the file from `offset` on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadChunkRequest {
    /// The upload.
    pub upload_id: u64,
    /// Where in the file `data` starts; at most the committed offset.
    pub offset: u64,
    /// 1 to `chunk_bytes` bytes; not past the declared size.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `UploadStatus` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadStatusRequest {
    /// The upload.
    pub upload_id: u64,
}

/// `UploadChunk` and `UploadStatus` response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadOffset {
    /// Bytes the server holds of the file, from its start: the next chunk
    /// starts here.
    pub offset: u64,
}

/// `FinishUpload` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishUploadRequest {
    /// The upload, every byte of it sent.
    pub upload_id: u64,
}

/// `FinishUpload` response: the stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    /// The file's id, for messages, `GetMedia` and `MediaUrl`.
    pub media_id: u64,
    /// Size in bytes.
    pub size: u64,
    /// MIME type, as declared.
    pub mime: String,
    /// SHA-256 of the bytes, as the server computed it.
    pub sha256: [u8; 32],
}

/// `GetMedia` request: a run of a file's bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetMediaRequest {
    /// The file.
    pub media_id: u64,
    /// The first byte wanted, below the file's size.
    pub offset: u64,
    /// Bytes wanted, 1 to `chunk_bytes`; fewer come back at the file's end.
    pub length: u32,
}

/// `GetMedia` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaChunk {
    /// The whole file's size.
    pub size: u64,
    /// The file's MIME type.
    pub mime: String,
    /// The bytes from the requested offset.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// `MediaUrl` request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaUrlRequest {
    /// The file.
    pub media_id: u64,
}

/// `MediaUrl` response: where to fetch the file over HTTPS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaUrl {
    /// Path and query of the URL, starting with `/media/`; the client puts
    /// `https://<server host>:<TLS port>` in front.
    pub path: String,
    /// Milliseconds since the epoch after which the URL is refused.
    pub expires_ms: u64,
}

/// The content of an `Image`, `Voice`, `Video` or `File` message (revision
/// 15): the file and what a client shows before fetching it. On `Send` the
/// server checks the sender may read `media_id` and `thumbnail`, and puts
/// what it stored of the file (`size`, `mime`, `width`, `height`,
/// `duration_ms`) in place of the client's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaContent {
    /// The file.
    pub media_id: u64,
    /// A small image to show first (an image's or a video's preview), if any.
    pub thumbnail: Option<u64>,
    /// The file's name as the sender's device knew it, at most 255 bytes; may be empty.
    pub name: String,
    /// Size in bytes (set by the server).
    pub size: u64,
    /// MIME type (set by the server).
    pub mime: String,
    /// Width in pixels, 0 if none (set by the server).
    pub width: u32,
    /// Height in pixels, 0 if none (set by the server).
    pub height: u32,
    /// Duration in milliseconds, 0 if none (set by the server).
    pub duration_ms: u32,
    /// A caption, at most 1,024 bytes; may be empty.
    pub caption: String,
}
