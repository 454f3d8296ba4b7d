//! CEF: the shared parser, vendor dispatch (FortiGate, PAN-OS, generic), Sentinel
//! CommonSecurityLog CSV/JSON exports, bad input and a proptest.
mod common;

use irpack::event::Outcome;
use irpack::sources::{self, cef, ParseContext};
use proptest::prelude::*;

#[test]
fn parser_escapes_and_spaces() {
    let c = cef::parse(r"CEF:0|Ven\|dor|Prod\\uct|1.0|42|Name with spaces|5|msg=a b\=c d=x\\y cs1Label=Rule cs1=allow any url=http://h/p?q=1&r=2 empty= last=end ").unwrap();
    assert_eq!(c.vendor, "Ven|dor");
    assert_eq!(c.product, "Prod\\uct");
    assert_eq!(c.name, "Name with spaces");
    assert_eq!(c.get("msg"), Some("a b=c"));
    assert_eq!(c.get("d"), Some("x\\y"));
    assert_eq!(c.labeled("rule"), Some("allow any"));
    assert_eq!(c.get("url"), Some("http://h/p?q=1&r=2"));
    assert_eq!(c.get("empty"), None);
    assert_eq!(c.get("last"), Some("end"));
    let keys: Vec<&str> = c.ext.iter().map(|(k, _)| k.as_ref()).collect();
    assert_eq!(
        keys,
        vec!["msg", "d", "cs1Label", "cs1", "url", "empty", "last"]
    );
    assert!(cef::parse("CEF:0|only|four|fields").is_err());
    assert!(cef::parse("no cef here").is_err());
}

#[test]
fn fortigate_cef_dispatches_to_fortigate_mapping() {
    let path = common::samples_dir().join("cef/fortigate_cef.log");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("cef"));
    assert_eq!((p.events.len(), p.rejected.len()), (4, 0));
    common::check_provenance(&path, &p.events);
    assert!(p
        .events
        .iter()
        .all(|e| e.source() == "fortigate" && e.variant() == "cef"));
    let up = &p.events[0];
    assert_eq!(up.action, "vpn_tunnel_up");
    assert_eq!(up.user.as_deref(), Some("j.doe"));
    assert_eq!(up.src_ip.as_deref(), Some("102.89.34.12"));
    assert_eq!(common::extra_str(up, "assigned_ip"), Some("10.212.134.200"));
    assert_eq!(up.time.to_rfc3339(), "2024-03-14T01:14:31.004120336+00:00");
    assert_eq!(common::extra_str(up, "cef_vendor"), Some("Fortinet"));
    assert_eq!(common::extra_str(up, "syslog_host"), Some("fw-hq-01"));
    let deny = &p.events[1];
    assert_eq!(
        (deny.action.as_str(), deny.cold().dst_port),
        ("flow_denied", Some(3389))
    );
    assert_eq!(
        deny.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("RU")
    );
    assert_eq!(deny.cold().session_id.as_deref(), Some("88123190"));
    let admin = &p.events[2];
    assert_eq!(
        (admin.action.as_str(), admin.outcome),
        ("admin_login", Outcome::Failure)
    );
    assert_eq!(admin.user.as_deref(), Some("admin"));
    let web = &p.events[3];
    assert_eq!(web.action, "threat");
    assert_eq!(web.resource().as_deref(), Some("https://login-microsoftonline.example-verify.com/common/oauth2/authorize?client_id=4765445b"));
    assert_eq!(web.cold().bytes_out, Some(517));
}

#[test]
fn panos_cef_firewall_and_cortex_forwarder() {
    let path = common::samples_dir().join("cef/panos_cef.log");
    let mut ctx = ParseContext::default();
    ctx.zones
        .insert("panos".into(), "Europe/Berlin".parse().unwrap());
    let p = common::parse_path(&path, &ctx);
    assert_eq!(p.format, Some("cef"));
    assert_eq!((p.events.len(), p.rejected.len()), (4, 0));
    common::check_provenance(&path, &p.events);
    assert!(p.events.iter().all(|e| e.source() == "panos"));
    let t = &p.events[0];
    assert_eq!(
        (t.action.as_str(), t.operation().as_str()),
        ("flow_allowed", "TRAFFIC:end allow")
    );
    assert_eq!(t.time_original(), "Mar 14 2024 09:12:40");
    assert_eq!(t.time_zone(), "Europe/Berlin (assumed)");
    assert_eq!(t.time.to_rfc3339(), "2024-03-14T08:12:40+00:00");
    assert_eq!(
        (t.cold().bytes_out, t.cold().bytes_in),
        (Some(48211), Some(1877420))
    );
    assert_eq!(common::extra_str(t, "rule"), Some("allow-o365"));
    assert_eq!(common::extra_str(t, "from"), Some("trust"));
    assert_eq!(t.cold().session_id.as_deref(), Some("118822"));
    assert_eq!(t.user.as_deref(), Some("corp\\j.doe"));
    let u = &p.events[1];
    assert_eq!(u.action, "threat");
    assert_eq!(
        u.resource().as_deref(),
        Some("login-microsoftonline.example-verify.com/common/oauth2/authorize?client_id=4765445b")
    );
    assert_eq!(common::extra_str(u, "threatid"), Some("(9999)"));
    let gp = &p.events[2];
    assert_eq!(
        (gp.action.as_str(), gp.src_ip.as_deref()),
        ("vpn_login", Some("81.2.69.160"))
    );
    assert_eq!(gp.user.as_deref(), Some("j.doe@example.com"));
    let lf = &p.events[3];
    assert_eq!(
        (lf.action.as_str(), lf.outcome),
        ("vpn_login_failed", Outcome::Failure)
    );
    assert_eq!(lf.src_ip.as_deref(), Some("45.137.21.9"));
    assert_eq!(lf.time_zone(), "UTC", "dtz=UTC beats the case zone");
    assert_eq!(
        lf.reason.as_deref(),
        Some("Authentication failed: Invalid username or password")
    );
    assert_eq!(
        lf.geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("RU")
    );
}

#[test]
fn other_vendors_get_generic_mapping_never_dropped() {
    let path = common::samples_dir().join("cef/other_vendors.cef");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("cef"));
    assert_eq!((p.events.len(), p.rejected.len()), (2, 1));
    common::check_provenance(&path, &p.events);
    let asa = &p.events[0];
    assert_eq!(
        (asa.source().as_str(), asa.action.as_str(), asa.outcome),
        ("cef", "sign_in", Outcome::Failure)
    );
    assert_eq!(common::extra_str(asa, "msg"), Some("AAA user authentication Rejected : reason = AAA failure : server = 10.1.5.30 : user = j.doe"));
    let proxy = &p.events[1];
    assert_eq!(proxy.action, "flow_denied");
    assert_eq!(proxy.time_zone(), "Europe/Berlin");
    assert_eq!(proxy.time.to_rfc3339(), "2024-03-14T08:06:30+00:00");
    assert_eq!(
        proxy.resource().as_deref(),
        Some("https://files.example-share.net/d/7f3a?dl=1")
    );
    assert_eq!(proxy.user_agent().as_deref(), Some("curl/8.4.0"));
    // A record with no time of its own and only an RFC 3164 header (no year) is rejected.
    assert_eq!(p.rejected[0].line, 3);
    assert!(p.rejected[0].reason.contains("no timestamp"));
}

#[test]
fn sentinel_commonsecuritylog_csv_and_json() {
    let path = common::samples_dir().join("cef/commonsecuritylog_fortigate.csv");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("cef"));
    assert_eq!((p.events.len(), p.rejected.len()), (4, 0));
    common::check_provenance(&path, &p.events);
    let up = &p.events[0];
    assert_eq!(
        (up.source().as_str(), up.variant(), up.action.as_str()),
        ("fortigate", "sentinel_csv", "vpn_tunnel_up")
    );
    assert_eq!(up.src_ip.as_deref(), Some("102.89.34.12"));
    assert_eq!(up.user.as_deref(), Some("j.doe"));
    assert_eq!(common::extra_str(up, "assigned_ip"), Some("10.212.134.200"));
    assert_eq!(
        common::extra_str(up, "TimeGenerated"),
        Some("3/14/2024, 1:14:33.120 AM")
    );
    let deny = &p.events[1];
    assert_eq!(
        (deny.action.as_str(), deny.cold().src_port),
        ("flow_denied", Some(42111))
    );
    let admin = &p.events[2];
    assert_eq!(
        (admin.action.as_str(), admin.outcome, admin.user.as_deref()),
        ("admin_login", Outcome::Failure, Some("admin"))
    );
    // Check Point has no vendor mapping: generic, with Sentinel's TimeGenerated as the time.
    let cp = &p.events[3];
    assert_eq!(
        (cp.source().as_str(), cp.action.as_str()),
        ("cef", "flow_allowed")
    );
    assert_eq!(cp.time.to_rfc3339(), "2024-03-14T01:25:00+00:00");
    assert_eq!(
        (cp.cold().bytes_out, cp.cold().bytes_in),
        (Some(48211), Some(1877420))
    );
    assert_eq!(p.events[3].line(), 5);

    let path = common::samples_dir().join("cef/commonsecuritylog.json");
    let p = common::parse_path(&path, &ParseContext::default());
    assert_eq!(p.format, Some("cef"));
    assert_eq!((p.events.len(), p.rejected.len()), (3, 0));
    common::check_provenance(&path, &p.events);
    let gp = &p.events[0];
    assert_eq!(
        (gp.source().as_str(), gp.variant(), gp.action.as_str()),
        ("panos", "sentinel_json", "vpn_login")
    );
    assert_eq!(gp.time_zone(), "Europe/Berlin");
    assert_eq!(gp.time.to_rfc3339(), "2024-03-14T06:58:20+00:00");
    assert_eq!(p.events[1].source(), "fortigate");
    assert_eq!(
        p.events[1].geo.as_ref().and_then(|g| g.country.as_deref()),
        Some("RU")
    );
    let z = &p.events[2];
    assert_eq!(
        (z.source().as_str(), z.action.as_str(), z.user.as_deref()),
        ("cef", "flow_denied", Some("m.smith@example.com"))
    );
}

#[test]
fn bad_input_is_rejected_with_line_numbers() {
    let text = "CEF:0|Fortinet|Fortigate|v7|13|traffic:forward deny|3|FTNTFGTeventtime=1710379025 src=1.2.3.4 act=deny\n\
CEF:0|Fortinet|Fortigate|v7|13\n\
CEF:0|Acme|X|1|1|n|1|rt=not a time src=1.2.3.4\n\
\n\
CEF:0|Acme|X|1|1|n|1|rt=1710379025000 src=1.2.3.4\n";
    let p = sources::parse_bytes(
        &sources::registry(),
        text.as_bytes(),
        "t",
        "0",
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("cef"));
    assert_eq!(p.records(), 4);
    let rej: Vec<(u64, u64)> = p.rejected.iter().map(|r| (r.record_no, r.line)).collect();
    assert_eq!(rej, vec![(2, 2), (3, 3)]);
    assert!(
        p.rejected[0].reason.contains("truncated CEF header"),
        "{}",
        p.rejected[0].reason
    );
    assert!(
        p.rejected[1].reason.contains("rt="),
        "{}",
        p.rejected[1].reason
    );
    assert_eq!(p.events[1].line(), 5);

    // CommonSecurityLog CSV with a row missing columns.
    let csv = "TimeGenerated [UTC],DeviceVendor,DeviceProduct,Activity,SourceIP\n\"3/14/2024, 1:25:00.000 AM\",Acme,X,Accept,10.0.0.1\n\"3/14/2024, 1:26:00.000 AM\",Acme\n";
    let p = sources::parse_bytes(
        &sources::registry(),
        csv.as_bytes(),
        "t",
        "0",
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("cef"));
    assert_eq!((p.events.len(), p.rejected.len()), (1, 1));
    assert_eq!(p.rejected[0].line, 3);
    // Truncated JSON export: earlier records kept, the tail rejected.
    let json = "[{\"TimeGenerated\":\"2024-03-14T08:02:00Z\",\"DeviceVendor\":\"Acme\",\"DeviceProduct\":\"X\"},{\"DeviceVendor\":\"Ac";
    let p = sources::parse_bytes(
        &sources::registry(),
        json.as_bytes(),
        "t",
        "0",
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("cef"));
    assert_eq!((p.events.len(), p.rejected.len()), (1, 1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn cef_parser_never_panics(s in "CEF:0\\|[ -~|\\\\=]{0,300}") {
        let _ = cef::parse(&s);
    }

    #[test]
    fn mutated_cef_accounts_for_every_record(
        picks in proptest::collection::vec((0usize..16, 0usize..900, any::<u8>(), 0usize..900), 1..10)
    ) {
        let lines = common::sample_file_lines(&["cef/fortigate_cef.log", "cef/panos_cef.log", "cef/other_vendors.cef"]);
        let out = common::mutate_lines(&lines, &picks, b'|');
        if let Some((records, non_blank)) = common::records_and_lines(&out, |f| ["panos", "fortigate", "cef"].contains(&f)) {
            prop_assert_eq!(records, non_blank);
        }
    }
}
