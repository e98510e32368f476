//! Frame encode/decode throughput for the messages on the hot path.

use agora_wire::{BaseOp, BaseReply, FrameCodec, Request, ServerFrame, decode, encode};
use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tokio_util::codec::{Decoder, Encoder};

fn bench_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("codec");
    group.throughput(Throughput::Elements(1));

    let ping = Request {
        id: 42,
        op: BaseOp::Ping.into(),
    };
    group.bench_function("encode_ping_request", |b| {
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::with_capacity(64);
        b.iter(|| {
            buf.clear();
            codec
                .encode(encode(black_box(&ping)).unwrap(), &mut buf)
                .unwrap();
        })
    });

    let mut wire = BytesMut::new();
    FrameCodec::default()
        .encode(encode(&ping).unwrap(), &mut wire)
        .unwrap();
    group.bench_function("decode_ping_request", |b| {
        let mut codec = FrameCodec::default();
        b.iter(|| {
            let mut buf = wire.clone();
            let body = codec.decode(&mut buf).unwrap().unwrap();
            black_box(decode::<Request>(&body).unwrap());
        })
    });

    let pong = ServerFrame::Reply {
        id: 42,
        body: BaseReply::Pong {
            server_time_ms: 1_800_000_000_000,
        }
        .into(),
    };
    group.bench_function("encode_pong_reply", |b| {
        b.iter(|| black_box(encode(black_box(&pong)).unwrap()))
    });
    let pong_body = encode(&pong).unwrap();
    group.bench_function("decode_pong_reply", |b| {
        b.iter(|| black_box(decode::<ServerFrame>(black_box(&pong_body)).unwrap()))
    });
    // What every member of a busy room decodes, once per message.
    let push = ServerFrame::Push(agora_wire::Push {
        topic: "chat.room.ops".into(),
        event: agora_wire::ChatEvent::Message {
            message: agora_wire::chat::ChatMessage {
                room: "ops".into(),
                seq: 12345,
                from: "alice".into(),
                text: "the deploy of build 4711 finished; all green".into(),
                action: false,
                ts_ms: 1_800_000_000_000,
            },
        }
        .into(),
    });
    let push_body = encode(&push).unwrap();
    group.bench_function("decode_chat_push", |b| {
        b.iter(|| black_box(decode::<ServerFrame>(black_box(&push_body)).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench_codec);
criterion_main!(benches);
