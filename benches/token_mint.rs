//! `token_mint`: minting one app token (`TokenSigner::app_token`: claims JSON, base64url,
//! HMAC-SHA256) against the floor, the bare HMAC-SHA256 of the same signing input with a
//! prepared key.
//!
//! Run: `cargo bench --bench token_mint` (prints the ratio at the end).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::hint::black_box;
use std::time::SystemTime;

use criterion::Criterion;
use ring::hmac;
use talkjs::auth::{AppId, SecretKey, TokenSigner};

fn token_mint(c: &mut Criterion) {
    let signer = TokenSigner::new(
        AppId::new(common::APP_ID),
        SecretKey::new(common::SECRET_KEY),
    );
    // The signing input of a real token (`header.payload`), and a check that a token is
    // exactly that input plus the HMAC computed here.
    let token = signer.app_token().expect("app token");
    let (input, _) = token.rsplit_once('.').expect("a JWT");
    let input = input.as_bytes().to_vec();
    let key = hmac::Key::new(hmac::HMAC_SHA256, common::SECRET_KEY.as_bytes());
    assert_eq!(
        base64url(hmac::sign(&key, &input).as_ref()),
        token.rsplit_once('.').unwrap().1
    );

    let mut group = c.benchmark_group("token_mint");
    group.bench_function("app_token", |b| {
        b.iter(|| black_box(signer.app_token().expect("app token")));
    });
    group.bench_function("hmac_only", |b| {
        b.iter(|| black_box(hmac::sign(&key, black_box(&input))));
    });
    group.finish();
}

/// Unpadded base64url, only for the check above.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

fn main() {
    let since = SystemTime::now();
    let mut c = common::criterion_config().configure_from_args();
    token_mint(&mut c);
    c.final_summary();
    common::report_ratio(
        "token_mint",
        "app_token",
        "hmac_only",
        "<= 3.0, and app_token <= 2 µs",
        since,
    );
}
