//! `/conversations…` (and a user's list, `/users/{id}/conversations`), participants and read
//! state.

use serde_json::{Value, json};
use talkjs_models::{
    Access, ConversationFilter, ConversationUpsert, FieldPredicate, Notify, ParticipantEmail,
    ParticipantOverwrite, ParticipantPatch, TimePredicate, Timestamp, WebhookEventType,
};

use tokio::time::Instant;

use crate::api::{ApiError, ApiRequest, percent_encode, to_json};
use crate::store::{
    ConvKeys, ConvRec, Ctx, MsgKey, PartRec, State, paginate, parse_bool, parse_limit, parse_ts,
};

/// Most conversations per page.
const MAX_CONVERSATIONS: usize = 30;

/// `PUT /conversations/{id}`.
pub(crate) fn put_conversation(
    ctx: &mut Ctx<'_>,
    req: &ApiRequest,
    id: &str,
) -> Result<Value, ApiError> {
    // Every field is optional, so no body at all is like `{}` (our reading).
    let body = if req.body_is_empty() {
        json!({})
    } else {
        req.json_value()?
    };
    if !body.is_object() {
        return Err(ApiError::invalid("the body must be a JSON object"));
    }
    if let Some(problem) = crate::api::custom_problem(&body) {
        return Err(ApiError::invalid(problem));
    }
    let upsert: ConversationUpsert = crate::api::decode(body)?;
    let unknown: Vec<String> = upsert
        .participants
        .iter()
        .filter(|u| !ctx.state.users.contains_key(u.as_str()))
        .map(|u| format!("participant {:?} is not an existing user", u.as_str()))
        .collect();
    if !unknown.is_empty() {
        let mut error = ApiError::invalid(unknown.join("; "));
        error.reasons = unknown;
        return Err(error);
    }
    if !ctx.state.conversations.contains_key(id) {
        let seq = ctx.state.next_seq();
        ctx.state
            .conversations
            .insert(id.to_owned(), ConvRec::new(id, seq, ctx.now, ctx.listed_at));
        ctx.state.conv_tombstones.remove(id);
    }
    let now = ctx.now;
    let conv = ctx.state.conversation_mut(id)?;
    upsert.subject.apply_to(&mut conv.subject);
    upsert.photo_url.apply_to(&mut conv.photo_url);
    upsert.welcome_messages.apply_to(&mut conv.welcome_messages);
    upsert.custom.apply_to_map(&mut conv.custom);
    for user in upsert.participants {
        let user = user.into_inner();
        conv.removed.remove(&user);
        conv.participants.entry(user).or_insert_with(|| PartRec {
            access: Access::ReadWrite,
            notify: Notify::All,
            joined_at: now,
            read_until: None,
        });
    }
    Ok(json!({}))
}

/// `GET /conversations/{id}`.
pub(crate) fn get_conversation(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    to_json(&ctx.state.conversation(id)?.model())
}

/// `DELETE /conversations/{id}`.
pub(crate) fn delete_conversation(ctx: &mut Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    let conv = ctx
        .state
        .conversations
        .remove(id)
        .ok_or_else(|| ApiError::not_found("conversation", id))?;
    ctx.state
        .conv_tombstones
        .insert(id.to_owned(), conv.keys(ctx.instant));
    for (message_id, key) in &conv.message_keys {
        ctx.state
            .message_tombstones
            .insert(message_id.clone(), *key);
    }
    let data = json!({ "conversation": to_json(&conv.model())? });
    ctx.emit(WebhookEventType::ConversationDeleted, data);
    Ok(json!({}))
}

/// `GET /conversations`.
pub(crate) fn list_all(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<Value, ApiError> {
    let items = list_conversations(ctx.state, req, None, ctx.instant)?
        .into_iter()
        .map(|c| c.listed_model(ctx.instant))
        .collect::<Vec<_>>();
    Ok(json!({ "data": to_json(&items)? }))
}

/// `GET /users/{id}/conversations`.
pub(crate) fn user_conversations(
    ctx: &Ctx<'_>,
    req: &ApiRequest,
    id: &str,
) -> Result<Value, ApiError> {
    if !ctx.state.users.contains_key(id) && req.version_at_least("2024-01-01") {
        return Err(ApiError::not_found("user", id));
    }
    let items = list_conversations(ctx.state, req, Some(id), ctx.instant)?
        .into_iter()
        .map(|c| c.user_model(id, ctx.instant))
        .collect::<Vec<_>>();
    Ok(json!({ "data": to_json(&items)? }))
}

/// The order of a conversation list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    CreatedAt,
    LastActivity,
}

impl Order {
    /// The sort key of a conversation in this order.
    fn key(self, keys: &ConvKeys) -> MsgKey {
        match self {
            Self::CreatedAt => (keys.created_at, keys.seq),
            Self::LastActivity => keys.activity,
        }
    }
}

/// Whether `value` satisfies a predicate.
fn test<T: PartialEq>(predicate: &FieldPredicate<T>, value: Option<&T>) -> bool {
    match predicate {
        FieldPredicate::Eq(v) => value == Some(v),
        FieldPredicate::Ne(v) => value != Some(v),
        FieldPredicate::OneOf(vs) => value.is_some_and(|x| vs.contains(x)),
        FieldPredicate::NotOneOf(vs) => !value.is_some_and(|x| vs.contains(x)),
        FieldPredicate::Exists => value.is_some(),
        FieldPredicate::NotExists => value.is_none(),
        _ => false,
    }
}

/// Whether a time matches a time predicate (`None`: the time is unset, e.g. no last message,
/// which matches nothing).
fn test_time(pred: TimePredicate, t: Option<Timestamp>) -> bool {
    let Some(t) = t else {
        return false;
    };
    match pred {
        TimePredicate::After(x) => t > x,
        TimePredicate::Before(x) => t < x,
        TimePredicate::AtOrAfter(x) => t >= x,
        TimePredicate::AtOrBefore(x) => t <= x,
        TimePredicate::Between(a, b) => a <= t && t <= b,
        TimePredicate::NotBetween(a, b) => t < a || t > b,
        _ => false,
    }
}

/// Whether a conversation matches a filter, for `user` (or for any participant), in a
/// listing at `at`.
fn matches(conv: &ConvRec, filter: &ConversationFilter, user: Option<&str>, at: Instant) -> bool {
    let custom_ok = filter
        .custom
        .iter()
        .all(|(key, pred)| test(pred, conv.custom.get(key)));
    let user_access = |u: &str| {
        conv.participants
            .get(u)
            .map_or(Access::None, |p| p.access.clone())
    };
    let access_ok = filter.access.as_ref().is_none_or(|pred| match user {
        Some(u) => test(pred, Some(&user_access(u))),
        None => conv
            .participants
            .values()
            .any(|p| test(pred, Some(&p.access))),
    });
    let unread_ok = filter.has_unread_messages.is_none_or(|want| match user {
        Some(u) => (conv.unread_count(u) > 0) == want,
        None => conv.participants.keys().any(|u| conv.unread_count(u) > 0) == want,
    });
    let subject_ok = filter
        .subject
        .as_ref()
        .is_none_or(|pred| test(pred, conv.subject.as_ref()));
    let created_ok = filter
        .created_at
        .is_none_or(|pred| test_time(pred, Some(conv.created_at)));
    let last_message_ok = filter.last_message_ts.is_none_or(|pred| {
        test_time(
            pred,
            conv.last_listed_message(at)
                .map(|(_, m)| m.message.created_at),
        )
    });
    custom_ok && access_ok && unread_ok && subject_ok && created_ok && last_message_ok
}

/// `orderBy`, `orderDirection` and `offsetTs` (API version 2021-02-09 and later; before,
/// the order is fixed to createdAt descending).
fn parse_order(req: &ApiRequest) -> Result<(Order, bool, Option<Timestamp>), ApiError> {
    let versioned = req.version_at_least("2021-02-09");
    let order = if versioned {
        match req.query("orderBy") {
            None => Order::LastActivity,
            Some(v) if v.eq_ignore_ascii_case("createdAt") => Order::CreatedAt,
            Some(v)
                if v.eq_ignore_ascii_case("lastActivity")
                    || v.eq_ignore_ascii_case("lastMessageTs") =>
            {
                Order::LastActivity
            }
            Some(v) => {
                return Err(ApiError::invalid(format!(
                    "orderBy must be createdAt or lastActivity, got {v:?}"
                )));
            }
        }
    } else {
        Order::CreatedAt
    };
    let descending = if versioned {
        match req.query("orderDirection") {
            None => true,
            Some(v) if v.eq_ignore_ascii_case("desc") => true,
            Some(v) if v.eq_ignore_ascii_case("asc") => false,
            Some(v) => {
                return Err(ApiError::invalid(format!(
                    "orderDirection must be ASC or DESC, got {v:?}"
                )));
            }
        }
    } else {
        true
    };
    let offset_ts = if versioned {
        parse_ts(req, "offsetTs")?
    } else {
        None
    };
    Ok((order, descending, offset_ts))
}

/// The filtered, ordered page of a conversation list (all, or those of `user`) at `at`:
/// only the conversations listed by then, their last message the newest one listed by then.
pub(crate) fn list_conversations<'s>(
    state: &'s State,
    req: &ApiRequest,
    user: Option<&str>,
    at: Instant,
) -> Result<Vec<&'s ConvRec>, ApiError> {
    let limit = parse_limit(req, MAX_CONVERSATIONS)?;
    let before = parse_ts(req, "lastMessageBefore")?;
    let after = parse_ts(req, "lastMessageAfter")?;
    let unreads_only = parse_bool(req, "unreadsOnly")?.unwrap_or(false);
    let filter: ConversationFilter = match req.query("filter") {
        None => ConversationFilter::default(),
        Some(raw) if raw.trim().is_empty() => ConversationFilter::default(),
        Some(raw) => serde_json::from_str(raw)
            .map_err(|e| ApiError::invalid(format!("filter is not a valid filter: {e}")))?,
    };
    let (order, descending, offset_ts) = parse_order(req)?;
    let cursor = match req.query("startingAfter") {
        None => None,
        Some(after_id) => {
            let keys = state
                .conversations
                .get(after_id)
                .map(|c| c.keys(at))
                .or_else(|| state.conv_tombstones.get(after_id).copied())
                .ok_or_else(|| {
                    ApiError::invalid(format!(
                        "startingAfter: conversation {after_id:?} does not exist"
                    ))
                })?;
            Some(order.key(&keys))
        }
    };
    let keep_removed = !req.version_at_least("2021-07-30");
    let items = state
        .conversations
        .values()
        .filter(|c| c.listed_at <= at)
        .filter(|c| match user {
            None => true,
            Some(u) => c.participants.contains_key(u) || (keep_removed && c.removed.contains(u)),
        })
        .filter(|c| !unreads_only || user.is_some_and(|u| c.unread_count(u) > 0))
        .filter(|c| {
            let last = c.last_listed_message(at).map(|(_, m)| m.message.created_at);
            before.is_none_or(|b| last.is_some_and(|l| l < b))
                && after.is_none_or(|a| last.is_some_and(|l| l > a))
        })
        .filter(|c| matches(c, &filter, user, at))
        .map(|c| (order.key(&c.keys(at)), c))
        .filter(|((primary, _), _)| {
            offset_ts.is_none_or(|o| {
                if descending {
                    *primary < o
                } else {
                    *primary > o
                }
            })
        })
        .collect();
    Ok(paginate(items, cursor, descending, limit))
}

/// The 404 for a user who is not a participant of conversation `id`.
fn not_a_participant(id: &str, user: &str) -> ApiError {
    ApiError::not_found("participant", &format!("{user} in conversation {id}"))
}

/// `POST /conversations/{id}/readBy/{userId}`.
pub(crate) fn read_by(ctx: &mut Ctx<'_>, id: &str, user: &str) -> Result<Value, ApiError> {
    ctx.state.user(user)?;
    let conv = ctx.state.conversation_mut(id)?;
    if !conv.participants.contains_key(user) {
        return Err(not_a_participant(id, user));
    }
    let mut newly_read = Vec::new();
    for rec in conv.messages.values_mut() {
        let own = rec.message.sender_id.as_ref().is_some_and(|s| s == user);
        if !own && !rec.message.read_by.iter().any(|r| r == user) {
            rec.message.read_by.push(user.into());
            newly_read.push(rec.message.clone());
        }
    }
    let conversation = to_json(&conv.model())?;
    let recipient = to_json(ctx.state.user(user)?)?;
    for message in newly_read {
        let data = json!({
            "conversation": conversation,
            "message": to_json(&message)?,
            "recipient": recipient,
        });
        ctx.emit(WebhookEventType::MessageRead, data);
    }
    Ok(json!({}))
}

/// Checks an access value of a participant body.
fn check_access(access: &Access, allow_none: bool) -> Result<(), ApiError> {
    match access {
        Access::ReadWrite | Access::Read => Ok(()),
        Access::None if allow_none => Ok(()),
        Access::None => Err(ApiError::invalid(
            "access \"None\" is only accepted by PATCH; PUT accepts ReadWrite or Read",
        )),
        other => Err(ApiError::invalid(format!(
            "access must be ReadWrite, Read or None, got {:?}",
            other.as_str()
        ))),
    }
}

/// Checks a notify value of a participant body.
fn check_notify(notify: &Notify) -> Result<(), ApiError> {
    match notify {
        Notify::Other(v) => Err(ApiError::invalid(format!(
            "notify must be true, false or \"MentionsOnly\", got {v:?}"
        ))),
        _ => Ok(()),
    }
}

/// `PUT /conversations/{id}/participants/{userId}`: overwrite.
pub(crate) fn put_participant(
    ctx: &mut Ctx<'_>,
    req: &ApiRequest,
    id: &str,
    user: &str,
) -> Result<Value, ApiError> {
    let body: ParticipantOverwrite = req.json_or_default()?;
    let access = body.access.unwrap_or(Access::ReadWrite);
    let notify = body.notify.unwrap_or(Notify::All);
    check_access(&access, false)?;
    check_notify(&notify)?;
    ctx.state.conversation(id)?;
    ctx.state.user(user)?;
    let now = ctx.now;
    let conv = ctx.state.conversation_mut(id)?;
    conv.removed.remove(user);
    // The overwrite resets access and notify; the read state is not a setting it carries.
    let (joined_at, read_until) = conv
        .participants
        .get(user)
        .map_or((now, None), |p| (p.joined_at, p.read_until));
    conv.participants.insert(
        user.to_owned(),
        PartRec {
            access,
            notify,
            joined_at,
            read_until,
        },
    );
    Ok(json!({}))
}

/// `PATCH /conversations/{id}/participants/{userId}`: merge. `readUntil` (ms) is stored and
/// shown on the participant; TalkJS's transfer example sets it this way (no reference page
/// lists it). Messages up to it no longer count as unread for the participant.
pub(crate) fn patch_participant(
    ctx: &mut Ctx<'_>,
    req: &ApiRequest,
    id: &str,
    user: &str,
) -> Result<Value, ApiError> {
    let body: ParticipantPatch = req.json_or_default()?;
    if let Some(access) = &body.access {
        check_access(access, true)?;
    }
    if let Some(notify) = &body.notify {
        check_notify(notify)?;
    }
    let conv = ctx.state.conversation_mut(id)?;
    let part = conv
        .participants
        .get_mut(user)
        .ok_or_else(|| not_a_participant(id, user))?;
    if let Some(access) = body.access {
        part.access = access;
    }
    if let Some(notify) = body.notify {
        part.notify = notify;
    }
    if let Some(read_until) = body.read_until {
        part.read_until = Some(read_until);
    }
    Ok(json!({}))
}

/// `DELETE /conversations/{id}/participants/{userId}` (idempotent).
pub(crate) fn delete_participant(
    ctx: &mut Ctx<'_>,
    id: &str,
    user: &str,
) -> Result<Value, ApiError> {
    let conv = ctx.state.conversation_mut(id)?;
    if conv.participants.remove(user).is_some() {
        conv.removed.insert(user.to_owned());
    }
    Ok(json!({}))
}

/// `GET /conversations/{id}/participants/{userId}`: the participant's settings.
pub(crate) fn get_participant(ctx: &Ctx<'_>, id: &str, user: &str) -> Result<Value, ApiError> {
    let conv = ctx.state.conversation(id)?;
    let part = conv
        .participants
        .get(user)
        .ok_or_else(|| not_a_participant(id, user))?;
    to_json(&conv.participant_model(user, part))
}

/// `GET /conversations/{id}/participants/{userId}/email`.
pub(crate) fn participant_email(ctx: &Ctx<'_>, id: &str, user: &str) -> Result<Value, ApiError> {
    let conv = ctx.state.conversation(id)?;
    if !conv.participants.contains_key(user) {
        return Err(not_a_participant(id, user));
    }
    let address = format!(
        "{}.{}@reply.talkjs-fake.invalid",
        percent_encode(id),
        percent_encode(user)
    );
    to_json(&ParticipantEmail::new(address))
}
