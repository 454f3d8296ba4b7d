//! The bodies of the fuzz targets, kept here so each target file is one line and the lead
//! can add `parse_<id>` for a new parser by copying one. The invariants are the very file the
//! hostile tests use (`tests/hostile/invariants.rs`).

#[path = "../../tests/hostile/invariants.rs"]
pub mod invariants;

use irpack::evidence::custody::Actor;
use irpack::evidence::intake::{self, IntakeOptions, ItemKind, ZipLimits};
use irpack::sources::{self, ParseContext, Parsed, Source};
use std::sync::OnceLock;

const PATH: &str = "evidence/fuzz.bin";

fn registry() -> &'static [Box<dyn Source>] {
    static REG: OnceLock<Vec<Box<dyn Source>>> = OnceLock::new();
    REG.get_or_init(sources::registry)
}

/// Zone-less sources get a zone, so their time handling is exercised too.
fn ctx() -> ParseContext {
    ParseContext {
        default_zone: Some(chrono_tz::Europe::Berlin),
        ..ParseContext::default()
    }
}

fn check(data: &[u8], sha: &str, mut parsed: Parsed) {
    irpack::pipeline::reject_unrepresentable_times(&mut parsed);
    if let Err(e) = invariants::check_parsed(data, PATH, sha, &parsed) {
        panic!("{e}");
    }
    if let Err(e) = invariants::check_timeline_roundtrip(&parsed.events) {
        panic!("{e}");
    }
}

/// Arbitrary bytes through decoding, detection over the whole registry, and the parser found.
pub fn detect_parse(data: &[u8]) {
    let sha = sources::sha256_hex(data);
    let parsed = sources::parse_bytes(registry(), data, PATH, &sha, &ctx());
    check(data, &sha, parsed);
}

/// Arbitrary bytes through one parser chosen by id, bypassing detection. A parser that has
/// not landed yet makes this a no-op.
pub fn parse_forced(id: &str, data: &[u8]) {
    if let Some(src) = sources::by_id(registry(), id) {
        run_source(src, data);
    }
}

/// The first byte picks a parser from the registry (so parsers added later are fuzzed with
/// no new target), the rest is its input.
pub fn parse_any(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let reg = registry();
    if reg.is_empty() {
        return;
    }
    run_source(reg[pick as usize % reg.len()].as_ref(), rest);
}

fn run_source(src: &dyn Source, data: &[u8]) {
    let sha = sources::sha256_hex(data);
    let decoded = sources::text::decode(data);
    let input = sources::Input::new(
        &decoded.text,
        &sha,
        PATH,
        decoded.base_offset,
        decoded.decoded_from,
    );
    let mut parsed = Parsed {
        format: Some(src.id()),
        decoded_from: decoded.decoded_from,
        ..Parsed::default()
    };
    src.parse(&input, &ctx(), &mut |item| match item {
        Ok(ev) => parsed.events.push(ev),
        Err(e) => parsed.rejected.push(e),
    });
    check(data, &sha, parsed);
}

/// Arbitrary text as a case file: an error or a case, never a panic.
pub fn case_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = irpack::case::CaseFile::parse(&text, "fuzz.toml");
}

/// Arbitrary text as a timeline and as a custody log: verified or refused with a line.
pub fn timeline_verify(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let lines = text.lines().count().max(1);
    if let Err((line, _)) = irpack::timeline::verify_text(&text) {
        assert!(
            line >= 1 && line <= lines,
            "timeline error on line {line} of {lines}"
        );
    }
    if let Err((line, _)) = irpack::evidence::custody::verify_text(&text) {
        assert!(
            line >= 1 && line <= lines,
            "custody error on line {line} of {lines}"
        );
    }
}

/// Arbitrary bytes as `export.zip` through intake, with small caps: every member taken stays
/// within the caps, is labelled inside the archive, and reads back to the bytes it was hashed as.
pub fn zip_intake(data: &[u8]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in");
    std::fs::create_dir(&input).expect("mkdir");
    std::fs::write(input.join("export.zip"), data).expect("write");
    let case_dir = dir.path().join("case");
    let actor = Actor {
        examiner: "fuzz".into(),
        host: "fuzz".into(),
        tool: "fuzz".into(),
    };
    let limits = ZipLimits {
        max_member_bytes: 1 << 20,
        max_total_bytes: 4 << 20,
        max_ratio: 100,
    };
    let inputs = [input];
    let got = intake::intake(&IntakeOptions {
        inputs: &inputs,
        case_dir: &case_dir,
        acquired_at: "2024-01-01T00:00:00Z".into(),
        actor: &actor,
        zip_limits: limits.clone(),
        exclude: &[],
    });
    let mut total = 0u64;
    for item in &got.items {
        if item.kind != ItemKind::ZipMember {
            continue;
        }
        assert!(item.size <= limits.max_member_bytes, "member over the cap");
        total += item.size;
        let label = item
            .stored_path
            .split_once(".zip!/")
            .map(|(_, l)| l)
            .expect("member path");
        assert!(
            !label.starts_with('/') && !label.split('/').any(|p| p == ".." || p.is_empty()),
            "member label {label:?} could leave the archive"
        );
        let bytes = intake::read_item(&case_dir, item).expect("member reads back");
        assert_eq!(
            sources::sha256_hex(&bytes),
            item.sha256,
            "member {:?} reads back as other bytes than were hashed",
            item.member_name
        );
    }
    assert!(
        total <= limits.max_total_bytes,
        "members over the total cap"
    );
}

/// Arbitrary bytes as a package ZIP through `irpack verify`: it must answer (ok, problems or
/// an error naming the file), never panic, whatever the archive holds.
pub fn verify(data: &[u8]) {
    let Ok(dir) = tempfile::tempdir() else { return };
    let p = dir.path().join("package.zip");
    if std::fs::write(&p, data).is_err() {
        return;
    }
    let _ = irpack::package::verify::verify(&p, &Default::default());
}
