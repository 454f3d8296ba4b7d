//! Entra ID sign-in parser: the real corpus file, a sample of every export variant, bad input,
//! and random/mutated bytes.
mod common;

use chrono::{DateTime, Utc};
use irpack::event::{Event, EventClass, Outcome, Provenance};
use irpack::sources::{self, entra_signin, Input, ParseContext, Parsed, Source};
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    common::samples_dir().join("entra_signin").join(name)
}

fn bad(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/entra_signin_bad")
        .join(name)
}

fn parse(path: &Path) -> Parsed {
    common::parse_path(path, &ParseContext::default())
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn extra<'a>(e: &'a Event, k: &str) -> Option<&'a serde_json::Value> {
    e.extra.get(k)
}

/// Every record came out exactly once, numbered 1..=n in file order, and every provenance
/// (events and rejections alike) re-hashes to the bytes it points at.
fn check_accounting(bytes: &[u8], p: &Parsed) {
    let mut nos: Vec<u64> = p
        .events
        .iter()
        .map(|e| e.provenance.record_no)
        .chain(p.rejected.iter().map(|r| r.record_no))
        .collect();
    nos.sort_unstable();
    let expect: Vec<u64> = (1..=nos.len() as u64).collect();
    assert_eq!(
        nos, expect,
        "record numbers must be 1..=n with no gap or repeat"
    );
    for e in &p.events {
        assert!(
            common::raw_matches(bytes, &e.full_provenance()),
            "event provenance does not re-hash: {:?}",
            e.provenance
        );
    }
    for r in &p.rejected {
        let prov = Provenance {
            byte_offset: r.byte_offset,
            byte_len: r.byte_len,
            raw_sha256: r.raw_sha256.clone().into(),
            decoded_from: p.decoded_from.map(Into::into),
            ..Provenance::default()
        };
        assert!(
            common::raw_matches(bytes, &prov),
            "rejection does not re-hash: {r}"
        );
    }
}

// ------------------------------------------------------------------------------------------
// Corpus
// ------------------------------------------------------------------------------------------

#[test]
fn corpus_elastic_diagnostic_lines() {
    let Some(path) =
        common::corpus_file("entra_signin/elastic-integrations__test-signinlogs-raw.log")
    else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let p = parse(&path);
    assert_eq!(p.format, Some("entra_signin"));
    assert_eq!(p.events.len(), 5);
    assert!(p.rejected.is_empty(), "rejected: {:?}", p.rejected);
    check_accounting(&bytes, &p);

    let e = &p.events[0];
    assert_eq!(e.time, utc("2019-10-18T09:45:48.0729893Z"));
    assert_eq!(e.time_original(), "2019-10-18T09:45:48.0729893Z");
    assert_eq!(e.time_zone(), "UTC");
    assert_eq!(e.variant(), "diagnostic_json");
    assert_eq!(e.class, EventClass::Authentication);
    assert_eq!(e.action, "sign_in");
    assert_eq!(e.operation(), "Sign-in activity");
    assert_eq!(e.outcome, Outcome::Interrupted);
    assert!(
        e.reason.as_deref().unwrap().starts_with("50140 "),
        "{:?}",
        e.reason
    );
    assert!(e.reason.as_deref().unwrap().contains("Keep me signed in"));
    assert_eq!(extra(e, "error_code"), Some(&serde_json::json!(50140)));
    assert_eq!(e.user.as_deref(), Some("test@elastic.co"));
    assert_eq!(
        e.user_id.as_deref(),
        Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
    );
    assert_eq!(e.src_ip.as_deref(), Some("81.2.69.144"));
    let g = e.geo.as_ref().unwrap();
    assert_eq!(g.city.as_deref(), Some("Champs-Sur-Marne"));
    assert_eq!(g.state.as_deref(), Some("Seine-Et-Marne"));
    assert_eq!(g.country.as_deref(), Some("FR"));
    assert_eq!(g.lat, Some(48.12341234));
    assert_eq!(g.lon, Some(2.12341234));
    let d = e.device.as_ref().unwrap();
    assert_eq!(d.browser.as_deref(), Some("Chrome 77.0.3865"));
    assert_eq!(d.os.as_deref(), Some("MacOs"));
    assert_eq!(d.id, None, "empty deviceId must be absent, not empty");
    assert_eq!(e.client_app().as_deref(), Some("Browser"));
    assert_eq!(e.app().as_deref(), Some("Office 365"));
    assert_eq!(
        e.cold().request_id.as_deref(),
        Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
    );
    assert_eq!(e.provenance.record_no, 1);
    assert_eq!(e.line(), 1);
    assert_eq!(e.cold().byte_offset, 0);

    let cats: Vec<_> = p
        .events
        .iter()
        .map(|e| extra(e, "category").and_then(|v| v.as_str()).unwrap())
        .collect();
    assert_eq!(
        cats,
        [
            "SignInLogs",
            "NonInteractiveUserSignInLogs",
            "ServicePrincipalSignInLogs",
            "MicrosoftServicePrincipalSignInLogs",
            "ManagedIdentitySignInLogs"
        ]
    );
    let kinds: Vec<_> = p
        .events
        .iter()
        .map(|e| extra(e, "sign_in_type").and_then(|v| v.as_str()).unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "interactive_user",
            "non_interactive_user",
            "service_principal",
            "microsoft_service_principal",
            "managed_identity"
        ]
    );
    for (i, e) in p.events.iter().enumerate() {
        assert_eq!(e.line(), i as u64 + 1);
        // The records say isInteractive:false, and the source's own flag is what we keep.
        assert_eq!(
            extra(e, "is_interactive"),
            Some(&serde_json::Value::Bool(false))
        );
        assert_eq!(e.outcome, Outcome::Interrupted);
    }
    // Records 2-5 carry an envelope correlation id that differs from the sign-in's own.
    assert_eq!(
        p.events[1].cold().correlation_id.as_deref(),
        Some("8a4de8b5-095c-47d0-a96f-a75130c61d53")
    );
    assert_eq!(
        extra(&p.events[1], "envelope_correlation_id").and_then(|v| v.as_str()),
        Some("a8d4eb85-90c5-740d-9af6-7a15036cd135")
    );
    assert_eq!(
        extra(&p.events[1], "status_additional_details").and_then(|v| v.as_str()),
        Some("MFA required")
    );
}

// ------------------------------------------------------------------------------------------
// Samples: every variant
// ------------------------------------------------------------------------------------------

const SAMPLES: &[(&str, &str, usize)] = &[
    ("graph_v1_pages.json", "graph_json", 9),
    ("graph_beta_array.json", "graph_json", 9),
    ("extractor_suite_signinlogs_ps51.json", "graph_json", 9),
    ("extractor_suite_sofelk.json", "graph_json", 9),
    ("graph_sdk_convertto_json_utf16.json", "graph_sdk_json", 6),
    ("diagnostic_eventhub_records.json", "diagnostic_json", 6),
    ("diagnostic_storage_PT1H.json", "diagnostic_json", 4),
    (
        "InteractiveSignIns_2024-03-04_2024-03-05.csv",
        "portal_csv",
        8,
    ),
    (
        "NonInteractiveSignIns_2024-03-04_2024-03-05.csv",
        "portal_csv",
        1,
    ),
    (
        "ApplicationSignIns_2024-03-04_2024-03-05.csv",
        "portal_app_csv",
        2,
    ),
    ("query_data_SigninLogs.csv", "sentinel_csv", 8),
    (
        "query_data_AADNonInteractiveUserSignInLogs_en-GB.csv",
        "sentinel_csv",
        3,
    ),
    ("sentinel_az_cli_rows.json", "sentinel_json", 5),
    ("signins_json_normalize_pandas.csv", "flattened_csv", 9),
    ("signins_flattened_export-csv_en-GB.csv", "flattened_csv", 4),
];

#[test]
fn every_sample_parses_cleanly() {
    for (name, variant, n) in SAMPLES {
        let path = sample(name);
        let bytes = std::fs::read(&path).unwrap();
        let p = parse(&path);
        assert_eq!(p.format, Some("entra_signin"), "{name}");
        assert!(p.rejected.is_empty(), "{name}: {:?}", p.rejected);
        assert_eq!(p.events.len(), *n, "{name}");
        check_accounting(&bytes, &p);
        for e in &p.events {
            assert_eq!(e.variant(), *variant, "{name}");
            assert_eq!(e.source(), "entra_signin");
            assert_eq!(e.action, "sign_in");
            assert_eq!(e.class, EventClass::Authentication);
            assert_ne!(e.outcome, Outcome::Unknown, "{name}");
            assert!(
                e.time > utc("2024-03-01T00:00:00Z") && e.time < utc("2024-03-31T00:00:00Z"),
                "{name}: {}",
                e.time
            );
            assert!(e.src_ip.is_some(), "{name}");
            assert!(e.cold().request_id.is_some(), "{name}");
            if *variant != "portal_app_csv"
                && !(*variant == "diagnostic_json"
                    && e.app().as_deref() == Some("contoso-backup-sync"))
            {
                assert!(
                    e.user
                        .as_deref()
                        .is_some_and(|u| u.ends_with("@contoso.de")),
                    "{name}: {:?}",
                    e.user
                );
                assert!(
                    extra(e, "is_interactive").is_some_and(|v| v.is_boolean()),
                    "{name}: is_interactive missing"
                );
            }
        }
    }
}

/// The MFA-denied sign-in (request …0005) exported nine different ways says the same thing.
#[test]
fn same_sign_in_same_facts_in_every_variant() {
    let files = [
        "graph_v1_pages.json",
        "graph_beta_array.json",
        "extractor_suite_signinlogs_ps51.json",
        "extractor_suite_sofelk.json",
        "graph_sdk_convertto_json_utf16.json",
        "diagnostic_eventhub_records.json",
        "InteractiveSignIns_2024-03-04_2024-03-05.csv",
        "query_data_SigninLogs.csv",
        "sentinel_az_cli_rows.json",
        "signins_json_normalize_pandas.csv",
    ];
    for f in files {
        let p = parse(&sample(f));
        let e = p
            .events
            .iter()
            .find(|e| {
                e.cold().request_id.as_deref() == Some("7d3f9a15-2c4e-4b7a-9f10-5e8d3a6c0005")
            })
            .unwrap_or_else(|| panic!("{f}: MFA-denied sign-in missing"));
        assert_eq!(
            e.time.format("%Y-%m-%dT%H:%M:%S").to_string(),
            "2024-03-04T08:31:40",
            "{f}"
        );
        assert_eq!(e.outcome, Outcome::Failure, "{f}");
        assert_eq!(
            extra(e, "error_code"),
            Some(&serde_json::json!(500121)),
            "{f}"
        );
        assert!(e.reason.as_deref().unwrap().contains("500121"), "{f}");
        assert_eq!(e.user.as_deref(), Some("alex.wagner@contoso.de"), "{f}");
        assert_eq!(e.src_ip.as_deref(), Some("45.148.10.22"), "{f}");
        assert_eq!(
            e.geo.as_ref().and_then(|g| g.country.as_deref()),
            Some("NL"),
            "{f}"
        );
        assert_eq!(
            e.geo.as_ref().and_then(|g| g.city.as_deref()),
            Some("Amsterdam"),
            "{f}"
        );
        assert_eq!(e.client_app().as_deref(), Some("Browser"), "{f}");
        assert_eq!(e.app().as_deref(), Some("OfficeHome"), "{f}");
        assert_eq!(
            e.cold().correlation_id.as_deref(),
            Some("c0000005-8e1d-4f2a-b3c5-61d7e9a2f005"),
            "{f}"
        );
        let m = e.mfa.as_ref().unwrap_or_else(|| panic!("{f}: no mfa"));
        assert_eq!(m.satisfied, Some(false), "{f}");
        assert_eq!(
            extra(e, "is_interactive"),
            Some(&serde_json::Value::Bool(true)),
            "{f}"
        );
    }
}

#[test]
fn graph_beta_fields() {
    let p = parse(&sample("graph_beta_array.json"));
    let ev = &p.events;
    // MFA satisfied by a claim in the token.
    let m = ev[0].mfa.as_ref().unwrap();
    assert_eq!(m.requirement.as_deref(), Some("multiFactorAuthentication"));
    assert_eq!(m.satisfied, Some(true));
    assert_eq!(m.method.as_deref(), Some("Previously satisfied"));
    assert_eq!(
        ev[0].cold().session_id.as_deref(),
        Some("5a0e3c27-b41d-4f96-8d2a-7c6e1f90b384")
    );
    assert_eq!(ev[0].time, utc("2024-03-04T07:58:12.3456789Z"));
    let d = ev[0].device.as_ref().unwrap();
    assert_eq!(
        (d.compliant, d.managed, d.trust_type.as_deref()),
        (Some(true), Some(true), Some("Hybrid Azure AD joined"))
    );
    let pols = extra(&ev[0], "conditional_access_policies_applied")
        .unwrap()
        .as_array()
        .unwrap();
    assert_eq!(pols.len(), 1, "notApplied policies are left out");
    assert_eq!(pols[0]["display_name"], "CA001 - Require MFA for all users");
    // Legacy IMAP bad password: no user agent at all.
    assert_eq!(ev[1].client_app().as_deref(), Some("IMAP4"));
    assert_eq!(*ev[1].user_agent(), None);
    assert_eq!(ev[1].outcome, Outcome::Failure);
    assert_eq!(
        extra(&ev[1], "authentication_protocol").and_then(|v| v.as_str()),
        Some("ropc")
    );
    // Locked out, with risk.
    assert_eq!(extra(&ev[2], "error_code"), Some(&serde_json::json!(50053)));
    assert_eq!(
        extra(&ev[2], "risk_event_types"),
        Some(&serde_json::json!(["unfamiliarFeatures"]))
    );
    // MFA required: an interrupt, not a failure.
    assert_eq!(ev[3].outcome, Outcome::Interrupted);
    assert_eq!(ev[3].mfa.as_ref().unwrap().satisfied, None);
    // Single-factor success over Exchange ActiveSync from IPv6.
    assert_eq!(ev[5].outcome, Outcome::Success);
    assert_eq!(ev[5].src_ip.as_deref(), Some("2a05:d014:ab3:7100::12"));
    assert_eq!(ev[5].client_app().as_deref(), Some("Exchange ActiveSync"));
    assert_eq!(ev[5].mfa.as_ref().unwrap().satisfied, Some(false));
    assert_eq!(ev[5].geo.as_ref().unwrap().asn, Some(16509));
    // KMSI interrupt.
    assert_eq!(ev[6].outcome, Outcome::Interrupted);
    // Non-interactive refresh with a port on the IP and an empty location.
    assert_eq!(ev[7].src_ip.as_deref(), Some("91.64.12.34"));
    assert_eq!(ev[7].cold().src_port, Some(51234));
    let g = ev[7].geo.as_ref().unwrap();
    assert_eq!(
        (g.city.as_ref(), g.country.as_ref(), g.lat),
        (None, None, None)
    );
    assert_eq!(
        extra(&ev[7], "is_interactive"),
        Some(&serde_json::Value::Bool(false))
    );
    assert_eq!(
        extra(&ev[7], "incoming_token_type").and_then(|v| v.as_str()),
        Some("refreshToken")
    );
    // Expired password: the password was right, so it is an interrupt that says so.
    assert_eq!(ev[8].outcome, Outcome::Interrupted);
    assert!(ev[8]
        .reason
        .as_deref()
        .unwrap()
        .contains("password itself was accepted"));
}

#[test]
fn powershell_outputs() {
    // Windows PowerShell 5.1 ConvertTo-Json with a UTF-8 BOM and two appended arrays.
    let path = sample("extractor_suite_signinlogs_ps51.json");
    let p = parse(&path);
    assert_eq!(p.decoded_from, None);
    assert_eq!(
        p.events[0].cold().byte_offset,
        3 + 3 + 4,
        "offsets count the BOM, '[', CRLF and indent"
    );
    assert_eq!(p.events[0].line(), 2);
    assert_eq!(p.events.len(), 9, "both appended arrays are read");

    // SDK objects redirected with `>`: UTF-16LE, PascalCase, .NET /Date()/ times.
    let p = parse(&sample("graph_sdk_convertto_json_utf16.json"));
    assert_eq!(p.decoded_from, Some("utf-16le"));
    let e = &p.events[0];
    assert_eq!(e.time_original(), "/Date(1709539092345)/");
    assert_eq!(e.time, utc("2024-03-04T07:58:12.345Z"));
    assert_eq!(e.time_zone(), "UTC");
    assert_eq!(e.geo.as_ref().unwrap().lat, Some(52.5244));
    assert_eq!(e.mfa.as_ref().unwrap().satisfied, Some(true));
    assert_eq!(
        extra(&p.events[2], "risk_event_types"),
        Some(&serde_json::json!(["unfamiliarFeatures"]))
    );
}

#[test]
fn diagnostic_service_principal() {
    let p = parse(&sample("diagnostic_eventhub_records.json"));
    let e = p.events.last().unwrap();
    assert_eq!(e.user, None);
    assert_eq!(e.app().as_deref(), Some("contoso-backup-sync"));
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(extra(e, "error_code"), Some(&serde_json::json!(7000215)));
    assert!(e
        .reason
        .as_deref()
        .unwrap()
        .contains("invalid client secret"));
    assert_eq!(
        extra(e, "sign_in_type").and_then(|v| v.as_str()),
        Some("service_principal")
    );
    assert_eq!(
        extra(e, "is_interactive"),
        Some(&serde_json::Value::Bool(false))
    );
    assert_eq!(
        extra(e, "service_principal_name").and_then(|v| v.as_str()),
        Some("contoso-backup-sync")
    );
    assert_eq!(
        extra(e, "tenant_id").and_then(|v| v.as_str()),
        Some("3f6b2a91-7c4e-4d8a-9b15-2e0c7a4f1d63")
    );
    assert_eq!(e.time_zone(), "UTC");
}

#[test]
fn portal_csv_layouts() {
    let p = parse(&sample("InteractiveSignIns_2024-03-04_2024-03-05.csv"));
    let e = &p.events[0];
    assert_eq!(e.time_original(), "2024-03-04T07:58:12Z");
    assert_eq!(e.time_zone(), "UTC");
    assert_eq!(e.line(), 2);
    assert_eq!(
        e.cold().byte_offset as usize,
        3 + std::fs::read_to_string(sample("InteractiveSignIns_2024-03-04_2024-03-05.csv"))
            .unwrap()
            .trim_start_matches('\u{feff}')
            .find("\r\n")
            .unwrap()
            + 2
    );
    let g = e.geo.as_ref().unwrap();
    assert_eq!(
        (
            g.city.as_deref(),
            g.state.as_deref(),
            g.country.as_deref(),
            g.asn
        ),
        (Some("Berlin"), Some("Berlin"), Some("DE"), Some(3320))
    );
    assert_eq!(
        e.app_id().as_deref(),
        Some("4765445b-32c6-49b0-83e6-1d93765276ca"),
        "'Application ID ' with its trailing space"
    );
    assert_eq!(
        extra(e, "is_interactive"),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(
        extra(e, "is_interactive_basis").and_then(|v| v.as_str()),
        Some("file name")
    );
    assert_eq!(extra(e, "status").and_then(|v| v.as_str()), Some("Success"));
    assert_eq!(
        extra(e, "mfa_result").and_then(|v| v.as_str()),
        Some("MFA requirement satisfied by claim in the token")
    );
    assert_eq!(e.mfa.as_ref().unwrap().satisfied, Some(true));
    let d = e.device.as_ref().unwrap();
    assert_eq!(
        (d.compliant, d.trust_type.as_deref()),
        (Some(true), Some("Hybrid Azure AD joined"))
    );
    assert_eq!(p.events[3].outcome, Outcome::Interrupted);

    let p = parse(&sample("NonInteractiveSignIns_2024-03-04_2024-03-05.csv"));
    let e = &p.events[0];
    assert_eq!(
        extra(e, "is_interactive"),
        Some(&serde_json::Value::Bool(false))
    );
    assert_eq!(
        extra(e, "incoming_token_type").and_then(|v| v.as_str()),
        Some("Refresh token")
    );
    assert_eq!(e.cold().src_port, Some(51234));

    let p = parse(&sample("ApplicationSignIns_2024-03-04_2024-03-05.csv"));
    let e = &p.events[1];
    assert_eq!(e.user, None);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(
        extra(e, "sign_in_type").and_then(|v| v.as_str()),
        Some("service_principal")
    );
    assert_eq!(e.geo.as_ref().unwrap().country.as_deref(), Some("RO"));
    assert_eq!(e.resource().as_deref(), Some("Office 365 Exchange Online"));
}

#[test]
fn log_analytics_exports() {
    let p = parse(&sample("query_data_SigninLogs.csv"));
    let e = &p.events[0];
    assert_eq!(e.time_original(), "3/4/2024, 7:58:12.345 AM");
    assert_eq!(e.time, utc("2024-03-04T07:58:12.345Z"));
    assert_eq!(e.time_zone(), "UTC");
    assert_eq!(
        extra(e, "date_order").and_then(|v| v.as_str()),
        Some("month/day/year (assumed: no day above 12 seen)")
    );
    let g = e.geo.as_ref().unwrap();
    assert_eq!(
        (g.city.as_deref(), g.lat, g.lon),
        (Some("Berlin"), Some(52.5244), Some(13.4105))
    );
    // The Log Analytics `TenantId` is the workspace; the Entra tenant is `AADTenantId`.
    assert_eq!(
        extra(e, "tenant_id").and_then(|v| v.as_str()),
        Some("3f6b2a91-7c4e-4d8a-9b15-2e0c7a4f1d63")
    );
    assert_eq!(e.mfa.as_ref().unwrap().satisfied, Some(true));
    assert!(
        extra(e, "authentication_details").unwrap().is_array(),
        "dynamic JSON columns are decoded"
    );
    let ipv6 = p
        .events
        .iter()
        .find(|e| e.client_app().as_deref() == Some("Exchange ActiveSync"))
        .unwrap();
    assert_eq!(ipv6.src_ip.as_deref(), Some("2a05:d014:ab3:7100::12"));

    // An en-GB browser's export: day first, told apart by the 13th of March.
    let p = parse(&sample(
        "query_data_AADNonInteractiveUserSignInLogs_en-GB.csv",
    ));
    assert_eq!(p.events[0].time_original(), "04/03/2024, 09:05:31.640");
    assert_eq!(p.events[0].time, utc("2024-03-04T09:05:31.640Z"));
    assert_eq!(p.events[1].time, utc("2024-03-13T06:41:18.250Z"));
    assert_eq!(
        extra(&p.events[0], "date_order").and_then(|v| v.as_str()),
        Some("day/month/year")
    );
    for e in &p.events {
        assert_eq!(
            extra(e, "sign_in_type").and_then(|v| v.as_str()),
            Some("non_interactive_user")
        );
    }

    let p = parse(&sample("sentinel_az_cli_rows.json"));
    assert_eq!(p.events[0].time_original(), "2024-03-04T07:58:12.345Z");
    assert_eq!(p.events[0].geo.as_ref().unwrap().asn, Some(3320));
}

#[test]
fn flattened_exports() {
    let p = parse(&sample("signins_json_normalize_pandas.csv"));
    let e = &p.events[1];
    assert_eq!(
        extra(e, "error_code"),
        Some(&serde_json::json!(50126)),
        "pandas float `50126.0`"
    );
    assert_eq!(e.outcome, Outcome::Failure);
    assert_eq!(
        extra(e, "is_interactive"),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(e.geo.as_ref().unwrap().lat, Some(52.374));
    assert_eq!(p.events[0].mfa.as_ref().unwrap().satisfied, Some(true));

    let path = sample("signins_flattened_export-csv_en-GB.csv");
    let p = parse(&path);
    assert_eq!(p.events[0].line(), 3, "#TYPE line and header come first");
    assert_eq!(
        p.events[0].time,
        utc("2024-03-04T08:58:12Z"),
        "day first: 4 March, not 3 April"
    );
    assert_eq!(p.events[0].time_zone(), "UTC (assumed: no zone given)");
    assert_eq!(p.events[3].time, utc("2024-03-13T10:02:44Z"));
    assert_eq!(p.events[1].geo.as_ref().unwrap().lat, Some(52.374));
    assert_eq!(p.events[2].outcome, Outcome::Interrupted);

    // With the case's zone for this source, the local times are read in it.
    let mut ctx = ParseContext::default();
    ctx.zones
        .insert("entra_signin".into(), "Europe/Berlin".parse().unwrap());
    let p = common::parse_path(&path, &ctx);
    assert_eq!(p.events[0].time, utc("2024-03-04T07:58:12Z"));
    assert_eq!(p.events[0].time_zone(), "Europe/Berlin (assumed)");
}

// ------------------------------------------------------------------------------------------
// Bad input
// ------------------------------------------------------------------------------------------

#[test]
fn truncated_json_keeps_earlier_records() {
    let path = bad("truncated_graph_page.json");
    let bytes = std::fs::read(&path).unwrap();
    let p = parse(&path);
    assert_eq!(p.format, Some("entra_signin"));
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.rejected.len(), 1);
    check_accounting(&bytes, &p);
    let r = &p.rejected[0];
    assert_eq!(r.record_no, 3);
    let text = String::from_utf8(bytes).unwrap();
    let third = text.match_indices("\n    {").nth(2).unwrap().0 + 1;
    assert_eq!(r.line, text[..third].matches('\n').count() as u64 + 1);
    assert!(r.reason.contains("truncated"), "{}", r.reason);
}

#[test]
fn csv_row_missing_columns() {
    let path = bad("missing_column_portal.csv");
    let bytes = std::fs::read(&path).unwrap();
    let p = parse(&path);
    assert_eq!(p.events.len(), 3);
    assert_eq!(p.rejected.len(), 1);
    check_accounting(&bytes, &p);
    let r = &p.rejected[0];
    assert_eq!((r.record_no, r.line), (3, 4));
    assert!(
        r.reason.contains("30 columns") && r.reason.contains("57"),
        "{}",
        r.reason
    );
    let nos: Vec<_> = p.events.iter().map(|e| e.provenance.record_no).collect();
    assert_eq!(nos, [1, 2, 4]);
}

#[test]
fn unparseable_timestamps() {
    let path = bad("bad_timestamp.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    let p = parse(&path);
    assert_eq!(p.events.len(), 2);
    check_accounting(&bytes, &p);
    let lines: Vec<_> = p.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 4]);
    assert!(
        p.rejected[0].reason.contains("createdDateTime")
            && p.rejected[0].reason.contains("2024-02-30T25:61:00Z")
    );
    assert!(p.rejected[1].reason.contains("yesterday afternoon"));
}

#[test]
fn garbage_between_json_lines() {
    let path = bad("garbage_line.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    let p = parse(&path);
    assert_eq!(p.events.len(), 2);
    assert_eq!(p.rejected.len(), 1);
    assert_eq!((p.rejected[0].record_no, p.rejected[0].line), (2, 2));
    check_accounting(&bytes, &p);
}

#[test]
fn zero_byte_file_is_nothing() {
    let p = parse(&bad("empty.json"));
    assert_eq!(p.format, None);
    assert_eq!(p.records(), 0);
}

#[test]
fn unknown_csv_layout_rejects_every_row() {
    // Forced onto a CSV that is not one of ours (as `--format entra_signin` would), every row is
    // reported, none dropped.
    let text = "a,b,c\n1,2,3\n4,5,6\n";
    let mut items = Vec::new();
    let input = Input::new(text, "x", "x.csv", 0, None);
    entra_signin::EntraSignin.parse(&input, &ParseContext::default(), &mut |i| items.push(i));
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i
        .as_ref()
        .is_err_and(|e| e.reason.contains("not an Entra sign-in layout"))));
}

// ------------------------------------------------------------------------------------------
// Detection
// ------------------------------------------------------------------------------------------

#[test]
fn sniff_is_specific() {
    let s = entra_signin::EntraSignin;
    // Entra audit, risk detection, UAL and firewall content must not look like sign-ins.
    let audit = r#"{"id":"Directory_1","category":"UserManagement","activityDateTime":"2024-03-04T08:00:00Z","activityDisplayName":"Update user","initiatedBy":{"user":{"userPrincipalName":"a@b.c","ipAddress":"1.2.3.4"}},"targetResources":[]}"#;
    let audit_diag = r#"{"time":"2024-03-04T08:00:00Z","category":"AuditLogs","operationName":"Update user","resultType":"","properties":{"id":"x"}}"#;
    let risk = r#"{"value":[{"id":"1","riskEventType":"unfamiliarFeatures","activityDateTime":"2024-03-04T08:00:00Z","detectedDateTime":"2024-03-04T08:00:00Z","ipAddress":"1.2.3.4","userPrincipalName":"a@b.c","location":{"city":"X"}}]}"#;
    let ual = "CreationDate,UserIds,Operations,AuditData\n2024-03-04T08:00:00,a@b.c,UserLoggedIn,\"{}\"\n";
    let fw = "date=2024-03-04 time=08:00:00 devname=FG100 type=event subtype=vpn\n";
    for t in [audit, audit_diag, risk, ual, fw, "", "   \n", "[]", "{}"] {
        assert_eq!(s.sniff(t), 0, "{t}");
    }
    for (name, _, _) in SAMPLES {
        let bytes = std::fs::read(sample(name)).unwrap();
        let text = sources::text::decode(&bytes).text.into_owned();
        assert!(s.sniff(&text) >= 85, "{name}");
    }
}

// ------------------------------------------------------------------------------------------
// Generator
// ------------------------------------------------------------------------------------------

#[test]
fn generated_data_parses() {
    let mut buf = Vec::new();
    let n = entra_signin::generate(42, 300_000, &mut buf).unwrap();
    assert!(buf.len() >= 300_000);
    let sha = sources::sha256_hex(&buf);
    let p = sources::parse_bytes(
        &sources::registry(),
        &buf,
        "gen.jsonl",
        &sha,
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("entra_signin"));
    assert!(p.rejected.is_empty(), "{:?}", p.rejected.first());
    assert_eq!(p.events.len() as u64, n);
    check_accounting(&buf, &p);
    for o in [Outcome::Success, Outcome::Failure, Outcome::Interrupted] {
        assert!(p.events.iter().any(|e| e.outcome == o), "{o:?}");
    }
    let users: std::collections::BTreeSet<_> =
        p.events.iter().filter_map(|e| e.user.clone()).collect();
    assert!(users.len() > 50);
    assert!(p
        .events
        .iter()
        .any(|e| e.src_ip.as_deref().is_some_and(|i| i.contains(':'))));
    assert!(p.events.windows(2).all(|w| w[0].time <= w[1].time));
}

// ------------------------------------------------------------------------------------------
// Random and mutated bytes
// ------------------------------------------------------------------------------------------

fn run_both_ways(bytes: &[u8]) {
    // Through detection, as the pipeline does.
    let sha = sources::sha256_hex(bytes);
    let p = sources::parse_bytes(
        &sources::registry(),
        bytes,
        "fuzz",
        &sha,
        &ParseContext::default(),
    );
    check_accounting(bytes, &p);
    // And forced through this parser whatever the content.
    let decoded = sources::text::decode(bytes);
    let input = Input::new(
        &decoded.text,
        &sha,
        "fuzz",
        decoded.base_offset,
        decoded.decoded_from,
    );
    let mut forced = Parsed {
        decoded_from: decoded.decoded_from,
        ..Parsed::default()
    };
    entra_signin::EntraSignin.parse(&input, &ParseContext::default(), &mut |i| match i {
        Ok(e) => forced.events.push(e),
        Err(r) => forced.rejected.push(r),
    });
    check_accounting(bytes, &forced);
}

fn sample_bytes() -> Vec<Vec<u8>> {
    SAMPLES
        .iter()
        .map(|(n, _, _)| std::fs::read(sample(n)).unwrap())
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Mutation::Flip(a, b)),
        (
            any::<usize>(),
            prop::collection::vec(
                prop_oneof![
                    Just(b'"'),
                    Just(b','),
                    Just(b'{'),
                    Just(b'}'),
                    Just(b'\n'),
                    Just(b'['),
                    any::<u8>()
                ],
                1..8
            )
        )
            .prop_map(|(a, v)| Mutation::Insert(a, v)),
        (any::<usize>(), 1usize..64).prop_map(|(a, n)| Mutation::Delete(a, n)),
    ]
}

fn apply(mut b: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if b.is_empty() {
            break;
        }
        match m {
            Mutation::Truncate(at) => b.truncate(at % b.len()),
            Mutation::Flip(at, x) => {
                let i = at % b.len();
                b[i] ^= x | 1;
            }
            Mutation::Insert(at, v) => {
                let i = at % (b.len() + 1);
                b.splice(i..i, v.iter().copied());
            }
            Mutation::Delete(at, n) => {
                let i = at % b.len();
                let j = (i + n).min(b.len());
                b.drain(i..j);
            }
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..3000)) {
        run_both_ways(&bytes);
    }

    #[test]
    fn mutated_samples_never_panic(which in 0usize..64, muts in prop::collection::vec(mutation(), 1..6)) {
        let all = sample_bytes();
        let b = apply(all[which % all.len()].clone(), &muts);
        run_both_ways(&b);
    }
}

#[test]
fn log_analytics_api_tables_are_reported_not_dropped() {
    let text = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"ResultType","type":"string"},{"name":"ConditionalAccessStatus","type":"string"}],"rows":[["2024-03-04T07:58:12.345Z","0","success"]]}]}"#;
    let p = sources::parse_bytes(
        &sources::registry(),
        text.as_bytes(),
        "api.json",
        "x",
        &ParseContext::default(),
    );
    assert_eq!(p.format, Some("entra_signin"));
    assert_eq!(p.events.len(), 0);
    assert_eq!(p.rejected.len(), 1);
    assert!(
        p.rejected[0].reason.contains("tables/columns/rows"),
        "{}",
        p.rejected[0].reason
    );
}
