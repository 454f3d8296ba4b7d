//! Regulatory clocks. For every regime the report says whether it applies, cannot be
//! determined (and why), or does not apply — never a silent "none" — with the legal
//! reference, why, and each deadline computed from `aware_at` (or the rule in words when the
//! time that starts the clock is not known).
//!
//! Data regimes (GDPR, HIPAA, PCI DSS, FISMA) follow the data: an account whose verdict is
//! Confirmed Compromise or Credential Exposed, matched to the case file's data classification
//! by the account itself, its mailbox, or the sites, mailboxes and apps its events touched in
//! the window. Entity regimes (SEC 8-K Item 1.05, NIS2, DORA) follow what the organisation is.
//!
//! These are clocks for counsel to check, not legal advice: the report says so.

pub(crate) mod assets;
pub mod calendar;

use super::{
    Analysis, Classification, Deadline, FlagStatus, RegulatoryFlag, UserClassification, Verdict,
};
use crate::case::CaseFile;
use crate::event::Event;
use assets::Reach;
use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, SecondsFormat, TimeZone, Utc};

/// Flags from the classification and the case file alone (no events: data reached through
/// sites, mailboxes and apps is not seen). Prefer [`flags_with_events`].
pub fn flags(
    analysis: &Analysis,
    classification: &Classification,
    case: &CaseFile,
) -> Vec<RegulatoryFlag> {
    flags_with_events(analysis, classification, case, &[])
}

/// Flags, matching the data the affected accounts touched in the window.
pub fn flags_with_events(
    analysis: &Analysis,
    classification: &Classification,
    case: &CaseFile,
    events: &[Event],
) -> Vec<RegulatoryFlag> {
    flags_with_table(analysis, classification, case, events, None)
}

/// [`flags_with_events`], with the held events' hashes in `table` (`irpack run`'s on-disk
/// table) rather than in the events.
pub fn flags_with_table(
    analysis: &Analysis,
    classification: &Classification,
    case: &CaseFile,
    events: &[Event],
    table: Option<&crate::timeline::hashes::HashTable>,
) -> Vec<RegulatoryFlag> {
    let cite = crate::timeline::hashes::Cite::new(events, table);
    let window = window(analysis, case);
    let in_window: Vec<&Event> = events
        .iter()
        .filter(|e| window.is_none_or(|(s, end)| e.time >= s && e.time <= end))
        .collect();
    let scope = Scope::new(classification, case, &in_window, cite);
    let aware = case.aware_at;
    vec![
        gdpr(&scope, aware),
        hipaa(&scope, case, aware),
        pci(&scope, case, aware),
        fisma(&scope, case, aware),
        sec(&scope, case),
        nis2(&scope, case, aware),
        dora(&scope, case, aware),
    ]
}

fn window(a: &Analysis, case: &CaseFile) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match (a.window_start, a.window_end) {
        (Some(s), Some(e)) => Some((s, e)),
        _ => match case.alert.as_ref().map(|x| (x.window_start, x.window_end)) {
            Some((Some(s), Some(e))) => Some((s, e)),
            _ => None,
        },
    }
}

fn t(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn at(what: &str, due: DateTime<Utc>, note: Option<String>) -> Deadline {
    Deadline {
        what: what.to_string(),
        due: Some(due),
        note,
    }
}

fn rule(what: &str, note: impl Into<String>) -> Deadline {
    Deadline {
        what: what.to_string(),
        due: None,
        note: Some(note.into()),
    }
}

const NO_AWARE: &str = "aware_at is not set in the case file";

/// `aware + d`, or the rule in words when awareness is not recorded.
fn from_aware(what: &str, aware: Option<DateTime<Utc>>, d: Duration, words: &str) -> Deadline {
    match aware {
        Some(a) => at(what, a + d, None),
        None => rule(what, format!("{words} ({NO_AWARE})")),
    }
}

/// The accounts in scope and what they could reach.
struct Scope<'a> {
    /// Confirmed Compromise or Credential Exposed.
    hit: Vec<(&'a UserClassification, Reach<'a>)>,
    undetermined: Vec<(&'a UserClassification, Reach<'a>)>,
    assets_defined: bool,
    incident: Verdict,
}

impl<'a> Scope<'a> {
    fn new(
        c: &'a Classification,
        case: &'a CaseFile,
        events: &[&Event],
        cite: crate::timeline::hashes::Cite,
    ) -> Self {
        let reach = |u: &'a UserClassification| {
            (u, assets::reach(&u.user, &case.data.assets, events, cite))
        };
        Scope {
            hit: c
                .users
                .iter()
                .filter(|u| {
                    matches!(
                        u.verdict,
                        Verdict::ConfirmedCompromise | Verdict::CredentialExposed
                    )
                })
                .map(reach)
                .collect(),
            undetermined: c
                .users
                .iter()
                .filter(|u| u.verdict == Verdict::Undetermined)
                .map(reach)
                .collect(),
            assets_defined: !case.data.assets.is_empty(),
            incident: c.verdict,
        }
    }

    fn nobody(&self) -> Option<String> {
        (self.hit.is_empty() && self.undetermined.is_empty()).then(|| {
            format!(
                "no account was compromised or had its credential exposed (incident verdict: {})",
                self.incident.label()
            )
        })
    }

    /// Status and reason for a data regime keyed on `category`.
    fn data(&self, category: &str, label: &str) -> (FlagStatus, String) {
        if let Some(why) = self.nobody() {
            return (FlagStatus::DoesNotApply, why);
        }
        let mut applies = Vec::new();
        for (u, r) in &self.hit {
            for a in r.holding(category) {
                let ev = if a.evidence.is_empty() {
                    String::new()
                } else {
                    let shown: Vec<&str> = a.evidence.iter().take(3).map(String::as_str).collect();
                    let more = a.evidence.len().saturating_sub(3);
                    format!(
                        " (events {}{})",
                        shown.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    )
                };
                applies.push(format!(
                    "{} ({}) — {}{ev}",
                    u.user,
                    u.verdict.label(),
                    a.how
                ));
            }
        }
        if !applies.is_empty() {
            return (
                FlagStatus::Applies,
                format!(
                    "{label} reachable from an affected account: {}",
                    applies.join("; ")
                ),
            );
        }
        if !self.assets_defined {
            return (
                FlagStatus::CannotDetermine,
                format!(
                    "the case file classifies no data ([[data.assets]] is empty), so whether {} could reach {label} is unknown",
                    self.names(true)
                ),
            );
        }
        let unknown: Vec<&str> = self
            .hit
            .iter()
            .filter(|(_, r)| !r.classified)
            .map(|(u, _)| u.user.as_str())
            .collect();
        if !unknown.is_empty() {
            return (
                FlagStatus::CannotDetermine,
                format!(
                    "no data classification covers {} (add a [[data.assets]] entry of kind user, or id \"*\" with categories [\"none\"]), so whether {label} was reachable is unknown",
                    unknown.join(", ")
                ),
            );
        }
        let open: Vec<String> = self
            .undetermined
            .iter()
            .filter(|(_, r)| !r.classified || r.holding(category).next().is_some())
            .map(|(u, _)| u.user.clone())
            .collect();
        if !open.is_empty() {
            return (
                FlagStatus::CannotDetermine,
                format!(
                    "the verdict for {} is undetermined and their data may include {label}: decide the verdict first",
                    open.join(", ")
                ),
            );
        }
        (
            FlagStatus::DoesNotApply,
            format!(
                "per the case file's data classification, no affected account ({}) holds or touched {label}",
                self.names(true)
            ),
        )
    }

    fn names(&self, with_undetermined: bool) -> String {
        let mut v: Vec<&str> = self.hit.iter().map(|(u, _)| u.user.as_str()).collect();
        if with_undetermined {
            v.extend(self.undetermined.iter().map(|(u, _)| u.user.as_str()));
        }
        super::prose::capped(v, ", ")
    }

    /// Status for an entity regime: what the organisation is, and whether a compromise is shown.
    fn entity(&self, is: Option<bool>, what: &str, threshold: &str) -> (FlagStatus, String) {
        if let Some(why) = self.nobody() {
            return (FlagStatus::DoesNotApply, why);
        }
        match is {
            None => (
                FlagStatus::CannotDetermine,
                format!("the case file does not say whether the organisation is {what}"),
            ),
            Some(false) => (
                FlagStatus::DoesNotApply,
                format!("the organisation is not {what} (case file)"),
            ),
            Some(true) if self.incident == Verdict::ConfirmedCompromise => (
                FlagStatus::Applies,
                format!(
                    "the organisation is {what} and the incident is a confirmed compromise ({}); the clock runs if {threshold}",
                    self.names(false)
                ),
            ),
            Some(true) => (
                FlagStatus::CannotDetermine,
                format!(
                    "the organisation is {what}, but no compromise is confirmed (incident verdict: {}): reportable only if {threshold}",
                    self.incident.label()
                ),
            ),
        }
    }
}

fn flag(
    regime: &str,
    (status, why): (FlagStatus, String),
    clock: &str,
    reference: &str,
    deadlines: Vec<Deadline>,
) -> RegulatoryFlag {
    RegulatoryFlag {
        regime: regime.to_string(),
        deadlines: if status == FlagStatus::DoesNotApply {
            vec![]
        } else {
            deadlines
        },
        status,
        clock: clock.to_string(),
        reference: reference.to_string(),
        why,
    }
}

fn gdpr(s: &Scope, aware: Option<DateTime<Utc>>) -> RegulatoryFlag {
    let mut st = s.data("eu_personal_data", "EU personal data");
    if st.0 == FlagStatus::Applies
        && s.hit
            .iter()
            .all(|(u, _)| u.verdict == Verdict::CredentialExposed)
    {
        st.1.push_str(
            "; the credential was exposed but no use is shown: assess whether this is a personal data breach (Art. 4(12)) before notifying",
        );
    }
    flag(
        "GDPR",
        st,
        "72 hours after becoming aware (supervisory authority); without undue delay to data subjects when high risk",
        "Regulation (EU) 2016/679 Art. 33(1) (notification to the supervisory authority), Art. 34(1) (communication to the data subject), Art. 33(5) (document every breach)",
        vec![
            from_aware(
                "Notify the supervisory authority (Art. 33)",
                aware,
                Duration::hours(72),
                "72 hours after becoming aware",
            ),
            rule(
                "Communicate to data subjects (Art. 34)",
                "without undue delay once the breach is likely to result in a high risk to their rights and freedoms",
            ),
        ],
    )
}

fn hipaa(s: &Scope, case: &CaseFile, aware: Option<DateTime<Utc>>) -> RegulatoryFlag {
    let sixty = Duration::days(60);
    let n = case.data.affected_individuals;
    let mut d = vec![from_aware(
        "Notify affected individuals (45 CFR 164.404)",
        aware,
        sixty,
        "without unreasonable delay and no later than 60 calendar days after discovery",
    )];
    let media = "Notify prominent media outlets (45 CFR 164.406)";
    let hhs_now = "Notify HHS (45 CFR 164.408(b), 500 or more individuals)";
    let hhs_log =
        "Report to HHS in the annual breach log (45 CFR 164.408(c), fewer than 500 individuals)";
    let year_end = |a: DateTime<Utc>| -> Option<DateTime<Utc>> {
        // No later than 60 days after the end of the calendar year of discovery.
        let end = Utc
            .with_ymd_and_hms(a.year(), 12, 31, 23, 59, 59)
            .single()?;
        Some(end + sixty)
    };
    match n {
        Some(n) if n >= 500 => {
            d.push(from_aware(hhs_now, aware, sixty, "contemporaneously with the individual notices, within 60 days of discovery"));
            if n > 500 {
                d.push(match aware {
                    Some(a) => at(media, a + sixty, Some(format!("{n} individuals: required when more than 500 residents of one State or jurisdiction are affected"))),
                    None => rule(media, format!("within 60 days of discovery when more than 500 residents of one State or jurisdiction are affected ({NO_AWARE})")),
                });
            }
        }
        Some(n) => match aware.and_then(year_end) {
            Some(due) => d.push(at(hhs_log, due, Some(format!("{n} individuals: log the breach and report within 60 days after the end of the calendar year")))),
            None => d.push(rule(hhs_log, format!("within 60 days after the end of the calendar year of discovery ({NO_AWARE})"))),
        },
        None => {
            let count = "the number of affected individuals is not in the case file";
            d.push(match aware {
                Some(a) => at(hhs_now, a + sixty, Some(format!("if 500 or more individuals are affected; {count}"))),
                None => rule(hhs_now, format!("within 60 days of discovery if 500 or more are affected; {count} ({NO_AWARE})")),
            });
            d.push(match aware {
                Some(a) => at(media, a + sixty, Some(format!("if more than 500 residents of one State or jurisdiction are affected; {count}"))),
                None => rule(media, format!("within 60 days if more than 500 residents of one State are affected; {count} ({NO_AWARE})")),
            });
            d.push(match aware.and_then(year_end) {
                Some(due) => at(hhs_log, due, Some(format!("if fewer than 500 are affected; {count}"))),
                None => rule(hhs_log, format!("within 60 days after the end of the calendar year if fewer than 500 are affected ({NO_AWARE})")),
            });
        }
    }
    flag(
        "HIPAA",
        s.data("phi", "protected health information (PHI)"),
        "60 calendar days after discovery to individuals; HHS and media by the 500-person rules",
        "HIPAA Breach Notification Rule, 45 CFR 164.404 (individuals), 164.406 (media), 164.408 (Secretary of HHS), 164.410 (business associates: to the covered entity within 60 days)",
        d,
    )
}

fn pci(s: &Scope, case: &CaseFile, aware: Option<DateTime<Utc>>) -> RegulatoryFlag {
    let brands: Vec<&str> = if case.data.card_brands.is_empty() {
        vec!["visa", "mastercard"]
    } else {
        case.data.card_brands.iter().map(String::as_str).collect()
    };
    let unknown = case.data.card_brands.is_empty().then_some(
        "card brands are not listed in the case file; Visa's and Mastercard's rules are shown",
    );
    let mut d = Vec::new();
    for b in brands {
        let (what, hours, words) = match b {
            "visa" => (
                "Notify Visa (What To Do If Compromised)",
                Some(72),
                "immediately, and no later than 3 days after discovery",
            ),
            "mastercard" => (
                "Notify Mastercard (Account Data Compromise program)",
                Some(24),
                "within 24 hours of knowing or suspecting the compromise",
            ),
            "amex" => (
                "Notify American Express (Data Security Operating Policy)",
                Some(72),
                "immediately, and no later than 72 hours after discovery",
            ),
            "discover" => ("Notify Discover", None, "per Discover's Information Security and Compliance rules and your acquirer agreement"),
            _ => ("Notify JCB", None, "per JCB's data security rules and your acquirer agreement"),
        };
        let mut dl = match hours {
            Some(h) => from_aware(what, aware, Duration::hours(h), words),
            None => rule(what, words),
        };
        if dl.due.is_some() {
            dl.note = Some(words.to_string());
        }
        d.push(dl);
    }
    d.push(rule(
        "Notify the acquiring bank",
        "immediately, per the merchant agreement (the acquirer relays to the brands)",
    ));
    if let Some(u) = unknown {
        for x in d.iter_mut() {
            let n = x.note.take().unwrap_or_default();
            x.note = Some(if n.is_empty() {
                u.to_string()
            } else {
                format!("{n}; {u}")
            });
        }
    }
    flag(
        "PCI DSS",
        s.data("cardholder_data", "cardholder data"),
        "card-brand rules: Mastercard 24 hours, Visa immediately (at the latest 3 days); incident response plan per PCI DSS 12.10",
        "PCI DSS v4.0.1 Requirement 12.10.1 (incident response plan incl. notification of payment brands and acquirers); Visa Rules / What To Do If Compromised; Mastercard Security Rules and Procedures (Account Data Compromise)",
        d,
    )
}

fn fisma(s: &Scope, case: &CaseFile, aware: Option<DateTime<Utc>>) -> RegulatoryFlag {
    let mut st = s.data("us_federal_data", "US federal data");
    if case.data.us_federal_agency == Some(true)
        && s.nobody().is_none()
        && st.0 != FlagStatus::Applies
    {
        st = (
            if s.hit.is_empty() { FlagStatus::CannotDetermine } else { FlagStatus::Applies },
            format!(
                "the organisation is a US federal agency; every confirmed incident on its information systems is reported to CISA ({})",
                s.names(true)
            ),
        );
    }
    if st.0 == FlagStatus::Applies && case.data.us_federal_agency != Some(true) {
        st.1.push_str(
            "; the organisation is not recorded as a federal agency: as a contractor, the contract's clause governs (e.g. DFARS 252.204-7012: 72 hours to DoD) alongside the agency's 1-hour report",
        );
    }
    flag(
        "FISMA/CISA",
        st,
        "1 hour after the incident is identified (report to CISA)",
        "FISMA 2014, 44 U.S.C. 3554(b)(7)(C)(ii) and 3556; CISA Federal Incident Notification Guidelines (report within one hour of identification); OMB annual FISMA reporting memorandum",
        vec![from_aware(
            "Report to CISA (US-CERT) via the incident reporting system",
            aware,
            Duration::hours(1),
            "within 1 hour of identifying the incident",
        )],
    )
}

/// 17:30 Eastern on the given date: EDGAR's filing-day cut-off.
fn edgar_close(d: NaiveDate) -> Option<DateTime<Utc>> {
    let ny = chrono_tz::America::New_York;
    ny.from_local_datetime(&d.and_hms_opt(17, 30, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// Form 8-K Item 1.05 is due four business days after the materiality determination.
pub fn sec_due(determined: DateTime<Utc>) -> Option<(DateTime<Utc>, Vec<String>)> {
    let day = determined
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    let (due, skipped) = calendar::add_business_days(day, 4);
    edgar_close(due).map(|t| (t, skipped))
}

fn sec(s: &Scope, case: &CaseFile) -> RegulatoryFlag {
    let what = "Form 8-K Item 1.05 (material cybersecurity incident)";
    let d = match case.data.sec_materiality_determined_at {
        Some(m) => match sec_due(m) {
            Some((due, skipped)) => at(
                what,
                due,
                Some(format!(
                    "4 business days after the materiality determination at {} ({} Eastern); filed by 17:30 Eastern to keep that filing date{}",
                    t(m),
                    m.with_timezone(&chrono_tz::America::New_York).format("%Y-%m-%d %H:%M"),
                    if skipped.is_empty() {
                        String::new()
                    } else {
                        format!("; not business days: {}", skipped.join(", "))
                    }
                )),
            ),
            None => rule(what, "4 business days after the materiality determination"),
        },
        None => rule(
            what,
            "the clock has not started: materiality has not been determined (sec_materiality_determined_at is not set). Determine it without unreasonable delay after discovery (Item 1.05 Instruction 1); the 8-K is then due within 4 business days (weekends and US federal holidays do not count)",
        ),
    };
    flag(
        "SEC 8-K 1.05",
        s.entity(
            case.data.sec_registrant,
            "an SEC registrant",
            "the registrant determines the incident material",
        ),
        "4 business days after the materiality determination",
        "Form 8-K Item 1.05 and General Instruction B.1 (17 CFR 249.308); Item 1.05(c) delay only on the US Attorney General's request; business day per 17 CFR 240.0-3 and Regulation S-T Rule 13",
        vec![d],
    )
}

fn nis2(s: &Scope, case: &CaseFile, aware: Option<DateTime<Utc>>) -> RegulatoryFlag {
    let final_note = "one month after the incident notification is submitted; shown from its latest due time — recount from the actual submission";
    let final_report = match aware
        .map(|a| a + Duration::hours(72))
        .and_then(|n| n.checked_add_months(Months::new(1)))
    {
        Some(due) => at("Final report (Art. 23(4)(d))", due, Some(final_note.into())),
        None => rule(
            "Final report (Art. 23(4)(d))",
            format!("one month after the incident notification ({NO_AWARE})"),
        ),
    };
    flag(
        "NIS2",
        s.entity(
            case.data.nis2_entity,
            "an essential or important entity under NIS2",
            "the incident is significant (Art. 23(3): severe disruption or considerable damage)",
        ),
        "24 hours early warning, 72 hours incident notification, final report one month later",
        "Directive (EU) 2022/2555 Art. 23(1), 23(3), 23(4)(a)-(d), as transposed by the member state (check the national CSIRT's rules)",
        vec![
            from_aware(
                "Early warning to the CSIRT or competent authority (Art. 23(4)(a))",
                aware,
                Duration::hours(24),
                "within 24 hours of becoming aware of the significant incident",
            ),
            from_aware(
                "Incident notification (Art. 23(4)(b))",
                aware,
                Duration::hours(72),
                "within 72 hours of becoming aware of the significant incident",
            ),
            rule(
                "Intermediate report (Art. 23(4)(c))",
                "on request of the CSIRT or competent authority",
            ),
            final_report,
        ],
    )
}

fn dora(s: &Scope, case: &CaseFile, aware: Option<DateTime<Utc>>) -> RegulatoryFlag {
    let initial_what = "Initial notification to the competent authority";
    let classified = case.data.dora_major_classified_at;
    let initial = match (classified, aware) {
        (Some(c), Some(a)) => {
            let by_class = c + Duration::hours(4);
            let cap = a + Duration::hours(24);
            Some((
                by_class.min(cap),
                format!(
                    "4 hours after classification as major ({}), and no later than 24 hours after awareness ({}): the earlier applies",
                    t(by_class),
                    t(cap)
                ),
            ))
        }
        (Some(c), None) => Some((
            c + Duration::hours(4),
            format!("4 hours after classification as major; the 24-hour cap from awareness cannot be computed ({NO_AWARE})"),
        )),
        (None, Some(a)) => Some((
            a + Duration::hours(24),
            "the incident has not been classified as major (dora_major_classified_at is not set): due 4 hours after classification, and in any case no later than this 24-hour cap from awareness".to_string(),
        )),
        (None, None) => None,
    };
    let mut d = Vec::new();
    match &initial {
        Some((due, note)) => d.push(at(initial_what, *due, Some(note.clone()))),
        None => d.push(rule(
            initial_what,
            format!("4 hours after classification as major, no later than 24 hours after awareness ({NO_AWARE})"),
        )),
    }
    let inter = initial.as_ref().map(|(due, _)| *due + Duration::hours(72));
    match inter {
        Some(i) => d.push(at(
            "Intermediate report",
            i,
            Some("72 hours after the initial notification is submitted; shown from its latest due time — recount from the actual submission".into()),
        )),
        None => d.push(rule("Intermediate report", "72 hours after the initial notification")),
    }
    match inter.and_then(|i| i.checked_add_months(Months::new(1))) {
        Some(f) => d.push(at(
            "Final report",
            f,
            Some("one month after the latest updated intermediate report; shown from the intermediate report's latest due time".into()),
        )),
        None => d.push(rule("Final report", "one month after the latest updated intermediate report")),
    }
    flag(
        "DORA",
        s.entity(
            case.data.dora_financial_entity,
            "a financial entity under DORA",
            "it is classified as a major ICT-related incident (Art. 18, Delegated Regulation (EU) 2024/1772)",
        ),
        "initial notification 4 hours after classification as major (at the latest 24 hours after awareness); intermediate 72 hours; final 1 month",
        "Regulation (EU) 2022/2554 (DORA) Art. 19(1), 19(4); Commission Delegated Regulation (EU) 2025/301 Art. 5 (time limits)",
        d,
    )
}
