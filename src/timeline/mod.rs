//! The timeline: every event in UTC order, written as JSON lines in a hash chain
//! (`chain_i = SHA-256(chain_{i-1} ‖ event_sha256_i)`), so one altered, removed or reordered
//! line is found by re-walking the chain. The head goes into the custody log.

pub mod dedup;
pub mod export;
pub mod flowstore;
pub mod hashes;
pub mod spill;

use crate::event::Event;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;

pub const GENESIS: &str = crate::evidence::custody::GENESIS;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub seq: u64,
    pub event_sha256: String,
    pub prev: String,
    pub chain: String,
    pub event: Event,
}

/// Order: UTC time, then source, then where the record sits in its evidence.
pub fn sort(events: &mut [Event]) {
    events.sort_by(|a, b| {
        (
            a.time,
            a.source(),
            a.evidence_path(),
            a.provenance.record_no,
        )
            .cmp(&(
                b.time,
                b.source(),
                b.evidence_path(),
                b.provenance.record_no,
            ))
    });
}

pub fn link(prev: &str, event_sha256: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(event_sha256.as_bytes());
    hex::encode(h.finalize())
}

/// Write sorted events as chained JSON lines; returns the chain head.
pub fn write_jsonl<W: Write>(events: &[Event], w: W) -> std::io::Result<String> {
    let canonical: Vec<String> = events.iter().map(Event::canonical_json).collect();
    write_jsonl_canonical(&canonical, w)
}

/// SHA-256 of canonical event JSON, as `Event::hash` computes it.
pub fn hash_canonical(json: &str) -> String {
    hex::encode(Sha256::digest(json.as_bytes()))
}

/// The same as [`write_jsonl`] from events already in canonical JSON, so a large timeline is
/// serialized once (the line is built by hand in `TimelineEntry`'s field order; a test
/// checks it parses back into the same entry).
pub fn write_jsonl_canonical<W: Write>(canonical: &[String], mut w: W) -> std::io::Result<String> {
    let mut prev = GENESIS.to_string();
    for (i, json) in canonical.iter().enumerate() {
        let event_sha256 = hash_canonical(json);
        let chain = link(&prev, &event_sha256);
        writeln!(w, "{{\"seq\":{},\"event_sha256\":\"{event_sha256}\",\"prev\":\"{prev}\",\"chain\":\"{chain}\",\"event\":{json}}}", i + 1)?;
        prev = chain;
    }
    w.flush()?;
    Ok(prev)
}

/// Re-walk a timeline's chain: every event re-hashed, every link recomputed, order checked.
/// Returns the entries and the head, or the 1-based line and what is wrong.
pub fn verify_text(text: &str) -> Result<(Vec<TimelineEntry>, String), (usize, String)> {
    let mut prev = GENESIS.to_string();
    let mut out: Vec<TimelineEntry> = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let n = i + 1;
        let e: TimelineEntry = serde_json::from_str(line)
            .map_err(|err| (n, format!("not a timeline entry: {err}")))?;
        check_entry(
            &e,
            &e.event.hash(),
            out.len(),
            &prev,
            out.last().map(|l| l.event.time),
        )
        .map_err(|m| (n, m))?;
        prev = e.chain.clone();
        out.push(e);
    }
    Ok((out, prev))
}

/// Walk a timeline file line by line (never the whole text at once), checking each line as
/// [`verify_text`] does when `verify` is set; otherwise (a timeline this run just wrote) only
/// parsing. Returns the chain head, or the 1-based line and what is wrong there.
pub fn for_each_entry(
    path: &std::path::Path,
    verify: bool,
    mut f: impl FnMut(TimelineEntry) -> Result<(), String>,
) -> Result<String, (usize, String)> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(|e| (0, e.to_string()))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut prev = GENESIS.to_string();
    let mut last_time = None;
    let mut seen = 0usize;
    let mut line = String::new();
    let mut n = 0usize;
    loop {
        line.clear();
        match r.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err((n + 1, e.to_string())),
        }
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        let e: TimelineEntry = serde_json::from_str(&line)
            .map_err(|err| (n, format!("not a timeline entry: {err}")))?;
        if verify {
            check_entry(&e, &e.event.hash(), seen, &prev, last_time).map_err(|m| (n, m))?;
        }
        seen += 1;
        prev = e.chain.clone();
        last_time = Some(e.event.time);
        f(e).map_err(|m| (n, m))?;
    }
    Ok(prev)
}

/// Every event of a timeline file (see [`for_each_entry`]), each remembering the hash its
/// line recorded ([`Event::remember`]) and passed through `each` (e.g.
/// `analysis::trim_for_analysis`). Returns the events and the head.
pub fn read_file(
    path: &std::path::Path,
    verify: bool,
    each: impl Fn(&mut Event) + Sync,
) -> Result<(Vec<Event>, String), (usize, String)> {
    read_file_with(path, verify, each, None)
}

/// [`read_file`], handing each event's hash to `on_hash` in order instead of the event
/// remembering it (which costs each a boxed block): what `irpack analyze` writes to the
/// case's table of held events' hashes ([`hashes::HashWriter`]). An event whose line does
/// not record a well-formed hash is hashed as read, and kept whole.
pub fn read_file_hashed(
    path: &std::path::Path,
    verify: bool,
    each: impl Fn(&mut Event) + Sync,
    on_hash: &mut OnHash,
) -> Result<(Vec<Event>, String), (usize, String)> {
    read_file_with(path, verify, each, Some(on_hash))
}

/// Takes each event's hash in timeline order ([`read_file_hashed`]).
pub type OnHash<'a> = dyn FnMut(&[u8; 32]) -> Result<(), String> + 'a;

fn read_file_with(
    path: &std::path::Path,
    verify: bool,
    each: impl Fn(&mut Event) + Sync,
    mut on_hash: Option<&mut OnHash>,
) -> Result<(Vec<Event>, String), (usize, String)> {
    use rayon::prelude::*;
    use std::io::BufRead;
    // Lines are parsed (and re-hashed, when verifying) in parallel a batch at a time; the
    // chain, which is sequential by nature, is then walked over the batch in order.
    const BATCH_BYTES: usize = 8 << 20;
    let file = std::fs::File::open(path).map_err(|e| (0, e.to_string()))?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut out: Vec<Event> = Vec::new();
    let mut interner = crate::event::Interner::default();
    let mut prev = GENESIS.to_string();
    let mut last_time = None;
    let mut n = 0usize;
    let mut eof = false;
    while !eof {
        let mut batch: Vec<(usize, String)> = Vec::new();
        let mut bytes = 0;
        while bytes < BATCH_BYTES {
            let mut line = String::new();
            match r.read_line(&mut line) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(k) => bytes += k,
                Err(e) => return Err((n + 1, e.to_string())),
            }
            n += 1;
            if !line.trim().is_empty() {
                batch.push((n, line));
            }
        }
        // Each line is parsed, checked against its own hash and trimmed on the worker, so
        // only the small chain facts and the trimmed event come back.
        type Parsed = Result<(usize, TimelineEntry, Option<String>, [u8; 32]), (usize, String)>;
        let hashed = on_hash.is_some();
        let parsed: Vec<Parsed> = batch
            .par_iter()
            .map(|(n, line)| {
                let mut e: TimelineEntry = serde_json::from_str(line)
                    .map_err(|err| (*n, format!("not a timeline entry: {err}")))?;
                let h = verify.then(|| e.event.hash());
                let recorded = crate::event::HashMemo::from_hex(&e.event_sha256).0;
                let full = match recorded {
                    Some(r) if hashed => {
                        e.event.mark_hash_known();
                        r
                    }
                    Some(r) => {
                        e.event.remember(r);
                        r
                    }
                    None if hashed => e.event.hash_bytes(),
                    None => [0; 32],
                };
                each(&mut e.event);
                Ok((*n, e, h, full))
            })
            .collect();
        drop(batch);
        out.reserve(parsed.len());
        for p in parsed {
            let (line_no, e, h, full) = p?;
            if let Some(h) = h {
                check_entry(&e, &h, out.len(), &prev, last_time).map_err(|m| (line_no, m))?;
            }
            if let Some(f) = on_hash.as_mut() {
                f(&full).map_err(|m| (line_no, m))?;
            }
            prev = e.chain;
            last_time = Some(e.event.time);
            let mut ev = e.event;
            // Repeated strings (the evidence item's hash and path, source, action, user,
            // app...) shared among all the events, as `irpack run` holds them.
            interner.event(&mut ev);
            out.push(ev);
        }
    }
    out.shrink_to_fit();
    Ok((out, prev))
}

/// One line's checks: sequence, event hash, link to the previous line, time order.
fn check_entry(
    e: &TimelineEntry,
    h: &str,
    seen: usize,
    prev: &str,
    last_time: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), String> {
    if e.seq != seen as u64 + 1 {
        return Err(format!(
            "sequence {} where {} was expected",
            e.seq,
            seen + 1
        ));
    }
    if h != e.event_sha256 {
        return Err(format!(
            "event altered: hashes to {h}, line says {}",
            e.event_sha256
        ));
    }
    if e.prev != prev {
        return Err("prev does not match the previous line's chain value".into());
    }
    if link(prev, h) != e.chain {
        return Err("chain value does not follow from prev and the event hash".into());
    }
    if last_time.is_some_and(|t| t > e.event.time) {
        return Err("events out of time order".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Outcome, Provenance};
    use chrono::TimeZone;

    #[test]
    fn hand_built_lines_are_timeline_entries() {
        let mut e = Event::new(
            chrono::Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
            "x \"q\"",
            "UTC",
            "entra_signin",
            "v",
            EventClass::Authentication,
            "sign_in",
            "op",
            Outcome::Success,
            Provenance::default(),
        );
        e.user = Some("a\\b".into());
        let mut out = Vec::new();
        let head = write_jsonl(&[e.clone(), e.clone()], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let (entries, h) = verify_text(&text).unwrap();
        assert_eq!(h, head);
        assert_eq!(entries[1].event, e);
        let expected = TimelineEntry {
            seq: 1,
            event_sha256: e.hash(),
            prev: GENESIS.into(),
            chain: link(GENESIS, &e.hash()),
            event: e,
        };
        assert_eq!(
            text.lines().next().unwrap(),
            serde_json::to_string(&expected).unwrap()
        );
    }
}
