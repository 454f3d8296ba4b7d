//! Source formats: one file per format family behind the [`Source`] trait, a registry, and
//! content sniffing. Adding a format = one file here + one line in [`registry`].

pub mod csvscan;
pub mod jsonscan;
pub mod text;
pub mod timefmt;

pub mod cef;
pub mod chunks;
pub mod entra_signin;
pub mod fortigate;
pub mod nps;
pub mod panos;
pub mod radius_detail;
pub mod radius_sessions;
pub mod syslog;

pub mod entra_audit;
pub mod entra_risk;
pub mod m365_ops;
pub mod m365_ual;

use crate::event::{Event, Provenance, SharedStr};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// One evidence item's decoded text, ready for a parser.
pub struct Input<'a> {
    pub text: &'a str,
    pub evidence_sha256: &'a str,
    /// Where the item lives in the package (`data/evidence/...`).
    pub evidence_path: &'a str,
    /// Bytes before `text` in the original (a BOM), when the text is the original's UTF-8.
    pub base_offset: u64,
    pub decoded_from: Option<&'static str>,
    pub lines: text::LineIndex,
    /// `evidence_sha256` once, for every event's provenance to share.
    shared_sha256: SharedStr,
}

impl<'a> Input<'a> {
    /// A chunk of a larger UTF-8 file: `base_offset` bytes and `line_base` lines precede it.
    pub fn chunk(
        text: &'a str,
        evidence_sha256: &'a str,
        evidence_path: &'a str,
        base_offset: u64,
        line_base: u64,
    ) -> Self {
        let lines = text::LineIndex::with_base(text, line_base);
        Input::with_lines(text, evidence_sha256, evidence_path, base_offset, lines)
    }

    pub fn new(
        text: &'a str,
        evidence_sha256: &'a str,
        evidence_path: &'a str,
        base_offset: u64,
        decoded_from: Option<&'static str>,
    ) -> Self {
        let lines = text::LineIndex::new(text);
        Input {
            decoded_from,
            ..Input::with_lines(text, evidence_sha256, evidence_path, base_offset, lines)
        }
    }

    /// The original's UTF-8 text after `base_offset` bytes (a BOM), with its line index
    /// already built ([`text::LineIndex::new_in_blocks`]).
    pub fn with_lines(
        text: &'a str,
        evidence_sha256: &'a str,
        evidence_path: &'a str,
        base_offset: u64,
        lines: text::LineIndex,
    ) -> Self {
        Input {
            text,
            evidence_sha256,
            evidence_path,
            base_offset,
            decoded_from: None,
            lines,
            shared_sha256: evidence_sha256.into(),
        }
    }

    /// Provenance for the raw record at `text[start..end]`.
    pub fn provenance(&self, record_no: u64, start: usize, end: usize) -> Provenance {
        let raw = &self.text.as_bytes()[start..end];
        Provenance {
            evidence_sha256: self.shared_sha256.clone(),
            evidence_path: self.evidence_path.into(),
            record_no,
            line: self.lines.line_of(self.text, start),
            byte_offset: self.base_offset + start as u64,
            byte_len: (end - start) as u64,
            raw_sha256: <[u8; 32]>::from(Sha256::digest(raw)).into(),
            decoded_from: self.decoded_from.map(Into::into),
        }
    }

    /// A rejected record at `text[start..end]` with the reason.
    pub fn reject(
        &self,
        record_no: u64,
        start: usize,
        end: usize,
        reason: impl Into<String>,
    ) -> RecordError {
        let p = self.provenance(record_no, start, end);
        RecordError {
            evidence_path: p.evidence_path.to_string(),
            evidence_sha256: p.evidence_sha256.to_string(),
            record_no,
            line: p.line,
            byte_offset: p.byte_offset,
            byte_len: p.byte_len,
            raw_sha256: p.raw_sha256.to_string(),
            reason: reason.into(),
            excerpt: text::excerpt(&self.text[start..end], 160),
        }
    }
}

/// Facts a parser needs from outside the file: time zones for zone-less formats.
#[derive(Debug, Clone, Default)]
pub struct ParseContext {
    /// Zone per source id (`fortigate`, `panos`, `radius_detail`, `nps`, ...), from the case file or flags.
    pub zones: BTreeMap<String, Tz>,
    /// Zone for every zone-less source without its own entry.
    pub default_zone: Option<Tz>,
}

impl ParseContext {
    pub fn zone_for(&self, source: &str) -> Option<Tz> {
        self.zones.get(source).copied().or(self.default_zone)
    }
}

/// A record that could not become an event: kept, counted and reported with its location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    pub evidence_path: String,
    pub evidence_sha256: String,
    pub record_no: u64,
    pub line: u64,
    pub byte_offset: u64,
    pub byte_len: u64,
    pub raw_sha256: String,
    pub reason: String,
    pub excerpt: String,
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: record {}: {}",
            self.evidence_path, self.line, self.record_no, self.reason
        )
    }
}

/// What a parser yields per record: an event, or the record rejected with its reason.
pub type Item = Result<Event, RecordError>;

/// A log format. Parsers never fail as a whole: every record they see comes out as an event
/// or a [`RecordError`], so that for every file events + rejected = records seen.
pub trait Source: Send + Sync {
    /// Stable id used in events, case files and reports (`entra_signin`).
    fn id(&self) -> &'static str;
    /// Human name for the report (`Entra ID sign-in logs`).
    fn name(&self) -> &'static str;
    /// Confidence 0 (not this format) to 100 (certain), from the start of the decoded text.
    fn sniff(&self, head: &str) -> u8;
    /// Parse every record; call `out` once per record, in file order.
    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item));
    /// When a file that starts with `head` holds one record per line and no state between
    /// lines, the reader `parse` would use for each line, so a large file can be parsed a
    /// chunk of lines at a time (see [`chunks`]) with the very same result.
    fn line_reader(&self, _head: &str) -> Option<cef::Prefer> {
        None
    }
}

/// Every format irpack reads, in the order sniffing asks them.
pub fn registry() -> Vec<Box<dyn Source>> {
    vec![
        Box::new(entra_signin::EntraSignin),
        Box::new(entra_audit::EntraAudit),
        Box::new(entra_risk::EntraRisk),
        Box::new(m365_ual::M365Ual),
        Box::new(fortigate::FortiGate),
        Box::new(panos::PanOs),
        Box::new(cef::CefSource),
        Box::new(radius_detail::RadiusDetail),
        Box::new(nps::Nps),
    ]
}

/// How much of the start of a file sniffers see.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// The best-matching format for `text`, by content only. `None` when nothing scores.
pub fn detect<'r>(registry: &'r [Box<dyn Source>], text: &str) -> Option<&'r dyn Source> {
    let mut cut = text.len().min(SNIFF_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let head = &text[..cut];
    registry
        .iter()
        .map(|s| (s.sniff(head), s))
        .filter(|(score, _)| *score > 0)
        .max_by_key(|(score, _)| *score)
        .map(|(_, s)| s.as_ref())
}

/// Looks a source up by id (for `--format` overrides).
pub fn by_id<'r>(registry: &'r [Box<dyn Source>], id: &str) -> Option<&'r dyn Source> {
    registry.iter().find(|s| s.id() == id).map(|s| s.as_ref())
}

/// The outcome of parsing one evidence item.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Detected format id; `None` when no parser recognized the content.
    pub format: Option<&'static str>,
    pub events: Vec<Event>,
    pub rejected: Vec<RecordError>,
    pub decoded_from: Option<&'static str>,
}

impl Parsed {
    /// Records seen = events + rejected, by construction.
    pub fn records(&self) -> u64 {
        (self.events.len() + self.rejected.len()) as u64
    }
}

/// Decode, detect and parse one evidence item held in memory.
pub fn parse_bytes(
    registry: &[Box<dyn Source>],
    bytes: &[u8],
    evidence_path: &str,
    evidence_sha256: &str,
    ctx: &ParseContext,
) -> Parsed {
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    let (format, decoded_from) = parse_bytes_with(
        registry,
        bytes,
        evidence_path,
        evidence_sha256,
        ctx,
        &mut |item| match item {
            Ok(ev) => events.push(ev),
            Err(e) => rejected.push(e),
        },
    );
    Parsed {
        format,
        events,
        rejected,
        decoded_from,
    }
}

/// [`parse_bytes`] handing each record to `on_item` in file order instead of collecting them,
/// so a caller can spill events as they come. Returns the detected format and the encoding
/// the text was decoded from.
pub fn parse_bytes_with(
    registry: &[Box<dyn Source>],
    bytes: &[u8],
    evidence_path: &str,
    evidence_sha256: &str,
    ctx: &ParseContext,
    on_item: &mut dyn FnMut(Item),
) -> (Option<&'static str>, Option<&'static str>) {
    let decoded = text::decode(bytes);
    let Some(src) = detect(registry, &decoded.text) else {
        return (None, decoded.decoded_from);
    };
    let input = Input::new(
        &decoded.text,
        evidence_sha256,
        evidence_path,
        decoded.base_offset,
        decoded.decoded_from,
    );
    src.parse(&input, ctx, on_item);
    (Some(src.id()), decoded.decoded_from)
}

/// [`parse_bytes_with`] over a mapped file, giving its pages back as parsing moves past
/// them (`evidence::mapped`), so a large export is never resident whole. The result is the
/// one [`parse_bytes_with`] gives on the same bytes: a file that is not UTF-8 is decoded
/// as `decode` would, whole.
pub fn parse_mapped_with(
    registry: &[Box<dyn Source>],
    map: &crate::evidence::mapped::Mapped,
    evidence_path: &str,
    evidence_sha256: &str,
    ctx: &ParseContext,
    on_item: &mut dyn FnMut(Item),
) -> (Option<&'static str>, Option<&'static str>) {
    use crate::evidence::mapped::{is_utf8, Behind, RELEASE_STEP};
    let bytes = map.bytes();
    let mut behind = Behind::new(map);
    let head = &bytes[..bytes.len().min(SNIFF_BYTES)];
    let Some(bom) = text::utf8_start(head).filter(|&b| is_utf8(&mut behind, &bytes[b..])) else {
        behind.rewind();
        return parse_bytes_with(
            registry,
            bytes,
            evidence_path,
            evidence_sha256,
            ctx,
            on_item,
        );
    };
    // SAFETY: `is_utf8` has just checked these very bytes (a private read-only mapping,
    // so they cannot have changed); checking again with `from_utf8` would bring the whole
    // file back into memory at once.
    let text = unsafe { std::str::from_utf8_unchecked(&bytes[bom..]) };
    behind.rewind();
    let Some(src) = detect(registry, text) else {
        return (None, None);
    };
    let lines = text::LineIndex::new_in_blocks(text, RELEASE_STEP, |at| behind.at(bom + at));
    behind.rewind();
    let input = Input::with_lines(text, evidence_sha256, evidence_path, bom as u64, lines);
    src.parse(&input, ctx, &mut |it: Item| {
        let offset = match &it {
            Ok(e) => e.cold().byte_offset,
            Err(r) => r.byte_offset,
        };
        behind.at(usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len()));
        on_item(it)
    });
    (Some(src.id()), None)
}

/// SHA-256 of bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
