//! Fortinet FortiGate logs: syslog `key=value` lines (with or without `<PRI>`, RFC 3164 or
//! RFC 5424 header; values quoted or bare; any key order; FortiManager-style `log_id=`/`desc=`
//! lines too), FortiAnalyzer CSV downloads (a header row of field names, or cells holding
//! `key=value`), and — through [`event_from_cef`], called by the `cef` source — FortiGate CEF
//! and Sentinel CommonSecurityLog rows. All variants share one mapping over field names.
//!
//! Time: `eventtime` (epoch s/ms/µs/ns, UTC) is authoritative; else `date`+`time` in `tz`
//! (`+0100`, `UTC-5:00`), else in the case's zone for `fortigate`, else UTC said to be assumed.

use super::cef::{self, Cef};
use super::syslog::{self, ip_in_parens, ip_value, is_blank};
use super::timefmt::{self, Stamp};
use super::{csvscan, Input, Item, ParseContext, Source};
use crate::event::{actions, Device, Event, EventClass, Geo, Outcome, Provenance};
use chrono::{NaiveDate, TimeZone, Utc};
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

pub const ID: &str = "fortigate";

/// Field name/value pairs of one record, in the order the source wrote them.
pub struct Fields<'a> {
    pub pairs: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

impl<'a> Fields<'a> {
    /// First value of `k` that is not blank (`""`, `N/A`, `(null)`).
    pub fn get(&self, k: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, v)| key == k && !is_blank(v))
            .map(|(_, v)| v.trim())
    }

    /// Every value of `k`, blank ones included (FortiOS repeats `tz` in some lines).
    fn all(&self, k: &str) -> impl Iterator<Item = &str> {
        let k = k.to_string();
        self.pairs
            .iter()
            .filter(move |(key, _)| *key == k)
            .map(|(_, v)| v.trim())
    }

    fn has(&self, k: &str) -> bool {
        self.pairs.iter().any(|(key, _)| key == k)
    }

    pub fn get_any(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.get(k))
    }
}

/// A `key=value` syslog body, after the header.
fn is_kv_body(s: &str) -> bool {
    let key = s
        .bytes()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
        .count();
    key > 0 && s.as_bytes().get(key) == Some(&b'=')
}

/// `key=` at a token start (after a space, `>`, tab, comma, or at the beginning).
fn has_key(line: &str, key: &str) -> bool {
    let b = line.as_bytes();
    let k = key.as_bytes();
    let Some(&first) = k.first() else {
        return false;
    };
    memchr::memchr_iter(first, b).any(|i| {
        b[i..].starts_with(k) && (i == 0 || matches!(b[i - 1], b' ' | b'>' | b'\t' | b','))
    })
}

/// Quick content test: a FortiGate/FortiManager key=value line (not CEF).
pub fn looks_like_kv(line: &str) -> bool {
    if cef::cef_start(line).is_some() {
        return false;
    }
    // A key counts only at a token start, so `FortinetFortiGatelogid=` (CEF) is not `logid=`.
    let has = |k: &str| has_key(line, k);
    let id = has("logid=") || has("log_id=");
    let ty = has("type=");
    let dev =
        has("devid=") || has("devname=") || has("device_id=") || has("eventtime=") || has("date=");
    (id && ty && dev) || (has("date=") && has("desc=") && has("msg="))
}

/// Parses one syslog line into FortiGate fields.
pub fn fields_from_line(line: &str) -> Fields<'_> {
    let h = syslog::strip_header(line, is_kv_body);
    let mut pairs = Vec::with_capacity(48);
    pairs.extend(syslog::kv(&line[h.body_offset..]).map(|(k, v)| (Cow::Borrowed(k), v)));
    Fields { pairs }
}

/// Maps one syslog line to an event.
pub fn event_from_line(line: &str, ctx: &ParseContext, prov: Provenance) -> Result<Event, String> {
    let f = fields_from_line(line);
    if f.pairs.is_empty() {
        return Err("no key=value pairs found".into());
    }
    map(&f, "syslog_kv", ctx, prov)
}

/// FortiGate CEF (FortiOS `FTNTFGT<key>` extensions, or `FortinetFortiGate<key>` as the
/// Sentinel connector writes them) translated back to FortiOS field names, then mapped.
pub fn event_from_cef(
    c: &Cef,
    variant: &str,
    ctx: &ParseContext,
    prov: Provenance,
) -> Result<Event, String> {
    let mut pairs: Vec<(Cow<str>, Cow<str>)> = Vec::with_capacity(c.ext.len() + 4);
    for (k, v) in &c.ext {
        let key: &str = k.as_ref();
        let mapped = if let Some(rest) = key
            .strip_prefix("FTNTFGT")
            .or_else(|| key.strip_prefix("FortinetFortiGate"))
        {
            rest
        } else {
            match key {
                "src" => "srcip",
                "dst" => "dstip",
                "spt" => "srcport",
                "dpt" => "dstport",
                "act" => "action",
                "suser" => "user",
                "duser" => "dstuser",
                "deviceExternalId" => "devid",
                "dvchost" => "devname",
                // Fortinet's CEF mapping: sentbyte → out, rcvdbyte → in.
                "out" => "sentbyte",
                "in" => "rcvdbyte",
                "externalId" => "sessionid",
                "request" => "url",
                "requestClientApplication" => "agent",
                "deviceInboundInterface" => "srcintf",
                "deviceOutboundInterface" => "dstintf",
                "sourceTranslatedAddress" => "transip",
                "sourceTranslatedPort" => "transport",
                "shost" => "srcname",
                "dhost" => "hostname",
                "sproc" => "ui",
                other => other,
            }
        };
        if mapped == "cat" {
            // `cat=traffic:forward` carries type and subtype.
            if let Some((t, s)) = v.split_once(':') {
                pairs.push((Cow::Borrowed("type"), Cow::Owned(t.to_string())));
                pairs.push((Cow::Borrowed("subtype"), Cow::Owned(s.to_string())));
            }
            continue;
        }
        pairs.push((Cow::Owned(mapped.to_string()), v.clone()));
    }
    let mut f = Fields { pairs };
    // Header name `traffic:forward close` when the extension lacks cat.
    if !f.has("type") {
        let name = c.name.trim();
        let ts = name.split_whitespace().next().unwrap_or("");
        if let Some((t, s)) = ts.split_once(':') {
            f.pairs
                .push((Cow::Owned("type".into()), Cow::Owned(t.to_string())));
            f.pairs
                .push((Cow::Owned("subtype".into()), Cow::Owned(s.to_string())));
        }
    }
    if !f.has("logid") && !c.class_id.trim().is_empty() {
        f.pairs.push((
            Cow::Owned("logid".into()),
            Cow::Owned(c.class_id.trim().to_string()),
        ));
    }
    if !f.has("user") {
        if let Some(u) = f.get("dstuser").map(str::to_string) {
            f.pairs.push((Cow::Owned("user".into()), Cow::Owned(u)));
        }
    }
    let has_own_time =
        f.get("eventtime").is_some() || (f.get("date").is_some() && f.get("time").is_some());
    let mut ev = if has_own_time {
        map(&f, variant, ctx, prov)?
    } else {
        let dtz = c.get("dtz");
        let (stamp, orig) = match c.get_any(&["rt", "start", "end"]) {
            Some(v) => (
                cef::parse_time(v, dtz, ctx, ID).ok_or_else(|| format!("bad timestamp: rt/start/end {v:?} is not epoch ms, `MMM dd yyyy HH:mm:ss` or ISO 8601"))?,
                v.to_string(),
            ),
            None => cef::fallback_time(c, ctx, ID)?,
        };
        map_with_time(&f, variant, stamp, orig, prov)
    };
    cef::header_extra(c, &mut ev);
    Ok(ev)
}

/// eventtime, then date/time (+tz or case zone), then FortiAnalyzer's `itime` / `timestamp`.
fn time_of(f: &Fields, ctx: &ParseContext) -> Result<(Stamp, String), String> {
    if let Some(et) = f.get("eventtime") {
        match timefmt::parse_epoch_any(et) {
            Some(utc) if plausible(utc) => {
                return Ok((
                    Stamp {
                        utc,
                        zone: "UTC".into(),
                    },
                    et.to_string(),
                ))
            }
            _ => {
                if f.get("date").is_none() {
                    return Err(format!(
                        "bad timestamp: eventtime={et:?} is not a Unix epoch in s/ms/µs/ns"
                    ));
                }
            }
        }
    }
    if let (Some(d), Some(t)) = (f.get("date"), f.get("time")) {
        let date = NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(d, "%Y/%m/%d"))
            .map_err(|_| format!("bad timestamp: date={d:?} is not YYYY-MM-DD"))?;
        let clock = timefmt::parse_clock(t)
            .ok_or_else(|| format!("bad timestamp: time={t:?} is not HH:MM:SS"))?;
        let naive = date.and_time(clock);
        let original = format!("{d} {t}");
        if let Some(off) = f.all("tz").find_map(syslog::parse_zone_offset) {
            let dt = off
                .from_local_datetime(&naive)
                .single()
                .ok_or("bad timestamp: local time does not exist")?;
            let zone = if off.local_minus_utc() == 0 {
                "UTC".to_string()
            } else {
                off.to_string()
            };
            return Ok((
                Stamp {
                    utc: dt.with_timezone(&Utc),
                    zone,
                },
                original,
            ));
        }
        return Ok((syslog::local_stamp(naive, ctx, ID), original));
    }
    for k in ["itime", "timestamp"] {
        if let Some(v) = f.get(k) {
            if let Some(utc) = timefmt::parse_epoch_any(v).filter(|u| plausible(*u)) {
                return Ok((
                    Stamp {
                        utc,
                        zone: "UTC".into(),
                    },
                    v.to_string(),
                ));
            }
        }
    }
    match (f.has("date"), f.get("date"), f.get("time")) {
        (true, None, _) => Err("no timestamp: date= is empty and there is no eventtime".into()),
        (_, Some(_), None) => Err("no timestamp: date= without time= and no eventtime".into()),
        _ => Err("no timestamp: none of eventtime, date/time, itime present".into()),
    }
}

fn plausible(t: chrono::DateTime<Utc>) -> bool {
    (1995..2200).contains(&chrono::Datelike::year(&t))
}

fn map(f: &Fields, variant: &str, ctx: &ParseContext, prov: Provenance) -> Result<Event, String> {
    let (stamp, original) = time_of(f, ctx)?;
    Ok(map_with_time(f, variant, stamp, original, prov))
}

fn outcome_of(status: Option<&str>) -> Outcome {
    match status.map(str::to_ascii_lowercase).as_deref() {
        Some("success" | "succeeded" | "logon" | "ok" | "accepted" | "pass") => Outcome::Success,
        Some(s)
            if s.contains("fail") || s.contains("error") || s.contains("denied") || s == "deny" =>
        {
            Outcome::Failure
        }
        _ => Outcome::Unknown,
    }
}

const DENY: &[&str] = &[
    "deny",
    "denied",
    "drop",
    "dropped",
    "block",
    "blocked",
    "reject",
    "reset",
    "server-rst",
    "client-rst",
];

/// type/subtype/action → class, normalized action, outcome.
fn classify(f: &Fields) -> (EventClass, &'static str, Outcome) {
    let ty = f.get("type").unwrap_or("").to_ascii_lowercase();
    let sub = f.get("subtype").unwrap_or("").to_ascii_lowercase();
    let act = f.get("action").unwrap_or("").to_ascii_lowercase();
    let status = f.get_any(&["status", "result", "authmsg"]);
    let desc = f
        .get_any(&["logdesc", "desc"])
        .unwrap_or("")
        .to_ascii_lowercase();
    let msg = f.get("msg").unwrap_or("").to_ascii_lowercase();
    match ty.as_str() {
        "traffic" => match act.as_str() {
            "deny" | "drop" | "block" | "blocked" | "reject" => (
                EventClass::NetworkActivity,
                actions::FLOW_DENIED,
                Outcome::Failure,
            ),
            "ip-conn" => (
                EventClass::NetworkActivity,
                actions::FLOW_ALLOWED,
                Outcome::Failure,
            ),
            "" => (
                EventClass::NetworkActivity,
                actions::OTHER,
                Outcome::Unknown,
            ),
            _ => (
                EventClass::NetworkActivity,
                actions::FLOW_ALLOWED,
                Outcome::Success,
            ),
        },
        "utm" | "attack" | "virus" | "webfilter" | "ips" | "app-ctrl" => {
            let o = if DENY.iter().any(|d| act.starts_with(d)) {
                Outcome::Failure
            } else if [
                "pass",
                "passthrough",
                "permit",
                "allow",
                "accept",
                "monitored",
                "detected",
                "log-only",
            ]
            .contains(&act.as_str())
            {
                Outcome::Success
            } else {
                Outcome::Unknown
            };
            (EventClass::NetworkActivity, actions::THREAT, o)
        }
        "event" => match sub.as_str() {
            "vpn" => {
                let o = outcome_of(status);
                if act == "tunnel-up" || act == "ssl-tunnel-up" {
                    (
                        EventClass::Authentication,
                        actions::VPN_TUNNEL_UP,
                        if o == Outcome::Unknown {
                            Outcome::Success
                        } else {
                            o
                        },
                    )
                } else if act == "tunnel-down" || act == "ssl-tunnel-down" {
                    (
                        EventClass::Authentication,
                        actions::VPN_TUNNEL_DOWN,
                        if o == Outcome::Unknown {
                            Outcome::Success
                        } else {
                            o
                        },
                    )
                } else if act.contains("login-fail")
                    || desc.contains("login fail")
                    || (act.contains("login") && o == Outcome::Failure)
                {
                    (
                        EventClass::Authentication,
                        actions::VPN_LOGIN_FAILED,
                        Outcome::Failure,
                    )
                } else if act == "xauth" || act.contains("login") || desc.contains("xauth") {
                    if o == Outcome::Failure {
                        (
                            EventClass::Authentication,
                            actions::VPN_LOGIN_FAILED,
                            Outcome::Failure,
                        )
                    } else {
                        (EventClass::Authentication, actions::VPN_LOGIN, o)
                    }
                } else {
                    (EventClass::NetworkActivity, actions::OTHER, o)
                }
            }
            "user" => {
                let o = outcome_of(status);
                if act.contains("logon")
                    || act == "auth-logon"
                    || act.contains("login")
                    || act == "authentication"
                    || desc.contains("authentication")
                {
                    let o = if o == Outcome::Unknown && !desc.contains("fail") {
                        Outcome::Success
                    } else if desc.contains("fail") {
                        Outcome::Failure
                    } else {
                        o
                    };
                    if act.contains("logoff") || act.contains("logout") {
                        (EventClass::Authentication, actions::SIGN_OUT, o)
                    } else {
                        (EventClass::Authentication, actions::SIGN_IN, o)
                    }
                } else if act.contains("logoff")
                    || act.contains("logout")
                    || act.contains("timeout")
                {
                    (
                        EventClass::Authentication,
                        actions::SIGN_OUT,
                        Outcome::Success,
                    )
                } else {
                    (EventClass::Authentication, actions::OTHER, o)
                }
            }
            "system" | "admin" => {
                let o = outcome_of(status);
                let login = act == "login"
                    || desc.contains("admin login")
                    || (desc.contains("login") && !desc.contains("logout"))
                    || msg.contains("login accepted");
                let logout = act == "logout"
                    || desc.contains("logout") && !desc.contains("login/logout")
                    || msg.contains(" logged out")
                    || msg.contains(" logout");
                if login && (!logout || msg.contains("login")) {
                    let o = if o != Outcome::Unknown {
                        o
                    } else if desc.contains("fail") || msg.contains("fail") {
                        Outcome::Failure
                    } else if desc.contains("success") || msg.contains("accepted") {
                        Outcome::Success
                    } else {
                        Outcome::Unknown
                    };
                    (EventClass::Authentication, actions::ADMIN_LOGIN, o)
                } else if logout {
                    (
                        EventClass::Authentication,
                        actions::SIGN_OUT,
                        Outcome::Success,
                    )
                } else {
                    (EventClass::ApiActivity, actions::OTHER, o)
                }
            }
            _ => (EventClass::ApiActivity, actions::OTHER, outcome_of(status)),
        },
        _ => (EventClass::ApiActivity, actions::OTHER, outcome_of(status)),
    }
}

/// Keys that become typed Event fields, so `extra` does not repeat them.
const CONSUMED: &[&str] = &[
    "srcip",
    "dstip",
    "srcport",
    "dstport",
    "sentbyte",
    "rcvdbyte",
    "user",
    "eventtime",
];

fn map_with_time(
    f: &Fields,
    variant: &str,
    stamp: Stamp,
    original: String,
    prov: Provenance,
) -> Event {
    let (class, action, outcome) = classify(f);
    let ty = f.get("type").unwrap_or("");
    let sub = f.get("subtype").unwrap_or("");
    let op = match f.get_any(&["logdesc", "desc"]) {
        Some(d) => d.to_string(),
        None => {
            let mut s = String::with_capacity(32);
            s.push_str(if ty.is_empty() { "unknown" } else { ty });
            if !sub.is_empty() {
                s.push(':');
                s.push_str(sub);
            }
            if let Some(a) = f.get("action") {
                s.push(' ');
                s.push_str(a);
            }
            s
        }
    };
    let mut ev = Event::new(
        stamp.utc, original, stamp.zone, ID, variant, class, action, op, outcome, prov,
    );
    let is_vpn = sub.eq_ignore_ascii_case("vpn");
    let src = if is_vpn {
        f.get("remip")
            .and_then(ip_value)
            .or_else(|| f.get("srcip").and_then(ip_value))
    } else {
        None
    }
    .or_else(|| f.get_any(&["srcip", "remote_ip", "src"]).and_then(ip_value))
    .or_else(|| f.get_any(&["ui", "userfrom"]).and_then(ip_in_parens));
    ev.src_ip = src.map(Into::into);
    let dst = if is_vpn {
        f.get("locip").and_then(ip_value)
    } else {
        None
    }
    .or_else(|| f.get("dstip").and_then(ip_value));
    ev.cold_mut().dst_ip = dst.map(Into::into);
    let sport = if is_vpn { f.get("remport") } else { None }
        .or_else(|| f.get_any(&["srcport", "remote_port", "src_port"]));
    ev.cold_mut().src_port = sport.and_then(|v| v.parse().ok());
    let dport = if is_vpn { f.get("locport") } else { None }
        .or_else(|| f.get_any(&["dstport", "dst_port"]));
    ev.cold_mut().dst_port = dport.and_then(|v| v.parse().ok());
    ev.user = f.get_any(&["user", "xauthuser"]).map(Into::into);
    ev.cold_mut().bytes_out = f.get("sentbyte").and_then(|v| v.parse().ok());
    ev.cold_mut().bytes_in = f.get("rcvdbyte").and_then(|v| v.parse().ok());
    ev.descr_mut().app = f.get("app").map(Into::into);
    ev.descr_mut().app_id = f.get("appid").map(Into::into);
    ev.cold_mut().session_id = f.get_any(&["sessionid", "session_id"]).map(str::to_string);
    ev.reason = f.get("reason").map(Into::into);
    ev.descr_mut().user_agent = f.get("agent").map(Into::into);
    if ty.eq_ignore_ascii_case("utm") {
        ev.descr_mut().resource = match (f.get("hostname"), f.get("url")) {
            (Some(h), Some(u)) if u.starts_with('/') => Some(format!("{h}{u}").into()),
            (_, Some(u)) => Some(u.into()),
            (Some(h), None) => Some(h.into()),
            _ => f.get_any(&["qname", "filename"]).map(Into::into),
        };
    }
    if let Some(c) = f.get("srccountry").and_then(syslog::country_code) {
        ev.geo = Some(Arc::new(Geo {
            country: Some(c.to_string()),
            ..Geo::default()
        }));
    }
    if f.get("srcname").is_some() || f.get("osname").is_some() {
        ev.device = Some(Arc::new(Device {
            name: f.get("srcname").map(str::to_string),
            os: f.get("osname").map(|o| match f.get("srcswversion") {
                Some(v) => format!("{o} {v}"),
                None => o.to_string(),
            }),
            ..Device::default()
        }));
    }
    if let Some(a) = f.get_any(&["tunnelip", "assignip"]).and_then(ip_value) {
        ev.extra.insert("assigned_ip", a.into());
    }
    let kept = f.pairs.iter().filter_map(|(k, v)| {
        let skip = is_blank(v)
            || CONSUMED.contains(&k.as_ref())
            || (is_vpn && matches!(k.as_ref(), "remip" | "locip" | "remport" | "locport"));
        (!skip).then(|| (k.as_ref(), v.trim().into()))
    });
    ev.extra.extend_absent(kept);
    ev
}

/// The `fortigate` source.
pub struct FortiGate;

/// Which FortiAnalyzer CSV shape a file is, from its first line.
enum CsvShape {
    Header,
    KvCells,
}

fn csv_shape(first: &str) -> Option<CsvShape> {
    if !first.contains(',') || cef::cef_start(first).is_some() {
        return None;
    }
    let cells: Vec<&str> = first
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let has = |n: &str| cells.iter().any(|c| c.eq_ignore_ascii_case(n));
    if !first.contains('=')
        && has("logid")
        && has("type")
        && has("subtype")
        && (has("date") || has("eventtime") || has("itime") || has("devid"))
    {
        return Some(CsvShape::Header);
    }
    let kv_cells = cells.iter().filter(|c| is_kv_body(c)).count();
    let keyed = |k: &str| cells.iter().any(|c| c.starts_with(k));
    if kv_cells * 2 >= cells.len()
        && (keyed("logid=") || keyed("log_id="))
        && keyed("type=")
        && !first.contains(" type=")
    {
        return Some(CsvShape::KvCells);
    }
    None
}

fn first_line(text: &str) -> &str {
    syslog::lines(text)
        .next()
        .map(|l| l.text.trim_start_matches('\u{FEFF}'))
        .unwrap_or("")
}

impl Source for FortiGate {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "Fortinet FortiGate logs (syslog key=value, FortiAnalyzer CSV)"
    }

    fn sniff(&self, head: &str) -> u8 {
        let first = first_line(head);
        if csv_shape(first).is_some() {
            return 85;
        }
        if first.contains("DeviceVendor") {
            return 0;
        }
        let (mut seen, mut hits, mut cefs) = (0, 0, 0);
        for l in syslog::lines(head).take(50) {
            seen += 1;
            if cef::cef_start(l.text).is_some() {
                cefs += 1;
            } else if looks_like_kv(l.text) {
                hits += 1;
            }
        }
        // CEF files belong to the `cef` source, which dispatches FortiGate records back here.
        if hits > 0 && hits * 2 >= seen && cefs * 2 < seen {
            90
        } else {
            0
        }
    }

    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        match csv_shape(first_line(input.text)) {
            Some(CsvShape::Header) => parse_faz_header_csv(input, ctx, out),
            Some(CsvShape::KvCells) => parse_faz_kv_csv(input, ctx, out),
            None => {
                let mut n = 0u64;
                for l in syslog::lines(input.text) {
                    n += 1;
                    out(cef::line_event(input, ctx, n, l, cef::Prefer::FortiGate));
                }
            }
        }
    }

    fn line_reader(&self, head: &str) -> Option<cef::Prefer> {
        // The same choice `parse` makes from the first line: key=value lines, not a CSV.
        csv_shape(first_line(head))
            .is_none()
            .then_some(cef::Prefer::FortiGate)
    }
}

fn parse_faz_header_csv(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let mut rows = csvscan::Rows::new(input.text, b',');
    let header = match rows.next() {
        Some(Ok(h)) => h.record,
        Some(Err((s, e, msg))) => {
            out(Err(input.reject(
                1,
                s,
                e,
                format!("FortiAnalyzer CSV header unreadable: {msg}"),
            )));
            return;
        }
        None => return,
    };
    let names: Vec<String> = header
        .iter()
        .map(|h| {
            h.trim()
                .trim_start_matches('\u{FEFF}')
                .trim_matches('"')
                .to_ascii_lowercase()
        })
        .collect();
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
                    "row has {} columns, header has {}",
                    row.record.len(),
                    names.len()
                ),
            )));
            continue;
        }
        let f = Fields {
            pairs: names
                .iter()
                .zip(row.record.iter())
                .map(|(k, v)| (Cow::Borrowed(k.as_str()), Cow::Borrowed(v)))
                .collect(),
        };
        let res = map(&f, "faz_csv", ctx, input.provenance(n, row.start, row.end));
        out(res.map_err(|r| input.reject(n, row.start, row.end, r)));
    }
}

fn parse_faz_kv_csv(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let mut n = 0u64;
    for row in csvscan::Rows::new(input.text, b',') {
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
        let mut pairs = Vec::with_capacity(row.record.len());
        for cell in row.record.iter() {
            if let Some((k, v)) = cell.split_once('=') {
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v);
                pairs.push((Cow::Borrowed(k.trim()), Cow::Borrowed(v)));
            }
        }
        let res = if pairs.is_empty() {
            Err("no key=value cells in row".to_string())
        } else {
            map(
                &Fields { pairs },
                "faz_csv_kv",
                ctx,
                input.provenance(n, row.start, row.end),
            )
        };
        out(res.map_err(|r| input.reject(n, row.start, row.end, r)));
    }
}

/// splitmix64: a tiny deterministic PRNG for the benchmark generators.
pub(crate) struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    pub fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }

    pub fn ipv4(&mut self, private: bool) -> String {
        let r = self.next();
        if private {
            format!(
                "10.{}.{}.{}",
                (r >> 8) & 0xff,
                (r >> 16) & 0xff,
                1 + (r >> 24) % 250
            )
        } else {
            format!(
                "{}.{}.{}.{}",
                20 + (r & 0x7f),
                (r >> 8) & 0xff,
                (r >> 16) & 0xff,
                1 + (r >> 24) % 250
            )
        }
    }
}

/// Writes realistic FortiGate syslog lines (traffic, UTM, SSL VPN, admin events) until at
/// least `target_bytes` are written. Same seed, same bytes. Returns the number of lines.
pub fn generate(seed: u64, target_bytes: usize, out: &mut impl Write) -> std::io::Result<u64> {
    let mut r = SplitMix(seed);
    let mut written = 0usize;
    let mut lines = 0u64;
    let mut t: i64 = 1_714_000_000 + r.below(10_000_000) as i64;
    let users = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    let countries = [
        "Germany",
        "United States",
        "Netherlands",
        "France",
        "Russian Federation",
        "China",
        "Reserved",
        "Brazil",
    ];
    let services = [
        "HTTPS", "HTTP", "DNS", "SSH", "RDP", "SMTP", "tcp/8443", "udp/3478",
    ];
    let mut line = String::with_capacity(1024);
    while written < target_bytes {
        t += r.below(3) as i64;
        let ns = r.below(1_000_000_000);
        let dt =
            chrono::DateTime::from_timestamp(t, 0).unwrap_or_default() + chrono::Duration::hours(2);
        let date = dt.format("%Y-%m-%d");
        let time = dt.format("%H:%M:%S");
        let src = r.ipv4(true);
        let dst = r.ipv4(false);
        let user = r.pick(&users);
        line.clear();
        use std::fmt::Write as _;
        let k = r.below(100);
        let head = format!(
            "<189>date={date} time={time} devname=\"FGT-HQ-01\" devid=\"FG100FTK19000001\" eventtime={t}{ns:09} tz=\"+0200\""
        );
        let _ = if k < 70 {
            let action = if r.below(10) < 8 { "close" } else { "deny" };
            write!(
                line,
                "{head} logid=\"0000000013\" type=\"traffic\" subtype=\"forward\" level=\"notice\" vd=\"root\" srcip={src} srcport={} srcintf=\"port1\" srcintfrole=\"lan\" dstip={dst} dstport={} dstintf=\"wan1\" dstintfrole=\"wan\" srccountry=\"Reserved\" dstcountry=\"{}\" sessionid={} proto=6 action=\"{action}\" policyid={} policytype=\"policy\" poluuid=\"5a0e2c7e-8f5b-51ea-2c8d-0c1f0a9b7e{:02x}\" policyname=\"LAN-to-WAN\" user=\"{user}\" group=\"staff\" authserver=\"AD-LDAP\" service=\"{}\" trandisp=\"snat\" transip=203.0.113.10 transport={} appcat=\"unscanned\" duration={} sentbyte={} rcvdbyte={} sentpkt={} rcvdpkt={} vwlid=0 vwlquality=\"Seq_num(1), alive, selected\"",
                1024 + r.below(60000),
                [443, 80, 53, 22, 3389][r.below(5) as usize],
                r.pick(&countries),
                r.below(1 << 31),
                1 + r.below(40),
                r.below(256),
                r.pick(&services),
                1024 + r.below(60000),
                r.below(3600),
                r.below(5_000_000),
                r.below(50_000_000),
                r.below(5000),
                r.below(50000),
            )
        } else if k < 85 {
            write!(
                line,
                "{head} logid=\"0316013056\" type=\"utm\" subtype=\"webfilter\" eventtype=\"ftgd_blk\" level=\"warning\" vd=\"root\" policyid=12 sessionid={} user=\"{user}\" srcip={src} srcport={} srcintf=\"port1\" srcintfrole=\"lan\" dstip={dst} dstport=443 dstintf=\"wan1\" dstintfrole=\"wan\" proto=6 service=\"HTTPS\" hostname=\"{}.example.net\" profile=\"default\" action=\"blocked\" reqtype=\"direct\" url=\"https://{}.example.net/login?id={}\" sentbyte={} rcvdbyte=0 direction=\"outgoing\" msg=\"URL belongs to a denied category in policy\" method=\"domain\" cat=26 catdesc=\"Malicious Websites\"",
                r.below(1 << 31),
                1024 + r.below(60000),
                r.pick(&["cdn", "login", "portal", "files"]),
                r.pick(&["cdn", "login", "portal", "files"]),
                r.below(100000),
                r.below(4000),
            )
        } else if k < 95 {
            let up = r.below(2) == 0;
            write!(
                line,
                "{head} logid=\"{}\" type=\"event\" subtype=\"vpn\" level=\"information\" vd=\"root\" logdesc=\"SSL VPN tunnel {}\" action=\"tunnel-{}\" tunneltype=\"ssl-tunnel\" tunnelid={} remip={dst} tunnelip=10.212.134.{} user=\"{user}\" group=\"vpn-users\" dst_host=\"N/A\" reason=\"{}\" msg=\"SSL tunnel {}\"",
                if up { "0101039947" } else { "0101039948" },
                if up { "up" } else { "down" },
                if up { "up" } else { "down" },
                r.below(100000),
                1 + r.below(250),
                if up { "tunnel established" } else { "connection closed" },
                if up { "established" } else { "shutdown" },
            )
        } else {
            let ok = r.below(3) == 0;
            write!(
                line,
                "{head} logid=\"{}\" type=\"event\" subtype=\"system\" level=\"{}\" vd=\"root\" logdesc=\"Admin login {}\" sn=\"{}\" user=\"admin\" ui=\"https({dst})\" method=\"https\" srcip={dst} dstip=198.51.100.1 action=\"login\" status=\"{}\" reason=\"{}\" msg=\"Administrator admin login {} from https({dst})\"",
                if ok { "0100032001" } else { "0100032002" },
                if ok { "information" } else { "alert" },
                if ok { "successful" } else { "failed" },
                r.below(1 << 31),
                if ok { "success" } else { "failed" },
                if ok { "none" } else { "passwd_invalid" },
                if ok { "successfully" } else { "failed because of invalid password" },
            )
        };
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += line.len();
        lines += 1;
    }
    Ok(lines)
}
