//! Batch operations and results: JSON tuples, trailing elements, string bodies, and results
//! that arrive out of order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use talkjs_models::{
    BatchMethod, BatchOperation, BatchOptions, BatchResponse, BatchResult, Empty, Page, User,
    UserUpsert,
};

#[test]
fn operation_omits_trailing_absent_elements() {
    let op = BatchOperation::new(1, BatchMethod::Delete, "/conversations/c1");
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"[1,"DELETE","/conversations/c1"]"#
    );

    let op = BatchOperation::new(2, BatchMethod::Put, "/users/alice")
        .json_payload(&UserUpsert::new().name("Alice"))
        .unwrap();
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"[2,"PUT","/users/alice",{"name":"Alice"}]"#
    );
}

#[test]
fn operation_with_options_but_no_payload_sends_null_payload() {
    let op = BatchOperation::new(3, BatchMethod::Delete, "/conversations/c1/participants/bob")
        .api_version("2021-07-30");
    assert_eq!(
        serde_json::to_string(&op).unwrap(),
        r#"[3,"DELETE","/conversations/c1/participants/bob",null,{"api_version":"2021-07-30"}]"#
    );
}

#[test]
fn get_operation_with_query_and_options() {
    let op = BatchOperation::new(4, BatchMethod::Get, "/users/alice/conversations")
        .query([("limit", "30"), ("unreadsOnly", "true")])
        .api_version("2021-02-09");
    assert_eq!(
        serde_json::to_value(&op).unwrap(),
        json!([4, "GET", "/users/alice/conversations",
               {"limit": "30", "unreadsOnly": "true"},
               {"api_version": "2021-02-09"}])
    );
    assert_eq!(
        op.options,
        Some(BatchOptions::new().api_version("2021-02-09"))
    );
}

#[test]
fn operations_decode_from_tuples() {
    let ops: Vec<BatchOperation> = serde_json::from_value(json!([
        [1, "GET", "/users/a"],
        [2, "PUT", "/users/b", {"name": "B"}],
        [3, "DELETE", "/conversations/c", null, {"api_version": "2021-07-30"}],
        [4, "OPTIONS", "/x", null, null, "future element"]
    ]))
    .unwrap();
    assert_eq!(ops[0], BatchOperation::new(1, BatchMethod::Get, "/users/a"));
    assert_eq!(ops[1].payload, Some(json!({"name": "B"})));
    assert_eq!(ops[2].payload, None);
    assert_eq!(
        ops[2].options.as_ref().unwrap().api_version.as_deref(),
        Some("2021-07-30")
    );
    assert_eq!(ops[3].method, BatchMethod::Other("OPTIONS".to_owned()));
    assert_eq!(ops[3].options, None);

    for op in &ops[..3] {
        let again: BatchOperation =
            serde_json::from_value(serde_json::to_value(op).unwrap()).unwrap();
        assert_eq!(&again, op);
    }
}

#[test]
fn operation_with_too_few_elements_is_an_error() {
    let err = serde_json::from_value::<BatchOperation>(json!([1, "GET"])).unwrap_err();
    assert!(err.to_string().contains("invalid length 2"), "{err}");
}

#[test]
fn response_out_of_order_with_string_and_value_bodies() {
    let response: BatchResponse =
        serde_json::from_str(include_str!("fixtures/batch_response.json")).unwrap();
    assert_eq!(response.results.len(), 3);
    let seqs: Vec<u32> = response.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [3, 1, 2], "server order is kept");
    assert!(!response.all_succeeded());

    let first = response.get(1).unwrap();
    assert_eq!(first.status, 200);
    assert!(first.is_success());
    assert_eq!(first.body, Value::String("{}".to_owned()));
    assert_eq!(first.body_json().unwrap(), json!({}));
    first.body_as::<Empty>().unwrap();

    let second = response.get(2).unwrap();
    assert!(second.is_success());
    let page: Page<User> = second.body_as().unwrap();
    assert_eq!(page.data[0].id, "alice");

    let third = response.get(3).unwrap();
    assert_eq!(third.status, 404);
    assert!(!third.is_success());
    assert_eq!(third.body_json().unwrap()["errorCode"], "NOT_FOUND");

    assert!(response.get(9).is_none());
}

#[test]
fn result_bodies_edge_cases() {
    let results: Vec<BatchResult> = serde_json::from_value(json!([
        [1, 200],
        [2, 200, ""],
        [3, 500, "oops"],
        [4, 201, null, "x"]
    ]))
    .unwrap();
    assert_eq!(results[0].body, Value::Null);
    assert_eq!(results[1].body_json().unwrap(), Value::Null);
    assert!(
        results[2].body_json().is_err(),
        "a non-JSON string body is a decode error"
    );
    assert!(!results[2].is_success());
    assert!(results[3].is_success());
    assert_eq!(results[3].body, Value::Null);
}

#[test]
fn result_round_trips_as_tuple() {
    let result = BatchResult::new(7, 200, json!("{\"a\":1}"));
    let text = serde_json::to_string(&result).unwrap();
    assert_eq!(text, r#"[7,200,"{\"a\":1}"]"#);
    let again: BatchResult = serde_json::from_str(&text).unwrap();
    assert_eq!(again, result);
    assert_eq!(again.body_json().unwrap(), json!({"a": 1}));

    let response = BatchResponse::new(vec![result.clone(), BatchResult::new(8, 204, Value::Null)]);
    assert!(response.all_succeeded());
    assert_eq!(
        serde_json::to_string(&response).unwrap(),
        r#"[[7,200,"{\"a\":1}"],[8,204,null]]"#
    );
    let seqs: Vec<u32> = response.into_iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [7, 8]);
}

#[test]
fn status_boundaries() {
    assert!(!BatchResult::new(1, 199, Value::Null).is_success());
    assert!(BatchResult::new(1, 299, Value::Null).is_success());
    assert!(!BatchResult::new(1, 300, Value::Null).is_success());
}
