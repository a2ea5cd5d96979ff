//! The items of one request ([`Chunk`]) and how it is sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use talkjs_api::{Client, ImportSize};
use talkjs_models::{ImportMessage, MessageId};

use super::item::{Item, Kind};

/// The items of one request.
#[derive(Debug)]
pub(super) struct Chunk {
    pub(super) items: Vec<(usize, Item)>,
    /// The most items it may carry (fixed when it is opened).
    pub(super) max: usize,
    /// For a part of an import request TalkJS refused: the parts sent in its place.
    pub(super) group: Option<Arc<PartGroup>>,
    /// An import of more than 10 sent while the size TalkJS accepts is unknown: the others
    /// wait for its answer.
    pub(super) probe: bool,
}

/// The 10-message parts of an import request of more than 10 that TalkJS refused with a
/// `400`: when every part lands, the size was refused ([`ImportSize`]).
#[derive(Debug)]
pub(super) struct PartGroup {
    pub(super) left: AtomicUsize,
    pub(super) failed: AtomicBool,
}

impl PartGroup {
    /// Records the outcome of one part; the last one tells `size` what the parts showed.
    pub(super) fn part_done(&self, landed: bool, size: &ImportSize) {
        if !landed {
            self.failed.store(true, Ordering::Relaxed);
        }
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            if self.failed.load(Ordering::Relaxed) {
                size.parts_failed();
            } else {
                size.parts_landed();
            }
        }
    }
}

impl Chunk {
    pub(super) fn one(index: usize, item: Item, max: usize) -> Self {
        Self {
            items: vec![(index, item)],
            max,
            group: None,
            probe: false,
        }
    }

    /// A chunk of `items` (taken from another), with no group.
    pub(super) fn of(items: Vec<(usize, Item)>, max: usize) -> Self {
        Self {
            items,
            max,
            group: None,
            probe: false,
        }
    }

    /// Whether this is an import request.
    pub(super) fn is_import(&self) -> bool {
        self.first().map(Item::kind) == Some(Kind::Import)
    }

    pub(super) fn first(&self) -> Option<&Item> {
        self.items.first().map(|(_, item)| item)
    }

    /// Whether `item` may join this chunk: same kind, same conversation for messages, and
    /// room left.
    pub(super) fn accepts(&self, item: &Item) -> bool {
        let Some(first) = self.first() else {
            return true;
        };
        self.items.len() < self.max
            && first.kind() == item.kind()
            && first.ordered_in() == item.ordered_in()
    }

    /// The two halves of a chunk, in order (neither in a group).
    pub(super) fn split(mut self) -> (Self, Self) {
        let back = self.items.split_off(self.items.len() / 2);
        let max = self.max;
        self.group = None;
        (self, Self::of(back, max))
    }
}

/// A request's answer: the created messages' ids, when it named them.
pub(super) type Answer = talkjs_api::Result<Option<Vec<MessageId>>>;

/// Sends one chunk as one request.
pub(super) async fn send(client: Client, chunk: Chunk) -> (Chunk, Answer) {
    let result = match chunk.first() {
        None => Ok(None),
        Some(Item::User { .. }) => {
            let users = chunk.items.iter().filter_map(|(_, item)| match item {
                Item::User { id, user } => Some((id.clone(), user.clone())),
                _ => None,
            });
            client.users().upsert_many(users).await.map(|()| None)
        }
        Some(Item::Conversation { id, conversation }) => client
            .conversations()
            .upsert(id, conversation)
            .await
            .map(|()| None),
        Some(Item::Participant {
            conversation,
            user,
            settings,
        }) => client
            .conversations()
            .participants(conversation.clone())
            .join(user, settings)
            .await
            .map(|()| None),
        Some(Item::ParticipantPatch {
            conversation,
            user,
            patch,
        }) => client
            .conversations()
            .participants(conversation.clone())
            .modify(user, patch)
            .await
            .map(|()| None),
        Some(Item::RemoveParticipant { conversation, user }) => client
            .conversations()
            .participants(conversation.clone())
            .remove(user)
            .await
            .map(|()| None),
        Some(Item::Reaction {
            conversation,
            message,
            emoji,
            user,
        }) => client
            .conversations()
            .messages(conversation.clone())
            .add_reaction(message, emoji, user)
            .await
            .map(|()| None),
        Some(Item::EditMessage {
            conversation,
            message,
            edit,
        }) => client
            .conversations()
            .messages(conversation.clone())
            .edit(message, edit)
            .await
            .map(|()| None),
        Some(Item::Send { conversation, .. }) => {
            let messages = chunk.items.iter().filter_map(|(_, item)| match item {
                Item::Send { message, .. } => Some(message.clone()),
                _ => None,
            });
            client
                .conversations()
                .messages(conversation.clone())
                .send(messages)
                .await
                .map(Some)
        }
        Some(Item::Import { conversation, .. }) => {
            // One request, whatever its size: the run splits a refused one itself.
            let messages: Vec<ImportMessage> = chunk
                .items
                .iter()
                .filter_map(|(_, item)| match item {
                    Item::Import { message, .. } => Some(message.clone()),
                    _ => None,
                })
                .collect();
            client
                .conversations()
                .messages(conversation.clone())
                .import_request(&messages)
                .await
        }
    };
    (chunk, result)
}
