//! Regulatory flags: which regimes apply to the affected accounts' data and to the
//! organisation, with deadlines exact to the minute from `aware_at`.

mod common;

use chrono::{DateTime, Utc};
use irpack::analysis::regulatory::{calendar, flags, flags_with_events, sec_due};
use irpack::analysis::{
    Analysis, Classification, Deadline, FlagStatus, RegulatoryFlag, UserClassification, Verdict,
};
use irpack::case::{CaseFile, DataAsset};
use irpack::event::{actions, Event, EventClass, Outcome, Provenance};

/// `flags_with_events`, checked to give the same flags over the events trimmed for the analysis.
fn flags_trim_neutral(
    a: &Analysis,
    c: &Classification,
    case: &CaseFile,
    events: &[Event],
) -> Vec<RegulatoryFlag> {
    let fs = flags_with_events(a, c, case, events);
    assert_eq!(
        flags_with_events(a, c, case, &common::trimmed(events)),
        fs,
        "trimming the events for the analysis changed the regulatory flags"
    );
    fs
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

const ALICE: &str = "alice@contoso.example";
const BOB: &str = "bob@contoso.example";
const AWARE: &str = "2025-05-24T07:40:00Z";

fn account(user: &str, verdict: Verdict) -> UserClassification {
    UserClassification {
        user: user.into(),
        verdict,
        privileged: false,
        escalate: false,
        criteria_met: vec![],
        criteria_not_met: vec![],
        missing_evidence: vec![],
        confidence: "high".into(),
        confidence_reason: "fixture".into(),
    }
}

fn incident(verdict: Verdict, users: Vec<UserClassification>) -> Classification {
    Classification {
        verdict,
        summary: String::new(),
        escalate: false,
        criteria_met: vec![],
        criteria_not_met: vec![],
        missing_evidence: vec![],
        confidence: "high".into(),
        confidence_reason: String::new(),
        users,
    }
}

fn compromised(user: &str) -> Classification {
    incident(
        Verdict::ConfirmedCompromise,
        vec![account(user, Verdict::ConfirmedCompromise)],
    )
}

fn asset(kind: &str, id: &str, cats: &[&str]) -> DataAsset {
    DataAsset {
        kind: kind.into(),
        id: id.into(),
        categories: cats.iter().map(|s| s.to_string()).collect(),
    }
}

fn case_with(assets: Vec<DataAsset>) -> CaseFile {
    let mut c = CaseFile::minimal("IR-REG");
    c.aware_at = Some(ts(AWARE));
    c.data.assets = assets;
    c
}

fn window() -> Analysis {
    Analysis {
        window_start: Some(ts("2025-05-19T00:00:00Z")),
        window_end: Some(ts("2025-05-26T23:59:00Z")),
        ..Default::default()
    }
}

fn regime<'a>(fs: &'a [RegulatoryFlag], name: &str) -> &'a RegulatoryFlag {
    fs.iter()
        .find(|f| f.regime == name)
        .unwrap_or_else(|| panic!("no {name} flag"))
}

fn due<'a>(f: &'a RegulatoryFlag, what_starts: &str) -> &'a Deadline {
    f.deadlines
        .iter()
        .find(|d| d.what.starts_with(what_starts))
        .unwrap_or_else(|| {
            panic!(
                "{}: no deadline {what_starts}: {:#?}",
                f.regime, f.deadlines
            )
        })
}

fn ual(n: u64, time: &str, user: &str, action: &str) -> Event {
    let mut e = Event::new(
        ts(time),
        time,
        "UTC",
        "m365_ual",
        "csv",
        EventClass::ApiActivity,
        action,
        "FileDownloaded",
        Outcome::Success,
        Provenance {
            evidence_sha256: "a".repeat(64).into(),
            record_no: n,
            ..Default::default()
        },
    );
    e.user = Some(user.into());
    e.src_ip = Some("185.220.101.34".into());
    e
}

fn download(n: u64, time: &str, user: &str, url: &str) -> Event {
    let mut e = ual(n, time, user, actions::FILE_DOWNLOADED);
    e.descr_mut().resource = Some(url.into());
    e.extra.insert(
        "SiteUrl",
        serde_json::json!(url.split("/Shared").next().unwrap()),
    );
    e
}

// ---------------------------------------------------------------------------------------
// Deadlines, exact to the minute
// ---------------------------------------------------------------------------------------

#[test]
fn gdpr_is_72_hours_after_awareness() {
    let case = case_with(vec![asset("user", ALICE, &["eu_personal_data"])]);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let g = regime(&fs, "GDPR");
    assert_eq!(g.status, FlagStatus::Applies);
    assert_eq!(
        due(g, "Notify the supervisory authority").due,
        Some(ts("2025-05-27T07:40:00Z"))
    );
    let art34 = due(g, "Communicate to data subjects");
    assert!(art34.due.is_none());
    assert!(art34
        .note
        .as_deref()
        .unwrap()
        .contains("without undue delay"));
    assert!(g.reference.contains("Art. 33") && g.reference.contains("Art. 34"));
    assert!(g.why.contains(ALICE) && g.why.contains("classifies the account itself"));
}

#[test]
fn sec_counts_four_business_days_over_a_weekend_and_memorial_day() {
    // Determined material Thursday 22 May 2025, 16:00 EDT. Business days: Fri 23 (1),
    // Sat 24, Sun 25, Memorial Day Mon 26 skipped, Tue 27 (2), Wed 28 (3), Thu 29 (4).
    let mut case = case_with(vec![asset("user", "*", &["none"])]);
    case.data.sec_registrant = Some(true);
    case.data.sec_materiality_determined_at = Some(ts("2025-05-22T20:00:00Z"));
    let fs = flags(&window(), &compromised(ALICE), &case);
    let s = regime(&fs, "SEC 8-K 1.05");
    assert_eq!(s.status, FlagStatus::Applies);
    let d = due(s, "Form 8-K Item 1.05");
    // 17:30 EDT on Thursday 29 May = 21:30 UTC.
    assert_eq!(d.due, Some(ts("2025-05-29T21:30:00Z")));
    let note = d.note.as_deref().unwrap();
    assert!(note.contains("2025-05-26 (Memorial Day)"), "{note}");
    assert!(note.contains("2025-05-24 (Sat)") && note.contains("2025-05-25 (Sun)"));
}

#[test]
fn sec_skips_independence_day_and_thanksgiving() {
    // Wed 2 Jul 2025 10:00 EDT: Thu 3 (1), Fri 4 Independence Day, Mon 7 (2), Tue 8 (3), Wed 9 (4).
    assert_eq!(
        sec_due(ts("2025-07-02T14:00:00Z")).unwrap().0,
        ts("2025-07-09T21:30:00Z")
    );
    // 02:00 UTC on 26 Nov is still Tuesday 25 Nov in New York (21:00 EST): Wed 26 (1),
    // Thanksgiving Thu 27, Fri 28 (2), Mon 1 Dec (3), Tue 2 Dec (4); 17:30 EST = 22:30 UTC.
    let (due, skipped) = sec_due(ts("2025-11-26T02:00:00Z")).unwrap();
    assert_eq!(due, ts("2025-12-02T22:30:00Z"));
    assert!(skipped.iter().any(|s| s.contains("Thanksgiving Day")));
    // Christmas Day and New Year's Day 2026 in one stretch: Tue 23 Dec 2025 →
    // Wed 24 (1), Thu 25 Christmas, Fri 26 (2), Mon 29 (3), Tue 30 (4).
    assert_eq!(
        sec_due(ts("2025-12-23T15:00:00Z")).unwrap().0,
        ts("2025-12-30T22:30:00Z")
    );
}

#[test]
fn sec_clock_has_not_started_without_a_materiality_determination() {
    let mut case = case_with(vec![asset("user", "*", &["none"])]);
    case.data.sec_registrant = Some(true);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let d = due(regime(&fs, "SEC 8-K 1.05"), "Form 8-K");
    assert!(d.due.is_none());
    assert!(d
        .note
        .as_deref()
        .unwrap()
        .starts_with("the clock has not started"));
}

#[test]
fn hipaa_500_or_more_notifies_hhs_and_media_within_60_days() {
    let mut case = case_with(vec![asset("user", ALICE, &["phi"])]);
    case.data.affected_individuals = Some(1200);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let h = regime(&fs, "HIPAA");
    assert_eq!(h.status, FlagStatus::Applies);
    let sixty = ts("2025-07-23T07:40:00Z");
    assert_eq!(due(h, "Notify affected individuals").due, Some(sixty));
    assert_eq!(due(h, "Notify HHS").due, Some(sixty));
    assert_eq!(due(h, "Notify prominent media").due, Some(sixty));
    assert!(!h.deadlines.iter().any(|d| d.what.contains("annual")));
}

#[test]
fn hipaa_under_500_goes_to_the_annual_log() {
    let mut case = case_with(vec![asset("user", ALICE, &["phi"])]);
    case.data.affected_individuals = Some(40);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let h = regime(&fs, "HIPAA");
    // 60 days after the end of 2025: 1 March 2026, end of day.
    assert_eq!(
        due(h, "Report to HHS in the annual breach log").due,
        Some(ts("2026-03-01T23:59:59Z"))
    );
    assert!(!h.deadlines.iter().any(|d| d.what.contains("media")));
    // Exactly 500 notifies HHS within 60 days but not the media (more than 500 needed).
    case.data.affected_individuals = Some(500);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let h = regime(&fs, "HIPAA");
    assert!(h.deadlines.iter().any(|d| d.what.starts_with("Notify HHS")));
    assert!(!h.deadlines.iter().any(|d| d.what.contains("media")));
}

#[test]
fn hipaa_unknown_count_lists_every_branch() {
    let case = case_with(vec![asset("user", ALICE, &["phi"])]);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let h = regime(&fs, "HIPAA");
    assert_eq!(h.deadlines.len(), 4);
    assert!(h.deadlines.iter().skip(1).all(|d| d
        .note
        .as_deref()
        .unwrap()
        .contains("not in the case file")));
}

#[test]
fn pci_card_brand_clocks() {
    let case = case_with(vec![asset("user", ALICE, &["cardholder_data"])]);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let p = regime(&fs, "PCI DSS");
    assert_eq!(p.status, FlagStatus::Applies);
    assert_eq!(
        due(p, "Notify Mastercard").due,
        Some(ts("2025-05-25T07:40:00Z"))
    );
    let visa = due(p, "Notify Visa");
    assert_eq!(visa.due, Some(ts("2025-05-27T07:40:00Z")));
    assert!(visa.note.as_deref().unwrap().contains("immediately"));
    assert!(visa.note.as_deref().unwrap().contains("not listed"));
    assert!(p.reference.contains("12.10"));
    // Only the brands the case file names.
    let mut case = case;
    case.data.card_brands = vec!["mastercard".into()];
    let fs = flags(&window(), &compromised(ALICE), &case);
    let p = regime(&fs, "PCI DSS");
    assert!(!p.deadlines.iter().any(|d| d.what.contains("Visa")));
}

#[test]
fn fisma_reports_to_cisa_within_one_hour() {
    let case = case_with(vec![asset("user", ALICE, &["us_federal_data"])]);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let f = regime(&fs, "FISMA/CISA");
    assert_eq!(f.status, FlagStatus::Applies);
    assert_eq!(f.deadlines[0].due, Some(ts("2025-05-24T08:40:00Z")));
    assert!(
        f.why.contains("DFARS"),
        "a non-agency is told about contract clauses"
    );
    // An agency reports every confirmed incident, whatever the data.
    let mut case = case_with(vec![asset("user", "*", &["none"])]);
    case.data.us_federal_agency = Some(true);
    let fs = flags(&window(), &compromised(ALICE), &case);
    assert_eq!(regime(&fs, "FISMA/CISA").status, FlagStatus::Applies);
}

#[test]
fn nis2_early_warning_notification_and_final_report() {
    let mut case = case_with(vec![asset("user", "*", &["none"])]);
    case.data.nis2_entity = Some(true);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let n = regime(&fs, "NIS2");
    assert_eq!(n.status, FlagStatus::Applies);
    assert_eq!(
        due(n, "Early warning").due,
        Some(ts("2025-05-25T07:40:00Z"))
    );
    assert_eq!(
        due(n, "Incident notification").due,
        Some(ts("2025-05-27T07:40:00Z"))
    );
    assert_eq!(due(n, "Final report").due, Some(ts("2025-06-27T07:40:00Z")));
    assert!(due(n, "Intermediate").due.is_none());
}

#[test]
fn dora_initial_notification_is_the_earlier_of_4h_after_major_and_24h_after_awareness() {
    let mut case = case_with(vec![asset("user", "*", &["none"])]);
    case.data.dora_financial_entity = Some(true);
    // Classified major 2 hours after awareness: 4 hours later wins.
    case.data.dora_major_classified_at = Some(ts("2025-05-24T09:40:00Z"));
    let fs = flags(&window(), &compromised(ALICE), &case);
    let d = regime(&fs, "DORA");
    assert_eq!(d.status, FlagStatus::Applies);
    assert_eq!(due(d, "Initial").due, Some(ts("2025-05-24T13:40:00Z")));
    assert_eq!(due(d, "Intermediate").due, Some(ts("2025-05-27T13:40:00Z")));
    assert_eq!(due(d, "Final").due, Some(ts("2025-06-27T13:40:00Z")));
    // Classified 22 hours after awareness: the 24-hour cap wins.
    case.data.dora_major_classified_at = Some(ts("2025-05-25T05:40:00Z"));
    let fs = flags(&window(), &compromised(ALICE), &case);
    assert_eq!(
        due(regime(&fs, "DORA"), "Initial").due,
        Some(ts("2025-05-25T07:40:00Z"))
    );
    // Not classified: the cap, with a note saying so.
    case.data.dora_major_classified_at = None;
    let fs = flags(&window(), &compromised(ALICE), &case);
    let i = due(regime(&fs, "DORA"), "Initial");
    assert_eq!(i.due, Some(ts("2025-05-25T07:40:00Z")));
    assert!(i.note.as_deref().unwrap().contains("not been classified"));
}

// ---------------------------------------------------------------------------------------
// What applies, and when it cannot be told
// ---------------------------------------------------------------------------------------

#[test]
fn every_regime_is_always_reported_in_order() {
    let case = case_with(vec![]);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let names: Vec<&str> = fs.iter().map(|f| f.regime.as_str()).collect();
    assert_eq!(
        names,
        [
            "GDPR",
            "HIPAA",
            "PCI DSS",
            "FISMA/CISA",
            "SEC 8-K 1.05",
            "NIS2",
            "DORA"
        ]
    );
    assert!(fs
        .iter()
        .all(|f| !f.why.is_empty() && !f.reference.is_empty()));
}

#[test]
fn unknown_data_classification_cannot_be_determined() {
    let case = case_with(vec![]);
    let fs = flags(&window(), &compromised(ALICE), &case);
    for r in ["GDPR", "HIPAA", "PCI DSS", "FISMA/CISA"] {
        let f = regime(&fs, r);
        assert_eq!(f.status, FlagStatus::CannotDetermine, "{r}");
        assert!(f.why.contains("classifies no data"), "{r}: {}", f.why);
        assert!(
            !f.deadlines.is_empty(),
            "{r}: the clock is shown in case it applies"
        );
    }
    for r in ["SEC 8-K 1.05", "NIS2", "DORA"] {
        let f = regime(&fs, r);
        assert_eq!(f.status, FlagStatus::CannotDetermine, "{r}");
        assert!(f.why.contains("does not say whether"), "{r}: {}", f.why);
    }
}

#[test]
fn an_account_missing_from_the_classification_is_unknown() {
    let case = case_with(vec![asset("user", BOB, &["phi"])]);
    let fs = flags(&window(), &compromised(ALICE), &case);
    let g = regime(&fs, "GDPR");
    assert_eq!(g.status, FlagStatus::CannotDetermine);
    assert!(g
        .why
        .contains(&format!("no data classification covers {ALICE}")));
}

#[test]
fn explicitly_unregulated_data_does_not_apply() {
    let mut case = case_with(vec![asset("user", "*", &["none"])]);
    case.data.sec_registrant = Some(false);
    let fs = flags(&window(), &compromised(ALICE), &case);
    for r in ["GDPR", "HIPAA", "PCI DSS", "FISMA/CISA", "SEC 8-K 1.05"] {
        let f = regime(&fs, r);
        assert_eq!(f.status, FlagStatus::DoesNotApply, "{r}: {}", f.why);
        assert!(f.deadlines.is_empty());
    }
}

#[test]
fn downloads_from_a_classified_site_in_the_window_apply() {
    let site = "https://contoso.sharepoint.com/sites/Patients";
    let case = case_with(vec![
        asset("user", "*", &["none"]),
        asset("site", site, &["phi", "eu_personal_data"]),
    ]);
    let inside = download(
        1,
        "2025-05-22T02:30:00Z",
        ALICE,
        &format!("{site}/Shared Documents/intake-2025.xlsx"),
    );
    let other_site = download(
        2,
        "2025-05-22T02:31:00Z",
        ALICE,
        "https://contoso.sharepoint.com/sites/Marketing/Shared Documents/a.pptx",
    );
    let before = download(
        3,
        "2025-04-01T10:00:00Z",
        ALICE,
        &format!("{site}/Shared Documents/old.xlsx"),
    );
    let someone_else = download(
        4,
        "2025-05-22T02:32:00Z",
        BOB,
        &format!("{site}/Shared Documents/b.xlsx"),
    );
    let events = vec![inside.clone(), other_site, before, someone_else];
    let fs = flags_trim_neutral(&window(), &compromised(ALICE), &case, &events);
    let h = regime(&fs, "HIPAA");
    assert_eq!(h.status, FlagStatus::Applies, "{}", h.why);
    assert!(h.why.contains(&inside.hash()), "{}", h.why);
    assert!(h.why.contains("1 events, 1 downloads"), "{}", h.why);
    assert_eq!(regime(&fs, "GDPR").status, FlagStatus::Applies);
    // The same case without the events: only the account itself is known, and it holds none.
    let fs = flags(&window(), &compromised(ALICE), &case);
    assert_eq!(regime(&fs, "HIPAA").status, FlagStatus::DoesNotApply);
}

#[test]
fn access_to_a_classified_mailbox_applies() {
    let case = case_with(vec![
        asset("user", "*", &["none"]),
        asset("mailbox", "billing@contoso.example", &["cardholder_data"]),
    ]);
    let mut e = ual(
        1,
        "2025-05-22T03:00:00Z",
        ALICE,
        actions::MAIL_ITEMS_ACCESSED,
    );
    e.extra.insert(
        "MailboxOwnerUPN",
        serde_json::json!("billing@contoso.example"),
    );
    let fs = flags_trim_neutral(&window(), &compromised(ALICE), &case, &[e.clone()]);
    let p = regime(&fs, "PCI DSS");
    assert_eq!(p.status, FlagStatus::Applies);
    assert!(p
        .why
        .contains("accessed the mailbox billing@contoso.example"));
    assert!(p.why.contains(&e.hash()));
}

#[test]
fn an_exposed_credential_applies_with_a_caveat() {
    let case = case_with(vec![asset("user", BOB, &["eu_personal_data"])]);
    let c = incident(
        Verdict::CredentialExposed,
        vec![account(BOB, Verdict::CredentialExposed)],
    );
    let g = regime(&flags(&window(), &c, &case), "GDPR").clone();
    assert_eq!(g.status, FlagStatus::Applies);
    assert!(g.why.contains("Art. 4(12)"));
}

#[test]
fn an_undetermined_account_with_regulated_data_cannot_be_determined() {
    let case = case_with(vec![asset("user", ALICE, &["phi"])]);
    let c = incident(
        Verdict::Undetermined,
        vec![account(ALICE, Verdict::Undetermined)],
    );
    let fs = flags(&window(), &c, &case);
    let h = regime(&fs, "HIPAA");
    assert_eq!(h.status, FlagStatus::CannotDetermine);
    assert!(h.why.contains("undetermined"));
}

#[test]
fn a_false_positive_triggers_no_regime() {
    let mut case = case_with(vec![asset("user", ALICE, &["phi", "eu_personal_data"])]);
    case.data.nis2_entity = Some(true);
    let c = incident(
        Verdict::FalsePositive,
        vec![
            account(ALICE, Verdict::FalsePositive),
            account(BOB, Verdict::FalsePositive),
        ],
    );
    let fs = flags(&window(), &c, &case);
    for f in &fs {
        assert_eq!(f.status, FlagStatus::DoesNotApply, "{}", f.regime);
        assert!(f.why.contains("no account was compromised"), "{}", f.why);
        assert!(f.deadlines.is_empty());
    }
}

#[test]
fn no_aware_at_gives_rules_instead_of_times() {
    let mut case = case_with(vec![asset("user", ALICE, &["eu_personal_data", "phi"])]);
    case.aware_at = None;
    case.data.nis2_entity = Some(true);
    case.data.dora_financial_entity = Some(true);
    let fs = flags(&window(), &compromised(ALICE), &case);
    for r in ["GDPR", "HIPAA", "NIS2", "DORA"] {
        let f = regime(&fs, r);
        assert!(!f.deadlines.is_empty(), "{r}");
        for d in &f.deadlines {
            assert!(d.due.is_none(), "{r}: {d:?}");
            assert!(d.note.is_some(), "{r}: {d:?}");
        }
    }
    let g = due(regime(&fs, "GDPR"), "Notify the supervisory authority");
    assert!(g
        .note
        .as_deref()
        .unwrap()
        .contains("aware_at is not set in the case file"));
}

#[test]
fn entity_regimes_wait_for_a_confirmed_compromise() {
    let mut case = case_with(vec![asset("user", "*", &["none"])]);
    case.data.nis2_entity = Some(true);
    let c = incident(
        Verdict::CredentialExposed,
        vec![account(ALICE, Verdict::CredentialExposed)],
    );
    let n = regime(&flags(&window(), &c, &case), "NIS2").clone();
    assert_eq!(n.status, FlagStatus::CannotDetermine);
    assert!(n.why.contains("significant"));
}

#[test]
fn federal_holiday_calendar_2026() {
    use chrono::NaiveDate;
    let got: Vec<NaiveDate> = calendar::federal_holidays(2026)
        .into_iter()
        .map(|h| h.0)
        .collect();
    // OPM 2026: Independence Day (Sat) observed Fri 3 July.
    let want: Vec<NaiveDate> = [
        (1, 1),
        (1, 19),
        (2, 16),
        (5, 25),
        (6, 19),
        (7, 3),
        (9, 7),
        (10, 12),
        (11, 11),
        (11, 26),
        (12, 25),
    ]
    .iter()
    .map(|(m, d)| NaiveDate::from_ymd_opt(2026, *m, *d).unwrap())
    .collect();
    assert_eq!(got, want);
}
