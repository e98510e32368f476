//! Framing: a 4-byte big-endian length, then that many bytes of MessagePack.
//!
//! [`FrameCodec`] splits a byte stream into frames and refuses any frame
//! whose announced length exceeds the maximum *before* buffering it, so a
//! hostile length cannot make a peer allocate. [`encode`] and [`decode`]
//! turn message types into frame bodies and back. Keeping the two apart lets
//! a server tell a broken stream (fatal: framing is lost) from a malformed
//! body (harmless: answer `bad_request` and read the next frame).

use bytes::{Buf, Bytes, BytesMut};
use serde::{Serialize, de::DeserializeOwned};
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::error::Error;

/// The default maximum frame size: 8 MiB.
pub const DEFAULT_MAX_FRAME: usize = 8 * 1024 * 1024;

/// Length of the frame header.
const HEADER_LEN: usize = 4;

/// Splits a byte stream into length-prefixed frames, and writes them.
///
/// Decoding yields each frame's body; encoding takes a body and prepends its
/// length. Use with `tokio_util::codec::Framed`.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    inner: LengthDelimitedCodec,
    max_frame: usize,
}

impl FrameCodec {
    /// A codec that accepts frames of up to `max_frame` bytes (body only,
    /// header excluded).
    pub fn new(max_frame: usize) -> Self {
        let inner = LengthDelimitedCodec::builder()
            .big_endian()
            .length_field_length(HEADER_LEN)
            .max_frame_length(max_frame)
            .new_codec();
        FrameCodec { inner, max_frame }
    }

    /// The largest body this codec accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Whether `buffered` already holds a whole frame (or an oversize
    /// header, which decoding will refuse), i.e. whether decoding can make
    /// progress without reading more. Servers use it to flush replies as
    /// soon as the input on hand is used up.
    pub fn frame_ready(&self, buffered: &[u8]) -> bool {
        if buffered.len() < HEADER_LEN {
            return false;
        }
        let len = (&buffered[..HEADER_LEN]).get_u32() as usize;
        len > self.max_frame || buffered.len() >= HEADER_LEN + len
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(DEFAULT_MAX_FRAME)
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, Error> {
        // Decoding is done here rather than by LengthDelimitedCodec so the
        // error can say how large the refused frame was. It is stateless: the
        // header stays in `src` until the whole frame has arrived.
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = (&src[..HEADER_LEN]).get_u32() as usize;
        if len > self.max_frame {
            return Err(Error::FrameTooLarge {
                len,
                max: self.max_frame,
            });
        }
        if src.len() < HEADER_LEN + len {
            // Bounded by max_frame, so a hostile header cannot make us
            // allocate more than the limit.
            src.reserve(HEADER_LEN + len - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        Ok(Some(src.split_to(len)))
    }
}

impl Encoder<Bytes> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<(), Error> {
        if body.len() > self.max_frame {
            return Err(Error::FrameTooLarge {
                len: body.len(),
                max: self.max_frame,
            });
        }
        Ok(self.inner.encode(body, dst)?)
    }
}

/// Encodes a message as a frame body: MessagePack with named fields.
///
/// # Errors
/// [`Error::Encode`] if serialization fails, which this crate's own types
/// never do.
pub fn encode<T: Serialize + ?Sized>(msg: &T) -> Result<Bytes, Error> {
    rmp_serde::to_vec_named(msg)
        .map(Bytes::from)
        .map_err(|e| Error::Encode(e.to_string()))
}

/// Decodes a frame body into a message.
///
/// # Errors
/// [`Error::Malformed`] when the body is not valid MessagePack, does not
/// match the expected type, or names an unknown variant.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    rmp_serde::from_slice(body).map_err(|e| Error::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BaseOp;
    use crate::message::*;
    use crate::strategies::{any_op, any_server_frame, any_string};
    use proptest::prelude::*;

    fn frame(body: &[u8]) -> BytesMut {
        let mut buf = BytesMut::new();
        FrameCodec::default()
            .encode(Bytes::copy_from_slice(body), &mut buf)
            .unwrap();
        buf
    }

    #[test]
    fn frame_round_trip_and_partial_reads() {
        let mut codec = FrameCodec::default();
        let whole = frame(b"hello");
        assert_eq!(&whole[..4], &[0, 0, 0, 5]);
        // Feed it one byte at a time: nothing until the last byte.
        let mut buf = BytesMut::new();
        for (i, b) in whole.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let got = codec.decode(&mut buf).unwrap();
            if i + 1 < whole.len() {
                assert!(got.is_none());
            } else {
                assert_eq!(&got.unwrap()[..], b"hello");
            }
        }
    }

    #[test]
    fn frame_ready_tells_whether_decoding_can_progress() {
        let codec = FrameCodec::new(16);
        let whole = frame(b"abc");
        assert!(codec.frame_ready(&whole));
        assert!(!codec.frame_ready(&whole[..whole.len() - 1]));
        assert!(!codec.frame_ready(&whole[..2]));
        assert!(
            codec.frame_ready(&[0, 0, 0, 17]),
            "oversize header: decode will refuse it"
        );
    }

    #[test]
    fn oversize_frame_is_refused_from_its_header() {
        let mut codec = FrameCodec::new(16);
        // Only the header has arrived: the length alone is enough to refuse.
        let mut buf = BytesMut::from(&[0u8, 0, 0, 17][..]);
        match codec.decode(&mut buf) {
            Err(Error::FrameTooLarge { len: 17, max: 16 }) => {}
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
        let mut out = BytesMut::new();
        assert!(matches!(
            codec.encode(Bytes::from(vec![0; 17]), &mut out),
            Err(Error::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn unknown_op_is_malformed_not_a_panic() {
        #[derive(Serialize)]
        struct Raw<'a> {
            id: u64,
            op: Tag<'a>,
        }
        #[derive(Serialize)]
        struct Tag<'a> {
            r#type: &'a str,
        }
        let body = encode(&Raw {
            id: 9,
            op: Tag { r#type: "teleport" },
        })
        .unwrap();
        let err = decode::<Request>(&body).unwrap_err();
        assert!(err.to_string().contains("teleport"), "{err}");
    }

    #[test]
    fn ping_request_bytes_match_protocol_md() {
        // The worked example in docs/PROTOCOL.md, byte for byte.
        let mut wire = BytesMut::new();
        FrameCodec::default()
            .encode(
                encode(&Request {
                    id: 1,
                    op: BaseOp::Ping.into(),
                })
                .unwrap(),
                &mut wire,
            )
            .unwrap();
        let hex: Vec<String> = wire.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex.join(" "),
            "00 00 00 13 82 a2 69 64 01 a2 6f 70 81 a4 74 79 70 65 a4 70 69 6e 67"
        );
    }

    #[test]
    fn wire_shape_is_as_documented() {
        // A client in another language relies on this exact shape.
        let body = encode(&Request {
            id: 1,
            op: BaseOp::Ping.into(),
        })
        .unwrap();
        let value: rmpv_like::Value = decode(&body).unwrap();
        assert_eq!(
            value,
            rmpv_like::map(&[
                ("id", rmpv_like::Value::U(1)),
                ("op", rmpv_like::map(&[("type", rmpv_like::s("ping"))])),
            ])
        );
    }

    /// A tiny self-describing value type, enough to check the wire shape
    /// without another dependency.
    mod rmpv_like {
        use serde::Deserialize;
        use std::collections::BTreeMap;

        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(untagged)]
        pub enum Value {
            U(u64),
            S(String),
            M(BTreeMap<String, Value>),
        }
        pub fn s(v: &str) -> Value {
            Value::S(v.into())
        }
        pub fn map(kv: &[(&str, Value)]) -> Value {
            Value::M(kv.iter().map(|(k, v)| (k.to_string(), clone(v))).collect())
        }
        fn clone(v: &Value) -> Value {
            match v {
                Value::U(u) => Value::U(*u),
                Value::S(s) => Value::S(s.clone()),
                Value::M(m) => Value::M(m.iter().map(|(k, v)| (k.clone(), clone(v))).collect()),
            }
        }
    }

    /// Encodes, frames, splits at an arbitrary point, decodes.
    fn round_trip<T>(msg: &T, split: usize) -> T
    where
        T: Serialize + DeserializeOwned,
    {
        let mut codec = FrameCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(encode(msg).unwrap(), &mut wire).unwrap();
        let split = split % (wire.len() + 1);
        let mut buf = BytesMut::from(&wire[..split]);
        let early = codec.decode(&mut buf).unwrap();
        let body = match early {
            Some(body) => body,
            None => {
                buf.extend_from_slice(&wire[split..]);
                codec.decode(&mut buf).unwrap().expect("whole frame")
            }
        };
        decode(&body).unwrap()
    }

    proptest! {
        #[test]
        fn hello_round_trips(client in any_string(), token in proptest::option::of(any_string()), protocol in any::<u32>(), split in any::<usize>()) {
            let hello = Hello { protocol, client, token };
            prop_assert_eq!(round_trip(&hello, split), hello);
        }

        #[test]
        fn requests_round_trip(id in any::<u64>(), op in any_op(), split in any::<usize>()) {
            let req = Request { id, op };
            prop_assert_eq!(round_trip(&req, split), req);
        }

        #[test]
        fn server_frames_round_trip(frame in any_server_frame(), split in any::<usize>()) {
            prop_assert_eq!(round_trip(&frame, split), frame);
        }

        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let mut codec = FrameCodec::new(1024);
            let mut buf = BytesMut::from(&bytes[..]);
            // Decode until the codec wants more bytes or refuses the stream.
            while let Ok(Some(body)) = codec.decode(&mut buf) {
                let _ = decode::<Request>(&body);
                let _ = decode::<Hello>(&body);
                let _ = decode::<ServerFrame>(&body);
            }
            let _ = decode::<Request>(&bytes);
            let _ = decode::<ServerFrame>(&bytes);
        }

        #[test]
        fn truncated_frames_never_panic(op in any_op(), cut in any::<usize>()) {
            let mut codec = FrameCodec::default();
            let mut wire = BytesMut::new();
            codec.encode(encode(&Request { id: 1, op }).unwrap(), &mut wire).unwrap();
            let cut = cut % wire.len();
            let mut buf = BytesMut::from(&wire[..cut]);
            prop_assert!(codec.decode(&mut buf).unwrap().is_none());
            // A truncated body (lying length) decodes to an error, not a panic.
            let _ = decode::<Request>(&wire[4..4 + cut.saturating_sub(4)]);
        }
    }
}
