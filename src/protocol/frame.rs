//! The 13-byte frame header and the rules a header must pass before its body
//! is read.

use super::ErrorCode;

/// The protocol version this server speaks.
pub const VERSION: u32 = 1;

/// Length of the fixed header: `version u32, action u8, sequence_id u32,
/// body_length u32`, all big-endian.
pub const HEADER_LEN: usize = 13;

/// Sequence id of every server-initiated push; requests must use any other.
pub const PUSH_SEQUENCE: u32 = 0;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version the sender speaks.
    pub version: u32,
    /// Raw action byte; interpreted by [`super::Action::from_byte`].
    pub action: u8,
    /// Chosen by the client for requests and echoed in the response; zero
    /// marks a push.
    pub sequence: u32,
    /// Number of body bytes after the header.
    pub body_len: u32,
}

/// A header that must not be followed: the connection answers with an error
/// carrying `sequence` and then closes, because the byte stream can no longer
/// be trusted to be in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FatalHeader {
    /// Sequence id to echo in the error response.
    pub sequence: u32,
    /// Why the frame was refused.
    pub code: ErrorCode,
    /// The offending value, for the error message.
    pub detail: u64,
}

impl Header {
    /// Parses a header and checks it against the version and the body limit,
    /// before any body byte is read or allocated.
    pub fn parse(bytes: &[u8; HEADER_LEN], max_body: usize) -> Result<Header, FatalHeader> {
        let be32 = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        let header = Header { version: be32(0), action: bytes[4], sequence: be32(5), body_len: be32(9) };
        if header.version != VERSION {
            return Err(FatalHeader {
                sequence: header.sequence,
                code: ErrorCode::UnsupportedVersion,
                detail: u64::from(header.version),
            });
        }
        if header.body_len as usize > max_body {
            return Err(FatalHeader {
                sequence: header.sequence,
                code: ErrorCode::FrameTooLarge,
                detail: u64::from(header.body_len),
            });
        }
        Ok(header)
    }

    /// Serialises the header.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.version.to_be_bytes());
        out[4] = self.action;
        out[5..9].copy_from_slice(&self.sequence.to_be_bytes());
        out[9..13].copy_from_slice(&self.body_len.to_be_bytes());
        out
    }
}

/// Builds a complete frame (header and body) in one buffer.
///
/// Replies are bounded far below [`crate::codec::HARD_MAX_BODY`] (pages have
/// a byte budget, messages a size limit); should a body ever exceed it, an
/// `Internal` error frame with the same sequence id is built instead of a
/// frame the client could not read.
pub fn encode_frame(action: u8, sequence: u32, body: &[u8]) -> Vec<u8> {
    if body.len() > crate::codec::HARD_MAX_BODY {
        let error = super::ErrorBody {
            code: super::ErrorCode::Internal.into(),
            message: "response too large".into(),
            retry_after_ms: None,
            limit: None,
            reason: None,
            used: None,
        };
        return encode_frame(super::ERROR_ACTION, sequence, &crate::codec::encode_wire(&error));
    }
    let header = Header { version: VERSION, action, sequence, body_len: body.len() as u32 };
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = Header { version: VERSION, action: 0x10, sequence: 7, body_len: 42 };
        assert_eq!(Header::parse(&h.to_bytes(), 100), Ok(h));
    }

    #[test]
    fn layout_matches_the_documented_bytes() {
        let frame = encode_frame(0x01, 1, &[]);
        assert_eq!(frame, [0, 0, 0, 1, 0x01, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn oversize_is_refused_from_the_header() {
        let h = Header { version: VERSION, action: 0x10, sequence: 9, body_len: 101 };
        let err = Header::parse(&h.to_bytes(), 100).unwrap_err();
        assert_eq!(err.code, ErrorCode::FrameTooLarge);
        assert_eq!(err.sequence, 9);
    }

    #[test]
    fn an_impossible_body_becomes_an_internal_error() {
        let frame = encode_frame(0x12, 4, &vec![0u8; crate::codec::HARD_MAX_BODY + 1]);
        assert_eq!(frame[4], super::super::ERROR_ACTION);
        assert_eq!(&frame[5..9], &4u32.to_be_bytes());
    }

    #[test]
    fn unknown_version_is_refused() {
        let h = Header { version: 2, action: 0x10, sequence: 3, body_len: 0 };
        assert_eq!(Header::parse(&h.to_bytes(), 100).unwrap_err().code, ErrorCode::UnsupportedVersion);
    }
}
