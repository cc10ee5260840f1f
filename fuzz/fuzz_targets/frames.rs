//! Feeds arbitrary bytes to the server's frame decoder and every frame it
//! yields to the body decoders: nothing may panic, allocate beyond the frame
//! limit, or read past a body.

#![no_main]

use bytes::BytesMut;
use kith::codec::decode_wire;
use kith::protocol::{Action, DisconnectPush, ErrorBody, Message, Page, Request};
use kith::session::FrameDecoder;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut decoder = FrameDecoder::new(128 * 1024);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        assert_eq!(frame.body.len(), frame.header.body_len as usize);
        match Action::from_byte(frame.header.action) {
            Some(Action::PushMessage) => drop(decode_wire::<Message>(&frame.body)),
            Some(Action::PushDisconnect) => drop(decode_wire::<DisconnectPush>(&frame.body)),
            Some(Action::Error) => drop(decode_wire::<ErrorBody>(&frame.body)),
            Some(action) => {
                let _ = Request::decode(action, &frame.body);
                // Replies share the shapes the client decodes.
                let _ = decode_wire::<Page>(&frame.body);
            }
            None => {}
        }
    }
});
