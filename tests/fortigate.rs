//! FortiGate: the real Elastic test corpus, every sample variant, bad input, generator and
//! a proptest over random and mutated input.
mod common;

use irpack::event::{Event, Outcome};
use irpack::sources::{self, fortigate, ParseContext};
use proptest::prelude::*;

fn by_record(events: &[Event], n: u64) -> &Event {
    events
        .iter()
        .find(|e| e.provenance.record_no == n)
        .unwrap_or_else(|| panic!("no event for record {n}"))
}

fn berlin() -> ParseContext {
    let mut ctx = ParseContext::default();
    ctx.zones
        .insert("fortigate".into(), "Europe/Berlin".parse().unwrap());
    ctx
}

#[test]
fn corpus_elastic_fortinet_log() {
    let Some(path) = common::corpus_file("fortigate/elastic-integrations__test-fortinet.log")
    else {
        return;
    };
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("fortigate"));
    // 53 lines (the last without a newline: the file is one character short of its origin).
    assert_eq!(p.records(), 53);
    assert_eq!(p.events.len(), 51);
    // Two FortiManager-style lines carry `date=` empty and no time at all: nothing to place
    // them on a timeline, so they are rejected with their line numbers, never dropped.
    let lines: Vec<u64> = p.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![47, 48]);
    assert!(p.rejected.iter().all(|r| r.reason.contains("no timestamp")));
    common::check_provenance(&path, &p.events);
    let nos: Vec<u64> = {
        let mut v: Vec<u64> = p
            .events
            .iter()
            .map(|e| e.provenance.record_no)
            .chain(p.rejected.iter().map(|r| r.record_no))
            .collect();
        v.sort();
        v
    };
    assert_eq!(nos, (1..=53).collect::<Vec<_>>());

    // utm webfilter block, eventtime in ns.
    let e = by_record(&p.events, 1);
    assert_eq!(e.action, "threat");
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(e.time_original(), "1587230269052907555");
    assert_eq!(e.time.to_rfc3339(), "2020-04-18T17:17:49.052907555+00:00");
    assert_eq!(e.user.as_deref(), Some("elasticuser"));
    assert_eq!(e.cold().bytes_out, Some(1152));
    assert_eq!(e.cold().bytes_in, Some(1130));
    assert_eq!(e.resource().as_deref(), Some("elastic.co/config/"));
    assert_eq!(common::extra_str(e, "catdesc"), Some("Internet Telephony"));
    // traffic deny, eventtime in seconds.
    let e = by_record(&p.events, 2);
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("flow_denied", Outcome::Failure)
    );
    assert_eq!(e.time.to_rfc3339(), "2020-06-24T01:16:08+00:00");
    assert_eq!(e.src_ip.as_deref(), Some("10.10.10.10"));
    assert_eq!(e.cold().dst_port, Some(161));
    // SSL VPN tunnel up: remote public IP is the source, tunnel IP the assigned address.
    let e = by_record(&p.events, 21);
    assert_eq!(e.action, "vpn_tunnel_up");
    assert_eq!(e.user.as_deref(), Some("someuser"));
    assert_eq!(e.src_ip.as_deref(), Some("67.43.156.13"));
    assert_eq!(common::extra_str(e, "assigned_ip"), Some("10.10.10.10"));
    assert_eq!(e.operation(), "SSL VPN tunnel up");
    // traffic close with bytes, country name → ISO code, name kept.
    let e = by_record(&p.events, 28);
    assert_eq!(
        e.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("NL")
    );
    assert_eq!(common::extra_str(e, "srccountry"), Some("Netherlands"));
    let e = by_record(&p.events, 30);
    assert_eq!(
        (e.cold().bytes_out, e.cold().bytes_in),
        (Some(923), Some(77654))
    );
    assert_eq!(e.app().as_deref(), Some("Skype.Portals"));
    // quoted value with commas stays one value.
    assert_eq!(
        common::extra_str(e, "vwlquality"),
        Some("Seq_num(3), alive, selected")
    );
    // Bare values, no eventtime, no tz: local time, zone from the case or assumed UTC.
    let e = by_record(&p.events, 32);
    assert_eq!(e.time_zone(), "UTC (assumed: no zone given)");
    assert_eq!(e.time_original(), "2020-11-02 08:11:38");
    let pb = common::parse_path(&path, &berlin());
    let e = by_record(&pb.events, 32);
    assert_eq!(e.time_zone(), "Europe/Berlin (assumed)");
    assert_eq!(e.time.to_rfc3339(), "2020-11-02T07:11:38+00:00");
    // FortiManager-style admin login (log_id/desc/pri), tz given: +02:00.
    let e = by_record(&p.events, 50);
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("admin_login", Outcome::Success)
    );
    assert_eq!(e.time.to_rfc3339(), "2023-12-13T05:56:14+00:00");
    assert_eq!(e.time_zone(), "+02:00");
    assert_eq!(e.src_ip.as_deref(), Some("192.168.0.10"));
    let e = by_record(&p.events, 51);
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("admin_login", Outcome::Failure)
    );
    // Admin login failed (no date/time, eventtime only).
    let e = by_record(&p.events, 52);
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("admin_login", Outcome::Failure)
    );
    assert_eq!(e.user.as_deref(), Some("philipp"));
    assert_eq!(e.reason.as_deref(), Some("ssh_key_invalid"));
    assert_eq!(e.cold().dst_ip.as_deref(), Some("10.123.26.241"));
    // Two tz keys in one line (`UTC-5:00` and `-0500`): eventtime wins anyway.
    let e = by_record(&p.events, 45);
    assert_eq!(e.time.to_rfc3339(), "2023-03-08T18:22:46.091256698+00:00");
    assert_eq!(e.app().as_deref(), Some("X-VPN"));
}

#[test]
fn sample_syslog_vpn_admin_traffic() {
    let path = common::samples_dir().join("fortigate/syslog_vpn_admin_traffic.log");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("fortigate"));
    assert_eq!((p.events.len(), p.rejected.len()), (11, 0));
    common::check_provenance(&path, &p.events);
    let acts: Vec<&str> = p.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        acts,
        vec![
            "vpn_login_failed",
            "vpn_tunnel_up",
            "flow_allowed",
            "flow_allowed",
            "flow_denied",
            "admin_login",
            "admin_login",
            "threat",
            "threat",
            "vpn_tunnel_down",
            "vpn_tunnel_up"
        ]
    );
    let up = &p.events[1];
    assert_eq!(up.src_ip.as_deref(), Some("102.89.34.12"));
    assert_eq!(up.user.as_deref(), Some("j.doe"));
    assert_eq!(common::extra_str(up, "assigned_ip"), Some("10.212.134.200"));
    assert_eq!(common::extra_str(up, "devname"), Some("FGT-HQ-01"));
    let deny = &p.events[4];
    assert_eq!(
        deny.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("RU")
    );
    let admin_fail = &p.events[5];
    assert_eq!(admin_fail.outcome, Outcome::Failure);
    assert_eq!(admin_fail.src_ip.as_deref(), Some("45.137.21.9"));
    assert_eq!(p.events[6].outcome, Outcome::Success);
    let ipsec = &p.events[10];
    assert_eq!(ipsec.user.as_deref(), Some("branch-fw"));
    assert_eq!(ipsec.src_ip.as_deref(), Some("198.51.100.77"));
    assert_eq!(p.events[9].cold().bytes_in, Some(918230019));
}

#[test]
fn sample_rfc5424_crlf_local_time() {
    let path = common::samples_dir().join("fortigate/syslog_rfc5424_crlf_localtime.log");
    let p = common::parse_path(&path, &berlin());
    assert_eq!(p.format, Some("fortigate"));
    assert_eq!((p.events.len(), p.rejected.len()), (4, 0));
    common::check_provenance(&path, &p.events);
    // The span stops before the CR.
    let raw = std::fs::read(&path).unwrap();
    let pr = &p.events[0].full_provenance();
    assert_ne!(raw[(pr.byte_offset + pr.byte_len - 1) as usize], b'\r');
    assert_eq!(p.events[0].time_zone(), "+01:00");
    assert_eq!(p.events[0].time.to_rfc3339(), "2024-03-14T01:30:00+00:00");
    // No tz in the record: the case's zone, said to be assumed.
    assert_eq!(p.events[1].time_zone(), "Europe/Berlin (assumed)");
    assert_eq!(p.events[1].time.to_rfc3339(), "2024-03-14T01:31:10+00:00");
    assert_eq!(
        (p.events[1].action.as_str(), p.events[1].outcome),
        ("sign_in", Outcome::Success)
    );
    assert_eq!(
        (p.events[2].action.as_str(), p.events[2].outcome),
        ("sign_in", Outcome::Failure)
    );
    assert_eq!(p.events[2].line(), 4);
    assert_eq!(p.events[3].operation(), "Configuration changed");
    assert_eq!(p.events[3].src_ip.as_deref(), Some("192.168.10.5"));
}

#[test]
fn sample_fortianalyzer_csv_both_shapes() {
    let path = common::samples_dir().join("fortigate/faz_export.csv");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("fortigate"));
    assert_eq!((p.events.len(), p.rejected.len()), (4, 0));
    common::check_provenance(&path, &p.events);
    assert!(p.events.iter().all(|e| e.variant() == "faz_csv"));
    assert_eq!(p.events[0].action, "vpn_tunnel_up");
    assert_eq!(p.events[0].src_ip.as_deref(), Some("102.89.34.12"));
    assert_eq!(p.events[0].line(), 2);
    // Empty eventtime cell: date/time in tz.
    assert_eq!(p.events[3].time_original(), "2024-03-14 02:21:50");
    assert_eq!(p.events[3].time.to_rfc3339(), "2024-03-14T01:21:50+00:00");

    let path = common::samples_dir().join("fortigate/faz_export_kv.csv");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("fortigate"));
    assert_eq!((p.events.len(), p.rejected.len()), (3, 0));
    common::check_provenance(&path, &p.events);
    assert!(p.events.iter().all(|e| e.variant() == "faz_csv_kv"));
    assert_eq!(
        common::extra_str(&p.events[0], "msg"),
        Some("SSL tunnel established, user j.doe")
    );
    assert_eq!(p.events[1].action, "admin_login");
    assert_eq!(p.events[2].time_zone(), "+01:00");
}

fn parse_text(text: &str, ctx: &ParseContext) -> sources::Parsed {
    sources::parse_bytes(&sources::registry(), text.as_bytes(), "t", "0", ctx)
}

#[test]
fn bad_input_is_rejected_with_line_numbers() {
    let good = r#"<189>date=2024-03-14 time=02:15:02 devname="FGT" devid="FG1" eventtime=1710378902 logid="0000000013" type="traffic" subtype="forward" srcip=10.0.0.1 dstip=10.0.0.2 action="accept""#;
    let bad_time = r#"<189>date=2024-13-45 time=25:00:00 devname="FGT" devid="FG1" logid="0000000013" type="traffic" subtype="forward" action="accept""#;
    let bad_epoch = r#"<189>devname="FGT" devid="FG1" eventtime=notanumber logid="0000000013" type="traffic" subtype="forward" action="accept""#;
    let truncated = r#"<189>date=2024-03-14 time=02:15:02 devname="FGT" devid="FG1" logid="0000000013" type="traffic" subtype="forward" msg="cut he"#;
    let text = format!("{good}\n{bad_time}\n\n{bad_epoch}\n{truncated}\ngarbage line\n");
    let p = parse_text(&text, &ParseContext::default());
    assert_eq!(p.format, Some("fortigate"));
    assert_eq!(p.records(), 5);
    assert_eq!(p.events.len(), 2, "{:?}", p.rejected);
    let r: Vec<(u64, u64)> = p.rejected.iter().map(|r| (r.record_no, r.line)).collect();
    assert_eq!(r, vec![(2, 2), (3, 4), (5, 6)]);
    assert!(
        p.rejected[0].reason.contains("date=\"2024-13-45\""),
        "{}",
        p.rejected[0].reason
    );
    assert!(
        p.rejected[1].reason.contains("eventtime"),
        "{}",
        p.rejected[1].reason
    );
    // The truncated line still has its time and fields: kept, value as far as it went.
    assert_eq!(common::extra_str(&p.events[1], "msg"), Some("cut he"));

    // FortiAnalyzer CSV with a missing column.
    let csv = "date,time,logid,type,subtype,eventtime,srcip,action\n2024-03-14,02:15:02,0000000013,traffic,forward,1710378902,10.0.0.1,accept\n2024-03-14,02:15:03,0000000013,traffic,forward,1710378903,10.0.0.1\n";
    let p = parse_text(csv, &ParseContext::default());
    assert_eq!(p.format, Some("fortigate"));
    assert_eq!((p.events.len(), p.rejected.len()), (1, 1));
    assert_eq!(p.rejected[0].line, 3);
    assert!(p.rejected[0].reason.contains("7 columns, header has 8"));

    // Zero bytes: nothing detected, nothing parsed.
    let p = parse_text("", &ParseContext::default());
    assert_eq!((p.format, p.records()), (None, 0));
}

#[test]
fn detection_is_exclusive() {
    let reg = sources::registry();
    for (file, want) in [
        ("fortigate/syslog_vpn_admin_traffic.log", "fortigate"),
        ("fortigate/faz_export.csv", "fortigate"),
        ("fortigate/faz_export_kv.csv", "fortigate"),
        ("cef/fortigate_cef.log", "cef"),
        ("cef/commonsecuritylog_fortigate.csv", "cef"),
        ("panos/traffic_threat_syslog.log", "panos"),
    ] {
        let text = std::fs::read_to_string(common::samples_dir().join(file)).unwrap();
        let scores: Vec<(&str, u8)> = reg.iter().map(|s| (s.id(), s.sniff(&text))).collect();
        assert_eq!(
            sources::detect(&reg, &text).map(|s| s.id()),
            Some(want),
            "{file}: {scores:?}"
        );
        let others = scores
            .iter()
            .filter(|(id, s)| *id != want && *s > 0)
            .count();
        assert_eq!(others, 0, "{file}: {scores:?}");
    }
}

#[test]
fn generator_is_deterministic_and_parses_cleanly() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let n = fortigate::generate(7, 200_000, &mut a).unwrap();
    fortigate::generate(7, 200_000, &mut b).unwrap();
    assert_eq!(a, b);
    assert!(a.len() >= 200_000);
    let mut c = Vec::new();
    fortigate::generate(8, 200_000, &mut c).unwrap();
    assert_ne!(a, c);
    let p = sources::parse_bytes(
        &sources::registry(),
        &a,
        "gen",
        "0",
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("fortigate"));
    assert_eq!(p.records(), n);
    assert!(p.rejected.is_empty(), "{:?}", p.rejected.first());
    assert!(p.events.iter().any(|e| e.action == "vpn_tunnel_up"));
    assert!(p
        .events
        .iter()
        .any(|e| e.action == "admin_login" && e.outcome == Outcome::Failure));
}

/// `cargo test --release --test fortigate -- --ignored --nocapture`
#[test]
#[ignore]
fn throughput_100mb() {
    common::line_throughput("fortigate", fortigate::generate, &fortigate::FortiGate);
}

fn sample_lines() -> Vec<String> {
    let text = std::fs::read_to_string(
        common::samples_dir().join("fortigate/syslog_vpn_admin_traffic.log"),
    )
    .unwrap();
    text.lines().map(str::to_string).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let p = sources::parse_bytes(&sources::registry(), &bytes, "p", "0", &ParseContext::default());
        let mut nos: Vec<u64> = p.events.iter().map(|e| e.provenance.record_no).chain(p.rejected.iter().map(|r| r.record_no)).collect();
        nos.sort();
        prop_assert_eq!(nos, (1..=p.records()).collect::<Vec<_>>());
    }

    #[test]
    fn mutated_lines_account_for_every_record(
        picks in proptest::collection::vec((0usize..11, 0usize..400, any::<u8>(), 0usize..400), 1..12)
    ) {
        let lines = sample_lines();
        let out = common::mutate_lines(&lines, &picks, b'x');
        // Everything but a sign-in export (which is not line-oriented) counts one record a line.
        if let Some((records, non_blank)) = common::records_and_lines(&out, |f| f != "entra_signin") {
            prop_assert_eq!(records, non_blank);
        }
    }
}
