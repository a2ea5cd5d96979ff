//! [`Migration::verify`]: the plan made again, and the target compared with it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures_util::{StreamExt, TryStreamExt, stream};
use talkjs_api::models::{ConversationUpsert, Message, UserUpsert};

use super::fields::{Settings, absent, check_conversation_fields, check_user, planned_settings};
use super::messages::{Expected, check_by_marker, check_in_order, check_reply_ids};
use super::report::{ConversationCheck, UserCheck, VerifyReport, undecodable};
use crate::error::Error;
use crate::item::{ItemKind, PlannedItem};
use crate::journal::Journal;
use crate::plan::{ReactionBody, ReplyLinkBody};
use crate::run::{Migration, target_messages};

/// Users or conversations fetched from the target at once.
const FETCHES_AT_ONCE: usize = 8;

impl Migration {
    /// Compares the source with the target:
    ///
    /// - **users**, field by field: every field the source's user has and the upsert
    ///   carries: name, email, phone, photoUrl, welcomeMessage, locale, role, custom,
    ///   availabilityText;
    /// - **conversations**, field by field: subject, photoUrl, welcomeMessages, custom, and
    ///   the participants (each one the source has, with access and notify; one the target
    ///   has beyond them is a difference too), and each participant's `readUntil` where the
    ///   source has one: the target's must be **at or after** it (TalkJS moves it on as the
    ///   user reads, so a later one is no difference; a participant without one in the
    ///   source is not compared);
    /// - **messages**, conversation by conversation: the number of messages, and each
    ///   message's type, sender, time, text, reply link (as carried in `custom`; with
    ///   [`Self::map_reply_links`], also that the target id under
    ///   [`REPLY_TO_ID_KEY`](crate::REPLY_TO_ID_KEY) is the matched message's), readers,
    ///   custom data, whether it has an attachment, and the emoji of its carried reactions
    ///   (each must be among the target message's `reactions` keys; who reacted is not
    ///   listed again, which would cost a request per message and emoji; reactions the
    ///   target has beyond them are no difference), in order (system messages, when
    ///   sent, after the imported ones, without their time). The two lists are aligned by
    ///   type, sender, time and text, so a missing or extra message is reported once, and a
    ///   changed message (same type, sender and time) is compared field by field. With
    ///   [`mark_source_ids`](Self::mark_source_ids), each source message is found by its
    ///   marker instead of its place, and target messages without a marker are counted
    ///   ([`ConversationCheck::unmarked`]), not reported.
    ///
    /// Not compared: what the source does not have (a field the source's record lacks: the
    /// target may fill in a default), what the target makes itself (ids of messages,
    /// `createdAt` of users and conversations, attachment URLs, `lastMessage`, unread
    /// state, `joinedAt`), and what does not move (`headerPhotoUrl`, `pushTokens`,
    /// reactions an export file does not name the users of, locations, the read state of
    /// system messages). Messages that cannot migrate (see the run's notes) are not
    /// expected.
    ///
    /// A conversation whose messages differ is listed again once the
    /// [settle time](Migration::settle_time) has passed (a listing may show new messages
    /// late) before the difference is reported.
    ///
    /// When the journal of this input exists and is free, the target ids of matching
    /// messages are recorded in it (the source→target map); a journal planned with other
    /// settings is refused ([`Error::SettingChanged`]).
    pub async fn verify(&self) -> Result<VerifyReport, Error> {
        let plan = self.make_plan().await?;
        let journal_of_plan = || {
            if !self.journal_path().exists() {
                return None;
            }
            let journal = Journal::open(self.journal_path()).ok()?;
            journal
                .planned_fingerprint()
                .is_ok_and(|f| f.as_deref() == Some(plan.fingerprint.as_str()))
                .then_some(journal)
        };
        if let Some(journal) = journal_of_plan() {
            self.check_settings(&journal)?;
        }
        let Expectations {
            users,
            conversations,
            mut messages,
            settings,
        } = Expectations::of(&plan.items)?;

        let target = self.target();
        let users: Vec<UserCheck> = stream::iter(users)
            .map(|(id, expected)| check_user_in(target, id, expected))
            .buffered(FETCHES_AT_ONCE)
            .try_collect()
            .await?;
        let empty = BTreeMap::new();
        let checks: Vec<(ConversationCheck, Vec<(String, String)>)> = stream::iter(conversations)
            .map(|(id, expected)| {
                let list = messages.remove(&id).unwrap_or_default();
                let settings = settings.get(&id).unwrap_or(&empty);
                self.check_conversation(id, expected, list, settings)
            })
            .buffered(FETCHES_AT_ONCE)
            .try_collect()
            .await?;

        let mut report = VerifyReport {
            users,
            ..VerifyReport::default()
        };
        let mut ids = Vec::new();
        for (check, found) in checks {
            report.conversations.push(check);
            ids.extend(found);
        }
        // The source→target map, where the journal of this very input is free to write.
        if let Some(mut journal) = journal_of_plan() {
            journal
                .set_target_ids(&ids)
                .map_err(|e| Error::journal(self.journal_path(), e))?;
        }
        Ok(report)
    }

    /// One conversation compared: its fields and participants, and its messages (listed
    /// again once the settle time has passed where they differ); with the ids of the
    /// matching messages.
    async fn check_conversation(
        &self,
        id: String,
        expected: ConversationUpsert,
        list: Vec<Expected>,
        settings: &Settings,
    ) -> Result<(ConversationCheck, Vec<(String, String)>), Error> {
        let target = self.target();
        let fields = match target.conversations().get(&id).await {
            Ok(found) => check_conversation_fields(&expected, settings, &found),
            Err(talkjs_api::Error::NotFound { .. }) => absent(),
            Err(e) => return Err(Error::Target(e)),
        };
        let marker = self.is_marking();
        let compare = |found: &[Message]| {
            let mut check = if marker {
                check_by_marker(&list, found)
            } else {
                check_in_order(&list, found)
            };
            check_reply_ids(&list, found, &mut check);
            check
        };
        let found = target_messages(target, &id, None)
            .await
            .map_err(Error::Target)?;
        let mut check = compare(&found);
        let settle = self.settle_time_of();
        if (check.found != list.len() || !check.mismatches.is_empty()) && !settle.is_zero() {
            // A listing may show new messages late: look again once the settle time has
            // passed before calling it a difference.
            tokio::time::sleep(settle).await;
            let found = target_messages(target, &id, None)
                .await
                .map_err(Error::Target)?;
            check = compare(&found);
        }
        let conversation = ConversationCheck {
            conversation: id,
            expected: list.len(),
            found: check.found,
            mismatches: check.mismatches,
            fields,
            unmarked: check.unmarked,
        };
        Ok((conversation, check.ids))
    }
}

/// One user compared.
async fn check_user_in(
    target: &talkjs_api::Client,
    id: String,
    expected: UserUpsert,
) -> Result<UserCheck, Error> {
    let mismatches = match target.users().get(&id).await {
        Ok(found) => check_user(&expected, &found),
        Err(talkjs_api::Error::NotFound { .. }) => absent(),
        Err(e) => return Err(Error::Target(e)),
    };
    Ok(UserCheck {
        user: id,
        mismatches,
    })
}

/// What the plan says the target should hold.
struct Expectations {
    users: Vec<(String, UserUpsert)>,
    conversations: Vec<(String, ConversationUpsert)>,
    /// Each conversation's messages, in sending order, with the emoji of their reactions.
    messages: HashMap<String, Vec<Expected>>,
    settings: HashMap<String, Settings>,
}

impl Expectations {
    fn of(items: &[PlannedItem]) -> Result<Self, Error> {
        let mut users = Vec::new();
        let mut conversations = Vec::new();
        let mut messages: HashMap<String, Vec<Expected>> = HashMap::new();
        // The emoji carried to each message: (conversation, source message id) → emoji.
        let mut reactions: HashMap<(&str, &str), BTreeSet<String>> = HashMap::new();
        // The mapped reply links: (conversation, source reply id) → source id replied to.
        let mut links: HashMap<(&str, &str), String> = HashMap::new();
        for item in items {
            match item.kind {
                ItemKind::User => users.push((
                    item.subject.clone(),
                    serde_json::from_str::<UserUpsert>(&item.body)
                        .map_err(|e| undecodable("user", &e))?,
                )),
                ItemKind::Conversation => conversations.push((
                    item.subject.clone(),
                    serde_json::from_str::<ConversationUpsert>(&item.body)
                        .map_err(|e| undecodable("conversation", &e))?,
                )),
                ItemKind::Message | ItemKind::SystemMessage => messages
                    .entry(item.subject.clone())
                    .or_default()
                    .push(Expected::from_item(item)?),
                ItemKind::Reaction => {
                    let body: ReactionBody = serde_json::from_str(&item.body)
                        .map_err(|e| undecodable("reaction", &e))?;
                    reactions
                        .entry((item.subject.as_str(), item.source_id.as_str()))
                        .or_default()
                        .insert(body.emoji);
                }
                ItemKind::ReplyLink => {
                    let body: ReplyLinkBody = serde_json::from_str(&item.body)
                        .map_err(|e| undecodable("reply link", &e))?;
                    links.insert(
                        (item.subject.as_str(), item.source_id.as_str()),
                        body.reply_to,
                    );
                }
                ItemKind::Participant => {}
            }
        }
        for (conversation, list) in &mut messages {
            for expected in list {
                if let Some(emoji) =
                    reactions.remove(&(conversation.as_str(), expected.source_id.as_str()))
                {
                    expected.reactions = emoji;
                }
                expected.reply_to_id =
                    links.remove(&(conversation.as_str(), expected.source_id.as_str()));
            }
        }
        Ok(Self {
            users,
            conversations,
            messages,
            settings: planned_settings(items)?,
        })
    }
}
