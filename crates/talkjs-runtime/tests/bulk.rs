//! The bulk engine against wiremock: the exact requests and the progress it reports.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use std::time::Duration;

use common::{ok_empty, start};

#[tokio::test]
async fn bulk_progress_counts_requests_answered_one_at_a_time() {
    use std::sync::{Arc, Mutex};
    use talkjs_models::ConversationUpsert;
    use talkjs_runtime::ClientExt;
    use talkjs_runtime::bulk::Item;

    let (server, client) = start().await;
    wiremock::Mock::given(wiremock::matchers::method("PUT"))
        .respond_with(ok_empty().set_delay(Duration::from_millis(5)))
        .expect(20)
        .mount(&server)
        .await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    // One request per conversation, up to 8 in flight at once.
    let report = client
        .bulk()
        .in_flight(8)
        .on_progress(move |p| record.lock().unwrap().push((p.requests, p.landed)))
        .run_iter((0..20).map(|i| Item::Conversation {
            id: format!("c{i}"),
            conversation: ConversationUpsert::new().subject("hi"),
        }))
        .await;
    assert_eq!(report.landed, 20);
    assert_eq!(report.requests, 20);
    let seen = seen.lock().unwrap().clone();
    // Once per answer, counting answers: 1, 2, ..., 20, never the 8 started at once.
    let expected: Vec<(usize, usize)> = (1..=20).map(|n| (n, n)).collect();
    assert_eq!(seen, expected);
}
