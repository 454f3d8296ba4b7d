//! Large line-oriented files are parsed a chunk at a time; the records, events, rejections
//! and provenance must be exactly those of parsing the file whole, wherever the cuts fall.

mod common;

use irpack::sources::{self, chunks, ParseContext};
use std::path::{Path, PathBuf};

fn whole(path: &Path) -> sources::Parsed {
    common::parse_path(path, &ParseContext::default())
}

fn chunked(path: &Path, chunk: usize) -> Option<sources::Parsed> {
    let registry = sources::registry();
    let sha = sources::sha256_hex(&std::fs::read(path).unwrap());
    let label = path.display().to_string();
    let mut p = sources::Parsed::default();
    let (mut events, mut rejected) = (Vec::new(), Vec::new());
    let format = chunks::parse_file(
        &registry,
        path,
        &label,
        &sha,
        &ParseContext::default(),
        chunk,
        &mut |it| match it {
            Ok(e) => events.push(e),
            Err(r) => rejected.push(r),
        },
    )
    .unwrap()?;
    p.format = Some(format);
    p.events = events;
    p.rejected = rejected;
    Some(p)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    v.sort();
    v
}

/// Every sample and corpus file of the line-oriented families: where chunking applies, it
/// gives the whole-file result at every chunk size; where it does not, it emits nothing.
#[test]
fn chunked_parse_equals_whole_file_parse() {
    let mut dirs: Vec<PathBuf> = ["fortigate", "panos", "cef"]
        .iter()
        .map(|d| common::samples_dir().join(d))
        .collect();
    if let Some(c) = common::corpus_dir() {
        dirs.extend(["fortigate", "panos"].iter().map(|d| c.join(d)));
    }
    let mut chunked_files = 0;
    for dir in dirs {
        for f in files_in(&dir) {
            let w = whole(&f);
            for size in [1, 97, 4096, 1 << 20] {
                let Some(c) = chunked(&f, size) else {
                    continue;
                };
                chunked_files += (size == 1) as usize;
                let label = format!("{} in chunks of {size}", f.display());
                assert_eq!(c.format, w.format, "{label}");
                assert_eq!(c.events.len(), w.events.len(), "{label}");
                assert_eq!(c.rejected.len(), w.rejected.len(), "{label}");
                for (a, b) in c.events.iter().zip(&w.events) {
                    assert_eq!(a, b, "{label}");
                }
                for (a, b) in c.rejected.iter().zip(&w.rejected) {
                    assert_eq!(format!("{a:?}"), format!("{b:?}"), "{label}");
                }
            }
        }
    }
    assert!(
        chunked_files >= 5,
        "only {chunked_files} files were chunkable"
    );
}

/// Generated exports of a few MB, cut into many chunks, and edge cases: a UTF-8 BOM, CRLF,
/// blank lines, a final line without a line feed. Files that must be parsed whole (UTF-16,
/// Windows-1252 bytes) are left alone.
#[test]
fn chunk_edges_and_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let mut fg = Vec::new();
    sources::fortigate::generate(7, 300_000, &mut fg).unwrap();
    let mut pan = Vec::new();
    sources::panos::generate(7, 300_000, &mut pan).unwrap();
    let crlf: Vec<u8> = String::from_utf8(fg.clone())
        .unwrap()
        .replace('\n', "\r\n\r\n")
        .into_bytes();
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&pan);
    let mut unterminated = fg.clone();
    while unterminated.last() == Some(&b'\n') {
        unterminated.pop();
    }
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("fg.log", fg.clone(), true),
        ("pan.log", pan, true),
        ("crlf.log", crlf, true),
        ("bom.log", bom, true),
        ("unterminated.log", unterminated, true),
        (
            "cp1252.log",
            [fg.clone(), b"devname=\"caf\xe9\"\n".to_vec()].concat(),
            false,
        ),
        (
            "utf16.log",
            String::from_utf8(fg)
                .unwrap()
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes())
                .collect(),
            false,
        ),
    ];
    for (name, bytes, eligible) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, &bytes).unwrap();
        let w = whole(&p);
        assert!(!w.events.is_empty(), "{name}");
        for size in [1, 1000, 65_536] {
            match chunked(&p, size) {
                None => assert!(!eligible, "{name} should be chunked"),
                Some(c) => {
                    assert!(eligible, "{name} must be parsed whole");
                    assert_eq!(c.events, w.events, "{name} at {size}");
                    assert_eq!(
                        format!("{:?}", c.rejected),
                        format!("{:?}", w.rejected),
                        "{name} at {size}"
                    );
                }
            }
        }
    }
}

/// The pipeline with chunking on every file writes the same timeline as without.
#[test]
fn collect_with_chunks_writes_the_same_timeline() {
    let mut bytes = Vec::new();
    for chunking in [None, Some((0u64, 700usize))] {
        let out = tempfile::tempdir().unwrap();
        let opts = irpack::pipeline::RunOptions {
            inputs: vec![
                common::samples_dir().join("fortigate"),
                common::samples_dir().join("panos"),
                common::samples_dir().join("scenario-vpn-travel"),
            ],
            out: out.path().join("case"),
            case: irpack::case::CaseFile::minimal("IR-CHUNK"),
            now: chrono::DateTime::from_timestamp(1_714_000_000, 0).unwrap(),
            quiet: true,
            chunking,
            ..Default::default()
        };
        let run = irpack::pipeline::collect(&opts).unwrap();
        assert!(run.events.len() > 20);
        bytes.push((
            std::fs::read(opts.out.join("timeline/timeline.jsonl")).unwrap(),
            std::fs::read(opts.out.join("collected.json")).unwrap(),
        ));
    }
    assert!(bytes[0].0 == bytes[1].0, "timeline differs with chunking");
    assert!(
        bytes[0].1 == bytes[1].1,
        "collection record differs with chunking"
    );
}
