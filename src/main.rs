//! The `ryll` binary (the session core and CLI follow in later commits).

fn main() {}
