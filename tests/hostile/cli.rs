//! Running the built `irpack` binary and measuring its peak resident memory.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_irpack");

/// A run's outcome and its peak RSS in KiB (`None` only when it could not be measured).
pub struct Run {
    pub out: Output,
    pub peak_kib: Option<u64>,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    pub fn ok(&self) -> bool {
        self.out.status.success()
    }
}

/// `irpack <args>` with a fixed clock, measured by `/usr/bin/time -v` when present (exact
/// `ru_maxrss`), else by sampling `VmHWM` (the kernel's own high-water mark) from /proc.
pub fn irpack(args: &[&str], scratch: &Path) -> Run {
    let time = Path::new("/usr/bin/time");
    if time.exists() {
        let report = scratch.join(format!("time-{}.txt", std::process::id()));
        let out = Command::new(time)
            .arg("-v")
            .arg("-o")
            .arg(&report)
            .arg(BIN)
            .args(args)
            .env("SOURCE_DATE_EPOCH", "1717200000")
            .output()
            .expect("run irpack under /usr/bin/time");
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let _ = std::fs::remove_file(&report);
        let peak_kib = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse().ok());
        return Run { out, peak_kib };
    }
    let mut child = Command::new(BIN)
        .args(args)
        .env("SOURCE_DATE_EPOCH", "1717200000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn irpack");
    let status_path = format!("/proc/{}/status", child.id());
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    // Drain pipes on threads so a chatty child cannot block on a full pipe.
    let so = std::thread::spawn(move || read_all(stdout));
    let se = std::thread::spawn(move || read_all(stderr));
    let mut peak = None;
    let status = loop {
        if let Some(v) = vm_hwm(&status_path) {
            peak = Some(peak.map_or(v, |p: u64| p.max(v)));
        }
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        out: Output {
            status,
            stdout: so.join().unwrap(),
            stderr: se.join().unwrap(),
        },
        peak_kib: peak,
    }
}

fn read_all<R: std::io::Read>(r: Option<R>) -> Vec<u8> {
    let mut v = Vec::new();
    if let Some(mut r) = r {
        let _ = r.read_to_end(&mut v);
    }
    v
}

fn vm_hwm(status_path: &str) -> Option<u64> {
    std::fs::read_to_string(status_path)
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
