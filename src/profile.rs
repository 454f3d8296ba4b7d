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
        let (rss, hwm) = memory();
        eprintln!(
            "profile: {what:<28} {:>8.2} s   rss {rss:>6} MiB  peak {hwm:>6} MiB",
            now.duration_since(t).as_secs_f64()
        );
    }
    *last = Some(now);
}

/// Resident and peak resident set in MiB (Linux `/proc/self/status`; zeros elsewhere).
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
