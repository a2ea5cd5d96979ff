//! The batch endpoint.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Api, assert_error};
use serde_json::{Value, json};
use talkjs_models::BatchResponse;

#[tokio::test]
async fn results_are_shuffled_and_matched_by_seq() {
    let api = Api::start().await;
    api.users(&["existing"]).await;
    let ops = json!([
        [1, "PUT", "/users/a", { "name": "A" }],
        [2, "PUT", "/users/b", { "name": "B" }],
        [3, "GET", "/users/nobody"],
        [4, "GET", "/users/existing"],
        [5, "GET", "/users", { "limit": "1" }],
        [6, "PUT", "/users/c", { "email": ["no-name@x.io"] }],
        [7, "GET", "/no/such/endpoint"],
        [8, "POST", "/batch", []],
        [9, "GET", "/users/existing/conversations", null, { "api_version": "2021-02-09" }],
        [10, "PUT", "/users/d", { "name": "D" }],
    ]);
    let r = api.post("/batch", &ops).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let response: BatchResponse = serde_json::from_value(r.body.clone()).unwrap();
    assert_eq!(response.results.len(), 10);
    // Bodies are JSON text.
    assert!(r.body[0][2].is_string());

    let status = |seq| response.get(seq).unwrap().status;
    let body = |seq| response.get(seq).unwrap().body_json().unwrap();
    assert_eq!(status(1), 200);
    assert_eq!(body(1), json!({}));
    assert_eq!(status(2), 200);
    assert_eq!(status(3), 404);
    assert_eq!(body(3)["errorCode"], "NOT_FOUND");
    assert_eq!(status(4), 200);
    assert_eq!(body(4)["name"], "existing");
    assert_eq!(status(5), 200);
    assert_eq!(body(5)["data"].as_array().unwrap().len(), 1);
    assert_eq!(status(6), 400);
    assert_eq!(status(7), 404);
    assert_eq!(status(8), 400);
    assert_eq!(status(9), 200);
    assert_eq!(status(10), 200);
    assert!(api.fake.user("a").is_some() && api.fake.user("d").is_some());
    assert!(api.fake.user("c").is_none());

    // The order is shuffled (ten results in order by chance: 1 in 3.6 million, per try).
    let mut shuffled = false;
    for _ in 0..3 {
        let r = api.post("/batch", &ops).await;
        let order: Vec<u64> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t[0].as_u64().unwrap())
            .collect();
        shuffled |= order != (1..=10).collect::<Vec<_>>();
    }
    assert!(shuffled);
    // A batch is one HTTP request.
    assert_eq!(api.fake.request_count(), 1 + 4);
}

#[tokio::test]
async fn malformed_batches_are_400() {
    let api = Api::start().await;
    let eleven: Vec<Value> = (0..11).map(|i| json!([i, "GET", "/users"])).collect();
    assert_error(&api.post("/batch", &Value::Array(eleven)).await, 400);
    assert_error(&api.post("/batch", &json!({ "ops": [] })).await, 400);
    assert_error(
        &api.post("/batch", &json!([["x", "GET", "/users"]])).await,
        400,
    );
    assert_error(&api.post("/batch", &json!([[1, "GET"]])).await, 400);
    let r = api.post("/batch", &json!([[1, "GET", "users"]])).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body[0][1], 400);
    let r = api.post("/batch", &json!([])).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]));
}
