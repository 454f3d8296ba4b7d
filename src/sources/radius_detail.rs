//! FreeRADIUS `detail` files (rlm_detail): accounting logs (`detail-YYYYMMDD`) and the
//! `auth_log` / `reply_log` instances that log Access-Request / Access-Accept packets.
//!
//! Grammar, as FreeRADIUS 3.2 writes it (checked against files the real server wrote):
//! a record is a header line (`header = "%t"`: ctime in the server's local zone, no zone
//! name), then one `TAB Name = value` line per attribute, then an empty line. Strings are
//! double-quoted with `\" \\ \t \n \r` escapes and bytes that are not UTF-8 written as
//! 3-digit octal (`\347`); enums, integers and IPs are bare; octets are `0x…`; tagged
//! attributes are `Name:tag`; attributes may repeat. The server appends `Timestamp = <epoch>`,
//! the only time in the record that is unambiguous UTC.
//!
//! This file also holds the RADIUS vocabulary (status types, terminate causes, port types)
//! that the NPS parser and the session joiner share, so all RADIUS sources say the same thing.

use super::{timefmt, Input, Item, ParseContext, Source};
use crate::event::{actions, Event, EventClass, Outcome};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub const ID: &str = "radius_detail";

/// Keys the RADIUS parsers put in `Event.extra`; the session joiner reads them back.
pub mod keys {
    pub const NAS_IP: &str = "nas_ip";
    pub const NAS_IDENTIFIER: &str = "nas_identifier";
    pub const FRAMED_IP: &str = "framed_ip";
    pub const CALLING_STATION_ID: &str = "calling_station_id";
    pub const CALLED_STATION_ID: &str = "called_station_id";
    pub const NAS_PORT_TYPE: &str = "nas_port_type";
    pub const TERMINATE_CAUSE: &str = "terminate_cause";
    pub const SESSION_TIME: &str = "session_time";
    pub const ACCT_DELAY_TIME: &str = "acct_delay_time";
    pub const ACCT_STATUS_TYPE: &str = "acct_status_type";
    pub const ATTRIBUTES: &str = "attributes";
}

pub struct RadiusDetail;

impl Source for RadiusDetail {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "FreeRADIUS detail files"
    }

    fn sniff(&self, head: &str) -> u8 {
        sniff_detail(head)
    }

    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        let mut record_no = 0u64;
        for_each_record(input.text, |rec| {
            record_no += 1;
            let item = parse_record(input, ctx, record_no, &rec)
                .map_err(|why| input.reject(record_no, rec.start, rec.end, why));
            out(item);
        });
    }
}

// ---------------------------------------------------------------------------------------
// Detection

fn sniff_detail(head: &str) -> u8 {
    let mut attr_lines = 0usize;
    let mut known = 0usize;
    let mut first_header_ok: Option<bool> = None;
    let mut other_lines = 0usize;
    for (i, raw) in head.lines().take(400).enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('\t') || line.starts_with("    ") {
            match split_attr(line) {
                Some((name, _)) => {
                    attr_lines += 1;
                    if KNOWN_ATTRS.iter().any(|k| name.eq_ignore_ascii_case(k)) {
                        known += 1;
                    }
                }
                None => other_lines += 1,
            }
        } else {
            if first_header_ok.is_none() {
                first_header_ok = Some(parse_ctime(line).is_some());
            } else if parse_ctime(line).is_none() {
                other_lines += 1;
            }
            // A last line cut by the 64 KiB window is not evidence against the format.
            if i == 0 && line.starts_with('<') {
                return 0;
            }
        }
    }
    if attr_lines < 2 || known == 0 || other_lines * 4 > attr_lines {
        return 0;
    }
    match first_header_ok {
        Some(true) => 95,
        // Attribute lines with a non-ctime header (custom `header =`) or a file cut mid-record.
        _ => 70,
    }
}

/// Attribute names nearly every detail record carries; a file without any is not ours.
const KNOWN_ATTRS: &[&str] = &[
    "Acct-Status-Type",
    "Acct-Session-Id",
    "User-Name",
    "NAS-IP-Address",
    "NAS-Identifier",
    "Packet-Type",
    "Timestamp",
    "Event-Timestamp",
    "Calling-Station-Id",
];

// ---------------------------------------------------------------------------------------
// Record splitting

/// One raw record: byte span in the text, its header line and its attribute lines.
struct RawRecord {
    start: usize,
    end: usize,
    header: Option<(usize, usize)>,
    lines: Vec<(usize, usize)>,
}

/// Calls `f` for every record in file order. A record starts at a non-indented line (the
/// header) or at an indented line after a blank one (a file cut mid-record); it ends at a
/// blank line or where the next header starts.
fn for_each_record(text: &str, mut f: impl FnMut(RawRecord)) {
    let bytes = text.as_bytes();
    let mut cur: Option<RawRecord> = None;
    let mut pos = 0usize;
    while pos < bytes.len() {
        let nl = memchr::memchr(b'\n', &bytes[pos..]).map(|i| pos + i);
        let line_end_raw = nl.unwrap_or(bytes.len());
        let mut end = line_end_raw;
        if end > pos && bytes[end - 1] == b'\r' {
            end -= 1;
        }
        let line = &text[pos..end];
        let start = pos;
        pos = nl.map(|i| i + 1).unwrap_or(bytes.len());

        if line.trim().is_empty() {
            if let Some(r) = cur.take() {
                f(r);
            }
            continue;
        }
        let indented = matches!(bytes[start], b'\t' | b' ');
        if indented {
            let rec = cur.get_or_insert_with(|| RawRecord {
                start,
                end,
                header: None,
                lines: Vec::new(),
            });
            rec.lines.push((start, end));
            rec.end = end;
        } else {
            if let Some(r) = cur.take() {
                f(r);
            }
            cur = Some(RawRecord {
                start,
                end,
                header: Some((start, end)),
                lines: Vec::new(),
            });
        }
    }
    if let Some(r) = cur.take() {
        f(r);
    }
}

// ---------------------------------------------------------------------------------------
// Attribute lines and values

/// `\tName = value` → (`Name`, `value` as written). `None` when the line is not of that shape.
fn split_attr(line: &str) -> Option<(&str, &str)> {
    let s = line.trim_start_matches([' ', '\t']);
    let (name, value) = match s.split_once(" = ") {
        Some((n, v)) => (n, v),
        None => (s.strip_suffix(" =")?, ""),
    };
    if name.is_empty() || name.contains(char::is_whitespace) || name.contains('"') {
        return None;
    }
    Some((name, value))
}

/// A decoded attribute value; `non_utf8` when escaped bytes were not UTF-8 and were read
/// as ISO-8859-1 (what NASes that send Latin-1 user names mean).
pub(crate) struct Decoded<'a> {
    pub value: Cow<'a, str>,
    pub non_utf8: bool,
}

/// Decodes a value as rlm_detail writes it: quoted with escapes, or bare.
pub(crate) fn decode_value(raw: &str) -> Result<Decoded<'_>, String> {
    let Some(body) = raw.strip_prefix('"') else {
        return Ok(Decoded {
            value: Cow::Borrowed(raw.trim_end()),
            non_utf8: false,
        });
    };
    let b = body.as_bytes();
    // Fast path: no escapes, closing quote at the end.
    match memchr::memchr2(b'"', b'\\', b) {
        Some(i) if b[i] == b'"' => {
            if !body[i + 1..].trim().is_empty() {
                return Err(format!(
                    "text after the closing quote: {:?}",
                    &body[i + 1..]
                ));
            }
            return Ok(Decoded {
                value: Cow::Borrowed(&body[..i]),
                non_utf8: false,
            });
        }
        None => return Err("unterminated quoted value (no closing '\"')".to_string()),
        _ => {}
    }
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0usize;
    loop {
        let Some(&c) = b.get(i) else {
            return Err("unterminated quoted value (no closing '\"')".to_string());
        };
        match c {
            b'"' => {
                if !body[i + 1..].trim().is_empty() {
                    return Err(format!(
                        "text after the closing quote: {:?}",
                        &body[i + 1..]
                    ));
                }
                break;
            }
            b'\\' => {
                let Some(&n) = b.get(i + 1) else {
                    return Err("unterminated quoted value (ends in '\\')".to_string());
                };
                match n {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'\\' => out.push(b'\\'),
                    b'"' => out.push(b'"'),
                    b'0'..=b'7' => {
                        let mut v: u32 = 0;
                        let mut k = 0;
                        while k < 3 {
                            match b.get(i + 1 + k) {
                                Some(d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    k += 1;
                                }
                                _ => break,
                            }
                        }
                        // `\400`..`\777` cannot be a byte: keep the text as written.
                        match u8::try_from(v) {
                            Ok(byte) => out.push(byte),
                            Err(_) => out.extend_from_slice(&b[i..i + 1 + k]),
                        }
                        i += 1 + k;
                        continue;
                    }
                    _ => {
                        // Unknown escape: keep both characters, the value stays verbatim.
                        out.push(b'\\');
                        let ch_len = utf8_len(n);
                        out.extend_from_slice(&b[i + 1..(i + 1 + ch_len).min(b.len())]);
                        i += 1 + ch_len;
                        continue;
                    }
                }
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Ok(Decoded {
            value: Cow::Owned(s),
            non_utf8: false,
        }),
        Err(e) => Ok(Decoded {
            value: Cow::Owned(latin1(e.as_bytes())),
            non_utf8: true,
        }),
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

pub(crate) fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The attributes of one record, in file order.
pub(crate) struct Attrs<'a> {
    pub list: Vec<(&'a str, Cow<'a, str>)>,
    pub non_utf8: Vec<&'a str>,
}

impl Attrs<'_> {
    /// First value of `name` (names compared case-insensitively), empty values as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
            .filter(|v| !v.trim().is_empty())
    }

    pub fn get_u64(&self, name: &str) -> Option<u64> {
        self.get(name).and_then(|v| v.trim().parse().ok())
    }

    /// All attributes as a JSON object, keys sorted, repeated attributes as arrays in order.
    pub fn to_json(&self) -> Value {
        let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (n, v) in &self.list {
            grouped.entry(n).or_default().push(v.as_ref());
        }
        let mut m = Map::new();
        for (k, vs) in grouped {
            let v = if vs.len() == 1 {
                Value::String(vs[0].to_string())
            } else {
                Value::Array(
                    vs.into_iter()
                        .map(|s| Value::String(s.to_string()))
                        .collect(),
                )
            };
            m.insert(k.to_string(), v);
        }
        Value::Object(m)
    }
}

// ---------------------------------------------------------------------------------------
// Shared RADIUS vocabulary

/// Acct-Status-Type (name or number) → normalized action, `None` for types with no mapping.
pub fn status_action(status: &str) -> Option<&'static str> {
    let s = status.trim();
    let by_name = [
        ("Start", actions::SESSION_START),
        ("Stop", actions::SESSION_STOP),
        ("Interim-Update", actions::SESSION_INTERIM),
        // `Alive` is the old dictionary name of Interim-Update (value 3).
        ("Alive", actions::SESSION_INTERIM),
        ("Accounting-On", actions::ACCOUNTING_ON),
        ("Accounting-Off", actions::ACCOUNTING_OFF),
    ];
    if let Some((_, a)) = by_name.iter().find(|(n, _)| n.eq_ignore_ascii_case(s)) {
        return Some(a);
    }
    match s.parse::<u32>().ok()? {
        1 => Some(actions::SESSION_START),
        2 => Some(actions::SESSION_STOP),
        3 => Some(actions::SESSION_INTERIM),
        7 => Some(actions::ACCOUNTING_ON),
        8 => Some(actions::ACCOUNTING_OFF),
        _ => None,
    }
}

/// RFC 2866 Acct-Status-Type names, for sources that log the number.
pub fn status_type_name(n: u32) -> Option<&'static str> {
    Some(match n {
        1 => "Start",
        2 => "Stop",
        3 => "Interim-Update",
        7 => "Accounting-On",
        8 => "Accounting-Off",
        9 => "Tunnel-Start",
        10 => "Tunnel-Stop",
        11 => "Tunnel-Reject",
        12 => "Tunnel-Link-Start",
        13 => "Tunnel-Link-Stop",
        14 => "Tunnel-Link-Reject",
        15 => "Failed",
        _ => return None,
    })
}

/// RFC 2866/3580 Acct-Terminate-Cause names as FreeRADIUS's dictionary spells them.
pub fn terminate_cause_name(n: u32) -> Option<&'static str> {
    Some(match n {
        1 => "User-Request",
        2 => "Lost-Carrier",
        3 => "Lost-Service",
        4 => "Idle-Timeout",
        5 => "Session-Timeout",
        6 => "Admin-Reset",
        7 => "Admin-Reboot",
        8 => "Port-Error",
        9 => "NAS-Error",
        10 => "NAS-Request",
        11 => "NAS-Reboot",
        12 => "Port-Unneeded",
        13 => "Port-Preempted",
        14 => "Port-Suspended",
        15 => "Service-Unavailable",
        16 => "Callback",
        17 => "User-Error",
        18 => "Host-Request",
        19 => "Supplicant-Restart",
        20 => "Reauthentication-Failure",
        21 => "Port-Reinit",
        22 => "Port-Disabled",
        _ => return None,
    })
}

/// RFC 2865 NAS-Port-Type names as FreeRADIUS's dictionary spells them.
pub fn nas_port_type_name(n: u32) -> Option<&'static str> {
    Some(match n {
        0 => "Async",
        1 => "Sync",
        2 => "ISDN",
        3 => "ISDN-V120",
        4 => "ISDN-V110",
        5 => "Virtual",
        6 => "PIAFS",
        7 => "HDLC-Clear-Channel",
        8 => "X.25",
        9 => "X.75",
        10 => "G.3-Fax",
        11 => "SDSL",
        12 => "ADSL-CAP",
        13 => "ADSL-DMT",
        14 => "IDSL",
        15 => "Ethernet",
        16 => "xDSL",
        17 => "Cable",
        18 => "Wireless-Other",
        19 => "Wireless-802.11",
        _ => return None,
    })
}

/// The IP in a Calling-Station-Id, when it is one (VPN concentrators put the client's
/// public IP there; Wi-Fi and MAB put a MAC). Accepts `ip`, `ip:port` and `[v6]:port`.
pub fn ip_of(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return Some(sa.ip().to_string());
    }
    None
}

/// Octets plus gigawords (RFC 2869: how many times the 32-bit counter wrapped).
pub fn octets_total(octets: Option<u64>, gigawords: Option<u64>) -> Option<u64> {
    if octets.is_none() && gigawords.is_none() {
        return None;
    }
    gigawords
        .unwrap_or(0)
        .checked_mul(1 << 32)?
        .checked_add(octets.unwrap_or(0))
}

// ---------------------------------------------------------------------------------------
// Times

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_of(s: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as u32 + 1)
}

/// ctime(3) text, `Mon Jun  9 08:02:11 2025`, as a naive local time.
pub fn parse_ctime(s: &str) -> Option<NaiveDateTime> {
    let mut it = s.split_whitespace();
    let dow = it.next()?;
    if dow.len() != 3 || !dow.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let month = month_of(it.next()?)?;
    let day: u32 = it.next()?.parse().ok()?;
    let time = it.next()?;
    let year: i32 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    let t = timefmt::parse_clock(time)?;
    Some(NaiveDate::from_ymd_opt(year, month, day)?.and_time(t))
}

/// Zone abbreviations `%Z` prints that mean one offset; ambiguous ones (CST, IST, BST, AST)
/// are left out on purpose and fall back to the configured zone.
fn abbrev_offset(z: &str) -> Option<FixedOffset> {
    let h = |h: i32| FixedOffset::east_opt(h * 3600);
    match z.to_ascii_uppercase().as_str() {
        "UTC" | "GMT" | "UT" | "Z" | "WET" => h(0),
        "CET" | "WEST" | "MET" => h(1),
        "CEST" | "EET" | "MEST" | "SAST" => h(2),
        "EEST" | "MSK" => h(3),
        "EST" => h(-5),
        "EDT" => h(-4),
        "CDT" => h(-5),
        "MST" => h(-7),
        "MDT" => h(-6),
        "PST" => h(-8),
        "PDT" => h(-7),
        "AKST" => h(-9),
        "AKDT" => h(-8),
        "HST" => h(-10),
        "JST" | "KST" => h(9),
        "AWST" => h(8),
        "AEST" => h(10),
        "AEDT" => h(11),
        "ACST" => FixedOffset::east_opt(9 * 3600 + 1800),
        "ACDT" => FixedOffset::east_opt(10 * 3600 + 1800),
        "NZST" => h(12),
        "NZDT" => h(13),
        _ => None,
    }
}

/// A zone-less local time in the configured zone, or UTC with the assumption stated.
pub(crate) fn local_stamp(naive: NaiveDateTime, zone: Option<chrono_tz::Tz>) -> timefmt::Stamp {
    match zone {
        Some(tz) => timefmt::localize(naive, tz),
        None => timefmt::Stamp {
            utc: Utc.from_utc_datetime(&naive),
            zone: "UTC (assumed: no zone given)".into(),
        },
    }
}

/// `Event-Timestamp` as written: `Jun  9 2025 08:02:11 CEST`, a bare epoch, or ISO 8601.
fn parse_event_timestamp(s: &str, zone: Option<chrono_tz::Tz>) -> Option<timefmt::Stamp> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        let t = DateTime::from_timestamp(s.parse().ok()?, 0)?;
        return Some(timefmt::Stamp {
            utc: t,
            zone: "UTC".into(),
        });
    }
    if let Some(st) = timefmt::parse_iso(s) {
        return Some(st);
    }
    let mut it = s.split_whitespace();
    let month = month_of(it.next()?)?;
    let day: u32 = it.next()?.parse().ok()?;
    let year: i32 = it.next()?.parse().ok()?;
    let clock = timefmt::parse_clock(it.next()?)?;
    let abbrev = it.next();
    if it.next().is_some() {
        return None;
    }
    let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_time(clock);
    if let Some(off) = abbrev.and_then(abbrev_offset) {
        let dt = off.from_local_datetime(&naive).single()?;
        let name = if off.local_minus_utc() == 0 {
            "UTC".to_string()
        } else {
            off.to_string()
        };
        let zone = match abbrev {
            Some(a) if !a.eq_ignore_ascii_case("UTC") => format!("{name} ({a})"),
            _ => name,
        };
        return Some(timefmt::Stamp {
            utc: dt.with_timezone(&Utc),
            zone,
        });
    }
    Some(local_stamp(naive, zone))
}

// ---------------------------------------------------------------------------------------
// Records → events

/// The event of one record, or why the record cannot be one.
fn parse_record(
    input: &Input,
    ctx: &ParseContext,
    record_no: u64,
    rec: &RawRecord,
) -> Result<Event, String> {
    let text = input.text;
    let reject = |reason: String| Err(reason);

    let mut attrs = Attrs {
        list: Vec::with_capacity(rec.lines.len()),
        non_utf8: Vec::new(),
    };
    for &(s, e) in &rec.lines {
        let line = &text[s..e];
        let line_no = || input.lines.line_of(input.text, s);
        let Some((name, raw)) = split_attr(line) else {
            let line_no = line_no();
            return reject(format!(
                "line {line_no}: expected an attribute line `Name = value`, found {:?}",
                super::text::excerpt(line.trim(), 80)
            ));
        };
        let d = match decode_value(raw) {
            Ok(d) => d,
            Err(why) => return reject(format!("line {}: attribute {name}: {why}", line_no())),
        };
        if d.non_utf8 {
            attrs.non_utf8.push(name);
        }
        attrs.list.push((name, d.value));
    }
    let header = rec.header.map(|(s, e)| text[s..e].trim());
    if attrs.list.is_empty() {
        return reject(match header {
            Some(h) => format!(
                "record has no attribute lines (only the line {:?})",
                super::text::excerpt(h, 80)
            ),
            None => "record has no attribute lines".to_string(),
        });
    }

    let zone = ctx.zone_for(ID);
    // Timestamp is the server's receive time as an epoch: the one unambiguous UTC time.
    let (stamp, original) = if let Some(ts) = attrs.get("Timestamp") {
        let t = ts.trim();
        let parsed = t
            .parse::<i64>()
            .ok()
            .filter(|v| *v >= 0)
            .and_then(|v| DateTime::from_timestamp(v, 0));
        match parsed {
            Some(utc) => (
                timefmt::Stamp {
                    utc,
                    zone: "UTC".into(),
                },
                t.to_string(),
            ),
            None => {
                return reject(format!(
                    "attribute Timestamp: {t:?} is not a Unix epoch in seconds"
                ))
            }
        }
    } else if let Some(et) = attrs.get("Event-Timestamp") {
        match parse_event_timestamp(et, zone) {
            Some(st) => (st, et.to_string()),
            None => return reject(format!("attribute Event-Timestamp: {et:?} is not a time (expected e.g. \"Jun  9 2025 08:02:11 CEST\")")),
        }
    } else if let Some(h) = header {
        match parse_ctime(h) {
            Some(naive) => (local_stamp(naive, zone), h.to_string()),
            None => {
                return reject(format!(
                    "no time: no Timestamp or Event-Timestamp attribute, and the header {:?} is not a ctime date (expected e.g. \"Mon Jun  9 08:02:11 2025\")",
                    super::text::excerpt(h, 80)
                ))
            }
        }
    } else {
        return reject(
            "no time: no Timestamp or Event-Timestamp attribute and no header line".to_string(),
        );
    };

    let packet_type = attrs.get("Packet-Type").map(str::to_string);
    let status = attrs.get("Acct-Status-Type").map(str::to_string);
    let (class, variant, action, operation, outcome) =
        classify(packet_type.as_deref(), status.as_deref());

    let prov = input.provenance(record_no, rec.start, rec.end);
    let mut ev = Event::new(
        stamp.utc, original, stamp.zone, ID, variant, class, action, operation, outcome, prov,
    );
    ev.user = attrs.get("User-Name").map(Into::into);
    ev.cold_mut().session_id = attrs.get("Acct-Session-Id").map(str::to_string);
    ev.cold_mut().correlation_id = attrs.get("Acct-Multi-Session-Id").map(str::to_string);
    let calling = attrs.get("Calling-Station-Id");
    ev.src_ip = calling.and_then(ip_of).map(Into::into);
    ev.cold_mut().bytes_in = octets_total(
        attrs.get_u64("Acct-Input-Octets"),
        attrs.get_u64("Acct-Input-Gigawords"),
    );
    ev.cold_mut().bytes_out = octets_total(
        attrs.get_u64("Acct-Output-Octets"),
        attrs.get_u64("Acct-Output-Gigawords"),
    );

    let x = &mut ev.extra;
    put_str(x, keys::CALLING_STATION_ID, calling);
    put_str(
        x,
        keys::FRAMED_IP,
        attrs
            .get("Framed-IP-Address")
            .or_else(|| attrs.get("Framed-IPv6-Address")),
    );
    put_str(
        x,
        keys::NAS_IP,
        attrs
            .get("NAS-IP-Address")
            .or_else(|| attrs.get("NAS-IPv6-Address")),
    );
    put_str(x, keys::NAS_IDENTIFIER, attrs.get("NAS-Identifier"));
    put_str(x, keys::NAS_PORT_TYPE, attrs.get("NAS-Port-Type"));
    put_str(x, "nas_port_id", attrs.get("NAS-Port-Id"));
    put_str(x, keys::CALLED_STATION_ID, attrs.get("Called-Station-Id"));
    put_str(x, keys::TERMINATE_CAUSE, attrs.get("Acct-Terminate-Cause"));
    put_str(x, keys::ACCT_STATUS_TYPE, status.as_deref());
    put_str(x, "packet_type", packet_type.as_deref());
    put_str(
        x,
        "packet_src_ip",
        attrs
            .get("Packet-Src-IP-Address")
            .or_else(|| attrs.get("Packet-Src-IPv6-Address")),
    );
    put_str(
        x,
        "acct_unique_session_id",
        attrs.get("Acct-Unique-Session-Id"),
    );
    put_str(x, "event_timestamp", attrs.get("Event-Timestamp"));
    put_str(x, "header", header);
    put_num(x, keys::SESSION_TIME, attrs.get_u64("Acct-Session-Time"));
    put_num(x, keys::ACCT_DELAY_TIME, attrs.get_u64("Acct-Delay-Time"));
    if !attrs.non_utf8.is_empty() {
        x.insert(
            "non_utf8_attributes",
            Value::Array(
                attrs
                    .non_utf8
                    .iter()
                    .map(|n| Value::String(n.to_string()))
                    .collect(),
            ),
        );
    }
    x.insert(keys::ATTRIBUTES, attrs.to_json());
    Ok(ev)
}

/// (class, variant, action, operation, outcome) from Packet-Type and Acct-Status-Type.
fn classify(
    packet_type: Option<&str>,
    status: Option<&str>,
) -> (EventClass, &'static str, String, String, Outcome) {
    if let Some(pt) = packet_type.filter(|p| !p.eq_ignore_ascii_case("Accounting-Request")) {
        let p = pt.trim();
        let (action, outcome) = if p.eq_ignore_ascii_case("Access-Request") {
            // auth_log logs the request only: the server's answer is not in this file.
            (actions::SIGN_IN, Outcome::Unknown)
        } else if p.eq_ignore_ascii_case("Access-Accept") {
            (actions::SIGN_IN, Outcome::Success)
        } else if p.eq_ignore_ascii_case("Access-Reject") {
            (actions::SIGN_IN, Outcome::Failure)
        } else {
            (actions::OTHER, Outcome::Unknown)
        };
        let class = if p.to_ascii_lowercase().starts_with("access-") {
            EventClass::Authentication
        } else {
            EventClass::Accounting
        };
        let variant = if class == EventClass::Authentication {
            "auth"
        } else {
            "accounting"
        };
        return (class, variant, action.to_string(), p.to_string(), outcome);
    }
    match status {
        // An accounting record reports a session the NAS really has: the record itself succeeded.
        Some(s) => match status_action(s) {
            Some(a) => (
                EventClass::Accounting,
                "accounting",
                a.to_string(),
                s.trim().to_string(),
                Outcome::Success,
            ),
            None => (
                EventClass::Accounting,
                "accounting",
                actions::OTHER.to_string(),
                s.trim().to_string(),
                Outcome::Unknown,
            ),
        },
        None => (
            EventClass::Accounting,
            "accounting",
            actions::OTHER.to_string(),
            "Accounting-Request".to_string(),
            Outcome::Unknown,
        ),
    }
}

pub(crate) fn put_str(x: &mut crate::event::Extra, k: &str, v: Option<&str>) {
    if let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) {
        x.insert(k.to_string(), Value::String(v.to_string()));
    }
}

pub(crate) fn put_num(x: &mut crate::event::Extra, k: &str, v: Option<u64>) {
    if let Some(v) = v {
        x.insert(k.to_string(), Value::from(v));
    }
}

// ---------------------------------------------------------------------------------------
// Benchmark / fuzz support: a deterministic generator of realistic detail files

/// splitmix64: tiny, fast, and the same stream on every platform.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum GenKind {
    Vpn,
    Wifi,
    Mab,
}

struct GenSession {
    kind: GenKind,
    user: String,
    session_id: String,
    calling: String,
    framed: String,
    start: i64,
    interims: u32,
    in_octets: u64,
    out_octets: u64,
}

const GEN_USERS: &[&str] = &[
    "alice@contoso.com",
    "bob@contoso.com",
    "carol@contoso.com",
    "dave@contoso.com",
    "erin@contoso.com",
    "josé@contoso.com",
    "françois@contoso.com",
    "Dana Smith",
    "vpn-admin",
    "CONTOSO\\svc-backup",
];

/// Writes realistic FreeRADIUS detail records (VPN with public Calling-Station-Id IPs, Wi-Fi
/// with MACs, MAB, interims, gigawords) until at least `target_bytes` are written.
/// Returns the number of records written. Same `seed` → same bytes.
pub fn generate(
    seed: u64,
    target_bytes: usize,
    out: &mut impl std::io::Write,
) -> std::io::Result<u64> {
    let mut rng = SplitMix64(seed);
    let mut now: i64 = 1_749_448_710; // 2025-06-09T05:58:30Z
    let mut open: Vec<GenSession> = Vec::new();
    let mut written = 0usize;
    let mut records = 0u64;
    let mut next_id: u64 = 0x04a1_c2f7 + rng.below(0x1000);
    let mut buf = String::with_capacity(2048);
    while written < target_bytes {
        now += 1 + rng.below(20) as i64;
        // Either open a new session or advance an open one; keep a few dozen open.
        let advance = !open.is_empty() && (open.len() > 40 || rng.below(3) != 0);
        buf.clear();
        if advance {
            let i = rng.below(open.len() as u64) as usize;
            let stop = open[i].interims > rng.below(4) as u32;
            let s = &mut open[i];
            s.in_octets += rng.below(400_000_000);
            s.out_octets += rng.below(1_600_000_000);
            if stop {
                let s = open.swap_remove(i);
                write_gen_record(&mut buf, &mut rng, &s, now, "Stop");
            } else {
                s.interims += 1;
                write_gen_record(&mut buf, &mut rng, s, now, "Interim-Update");
            }
        } else {
            let kind = match rng.below(10) {
                0..=4 => GenKind::Vpn,
                5..=8 => GenKind::Wifi,
                _ => GenKind::Mab,
            };
            next_id += 1 + rng.below(40);
            let mac = format!(
                "{:02x}-{:02x}-{:02x}-{:02x}-{:02x}-{:02x}",
                0xac,
                0xde,
                rng.below(256),
                rng.below(256),
                rng.below(256),
                rng.below(256)
            );
            let (user, calling, session_id) = match kind {
                GenKind::Vpn => (
                    GEN_USERS[rng.below(GEN_USERS.len() as u64) as usize].to_string(),
                    format!(
                        "{}.{}",
                        ["203.0.113", "198.51.100", "192.0.2"][rng.below(3) as usize],
                        1 + rng.below(254)
                    ),
                    format!("{next_id:08x}"),
                ),
                GenKind::Wifi => (
                    GEN_USERS[rng.below(GEN_USERS.len() as u64) as usize].to_string(),
                    mac.clone(),
                    format!(
                        "{:08x}/{}/{}",
                        now,
                        mac.replace('-', ":"),
                        1000 + rng.below(9000)
                    ),
                ),
                GenKind::Mab => (
                    mac.to_ascii_uppercase(),
                    mac.to_ascii_uppercase(),
                    format!("{:08X}", next_id & 0xffff),
                ),
            };
            let framed = match kind {
                GenKind::Vpn => format!("10.212.{}.{}", 134 + rng.below(2), 2 + rng.below(250)),
                GenKind::Wifi => format!("10.20.{}.{}", 32 + rng.below(4), 2 + rng.below(250)),
                GenKind::Mab => format!("10.30.12.{}", 2 + rng.below(250)),
            };
            let s = GenSession {
                kind,
                user,
                session_id,
                calling,
                framed,
                start: now,
                interims: 0,
                in_octets: 0,
                out_octets: 0,
            };
            write_gen_record(&mut buf, &mut rng, &s, now, "Start");
            open.push(s);
        }
        out.write_all(buf.as_bytes())?;
        written += buf.len();
        records += 1;
    }
    Ok(records)
}

fn write_gen_record(
    buf: &mut String,
    rng: &mut SplitMix64,
    s: &GenSession,
    now: i64,
    status: &str,
) {
    use std::fmt::Write;
    let t = DateTime::from_timestamp(now, 0).unwrap_or_default();
    let delay = if rng.below(8) == 0 {
        1 + rng.below(5) as i64
    } else {
        0
    };
    let ev = DateTime::from_timestamp(now - delay, 0).unwrap_or_default();
    let _ = writeln!(buf, "{}", t.format("%a %b %e %H:%M:%S %Y"));
    let mut attr = |name: &str, value: &str| {
        let _ = writeln!(buf, "\t{name} = {value}");
    };
    let q = |v: &str| format!("\"{}\"", escape_detail(v));
    attr("Acct-Status-Type", status);
    attr("User-Name", &q(&s.user));
    match s.kind {
        GenKind::Vpn => {
            attr("NAS-IP-Address", "10.10.0.1");
            attr("NAS-Identifier", "\"fgt-vpn-01\"");
            attr("NAS-Port", "0");
            attr("NAS-Port-Type", "Virtual");
            attr("Service-Type", "Framed-User");
            attr("Framed-Protocol", "PPP");
            attr("Framed-IP-Address", &s.framed);
            attr("Called-Station-Id", "\"192.0.2.10\"");
            attr("Calling-Station-Id", &q(&s.calling));
            attr("Acct-Session-Id", &q(&s.session_id));
            attr("Acct-Authentic", "RADIUS");
            attr("Class", "0x636f6e746f736f2d76706e");
            attr("Fortinet-Vdom-Name", "\"root\"");
            attr("Fortinet-Group-Name", "\"VPN-Users\"");
            attr("Fortinet-Client-IP-Address", &s.calling);
        }
        GenKind::Wifi => {
            attr("NAS-Port", "1");
            attr("NAS-IP-Address", "10.20.0.5");
            attr("Framed-IP-Address", &s.framed);
            attr("NAS-Identifier", "\"wlc-hq\"");
            attr("Airespace-Wlan-Id", "1");
            attr("Acct-Session-Id", &q(&s.session_id));
            attr("Acct-Authentic", "RADIUS");
            attr("Tunnel-Type:0", "VLAN");
            attr("Tunnel-Medium-Type:0", "IEEE-802");
            attr("Tunnel-Private-Group-Id:0", "\"20\"");
            attr("Calling-Station-Id", &q(&s.calling));
            attr("Called-Station-Id", "\"00-3a-7d-11-22-30:CORP-WIFI\"");
            attr("Service-Type", "Framed-User");
            attr("NAS-Port-Type", "Wireless-802.11");
            attr(
                "Cisco-AVPair",
                &format!("\"audit-session-id=0a140005{:016x}\"", s.start),
            );
        }
        GenKind::Mab => {
            attr("Acct-Session-Id", &q(&s.session_id));
            attr("Calling-Station-Id", &q(&s.calling));
            attr("Cisco-AVPair", "\"method=mab\"");
            attr("NAS-IP-Address", "10.30.0.12");
            attr("NAS-Port-Id", "\"GigabitEthernet1/0/12\"");
            attr("NAS-Port-Type", "Ethernet");
            attr("Service-Type", "Call-Check");
            attr("Framed-IP-Address", &s.framed);
        }
    }
    if status != "Start" {
        let gw = 1u64 << 32;
        attr("Acct-Session-Time", &(now - s.start).to_string());
        attr("Acct-Input-Octets", &(s.in_octets % gw).to_string());
        attr("Acct-Output-Octets", &(s.out_octets % gw).to_string());
        attr("Acct-Input-Gigawords", &(s.in_octets / gw).to_string());
        attr("Acct-Output-Gigawords", &(s.out_octets / gw).to_string());
        attr("Acct-Input-Packets", &(s.in_octets / 900).to_string());
        attr("Acct-Output-Packets", &(s.out_octets / 1200).to_string());
    }
    if status == "Stop" {
        let causes = [
            "User-Request",
            "Idle-Timeout",
            "Session-Timeout",
            "Lost-Carrier",
            "Admin-Reset",
        ];
        attr(
            "Acct-Terminate-Cause",
            causes[rng.below(causes.len() as u64) as usize],
        );
    }
    attr(
        "Event-Timestamp",
        &format!("\"{} UTC\"", ev.format("%b %e %Y %H:%M:%S")),
    );
    attr("Acct-Delay-Time", &delay.to_string());
    attr(
        "Acct-Unique-Session-Id",
        &format!("\"{:016x}{:016x}\"", rng.next(), rng.next()),
    );
    attr("Timestamp", &now.to_string());
    buf.push('\n');
}

/// Escapes a value the way rlm_detail does: `\"`, `\\`, control characters as escapes.
fn escape_detail(v: &str) -> String {
    let mut o = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_decode() {
        assert_eq!(
            decode_value("\"fran\\347ois@contoso.com\"").unwrap().value,
            "françois@contoso.com"
        );
        assert!(decode_value("\"fran\\347ois\"").unwrap().non_utf8);
        let d = decode_value("\"j\\303\\244ger\"").unwrap();
        assert_eq!(d.value, "jäger");
        assert!(!d.non_utf8);
        assert_eq!(
            decode_value("\"CONTOSO\\\\bob \\\"x\\\"\"").unwrap().value,
            "CONTOSO\\bob \"x\""
        );
        assert_eq!(decode_value("VLAN").unwrap().value, "VLAN");
        assert_eq!(decode_value("\"\"").unwrap().value, "");
        assert!(decode_value("\"abc").is_err());
        assert!(decode_value("\"abc\\").is_err());
        assert!(decode_value("\"a\" b").is_err());
    }

    #[test]
    fn times() {
        let n = parse_ctime("Mon Jun  9 08:02:11 2025").unwrap();
        assert_eq!(n.to_string(), "2025-06-09 08:02:11");
        assert!(parse_ctime("Mon Jun 31 08:02:11 2025").is_none());
        let st = parse_event_timestamp("Jun  9 2025 08:02:11 CEST", None).unwrap();
        assert_eq!(st.utc.to_rfc3339(), "2025-06-09T06:02:11+00:00");
        assert_eq!(st.zone, "+02:00 (CEST)");
        let st = parse_event_timestamp("Jun  9 2025 08:02:11 CST", None).unwrap();
        assert_eq!(st.zone, "UTC (assumed: no zone given)");
        assert_eq!(
            parse_event_timestamp("1749448931", None)
                .unwrap()
                .utc
                .timestamp(),
            1_749_448_931
        );
    }

    #[test]
    fn vocabulary() {
        assert_eq!(
            status_action("Interim-Update"),
            Some(actions::SESSION_INTERIM)
        );
        assert_eq!(status_action("3"), Some(actions::SESSION_INTERIM));
        assert_eq!(status_action("Tunnel-Start"), None);
        assert_eq!(ip_of("203.0.113.45"), Some("203.0.113.45".into()));
        assert_eq!(ip_of("203.0.113.45:4500"), Some("203.0.113.45".into()));
        assert_eq!(ip_of("ac-de-48-00-11-22"), None);
        assert_eq!(
            octets_total(Some(1_286_608_618), Some(2)),
            Some(9_876_543_210)
        );
    }

    #[test]
    fn generator_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let na = generate(7, 20_000, &mut a).unwrap();
        let nb = generate(7, 20_000, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(na, nb);
        assert!(a.len() >= 20_000);
        let mut c = Vec::new();
        generate(8, 20_000, &mut c).unwrap();
        assert_ne!(a, c);
    }
}
