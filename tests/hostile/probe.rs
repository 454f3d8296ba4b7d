//! Minimal test-only sources built on the shared scanners (`jsonscan`, `csvscan`) and
//! `Input`'s provenance, so hostile input reaches the span and decoding code with exact,
//! known expectations whatever the real parsers do with it. Records with a `time` field (or
//! column) holding an RFC 3339 time become events; everything else is rejected with a reason.
#![allow(dead_code)]

use irpack::event::{Event, EventClass, Outcome};
use irpack::sources::{csvscan, jsonscan, timefmt, Input, Item, ParseContext, Source};

pub struct ProbeJson;
pub struct ProbeCsv;

pub fn registry() -> Vec<Box<dyn Source>> {
    vec![Box::new(ProbeJson), Box::new(ProbeCsv)]
}

#[allow(clippy::result_large_err)] // the Source contract's own Item type
fn event(input: &Input, no: u64, start: usize, end: usize, time: &str) -> Item {
    let st = timefmt::parse_iso(time)
        .ok_or_else(|| input.reject(no, start, end, format!("time {time:?} is not RFC 3339")))?;
    Ok(Event::new(
        st.utc,
        time,
        st.zone,
        "probe",
        "probe",
        EventClass::ApiActivity,
        "other",
        "probe",
        Outcome::Unknown,
        input.provenance(no, start, end),
    ))
}

impl Source for ProbeJson {
    fn id(&self) -> &'static str {
        "probe_json"
    }
    fn name(&self) -> &'static str {
        "probe JSON"
    }
    fn sniff(&self, head: &str) -> u8 {
        match head
            .trim_start_matches(['\u{FEFF}', ' ', '\n', '\r', '\t', '\0'])
            .chars()
            .next()
        {
            Some('{' | '[') => 50,
            _ => 0,
        }
    }
    fn parse(&self, input: &Input, _ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        for (i, piece) in jsonscan::split(input.text).into_iter().enumerate() {
            let no = i as u64 + 1;
            out(match piece {
                jsonscan::Piece::Bad { start, end, reason } => {
                    Err(input.reject(no, start, end, reason))
                }
                jsonscan::Piece::Record { start, end } => {
                    match serde_json::from_str::<serde_json::Value>(&input.text[start..end]) {
                        Err(e) => Err(input.reject(no, start, end, format!("invalid JSON: {e}"))),
                        Ok(v) => match v.get("time").and_then(|t| t.as_str()) {
                            Some(t) => event(input, no, start, end, t),
                            None => Err(input.reject(no, start, end, "no \"time\" field")),
                        },
                    }
                }
            });
        }
    }
}

impl Source for ProbeCsv {
    fn id(&self) -> &'static str {
        "probe_csv"
    }
    fn name(&self) -> &'static str {
        "probe CSV"
    }
    fn sniff(&self, head: &str) -> u8 {
        if head.trim_start_matches('\u{FEFF}').starts_with("time,") {
            60
        } else {
            0
        }
    }
    fn parse(&self, input: &Input, _ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        let mut rows = csvscan::Rows::new(input.text, b',');
        let Some(Ok(_header)) = rows.next() else {
            return;
        };
        let mut no = 0;
        for row in rows {
            no += 1;
            out(match row {
                Err((start, end, why)) => Err(input.reject(no, start, end, why)),
                Ok(r) if r.record.len() != 2 => Err(input.reject(
                    no,
                    r.start,
                    r.end,
                    format!("{} fields where the header has 2", r.record.len()),
                )),
                Ok(r) => event(input, no, r.start, r.end, &r.record[0]),
            });
        }
    }
}
