//! The `talkjs` command line tool; everything is in the `talkjs_cli` library.

fn main() -> std::process::ExitCode {
    talkjs_cli::main()
}
