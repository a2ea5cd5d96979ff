//! Participants: join (PUT, overwrite), modify (PATCH, merge), remove, inbound email.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use talkjs_test_support::mock_api as common;

use common::{assert_request, mount, ok_empty, ok_json, requests, single_request, start};
use serde_json::json;
use talkjs_api::Error;
use talkjs_models::{Access, Notify, ParticipantOverwrite, ParticipantPatch};

const PATH: &str = "/conversations/order%20123/participants/carol%2Fx";

#[tokio::test]
async fn join_puts_the_settings() {
    let (server, client) = start().await;
    mount(&server, "PUT", PATH, ok_empty(), 2).await;

    let participants = client.conversations().participants("order 123");
    participants
        .join(
            "carol/x",
            &ParticipantOverwrite::new()
                .access(Access::Read)
                .notify(Notify::MentionsOnly),
        )
        .await
        .unwrap();
    // The defaults: omitted fields, which the PUT resets to ReadWrite / notify true.
    participants
        .join("carol/x", &ParticipantOverwrite::default())
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "PUT",
        PATH,
        None,
        Some(&json!({ "access": "Read", "notify": "MentionsOnly" })),
    );
    assert_request(&reqs[1], "PUT", PATH, None, Some(&json!({})));
}

#[tokio::test]
async fn modify_patches_only_the_given_settings() {
    let (server, client) = start().await;
    mount(&server, "PATCH", PATH, ok_empty(), 2).await;

    let participants = client.conversations().participants("order 123");
    participants
        .modify("carol/x", &ParticipantPatch::new().access(Access::None))
        .await
        .unwrap();
    participants
        .modify("carol/x", &ParticipantPatch::new().notify(Notify::Off))
        .await
        .unwrap();

    let reqs = requests(&server).await;
    assert_request(
        &reqs[0],
        "PATCH",
        PATH,
        None,
        Some(&json!({ "access": "None" })),
    );
    assert_request(
        &reqs[1],
        "PATCH",
        PATH,
        None,
        Some(&json!({ "notify": false })),
    );
}

#[tokio::test]
async fn remove_sends_a_bodyless_delete() {
    let (server, client) = start().await;
    mount(&server, "DELETE", PATH, ok_empty(), 1).await;
    client
        .conversations()
        .participants("order 123")
        .remove("carol/x")
        .await
        .unwrap();
    let req = single_request(&server).await;
    assert_request(&req, "DELETE", PATH, None, None);
}

#[tokio::test]
async fn email_returns_the_inbound_address() {
    let (server, client) = start().await;
    let email_path = format!("{PATH}/email");
    mount(
        &server,
        "GET",
        &email_path,
        ok_json(&json!({
            "emailAddress": "reply+abc123@inbound.talkjs.com"
        })),
        1,
    )
    .await;
    let address = client
        .conversations()
        .participants("order 123")
        .email("carol/x")
        .await
        .unwrap();
    assert_eq!(address, "reply+abc123@inbound.talkjs.com");
    let req = single_request(&server).await;
    assert_request(&req, "GET", &email_path, None, None);
}

#[tokio::test]
async fn an_undecodable_email_answer_does_not_put_the_address_in_the_error() {
    let (server, client) = start().await;
    let email_path = format!("{PATH}/email");
    // Another shape than documented: the address is there, but not as `emailAddress`.
    mount(
        &server,
        "GET",
        &email_path,
        ok_json(&json!({ "email": "reply+secret42@inbound.talkjs.com" })),
        1,
    )
    .await;
    let err = client
        .conversations()
        .participants("order 123")
        .email("carol/x")
        .await
        .unwrap_err();
    let Error::Decode { source, body } = &err else {
        panic!("expected Decode, got {err:?}");
    };
    assert!(source.to_string().contains("emailAddress"), "{source}");
    assert!(body.is_empty());
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("secret42"), "{text}");
    }
}

#[tokio::test]
async fn join_with_access_none_is_rejected_without_a_request() {
    let (_server, client) = common::no_request_client().await;
    let participants = client.conversations().participants("order 123");
    let msg = common::assert_invalid(
        participants
            .join("carol/x", &ParticipantOverwrite::new().access(Access::None))
            .await,
    );
    assert!(msg.contains("modify()") && msg.contains("None"), "{msg}");
    common::assert_invalid(
        participants
            .join(
                "carol/x",
                &ParticipantOverwrite::new()
                    .access(Access::None)
                    .notify(Notify::Off),
            )
            .await,
    );
}

#[tokio::test]
async fn join_forwards_unknown_access_and_notify_values() {
    // Values this client does not know may be valid for a newer API: sent as they are.
    let (server, client) = start().await;
    mount(&server, "PUT", PATH, ok_empty(), 1).await;
    client
        .conversations()
        .participants("order 123")
        .join(
            "carol/x",
            &ParticipantOverwrite::new()
                .access(Access::Other("Moderator".into()))
                .notify(Notify::Other("Digest".into())),
        )
        .await
        .unwrap();
    let req = single_request(&server).await;
    assert_request(
        &req,
        "PUT",
        PATH,
        None,
        Some(&json!({ "access": "Moderator", "notify": "Digest" })),
    );
}
