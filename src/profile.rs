//! `IRPACK_PROFILE=1`: how long each step took, on stderr, for the benchmark notes.

use std::sync::Mutex;
use std::time::Instant;

/// When the previous mark was, and the process's CPU seconds (user, system) then.
static LAST: Mutex<Option<(Instant, (f64, f64))>> = Mutex::new(None);

/// Print the time since the previous mark (or since the first call) with `what` finished.
pub fn mark(what: &str) {
    if std::env::var_os("IRPACK_PROFILE").is_none() {
        return;
    }
    let now = Instant::now();
    let cpu = cpu_seconds();
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((t, (u, s))) = *last {
        let (rss, hwm) = memory();
        // System time is most of what writing costs on some machines: shown apart.
        eprintln!(
            "profile: {what:<28} {:>8.2} s   rss {rss:>6} MiB  peak {hwm:>6} MiB   cpu {:>6.2} user {:>6.2} sys",
            now.duration_since(t).as_secs_f64(),
            cpu.0 - u,
            cpu.1 - s,
        );
    }
    *last = Some((now, cpu));
}

/// User and system CPU seconds of the whole process so far (Linux `/proc/self/stat`, in
/// clock ticks of 1/100 s there; zeros elsewhere).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name (field 2) may hold spaces; fields after its closing parenthesis.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the name.
    (tick(11), tick(12))
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
