//! Response envelopes: [`Page`] for lists and [`Empty`] for calls that return `{}`.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A page of a list: `{"data": [ … ]}`. Other fields next to `data` are ignored.
///
/// There is no "has more" flag: a page shorter than the requested `limit` is the last one;
/// otherwise pass the id of the last item as `startingAfter` to get the next page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub data: Vec<T>,
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
