//! FreeRADIUS `detail` files: the real-server corpus against its truth files, samples, bad
//! input, fuzzing, the benchmark generator, and an end-to-end run of a real FreeRADIUS
//! server (when installed) whose own detail file is parsed and joined into a session.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use irpack::event::{actions, Event, EventClass, Outcome};
use irpack::sources::radius_sessions::{sessions, RadiusSession};
use irpack::sources::{self, radius_detail, Input, ParseContext, Parsed, Source};
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

const CORPUS_FILES: [&str; 3] = [
    "radius/freeradius-3.2.1__detail-20250609-vpn-wifi-mab-cest",
    "radius/freeradius-3.2.1__detail-pkthdr-20250609-vpn-wifi-mab-cest",
    "radius/freeradius-3.2.1__auth-detail-20250609-cest",
];

fn berlin() -> ParseContext {
    let mut ctx = ParseContext::default();
    ctx.zones
        .insert("radius_detail".into(), "Europe/Berlin".parse().unwrap());
    ctx
}

fn parse_text(text: &str, ctx: &ParseContext) -> Parsed {
    let reg = sources::registry();
    sources::parse_bytes(
        &reg,
        text.as_bytes(),
        "test/detail",
        &sources::sha256_hex(text.as_bytes()),
        ctx,
    )
}

/// Parse with the detail parser directly (no detection), as `--format radius_detail` does.
fn parse_direct(text: &str, ctx: &ParseContext) -> (Vec<Event>, Vec<irpack::sources::RecordError>) {
    let input = Input::new(text, "sha", "test/detail", 0, None);
    let (mut evs, mut errs) = (Vec::new(), Vec::new());
    radius_detail::RadiusDetail.parse(&input, ctx, &mut |it| match it {
        Ok(e) => evs.push(e),
        Err(e) => errs.push(e),
    });
    (evs, errs)
}

fn truth(path: &Path) -> Value {
    let t = std::fs::read_to_string(format!("{}.truth.json", path.display())).expect("truth file");
    serde_json::from_str(&t).expect("truth json")
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn attr_count(ev: &Event) -> usize {
    match ev.extra.get("attributes") {
        Some(Value::Object(m)) => m.values().map(|v| v.as_array().map_or(1, Vec::len)).sum(),
        _ => 0,
    }
}

fn ex<'e>(ev: &'e Event, k: &str) -> Option<&'e str> {
    ev.extra.get(k).and_then(Value::as_str)
}

/// The user as the truth file means it: the detail text with `\ooo` escapes decoded, bytes
/// that are not UTF-8 read as ISO-8859-1.
fn truth_user(s: &Value) -> String {
    let bytes = hex_decode(s["user_bytes_hex"].as_str().unwrap());
    match String::from_utf8(bytes.clone()) {
        Ok(u) => u,
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

fn hex_decode(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn corpus_every_record_matches_truth() {
    for rel in CORPUS_FILES {
        let Some(path) = common::corpus_file(rel) else {
            return;
        };
        let truth = truth(&path);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            sources::sha256_hex(&bytes),
            truth["sha256"].as_str().unwrap(),
            "{rel}: corpus file changed"
        );
        let p = common::parse_path(&path, &ParseContext::default());
        assert_eq!(p.format, Some("radius_detail"), "{rel}");
        assert!(p.rejected.is_empty(), "{rel}: {:?}", p.rejected);
        let recs = truth["records"].as_array().unwrap();
        assert_eq!(
            p.events.len() as u64,
            truth["record_count"].as_u64().unwrap(),
            "{rel}"
        );
        assert_eq!(p.events.len(), recs.len());
        for (ev, r) in p.events.iter().zip(recs) {
            let i = r["index"].as_u64().unwrap();
            assert!(
                common::raw_matches(&bytes, &ev.full_provenance()),
                "{rel} #{i}: raw hash"
            );
            assert_eq!(ev.provenance.record_no, i + 1);
            // Timestamp is authoritative UTC; the header is CEST local time.
            assert_eq!(
                ev.time,
                utc(r["timestamp_utc"].as_str().unwrap()),
                "{rel} #{i}"
            );
            assert_eq!(
                ev.time_original(),
                r["timestamp"].as_u64().unwrap().to_string()
            );
            assert_eq!(ev.time_zone(), "UTC");
            assert_eq!(ex(ev, "header"), r["header"].as_str(), "{rel} #{i}");
            assert_eq!(ex(ev, "nas_ip"), r["nas_ip_address"].as_str(), "{rel} #{i}");
            assert_eq!(
                ex(ev, "nas_identifier"),
                r["nas_identifier"].as_str(),
                "{rel} #{i}"
            );
            assert_eq!(
                ex(ev, "calling_station_id"),
                r["calling_station_id"].as_str(),
                "{rel} #{i}"
            );
            assert_eq!(
                ev.cold().session_id.as_deref(),
                r["acct_session_id"].as_str(),
                "{rel} #{i}"
            );
            // `\347` in the file is the Latin-1 byte for ç.
            let want_user = r["user_name_in_detail"]
                .as_str()
                .map(|u| u.replace("\\347", "ç"));
            assert_eq!(ev.user.as_deref(), want_user.as_deref(), "{rel} #{i}");
            if let Some(n) = r["attribute_lines"].as_u64() {
                assert_eq!(attr_count(ev) as u64, n, "{rel} #{i}: attribute count");
            }
            match r["packet_type"].as_str() {
                Some("Access-Request") => {
                    assert_eq!(ev.class, EventClass::Authentication);
                    assert_eq!(ev.action, actions::SIGN_IN);
                    // The reply is not in an auth-detail file: the outcome is unknown.
                    assert_eq!(ev.outcome, Outcome::Unknown);
                    assert_eq!(ev.variant(), "auth");
                }
                _ => {
                    assert_eq!(ev.class, EventClass::Accounting);
                    let st = r["acct_status_type"].as_str().unwrap();
                    assert_eq!(ev.operation(), st);
                    let want = match st {
                        "Start" => actions::SESSION_START,
                        "Interim-Update" => actions::SESSION_INTERIM,
                        "Stop" => actions::SESSION_STOP,
                        "Accounting-On" => actions::ACCOUNTING_ON,
                        other => panic!("unexpected status {other}"),
                    };
                    assert_eq!(ev.action, want, "{rel} #{i}");
                    assert_eq!(
                        ex(ev, "event_timestamp"),
                        r["event_timestamp_text"].as_str()
                    );
                    assert_eq!(
                        ex(ev, "acct_unique_session_id"),
                        r["acct_unique_session_id"].as_str()
                    );
                    assert_eq!(
                        ev.extra.get("acct_delay_time").and_then(Value::as_u64),
                        r["acct_delay_time"].as_u64()
                    );
                    // VPN: Calling-Station-Id is the client's public IP; Wi-Fi/MAB: a MAC.
                    let calling = r["calling_station_id"].as_str();
                    let is_ip = calling.is_some_and(|c| c.parse::<std::net::IpAddr>().is_ok());
                    assert_eq!(
                        ev.src_ip.as_deref(),
                        if is_ip { calling } else { None },
                        "{rel} #{i}"
                    );
                    assert_eq!(
                        ex(ev, "framed_ip"),
                        r["framed_ip_address"].as_str(),
                        "{rel} #{i}"
                    );
                }
            }
        }
    }
}

#[test]
fn corpus_specific_values() {
    let Some(path) = common::corpus_file(CORPUS_FILES[1]) else {
        return;
    };
    let p = common::parse_path(&path, &berlin());
    let alice = &p.events[1];
    assert_eq!(alice.user.as_deref(), Some("alice@contoso.com"));
    assert_eq!(alice.src_ip.as_deref(), Some("203.0.113.45"));
    assert_eq!(ex(alice, "packet_src_ip"), Some("127.0.0.1"));
    assert_eq!(ex(alice, "nas_port_type"), Some("Virtual"));
    let a = &alice.extra["attributes"];
    assert_eq!(a["Class"], "0x636f6e746f736f2d76706e");
    assert_eq!(a["Fortinet-Group-Name"], "VPN-Users");
    assert_eq!(
        a["Packet-Src-Port"]
            .as_str()
            .map(|s| s.parse::<u16>().is_ok()),
        Some(true)
    );
    // José on the WLC: tagged attributes, raw UTF-8.
    let jose = &p.events[3];
    assert_eq!(jose.user.as_deref(), Some("josé@contoso.com"));
    assert_eq!(jose.extra["attributes"]["Tunnel-Type:0"], "VLAN");
    assert_eq!(jose.extra["attributes"]["Tunnel-Private-Group-Id:0"], "20");
    assert_eq!(
        ex(jose, "called_station_id"),
        Some("00-3a-7d-11-22-30:CORP-WIFI")
    );
    assert_eq!(jose.src_ip, None);
    // MAB printer: repeated Cisco-AVPair kept in order.
    let mab = &p.events[0];
    assert_eq!(
        mab.extra["attributes"]["Cisco-AVPair"],
        serde_json::json!([
            "audit-session-id=0A1E000C0000002B1A2B3C4D",
            "method=mab",
            "connect-progress=Auth Open"
        ])
    );
    // François was sent as ISO-8859-1: decoded, and flagged.
    let fr = p
        .events
        .iter()
        .find(|e| e.user.as_deref() == Some("françois@contoso.com"))
        .unwrap();
    assert_eq!(
        fr.extra["non_utf8_attributes"],
        serde_json::json!(["User-Name", "Stripped-User-Name"])
    );
    // vpn-admin's interim with gigawords: 2 * 2^32 + 1286608618.
    let admin = p
        .events
        .iter()
        .rfind(|e| e.user.as_deref() == Some("vpn-admin"))
        .unwrap();
    assert_eq!(admin.cold().bytes_in, Some(9_876_543_210));
    assert_eq!(admin.cold().bytes_out, Some(1_234_567_890));
    assert_eq!(admin.extra["session_time"], 3600);
    // A Stop carries its cause.
    let stop = p
        .events
        .iter()
        .find(|e| e.action == actions::SESSION_STOP)
        .unwrap();
    assert!(stop.extra.contains_key("terminate_cause"));
}

#[test]
fn corpus_sessions_match_truth() {
    for rel in &CORPUS_FILES[..2] {
        let Some(path) = common::corpus_file(rel) else {
            return;
        };
        let truth = truth(&path);
        let p = common::parse_path(&path, &ParseContext::default());
        let ss = sessions(&p.events);
        let want = truth["sessions"].as_array().unwrap();
        assert_eq!(ss.len(), want.len(), "{rel}: {ss:#?}");
        for t in want {
            let sid = t["acct_session_id"].as_str().unwrap();
            let s: &RadiusSession = ss
                .iter()
                .find(|s| s.session_id == sid)
                .unwrap_or_else(|| panic!("{rel}: session {sid} missing"));
            let ctx = format!("{rel} session {sid}");
            assert_eq!(s.user.as_deref(), Some(truth_user(t).as_str()), "{ctx}");
            assert_eq!(s.source, "radius_detail");
            assert_eq!(s.nas_ip.as_deref(), t["nas_ip"].as_str(), "{ctx}");
            assert_eq!(
                s.nas_identifier.as_deref(),
                t["nas_identifier"].as_str(),
                "{ctx}"
            );
            assert_eq!(
                s.nas_port_type.as_deref(),
                t["nas_port_type"].as_str(),
                "{ctx}"
            );
            assert_eq!(s.framed_ip.as_deref(), t["framed_ip"].as_str(), "{ctx}");
            assert_eq!(
                s.calling_station_id.as_deref(),
                t["calling_station_id"].as_str(),
                "{ctx}"
            );
            assert_eq!(
                s.called_station_id.as_deref(),
                t["called_station_id"].as_str(),
                "{ctx}"
            );
            let calling = t["calling_station_id"].as_str().unwrap();
            let ip = calling
                .parse::<std::net::IpAddr>()
                .ok()
                .map(|i| i.to_string());
            assert_eq!(s.client_ip, ip, "{ctx}");
            assert_eq!(s.has_start, t["has_start"].as_bool().unwrap(), "{ctx}");
            assert!(!s.start_estimated, "{ctx}");
            assert_eq!(
                s.interim_count as u64,
                t["interim_count"].as_u64().unwrap(),
                "{ctx}"
            );
            assert_eq!(s.stop_count > 0, t["has_stop"].as_bool().unwrap(), "{ctx}");
            assert_eq!(
                s.stop_count as u64,
                t["stop_record_count"].as_u64().unwrap(),
                "{ctx}"
            );
            assert_eq!(
                s.start,
                Some(utc(t["start_time"].as_str().unwrap())),
                "{ctx}"
            );
            assert_eq!(s.end, t["stop_time"].as_str().map(utc), "{ctx}");
            assert_eq!(
                s.terminate_cause.as_deref(),
                t["terminate_cause"].as_str(),
                "{ctx}"
            );
            let f = &t["final"];
            assert_eq!(s.duration_secs, f["session_time"].as_u64(), "{ctx}");
            assert_eq!(s.bytes_in, f["input_octets_total"].as_u64(), "{ctx}");
            assert_eq!(s.bytes_out, f["output_octets_total"].as_u64(), "{ctx}");
            let recs = t["records"].as_array().unwrap();
            assert_eq!(
                s.last_seen,
                utc(recs.last().unwrap()["event_time"].as_str().unwrap()),
                "{ctx}"
            );
            // Every record of the session, and the NAS event that closed it, is cited.
            let closing = usize::from(s.nas_restart.is_some());
            assert_eq!(s.event_hashes.len(), recs.len() + closing, "{ctx}");
            for r in recs {
                let ev = &p.events[r["record_index"].as_u64().unwrap() as usize];
                assert!(
                    s.event_hashes.contains(&ev.hash()),
                    "{ctx}: record {} not cited",
                    r["record_index"]
                );
            }
        }
        // Dana's WLC rebooted (Accounting-On): over, not active. vpn-admin: still active.
        let dana = ss
            .iter()
            .find(|s| s.user.as_deref() == Some("Dana Smith"))
            .unwrap();
        assert!(!dana.still_active);
        assert_eq!(dana.nas_restart.as_deref(), Some("Accounting-On"));
        let on = &truth["nas_events"][0];
        assert_eq!(
            dana.nas_restart_at,
            Some(utc(on["event_time"].as_str().unwrap()))
        );
        assert_eq!(dana.known_until(), utc(on["event_time"].as_str().unwrap()));
        let admin = ss
            .iter()
            .find(|s| s.user.as_deref() == Some("vpn-admin"))
            .unwrap();
        assert!(admin.still_active && admin.end.is_none() && admin.nas_restart.is_none());
        let ended: Vec<_> = ss.iter().filter(|s| s.end.is_some()).collect();
        assert!(ended.iter().all(|s| !s.still_active));
        assert_eq!(ss.iter().filter(|s| s.still_active).count(), 1);
        // Sessions serialize for the analysis output.
        let j = serde_json::to_string(&ss).unwrap();
        let back: Vec<RadiusSession> = serde_json::from_str(&j).unwrap();
        assert_eq!(back, ss);
    }
}

/// With Timestamp and Event-Timestamp removed, the header (CEST local time) still gives the
/// right instant when the case file says the server ran in Europe/Berlin.
#[test]
fn corpus_header_only_uses_configured_zone() {
    let Some(path) = common::corpus_file(CORPUS_FILES[0]) else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let stripped: String = text
        .lines()
        .filter(|l| !l.starts_with("\tTimestamp = ") && !l.starts_with("\tEvent-Timestamp = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let full = common::parse_path(&path, &ParseContext::default());
    let p = parse_text(&stripped, &berlin());
    assert!(p.rejected.is_empty());
    assert_eq!(p.events.len(), full.events.len());
    for (a, b) in p.events.iter().zip(&full.events) {
        // Header = receive time = Timestamp.
        assert_eq!(a.time, b.time);
        assert_eq!(a.time_zone(), "Europe/Berlin (assumed)");
        assert_eq!(Some(a.time_original()), ex(b, "header"));
    }
    // No zone given: parsed as UTC, and the assumption is stated.
    let p = parse_text(&stripped, &ParseContext::default());
    assert_eq!(p.events[0].time_zone(), "UTC (assumed: no zone given)");
    assert_eq!(
        p.events[0].time,
        full.events[0].time + chrono::Duration::hours(2)
    );
}

/// Event-Timestamp, when it is the best time there is, carries its own zone abbreviation.
#[test]
fn event_timestamp_zone_abbreviation() {
    let text = "Mon Jun  9 08:02:11 2025\n\tAcct-Status-Type = Start\n\tUser-Name = \"a\"\n\tEvent-Timestamp = \"Jun  9 2025 08:02:11 CEST\"\n\n";
    let p = parse_text(text, &ParseContext::default());
    assert_eq!(p.events[0].time, utc("2025-06-09T06:02:11Z"));
    assert_eq!(p.events[0].time_zone(), "+02:00 (CEST)");
    assert_eq!(p.events[0].time_original(), "Jun  9 2025 08:02:11 CEST");
}

fn sample(name: &str) -> PathBuf {
    common::samples_dir().join("radius").join(name)
}

/// FreeRADIUS 2.x-era accounting from a Cisco ASA (AnyConnect) and an Aruba controller:
/// octal-escaped UTF-8, escaped backslashes, gigawords, a session still open at the end.
#[test]
fn sample_asa_aruba_detail() {
    let path = sample("detail-20250310-asa-aruba");
    let bytes = std::fs::read(&path).unwrap();
    let p = common::parse_path(&path, &berlin());
    assert_eq!(p.format, Some("radius_detail"));
    assert_eq!((p.events.len(), p.rejected.len()), (10, 0));
    assert!(p
        .events
        .iter()
        .all(|e| common::raw_matches(&bytes, &e.full_provenance())));
    let first = &p.events[0];
    assert_eq!(first.user.as_deref(), Some("jäger@contoso.com"));
    assert!(!first.extra.contains_key("non_utf8_attributes"));
    assert_eq!(first.time, utc("2025-03-10T08:14:02Z"));
    assert_eq!(first.src_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(
        first.extra["attributes"]["Cisco-AVPair"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert!(p
        .events
        .iter()
        .any(|e| e.user.as_deref() == Some("CONTOSO\\svc-backup")));

    let ss = sessions(&p.events);
    assert_eq!(ss.len(), 3);
    let vpn = &ss[0];
    assert_eq!(vpn.user.as_deref(), Some("jäger@contoso.com"));
    assert_eq!(
        (vpn.client_ip.as_deref(), vpn.framed_ip.as_deref()),
        (Some("198.51.100.23"), Some("10.99.0.15"))
    );
    assert_eq!(
        (vpn.duration_secs, vpn.terminate_cause.as_deref()),
        (Some(3600), Some("User-Request"))
    );
    assert_eq!(vpn.end, Some(utc("2025-03-10T09:14:02Z")));
    let wifi = &ss[1];
    assert_eq!(
        wifi.calling_station_id.as_deref(),
        Some("f0-18-98-4c-2e-91")
    );
    assert_eq!(wifi.client_ip, None);
    assert_eq!(wifi.bytes_out, Some(3 * (1u64 << 32) + 1_610_612_736));
    assert_eq!(wifi.interim_count, 2);
    assert_eq!(wifi.terminate_cause.as_deref(), Some("Lost-Carrier"));
    let svc = &ss[2];
    assert!(svc.still_active);
    assert_eq!(svc.user.as_deref(), Some("CONTOSO\\svc-backup"));
    assert_eq!(svc.bytes_in, Some(5 * (1u64 << 32) + 1_073_741_824));
    assert_eq!(svc.duration_secs, Some(3600));
}

#[test]
fn sample_auth_and_reply_logs() {
    let p = common::parse_path(&sample("auth-detail-20250310"), &berlin());
    assert_eq!((p.events.len(), p.rejected.len()), (3, 0));
    assert!(p
        .events
        .iter()
        .all(|e| e.class == EventClass::Authentication
            && e.action == actions::SIGN_IN
            && e.outcome == Outcome::Unknown));
    assert_eq!(p.events[1].src_ip.as_deref(), Some("45.155.205.11"));
    assert_eq!(ex(&p.events[1], "packet_src_ip"), Some("10.0.0.2"));

    let p = common::parse_path(&sample("reply-detail-20250310"), &berlin());
    assert_eq!((p.events.len(), p.rejected.len()), (3, 0));
    let outcomes: Vec<_> = p.events.iter().map(|e| e.outcome).collect();
    assert_eq!(
        outcomes,
        [Outcome::Success, Outcome::Failure, Outcome::Success]
    );
    assert_eq!(
        p.events[1].extra["attributes"]["Reply-Message"],
        "Login incorrect (pap: Cleartext password does not match \"known good\" password)"
    );
}

#[test]
fn crlf_and_files_cut_mid_record() {
    let Some(path) = common::corpus_file(CORPUS_FILES[0]) else {
        return;
    };
    let text = std::fs::read_to_string(&path).unwrap();
    let crlf = text.replace('\n', "\r\n");
    let p = parse_text(&crlf, &ParseContext::default());
    assert_eq!(p.format, Some("radius_detail"));
    assert_eq!((p.events.len(), p.rejected.len()), (24, 0));
    assert_eq!(
        p.events[5].time,
        common::parse_path(&path, &ParseContext::default()).events[5].time
    );
    assert!(p
        .events
        .iter()
        .all(|e| common::raw_matches(crlf.as_bytes(), &e.full_provenance())));
    // A copy that starts in the middle of a record: its tail is still a record.
    let cut = &text[text.find("\tAcct-Status-Type").unwrap()..];
    let p = parse_text(cut, &ParseContext::default());
    assert_eq!(p.format, Some("radius_detail"));
    assert_eq!((p.events.len(), p.rejected.len()), (24, 0));
    assert_eq!(p.events[0].extra.get("header"), None);
}

#[test]
fn bad_input_is_rejected_with_line_numbers() {
    let good = "Mon Jun  9 08:02:11 2025\n\tAcct-Status-Type = Start\n\tUser-Name = \"a\"\n\tTimestamp = 1749448931\n\n";
    // Truncated in the middle of a value (a file copied while the server wrote it).
    let truncated =
        format!("{good}Mon Jun  9 08:03:11 2025\n\tAcct-Status-Type = Stop\n\tUser-Name = \"b");
    let (evs, errs) = parse_direct(&truncated, &ParseContext::default());
    assert_eq!((evs.len(), errs.len()), (1, 1));
    assert_eq!(errs[0].record_no, 2);
    assert_eq!(errs[0].line, 6);
    assert!(
        errs[0].reason.contains("line 8") && errs[0].reason.contains("unterminated"),
        "{}",
        errs[0].reason
    );

    // Bad Timestamp.
    let bad_ts = good.replace("1749448931", "17494x8931");
    let (evs, errs) = parse_direct(&format!("{good}{bad_ts}"), &ParseContext::default());
    assert_eq!((evs.len(), errs.len()), (1, 1));
    assert!(
        errs[0].reason.contains("Timestamp") && errs[0].reason.contains("17494x8931"),
        "{}",
        errs[0].reason
    );
    assert_eq!(errs[0].line, 6);

    // A line that is not `Name = value`, and a stray line between records.
    let garbage = format!(
        "{good}Mon Jun  9 08:04:11 2025\n\tAcct-Status-Type Start\n\ngarbage here\n\n{good}"
    );
    let (evs, errs) = parse_direct(&garbage, &ParseContext::default());
    assert_eq!((evs.len(), errs.len()), (2, 2));
    assert_eq!(errs.iter().map(|e| e.record_no).collect::<Vec<_>>(), [2, 3]);
    assert!(errs[0].reason.starts_with("line 7:"), "{}", errs[0].reason);
    assert!(
        errs[1].reason.contains("no attribute lines"),
        "{}",
        errs[1].reason
    );
    assert_eq!(errs[1].line, 9);
    assert_eq!(evs[1].provenance.record_no, 4);

    // No usable time at all.
    let (evs, errs) = parse_direct(
        "not a date\n\tAcct-Status-Type = Start\n\tUser-Name = \"a\"\n",
        &ParseContext::default(),
    );
    assert_eq!((evs.len(), errs.len()), (0, 1));
    assert!(errs[0].reason.starts_with("no time"), "{}", errs[0].reason);

    // Zero bytes, blank lines only: no records, nothing detected.
    for empty in ["", "\n\n\n", "\r\n"] {
        let p = parse_text(empty, &ParseContext::default());
        assert_eq!((p.format, p.records()), (None, 0));
        let (evs, errs) = parse_direct(empty, &ParseContext::default());
        assert_eq!(evs.len() + errs.len(), 0);
    }
}

#[test]
fn unknown_status_is_kept_as_other() {
    let text = "Mon Jun  9 08:02:11 2025\n\tAcct-Status-Type = Tunnel-Start\n\tUser-Name = \"a\"\n\tTimestamp = 1749448931\n\nMon Jun  9 08:02:12 2025\n\tAcct-Status-Type = 3\n\tTimestamp = 1749448932\n\n";
    let (evs, errs) = parse_direct(text, &ParseContext::default());
    assert!(errs.is_empty());
    assert_eq!(
        (evs[0].action.as_str(), evs[0].operation().as_str()),
        (actions::OTHER, "Tunnel-Start")
    );
    assert_eq!(evs[1].action, actions::SESSION_INTERIM);
}

#[test]
fn detection_does_not_claim_other_formats() {
    let reg = sources::registry();
    for text in [
        "date=2025-06-09 time=08:00:00 devname=\"fgt\" logid=\"0101039424\" type=\"event\" subtype=\"vpn\"\n",
        "{\"time\":\"2025-06-09T08:00:00Z\",\"category\":\"SignInLogs\"}\n",
        "a,b,c\n1,2,3\n",
        "CEF:0|Palo Alto Networks|PAN-OS|10.1|TRAFFIC|end|3|src=1.2.3.4\n",
    ] {
        let d = sources::detect(&reg, text).map(|s| s.id());
        assert_ne!(d, Some("radius_detail"), "{text}");
        assert_ne!(d, Some("nps"), "{text}");
    }
}

#[test]
fn generator_output_parses_cleanly() {
    let mut buf = Vec::new();
    let n = radius_detail::generate(42, 300_000, &mut buf).unwrap();
    assert!(buf.len() >= 300_000);
    let p = parse_text(std::str::from_utf8(&buf).unwrap(), &ParseContext::default());
    assert_eq!(p.format, Some("radius_detail"));
    assert_eq!(p.rejected.len(), 0, "{:?}", p.rejected.first());
    assert_eq!(p.events.len() as u64, n);
    let ss = sessions(&p.events);
    assert!(ss.len() > 50);
    assert!(ss.iter().any(|s| s.still_active) && ss.iter().any(|s| s.end.is_some()));
    assert!(
        ss.iter().any(|s| s.bytes_out.unwrap_or(0) > 1 << 32),
        "gigawords used"
    );
    assert!(ss.iter().any(|s| s.client_ip.is_some()) && ss.iter().any(|s| s.client_ip.is_none()));
    // Same seed, same bytes.
    let mut again = Vec::new();
    radius_detail::generate(42, 300_000, &mut again).unwrap();
    assert_eq!(buf, again);
}

fn corpus_or_sample_texts() -> Vec<String> {
    let mut v = vec![std::fs::read_to_string(sample("detail-20250310-asa-aruba")).unwrap()];
    if let Some(p) = common::corpus_file(CORPUS_FILES[0]) {
        v.push(std::fs::read_to_string(p).unwrap());
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let reg = sources::registry();
        let p = sources::parse_bytes(&reg, &bytes, "fuzz", "sha", &ParseContext::default());
        prop_assert_eq!(p.records(), (p.events.len() + p.rejected.len()) as u64);
        let text = String::from_utf8_lossy(&bytes);
        let (evs, errs) = parse_direct(&text, &berlin());
        let mut nos: Vec<u64> = evs.iter().map(|e| e.provenance.record_no).chain(errs.iter().map(|e| e.record_no)).collect();
        nos.sort_unstable();
        prop_assert_eq!(nos, (1..=(evs.len() + errs.len()) as u64).collect::<Vec<_>>());
        let _ = sessions(&evs);
    }

    #[test]
    fn mutated_detail_never_panics(idx in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(), ops in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24)) {
        let texts = corpus_or_sample_texts();
        let mut b = idx.get(&texts).clone().into_bytes();
        for (at, byte) in ops {
            let i = at.index(b.len());
            // Mostly structural bytes, so records really break.
            b[i] = match byte % 6 { 0 => b'\n', 1 => b'"', 2 => b'\\', 3 => b'\t', 4 => b'=', _ => byte };
        }
        let keep = cut.index(b.len() + 1);
        b.truncate(keep);
        let text = String::from_utf8_lossy(&b).into_owned();
        let (evs, errs) = parse_direct(&text, &berlin());
        for e in &evs {
            prop_assert!(common::raw_matches(text.as_bytes(), &e.full_provenance()));
        }
        let mut nos: Vec<u64> = evs.iter().map(|e| e.provenance.record_no).chain(errs.iter().map(|e| e.record_no)).collect();
        nos.sort_unstable();
        prop_assert_eq!(nos, (1..=(evs.len() + errs.len()) as u64).collect::<Vec<_>>());
        let _ = sessions(&evs);
    }
}

// ---------------------------------------------------------------------------------------
// End to end: a real FreeRADIUS server writes the detail file we parse.

fn freeradius_binary() -> Option<PathBuf> {
    for p in ["/usr/sbin/freeradius", "/usr/sbin/radiusd"] {
        if Path::new(p).is_file() {
            return Some(PathBuf::from(p));
        }
    }
    let out = std::process::Command::new("which")
        .arg("freeradius")
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| PathBuf::from(s))
}

/// Kills the server when the test ends, however it ends.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for(what: &str, timeout: std::time::Duration, mut ok: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < timeout {
        if ok() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("timed out after {timeout:?} waiting for {what}");
}

fn radclient(dir: &Path, port: u16, kind: &str, packet: &str, name: &str) -> String {
    let f = dir.join(format!("{name}.radclient"));
    std::fs::write(&f, packet).unwrap();
    let out = std::process::Command::new("radclient")
        .args(["-D", "/usr/share/freeradius", "-d"])
        .arg(dir)
        .args(["-r", "2", "-t", "3", "-f"])
        .arg(&f)
        .arg(format!("127.0.0.1:{port}"))
        .arg(kind)
        .arg("irpack-test-secret")
        .output()
        .expect("run radclient (package freeradius-utils)");
    let s = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.contains("Received"), "radclient {name}: no reply:\n{s}");
    s
}

#[test]
fn real_freeradius_server_end_to_end() {
    let Some(bin) = freeradius_binary() else {
        eprintln!("NOTE: freeradius not installed (apt-get install freeradius freeradius-utils); real-server test skipped");
        return;
    };
    if std::process::Command::new("radclient")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("NOTE: radclient not installed (apt-get install freeradius-utils); real-server test skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (acct, auth) = (free_udp_port(), free_udp_port());
    let conf = include_str!("freeradius/radiusd.conf.in")
        .replace("@DIR@", &dir.display().to_string())
        .replace("@ACCT_PORT@", &acct.to_string())
        .replace("@AUTH_PORT@", &auth.to_string())
        .replace("@DICTDIR@", "/usr/share/freeradius");
    std::fs::write(dir.join("radiusd.conf"), conf).unwrap();
    std::fs::write(dir.join("dictionary"), "# local dictionary: none\n").unwrap();
    for d in ["log", "run", "radacct"] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let log = dir.join("server.log");
    // Foreground, single-threaded debug mode; the server's zone is CET/CEST (Berlin's rule as
    // a POSIX string, no tzdata needed) so headers are local time as on a real server.
    let child = std::process::Command::new(&bin)
        .arg("-X")
        .arg("-d")
        .arg(dir)
        .env("TZ", "CET-1CEST,M3.5.0,M10.5.0/3")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start freeradius");
    let mut server = Server(child);
    wait_for(
        "FreeRADIUS to be ready",
        std::time::Duration::from_secs(20),
        || {
            if let Ok(Some(st)) = server.0.try_wait() {
                panic!(
                    "freeradius exited ({st}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Ready to process requests"))
        },
    );

    let now = Utc::now().timestamp();
    let common = "NAS-IP-Address = 10.10.0.1\nNAS-Identifier = \"fgt-vpn-01\"\nNAS-Port-Type = Virtual\nService-Type = Framed-User\n\
                  Framed-IP-Address = 10.212.134.77\nCalling-Station-Id = \"203.0.113.45\"\nCalled-Station-Id = \"192.0.2.10\"\n\
                  Acct-Session-Id = \"e2e0c0de\"\nUser-Name = \"jäger@contoso.com\"\nFortinet-Group-Name = \"VPN-Users\"\n";
    let reply = radclient(dir, auth, "auth", "User-Name = \"jäger@contoso.com\"\nUser-Password = \"Corp-Pass-2025\"\nNAS-IP-Address = 10.10.0.1\nCalling-Station-Id = \"203.0.113.45\"\n", "auth");
    assert!(reply.contains("Access-Accept"), "{reply}");
    radclient(
        dir,
        acct,
        "acct",
        &format!(
            "Acct-Status-Type = Start\n{common}Event-Timestamp = {now}\nAcct-Delay-Time = 0\n"
        ),
        "start",
    );
    radclient(
        dir,
        acct,
        "acct",
        &format!("Acct-Status-Type = Interim-Update\n{common}Acct-Session-Time = 600\nAcct-Input-Octets = 1000\nAcct-Input-Gigawords = 1\nAcct-Output-Octets = 2000\nEvent-Timestamp = {now}\nAcct-Delay-Time = 0\n"),
        "interim",
    );
    radclient(
        dir,
        acct,
        "acct",
        &format!("Acct-Status-Type = Stop\n{common}Acct-Session-Time = 1200\nAcct-Input-Octets = 5000\nAcct-Input-Gigawords = 1\nAcct-Output-Octets = 9000\nAcct-Terminate-Cause = User-Request\nEvent-Timestamp = {now}\nAcct-Delay-Time = 2\n"),
        "stop",
    );

    // The server writes before it answers; still, wait (bounded) for all three records.
    let radacct = dir.join("radacct").join("127.0.0.1");
    let find = |prefix: &str| -> Option<PathBuf> {
        std::fs::read_dir(&radacct)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
    };
    wait_for(
        "3 records in the detail file",
        std::time::Duration::from_secs(10),
        || {
            find("detail-")
                .and_then(|p| std::fs::read_to_string(p).ok())
                .is_some_and(|t| t.matches("\n\tTimestamp = ").count() == 3)
        },
    );
    drop(server);

    let detail = find("detail-").unwrap();
    let bytes = std::fs::read(&detail).unwrap();
    let p = common::parse_path(&detail, &ParseContext::default());
    assert_eq!(
        p.format,
        Some("radius_detail"),
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(
        (p.events.len(), p.rejected.len()),
        (3, 0),
        "{:?}",
        p.rejected
    );
    assert!(p
        .events
        .iter()
        .all(|e| common::raw_matches(&bytes, &e.full_provenance())));
    let actions_seen: Vec<_> = p.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions_seen,
        [
            actions::SESSION_START,
            actions::SESSION_INTERIM,
            actions::SESSION_STOP
        ]
    );
    for ev in &p.events {
        assert_eq!(ev.user.as_deref(), Some("jäger@contoso.com"));
        assert_eq!(ev.src_ip.as_deref(), Some("203.0.113.45"));
        assert!(
            (ev.time.timestamp() - now).abs() < 120,
            "server time {} vs sent {now}",
            ev.time
        );
        // The server's header is its local (CET/CEST) time of the same instant.
        let header = ex(ev, "header").unwrap();
        let naive = radius_detail::parse_ctime(header).unwrap();
        let tz: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        assert_eq!(
            tz.from_local_datetime(&naive)
                .earliest()
                .map(|t| t.with_timezone(&Utc)),
            Some(ev.time)
        );
    }
    let ss = sessions(&p.events);
    assert_eq!(ss.len(), 1);
    let s = &ss[0];
    assert_eq!(s.session_id, "e2e0c0de");
    assert_eq!(
        (s.nas_ip.as_deref(), s.nas_identifier.as_deref()),
        (Some("10.10.0.1"), Some("fgt-vpn-01"))
    );
    assert_eq!(
        (s.client_ip.as_deref(), s.framed_ip.as_deref()),
        (Some("203.0.113.45"), Some("10.212.134.77"))
    );
    assert!(s.has_start && s.stop_count == 1 && !s.still_active);
    assert_eq!(s.interim_count, 1);
    assert_eq!(s.duration_secs, Some(1200));
    assert_eq!(s.bytes_in, Some((1u64 << 32) + 5000));
    assert_eq!(s.bytes_out, Some(9000));
    assert_eq!(s.terminate_cause.as_deref(), Some("User-Request"));
    // Stop sent with Acct-Delay-Time 2: the session ends 2 s before the server got it.
    assert_eq!(s.end, Some(p.events[2].time - chrono::Duration::seconds(2)));
    assert_eq!(
        s.event_hashes,
        p.events.iter().map(Event::hash).collect::<Vec<_>>()
    );

    // auth_log wrote the Access-Request.
    let auth_file = find("auth-detail-").expect("auth-detail file");
    let a = common::parse_path(&auth_file, &ParseContext::default());
    assert_eq!((a.events.len(), a.rejected.len()), (1, 0));
    assert_eq!(
        (a.events[0].class, a.events[0].action.as_str()),
        (EventClass::Authentication, actions::SIGN_IN)
    );
    assert_eq!(a.events[0].user.as_deref(), Some("jäger@contoso.com"));
    assert!(!a.events[0].extra["attributes"]
        .as_object()
        .unwrap()
        .contains_key("User-Password"));
}
