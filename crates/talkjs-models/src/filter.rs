//! [`ConversationFilter`]: the filter grammar TalkJS uses for conversation lists.
//!
//! Sent as URL-encoded JSON in the `filter` query parameter (REST support for it is
//! unconfirmed; the grammar is the one of the TalkJS front-end SDKs).

use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::Access;

/// A condition on one field: `[op, operand]` on the wire, or the bare strings `"exists"` /
/// `"!exists"`.
///
/// `Exists` and `NotExists` apply to custom fields only.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldPredicate<T> {
    /// `["==", value]`
    Eq(T),
    /// `["!=", value]`
    Ne(T),
    /// `["oneOf", [values…]]`
    OneOf(Vec<T>),
    /// `["!oneOf", [values…]]`
    NotOneOf(Vec<T>),
    /// `"exists"`: the custom field is set.
    Exists,
    /// `"!exists"`: the custom field is not set.
    NotExists,
}

impl<T: Serialize> Serialize for FieldPredicate<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Eq(v) => ("==", v).serialize(s),
            Self::Ne(v) => ("!=", v).serialize(s),
            Self::OneOf(vs) => ("oneOf", vs).serialize(s),
            Self::NotOneOf(vs) => ("!oneOf", vs).serialize(s),
            Self::Exists => s.serialize_str("exists"),
            Self::NotExists => s.serialize_str("!exists"),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for FieldPredicate<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            Pair(String, serde_json::Value),
        }

        fn operand<T: DeserializeOwned, E: de::Error>(v: serde_json::Value) -> Result<T, E> {
            T::deserialize(v).map_err(E::custom)
        }

        match Raw::deserialize(d)? {
            Raw::Word(w) if w == "exists" => Ok(Self::Exists),
            Raw::Word(w) if w == "!exists" => Ok(Self::NotExists),
            Raw::Pair(op, v) if op == "==" => operand(v).map(Self::Eq),
            Raw::Pair(op, v) if op == "!=" => operand(v).map(Self::Ne),
            Raw::Pair(op, v) if op == "oneOf" => operand(v).map(Self::OneOf),
            Raw::Pair(op, v) if op == "!oneOf" => operand(v).map(Self::NotOneOf),
            Raw::Word(op) | Raw::Pair(op, _) => Err(de::Error::invalid_value(
                de::Unexpected::Str(&op),
                &"one of ==, !=, oneOf, !oneOf, exists, !exists",
            )),
        }
    }
}

/// Selects conversations, e.g.
/// `{"custom":{"category":["==","shoes"]},"access":["!=","None"],"hasUnreadMessages":true}`.
///
/// ```
/// use talkjs_models::{Access, ConversationFilter};
///
/// let filter = ConversationFilter::new()
///     .custom_eq("category", "shoes")
///     .access_ne(Access::None);
/// assert_eq!(
///     filter.to_query_value().unwrap(),
///     r#"{"custom":{"category":["==","shoes"]},"access":["!=","None"]}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
#[non_exhaustive]
pub struct ConversationFilter {
    /// Conditions on custom fields, by key (all must hold).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, FieldPredicate<String>>,
    /// A condition on the access of the user whose conversations are listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<FieldPredicate<Access>>,
    /// Only conversations with (`true`) or without (`false`) unread messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_unread_messages: Option<bool>,
}

impl ConversationFilter {
    /// A filter that selects everything: `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// `true` if no condition is set.
    pub fn is_empty(&self) -> bool {
        self.custom.is_empty() && self.access.is_none() && self.has_unread_messages.is_none()
    }

    /// The JSON text to put (URL-encoded) in the `filter` query parameter.
    pub fn to_query_value(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Sets the condition on custom field `key` (replacing an earlier one for that key).
    #[must_use]
    pub fn custom(mut self, key: impl Into<String>, predicate: FieldPredicate<String>) -> Self {
        self.custom.insert(key.into(), predicate);
        self
    }

    /// Custom field `key` equals `value`.
    #[must_use]
    pub fn custom_eq(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom(key, FieldPredicate::Eq(value.into()))
    }

    /// Custom field `key` does not equal `value`.
    #[must_use]
    pub fn custom_ne(self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.custom(key, FieldPredicate::Ne(value.into()))
    }

    /// Custom field `key` is one of `values`.
    #[must_use]
    pub fn custom_one_of<I: IntoIterator<Item = S>, S: Into<String>>(
        self,
        key: impl Into<String>,
        values: I,
    ) -> Self {
        self.custom(key, FieldPredicate::OneOf(crate::util::strings(values)))
    }

    /// Custom field `key` is none of `values`.
    #[must_use]
    pub fn custom_not_one_of<I: IntoIterator<Item = S>, S: Into<String>>(
        self,
        key: impl Into<String>,
        values: I,
    ) -> Self {
        self.custom(key, FieldPredicate::NotOneOf(crate::util::strings(values)))
    }

    /// Custom field `key` is set.
    #[must_use]
    pub fn custom_exists(self, key: impl Into<String>) -> Self {
        self.custom(key, FieldPredicate::Exists)
    }

    /// Custom field `key` is not set.
    #[must_use]
    pub fn custom_not_exists(self, key: impl Into<String>) -> Self {
        self.custom(key, FieldPredicate::NotExists)
    }

    /// Sets the access condition.
    #[must_use]
    pub fn access(mut self, predicate: FieldPredicate<Access>) -> Self {
        self.access = Some(predicate);
        self
    }

    /// The user's access equals `access`.
    #[must_use]
    pub fn access_eq(self, access: Access) -> Self {
        self.access(FieldPredicate::Eq(access))
    }

    /// The user's access is not `access` (e.g. `access_ne(Access::None)` hides conversations
    /// the user was soft-removed from).
    #[must_use]
    pub fn access_ne(self, access: Access) -> Self {
        self.access(FieldPredicate::Ne(access))
    }

    /// The user's access is one of `levels`.
    #[must_use]
    pub fn access_one_of(self, levels: impl IntoIterator<Item = Access>) -> Self {
        self.access(FieldPredicate::OneOf(levels.into_iter().collect()))
    }

    /// The user's access is none of `levels`.
    #[must_use]
    pub fn access_not_one_of(self, levels: impl IntoIterator<Item = Access>) -> Self {
        self.access(FieldPredicate::NotOneOf(levels.into_iter().collect()))
    }

    /// Only conversations with (`true`) or without (`false`) unread messages.
    #[must_use]
    pub fn has_unread_messages(mut self, unread: bool) -> Self {
        self.has_unread_messages = Some(unread);
        self
    }
}
