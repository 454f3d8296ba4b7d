//! Every event from every sample and corpus file validates against schemas/event.schema.json,
//! and every provenance points at bytes that re-hash to its raw_sha256.

mod common;

use irpack::sources::ParseContext;
use std::path::{Path, PathBuf};

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            // Documentation and answer keys beside the evidence are not evidence.
            !(n.ends_with(".truth.json")
                || n.ends_with(".md")
                || n.ends_with(".py")
                || n.ends_with(".toml"))
        })
        .collect();
    v.sort();
    v
}

fn evidence_files() -> Vec<PathBuf> {
    let mut v = files_under(&common::samples_dir());
    if let Some(c) = common::corpus_dir() {
        v.extend(files_under(&c));
    }
    v
}

#[test]
fn every_event_validates_against_the_schema() {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/event.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let ctx = ParseContext::default();
    let mut checked = 0;
    for f in evidence_files() {
        let parsed = common::parse_path(&f, &ctx);
        for ev in &parsed.events {
            let v = serde_json::to_value(ev).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&v)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            assert!(
                errors.is_empty(),
                "{}: record {}: {:?}",
                f.display(),
                ev.provenance.record_no,
                errors
            );
            checked += 1;
        }
    }
    eprintln!("validated {checked} events");
}

#[test]
fn every_provenance_rehashes_to_the_raw_record() {
    let ctx = ParseContext::default();
    for f in evidence_files() {
        let bytes = std::fs::read(&f).unwrap();
        let parsed = common::parse_path(&f, &ctx);
        for ev in &parsed.events {
            assert!(
                common::raw_matches(&bytes, &ev.full_provenance()),
                "{}: record {} does not re-hash",
                f.display(),
                ev.provenance.record_no
            );
        }
        for r in &parsed.rejected {
            let p = irpack::event::Provenance {
                byte_offset: r.byte_offset,
                byte_len: r.byte_len,
                raw_sha256: r.raw_sha256.clone().into(),
                decoded_from: parsed.decoded_from.map(Into::into),
                ..Default::default()
            };
            assert!(
                common::raw_matches(&bytes, &p),
                "{}: rejected record {} does not re-hash",
                f.display(),
                r.record_no
            );
        }
    }
}

#[test]
fn record_numbers_are_contiguous_per_file() {
    let ctx = ParseContext::default();
    for f in evidence_files() {
        let parsed = common::parse_path(&f, &ctx);
        let mut nos: Vec<u64> = parsed
            .events
            .iter()
            .map(|e| e.provenance.record_no)
            .chain(parsed.rejected.iter().map(|r| r.record_no))
            .collect();
        nos.sort_unstable();
        let expected: Vec<u64> = (1..=nos.len() as u64).collect();
        assert_eq!(
            nos,
            expected,
            "{}: every record seen must be an event or a rejection, numbered 1..n",
            f.display()
        );
    }
}

#[test]
fn every_sample_and_corpus_file_is_recognized() {
    let ctx = ParseContext::default();
    for f in evidence_files() {
        let parsed = common::parse_path(&f, &ctx);
        assert!(
            parsed.format.is_some(),
            "{}: no parser recognized it",
            f.display()
        );
    }
}
