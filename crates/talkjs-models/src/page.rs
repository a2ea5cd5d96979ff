//! Response envelopes: [`Page`] for lists and [`Empty`] for calls that return `{}`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A page of a list: `{"data": [ … ]}`. Other fields next to `data` are ignored.
///
/// A bare array `[ … ]` decodes too: TalkJS's official transfer example (talkjs-examples,
/// `rest-api/transfer-data/transferData.js`) takes `data` when an answer has it and the
/// answer itself otherwise, and lists whose shape no reference page shows (the reactions
/// listing) may answer either way. A page always encodes as `{"data": [ … ]}`.
///
/// There is no "has more" flag: a page shorter than the requested `limit` is the last one;
/// otherwise pass the id of the last item as `startingAfter` to get the next page.
///
/// ```
/// use talkjs_models::{Page, ReactionUser};
///
/// let enveloped: Page<ReactionUser> = serde_json::from_str(r#"{"data":[{"userId":"a"}]}"#).unwrap();
/// let bare: Page<ReactionUser> = serde_json::from_str(r#"[{"userId":"a"}]"#).unwrap();
/// assert_eq!(enveloped, bare);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PageVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for PageVisitor<T> {
            type Value = Page<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a page: an object with a `data` array, or an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Page<T>, A::Error> {
                let data = Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Page { data })
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page<T>, A::Error> {
                let mut data = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "data" {
                        if data.is_some() {
                            return Err(de::Error::duplicate_field("data"));
                        }
                        data = Some(map.next_value::<Vec<T>>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                data.map(|data| Page { data })
                    .ok_or_else(|| de::Error::missing_field("data"))
            }
        }

        d.deserialize_any(PageVisitor(PhantomData))
    }
}

impl<T> Page<T> {
    /// A page holding `data` (for servers and tests).
    pub fn new(data: Vec<T>) -> Self {
        Self { data }
    }

    /// Unwraps the items.
    pub fn into_data(self) -> Vec<T> {
        self.data
    }
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self { data: Vec::new() }
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.data.into_iter()
    }
}

/// The response of a call with nothing to return. TalkJS sends `{}`; any JSON value
/// (including an object with unexpected fields) decodes, since success is decided by the
/// HTTP status alone. Serializes as `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        s.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Self)
    }
}
