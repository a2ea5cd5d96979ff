//! [`Patch`]: a field of a merge-style update (user PUT, conversation PUT, message edit) that
//! can be left unchanged, cleared, or set.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One field of a merge-style update body, in one of three states.
///
/// | state | on the wire | effect on TalkJS |
/// |---|---|---|
/// | [`Patch::Unchanged`] | field omitted | keeps the stored value |
/// | [`Patch::Clear`] | `null` | removes the stored value |
/// | [`Patch::Set`] | the value | replaces the stored value |
///
/// A struct field of this type must carry
/// `#[serde(default, skip_serializing_if = "Patch::is_unchanged")]`: serializing an
/// `Unchanged` value directly is an error rather than a silent `null` (which would clear
/// data). Decoding maps a missing field to `Unchanged` (via `default`), `null` to `Clear`
/// and anything else to `Set`.
///
/// ```
/// use talkjs_models::Patch;
///
/// let mut stored = Some("old".to_owned());
/// Patch::Unchanged.apply_to(&mut stored);
/// assert_eq!(stored.as_deref(), Some("old"));
/// Patch::Set("new".to_owned()).apply_to(&mut stored);
/// assert_eq!(stored.as_deref(), Some("new"));
/// Patch::Clear.apply_to(&mut stored);
/// assert_eq!(stored, None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Patch<T> {
    /// Leave the stored value as it is (the field is omitted).
    #[default]
    Unchanged,
    /// Remove the stored value (the field is sent as `null`).
    Clear,
    /// Replace the stored value.
    Set(T),
}

impl<T> Patch<T> {
    /// `true` for [`Patch::Unchanged`]; used as `skip_serializing_if`.
    pub fn is_unchanged(&self) -> bool {
        matches!(self, Self::Unchanged)
    }

    /// `true` for [`Patch::Clear`].
    pub fn is_clear(&self) -> bool {
        matches!(self, Self::Clear)
    }

    /// The new value, if this is [`Patch::Set`].
    pub fn as_set(&self) -> Option<&T> {
        match self {
            Self::Set(v) => Some(v),
            Self::Unchanged | Self::Clear => None,
        }
    }

    /// `None` for unchanged, `Some(None)` for clear, `Some(Some(v))` for set.
    pub fn into_option(self) -> Option<Option<T>> {
        match self {
            Self::Unchanged => None,
            Self::Clear => Some(None),
            Self::Set(v) => Some(Some(v)),
        }
    }

    /// Applies the update to a stored optional value (what a server does with the field).
    pub fn apply_to(self, target: &mut Option<T>) {
        if let Some(new) = self.into_option() {
            *target = new;
        }
    }
}

impl<K: Ord, V> Patch<BTreeMap<K, V>> {
    /// Adds one entry, turning an unchanged or cleared map into a set map that starts empty.
    pub fn insert(&mut self, key: K, value: V) {
        match self {
            Self::Set(map) => {
                map.insert(key, value);
            }
            Self::Unchanged | Self::Clear => *self = Self::Set(BTreeMap::from([(key, value)])),
        }
    }

    /// Applies the update to a stored map that is never absent, only empty (such as a
    /// user's `custom`): set replaces it, clear empties it, unchanged leaves it.
    ///
    /// ```
    /// use talkjs_models::{Custom, Patch};
    ///
    /// let mut stored = Custom::from([("tier".to_owned(), "gold".to_owned())]);
    /// Patch::<Custom>::Unchanged.apply_to_map(&mut stored);
    /// assert_eq!(stored.len(), 1);
    /// Patch::<Custom>::Clear.apply_to_map(&mut stored);
    /// assert!(stored.is_empty());
    /// ```
    pub fn apply_to_map(self, target: &mut BTreeMap<K, V>) {
        match self {
            Self::Set(map) => *target = map,
            Self::Clear => target.clear(),
            Self::Unchanged => {}
        }
    }
}

impl<T> From<T> for Patch<T> {
    fn from(value: T) -> Self {
        Self::Set(value)
    }
}

impl<T: Serialize> Serialize for Patch<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Set(v) => v.serialize(serializer),
            Self::Clear => serializer.serialize_none(),
            Self::Unchanged => Err(serde::ser::Error::custom(
                "Patch::Unchanged must be skipped (skip_serializing_if = \"Patch::is_unchanged\")",
            )),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(deserializer)?.map_or(Self::Clear, Self::Set))
    }
}
