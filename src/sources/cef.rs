//! ArcSight Common Event Format: a shared header/extension parser, and the `cef` source
//! that reads raw CEF lines (with or without a syslog header) and Microsoft Sentinel
//! `CommonSecurityLog` exports (CSV or JSON). Each record is dispatched on DeviceVendor /
//! DeviceProduct: Fortinet FortiGate and Palo Alto Networks records get their vendor's
//! mapping (events say `source = "fortigate"` / `"panos"`), every other vendor a generic
//! mapping (`source = "cef"`), so no record is dropped for coming from an unknown device.

use super::syslog::{self, non_blank, parse_zone_offset};
use super::timefmt::{self, Stamp};
use super::{csvscan, jsonscan, Input, Item, ParseContext, Source};
use crate::event::{actions, Event, EventClass, Outcome, Provenance};
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use std::borrow::Cow;

/// One CEF record: the seven header fields (unescaped) and the extension pairs in order.
#[derive(Debug, Clone, Default)]
pub struct Cef<'a> {
    pub version: Cow<'a, str>,
    pub vendor: Cow<'a, str>,
    pub product: Cow<'a, str>,
    pub device_version: Cow<'a, str>,
    pub class_id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub severity: Cow<'a, str>,
    pub ext: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Timestamp text of a syslog header in front of `CEF:`, if any.
    pub header_time: Option<&'a str>,
    pub header_host: Option<&'a str>,
}

impl<'a> Cef<'a> {
    /// First non-blank value of extension key `k` (case-sensitive, as CEF keys are).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.ext
            .iter()
            .find(|(key, v)| key == k && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// First non-blank value among several keys.
    pub fn get_any(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.get(k))
    }

    /// Value of the custom field whose label is `label` (`cs1Label=Rule cs1=allow-all`).
    pub fn labeled(&self, label: &str) -> Option<&str> {
        self.ext
            .iter()
            .find(|(k, v)| k.ends_with("Label") && v.eq_ignore_ascii_case(label))
            .and_then(|(k, _)| {
                let base = &k[..k.len() - 5];
                self.get(base)
            })
    }

    pub fn is_vendor(&self, vendor: &str) -> bool {
        self.vendor.trim().eq_ignore_ascii_case(vendor)
    }
}

/// Which vendor mapping a CEF record gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    FortiGate,
    PanOs,
    Other,
}

pub fn vendor_of(c: &Cef) -> Vendor {
    let v = c.vendor.trim().to_ascii_lowercase();
    let p = c.product.trim().to_ascii_lowercase();
    if v.starts_with("fortinet") && (p.contains("fortigate") || p.contains("fortios")) {
        Vendor::FortiGate
    } else if v.starts_with("palo alto")
        && (p.contains("pan-os")
            || p == "lf"
            || p.contains("firewall")
            || p.contains("globalprotect")
            || p.contains("ngfw"))
    {
        Vendor::PanOs
    } else {
        Vendor::Other
    }
}

/// Position of the `CEF:` marker in a line, if the line is CEF.
pub fn cef_start(line: &str) -> Option<usize> {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"CEF:"));
    let i = FINDER.find(line.as_bytes())?;
    let rest = &line.as_bytes()[i + 4..];
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    (digits > 0 && rest.get(digits) == Some(&b'|')).then_some(i)
}

/// Parses a CEF line (anything before `CEF:` is treated as a syslog header).
pub fn parse(line: &str) -> Result<Cef<'_>, String> {
    let start = cef_start(line).ok_or_else(|| "not CEF: no `CEF:<version>|` header".to_string())?;
    let mut c = Cef::default();
    if start > 0 {
        let h = syslog::strip_header(&line[..start], |s| s.is_empty() || s.starts_with("CEF:"));
        c.header_time = h.time;
        c.header_host = h.host;
    }
    let s = &line[start + 4..];
    let b = s.as_bytes();
    let mut fields: [Cow<str>; 7] = Default::default();
    let mut pos = 0;
    for (n, f) in fields.iter_mut().enumerate() {
        let fstart = pos;
        let mut escaped = false;
        loop {
            match memchr::memchr2(b'|', b'\\', &b[pos.min(b.len())..]) {
                None => {
                    return Err(format!(
                        "truncated CEF header: {} of 7 fields before the end of the record",
                        n
                    ));
                }
                Some(k) => {
                    pos += k;
                    if b[pos] == b'\\' {
                        escaped = true;
                        pos += 2;
                    } else {
                        break;
                    }
                }
            }
        }
        let raw = &s[fstart..pos];
        *f = if escaped {
            unescape(raw)
        } else {
            Cow::Borrowed(raw)
        };
        pos += 1;
    }
    let [version, vendor, product, device_version, class_id, name, severity] = fields;
    c.version = version;
    c.vendor = vendor;
    c.product = product;
    c.device_version = device_version;
    c.class_id = class_id;
    c.name = name;
    c.severity = severity;
    c.ext = parse_extension(&s[pos.min(s.len())..]);
    Ok(c)
}

/// `\|`, `\\`, `\=`, `\n`, `\r` escapes.
fn unescape(v: &str) -> Cow<'_, str> {
    if !v.contains('\\') {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some(n) => out.push(n),
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}

fn is_cef_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'[' | b']' | b'-')
}

/// Extension `k=v k2=value with spaces`: a value runs to the space before the next
/// `key=`; `\=` inside a value is a literal `=`. An `=` whose preceding token is not a
/// plain key (`?id=5` in a URL) belongs to the value.
pub fn parse_extension(s: &str) -> Vec<(Cow<'_, str>, Cow<'_, str>)> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(32);
    let mut cur: Option<(usize, usize, usize)> = None; // key start, key end, value start
    let mut i = 0;
    while i < b.len() {
        match memchr::memchr2(b'=', b'\\', &b[i..]) {
            None => break,
            Some(k) => i += k,
        }
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        // b[i] == '='
        let mut t = i;
        while t > 0 && is_cef_key_byte(b[t - 1]) {
            t -= 1;
        }
        let at_boundary = t == 0 || b[t - 1] == b' ';
        let is_key = t < i && at_boundary && cur.is_none_or(|(_, _, vs)| t > vs);
        if is_key {
            if let Some((ks, ke, vs)) = cur {
                push_pair(s, ks, ke, vs, t.saturating_sub(1).max(vs), &mut out);
            }
            cur = Some((t, i, i + 1));
        }
        i += 1;
    }
    if let Some((ks, ke, vs)) = cur {
        push_pair(s, ks, ke, vs, s.len(), &mut out);
    }
    out
}

fn push_pair<'a>(
    s: &'a str,
    ks: usize,
    ke: usize,
    vs: usize,
    ve: usize,
    out: &mut Vec<(Cow<'a, str>, Cow<'a, str>)>,
) {
    let v = s[vs..ve.max(vs)].trim_end_matches([' ', '\r', '\n']);
    out.push((Cow::Borrowed(&s[ks..ke]), unescape(v)));
}

/// A zone as CEF producers name it: an offset, `UTC`/`GMT`/`Z`, or an IANA name.
#[derive(Debug, Clone, Copy)]
pub enum Zone {
    Fixed(chrono::FixedOffset),
    Named(Tz),
}

pub fn parse_zone(s: &str) -> Option<Zone> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(off) = parse_zone_offset(t) {
        return Some(Zone::Fixed(off));
    }
    t.parse::<Tz>().ok().map(Zone::Named)
}

fn apply_zone(naive: NaiveDateTime, z: Zone) -> Option<Stamp> {
    match z {
        Zone::Fixed(off) => {
            let dt = off.from_local_datetime(&naive).single()?;
            let zone = if off.local_minus_utc() == 0 {
                "UTC".to_string()
            } else {
                off.to_string()
            };
            Some(Stamp {
                utc: dt.with_timezone(&Utc),
                zone,
            })
        }
        Zone::Named(tz) => {
            let mut st = timefmt::localize(naive, tz);
            st.zone = tz.name().to_string();
            Some(st)
        }
    }
}

/// CEF time values: epoch milliseconds (or s/µs/ns), `MMM dd yyyy HH:mm:ss[.SSS] [zone]`,
/// or ISO 8601. A time without zone takes `dtz`, else the case's zone for `source`.
pub fn parse_time(v: &str, dtz: Option<&str>, ctx: &ParseContext, source: &str) -> Option<Stamp> {
    let v = v.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|c| c.is_ascii_digit()) {
        let utc = timefmt::parse_epoch_any(v)?;
        return Some(Stamp {
            utc,
            zone: "UTC".into(),
        });
    }
    let (naive, zone_text) = if v.as_bytes()[0].is_ascii_digit() {
        if let Some(st) = timefmt::parse_iso(v) {
            return Some(st);
        }
        (timefmt::parse_naive(v)?, None)
    } else {
        let mut it = v.split_whitespace();
        let m = syslog::month_num(it.next()?)?;
        let d: u32 = it.next()?.parse().ok()?;
        let y: i32 = it.next()?.parse().ok()?;
        let clock = timefmt::parse_clock(it.next()?)?;
        let zone: Option<&str> = it.next();
        (NaiveDate::from_ymd_opt(y, m, d)?.and_time(clock), zone)
    };
    if let Some(z) = zone_text
        .and_then(parse_zone)
        .or_else(|| dtz.and_then(parse_zone))
    {
        return apply_zone(naive, z);
    }
    Some(syslog::local_stamp(naive, ctx, source))
}

/// The generic mapping for any vendor without its own.
pub fn generic_event(
    c: &Cef,
    variant: &str,
    ctx: &ParseContext,
    prov: Provenance,
) -> Result<Event, String> {
    let dtz = c.get("dtz");
    let mut stamp = None;
    let mut original = "";
    for k in ["rt", "end", "start", "deviceReceiptTime"] {
        if let Some(v) = c.get(k) {
            match parse_time(v, dtz, ctx, "cef") {
                Some(st) => {
                    stamp = Some(st);
                    original = v;
                    break;
                }
                None => {
                    return Err(format!(
                    "bad timestamp: {k}={v:?} is not epoch ms, `MMM dd yyyy HH:mm:ss` or ISO 8601"
                ))
                }
            }
        }
    }
    let (stamp, original) = match stamp {
        Some(st) => (st, original.to_string()),
        None => fallback_time(c, ctx, "cef")?,
    };
    let act = c.get("act").unwrap_or("");
    let name_l = c.name.to_ascii_lowercase();
    let cat_l = c.get("cat").unwrap_or("").to_ascii_lowercase();
    let outcome = match c.get("outcome").map(str::to_ascii_lowercase).as_deref() {
        Some("success") | Some("succeeded") | Some("allow") => Outcome::Success,
        Some("failure") | Some("failed") | Some("fail") => Outcome::Failure,
        _ => Outcome::Unknown,
    };
    let act_l = act.to_ascii_lowercase();
    let (class, action, outcome) = if ["login", "logon", "sign-in", "signin", "authentication"]
        .iter()
        .any(|w| name_l.contains(w) || cat_l.contains(w))
    {
        let o =
            if outcome == Outcome::Unknown && (name_l.contains("fail") || act_l.contains("fail")) {
                Outcome::Failure
            } else {
                outcome
            };
        (EventClass::Authentication, actions::SIGN_IN, o)
    } else if [
        "deny", "denied", "block", "blocked", "drop", "dropped", "reject", "reset",
    ]
    .iter()
    .any(|w| act_l.starts_with(w))
    {
        (
            EventClass::NetworkActivity,
            actions::FLOW_DENIED,
            Outcome::Failure,
        )
    } else if ["allow", "accept", "permit", "pass", "close"]
        .iter()
        .any(|w| act_l.starts_with(w))
    {
        (
            EventClass::NetworkActivity,
            actions::FLOW_ALLOWED,
            Outcome::Success,
        )
    } else {
        (EventClass::NetworkActivity, actions::OTHER, outcome)
    };
    let op = if c.name.trim().is_empty() {
        c.class_id.trim()
    } else {
        c.name.trim()
    };
    let mut ev = Event::new(
        stamp.utc, original, stamp.zone, "cef", variant, class, action, op, outcome, prov,
    );
    ev.src_ip = c
        .get_any(&["src", "c6a2"])
        .and_then(syslog::ip_value)
        .map(Into::into);
    ev.cold_mut().dst_ip = c
        .get_any(&["dst", "c6a3"])
        .and_then(syslog::ip_value)
        .map(Into::into);
    ev.cold_mut().src_port = c.get("spt").and_then(|v| v.parse().ok());
    ev.cold_mut().dst_port = c.get("dpt").and_then(|v| v.parse().ok());
    ev.user = c
        .get_any(&["suser", "duser"])
        .and_then(non_blank)
        .map(Into::into);
    // CEF defines `in` as bytes flowing source→destination, i.e. what the source sent.
    ev.cold_mut().bytes_out = c.get("in").and_then(|v| v.parse().ok());
    ev.cold_mut().bytes_in = c.get("out").and_then(|v| v.parse().ok());
    ev.descr_mut().app = c.get("app").map(Into::into);
    ev.descr_mut().resource = c.get("request").map(Into::into);
    ev.descr_mut().user_agent = c.get("requestClientApplication").map(Into::into);
    ev.reason = c.get("reason").map(Into::into);
    header_extra(c, &mut ev);
    for (k, v) in &c.ext {
        if !v.trim().is_empty()
            && !matches!(
                k.as_ref(),
                "src" | "dst" | "spt" | "dpt" | "suser" | "in" | "out"
            )
        {
            ev.extra
                .entry(k.to_string())
                .or_insert_with(|| v.as_ref().into());
        }
    }
    Ok(ev)
}

/// The CEF header facts kept with every CEF-derived event.
pub fn header_extra(c: &Cef, ev: &mut Event) {
    for (k, v) in [
        ("cef_vendor", &c.vendor),
        ("cef_product", &c.product),
        ("cef_device_version", &c.device_version),
        ("cef_class_id", &c.class_id),
        ("cef_name", &c.name),
        ("cef_severity", &c.severity),
    ] {
        if !v.trim().is_empty() {
            ev.extra.insert(k, v.trim().into());
        }
    }
    if let Some(h) = c.header_host {
        ev.extra.insert("syslog_host", h.into());
    }
}

/// When a record has no time of its own: a zoned RFC 5424 header, or Sentinel's
/// `TimeGenerated` (UTC, the time the record was ingested — said so in `extra`).
pub fn fallback_time(
    c: &Cef,
    _ctx: &ParseContext,
    _source: &str,
) -> Result<(Stamp, String), String> {
    if let Some(h) = c.header_time {
        if let Some(st) = timefmt::parse_iso(h) {
            return Ok((st, h.to_string()));
        }
    }
    if let Some(tg) = c.get("TimeGenerated") {
        if let Some(st) = timefmt::parse_any_utc(tg) {
            return Ok((st, tg.to_string()));
        }
        return Err(format!(
            "bad timestamp: TimeGenerated={tg:?} is not ISO 8601 or locale date-time"
        ));
    }
    Err("no timestamp: no rt/start/end in the extension and no zoned syslog header (an RFC 3164 header has no year)".into())
}

/// Maps one CEF record to an event through its vendor's mapping.
pub fn to_event(
    c: &Cef,
    variant: &str,
    ctx: &ParseContext,
    prov: Provenance,
) -> Result<Event, String> {
    match vendor_of(c) {
        Vendor::FortiGate => super::fortigate::event_from_cef(c, variant, ctx, prov),
        Vendor::PanOs => super::panos::event_from_cef(c, variant, ctx, prov),
        Vendor::Other => generic_event(c, variant, ctx, prov),
    }
}

/// Sentinel `CommonSecurityLog` columns and the CEF keys they came from.
const CSL_COLUMNS: &[(&str, &str)] = &[
    ("SourceIP", "src"),
    ("DestinationIP", "dst"),
    ("SourcePort", "spt"),
    ("DestinationPort", "dpt"),
    ("Protocol", "proto"),
    ("DeviceAction", "act"),
    ("SourceUserName", "suser"),
    ("DestinationUserName", "duser"),
    ("SentBytes", "out"),
    ("ReceivedBytes", "in"),
    ("DeviceExternalID", "deviceExternalId"),
    ("DeviceName", "dvchost"),
    ("DeviceAddress", "dvc"),
    ("ReceiptTime", "rt"),
    ("StartTime", "start"),
    ("EndTime", "end"),
    ("Message", "msg"),
    ("RequestURL", "request"),
    ("RequestClientApplication", "requestClientApplication"),
    ("RequestMethod", "requestMethod"),
    ("ApplicationProtocol", "app"),
    ("DeviceInboundInterface", "deviceInboundInterface"),
    ("DeviceOutboundInterface", "deviceOutboundInterface"),
    ("SourceTranslatedAddress", "sourceTranslatedAddress"),
    ("SourceTranslatedPort", "sourceTranslatedPort"),
    (
        "DestinationTranslatedAddress",
        "destinationTranslatedAddress",
    ),
    ("DestinationTranslatedPort", "destinationTranslatedPort"),
    ("ExternalID", "externalId"),
    ("Reason", "reason"),
    ("EventOutcome", "outcome"),
    ("DeviceTimeZone", "dtz"),
    ("SourceHostName", "shost"),
    ("DestinationHostName", "dhost"),
    ("SourceMACAddress", "smac"),
    ("FileName", "fname"),
    ("DeviceEventCategory", "cat"),
    ("DeviceCustomString1", "cs1"),
    ("DeviceCustomString1Label", "cs1Label"),
    ("DeviceCustomString2", "cs2"),
    ("DeviceCustomString2Label", "cs2Label"),
    ("DeviceCustomString3", "cs3"),
    ("DeviceCustomString3Label", "cs3Label"),
    ("DeviceCustomString4", "cs4"),
    ("DeviceCustomString4Label", "cs4Label"),
    ("DeviceCustomString5", "cs5"),
    ("DeviceCustomString5Label", "cs5Label"),
    ("DeviceCustomString6", "cs6"),
    ("DeviceCustomString6Label", "cs6Label"),
    ("DeviceCustomNumber1", "cn1"),
    ("DeviceCustomNumber1Label", "cn1Label"),
    ("DeviceCustomNumber2", "cn2"),
    ("DeviceCustomNumber2Label", "cn2Label"),
    ("DeviceCustomNumber3", "cn3"),
    ("DeviceCustomNumber3Label", "cn3Label"),
];

/// Header columns of CommonSecurityLog, named as Sentinel exports them.
const CSL_HEADER: [&str; 7] = [
    "DeviceVendor",
    "DeviceProduct",
    "DeviceVersion",
    "DeviceEventClassID",
    "Activity",
    "LogSeverity",
    "CEFVersion",
];

/// Builds a CEF record from CommonSecurityLog columns: mapped columns become their CEF
/// keys, `AdditionalExtensions` (`k=v;k=v`) is split back into pairs, other non-empty
/// columns are kept under their column names.
pub fn from_columns<'a>(cols: impl Iterator<Item = (&'a str, &'a str)>) -> Cef<'a> {
    let mut c = Cef::default();
    for (name, v) in cols {
        let name = name.trim().trim_start_matches('\u{FEFF}');
        let name = name.strip_suffix("[UTC]").unwrap_or(name).trim();
        if v.trim().is_empty() {
            continue;
        }
        match name {
            "DeviceVendor" => c.vendor = Cow::Borrowed(v),
            "DeviceProduct" => c.product = Cow::Borrowed(v),
            "DeviceVersion" => c.device_version = Cow::Borrowed(v),
            "DeviceEventClassID" => c.class_id = Cow::Borrowed(v),
            "Activity" => c.name = Cow::Borrowed(v),
            "LogSeverity" => c.severity = Cow::Borrowed(v),
            "CEFVersion" => c.version = Cow::Borrowed(v),
            "AdditionalExtensions" => {
                for part in v.split(';') {
                    if let Some((k, val)) = part.split_once('=') {
                        let k = k.trim();
                        if !k.is_empty() {
                            c.ext.push((Cow::Borrowed(k), Cow::Borrowed(val.trim())));
                        }
                    }
                }
            }
            _ => match CSL_COLUMNS
                .iter()
                .find(|(col, _)| col.eq_ignore_ascii_case(name))
            {
                Some((_, key)) => c.ext.push((Cow::Borrowed(*key), Cow::Borrowed(v))),
                None => c.ext.push((Cow::Borrowed(name), Cow::Borrowed(v))),
            },
        }
    }
    c
}

/// The `cef` source.
pub struct CefSource;

fn first_line(head: &str) -> &str {
    let h = head.trim_start_matches('\u{FEFF}').trim_start();
    h.split('\n').next().unwrap_or("").trim_end_matches('\r')
}

fn is_csl_header(line: &str) -> bool {
    !line.starts_with(['{', '['])
        && line.contains("DeviceVendor")
        && line.contains("DeviceProduct")
        && line.contains(',')
        && !line.contains("CEF:")
}

impl Source for CefSource {
    fn id(&self) -> &'static str {
        "cef"
    }

    fn name(&self) -> &'static str {
        "CEF (FortiGate, PAN-OS, other vendors) and Sentinel CommonSecurityLog"
    }

    fn sniff(&self, head: &str) -> u8 {
        let first = first_line(head);
        if is_csl_header(first) {
            return 85;
        }
        if first.starts_with('{') || first.starts_with('[') {
            return if head.contains("\"DeviceVendor\"") && head.contains("\"DeviceProduct\"") {
                85
            } else {
                0
            };
        }
        let (mut seen, mut cef) = (0, 0);
        for l in syslog::lines(head).take(50) {
            seen += 1;
            if cef_start(l.text).is_some() {
                cef += 1;
            }
        }
        if cef > 0 && cef * 2 >= seen {
            90
        } else {
            0
        }
    }

    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        let first = first_line(input.text);
        if is_csl_header(first) {
            parse_csl_csv(input, ctx, out);
        } else if first.starts_with('{') || first.starts_with('[') {
            parse_csl_json(input, ctx, out);
        } else {
            parse_lines(input, ctx, out);
        }
    }

    fn line_reader(&self, head: &str) -> Option<Prefer> {
        let first = first_line(head);
        (!is_csl_header(first) && !first.starts_with('{') && !first.starts_with('['))
            .then_some(Prefer::Cef)
    }
}

/// One CEF (or, in a mixed file, FortiGate / PAN-OS) syslog line per record.
fn parse_lines(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let mut n = 0u64;
    for l in syslog::lines(input.text) {
        n += 1;
        out(line_event(input, ctx, n, l, Prefer::Cef));
    }
}

/// Which non-CEF reading a mixed-file line tries first (the source that owns the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefer {
    Cef,
    FortiGate,
    PanOs,
}

/// Any firewall syslog line: CEF, FortiGate key=value or PAN-OS CSV.
// `Item` is the crate-wide parser result; its error size is not this function's choice.
#[allow(clippy::result_large_err)]
pub fn line_event(
    input: &Input,
    ctx: &ParseContext,
    n: u64,
    l: syslog::Line,
    prefer: Prefer,
) -> Item {
    let prov = || input.provenance(n, l.start, l.end);
    let pan = || {
        super::panos::csv_start(l.text)
            .map(|s| super::panos::event_from_csv(l.text, s, ctx, prov()))
    };
    let forti = || {
        super::fortigate::looks_like_kv(l.text)
            .then(|| super::fortigate::event_from_line(l.text, ctx, prov()))
    };
    let res = if cef_start(l.text).is_some() {
        Some(parse(l.text).and_then(|c| to_event(&c, "cef", ctx, prov())))
    } else if prefer == Prefer::PanOs {
        pan().or_else(forti)
    } else {
        forti().or_else(pan)
    };
    let res = res.unwrap_or_else(|| {
        Err("not a recognized firewall record: no `CEF:<version>|` header, not FortiGate key=value (logid/type/devid or date/desc/msg), not PAN-OS CSV (`<n>,<receive time>,<serial>,<TYPE>,`)".into())
    });
    res.map_err(|reason| input.reject(n, l.start, l.end, reason))
}

fn parse_csl_csv(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let mut rows = csvscan::Rows::new(input.text, b',');
    let header = match rows.next() {
        Some(Ok(h)) => h.record,
        Some(Err((s, e, msg))) => {
            out(Err(input.reject(
                1,
                s,
                e,
                format!("CommonSecurityLog CSV header unreadable: {msg}"),
            )));
            return;
        }
        None => return,
    };
    let names: Vec<&str> = header.iter().collect();
    let mut n = 0u64;
    for row in rows {
        let row = match row {
            Ok(r) => r,
            Err((s, e, msg)) => {
                n += 1;
                out(Err(input.reject(
                    n,
                    s,
                    e,
                    format!("malformed CSV row: {msg}"),
                )));
                continue;
            }
        };
        if row.record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        n += 1;
        if row.record.len() != names.len() {
            out(Err(input.reject(
                n,
                row.start,
                row.end,
                format!(
                    "CommonSecurityLog row has {} columns, header has {}",
                    row.record.len(),
                    names.len()
                ),
            )));
            continue;
        }
        let c = from_columns(names.iter().copied().zip(row.record.iter()));
        let res = check_csl(&c).and_then(|_| {
            to_event(
                &c,
                "sentinel_csv",
                ctx,
                input.provenance(n, row.start, row.end),
            )
        });
        out(res.map_err(|r| input.reject(n, row.start, row.end, r)));
    }
}

fn check_csl(c: &Cef) -> Result<(), String> {
    if c.vendor.trim().is_empty() && c.product.trim().is_empty() {
        return Err(format!(
            "CommonSecurityLog row without DeviceVendor/DeviceProduct (expected columns {})",
            CSL_HEADER[..2].join(", ")
        ));
    }
    Ok(())
}

fn parse_csl_json(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let mut n = 0u64;
    jsonscan::each(input.text, &mut |piece| {
        n += 1;
        match piece {
            jsonscan::Piece::Bad { start, end, reason } => {
                out(Err(input.reject(n, start, end, reason)))
            }
            jsonscan::Piece::Record { start, end } => {
                let res = match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(
                    &input.text[start..end],
                ) {
                    Err(e) => Err(format!("invalid JSON record: {e}")),
                    Ok(map) => {
                        let strings: Vec<(&str, String)> = map
                            .iter()
                            .map(|(k, v)| {
                                let s = match v {
                                    serde_json::Value::String(s) => s.clone(),
                                    serde_json::Value::Null => String::new(),
                                    other => other.to_string(),
                                };
                                (k.as_str(), s)
                            })
                            .collect();
                        let c = from_columns(strings.iter().map(|(k, v)| (*k, v.as_str())));
                        check_csl(&c).and_then(|_| {
                            to_event(&c, "sentinel_json", ctx, input.provenance(n, start, end))
                        })
                    }
                };
                out(res.map_err(|r| input.reject(n, start, end, r)));
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_extension() {
        let l = r"Feb 12 11:11:30 host CEF:0|Acme|Fire\|Wall|1.0|100|worm stopped|10|src=10.0.0.1 msg=a b\=c spt=1 request=http://x/?a=b cs1Label=Rule cs1=allow all";
        let c = parse(l).unwrap();
        assert_eq!(c.vendor, "Acme");
        assert_eq!(c.product, "Fire|Wall");
        assert_eq!(c.severity, "10");
        assert_eq!(c.get("msg"), Some("a b=c"));
        assert_eq!(c.get("request"), Some("http://x/?a=b"));
        assert_eq!(c.labeled("Rule"), Some("allow all"));
        assert_eq!(c.header_time, Some("Feb 12 11:11:30"));
        assert!(parse("CEF:0|a|b|c").is_err());
        let c = parse("CEF:0|a|b|c|d|e|f|").unwrap();
        assert!(c.ext.is_empty());
    }

    #[test]
    fn times() {
        let ctx = ParseContext::default();
        let st = parse_time("1612345678000", None, &ctx, "cef").unwrap();
        assert_eq!(st.utc.timestamp(), 1612345678);
        let st = parse_time("Mar 01 2021 20:35:54 UTC", None, &ctx, "cef").unwrap();
        assert_eq!(st.utc.to_rfc3339(), "2021-03-01T20:35:54+00:00");
        let st = parse_time("Mar 01 2021 20:35:54", Some("Europe/Berlin"), &ctx, "cef").unwrap();
        assert_eq!(st.utc.to_rfc3339(), "2021-03-01T19:35:54+00:00");
        assert_eq!(st.zone, "Europe/Berlin");
        let st = parse_time("Mar 01 2021 20:35:54", None, &ctx, "cef").unwrap();
        assert_eq!(st.zone, syslog::NO_ZONE);
        assert!(parse_time("Mar 01 20:35:54", None, &ctx, "cef").is_none());
    }
}
