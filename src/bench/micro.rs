//! `micro`: the pure hot paths timed in this process, no server: frame
//! header parsing, frame building and decoding, body encoding, typed key
//! building and snowflake ids. Each path runs in rounds of a fixed number of
//! calls until `--duration` seconds are spent on it; the figure is the
//! fastest round's time per call (the least disturbed by the host).

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio_util::codec::Decoder;

use super::report::Report;
use crate::codec::{decode_wire, encode_wire};
use crate::id::Snowflake;
use crate::protocol::{
    encode_frame, FrameDecoder, Header, Message, MessageKind, Push, SendRequest, Target, Update, UpdateBody, HEADER_LEN,
};
use crate::service::message::Conversation;
use crate::storage::schema::KeyspaceInfo;
use crate::storage::Keyspace;

/// Calls per timed round.
const ROUND: u32 = 1_000;

const BENCH_KEYS: KeyspaceInfo = KeyspaceInfo { prefix: 0x20, name: "bench_key", domain: "bench", key: "", value: "" };

pub(super) fn run(seconds: u64) -> Report {
    let budget = Duration::from_secs(seconds.max(1)) / 9;
    let mut report = Report::new("micro", "");
    let started = Instant::now();

    let send = SendRequest {
        to: Target::User(42),
        client_msg_id: [7; 16],
        kind: MessageKind::Text,
        content: vec![b'x'; 200],
        extra: None,
        reply_to: 0,
        mentions: Vec::new(),
    };
    let body = encode_wire(&send);
    let frame = encode_frame(0x10, 9, &body);
    let mut header = [0u8; HEADER_LEN];
    header.copy_from_slice(&frame[..HEADER_LEN]);
    ns(&mut report, "parse a frame header", budget, || {
        let _ = black_box(Header::parse(black_box(&header), 131_072));
    });
    ns(&mut report, "build a frame with a 200-byte body", budget, || {
        black_box(encode_frame(0x10, black_box(9), black_box(&body)));
    });
    let stream: Vec<u8> = frame.iter().copied().cycle().take(frame.len() * 64).collect();
    ns(&mut report, "decode 64 frames from a buffer", budget, || {
        let mut decoder = FrameDecoder::new(131_072);
        let mut buf = BytesMut::from(&stream[..]);
        while let Ok(Some(f)) = decoder.decode(&mut buf) {
            black_box(f);
        }
    });
    ns(&mut report, "encode a SendRequest (200 bytes of content)", budget, || {
        black_box(encode_wire(black_box(&send)));
    });
    ns(&mut report, "decode a SendRequest (200 bytes of content)", budget, || {
        let _ = black_box(decode_wire::<SendRequest>(black_box(&body)));
    });
    let message = Message {
        id: 1 << 40,
        sender: 1,
        to: Target::User(2),
        client_msg_id: [1; 16],
        kind: MessageKind::Text,
        content: vec![b'y'; 200],
        extra: None,
        server_time: 1_767_225_600_000,
        reply_to: 0,
        edited: 0,
        mentions: Vec::new(),
    };
    let update = UpdateBody::Message(message);
    ns(&mut report, "encode an Update push frame carrying a 200-byte message", budget, || {
        black_box(Push::Update(Update::new(1 << 40, black_box(&update))).frame());
    });
    let log: Keyspace<(Conversation, u64), ()> = Keyspace::new(&BENCH_KEYS);
    let updates: Keyspace<(u64, u64), ()> = Keyspace::new(&BENCH_KEYS);
    let conversation = Conversation::direct(17, 4);
    ns(&mut report, "build a conversation log key", budget, || {
        black_box(log.key(black_box(&(conversation, 99))));
    });
    ns(&mut report, "build an update log key", budget, || {
        black_box(updates.key(black_box(&(4, 99))));
    });
    let mut ids = Snowflake::new(0, 0);
    ns(&mut report, "next snowflake id", budget, || {
        black_box(ids.next_id());
    });
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// Times `f` in rounds of [`ROUND`] calls for about `budget`, and records
/// the fastest round's nanoseconds per call as a figure.
fn ns(report: &mut Report, name: &str, budget: Duration, mut f: impl FnMut()) {
    let until = Instant::now() + budget;
    let mut best = Duration::MAX;
    loop {
        let round = Instant::now();
        for _ in 0..ROUND {
            f();
        }
        best = best.min(round.elapsed());
        if Instant::now() >= until {
            break;
        }
    }
    report.figure(&format!("{name}, ns per call"), best.as_nanos() as f64 / f64::from(ROUND));
}
