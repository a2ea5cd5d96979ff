//! The chunks being filled from the input ([`Open`]), bounded by a memory budget.
//!
//! One chunk is open per conversation for messages (so that messages of many conversations
//! interleaved in the input, like a chronological log, are still packed into full requests)
//! and one per kind for the rest. A chunk closes when it is full, when another kind of
//! message comes for its conversation, when its stage ends, or, oldest first, when the open
//! chunks together hold more than the budget.

use std::collections::{BTreeMap, HashMap};

use super::chunk::Chunk;
use super::item::{Item, Kind};

/// What an open chunk is filled by: a conversation's messages, or one kind of upsert.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Conversation(String),
    Kind(Kind),
}

impl Key {
    fn of(item: &Item) -> Self {
        match item.ordered_in() {
            Some(conversation) => Self::Conversation(conversation.to_owned()),
            None => Self::Kind(item.kind()),
        }
    }
}

/// The open chunks, oldest first, and the bytes they hold.
#[derive(Debug)]
pub(super) struct Open {
    /// Each open chunk, with the number it was opened under (its age) and the weight of its
    /// items.
    chunks: HashMap<Key, (u64, usize, Chunk)>,
    /// The open chunks by age, oldest first.
    ages: BTreeMap<u64, Key>,
    next_age: u64,
    /// The [weight](Item::weight) of the items in open chunks.
    bytes: usize,
    /// The most bytes open chunks may hold before the oldest is closed.
    budget: usize,
}

impl Open {
    pub(super) fn new(budget: usize) -> Self {
        Self {
            chunks: HashMap::new(),
            ages: BTreeMap::new(),
            next_age: 0,
            bytes: 0,
            budget,
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Adds an item to the chunk open for it, or opens one of at most `max` items. Pushes
    /// onto `closed`, in the order they must start, the chunks this closes: the one open
    /// for the item when the item cannot join it (another kind of message for the same
    /// conversation, which must go after it), the item's own chunk once full, and the
    /// oldest ones while the budget is exceeded.
    pub(super) fn add(&mut self, index: usize, item: Item, max: usize, closed: &mut Vec<Chunk>) {
        let key = Key::of(&item);
        if self
            .chunks
            .get(&key)
            .is_some_and(|(_, _, open)| !open.accepts(&item))
        {
            closed.extend(self.close(&key));
        }
        let weight = item.weight();
        self.bytes += weight;
        if let Some((_, bytes, open)) = self.chunks.get_mut(&key) {
            *bytes += weight;
            open.items.push((index, item));
        } else {
            let age = self.next_age;
            self.next_age += 1;
            self.ages.insert(age, key.clone());
            self.chunks
                .insert(key.clone(), (age, weight, Chunk::one(index, item, max)));
        }
        if self
            .chunks
            .get(&key)
            .is_some_and(|(_, _, open)| open.items.len() >= open.max)
        {
            closed.extend(self.close(&key));
        }
        while self.bytes > self.budget {
            let Some(oldest) = self.close_oldest() else {
                break;
            };
            closed.push(oldest);
        }
    }

    /// Closes the chunk open under `key`.
    fn close(&mut self, key: &Key) -> Option<Chunk> {
        let (age, bytes, chunk) = self.chunks.remove(key)?;
        self.ages.remove(&age);
        self.bytes -= bytes;
        Some(chunk)
    }

    /// Closes the chunk open for `conversation`'s messages, if any.
    pub(super) fn close_conversation(&mut self, conversation: &str) -> Option<Chunk> {
        self.close(&Key::Conversation(conversation.to_owned()))
    }

    /// Closes the oldest open chunk.
    pub(super) fn close_oldest(&mut self) -> Option<Chunk> {
        let key = self.ages.first_key_value().map(|(_, key)| key.clone())?;
        self.close(&key)
    }

    /// Closes every open chunk, oldest first.
    pub(super) fn close_all(&mut self) -> Vec<Chunk> {
        let keys: Vec<Key> = self.ages.values().cloned().collect();
        keys.iter().filter_map(|key| self.close(key)).collect()
    }
}

#[cfg(test)]
mod tests {
    use talkjs_models::{ImportMessage, Timestamp};

    use super::*;

    fn import(conversation: &str, text: &str) -> Item {
        Item::Import {
            conversation: conversation.to_owned(),
            message: ImportMessage::new("u", text, Timestamp::from_millis(1)),
        }
    }

    fn subjects(chunks: &[Chunk]) -> Vec<(String, usize)> {
        chunks
            .iter()
            .map(|c| (c.items[0].1.subject(), c.items.len()))
            .collect()
    }

    #[test]
    fn interleaved_conversations_each_fill_their_own_chunk() {
        let mut open = Open::new(usize::MAX);
        let mut closed = Vec::new();
        for round in 0..3 {
            for c in 0..500 {
                open.add(
                    round * 500 + c,
                    import(&format!("c{c}"), "hi"),
                    3,
                    &mut closed,
                );
            }
        }
        // Each conversation's chunk closed when its third message made it full.
        assert_eq!(closed.len(), 500);
        assert!(closed.iter().all(|c| c.items.len() == 3));
        assert!(open.is_empty());
        assert_eq!(open.bytes, 0);
    }

    #[test]
    fn the_budget_closes_the_oldest_chunks_first() {
        let weight = import("c0", "hi").weight();
        // Room for 5 items open.
        let mut open = Open::new(weight * 5);
        let mut closed = Vec::new();
        for c in 0..6 {
            open.add(c, import(&format!("c{c}"), "hi"), 100, &mut closed);
        }
        assert_eq!(subjects(&closed), [("c0".to_owned(), 1)]);
        open.add(6, import("c5", "hi"), 100, &mut closed);
        assert_eq!(
            subjects(&closed),
            [("c0".to_owned(), 1), ("c1".to_owned(), 1)]
        );
        let rest = subjects(&open.close_all());
        assert_eq!(
            rest,
            [
                ("c2".to_owned(), 1),
                ("c3".to_owned(), 1),
                ("c4".to_owned(), 1),
                ("c5".to_owned(), 2)
            ]
        );
    }

    #[test]
    fn another_kind_of_message_closes_what_is_open_for_its_conversation_first() {
        let mut open = Open::new(usize::MAX);
        let mut closed = Vec::new();
        open.add(0, import("c", "old"), 100, &mut closed);
        let send = Item::Send {
            conversation: "c".to_owned(),
            message: talkjs_models::NewMessage::system("joined"),
        };
        open.add(1, send, 10, &mut closed);
        assert_eq!(subjects(&closed), [("c".to_owned(), 1)]);
        assert_eq!(closed[0].items[0].1.kind(), Kind::Import);
        let rest = open.close_all();
        assert_eq!(rest[0].items[0].1.kind(), Kind::Send);
    }
}
