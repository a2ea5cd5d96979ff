//! The batch endpoint (tuples out, tuples back, matched by sequence number) and the
//! multipart file upload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use common::{
    assert_app_token, assert_request, header_once, mount, ok_json, p, single_request, start,
};
use serde_json::{Value, json};
use talkjs_api::{Error, FileSubtype};
use talkjs_models::{BatchMethod, BatchOperation, Page, User, UserUpsert};
use wiremock::ResponseTemplate;

#[tokio::test]
async fn batch_posts_tuples_and_matches_results_by_seq() {
    let (server, client) = start().await;
    // Results out of order, bodies as JSON text (as documented), one failing operation.
    mount(
        &server,
        "POST",
        "/batch",
        ok_json(&json!([
            [3, 404, "{\"errorCode\":\"NOT_FOUND\"}"],
            [1, 200, "{\"data\":[]}"],
            [2, 200, "{}"],
            [4, 200, common::user_json("alice")]
        ])),
        1,
    )
    .await;

    let results = client
        .batch()
        .send([
            BatchOperation::new(1, BatchMethod::Get, "/conversations")
                .query([("limit", "30")])
                .api_version("2021-02-09"),
            BatchOperation::new(2, BatchMethod::Put, "/users/bob")
                .json_payload(&UserUpsert::new().name("Bob"))
                .unwrap(),
            BatchOperation::new(3, BatchMethod::Delete, "/conversations/old"),
            BatchOperation::new(4, BatchMethod::Get, "/users/alice"),
        ])
        .await
        .unwrap();

    let req = single_request(&server).await;
    assert_request(
        &req,
        "POST",
        "/batch",
        None,
        Some(&json!([
            [1, "GET", "/conversations", { "limit": "30" }, { "api_version": "2021-02-09" }],
            [2, "PUT", "/users/bob", { "name": "Bob" }],
            [3, "DELETE", "/conversations/old"],
            [4, "GET", "/users/alice"]
        ])),
    );

    // In the server's order...
    let order: Vec<u32> = results.iter().map(|r| r.seq).collect();
    assert_eq!(order, [3, 1, 2, 4]);
    // ...and matched by sequence number.
    let first = results.get(1).unwrap();
    assert_eq!(first.status, 200);
    let page: Page<Value> = first.body_as().unwrap();
    assert!(page.data.is_empty());
    let second = results.get(2).unwrap();
    assert!(second.is_success());
    assert_eq!(second.body_json().unwrap(), json!({}));
    let third = results.get(3).unwrap();
    assert_eq!(third.status, 404);
    assert!(!third.is_success());
    assert_eq!(
        third.body_json().unwrap(),
        json!({ "errorCode": "NOT_FOUND" })
    );
    let alice: User = results.get(4).unwrap().body_as().unwrap();
    assert_eq!(alice.id, "alice");
    assert_eq!(alice.name, "Alice Smith");
    assert!(!results.all_succeeded());
    assert!(results.get(5).is_none());
}

#[tokio::test]
async fn batch_answer_missing_a_result_is_a_decode_error_with_the_body() {
    let (server, client) = start().await;
    let answer = r#"[[1,200,"{}"]]"#;
    mount(
        &server,
        "POST",
        "/batch",
        ResponseTemplate::new(200).set_body_string(answer),
        1,
    )
    .await;
    let err = client
        .batch()
        .send([
            BatchOperation::new(1, BatchMethod::Get, "/users/a"),
            BatchOperation::new(2, BatchMethod::Get, "/users/b"),
        ])
        .await
        .unwrap_err();
    match err {
        Error::Decode { source, body } => {
            assert_eq!(&body[..], answer.as_bytes());
            assert!(source.to_string().contains('2'), "{source}");
        }
        other => panic!("expected Decode, got {other:?}"),
    }
}

#[tokio::test]
async fn batch_rejects_bad_operations_before_sending() {
    let (_server, client) = common::no_request_client().await;
    let op = |seq| BatchOperation::new(seq, BatchMethod::Get, "/users/a");
    let batch = client.batch();
    common::assert_invalid(batch.send((0..11).map(op)).await);
    common::assert_invalid(batch.send(Vec::new()).await);
    common::assert_invalid(batch.send([op(1), op(1)]).await);
    common::assert_invalid(
        batch
            .send([BatchOperation::new(1, BatchMethod::Get, "users/a")])
            .await,
    );
    let numeric_query =
        BatchOperation::new(1, BatchMethod::Get, "/users").payload(json!({ "limit": 30 }));
    let msg = common::assert_invalid(batch.send([numeric_query]).await);
    assert!(msg.contains("object of strings"), "{msg}");
}

#[tokio::test]
async fn batch_of_exactly_10_operations_is_sent() {
    let (server, client) = start().await;
    let answer: Vec<Value> = (0..10).map(|i| json!([i, 200, "{}"])).collect();
    mount(&server, "POST", "/batch", ok_json(&Value::Array(answer)), 1).await;
    let results = client
        .batch()
        .send((0..10).map(|i| BatchOperation::new(i, BatchMethod::Get, format!("/users/u{i}"))))
        .await
        .unwrap();
    assert!(results.all_succeeded());
    assert_eq!(results.iter().count(), 10);
}

/// Checks a multipart upload request and returns its body as text with the boundary
/// replaced by `BOUNDARY`.
fn multipart_body(req: &wiremock::Request) -> String {
    assert_eq!(req.method.as_str(), "POST");
    assert_eq!(req.url.path(), p("/files"));
    assert_eq!(req.url.query(), None);
    assert_app_token(req);
    assert_eq!(header_once(req, "accept"), "application/json");
    let content_type = header_once(req, "content-type");
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not a multipart content type: {content_type}"));
    assert!(!boundary.is_empty());
    assert!(
        boundary
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "{boundary}"
    );
    let body = String::from_utf8(req.body.clone()).unwrap();
    assert!(
        !body
            .replace(&format!("--{boundary}"), "")
            .contains(boundary),
        "the boundary only appears as a delimiter"
    );
    body.replace(boundary, "BOUNDARY")
}

#[tokio::test]
async fn upload_posts_multipart_with_its_boundary_and_returns_the_token() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        "/files",
        ok_json(&json!({ "attachmentToken": "att_abc123" })),
        1,
    )
    .await;

    let token = client
        .files()
        .upload(
            "voice note.ogg",
            "audio/ogg",
            &b"OggS\x00binary"[..],
            Some(FileSubtype::Voice),
        )
        .await
        .unwrap();
    assert_eq!(token, "att_abc123");

    let req = single_request(&server).await;
    let body = multipart_body(&req);
    assert_eq!(
        body,
        "--BOUNDARY\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"voice note.ogg\"\r\n\
         Content-Type: audio/ogg\r\n\
         \r\n\
         OggS\0binary\r\n\
         --BOUNDARY\r\n\
         Content-Disposition: form-data; name=\"filename\"\r\n\
         \r\n\
         voice note.ogg\r\n\
         --BOUNDARY\r\n\
         Content-Disposition: form-data; name=\"subtype\"\r\n\
         \r\n\
         voice\r\n\
         --BOUNDARY--\r\n"
    );
}

#[tokio::test]
async fn upload_without_subtype_has_two_parts() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        "/files",
        ok_json(&json!({ "attachmentToken": "att_2" })),
        1,
    )
    .await;
    let token = client
        .files()
        .upload("a.pdf", "application/pdf", b"%PDF-1.7".to_vec(), None)
        .await
        .unwrap();
    assert_eq!(token, "att_2");
    let body = multipart_body(&single_request(&server).await);
    assert_eq!(
        body,
        "--BOUNDARY\r\n\
         Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\
         Content-Type: application/pdf\r\n\
         \r\n\
         %PDF-1.7\r\n\
         --BOUNDARY\r\n\
         Content-Disposition: form-data; name=\"filename\"\r\n\
         \r\n\
         a.pdf\r\n\
         --BOUNDARY--\r\n"
    );
}

#[tokio::test]
async fn upload_rejects_a_bad_file_name_before_sending() {
    let (_server, client) = common::no_request_client().await;
    common::assert_invalid(
        client
            .files()
            .upload("a\"b.txt", "text/plain", &b"x"[..], None)
            .await,
    );
    common::assert_invalid(
        client
            .files()
            .upload("a.txt", "text/plain\r\nX-Evil: 1", &b"x"[..], None)
            .await,
    );
}

#[tokio::test]
async fn batch_path_encodes_ids_and_dot_segments_are_rejected_before_sending() {
    let (server, client) = start().await;
    mount(
        &server,
        "POST",
        "/batch",
        ok_json(&json!([[1, 200, "{}"]])),
        1,
    )
    .await;
    let path = talkjs_api::batch_path(["conversations", "order 1/2?#", "participants", "ü"]);
    client
        .batch()
        .send([BatchOperation::new(1, BatchMethod::Delete, path)])
        .await
        .unwrap();
    let req = single_request(&server).await;
    assert_request(
        &req,
        "POST",
        "/batch",
        None,
        Some(&json!([[
            1,
            "DELETE",
            "/conversations/order%201%2F2%3F%23/participants/%C3%BC"
        ]])),
    );

    let (_server, client) = common::no_request_client().await;
    for dotted in [
        talkjs_api::batch_path(["conversations", "c", "participants", ".."]),
        "/users/./alice".to_owned(),
        "/users/%2e%2E".to_owned(),
    ] {
        common::assert_invalid(
            client
                .batch()
                .send([BatchOperation::new(1, BatchMethod::Get, dotted)])
                .await,
        );
    }
}

#[tokio::test]
async fn batch_calls_are_limited_by_the_batch_quota_not_the_general_one() {
    use std::time::Duration;
    use talkjs_transport::{Quota, RateLimiter};

    let server = wiremock::MockServer::start().await;
    mount(
        &server,
        "POST",
        "/batch",
        ok_json(&json!([[1, 200, "{}"]])),
        1,
    )
    .await;
    mount(
        &server,
        "GET",
        "/users/alice",
        ok_json(&common::user_json("alice")),
        2,
    )
    .await;
    // One batch a minute, plenty of general calls, and no waiting: a call over its quota
    // fails at once.
    let limiter = RateLimiter::new(common::APP_ID)
        .batch_quota(Quota::with_interval(Duration::from_secs(60), 1))
        .general_quota(Quota::per_second(1000, 1000))
        .max_wait(Some(Duration::ZERO));
    let client = common::builder(&server)
        .rate_limiter(Some(limiter))
        .build()
        .unwrap();
    let op = || [BatchOperation::new(1, BatchMethod::Get, "/users/alice")];

    client.users().get("alice").await.unwrap();
    client.batch().send(op()).await.unwrap();
    let err = client.batch().send(op()).await.unwrap_err();
    assert!(
        matches!(err, Error::LocalRateLimit { wait } if wait > Duration::from_secs(50)),
        "{err:?}"
    );
    // The general quota is untouched by the batch calls.
    client.users().get("alice").await.unwrap();
}
