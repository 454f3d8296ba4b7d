//! Classification (RB-0003 matrix, RB-001 triage) and recommended actions, on fixtures built
//! the way the parsers and detections will produce them: events plus the `Analysis` that
//! cites them.

mod common;

use chrono::{DateTime, Utc};
use irpack::analysis::classify::classify;
use irpack::analysis::recommend::recommend;
use irpack::analysis::{
    rules, Analysis, Classification, ContainmentEvent, Finding, RiskAlert, Severity,
    SourceCoverage, UserBaseline, UserClassification, UserSummary, Verdict,
};
use irpack::case::{CaseFile, Travel};
use irpack::event::{actions, Event, EventClass, Geo, Mfa, Outcome, Provenance, Target};
use std::sync::Arc;

// ---------------------------------------------------------------------------------------
// Fixture builders
// ---------------------------------------------------------------------------------------

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Fx {
    events: Vec<Event>,
    analysis: Analysis,
    case: CaseFile,
}

impl Fx {
    /// A week-long window (Mon 19 – Mon 26 May 2025) with sign-in and audit logs covering it.
    fn new() -> Self {
        let mut case = CaseFile::minimal("IR-TEST");
        case.aware_at = Some(ts("2025-05-24T07:40:00Z"));
        let (s, e) = (ts("2025-05-19T00:00:00Z"), ts("2025-05-26T23:59:00Z"));
        let analysis = Analysis {
            window_start: Some(s),
            window_end: Some(e),
            ..Default::default()
        };
        let mut fx = Fx {
            events: vec![],
            analysis,
            case,
        };
        fx.cover("entra_signin", s, e);
        fx.cover("entra_audit", s, e);
        fx.cover("m365_ual", s, e);
        fx.cover("entra_risk", s, e);
        fx
    }

    fn cover(&mut self, source: &str, first: DateTime<Utc>, last: DateTime<Utc>) {
        self.analysis.coverage.retain(|c| c.source != source);
        self.analysis.coverage.push(SourceCoverage {
            source: source.into(),
            events: 100,
            first: Some(first),
            last: Some(last),
        });
    }

    fn uncover(&mut self, source: &str) {
        self.analysis.coverage.retain(|c| c.source != source);
    }

    fn push(&mut self, e: Event) -> Event {
        self.events.push(e.clone());
        e
    }

    fn next_record(&self) -> u64 {
        self.events.len() as u64 + 1
    }

    /// An Entra sign-in.
    #[allow(clippy::too_many_arguments)]
    fn signin(
        &mut self,
        time: &str,
        user: &str,
        ip: &str,
        country: &str,
        outcome: Outcome,
        reason: Option<&str>,
        mfa_satisfied: Option<bool>,
    ) -> Event {
        let mut e = Event::new(
            ts(time),
            time,
            "UTC",
            "entra_signin",
            "graph_json",
            EventClass::Authentication,
            actions::SIGN_IN,
            "Sign-in activity",
            outcome,
            prov(self.next_record()),
        );
        e.user = Some(user.into());
        e.src_ip = Some(ip.into());
        e.geo = Some(Arc::new(Geo {
            country: Some(country.into()),
            ..Default::default()
        }));
        e.descr_mut().client_app = Some("Browser".into());
        e.descr_mut().app = Some("Office 365 Exchange Online".into());
        e.reason = reason.map(Into::into);
        e.mfa = mfa_satisfied
            .map(|s| Mfa {
                requirement: Some(if s {
                    "multiFactorAuthentication".into()
                } else {
                    "singleFactorAuthentication".into()
                }),
                satisfied: Some(s),
                method: s.then(|| "Mobile app notification".into()),
                detail: None,
            })
            .map(Arc::new);
        self.push(e)
    }

    /// An audit event done to `target` (by a person when `actor` is set, else by `app`).
    fn audit(
        &mut self,
        time: &str,
        action: &str,
        operation: &str,
        target: &str,
        actor: Option<&str>,
        app: Option<&str>,
    ) -> Event {
        let mut e = Event::new(
            ts(time),
            time,
            "UTC",
            "entra_audit",
            "graph_json",
            EventClass::AccountChange,
            action,
            operation,
            Outcome::Success,
            prov(self.next_record()),
        );
        e.user = actor.map(Into::into);
        e.targets = vec![Target {
            kind: Some("User".into()),
            id: Some(format!("oid-{target}").into()),
            name: Some(target.into()),
            modified: vec![],
        }]
        .into();
        let by = if actor.is_some() { "user" } else { "app" };
        e.extra.insert("initiated_by_type", serde_json::json!(by));
        if let Some(a) = app {
            e.extra.insert("initiated_by_app", serde_json::json!(a));
        }
        self.push(e)
    }

    /// An Exchange / M365 operation by the user themselves (inbox rule, download, ...).
    fn ual(&mut self, time: &str, user: &str, action: &str, operation: &str, ip: &str) -> Event {
        let mut e = Event::new(
            ts(time),
            time,
            "UTC",
            "m365_ual",
            "csv",
            EventClass::ApiActivity,
            action,
            operation,
            Outcome::Success,
            prov(self.next_record()),
        );
        e.user = Some(user.into());
        e.src_ip = Some(ip.into());
        self.push(e)
    }

    fn finding(&mut self, rule: &str, users: &[&str], ips: &[&str], evidence: &[&Event]) {
        self.finding_sev(rule, Severity::High, users, ips, evidence)
    }

    fn finding_sev(
        &mut self,
        rule: &str,
        severity: Severity,
        users: &[&str],
        ips: &[&str],
        evidence: &[&Event],
    ) {
        let first = evidence.iter().map(|e| e.time).min().unwrap();
        let last = evidence.iter().map(|e| e.time).max().unwrap();
        self.analysis.findings.push(Finding {
            rule: rule.into(),
            title: title(rule).into(),
            severity,
            techniques: vec![],
            users: users.iter().map(|s| s.to_string()).collect(),
            ips: ips.iter().map(|s| s.to_string()).collect(),
            first_seen: first,
            last_seen: last,
            evidence: evidence.iter().map(|e| e.hash()).collect(),
            rationale: format!("fixture {rule}"),
            facts: Default::default(),
        });
    }

    /// A leakedCredentials risk detection (offline), with its event.
    fn leak(&mut self, user: &str, activity: &str, detected: &str) -> Event {
        let mut e = Event::new(
            ts(activity),
            activity,
            "UTC",
            "entra_risk",
            "graph_json",
            EventClass::RiskDetection,
            actions::RISK_DETECTED,
            "leakedCredentials",
            Outcome::Unknown,
            prov(self.next_record()),
        );
        e.user = Some(user.into());
        e.extra
            .insert("risk_event_type", serde_json::json!("leakedCredentials"));
        e.extra.insert("detected_time", serde_json::json!(detected));
        e.extra
            .insert("detection_timing", serde_json::json!("offline"));
        let e = self.push(e);
        self.analysis.risk.push(RiskAlert {
            user: user.into(),
            risk_event_type: "leakedCredentials".into(),
            activity_time: Some(ts(activity)),
            detected_time: Some(ts(detected)),
            detection_timing: Some("offline".into()),
            risk_state: Some("atRisk".into()),
            risk_level: Some("high".into()),
            ip: None,
            password_changed_after: None,
            evidence: e.hash(),
        });
        e
    }

    fn contain(&mut self, user: &str, action: &str, e: &Event, automated: bool, by: &str) {
        self.analysis.containment.push(ContainmentEvent {
            user: user.into(),
            action: action.into(),
            time: e.time,
            by: Some(by.into()),
            automated,
            evidence: e.hash(),
        });
    }

    fn summary(&mut self, user: &str, mfa: Option<bool>, pw: &[&str]) {
        self.analysis.users.push(UserSummary {
            user: user.into(),
            sign_ins_ok: 10,
            mfa_ok: 10,
            countries: vec!["DE".into()],
            mfa_in_use: mfa,
            password_changes: pw.iter().map(|p| ts(p)).collect(),
            ..Default::default()
        });
    }

    fn baseline(&mut self, user: &str, countries: &[&str]) {
        self.analysis.baselines.push(UserBaseline {
            user: user.into(),
            days_of_history: 30,
            has_baseline: true,
            sign_ins: 120,
            countries: countries.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        });
    }

    fn run(&self) -> Classification {
        let c = classify(&self.analysis, &self.events, &self.case);
        let trimmed = common::trimmed(&self.events);
        assert_eq!(
            classify(&self.analysis, &trimmed, &self.case),
            c,
            "trimming the events for the analysis changed the classification"
        );
        c
    }
}

fn prov(n: u64) -> Provenance {
    Provenance {
        evidence_sha256: "f".repeat(64).into(),
        evidence_path: "data/evidence/fixture.json".into(),
        record_no: n,
        line: n,
        byte_offset: n * 100,
        byte_len: 100,
        raw_sha256: format!("{n:064x}").into(),
        decoded_from: None,
    }
}

fn title(rule: &str) -> &'static str {
    match rule {
        r if r == rules::IMPOSSIBLE_TRAVEL => "Impossible travel",
        r if r == rules::NEW_COUNTRY => "Sign-in from a new country",
        r if r == rules::NEW_IP => "Sign-in from a new IP",
        r if r == rules::SINGLE_FACTOR_UNKNOWN_IP => "Single-factor success from an unknown IP",
        r if r == rules::INBOX_RULE => "Suspicious inbox rule",
        r if r == rules::MFA_METHOD_REGISTERED => "MFA method registered",
        r if r == rules::IOC_HIT => "IOC hit",
        r if r == rules::PASSWORD_SPRAY => "Password spray",
        _ => "Finding",
    }
}

fn user<'a>(c: &'a Classification, upn: &str) -> &'a UserClassification {
    c.users
        .iter()
        .find(|u| u.user.eq_ignore_ascii_case(upn))
        .unwrap_or_else(|| panic!("{upn} not classified: {:#?}", c.users))
}

fn met<'a>(u: &'a UserClassification, id: &str) -> &'a irpack::analysis::Criterion {
    u.criteria_met
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("{} lacks criterion {id}: {:#?}", u.user, u.criteria_met))
}

fn not_met(u: &UserClassification, id: &str) -> bool {
    u.criteria_not_met.iter().any(|c| c.id == id)
}

const ALICE: &str = "alice@contoso.example";
const BOB: &str = "bob@contoso.example";
const HOME_IP: &str = "198.51.100.10";
const EVIL_IP: &str = "185.220.101.34";

/// Alice's ordinary sign-ins from the office in Germany.
fn normal_day(fx: &mut Fx, upn: &str) {
    fx.baseline(upn, &["DE"]);
    for d in [
        "2025-05-19T08:01:00Z",
        "2025-05-20T08:03:00Z",
        "2025-05-21T07:58:00Z",
    ] {
        fx.signin(d, upn, HOME_IP, "DE", Outcome::Success, None, Some(true));
    }
}

// ---------------------------------------------------------------------------------------
// RB-0003 matrix: True Positive – Confirmed Compromise
// ---------------------------------------------------------------------------------------

#[test]
fn anomalous_sign_in_plus_inbox_rule_is_confirmed_compromise() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.summary(ALICE, Some(true), &[]);
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "NG",
        Outcome::Success,
        None,
        Some(true),
    );
    let r = fx.ual(
        "2025-05-22T02:19:00Z",
        ALICE,
        actions::INBOX_RULE_CREATED,
        "New-InboxRule",
        EVIL_IP,
    );
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &[EVIL_IP], &[&s]);
    fx.finding(rules::INBOX_RULE, &[ALICE], &[EVIL_IP], &[&r]);
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::ConfirmedCompromise);
    assert_eq!(met(u, "anomalous_sign_in").evidence, vec![s.hash()]);
    assert_eq!(met(u, "persistence").evidence, vec![r.hash()]);
    assert!(met(u, "anomalous_sign_in").description.contains(EVIL_IP));
    assert!(u.escalate);
    assert_eq!(u.confidence, "high", "{}", u.confidence_reason);
    assert_eq!(c.verdict, Verdict::ConfirmedCompromise);
    assert!(c.summary.contains("Confirmed Compromise"), "{}", c.summary);
    assert!(c.summary.contains(ALICE));
}

#[test]
fn single_factor_success_from_unknown_ip_alone_is_confirmed_compromise() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "DE",
        Outcome::Success,
        None,
        Some(false),
    );
    fx.finding(rules::SINGLE_FACTOR_UNKNOWN_IP, &[ALICE], &[EVIL_IP], &[&s]);
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::ConfirmedCompromise);
    assert_eq!(met(u, "single_factor_unknown_ip").evidence, vec![s.hash()]);
    assert!(not_met(u, "persistence"));
}

#[test]
fn impossible_travel_plus_mfa_registration_is_confirmed() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    let home = fx.signin(
        "2025-05-22T08:00:00Z",
        ALICE,
        HOME_IP,
        "DE",
        Outcome::Success,
        None,
        Some(true),
    );
    let away = fx.signin(
        "2025-05-22T08:40:00Z",
        ALICE,
        EVIL_IP,
        "BR",
        Outcome::Success,
        None,
        Some(true),
    );
    let mfa = fx.audit(
        "2025-05-22T08:45:00Z",
        actions::MFA_METHOD_REGISTERED,
        "User registered security info",
        ALICE,
        Some(ALICE),
        None,
    );
    fx.finding(
        rules::IMPOSSIBLE_TRAVEL,
        &[ALICE],
        &[HOME_IP, EVIL_IP],
        &[&home, &away],
    );
    fx.finding(rules::MFA_METHOD_REGISTERED, &[ALICE], &[EVIL_IP], &[&mfa]);
    let c = fx.run();
    assert_eq!(user(&c, ALICE).verdict, Verdict::ConfirmedCompromise);
}

#[test]
fn persistence_before_the_anomalous_sign_in_does_not_confirm() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    let r = fx.ual(
        "2025-05-19T09:00:00Z",
        ALICE,
        actions::INBOX_RULE_CREATED,
        "New-InboxRule",
        HOME_IP,
    );
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "NG",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(rules::INBOX_RULE, &[ALICE], &[HOME_IP], &[&r]);
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &[EVIL_IP], &[&s]);
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::Undetermined);
    assert!(not_met(u, "persistence"), "{:#?}", u.criteria_not_met);
    assert!(
        u.escalate,
        "an unexplained anomalous success needs the user asked"
    );
}

#[test]
fn anomalous_success_without_audit_logs_is_undetermined() {
    let mut fx = Fx::new();
    fx.uncover("entra_audit");
    fx.uncover("m365_ual");
    normal_day(&mut fx, ALICE);
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "NG",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &[EVIL_IP], &[&s]);
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::Undetermined);
    assert!(
        u.missing_evidence
            .iter()
            .any(|m| m == "no audit logs, so persistence cannot be ruled out"),
        "{:?}",
        u.missing_evidence
    );
    assert_eq!(u.confidence, "low");
    assert_eq!(c.verdict, Verdict::Undetermined);
}

#[test]
fn identity_provider_confirmed_compromise_skips_to_containment() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.leak(ALICE, "2025-05-10T00:00:00Z", "2025-05-21T04:00:00Z");
    fx.analysis.risk[0].risk_state = Some("confirmedCompromised".into());
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::ConfirmedCompromise);
    met(u, "risk_confirmed_compromised");
}

// ---------------------------------------------------------------------------------------
// Credential Exposed / Mitigated / Benign True Positive
// ---------------------------------------------------------------------------------------

#[test]
fn leaked_credential_never_changed_is_credential_exposed() {
    let mut fx = Fx::new();
    normal_day(&mut fx, BOB);
    fx.summary(BOB, Some(true), &["2025-03-02T10:00:00Z"]); // changed before the leak only
    let leak = fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    let c = fx.run();
    let u = user(&c, BOB);
    assert_eq!(u.verdict, Verdict::CredentialExposed, "{u:#?}");
    assert_eq!(met(u, "leak_confirmed").evidence, vec![leak.hash()]);
    met(u, "password_not_changed");
    assert!(not_met(u, "password_changed_after_leak"));
    assert!(not_met(u, "anomalous_sign_in"));
    assert_eq!(u.confidence, "high", "{}", u.confidence_reason);
    assert_eq!(c.verdict, Verdict::CredentialExposed);
    // RB-0003: force password reset + enable MFA (after revoking sessions, RB-001's order).
    let acts = recommend(&fx.analysis, &c, &fx.case);
    let ids: Vec<&str> = acts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "revoke_sessions",
            "reset_password",
            "enforce_mfa",
            "monitor"
        ]
    );
    assert!(acts.iter().all(|a| !a.done));
    assert!(acts[1]
        .description
        .contains("leaked password is still valid"));
    assert!(acts[3].description.contains("7 days"));
}

#[test]
fn leaked_credential_without_sign_in_logs_is_undetermined() {
    let mut fx = Fx::new();
    fx.uncover("entra_signin");
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    let c = fx.run();
    let u = user(&c, BOB);
    assert_eq!(u.verdict, Verdict::Undetermined);
    assert!(
        u.missing_evidence
            .iter()
            .any(|m| m.starts_with("no sign-in logs covering the window")),
        "{:?}",
        u.missing_evidence
    );
}

#[test]
fn password_changed_after_leak_is_mitigated() {
    let mut fx = Fx::new();
    normal_day(&mut fx, BOB);
    fx.summary(BOB, Some(true), &[]);
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    let reset = fx.audit(
        "2025-05-21T09:30:00Z",
        actions::PASSWORD_RESET,
        "Reset user password",
        BOB,
        Some("helpdesk@contoso.example"),
        None,
    );
    fx.contain(
        BOB,
        actions::PASSWORD_RESET,
        &reset,
        false,
        "helpdesk@contoso.example",
    );
    let c = fx.run();
    let u = user(&c, BOB);
    assert_eq!(u.verdict, Verdict::Mitigated);
    let p = met(u, "password_changed_after_leak");
    assert_eq!(p.evidence, vec![reset.hash()]);
    assert!(p.description.contains("helpdesk@contoso.example"));
    assert!(not_met(u, "old_leak"));
    let acts = recommend(&fx.analysis, &c, &fx.case);
    let ids: Vec<&str> = acts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["monitor", "confirm_mfa", "document_close"]);
}

#[test]
fn mfa_blocking_the_leaked_password_is_mitigated() {
    let mut fx = Fx::new();
    normal_day(&mut fx, BOB);
    fx.summary(BOB, Some(true), &[]);
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    let a = fx.signin(
        "2025-05-22T03:00:00Z",
        BOB,
        EVIL_IP,
        "RU",
        Outcome::Interrupted,
        Some("50074: Strong Authentication is required."),
        None,
    );
    let b = fx.signin(
        "2025-05-22T03:02:00Z",
        BOB,
        EVIL_IP,
        "RU",
        Outcome::Failure,
        Some("500121: Authentication failed during strong authentication request."),
        Some(false),
    );
    fx.finding(rules::NEW_COUNTRY, &[BOB], &[EVIL_IP], &[&a, &b]);
    let c = fx.run();
    let u = user(&c, BOB);
    assert_eq!(u.verdict, Verdict::Mitigated, "{u:#?}");
    let m = met(u, "mfa_blocked_use");
    assert_eq!(m.evidence.len(), 2);
    assert!(not_met(u, "anomalous_sign_in"));
    // The leaked password is still valid: reset it.
    let acts = recommend(&fx.analysis, &c, &fx.case);
    assert_eq!(acts[0].id, "reset_password");
}

#[test]
fn one_success_among_blocked_attempts_is_not_mitigated() {
    let mut fx = Fx::new();
    normal_day(&mut fx, BOB);
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    let a = fx.signin(
        "2025-05-22T03:00:00Z",
        BOB,
        EVIL_IP,
        "RU",
        Outcome::Interrupted,
        Some("50074"),
        None,
    );
    let b = fx.signin(
        "2025-05-22T03:05:00Z",
        BOB,
        EVIL_IP,
        "RU",
        Outcome::Success,
        None,
        Some(true),
    );
    let dl = fx.ual(
        "2025-05-22T03:20:00Z",
        BOB,
        actions::FILE_DOWNLOADED,
        "FileDownloaded",
        EVIL_IP,
    );
    fx.finding(rules::NEW_COUNTRY, &[BOB], &[EVIL_IP], &[&a, &b]);
    fx.finding(rules::BULK_DOWNLOAD, &[BOB], &[EVIL_IP], &[&dl]);
    let c = fx.run();
    assert_eq!(user(&c, BOB).verdict, Verdict::ConfirmedCompromise);
}

#[test]
fn old_rotated_leak_with_mfa_is_benign_true_positive() {
    let mut fx = Fx::new();
    normal_day(&mut fx, BOB);
    // Leaked in a 2024 dump, rotated in March, detected in May.
    fx.summary(BOB, Some(true), &["2025-03-02T10:00:00Z"]);
    fx.leak(BOB, "2024-11-01T00:00:00Z", "2025-05-21T04:00:00Z");
    let c = fx.run();
    let u = user(&c, BOB);
    assert_eq!(u.verdict, Verdict::BenignTruePositive, "{u:#?}");
    met(u, "old_leak");
    met(u, "mfa_in_use");
    met(u, "password_changed_after_leak");
    let acts = recommend(&fx.analysis, &c, &fx.case);
    let ids: Vec<&str> = acts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["confirm_mfa", "document_close"]);
}

#[test]
fn old_rotated_leak_without_mfa_evidence_is_only_mitigated() {
    let mut fx = Fx::new();
    fx.baseline(BOB, &["DE"]);
    fx.summary(BOB, None, &["2025-03-02T10:00:00Z"]);
    fx.leak(BOB, "2024-11-01T00:00:00Z", "2025-05-21T04:00:00Z");
    let c = fx.run();
    let u = user(&c, BOB);
    assert_eq!(u.verdict, Verdict::Mitigated);
    assert!(u
        .missing_evidence
        .iter()
        .any(|m| m.starts_with("MFA status unknown")));
}

// ---------------------------------------------------------------------------------------
// False positives
// ---------------------------------------------------------------------------------------

const MACE: &str = "MACE Credential Revocation";

/// The SOC story: 19 leaked-credential alerts on a long weekend (Sat 24 – Mon 26 May 2025,
/// Memorial Day), all internal SOC accounts including the security lead and the general
/// manager; the only unusual events are service-initiated "Update StsRefreshTokenValidFrom
/// Timestamp" and "Update user" changes.
fn nineteen(fx: &mut Fx) -> Vec<String> {
    let users: Vec<String> = (1..=19)
        .map(|i| match i {
            18 => "security.lead@contoso.example".to_string(),
            19 => "gm@contoso.example".to_string(),
            _ => format!("soc.analyst{i:02}@contoso.example"),
        })
        .collect();
    fx.case.alert = Some(irpack::case::Alert {
        kind: Some("leakedCredentials".into()),
        ids: (0..19).map(|i| format!("INC-{}", 4100 + i)).collect(),
        time: Some(ts("2025-05-24T06:55:00Z")),
        users: users.clone(),
        title: Some("Leaked credential involving one user".into()),
        ..Default::default()
    });
    fx.case.privileged.users = vec![
        "security.lead@contoso.example".into(),
        "gm@contoso.example".into(),
    ];
    for (i, u) in users.iter().enumerate() {
        fx.baseline(u, &["DE"]);
        fx.summary(u, Some(true), &[]);
        // Ordinary Friday sign-ins from the office.
        fx.signin(
            &format!("2025-05-23T08:{:02}:00Z", i),
            u,
            HOME_IP,
            "DE",
            Outcome::Success,
            None,
            Some(true),
        );
        let t = format!("2025-05-24T05:{:02}:10Z", 10 + i);
        let sts = fx.audit(
            &t,
            actions::TOKENS_REVOKED,
            "Update StsRefreshTokenValidFrom Timestamp",
            u,
            None,
            Some(MACE),
        );
        fx.audit(
            &format!("2025-05-24T05:{:02}:11Z", 10 + i),
            actions::USER_UPDATED,
            "Update user",
            u,
            None,
            Some(MACE),
        );
        fx.contain(u, actions::TOKENS_REVOKED, &sts, true, MACE);
    }
    users
}

#[test]
fn nineteen_automated_revocations_over_a_long_weekend_are_false_positives() {
    let mut fx = Fx::new();
    let users = nineteen(&mut fx);
    // The precautionary password resets the analysts did on Saturday change nothing.
    for u in users.iter().take(19) {
        let r = fx.audit(
            "2025-05-24T11:00:00Z",
            actions::PASSWORD_RESET,
            "Reset user password",
            u,
            Some("senior.consultant@contoso.example"),
            None,
        );
        fx.contain(
            u,
            actions::PASSWORD_RESET,
            &r,
            false,
            "senior.consultant@contoso.example",
        );
    }
    let c = fx.run();
    assert_eq!(c.users.len(), 19);
    for u in &c.users {
        assert_eq!(u.verdict, Verdict::FalsePositive, "{u:#?}");
        let a = met(u, "automated_revocation");
        assert!(a.description.contains(MACE), "{}", a.description);
        assert_eq!(a.evidence.len(), 2, "both audit events are cited");
        met(u, "no_anomalous_sign_ins_all_users");
        assert!(not_met(u, "leak_confirmed"));
        assert_eq!(u.confidence, "high", "{}", u.confidence_reason);
    }
    assert_eq!(c.verdict, Verdict::FalsePositive);
    // Privileged accounts escalate whatever the verdict.
    let gm = user(&c, "gm@contoso.example");
    assert!(gm.escalate && gm.privileged);
    assert!(met(gm, "escalate")
        .description
        .contains("privileged account"));
    assert_eq!(
        gm.criteria_met[0].id, "escalate",
        "the reason to escalate comes first"
    );
    assert!(!user(&c, "soc.analyst01@contoso.example").escalate);
    assert!(c.escalate);
    assert!(
        c.summary.contains("automated credential revocations"),
        "{}",
        c.summary
    );
    assert!(
        c.summary.contains("19 accounts were reviewed"),
        "{}",
        c.summary
    );
    assert!(c.summary.contains("Leaked credential involving one user"));
    // Recommended: document and close, escalation for the two privileged accounts.
    let acts = recommend(&fx.analysis, &c, &fx.case);
    assert_eq!(acts[0].id, "escalate");
    assert_eq!(acts[0].users.len(), 2);
    let close = acts.iter().find(|a| a.id == "document_close").unwrap();
    assert_eq!(close.users.len(), 19);
    assert!(close.description.contains("False Positive"));
    assert!(!acts.iter().any(|a| a.id == "reset_password"));
}

#[test]
fn revocations_are_not_a_false_positive_when_another_account_signs_in_anomalously() {
    let mut fx = Fx::new();
    nineteen(&mut fx);
    let s = fx.signin(
        "2025-05-25T01:00:00Z",
        "soc.analyst03@contoso.example",
        EVIL_IP,
        "NG",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(
        rules::NEW_COUNTRY,
        &["soc.analyst03@contoso.example"],
        &[EVIL_IP],
        &[&s],
    );
    let c = fx.run();
    let other = user(&c, "soc.analyst01@contoso.example");
    assert_eq!(other.verdict, Verdict::Undetermined);
    assert!(other
        .criteria_not_met
        .iter()
        .any(|c| c.id == "no_anomalous_sign_ins_all_users"
            && c.description.contains("soc.analyst03@contoso.example")));
    assert_ne!(c.verdict, Verdict::FalsePositive);
}

#[test]
fn revocations_without_sign_in_logs_are_undetermined() {
    let mut fx = Fx::new();
    fx.uncover("entra_signin");
    nineteen(&mut fx);
    let c = fx.run();
    assert_eq!(c.verdict, Verdict::Undetermined);
    assert!(c
        .missing_evidence
        .iter()
        .any(|m| m.starts_with("no sign-in logs covering the window")));
    assert!(c
        .missing_evidence
        .iter()
        .any(|m| m.contains("2025-05-19T00:00:00Z")));
}

#[test]
fn revocation_seen_only_in_audit_events_counts_too() {
    // Detections may not turn service changes into containment events: the audit events
    // alone (initiated_by_type = app) are enough.
    let mut fx = Fx::new();
    fx.baseline(ALICE, &["DE"]);
    fx.summary(ALICE, Some(true), &[]);
    fx.audit(
        "2025-05-24T05:10:10Z",
        actions::TOKENS_REVOKED,
        "Update StsRefreshTokenValidFrom Timestamp",
        ALICE,
        None,
        Some(MACE),
    );
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::FalsePositive);
    assert_eq!(met(u, "automated_revocation").evidence.len(), 1);
}

#[test]
fn a_person_revoking_tokens_is_not_an_automated_revocation() {
    let mut fx = Fx::new();
    fx.baseline(ALICE, &["DE"]);
    fx.audit(
        "2025-05-24T05:10:10Z",
        actions::TOKENS_REVOKED,
        "Update StsRefreshTokenValidFrom Timestamp",
        ALICE,
        Some("admin@contoso.example"),
        None,
    );
    let c = fx.run();
    // Nothing makes Alice a subject: no alert, no finding, no automated change.
    assert!(c.users.is_empty());
    assert_eq!(c.verdict, Verdict::Undetermined);
    assert!(c.missing_evidence[0].starts_with("no affected account"));
}

#[test]
fn travel_on_record_explains_impossible_travel() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.case.travel.push(Travel {
        user: ALICE.into(),
        country: "PT".into(),
        from: ts("2025-05-21T00:00:00Z"),
        to: ts("2025-05-25T23:59:59Z"),
        note: Some("TR-5531".into()),
    });
    let home = fx.signin(
        "2025-05-22T07:00:00Z",
        ALICE,
        HOME_IP,
        "DE",
        Outcome::Success,
        None,
        Some(true),
    );
    let lisbon = fx.signin(
        "2025-05-22T07:30:00Z",
        ALICE,
        "193.136.1.1",
        "PT",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(
        rules::IMPOSSIBLE_TRAVEL,
        &[ALICE],
        &[HOME_IP, "193.136.1.1"],
        &[&home, &lisbon],
    );
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::FalsePositive, "{u:#?}");
    let t = met(u, "travel_on_record");
    assert!(t.description.contains("TR-5531"));
    assert_eq!(t.evidence.len(), 2);
}

#[test]
fn travel_to_another_country_does_not_explain() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.case.travel.push(Travel {
        user: ALICE.into(),
        country: "ES".into(),
        from: ts("2025-05-21T00:00:00Z"),
        to: ts("2025-05-25T23:59:59Z"),
        note: None,
    });
    let away = fx.signin(
        "2025-05-22T07:30:00Z",
        ALICE,
        "193.136.1.1",
        "PT",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &["193.136.1.1"], &[&away]);
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::Undetermined);
    assert!(!u.criteria_met.iter().any(|c| c.id == "travel_on_record"));
}

#[test]
fn corporate_vpn_egress_explains_a_new_ip() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.case.network.vpn_ranges = vec!["203.0.113.128/25".into()];
    let vpn = fx.signin(
        "2025-05-22T07:30:00Z",
        ALICE,
        "203.0.113.140",
        "NL",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(rules::NEW_IP, &[ALICE], &["203.0.113.140"], &[&vpn]);
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &["203.0.113.140"], &[&vpn]);
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::FalsePositive, "{u:#?}");
    assert!(met(u, "corporate_network")
        .description
        .contains("corporate VPN address 203.0.113.140"));
}

#[test]
fn an_ioc_hit_is_never_explained_by_the_vpn() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.case.network.vpn_ranges = vec!["203.0.113.128/25".into()];
    let vpn = fx.signin(
        "2025-05-22T07:30:00Z",
        ALICE,
        "203.0.113.140",
        "NL",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(rules::IOC_HIT, &[ALICE], &["203.0.113.140"], &[&vpn]);
    let c = fx.run();
    assert_ne!(user(&c, ALICE).verdict, Verdict::FalsePositive);
}

// ---------------------------------------------------------------------------------------
// Escalation, roll-up, confidence
// ---------------------------------------------------------------------------------------

#[test]
fn privileged_user_escalates_regardless_of_verdict() {
    let mut fx = Fx::new();
    normal_day(&mut fx, "it.admin@contoso.example");
    fx.summary("it.admin@contoso.example", Some(true), &[]);
    fx.leak(
        "it.admin@contoso.example",
        "2025-05-18T00:00:00Z",
        "2025-05-21T04:00:00Z",
    );
    let reset = fx.audit(
        "2025-05-21T09:30:00Z",
        actions::PASSWORD_RESET,
        "Reset user password",
        "it.admin@contoso.example",
        Some("helpdesk@contoso.example"),
        None,
    );
    fx.contain(
        "it.admin@contoso.example",
        actions::PASSWORD_RESET,
        &reset,
        false,
        "helpdesk@contoso.example",
    );
    // Not privileged yet: Mitigated, no escalation.
    let c = fx.run();
    let u = user(&c, "it.admin@contoso.example");
    assert_eq!(u.verdict, Verdict::Mitigated);
    assert!(!u.escalate);
    // Privileged through a role-membership event for a role the case file names.
    fx.case.privileged.roles = vec!["Global Administrator".into()];
    let mut role = fx.audit(
        "2025-04-01T10:00:00Z",
        actions::ROLE_MEMBER_ADDED,
        "Add member to role",
        "it.admin@contoso.example",
        Some("ceo@contoso.example"),
        None,
    );
    role.targets.push(Target {
        kind: Some("Role".into()),
        id: None,
        name: Some("Global Administrator".into()),
        modified: vec![],
    });
    fx.events.pop();
    fx.events.push(role.clone());
    let c = fx.run();
    let u = user(&c, "it.admin@contoso.example");
    assert_eq!(u.verdict, Verdict::Mitigated, "the verdict is unchanged");
    assert!(u.escalate && u.privileged);
    let p = met(u, "privileged_user");
    assert!(p.description.contains("Global Administrator"));
    assert_eq!(p.evidence, vec![role.hash()]);
    assert!(c.escalate);
    assert!(
        c.summary
            .contains("privileged accounts escalate whatever the verdict"),
        "{}",
        c.summary
    );
    assert!(
        c.summary
            .contains("password changed at 2025-05-21T09:30:00Z"),
        "{}",
        c.summary
    );
}

#[test]
fn incident_verdict_is_the_most_severe_account_verdict() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    normal_day(&mut fx, BOB);
    fx.summary(BOB, Some(true), &[]);
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    fx.audit(
        "2025-05-24T05:10:10Z",
        actions::TOKENS_REVOKED,
        "Update StsRefreshTokenValidFrom Timestamp",
        ALICE,
        None,
        Some(MACE),
    );
    let c = fx.run();
    assert_eq!(user(&c, ALICE).verdict, Verdict::FalsePositive);
    assert_eq!(user(&c, BOB).verdict, Verdict::CredentialExposed);
    assert_eq!(c.verdict, Verdict::CredentialExposed);
    assert!(c
        .criteria_met
        .iter()
        .all(|k| k.description.starts_with(BOB)));
    // An undecided account makes a lesser incident verdict undetermined ...
    let carol = "carol@contoso.example";
    fx.case.alert = Some(irpack::case::Alert {
        users: vec![carol.into()],
        ..Default::default()
    });
    let c = fx.run();
    assert_eq!(user(&c, carol).verdict, Verdict::Undetermined);
    assert_eq!(c.verdict, Verdict::Undetermined);
    // ... but not a confirmed compromise.
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "DE",
        Outcome::Success,
        None,
        Some(false),
    );
    fx.finding(rules::SINGLE_FACTOR_UNKNOWN_IP, &[ALICE], &[EVIL_IP], &[&s]);
    let c = fx.run();
    assert_eq!(c.verdict, Verdict::ConfirmedCompromise);
}

#[test]
fn cited_events_missing_from_the_timeline_lower_confidence() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "DE",
        Outcome::Success,
        None,
        Some(false),
    );
    fx.finding(rules::SINGLE_FACTOR_UNKNOWN_IP, &[ALICE], &[EVIL_IP], &[&s]);
    fx.events.retain(|e| e.hash() != s.hash());
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::ConfirmedCompromise);
    assert_eq!(u.confidence, "medium");
    assert!(u.confidence_reason.contains("not in the timeline"));
}

#[test]
fn failed_spray_attempts_only_are_mitigated() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    let f1 = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "RU",
        Outcome::Failure,
        Some("50126: Invalid username or password"),
        None,
    );
    fx.finding(rules::PASSWORD_SPRAY, &[ALICE], &[EVIL_IP], &[&f1]);
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::Mitigated);
    met(u, "attempts_failed");
}

#[test]
fn alert_user_with_nothing_in_the_logs_is_undetermined_not_false_positive() {
    let mut fx = Fx::new();
    fx.uncover("entra_risk");
    normal_day(&mut fx, ALICE);
    fx.case.alert = Some(irpack::case::Alert {
        kind: Some("leakedCredentials".into()),
        users: vec![ALICE.into()],
        ..Default::default()
    });
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::Undetermined);
    met(u, "alert_not_corroborated");
    assert!(u
        .missing_evidence
        .iter()
        .any(|m| m.contains("no risk detection export")));
}

#[test]
fn partial_sign_in_coverage_is_reported_with_its_extent() {
    let mut fx = Fx::new();
    fx.cover(
        "entra_signin",
        ts("2025-05-23T00:00:00Z"),
        ts("2025-05-26T23:00:00Z"),
    );
    normal_day(&mut fx, BOB);
    fx.summary(BOB, Some(true), &[]);
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    let c = fx.run();
    let u = user(&c, BOB);
    assert_eq!(u.verdict, Verdict::CredentialExposed);
    assert_eq!(u.confidence, "medium");
    assert!(u
        .missing_evidence
        .iter()
        .any(|m| m.starts_with("sign-in logs cover only 2025-05-23T00:00:00Z")));
}

// ---------------------------------------------------------------------------------------
// Recommended actions
// ---------------------------------------------------------------------------------------

#[test]
fn confirmed_compromise_actions_follow_the_runbook_and_show_what_was_done() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.summary(ALICE, Some(true), &[]);
    // A revocation the week before does not count for this incident.
    let old = fx.audit(
        "2025-05-19T10:00:00Z",
        actions::TOKENS_REVOKED,
        "Revoke user sessions",
        ALICE,
        Some("admin@contoso.example"),
        None,
    );
    fx.contain(
        ALICE,
        actions::TOKENS_REVOKED,
        &old,
        false,
        "admin@contoso.example",
    );
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "NG",
        Outcome::Success,
        None,
        Some(true),
    );
    let r = fx.ual(
        "2025-05-22T02:19:00Z",
        ALICE,
        actions::MAILBOX_FORWARDING_SET,
        "Set-Mailbox",
        EVIL_IP,
    );
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &[EVIL_IP], &[&s]);
    fx.finding(rules::MAILBOX_FORWARDING, &[ALICE], &[EVIL_IP], &[&r]);
    let dis = fx.audit(
        "2025-05-22T09:12:00Z",
        actions::ACCOUNT_DISABLED,
        "Disable account",
        ALICE,
        Some("admin@contoso.example"),
        None,
    );
    fx.contain(
        ALICE,
        actions::ACCOUNT_DISABLED,
        &dis,
        false,
        "admin@contoso.example",
    );
    let c = fx.run();
    let acts = recommend(&fx.analysis, &c, &fx.case);
    let ids: Vec<&str> = acts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "escalate",
            "revoke_sessions",
            "reset_password",
            "disable_account",
            "block_ips",
            "remove_mail_rules",
            "enforce_mfa",
            "assess_data_exposure",
            "monitor"
        ]
    );
    let orders: Vec<u32> = acts.iter().map(|a| a.order).collect();
    assert!(orders.windows(2).all(|w| w[0] <= w[1]));
    let revoke = &acts[1];
    assert!(
        !revoke.done,
        "the revocation before the compromise does not count"
    );
    let disable = acts.iter().find(|a| a.id == "disable_account").unwrap();
    assert!(disable.done);
    assert_eq!(disable.done_at, Some(dis.time));
    assert_eq!(disable.evidence, vec![dis.hash()]);
    let block = acts.iter().find(|a| a.id == "block_ips").unwrap();
    assert!(block.description.contains(EVIL_IP));
    assert!(!block.description.contains(HOME_IP));
}

#[test]
fn a_step_done_for_some_accounts_is_split() {
    let mut fx = Fx::new();
    for u in [ALICE, BOB] {
        normal_day(&mut fx, u);
        fx.summary(u, Some(true), &[]);
        fx.leak(u, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    }
    let rv = fx.audit(
        "2025-05-21T06:00:00Z",
        actions::TOKENS_REVOKED,
        "Revoke user sessions",
        ALICE,
        Some("admin@contoso.example"),
        None,
    );
    fx.contain(
        ALICE,
        actions::TOKENS_REVOKED,
        &rv,
        false,
        "admin@contoso.example",
    );
    let c = fx.run();
    let acts = recommend(&fx.analysis, &c, &fx.case);
    let revokes: Vec<_> = acts.iter().filter(|a| a.id == "revoke_sessions").collect();
    assert_eq!(revokes.len(), 2);
    assert!(revokes[0].done && revokes[0].users == vec![ALICE.to_string()]);
    assert!(!revokes[1].done && revokes[1].users == vec![BOB.to_string()]);
}

#[test]
fn undetermined_asks_for_the_missing_evidence() {
    let mut fx = Fx::new();
    fx.uncover("entra_signin");
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    let c = fx.run();
    let acts = recommend(&fx.analysis, &c, &fx.case);
    let m = acts
        .iter()
        .find(|a| a.id == "collect_missing_evidence")
        .unwrap();
    assert!(m
        .description
        .contains("no sign-in logs covering the window"));
}

#[test]
fn classification_is_deterministic_and_serializes() {
    let mut fx = Fx::new();
    nineteen(&mut fx);
    let a = serde_json::to_string(&fx.run()).unwrap();
    let b = serde_json::to_string(&fx.run()).unwrap();
    assert_eq!(a, b);
    let back: Classification = serde_json::from_str(&a).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), a);
}

// ---------------------------------------------------------------------------------------
// Golden files: the full classification and actions, as the report will read them.
// Regenerate with UPDATE_GOLDEN=1 after a deliberate change, and review the diff.
// ---------------------------------------------------------------------------------------

fn golden(name: &str, fx: &Fx) {
    let c = fx.run();
    let acts = recommend(&fx.analysis, &c, &fx.case);
    let mut actual = serde_json::to_string_pretty(&serde_json::json!({
        "classification": c,
        "actions": acts,
    }))
    .unwrap();
    actual.push('\n');
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_GOLDEN=1", path.display()));
    if want != actual {
        let first = want
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{} differs from the golden file at line {}:\n  golden: {}\n  actual: {}\n(UPDATE_GOLDEN=1 regenerates it)",
            name,
            first + 1,
            want.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn golden_nineteen_automated_revocations() {
    let mut fx = Fx::new();
    nineteen(&mut fx);
    golden("classify_nineteen.json", &fx);
}

#[test]
fn golden_bec_compromise() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    fx.summary(ALICE, Some(true), &[]);
    let fail = fx.signin(
        "2025-05-22T02:10:00Z",
        ALICE,
        EVIL_IP,
        "NG",
        Outcome::Failure,
        Some("50126: Invalid username or password"),
        None,
    );
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "NG",
        Outcome::Success,
        None,
        Some(true),
    );
    let r = fx.ual(
        "2025-05-22T02:19:00Z",
        ALICE,
        actions::INBOX_RULE_CREATED,
        "New-InboxRule",
        EVIL_IP,
    );
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &[EVIL_IP], &[&fail, &s]);
    fx.finding(rules::INBOX_RULE, &[ALICE], &[EVIL_IP], &[&r]);
    let rv = fx.audit(
        "2025-05-22T09:00:00Z",
        actions::TOKENS_REVOKED,
        "Revoke user sessions",
        ALICE,
        Some("admin@contoso.example"),
        None,
    );
    fx.contain(
        ALICE,
        actions::TOKENS_REVOKED,
        &rv,
        false,
        "admin@contoso.example",
    );
    golden("classify_bec.json", &fx);
}

#[test]
fn golden_leaked_credential_exposed() {
    let mut fx = Fx::new();
    fx.uncover("m365_ual");
    normal_day(&mut fx, BOB);
    fx.summary(BOB, None, &[]);
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    golden("classify_exposed.json", &fx);
}

// ---------------------------------------------------------------------------------------
// Robustness: odd inputs never panic
// ---------------------------------------------------------------------------------------

#[test]
fn extreme_times_and_dangling_citations_do_not_panic() {
    let mut fx = Fx::new();
    fx.analysis.window_start = Some(DateTime::<Utc>::MIN_UTC);
    fx.analysis.window_end = Some(DateTime::<Utc>::MAX_UTC);
    fx.case.thresholds.old_leak_days = i64::MAX;
    let s = fx.signin(
        "2025-05-22T02:14:00Z",
        ALICE,
        EVIL_IP,
        "NG",
        Outcome::Success,
        None,
        Some(true),
    );
    fx.finding(rules::NEW_COUNTRY, &[ALICE], &["not an ip"], &[&s]);
    let mut f = fx.analysis.findings[0].clone();
    f.rule = rules::INBOX_RULE.into();
    f.first_seen = DateTime::<Utc>::MIN_UTC;
    f.last_seen = DateTime::<Utc>::MAX_UTC;
    f.evidence = vec!["dangling".into(), String::new()];
    fx.analysis.findings.push(f);
    fx.analysis.risk.push(RiskAlert {
        user: String::new(),
        risk_event_type: "leakedCredentials".into(),
        activity_time: Some(DateTime::<Utc>::MIN_UTC),
        detected_time: Some(DateTime::<Utc>::MAX_UTC),
        detection_timing: None,
        risk_state: None,
        risk_level: None,
        ip: Some("::1".into()),
        password_changed_after: Some(DateTime::<Utc>::MAX_UTC),
        evidence: String::new(),
    });
    fx.leak(BOB, "2025-05-18T00:00:00Z", "2025-05-21T04:00:00Z");
    fx.summary(BOB, Some(true), &["2025-05-22T00:00:00Z"]);
    let c = fx.run();
    assert_eq!(user(&c, ALICE).verdict, Verdict::ConfirmedCompromise);
    assert_eq!(user(&c, BOB).verdict, Verdict::Mitigated, "no leak is old");
    let _ = recommend(&fx.analysis, &c, &fx.case);
    let _ = irpack::analysis::regulatory::flags_with_events(&fx.analysis, &c, &fx.case, &fx.events);
}

#[test]
fn risky_sign_in_detections_count_as_anomalous_unless_dismissed() {
    let mut fx = Fx::new();
    normal_day(&mut fx, ALICE);
    let r = fx.ual(
        "2025-05-22T02:19:00Z",
        ALICE,
        actions::OAUTH_CONSENT,
        "Consent to application",
        EVIL_IP,
    );
    fx.finding(rules::OAUTH_CONSENT, &[ALICE], &[EVIL_IP], &[&r]);
    fx.analysis.risk.push(RiskAlert {
        user: ALICE.into(),
        risk_event_type: "anonymizedIPAddress".into(),
        activity_time: Some(ts("2025-05-22T02:10:00Z")),
        detected_time: Some(ts("2025-05-22T02:10:00Z")),
        detection_timing: Some("realtime".into()),
        risk_state: Some("atRisk".into()),
        risk_level: Some("medium".into()),
        ip: Some(EVIL_IP.into()),
        password_changed_after: None,
        evidence: "a".repeat(64),
    });
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::ConfirmedCompromise);
    assert!(met(u, "anomalous_sign_in")
        .description
        .contains("anonymizedIPAddress"));
    met(u, "risk_detection");
    // Dismissed by an administrator: the consent alone needs the user asked.
    fx.analysis.risk[0].risk_state = Some("dismissed".into());
    let c = fx.run();
    let u = user(&c, ALICE);
    assert_eq!(u.verdict, Verdict::Undetermined);
    assert!(met(u, "risk_detection").description.contains("dismissed"));
}
