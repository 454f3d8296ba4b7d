//! Entra ID Protection risk: the Graph docs page in the corpus (JSON inside Markdown), Graph
//! and diagnostic JSON samples, the Log Analytics CSV, broken input and fuzzing.

mod common;

use common::check_accounting;
use common::{extra_str as x, parse_raw};

use irpack::event::{actions, EventClass, Outcome};
use irpack::sources::{self, ParseContext, Parsed, Source};
use proptest::prelude::*;

fn ctx() -> ParseContext {
    ParseContext::default()
}

fn sample(name: &str) -> (Vec<u8>, Parsed) {
    let p = common::samples_dir().join("entra_risk").join(name);
    let bytes = std::fs::read(&p).unwrap();
    (bytes, common::parse_path(&p, &ctx()))
}

#[test]
fn corpus_graph_docs_markdown() {
    let Some(path) =
        common::corpus_file("entra_risk/microsoft-graph-docs-contrib__riskdetection-list.md")
    else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let p = common::parse_path(&path, &ctx());
    assert_eq!(p.format, Some("entra_risk"));
    assert_eq!((p.events.len(), p.rejected.len()), (1, 0));
    check_accounting(&bytes, &p);
    let e = &p.events[0];
    let raw =
        &bytes[e.cold().byte_offset as usize..(e.cold().byte_offset + e.cold().byte_len) as usize];
    assert!(raw.starts_with(b"{") && raw.ends_with(b"}"));
    assert!(std::str::from_utf8(raw)
        .unwrap()
        .contains("\"riskEventType\": \"unfamiliarFeatures\""));
    let text = std::str::from_utf8(&bytes).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("\"@odata.type\": \"#microsoft.graph.riskDetection\""))
        .unwrap() as u64;
    assert_eq!(
        e.line(),
        line,
        "the record starts on the line of its opening brace"
    );
    assert_eq!(e.variant(), "graph_docs_markdown");
    assert_eq!(
        (e.class, e.action.as_str(), e.operation().as_str()),
        (
            EventClass::RiskDetection,
            actions::RISK_DETECTED,
            "unfamiliarFeatures"
        )
    );
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.time.to_rfc3339(), "2018-09-05T00:09:18.782285100+00:00");
    assert_eq!(e.time_original(), "2018-09-05T00:09:18.7822851Z");
    assert_eq!(x(e, "detected_time"), Some("2018-09-05T00:11:27.773602Z"));
    assert_eq!(e.user.as_deref(), Some("olack@adatum.com"));
    assert_eq!(
        e.user_id.as_deref(),
        Some("abcdefab-af90-4edf-ac4c-742ff06735d0")
    );
    // The docs' address is not an IPv4 address; it is kept aside, not passed off as one.
    assert_eq!(e.src_ip, None);
    assert_eq!(x(e, "src_ip_unparsed"), Some("123.456.7.89"));
    let g = e.geo.as_ref().unwrap();
    assert_eq!(
        (g.city.as_deref(), g.state.as_deref(), g.country.as_deref()),
        (Some("Seattle"), Some("Washington"), Some("US"))
    );
    assert_eq!(
        (x(e, "risk_state"), x(e, "risk_level"), x(e, "risk_detail")),
        (
            Some("remediated"),
            Some("medium"),
            Some("userPerformedSecuredPasswordReset")
        )
    );
    assert_eq!(x(e, "detection_timing_type"), Some("realtime"));
    assert_eq!(x(e, "activity"), Some("signin"));
    assert!(e
        .user_agent()
        .as_deref()
        .unwrap()
        .contains("Chrome/68.0.3440.106"));
    assert_eq!(
        e.cold().request_id.as_deref(),
        Some("6a5874ca-abcd-9d82-5ad39bd71600")
    );
}

#[test]
fn markdown_blocks_without_value_arrays_are_documentation() {
    let md = "---\ntitle: x\n---\n# Get riskDetection\n``` http\nGET /identityProtection/riskDetections/1\n```\n\
              ```json\n{\n  \"riskEventType\": \"String\",\n  \"activityDateTime\": \"String (timestamp)\"\n}\n```\n\
              ``` http\nHTTP/1.1 200 OK\n\n{\n  \"value\": [\n    {\"riskEventType\": \"passwordSpray\", \"activityDateTime\": \"2024-03-11T09:02:11Z\", \"detectionTimingType\": \"offline\"},\n    {\"riskEventType\": \"leakedCredentials\", \"activityDateTime\": \"not a time\"}\n  ]\n}\n```\n";
    let p = parse_raw(md.as_bytes());
    assert_eq!(p.format, Some("entra_risk"));
    assert_eq!((p.events.len(), p.rejected.len()), (1, 1));
    check_accounting(md.as_bytes(), &p);
    assert_eq!(p.events[0].operation(), "passwordSpray");
    assert_eq!(p.rejected[0].line, 20);
    assert!(p.rejected[0]
        .reason
        .contains("activityDateTime 'not a time'"));
}

#[test]
fn sample_graph_detections() {
    let (b, p) = sample("graph_riskdetections.json");
    assert_eq!((p.events.len(), p.rejected.len()), (5, 0));
    check_accounting(&b, &p);
    let ops: Vec<&str> = p.events.iter().map(|e| e.operation().as_str()).collect();
    assert_eq!(
        ops,
        vec![
            "leakedCredentials",
            "passwordSpray",
            "unfamiliarFeatures",
            "anonymizedIPAddress",
            "suspiciousInboxForwarding"
        ]
    );
    let leaked = &p.events[0];
    assert_eq!(
        (leaked.src_ip.as_deref(), leaked.geo.as_ref()),
        (None, None)
    );
    assert_eq!(x(leaked, "activity"), Some("user"));
    // Offline detection: activity time and detection time 12 hours apart, both kept.
    let spray = &p.events[1];
    assert_eq!(spray.time.to_rfc3339(), "2024-03-11T09:02:11.883+00:00");
    assert_eq!(x(spray, "detected_time"), Some("2024-03-11T21:48:50.361Z"));
    assert_eq!(x(spray, "detection_timing_type"), Some("offline"));
    assert_eq!(spray.src_ip.as_deref(), Some("198.51.100.23"));
    assert_eq!(spray.geo.as_ref().unwrap().lat, Some(6.4531));
    assert_eq!(
        spray.user_agent().as_deref(),
        Some("python-requests/2.31.0")
    );
    assert_eq!(p.events[3].src_ip.as_deref(), Some("185.220.101.44"));
    assert_eq!(
        x(&p.events[4], "risk_source"),
        Some("MicrosoftCloudAppSecurity")
    );
}

#[test]
fn sample_diagnostic_records_with_locale_and_unpadded_times() {
    let (b, p) = sample("diagnostic_userriskevents.json");
    assert_eq!((p.events.len(), p.rejected.len()), (2, 0));
    check_accounting(&b, &p);
    let e = &p.events[1];
    assert_eq!(e.variant(), "diagnostic_json");
    assert_eq!(e.time_original(), "2024-03-11T9:02:11.883Z");
    assert_eq!(e.time.to_rfc3339(), "2024-03-11T09:02:11.883+00:00");
    assert_eq!(x(e, "detected_time"), Some("2024-03-11T21:48:50.361Z"));
    assert_eq!(
        x(e, "detected_time_original"),
        Some("2024-03-11T21:48:50.361Z")
    );
    assert_eq!(x(e, "category"), Some("UserRiskEvents"));
    assert_eq!(x(e, "risk_type"), Some("generic"));

    let (b, p) = sample("diagnostic_riskyusers.json");
    assert_eq!((p.events.len(), p.rejected.len()), (2, 0));
    check_accounting(&b, &p);
    assert!(p
        .events
        .iter()
        .all(|e| e.action == actions::USER_RISK_CHANGED && e.operation() == "Risky user"));
    assert_eq!(p.events[0].time_original(), "2024-03-11T9:03:09.702Z");
    assert_eq!(x(&p.events[1], "risk_state"), Some("remediated"));
    assert_eq!(
        x(&p.events[1], "risk_detail"),
        Some("adminGeneratedTemporaryPassword")
    );
    assert_eq!(
        p.events[1].user_id.as_deref(),
        Some("3c9e2f4a-8b1d-4e7c-a5f2-9d0b6e1c4a87")
    );

    // Only the locale envelope time: it is used, and parsed as the UTC Microsoft writes.
    let t = r#"{"time":"8/22/2022 6:07:16 PM","category":"RiskyUsers","operationName":"Risky user","properties":{"id":"u1","userPrincipalName":"a@b.example","riskState":"atRisk"}}"#;
    let p = parse_raw(t.as_bytes());
    assert_eq!((p.events.len(), p.rejected.len()), (1, 0));
    assert_eq!(p.events[0].time.to_rfc3339(), "2022-08-22T18:07:16+00:00");
    assert_eq!(p.events[0].time_original(), "8/22/2022 6:07:16 PM");

    let (b, p) = sample("graph_riskyusers.json");
    assert_eq!((p.events.len(), p.rejected.len()), (1, 0));
    check_accounting(&b, &p);
    assert_eq!(x(&p.events[0], "risk_level"), Some("high"));
}

#[test]
fn sample_sentinel_csv() {
    let (b, p) = sample("sentinel_aaduserriskevents.csv");
    assert_eq!(p.format, Some("entra_risk"));
    assert_eq!((p.events.len(), p.rejected.len()), (3, 0));
    check_accounting(&b, &p);
    let e = &p.events[1];
    assert_eq!(e.variant(), "csv");
    assert_eq!(e.time_original(), "3/11/2024, 9:02:11.883 AM");
    assert_eq!(e.time.to_rfc3339(), "2024-03-11T09:02:11.883+00:00");
    assert_eq!(x(e, "detected_time"), Some("2024-03-11T21:48:50.361Z"));
    assert_eq!(
        e.geo.as_ref().and_then(|g| g.city.as_deref()),
        Some("Lagos")
    );
    assert_eq!(e.user_agent().as_deref(), Some("python-requests/2.31.0"));
}

#[test]
fn bad_input_is_rejected_with_location() {
    let good = r#"{"riskEventType":"passwordSpray","activityDateTime":"2024-03-11T09:02:11Z","detectedDateTime":"2024-03-11T21:48:50Z","userPrincipalName":"a@b.example"}"#;
    let bad = good.replace("2024-03-11T09:02:11Z", "2024-02-30T09:02:11Z");
    let odd_detected = good.replace("2024-03-11T21:48:50Z", "soon");
    let t = format!("{good}\n{bad}\n{odd_detected}\n{}", &good[..50]);
    let p = parse_raw(t.as_bytes());
    assert_eq!(p.format, Some("entra_risk"));
    assert_eq!((p.events.len(), p.rejected.len()), (2, 2));
    check_accounting(t.as_bytes(), &p);
    assert_eq!(p.rejected[0].line, 2);
    assert!(p.rejected[0]
        .reason
        .contains("activityDateTime '2024-02-30T09:02:11Z'"));
    assert_eq!(p.rejected[1].line, 4);
    // A bad detection time does not lose the event; the text is kept.
    assert_eq!(x(&p.events[1], "detected_time_unparsed"), Some("soon"));

    let t = "TimeGenerated [UTC],RiskEventType,ActivityDateTime [UTC]\r\n,unfamiliarFeatures,\r\n";
    let p = parse_raw(t.as_bytes());
    assert_eq!((p.events.len(), p.rejected.len()), (0, 1));
    assert_eq!(p.rejected[0].line, 2);
    assert!(p.rejected[0].reason.contains("no activityDateTime"));

    let p = parse_raw(b"");
    assert_eq!((p.events.len(), p.rejected.len()), (0, 0));
}

#[test]
fn does_not_claim_other_sources() {
    let Some(dir) = common::corpus_dir() else {
        return;
    };
    let src = sources::entra_risk::EntraRisk;
    for sub in [
        "entra_signin",
        "entra_audit",
        "m365_ual",
        "fortigate",
        "panos",
        "radius",
    ] {
        for f in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let text = sources::text::decode(&std::fs::read(f.path()).unwrap())
                .text
                .into_owned();
            let head: String = text.chars().take(sources::SNIFF_BYTES).collect();
            assert_eq!(
                src.sniff(&head),
                0,
                "entra_risk claims {}",
                f.path().display()
            );
        }
    }
    let ual = sources::m365_ual::M365Ual;
    for sub in [
        "entra_signin",
        "entra_audit",
        "entra_risk",
        "fortigate",
        "panos",
        "radius",
    ] {
        for f in std::fs::read_dir(dir.join(sub)).unwrap().flatten() {
            let text = sources::text::decode(&std::fs::read(f.path()).unwrap())
                .text
                .into_owned();
            let head: String = text.chars().take(sources::SNIFF_BYTES).collect();
            assert_eq!(
                ual.sniff(&head),
                0,
                "m365_ual claims {}",
                f.path().display()
            );
        }
    }
}

fn samples_bytes() -> Vec<Vec<u8>> {
    let dir = common::samples_dir().join("entra_risk");
    let mut v: Vec<Vec<u8>> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    if let Some(md) =
        common::corpus_file("entra_risk/microsoft-graph-docs-contrib__riskdetection-list.md")
            .filter(|p| p.exists())
    {
        v.push(std::fs::read(md).unwrap());
    }
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let p = parse_raw(&bytes);
        check_accounting(&bytes, &p);
    }

    #[test]
    fn random_markdown_never_panics(s in "(---\n|# x\n|```( json| http)?\n|\\{\"value\": \\[|\\{\"riskEventType\":\"a\"|\\]\\}|\n|\"|,|\\}|[a-z ]{0,8}){0,40}") {
        let p = parse_raw(s.as_bytes());
        check_accounting(s.as_bytes(), &p);
    }

    #[test]
    fn mutated_samples_keep_accounting(which in 0usize..64, cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..12)) {
        let all = samples_bytes();
        let mut b = all[which % all.len()].clone();
        for (pos, byte) in flips {
            let i = ((b.len() as f64) * pos) as usize;
            if i < b.len() {
                b[i] = byte;
            }
        }
        b.truncate(((b.len() as f64) * (0.5 + cut / 2.0)) as usize);
        let p = parse_raw(&b);
        check_accounting(&b, &p);
    }
}
