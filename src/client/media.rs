//! Files through the protocol: a whole upload (start, chunks, finish), its
//! resumption after a dropped connection, a whole download, and sending a
//! file as a message.

use ring::digest;

use super::{new_client_msg_id, Client, ClientError};
use crate::codec::encode_wire;
use crate::protocol::{
    FinishUploadRequest, GetMediaRequest, MediaContent, MediaInfo, MediaPurpose, MessageKind, SendReply, SendRequest,
    StartUploadRequest, Target, UploadChunkRequest, UploadStarted, UploadStatusRequest,
};

/// What a file is, for [`Client::start_upload`].
#[derive(Debug, Clone, Copy)]
pub struct FileShape<'a> {
    /// MIME type.
    pub mime: &'a str,
    /// What it is for.
    pub purpose: MediaPurpose,
    /// Width and height in pixels, 0 if none.
    pub size_px: (u32, u32),
    /// Duration in milliseconds, 0 if none.
    pub duration_ms: u32,
}

impl<'a> FileShape<'a> {
    /// A message attachment of this type, with no dimensions.
    pub fn attachment(mime: &'a str) -> FileShape<'a> {
        FileShape { mime, purpose: MediaPurpose::Message, size_px: (0, 0), duration_ms: 0 }
    }
}

impl Client {
    /// Declares an upload of `bytes`.
    pub async fn start_upload(&self, bytes: &[u8], shape: FileShape<'_>) -> Result<UploadStarted, ClientError> {
        self.call(&StartUploadRequest {
            size: bytes.len() as u64,
            mime: shape.mime.to_string(),
            sha256: sha256(bytes),
            purpose: shape.purpose,
            width: shape.size_px.0,
            height: shape.size_px.1,
            duration_ms: shape.duration_ms,
        })
        .await
    }

    /// Sends `bytes` of an upload from where the server says it holds them
    /// to the end, then finishes it: the way to resume after a dropped
    /// connection, too. Returns the stored file and how many bytes were sent.
    pub async fn send_upload(&self, upload: &UploadStarted, bytes: &[u8]) -> Result<(MediaInfo, u64), ClientError> {
        let mut offset = self.call(&UploadStatusRequest { upload_id: upload.upload_id }).await?.offset;
        let mut sent = 0;
        while (offset as usize) < bytes.len() {
            let end = (offset as usize + upload.chunk_bytes as usize).min(bytes.len());
            let data = bytes[offset as usize..end].to_vec();
            sent += data.len() as u64;
            offset = self.call(&UploadChunkRequest { upload_id: upload.upload_id, offset, data }).await?.offset;
        }
        let info = self.call(&FinishUploadRequest { upload_id: upload.upload_id }).await?;
        Ok((info, sent))
    }

    /// Uploads `bytes` whole.
    pub async fn upload(&self, bytes: &[u8], shape: FileShape<'_>) -> Result<MediaInfo, ClientError> {
        let upload = self.start_upload(bytes, shape).await?;
        Ok(self.send_upload(&upload, bytes).await?.0)
    }

    /// Downloads a file whole, `chunk` bytes a request, from `offset` on.
    pub async fn download_from(&self, media_id: u64, offset: u64, chunk: u32) -> Result<Vec<u8>, ClientError> {
        let mut out = Vec::new();
        let mut at = offset;
        loop {
            let reply = self.call(&GetMediaRequest { media_id, offset: at, length: chunk }).await?;
            at += reply.data.len() as u64;
            out.extend_from_slice(&reply.data);
            if at >= reply.size || reply.data.is_empty() {
                return Ok(out);
            }
        }
    }

    /// Downloads a file whole.
    pub async fn download(&self, media_id: u64) -> Result<Vec<u8>, ClientError> {
        self.download_from(media_id, 0, 64 * 1024).await
    }

    /// Sends a file as a message of `kind` (Image, Voice, Video or File).
    pub async fn send_media(
        &self,
        to: Target,
        kind: MessageKind,
        content: &MediaContent,
    ) -> Result<SendReply, ClientError> {
        self.call(&SendRequest {
            to,
            client_msg_id: new_client_msg_id(),
            kind,
            content: encode_wire(content),
            extra: None,
            reply_to: 0,
            mentions: Vec::new(),
        })
        .await
    }
}

/// A media message's content naming `media_id`, the rest for the server to fill.
pub fn attachment(media_id: u64, name: &str) -> MediaContent {
    MediaContent {
        media_id,
        thumbnail: None,
        name: name.to_string(),
        size: 0,
        mime: String::new(),
        width: 0,
        height: 0,
        duration_ms: 0,
        caption: String::new(),
    }
}

/// The SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
    out
}
