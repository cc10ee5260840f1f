//! Cutting a byte stream into frames, checking each header before its body
//! is buffered. The buffer grows as body bytes actually arrive, not by what
//! a header announces, so a peer that sends a header and stalls costs little.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::Decoder;

use super::{FatalHeader, Header, HEADER_LEN};

/// A frame as read: its header and the still-undecoded body.
#[derive(Debug)]
pub struct RawFrame {
    /// The checked header.
    pub header: Header,
    /// Exactly `header.body_len` bytes.
    pub body: Bytes,
}

/// Why no more frames can be read from a stream.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The header was refused; answer with an error and close.
    #[error("refused header: {0:?}")]
    Fatal(FatalHeader),
    /// The stream failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Bytes the buffer grows by at most per read while a body arrives.
const GROWTH: usize = 16 * 1024;

/// tokio-util decoder for kith frames.
#[derive(Debug, Clone, Copy)]
pub struct FrameDecoder {
    max_body: usize,
}

impl FrameDecoder {
    /// A decoder refusing bodies above `max_body` bytes.
    pub fn new(max_body: usize) -> FrameDecoder {
        FrameDecoder { max_body }
    }

    /// The largest body accepted from now on (raised once a connection authenticates).
    pub fn set_max_body(&mut self, max_body: usize) {
        self.max_body = max_body;
    }

    /// The largest body accepted now.
    pub fn max_body(&self) -> usize {
        self.max_body
    }
}

impl Decoder for FrameDecoder {
    type Item = RawFrame;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<RawFrame>, FrameError> {
        let Some(head) = src.get(..HEADER_LEN) else {
            src.reserve(HEADER_LEN - src.len());
            return Ok(None);
        };
        let mut bytes = [0u8; HEADER_LEN];
        bytes.copy_from_slice(head);
        let header = Header::parse(&bytes, self.max_body).map_err(FrameError::Fatal)?;
        let total = HEADER_LEN + header.body_len as usize;
        if src.len() < total {
            src.reserve((total - src.len()).min(GROWTH));
            return Ok(None);
        }
        let mut frame = src.split_to(total);
        frame.advance(HEADER_LEN);
        Ok(Some(RawFrame { header, body: frame.freeze() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{encode_frame, ErrorCode};

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut d = FrameDecoder::new(100);
        let frame = encode_frame(0x10, 5, b"hello");
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame[..7]);
        assert!(d.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&frame[7..15]);
        assert!(d.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&frame[15..]);
        buf.extend_from_slice(&encode_frame(0x01, 6, b""));
        let f = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!((f.header.sequence, &f.body[..]), (5, &b"hello"[..]));
        let f = d.decode(&mut buf).unwrap().unwrap();
        assert_eq!((f.header.sequence, f.body.len()), (6, 0));
        assert!(buf.is_empty());
    }

    #[test]
    fn an_announced_body_is_not_reserved_ahead_of_its_bytes() {
        let mut d = FrameDecoder::new(1 << 20);
        let frame = encode_frame(0x10, 5, &vec![7u8; 1 << 20]);
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&frame[..HEADER_LEN + 10]);
        assert!(d.decode(&mut buf).unwrap().is_none());
        assert!(buf.capacity() < 64 * 1024, "reserved {} bytes for a 1 MiB body", buf.capacity());
    }

    #[test]
    fn oversize_header_fails_before_the_body_arrives() {
        let mut d = FrameDecoder::new(10);
        let mut buf = BytesMut::from(&encode_frame(0x10, 5, &[0u8; 11])[..HEADER_LEN]);
        match d.decode(&mut buf) {
            Err(FrameError::Fatal(h)) => assert_eq!(h.code, ErrorCode::FrameTooLarge),
            other => panic!("{other:?}"),
        }
    }
}
