//! `irpack run` holds its events trimmed and keeps the hashes of their full forms in a table
//! on disk (`timeline::hashes`), entry by entry in timeline order, with the records read back
//! later (compact flows and M365 activity) inserted among them. Findings cite events by
//! these hashes, so a wrong or misaligned entry would cite another event, or none: for
//! every held event after the analysis (folds and read-backs included), the table gives
//! exactly the hash its timeline line records, and every cited event is the one on that
//! line.

use chrono::{TimeZone, Utc};
use irpack::case::CaseFile;
use irpack::pipeline::{self, RunOptions};
use irpack::timeline::TimelineEntry;
use std::collections::HashMap;

#[test]
fn every_held_events_hash_is_its_timeline_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("exports");
    irpack::gen::write_set(irpack::gen::Kind::Mixed, 9, 3 << 20, &dir).unwrap();
    // A second copy of the UAL export: the merge folds every event into the first copy's,
    // whose line (and table entry) then hashes the merged event.
    let ual = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().contains("ual-000"))
        .expect("the mix has a UAL export");
    std::fs::copy(&ual, dir.join("ual-000a.csv")).unwrap();
    let mut case = CaseFile::minimal("IR-HASHES");
    // Low bulk-access limits: bulk access reads flagged hours of compact activity back.
    case.thresholds.bulk_download_per_hour = 4;
    case.thresholds.bulk_mail_items_per_hour = 40;
    case.thresholds.bulk_factor = 1.0;
    case.alert = Some(irpack::case::Alert {
        window_start: Some(Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap()),
        window_end: Some(Utc.with_ymd_and_hms(2024, 3, 2, 0, 0, 0).unwrap()),
        ..Default::default()
    });
    let opts = RunOptions {
        inputs: vec![dir],
        out: tmp.path().join("case"),
        case,
        now: Utc.with_ymd_and_hms(2024, 10, 1, 12, 0, 0).unwrap(),
        quiet: true,
        compact_flows: true,
        ..Default::default()
    };
    let mut out = pipeline::collect(&opts).unwrap();
    assert!(out.collected.duplicates_merged > 0, "nothing folded");
    assert!(out.hashes.is_stored(), "the run keeps no table");
    assert_eq!(out.hashes.stored(), out.events.len() as u64);
    // The table is not left in the case folder (nor, so, in the package).
    assert!(!opts.out.join("tmp-hashes.bin").exists());
    let held_before = out.events.len();
    let concl = pipeline::analyze(&mut out, &opts).unwrap();
    assert!(out.hashes.inserted() > 0, "no record read back");
    assert_eq!(out.events.len(), held_before + out.hashes.inserted());

    let text = std::fs::read_to_string(opts.out.join("timeline/timeline.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let line_of = |i: usize| out.positions.get(i).map_or(i, |&p| p as usize);
    let entry = |i: usize| -> TimelineEntry { serde_json::from_str(lines[line_of(i)]).unwrap() };
    let mut by_hash = HashMap::new();
    // Read a block at a time, as the report's index reads it…
    let mut scanned = Vec::new();
    out.hashes.scan(&out.events, 0..out.events.len(), |i, h| {
        scanned.push((i, h))
    });
    assert_eq!(scanned.len(), out.events.len());
    for (i, h) in scanned {
        let e = entry(i);
        // …and one by one, as the rules cite.
        assert_eq!(h, out.hashes.hash_of(&out.events, i), "event {i}");
        assert_eq!(
            hex::encode(h),
            e.event_sha256,
            "event {i}, line {}",
            line_of(i)
        );
        by_hash.insert(e.event_sha256.clone(), i);
    }
    assert!(out.hashes.error().is_none());
    // Every event a finding cites is held, and is the event its line records.
    let cited: Vec<&String> = concl
        .analysis
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter())
        .collect();
    assert!(cited.len() > 10, "few citations: {}", cited.len());
    for h in cited {
        let &i = by_hash
            .get(h)
            .unwrap_or_else(|| panic!("{h} is no held event's"));
        let mut whole = entry(i).event;
        assert_eq!(whole.hash(), *h);
        whole.mark_hash_known();
        irpack::analysis::trim_for_analysis(&mut whole);
        assert_eq!(whole, out.events[i], "the event cited as {h}");
    }
}
