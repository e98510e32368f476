//! The protocol's test vectors (`wire/vectors/`), which every client SDK
//! checks itself against (docs/PROTOCOL.md, "Test vectors").
//!
//! For every operation, reply and event, and for each kind of server frame
//! and the hello, a vector holds the exact frame bytes and a JSON
//! description of the body. `schema.json` lists every message with its
//! fields, their Rust types and whether they may be left out.
//!
//! `scripts/vectors` regenerates the files from the definitions and the
//! proptest strategies (`AGORA_UPDATE_VECTORS=1`); otherwise the test here
//! checks the committed files: each frame decodes to its message and
//! re-encodes to the same bytes, each description is that body, every
//! message has a vector carrying every one of its fields, and the schema is
//! the definitions' own.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use rmpv::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::strategies::{any_error, any_event, any_op, any_reply};
use crate::{
    Event, Hello, Op, Push, Reply, Request, ServerFrame, UserInfo, Welcome, decode, encode,
};

/// One vector: a frame and what it means.
#[derive(Debug, Clone, PartialEq)]
struct Vector {
    kind: &'static str,
    service: String,
    name: String,
    description: String,
    frame: Vec<u8>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors")
}

/// Deterministic samples, enough to hold every message with all its fields.
fn samples<T>(strategy: impl Strategy<Value = T>) -> Vec<T> {
    let mut runner = TestRunner::deterministic();
    (0..6000)
        .map(|_| strategy.new_tree(&mut runner).expect("sample").current())
        .collect()
}

fn frame_of<T: Serialize>(msg: &T) -> Vec<u8> {
    let body = encode(msg).expect("encode");
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

fn value_of(body: &[u8]) -> Value {
    rmpv::decode::read_value(&mut &body[..]).expect("a MessagePack value")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Vec<u8> {
    assert!(text.len().is_multiple_of(2), "odd hex length");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A MessagePack value as JSON: maps in wire order, binary as
/// `{"$bin": hex}`, floats always with a fraction or exponent.
fn describe(value: &Value) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("string");
    match value {
        Value::Nil => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::F32(f) => format!("{:?}", *f as f64),
        Value::F64(f) => {
            assert!(f.is_finite(), "a non-finite float has no JSON form");
            format!("{f:?}")
        }
        Value::String(s) => json(s.as_str().expect("UTF-8 string")),
        Value::Binary(b) => format!("{{\"$bin\": \"{}\"}}", hex(b)),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(describe).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Map(entries) if entries.iter().all(|(k, _)| k.is_str()) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", json(k.as_str().expect("key")), describe(v)))
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
        Value::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("[{}, {}]", describe(k), describe(v)))
                .collect();
            format!("{{\"$map\": [{}]}}", entries.join(", "))
        }
        Value::Ext(kind, bytes) => format!("{{\"$ext\": [{kind}, \"{}\"]}}", hex(bytes)),
    }
}

/// The keys of a message map, without its `type`.
fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_map()
        .expect("a map")
        .iter()
        .filter_map(|(k, _)| k.as_str())
        .filter(|k| *k != "type")
        .map(str::to_owned)
        .collect()
}

/// How many values a MessagePack value holds, itself included.
fn size(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(size).sum(),
        Value::Map(entries) => entries.iter().map(|(k, v)| size(k) + size(v)).sum(),
        _ => 0,
    }
}

/// Per wire name, the sample with the most fields present, then with lists
/// and maps that are not empty (up to a point), then the shortest: each
/// vector shows every field it can, and stays readable.
fn fullest<T: Serialize>(samples: Vec<T>, name: impl Fn(&T) -> &'static str) -> Vec<T> {
    let mut best: BTreeMap<&'static str, ((usize, usize, usize), T)> = BTreeMap::new();
    for msg in samples {
        let body = encode(&msg).expect("encode");
        let value = value_of(&body);
        let score = (
            keys(&value).len(),
            size(&value).min(24),
            usize::MAX - body.len(),
        );
        let tag = name(&msg);
        if best.get(tag).is_none_or(|(s, _)| score > *s) {
            best.insert(tag, (score, msg));
        }
    }
    best.into_values().map(|(_, msg)| msg).collect()
}

fn vector(kind: &'static str, service: &str, name: &str, frame: Vec<u8>) -> Vector {
    Vector {
        kind,
        service: service.to_owned(),
        name: name.to_owned(),
        description: describe(&value_of(&frame[4..])),
        frame,
    }
}

fn generate() -> BTreeMap<&'static str, Vec<Vector>> {
    let mut files = BTreeMap::new();
    let order = |names: Vec<&'static str>, mut v: Vec<Vector>| {
        v.sort_by_key(|x| names.iter().position(|n| *n == x.name));
        v
    };

    let ops = fullest(samples(any_op()), Op::name);
    let ops: Vec<Vector> = ops
        .into_iter()
        .zip(1..)
        .map(|(op, id)| {
            let frame = frame_of(&Request { id, op: op.clone() });
            vector("op", op.service().name(), op.name(), frame)
        })
        .collect();
    files.insert("ops", order(Op::names().map(|n| n.1).collect(), ops));

    let replies = fullest(samples(any_reply()), Reply::name);
    let replies: Vec<Vector> = replies
        .into_iter()
        .zip(1..)
        .map(|(body, id)| {
            let (service, name) = (body.service().name(), body.name());
            vector(
                "reply",
                service,
                name,
                frame_of(&ServerFrame::Reply { id, body }),
            )
        })
        .collect();
    files.insert(
        "replies",
        order(Reply::names().map(|n| n.1).collect(), replies),
    );

    let events = fullest(samples(any_event()), Event::name);
    let events: Vec<Vector> = events
        .into_iter()
        .map(|event| {
            let (service, name) = (event.service().name(), event.name());
            let topic = format!("{service}:vectors");
            vector(
                "event",
                service,
                name,
                frame_of(&ServerFrame::Push(Push { topic, event })),
            )
        })
        .collect();
    files.insert(
        "events",
        order(Event::names().map(|n| n.1).collect(), events),
    );

    let errors = samples(any_error());
    let error = errors
        .iter()
        .find(|e| e.retry_after_ms.is_some())
        .expect("an error")
        .clone();
    let frames = vec![
        vector(
            "hello",
            "base",
            "hello",
            frame_of(&Hello::new(
                "agora-vectors/1",
                Some("eyJhbGciOi.e30.c2ln".into()),
            )),
        ),
        vector(
            "welcome",
            "base",
            "welcome",
            frame_of(&ServerFrame::Welcome(Welcome {
                server_version: "0.1.0".into(),
                protocol: 1,
                session: 42,
                user: Some(UserInfo {
                    id: 7,
                    name: "alice".into(),
                }),
                max_frame: 8 << 20,
            })),
        ),
        vector(
            "error",
            "base",
            "error",
            frame_of(&ServerFrame::Error {
                id: 3,
                error: error.clone(),
            }),
        ),
        vector(
            "goodbye",
            "base",
            "goodbye",
            frame_of(&ServerFrame::Goodbye { error }),
        ),
    ];
    files.insert("frames", frames);
    files
}

fn render(vectors: &[Vector]) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("string");
    let items: Vec<String> = vectors
        .iter()
        .map(|v| {
            format!(
                "  {{\"kind\": {}, \"service\": {}, \"name\": {},\n   \"description\": {},\n   \"frame\": \"{}\"}}",
                json(v.kind),
                json(&v.service),
                json(&v.name),
                v.description,
                hex(&v.frame)
            )
        })
        .collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

/// Whether `field` of the message `sample` may be left out.
fn optional<T: DeserializeOwned>(sample: &Value, field: &str) -> bool {
    let without: Vec<(Value, Value)> = sample
        .as_map()
        .expect("a map")
        .iter()
        .filter(|(k, _)| k.as_str() != Some(field))
        .cloned()
        .collect();
    let mut bytes = Vec::new();
    rmpv::encode::write_value(&mut bytes, &Value::Map(without)).expect("write");
    decode::<T>(&bytes).is_ok()
}

/// `schema.json`: every message, its service and its fields.
fn schema(files: &BTreeMap<&'static str, Vec<Vector>>) -> String {
    fn kind<T: DeserializeOwned>(
        out: &mut Vec<String>,
        kind: &str,
        names: Vec<(crate::Service, &'static str)>,
        fields: Vec<(&'static str, &'static [&'static str])>,
        types: Vec<&'static [&'static str]>,
        vectors: &[Vector],
        key: &str,
    ) {
        let json = |s: &str| serde_json::to_string(s).expect("string");
        for (((service, name), (_, fields)), types) in names.into_iter().zip(fields).zip(types) {
            let v = vectors.iter().find(|v| v.name == name).expect("a vector");
            let whole = value_of(&v.frame[4..]);
            let sample = &whole
                .as_map()
                .expect("a map")
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .expect("the message")
                .1;
            let fields: Vec<String> = fields
                .iter()
                .zip(types.iter())
                .map(|(f, t)| {
                    format!(
                        "{{\"name\": {}, \"type\": {}, \"optional\": {}}}",
                        json(f),
                        json(t),
                        optional::<T>(sample, f)
                    )
                })
                .collect();
            out.push(format!(
                "    {{\"kind\": {}, \"service\": {}, \"name\": {}, \"fields\": [{}]}}",
                json(kind),
                json(service.name()),
                json(name),
                fields.join(", ")
            ));
        }
    }
    let mut out = Vec::new();
    kind::<Op>(
        &mut out,
        "op",
        Op::names().collect(),
        Op::fields().collect(),
        Op::field_types().collect(),
        &files["ops"],
        "op",
    );
    kind::<Reply>(
        &mut out,
        "reply",
        Reply::names().collect(),
        Reply::fields().collect(),
        Reply::field_types().collect(),
        &files["replies"],
        "body",
    );
    kind::<Event>(
        &mut out,
        "event",
        Event::names().collect(),
        Event::fields().collect(),
        Event::field_types().collect(),
        &files["events"],
        "event",
    );
    format!(
        "{{\"protocol\": {}, \"messages\": [\n{}\n]}}\n",
        crate::PROTOCOL_VERSION,
        out.join(",\n")
    )
}

/// Reads a committed vector file back.
fn read(file: &str) -> Vec<Vector> {
    let path = dir().join(format!("{file}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/vectors)", path.display()));
    let items: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON array");
    items
        .into_iter()
        .map(|item| {
            let s = |k: &str| {
                item[k]
                    .as_str()
                    .unwrap_or_else(|| panic!("`{k}` in {file}"))
                    .to_owned()
            };
            let kind = match s("kind").as_str() {
                "op" => "op",
                "reply" => "reply",
                "event" => "event",
                "hello" => "hello",
                "welcome" => "welcome",
                "error" => "error",
                "goodbye" => "goodbye",
                other => panic!("unknown kind `{other}` in {file}"),
            };
            Vector {
                kind,
                service: s("service"),
                name: s("name"),
                description: item["description"].to_string(),
                frame: unhex(&s("frame")),
            }
        })
        .collect()
}

/// Decodes a frame as `T` and re-encodes it: the bytes must not change.
fn round_trip<T: Serialize + DeserializeOwned>(v: &Vector) -> T {
    let len = u32::from_be_bytes(v.frame[..4].try_into().expect("a length")) as usize;
    assert_eq!(len, v.frame.len() - 4, "`{}`: the length prefix", v.name);
    let msg: T = decode(&v.frame[4..]).unwrap_or_else(|e| panic!("`{}`: {e}", v.name));
    assert_eq!(
        frame_of(&msg),
        v.frame,
        "`{}` re-encodes differently",
        v.name
    );
    let described: serde_json::Value =
        serde_json::from_str(&describe(&value_of(&v.frame[4..]))).expect("json");
    let committed: serde_json::Value = serde_json::from_str(&v.description).expect("json");
    assert_eq!(
        described, committed,
        "`{}`: the description is not the frame",
        v.name
    );
    msg
}

fn check_kind<T: Serialize + DeserializeOwned>(
    file: &str,
    names: Vec<&'static str>,
    fields: Vec<(&'static str, &'static [&'static str])>,
    name_of: impl Fn(&T) -> Option<&'static str>,
) {
    let vectors = read(file);
    let mut seen = BTreeSet::new();
    for v in &vectors {
        let msg: T = round_trip(v);
        assert_eq!(
            name_of(&msg),
            names.iter().copied().find(|n| *n == v.name),
            "`{}` in {file}: wrong name",
            v.name
        );
        seen.insert(v.name.clone());
        let (_, wanted) = fields.iter().find(|(n, _)| *n == v.name).expect("known");
        let body = value_of(&v.frame[4..]);
        let inner = body
            .as_map()
            .expect("a map")
            .iter()
            .find(|(k, _)| matches!(k.as_str(), Some("op" | "body" | "event")))
            .expect("the message")
            .1
            .clone();
        let present = keys(&inner);
        for f in *wanted {
            assert!(
                present.contains(*f),
                "the vector of `{}` lacks `{f}`: run scripts/vectors",
                v.name
            );
        }
    }
    for name in names {
        assert!(
            seen.contains(name),
            "`{name}` has no vector in {file}.json: run scripts/vectors"
        );
    }
}

#[test]
fn the_committed_vectors_match_the_definitions() {
    if std::env::var_os("AGORA_UPDATE_VECTORS").is_some() {
        let files = generate();
        std::fs::create_dir_all(dir()).expect("vectors dir");
        for (name, vectors) in &files {
            std::fs::write(dir().join(format!("{name}.json")), render(vectors)).expect("write");
        }
        std::fs::write(dir().join("schema.json"), schema(&files)).expect("write schema");
    }
    check_kind::<Request>(
        "ops",
        Op::names().map(|n| n.1).collect(),
        Op::fields().collect(),
        |r| Some(r.op.name()),
    );
    check_kind::<ServerFrame>(
        "replies",
        Reply::names().map(|n| n.1).collect(),
        Reply::fields().collect(),
        |f| match f {
            ServerFrame::Reply { body, .. } => Some(body.name()),
            _ => None,
        },
    );
    check_kind::<ServerFrame>(
        "events",
        Event::names().map(|n| n.1).collect(),
        Event::fields().collect(),
        |f| match f {
            ServerFrame::Push(p) => Some(p.event.name()),
            _ => None,
        },
    );
    let frames = read("frames");
    let kinds: BTreeSet<&str> = frames.iter().map(|v| v.kind).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["hello", "welcome", "error", "goodbye"])
    );
    for v in &frames {
        if v.kind == "hello" {
            round_trip::<Hello>(v);
        } else {
            let frame: ServerFrame = round_trip(v);
            let tag = match frame {
                ServerFrame::Welcome(_) => "welcome",
                ServerFrame::Error { .. } => "error",
                ServerFrame::Goodbye { .. } => "goodbye",
                _ => "other",
            };
            assert_eq!(tag, v.kind);
        }
    }
    // The schema is the definitions' own, regenerated from the committed
    // vectors.
    let files: BTreeMap<&str, Vec<Vector>> = ["ops", "replies", "events", "frames"]
        .into_iter()
        .map(|f| (f, read(f)))
        .collect();
    let committed = std::fs::read_to_string(dir().join("schema.json")).expect("schema.json");
    assert_eq!(
        committed,
        schema(&files),
        "schema.json is stale: run scripts/vectors"
    );
}
