//! Feeds arbitrary bytes to the frame decoder and every frame it yields to
//! the body decoders of the action, push and update tables: nothing may
//! panic, allocate beyond the frame limit, or read past a body.

#![no_main]

use bytes::BytesMut;
use kith::codec::decode_wire;
use kith::protocol::{Action, ErrorBody, FrameDecoder, Push, Request, ERROR_ACTION};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut decoder = FrameDecoder::new(128 * 1024);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
        assert_eq!(frame.body.len(), frame.header.body_len as usize);
        let byte = frame.header.action;
        if byte == ERROR_ACTION {
            drop(decode_wire::<ErrorBody>(&frame.body));
        } else if let Some(action) = Action::from_byte(byte) {
            let _ = Request::decode(action, &frame.body);
            let _ = action.decode_reply(&frame.body);
        } else if let Ok(Some(Push::Update(update))) = Push::decode(byte, &frame.body) {
            let _ = update.decode();
        }
    }
});
