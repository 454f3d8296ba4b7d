//! What must hold for ANY input, checked the same way by the hostile tests and the fuzz
//! targets (the fuzz crate includes this file by path, so there is one definition).
//!
//! Each check returns `Err(what broke)` instead of panicking, so a test can print context and a
//! fuzz target can turn it into a crash with a readable message.
#![allow(dead_code)]

use irpack::event::Event;
use irpack::sources::{self, text, Parsed};

/// Every record seen comes out exactly once, numbered 1..=N with no gap (events + rejected
/// = records), and every provenance span points inside the decoded text at bytes that hash
/// to the recorded `raw_sha256`.
pub fn check_parsed(bytes: &[u8], path: &str, sha: &str, parsed: &Parsed) -> Result<(), String> {
    let mut nos: Vec<u64> = parsed
        .events
        .iter()
        .map(|e| e.provenance.record_no)
        .chain(parsed.rejected.iter().map(|r| r.record_no))
        .collect();
    nos.sort_unstable();
    for (i, n) in nos.iter().enumerate() {
        if *n != i as u64 + 1 {
            return Err(format!(
                "record numbers are not 1..={} without gaps or repeats: position {i} holds {n} \
                 (a record was lost or counted twice)",
                nos.len()
            ));
        }
    }
    if parsed.records() != nos.len() as u64 {
        return Err("records() differs from events + rejected".into());
    }
    if parsed.format.is_none() && !nos.is_empty() {
        return Err("records produced although no format was detected".into());
    }

    let decoded = text::decode(bytes);
    let lines = text::LineIndex::new(&decoded.text);
    let check_span = |what: &str,
                      off: u64,
                      len: u64,
                      line: u64,
                      raw: &str,
                      from: Option<&str>,
                      ev_path: &str,
                      ev_sha: &str|
     -> Result<(), String> {
        if ev_path != path || ev_sha != sha {
            return Err(format!("{what}: evidence path/sha not echoed"));
        }
        if from != decoded.decoded_from {
            return Err(format!(
                "{what}: decoded_from {from:?} but the text was decoded from {:?}",
                decoded.decoded_from
            ));
        }
        // Offsets are into the original bytes when it was UTF-8, else into the decoding.
        let (hay, base): (&[u8], u64) = match from {
            None => (bytes, decoded.base_offset),
            Some(_) => (decoded.text.as_bytes(), 0),
        };
        let end = off
            .checked_add(len)
            .ok_or_else(|| format!("{what}: span overflows"))?;
        if off < base || end > hay.len() as u64 {
            return Err(format!(
                "{what}: span {off}+{len} outside the text ({} bytes, base {base})",
                hay.len()
            ));
        }
        let (s, e) = (off as usize, end as usize);
        let ts = s - base as usize;
        if !decoded.text.is_char_boundary(ts) || !decoded.text.is_char_boundary(e - base as usize) {
            return Err(format!("{what}: span {off}+{len} splits a character"));
        }
        if sources::sha256_hex(&hay[s..e]) != raw {
            return Err(format!(
                "{what}: raw_sha256 does not match the bytes at {off}+{len}"
            ));
        }
        if line != lines.line_of(&decoded.text, ts) {
            return Err(format!(
                "{what}: line {line} but the span starts on line {}",
                lines.line_of(&decoded.text, ts)
            ));
        }
        Ok(())
    };
    for ev in &parsed.events {
        let p = &ev.full_provenance();
        check_span(
            &format!("event record {}", p.record_no),
            p.byte_offset,
            p.byte_len,
            p.line,
            &p.raw_sha256.to_string(),
            p.decoded_from.as_deref(),
            &p.evidence_path,
            &p.evidence_sha256,
        )?;
    }
    for r in &parsed.rejected {
        check_span(
            &format!("rejected record {}", r.record_no),
            r.byte_offset,
            r.byte_len,
            r.line,
            &r.raw_sha256,
            parsed.decoded_from,
            &r.evidence_path,
            &r.evidence_sha256,
        )?;
        // A rejected 100 MB line must not be copied whole into the report.
        if r.excerpt.chars().count() > 161 {
            return Err(format!(
                "rejected record {}: excerpt of {} characters",
                r.record_no,
                r.excerpt.chars().count()
            ));
        }
        if r.reason.trim().is_empty() {
            return Err(format!("rejected record {}: no reason given", r.record_no));
        }
    }
    Ok(())
}

/// Events survive the hash-chained timeline: written, re-read and verified, each event
/// re-hashing to the same identity (so findings citing a hash can be checked later).
pub fn check_timeline_roundtrip(events: &[Event]) -> Result<(), String> {
    let mut sorted = events.to_vec();
    irpack::timeline::sort(&mut sorted);
    let mut buf = Vec::new();
    let head = irpack::timeline::write_jsonl(&sorted, &mut buf)
        .map_err(|e| format!("timeline write failed: {e}"))?;
    let text = String::from_utf8(buf).map_err(|_| "timeline is not UTF-8".to_string())?;
    let (entries, head2) = irpack::timeline::verify_text(&text).map_err(|(line, msg)| {
        let ev = sorted.get(line.saturating_sub(1));
        format!(
            "timeline line {line} does not verify after writing: {msg} (event time {:?}, original {:?})",
            ev.map(|e| e.time),
            ev.map(|e| e.time_original())
        )
    })?;
    if head != head2 || entries.len() != sorted.len() {
        return Err("timeline head or length changed on re-reading".into());
    }
    Ok(())
}

/// A CSV cell a spreadsheet would execute: starts with a formula trigger.
pub fn is_formula(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}
