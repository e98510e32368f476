//! The RESP decoder (multibulk and inline commands) on arbitrary bytes,
//! fed in arbitrary pieces: must never panic, and must refuse oversized
//! lengths instead of allocating them.
#![no_main]

use agora_daemon::resp::codec::Decoder;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else { return };
    let mut decoder = Decoder::with_max_bulk(1 << 16);
    let mut buf = BytesMut::new();
    for piece in rest.chunks(split as usize + 1) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(args)) => assert!(args.iter().all(|a| a.len() <= 1 << 16)),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
