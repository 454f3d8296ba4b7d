//! Windows Network Policy Server (NPS, formerly IAS) log files, `IN<yymm>.log`, in the three
//! formats NPS can write — one record per line, and NPS may switch format mid-file, so every
//! line is recognized on its own:
//!
//! - **IAS (legacy)**: `NAS-IP,User-Name,MM/DD/YYYY,HH:MM:SS,Service,Computer,` then
//!   `<attribute id>,<value>` pairs in the order the NAS sent them (Microsoft "Interpret IAS
//!   Format Log Files"; the Iasparse examples). Values are unquoted; strings holding a
//!   delimiter or unprintable character are written as `0x…` hex.
//! - **Database-compatible (ODBC)**: no header, a fixed sequence of quoted/unquoted columns
//!   (Microsoft "Interpret NPS Database Format Log Files"), `Record-Date`/`Record-Time` as two
//!   columns, `Packet-Type` fifth.
//! - **DTS compliant (XML)**: `<Event><Timestamp data_type="4">MM/DD/YYYY HH:MM:SS.mmm</Timestamp>
//!   <Computer-Name …>…</Event>`, one element per attribute, normally one event per line.
//!
//! All times are the NPS server's local time without a zone: `ctx.zone_for("nps")`.
//! Packet-Type 1..3 (Access-Request/Accept/Reject) are sign-ins; 4 (Accounting-Request) is
//! accounting with Acct-Status-Type. NPS logs the reply without the user's Calling-Station-Id,
//! so a reply is completed from the Access-Request it answers (same RADIUS client, same Class
//! or within a minute), and says so in `extra.request_record_no`.

use super::radius_detail::{self as rd, keys, put_num, put_str};
use super::{timefmt, Input, Item, ParseContext, Source};
use crate::event::{actions, Event, EventClass, Outcome};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

pub const ID: &str = "nps";

pub struct Nps;

/// Database-compatible column order (66 columns), as Microsoft documents it.
pub const ODBC_COLUMNS: [&str; 66] = [
    "ComputerName",
    "ServiceName",
    "Record-Date",
    "Record-Time",
    "Packet-Type",
    "User-Name",
    "Fully-Qualified-Distinguished-Name",
    "Called-Station-ID",
    "Calling-Station-ID",
    "Callback-Number",
    "Framed-IP-Address",
    "NAS-Identifier",
    "NAS-IP-Address",
    "NAS-Port",
    "Client-Vendor",
    "Client-IP-Address",
    "Client-Friendly-Name",
    "Event-Timestamp",
    "Port-Limit",
    "NAS-Port-Type",
    "Connect-Info",
    "Framed-Protocol",
    "Service-Type",
    "Authentication-Type",
    "Policy-Name",
    "Reason-Code",
    "Class",
    "Session-Timeout",
    "Idle-Timeout",
    "Termination-Action",
    "EAP-Friendly-Name",
    "Acct-Status-Type",
    "Acct-Delay-Time",
    "Acct-Input-Octets",
    "Acct-Output-Octets",
    "Acct-Session-Id",
    "Acct-Authentic",
    "Acct-Session-Time",
    "Acct-Input-Packets",
    "Acct-Output-Packets",
    "Acct-Terminate-Cause",
    "Acct-Multi-Ssn-ID",
    "Acct-Link-Count",
    "Acct-Interim-Interval",
    "Tunnel-Type",
    "Tunnel-Medium-Type",
    "Tunnel-Client-Endpt",
    "Tunnel-Server-Endpt",
    "Acct-Tunnel-Conn",
    "Tunnel-Pvt-Group-ID",
    "Tunnel-Assignment-ID",
    "Tunnel-Preference",
    "MS-Acct-Auth-Type",
    "MS-Acct-EAP-Type",
    "MS-RAS-Version",
    "MS-RAS-Vendor",
    "MS-CHAP-Error",
    "MS-CHAP-Domain",
    "MS-MPPE-Encryption-Types",
    "MS-MPPE-Encryption-Policy",
    "Proxy-Policy-Name",
    "Provider-Type",
    "Provider-Name",
    "Remote-Server-Address",
    "MS-RAS-Client-Name",
    "MS-RAS-Client-Version",
];

/// Columns an ODBC row must reach for its facts to be where the sequence says: up to
/// Reason-Code. Older IAS versions wrote fewer trailing columns, never fewer than these.
const ODBC_MIN_COLUMNS: usize = 26;

/// IAS attribute ids → names: RFC 2865/2866/2867/2868/2869 ids and Microsoft's IAS ids
/// (4096+), as the IAS-format documentation lists them.
fn ias_attr_name(id: u32) -> Option<&'static str> {
    Some(match id {
        1 => "User-Name",
        4 => "NAS-IP-Address",
        5 => "NAS-Port",
        6 => "Service-Type",
        7 => "Framed-Protocol",
        8 => "Framed-IP-Address",
        9 => "Framed-IP-Netmask",
        10 => "Framed-Routing",
        11 => "Filter-Id",
        12 => "Framed-MTU",
        13 => "Framed-Compression",
        14 => "Login-IP-Host",
        15 => "Login-Service",
        16 => "Login-TCP-Port",
        18 => "Reply-Message",
        19 => "Callback-Number",
        20 => "Callback-Id",
        22 => "Framed-Route",
        23 => "Framed-IPX-Network",
        24 => "State",
        25 => "Class",
        26 => "Vendor-Specific",
        27 => "Session-Timeout",
        28 => "Idle-Timeout",
        29 => "Termination-Action",
        30 => "Called-Station-Id",
        31 => "Calling-Station-Id",
        32 => "NAS-Identifier",
        33 => "Proxy-State",
        40 => "Acct-Status-Type",
        41 => "Acct-Delay-Time",
        42 => "Acct-Input-Octets",
        43 => "Acct-Output-Octets",
        44 => "Acct-Session-Id",
        45 => "Acct-Authentic",
        46 => "Acct-Session-Time",
        47 => "Acct-Input-Packets",
        48 => "Acct-Output-Packets",
        49 => "Acct-Terminate-Cause",
        50 => "Acct-Multi-Session-Id",
        51 => "Acct-Link-Count",
        52 => "Acct-Input-Gigawords",
        53 => "Acct-Output-Gigawords",
        55 => "Event-Timestamp",
        60 => "CHAP-Challenge",
        61 => "NAS-Port-Type",
        62 => "Port-Limit",
        64 => "Tunnel-Type",
        65 => "Tunnel-Medium-Type",
        66 => "Tunnel-Client-Endpt",
        67 => "Tunnel-Server-Endpt",
        68 => "Acct-Tunnel-Connection",
        77 => "Connect-Info",
        79 => "EAP-Message",
        80 => "Message-Authenticator",
        81 => "Tunnel-Pvt-Group-ID",
        82 => "Tunnel-Assignment-ID",
        83 => "Tunnel-Preference",
        85 => "Acct-Interim-Interval",
        87 => "NAS-Port-Id",
        88 => "Framed-Pool",
        4108 => "Client-IP-Address",
        4116 => "Client-Vendor",
        4127 => "Authentication-Type",
        4128 => "Client-Friendly-Name",
        4129 => "SAM-Account-Name",
        4130 => "Fully-Qualifed-User-Name",
        4132 => "EAP-Friendly-Name",
        4136 => "Packet-Type",
        4142 => "Reason-Code",
        4147 => "MS-RAS-Vendor",
        4148 => "MS-RAS-Version",
        4149 => "NP-Policy-Name",
        4154 => "Proxy-Policy-Name",
        4155 => "Provider-Type",
        4156 => "Provider-Name",
        4157 => "Remote-Server-Address",
        4159 => "MS-RAS-Client-Name",
        4160 => "MS-RAS-Client-Version",
        _ => return None,
    })
}

/// String attributes NPS hex-encodes (in IAS format) when they hold a delimiter.
const IAS_TEXT_ATTRS: &[&str] = &[
    "User-Name",
    "SAM-Account-Name",
    "Fully-Qualifed-User-Name",
    "Calling-Station-Id",
    "Called-Station-Id",
    "NAS-Identifier",
    "Client-Friendly-Name",
    "NP-Policy-Name",
    "Proxy-Policy-Name",
    "Acct-Session-Id",
    "Connect-Info",
];

/// NPS Reason-Code meanings (Microsoft "NPS Reason Codes"), in short.
pub fn reason_text(code: u32) -> Option<&'static str> {
    Some(match code {
        0 => "success",
        1 => "NPS internal error",
        2 => "insufficient access rights to process the request",
        3 => "malformed RADIUS Access-Request",
        4 => "global catalog unavailable",
        5 => "domain controller unavailable",
        6 => "NPS server unavailable",
        7 => "no such domain",
        8 => "no such user account",
        9 => "request discarded by an extension DLL",
        10 => "extension DLL failed",
        16 => "authentication failed: user credentials mismatch (wrong user name or password)",
        17 => "password change failed",
        18 => "authentication type not supported",
        19 => "no reversibly encrypted password stored for the account",
        20 => "LAN Manager authentication not enabled",
        21 => "rejected by an extension DLL",
        22 => "EAP type cannot be processed by the server",
        23 => "unexpected error (server or client configuration)",
        32 => "local users only",
        33 => "password must be changed",
        34 => "account disabled",
        35 => "account expired",
        36 => "account locked out",
        37 => "logon hours restriction",
        38 => "account restriction",
        48 => "no network policy matched",
        49 => "no connection request policy matched",
        64 => "dial-in locked out",
        65 => "network access permission denied (dial-in disabled)",
        66 => "authentication method not allowed by the policy",
        67 => "calling station not allowed",
        68 => "dial-in hours not allowed",
        69 => "called station not allowed",
        70 => "port type not allowed",
        71 => "invalid restriction",
        72 => "password change not enabled in the policy",
        80 => "no record",
        96 => "session timed out",
        97 => "unexpected request",
        _ => return None,
    })
}

/// NPS Authentication-Type values (IAS_AUTH_* in the NPS SDK).
fn auth_type_name(n: u32) -> Option<&'static str> {
    Some(match n {
        1 => "PAP",
        2 => "CHAP",
        3 => "MS-CHAP",
        4 => "MS-CHAPv2",
        5 => "EAP",
        6 => "ARAP",
        7 => "Unauthenticated",
        8 => "Extension",
        9 => "MS-CHAP-CPW",
        10 => "MS-CHAPv2-CPW",
        11 => "PEAP",
        _ => return None,
    })
}

fn packet_type_name(n: u32) -> Option<&'static str> {
    Some(match n {
        1 => "Access-Request",
        2 => "Access-Accept",
        3 => "Access-Reject",
        4 => "Accounting-Request",
        5 => "Accounting-Response",
        11 => "Access-Challenge",
        12 => "Status-Server",
        13 => "Status-Client",
        40 => "Disconnect-Request",
        43 => "CoA-Request",
        _ => return None,
    })
}

impl Source for Nps {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "Windows NPS / IAS logs"
    }

    fn sniff(&self, head: &str) -> u8 {
        let mut seen = 0usize;
        let mut best = 0u8;
        let mut misses = 0usize;
        for line in head
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter(|l| !l.trim().is_empty())
            .take(40)
        {
            seen += 1;
            let t = line.trim();
            // A DTS event pretty-printed over several lines: its pieces are neither hits nor misses.
            if t == "<Event>"
                || t == "</Event>"
                || (line_kind(line) != Some(Kind::Dts)
                    && t.starts_with('<')
                    && t.contains("data_type="))
            {
                if t.starts_with("<Timestamp data_type=")
                    || t.starts_with("<Computer-Name data_type=")
                {
                    best = best.max(95);
                }
                continue;
            }
            let score = match line_kind(line) {
                Some(Kind::Dts)
                    if line.contains("data_type=")
                        && (line.contains("<Timestamp") || line.contains("<Computer-Name")) =>
                {
                    95
                }
                Some(Kind::Odbc) if odbc_plausible(line) => 90,
                Some(Kind::Ias) if ias_plausible(line) => 85,
                _ => 0,
            };
            if score == 0 {
                misses += 1;
            }
            best = best.max(score);
        }
        // The last line in the window may be cut: tolerate one miss.
        if seen == 0 || misses > 1 || (misses == 1 && seen < 3) {
            return 0;
        }
        best
    }

    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        let text = input.text;
        let bytes = text.as_bytes();
        let zone = ctx.zone_for(ID);
        let mut pairing = Pairing::default();
        let mut record_no = 0u64;
        let mut pos = 0usize;
        while pos < bytes.len() {
            let (start, end, next) = line_at(bytes, pos);
            pos = next;
            let line = &text[start..end];
            if line.trim().is_empty() {
                continue;
            }
            record_no += 1;
            let mut rec_end = end;
            let kind = line_kind(line);
            // A DTS event pretty-printed over several lines runs to its `</Event>`.
            if kind == Some(Kind::Dts) && !line.contains("</Event>") {
                let mut p = pos;
                while p < bytes.len() {
                    let (s2, e2, n2) = line_at(bytes, p);
                    let l2 = text[s2..e2].trim_start();
                    // Only element lines continue an event; anything else starts a new record.
                    if l2.starts_with("<Event>")
                        || l2.starts_with("<Event ")
                        || !l2.starts_with('<')
                    {
                        break;
                    }
                    rec_end = e2;
                    p = n2;
                    if l2.contains("</Event>") {
                        break;
                    }
                }
                pos = p;
            }
            let raw = &text[start..rec_end];
            let parsed = match kind {
                Some(Kind::Dts) => parse_dts(raw).map(|a| (a, "dts")),
                Some(Kind::Odbc) => parse_odbc(raw).map(|a| (a, "odbc")),
                Some(Kind::Ias) => parse_ias(raw).map(|a| (a, "ias")),
                None => Err("not an NPS log record (expected an IAS-format, database-compatible or DTS <Event> line)".to_string()),
            };
            let item = match parsed {
                Ok((attrs, variant)) => build_event(
                    input,
                    zone,
                    record_no,
                    start,
                    rec_end,
                    attrs,
                    variant,
                    &mut pairing,
                ),
                Err(why) => Err(why),
            };
            out(item.map_err(|why| input.reject(record_no, start, rec_end, why)));
        }
    }
}

/// Line `[start, end)` without its terminator, and where the next line starts.
fn line_at(bytes: &[u8], pos: usize) -> (usize, usize, usize) {
    let nl = memchr::memchr(b'\n', &bytes[pos..]).map(|i| pos + i);
    let mut end = nl.unwrap_or(bytes.len());
    if end > pos && bytes[end - 1] == b'\r' {
        end -= 1;
    }
    (pos, end, nl.map(|i| i + 1).unwrap_or(bytes.len()))
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Ias,
    Odbc,
    Dts,
}

fn is_date(s: &str) -> bool {
    let mut it = s.split('/');
    let ok = |p: Option<&str>, lo: usize, hi: usize| {
        p.is_some_and(|p| (lo..=hi).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    ok(it.next(), 1, 2) && ok(it.next(), 1, 2) && ok(it.next(), 4, 4) && it.next().is_none()
}

fn is_clock(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Which of the three formats a line is in, by its shape alone.
fn line_kind(line: &str) -> Option<Kind> {
    let t = line.trim_start_matches('\u{FEFF}').trim_start();
    if t.starts_with("<Event>") || t.starts_with("<Event ") {
        return Some(Kind::Dts);
    }
    // Only the first five fields matter here, and none of them may hold a comma.
    let mut it = t.splitn(6, ',');
    let f: Vec<&str> = (0..5).filter_map(|_| it.next()).collect();
    if f.len() < 5 || it.next().is_none() {
        return None;
    }
    if !is_date(f[2].trim_matches('"')) || !is_clock(f[3].trim_matches('"')) {
        return None;
    }
    if f[4].trim_matches('"').bytes().all(|b| b.is_ascii_digit()) && !f[4].is_empty() {
        Some(Kind::Odbc)
    } else {
        Some(Kind::Ias)
    }
}

fn odbc_plausible(line: &str) -> bool {
    let Ok(f) = split_csv(line) else { return false };
    f.len() >= ODBC_MIN_COLUMNS
        && f.len() <= ODBC_COLUMNS.len() + 8
        && f[4].parse::<u32>().is_ok_and(|n| (1..=13).contains(&n))
}

fn ias_plausible(line: &str) -> bool {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() < 8 || !f.len().is_multiple_of(2) {
        return false;
    }
    let ip_ok = f[0].is_empty() || rd::ip_of(f[0]).is_some();
    ip_ok && f[6..].chunks(2).all(|p| p[0].parse::<u32>().is_ok())
}

/// Splits one CSV line (quotes with `""` escapes). Errors say what is wrong and where.
fn split_csv(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let b = line.as_bytes();
    let mut out = Vec::with_capacity(70);
    let mut i = 0usize;
    loop {
        if b.get(i) == Some(&b'"') {
            let mut val: Option<String> = None;
            let mut j = i + 1;
            let seg_start = j;
            loop {
                match memchr::memchr(b'"', &b[j..]) {
                    None => {
                        return Err(format!(
                            "column {}: unterminated quoted value",
                            out.len() + 1
                        ))
                    }
                    Some(k) => {
                        let q = j + k;
                        if b.get(q + 1) == Some(&b'"') {
                            let v = val.get_or_insert_with(String::new);
                            v.push_str(&line[j..q + 1]);
                            j = q + 2;
                        } else {
                            let v = match val.take() {
                                Some(mut v) => {
                                    v.push_str(&line[j..q]);
                                    Cow::Owned(v)
                                }
                                None => Cow::Borrowed(&line[seg_start..q]),
                            };
                            out.push(v);
                            i = q + 1;
                            break;
                        }
                    }
                }
            }
            match b.get(i) {
                None => return Ok(out),
                Some(b',') => i += 1,
                Some(_) => {
                    return Err(format!(
                        "column {}: text after the closing quote",
                        out.len()
                    ))
                }
            }
        } else {
            let end = memchr::memchr(b',', &b[i..]).map(|k| i + k);
            match end {
                Some(e) => {
                    out.push(Cow::Borrowed(&line[i..e]));
                    i = e + 1;
                }
                None => {
                    out.push(Cow::Borrowed(&line[i..]));
                    return Ok(out);
                }
            }
        }
    }
}

type Attrs = Vec<(String, String)>;

fn parse_odbc(line: &str) -> Result<Attrs, String> {
    let f = split_csv(line)?;
    if f.len() < ODBC_MIN_COLUMNS {
        return Err(format!(
            "database-compatible record has {} columns, expected {} (at least {} up to Reason-Code)",
            f.len(),
            ODBC_COLUMNS.len(),
            ODBC_MIN_COLUMNS
        ));
    }
    let mut attrs = Vec::with_capacity(32);
    for (i, v) in f.iter().enumerate() {
        if v.trim().is_empty() {
            continue;
        }
        let name = match ODBC_COLUMNS.get(i) {
            Some(n) => (*n).to_string(),
            None => format!("Column-{}", i + 1),
        };
        attrs.push((name, v.to_string()));
    }
    Ok(attrs)
}

fn parse_ias(line: &str) -> Result<Attrs, String> {
    let f: Vec<&str> = line.split(',').collect();
    if f.len() < 6 {
        return Err(format!(
            "IAS-format record has {} fields, expected at least the 6 header fields",
            f.len()
        ));
    }
    let mut attrs = Vec::with_capacity(f.len() / 2 + 6);
    for (name, v) in [
        "NAS-IP-Address",
        "User-Name",
        "Record-Date",
        "Record-Time",
        "Service-Name",
        "Computer-Name",
    ]
    .iter()
    .zip(&f[..6])
    {
        if !v.trim().is_empty() {
            attrs.push((name.to_string(), ias_text(name, v)));
        }
    }
    let pairs = &f[6..];
    if !pairs.len().is_multiple_of(2) {
        return Err(format!(
            "IAS-format record has an attribute id without a value (field {}: {:?})",
            f.len(),
            super::text::excerpt(pairs.last().copied().unwrap_or(""), 40)
        ));
    }
    for (k, p) in pairs.chunks(2).enumerate() {
        let id: u32 = p[0].trim().parse().map_err(|_| {
            format!(
                "IAS-format field {}: attribute id {:?} is not a number",
                7 + 2 * k,
                super::text::excerpt(p[0], 40)
            )
        })?;
        let name = ias_attr_name(id)
            .map(str::to_string)
            .unwrap_or_else(|| format!("IAS-Attribute-{id}"));
        let v = ias_text(&name, p[1]);
        attrs.push((name, v));
    }
    Ok(attrs)
}

/// Undoes IAS-format hex encoding of a text attribute, only where NPS would have applied it
/// (the decoded text holds a delimiter or control character); anything else stays as written.
fn ias_text(name: &str, v: &str) -> String {
    if IAS_TEXT_ATTRS.iter().any(|a| a.eq_ignore_ascii_case(name)) {
        if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
            if let Ok(bytes) = hex::decode(hex) {
                if let Ok(s) = String::from_utf8(bytes) {
                    if s.chars().any(|c| c == ',' || c == '"' || c.is_control()) {
                        return s;
                    }
                }
            }
        }
    }
    v.to_string()
}

fn parse_dts(raw: &str) -> Result<Attrs, String> {
    let t = raw.trim();
    let body = t
        .strip_prefix("<Event>")
        .or_else(|| {
            t.strip_prefix("<Event ")
                .and_then(|r| r.split_once('>').map(|(_, b)| b))
        })
        .ok_or("DTS record does not start with <Event>")?;
    let body = body
        .trim_end()
        .strip_suffix("</Event>")
        .ok_or("DTS record is truncated: no closing </Event>")?;
    let mut attrs = Vec::with_capacity(32);
    let mut rest = body.trim_start();
    while !rest.is_empty() {
        let r = rest.strip_prefix('<').ok_or_else(|| {
            format!(
                "DTS: expected an element, found {:?}",
                super::text::excerpt(rest, 40)
            )
        })?;
        let name_end = r
            .find(|c: char| c == '>' || c == '/' || c.is_whitespace())
            .ok_or("DTS: unterminated element tag")?;
        let name = &r[..name_end];
        if name.is_empty() || name.starts_with('/') {
            return Err(format!(
                "DTS: unexpected tag {:?}",
                super::text::excerpt(rest, 40)
            ));
        }
        let tag_end = r
            .find('>')
            .ok_or_else(|| format!("DTS: element <{name}> has no closing '>'"))?;
        if r[..tag_end].ends_with('/') {
            attrs.push((name.to_string(), String::new()));
            rest = r[tag_end + 1..].trim_start();
            continue;
        }
        let after = &r[tag_end + 1..];
        let close = format!("</{name}>");
        let vend = after
            .find(&close)
            .ok_or_else(|| format!("DTS: element <{name}> is not closed"))?;
        let value = &after[..vend];
        if value.contains('<') {
            return Err(format!(
                "DTS: element <{name}> holds markup, expected a value"
            ));
        }
        attrs.push((name.to_string(), xml_unescape(value.trim()).into_owned()));
        rest = after[vend + close.len()..].trim_start();
    }
    Ok(attrs)
}

fn xml_unescape(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let decoded = tail.find(';').filter(|&j| j <= 10).and_then(|j| {
            let ent = &tail[1..j];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => ent
                    .strip_prefix("#x")
                    .or_else(|| ent.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, j))
        });
        match decoded {
            Some((c, j)) => {
                out.push(c);
                rest = &tail[j + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

fn get<'a>(attrs: &'a Attrs, names: &[&str]) -> Option<&'a str> {
    names
        .iter()
        .find_map(|n| {
            attrs
                .iter()
                .find(|(k, v)| k.eq_ignore_ascii_case(n) && !v.trim().is_empty())
        })
        .map(|(_, v)| v.trim())
}

fn get_u32(attrs: &Attrs, names: &[&str]) -> Option<u32> {
    get(attrs, names).and_then(|v| v.parse().ok())
}

fn get_u64(attrs: &Attrs, names: &[&str]) -> Option<u64> {
    get(attrs, names).and_then(|v| v.parse().ok())
}

fn attrs_json(attrs: &Attrs) -> Value {
    let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (n, v) in attrs {
        grouped.entry(n.as_str()).or_default().push(v.as_str());
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

/// What an Access-Request said, to complete the reply that answers it.
#[derive(Clone)]
struct PendingRequest {
    record_no: u64,
    time: DateTime<Utc>,
    class: Option<String>,
    user: Option<String>,
    src_ip: Option<String>,
    calling: Option<String>,
    called: Option<String>,
    nas_ip: Option<String>,
    nas_id: Option<String>,
}

#[derive(Default)]
struct Pairing {
    /// Last Access-Request per (NPS server, RADIUS client).
    by_client: HashMap<(String, String), PendingRequest>,
}

#[allow(clippy::too_many_arguments)]
fn build_event(
    input: &Input,
    zone: Option<chrono_tz::Tz>,
    record_no: u64,
    start: usize,
    end: usize,
    attrs: Attrs,
    variant: &'static str,
    pairing: &mut Pairing,
) -> Result<Event, String> {
    // Time: local, zone-less, in one of two spellings.
    let (time_text, naive) = if let Some(ts) = get(&attrs, &["Timestamp"]) {
        (ts.to_string(), timefmt::parse_us_locale(ts))
    } else {
        match (get(&attrs, &["Record-Date"]), get(&attrs, &["Record-Time"])) {
            (Some(d), Some(t)) => {
                let s = format!("{d} {t}");
                let n = timefmt::parse_us_locale(&s);
                (s, n)
            }
            _ => {
                return Err(
                    "no time: Record-Date/Record-Time (or DTS <Timestamp>) missing".to_string(),
                )
            }
        }
    };
    let Some(naive) = naive else {
        return Err(format!("time {time_text:?} is not MM/DD/YYYY HH:MM:SS[.mmm] (NPS writes the server's local date and time)"));
    };
    let stamp = rd::local_stamp(naive, zone);

    let pt_raw = get(&attrs, &["Packet-Type"]);
    let pt_num = pt_raw.and_then(|v| v.parse::<u32>().ok());
    let pt_name: Option<String> = match (pt_num, pt_raw) {
        (Some(n), _) => Some(
            packet_type_name(n)
                .map(str::to_string)
                .unwrap_or_else(|| format!("Packet-Type {n}")),
        ),
        (None, Some(s)) => Some(s.to_string()),
        (None, None) => None,
    };
    let status_raw = get(&attrs, &["Acct-Status-Type"]);
    let status_name: Option<String> = status_raw.map(|s| match s.parse::<u32>() {
        Ok(n) => rd::status_type_name(n)
            .map(str::to_string)
            .unwrap_or_else(|| s.to_string()),
        Err(_) => s.to_string(),
    });
    let reason_code = get_u32(&attrs, &["Reason-Code"]);

    let pt_lower = pt_name.as_deref().map(str::to_ascii_lowercase);
    let (class, action, operation, outcome) = match pt_lower.as_deref() {
        Some("access-request") => (
            EventClass::Authentication,
            actions::SIGN_IN,
            "Access-Request".to_string(),
            Outcome::Unknown,
        ),
        Some("access-accept") => (
            EventClass::Authentication,
            actions::SIGN_IN,
            "Access-Accept".to_string(),
            Outcome::Success,
        ),
        Some("access-reject") => (
            EventClass::Authentication,
            actions::SIGN_IN,
            "Access-Reject".to_string(),
            Outcome::Failure,
        ),
        Some("accounting-request") | None if status_name.is_some() => {
            let s = status_name.clone().unwrap_or_default();
            match status_raw.and_then(rd::status_action) {
                Some(a) => (EventClass::Accounting, a, s, Outcome::Success),
                None => (EventClass::Accounting, actions::OTHER, s, Outcome::Unknown),
            }
        }
        Some(p) if p.starts_with("accounting") => (
            EventClass::Accounting,
            actions::OTHER,
            pt_name.clone().unwrap_or_default(),
            Outcome::Unknown,
        ),
        Some(_) => (
            EventClass::Authentication,
            actions::OTHER,
            pt_name.clone().unwrap_or_default(),
            Outcome::Unknown,
        ),
        None => (
            EventClass::Authentication,
            actions::OTHER,
            "unknown (no Packet-Type)".to_string(),
            Outcome::Unknown,
        ),
    };

    let prov = input.provenance(record_no, start, end);
    let mut ev = Event::new(
        stamp.utc, time_text, stamp.zone, ID, variant, class, action, operation, outcome, prov,
    );

    let calling = get(&attrs, &["Calling-Station-Id"]);
    ev.user = get(&attrs, &["User-Name"]).map(Into::into);
    ev.src_ip = calling
        .and_then(rd::ip_of)
        .or_else(|| get(&attrs, &["Tunnel-Client-Endpt"]).and_then(rd::ip_of))
        .map(Into::into);
    ev.cold_mut().session_id = get(&attrs, &["Acct-Session-Id"]).map(str::to_string);
    ev.cold_mut().correlation_id = get(&attrs, &["Class"]).map(str::to_string);
    ev.cold_mut().bytes_in = rd::octets_total(
        get_u64(&attrs, &["Acct-Input-Octets"]),
        get_u64(&attrs, &["Acct-Input-Gigawords"]),
    );
    ev.cold_mut().bytes_out = rd::octets_total(
        get_u64(&attrs, &["Acct-Output-Octets"]),
        get_u64(&attrs, &["Acct-Output-Gigawords"]),
    );
    if outcome == Outcome::Failure {
        ev.reason = Some(match reason_code {
            Some(c) => match reason_text(c) {
                Some(t) => format!("Reason-Code {c}: {t}").into(),
                None => format!("Reason-Code {c}").into(),
            },
            None => "Access-Reject (no Reason-Code)".into(),
        });
    }

    let nas_ip = get(&attrs, &["NAS-IP-Address"]);
    let nas_id = get(&attrs, &["NAS-Identifier"]);
    let client_ip = get(&attrs, &["Client-IP-Address"]);
    let computer = get(&attrs, &["Computer-Name", "ComputerName"]);
    let named = |v: Option<&str>, f: fn(u32) -> Option<&'static str>| -> Option<String> {
        v.map(|s| {
            s.parse::<u32>()
                .ok()
                .and_then(f)
                .map(str::to_string)
                .unwrap_or_else(|| s.to_string())
        })
    };

    // Pair replies with their request so a rejected sign-in still names its user and IP.
    let pair_key = (
        computer.unwrap_or("").to_string(),
        client_ip.or(nas_ip).unwrap_or("").to_string(),
    );
    let class_attr = get(&attrs, &["Class"]).map(str::to_string);
    let mut request_no = None;
    match pt_lower.as_deref() {
        Some("access-request") => {
            pairing.by_client.insert(
                pair_key,
                PendingRequest {
                    record_no,
                    time: stamp.utc,
                    class: class_attr,
                    user: ev.user.as_ref().map(String::from),
                    src_ip: ev.src_ip.as_ref().map(String::from),
                    calling: calling.map(str::to_string),
                    called: get(&attrs, &["Called-Station-Id"]).map(str::to_string),
                    nas_ip: nas_ip.map(str::to_string),
                    nas_id: nas_id.map(str::to_string),
                },
            );
        }
        Some("access-accept") | Some("access-reject") | Some("access-challenge") => {
            let done = pt_lower.as_deref() != Some("access-challenge");
            let matched = pairing.by_client.get(&pair_key).filter(|r| {
                let close = (stamp.utc - r.time).num_seconds().abs() <= 60;
                let same_class = match (&r.class, &class_attr) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                };
                close && same_class
            });
            if let Some(r) = matched.cloned() {
                request_no = Some(r.record_no);
                if ev.user.is_none() {
                    ev.user = r.user.clone().map(Into::into);
                }
                if ev.src_ip.is_none() {
                    ev.src_ip = r.src_ip.clone().map(Into::into);
                }
                let x = &mut ev.extra;
                if calling.is_none() {
                    put_str(x, keys::CALLING_STATION_ID, r.calling.as_deref());
                }
                put_str(x, keys::CALLED_STATION_ID, r.called.as_deref());
                put_str(x, keys::NAS_IP, r.nas_ip.as_deref());
                put_str(x, keys::NAS_IDENTIFIER, r.nas_id.as_deref());
                if done {
                    pairing.by_client.remove(&pair_key);
                }
            }
        }
        _ => {}
    }
    if ev.user.is_none() {
        ev.user = get(
            &attrs,
            &[
                "SAM-Account-Name",
                "Fully-Qualifed-User-Name",
                "Fully-Qualified-User-Name",
                "Fully-Qualified-Distinguished-Name",
            ],
        )
        .map(Into::into);
    }

    let x = &mut ev.extra;
    put_str(x, keys::CALLING_STATION_ID, calling);
    put_str(
        x,
        keys::CALLED_STATION_ID,
        get(&attrs, &["Called-Station-Id"]),
    );
    put_str(x, keys::NAS_IP, nas_ip);
    put_str(x, keys::NAS_IDENTIFIER, nas_id);
    put_str(x, keys::FRAMED_IP, get(&attrs, &["Framed-IP-Address"]));
    put_str(
        x,
        keys::NAS_PORT_TYPE,
        named(get(&attrs, &["NAS-Port-Type"]), rd::nas_port_type_name).as_deref(),
    );
    put_str(
        x,
        keys::TERMINATE_CAUSE,
        named(
            get(&attrs, &["Acct-Terminate-Cause"]),
            rd::terminate_cause_name,
        )
        .as_deref(),
    );
    put_str(x, keys::ACCT_STATUS_TYPE, status_name.as_deref());
    put_num(
        x,
        keys::SESSION_TIME,
        get_u64(&attrs, &["Acct-Session-Time"]),
    );
    put_num(
        x,
        keys::ACCT_DELAY_TIME,
        get_u64(&attrs, &["Acct-Delay-Time"]),
    );
    put_str(x, "packet_type", pt_name.as_deref());
    put_num(x, "reason_code", reason_code.map(u64::from));
    if let Some(t) = reason_code.and_then(reason_text) {
        put_str(x, "reason_text", Some(t));
    }
    put_str(x, "computer_name", computer);
    put_str(
        x,
        "service_name",
        get(&attrs, &["Service-Name", "ServiceName", "Event-Source"]),
    );
    put_str(x, "client_ip", client_ip);
    put_str(
        x,
        "client_friendly_name",
        get(&attrs, &["Client-Friendly-Name"]),
    );
    put_str(
        x,
        "network_policy",
        get(&attrs, &["NP-Policy-Name", "Policy-Name"]),
    );
    put_str(x, "proxy_policy", get(&attrs, &["Proxy-Policy-Name"]));
    put_str(
        x,
        "authentication_type",
        named(get(&attrs, &["Authentication-Type"]), auth_type_name).as_deref(),
    );
    put_str(x, "eap_type", get(&attrs, &["EAP-Friendly-Name"]));
    put_str(x, "sam_account_name", get(&attrs, &["SAM-Account-Name"]));
    put_str(
        x,
        "fully_qualified_user_name",
        get(
            &attrs,
            &[
                "Fully-Qualifed-User-Name",
                "Fully-Qualified-User-Name",
                "Fully-Qualified-Distinguished-Name",
            ],
        ),
    );
    put_str(
        x,
        "tunnel_client_endpoint",
        get(&attrs, &["Tunnel-Client-Endpt"]),
    );
    put_num(x, "request_record_no", request_no);
    x.insert(keys::ATTRIBUTES, attrs_json(&attrs));
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_split() {
        let f = split_csv(r#""NPS01","IAS",06/09/2025,08:02:11,1,"a ""b"" c",,"x,y""#).unwrap();
        assert_eq!(f.len(), 8);
        assert_eq!(f[5], "a \"b\" c");
        assert_eq!(f[6], "");
        assert_eq!(f[7], "x,y");
        assert!(split_csv(r#""abc,1"#).is_err());
        assert!(split_csv(r#""abc"x,1"#).is_err());
    }

    #[test]
    fn kinds() {
        assert_eq!(
            line_kind("10.10.10.10,client,06/04/1999,14:42:19,NPS,CLIENTCOMP,6,2,7,1"),
            Some(Kind::Ias)
        );
        assert_eq!(
            line_kind(r#""CLIENTCOMP","IAS",03/07/2008,13:04:33,1,"client",,,"#),
            Some(Kind::Odbc)
        );
        assert_eq!(
            line_kind(
                r#"<Event><Timestamp data_type="4">05/19/2014 15:21:44.008</Timestamp></Event>"#
            ),
            Some(Kind::Dts)
        );
        assert_eq!(line_kind("date=2025-06-09 time=08:00:00 devname=fgt"), None);
    }

    #[test]
    fn dts_and_entities() {
        let a = parse_dts(r#"<Event><User-Name data_type="1">CONTOSO\a&amp;b</User-Name><Empty/><X data_type="0">1</X></Event>"#).unwrap();
        assert_eq!(a[0], ("User-Name".to_string(), "CONTOSO\\a&b".to_string()));
        assert_eq!(a.len(), 3);
        assert!(parse_dts(r#"<Event><User-Name data_type="1">x</User-Name>"#).is_err());
        assert!(parse_dts(r#"<Event><User-Name data_type="1">x</Event>"#).is_err());
        assert_eq!(xml_unescape("a&#233;&lt;&bogus;"), "aé<&bogus;");
    }

    #[test]
    fn ias_hex_text() {
        assert_eq!(ias_text("User-Name", "0x446f652c204a6f686e"), "Doe, John");
        // Hex that decodes to plain text was not NPS's escaping: keep as written.
        assert_eq!(ias_text("User-Name", "0x616263"), "0x616263");
        assert_eq!(
            ias_text("Class", "0x446f652c204a6f686e"),
            "0x446f652c204a6f686e"
        );
    }
}
