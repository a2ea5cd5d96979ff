//! Conversation filters: [`ConversationFilter`].

use std::collections::BTreeMap;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::{Access, Timestamp};

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

/// A condition on a time field (`createdAt`, `lastMessageTs`), in Unix milliseconds:
/// `[op, operand]` on the wire, with the operators of TalkJS's conversation filters.
///
/// ```
/// use talkjs_models::{ConversationFilter, TimePredicate, Timestamp};
///
/// let since = Timestamp::from_millis(1_672_531_200_000);
/// let filter = ConversationFilter::new().last_message_ts(TimePredicate::After(since));
/// assert_eq!(filter.to_query_value().unwrap(), r#"{"lastMessageTs":[">",1672531200000]}"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimePredicate {
    /// `[">", t]`
    After(Timestamp),
    /// `["<", t]`
    Before(Timestamp),
    /// `[">=", t]`
    AtOrAfter(Timestamp),
    /// `["<=", t]`
    AtOrBefore(Timestamp),
    /// `["between", [from, to]]`
    Between(Timestamp, Timestamp),
    /// `["!between", [from, to]]`
    NotBetween(Timestamp, Timestamp),
}

impl Serialize for TimePredicate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Self::After(t) => (">", t).serialize(s),
            Self::Before(t) => ("<", t).serialize(s),
            Self::AtOrAfter(t) => (">=", t).serialize(s),
            Self::AtOrBefore(t) => ("<=", t).serialize(s),
            Self::Between(a, b) => ("between", [a, b]).serialize(s),
            Self::NotBetween(a, b) => ("!between", [a, b]).serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for TimePredicate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (op, operand): (String, serde_json::Value) = Deserialize::deserialize(d)?;
        let one = |v: serde_json::Value| Timestamp::deserialize(v).map_err(de::Error::custom);
        let two = |v: serde_json::Value| {
            <[Timestamp; 2]>::deserialize(v)
                .map(|[a, b]| (a, b))
                .map_err(de::Error::custom)
        };
        match op.as_str() {
            ">" => one(operand).map(Self::After),
            "<" => one(operand).map(Self::Before),
            ">=" => one(operand).map(Self::AtOrAfter),
            "<=" => one(operand).map(Self::AtOrBefore),
            "between" => two(operand).map(|(a, b)| Self::Between(a, b)),
            "!between" => two(operand).map(|(a, b)| Self::NotBetween(a, b)),
            other => Err(de::Error::invalid_value(
                de::Unexpected::Str(other),
                &"one of >, <, >=, <=, between, !between",
            )),
        }
    }
}

/// [`ConversationFilter`]: the filter grammar TalkJS uses for conversation lists.
///
/// Sent as URL-encoded JSON in the `filter` query parameter of both conversation lists
/// (`GET /conversations` and `GET /users/{userId}/conversations`). TalkJS's Users page says
/// the user's list takes a filter on custom and access fields; the guide "Filter a
/// conversation list" (talkjs.com/docs/Guides/JavaScript/Classic/Filter_Conversation_List)
/// names `hasUnreadMessages`, `createdAt`, `lastMessageTs`, `subject` and `custom`, and says
/// the REST API takes the same filters. The grammar is the one of the TalkJS front-end SDKs.
///
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
    /// A condition on the conversation's subject (`==`, `!=`, `oneOf`, `!oneOf`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<FieldPredicate<String>>,
    /// A condition on when the conversation was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<TimePredicate>,
    /// A condition on when the conversation's last message was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_message_ts: Option<TimePredicate>,
}

impl ConversationFilter {
    /// A filter that selects everything: `{}`.
    pub fn new() -> Self {
        Self::default()
    }

    /// `true` if no condition is set.
    pub fn is_empty(&self) -> bool {
        self.custom.is_empty()
            && self.access.is_none()
            && self.has_unread_messages.is_none()
            && self.subject.is_none()
            && self.created_at.is_none()
            && self.last_message_ts.is_none()
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

    /// Sets the condition on the subject.
    #[must_use]
    pub fn subject(mut self, predicate: FieldPredicate<String>) -> Self {
        self.subject = Some(predicate);
        self
    }

    /// The subject equals `subject`.
    #[must_use]
    pub fn subject_eq(self, subject: impl Into<String>) -> Self {
        self.subject(FieldPredicate::Eq(subject.into()))
    }

    /// Sets the condition on the creation time.
    #[must_use]
    pub fn created_at(mut self, predicate: TimePredicate) -> Self {
        self.created_at = Some(predicate);
        self
    }

    /// Sets the condition on the time of the last message.
    #[must_use]
    pub fn last_message_ts(mut self, predicate: TimePredicate) -> Self {
        self.last_message_ts = Some(predicate);
        self
    }
}
