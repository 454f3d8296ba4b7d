//! A hand-built case for the report and package tests: evidence files on disk (UTF-8 JSON
//! lines, a UTF-16LE export, a ZIP with a RADIUS member), events whose provenance points at
//! the exact raw bytes, a hash-chained timeline, a custody log, and conclusions with
//! findings, containment, risk, network, actions and regulatory flags.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use irpack::analysis::*;
use irpack::case::{Alert, CaseFile};
use irpack::event::{Device, Event, EventClass, Geo, Mfa, Outcome, Provenance, Target};
use irpack::evidence::custody::{Actor, CustodyLog};
use irpack::evidence::intake::{EvidenceItem, ItemKind};
use irpack::pipeline::{self, Collected, Conclusions, FileReport, RunOptions, RunOutput, ZoneNote};
use irpack::sources::{sha256_hex, RecordError};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const CASE_ID: &str = "IR-2024-0042";
pub const VICTIM: &str = "alice@contoso.com";
pub const OTHER: &str = "bob@contoso.com";
pub const ATTACKER_IP: &str = "203.0.113.50";
pub const HOME_IP: &str = "198.51.100.10";
pub const HOSTILE: &str = "<script>alert(1)</script> [x](javascript:alert(1))";

pub fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The report clock.
pub fn clock() -> DateTime<Utc> {
    ts("2024-05-02T09:00:00Z")
}

pub fn actor() -> Actor {
    Actor {
        examiner: "Dana Examiner".into(),
        host: "forensic-ws".into(),
        tool: "irpack test".into(),
    }
}

/// Byte span of 0-based line `n` of `text` (without its newline).
fn line_span(text: &str, n: usize) -> (usize, usize) {
    let mut start = 0;
    for (i, l) in text.split('\n').enumerate() {
        if i == n {
            return (start, start + l.len());
        }
        start += l.len() + 1;
    }
    panic!("no line {n}");
}

fn prov(path: &str, item_sha: &str, text: &str, n: usize, decoded: Option<&str>) -> Provenance {
    let (s, e) = line_span(text, n);
    Provenance {
        evidence_sha256: item_sha.into(),
        evidence_path: path.into(),
        record_no: n as u64 + 1,
        line: n as u64 + 1,
        byte_offset: s as u64,
        byte_len: (e - s) as u64,
        raw_sha256: sha256_hex(&text.as_bytes()[s..e]).into(),
        decoded_from: decoded.map(Into::into),
    }
}

#[allow(clippy::too_many_arguments)]
fn ev(
    time: &str,
    source: &str,
    class: EventClass,
    action: &str,
    operation: &str,
    outcome: Outcome,
    user: &str,
    ip: Option<&str>,
    p: Provenance,
) -> Event {
    let mut e = Event::new(
        ts(time),
        time,
        if source == "radius_detail" {
            "Europe/Berlin (assumed)"
        } else {
            "UTC"
        },
        source,
        "test",
        class,
        action,
        operation,
        outcome,
        p,
    );
    e.user = Some(user.into());
    e.src_ip = ip.map(Into::into);
    e
}

pub struct Case {
    pub out: RunOutput,
    pub concl: Conclusions,
    pub opts: RunOptions,
    /// Event hashes by a short name (`e3` = the attacker's single-factor sign-in, ...).
    pub h: BTreeMap<&'static str, String>,
}

/// Build the case under `case_dir` (created). `rule_name` is the inbox rule's name, so a
/// test can make it hostile.
pub fn build(case_dir: &Path, rule_name: &str) -> Case {
    std::fs::create_dir_all(case_dir.join("evidence/exports")).unwrap();
    let a = actor();
    let now = pipeline::rfc3339(clock());

    // --- evidence on disk ---
    let signins = [
        r#"{"createdDateTime":"2024-04-30T08:00:00Z","userPrincipalName":"alice@contoso.com","ipAddress":"198.51.100.10","status":0}"#,
        r#"{"createdDateTime":"2024-05-01T02:10:00Z","userPrincipalName":"alice@contoso.com","ipAddress":"203.0.113.50","status":50126}"#,
        r#"{"createdDateTime":"2024-05-01T02:12:00Z","userPrincipalName":"alice@contoso.com","ipAddress":"203.0.113.50","status":0,"ua":"python-requests/2.31"}"#,
        r#"{"createdDateTime":"2024-05-01T02:20:00Z","userPrincipalName":"alice@contoso.com","ipAddress":"203.0.113.50","clientAppUsed":"IMAP4"}"#,
        r#"{"createdDateTime":"2024-05-01T03:00:00Z","userPrincipalName":"bob@contoso.com","ipAddress":"203.0.113.50","status":0}"#,
        r#"{not json"#,
    ]
    .join("\n")
        + "\n";
    let signins_path = "evidence/exports/signins.jsonl";
    std::fs::write(case_dir.join(signins_path), &signins).unwrap();
    let signins_sha = sha256_hex(signins.as_bytes());

    let audit_text = [
        format!(r#"{{"Operation":"New-InboxRule","UserId":"alice@contoso.com","ClientIP":"203.0.113.50","Name":{}}}"#, serde_json::to_string(rule_name).unwrap()),
        r#"{"Operation":"Revoke sessions","Actor":"admin@contoso.com","Target":"alice@contoso.com"}"#.to_string(),
        r#"{"Operation":"Reset password","Actor":"admin@contoso.com","Target":"alice@contoso.com"}"#.to_string(),
        r#"{"riskEventType":"leakedCredentials","userPrincipalName":"alice@contoso.com","detectedDateTime":"2024-05-01T08:00:00Z"}"#.to_string(),
    ]
    .join("\n")
        + "\n";
    let mut audit_bytes = vec![0xFF, 0xFE];
    for u in audit_text.encode_utf16() {
        audit_bytes.extend_from_slice(&u.to_le_bytes());
    }
    let audit_path = "evidence/exports/audit-utf16.json";
    std::fs::write(case_dir.join(audit_path), &audit_bytes).unwrap();
    let audit_sha = sha256_hex(&audit_bytes);

    let radius = "Wed May  1 04:05:00 2024\tAcct-Status-Type = Start\tUser-Name = \"alice@contoso.com\"\tCalling-Station-Id = \"203.0.113.50\"\tFramed-IP-Address = 10.8.0.5\nWed May  1 06:05:00 2024\tAcct-Status-Type = Stop\tUser-Name = \"alice@contoso.com\"\tAcct-Terminate-Cause = User-Request\n";
    let zip_rel = "evidence/exports/radius.zip";
    {
        let f = std::fs::File::create(case_dir.join(zip_rel)).unwrap();
        let mut z = zip::ZipWriter::new(f);
        z.start_file(
            "logs/detail-2024",
            zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated),
        )
        .unwrap();
        z.write_all(radius.as_bytes()).unwrap();
        z.finish().unwrap();
    }
    let zip_bytes = std::fs::read(case_dir.join(zip_rel)).unwrap();
    let zip_sha = sha256_hex(&zip_bytes);
    let member_path = "evidence/exports/radius.zip!/logs/detail-2024";
    let member_sha = sha256_hex(radius.as_bytes());

    // --- events ---
    use EventClass::*;
    let sp = |n| prov(signins_path, &signins_sha, &signins, n, None);
    let ap = |n| prov(audit_path, &audit_sha, &audit_text, n, Some("utf-16le"));
    let rp = |n| prov(member_path, &member_sha, radius, n, None);
    let geo = |c: &str| {
        Some(Arc::new(Geo {
            country: Some(c.into()),
            ..Geo::default()
        }))
    };
    let mut e1 = ev(
        "2024-04-30T08:00:00Z",
        "entra_signin",
        Authentication,
        "sign_in",
        "Sign-in",
        Outcome::Success,
        VICTIM,
        Some(HOME_IP),
        sp(0),
    );
    e1.geo = geo("DE");
    e1.mfa = Some(Arc::new(Mfa {
        requirement: Some("multiFactorAuthentication".into()),
        satisfied: Some(true),
        ..Mfa::default()
    }));
    let mut e2 = ev(
        "2024-05-01T02:10:00Z",
        "entra_signin",
        Authentication,
        "sign_in",
        "Sign-in",
        Outcome::Failure,
        VICTIM,
        Some(ATTACKER_IP),
        sp(1),
    );
    e2.geo = geo("NL");
    e2.reason = Some("50126: Invalid username or password".into());
    let mut e3 = ev(
        "2024-05-01T02:12:00Z",
        "entra_signin",
        Authentication,
        "sign_in",
        "Sign-in",
        Outcome::Success,
        VICTIM,
        Some(ATTACKER_IP),
        sp(2),
    );
    e3.geo = geo("NL");
    e3.descr_mut().user_agent = Some("python-requests/2.31".into());
    e3.descr_mut().client_app = Some("Browser".into());
    e3.descr_mut().app = Some("Office 365 Exchange Online".into());
    e3.mfa = Some(Arc::new(Mfa {
        requirement: Some("singleFactorAuthentication".into()),
        satisfied: Some(false),
        ..Mfa::default()
    }));
    e3.device = Some(Arc::new(Device {
        os: Some("Linux".into()),
        ..Device::default()
    }));
    let mut e4 = ev(
        "2024-05-01T02:20:00Z",
        "entra_signin",
        Authentication,
        "sign_in",
        "Sign-in",
        Outcome::Success,
        VICTIM,
        Some(ATTACKER_IP),
        sp(3),
    );
    e4.descr_mut().client_app = Some("IMAP4".into());
    e4.geo = geo("NL");
    let mut e5 = ev(
        "2024-05-01T03:00:00Z",
        "entra_signin",
        Authentication,
        "sign_in",
        "Sign-in",
        Outcome::Success,
        OTHER,
        Some(ATTACKER_IP),
        sp(4),
    );
    e5.geo = geo("NL");
    let mut e6 = ev(
        "2024-05-01T02:30:00Z",
        "m365_ual",
        ApiActivity,
        "inbox_rule_created",
        "New-InboxRule",
        Outcome::Success,
        VICTIM,
        Some(ATTACKER_IP),
        ap(0),
    );
    e6.targets = vec![Target {
        kind: Some("inbox_rule".into()),
        name: Some(rule_name.into()),
        ..Target::default()
    }]
    .into();
    e6.extra.insert("parameters", serde_json::json!({ "Name": rule_name, "DeleteMessage": true, "MoveToFolder": "RSS Feeds" }));
    e6.descr_mut().user_agent = Some(format!("Mozilla/5.0 {rule_name}").into());
    let mut e7 = ev(
        "2024-05-01T09:15:00Z",
        "entra_audit",
        AccountChange,
        "tokens_revoked",
        "Revoke sessions",
        Outcome::Success,
        "admin@contoso.com",
        None,
        ap(1),
    );
    e7.targets = vec![Target {
        kind: Some("user".into()),
        name: Some(VICTIM.into()),
        ..Target::default()
    }]
    .into();
    let mut e8 = ev(
        "2024-05-01T09:20:00Z",
        "entra_audit",
        AccountChange,
        "password_reset",
        "Reset password",
        Outcome::Success,
        "admin@contoso.com",
        None,
        ap(2),
    );
    e8.targets = e7.targets.clone();
    let mut e9 = ev(
        "2024-05-01T02:12:00Z",
        "entra_risk",
        RiskDetection,
        "risk_detected",
        "leakedCredentials",
        Outcome::Unknown,
        VICTIM,
        None,
        ap(3),
    );
    e9.extra
        .insert("risk_event_type", "leakedCredentials".into());
    e9.extra
        .insert("detected_time", "2024-05-01T08:00:00Z".into());
    let mut e10 = ev(
        "2024-05-01T02:05:00Z",
        "radius_detail",
        Accounting,
        "session_start",
        "Start",
        Outcome::Success,
        VICTIM,
        Some(ATTACKER_IP),
        rp(0),
    );
    e10.extra.insert("framed_ip", "10.8.0.5".into());
    let mut e11 = ev(
        "2024-05-01T04:05:00Z",
        "radius_detail",
        Accounting,
        "session_stop",
        "Stop",
        Outcome::Success,
        VICTIM,
        Some(ATTACKER_IP),
        rp(1),
    );
    e11.extra.insert("terminate_cause", "User-Request".into());

    let named = vec![
        ("e1", e1),
        ("e2", e2),
        ("e3", e3),
        ("e4", e4),
        ("e5", e5),
        ("e6", e6),
        ("e7", e7),
        ("e8", e8),
        ("e9", e9),
        ("e10", e10),
        ("e11", e11),
    ];
    let h: BTreeMap<&'static str, String> = named.iter().map(|(k, e)| (*k, e.hash())).collect();
    let mut events: Vec<Event> = named.into_iter().map(|(_, e)| e).collect();
    irpack::timeline::sort(&mut events);

    // --- collected ---
    let item =
        |stored: &str, sha: &str, size: usize, kind: ItemKind, member: Option<&str>| EvidenceItem {
            original_path: format!("/cases/incoming/{}", stored.trim_start_matches("evidence/")),
            stored_path: stored.into(),
            kind,
            sha256: sha.into(),
            size: size as u64,
            modified: Some("2024-05-01T11:00:00Z".into()),
            acquired_at: now.clone(),
            examiner: a.examiner.clone(),
            host: a.host.clone(),
            tool: a.tool.clone(),
            member_name: member.map(str::to_string),
            member_index: None,
        };
    let items = vec![
        item(
            audit_path,
            &audit_sha,
            audit_bytes.len(),
            ItemKind::File,
            None,
        ),
        item(zip_rel, &zip_sha, zip_bytes.len(), ItemKind::Zip, None),
        item(
            member_path,
            &member_sha,
            radius.len(),
            ItemKind::ZipMember,
            Some("logs/detail-2024"),
        ),
        item(
            signins_path,
            &signins_sha,
            signins.len(),
            ItemKind::File,
            None,
        ),
    ];
    let file = |it: &EvidenceItem, fmt: &str, events: u64, rejected: u64| FileReport {
        stored_path: it.stored_path.clone(),
        original_path: it.original_path.clone(),
        sha256: it.sha256.clone(),
        size: it.size,
        kind: it.kind.clone(),
        format: Some(fmt.into()),
        decoded_from: (fmt == "m365_ual").then(|| "utf-16le".into()),
        records: events + rejected,
        events,
        rejected,
        error: None,
    };
    let (rs, re) = line_span(&signins, 5);
    let rejected = vec![RecordError {
        evidence_path: signins_path.into(),
        evidence_sha256: signins_sha.clone(),
        record_no: 6,
        line: 6,
        byte_offset: rs as u64,
        byte_len: (re - rs) as u64,
        raw_sha256: sha256_hex(&signins.as_bytes()[rs..re]),
        reason: "not JSON: key must be a string at line 1 column 2".into(),
        excerpt: "{not json".into(),
    }];
    let files = vec![
        file(&items[0], "m365_ual", 4, 0),
        file(&items[1], "zip", 0, 0),
        file(&items[2], "radius_detail", 2, 0),
        file(&items[3], "entra_signin", 5, 1),
    ];
    let case = CaseFile {
        case_id: CASE_ID.into(),
        organisation: Some("Contoso Ltd".into()),
        examiner: Some("Dana Examiner".into()),
        alert: Some(Alert {
            kind: Some("leakedCredentials".into()),
            ids: vec!["a1b2c3".into()],
            time: Some(ts("2024-05-01T08:05:00Z")),
            users: vec![VICTIM.into()],
            title: Some("Leaked credentials involving one user".into()),
            window_start: None,
            window_end: None,
        }),
        aware_at: Some(ts("2024-05-01T10:00:00Z")),
        time_zones: [("radius_detail".to_string(), "Europe/Berlin".to_string())].into(),
        ioc: irpack::case::Iocs {
            ips: vec![ATTACKER_IP.into()],
            ..Default::default()
        },
        ..CaseFile::minimal(CASE_ID)
    };
    let collected = Collected {
        case: case.clone(),
        items: items.clone(),
        files,
        rejected,
        intake_problems: vec![],
        zone_notes: vec![ZoneNote {
            source: "radius_detail".into(),
            zone: "Europe/Berlin (assumed)".into(),
            events: 2,
        }],
        duplicates_merged: 0,
    };

    // --- case folder: custody, timeline, collected.json ---
    let mut log = CustodyLog::open(&case_dir.join("custody.jsonl")).unwrap();
    log.append(
        &now,
        &a,
        "case_opened",
        serde_json::json!({ "case_id": CASE_ID, "inputs": ["/cases/incoming"] }),
    )
    .unwrap();
    for it in &items {
        log.append(&now, &a, "acquired", serde_json::to_value(it).unwrap())
            .unwrap();
    }
    std::fs::create_dir_all(case_dir.join("timeline")).unwrap();
    let tl = std::fs::File::create(case_dir.join("timeline/timeline.jsonl")).unwrap();
    let head = irpack::timeline::write_jsonl(&events, std::io::BufWriter::new(tl)).unwrap();
    let tl_sha = pipeline::file_sha256(&case_dir.join("timeline/timeline.jsonl")).unwrap();
    log.append(&now, &a, "timeline_written", serde_json::json!({ "path": "timeline/timeline.jsonl", "events": events.len(), "chain_head": head, "sha256": tl_sha })).unwrap();
    pipeline::write_json(&case_dir.join("collected.json"), &collected).unwrap();

    let concl = conclusions(&h, rule_name);
    let dir = case_dir.join("analysis");
    pipeline::write_json(&dir.join("findings.json"), &concl.analysis.findings).unwrap();
    pipeline::write_json(&dir.join("analysis.json"), &concl.analysis).unwrap();
    pipeline::write_json(&dir.join("classification.json"), &concl.classification).unwrap();
    pipeline::write_json(&dir.join("actions.json"), &concl.actions).unwrap();
    pipeline::write_json(&dir.join("regulatory.json"), &concl.regulatory).unwrap();
    log.append(
        &now,
        &a,
        "analyzed",
        serde_json::json!({ "findings": concl.analysis.findings.len() }),
    )
    .unwrap();

    let opts = RunOptions {
        inputs: vec![],
        out: case_dir.to_path_buf(),
        case,
        now: clock(),
        examiner: Some("Dana Examiner".into()),
        zones: BTreeMap::new(),
        ..Default::default()
    };
    Case {
        out: RunOutput {
            collected,
            events,
            flows: Default::default(),
            positions: Vec::new(),
            timeline_head: head,
            case_dir: case_dir.to_path_buf(),
            written: Default::default(),
            line_starts: Vec::new(),
            hashes: Default::default(),
        },
        concl,
        opts,
        h,
    }
}

#[allow(clippy::too_many_arguments)]
fn finding(
    rule: &str,
    title: &str,
    sev: Severity,
    users: &[&str],
    ips: &[&str],
    first: &str,
    last: &str,
    ev: Vec<String>,
    why: &str,
) -> Finding {
    Finding {
        rule: rule.into(),
        title: title.into(),
        severity: sev,
        techniques: vec![Technique {
            id: "T1078".into(),
            name: "Valid Accounts".into(),
        }],
        users: users.iter().map(|s| s.to_string()).collect(),
        ips: ips.iter().map(|s| s.to_string()).collect(),
        first_seen: ts(first),
        last_seen: ts(last),
        evidence: ev,
        rationale: why.into(),
        facts: Default::default(),
    }
}

pub fn conclusions(h: &BTreeMap<&'static str, String>, rule_name: &str) -> Conclusions {
    let g = |k: &str| h[k].clone();
    let findings = vec![
        finding(rules::SINGLE_FACTOR_UNKNOWN_IP, "Single-factor sign-in from an unknown IP", Severity::High, &[VICTIM], &[ATTACKER_IP], "2024-05-01T02:12:00Z", "2024-05-01T02:12:00Z", vec![g("e3")], "Successful sign-in with singleFactorAuthentication from 203.0.113.50 (NL), not in the baseline."),
        finding(rules::INBOX_RULE, &format!("Inbox rule \"{rule_name}\" created"), Severity::Critical, &[VICTIM], &[ATTACKER_IP], "2024-05-01T02:30:00Z", "2024-05-01T02:30:00Z", vec![g("e6")], &format!("New-InboxRule {rule_name} deletes messages, created from the attacker IP 18 minutes after the sign-in.")),
        finding(rules::LEGACY_AUTH, "Legacy authentication (IMAP4) succeeded", Severity::Medium, &[VICTIM], &[ATTACKER_IP], "2024-05-01T02:20:00Z", "2024-05-01T02:20:00Z", vec![g("e4")], "IMAP4 cannot do MFA."),
        finding(rules::SHARED_IP, "Two users signed in from 203.0.113.50", Severity::High, &[VICTIM, OTHER], &[ATTACKER_IP], "2024-05-01T02:12:00Z", "2024-05-01T03:00:00Z", vec![g("e3"), g("e5")], "alice and bob from the same unknown IP within an hour."),
        finding(rules::RISK_DETECTION, "leakedCredentials risk detection", Severity::Medium, &[VICTIM], &[], "2024-05-01T02:12:00Z", "2024-05-01T02:12:00Z", vec![g("e9")], "Offline detection."),
        finding(rules::CONTAINMENT, "Sessions revoked and password reset", Severity::Info, &[VICTIM], &[], "2024-05-01T09:15:00Z", "2024-05-01T09:20:00Z", vec![g("e7"), g("e8")], "Admin containment."),
    ];
    let analysis = Analysis {
        window_start: Some(ts("2024-05-01T00:00:00Z")),
        window_end: Some(ts("2024-05-01T12:00:00Z")),
        findings,
        users: vec![
            UserSummary {
                user: VICTIM.into(),
                sign_ins_ok: 3,
                sign_ins_failed: 1,
                single_factor_ok: 1,
                mfa_ok: 1,
                legacy_auth: 1,
                first_seen: Some(ts("2024-04-30T08:00:00Z")),
                last_seen: Some(ts("2024-05-01T02:20:00Z")),
                countries: vec!["DE".into(), "NL".into()],
                ips: vec![HOME_IP.into(), ATTACKER_IP.into()],
                password_changes: vec![ts("2024-05-01T09:20:00Z")],
                mfa_in_use: Some(false),
                ..UserSummary::default()
            },
            UserSummary {
                user: OTHER.into(),
                sign_ins_ok: 1,
                single_factor_ok: 1,
                ips: vec![ATTACKER_IP.into()],
                countries: vec!["NL".into()],
                ..UserSummary::default()
            },
        ],
        baselines: vec![UserBaseline {
            user: VICTIM.into(),
            days_of_history: 1,
            has_baseline: false,
            sign_ins: 1,
            ..UserBaseline::default()
        }],
        containment: vec![
            ContainmentEvent {
                user: VICTIM.into(),
                action: "tokens_revoked".into(),
                time: ts("2024-05-01T09:15:00Z"),
                by: Some("admin@contoso.com".into()),
                automated: false,
                evidence: g("e7"),
            },
            ContainmentEvent {
                user: VICTIM.into(),
                action: "password_reset".into(),
                time: ts("2024-05-01T09:20:00Z"),
                by: Some("admin@contoso.com".into()),
                automated: false,
                evidence: g("e8"),
            },
        ],
        risk: vec![RiskAlert {
            user: VICTIM.into(),
            risk_event_type: "leakedCredentials".into(),
            activity_time: Some(ts("2024-05-01T02:12:00Z")),
            detected_time: Some(ts("2024-05-01T08:00:00Z")),
            detection_timing: Some("offline".into()),
            risk_state: Some("atRisk".into()),
            risk_level: Some("high".into()),
            ip: None,
            password_changed_after: Some(ts("2024-05-01T09:20:00Z")),
            evidence: g("e9"),
        }],
        network: vec![NetworkView {
            ip: ATTACKER_IP.into(),
            users: vec![VICTIM.into()],
            radius_sessions: vec![NetworkSession {
                source: "radius_detail".into(),
                user: Some(VICTIM.into()),
                session_id: Some("S-1".into()),
                nas: Some("vpn-gw-1".into()),
                calling_station: Some(ATTACKER_IP.into()),
                framed_ip: Some("10.8.0.5".into()),
                start: Some(ts("2024-05-01T02:05:00Z")),
                end: Some(ts("2024-05-01T04:05:00Z")),
                still_active: false,
                bytes_in: 1_234_567,
                bytes_out: 89_000,
                terminate_cause: Some("User-Request".into()),
            }],
            vpn_events: vec![],
            flows_allowed: 3,
            flows_denied: 0,
            bytes_in: 1_234_567,
            bytes_out: 89_000,
            evidence: vec![g("e10"), g("e11")],
        }],
        coverage: vec![],
        geo_database: None,
    };
    let crit = |id: &str, d: &str, ev: Vec<String>| Criterion {
        id: id.into(),
        description: d.into(),
        evidence: ev,
    };
    let classification = Classification {
        verdict: Verdict::ConfirmedCompromise,
        summary: "Successful single-factor sign-in from an unknown IP followed by an inbox rule that deletes mail.".into(),
        escalate: true,
        criteria_met: vec![
            crit("anomalous_sign_in", "Sign-in from a new country without MFA", vec![g("e3")]),
            crit("persistence", "Inbox rule created after the anomalous sign-in", vec![g("e6"), rules::INBOX_RULE.into()]),
        ],
        criteria_not_met: vec![crit("mfa_blocked", "MFA blocked the attacker", vec![])],
        missing_evidence: vec!["MailItemsAccessed for alice (E5 audit) to tell which mail was read".into()],
        confidence: "high".into(),
        confidence_reason: "two independent criteria".into(),
        users: vec![
            UserClassification { user: VICTIM.into(), verdict: Verdict::ConfirmedCompromise, privileged: false, escalate: true, criteria_met: vec![crit("persistence", "Inbox rule", vec![g("e6")])], criteria_not_met: vec![], missing_evidence: vec![], confidence: "high".into(), confidence_reason: "rule + sign-in".into() },
            UserClassification { user: OTHER.into(), verdict: Verdict::Undetermined, privileged: false, escalate: false, criteria_met: vec![], criteria_not_met: vec![], missing_evidence: vec!["audit log for bob".into()], confidence: "low".into(), confidence_reason: "one sign-in".into() },
        ],
    };
    let actions = vec![
        RecommendedAction {
            order: 1,
            id: "revoke_sessions".into(),
            description: "Revoke all sessions".into(),
            users: vec![VICTIM.into()],
            done: true,
            done_at: Some(ts("2024-05-01T09:15:00Z")),
            evidence: vec![g("e7")],
        },
        RecommendedAction {
            order: 2,
            id: "reset_password".into(),
            description: "Reset the password".into(),
            users: vec![VICTIM.into()],
            done: true,
            done_at: Some(ts("2024-05-01T09:20:00Z")),
            evidence: vec![g("e8")],
        },
        RecommendedAction {
            order: 3,
            id: "remove_inbox_rule".into(),
            description: format!("Remove inbox rule {rule_name}"),
            users: vec![VICTIM.into()],
            done: false,
            done_at: None,
            evidence: vec![g("e6")],
        },
        RecommendedAction {
            order: 4,
            id: "block_ip".into(),
            description: "Block 203.0.113.50 at the perimeter".into(),
            users: vec![],
            done: false,
            done_at: None,
            evidence: vec![],
        },
    ];
    let regulatory = vec![
        RegulatoryFlag {
            regime: "GDPR".into(),
            status: FlagStatus::Applies,
            clock: "72 hours from awareness".into(),
            deadlines: vec![Deadline {
                what: "Notify the supervisory authority".into(),
                due: Some(ts("2024-05-04T10:00:00Z")),
                note: None,
            }],
            reference: "GDPR Art. 33".into(),
            why: "alice's mailbox holds EU personal data".into(),
        },
        RegulatoryFlag {
            regime: "SEC 8-K 1.05".into(),
            status: FlagStatus::CannotDetermine,
            clock: "4 business days from the materiality determination".into(),
            deadlines: vec![Deadline {
                what: "File Form 8-K".into(),
                due: None,
                note: Some("depends on the materiality decision".into()),
            }],
            reference: "17 CFR 229.106".into(),
            why: "registrant status unknown".into(),
        },
    ];
    Conclusions {
        analysis,
        classification,
        actions,
        regulatory,
    }
}

pub fn custody_entries(case_dir: &Path) -> Vec<irpack::evidence::custody::CustodyEntry> {
    irpack::evidence::custody::read_and_verify(&case_dir.join("custody.jsonl")).unwrap()
}

/// Extract a ZIP into `dest`; returns the bag root (`dest/<case-id>`).
pub fn extract(zip_path: &Path, dest: &Path) -> PathBuf {
    let mut a = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
    a.extract(dest).unwrap();
    let name = a
        .by_index(0)
        .unwrap()
        .name()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    dest.join(name)
}

pub fn later(h: i64) -> DateTime<Utc> {
    clock() + Duration::hours(h)
}
