//! Timeline exports: CSV that is safe to open in Excel, Timesketch JSONL, and OCSF 1.3 JSON.

use crate::event::{Event, EventClass, Outcome};
use serde_json::{json, Map, Value};
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
    Timesketch,
    Ocsf,
}

const CSV_COLUMNS: &[&str] = &[
    "datetime",
    "source",
    "variant",
    "class",
    "action",
    "operation",
    "outcome",
    "reason",
    "user",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "country",
    "city",
    "app",
    "client_app",
    "user_agent",
    "device",
    "mfa",
    "session_id",
    "correlation_id",
    "request_id",
    "bytes_in",
    "bytes_out",
    "event_sha256",
    "evidence_path",
    "record_no",
    "line",
];

/// A cell Excel or LibreOffice would run as a formula starts with one of these; a leading
/// apostrophe makes it text, and the value stays readable.
pub fn neutralize(cell: &str) -> String {
    if formula_like(cell) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn formula_like(cell: &str) -> bool {
    matches!(
        cell.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Interrupted => "interrupted",
        Outcome::Unknown => "unknown",
    }
}

fn class(c: EventClass) -> &'static str {
    match c {
        EventClass::Authentication => "authentication",
        EventClass::AccountChange => "account_change",
        EventClass::ApiActivity => "api_activity",
        EventClass::NetworkActivity => "network_activity",
        EventClass::RiskDetection => "risk_detection",
        EventClass::Accounting => "accounting",
    }
}

pub fn csv_header<W: Write>(w: &mut csv::Writer<W>) -> csv::Result<()> {
    w.write_record(CSV_COLUMNS)
}

pub fn csv_row<W: Write>(w: &mut csv::Writer<W>, e: &Event, event_sha256: &str) -> csv::Result<()> {
    // Written a field at a time from borrowed text (one row per event, over a million at
    // scale: building the row as owned strings cost more than writing it).
    let mut num = String::new();
    let geo = e.geo.as_ref();
    let joined = |parts: [&Option<String>; 3]| {
        let mut s = String::new();
        for p in parts.into_iter().flatten() {
            if !s.is_empty() {
                s.push_str(" / ");
            }
            s.push_str(p);
        }
        s
    };
    let device = e
        .device
        .as_ref()
        .map(|d| joined([&d.os, &d.browser, &d.name]))
        .unwrap_or_default();
    let mfa = e
        .mfa
        .as_ref()
        .map(|m| joined([&m.requirement, &m.method, &None]))
        .unwrap_or_default();
    cell(
        w,
        &e.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    )?;
    for v in [
        e.source().as_str(),
        e.variant(),
        class(e.class),
        &e.action,
        e.operation(),
        outcome(e.outcome),
        text(&e.reason),
        text(&e.user),
        text(&e.src_ip),
    ] {
        cell(w, v)?;
    }
    number(w, &mut num, e.cold().src_port)?;
    cell(w, text(&e.cold().dst_ip))?;
    number(w, &mut num, e.cold().dst_port)?;
    cell(w, geo.map_or("", |g| text(&g.country)))?;
    cell(w, geo.map_or("", |g| text(&g.city)))?;
    for v in [
        text(e.app()),
        text(e.client_app()),
        text(e.user_agent()),
        &device,
        &mfa,
        text(&e.cold().session_id),
        text(&e.cold().correlation_id),
        text(&e.cold().request_id),
    ] {
        cell(w, v)?;
    }
    number(w, &mut num, e.cold().bytes_in)?;
    number(w, &mut num, e.cold().bytes_out)?;
    cell(w, event_sha256)?;
    cell(w, e.evidence_path())?;
    number(w, &mut num, Some(e.provenance.record_no))?;
    number(w, &mut num, Some(e.line()))?;
    w.write_record(std::iter::empty::<&[u8]>())
}

fn text<S: std::ops::Deref<Target = str>>(v: &Option<S>) -> &str {
    v.as_deref().unwrap_or("")
}

/// One CSV cell, [`neutralize`]d.
fn cell<W: Write>(w: &mut csv::Writer<W>, v: &str) -> csv::Result<()> {
    if formula_like(v) {
        w.write_field(neutralize(v))
    } else {
        w.write_field(v)
    }
}

/// A number cell (empty when absent), formatted in `buf`.
fn number<W: Write, N: std::fmt::Display>(
    w: &mut csv::Writer<W>,
    buf: &mut String,
    n: Option<N>,
) -> csv::Result<()> {
    use std::fmt::Write as _;
    buf.clear();
    if let Some(n) = n {
        let _ = write!(buf, "{n}");
    }
    cell(w, buf)
}

/// One line a person reads in Timesketch.
pub fn message(e: &Event) -> String {
    let mut m = format!("{} {}", e.action, outcome(e.outcome));
    if let Some(u) = &e.user {
        m.push_str(&format!(" user={u}"));
    }
    if let Some(ip) = &e.src_ip {
        m.push_str(&format!(" ip={ip}"));
    }
    if let Some(c) = e.geo.as_ref().and_then(|g| g.country.as_ref()) {
        m.push_str(&format!(" country={c}"));
    }
    if let Some(a) = e.app() {
        m.push_str(&format!(" app={a}"));
    }
    if *e.operation() != e.action {
        m.push_str(&format!(" ({})", e.operation()));
    }
    m
}

pub fn timesketch(e: &Event, event_sha256: &str) -> Value {
    let mut v = Map::new();
    v.insert("message".into(), message(e).into());
    v.insert(
        "datetime".into(),
        e.time
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .into(),
    );
    v.insert("timestamp".into(), e.time.timestamp_micros().into());
    v.insert("timestamp_desc".into(), timestamp_desc(e).into());
    v.insert(
        "data_type".into(),
        format!("irpack:{}:{}", e.source(), e.action).into(),
    );
    v.insert("source".into(), e.source().clone().into());
    v.insert("action".into(), e.action.clone().into());
    v.insert("outcome".into(), outcome(e.outcome).into());
    for (k, val) in [
        ("user", e.user.as_deref()),
        ("src_ip", e.src_ip.as_deref()),
        ("dst_ip", e.cold().dst_ip.as_deref()),
        ("app", e.app().as_deref()),
        ("user_agent", e.user_agent().as_deref()),
        ("client_app", e.client_app().as_deref()),
        ("reason", e.reason.as_deref()),
    ] {
        if let Some(x) = val {
            v.insert(k.into(), x.into());
        }
    }
    if let Some(c) = e.geo.as_ref().and_then(|g| g.country.clone()) {
        v.insert("country".into(), c.into());
    }
    v.insert("event_sha256".into(), event_sha256.into());
    v.insert("evidence_path".into(), e.evidence_path().into());
    v.insert("record_no".into(), e.provenance.record_no.into());
    Value::Object(v)
}

fn timestamp_desc(e: &Event) -> &'static str {
    match e.class {
        EventClass::Authentication => "Sign-in Time",
        EventClass::AccountChange | EventClass::ApiActivity => "Activity Time",
        EventClass::RiskDetection => "Risk Activity Time",
        EventClass::NetworkActivity => "Log Time",
        EventClass::Accounting => "Accounting Time",
    }
}

/// OCSF class for an event: (category_uid, class_uid, class_name).
fn ocsf_class(e: &Event) -> (u32, u32, &'static str) {
    match e.class {
        EventClass::Authentication => (3, 3002, "Authentication"),
        EventClass::AccountChange => (3, 3001, "Account Change"),
        EventClass::ApiActivity => (6, 6003, "API Activity"),
        EventClass::NetworkActivity | EventClass::Accounting => (4, 4001, "Network Activity"),
        EventClass::RiskDetection => (2, 2004, "Detection Finding"),
    }
}

fn ocsf_activity(e: &Event, class_uid: u32) -> (u32, &'static str) {
    let a = e.action.as_str();
    match class_uid {
        3002 => match a {
            "sign_out" => (2, "Logoff"),
            "sign_in" | "vpn_login" | "vpn_login_failed" | "admin_login" => (1, "Logon"),
            _ => (99, "Other"),
        },
        3001 => match a {
            "password_changed" => (3, "Password Change"),
            "password_reset" => (4, "Password Reset"),
            "account_enabled" => (2, "Enable"),
            "account_disabled" => (5, "Disable"),
            "mfa_method_registered" => (10, "MFA Factor Enable"),
            "mfa_method_deleted" => (11, "MFA Factor Disable"),
            "role_member_added" => (7, "Attach Policy"),
            "role_member_removed" => (8, "Detach Policy"),
            _ => (99, "Other"),
        },
        6003 => match a {
            "inbox_rule_created"
            | "sharing_link_created"
            | "oauth_consent"
            | "app_role_assigned" => (1, "Create"),
            "mail_items_accessed" | "file_accessed" | "file_downloaded" | "file_synced" => {
                (2, "Read")
            }
            "inbox_rule_changed"
            | "mailbox_forwarding_set"
            | "client_inbox_rules_updated"
            | "user_updated" => (3, "Update"),
            "inbox_rule_removed" => (4, "Delete"),
            _ => (99, "Other"),
        },
        4001 => match a {
            "session_start" | "vpn_tunnel_up" => (1, "Open"),
            "session_stop" | "vpn_tunnel_down" => (2, "Close"),
            "flow_denied" => (5, "Refuse"),
            "flow_allowed" => (6, "Traffic"),
            _ => (99, "Other"),
        },
        2004 => (1, "Create"),
        _ => (99, "Other"),
    }
}

pub fn ocsf(e: &Event, event_sha256: &str) -> Value {
    let (category_uid, class_uid, class_name) = ocsf_class(e);
    let (activity_id, activity_name) = ocsf_activity(e, class_uid);
    let (status_id, status) = match e.outcome {
        Outcome::Success => (1, "Success"),
        Outcome::Failure => (2, "Failure"),
        Outcome::Interrupted | Outcome::Unknown => (0, "Unknown"),
    };
    let mut v = json!({
        "category_uid": category_uid,
        "class_uid": class_uid,
        "class_name": class_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": class_uid * 100 + activity_id,
        "time": e.time.timestamp_millis(),
        "severity_id": 1,
        "status_id": status_id,
        "status": status,
        "message": message(e),
        "metadata": {
            "version": "1.3.0",
            "product": { "name": "irpack", "vendor_name": "irpack", "version": env!("CARGO_PKG_VERSION") },
            "original_time": e.time_original(),
            "uid": event_sha256,
            "log_name": e.source(),
            "log_provider": e.variant(),
        },
        "unmapped": {
            "action": e.action,
            "operation": e.operation(),
            "evidence_path": e.evidence_path(),
            "record_no": e.provenance.record_no,
            "raw_sha256": e.cold().raw_sha256,
        },
    });
    let o = v.as_object_mut().expect("object");
    if let Some(r) = &e.reason {
        o.insert("status_detail".into(), r.clone().into());
    }
    if e.user.is_some() || e.user_id.is_some() {
        let mut u = Map::new();
        if let Some(n) = &e.user {
            u.insert("name".into(), n.clone().into());
        }
        if let Some(id) = &e.user_id {
            u.insert("uid".into(), id.clone().into());
        }
        let key = if class_uid == 6003 { "actor" } else { "user" };
        let val = if key == "actor" {
            json!({ "user": u })
        } else {
            Value::Object(u)
        };
        o.insert(key.into(), val);
    }
    if e.src_ip.is_some() || e.geo.is_some() {
        let mut ep = Map::new();
        if let Some(ip) = &e.src_ip {
            ep.insert("ip".into(), ip.clone().into());
        }
        if let Some(p) = e.cold().src_port {
            ep.insert("port".into(), p.into());
        }
        if let Some(g) = &e.geo {
            let mut loc = Map::new();
            for (k, val) in [
                ("country", &g.country),
                ("city", &g.city),
                ("region", &g.state),
            ] {
                if let Some(x) = val {
                    loc.insert(k.into(), x.clone().into());
                }
            }
            if let (Some(lat), Some(lon)) = (g.lat, g.lon) {
                loc.insert("lat".into(), lat.into());
                loc.insert("long".into(), lon.into());
            }
            ep.insert("location".into(), Value::Object(loc));
        }
        o.insert("src_endpoint".into(), Value::Object(ep));
    }
    if let Some(ip) = &e.cold().dst_ip {
        let mut ep = Map::new();
        ep.insert("ip".into(), ip.clone().into());
        if let Some(p) = e.cold().dst_port {
            ep.insert("port".into(), p.into());
        }
        o.insert("dst_endpoint".into(), Value::Object(ep));
    }
    if let Some(ua) = e.user_agent() {
        o.insert("http_request".into(), json!({ "user_agent": ua }));
    }
    if e.cold().bytes_in.is_some() || e.cold().bytes_out.is_some() {
        o.insert(
            "traffic".into(),
            json!({ "bytes_in": e.cold().bytes_in.unwrap_or(0), "bytes_out": e.cold().bytes_out.unwrap_or(0) }),
        );
    }
    if class_uid == 3002 {
        if let Some(m) = &e.mfa {
            o.insert("is_mfa".into(), Value::Bool(m.satisfied.unwrap_or(false)));
        }
    }
    if class_uid == 2004 {
        let title = e
            .extra
            .get("risk_event_type")
            .and_then(Value::as_str)
            .unwrap_or(e.operation())
            .to_string();
        o.insert(
            "finding_info".into(),
            json!({ "title": title, "uid": event_sha256 }),
        );
    }
    v
}

/// A finding as an OCSF Detection Finding (2004).
pub fn ocsf_finding(f: &crate::analysis::Finding) -> Value {
    let severity_id = match f.severity {
        crate::analysis::Severity::Info => 1,
        crate::analysis::Severity::Low => 2,
        crate::analysis::Severity::Medium => 3,
        crate::analysis::Severity::High => 4,
        crate::analysis::Severity::Critical => 5,
    };
    json!({
        "category_uid": 2, "class_uid": 2004, "class_name": "Detection Finding", "activity_id": 1, "activity_name": "Create", "type_uid": 200401,
        "time": f.first_seen.timestamp_millis(), "severity_id": severity_id,
        "message": f.title,
        "metadata": { "version": "1.3.0", "product": { "name": "irpack", "vendor_name": "irpack", "version": env!("CARGO_PKG_VERSION") } },
        "finding_info": {
            "title": f.title, "uid": f.rule, "desc": f.rationale,
            "first_seen_time": f.first_seen.timestamp_millis(), "last_seen_time": f.last_seen.timestamp_millis(),
            "attacks": f.techniques.iter().map(|t| json!({ "technique": { "uid": t.id, "name": t.name }, "version": crate::analysis::ATTACK_VERSION })).collect::<Vec<_>>(),
            "related_events": f.evidence.iter().map(|h| json!({ "uid": h })).collect::<Vec<_>>(),
        },
        "unmapped": { "users": f.users, "ips": f.ips },
    })
}

/// Write events in `format`; `hashes[i]` is events[i]'s hash.
pub fn write<W: Write>(
    format: Format,
    events: &[Event],
    hashes: &[String],
    w: W,
) -> std::io::Result<()> {
    let mut x = Exporter::new(format, w)?;
    for (e, h) in events.iter().zip(hashes) {
        x.push(e, h)?;
    }
    x.finish()
}

/// One export written event by event, so a timeline of any size streams through.
pub struct Exporter<W: Write> {
    format: Format,
    w: std::io::BufWriter<W>,
    csv: Option<csv::Writer<Vec<u8>>>,
}

impl<W: Write> Exporter<W> {
    pub fn new(format: Format, w: W) -> std::io::Result<Self> {
        let mut x = Exporter {
            format,
            w: std::io::BufWriter::with_capacity(1 << 20, w),
            csv: None,
        };
        if format == Format::Csv {
            let mut c = csv::Writer::from_writer(Vec::new());
            csv_header(&mut c).map_err(std::io::Error::other)?;
            x.csv = Some(c);
            x.drain_csv()?;
        }
        Ok(x)
    }

    fn drain_csv(&mut self) -> std::io::Result<()> {
        if let Some(c) = self.csv.as_mut() {
            c.flush()?;
            self.w.write_all(c.get_ref())?;
            // csv::Writer lends no `&mut` to its buffer; a new one per row costs little.
            *c = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
        }
        Ok(())
    }

    pub fn push(&mut self, e: &Event, event_sha256: &str) -> std::io::Result<()> {
        match self.format {
            Format::Jsonl => serde_json::to_writer(&mut self.w, e)?,
            Format::Csv => {
                if let Some(c) = self.csv.as_mut() {
                    csv_row(c, e, event_sha256).map_err(std::io::Error::other)?;
                }
                return self.drain_csv();
            }
            Format::Timesketch => serde_json::to_writer(&mut self.w, &timesketch(e, event_sha256))?,
            Format::Ocsf => serde_json::to_writer(&mut self.w, &ocsf(e, event_sha256))?,
        }
        self.w.write_all(b"\n")
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Outcome, Provenance};
    use chrono::TimeZone;

    fn ev() -> Event {
        let mut e = Event::new(
            chrono::Utc.with_ymd_and_hms(2024, 3, 12, 10, 5, 0).unwrap(),
            "2024-03-12T10:05:00Z",
            "UTC",
            "m365_ual",
            "purview_csv",
            EventClass::ApiActivity,
            "inbox_rule_created",
            "New-InboxRule",
            Outcome::Success,
            Provenance::default(),
        );
        e.user = Some("=HYPERLINK(\"http://x\")".into());
        e.src_ip = Some("185.220.101.45".into());
        e
    }

    fn opt<T: ToString>(v: &Option<T>) -> String {
        v.as_ref().map(|x| x.to_string()).unwrap_or_default()
    }

    /// The row as it was written before cells were written one at a time.
    fn csv_row_as_before<W: Write>(
        w: &mut csv::Writer<W>,
        e: &Event,
        event_sha256: &str,
    ) -> csv::Result<()> {
        let geo = e.geo.clone().unwrap_or_default();
        let device = e
            .device
            .as_ref()
            .map(|d| {
                [d.os.clone(), d.browser.clone(), d.name.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" / ")
            })
            .unwrap_or_default();
        let mfa = e
            .mfa
            .as_ref()
            .map(|m| {
                [m.requirement.clone(), m.method.clone()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" / ")
            })
            .unwrap_or_default();
        let row = [
            e.time.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            e.source().to_string(),
            e.variant().to_string(),
            class(e.class).into(),
            e.action.to_string(),
            e.operation().to_string(),
            outcome(e.outcome).into(),
            opt(&e.reason),
            opt(&e.user),
            opt(&e.src_ip),
            opt(&e.cold().src_port),
            opt(&e.cold().dst_ip),
            opt(&e.cold().dst_port),
            opt(&geo.country),
            opt(&geo.city),
            opt(e.app()),
            opt(e.client_app()),
            opt(e.user_agent()),
            device,
            mfa,
            opt(&e.cold().session_id),
            opt(&e.cold().correlation_id),
            opt(&e.cold().request_id),
            opt(&e.cold().bytes_in),
            opt(&e.cold().bytes_out),
            event_sha256.to_string(),
            e.evidence_path().to_string(),
            e.provenance.record_no.to_string(),
            e.line().to_string(),
        ];
        w.write_record(row.iter().map(|c| neutralize(c)))
    }

    /// Field-at-a-time rows equal whole-record rows, cell by cell, for absent fields, partial
    /// device and MFA details, formula-like, quoted, multi-line and non-ASCII text.
    #[test]
    fn rows_equal_the_whole_record_rows() {
        let odd = [
            "=1+1",
            "+x",
            "-3",
            "@SUM(A1)",
            "\tx",
            "\ry",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "ünï",
            "",
            " lead",
        ];
        let mut events = vec![ev()];
        for (i, t) in odd.iter().enumerate() {
            let mut e = ev();
            let s = Some(t.to_string());
            e.reason = s.clone().map(Into::into);
            e.user = if i % 2 == 0 {
                s.clone().map(Into::into)
            } else {
                None
            };
            e.src_ip = s.clone().map(Into::into);
            e.cold_mut().dst_ip = s.clone().map(Into::into);
            e.descr_mut().app = s.clone().map(Into::into);
            e.descr_mut().client_app = s.clone().map(Into::into);
            e.descr_mut().user_agent = s.clone().map(Into::into);
            e.cold_mut().session_id = s.clone();
            e.cold_mut().correlation_id = s.clone();
            e.cold_mut().request_id = s.clone();
            e.action = t.to_string().into();
            e.descr_mut().operation = t.to_string().into();
            e.set_variant(t.to_string());
            e.cold_mut().src_port = (i % 3 != 0).then_some(443 + i as u16);
            e.cold_mut().dst_port = (i % 2 != 0).then_some(i as u16);
            e.cold_mut().bytes_in = (i % 4 != 0).then_some(u64::MAX - i as u64);
            e.cold_mut().bytes_out = (i % 5 != 0).then_some(i as u64);
            e.cold_mut().evidence_path = Some(format!("data/evidence/{t}.log").into());
            e.provenance.record_no = i as u64;
            e.cold_mut().line = 1000 + i as u64;
            if i % 3 == 1 {
                e.geo = Some(std::sync::Arc::new(crate::event::Geo {
                    country: s.clone(),
                    city: (i % 2 == 0).then(|| "Köln".to_string()),
                    ..Default::default()
                }));
            }
            if i % 3 != 2 {
                e.device = Some(std::sync::Arc::new(crate::event::Device {
                    os: (i % 2 == 0).then(|| "Windows".to_string()),
                    browser: s.clone(),
                    name: (i % 4 == 1).then(|| "PC-1".to_string()),
                    ..Default::default()
                }));
                e.mfa = Some(std::sync::Arc::new(crate::event::Mfa {
                    requirement: (i % 2 == 1).then(|| "multiFactorAuthentication".to_string()),
                    method: s.clone(),
                    ..Default::default()
                }));
            }
            events.push(e);
        }
        let mut a = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        let mut b = csv::WriterBuilder::new()
            .has_headers(false)
            .from_writer(Vec::new());
        for (i, e) in events.iter().enumerate() {
            let sha = if i % 2 == 0 {
                "ab".repeat(32)
            } else {
                "-x".into()
            };
            csv_row(&mut a, e, &sha).unwrap();
            csv_row_as_before(&mut b, e, &sha).unwrap();
        }
        a.flush().unwrap();
        b.flush().unwrap();
        assert_eq!(
            String::from_utf8(a.into_inner().unwrap()).unwrap(),
            String::from_utf8(b.into_inner().unwrap()).unwrap()
        );
    }

    #[test]
    fn csv_cells_cannot_become_formulas() {
        let mut out = Vec::new();
        write(Format::Csv, &[ev()], &["h".into()], &mut out).unwrap();
        let s = String::from_utf8(out).unwrap();
        assert!(s.contains("\"'=HYPERLINK(\"\"http://x\"\")\""), "{s}");
        assert_eq!(neutralize("-1"), "'-1");
        assert_eq!(neutralize("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(neutralize("plain"), "plain");
    }

    #[test]
    fn timesketch_has_required_fields() {
        let v = timesketch(&ev(), "h");
        for k in ["message", "datetime", "timestamp", "timestamp_desc"] {
            assert!(v.get(k).is_some(), "{k}");
        }
        assert_eq!(v["timestamp"], 1710237900000000i64);
    }

    #[test]
    fn ocsf_classes() {
        let v = ocsf(&ev(), "h");
        assert_eq!(v["class_uid"], 6003);
        assert_eq!(v["type_uid"], 600301);
        assert_eq!(v["actor"]["user"]["name"], "=HYPERLINK(\"http://x\")");
        let mut a = ev();
        a.class = EventClass::Authentication;
        a.action = "sign_in".into();
        a.outcome = Outcome::Failure;
        let v = ocsf(&a, "h");
        assert_eq!(
            (
                v["class_uid"].as_u64(),
                v["activity_id"].as_u64(),
                v["status_id"].as_u64()
            ),
            (Some(3002), Some(1), Some(2))
        );
    }
}
