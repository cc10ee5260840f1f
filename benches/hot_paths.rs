//! Micro-benchmarks of the pure hot paths: frame codec, body encoding, key
//! building and snowflake ids. Run with `cargo bench`.

// criterion's macros generate undocumented public functions.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use kith::codec::{decode_wire, encode_wire};
use kith::id::Snowflake;
use kith::protocol::{
    encode_frame, FrameDecoder, Header, Message, MessageKind, Push, SendRequest, Target, Update, UpdateBody, HEADER_LEN,
};
use kith::service::message::Conversation;
use kith::storage::schema::KeyspaceInfo;
use kith::storage::Keyspace;
use tokio_util::codec::Decoder;

fn send_request() -> SendRequest {
    SendRequest {
        to: Target::User(42),
        client_msg_id: [7; 16],
        kind: MessageKind::Text,
        content: vec![b'x'; 200],
        extra: None,
    }
}

fn frames(c: &mut Criterion) {
    let body = encode_wire(&send_request());
    let frame = encode_frame(0x10, 9, &body);
    let header: [u8; HEADER_LEN] = frame[..HEADER_LEN].try_into().unwrap();
    c.bench_function("header parse", |b| b.iter(|| Header::parse(black_box(&header), 131_072)));
    c.bench_function("encode frame (200 B body)", |b| b.iter(|| encode_frame(0x10, black_box(9), black_box(&body))));

    let mut stream = Vec::new();
    for _ in 0..64 {
        stream.extend_from_slice(&frame);
    }
    let mut group = c.benchmark_group("frame decoder");
    group.throughput(Throughput::Elements(64));
    group.bench_function("64 frames", |b| {
        b.iter(|| {
            let mut decoder = FrameDecoder::new(131_072);
            let mut buf = BytesMut::from(&stream[..]);
            while let Ok(Some(f)) = decoder.decode(&mut buf) {
                black_box(f);
            }
        })
    });
    group.finish();
}

fn bodies(c: &mut Criterion) {
    let request = send_request();
    let encoded = encode_wire(&request);
    c.bench_function("encode SendRequest", |b| b.iter(|| encode_wire(black_box(&request))));
    c.bench_function("decode SendRequest", |b| b.iter(|| decode_wire::<SendRequest>(black_box(&encoded)).unwrap()));
    let message = Message {
        id: 1 << 40,
        sender: 1,
        to: Target::User(2),
        client_msg_id: [1; 16],
        kind: MessageKind::Text,
        content: vec![b'y'; 200],
        extra: None,
        server_time: 1_767_225_600_000,
    };
    let update = UpdateBody::Message(message);
    c.bench_function("encode Update push frame (message)", |b| {
        b.iter(|| Push::Update(Update::new(1 << 40, black_box(&update))).frame())
    });
}

const INFO: KeyspaceInfo = KeyspaceInfo { prefix: 0x20, name: "bench_key", domain: "bench", key: "", value: "" };

fn keys(c: &mut Criterion) {
    let log: Keyspace<(Conversation, u64), ()> = Keyspace::new(&INFO);
    let updates: Keyspace<(u64, u64), ()> = Keyspace::new(&INFO);
    let sent: Keyspace<(u64, [u8; 16]), u64> = Keyspace::new(&INFO);
    let conv = Conversation::direct(17, 4);
    c.bench_function("log key", |b| b.iter(|| log.key(black_box(&(conv, 99)))));
    c.bench_function("update log key", |b| b.iter(|| updates.key(black_box(&(4, 99)))));
    c.bench_function("idempotency key", |b| b.iter(|| sent.key(black_box(&(4, [3; 16])))));
}

fn ids(c: &mut Criterion) {
    let mut ids = Snowflake::new(0, 0);
    c.bench_function("snowflake next_id", |b| b.iter(|| ids.next_id()));
}

criterion_group!(hot_paths, frames, bodies, keys, ids);
criterion_main!(hot_paths);
