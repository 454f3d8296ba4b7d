//! `IRPACK_PROFILE=1`: how long each step took, on stderr, for the benchmark notes.

use std::sync::Mutex;
use std::time::Instant;

static LAST: Mutex<Option<Instant>> = Mutex::new(None);

/// Print the time since the previous mark (or since the first call) with `what` finished.
pub fn mark(what: &str) {
    if std::env::var_os("IRPACK_PROFILE").is_none() {
        return;
    }
    let now = Instant::now();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = *last {
        eprintln!(
            "profile: {what:<28} {:>8.2} s",
            now.duration_since(t).as_secs_f64()
        );
    }
    *last = Some(now);
}
