//! A plain evidence file is mapped and parsed while its pages are given back behind the
//! parser. Every format must come out exactly as parsing the bytes read whole: the same
//! format, events, rejections and provenance, whatever the encoding.

mod common;

use irpack::evidence::mapped::{Mapped, RELEASE_STEP};
use irpack::sources::{self, ParseContext};
use std::path::Path;

fn mapped(path: &Path) -> sources::Parsed {
    let registry = sources::registry();
    let sha = sources::sha256_hex(&std::fs::read(path).unwrap());
    let label = path.display().to_string();
    let map = Mapped::open(path).unwrap().expect("a non-empty file");
    let (mut events, mut rejected) = (Vec::new(), Vec::new());
    let (format, decoded_from) = sources::parse_mapped_with(
        &registry,
        &map,
        &label,
        &sha,
        &ParseContext::default(),
        &mut |it| match it {
            Ok(e) => events.push(e),
            Err(r) => rejected.push(r),
        },
    );
    sources::Parsed {
        format,
        events,
        rejected,
        decoded_from,
    }
}

/// The tests of this file one at a time: one of them counts the pages of mapped files the
/// process holds, which the others' mappings would add to.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn assert_same(path: &Path) -> usize {
    let w = common::parse_path(path, &ParseContext::default());
    let m = mapped(path);
    let label = path.display().to_string();
    assert_eq!(m.format, w.format, "{label}");
    assert_eq!(m.decoded_from, w.decoded_from, "{label}");
    assert_eq!(m.events, w.events, "{label}");
    assert_eq!(
        format!("{:?}", m.rejected),
        format!("{:?}", w.rejected),
        "{label}"
    );
    m.events.len() + m.rejected.len()
}

/// Every bundled sample and every corpus file, each format and its variants.
#[test]
fn mapped_parse_equals_whole_parse_on_every_sample_and_corpus_file() {
    let _serial = serial();
    let mut roots = vec![common::samples_dir()];
    roots.extend(common::corpus_dir());
    let files: Vec<std::path::PathBuf> = roots
        .iter()
        .flat_map(|r| walkdir::WalkDir::new(r).sort_by_file_name())
        .map(|e| e.unwrap().into_path())
        .collect();
    let mut records = 0;
    let mut n = 0;
    for f in files
        .iter()
        .filter(|f| f.is_file() && std::fs::metadata(f).unwrap().len() > 0)
    {
        records += assert_same(f);
        n += 1;
    }
    assert!(n >= 60, "only {n} files");
    assert!(records > 1000, "only {records} records");
}

/// Files larger than a release step in every encoding `decode` knows, with a character
/// cut by a step boundary, and files whose bad byte sits far past the first step (so the
/// check runs over released pages before falling back to decoding the whole).
#[test]
fn mapped_parse_across_release_steps_and_encodings() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let mut signin = Vec::new();
    sources::entra_signin::generate(3, RELEASE_STEP * 2 + 12_345, &mut signin).unwrap();
    let mut ual = Vec::new();
    sources::m365_ual::generate(3, RELEASE_STEP + 777, &mut ual).unwrap();
    let mut fg = Vec::new();
    sources::fortigate::generate(3, RELEASE_STEP * 2, &mut fg).unwrap();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&ual);
    // A two-byte character right across the first step boundary.
    let mut straddle = fg.clone();
    let cut = RELEASE_STEP - 1;
    let line_start = straddle[..cut].iter().rposition(|&b| b == b'\n').unwrap() + 1;
    straddle.splice(cut..cut, "é".bytes());
    assert!(line_start < cut);
    let mut late_bad = fg.clone();
    let at = RELEASE_STEP + 1000;
    late_bad.splice(at..at, [0xE9u8]);
    let utf16: Vec<u8> = String::from_utf8(fg.clone())
        .unwrap()
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    let mut bom_bad = b"\xEF\xBB\xBF".to_vec();
    bom_bad.extend_from_slice(&late_bad);
    let cases: Vec<(&str, Vec<u8>, Option<&str>)> = vec![
        ("signin.json", signin, None),
        ("ual.csv", ual, None),
        ("bom.csv", bom, None),
        ("straddle.log", straddle, None),
        ("late-bad.log", late_bad, Some("windows-1252")),
        ("bom-bad.log", bom_bad, Some("windows-1252")),
        ("utf16.log", utf16, Some("utf-16le")),
    ];
    for (name, bytes, decoded_from) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let records = assert_same(&p);
        assert!(records > 100, "{name}: {records}");
        assert_eq!(mapped(&p).decoded_from, decoded_from, "{name}");
    }
}

/// Resident pages of mapped files, from the kernel's own count for this process.
fn rss_file_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("RssFile:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// A JSON export is scanned a record ahead of the parse, not whole before it: scanning a
/// mapped file first brought every page of it back at once (a 64 MiB sign-in export set
/// the peak of a 1 GiB run). Here the file's pages resident while it is parsed stay within
/// under half of a 24 MiB file (all of it before; a release step, 4 MiB, now).
#[cfg(target_os = "linux")]
#[test]
fn mapped_json_is_never_resident_whole() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("signin.json");
    let size = 24 << 20;
    let mut bytes = Vec::with_capacity(size + 4096);
    sources::entra_signin::generate(5, size, &mut bytes).unwrap();
    std::fs::write(&p, &bytes).unwrap();
    let sha = sources::sha256_hex(&bytes);
    drop(bytes);
    let registry = sources::registry();
    let parse = |on: &mut dyn FnMut(sources::Item)| {
        let map = Mapped::open(&p).unwrap().expect("a non-empty file");
        sources::parse_mapped_with(
            &registry,
            &map,
            "signin.json",
            &sha,
            &ParseContext::default(),
            on,
        );
    };
    // Once first, so the parser's code is resident before counting (it is file-backed too).
    parse(&mut |_| {});
    let before = rss_file_kib();
    let (mut peak, mut events, mut n) = (before, 0u64, 0u64);
    parse(&mut |it| {
        events += it.is_ok() as u64;
        n += 1;
        if n.is_multiple_of(64) {
            peak = peak.max(rss_file_kib());
        }
    });
    assert!(events > 10_000, "{events} events");
    let grew_kib = peak.saturating_sub(before);
    let bound: u64 = 12 << 20;
    assert!(
        grew_kib < bound >> 10,
        "{grew_kib} KiB of a {} KiB file resident at once",
        size >> 10
    );
}
