//! The native protocol's frame decoder and message decoders on arbitrary
//! bytes, fed in arbitrary pieces: must never panic, and must never yield
//! a frame above the limit.
#![no_main]

use agora_wire::{FrameCodec, Hello, Request, ServerFrame, decode};
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut codec = FrameCodec::new(4096);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(split as usize + 1) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(body)) => {
                    assert!(body.len() <= 4096);
                    let _ = decode::<Hello>(&body);
                    let _ = decode::<Request>(&body);
                    let _ = decode::<ServerFrame>(&body);
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
