//! Messages: send, import, list, get, edit, delete, reactions; file uploads.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Value, json};
use talkjs_models::{
    Attachment, ContentBlock, FileBlock, FileSubtype, ImportMessage, Location, Message,
    MessageEdit, MessageOrigin, MessageType, NewMessage, ReactionUser, SentMessage, UploadedFile,
    WebhookEventType,
};
use tokio::time::Instant;

use crate::api::{ApiError, ApiRequest, RequestBody, decode, percent_encode, to_json};
use crate::multipart;
use crate::store::{ConvRec, Ctx, MsgKey, MsgRec, State, StoredFile, parse_limit, random_id};

/// Most messages per send request (and per import request unless
/// [`Builder::max_import_batch`](crate::Builder::max_import_batch) says otherwise).
const MAX_MESSAGES: usize = 10;

/// The body of a send or import: a JSON array of 1 to `max` objects.
///
/// The array and its maximum of 10 are documented for both
/// (<https://talkjs.com/docs/Reference/REST_API/Messages/>,
/// <https://talkjs.com/docs/Reference/REST_API/Importing_Messages/>); TalkJS's official
/// transfer example imports 100 at a time, which the fake accepts when told to. Refusing an
/// empty array is our reading (a request that sends nothing is a mistake in the caller).
fn message_array(req: &ApiRequest, max: usize) -> Result<Vec<Value>, ApiError> {
    let Value::Array(items) = req.json_value()? else {
        return Err(ApiError::invalid(
            "the body must be a JSON array of messages (even for one message)",
        ));
    };
    if items.is_empty() {
        return Err(ApiError::invalid("the array of messages is empty"));
    }
    if items.len() > max {
        return Err(ApiError::invalid(format!(
            "at most {max} messages per request, got {}",
            items.len()
        )));
    }
    if let Some(i) = items.iter().position(|v| !v.is_object()) {
        return Err(ApiError::invalid(format!(
            "message {i} of this request is not a JSON object"
        )));
    }
    Ok(items)
}

/// The attachment for a token, or 400.
fn attachment(
    state: &State,
    token: Option<&str>,
    i: usize,
) -> Result<Option<Attachment>, ApiError> {
    let Some(token) = token else {
        return Ok(None);
    };
    let file = state.files.get(token).ok_or_else(|| {
        ApiError::invalid(format!(
            "message {i} of this request: attachmentToken {token:?} is not a token from a file upload"
        ))
    })?;
    Ok(Some(Attachment::new(
        file_url(state, token, &file.filename),
        u64::try_from(file.data.len()).ok(),
    )))
}

/// A new unique message id.
fn new_message_id(state: &mut State) -> String {
    loop {
        let id = random_id("msg_", 22);
        if state.message_ids.insert(id.clone()) {
            return id;
        }
    }
}

/// Adds a message to a conversation, listed from `listed_at`.
fn insert(
    state: &mut State,
    conv_id: &str,
    message: Message,
    listed_at: Instant,
) -> Result<MsgKey, ApiError> {
    let seq = state.next_seq();
    let key = (message.created_at, seq);
    let id = message.id.as_str().to_owned();
    let conv = state.conversation_mut(conv_id)?;
    conv.message_keys.insert(id.clone(), key);
    conv.messages.insert(
        key,
        MsgRec {
            message,
            reactions: BTreeMap::new(),
            listed_at,
        },
    );
    Ok(key)
}

/// Checks what the models cannot see in item `i` of a send: a sender only on a
/// `UserMessage`, string `custom` values, no location or reply reference on a system
/// message.
fn check_send_item(i: usize, item: &Value) -> Result<(), ApiError> {
    // Documented (https://talkjs.com/docs/Reference/REST_API/Messages/): "type must be
    // \"UserMessage\" when sender is provided or the request fails"; system messages
    // "don't currently support locations", and their documented body has no
    // referencedMessageId. A null sender, location or reference stands for none (our
    // reading).
    let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
    if item.get("sender").is_some_and(|s| !s.is_null()) && kind != "UserMessage" {
        return Err(ApiError::invalid(format!(
            "message {i} of this request: a message with a sender must have type \"UserMessage\", got {kind:?}"
        )));
    }
    if let Some(problem) = crate::api::custom_problem(item) {
        return Err(ApiError::invalid(format!(
            "message {i} of this request: {problem}"
        )));
    }
    if kind == "SystemMessage" {
        // Checked on the raw JSON: the NewMessage model would drop them silently.
        if let Some(field) = ["location", "referencedMessageId"]
            .into_iter()
            .find(|f| item.get(*f).is_some_and(|v| !v.is_null()))
        {
            return Err(ApiError::invalid(format!(
                "message {i} of this request: a SystemMessage cannot have {field:?}"
            )));
        }
    }
    Ok(())
}

/// `POST /conversations/{id}/messages`.
pub(crate) fn send(ctx: &mut Ctx<'_>, req: &ApiRequest, conv_id: &str) -> Result<Value, ApiError> {
    let conv = ctx.state.conversation(conv_id)?;
    let items = message_array(req, MAX_MESSAGES)?;
    // Validate everything first: a request is applied entirely or not at all.
    let mut prepared = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        check_send_item(i, &item)?;
        let message: NewMessage = decode(item).map_err(|e| prefix(e, i))?;
        let (key, token) = match &message {
            NewMessage::User(m) => {
                if !conv.participants.contains_key(m.sender.as_str()) {
                    return Err(ApiError::invalid(format!(
                        "message {i} of this request: sender {:?} is not a participant of conversation {conv_id:?}",
                        m.sender.as_str()
                    )));
                }
                if let Some(reference) = &m.referenced_message_id {
                    if !conv.message_keys.contains_key(reference.as_str()) {
                        return Err(ApiError::invalid(format!(
                            "message {i} of this request: referencedMessageId {:?} is not a message of this conversation",
                            reference.as_str()
                        )));
                    }
                }
                (m.idempotency_key.clone(), m.attachment_token.as_deref())
            }
            NewMessage::System(m) => (m.idempotency_key.clone(), m.attachment_token.as_deref()),
            _ => {
                return Err(ApiError::invalid(format!(
                    "message {i} of this request: type must be UserMessage or SystemMessage"
                )));
            }
        };
        let attachment = attachment(ctx.state, token, i)?;
        prepared.push((message, key, attachment));
    }
    let mut ids = Vec::with_capacity(prepared.len());
    for (new, key, attachment) in prepared {
        if let Some(existing) = key
            .as_ref()
            .and_then(|k| ctx.state.conversations.get(conv_id)?.idempotency.get(k))
        {
            ids.push(SentMessage::new(existing.as_str()));
            continue;
        }
        let id = new_message_id(ctx.state);
        let mut message = Message::new(id.as_str(), MessageType::UserMessage, conv_id, ctx.now);
        message.origin = Some(MessageOrigin::Rest);
        message.attachment = attachment;
        match new {
            NewMessage::User(m) => {
                message.sender_id = Some(m.sender);
                message.text = Some(m.text);
                message.custom = m.custom;
                message.location = m.location;
                message.referenced_message_id = m.referenced_message_id;
            }
            NewMessage::System(m) => {
                message.message_type = MessageType::SystemMessage;
                message.text = Some(m.text);
                message.custom = m.custom;
            }
            _ => {}
        }
        let sender = message
            .sender_id
            .as_ref()
            .and_then(|s| ctx.state.users.get(s.as_str()))
            .map(|r| to_json(&r.user))
            .transpose()?;
        let message_json = to_json(&message)?;
        insert(ctx.state, conv_id, message, ctx.listed_at)?;
        let conv = ctx.state.conversation_mut(conv_id)?;
        if let Some(k) = key {
            conv.idempotency.insert(k, id.clone());
        }
        let data = json!({
            "conversation": to_json(&conv.model())?,
            "message": message_json,
            "sender": sender,
        });
        ctx.emit(WebhookEventType::MessageSent, data);
        ids.push(SentMessage::new(id));
    }
    to_json(&ids)
}

/// Prefixes the reasons of an error with the message's index in the request's array (from
/// 0): "message 5 of this request", not of the client's whole input (a client sending in
/// chunks counts its items across requests).
fn prefix(mut error: ApiError, i: usize) -> ApiError {
    for reason in &mut error.reasons {
        *reason = format!("message {i} of this request: {reason}");
    }
    error
}

/// Checks an import item against the fields its shape requires: the reference page's
/// (`text`, `timestamp`, `readBy`) or, when it has `createdAt`, TalkJS's transfer example's
/// (`createdAt`, and `text` or non-empty `content`; no `readBy` needed).
fn check_import_item(i: usize, item: &Value) -> Result<(), ApiError> {
    let present = |field: &str| item.get(field).is_some_and(|v| !v.is_null());
    let required: &[&str] = if present("createdAt") {
        &["type", "sender", "createdAt"]
    } else {
        // "All fields are required" except attachmentToken and custom
        // (https://talkjs.com/docs/Reference/REST_API/Importing_Messages/).
        &["type", "sender", "text", "timestamp", "readBy"]
    };
    if let Some(field) = required.iter().find(|f| !present(f)) {
        return Err(ApiError::invalid(format!(
            "message {i} of this request: {field} is required"
        )));
    }
    if present("createdAt") {
        let has_content = item
            .get("content")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if !present("text") && !has_content {
            return Err(ApiError::invalid(format!(
                "message {i} of this request: text or content is required"
            )));
        }
    }
    if let Some(kind) = item
        .get("type")
        .filter(|t| t.as_str() != Some("UserMessage"))
    {
        return Err(ApiError::invalid(format!(
            "message {i} of this request: only messages of type \"UserMessage\" can be imported, got {kind}"
        )));
    }
    if let Some(problem) = crate::api::custom_problem(item) {
        return Err(ApiError::invalid(format!(
            "message {i} of this request: {problem}"
        )));
    }
    Ok(())
}

/// The content of an imported message as stored: a file block's `fileToken` resolved to the
/// uploaded file (url, filename, size and the upload's subtype, width, height, duration).
fn stored_content(
    state: &State,
    blocks: Vec<ContentBlock>,
    i: usize,
) -> Result<Vec<ContentBlock>, ApiError> {
    blocks
        .into_iter()
        .map(|block| match block {
            ContentBlock::File(file) => {
                let Some(token) = file.file_token.as_deref() else {
                    return Ok(ContentBlock::File(file));
                };
                let stored = state.files.get(token).ok_or_else(|| {
                    ApiError::invalid(format!(
                        "message {i} of this request: fileToken {token:?} is not a token from a file upload"
                    ))
                })?;
                let mut resolved = FileBlock::from_token(token);
                resolved.url = Some(file_url(state, token, &stored.filename));
                resolved.filename = Some(stored.filename.clone());
                resolved.size = u64::try_from(stored.data.len()).ok();
                resolved.subtype = stored.subtype.as_deref().map(FileSubtype::from);
                resolved.width = stored.width;
                resolved.height = stored.height;
                resolved.duration = stored.duration;
                Ok(ContentBlock::File(resolved))
            }
            other => Ok(other),
        })
        .collect()
}

/// The attachment URL of an uploaded file.
fn file_url(state: &State, token: &str, filename: &str) -> String {
    format!(
        "{}/files/{}/{}",
        state.base_url,
        percent_encode(token),
        percent_encode(filename)
    )
}

/// `POST /import/conversations/{id}/messages`: no deduplication, no webhooks.
///
/// Both item shapes are accepted ([`check_import_item`]). An item with `content` keeps it
/// (file tokens resolved, [`stored_content`]), and its legacy fields are filled from it
/// where the item has none, as the fake's reading of TalkJS's: `text` from the text blocks
/// (joined by a line break), `attachment` from the first file block, `location` from the
/// first location block. The answer is `[{"id": …}]`, one per message, in order (TalkJS's
/// transfer example reads it; the reference page shows none).
pub(crate) fn import(
    ctx: &mut Ctx<'_>,
    req: &ApiRequest,
    conv_id: &str,
) -> Result<Value, ApiError> {
    let conv = ctx.state.conversation(conv_id)?;
    let items = message_array(req, ctx.state.max_import)?;
    let mut prepared = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        check_import_item(i, &item)?;
        let mut message: ImportMessage = decode(item).map_err(|e| prefix(e, i))?;
        if !conv.participants.contains_key(message.sender.as_str()) {
            return Err(ApiError::invalid(format!(
                "message {i} of this request: sender {:?} is not a participant of conversation {conv_id:?}",
                message.sender.as_str()
            )));
        }
        let attachment = attachment(ctx.state, message.attachment_token.as_deref(), i)?;
        let content = message
            .content
            .take()
            .map(|blocks| stored_content(ctx.state, blocks, i))
            .transpose()?;
        prepared.push((message, attachment, content));
    }
    let mut ids = Vec::with_capacity(prepared.len());
    for (import, attachment, content) in prepared {
        let id = new_message_id(ctx.state);
        let mut message = Message::new(
            id.as_str(),
            MessageType::UserMessage,
            conv_id,
            import.timestamp,
        );
        message.origin = Some(MessageOrigin::Import);
        message.sender_id = Some(import.sender);
        message.text = Some(import.text).filter(|t| !t.is_empty() || content.is_none());
        message.read_by = import.read_by;
        message.custom = import.custom;
        message.attachment = attachment;
        if let Some(blocks) = &content {
            fill_legacy_fields(&mut message, blocks);
        }
        message.content = content;
        insert(ctx.state, conv_id, message, ctx.listed_at)?;
        ids.push(SentMessage::new(id));
    }
    to_json(&ids)
}

/// Fills a message's `text`, `attachment` and `location` from its content blocks where it
/// has none.
fn fill_legacy_fields(message: &mut Message, blocks: &[ContentBlock]) {
    if message.text.is_none() {
        let texts: Vec<String> = blocks
            .iter()
            .filter_map(|b| match b {
                ContentBlock::Text(t) => Some(t.plain_text()),
                _ => None,
            })
            .collect();
        if !texts.is_empty() {
            message.text = Some(texts.join("\n"));
        }
    }
    if message.attachment.is_none() {
        message.attachment = blocks.iter().find_map(|b| match b {
            ContentBlock::File(f) => f.url.as_ref().map(|url| Attachment::new(url, f.size)),
            _ => None,
        });
    }
    if message.location.is_none() {
        message.location = blocks.iter().find_map(|b| match b {
            ContentBlock::Location(l) => Some(Location::new(l.latitude, l.longitude)),
            _ => None,
        });
    }
}

/// `GET /conversations/{id}/messages`: newest first.
pub(crate) fn list(ctx: &Ctx<'_>, req: &ApiRequest, conv_id: &str) -> Result<Value, ApiError> {
    let limit = parse_limit(req, 100)?;
    let conv = ctx.state.conversation(conv_id)?;
    let cursor = match req.query("startingAfter") {
        None => None,
        Some(after) => Some(
            conv.message_keys
                .get(after)
                .or_else(|| ctx.state.message_tombstones.get(after))
                .copied()
                .ok_or_else(|| {
                    ApiError::invalid(format!("startingAfter: message {after:?} does not exist"))
                })?,
        ),
    };
    // `messages` is already ordered by key: newest first is a reverse range walk, over the
    // messages listed by now.
    let upper = cursor.map_or(Bound::Unbounded, Bound::Excluded);
    let page = conv
        .messages
        .range((Bound::Unbounded, upper))
        .rev()
        .filter(|(_, m)| m.listed_at <= ctx.instant)
        .take(limit)
        .map(|(_, m)| m.to_json())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "data": page }))
}

/// A message of a conversation, or 404.
fn find<'c>(conv: &'c ConvRec, id: &str) -> Result<&'c MsgRec, ApiError> {
    conv.message_keys
        .get(id)
        .and_then(|k| conv.messages.get(k))
        .ok_or_else(|| ApiError::not_found("message", id))
}

/// A message of a conversation for changing, or 404.
fn find_mut<'c>(conv: &'c mut ConvRec, id: &str) -> Result<&'c mut MsgRec, ApiError> {
    let key = *conv
        .message_keys
        .get(id)
        .ok_or_else(|| ApiError::not_found("message", id))?;
    conv.messages
        .get_mut(&key)
        .ok_or_else(|| ApiError::not_found("message", id))
}

/// `GET /conversations/{id}/messages/{messageId}`.
pub(crate) fn get(ctx: &Ctx<'_>, conv_id: &str, id: &str) -> Result<Value, ApiError> {
    find(ctx.state.conversation(conv_id)?, id)?.to_json()
}

/// `PUT /conversations/{id}/messages/{messageId}`: edit.
pub(crate) fn edit(
    ctx: &mut Ctx<'_>,
    req: &ApiRequest,
    conv_id: &str,
    id: &str,
) -> Result<Value, ApiError> {
    let body = req.json_value()?;
    if !body.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    if let Some(problem) = crate::api::custom_problem(&body) {
        return Err(ApiError::invalid(problem));
    }
    let edit: MessageEdit = decode(body)?;
    let now = ctx.now;
    let conv = ctx.state.conversation_mut(conv_id)?;
    let rec = find_mut(conv, id)?;
    edit.text.apply_to(&mut rec.message.text);
    edit.custom.apply_to_map(&mut rec.message.custom);
    rec.message.edited_at = Some(now);
    let message = rec.to_json()?;
    let data = json!({ "conversation": to_json(&conv.model())?, "message": message });
    ctx.emit(WebhookEventType::MessageUpdated, data);
    Ok(json!({}))
}

/// `DELETE /conversations/{id}/messages/{messageId}`.
pub(crate) fn delete(ctx: &mut Ctx<'_>, conv_id: &str, id: &str) -> Result<Value, ApiError> {
    let conv = ctx.state.conversation_mut(conv_id)?;
    let key = conv
        .message_keys
        .remove(id)
        .ok_or_else(|| ApiError::not_found("message", id))?;
    let rec = conv
        .messages
        .remove(&key)
        .ok_or_else(|| ApiError::not_found("message", id))?;
    let conversation = to_json(&conv.model())?;
    ctx.state.message_tombstones.insert(id.to_owned(), key);
    let data = json!({ "conversation": conversation, "message": rec.to_json()? });
    ctx.emit(WebhookEventType::MessageDeleted, data);
    Ok(json!({}))
}

/// `PUT` / `DELETE /conversations/{id}/messages/{messageId}/reactions/{emoji}/{userId}`.
pub(crate) fn react(
    ctx: &mut Ctx<'_>,
    conv_id: &str,
    id: &str,
    emoji: &str,
    user: &str,
    add: bool,
) -> Result<Value, ApiError> {
    if emoji.is_empty() {
        return Err(ApiError::invalid("the emoji is empty"));
    }
    ctx.state.conversation(conv_id)?;
    ctx.state.user(user)?;
    let conv = ctx.state.conversation_mut(conv_id)?;
    let rec = find_mut(conv, id)?;
    if add {
        rec.reactions
            .entry(emoji.to_owned())
            .or_default()
            .insert(user.to_owned());
    } else if let Some(users) = rec.reactions.get_mut(emoji) {
        users.remove(user);
        if users.is_empty() {
            rec.reactions.remove(emoji);
        }
    }
    Ok(json!({}))
}

/// `GET /conversations/{id}/messages/{messageId}/reactions/{emoji}`: who reacted with the
/// emoji, `{"data": [{"userId": …}]}` in user id order; `limit` 1..=100 (default 10),
/// `startingAfter` a user id. TalkJS's transfer example calls it with `?limit=100`; no
/// reference page shows it.
pub(crate) fn list_reactions(
    ctx: &Ctx<'_>,
    req: &ApiRequest,
    conv_id: &str,
    id: &str,
    emoji: &str,
) -> Result<Value, ApiError> {
    let limit = parse_limit(req, 100)?;
    let rec = find(ctx.state.conversation(conv_id)?, id)?;
    let after = req.query("startingAfter");
    let page: Vec<ReactionUser> = rec
        .reactions
        .get(emoji)
        .into_iter()
        .flatten()
        .filter(|user| after.is_none_or(|a| user.as_str() > a))
        .take(limit)
        .map(|user| ReactionUser::new(user.as_str()))
        .collect();
    Ok(json!({ "data": to_json(&page)? }))
}

/// A text field of an upload, if sent: `None` when absent, 400 when not UTF-8 or empty.
fn text_field(parts: &[multipart::Part], name: &str) -> Result<Option<String>, ApiError> {
    let Some(part) = parts.iter().find(|p| p.name.as_deref() == Some(name)) else {
        return Ok(None);
    };
    match std::str::from_utf8(&part.data) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_owned())),
        _ => Err(ApiError::invalid(format!(
            "the form field {name:?} must be non-empty text"
        ))),
    }
}

/// A number field of an upload, if sent (400 when it is not a number of that kind).
fn number_field<T: std::str::FromStr>(
    parts: &[multipart::Part],
    name: &str,
) -> Result<Option<T>, ApiError> {
    text_field(parts, name)?
        .map(|text| {
            text.parse::<T>().map_err(|_| {
                ApiError::invalid(format!(
                    "the form field {name:?} is not a valid number: {text:?}"
                ))
            })
        })
        .transpose()
}

/// `POST /files` (multipart, field `file`).
pub(crate) fn upload(ctx: &mut Ctx<'_>, req: &ApiRequest) -> Result<Value, ApiError> {
    let RequestBody::Multipart {
        bytes,
        content_type,
    } = &req.body
    else {
        return Err(ApiError::bad_request(
            "INVALID_CONTENT_TYPE",
            "a file upload takes a multipart/form-data body (so it cannot be a batch operation)",
        ));
    };
    let mut parts = multipart::parts(content_type, bytes)
        .map_err(|reason| ApiError::bad_request("INVALID_MULTIPART", reason))?;
    // The optional fields TalkJS's transfer example sends: subtype, width, height, duration.
    let subtype = text_field(&parts, "subtype")?;
    let width = number_field::<u64>(&parts, "width")?;
    let height = number_field::<u64>(&parts, "height")?;
    let duration = number_field::<f64>(&parts, "duration")?;
    if duration.is_some_and(|d| !d.is_finite() || d < 0.0) {
        return Err(ApiError::invalid(
            "the form field \"duration\" must be a number of seconds, at least 0",
        ));
    }
    let position = parts
        .iter()
        .position(|p| p.name.as_deref() == Some("file"))
        .ok_or_else(|| {
            ApiError::bad_request("INVALID_MULTIPART", "the multipart body has no `file` part")
        })?;
    let part = parts.swap_remove(position);
    let token = loop {
        let token = random_id("att_", 24);
        if !ctx.state.files.contains_key(&token) {
            break token;
        }
    };
    ctx.state.files.insert(
        token.clone(),
        StoredFile {
            filename: part.filename.unwrap_or_else(|| "file".to_owned()),
            content_type: part.content_type,
            data: part.data,
            subtype,
            width,
            height,
            duration,
        },
    );
    // The field TalkJS's transfer example reads (`UploadedFile` encodes as `fileToken`).
    to_json(&UploadedFile::new(token))
}
