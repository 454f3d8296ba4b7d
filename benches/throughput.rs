//! Throughput benchmark (`cargo bench --bench throughput`): parser MB/s and events/s per
//! source family next to `sha256sum` over the same bytes, and the whole `irpack run` over a
//! mixed set next to `sha256sum` + `zip -1 -r`, with peak RSS. Sizes via env:
//! IRPACK_BENCH_MB (per family, default 100), IRPACK_BENCH_MIXED_MB (default 1024, 0 = skip),
//! IRPACK_BENCH_ONLY (comma list of families). The mixed set runs twice: as generated, and
//! under an alert window over its identity exports, where the detections have work to do.
//! Timing lives here, never in tests.

use irpack::gen::{self, Kind};
use irpack::sources::{self, ParseContext};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

fn env_mb(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn secs_of(cmd: &mut Command) -> f64 {
    let t = Instant::now();
    let st = cmd.status().expect("spawn");
    assert!(st.success(), "{cmd:?} failed");
    t.elapsed().as_secs_f64()
}

/// Run a command under /usr/bin/time -v; (wall seconds, peak RSS KiB).
fn timed_rss(cmd: &str, args: &[&str], cwd: &Path) -> (f64, u64) {
    let t = Instant::now();
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(cmd)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("spawn /usr/bin/time");
    let wall = t.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let rss = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    (wall, rss)
}

fn main() {
    let mb = env_mb("IRPACK_BENCH_MB", 100);
    let mixed_mb = env_mb("IRPACK_BENCH_MIXED_MB", 1024);
    let only = std::env::var("IRPACK_BENCH_ONLY").unwrap_or_default();
    let tmp = tempfile::tempdir().expect("tempdir");
    let reg = sources::registry();
    let ctx = ParseContext::default();
    println!(
        "{:<10} {:>8} {:>10} {:>10} {:>12} {:>12} {:>8}",
        "family", "MB", "records", "parse MB/s", "events/s", "sha256sum MB/s", "ratio"
    );
    for kind in [
        Kind::Signin,
        Kind::Ual,
        Kind::Radius,
        Kind::Fortigate,
        Kind::Panos,
    ] {
        let name = format!("{kind:?}").to_lowercase();
        if !only.is_empty() && !only.split(',').any(|o| o == name) {
            continue;
        }
        let path = tmp.path().join(format!("{name}.bench"));
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let records = gen::write_one(kind, 42, mb << 20, &mut w).unwrap();
        drop(w);
        let bytes = std::fs::read(&path).unwrap();
        let size = bytes.len() as f64 / 1e6;
        let t = Instant::now();
        let sha = sources::sha256_hex(&bytes);
        let parsed = sources::parse_bytes(&reg, &bytes, "bench", &sha, &ctx);
        let parse_s = t.elapsed().as_secs_f64();
        assert_eq!(
            parsed.records(),
            records,
            "{name}: generator wrote {records} records, parser saw {}",
            parsed.records()
        );
        assert!(
            parsed.rejected.is_empty(),
            "{name}: {} rejected, first: {}",
            parsed.rejected.len(),
            parsed.rejected[0]
        );
        drop(parsed);
        let sha_s = secs_of(
            Command::new("sha256sum")
                .arg(&path)
                .stdout(std::process::Stdio::null()),
        );
        println!(
            "{:<10} {:>8.1} {:>10} {:>10.1} {:>12.0} {:>12.1} {:>8.2}",
            name,
            size,
            records,
            size / parse_s,
            records as f64 / parse_s,
            size / sha_s,
            parse_s / sha_s
        );
        std::fs::remove_file(&path).ok();
    }
    if mixed_mb == 0 {
        return;
    }
    let input = tmp.path().join("mixed");
    let files = gen::write_set(Kind::Mixed, 7, mixed_mb << 20, &input).unwrap();
    let total: u64 = files
        .iter()
        .map(|(p, _)| std::fs::metadata(p).unwrap().len())
        .sum();
    let records: u64 = files.iter().map(|(_, r)| r).sum();
    let names: Vec<String> = files
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let mut sha_args: Vec<&str> = names.iter().map(String::as_str).collect();
    let (sha_s, _) = timed_rss("sha256sum", &sha_args, &input);
    let zip_path = tmp.path().join("baseline.zip");
    let zp = zip_path.display().to_string();
    let mut zip_args = vec!["-q", "-1", "-r", zp.as_str()];
    zip_args.append(&mut sha_args);
    let (zip_s, _) = timed_rss("zip", &zip_args, &input);
    let out = tmp.path().join("case");
    let irpack_run = |extra: &[&str]| {
        std::fs::remove_dir_all(&out).ok();
        let mut args = vec![
            "run",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--now",
            "2024-06-01T00:00:00Z",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        timed_rss(env!("CARGO_BIN_EXE_irpack"), &args, tmp.path())
    };
    let (run_s, rss) = irpack_run(&[]);
    let mb = total as f64 / 1e6;
    println!(
        "\nmixed set: {} files, {:.1} MB, {} records",
        files.len(),
        mb,
        records
    );
    println!(
        "sha256sum {:.2} s + zip -1 -r {:.2} s = {:.2} s",
        sha_s,
        zip_s,
        sha_s + zip_s
    );
    println!(
        "irpack run {:.2} s ({:.1} MB/s, {:.0} events/s), peak RSS {} MiB",
        run_s,
        mb / run_s,
        records as f64 / run_s,
        rss / 1024
    );
    println!(
        "ratio irpack / (sha256sum + zip) = {:.2}",
        run_s / (sha_s + zip_s)
    );
    // The same set under an alert window over the identity exports' first week: the rules then
    // see every sign-in and UAL record of it (thousands of findings, a large report), which the
    // default window (the last week of all evidence) leaves to the RADIUS accounting alone.
    let case = tmp.path().join("window.case.toml");
    std::fs::write(
        &case,
        "case_id = \"IR-BENCH-WINDOW\"\n[alert]\nusers = [\"bob@contoso.com\"]\n\
         window_start = 2024-03-01T00:00:00Z\nwindow_end = 2024-03-08T00:00:00Z\n",
    )
    .unwrap();
    let (win_s, win_rss) = irpack_run(&["--case", case.to_str().unwrap()]);
    println!(
        "irpack run, alert window over the identity exports: {:.2} s, peak RSS {} MiB",
        win_s,
        win_rss / 1024
    );
}
