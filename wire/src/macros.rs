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

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use serde::de::Error as _;
                let value = rmpv::Value::deserialize(d)?;
                let owner = {
                    let tag = $crate::macros::tag_of(&value).map_err(D::Error::custom)?;
                    $name::owner(tag)
                        .ok_or_else(|| D::Error::custom(format_args!("unknown {} `{}`", $what, tag)))?
                };
                match owner {
                    $(
                        Service::$svc => rmpv::ext::from_value::<$inner>(value)
                            .map($name::$svc)
                            .map_err(|err| D::Error::custom($crate::macros::plain(err))),
                    )*
                }
            }
        }
    };
}

pub(crate) use {services, wrapper};

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
