//! The workspace README shows this crate's example in a block the facade's doc tests cannot
//! compile; `docs/readme_example.rs` is compiled as a doc test of this crate instead. This
//! checks that the README shows exactly that code, so neither can drift from the other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

const EXAMPLE: &str = include_str!("../docs/readme_example.rs");
const README: &str = include_str!("../../../README.md");

#[test]
fn the_readme_shows_the_compiled_example() {
    let block = format!("```rust,ignore\n{EXAMPLE}```\n");
    assert!(
        README.contains(&block),
        "README.md's Redis example differs from crates/talkjs-ratelimit-redis/docs/\
         readme_example.rs (compiled by `cargo test --doc -p talkjs-ratelimit-redis`): \
         copy the one that is right over the other. Expected in README.md:\n{block}"
    );
}
