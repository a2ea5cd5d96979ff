//! `/users…` (except a user's conversation list, in `conversations`) and `/presences`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use talkjs_models::{
    Patch, Presence, PresenceQuery, PresenceSession, Timestamp, User, UserUpsert, WebhookEventType,
};

use crate::api::{ApiError, ApiRequest, to_json};
use crate::store::{Ctx, UserRec, paginate, parse_bool, parse_limit};

/// Most users in one batch upsert.
const MAX_BATCH_USERS: usize = 100;

/// Applies an upsert to a user (or creates one); `Err` holds the reason it is invalid.
fn apply_upsert(
    id: &str,
    existing: Option<&User>,
    upsert: UserUpsert,
    now: Timestamp,
) -> Result<User, String> {
    let mut user = match (existing, &upsert.name) {
        (Some(user), _) => user.clone(),
        (None, Patch::Set(name)) => {
            let mut user = User::new(id, name.as_str(), now);
            user.role = Some("default".to_owned());
            user
        }
        (None, _) => return Err(format!("name is required when creating user {id:?}")),
    };
    match upsert.name {
        Patch::Set(name) => user.name = name,
        Patch::Clear => return Err("name cannot be null".to_owned()),
        Patch::Unchanged => {}
    }
    upsert.email.apply_to(&mut user.email);
    upsert.phone.apply_to(&mut user.phone);
    upsert.photo_url.apply_to(&mut user.photo_url);
    upsert.welcome_message.apply_to(&mut user.welcome_message);
    upsert.locale.apply_to(&mut user.locale);
    upsert
        .availability_text
        .apply_to(&mut user.availability_text);
    match upsert.role {
        Patch::Set(role) => user.role = Some(role),
        Patch::Clear => user.role = Some("default".to_owned()),
        Patch::Unchanged => {}
    }
    upsert.custom.apply_to_map(&mut user.custom);
    match upsert.push_tokens {
        Patch::Set(tokens) => {
            let stored = user.push_tokens.get_or_insert_with(BTreeMap::new);
            for (token, register) in tokens {
                if register == Some(true) {
                    stored.insert(token, Value::Bool(true));
                } else {
                    stored.remove(&token);
                }
            }
        }
        Patch::Clear => user.push_tokens = None,
        Patch::Unchanged => {}
    }
    Ok(user)
}

/// Decodes one user upsert body, checking it is an object.
fn decode_upsert(value: Value) -> Result<UserUpsert, String> {
    if !value.is_object() {
        return Err("the user must be a JSON object".to_owned());
    }
    if let Some(problem) = crate::api::custom_problem(&value) {
        return Err(problem);
    }
    // Documented as `pushTokens?: Map<string, true | null> | null`
    // (https://talkjs.com/docs/Reference/REST_API/Users): `false` is not a value.
    if let Some(Value::Object(tokens)) = value.get("pushTokens") {
        if let Some((token, v)) = tokens
            .iter()
            .find(|(_, v)| !matches!(v, Value::Bool(true) | Value::Null))
        {
            return Err(format!(
                "pushTokens values must be true (register) or null (unregister); {token:?} is {v}"
            ));
        }
    }
    serde_json::from_value(value).map_err(|e| format!("the body has the wrong shape: {e}"))
}

/// Stores a user and records the webhook event.
fn store_user(ctx: &mut Ctx<'_>, id: &str, user: User) -> Result<(), ApiError> {
    let created = !ctx.state.users.contains_key(id);
    let data = json!({ "user": to_json(&user)? });
    if let Some(rec) = ctx.state.users.get_mut(id) {
        rec.user = user;
    } else {
        let seq = ctx.state.next_seq();
        ctx.state.users.insert(id.to_owned(), UserRec { user, seq });
    }
    let event = if created {
        WebhookEventType::UserCreated
    } else {
        WebhookEventType::UserUpdated
    };
    ctx.emit(event, data);
    Ok(())
}

/// `PUT /users/{id}`.
pub(crate) fn put_user(ctx: &mut Ctx<'_>, req: &ApiRequest, id: &str) -> Result<Value, ApiError> {
    let upsert = decode_upsert(req.json_value()?).map_err(ApiError::invalid)?;
    let existing = ctx.state.users.get(id).map(|r| &r.user);
    let user = apply_upsert(id, existing, upsert, ctx.now).map_err(ApiError::invalid)?;
    store_user(ctx, id, user)?;
    Ok(json!({}))
}

/// `PUT /users`: all or nothing.
pub(crate) fn put_users(ctx: &mut Ctx<'_>, req: &ApiRequest) -> Result<Value, ApiError> {
    let Value::Object(entries) = req.json_value()? else {
        return Err(ApiError::invalid(
            "the body must be an object keyed by user id",
        ));
    };
    if entries.len() > MAX_BATCH_USERS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_BATCH_USERS} users per request, got {}",
            entries.len()
        )));
    }
    let mut errors = serde_json::Map::new();
    let mut updated = Vec::with_capacity(entries.len());
    for (id, value) in entries {
        if id.is_empty() {
            errors.insert(id, json!("the user id is empty"));
            continue;
        }
        let existing = ctx.state.users.get(&id).map(|r| &r.user);
        match decode_upsert(value).and_then(|u| apply_upsert(&id, existing, u, ctx.now)) {
            Ok(user) => updated.push((id, user)),
            Err(reason) => {
                errors.insert(id, Value::String(reason));
            }
        }
    }
    if !errors.is_empty() {
        let mut error = ApiError::invalid(format!(
            "{} of the users are invalid; nothing was changed",
            errors.len()
        ));
        error.reasons.extend(
            errors
                .iter()
                .map(|(id, e)| format!("{id}: {}", e.as_str().unwrap_or_default())),
        );
        error.extra = Some(("errors", Value::Object(errors)));
        return Err(error);
    }
    for (id, user) in updated {
        store_user(ctx, &id, user)?;
    }
    Ok(json!({}))
}

/// `GET /users/{id}`.
pub(crate) fn get_user(ctx: &Ctx<'_>, id: &str) -> Result<Value, ApiError> {
    to_json(ctx.state.user(id)?)
}

/// `GET /users`.
pub(crate) fn list_users(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<Value, ApiError> {
    let limit = parse_limit(req, 100)?;
    let online = parse_bool(req, "isOnline")?;
    let cursor = match req.query("startingAfter") {
        None => None,
        Some(after) => {
            let rec = ctx.state.users.get(after).ok_or_else(|| {
                ApiError::invalid(format!("startingAfter: user {after:?} does not exist"))
            })?;
            Some((rec.user.created_at, rec.seq))
        }
    };
    let items = ctx
        .state
        .users
        .iter()
        .filter(|(id, _)| online.is_none_or(|o| ctx.state.online.contains(*id) == o))
        .map(|(_, r)| ((r.user.created_at, r.seq), &r.user))
        .collect();
    let page = paginate(items, cursor, true, limit);
    Ok(json!({ "data": to_json(&page)? }))
}

/// The sessions of a user marked online without [`FakeTalkJs::set_presence`]: one background
/// session and one widget with focus, nothing selected, nobody typing.
///
/// [`FakeTalkJs::set_presence`]: crate::FakeTalkJs::set_presence
fn default_presence(user: &str) -> Presence {
    Presence::online(
        vec![PresenceSession::new(format!("{user}-background"))],
        vec![PresenceSession::new(format!("{user}-widget")).has_focus(true)],
    )
}

/// Whether a session meets the session conditions of a presence query.
fn session_matches(query: &PresenceQuery, session: &PresenceSession) -> bool {
    let selected = match &query.selected_conversation_id {
        Patch::Unchanged => true,
        // An explicit `null`: online with no conversation selected.
        Patch::Clear => session.selected_conversation_id.is_none(),
        Patch::Set(c) => session.selected_conversation_id.as_ref() == Some(c),
    };
    selected
        && query.has_focus.is_none_or(|f| session.has_focus == f)
        && query.is_typing.is_none_or(|t| session.is_typing == t)
}

/// `POST /presences`: `{"data": {"<userId>": {"status", "backgroundSessions", "widgets"}}}`
/// for online users (<https://talkjs.com/docs/Reference/REST_API/User_Presence/>).
///
/// Without `includeBackgroundSessions: true`, only users with a visible widget are listed
/// and their background sessions are not. `userIds` keeps the listed users; a user is listed
/// when one of the sessions considered (widgets, plus background sessions when included)
/// meets every given condition (`selectedConversationId`, `null` meaning none selected,
/// `hasFocus`, `isTyping`). The answer shows all of a listed user's sessions of the kinds
/// considered: the docs do not say whether TalkJS trims the non-matching ones.
pub(crate) fn presences(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<Value, ApiError> {
    let query: PresenceQuery = req.json_or_default()?;
    let with_background = query.include_background_sessions == Some(true);
    let has_conditions = !query.selected_conversation_id.is_unchanged()
        || query.has_focus.is_some()
        || query.is_typing.is_some();
    let mut data = BTreeMap::new();
    for id in &ctx.state.online {
        let wanted = query
            .user_ids
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|u| u == id.as_str()));
        if !wanted {
            continue;
        }
        let mut presence = ctx
            .state
            .presence
            .get(id)
            .cloned()
            .unwrap_or_else(|| default_presence(id));
        if !with_background {
            presence.background_sessions.clear();
            if presence.widgets.is_empty() {
                continue;
            }
        }
        if !has_conditions || presence.sessions().any(|s| session_matches(&query, s)) {
            data.insert(id.clone(), presence);
        }
    }
    Ok(json!({ "data": to_json(&data)? }))
}
