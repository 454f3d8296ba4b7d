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
            raw_matches(bytes, &e.full_provenance()),
            "provenance of record {} does not re-hash",
            e.provenance.record_no
        );
    }
}

/// A string kept in an event's `extra`.
pub fn extra_str<'a>(e: &'a irpack::event::Event, k: &str) -> Option<&'a str> {
    e.extra.get(k).and_then(|v| v.as_str())
}

/// Every event's provenance re-hashes against the bytes of the file it names.
pub fn check_provenance(path: &Path, events: &[irpack::event::Event]) {
    let bytes = std::fs::read(path).unwrap();
    for e in events {
        assert!(
            raw_matches(&bytes, &e.full_provenance()),
            "provenance of record {} does not re-hash",
            e.provenance.record_no
        );
    }
}

/// Lines of `lines` picked by a proptest, each with one byte overwritten and cut short (line
/// breaks are replaced by `newline_stand_in`, so a line stays one line).
pub fn mutate_lines(
    lines: &[String],
    picks: &[(usize, usize, u8, usize)],
    newline_stand_in: u8,
) -> Vec<u8> {
    let mut out = Vec::new();
    for &(i, pos, byte, cut) in picks {
        let mut l = lines[i % lines.len()].clone().into_bytes();
        if !l.is_empty() {
            let p = pos % l.len();
            l[p] = if byte == b'\n' || byte == b'\r' {
                newline_stand_in
            } else {
                byte
            };
            l.truncate(l.len() - cut % (l.len() / 2 + 1));
        }
        out.extend_from_slice(&l);
        out.push(b'\n');
    }
    out
}

/// The lines of some sample files.
pub fn sample_file_lines(files: &[&str]) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(samples_dir().join(f))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// For input detected as a format `line_oriented` accepts (one record per line), the records
/// counted and the non-blank lines: every line must be accounted for as an event or a rejection.
pub fn records_and_lines(out: &[u8], line_oriented: impl Fn(&str) -> bool) -> Option<(u64, u64)> {
    let p = sources::parse_bytes(
        &sources::registry(),
        out,
        "p",
        "0",
        &ParseContext::default(),
    );
    let format = p.format?;
    if !line_oriented(format) {
        return None;
    }
    let text = sources::text::decode(out).text.into_owned();
    let non_blank = text.split('\n').filter(|l| !l.trim().is_empty()).count() as u64;
    Some((p.records(), non_blank))
}

/// Parse 100 MB of `generate`d lines with `parser` and print the throughput (an ignored
/// benchmark test, never a timing assertion); every line must be an event.
pub fn line_throughput(
    name: &str,
    generate: fn(u64, usize, &mut Vec<u8>) -> std::io::Result<u64>,
    parser: &dyn sources::Source,
) {
    let mut buf = Vec::with_capacity(105 << 20);
    let lines = generate(42, 100 << 20, &mut buf).unwrap();
    let text = std::str::from_utf8(&buf).unwrap();
    let input = sources::Input::new(text, "0", "gen", 0, None);
    let ctx = ParseContext::default();
    let t = std::time::Instant::now();
    let (mut ev, mut rej) = (0u64, 0u64);
    parser.parse(&input, &ctx, &mut |i| match i {
        Ok(_) => ev += 1,
        Err(_) => rej += 1,
    });
    let s = t.elapsed().as_secs_f64();
    let mb = buf.len() as f64 / 1e6;
    println!(
        "{name}: {mb:.1} MB, {lines} lines, {ev} events, {rej} rejected in {s:.2} s = {:.1} MB/s, {:.0} events/s",
        mb / s,
        ev as f64 / s
    );
    assert_eq!(ev + rej, lines);
    assert_eq!(rej, 0);
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

/// A folder's entries, sorted.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// One input the equivalence tests (trimmed vs whole events, compact vs whole flows) run
/// twice: a label, the paths, the case it runs under and that case's file, if it has one.
pub struct EquivalenceInput {
    pub label: String,
    pub paths: Vec<PathBuf>,
    pub case: irpack::case::CaseFile,
    pub case_path: Option<PathBuf>,
}

/// Every sample family (whole, and each file alone), every family together (the
/// cross-source rules see them all), each scenario with its case file, each `tests/data`
/// folder and each corpus file; all but the scenarios under a minimal case `case_id`.
pub fn equivalence_inputs(case_id: &str) -> Vec<EquivalenceInput> {
    use irpack::case::CaseFile;
    let input = |label: String, paths: Vec<PathBuf>| EquivalenceInput {
        label,
        paths,
        case: CaseFile::minimal(case_id),
        case_path: None,
    };
    let samples = samples_dir();
    let mut out = Vec::new();
    let mut families = Vec::new();
    for p in files_in(&samples) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !p.is_dir() || name == "scenarios" {
            continue;
        }
        if name.starts_with("scenario-") {
            let case_path = samples.join(format!("{name}.case.toml"));
            let case = CaseFile::load(&case_path).unwrap();
            out.push(EquivalenceInput {
                label: name,
                paths: vec![p],
                case,
                case_path: Some(case_path),
            });
            continue;
        }
        families.push(p.clone());
        out.push(input(name.clone(), vec![p.clone()]));
        for f in files_in(&p) {
            let file = format!("{name}/{}", f.file_name().unwrap().to_string_lossy());
            out.push(input(file, vec![f]));
        }
    }
    out.push(input("all sample families".into(), families));
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for p in files_in(&data) {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if p.is_dir() && name != "fuzz" {
            out.push(input(format!("tests/data/{name}"), vec![p]));
        }
    }
    if let Some(corpus) = corpus_dir() {
        for fam in files_in(&corpus).into_iter().filter(|p| p.is_dir()) {
            for f in files_in(&fam) {
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                if name.ends_with(".md") || name.ends_with(".json") {
                    continue;
                }
                out.push(input(format!("corpus/{name}"), vec![f]));
            }
        }
    }
    out
}
