//! The streaming timeline (sorted runs on disk, one k-way merge) writes exactly the bytes the
//! in-memory path writes (sort, de-duplicate, chain, CSV), whatever the run budget.

use chrono::{TimeZone, Utc};
use irpack::event::{Event, EventClass, Outcome, Provenance};
use irpack::timeline::{self, dedup, export, spill};
use proptest::prelude::*;
use std::collections::BTreeMap;

fn event(
    file: usize,
    source: &str,
    record_no: u64,
    secs: i64,
    micros: u32,
    req: Option<u8>,
) -> Event {
    let t = Utc
        .timestamp_opt(1_710_000_000 + secs, micros * 1000)
        .unwrap();
    let mut e = Event::new(
        t,
        t.to_rfc3339(),
        if file.is_multiple_of(3) {
            "Europe/Berlin (assumed: case file)"
        } else {
            "UTC"
        },
        source,
        "v",
        EventClass::Authentication,
        "sign_in",
        "Sign-in activity",
        Outcome::Success,
        Provenance {
            evidence_path: format!("data/evidence/f{file}.json").into(),
            evidence_sha256: format!("{file:064}").into(),
            record_no,
            line: record_no,
            ..Default::default()
        },
    );
    e.user = Some(format!("user{}@contoso.com", secs % 3).into());
    e.cold_mut().request_id = req.map(|r| format!("REQ-{r}"));
    e.extra
        .insert("k", serde_json::json!(format!("={record_no}")));
    e
}

/// The in-memory reference: what `collect` wrote before the timeline streamed.
fn reference(mut all: Vec<Event>) -> (Vec<u8>, Vec<u8>, usize) {
    timeline::sort(&mut all);
    let merged = dedup::dedup(&mut all);
    let mut jsonl = Vec::new();
    timeline::write_jsonl(&all, &mut jsonl).unwrap();
    let hashes: Vec<String> = all.iter().map(Event::hash).collect();
    let mut csv = Vec::new();
    export::write(export::Format::Csv, &all, &hashes, &mut csv).unwrap();
    (jsonl, csv, merged)
}

fn streamed(files: &[Vec<Event>], budget: usize) -> (Vec<u8>, Vec<u8>, spill::Merged) {
    let dir = tempfile::tempdir().unwrap();
    let mut runs = Vec::new();
    let mut order: Vec<usize> = (0..files.len()).collect();
    let key = |i: usize| {
        files[i]
            .first()
            .map(|e| (e.source().clone(), e.evidence_path().to_string()))
    };
    order.sort_by_key(|&i| key(i));
    for (i, evs) in files.iter().enumerate() {
        let mut sink = spill::RunSink::new(dir.path(), i, budget);
        for e in evs {
            sink.push(e).unwrap();
        }
        let rank = order.iter().position(|&j| j == i).unwrap();
        runs.extend(
            sink.finish()
                .unwrap()
                .into_iter()
                .map(|path| spill::Run { path, rank }),
        );
    }
    let (mut jsonl, mut csv) = (Vec::new(), Vec::new());
    let m = spill::merge(&runs, &mut jsonl, &mut csv).unwrap();
    (jsonl, csv, m)
}

fn files_strategy() -> impl Strategy<Value = Vec<Vec<Event>>> {
    // Up to 5 files of up to 40 events; few distinct seconds and request ids, so equal times
    // across files and duplicates across exports are common.
    prop::collection::vec(
        (
            prop::sample::select(vec!["entra_signin", "m365_ual", "fortigate"]),
            prop::collection::vec((0i64..6, 0u32..3, prop::option::of(0u8..4)), 0..40),
        ),
        1..5,
    )
    .prop_map(|files| {
        files
            .into_iter()
            .enumerate()
            .map(|(f, (source, evs))| {
                evs.into_iter()
                    .enumerate()
                    .map(|(i, (s, us, req))| event(f, source, i as u64 + 1, s, us, req))
                    .collect()
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn merge_equals_in_memory_timeline(files in files_strategy(), budget in prop::sample::select(vec![1usize, 700, 5_000, 1 << 20])) {
        let all: Vec<Event> = files.iter().flatten().cloned().collect();
        let (jsonl, csv, merged) = reference(all);
        let (sj, sc, m) = streamed(&files, budget);
        prop_assert_eq!(String::from_utf8(sj.clone()).unwrap(), String::from_utf8(jsonl.clone()).unwrap());
        prop_assert_eq!(&sc, &csv);
        prop_assert_eq!(m.duplicates_merged as usize, merged);
        let lines = jsonl.iter().filter(|&&b| b == b'\n').count() as u64;
        prop_assert_eq!(m.events, lines);
        // The head the merge reports is the chain the file verifies to.
        let (_, head) = timeline::verify_text(std::str::from_utf8(&sj).unwrap()).unwrap();
        prop_assert_eq!(m.head, head);
        // And the hashes it reports are those of the bytes written (the custody log takes them).
        prop_assert_eq!(m.jsonl_sha256, sha256_hex(&sj));
        prop_assert_eq!(m.csv_sha256, sha256_hex(&sc));
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// Accepts `limit` bytes, then fails every write.
struct Failing {
    limit: usize,
    taken: usize,
}

impl std::io::Write for Failing {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.taken + b.len() > self.limit {
            return Err(std::io::Error::other("disk full (test)"));
        }
        self.taken += b.len();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The events as one evidence item's sorted runs (of 1 MiB each) in `dir`.
fn runs_of(events: &[Event], dir: &std::path::Path) -> Vec<spill::Run> {
    let mut sink = spill::RunSink::new(dir, 0, 1 << 20);
    for e in events {
        sink.push(e).unwrap();
    }
    sink.finish()
        .unwrap()
        .into_iter()
        .map(|path| spill::Run { path, rank: 0 })
        .collect()
}

/// The timeline files are written on a thread of their own: when writing fails, the merge
/// stops with that error instead of waiting for a writer that is gone, whichever file fails
/// and whether it fails at once or after megabytes.
#[test]
fn a_failing_timeline_write_stops_the_merge_with_its_error() {
    let events: Vec<Event> = (0..20_000u64)
        .map(|i| event(1, "entra_signin", i + 1, (i / 7) as i64, 0, None))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_of(&events, dir.path());
    for limit in [0, 3 << 20] {
        let fail = || Failing { limit, taken: 0 };
        let e = spill::merge(&runs, fail(), Vec::new()).unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
        let e = spill::merge(&runs, Vec::new(), fail()).unwrap_err();
        assert!(e.to_string().contains("disk full"), "{e}");
    }
    // Enough events that the JSON lines span several chunks.
    let (mut whole, mut csv) = (Vec::new(), Vec::new());
    let m = spill::merge(&runs, &mut whole, &mut csv).unwrap();
    assert!(whole.len() > 8 << 20, "{}", whole.len());
    assert_eq!(m.events, events.len() as u64);
    // Hashed on threads of their own, chunk by chunk: the hashes are of the bytes written.
    assert_eq!(m.jsonl_sha256, sha256_hex(&whole));
    assert_eq!(m.jsonl_bytes, whole.len() as u64);
    assert_eq!(m.csv_sha256, sha256_hex(&csv));
    assert_eq!(m.csv_bytes, csv.len() as u64);
}

#[test]
fn duplicate_across_exports_keeps_both_provenances_in_the_merge() {
    let a = vec![event(0, "entra_signin", 1, 1, 0, Some(7))];
    let b = vec![event(1, "entra_signin", 9, 1, 0, Some(7))];
    let (jsonl, _, m) = streamed(&[a, b], 1);
    assert_eq!(m.duplicates_merged, 1);
    assert_eq!(m.events, 1);
    let (entries, _) = timeline::verify_text(std::str::from_utf8(&jsonl).unwrap()).unwrap();
    let e = &entries[0].event;
    assert_eq!(e.evidence_path(), "data/evidence/f0.json");
    assert_eq!(e.cold().also_seen_in.len(), 1);
    assert_eq!(
        e.cold().also_seen_in[0].evidence_path,
        "data/evidence/f1.json"
    );
    assert_eq!(e.cold().also_seen_in[0].record_no, 9);
    // A folded copy with an assumed zone is reported, so zone notes count each event once.
    assert_eq!(
        m.folded_assumed_zones,
        [(("entra_signin".to_string(), "UTC".to_string()), 0u64)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    );
}

/// `collect` with a run budget of a few KiB (dozens of runs per file) writes the same
/// timeline, CSV and chain head as with the default budget.
#[test]
fn collect_is_independent_of_the_run_budget() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let mut heads = Vec::new();
    let mut bytes: Vec<BTreeMap<&str, Vec<u8>>> = Vec::new();
    for budget in [None, Some(4096)] {
        let out = tempfile::tempdir().unwrap();
        let opts = irpack::pipeline::RunOptions {
            inputs: vec![samples.join("scenario-bec")],
            out: out.path().join("case"),
            case: irpack::case::CaseFile::minimal("IR-BUDGET"),
            now: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            examiner: Some("tester".into()),
            quiet: true,
            run_budget_bytes: budget,
            ..Default::default()
        };
        let run = irpack::pipeline::collect(&opts).unwrap();
        assert!(run.events.len() > 100, "{}", run.events.len());
        heads.push(run.timeline_head.clone());
        let mut m = BTreeMap::new();
        for f in ["timeline.jsonl", "timeline.csv"] {
            m.insert(f, std::fs::read(opts.out.join("timeline").join(f)).unwrap());
        }
        assert!(
            !opts.out.join("tmp-runs").exists(),
            "runs are removed after the merge"
        );
        bytes.push(m);
    }
    assert_eq!(heads[0], heads[1]);
    assert!(
        bytes[0] == bytes[1],
        "timeline files differ with the run budget"
    );
}

/// `collect` keeps the events for the analysis without reading the timeline back; they must
/// be exactly what the read-back gives (order, folds, trimming and remembered hashes), with
/// many runs per file and with the default budget, and with duplicates across exports.
#[test]
fn events_kept_for_the_analysis_equal_the_timeline_read_back() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let dup = tempfile::tempdir().unwrap();
    // The same Graph sign-in export twice under two names: every sign-in with a request id
    // folds, keeping both provenances.
    let graph = std::fs::read_dir(samples.join("entra_signin"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a sign-in JSON sample");
    std::fs::copy(&graph, dup.path().join("a.json")).unwrap();
    std::fs::copy(&graph, dup.path().join("b.json")).unwrap();
    for budget in [None, Some(2048)] {
        let out = tempfile::tempdir().unwrap();
        let opts = irpack::pipeline::RunOptions {
            inputs: vec![
                samples.join("scenario-bec"),
                samples.join("fortigate"),
                dup.path().to_path_buf(),
            ],
            out: out.path().join("case"),
            case: irpack::case::CaseFile::minimal("IR-KEEP"),
            now: Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).unwrap(),
            quiet: true,
            run_budget_bytes: budget,
            ..Default::default()
        };
        let run = irpack::pipeline::collect(&opts).unwrap();
        assert!(
            run.collected.duplicates_merged > 0,
            "the copied export folds"
        );
        let (back, head) = timeline::read_file(
            &opts.out.join("timeline/timeline.jsonl"),
            true,
            irpack::analysis::trim_for_analysis,
        )
        .unwrap();
        assert_eq!(head, run.timeline_head);
        assert_eq!(run.events.len(), back.len());
        // The held events do not carry their hashes: the run's table does, entry i held
        // event i, the folded ones' the merged event's.
        assert!(run.hashes.is_stored());
        for (i, (a, b)) in run.events.iter().zip(&back).enumerate() {
            assert_eq!(a, b);
            assert!(a.hash_known() && a.remembered_hash().is_none());
            assert_eq!(
                Some(run.hashes.hash_of(&run.events, i)),
                b.remembered_hash()
            );
        }
        assert!(run.hashes.error().is_none());
        assert!(run.events.iter().any(|e| !e.cold().also_seen_in.is_empty()));
    }
}

/// The merge's line index gives the byte offset of every `LINE_INDEX_EVERY`th line of the
/// JSON lines as written, across output chunks and with folded duplicates not counted.
#[test]
fn line_index_points_at_the_start_of_every_indexed_line() {
    // Every 5th event is the copy of the one before it (same request id and second): folded.
    let events: Vec<Event> = (0..30_000u64)
        .map(|i| {
            let dup = if i % 5 == 4 { i - 1 } else { i };
            event(
                1,
                "entra_signin",
                i + 1,
                (i / 7) as i64,
                0,
                Some((dup % 256) as u8),
            )
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_of(&events, dir.path());
    let (mut whole, mut csv) = (Vec::new(), Vec::new());
    let m = spill::merge(&runs, &mut whole, &mut csv).unwrap();
    assert!(m.duplicates_merged > 0, "the input folds some copies");
    let lines = whole.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(lines, m.events);
    assert!(whole.len() > 8 << 20, "spans several output chunks");
    assert_eq!(
        m.line_starts.len() as u64,
        m.events.div_ceil(spill::LINE_INDEX_EVERY)
    );
    for (k, &off) in m.line_starts.iter().enumerate() {
        let off = off as usize;
        assert!(
            off == 0 || whole[off - 1] == b'\n',
            "entry {k} not at a line start"
        );
        let before = whole[..off].iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(before, k as u64 * spill::LINE_INDEX_EVERY, "entry {k}");
    }
}

/// Reading lines back through the merge's line index gives exactly what reading from the
/// top gives, for lines before, at and after indexed ones; a wrong index is noticed.
#[test]
fn lines_read_back_through_the_index_equal_those_read_from_the_top() {
    let events: Vec<Event> = (0..5_000u64)
        .map(|i| event(1, "entra_signin", i + 1, (i / 3) as i64, 0, None))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let runs = runs_of(&events, dir.path());
    let path = dir.path().join("timeline.jsonl");
    let m = spill::merge(&runs, std::fs::File::create(&path).unwrap(), Vec::new()).unwrap();
    assert_eq!(m.line_starts.len(), 5);
    let lines = [0, 1, 1022, 1023, 1024, 1025, 2047, 3000, 3001, 4999];
    let read = |index: &[u64]| {
        irpack::timeline::flowstore::read_lines(&path, index, &lines)
            .unwrap()
            .into_iter()
            .map(|(l, e)| (l, e.provenance.record_no, e.hash()))
            .collect::<Vec<_>>()
    };
    let top = read(&[]);
    assert_eq!(top.len(), lines.len());
    for (k, (l, rec, _)) in top.iter().enumerate() {
        assert_eq!(*l, lines[k]);
        assert_eq!(*rec, lines[k] + 1, "events are in record order here");
    }
    assert_eq!(read(&m.line_starts), top);
    // An index that points one line off reads other events.
    let mut off = m.line_starts.clone();
    off[4] = m.line_starts[3];
    assert_ne!(read(&off), top);
}
