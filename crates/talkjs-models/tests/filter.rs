//! The conversation filter grammar.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use talkjs_models::{Access, ConversationFilter, FieldPredicate};

#[test]
fn documented_example() {
    let filter = ConversationFilter::new()
        .custom_eq("category", "shoes")
        .access_ne(Access::None);
    assert_eq!(
        filter.to_query_value().unwrap(),
        r#"{"custom":{"category":["==","shoes"]},"access":["!=","None"]}"#
    );
}

#[test]
fn every_operator() {
    let filter = ConversationFilter::new()
        .custom_eq("a", "1")
        .custom_ne("b", "2")
        .custom_one_of("c", ["x", "y"])
        .custom_not_one_of("d", ["z"])
        .custom_exists("e")
        .custom_not_exists("f")
        .access_one_of([Access::ReadWrite, Access::Read])
        .has_unread_messages(true);
    assert_eq!(
        serde_json::to_value(&filter).unwrap(),
        json!({
            "custom": {
                "a": ["==", "1"],
                "b": ["!=", "2"],
                "c": ["oneOf", ["x", "y"]],
                "d": ["!oneOf", ["z"]],
                "e": "exists",
                "f": "!exists"
            },
            "access": ["oneOf", ["ReadWrite", "Read"]],
            "hasUnreadMessages": true
        })
    );
    let again: ConversationFilter =
        serde_json::from_value(serde_json::to_value(&filter).unwrap()).unwrap();
    assert_eq!(again, filter);
}

#[test]
fn access_variants_and_replacement() {
    assert_eq!(
        ConversationFilter::new()
            .access_eq(Access::Read)
            .to_query_value()
            .unwrap(),
        r#"{"access":["==","Read"]}"#
    );
    assert_eq!(
        ConversationFilter::new()
            .access_ne(Access::Read)
            .access_not_one_of([Access::None])
            .to_query_value()
            .unwrap(),
        r#"{"access":["!oneOf",["None"]]}"#
    );
    // A later condition on the same custom key replaces the earlier one.
    assert_eq!(
        ConversationFilter::new()
            .custom_eq("k", "1")
            .custom_exists("k")
            .to_query_value()
            .unwrap(),
        r#"{"custom":{"k":"exists"}}"#
    );
}

#[test]
fn empty_filter() {
    let filter = ConversationFilter::new();
    assert!(filter.is_empty());
    assert_eq!(filter.to_query_value().unwrap(), "{}");
    assert!(!filter.has_unread_messages(false).is_empty());
}

#[test]
fn decoding_rejects_unknown_operators() {
    let err = serde_json::from_value::<FieldPredicate<String>>(json!(["~=", "x"])).unwrap_err();
    assert!(err.to_string().contains("~="), "{err}");
    let err = serde_json::from_value::<FieldPredicate<String>>(json!("maybe")).unwrap_err();
    assert!(err.to_string().contains("maybe"), "{err}");
    let err = serde_json::from_value::<FieldPredicate<String>>(json!(["oneOf", "x"])).unwrap_err();
    assert!(err.to_string().contains("sequence"), "{err}");
}
