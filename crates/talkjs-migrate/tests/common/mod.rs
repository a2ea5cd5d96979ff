//! Shared by the tests of uncertain requests (tests/carry.rs, tests/late.rs,
//! tests/reactions.rs): a client layer that loses an answer, in `lossy`. What every migration
//! test shares (scratch directories, exports, clients of the fake, checks of the target) is
//! in the workspace's talkjs-test-support (`migrate`).

pub mod lossy;
