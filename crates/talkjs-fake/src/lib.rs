//! # talkjs-fake
//!
//! An in-process, stateful, in-memory server that speaks the
//! [TalkJS REST API](https://talkjs.com/docs/Reference/REST_API/Getting_Started/Introduction/),
//! for tests, examples and benchmarks: no account, no network, no cost.
//!
//! It is an independent implementation (it shares only the serde models and the
//! credential code with the client crates), so a test that drives the client against it
//! exercises two implementations of the documented behaviour.
//!
//! ```no_run
//! use talkjs_fake::{FakeTalkJs, RateLimitConfig};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // A server on 127.0.0.1 with a random port, app id and secret key.
//! let fake = FakeTalkJs::start().await?;
//! println!("base URL {}  app id {}", fake.base_url(), fake.app_id());
//! // Point a client at `fake.base_url()` with `fake.app_id()` and `fake.secret_key()`;
//! // resources live at `{base_url}/v1/{app_id}/…`.
//!
//! // Or configure it:
//! let fake = FakeTalkJs::builder()
//!     .app_id("tFakeApp")
//!     .secret_key("sk_test_fake")
//!     .rate_limit(RateLimitConfig { burst: 20, per_second: 50.0, ..RateLimitConfig::TALKJS })
//!     .start()
//!     .await?;
//! // … run the code under test, then look inside:
//! assert_eq!(fake.count_429(), 0);
//! let messages = fake.messages("order-123");
//! # let _ = messages;
//! # Ok(()) }
//! ```
//!
//! Also a binary: `cargo run -p talkjs-fake -- --port 8080` prints the base URL, app id and
//! secret key (only a generated one: a key given with `--secret-key` is not echoed) and
//! serves until interrupted.
//!
//! ## What is emulated
//!
//! * **API versions**: the `TalkJS-REST-Version` header (or a batch operation's
//!   `api_version`) selects the behaviour where versions differ (see below); without it,
//!   the app default applies ([`Builder::default_api_version`], `2024-01-01` unless set).
//! * **Transport**: HTTP/1.1 with keep-alive and HTTP/2 (prior knowledge), plain `http://`
//!   on 127.0.0.1. Every response is JSON (`{}` when there is nothing to return).
//! * **Authentication**: `Authorization: Bearer <app token>` (HS256 signed with the secret
//!   key, `tokenType: "app"`, `iss` = app id, `exp` present and not passed, no clock
//!   tolerance) or the legacy raw secret key; anything else is `401`. A wrong app id in
//!   the path is `404`.
//! * **Content type**: every request except GET needs `Content-Type: application/json`
//!   (parameters such as `; charset=utf-8` allowed), with or without a body, as the Get
//!   started page says; else `400`. With it, an empty body means "no body" (like `{}`
//!   where the body is optional). A non-empty body must be JSON (`400` otherwise), also
//!   where the endpoint ignores it. The one exception is `POST /files`, which takes
//!   `multipart/form-data` and nothing else.
//! * **Validation**: `custom` values must be strings (users, conversations, messages);
//!   `pushTokens` values must be `true` or `null`; bodies of the wrong shape are `400`.
//! * **Errors**: `400` / `401` / `404` / `405` / `429` / `5xx` with a JSON body
//!   `{"errorCode": "…", "reasons": ["…"]}` (the batch user upsert adds `"errors"`, per
//!   user id).
//! * **Users**: `PUT /users/{id}` merges (omitted: kept, `null`: cleared; `name` required
//!   on creation; `custom` is replaced as a whole; `pushTokens` merge per token);
//!   `PUT /users` batch upsert of at most 100 users, all or nothing; `GET /users/{id}`;
//!   `GET /users` (`limit` 1..=100, `startingAfter`, `isOnline`);
//!   `GET /users/{id}/conversations` (`limit` 1..=30, `startingAfter`, `unreadsOnly`,
//!   `lastMessageBefore`, `lastMessageAfter`, `orderBy`, `orderDirection`, `offsetTs`,
//!   `filter`; an unknown user is `404` from API version 2024-01-01, else an empty list);
//!   `POST /presences` (users marked online with [`FakeTalkJs::set_online`] or
//!   [`FakeTalkJs::set_presence`]; the documented filters, see `users::presences`).
//! * **Conversations**: `PUT` merges and only **adds** participants, which must be existing
//!   users (`400` otherwise); `GET`; `DELETE` (messages too); `GET /conversations` with
//!   `limit` 1..=30, `startingAfter`, `lastMessageBefore`/`After`, `orderBy`
//!   (`createdAt` | `lastActivity`, the default) and `orderDirection` (`ASC` | `DESC`, the
//!   default) from API version 2021-02-09 (createdAt DESC before), `offsetTs`, and `filter`
//!   (JSON: `custom` with `==`, `!=`, `oneOf`, `!oneOf`, `exists`, `!exists`; `access`;
//!   `hasUnreadMessages`; in the all-conversations list, `access` and `hasUnreadMessages`
//!   match if any participant matches). `POST /conversations/{id}/readBy/{userId}`.
//! * **Participants**: `PUT` overwrites (omitted fields reset to `ReadWrite` / `true`;
//!   `access: "None"` is refused), `PATCH` merges (accepts `"None"`), `DELETE` is
//!   idempotent (before API version 2021-07-30 the conversation stays in the user's list),
//!   `GET …/email` returns `{"emailAddress": …}`.
//! * **Messages**: `POST` an array of 1 to 10 user/system messages, all validated before
//!   any is stored (sender must be a participant; a sender requires `type: "UserMessage"`;
//!   referenced messages and attachment tokens must exist; a system message has no
//!   `location` or `referencedMessageId`), answered with `[{"id": "msg_…"}]`;
//!   `idempotencyKey` deduplicates per conversation (same key: same id, no new message;
//!   keys are kept forever rather than 24 hours); `GET` list newest first (`limit` 1..=100,
//!   `startingAfter`), `GET` one, `PUT` edit (sets `editedAt`), `DELETE`, reactions
//!   (`PUT`/`DELETE …/reactions/{emoji}/{userId}`, shown as `"reactions"` on the message,
//!   an object of emoji to user ids; `GET …/reactions/{emoji}` lists who reacted as
//!   `{"data": [{"userId": …}]}`, `limit` 1..=100, `startingAfter` a user id).
//! * **Import**: `POST /import/conversations/{id}/messages`: 1 to 10 user messages (up to
//!   [`Builder::max_import_batch`] when set, e.g. 100 as TalkJS's transfer example sends;
//!   more is a `400` that applies nothing), `origin: "import"`, never deduplicated, no
//!   webhooks, answered with `[{"id": …}]` in order. Two item shapes: the reference page's
//!   (`text`, `timestamp`, `readBy` required) and the transfer example's (`createdAt`, and
//!   `text` or `content` blocks; a file block's `fileToken` is resolved to the uploaded
//!   file, and `text`, `attachment` and `location` are filled from the blocks).
//! * **Participants' `readUntil`**: set with a participant `PATCH`, shown on the
//!   participant, and messages up to it no longer count as unread.
//! * **Files**: `POST /files` (multipart: part `file`; optional fields `subtype`, `width`,
//!   `height`, `duration`, a `400` when malformed) returns `{"fileToken": …}`, as TalkJS's
//!   transfer example reads it; the attachment URL (`{base_url}/files/{token}/{name}`)
//!   serves the bytes.
//! * **Batch**: `POST /batch` with at most 10 `[seq, method, path, payload?, options?]`
//!   operations (GET payloads are query parameters; `options.api_version` is honoured).
//!   Operations run in request order; the results `[seq, status, "<body as JSON text>"]`
//!   come back **shuffled**. A batch counts once, in the batch rate-limit class.
//! * **Pagination**: lists are ordered by time, ties broken by insertion order, and
//!   `startingAfter` compares sort keys, so pages never repeat or skip items, even when
//!   many items share a millisecond or the cursor item was deleted since.
//! * **Rate limits** ([`RateLimitConfig`]): off by default; TalkJS's values are
//!   [`RateLimitConfig::TALKJS`]; `429` with `Retry-After`.
//! * **Faults** ([`Faults`]): seeded, reproducible connection resets, `503` before and
//!   `500` after processing, latency; and production's meaner ones: late writes (the
//!   answer lost, a reset or a `504`, while the write lands a moment later), listings that
//!   show new messages and conversations late, a server clock that differs from the
//!   client's, slow answers (past the client's timeout, while the write landed), `429`s
//!   with and without `Retry-After`. [`FakeTalkJs::fault_counts`] counts what happened.
//! * **Webhooks** (optional, [`Builder::webhook_url`]): `user.created`, `user.updated`,
//!   `message.sent`, `message.read`, `message.updated`, `message.deleted`,
//!   `conversation.deleted`, POSTed as `{"id","createdAt","type","data"}` and signed with
//!   `X-TalkJS-Timestamp` / `X-TalkJS-Signature` (upper-case hex HMAC-SHA256 of
//!   `timestamp.body` with the secret key). As TalkJS documents it: each attempt waits
//!   5 seconds for an answer, anything but a `200` is retried once (500 ms later), and no
//!   `message.read` is sent for conversations with more than 300 participants. Deliveries
//!   run in the background, in event order, and never hold up the request that produced
//!   the event. Events are recorded ([`FakeTalkJs::events`]) whether or not a URL is set
//!   (the unsent `message.read` events too); the outcome of each delivery is in
//!   [`FakeTalkJs::webhook_deliveries`].
//! * **Webhook faults** ([`WebhookFaults`]): seeded, reproducible lost events (neither
//!   attempt made), duplicated events (the retry after an ignored `200`), delays, and
//!   concurrent deliveries that do not keep event order; what a receiver has to survive.
//!
//! ## What is not emulated
//!
//! Notifications (email, SMS, push) and `notification.*` webhooks; access levels on
//! sends (a `Read` or `None` participant can still send through the REST API); user
//! presence from
//! real sessions; group size caps per plan; the 24-hour idempotency window; role
//! settings; `TalkJS-REST-Version` differences other than the ones listed above; TLS;
//! message `content` blocks other than on import (sent messages carry none); user
//! deletion; persistence (all state is lost on shutdown).
//! Error codes and the exact error body shape are the fake's own (TalkJS does not
//! document them).
#![deny(missing_docs)]

mod api;
mod auth;
mod clock;
mod config;
mod conversations;
mod fake;
mod faults;
mod messages;
mod multipart;
mod ratelimit;
mod router;
mod server;
mod store;
mod sync;
mod users;
mod webhook;

pub use config::{DEFAULT_MAX_IMPORT_BATCH, Faults, RateLimitConfig, WebhookFaults};
pub use fake::{Builder, Error, FakeTalkJs};
pub use faults::FaultCounts;
pub use webhook::WebhookDelivery;
