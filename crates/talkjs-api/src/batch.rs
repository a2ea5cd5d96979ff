//! The batch endpoint: `client.batch()`.

use std::collections::BTreeSet;

use http::Method;
use talkjs_models::{BatchMethod, BatchOperation, BatchResponse};
use talkjs_transport::{Idempotency, RequestClass};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::request::ApiRequest;

/// Most operations in one batch request.
pub const MAX_OPERATIONS_PER_BATCH: usize = 10;

/// A batch operation's path from its segments, each percent-encoded as the resource API
/// encodes ids in its own paths (so an id with a space, `/`, `?` or `#` stays one segment).
///
/// ```
/// use talkjs_api::batch_path;
/// use talkjs_models::{BatchMethod, BatchOperation};
///
/// let path = batch_path(["conversations", "order 1/2", "participants", "alice"]);
/// assert_eq!(path, "/conversations/order%201%2F2/participants/alice");
/// let op = BatchOperation::new(1, BatchMethod::Delete, path);
/// # drop(op);
/// ```
pub fn batch_path<I>(segments: I) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut path = String::new();
    for segment in segments {
        path.push('/');
        talkjs_transport::percent_encode_into(&mut path, segment.as_ref());
    }
    path
}

/// The batch endpoint (`POST /batch`). Created by [`Client::batch`].
#[derive(Debug, Clone)]
pub struct Batch {
    client: Client,
}

impl Client {
    /// The batch endpoint: up to 10 operations in one request.
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::{BatchMethod, BatchOperation};
    /// let results = client.batch().send([BatchOperation::new(1, BatchMethod::Get, "/users/alice")]).await?;
    /// # Ok(()) }
    /// ```
    pub fn batch(&self) -> Batch {
        Batch {
            client: self.clone(),
        }
    }
}

impl Batch {
    /// Runs up to 10 operations in one request (`POST /batch`) and returns their results,
    /// matched by sequence number ([`BatchResponse::get`]).
    ///
    /// TalkJS may run the operations in any order, so do not batch operations that depend on
    /// each other. A failing operation does not fail the batch: check each result's status.
    /// The call goes through the batch rate-limit class (1 per second). It is retried after
    /// a failure only when no operation is a `POST` (every other method is idempotent at
    /// TalkJS).
    ///
    /// Rejected before sending: no operations, more than 10, a repeated sequence number, a
    /// path that does not start with `/`, a `GET` whose payload is not an object of strings
    /// (its query parameters), or a path with a `.` or `..` segment (which a hop
    /// that normalises paths would resolve to another resource). Build paths from ids with
    /// [`batch_path`], which percent-encodes each segment. An answer that lacks the result of an operation is a
    /// [`Error::Decode`].
    ///
    /// ```no_run
    /// # async fn run(client: talkjs_api::Client) -> Result<(), talkjs_api::Error> {
    /// use talkjs_models::{BatchMethod, BatchOperation, UserUpsert};
    /// let results = client.batch().send([
    ///     BatchOperation::new(1, BatchMethod::Get, "/users/alice"),
    ///     BatchOperation::new(2, BatchMethod::Put, "/users/bob")
    ///         .json_payload(&UserUpsert::new().name("Bob"))
    ///         .map_err(|e| talkjs_api::Error::InvalidArgument(e.to_string()))?,
    /// ]).await?;
    /// let alice = results.get(1).expect("every operation has a result");
    /// println!("GET /users/alice -> {}", alice.status);
    /// # Ok(()) }
    /// ```
    pub async fn send(
        &self,
        operations: impl IntoIterator<Item = BatchOperation>,
    ) -> Result<BatchResponse> {
        let operations: Vec<BatchOperation> = operations.into_iter().collect();
        let seqs = check_operations(&operations)?;
        let mut req = ApiRequest::new(Method::POST, "/batch", &["batch"]);
        req.json(&operations)?;
        req.class(RequestClass::Batch);
        let idempotency = if operations.iter().any(|op| op.method == BatchMethod::Post) {
            Idempotency::NonIdempotent
        } else {
            Idempotency::Idempotent
        };
        req.idempotency(idempotency);
        let response = self.client.send(req).await?;
        let body = response.into_body();
        let results: BatchResponse = crate::client::decode(body.clone())?;
        if let Some(missing) = seqs.iter().find(|seq| results.get(**seq).is_none()) {
            return Err(Error::Decode {
                source: serde::de::Error::custom(format!(
                    "the batch answer has no result for operation {missing}"
                )),
                body,
            });
        }
        Ok(results)
    }
}

fn check_operations(operations: &[BatchOperation]) -> Result<BTreeSet<u32>> {
    if operations.is_empty() {
        return Err(Error::InvalidArgument(
            "a batch needs at least one operation".into(),
        ));
    }
    if operations.len() > MAX_OPERATIONS_PER_BATCH {
        return Err(Error::InvalidArgument(format!(
            "{} operations in one batch; TalkJS accepts at most {MAX_OPERATIONS_PER_BATCH}",
            operations.len()
        )));
    }
    let mut seqs = BTreeSet::new();
    for op in operations {
        if !seqs.insert(op.seq) {
            return Err(Error::InvalidArgument(format!(
                "sequence number {} appears twice in one batch; results are matched by it",
                op.seq
            )));
        }
        if !op.path.starts_with('/') {
            return Err(Error::InvalidArgument(format!(
                "batch path {:?} must start with '/' (relative to /v1/{{appId}}, e.g. \"/users/alice\")",
                op.path
            )));
        }
        let path = op.path.split(['?', '#']).next().unwrap_or_default();
        if op.method == BatchMethod::Get
            && op.payload.as_ref().is_some_and(|payload| {
                !payload
                    .as_object()
                    .is_some_and(|params| params.values().all(serde_json::Value::is_string))
            })
        {
            return Err(Error::InvalidArgument(format!(
                "the payload of GET operation {} must be its query parameters, an object of \
                 strings (use BatchOperation::query)",
                op.seq
            )));
        }
        if path.split('/').any(is_dot_segment) {
            return Err(Error::InvalidArgument(format!(
                "batch path {:?} has a \".\" or \"..\" segment; build it with batch_path(), which encodes ids",
                op.path
            )));
        }
    }
    Ok(seqs)
}

/// `.` or `..`, also percent-encoded (`%2E`), which normalisation decodes first.
fn is_dot_segment(segment: &str) -> bool {
    let decoded = segment.replace("%2E", ".").replace("%2e", ".");
    decoded == "." || decoded == ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_batches() {
        let op = |seq| BatchOperation::new(seq, BatchMethod::Get, "/users/a");
        assert!(check_operations(&[]).is_err());
        assert!(check_operations(&(0..11).map(op).collect::<Vec<_>>()).is_err());
        assert!(check_operations(&[op(1), op(1)]).is_err());
        assert!(check_operations(&[BatchOperation::new(1, BatchMethod::Get, "users")]).is_err());
        for dotted in [
            "/users/..",
            "/users/./a",
            "/conversations/../users/a",
            "/users/..?x=1",
            "/users/%2E%2E",
            "/users/.%2e",
        ] {
            let op = BatchOperation::new(1, BatchMethod::Get, dotted);
            assert!(check_operations(&[op]).is_err(), "{dotted}");
        }
        // A GET's payload is its query: an object of strings.
        for payload in [
            serde_json::json!({ "limit": 30 }),
            serde_json::json!(["a"]),
            serde_json::json!("limit=30"),
        ] {
            let op = BatchOperation::new(1, BatchMethod::Get, "/users").payload(payload);
            assert!(check_operations(&[op]).is_err());
        }
        let query = BatchOperation::new(1, BatchMethod::Get, "/users").query([("limit", "30")]);
        assert!(check_operations(&[query]).is_ok());
        let put = BatchOperation::new(1, BatchMethod::Put, "/users/a")
            .payload(serde_json::json!({ "custom": { "n": "1" }, "email": ["a@b"] }));
        assert!(check_operations(&[put]).is_ok());
        // Dots inside a segment, or in the query, are fine.
        for fine in [
            "/users/a.b",
            "/users/...",
            "/users/a?x=..",
            "/users/%2E%2E%2E",
        ] {
            let op = BatchOperation::new(1, BatchMethod::Get, fine);
            assert!(check_operations(&[op]).is_ok(), "{fine}");
        }
        assert_eq!(
            check_operations(&[op(2), op(1)]).ok(),
            Some([1, 2].into_iter().collect())
        );
    }
}
