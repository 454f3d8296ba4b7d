//! Windows NPS / IAS logs in the three formats NPS writes (IAS legacy, database-compatible,
//! DTS XML), local times, request/reply pairing, sessions, bad input and fuzzing.

mod common;

use chrono::{DateTime, Utc};
use irpack::event::{actions, Event, EventClass, Outcome};
use irpack::sources::radius_sessions::sessions;
use irpack::sources::{self, nps, Input, ParseContext, Parsed, Source};
use proptest::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

fn ctx(zone: &str) -> ParseContext {
    let mut c = ParseContext::default();
    c.zones.insert("nps".into(), zone.parse().unwrap());
    c
}

fn sample(name: &str) -> PathBuf {
    common::samples_dir().join("nps").join(name)
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ex<'e>(ev: &'e Event, k: &str) -> Option<&'e str> {
    ev.extra.get(k).and_then(Value::as_str)
}

fn parse_sample(name: &str, zone: &str) -> Parsed {
    let path = sample(name);
    let bytes = std::fs::read(&path).unwrap();
    let p = common::parse_path(&path, &ctx(zone));
    assert_eq!(p.format, Some("nps"), "{name}");
    assert!(p.rejected.is_empty(), "{name}: {:?}", p.rejected);
    for e in &p.events {
        assert!(
            common::raw_matches(&bytes, &e.full_provenance()),
            "{name} record {}",
            e.provenance.record_no
        );
        assert_eq!(e.source(), "nps");
    }
    p
}

fn parse_direct(text: &str, c: &ParseContext) -> (Vec<Event>, Vec<irpack::sources::RecordError>) {
    let input = Input::new(text, "sha", "test/nps", 0, None);
    let (mut evs, mut errs) = (Vec::new(), Vec::new());
    nps::Nps.parse(&input, c, &mut |it| match it {
        Ok(e) => evs.push(e),
        Err(e) => errs.push(e),
    });
    (evs, errs)
}

/// Database-compatible (ODBC) log across the 2025-03-30 spring-forward in Europe/Berlin.
#[test]
fn odbc_sample() {
    let p = parse_sample("IN2503-odbc.log", "Europe/Berlin");
    assert_eq!(p.events.len(), 9);
    assert!(p.events.iter().all(|e| e.variant() == "odbc"));
    let req = &p.events[0];
    assert_eq!(
        (req.class, req.action.as_str(), req.outcome),
        (
            EventClass::Authentication,
            actions::SIGN_IN,
            Outcome::Unknown
        )
    );
    assert_eq!(req.operation(), "Access-Request");
    assert_eq!(req.time_original(), "03/30/2025 01:44:58");
    assert_eq!(req.time_zone(), "Europe/Berlin (assumed)");
    assert_eq!(req.time, utc("2025-03-30T00:44:58Z"));
    assert_eq!(req.src_ip.as_deref(), Some("203.0.113.45"));
    assert_eq!(ex(req, "computer_name"), Some("NPS01"));
    assert_eq!(ex(req, "client_friendly_name"), Some("fgt-vpn-01"));
    assert_eq!(ex(req, "authentication_type"), Some("PAP"));
    assert_eq!(ex(req, "nas_port_type"), Some("Virtual"));
    assert_eq!(
        req.extra["attributes"]["Fully-Qualified-Distinguished-Name"],
        "contoso.com/Users/Alice Example"
    );

    // The Accept carries no User-Name or Calling-Station-ID: completed from its request.
    let acc = &p.events[1];
    assert_eq!(
        (acc.action.as_str(), acc.outcome),
        (actions::SIGN_IN, Outcome::Success)
    );
    assert_eq!(acc.user.as_deref(), Some("alice@contoso.com"));
    assert_eq!(acc.src_ip.as_deref(), Some("203.0.113.45"));
    assert_eq!(acc.extra["request_record_no"], 1);
    assert_eq!(ex(acc, "network_policy"), Some("VPN Users"));
    assert_eq!(
        acc.cold().correlation_id.as_deref(),
        Some("311 1 10.1.0.20 03/29/2025 22:10:03 41")
    );

    // A rejected password: failure with the reason, user and attacker IP from the request.
    let rej = &p.events[4];
    assert_eq!(
        (rej.operation().as_str(), rej.outcome),
        ("Access-Reject", Outcome::Failure)
    );
    assert_eq!(rej.reason.as_deref(), Some("Reason-Code 16: authentication failed: user credentials mismatch (wrong user name or password)"));
    assert_eq!(rej.user.as_deref(), Some("bob@contoso.com"));
    assert_eq!(rej.src_ip.as_deref(), Some("198.51.100.99"));
    assert_eq!(rej.extra["reason_code"], 16);

    // Accounting: Start, and an interim after the clocks jumped from 02:00 to 03:00.
    let start = &p.events[2];
    assert_eq!(
        (
            start.class,
            start.action.as_str(),
            start.operation().as_str()
        ),
        (EventClass::Accounting, actions::SESSION_START, "Start")
    );
    assert_eq!(start.cold().session_id.as_deref(), Some("04a1c2f7"));
    assert_eq!(ex(start, "framed_ip"), Some("10.212.134.20"));
    let interim = &p.events[6];
    assert_eq!(interim.time, utc("2025-03-30T01:15:10Z"));
    assert_eq!((interim.time - start.time).num_seconds(), 1800);

    let ss = sessions(&p.events);
    assert_eq!(ss.len(), 2);
    let a = ss.iter().find(|s| s.session_id == "04a1c2f7").unwrap();
    assert_eq!(a.source, "nps");
    assert_eq!(a.user.as_deref(), Some("alice@contoso.com"));
    assert_eq!(
        (a.client_ip.as_deref(), a.framed_ip.as_deref()),
        (Some("203.0.113.45"), Some("10.212.134.20"))
    );
    assert_eq!(
        (a.start, a.end),
        (
            Some(utc("2025-03-30T00:45:10Z")),
            Some(utc("2025-03-30T01:40:44Z"))
        )
    );
    assert_eq!(
        (a.duration_secs, a.bytes_in, a.bytes_out),
        (Some(3334), Some(48_213_772), Some(912_455_103))
    );
    assert_eq!(a.terminate_cause.as_deref(), Some("User-Request"));
    assert_eq!(a.event_hashes.len(), 3);
    let c = ss
        .iter()
        .find(|s| s.user.as_deref() == Some("carol@contoso.com"))
        .unwrap();
    assert!(c.still_active);
    assert_eq!(c.calling_station_id.as_deref(), Some("3c-22-fb-9a-0b-7c"));
    assert_eq!(c.client_ip, None);
    assert_eq!(c.nas_port_type.as_deref(), Some("Wireless-802.11"));
}

/// IAS (legacy) format: attribute-id/value pairs, a hex-encoded user name with a comma,
/// gigawords, an Accounting-On before a Wi-Fi session that stays open.
#[test]
fn ias_sample() {
    let p = parse_sample("IN2506-ias.log", "Europe/Berlin");
    assert_eq!(p.events.len(), 10);
    assert!(p.events.iter().all(|e| e.variant() == "ias"));
    let on = &p.events[0];
    assert_eq!(
        (on.action.as_str(), on.operation().as_str()),
        (actions::ACCOUNTING_ON, "Accounting-On")
    );
    assert_eq!(ex(on, "nas_identifier"), Some("wlc-hq"));
    assert_eq!(on.time, utc("2025-06-10T07:00:31Z"));
    let req = &p.events[1];
    assert_eq!(req.user.as_deref(), Some("dave@contoso.com"));
    assert_eq!(ex(req, "sam_account_name"), Some("CONTOSO\\dave"));
    assert_eq!(ex(req, "service_name"), Some("IAS"));
    assert_eq!(req.extra["attributes"]["Packet-Type"], "1");
    let acc = &p.events[2];
    assert_eq!(
        (acc.outcome, acc.src_ip.as_deref()),
        (Outcome::Success, Some("203.0.113.80"))
    );
    // "Doe, John" was logged as hex because it holds the delimiter.
    let rej = &p.events[5];
    assert_eq!(rej.outcome, Outcome::Failure);
    assert_eq!(rej.user.as_deref(), Some("Doe, John"));
    assert_eq!(
        rej.reason.as_deref(),
        Some("Reason-Code 8: no such user account")
    );
    assert_eq!(rej.src_ip.as_deref(), Some("45.155.205.11"));
    let interim = p
        .events
        .iter()
        .find(|e| {
            e.action == actions::SESSION_INTERIM && e.user.as_deref() == Some("dave@contoso.com")
        })
        .unwrap();
    assert_eq!(interim.cold().bytes_in, Some(9_876_543_210));

    let ss = sessions(&p.events);
    assert_eq!(ss.len(), 2);
    let d = ss.iter().find(|s| s.session_id == "0b3f9a01").unwrap();
    assert_eq!((d.interim_count, d.stop_count), (1, 1));
    assert_eq!(d.terminate_cause.as_deref(), Some("Idle-Timeout"));
    assert_eq!(d.bytes_in, Some(2 * (1u64 << 32) + 1_523_311_001));
    assert_eq!(d.duration_secs, Some(2894));
    let e = ss
        .iter()
        .find(|s| s.user.as_deref() == Some("erin@contoso.com"))
        .unwrap();
    // The Accounting-On came before erin's session: it does not end it.
    assert!(e.still_active && e.nas_restart.is_none());
    assert_eq!(e.calling_station_id.as_deref(), Some("ac-de-48-00-11-22"));
}

/// DTS (XML) format: PEAP on Wi-Fi with an Access-Challenge, a reject without User-Name,
/// XML entities, and a session's Start/Stop.
#[test]
fn dts_sample() {
    let p = parse_sample("IN2501-dts.log", "Europe/Berlin");
    assert_eq!(p.events.len(), 7);
    assert!(p.events.iter().all(|e| e.variant() == "dts"));
    let req = &p.events[0];
    assert_eq!(req.time_original(), "01/15/2025 08:01:12.204");
    assert_eq!(req.time, utc("2025-01-15T07:01:12.204Z"));
    assert_eq!(
        ex(req, "called_station_id"),
        Some("00-3a-7d-11-22-30:R&D-WIFI")
    );
    assert_eq!(ex(req, "authentication_type"), Some("PEAP"));
    assert_eq!(req.src_ip, None);
    assert_eq!(ex(req, "calling_station_id"), Some("b8-e8-56-36-b6-58"));
    let chal = &p.events[1];
    assert_eq!(
        (chal.class, chal.action.as_str(), chal.operation().as_str()),
        (
            EventClass::Authentication,
            actions::OTHER,
            "Access-Challenge"
        )
    );
    let acc = &p.events[2];
    assert_eq!(
        (acc.outcome, acc.user.as_deref()),
        (Outcome::Success, Some("frank@contoso.com"))
    );
    assert_eq!(
        ex(acc, "eap_type"),
        Some("Microsoft: Secured password (EAP-MSCHAP v2)")
    );
    assert_eq!(ex(acc, "calling_station_id"), Some("b8-e8-56-36-b6-58"));
    let rej = &p.events[5];
    assert_eq!(rej.outcome, Outcome::Failure);
    assert_eq!(rej.user.as_deref(), Some("grace@contoso.com"));
    assert!(rej
        .reason
        .as_deref()
        .unwrap()
        .starts_with("Reason-Code 65:"));
    let ss = sessions(&p.events);
    assert_eq!(ss.len(), 1);
    let s = &ss[0];
    assert_eq!(
        (s.duration_secs, s.bytes_out),
        (Some(5640), Some((1u64 << 32) + 77_001_233))
    );
    assert_eq!(s.framed_ip.as_deref(), Some("10.20.36.14"));
    assert!(!s.still_active);
}

/// NPS may switch format mid-file: each line is recognized on its own.
#[test]
fn mixed_formats_in_one_file() {
    let p = parse_sample("IN2503-mixed.log", "Europe/Berlin");
    let variants: Vec<_> = p.events.iter().map(|e| e.variant()).collect();
    assert_eq!(variants, ["odbc", "odbc", "dts", "dts"]);
    assert_eq!(p.events[3].user.as_deref(), Some("alice@contoso.com"));
    assert_eq!(p.events[3].extra["request_record_no"], 3);
}

#[test]
fn no_zone_means_utc_assumed() {
    let p = common::parse_path(&sample("IN2503-odbc.log"), &ParseContext::default());
    assert_eq!(p.events[0].time_zone(), "UTC (assumed: no zone given)");
    assert_eq!(p.events[0].time, utc("2025-03-30T01:44:58Z"));
}

#[test]
fn bad_input_is_rejected_with_line_numbers() {
    let text = std::fs::read_to_string(sample("IN2503-odbc.log")).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    let c = ctx("Europe/Berlin");

    // Missing columns (a line cut short), a bad date, an unterminated quote, a truncated DTS
    // event, an IAS line with an attribute id but no value, and plain garbage.
    let cut = lines[2].split(',').take(12).collect::<Vec<_>>().join(",");
    let bad_date = lines[3].replace("03/30/2025", "30/03/2025");
    let bad_quote = lines[5].replacen("\"carol@contoso.com\"", "\"carol@contoso.com", 1);
    let dts = "<Event><Timestamp data_type=\"4\">01/15/2025 08:01:12.204</Timestamp><User-Name data_type=\"1\">x</User-Name>";
    let ias = "10.10.0.1,dave,06/10/2025,09:14:02,IAS,NPS02,1,dave,4136";
    let body = [
        lines[0],
        &cut,
        &bad_date,
        &bad_quote,
        dts,
        ias,
        "this is not NPS",
        lines[1],
    ]
    .join("\r\n");
    let (evs, errs) = parse_direct(&body, &c);
    assert_eq!((evs.len(), errs.len()), (2, 6));
    assert_eq!(
        errs.iter().map(|e| e.line).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6, 7]
    );
    assert_eq!(
        errs.iter().map(|e| e.record_no).collect::<Vec<_>>(),
        [2, 3, 4, 5, 6, 7]
    );
    assert!(errs[0].reason.contains("columns"), "{}", errs[0].reason);
    assert!(
        errs[1].reason.contains("30/03/2025 01:52:31"),
        "{}",
        errs[1].reason
    );
    assert!(
        errs[2].reason.contains("column 6") && errs[2].reason.contains("quote"),
        "{}",
        errs[2].reason
    );
    assert!(errs[3].reason.contains("</Event>"), "{}", errs[3].reason);
    assert!(
        errs[4].reason.contains("without a value"),
        "{}",
        errs[4].reason
    );
    assert!(errs[5].reason.contains("not an NPS"), "{}", errs[5].reason);
    assert_eq!(evs[1].provenance.record_no, 8);
    // Rejected lines in between do not break pairing: the Accept still finds its request.
    assert_eq!(evs[1].extra["request_record_no"], 1);

    let reg = sources::registry();
    for empty in ["", "\r\n\r\n"] {
        let p = sources::parse_bytes(&reg, empty.as_bytes(), "empty.log", "sha", &c);
        assert_eq!((p.format, p.records()), (None, 0));
        let (evs, errs) = parse_direct(empty, &c);
        assert_eq!(evs.len() + errs.len(), 0);
    }
}

#[test]
fn pretty_printed_dts_event() {
    let text = "<Event>\r\n  <Timestamp data_type=\"4\">01/15/2025 08:01:12.204</Timestamp>\r\n  <Computer-Name data_type=\"1\">NPS03</Computer-Name>\r\n  <Packet-Type data_type=\"0\">3</Packet-Type>\r\n  <Reason-Code data_type=\"0\">16</Reason-Code>\r\n</Event>\r\n";
    assert_eq!(nps::Nps.sniff(&text.repeat(5)), 95);
    let (evs, errs) = parse_direct(text, &ctx("UTC"));
    assert!(errs.is_empty(), "{errs:?}");
    assert_eq!(evs.len(), 1);
    assert_eq!(evs[0].outcome, Outcome::Failure);
    assert_eq!(evs[0].cold().byte_len as usize, text.trim_end().len());
}

#[test]
fn detection_keeps_to_its_formats() {
    let reg = sources::registry();
    let odbc = std::fs::read_to_string(sample("IN2503-odbc.log")).unwrap();
    assert_eq!(sources::detect(&reg, &odbc).map(|s| s.id()), Some("nps"));
    let detail =
        std::fs::read_to_string(common::samples_dir().join("radius/detail-20250310-asa-aruba"))
            .unwrap();
    assert_eq!(
        sources::detect(&reg, &detail).map(|s| s.id()),
        Some("radius_detail")
    );
    assert_eq!(nps::Nps.sniff(&detail), 0);
    for other in [
        "date,time,user\n06/10/2025,09:14:02,alice\n",
        "Jun 10 09:14:02 host sshd[1]: Accepted password for alice from 1.2.3.4\n",
        "<?xml version=\"1.0\"?><Events><Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System/></Event></Events>\n",
    ] {
        assert_eq!(nps::Nps.sniff(other), 0, "{other}");
    }
}

fn samples_texts() -> Vec<String> {
    [
        "IN2503-odbc.log",
        "IN2506-ias.log",
        "IN2501-dts.log",
        "IN2503-mixed.log",
    ]
    .iter()
    .map(|n| std::fs::read_to_string(sample(n)).unwrap())
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_lines_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        let (evs, errs) = parse_direct(&text, &ctx("Europe/Berlin"));
        let mut nos: Vec<u64> = evs.iter().map(|e| e.provenance.record_no).chain(errs.iter().map(|e| e.record_no)).collect();
        nos.sort_unstable();
        prop_assert_eq!(nos, (1..=(evs.len() + errs.len()) as u64).collect::<Vec<_>>());
        let _ = nps::Nps.sniff(&text);
    }

    #[test]
    fn mutated_samples_never_panic(idx in any::<prop::sample::Index>(), cut in any::<prop::sample::Index>(), ops in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..24)) {
        let texts = samples_texts();
        let mut b = idx.get(&texts).clone().into_bytes();
        for (at, byte) in ops {
            let i = at.index(b.len());
            b[i] = match byte % 7 { 0 => b'\n', 1 => b'"', 2 => b',', 3 => b'<', 4 => b'>', 5 => b'/', _ => byte };
        }
        b.truncate(cut.index(b.len() + 1));
        let text = String::from_utf8_lossy(&b).into_owned();
        let (evs, errs) = parse_direct(&text, &ctx("Europe/Berlin"));
        for e in &evs {
            prop_assert!(common::raw_matches(text.as_bytes(), &e.full_provenance()));
        }
        let mut nos: Vec<u64> = evs.iter().map(|e| e.provenance.record_no).chain(errs.iter().map(|e| e.record_no)).collect();
        nos.sort_unstable();
        prop_assert_eq!(nos, (1..=(evs.len() + errs.len()) as u64).collect::<Vec<_>>());
        let _ = sessions(&evs);
        let reg = sources::registry();
        let p = sources::parse_bytes(&reg, &b, "fuzz", "sha", &ctx("Europe/Berlin"));
        prop_assert_eq!(p.records(), (p.events.len() + p.rejected.len()) as u64);
    }
}
