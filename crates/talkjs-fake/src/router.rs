//! Routes an [`ApiRequest`] to its handler; the batch endpoint.

use http::{Method, StatusCode};
use serde_json::Value;
use talkjs_models::{BatchMethod, BatchOperation, BatchResult};

use crate::api::{
    ApiError, ApiRequest, ApiResponse, Event, RequestBody, parse_query, split_path, to_json,
};
use crate::clock::Now;
use crate::store::{Ctx, State};
use crate::{conversations, messages, users};

/// Most operations in one batch.
const MAX_BATCH_OPERATIONS: usize = 10;

/// 405 for a known path with the wrong method.
fn method_not_allowed(req: &ApiRequest) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!(
            "{} is not supported on /{}",
            req.method,
            req.segments.join("/")
        ),
    )
}

/// Handles one request (a batch operation or a plain request) against the state, at `now`.
pub(crate) fn dispatch(
    state: &mut State,
    req: &ApiRequest,
    events: &mut Vec<Event>,
    now: Now,
) -> ApiResponse {
    let mut ctx = Ctx {
        state,
        events,
        now: now.stamp,
        instant: now.instant,
        listed_at: now.listed_at,
    };
    route(&mut ctx, req).into()
}

/// Routes a request by its path: to the handlers of users, conversations or messages, or
/// to the batch endpoint.
fn route(ctx: &mut Ctx<'_>, req: &ApiRequest) -> Result<Value, ApiError> {
    let segments: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    match segments.as_slice() {
        ["users", ..] | ["presences"] => route_users(ctx, req, &segments),
        ["conversations", _, "messages", ..] | ["import", ..] | ["files"] => {
            route_messages(ctx, req, &segments)
        }
        ["conversations", ..] => route_conversations(ctx, req, &segments),
        ["batch"] => match req.method {
            Method::POST if req.in_batch => {
                Err(ApiError::invalid("a batch cannot contain a batch"))
            }
            Method::POST => batch(ctx, req),
            _ => Err(method_not_allowed(req)),
        },
        _ => Err(no_route(req)),
    }
}

/// 404 for a path that is no endpoint.
fn no_route(req: &ApiRequest) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "ROUTE_NOT_FOUND",
        format!(
            "no endpoint {} /{} in the TalkJS REST API",
            req.method,
            req.segments.join("/")
        ),
    )
}

/// `/users…` and `/presences`.
fn route_users(ctx: &mut Ctx<'_>, req: &ApiRequest, segments: &[&str]) -> Result<Value, ApiError> {
    let m = &req.method;
    match segments {
        ["users"] => match *m {
            Method::PUT => users::put_users(ctx, req),
            Method::GET => users::list_users(ctx, req),
            _ => Err(method_not_allowed(req)),
        },
        ["users", id] => match *m {
            Method::PUT => users::put_user(ctx, req, id),
            Method::GET => users::get_user(ctx, id),
            _ => Err(method_not_allowed(req)),
        },
        ["users", id, "conversations"] => match *m {
            Method::GET => conversations::user_conversations(ctx, req, id),
            _ => Err(method_not_allowed(req)),
        },
        ["presences"] => match *m {
            Method::POST => users::presences(ctx, req),
            _ => Err(method_not_allowed(req)),
        },
        _ => Err(no_route(req)),
    }
}

/// `/conversations…` except messages: conversations, participants, read state.
fn route_conversations(
    ctx: &mut Ctx<'_>,
    req: &ApiRequest,
    segments: &[&str],
) -> Result<Value, ApiError> {
    let m = &req.method;
    match segments {
        ["conversations"] => match *m {
            Method::GET => conversations::list_all(ctx, req),
            _ => Err(method_not_allowed(req)),
        },
        ["conversations", id] => match *m {
            Method::PUT => conversations::put_conversation(ctx, req, id),
            Method::GET => conversations::get_conversation(ctx, id),
            Method::DELETE => conversations::delete_conversation(ctx, id),
            _ => Err(method_not_allowed(req)),
        },
        ["conversations", id, "readBy", user] => match *m {
            Method::POST => conversations::read_by(ctx, id, user),
            _ => Err(method_not_allowed(req)),
        },
        ["conversations", id, "participants", user] => match *m {
            Method::PUT => conversations::put_participant(ctx, req, id, user),
            Method::PATCH => conversations::patch_participant(ctx, req, id, user),
            Method::DELETE => conversations::delete_participant(ctx, id, user),
            Method::GET => conversations::get_participant(ctx, id, user),
            _ => Err(method_not_allowed(req)),
        },
        ["conversations", id, "participants", user, "email"] => match *m {
            Method::GET => conversations::participant_email(ctx, id, user),
            _ => Err(method_not_allowed(req)),
        },
        _ => Err(no_route(req)),
    }
}

/// `/conversations/{id}/messages…`, `/import…` and `/files`.
fn route_messages(
    ctx: &mut Ctx<'_>,
    req: &ApiRequest,
    segments: &[&str],
) -> Result<Value, ApiError> {
    let m = &req.method;
    match segments {
        ["conversations", id, "messages"] => match *m {
            Method::POST => messages::send(ctx, req, id),
            Method::GET => messages::list(ctx, req, id),
            _ => Err(method_not_allowed(req)),
        },
        ["conversations", id, "messages", msg] => match *m {
            Method::GET => messages::get(ctx, id, msg),
            Method::PUT => messages::edit(ctx, req, id, msg),
            Method::DELETE => messages::delete(ctx, id, msg),
            _ => Err(method_not_allowed(req)),
        },
        [
            "conversations",
            id,
            "messages",
            msg,
            "reactions",
            emoji,
            user,
        ] => match *m {
            Method::PUT => messages::react(ctx, id, msg, emoji, user, true),
            Method::DELETE => messages::react(ctx, id, msg, emoji, user, false),
            _ => Err(method_not_allowed(req)),
        },
        ["conversations", id, "messages", msg, "reactions", emoji] => match *m {
            Method::GET => messages::list_reactions(ctx, req, id, msg, emoji),
            _ => Err(method_not_allowed(req)),
        },
        ["import", "conversations", id, "messages"] => match *m {
            Method::POST => messages::import(ctx, req, id),
            _ => Err(method_not_allowed(req)),
        },
        ["files"] => match *m {
            Method::POST => messages::upload(ctx, req),
            _ => Err(method_not_allowed(req)),
        },
        _ => Err(no_route(req)),
    }
}

/// The HTTP method of a batch operation.
fn batch_method(method: &BatchMethod) -> Option<Method> {
    Some(match method {
        BatchMethod::Get => Method::GET,
        BatchMethod::Post => Method::POST,
        BatchMethod::Put => Method::PUT,
        BatchMethod::Patch => Method::PATCH,
        BatchMethod::Delete => Method::DELETE,
        _ => return None,
    })
}

/// Turns a GET payload (a JSON object) into query parameters.
fn payload_query(payload: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(map)) = payload else {
        return Vec::new();
    };
    map.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// `POST /batch`: runs each operation in request order, answers in a shuffled order.
fn batch(ctx: &mut Ctx<'_>, req: &ApiRequest) -> Result<Value, ApiError> {
    let Value::Array(items) = req.json_value()? else {
        return Err(ApiError::invalid(
            "the body must be a JSON array of [seq, method, path, payload?, options?] operations",
        ));
    };
    if items.len() > MAX_BATCH_OPERATIONS {
        return Err(ApiError::invalid(format!(
            "at most {MAX_BATCH_OPERATIONS} operations per batch, got {}",
            items.len()
        )));
    }
    let operations = items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            serde_json::from_value::<BatchOperation>(item)
                .map_err(|e| ApiError::invalid(format!("operation {i}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = Vec::with_capacity(operations.len());
    for op in operations {
        let response = match batch_method(&op.method) {
            None => ApiError::invalid(format!("unsupported method {}", op.method.as_str()))
                .into_response(),
            Some(_) if !op.path.starts_with('/') => {
                ApiError::invalid(format!("the path must start with '/', got {:?}", op.path))
                    .into_response()
            }
            Some(method) => {
                let (path, query) = op.path.split_once('?').unwrap_or((&op.path, ""));
                let mut query = parse_query(query);
                let body = if method == Method::GET || method == Method::DELETE {
                    query.extend(payload_query(op.payload.as_ref()));
                    RequestBody::Value(None)
                } else {
                    RequestBody::Value(op.payload)
                };
                let sub = ApiRequest {
                    method,
                    segments: split_path(path),
                    query,
                    body,
                    api_version: op
                        .options
                        .as_ref()
                        .and_then(|o| o.api_version.clone())
                        .unwrap_or_else(|| req.api_version.clone()),
                    in_batch: true,
                };
                route(ctx, &sub).into()
            }
        };
        let ApiResponse { status, body } = response;
        results.push(BatchResult::new(
            op.seq,
            status.as_u16(),
            Value::String(body.to_string()),
        ));
    }
    ctx.state.batch_rng.shuffle(&mut results);
    to_json(&results)
}
