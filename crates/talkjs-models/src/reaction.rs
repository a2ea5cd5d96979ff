//! Reactions: one item of the listing of who reacted to a message with an emoji.

use serde::{Deserialize, Serialize};

use crate::UserId;

/// One item of `GET /conversations/{id}/messages/{messageId}/reactions/{emoji}`: a user
/// who reacted to the message with that emoji.
///
/// No TalkJS reference page describes the listing; TalkJS's official transfer example
/// (talkjs-examples, `rest-api/transfer-data/transferData.js`) reads `userId` from each
/// item. Other fields are ignored.
///
/// ```
/// use talkjs_models::{Page, ReactionUser};
///
/// let page: Page<ReactionUser> =
///     serde_json::from_str(r#"{"data": [{"userId": "alice"}, {"userId": "bob"}]}"#).unwrap();
/// assert_eq!(page.data[1].user_id, "bob");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReactionUser {
    /// The user who reacted.
    pub user_id: UserId,
}

impl ReactionUser {
    /// The reaction of `user_id` (for servers and tests; clients receive this type).
    pub fn new(user_id: impl Into<UserId>) -> Self {
        Self {
            user_id: user_id.into(),
        }
    }
}
