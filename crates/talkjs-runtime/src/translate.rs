//! From `talkjs export` lines to writes: the one translator `talkjs import` and
//! `talkjs migrate` share.
//!
//! A line of an export file is a user, a conversation or a message, told apart by one field
//! the export always writes: a message has `conversationId`, a conversation
//! `participants`, a user `name` ([`read_line`]). A [`Translator`] turns each record into
//! the writes that recreate it in another app:
//!
//! - a **user** into an upsert of every field the export has and the upsert takes
//!   ([`UserWrite`]);
//! - a **conversation** into an upsert that adds every participant with the default
//!   settings, plus a participant write for each one whose settings differ
//!   ([`ConversationWrite`], [`Translator::participant`]): a `PUT` for `Read` access or a
//!   notify setting, a `PATCH` for access `None` (which only the PATCH takes) and, with
//!   [`Translator::read_until`], for a `readUntil`; the defaults need nothing;
//! - a **message** into an import of a user message, or the reason it cannot move
//!   ([`MessageWrite`], [`Skip`]), with what the import leaves out ([`LeftOut`]). With
//!   [`Translator::attachments`] a message's file is carried (the writer uploads it and
//!   imports the message with the upload's token); with [`Translator::system_messages`] a
//!   system message becomes a message to send.
//!
//! What needs more than one record (an unknown sender, a message whose conversation is not
//! in the input, duplicates) is the caller's to check: `talkjs import` streams and leaves it
//! to TalkJS's answers, `talkjs migrate` plans the whole input and reports it.
//!
//! ```
//! use talkjs_runtime::translate::{MessageAction, Record, Translator, Write, read_line};
//!
//! let translator = Translator::new();
//! let line = r#"{"id": "m1", "type": "UserMessage", "conversationId": "chat",
//!     "senderId": "alice", "text": "hi", "readBy": ["bob"], "createdAt": 1600000000000}"#;
//! let Write::Message(write) = translator.translate(read_line(7, line).unwrap()) else {
//!     panic!("not a message");
//! };
//! assert_eq!(write.conversation, "chat");
//! let MessageAction::Import { message, .. } = write.action else {
//!     panic!("not an import");
//! };
//! assert_eq!(
//!     serde_json::to_string(&message).unwrap(),
//!     r#"{"type":"UserMessage","sender":"alice","text":"hi","timestamp":1600000000000,"readBy":["bob"]}"#
//! );
//!
//! let error = read_line(8, r#"{"id": "x"}"#).unwrap_err();
//! assert!(error.to_string().starts_with("line 8: neither a user, a conversation nor a message"));
//! # let _: Option<Record> = None;
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use talkjs_models::{
    Access, Conversation, ConversationParticipant, ConversationUpsert, ImportMessage, Message,
    MessageType, NewSystemMessage, Notify, ParticipantOverwrite, ParticipantPatch, User,
    UserUpsert,
};

/// What a line that is none of the three kinds is told.
const NOT_A_RECORD: &str = "neither a user, a conversation nor a message as `talkjs export` \
    writes them (a message has \"conversationId\", a conversation \"participants\", a user \"name\")";

/// One line of a `talkjs export` file, decoded ([`read_line`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Record {
    /// A user (the line has `name`).
    User(User),
    /// A conversation (the line has `participants`).
    Conversation(Conversation),
    /// A message (the line has `conversationId`).
    Message(Message),
}

/// Why a line is not a record, with its number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LineError {
    /// The line's number (1-based).
    pub line: u64,
    /// Why it is not a record, e.g. `not valid JSON: …`.
    pub reason: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for LineError {}

/// Decodes line number `line` of an export file (its text, or its bytes as read): a message
/// has `conversationId`, a conversation `participants`, a user `name` (the export always
/// writes these fields). Blank lines are the caller's to pass over: one is not a record.
pub fn read_line(line: u64, text: impl AsRef<[u8]>) -> Result<Record, LineError> {
    let error = |reason: String| LineError { line, reason };
    let text =
        std::str::from_utf8(text.as_ref()).map_err(|e| error(format!("not UTF-8 text: {e}")))?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| error(format!("not valid JSON: {e}")))?;
    let Value::Object(object) = &value else {
        return Err(error(format!("not a JSON object: {NOT_A_RECORD}")));
    };
    let record = if object.contains_key("conversationId") {
        serde_json::from_value(value)
            .map(Record::Message)
            .map_err(|e| format!("not a message as `talkjs export messages` writes it: {e}"))
    } else if object.contains_key("participants") {
        serde_json::from_value(value)
            .map(Record::Conversation)
            .map_err(|e| {
                format!("not a conversation as `talkjs export conversations` writes it: {e}")
            })
    } else if object.contains_key("name") {
        serde_json::from_value(value)
            .map(Record::User)
            .map_err(|e| format!("not a user as `talkjs export users` writes it: {e}"))
    } else {
        Err(NOT_A_RECORD.to_owned())
    };
    record.map_err(error)
}

/// The writes a record becomes ([`Translator::translate`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Write {
    /// A user's upsert.
    User(UserWrite),
    /// A conversation's upsert and its participants' settings.
    Conversation(ConversationWrite),
    /// A message's import or send, or why it is skipped.
    Message(MessageWrite),
}

/// A user: `PUT /users/{id}` with every field the export has and the upsert takes (fields
/// missing or `null` are left as they are).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct UserWrite {
    /// The user's id.
    pub id: String,
    /// The upsert body.
    pub upsert: UserUpsert,
}

/// A conversation: `PUT /conversations/{id}` with its fields and every participant (added
/// with the default settings), then a write for each participant whose settings differ.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ConversationWrite {
    /// The conversation's id.
    pub id: String,
    /// The upsert body, naming every participant.
    pub upsert: ConversationUpsert,
    /// The participants whose settings need a request of their own once the conversation
    /// exists, by user id.
    pub participants: Vec<ParticipantWrite>,
}

/// One participant's settings to set after the conversation upsert added them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParticipantWrite {
    /// The user.
    pub user: String,
    /// The request that sets them.
    pub setting: ParticipantSetting,
}

/// The request that sets a participant's settings: a `PUT` (overwrite) or a `PATCH`.
///
/// Serializes as `{"method": "PUT" | "PATCH", "settings": BODY}` (the form a journal can
/// keep).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", content = "settings")]
pub enum ParticipantSetting {
    /// `PUT /conversations/{id}/participants/{user}`.
    #[serde(rename = "PUT")]
    Overwrite(ParticipantOverwrite),
    /// `PATCH /conversations/{id}/participants/{user}`.
    #[serde(rename = "PATCH")]
    Patch(ParticipantPatch),
}

/// A message: what becomes of it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageWrite {
    /// The message's id in the export.
    pub id: String,
    /// Its conversation.
    pub conversation: String,
    /// What to do with it.
    pub action: MessageAction,
}

/// What becomes of a message.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MessageAction {
    /// A user message to import, with its sender, text, time, readers and custom data.
    Import {
        /// The import body (without an attachment token: see `attachment`).
        message: ImportMessage,
        /// With [`Translator::attachments`]: the URL of the message's file, to upload and
        /// import the message with the upload's token.
        attachment: Option<String>,
        /// What the import leaves out.
        left_out: LeftOut,
    },
    /// With [`Translator::system_messages`]: a system message to send (the import takes
    /// user messages only), with its text and custom data.
    System {
        /// The send body (without an idempotency key or attachment token).
        message: NewSystemMessage,
        /// With [`Translator::attachments`]: the URL of the message's file, to upload and
        /// send the message with the upload's token.
        attachment: Option<String>,
        /// What the send leaves out.
        left_out: LeftOut,
    },
    /// It cannot move.
    Skip(Skip),
}

/// What a message that moves leaves behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeftOut {
    /// Its attached file (without [`Translator::attachments`]).
    pub attachment: bool,
    /// Its shared location (neither the import nor a system message takes one).
    pub location: bool,
}

impl LeftOut {
    /// Nothing is left out.
    pub fn is_empty(self) -> bool {
        !self.attachment && !self.location
    }
}

impl fmt::Display for LeftOut {
    /// `without its attachment`, `without its location`, `without its attachment and
    /// location`; empty when nothing is left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.attachment, self.location) {
            (true, true) => f.write_str("without its attachment and location"),
            (true, false) => f.write_str("without its attachment"),
            (false, true) => f.write_str("without its location"),
            (false, false) => Ok(()),
        }
    }
}

/// Why a message cannot move.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skip {
    /// A message of a type the import does not take: a system message (without
    /// [`Translator::system_messages`]) or a type this crate does not know.
    Type(MessageType),
    /// A user message without a sender: the import needs one.
    NoSender,
    /// Nothing to carry: no text, and no file that is carried.
    Empty {
        /// It has a file (not carried: without [`Translator::attachments`]).
        attachment: bool,
        /// It has a location (never carried).
        location: bool,
    },
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Type(MessageType::SystemMessage) => {
                f.write_str("a system message (the import takes user messages only)")
            }
            Self::Type(other) => write!(
                f,
                "a message of type {} (the import takes user messages only)",
                other.as_str()
            ),
            Self::NoSender => f.write_str("no sender (the import needs one)"),
            Self::Empty {
                attachment: true, ..
            } => f.write_str("an attachment only (the file is not carried)"),
            Self::Empty { location: true, .. } => {
                f.write_str("a location only (the import cannot carry locations)")
            }
            Self::Empty { .. } => f.write_str("no text"),
        }
    }
}

/// Turns export records into writes. [`Translator::new`] gives what `talkjs import` sends;
/// the options add what `talkjs migrate` carries besides.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Translator {
    read_until: bool,
    attachments: bool,
    system_messages: bool,
}

impl Translator {
    /// The translator of a plain import: users, conversations with their participants'
    /// access and notify settings, user messages without files.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also carry each participant's `readUntil` (a `PATCH`, which only the PATCH takes,
    /// with the participant's access and notify where they are not the defaults).
    #[must_use]
    pub fn read_until(mut self, on: bool) -> Self {
        self.read_until = on;
        self
    }

    /// Also carry a message's attached file: its URL is handed on
    /// ([`MessageAction::Import::attachment`]) instead of left out, and a message with a
    /// file and no text moves.
    #[must_use]
    pub fn attachments(mut self, on: bool) -> Self {
        self.attachments = on;
        self
    }

    /// Turn system messages into messages to send ([`MessageAction::System`]) instead of
    /// skipping them.
    #[must_use]
    pub fn system_messages(mut self, on: bool) -> Self {
        self.system_messages = on;
        self
    }

    /// The writes of any record.
    pub fn translate(&self, record: Record) -> Write {
        match record {
            Record::User(user) => Write::User(self.user(user)),
            Record::Conversation(conversation) => {
                Write::Conversation(self.conversation(conversation))
            }
            Record::Message(message) => Write::Message(self.message(&message)),
        }
    }

    /// A user's upsert.
    pub fn user(&self, user: User) -> UserWrite {
        UserWrite {
            id: user.id.as_str().to_owned(),
            upsert: UserUpsert::from(user),
        }
    }

    /// A conversation's upsert (every participant, by user id) and the writes of the
    /// participants whose settings differ from the defaults ([`Self::participant`]).
    pub fn conversation(&self, conversation: Conversation) -> ConversationWrite {
        let id = conversation.id.as_str().to_owned();
        let participants = conversation
            .participants
            .iter()
            .filter_map(|(user, settings)| {
                self.participant(settings).map(|setting| ParticipantWrite {
                    user: user.as_str().to_owned(),
                    setting,
                })
            })
            .collect();
        let members: Vec<_> = conversation.participants.keys().cloned().collect();
        ConversationWrite {
            id,
            upsert: ConversationUpsert::from(conversation).participants(members),
            participants,
        }
    }

    /// The participant rule: the request that gives a participant, added by the
    /// conversation upsert with the defaults (`ReadWrite`, notify `true`), its settings;
    /// `None` when the defaults are its settings.
    ///
    /// - access `None`: a `PATCH` with access and notify (only the PATCH takes `None`);
    /// - with [`Self::read_until`] and a `readUntil`: a `PATCH` with it, and with the access
    ///   and notify that are not the defaults (only the PATCH takes `readUntil`);
    /// - other settings than the defaults: a `PUT` with access and notify.
    pub fn participant(&self, settings: &ConversationParticipant) -> Option<ParticipantSetting> {
        let access_none = settings.access == Access::None;
        let default_access = settings.access == Access::ReadWrite;
        let default_notify = settings.notify == Notify::All;
        if let Some(read_until) = settings.read_until.filter(|_| self.read_until) {
            let mut patch = ParticipantPatch::new().read_until(read_until);
            if !default_access {
                patch = patch.access(settings.access.clone());
            }
            if access_none || !default_notify {
                patch = patch.notify(settings.notify.clone());
            }
            Some(ParticipantSetting::Patch(patch))
        } else if access_none {
            Some(ParticipantSetting::Patch(
                ParticipantPatch::new()
                    .access(Access::None)
                    .notify(settings.notify.clone()),
            ))
        } else if !default_access || !default_notify {
            Some(ParticipantSetting::Overwrite(
                ParticipantOverwrite::new()
                    .access(settings.access.clone())
                    .notify(settings.notify.clone()),
            ))
        } else {
            None
        }
    }

    /// A message's import (or send), or why it cannot move: only user messages with a
    /// sender are imported (system messages are sent with [`Self::system_messages`]), and
    /// only with a text or a carried file.
    pub fn message(&self, message: &Message) -> MessageWrite {
        MessageWrite {
            id: message.id.as_str().to_owned(),
            conversation: message.conversation_id.as_str().to_owned(),
            action: self.message_action(message),
        }
    }

    fn message_action(self, message: &Message) -> MessageAction {
        let system = match &message.message_type {
            MessageType::UserMessage => false,
            MessageType::SystemMessage if self.system_messages => true,
            other => return MessageAction::Skip(Skip::Type(other.clone())),
        };
        let sender = match &message.sender_id {
            Some(sender) => Some(sender.clone()),
            None if system => None,
            None => return MessageAction::Skip(Skip::NoSender),
        };
        let attachment = message
            .attachment
            .as_ref()
            .filter(|_| self.attachments)
            .map(|a| a.url.clone());
        let text = message.text.clone().unwrap_or_default();
        if text.is_empty() && attachment.is_none() {
            return MessageAction::Skip(Skip::Empty {
                attachment: message.attachment.is_some(),
                location: message.location.is_some(),
            });
        }
        let left_out = LeftOut {
            attachment: message.attachment.is_some() && attachment.is_none(),
            location: message.location.is_some(),
        };
        match sender {
            Some(sender) if !system => {
                let mut import = ImportMessage::new(sender, text, message.created_at)
                    .read_by(message.read_by.iter().cloned());
                import.custom = message.custom.clone();
                MessageAction::Import {
                    message: import,
                    attachment,
                    left_out,
                }
            }
            _ => {
                let mut send = NewSystemMessage::new(text);
                send.custom = message.custom.clone();
                MessageAction::System {
                    message: send,
                    attachment,
                    left_out,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use serde_json::json;
    use talkjs_models::{Patch, Timestamp};

    use super::*;

    fn write(translator: Translator, value: &Value) -> Write {
        translator.translate(read_line(1, value.to_string()).unwrap())
    }

    fn message(translator: Translator, value: &Value) -> MessageAction {
        let Write::Message(write) = write(translator, value) else {
            panic!("not a message: {value}");
        };
        write.action
    }

    #[test]
    fn users_become_upserts_of_their_fields() {
        let Write::User(user) = write(
            Translator::new(),
            &json!({"id": "alice", "name": "Alice", "email": ["a@x.com"],
            "phone": null, "photoUrl": "https://p", "role": "buyer", "locale": "nl-NL",
            "welcomeMessage": "Hi", "availabilityText": "away", "custom": {"k": "v"},
            "headerPhotoUrl": "https://h", "createdAt": 5}),
        ) else {
            panic!("not a user");
        };
        assert_eq!(user.id, "alice");
        assert_eq!(
            serde_json::to_value(&user.upsert).unwrap(),
            json!({"name": "Alice", "email": ["a@x.com"], "photoUrl": "https://p",
                "welcomeMessage": "Hi", "locale": "nl-NL", "role": "buyer",
                "custom": {"k": "v"}, "availabilityText": "away"})
        );
    }

    #[test]
    fn conversations_carry_their_participants_settings() {
        let Write::Conversation(conversation) = write(
            Translator::new(),
            &json!({"id": "c", "subject": "S", "participants": {
            "a": {"access": "ReadWrite", "notify": true},
            "b": {"access": "Read", "notify": "MentionsOnly"},
            "c": {"access": "None", "notify": false},
            "d": {"access": "ReadWrite", "notify": true, "readUntil": 5}}, "createdAt": 1}),
        ) else {
            panic!("not a conversation");
        };
        assert_eq!(conversation.id, "c");
        assert_eq!(conversation.upsert.participants.len(), 4);
        assert_eq!(conversation.upsert.subject, Patch::Set("S".into()));
        let settings: Vec<(&str, &ParticipantSetting)> = (conversation.participants.iter())
            .map(|p| (p.user.as_str(), &p.setting))
            .collect();
        assert_eq!(
            settings,
            [
                (
                    "b",
                    &ParticipantSetting::Overwrite(
                        ParticipantOverwrite::new()
                            .access(Access::Read)
                            .notify(Notify::MentionsOnly)
                    )
                ),
                (
                    "c",
                    &ParticipantSetting::Patch(
                        ParticipantPatch::new()
                            .access(Access::None)
                            .notify(Notify::Off)
                    )
                ),
            ],
            "the defaults need nothing, readUntil is not carried without the option"
        );
    }

    #[test]
    fn read_until_is_carried_by_a_patch_with_the_settings_that_are_not_the_defaults() {
        let translator = Translator::new().read_until(true);
        let at = Timestamp::from_millis(5);
        let participant = |access, notify| {
            let mut p = ConversationParticipant::new(access, notify);
            p.read_until = Some(at);
            p
        };
        let patch = |p: &ConversationParticipant| match translator.participant(p) {
            Some(ParticipantSetting::Patch(patch)) => patch,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            patch(&participant(Access::ReadWrite, Notify::All)),
            ParticipantPatch::new().read_until(at)
        );
        assert_eq!(
            patch(&participant(Access::Read, Notify::All)),
            ParticipantPatch::new().read_until(at).access(Access::Read)
        );
        assert_eq!(
            patch(&participant(Access::ReadWrite, Notify::Off)),
            ParticipantPatch::new().read_until(at).notify(Notify::Off)
        );
        assert_eq!(
            patch(&participant(Access::None, Notify::All)),
            ParticipantPatch::new()
                .read_until(at)
                .access(Access::None)
                .notify(Notify::All),
            "access None says its notify too"
        );
        assert_eq!(
            translator.participant(&ConversationParticipant::default()),
            None
        );
    }

    #[test]
    fn participant_settings_keep_the_form_a_journal_stores() {
        let put = ParticipantSetting::Overwrite(ParticipantOverwrite::new().access(Access::Read));
        let text = serde_json::to_string(&put).unwrap();
        assert_eq!(text, r#"{"method":"PUT","settings":{"access":"Read"}}"#);
        assert_eq!(
            serde_json::from_str::<ParticipantSetting>(&text).unwrap(),
            put
        );
        let patch = ParticipantSetting::Patch(ParticipantPatch::new().access(Access::None));
        assert_eq!(
            serde_json::to_string(&patch).unwrap(),
            r#"{"method":"PATCH","settings":{"access":"None"}}"#
        );
    }

    #[test]
    fn messages_become_imports_or_are_skipped_with_a_reason() {
        let base = json!({"id": "msg_1", "type": "UserMessage", "conversationId": "chat",
            "senderId": "alice", "text": "hi", "readBy": ["bob"], "custom": {"k": "v"},
            "createdAt": 1_600_000_000_000_u64, "origin": "rest"});
        let Write::Message(write) = write(Translator::new(), &base) else {
            panic!("not a message");
        };
        assert_eq!(
            (write.id.as_str(), write.conversation.as_str()),
            ("msg_1", "chat")
        );
        let MessageAction::Import {
            message: import,
            attachment: None,
            left_out,
        } = write.action
        else {
            panic!("not an import");
        };
        assert!(left_out.is_empty());
        assert_eq!(
            serde_json::to_value(&import).unwrap(),
            json!({"type": "UserMessage", "sender": "alice", "text": "hi",
                "timestamp": 1_600_000_000_000_u64, "readBy": ["bob"], "custom": {"k": "v"}})
        );

        let mut system = base.clone();
        system["type"] = json!("SystemMessage");
        system["senderId"] = Value::Null;
        let skip = message(Translator::new(), &system);
        assert_eq!(
            skip,
            MessageAction::Skip(Skip::Type(MessageType::SystemMessage))
        );
        assert!(
            Skip::Type(MessageType::SystemMessage)
                .to_string()
                .contains("system message")
        );

        let mut no_sender = base.clone();
        no_sender["senderId"] = Value::Null;
        let MessageAction::Skip(skip) = message(Translator::new(), &no_sender) else {
            panic!("not skipped");
        };
        assert_eq!(skip, Skip::NoSender);
        assert!(skip.to_string().contains("no sender"), "{skip}");

        let mut file = base.clone();
        file["attachment"] = json!({"url": "https://f", "size": 3});
        file["location"] = json!([1.0, 2.0]);
        let MessageAction::Import { left_out, .. } = message(Translator::new(), &file) else {
            panic!("not an import");
        };
        assert_eq!(left_out.to_string(), "without its attachment and location");
        file["text"] = Value::Null;
        let MessageAction::Skip(skip) = message(Translator::new(), &file) else {
            panic!("not skipped");
        };
        assert!(skip.to_string().contains("attachment only"), "{skip}");

        let mut located = base;
        located["text"] = json!("");
        located["location"] = json!([1.0, 2.0]);
        let MessageAction::Skip(skip) = message(Translator::new(), &located) else {
            panic!("not skipped");
        };
        assert!(skip.to_string().contains("a location only"), "{skip}");
    }

    #[test]
    fn the_options_carry_files_and_system_messages() {
        let translator = Translator::new().attachments(true).system_messages(true);
        let file = json!({"id": "m", "type": "UserMessage", "conversationId": "c",
            "senderId": "alice", "attachment": {"url": "https://f", "size": 3},
            "createdAt": 1});
        let MessageAction::Import {
            message: import,
            attachment,
            left_out,
        } = message(translator, &file)
        else {
            panic!("not an import");
        };
        assert_eq!(attachment.as_deref(), Some("https://f"));
        assert!(left_out.is_empty());
        assert_eq!(import.text, "");

        let system = json!({"id": "s", "type": "SystemMessage", "conversationId": "c",
            "text": "joined", "custom": {"k": "v"}, "location": [1.0, 2.0], "createdAt": 1});
        let MessageAction::System {
            message: send,
            attachment: None,
            left_out,
        } = message(translator, &system)
        else {
            panic!("not a system message");
        };
        assert_eq!(
            serde_json::to_value(&send).unwrap(),
            json!({"text": "joined", "custom": {"k": "v"}})
        );
        assert!(left_out.location && !left_out.attachment);

        let mut empty = system;
        empty["text"] = Value::Null;
        assert_eq!(
            message(translator, &empty),
            MessageAction::Skip(Skip::Empty {
                attachment: false,
                location: true
            })
        );
    }

    #[test]
    fn bad_lines_say_why_with_their_number() {
        let reason = |text: &str| read_line(3, text).unwrap_err().reason;
        assert!(reason("{nope").starts_with("not valid JSON"));
        assert!(reason("[1]").contains("neither a user"));
        assert!(reason(r#"{"id": "x"}"#).contains("neither a user"));
        let err = reason(r#"{"conversationId": "c", "text": "no id"}"#);
        assert!(err.starts_with("not a message"), "{err}");
        let err = reason(r#"{"name": "no id"}"#);
        assert!(err.starts_with("not a user"), "{err}");
        let err = reason(r#"{"id": "c", "participants": 5}"#);
        assert!(err.starts_with("not a conversation"), "{err}");
        let err = read_line(9, b"\xff{}").unwrap_err();
        assert_eq!(err.line, 9);
        assert!(
            err.to_string().starts_with("line 9: not UTF-8 text"),
            "{err}"
        );
    }
}
