//! Palo Alto Networks PAN-OS syslog CSV: TRAFFIC, THREAT, GLOBALPROTECT (PAN-OS 10.0 and
//! 10.1+ layouts, and the Cortex Data Lake forwarder's layout with ISO times), SYSTEM, AUTH
//! and CONFIG; other log types are kept as `other`. The CEF variant arrives through the `cef`
//! source and [`event_from_cef`]. Fields are positional (PAN-OS "Syslog Field Descriptions",
//! cross-checked against Elastic's panw ingest pipeline); each row is turned into
//! name/value pairs once, so one mapping serves both CSV and CEF.
//!
//! Time: Generated Time `YYYY/MM/DD HH:MM:SS` is device local time without zone → the case's
//! zone for `panos` (or UTC, said to be assumed). A High Resolution Timestamp with an offset
//! (10.0+) wins when plausible; Cortex Data Lake writes ISO times with `Z`.

use super::cef::{self, Cef};
use super::fortigate::{Fields, SplitMix};
use super::syslog::{self, ip_value, is_blank, non_blank};
use super::timefmt::{self, Stamp};
use super::{Input, Item, ParseContext, Source};
use crate::event::{actions, Device, Event, EventClass, Geo, Outcome, Provenance};
use chrono::NaiveDateTime;
use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

pub const ID: &str = "panos";

const COMMON: [&str; 7] = [
    "future_use1",
    "receive_time",
    "serial",
    "type",
    "subtype",
    "config_version",
    "time_generated",
];

const TRAFFIC: &[&str] = &[
    "src",
    "dst",
    "natsrc",
    "natdst",
    "rule",
    "srcuser",
    "dstuser",
    "app",
    "vsys",
    "from",
    "to",
    "inbound_if",
    "outbound_if",
    "logset",
    "future_use3",
    "sessionid",
    "repeatcnt",
    "sport",
    "dport",
    "natsport",
    "natdport",
    "flags",
    "proto",
    "action",
    "bytes",
    "bytes_sent",
    "bytes_received",
    "packets",
    "start",
    "elapsed",
    "category",
    "future_use4",
    "seqno",
    "actionflags",
    "srcloc",
    "dstloc",
    "future_use5",
    "pkts_sent",
    "pkts_received",
    "session_end_reason",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
    "action_source",
    "src_uuid",
    "dst_uuid",
    "imsi",
    "imei",
    "parent_session_id",
    "parent_start_time",
    "tunnel",
    "assoc_id",
    "chunks",
    "chunks_sent",
    "chunks_received",
    "rule_uuid",
    "http2_connection",
    "link_change_count",
    "policy_id",
    "link_switches",
    "sdwan_cluster",
    "sdwan_device_type",
    "sdwan_cluster_type",
    "sdwan_site",
    "dynusergroup_name",
    "xff_ip",
    "src_category",
    "src_profile",
    "src_model",
    "src_vendor",
    "src_osfamily",
    "src_osversion",
    "src_host",
    "src_mac",
    "dst_category",
    "dst_profile",
    "dst_model",
    "dst_vendor",
    "dst_osfamily",
    "dst_osversion",
    "dst_host",
    "dst_mac",
    "container_id",
    "pod_namespace",
    "pod_name",
    "src_edl",
    "dst_edl",
    "hostid",
    "serialnumber",
    "src_dag",
    "dst_dag",
    "session_owner",
    "high_res_timestamp",
];

const THREAT: &[&str] = &[
    "src",
    "dst",
    "natsrc",
    "natdst",
    "rule",
    "srcuser",
    "dstuser",
    "app",
    "vsys",
    "from",
    "to",
    "inbound_if",
    "outbound_if",
    "logset",
    "future_use3",
    "sessionid",
    "repeatcnt",
    "sport",
    "dport",
    "natsport",
    "natdport",
    "flags",
    "proto",
    "action",
    "misc",
    "threatid",
    "category",
    "severity",
    "direction",
    "seqno",
    "actionflags",
    "srcloc",
    "dstloc",
    "future_use4",
    "contenttype",
    "pcap_id",
    "filedigest",
    "cloud",
    "url_idx",
    "user_agent",
    "filetype",
    "xff",
    "referer",
    "sender",
    "subject",
    "recipient",
    "reportid",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
    "future_use5",
    "src_uuid",
    "dst_uuid",
    "http_method",
    "imsi",
    "imei",
    "parent_session_id",
    "parent_start_time",
    "tunnel",
    "thr_category",
    "contentver",
    "future_use6",
    "assoc_id",
    "ppid",
    "http_headers",
    "url_category_list",
    "rule_uuid",
    "http2_connection",
    "dynusergroup_name",
    "xff_ip",
    "src_category",
    "src_profile",
    "src_model",
    "src_vendor",
    "src_osfamily",
    "src_osversion",
    "src_host",
    "src_mac",
    "dst_category",
    "dst_profile",
    "dst_model",
    "dst_vendor",
    "dst_osfamily",
    "dst_osversion",
    "dst_host",
    "dst_mac",
    "container_id",
    "pod_namespace",
    "pod_name",
    "src_edl",
    "dst_edl",
    "hostid",
    "serialnumber",
    "domain_edl",
    "src_dag",
    "dst_dag",
    "partial_hash",
    "high_res_timestamp",
    "reason",
    "justification",
];

const GLOBALPROTECT: &[&str] = &[
    "vsys",
    "eventid",
    "stage",
    "auth_method",
    "tunnel_type",
    "srcuser",
    "srcregion",
    "machinename",
    "public_ip",
    "public_ipv6",
    "private_ip",
    "private_ipv6",
    "hostid",
    "serialnumber",
    "client_ver",
    "client_os",
    "client_os_ver",
    "repeatcnt",
    "reason",
    "error",
    "opaque",
    "status",
    "location",
    "login_duration",
    "connect_method",
    "error_code",
    "portal",
    "seqno",
    "actionflags",
    "high_res_timestamp",
    "selection_type",
    "response_time",
    "priority",
    "attempted_gateways",
    "gateway",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
    "vsys_id",
    "cluster_name",
];

const SYSTEM: &[&str] = &[
    "vsys",
    "eventid",
    "object",
    "future_use3",
    "future_use4",
    "module",
    "severity",
    "opaque",
    "seqno",
    "actionflags",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
    "future_use5",
    "future_use6",
    "high_res_timestamp",
];

const AUTH: &[&str] = &[
    "vsys",
    "ip",
    "user",
    "normalize_user",
    "object",
    "authpolicy",
    "repeatcnt",
    "authid",
    "vendor",
    "logset",
    "serverprofile",
    "desc",
    "clienttype",
    "event",
    "factorno",
    "seqno",
    "actionflags",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
    "vsys_id",
    "authproto",
    "rule_uuid",
    "high_res_timestamp",
];

const CONFIG: &[&str] = &[
    "host",
    "vsys",
    "cmd",
    "admin",
    "client",
    "result",
    "path",
    "before_change_detail",
    "after_change_detail",
    "seqno",
    "actionflags",
    "dg_hier_level_1",
    "dg_hier_level_2",
    "dg_hier_level_3",
    "dg_hier_level_4",
    "vsys_name",
    "device_name",
];

const TYPES: &[&str] = &[
    "TRAFFIC",
    "THREAT",
    "GLOBALPROTECT",
    "SYSTEM",
    "CONFIG",
    "AUTH",
    "HIPMATCH",
    "USERID",
    "DECRYPTION",
    "IPTAG",
    "CORRELATION",
    "GTP",
    "SCTP",
    "TUNNEL",
    "URL",
    "DATA",
    "WILDFIRE",
];

fn layout(ty: &str) -> &'static [&'static str] {
    match ty {
        "TRAFFIC" => TRAFFIC,
        "THREAT" => THREAT,
        "GLOBALPROTECT" => GLOBALPROTECT,
        "SYSTEM" => SYSTEM,
        "AUTH" => AUTH,
        "CONFIG" => CONFIG,
        _ => &[],
    }
}

/// Byte offset where the PAN-OS CSV starts in a syslog line: the field before Receive Time,
/// located from `,<TYPE>,` at field 3 so any header in front (3164 with or without host,
/// 5424, relay prefixes) is skipped.
pub fn csv_start(line: &str) -> Option<usize> {
    let b = line.as_bytes();
    let window = &b[..b.len().min(400)];
    // One pass over the commas: the first `,<TYPE>,` preceded by `<x>,<date>,<serial>`.
    let mut commas = memchr::memchr_iter(b',', window).peekable();
    while let Some(p) = commas.next() {
        let next = commas.peek().copied().unwrap_or(window.len());
        let tok = &window[p + 1..next];
        if next < window.len() && TYPES.iter().any(|t| t.as_bytes() == tok) {
            if let Some(s) = start_before(b, p) {
                return Some(s);
            }
        }
    }
    None
}

/// Given the comma before the type field, walks back over serial and receive time.
fn start_before(b: &[u8], comma_before_type: usize) -> Option<usize> {
    let q1 = b[..comma_before_type].iter().rposition(|&c| c == b',')?;
    let q0 = b[..q1].iter().rposition(|&c| c == b',')?;
    let recv = &b[q0 + 1..q1];
    let dateish = recv.len() >= 10
        && recv[..4].iter().all(u8::is_ascii_digit)
        && matches!(recv[4], b'/' | b'-');
    if !dateish {
        return None;
    }
    let s = b[..q0]
        .iter()
        .rposition(|&c| c == b' ' || c == b'>')
        .map(|i| i + 1)
        .unwrap_or(0);
    Some(s)
}

/// Quick content test for a PAN-OS syslog CSV line (not CEF).
pub fn looks_like_line(line: &str) -> bool {
    cef::cef_start(line).is_none() && csv_start(line).is_some()
}

/// The fields of one CSV row, named by the layout of its type.
fn fields_from_csv<'a>(vals: Vec<Cow<'a, str>>) -> Fields<'a> {
    let ty = vals
        .get(3)
        .map(|v| v.trim().to_ascii_uppercase())
        .unwrap_or_default();
    let names = layout(&ty);
    let mut pairs = Vec::with_capacity(vals.len());
    for (i, v) in vals.into_iter().enumerate() {
        let name: Cow<str> = if i < COMMON.len() {
            Cow::Borrowed(COMMON[i])
        } else if let Some(n) = names.get(i - COMMON.len()) {
            Cow::Borrowed(*n)
        } else {
            Cow::Owned(format!("field_{i}"))
        };
        pairs.push((name, v));
    }
    Fields { pairs }
}

/// Maps one syslog line to an event.
pub fn event_from_line(line: &str, ctx: &ParseContext, prov: Provenance) -> Result<Event, String> {
    let start = csv_start(line)
        .ok_or("not PAN-OS CSV: no `<future_use>,<receive time>,<serial>,<TYPE>,` found")?;
    event_from_csv(line, start, ctx, prov)
}

/// Maps the PAN-OS CSV that starts at byte `start` of `line`.
pub fn event_from_csv(
    line: &str,
    start: usize,
    ctx: &ParseContext,
    prov: Provenance,
) -> Result<Event, String> {
    let mut vals = Vec::with_capacity(120);
    syslog::split_csv_line(&line[start..], &mut vals);
    if vals.len() < COMMON.len() {
        return Err(format!(
            "truncated PAN-OS record: {} fields, at least 7 expected",
            vals.len()
        ));
    }
    let cdl = vals
        .get(2)
        .map(|s| s.trim() == "no-serial")
        .unwrap_or(false)
        || vals.get(6).map(|s| s.ends_with('Z')).unwrap_or(false);
    let f = fields_from_csv(vals);
    let (stamp, orig) = time_of(&f, ctx)?;
    Ok(map(
        &f,
        if cdl { "cdl_csv" } else { "syslog_csv" },
        stamp,
        orig,
        prov,
    ))
}

fn plausible_high_res(f: &Fields) -> Option<(Stamp, String)> {
    let h = f.get("high_res_timestamp")?;
    let st = timefmt::parse_iso(h)?;
    (chrono::Datelike::year(&st.utc) >= 2000).then(|| (st, h.to_string()))
}

fn time_of(f: &Fields, ctx: &ParseContext) -> Result<(Stamp, String), String> {
    if let Some(x) = plausible_high_res(f) {
        return Ok(x);
    }
    let (key, v) = match f.get("time_generated") {
        Some(v) => ("Generated Time", v),
        None => (
            "Receive Time",
            f.get("receive_time")
                .ok_or("no timestamp: Generated Time and Receive Time are empty")?,
        ),
    };
    parse_pan_time(v, ctx)
        .map(|st| (st, v.to_string()))
        .ok_or_else(|| format!("bad timestamp: {key} {v:?} is not YYYY/MM/DD HH:MM:SS or ISO 8601"))
}

/// `2021/03/24 11:30:00` (local, no zone) or ISO with zone (Cortex Data Lake).
fn parse_pan_time(v: &str, ctx: &ParseContext) -> Option<Stamp> {
    if let Ok(n) = NaiveDateTime::parse_from_str(v, "%Y/%m/%d %H:%M:%S") {
        return Some(syslog::local_stamp(n, ctx, ID));
    }
    if let Some(st) = timefmt::parse_iso(v) {
        return Some(st);
    }
    timefmt::parse_naive(v).map(|n| syslog::local_stamp(n, ctx, ID))
}

fn status_outcome(s: Option<&str>) -> Outcome {
    match s.map(str::to_ascii_lowercase).as_deref() {
        Some("success" | "succeeded" | "auth-success") => Outcome::Success,
        Some(x) if x.contains("fail") => Outcome::Failure,
        _ => Outcome::Unknown,
    }
}

/// `Login from: 1.2.3.4`, `User name: bob`, `From: 1.2.3.4.` in SYSTEM descriptions.
fn desc_value<'a>(desc: &'a str, label: &str) -> Option<&'a str> {
    let i = desc.find(label)? + label.len();
    let rest = desc[i..].trim_start();
    let end = rest.find([',', ' ', '\'', '"']).unwrap_or(rest.len());
    let v = rest[..end].trim_end_matches('.');
    (!v.is_empty()).then_some(v)
}

/// A phrase after `label` up to the next `, ` or `. ` (`Reason: Invalid username or password.`).
fn desc_phrase<'a>(desc: &'a str, label: &str) -> Option<&'a str> {
    let i = desc.find(label)? + label.len();
    let rest = desc[i..].trim_start();
    let end = [rest.find(", "), rest.find(". ")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    let v = rest[..end].trim().trim_end_matches('.');
    (!v.is_empty()).then_some(v)
}

fn quoted_user(desc: &str) -> Option<&str> {
    let i = desc.find("user '")? + 6;
    let end = desc[i..].find('\'')? + i;
    non_blank(&desc[i..end])
}

/// Keys that became typed event fields.
const CONSUMED: &[&str] = &[
    "src",
    "dst",
    "sport",
    "dport",
    "srcuser",
    "bytes_sent",
    "bytes_received",
    "app",
    "sessionid",
    "public_ip",
    "user_agent",
];

fn map(f: &Fields, variant: &str, stamp: Stamp, original: String, prov: Provenance) -> Event {
    let ty = f.get("type").unwrap_or("").to_ascii_uppercase();
    let sub = f.get("subtype").unwrap_or("");
    let sub_l = sub.to_ascii_lowercase();
    let mut src: Option<&str> = f.get("src").and_then(ip_value);
    let mut user: Option<String> = f.get("srcuser").map(str::to_string);
    let mut country = None;
    let (class, action, outcome, op): (EventClass, &str, Outcome, String) = match ty.as_str() {
        "TRAFFIC" => {
            let act = f.get("action").unwrap_or("").to_ascii_lowercase();
            let (a, o) = if act == "allow" {
                (actions::FLOW_ALLOWED, Outcome::Success)
            } else if act.is_empty() {
                (actions::OTHER, Outcome::Unknown)
            } else {
                (actions::FLOW_DENIED, Outcome::Failure)
            };
            country = f.get("srcloc");
            (
                EventClass::NetworkActivity,
                a,
                o,
                format!("TRAFFIC:{sub} {}", f.get("action").unwrap_or(""))
                    .trim_end()
                    .to_string(),
            )
        }
        "THREAT" => {
            let act = f.get("action").unwrap_or("").to_ascii_lowercase();
            let o = if ["alert", "allow", "continue", "override"].contains(&act.as_str()) {
                Outcome::Success
            } else if act.is_empty() {
                Outcome::Unknown
            } else {
                Outcome::Failure
            };
            country = f.get("srcloc");
            (
                EventClass::NetworkActivity,
                actions::THREAT,
                o,
                format!("THREAT:{sub}"),
            )
        }
        "GLOBALPROTECT" => {
            let id = f.get("eventid").unwrap_or("");
            let o = status_outcome(f.get("status"));
            let a = match id {
                "gateway-auth" | "portal-auth" if o == Outcome::Failure => {
                    actions::VPN_LOGIN_FAILED
                }
                "gateway-auth" | "portal-auth" => actions::VPN_LOGIN,
                "gateway-connected" => actions::VPN_TUNNEL_UP,
                "gateway-logout" | "portal-logout" | "logout" => actions::VPN_TUNNEL_DOWN,
                _ => actions::OTHER,
            };
            // The client's public address is where it connected from; the private one is
            // what the tunnel assigned.
            src = f
                .get("public_ip")
                .and_then(ip_value)
                .or_else(|| f.get("public_ipv6").and_then(ip_value));
            country = f.get("srcregion");
            (
                EventClass::Authentication,
                a,
                o,
                if id.is_empty() {
                    "GLOBALPROTECT".to_string()
                } else {
                    id.to_string()
                },
            )
        }
        "SYSTEM" => {
            let id = f.get("eventid").unwrap_or("");
            let desc = f.get("opaque").unwrap_or("");
            let id_l = id.to_ascii_lowercase();
            let gp = sub_l == "globalprotect" || id_l.starts_with("globalprotect");
            let (class, a, o) = if gp && id_l.contains("auth-succ") {
                (
                    EventClass::Authentication,
                    actions::VPN_LOGIN,
                    Outcome::Success,
                )
            } else if gp && id_l.contains("auth-fail") {
                (
                    EventClass::Authentication,
                    actions::VPN_LOGIN_FAILED,
                    Outcome::Failure,
                )
            } else if gp && (id_l.contains("regist-succ") || id_l.contains("config-succ")) {
                (
                    EventClass::Authentication,
                    actions::VPN_TUNNEL_UP,
                    Outcome::Success,
                )
            } else if gp && id_l.contains("logout") {
                (
                    EventClass::Authentication,
                    actions::VPN_TUNNEL_DOWN,
                    Outcome::Success,
                )
            } else if id_l == "auth-success" {
                (
                    EventClass::Authentication,
                    actions::ADMIN_LOGIN,
                    Outcome::Success,
                )
            } else if id_l == "auth-fail" {
                (
                    EventClass::Authentication,
                    actions::ADMIN_LOGIN,
                    Outcome::Failure,
                )
            } else if id_l == "general" && desc.contains(" logged in via ") {
                (
                    EventClass::Authentication,
                    actions::ADMIN_LOGIN,
                    Outcome::Success,
                )
            } else if gp {
                (EventClass::Authentication, actions::OTHER, Outcome::Unknown)
            } else {
                (EventClass::ApiActivity, actions::OTHER, Outcome::Unknown)
            };
            if class == EventClass::Authentication {
                src = src
                    .or_else(|| desc_value(desc, "Login from:").and_then(ip_value))
                    .or_else(|| desc_value(desc, "From:").and_then(ip_value))
                    .or_else(|| desc_value(desc, " from ").and_then(ip_value));
                user = user
                    .or_else(|| desc_value(desc, "User name:").map(str::to_string))
                    .or_else(|| quoted_user(desc).map(str::to_string))
                    .or_else(|| {
                        desc.strip_prefix("User ")
                            .and_then(|r| r.split(' ').next())
                            .map(str::to_string)
                    });
                country = desc_value(desc, "Source region:");
            }
            (
                class,
                a,
                o,
                if id.is_empty() {
                    format!("SYSTEM:{sub}")
                } else {
                    id.to_string()
                },
            )
        }
        "AUTH" => {
            let ev = f.get("event").unwrap_or("");
            let o = status_outcome(Some(ev));
            src = f.get("ip").and_then(ip_value);
            user = f.get_any(&["user", "normalize_user"]).map(str::to_string);
            (
                EventClass::Authentication,
                if ev.is_empty() {
                    actions::OTHER
                } else {
                    actions::SIGN_IN
                },
                o,
                if ev.is_empty() {
                    "AUTH".into()
                } else {
                    ev.to_string()
                },
            )
        }
        "CONFIG" => {
            src = f.get("host").and_then(ip_value);
            user = f.get("admin").map(str::to_string);
            let o = status_outcome(f.get("result").map(|r| {
                if r.eq_ignore_ascii_case("succeeded") {
                    "success"
                } else {
                    r
                }
            }));
            (
                EventClass::ApiActivity,
                actions::OTHER,
                o,
                f.get("cmd")
                    .map(|c| format!("CONFIG:{c}"))
                    .unwrap_or_else(|| "CONFIG".into()),
            )
        }
        "" => (
            EventClass::ApiActivity,
            actions::OTHER,
            Outcome::Unknown,
            "unknown".into(),
        ),
        other => (
            EventClass::ApiActivity,
            actions::OTHER,
            Outcome::Unknown,
            if sub.is_empty() {
                other.to_string()
            } else {
                format!("{other}:{sub}")
            },
        ),
    };
    let mut ev = Event::new(
        stamp.utc, original, stamp.zone, ID, variant, class, action, op, outcome, prov,
    );
    ev.src_ip = src.map(Into::into);
    ev.user = user.filter(|u| !is_blank(u)).map(Into::into);
    if ty != "GLOBALPROTECT" {
        ev.cold_mut().dst_ip = f.get("dst").and_then(ip_value).map(Into::into);
        ev.cold_mut().src_port = f
            .get("sport")
            .and_then(|v| v.parse().ok())
            .filter(|p| *p != 0);
        ev.cold_mut().dst_port = f
            .get("dport")
            .and_then(|v| v.parse().ok())
            .filter(|p| *p != 0);
    }
    ev.cold_mut().bytes_out = f.get("bytes_sent").and_then(|v| v.parse().ok());
    ev.cold_mut().bytes_in = f.get("bytes_received").and_then(|v| v.parse().ok());
    ev.descr_mut().app = f.get("app").map(Into::into);
    ev.cold_mut().session_id = f.get("sessionid").map(str::to_string).filter(|s| s != "0");
    ev.descr_mut().user_agent = f.get("user_agent").map(Into::into);
    if let Some(c) = country.and_then(syslog::country_code) {
        ev.geo = Some(Arc::new(Geo {
            country: Some(c.to_string()),
            ..Geo::default()
        }));
    }
    match ty.as_str() {
        "THREAT" => ev.descr_mut().resource = f.get("misc").map(Into::into),
        "GLOBALPROTECT" => {
            ev.reason = f.get_any(&["error", "reason"]).map(Into::into);
            if let Some(p) = f
                .get("private_ip")
                .and_then(ip_value)
                .or_else(|| f.get("private_ipv6").and_then(ip_value))
            {
                ev.extra.insert("assigned_ip", p.into());
            }
            ev.descr_mut().client_app = Some("GlobalProtect".into());
            let os = match (f.get("client_os"), f.get("client_os_ver")) {
                (Some(a), Some(b)) if !b.starts_with(a) => Some(format!("{a} {b}")),
                (_, Some(b)) => Some(b.to_string()),
                (Some(a), None) => Some(a.to_string()),
                _ => None,
            };
            if f.get("machinename").is_some() || f.get("hostid").is_some() || os.is_some() {
                ev.device = Some(Arc::new(Device {
                    id: f.get("hostid").map(str::to_string),
                    name: f.get("machinename").map(str::to_string),
                    os,
                    ..Device::default()
                }));
            }
        }
        "SYSTEM" if ev.class == EventClass::Authentication => {
            if let Some(p) = f
                .get("opaque")
                .and_then(|d| desc_value(d, "Private IP:"))
                .and_then(ip_value)
            {
                ev.extra.insert("assigned_ip", p.into());
            }
            ev.reason = f
                .get("opaque")
                .and_then(|d| desc_phrase(d, "Reason:"))
                .map(Into::into);
        }
        "TRAFFIC" => ev.reason = f.get("session_end_reason").map(Into::into),
        _ => {}
    }
    let kept = f.pairs.iter().filter_map(|(k, v)| {
        let k: &str = k.as_ref();
        let skip = is_blank(v)
            || k.starts_with("future_use")
            || k.starts_with("dg_hier_level")
            || CONSUMED.contains(&k)
            || (ty == "GLOBALPROTECT" && matches!(k, "private_ip"));
        (!skip).then(|| (k, v.trim().into()))
    });
    ev.extra.extend_absent(kept);
    ev
}

/// PAN-OS CEF (firewall `PAN-OS` product, or the Cortex Data Lake forwarder `LF`) mapped to
/// the syslog field names, then through the same mapping.
pub fn event_from_cef(
    c: &Cef,
    variant: &str,
    ctx: &ParseContext,
    prov: Provenance,
) -> Result<Event, String> {
    let is_type = |s: &str| TYPES.contains(&s.trim().to_ascii_uppercase().as_str());
    // Firewall: `|<subtype>|<TYPE>|`; Cortex forwarder: `|<TYPE>|<subtype>|`.
    let (ty, sub) = if is_type(&c.name) {
        (
            c.name.trim().to_ascii_uppercase(),
            c.class_id.trim().to_string(),
        )
    } else if is_type(&c.class_id) {
        (
            c.class_id.trim().to_ascii_uppercase(),
            c.name.trim().to_string(),
        )
    } else {
        (String::new(), c.name.trim().to_string())
    };
    let mut pairs: Vec<(Cow<str>, Cow<str>)> = Vec::with_capacity(c.ext.len() + 4);
    pairs.push((Cow::Borrowed("type"), Cow::Owned(ty.clone())));
    pairs.push((Cow::Borrowed("subtype"), Cow::Owned(sub)));
    let label_name = |label: &str| -> Option<&'static str> {
        Some(match label.trim().to_ascii_lowercase().as_str() {
            "rule" => "rule",
            "virtual system" | "virtuallocation" => "vsys",
            "source zone" | "fromzone" => "from",
            "destination zone" | "tozone" => "to",
            "url category" | "urlcategory" => "category",
            "logprofile" | "logsetting" => "logset",
            "sessionid" => "sessionid",
            "packets" => "packets",
            "elapsed time in seconds" => "elapsed",
            _ => return None,
        })
    };
    for (k, v) in &c.ext {
        let key: &str = k.as_ref();
        if key.ends_with("Label") {
            continue;
        }
        let name: Cow<str> = match key {
            "src" => "src".into(),
            "dst" => "dst".into(),
            "sourceTranslatedAddress" => "natsrc".into(),
            "destinationTranslatedAddress" => "natdst".into(),
            "suser" | "usrName" | "PanOSSourceUserName" => "srcuser".into(),
            "duser" => "dstuser".into(),
            "app" => "app".into(),
            "deviceInboundInterface" => "inbound_if".into(),
            "deviceOutboundInterface" => "outbound_if".into(),
            "cnt" => "repeatcnt".into(),
            "spt" => "sport".into(),
            "dpt" => "dport".into(),
            "sourceTranslatedPort" => "natsport".into(),
            "destinationTranslatedPort" => "natdport".into(),
            "proto" => "proto".into(),
            "act" => "action".into(),
            // PAN-OS's CEF mapping: in = bytes sent by the client, out = bytes received.
            "in" => "bytes_sent".into(),
            "out" => "bytes_received".into(),
            "externalId" => "seqno".into(),
            "reason" if ty == "TRAFFIC" => "session_end_reason".into(),
            "request" => "misc".into(),
            "requestClientApplication" => "user_agent".into(),
            "cat" if ty == "THREAT" => "threatid".into(),
            "deviceExternalId" => "serial".into(),
            "dvchost" => "device_name".into(),
            "rt" => "receive_time".into(),
            "start" => "time_generated".into(),
            "PanOSEventIDValue" | "PanOSEventID" => "eventid".into(),
            "PanOSStage" => "stage".into(),
            "PanOSAuthMethod" => "auth_method".into(),
            "PanOSTunnelType" => "tunnel_type".into(),
            "PanOSSourceRegion" => "srcregion".into(),
            "PanOSEndpointDeviceName" => "machinename".into(),
            "PanOSPublicIPv4" | "PanOSPublicIP" => "public_ip".into(),
            "PanOSPublicIPv6" => "public_ipv6".into(),
            "PanOSPrivateIPv4" | "PanOSPrivateIP" => "private_ip".into(),
            "PanOSPrivateIPv6" => "private_ipv6".into(),
            "PanOSHostID" => "hostid".into(),
            "PanOSEndpointSN" => "serialnumber".into(),
            "PanOSGlobalProtectClientVersion" => "client_ver".into(),
            "PanOSEndpointOSType" => "client_os".into(),
            "PanOSEndpointOSVersion" => "client_os_ver".into(),
            "PanOSQuarantineReason" => "reason".into(),
            "PanOSConnectionError" => "error".into(),
            "PanOSDescription" => "opaque".into(),
            "PanOSEventStatus" => "status".into(),
            "PanOSGlobalProtectGatewayLocation" => "location".into(),
            "PanOSLoginDuration" => "login_duration".into(),
            "PanOSConnectionMethod" => "connect_method".into(),
            "PanOSConnectionErrorID" => "error_code".into(),
            "PanOSPortal" => "portal".into(),
            "PanOSGateway" => "gateway".into(),
            "PanOSSequenceNo" => "seqno".into(),
            _ => {
                let label = c
                    .ext
                    .iter()
                    .find(|(lk, _)| {
                        lk.len() == key.len() + 5 && lk.starts_with(key) && lk.ends_with("Label")
                    })
                    .map(|(_, lv)| lv.as_ref());
                match label.and_then(label_name) {
                    Some(n) => n.into(),
                    None => Cow::Owned(key.to_string()),
                }
            }
        };
        // PAN-OS's CEF template quotes the URL: `request="$misc"`.
        let v = if name == "misc" {
            match v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) {
                Some(inner) => Cow::Owned(inner.to_string()),
                None => v.clone(),
            }
        } else {
            v.clone()
        };
        pairs.push((name, v));
    }
    let f = Fields { pairs };
    // GlobalProtect CEF from the firewall puts the public address in `src`.
    let dtz = c.get("dtz");
    let (stamp, orig) = match f.get("time_generated").or_else(|| f.get("receive_time")) {
        Some(v) => (
            cef::parse_time(v, dtz, ctx, ID)
                .or_else(|| parse_pan_time(v, ctx))
                .ok_or_else(|| format!("bad timestamp: start/rt {v:?} is not epoch ms, `MMM dd yyyy HH:mm:ss` or ISO 8601"))?,
            v.to_string(),
        ),
        None => cef::fallback_time(c, ctx, ID)?,
    };
    let mut ev = map(&f, variant, stamp, orig, prov);
    if ty == "GLOBALPROTECT" && ev.src_ip.is_none() {
        ev.src_ip = f.get("src").and_then(ip_value).map(Into::into);
    }
    cef::header_extra(c, &mut ev);
    Ok(ev)
}

/// The `panos` source.
pub struct PanOs;

impl Source for PanOs {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "Palo Alto Networks PAN-OS syslog (CSV)"
    }

    fn sniff(&self, head: &str) -> u8 {
        let (mut seen, mut hits) = (0, 0);
        for l in syslog::lines(head).take(50) {
            seen += 1;
            if looks_like_line(l.text) {
                hits += 1;
            }
        }
        if hits > 0 && hits * 2 >= seen {
            90
        } else {
            0
        }
    }

    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        let mut n = 0u64;
        for l in syslog::lines(input.text) {
            n += 1;
            out(cef::line_event(input, ctx, n, l, cef::Prefer::PanOs));
        }
    }

    fn line_reader(&self, _head: &str) -> Option<cef::Prefer> {
        Some(cef::Prefer::PanOs)
    }
}

/// Writes realistic PAN-OS syslog lines (TRAFFIC, THREAT url, GLOBALPROTECT, SYSTEM) until
/// at least `target_bytes` are written. Same seed, same bytes. Returns the number of lines.
pub fn generate(seed: u64, target_bytes: usize, out: &mut impl Write) -> std::io::Result<u64> {
    use std::fmt::Write as _;
    let mut r = SplitMix(seed ^ 0x0050_414e_4f53);
    let mut written = 0usize;
    let mut lines = 0u64;
    let mut t: i64 = 1_714_000_000 + r.below(10_000_000) as i64;
    let users = [
        "corp\\alice",
        "corp\\bob",
        "carol@example.com",
        "corp\\dave",
        "erin@example.com",
    ];
    let apps = [
        "ssl",
        "web-browsing",
        "dns",
        "ms-office365",
        "ssh",
        "rdp",
        "google-base",
    ];
    let regions = [
        "US",
        "DE",
        "NL",
        "RU",
        "CN",
        "BR",
        "10.0.0.0-10.255.255.255",
    ];
    let mut line = String::with_capacity(1024);
    let mut seq: u64 = 7_000_000_000 + r.below(1_000_000);
    while written < target_bytes {
        t += r.below(3) as i64;
        seq += 1;
        let dt = chrono::DateTime::from_timestamp(t, 0).unwrap_or_default();
        let hdr = dt.format("%b %e %H:%M:%S");
        let ts = dt.format("%Y/%m/%d %H:%M:%S");
        let src = r.ipv4(true);
        let dst = r.ipv4(false);
        let user = r.pick(&users);
        line.clear();
        let k = r.below(100);
        let _ = if k < 70 {
            let deny = r.below(10) >= 8;
            let sent = r.below(2_000_000);
            let rcvd = r.below(20_000_000);
            write!(
                line,
                "<14>{hdr} PA-3220-FW01 1,{ts},013201001234,TRAFFIC,{},2562,{ts},{src},{dst},203.0.113.5,{dst},{},{user},,{},vsys1,trust,untrust,ethernet1/2,ethernet1/1,Log-Fwd,,{},1,{},{},{},443,0x400053,tcp,{},{},{sent},{rcvd},{},{ts},{},{},,{seq},0x8000000000000000,10.0.0.0-10.255.255.255,{},,{},{},{},0,0,0,0,,PA-3220-FW01,from-policy,,,0,,0,,N/A,0,0,0,0,3c2a5e1f-91b4-4e0a-8d11-2f7a9c0e{:04x},0,0,,,,,,,,0.0.0.0,,,,,,,,,,,,,,,,,,,,,,,,,,{}",
                if deny { "deny" } else { "end" },
                if deny { "block-quic" } else { "allow-outbound" },
                r.pick(&apps),
                r.below(1 << 24),
                1024 + r.below(60000),
                443,
                1024 + r.below(60000),
                if deny { "deny" } else { "allow" },
                sent + rcvd,
                r.below(20000),
                r.below(3600),
                r.pick(&["computer-and-internet-info", "business-and-economy", "any"]),
                r.pick(&regions[..6]),
                r.below(10000),
                r.below(10000),
                if deny { "policy-deny" } else { r.pick(&["tcp-fin", "aged-out", "tcp-rst-from-server"]) },
                r.below(65536),
                dt.format("%Y-%m-%dT%H:%M:%S%.3f+00:00"),
            )
        } else if k < 85 {
            write!(
                line,
                "<14>{hdr} PA-3220-FW01 1,{ts},013201001234,THREAT,url,2562,{ts},{src},{dst},203.0.113.5,{dst},allow-outbound,{user},,web-browsing,vsys1,trust,untrust,ethernet1/2,ethernet1/1,Log-Fwd,,{},1,{},80,{},80,0x40b000,tcp,block-url,\"{}.example.org/path/login.php?session={}\",(9999),phishing,informational,client-to-server,{seq},0x8000000000000000,10.0.0.0-10.255.255.255,{},,text/html,0,,,1,\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36\",,,,,,,0,0,0,0,0,,PA-3220-FW01,,,,get,0,,0,,N/A,N/A,,,,,,,,,",
                r.below(1 << 24),
                1024 + r.below(60000),
                1024 + r.below(60000),
                r.pick(&["login-secure", "account-verify", "office-docs"]),
                r.below(1_000_000),
                r.pick(&regions[..6]),
            )
        } else if k < 97 {
            let ev = r.pick(&[
                "gateway-auth",
                "gateway-auth",
                "gateway-connected",
                "gateway-logout",
                "portal-auth",
            ]);
            let ok = r.below(5) > 0;
            let public = r.ipv4(false);
            write!(
                line,
                "<14>{hdr} PA-3220-FW01 1,{ts},013201001234,GLOBALPROTECT,0,2562,{ts},vsys1,{ev},{},SAML,IPSec,{user},{},LAPTOP-{:04},{public},0.0.0.0,10.212.{}.{},0.0.0.0,{:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b,PF{:06},6.1.3,Microsoft Windows,\"Microsoft Windows 11 Enterprise , 64-bit\",1,{},{},,{},,0,user-logon,{},GP-Portal,{seq},0x8000000000000000,{},,0,manual only,,GP-GW-EU,0,0,0,0,,PA-3220-FW01,1,",
                if ev.ends_with("auth") { "login" } else if ev == "gateway-logout" { "logout" } else { "connected" },
                r.pick(&regions[..6]),
                r.below(10000),
                r.below(255),
                1 + r.below(250),
                r.below(1 << 32),
                r.below(1_000_000),
                if ok { "" } else { "Authentication failed: Invalid username or password" },
                if ok { "" } else { "Authentication failed" },
                if ok { "success" } else { "failure" },
                if ok { 0 } else { 7 },
                dt.format("%Y-%m-%dT%H:%M:%S%.3f+00:00"),
            )
        } else {
            write!(
                line,
                "<14>{hdr} PA-3220-FW01 1,{ts},013201001234,SYSTEM,auth,2562,{ts},,auth-fail,,0,0,general,medium,\"failed authentication for user 'admin'. Reason: Invalid username or password. auth profile 'Local', vsys 'shared', From: {dst}.\",{seq},0x0,0,0,0,0,,PA-3220-FW01,0,0,{}",
                dt.format("%Y-%m-%dT%H:%M:%S%.3f+00:00"),
            )
        };
        line.push('\n');
        out.write_all(line.as_bytes())?;
        written += line.len();
        lines += 1;
    }
    Ok(lines)
}
