//! Waiting, with a deadline, for an effect that another thread or process makes visible.

use std::time::{Duration, Instant};

/// Polls `f` every 10 ms until it holds; fails the test after 5 s, naming `what`.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("not within 5s: {what}");
}
