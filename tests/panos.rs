//! PAN-OS: the real Elastic GlobalProtect corpus (10.0, 10.1+ and Cortex Data Lake layouts),
//! samples of TRAFFIC/THREAT/GLOBALPROTECT/SYSTEM/AUTH/CONFIG, bad input, generator, proptest.
mod common;

use irpack::event::{EventClass, Outcome};
use irpack::sources::{self, panos, ParseContext};
use proptest::prelude::*;

fn zone(z: &str) -> ParseContext {
    let mut ctx = ParseContext::default();
    ctx.zones.insert("panos".into(), z.parse().unwrap());
    ctx
}

#[test]
fn corpus_globalprotect_sample() {
    let Some(path) =
        common::corpus_file("panos/elastic-integrations__test-panw-panos-globalprotect-sample.log")
    else {
        return;
    };
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("panos"));
    assert_eq!((p.events.len(), p.rejected.len()), (12, 0));
    common::check_provenance(&path, &p.events);
    assert!(p
        .events
        .iter()
        .all(|e| e.class == EventClass::Authentication && e.source() == "panos"));

    // PAN-OS 10.0 layout: public IP is the source, private IP the assigned address.
    let e = &p.events[0];
    assert_eq!(e.operation(), "portal-prelogin");
    assert_eq!(e.src_ip.as_deref(), Some("216.160.83.57"));
    assert_eq!(common::extra_str(e, "assigned_ip"), Some("81.2.69.193"));
    assert_eq!(
        e.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("BE")
    );
    assert_eq!(e.time_original(), "2021/03/24 11:30:00");
    assert_eq!(e.time_zone(), "UTC (assumed: no zone given)");
    assert_eq!(
        e.device.as_ref().and_then(|d| d.os.as_deref()),
        Some("OS 10 Pro , 64-bit")
    );
    let e = &p.events[1];
    assert_eq!(e.user.as_deref(), Some("domain\\user"));
    assert_eq!(common::extra_str(e, "assigned_ip"), Some("10.20.13.217"));
    assert_eq!(common::extra_str(e, "portal"), Some("GlobalProtect_GW"));
    // 10.1+ layout: gateway-auth success; the bogus 1970 high-resolution time is ignored.
    let e = &p.events[5];
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("vpn_login", Outcome::Success)
    );
    assert_eq!(e.operation(), "gateway-auth");
    assert_eq!(e.user.as_deref(), Some("maxmustermann"));
    assert_eq!(e.src_ip.as_deref(), Some("10.20.30.40"));
    assert_eq!(e.time_original(), "2021/03/02 09:55:39");
    assert_eq!(common::extra_str(e, "priority"), Some("manual only"));
    assert_eq!(common::extra_str(e, "auth_method"), Some("Other"));
    assert_eq!(
        e.device.as_ref().and_then(|d| d.name.as_deref()),
        Some("PC1234")
    );
    // Generated time in Europe/Berlin when the case says so.
    let pb = common::parse_path(&path, &zone("Europe/Berlin"));
    assert_eq!(pb.events[5].time.to_rfc3339(), "2021-03-02T08:55:39+00:00");
    assert_eq!(pb.events[5].time_zone(), "Europe/Berlin (assumed)");
    // Cortex Data Lake: ISO times with Z, serial `no-serial`.
    let e = &p.events[9];
    assert_eq!(e.variant(), "cdl_csv");
    assert_eq!(e.time.to_rfc3339(), "2021-10-22T16:10:05+00:00");
    assert_eq!(e.time_zone(), "UTC");
    assert_eq!(e.src_ip.as_deref(), Some("10.1.1.1"));
    assert_eq!(common::extra_str(e, "assigned_ip"), Some("10.2.2.2"));
    assert_eq!(e.user.as_deref(), Some("host\\\\user"));
    assert_eq!(
        pb.events[9].time, e.time,
        "a zoned time ignores the case zone"
    );
    // IPv6-only record: public/private v6 used.
    let e = &p.events[11];
    assert_eq!(e.src_ip.as_deref(), Some("fc00::1234"));
    assert_eq!(common::extra_str(e, "assigned_ip"), Some("fc00::abcd"));
    assert_eq!(
        common::extra_str(e, "opaque"),
        Some("Pre-tunnel latency: 35ms, Post-tunnel latency: 16ms")
    );
}

#[test]
fn sample_traffic_and_threat() {
    let path = common::samples_dir().join("panos/traffic_threat_syslog.log");
    let p = common::parse_path(&path, &zone("Europe/Berlin"));
    assert_eq!(p.format, Some("panos"));
    assert_eq!((p.events.len(), p.rejected.len()), (7, 0));
    common::check_provenance(&path, &p.events);
    let acts: Vec<(&str, Outcome)> = p
        .events
        .iter()
        .map(|e| (e.action.as_str(), e.outcome))
        .collect();
    assert_eq!(
        acts,
        vec![
            ("flow_allowed", Outcome::Success),
            ("flow_allowed", Outcome::Success),
            ("flow_denied", Outcome::Failure),
            ("flow_denied", Outcome::Failure),
            ("threat", Outcome::Failure),
            ("threat", Outcome::Failure),
            ("threat", Outcome::Failure),
        ]
    );
    let start = &p.events[0];
    assert_eq!(start.time_zone(), "Europe/Berlin (assumed)");
    assert_eq!(start.time.to_rfc3339(), "2024-03-14T08:12:03+00:00");
    let end = &p.events[1];
    // The high-resolution timestamp carries its offset and wins.
    assert_eq!(end.time_original(), "2024-03-14T09:12:40.812+01:00");
    assert_eq!(end.time_zone(), "+01:00");
    assert_eq!(
        (end.cold().bytes_out, end.cold().bytes_in),
        (Some(48211), Some(1877420))
    );
    assert_eq!(end.user.as_deref(), Some("corp\\j.doe"));
    assert_eq!(end.cold().session_id.as_deref(), Some("118822"));
    assert_eq!(end.reason.as_deref(), Some("tcp-fin"));
    assert_eq!(common::extra_str(end, "rule"), Some("allow-o365"));
    assert_eq!(common::extra_str(end, "natsrc"), Some("198.51.100.7"));
    let deny = &p.events[2];
    assert_eq!(
        deny.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("DE")
    );
    assert_eq!(deny.cold().dst_port, Some(3389));
    let url = &p.events[4];
    // Quoted URL with a comma stays one field and later columns stay in place.
    assert_eq!(url.resource().as_deref(), Some("login-microsoftonline.example-verify.com/common/oauth2/authorize?client_id=4765445b,redirect=1"));
    assert_eq!(common::extra_str(url, "category"), Some("phishing"));
    assert!(url
        .user_agent()
        .as_deref()
        .unwrap_or("")
        .contains("Edg/122"));
    assert_eq!(
        common::extra_str(&p.events[5], "threatid"),
        Some("Microsoft Exchange Server Remote Code Execution Vulnerability(58738)")
    );
    assert_eq!(common::extra_str(&p.events[6], "action"), Some("sinkhole"));
}

#[test]
fn sample_globalprotect_layouts() {
    let path = common::samples_dir().join("panos/globalprotect_10_0.log");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!((p.events.len(), p.rejected.len()), (6, 0));
    common::check_provenance(&path, &p.events);
    let acts: Vec<&str> = p.events.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        acts,
        vec![
            "other",
            "vpn_login",
            "vpn_login",
            "vpn_tunnel_up",
            "vpn_login_failed",
            "vpn_tunnel_down"
        ]
    );
    let fail = &p.events[4];
    assert_eq!(fail.src_ip.as_deref(), Some("45.137.21.9"));
    assert_eq!(fail.user.as_deref(), Some("a.admin"));
    assert_eq!(fail.reason.as_deref(), Some("Authentication failed"));
    assert_eq!(
        fail.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("RU")
    );
    assert_eq!(
        common::extra_str(&p.events[3], "assigned_ip"),
        Some("10.212.134.21")
    );

    let path = common::samples_dir().join("panos/globalprotect_10_1.log");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!((p.events.len(), p.rejected.len()), (4, 0));
    common::check_provenance(&path, &p.events);
    let e = &p.events[0];
    assert_eq!(
        (e.action.as_str(), e.src_ip.as_deref()),
        ("vpn_login", Some("102.89.34.12"))
    );
    assert_eq!(e.time.to_rfc3339(), "2024-03-15T01:14:07.298+00:00");
    assert_eq!(common::extra_str(e, "gateway"), Some("GP-GW-EU"));
    assert_eq!(common::extra_str(e, "device_name"), Some("PA-3220-HQ"));
    assert_eq!(p.events[2].action, "vpn_login_failed");
    // Empty high-resolution field: generated time, zone assumed.
    assert_eq!(p.events[3].time_zone(), "UTC (assumed: no zone given)");
}

#[test]
fn sample_system_auth_config() {
    let path = common::samples_dir().join("panos/system_auth_config.log");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!((p.events.len(), p.rejected.len()), (9, 0));
    common::check_provenance(&path, &p.events);
    let e = &p.events[0];
    assert_eq!(
        (e.action.as_str(), e.outcome),
        ("admin_login", Outcome::Failure)
    );
    assert_eq!(
        (e.user.as_deref(), e.src_ip.as_deref()),
        (Some("admin"), Some("45.137.21.9"))
    );
    assert_eq!(e.reason.as_deref(), Some("Invalid username or password"));
    let e = &p.events[2];
    assert_eq!(
        (e.action.as_str(), e.src_ip.as_deref()),
        ("admin_login", Some("10.1.5.20"))
    );
    let e = &p.events[3];
    assert_eq!(
        (e.action.as_str(), e.user.as_deref(), e.src_ip.as_deref()),
        ("vpn_login_failed", Some("svc_backup"), Some("45.137.21.9"))
    );
    assert_eq!(
        e.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("RU")
    );
    assert_eq!(
        e.reason.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    let e = &p.events[4];
    assert_eq!(e.action, "vpn_tunnel_up");
    assert_eq!(common::extra_str(e, "assigned_ip"), Some("10.212.134.21"));
    assert_eq!(p.events[6].action, "sign_in");
    assert_eq!(p.events[7].outcome, Outcome::Failure);
    assert_eq!(p.events[8].operation(), "CONFIG:edit");
    assert_eq!(p.events[8].user.as_deref(), Some("admin"));
}

#[test]
fn bad_input_is_rejected_with_line_numbers() {
    let good = "Nov 30 16:09:08 1,2021/03/24 11:30:00,013101001305,GLOBALPROTECT,0,2305,2021/03/24 11:30:00,vsys1,gateway-auth,login,,,bob,BE,,216.160.83.57,0.0.0.0,81.2.69.193,0.0.0.0,h,,5.2.4,OS,\"OS 10\",1,,,,success,,0,,0,GP,1,0x0";
    let bad_time = "Nov 30 16:09:08 1,2021/03/24 11:30:00,013101001305,GLOBALPROTECT,0,2305,2021/13/40 99:30:00,vsys1,gateway-auth,login";
    let truncated = "Nov 30 16:09:08 1,2021/03/24 11:30:00,013101001305,TRAFFIC,end,2305,2021/03/24 11:30:01,10.0.0.1,10.0.0";
    let empty_time = "Nov 30 16:09:08 1,2021/03/24 11:30:00,013101001305,SYSTEM,general,2305,,,general,,0,0,general,informational,\"x\"";
    let text = format!("{good}\n{bad_time}\n{truncated}\n\nnot a pan line\n{empty_time}\n");
    let p = sources::parse_bytes(
        &sources::registry(),
        text.as_bytes(),
        "t",
        "0",
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("panos"));
    assert_eq!(p.records(), 5);
    let rej: Vec<(u64, u64)> = p.rejected.iter().map(|r| (r.record_no, r.line)).collect();
    assert_eq!(rej, vec![(2, 2), (4, 5)]);
    assert!(
        p.rejected[0].reason.contains("Generated Time"),
        "{}",
        p.rejected[0].reason
    );
    // A truncated TRAFFIC row keeps what it has.
    let t = p
        .events
        .iter()
        .find(|e| e.provenance.record_no == 3)
        .unwrap();
    assert_eq!(t.src_ip.as_deref(), Some("10.0.0.1"));
    assert_eq!(t.cold().dst_ip, None);
    // Empty Generated Time falls back to Receive Time.
    let s = p
        .events
        .iter()
        .find(|e| e.provenance.record_no == 5)
        .unwrap();
    assert_eq!(s.time_original(), "2021/03/24 11:30:00");
}

#[test]
fn generator_is_deterministic_and_parses_cleanly() {
    let mut a = Vec::new();
    let mut b = Vec::new();
    let n = panos::generate(3, 150_000, &mut a).unwrap();
    panos::generate(3, 150_000, &mut b).unwrap();
    assert_eq!(a, b);
    let p = sources::parse_bytes(
        &sources::registry(),
        &a,
        "gen",
        "0",
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("panos"));
    assert_eq!(p.records(), n);
    assert!(p.rejected.is_empty(), "{:?}", p.rejected.first());
    for a in [
        "flow_allowed",
        "flow_denied",
        "threat",
        "vpn_login",
        "admin_login",
    ] {
        assert!(p.events.iter().any(|e| e.action == a), "{a}");
    }
}

/// `cargo test --release --test panos -- --ignored --nocapture`
#[test]
#[ignore]
fn throughput_100mb() {
    common::line_throughput("panos", panos::generate, &panos::PanOs);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn mutated_lines_account_for_every_record(
        picks in proptest::collection::vec((0usize..16, 0usize..600, any::<u8>(), 0usize..600), 1..10)
    ) {
        let lines = common::sample_file_lines(&["panos/traffic_threat_syslog.log", "panos/globalprotect_10_1.log", "panos/system_auth_config.log"]);
        let out = common::mutate_lines(&lines, &picks, b',');
        if let Some((records, non_blank)) = common::records_and_lines(&out, |f| ["panos", "fortigate", "cef"].contains(&f)) {
            prop_assert_eq!(records, non_blank);
        }
    }
}
