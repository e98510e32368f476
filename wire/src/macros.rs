//! The two macros that shape every message enum.
//!
//! - [`messages!`](crate::messages) defines one service's operations,
//!   replies or events: an internally tagged serde enum whose variants name
//!   their wire `type` (`Join = "chat_join"`), plus what the rest of agora
//!   needs to know about it without a hand-kept list — every wire name
//!   ([`NAMES`](crate::ChatOp::NAMES)), every variant's field names
//!   (`FIELDS`), a variant's name and position.
//! - `services!` (private to this crate) defines [`crate::Op`],
//!   [`crate::Reply`] and [`crate::Event`] as one variant per service,
//!   wrapping the service's own enum, and the [`crate::Service`] list.
//!
//! The wire format is flat: a service's enum serializes exactly as its
//! variant (`{"type": "chat_join", "room": "ops"}`); the wrapper adds
//! nothing. Decoding reads the `type` tag once and hands the message to the
//! one service whose enum owns that name, so an unknown name is refused
//! with a message that names it, and a known one gets its own enum's exact
//! errors (`missing field "room"`).

use serde::de::value::StrDeserializer;
use serde::de::{DeserializeSeed, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// Defines one service's message enum (its operations, replies or events).
///
/// Write the enum as usual, but give each variant its wire name after an
/// `=`; derives and docs are kept. The macro adds `#[serde(tag = "type")]`
/// and a `rename` per variant, and an inherent `impl` with:
///
/// - `NAMES`: every wire name, in declaration order;
/// - `FIELDS`: each variant's field names, in the same order as `NAMES`
///   (used by tests that exercise every field of every message);
/// - `name(&self)`: this variant's wire name;
/// - `index(&self)`: this variant's position in `NAMES`;
/// - `owns(tag)`: whether `tag` is one of `NAMES`.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// agora_wire::messages! {
///     /// A demo service's operations.
///     #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
///     pub enum DemoOp {
///         /// Say hello.
///         Hello { name: String } = "demo_hello",
///         /// Do nothing.
///         Nothing = "demo_nothing",
///     }
/// }
/// assert_eq!(DemoOp::NAMES, ["demo_hello", "demo_nothing"]);
/// assert_eq!(DemoOp::Nothing.name(), "demo_nothing");
/// assert_eq!(DemoOp::Nothing.index(), 1);
/// assert!(DemoOp::owns("demo_hello"));
/// assert_eq!(DemoOp::FIELDS[0], ["name"]);
/// assert_eq!(DemoOp::FIELD_TYPES[0], ["String"]);
/// ```
#[macro_export]
macro_rules! messages {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $(
                $(#[$vmeta:meta])*
                $variant:ident $({
                    $( $(#[$fmeta:meta])* $field:ident : $fty:ty ),* $(,)?
                })? = $tag:literal
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[serde(tag = "type")]
        $vis enum $name {
            $(
                $(#[$vmeta])*
                #[serde(rename = $tag)]
                $variant $({ $( $(#[$fmeta])* $field : $fty ),* })?,
            )*
        }

        impl $name {
            /// Every variant's wire name (its `type` tag), in declaration
            /// order.
            pub const NAMES: &'static [&'static str] = &[$($tag),*];

            /// Each variant's field names, in the order of `NAMES`.
            pub const FIELDS: &'static [&'static [&'static str]] =
                &[$( &[$($(stringify!($field)),*)?] ),*];

            /// Each variant's field types as written in Rust (e.g.
            /// `"Option<String>"`), parallel to `FIELDS`; the test vectors'
            /// `schema.json` carries them to other languages' clients.
            pub const FIELD_TYPES: &'static [&'static [&'static str]] =
                &[$( &[$($(stringify!($fty)),*)?] ),*];

            /// This message's wire name (its `type` tag).
            pub fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $tag,)*
                }
            }

            /// This variant's position in `NAMES`.
            pub fn index(&self) -> usize {
                #[allow(dead_code)]
                enum Position {
                    $($variant,)*
                }
                match self {
                    $(Self::$variant { .. } => Position::$variant as usize,)*
                }
            }

            /// Whether `tag` is the wire name of one of this enum's variants.
            pub fn owns(tag: &str) -> bool {
                #[allow(unreachable_patterns)]
                match tag {
                    $($tag => true,)*
                    _ => false,
                }
            }
        }
    };
}

/// Defines [`crate::Service`] and the three wrapper enums from one list of
/// services: `Name => module::{NameOp, NameReply, NameEvent}`.
macro_rules! services {
    ($( $(#[$smeta:meta])* $svc:ident = $label:literal => ($op:ty, $reply:ty, $event:ty) ),* $(,)?) => {
        /// A service of the daemon: who owns a message.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Service {
            $( $(#[$smeta])* $svc, )*
        }

        impl Service {
            /// Every service, in the order of the wire enums.
            pub const ALL: &'static [Service] = &[$(Service::$svc),*];

            /// The service's name as used in metrics and documentation,
            /// e.g. `"chat"`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Service::$svc => $label,)*
                }
            }
        }

        $crate::macros::wrapper! {
            /// The operations a client can request: one variant per service,
            /// each wrapping that service's own operations.
            Op, "operation", [$($svc($op)),*]
        }
        $crate::macros::wrapper! {
            /// A successful answer to a request, from the service that ran it.
            Reply, "reply", [$($svc($reply)),*]
        }
        $crate::macros::wrapper! {
            /// Events the server pushes, from the service that publishes them.
            Event, "event", [$($svc($event)),*]
        }
    };
}

/// One wrapper enum: see [`services!`].
macro_rules! wrapper {
    ($(#[$meta:meta])* $name:ident, $what:literal, [$($svc:ident($inner:ty)),*]) => {
        $(#[$meta])*
        ///
        /// On the wire a message is its service's variant, unchanged: the
        /// `type` tag alone says which service owns it.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = concat!("A message of the `", stringify!($svc), "` service.")]
                $svc($inner),
            )*
        }

        impl $name {
            /// How many distinct messages of this kind exist, across services.
            pub const COUNT: usize = 0 $(+ <$inner>::NAMES.len())*;

            /// The wire name (the `type` tag), e.g. `"chat_join"`.
            pub fn name(&self) -> &'static str {
                match self {
                    $($name::$svc(inner) => inner.name(),)*
                }
            }

            /// The service that owns this message.
            pub fn service(&self) -> Service {
                match self {
                    $($name::$svc(_) => Service::$svc,)*
                }
            }

            /// This message's position among [`Self::names`]: a dense index
            /// (below [`Self::COUNT`]) for per-message counters.
            pub fn index(&self) -> usize {
                let mut offset = 0;
                $(
                    if let $name::$svc(inner) = self {
                        return offset + inner.index();
                    }
                    offset += <$inner>::NAMES.len();
                )*
                offset
            }

            /// Every wire name with its service, in [`Self::index`] order.
            pub fn names() -> impl Iterator<Item = (Service, &'static str)> {
                [$((Service::$svc, <$inner>::NAMES)),*]
                    .into_iter()
                    .flat_map(|(service, names)| names.iter().map(move |n| (service, *n)))
            }

            /// Every variant's field names, in [`Self::index`] order.
            pub fn fields() -> impl Iterator<Item = (&'static str, &'static [&'static str])> {
                [$((<$inner>::NAMES, <$inner>::FIELDS)),*]
                    .into_iter()
                    .flat_map(|(names, fields)| names.iter().copied().zip(fields.iter().copied()))
            }

            /// Every variant's field types (as written in Rust), in
            /// [`Self::index`] order, parallel to [`Self::fields`].
            pub fn field_types() -> impl Iterator<Item = &'static [&'static str]> {
                [$(<$inner>::FIELD_TYPES),*].into_iter().flat_map(|types| types.iter().copied())
            }

            /// The service that owns the wire name `tag`, if any.
            pub fn owner(tag: &str) -> Option<Service> {
                $(
                    if <$inner>::owns(tag) {
                        return Some(Service::$svc);
                    }
                )*
                None
            }
        }

        $(
            impl From<$inner> for $name {
                fn from(inner: $inner) -> Self {
                    $name::$svc(inner)
                }
            }
        )*

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self {
                    $($name::$svc(inner) => inner.serialize(s),)*
                }
            }
        }

        impl $crate::macros::Tagged for $name {
            const WHAT: &'static str = $what;

            fn lookup(tag: &str) -> Option<(Service, &'static str)> {
                $(
                    if let Some(name) = <$inner>::NAMES.iter().find(|n| **n == tag) {
                        return Some((Service::$svc, name));
                    }
                )*
                None
            }

            fn decode<'de, D: serde::Deserializer<'de>>(
                service: Service,
                d: D,
            ) -> Result<Self, D::Error> {
                use serde::Deserialize as _;
                match service {
                    $(Service::$svc => <$inner>::deserialize(d).map($name::$svc),)*
                }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::macros::deserialize_tagged(d)
            }
        }
    };
}

pub(crate) use {services, wrapper};

/// A wrapper enum ([`crate::Op`], [`crate::Reply`], [`crate::Event`]) as
/// [`deserialize_tagged`] decodes it.
pub(crate) trait Tagged: Sized {
    /// What a message of this kind is called in errors ("operation").
    const WHAT: &'static str;
    /// The service that owns the wire name `tag`, and the name itself as
    /// a `'static` string (so it can be replayed without allocating).
    fn lookup(tag: &str) -> Option<(crate::Service, &'static str)>;
    /// Decodes the message of `service` from `d`, a map with a `type` key.
    fn decode<'de, D: Deserializer<'de>>(service: crate::Service, d: D) -> Result<Self, D::Error>;
}

/// Decodes a wrapper enum: reads the `type` tag, then lets the owning
/// service's enum decode the message.
///
/// Fast path: serde writes the tag first, so when the first key is `type`
/// the service's enum reads the rest of the map straight from the input,
/// with the tag replayed in front ([`Replay`]) — no more buffering than a
/// plain internally tagged enum. A map whose tag comes later (another
/// language's encoder) is buffered as an `rmpv::Value` first.
pub(crate) fn deserialize_tagged<'de, T: Tagged, D: Deserializer<'de>>(
    d: D,
) -> Result<T, D::Error> {
    d.deserialize_map(TaggedVisitor(std::marker::PhantomData))
}

struct TaggedVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Tagged> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a map with a \"type\" key")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let unknown = |tag: &str| A::Error::custom(format_args!("unknown {} `{}`", T::WHAT, tag));
        let first = match map.next_key::<Key>()? {
            None => return Err(A::Error::missing_field("type")),
            Some(Key::Type) => {
                let (service, tag) = map
                    .next_value_seed(TagSeed::<T>(std::marker::PhantomData))?
                    .map_err(|tag| unknown(&tag))?;
                return T::decode(service, Replay::Tag(tag, map));
            }
            Some(Key::Other(name)) => name,
        };
        let mut entries = vec![(rmpv::Value::from(first), map.next_value::<rmpv::Value>()?)];
        while let Some(entry) = map.next_entry::<rmpv::Value, rmpv::Value>()? {
            entries.push(entry);
        }
        let value = rmpv::Value::Map(entries);
        let service = {
            let tag = tag_of(&value).map_err(A::Error::custom)?;
            T::lookup(tag).ok_or_else(|| unknown(tag))?.0
        };
        T::decode(service, value).map_err(|err| A::Error::custom(plain(err)))
    }
}

/// A map key: `type`, or another name.
enum Key {
    Type,
    Other(String),
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string map key")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(if v == "type" {
                    Key::Type
                } else {
                    Key::Other(v.to_owned())
                })
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key, E> {
                Ok(if v == "type" {
                    Key::Type
                } else {
                    Key::Other(v)
                })
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Reads the tag's value and looks it up at once: the owning service and
/// the `'static` name, or the unknown name (`Err`) for the error message.
struct TagSeed<T>(std::marker::PhantomData<T>);

type Looked = Result<(crate::Service, &'static str), String>;

impl<'de, T: Tagged> DeserializeSeed<'de> for TagSeed<T> {
    type Value = Looked;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Looked, D::Error> {
        d.deserialize_str(self)
    }
}

impl<T: Tagged> Visitor<'_> for TagSeed<T> {
    type Value = Looked;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the message's name, a string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Looked, E> {
        Ok(T::lookup(v).ok_or_else(|| v.to_owned()))
    }
}

/// A map whose first entry, `type: TAG`, was already read: replays it,
/// then hands out the rest of the original map.
enum Replay<A> {
    /// The `type` key is next.
    Tag(&'static str, A),
    /// The tag's value is next.
    Value(&'static str, A),
    /// The rest of the map.
    Rest(A),
    /// Taken (only between two calls).
    Gone,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Replay<A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Replay<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match std::mem::replace(self, Replay::Gone) {
            Replay::Tag(tag, rest) => {
                *self = Replay::Value(tag, rest);
                seed.deserialize(StrDeserializer::<A::Error>::new("type"))
                    .map(Some)
            }
            Replay::Rest(mut rest) => {
                let key = rest.next_key_seed(seed);
                *self = Replay::Rest(rest);
                key
            }
            other => {
                *self = other;
                Err(A::Error::custom("a map key was asked for out of turn"))
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match std::mem::replace(self, Replay::Gone) {
            Replay::Value(tag, rest) => {
                *self = Replay::Rest(rest);
                seed.deserialize(StrDeserializer::<A::Error>::new(tag))
            }
            Replay::Rest(mut rest) => {
                let value = rest.next_value_seed(seed);
                *self = Replay::Rest(rest);
                value
            }
            other => {
                *self = other;
                Err(A::Error::custom("a map value was asked for out of turn"))
            }
        }
    }

    fn size_hint(&self) -> Option<usize> {
        match self {
            Replay::Tag(_, rest) => rest.size_hint().map(|n| n + 1),
            Replay::Value(_, rest) | Replay::Rest(rest) => rest.size_hint(),
            Replay::Gone => Some(0),
        }
    }
}

/// The `type` tag of a buffered message.
pub(crate) fn tag_of(value: &rmpv::Value) -> Result<&str, &'static str> {
    let map = value
        .as_map()
        .ok_or("invalid type: expected a map with a \"type\" key")?;
    map.iter()
        .find(|(k, _)| k.as_str() == Some("type"))
        .ok_or("missing field `type`")?
        .1
        .as_str()
        .ok_or("invalid type: the \"type\" key must be a string")
}

/// An error from decoding a buffered message, in serde's own words
/// (without rmpv's "error while decoding value:" prefix).
pub(crate) fn plain(err: rmpv::ext::Error) -> String {
    let rmpv::ext::Error::Syntax(text) = err;
    text
}

/// For `#[serde(default, deserialize_with = "…")]` fields that are not an
/// `Option`: `nil` means the default, like an absent key (PROTOCOL.md §2:
/// optional fields accept nil).
pub(crate) fn nil_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// For `skip_serializing_if` on defaulted `bool` fields: `false` is left
/// out, so peers that predate the field see no change.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
