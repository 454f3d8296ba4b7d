//! Helpers shared by the integration tests.
#![allow(dead_code)]

use irpack::sources::{self, ParseContext, Parsed};
use std::path::{Path, PathBuf};

/// `../shared/corpus` beside the repository, when it exists (it does in CI).
pub fn corpus_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("NOTE: ../shared/corpus not found; corpus tests skipped");
        None
    }
}

/// A file under the corpus, or `None` (with a note) when the corpus is absent.
pub fn corpus_file(rel: &str) -> Option<PathBuf> {
    corpus_dir().map(|d| d.join(rel))
}

pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

/// Parse one file through detection, as the pipeline does.
pub fn parse_path(path: &Path, ctx: &ParseContext) -> Parsed {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let reg = sources::registry();
    let sha = sources::sha256_hex(&bytes);
    sources::parse_bytes(&reg, &bytes, &path.display().to_string(), &sha, ctx)
}

/// Re-read the raw record a provenance points at and check its hash.
pub fn raw_matches(bytes: &[u8], p: &irpack::event::Provenance) -> bool {
    let text;
    let hay: &[u8] = match &p.decoded_from {
        None => bytes,
        Some(_) => {
            text = sources::text::decode(bytes).text.into_owned();
            text.as_bytes()
        }
    };
    let (s, e) = (
        p.byte_offset as usize,
        (p.byte_offset + p.byte_len) as usize,
    );
    e <= hay.len() && sources::sha256_hex(&hay[s..e]) == p.raw_sha256
}

/// Parse bytes held in memory through detection, with no time zones given.
pub fn parse_raw(bytes: &[u8]) -> Parsed {
    let reg = sources::registry();
    sources::parse_bytes(
        &reg,
        bytes,
        "mem",
        &sources::sha256_hex(bytes),
        &ParseContext::default(),
    )
}

/// Every record seen is numbered 1..=N exactly once, and every event's provenance re-hashes.
pub fn check_accounting(bytes: &[u8], p: &Parsed) {
    let mut nos: Vec<u64> = p
        .events
        .iter()
        .map(|e| e.provenance.record_no)
        .chain(p.rejected.iter().map(|r| r.record_no))
        .collect();
    nos.sort_unstable();
    let expect: Vec<u64> = (1..=nos.len() as u64).collect();
    assert_eq!(nos, expect, "record numbers must be 1..=N, each once");
    for e in &p.events {
        assert!(
            raw_matches(bytes, &e.provenance),
            "provenance of record {} does not re-hash",
            e.provenance.record_no
        );
    }
}

/// A string kept in an event's `extra`.
pub fn extra_str<'a>(e: &'a irpack::event::Event, k: &str) -> Option<&'a str> {
    e.extra.get(k).and_then(|v| v.as_str())
}

/// The events as the analysis holds them: each remembering the hash of its full form, then
/// trimmed to the `extra` keys the analysis reads (`analysis::trim_for_analysis`). Rule
/// fixtures run on these too, so a rule reading a key the trim drops fails its own tests.
pub fn trimmed(events: &[irpack::event::Event]) -> Vec<irpack::event::Event> {
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.remember_hash();
            irpack::analysis::trim_for_analysis(&mut e);
            e
        })
        .collect()
}
