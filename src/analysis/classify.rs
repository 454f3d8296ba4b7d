//! Classification, per account and for the incident, following RB-0003's matrix and RB-001's
//! triage. Each verdict comes with the criteria that decided it, the criteria checked and not
//! met, the evidence that is missing, and a confidence with its reason.
//!
//! Order of the questions (RB-0003 steps 2–6, RB-001 step 4):
//! 1. Compromise: the identity provider confirmed it; or a single-factor success from an unknown
//!    IP; or an anomalous successful sign-in followed by persistence.
//! 2. Open questions: an anomalous success without persistence, or persistence without an
//!    anomalous sign-in — a person must confirm (Undetermined, escalated).
//! 3. Leaked credential: attempts blocked by MFA → Mitigated; password changed since →
//!    Mitigated (Benign True Positive when the leak is old and MFA is in use); else Exposed.
//! 4. Failed attempts only → Mitigated.
//! 5. False positives: automated revocation with no anomalous sign-in across all affected
//!    accounts; anomalies explained by travel on record or the corporate network.
//! 6. Nothing corroborates the alert → Undetermined.
//!
//! A verdict that claims something is absent needs the logs that would show it; without them
//! the account is Undetermined and `missing_evidence` says which logs would decide it.
//!
//! Criterion ids (in `criteria_met` / `criteria_not_met`; evidence = event hashes):
//! `escalate` (why the account escalates; first when present), `privileged_user`,
//! `risk_confirmed_compromised`, `single_factor_unknown_ip`, `anomalous_sign_in`,
//! `persistence`, `leak_confirmed`, `password_changed_after_leak`, `password_not_changed`,
//! `mfa_in_use`, `legacy_auth`, `old_leak`, `mfa_blocked_use`, `attempts_failed`,
//! `no_unauthorized_use`, `travel_on_record`, `corporate_network`, `automated_revocation`,
//! `no_anomalous_sign_ins_all_users`, `alert_not_corroborated`, `risk_detection`.

mod facts;

use super::{prose, Analysis, Classification, Criterion, UserClassification, Verdict};
use crate::case::CaseFile;
use crate::event::Event;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use facts::{AttemptOutcome, Context, Cover, Coverage, UserFacts};
use std::collections::BTreeSet;

pub use facts::{ANOMALY_RULES, PERSISTENCE_RULES, TESTING_RULES};

pub fn classify(analysis: &Analysis, events: &[Event], case: &CaseFile) -> Classification {
    classify_with(analysis, events, None, case)
}

/// [`classify`], with the held events' hashes in `table` (`irpack run`'s on-disk table)
/// rather than in the events.
pub fn classify_with(
    analysis: &Analysis,
    events: &[Event],
    table: Option<&crate::timeline::hashes::HashTable>,
    case: &CaseFile,
) -> Classification {
    let ctx = Context::new(analysis, events, table, case);
    let subjects = ctx.subjects();
    let all: Vec<UserFacts> = subjects
        .iter()
        .map(|(k, (display, in_alert))| ctx.facts(k, display, *in_alert))
        .collect();
    let users: Vec<UserClassification> = all.iter().map(|f| decide(&ctx, f, &all)).collect();
    roll_up(&ctx, users, &all)
}

/// Severity order for the incident verdict (RB-0003 matrix, most severe first).
pub fn severity_rank(v: Verdict) -> u8 {
    match v {
        Verdict::ConfirmedCompromise => 0,
        Verdict::CredentialExposed => 1,
        Verdict::Mitigated => 2,
        Verdict::BenignTruePositive => 3,
        Verdict::FalsePositive => 4,
        Verdict::Undetermined => 5,
    }
}

/// When the activity behind a user's verdict began: the earliest finding or risk detection its
/// criteria cite. Containment after this moment counts as done for this incident.
pub fn activity_start(analysis: &Analysis, uc: &UserClassification) -> Option<DateTime<Utc>> {
    activity_start_in(analysis, &FindingIndex::new(&analysis.findings), uc)
}

/// [`activity_start`] with the findings looked up by the hashes they cite.
pub fn activity_start_in(
    analysis: &Analysis,
    index: &FindingIndex,
    uc: &UserClassification,
) -> Option<DateTime<Utc>> {
    let cited: BTreeSet<&str> = uc
        .criteria_met
        .iter()
        .filter(|c| DECISIVE.contains(&c.id.as_str()))
        .flat_map(|c| c.evidence.iter().map(String::as_str))
        .collect();
    let from_findings = index
        .citing(cited.iter().copied())
        .into_iter()
        .filter(|f| f.users.iter().any(|u| facts::eq(u, &uc.user)))
        .map(|f| f.first_seen);
    let from_risk = analysis
        .risk
        .iter()
        .filter(|r| cited.contains(r.evidence.as_str()))
        .filter_map(|r| r.detected_time.or(r.activity_time));
    from_findings.chain(from_risk).min()
}

/// Findings by the event hashes they cite. Per-account questions ("which findings rest on
/// this account's criteria?") were a scan of every finding's evidence per account: seconds
/// for a noisy tenant with thousands of findings and accounts.
pub struct FindingIndex<'a> {
    findings: &'a [super::Finding],
    by_hash: std::collections::HashMap<&'a str, Vec<usize>>,
}

impl<'a> FindingIndex<'a> {
    pub fn new(findings: &'a [super::Finding]) -> Self {
        let mut by_hash: std::collections::HashMap<&str, Vec<usize>> =
            std::collections::HashMap::new();
        for (i, f) in findings.iter().enumerate() {
            for h in &f.evidence {
                by_hash.entry(h.as_str()).or_default().push(i);
            }
        }
        FindingIndex { findings, by_hash }
    }

    /// The findings citing any of `hashes`, in the findings' own order.
    pub fn citing<'h>(&self, hashes: impl IntoIterator<Item = &'h str>) -> Vec<&'a super::Finding> {
        let mut idx: Vec<usize> = hashes
            .into_iter()
            .filter_map(|h| self.by_hash.get(h))
            .flatten()
            .copied()
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| &self.findings[i]).collect()
    }
}

/// Criteria whose evidence marks the start of the activity.
const DECISIVE: &[&str] = &[
    "risk_confirmed_compromised",
    "single_factor_unknown_ip",
    "anomalous_sign_in",
    "persistence",
    "leak_confirmed",
    "mfa_blocked_use",
    "attempts_failed",
];

fn t(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn crit(id: &str, description: impl Into<String>, evidence: Vec<String>) -> Criterion {
    let mut evidence = evidence;
    evidence.sort();
    evidence.dedup();
    Criterion {
        id: id.to_string(),
        description: description.into(),
        evidence,
    }
}

fn rules_of<'a>(fs: impl Iterator<Item = &'a super::Finding>) -> String {
    let set: BTreeSet<String> = fs.map(|f| format!("{} {}", f.rule, f.title)).collect();
    prose::capped(set, "; ")
}

fn window_text(ctx: &Context) -> String {
    match ctx.window {
        Some((s, e)) => format!("{} – {}", t(s), t(e)),
        None => "the investigated period".into(),
    }
}

fn coverage_gap(ctx: &Context, c: &Coverage, what: &str) -> Option<String> {
    match c.state {
        Cover::Full => None,
        Cover::None => Some(format!(
            "no {what} covering the window ({})",
            window_text(ctx)
        )),
        Cover::Partial => Some(match (c.first, c.last) {
            (Some(f), Some(l)) => format!(
                "{what} cover only {} – {} of the window ({})",
                t(f),
                t(l),
                window_text(ctx)
            ),
            _ => format!("{what} of unknown extent"),
        }),
    }
}

/// The per-account decision.
struct Decision {
    verdict: Verdict,
    met: Vec<Criterion>,
    not_met: Vec<Criterion>,
    missing: Vec<String>,
    escalate: Vec<String>,
    /// Reasons the confidence is below high.
    doubts: Vec<String>,
    /// Set when the verdict itself rests on missing evidence.
    low: bool,
}

impl Decision {
    fn met(&mut self, c: Criterion) {
        if !self.met.iter().any(|m| m.id == c.id) {
            self.met.push(c);
        }
    }
    fn not_met(&mut self, id: &str, description: impl Into<String>) {
        if !self.met.iter().any(|m| m.id == id) && !self.not_met.iter().any(|m| m.id == id) {
            self.not_met.push(crit(id, description, vec![]));
        }
    }
    fn missing(&mut self, m: Option<String>) {
        if let Some(m) = m {
            if !self.missing.contains(&m) {
                self.missing.push(m);
            }
        }
    }
}

fn decide(ctx: &Context, f: &UserFacts, all: &[UserFacts]) -> UserClassification {
    let mut d = Decision {
        verdict: Verdict::Undetermined,
        met: vec![],
        not_met: vec![],
        missing: vec![],
        escalate: vec![],
        doubts: vec![],
        low: false,
    };
    let signin_gap = coverage_gap(ctx, &ctx.signin, "sign-in logs");
    let audit_gap = coverage_gap(ctx, &ctx.audit, "audit logs").map(|g| {
        if ctx.audit.state == Cover::None {
            "no audit logs, so persistence cannot be ruled out".to_string()
        } else {
            g
        }
    });
    let mailbox_gap = (ctx.mailbox.state == Cover::None).then(|| {
        "no Unified Audit Log (m365_ual), so inbox rules, forwarding and mailbox access cannot be ruled out".to_string()
    });

    // --- signals -------------------------------------------------------------------------
    let live: Vec<_> = f.live().collect();
    let success: Vec<_> = live
        .iter()
        .filter(|a| matches!(a.outcome, AttemptOutcome::Success | AttemptOutcome::Unknown))
        .collect();
    let single: Vec<_> = success
        .iter()
        .filter(|a| a.finding.rule == super::rules::SINGLE_FACTOR_UNKNOWN_IP)
        .collect();
    let blocked: Vec<_> = live
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::BlockedByMfa)
        .collect();
    let failed: Vec<_> = live
        .iter()
        .filter(|a| a.outcome == AttemptOutcome::Failed)
        .collect();
    // A detection an administrator dismissed is not counted against the account.
    let dismissed = |r: &&&super::RiskAlert| {
        r.risk_state
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("dismissed"))
    };
    let risky_signins: Vec<_> = f
        .other_risk
        .iter()
        .filter(|r| !dismissed(r))
        .filter(|r| {
            r.ip.as_deref()
                .is_some_and(|ip| ctx.corporate(ip).is_none())
        })
        .collect();
    let first_success = success
        .iter()
        .filter_map(|a| a.first_success)
        .chain(
            risky_signins
                .iter()
                .filter_map(|r| r.activity_time.or(r.detected_time)),
        )
        .min();
    let persistence_after: Vec<_> = match first_success {
        Some(t0) => f
            .persistence
            .iter()
            .filter(|p| {
                let from = t0
                    .checked_sub_signed(Duration::minutes(facts::SKEW_MINUTES))
                    .unwrap_or(t0);
                p.last_seen >= from
            })
            .collect(),
        None => vec![],
    };
    let idp_confirmed: Vec<_> = f
        .leaks
        .iter()
        .chain(f.other_risk.iter())
        .filter(|r| {
            r.risk_state
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("confirmedCompromised"))
        })
        .collect();
    // Sign-in risk detections (not the offline leak) with an IP outside the corporate
    // network are anomalous sign-ins the identity provider saw.
    if !f.other_risk.is_empty() {
        d.met(crit(
            "risk_detection",
            format!(
                "identity-provider risk detections: {}",
                prose::capped(
                    f.other_risk.iter().map(|r| format!(
                        "{} ({}{})",
                        r.risk_event_type,
                        r.risk_state.as_deref().unwrap_or("state unknown"),
                        r.ip.as_deref()
                            .map(|ip| format!(", {ip}"))
                            .unwrap_or_default()
                    )),
                    ", "
                )
            ),
            f.other_risk.iter().map(|r| r.evidence.clone()).collect(),
        ));
    }

    // --- privilege (RB-0003 step 6: escalate regardless) ---------------------------------
    for (why, ev) in &f.privileged {
        d.met(crit(
            "privileged_user",
            format!("privileged account: {why}"),
            ev.clone(),
        ));
        d.escalate.push(format!("privileged account ({why})"));
    }
    if f.privileged.is_empty() {
        d.not_met(
            "privileged_user",
            "not privileged: not listed in the case file, no privileged role seen in the logs",
        );
    }

    // --- record every signal as a criterion ---------------------------------------------
    if !idp_confirmed.is_empty() {
        d.met(crit(
            "risk_confirmed_compromised",
            "the identity provider marks the account confirmedCompromised (RB-0003 step 2: skip to containment)",
            idp_confirmed.iter().map(|r| r.evidence.clone()).collect(),
        ));
    }
    if !single.is_empty() {
        d.met(crit(
            "single_factor_unknown_ip",
            format!(
                "successful sign-in with a single factor from an unknown IP ({}) — RB-0003 step 4: critical",
                ips(single.iter().map(|a| a.finding))
            ),
            single.iter().flat_map(|a| a.evidence.clone()).collect(),
        ));
    } else {
        d.not_met(
            "single_factor_unknown_ip",
            format!(
                "no unexplained single-factor success from an unknown IP ({} finding)",
                super::rules::SINGLE_FACTOR_UNKNOWN_IP
            ),
        );
    }
    if !success.is_empty() {
        d.met(crit(
            "anomalous_sign_in",
            format!(
                "anomalous successful sign-in not explained by travel or the corporate network: {} (IPs {})",
                rules_of(success.iter().map(|a| a.finding)),
                ips(success.iter().map(|a| a.finding))
            ),
            success.iter().flat_map(|a| a.evidence.clone()).collect(),
        ));
    } else if !risky_signins.is_empty() {
        d.met(crit(
            "anomalous_sign_in",
            format!(
                "risky sign-in detected by the identity provider: {}",
                prose::capped(
                    risky_signins.iter().map(|r| format!(
                        "{} from {}",
                        r.risk_event_type,
                        r.ip.as_deref().unwrap_or("?")
                    )),
                    ", "
                )
            ),
            risky_signins.iter().map(|r| r.evidence.clone()).collect(),
        ));
    } else {
        d.not_met(
            "anomalous_sign_in",
            "no anomalous successful sign-in left unexplained (checked impossible travel, new country/IP/device, failures then success, single factor, legacy auth, MFA fatigue, IOC and shared-infrastructure findings)",
        );
    }
    let anomalous_success = !success.is_empty() || !risky_signins.is_empty();
    if !f.persistence.is_empty() {
        let (after, before): (Vec<_>, Vec<_>) = f
            .persistence
            .iter()
            .partition(|p| persistence_after.iter().any(|q| std::ptr::eq(**q, **p)));
        if !after.is_empty() || !anomalous_success {
            let which = if after.is_empty() {
                f.persistence.clone()
            } else {
                after.into_iter().copied().collect()
            };
            d.met(crit(
                "persistence",
                format!(
                    "post-sign-in persistence or data access: {}",
                    rules_of(which.iter().copied())
                ),
                which.iter().flat_map(|p| p.evidence.clone()).collect(),
            ));
        }
        if !before.is_empty() && first_success.is_some() && persistence_after.is_empty() {
            d.not_met(
                "persistence",
                format!(
                    "persistence findings ({}) all precede the anomalous sign-in",
                    rules_of(before.iter().copied().copied())
                ),
            );
        }
    } else {
        d.not_met(
            "persistence",
            "no inbox rule, forwarding, MFA registration, OAuth consent, role assignment or bulk data access finding",
        );
    }
    let leak_ev: Vec<String> = f.leaks.iter().map(|r| r.evidence.clone()).collect();
    let leak_ref = f
        .leaks
        .iter()
        .filter_map(|r| r.detected_time.or(r.activity_time))
        .min();
    let leak_activity = f.leaks.iter().filter_map(|r| r.activity_time).min();
    if !f.leaks.is_empty() {
        d.met(crit(
            "leak_confirmed",
            format!(
                "leaked credential confirmed by a leakedCredentials risk detection{}",
                leak_ref
                    .map(|t0| format!(" (detected {})", t(t0)))
                    .unwrap_or_default()
            ),
            leak_ev.clone(),
        ));
    } else {
        let alert_says_leak = ctx
            .case
            .alert
            .as_ref()
            .and_then(|a| a.kind.as_deref())
            .is_some_and(|k| k.eq_ignore_ascii_case(facts::LEAKED));
        d.not_met(
            "leak_confirmed",
            if alert_says_leak && f.in_alert {
                "the alert reports a leaked credential, but no leakedCredentials risk detection for this account is in the evidence"
            } else {
                "no leakedCredentials risk detection for this account"
            },
        );
        if alert_says_leak && f.in_alert && ctx.risk.state == Cover::None {
            d.missing(Some(
                "no risk detection export (entra_risk), so the reported leak cannot be confirmed from the logs".into(),
            ));
        }
    }
    // Password changed after the leak (RB-0003 step 2) — or after the leaked credential was
    // taken, which makes the leaked password stale.
    let pw_after_detection =
        leak_ref.and_then(|t0| f.password_changes.iter().find(|p| p.time > t0));
    let pw_after_activity =
        leak_activity.and_then(|t0| f.password_changes.iter().find(|p| p.time > t0));
    let pw_after = pw_after_detection.or(pw_after_activity);
    if !f.leaks.is_empty() {
        match pw_after {
            Some(p) => d.met(crit(
                "password_changed_after_leak",
                format!(
                    "password changed at {}{} after the leaked credential",
                    t(p.time),
                    p.by.as_deref()
                        .map(|b| format!(" by {b}"))
                        .unwrap_or_default()
                ),
                p.evidence.clone(),
            )),
            None => {
                d.met(crit(
                    "password_not_changed",
                    "no password change or reset after the leak in the logs",
                    vec![],
                ));
                d.not_met(
                    "password_changed_after_leak",
                    "no password change or reset after the leak",
                );
            }
        }
        match f.mfa_in_use {
            Some(true) => d.met(crit(
                "mfa_in_use",
                "the sign-in logs show MFA in use for this account",
                vec![],
            )),
            Some(false) => d.not_met(
                "mfa_in_use",
                "the sign-in logs show no MFA for this account (RB-0003 step 6: critical without MFA)",
            ),
            None => {
                d.not_met("mfa_in_use", "MFA status unknown");
                d.missing(Some(
                    "MFA status unknown: no sign-in shows whether MFA is in use".into(),
                ));
            }
        }
        if f.legacy_auth > 0 {
            d.met(crit(
                "legacy_auth",
                format!(
                    "{} legacy-authentication sign-ins: legacy protocols bypass MFA (RB-0003 step 6)",
                    f.legacy_auth
                ),
                vec![],
            ));
            d.doubts.push(
                "legacy authentication is in use, so MFA may not protect the leaked password"
                    .into(),
            );
        }
    }
    if !blocked.is_empty() {
        d.met(crit(
            "mfa_blocked_use",
            format!(
                "sign-ins from unknown IPs ({}) passed the password but were stopped by MFA or policy (interrupted or failed only)",
                ips(blocked.iter().map(|a| a.finding))
            ),
            blocked.iter().flat_map(|a| a.evidence.clone()).collect(),
        ));
    }
    if !failed.is_empty() || !f.testing.is_empty() {
        let mut ev: Vec<String> = failed.iter().flat_map(|a| a.evidence.clone()).collect();
        ev.extend(f.testing.iter().flat_map(|t| t.evidence.clone()));
        d.met(crit(
            "attempts_failed",
            format!(
                "sign-in attempts against the account failed: {}",
                rules_of(
                    failed
                        .iter()
                        .map(|a| a.finding)
                        .chain(f.testing.iter().copied())
                )
            ),
            ev,
        ));
    }
    for a in f.explained() {
        let id = if a
            .explained
            .as_deref()
            .is_some_and(|e| e.contains("travel on record"))
        {
            "travel_on_record"
        } else {
            "corporate_network"
        };
        d.met(crit(
            id,
            format!(
                "{} {} explained: {}",
                a.finding.rule,
                a.finding.title,
                a.explained.as_deref().unwrap_or_default()
            ),
            a.evidence.clone(),
        ));
    }
    if !f.automated_revocations.is_empty() {
        d.met(crit(
            "automated_revocation",
            format!(
                "automated credential revocation by {} ({} event(s), {} – {}): session tokens invalidated by a service, not by a person",
                revokers(f),
                f.automated_revocations.len(),
                t(f.automated_revocations[0].time),
                t(f.automated_revocations[f.automated_revocations.len() - 1].time)
            ),
            f.automated_revocations
                .iter()
                .flat_map(|s| s.evidence.clone())
                .collect(),
        ));
    }
    if f.no_baseline {
        d.doubts.push(
            "fewer days of sign-in history than the baseline needs, so new-country/IP detections could not run".into(),
        );
    }
    if f.unresolved > 0 {
        d.doubts.push(format!(
            "{} event(s) cited by findings are not in the timeline, so their outcome was assumed successful",
            f.unresolved
        ));
    }

    // --- the verdict ---------------------------------------------------------------------
    let anomalies_elsewhere: Vec<&str> = all
        .iter()
        .filter(|o| o.key != f.key && o.live().next().is_some())
        .map(|o| o.display.as_str())
        .collect();

    if !idp_confirmed.is_empty()
        || !single.is_empty()
        || (anomalous_success && !persistence_after.is_empty())
    {
        d.verdict = Verdict::ConfirmedCompromise;
        d.escalate
            .push("confirmed compromise: immediate containment (RB-0003)".into());
        if success.iter().any(|a| a.outcome == AttemptOutcome::Unknown) {
            d.doubts
                .push("the cited sign-ins are not in the timeline to check their outcome".into());
        }
    } else if anomalous_success {
        d.verdict = Verdict::Undetermined;
        d.low = true;
        d.escalate.push(
            "anomalous successful sign-in: confirm with the user via a secondary channel (RB-001 step 3)".into(),
        );
        if ctx.audit.state == Cover::None {
            d.missing(audit_gap.clone());
        } else {
            d.missing(mailbox_gap.clone());
            d.missing(Some(
                "the user's confirmation of the anomalous sign-in (no persistence found to confirm a compromise)".into(),
            ));
        }
    } else if !f.persistence.is_empty() {
        d.verdict = Verdict::Undetermined;
        d.low = true;
        d.escalate.push(
            "persistence-type changes without an anomalous sign-in: confirm the user made them"
                .into(),
        );
        d.missing(signin_gap.clone());
        d.missing(Some(
            "the user's confirmation of the persistence changes (no anomalous sign-in found)"
                .into(),
        ));
    } else if !f.leaks.is_empty() {
        if ctx.signin.state == Cover::None {
            d.verdict = Verdict::Undetermined;
            d.low = true;
            d.missing(Some(format!(
                "{} — use of the leaked credential cannot be ruled out (at least Credential Exposed)",
                signin_gap.clone().unwrap_or_default()
            )));
        } else if !blocked.is_empty() {
            d.verdict = Verdict::Mitigated;
        } else if pw_after.is_some() {
            let old = is_old_leak(ctx, f, pw_after.map(|p| p.time));
            if let Some(why) = &old {
                d.met(crit("old_leak", why.clone(), leak_ev.clone()));
            } else {
                d.not_met(
                    "old_leak",
                    format!(
                        "recent leak: not {} days older than its detection, password not rotated before detection",
                        ctx.case.thresholds.old_leak_days
                    ),
                );
            }
            d.verdict = if old.is_some() && f.mfa_in_use == Some(true) {
                Verdict::BenignTruePositive
            } else {
                Verdict::Mitigated
            };
        } else if !failed.is_empty() || !f.testing.is_empty() {
            // Attempts failed on the password itself — but the password is still the leaked one.
            d.verdict = Verdict::CredentialExposed;
        } else if !f.automated_revocations.is_empty() && anomalies_elsewhere.is_empty() {
            // The SOC pattern: a service revoked the tokens on its own and the leak alert rode
            // on that activity; no affected account shows any anomalous sign-in.
            d.verdict = Verdict::FalsePositive;
            d.met(crit(
                "no_anomalous_sign_ins_all_users",
                format!(
                    "no anomalous sign-in for any of the {} affected account(s) in the sign-in logs; the leak alert coincides with automated credential revocation",
                    all.len()
                ),
                vec![],
            ));
        } else {
            d.verdict = Verdict::CredentialExposed;
        }
        if d.verdict == Verdict::CredentialExposed && ctx.audit.state == Cover::None {
            d.doubts.push(
                "no audit logs: a password change after the leak would not be visible".into(),
            );
            d.missing(Some(
                "no audit logs, so a password change after the leak cannot be seen".into(),
            ));
        }
        if d.verdict == Verdict::CredentialExposed && f.mfa_in_use != Some(true) {
            d.escalate.push(
                "leaked password unchanged and MFA not shown in use (RB-0003 step 6: critical)"
                    .into(),
            );
        }
        if d.verdict != Verdict::Undetermined {
            d.met(crit(
                "no_unauthorized_use",
                "no successful anomalous sign-in with the leaked credential in the sign-in logs",
                vec![],
            ));
        }
    } else if !blocked.is_empty() || !failed.is_empty() || !f.testing.is_empty() {
        d.verdict = Verdict::Mitigated;
    } else if !f.automated_revocations.is_empty() {
        if ctx.signin.state == Cover::None {
            d.verdict = Verdict::Undetermined;
            d.low = true;
            d.missing(
                signin_gap
                    .clone()
                    .map(|g| format!("{g} — needed to show no account had an anomalous sign-in")),
            );
        } else if !anomalies_elsewhere.is_empty() {
            d.verdict = Verdict::Undetermined;
            d.low = true;
            d.not_met(
                "no_anomalous_sign_ins_all_users",
                format!(
                    "other affected accounts show anomalous sign-ins ({}), so a shared cause cannot be ruled out",
                    prose::capped(&anomalies_elsewhere, ", ")
                ),
            );
        } else {
            d.verdict = Verdict::FalsePositive;
            d.met(crit(
                "no_anomalous_sign_ins_all_users",
                format!(
                    "no anomalous sign-in for any of the {} affected account(s) in the sign-in logs",
                    all.len()
                ),
                vec![],
            ));
        }
    } else if f.explained().next().is_some() {
        d.verdict = Verdict::FalsePositive;
    } else {
        d.verdict = Verdict::Undetermined;
        d.low = true;
        d.met(crit(
            "alert_not_corroborated",
            if f.other_risk.is_empty() {
                "no finding, risk detection or revocation for this account corroborates the alert"
            } else {
                "only risk detections without a sign-in from an unknown IP: nothing in the logs shows use of the account"
            },
            vec![],
        ));
        d.missing(signin_gap.clone());
        d.missing(Some(
            "the alert's own detection record, or an explanation from the user (RB-001 step 3)"
                .into(),
        ));
    }

    // Evidence gaps that bear on every verdict that says something is absent.
    if d.verdict != Verdict::ConfirmedCompromise {
        d.missing(signin_gap.clone());
        if matches!(
            d.verdict,
            Verdict::CredentialExposed
                | Verdict::Mitigated
                | Verdict::BenignTruePositive
                | Verdict::FalsePositive
        ) {
            d.missing(audit_gap.clone());
            d.missing(mailbox_gap.clone());
        }
    }
    let (confidence, reason) = confidence(ctx, &d);
    let escalate = !d.escalate.is_empty();
    if escalate {
        // Say why, as a criterion of its own, first in the list.
        let ev = d
            .met
            .iter()
            .filter(|c| c.id == "privileged_user")
            .flat_map(|c| c.evidence.clone())
            .collect();
        d.met.insert(
            0,
            crit(
                "escalate",
                format!("escalate: {}", d.escalate.join("; ")),
                ev,
            ),
        );
    }
    UserClassification {
        user: f.display.clone(),
        verdict: d.verdict,
        privileged: !f.privileged.is_empty(),
        escalate,
        criteria_met: d.met,
        criteria_not_met: d.not_met,
        missing_evidence: d.missing,
        confidence,
        confidence_reason: reason,
    }
}

/// An old leak (RB-0003's Benign True Positive): the password was rotated between the leak and
/// its detection, or the leak is `old_leak_days` older than its detection.
fn is_old_leak(ctx: &Context, f: &UserFacts, changed: Option<DateTime<Utc>>) -> Option<String> {
    let days = ctx.case.thresholds.old_leak_days;
    for r in &f.leaks {
        if let (Some(a), Some(det)) = (r.activity_time, r.detected_time) {
            // A threshold beyond any representable span means no leak is old.
            if Duration::try_days(days).is_some_and(|d| det - a >= d) {
                return Some(format!(
                    "old leak: credential leaked {} , detected {} ({} days later; threshold {days})",
                    t(a),
                    t(det),
                    (det - a).num_days()
                ));
            }
            if let Some(c) = changed {
                if c > a && c <= det {
                    return Some(format!(
                        "old leak: password rotated at {} before the leak was detected at {}",
                        t(c),
                        t(det)
                    ));
                }
            }
        }
    }
    None
}

fn confidence(ctx: &Context, d: &Decision) -> (String, String) {
    let mut doubts = d.doubts.clone();
    if d.verdict != Verdict::ConfirmedCompromise {
        if ctx.mailbox.state == Cover::None && d.verdict != Verdict::Undetermined {
            doubts.push("no Unified Audit Log to rule out mailbox activity".into());
        }
        for (c, what) in [(&ctx.signin, "sign-in logs"), (&ctx.audit, "audit logs")] {
            match c.state {
                Cover::Partial => doubts.push(format!("{what} cover only part of the window")),
                Cover::None if d.verdict != Verdict::Undetermined => {
                    doubts.push(format!("no {what}"))
                }
                _ => {}
            }
        }
    }
    if d.low || d.verdict == Verdict::Undetermined {
        let why = if d.missing.is_empty() {
            "the evidence does not decide the verdict".to_string()
        } else {
            format!("missing: {}", d.missing.join("; "))
        };
        return ("low".into(), format!("Low: {why}."));
    }
    let decided = match d.verdict {
        Verdict::ConfirmedCompromise => "compromise shown directly by the cited events",
        Verdict::CredentialExposed => {
            "leak confirmed, no password change and no use seen in logs covering the window"
        }
        Verdict::Mitigated => "the logs show the password change or the blocked attempts",
        Verdict::BenignTruePositive => {
            "old leak, rotated password and MFA in use, all shown by the logs"
        }
        Verdict::FalsePositive => "the logs explain every unusual event",
        Verdict::Undetermined => "",
    };
    if doubts.is_empty() {
        ("high".into(), format!("High: {decided}."))
    } else {
        (
            "medium".into(),
            format!("Medium: {decided}, but {}.", doubts.join("; ")),
        )
    }
}

fn ips<'a>(fs: impl Iterator<Item = &'a super::Finding>) -> String {
    let set: BTreeSet<&str> = fs.flat_map(|f| f.ips.iter().map(String::as_str)).collect();
    if set.is_empty() {
        "not given".into()
    } else {
        prose::capped(set, ", ")
    }
}

fn revokers(f: &UserFacts) -> String {
    let set: BTreeSet<&str> = f
        .automated_revocations
        .iter()
        .map(|s| s.by.as_deref().unwrap_or("a Microsoft service"))
        .collect();
    prose::capped(set, ", ")
}

/// The incident: the most severe account verdict; Undetermined when an undecided account
/// could change it. Criteria come from the accounts that hold the incident verdict.
fn roll_up(ctx: &Context, users: Vec<UserClassification>, facts: &[UserFacts]) -> Classification {
    let decided = users
        .iter()
        .filter(|u| u.verdict != Verdict::Undetermined)
        .map(|u| u.verdict)
        .min_by_key(|v| severity_rank(*v));
    // Accounts the alert names decide the incident; others found on the way are classified
    // and escalated on their own, and only a confirmed compromise among them overrides.
    let named: Vec<String> = ctx
        .case
        .alert
        .as_ref()
        .map(|a| {
            a.users
                .iter()
                .map(|u| u.trim().to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    let deciding = |u: &UserClassification| {
        named.is_empty() || named.contains(&u.user.trim().to_ascii_lowercase())
    };
    let any_undetermined = users
        .iter()
        .any(|u| u.verdict == Verdict::Undetermined && deciding(u));
    let decided = if named.is_empty()
        || users
            .iter()
            .any(|u| u.verdict == Verdict::ConfirmedCompromise)
    {
        decided
    } else {
        users
            .iter()
            .filter(|u| u.verdict != Verdict::Undetermined && deciding(u))
            .map(|u| u.verdict)
            .min_by_key(|v| severity_rank(*v))
    };
    let verdict = match decided {
        Some(Verdict::ConfirmedCompromise) => Verdict::ConfirmedCompromise,
        _ if any_undetermined || users.is_empty() => Verdict::Undetermined,
        Some(v) => v,
        None => Verdict::Undetermined,
    };
    let holders: Vec<&UserClassification> = users.iter().filter(|u| u.verdict == verdict).collect();
    let prefix = |u: &UserClassification, c: &Criterion| Criterion {
        id: c.id.clone(),
        description: format!("{}: {}", u.user, c.description),
        evidence: c.evidence.clone(),
    };
    let criteria_met = holders
        .iter()
        .flat_map(|u| u.criteria_met.iter().map(move |c| prefix(u, c)))
        .collect();
    let criteria_not_met = holders
        .iter()
        .flat_map(|u| u.criteria_not_met.iter().map(move |c| prefix(u, c)))
        .collect();
    let mut missing: Vec<String> = Vec::new();
    for m in users.iter().flat_map(|u| u.missing_evidence.iter()) {
        if !missing.contains(m) {
            missing.push(m.clone());
        }
    }
    if users.is_empty() {
        missing.push(
            "no affected account: the case file names no alert users and no finding, risk detection or revocation names one".into(),
        );
    }
    let escalate = users.iter().any(|u| u.escalate);
    let rank = |c: &str| match c {
        "high" => 2,
        "medium" => 1,
        _ => 0,
    };
    let weakest = holders.iter().min_by_key(|u| rank(&u.confidence));
    let uniform = holders
        .iter()
        .all(|u| Some(&u.confidence_reason) == weakest.map(|w| &w.confidence_reason));
    let (confidence, confidence_reason) = match weakest {
        _ if users.is_empty() => (
            "low".to_string(),
            "Low: no account to classify.".to_string(),
        ),
        Some(u) => (
            u.confidence.clone(),
            if !uniform {
                format!(
                    "{} (the weakest of {} accounts: {})",
                    u.confidence_reason,
                    holders.len(),
                    u.user
                )
            } else {
                u.confidence_reason.clone()
            },
        ),
        None => (
            "low".into(),
            "Low: no account verdict decides the incident.".into(),
        ),
    };
    let summary = summary(ctx, verdict, &users, facts, &missing);
    Classification {
        verdict,
        summary,
        escalate,
        criteria_met,
        criteria_not_met,
        missing_evidence: missing,
        confidence,
        confidence_reason,
        users,
    }
}

fn names(us: &[&UserClassification]) -> String {
    let n: Vec<&str> = us.iter().map(|u| u.user.as_str()).collect();
    if n.len() <= 4 {
        n.join(", ")
    } else {
        format!("{} and {} more", n[..3].join(", "), n.len() - 3)
    }
}

/// The criteria that decide each verdict, most telling first (for the summary).
fn decisive(v: Verdict) -> &'static [&'static str] {
    match v {
        Verdict::ConfirmedCompromise => &[
            "risk_confirmed_compromised",
            "single_factor_unknown_ip",
            "anomalous_sign_in",
            "persistence",
        ],
        Verdict::CredentialExposed => &["leak_confirmed", "password_not_changed"],
        Verdict::Mitigated => &[
            "mfa_blocked_use",
            "password_changed_after_leak",
            "attempts_failed",
        ],
        Verdict::BenignTruePositive => &["old_leak", "password_changed_after_leak"],
        Verdict::FalsePositive => &[
            "automated_revocation",
            "travel_on_record",
            "corporate_network",
        ],
        Verdict::Undetermined => &[
            "anomalous_sign_in",
            "persistence",
            "no_anomalous_sign_ins_all_users",
            "alert_not_corroborated",
            "risk_detection",
            "leak_confirmed",
        ],
    }
}

/// One paragraph, plain words.
fn summary(
    ctx: &Context,
    verdict: Verdict,
    users: &[UserClassification],
    facts: &[UserFacts],
    missing: &[String],
) -> String {
    let mut s = String::new();
    let alert = ctx.case.alert.as_ref();
    let kind = alert.and_then(|a| a.title.clone().or(a.kind.clone()));
    s.push_str(&format!("Verdict: {}. ", verdict.label()));
    if users.is_empty() {
        s.push_str("No affected account could be identified from the case file or the evidence. ");
    } else {
        s.push_str(&format!(
            "{} account{} reviewed{}. ",
            users.len(),
            if users.len() == 1 { " was" } else { "s were" },
            kind.map(|k| format!(" for the alert \"{k}\""))
                .unwrap_or_default()
        ));
    }
    let mut order: Vec<Verdict> = users.iter().map(|u| u.verdict).collect();
    order.sort_by_key(|v| severity_rank(*v));
    order.dedup();
    for v in order {
        let group: Vec<&UserClassification> = users.iter().filter(|u| u.verdict == v).collect();
        let automated = v == Verdict::FalsePositive
            && group.iter().all(|u| {
                u.criteria_met
                    .iter()
                    .any(|c| c.id == "automated_revocation")
            });
        let why = if automated {
            let stamps: Vec<&facts::Stamp> = facts
                .iter()
                .filter(|f| group.iter().any(|u| u.user == f.display))
                .flat_map(|f| f.automated_revocations.iter())
                .collect();
            let by: BTreeSet<&str> = stamps
                .iter()
                .map(|s| s.by.as_deref().unwrap_or("a Microsoft service"))
                .collect();
            let first = stamps.iter().map(|s| s.time).min();
            let last = stamps.iter().map(|s| s.time).max();
            format!(
                "their only unusual events are automated credential revocations by {} (session tokens invalidated and user records updated by a service, not a person{}), and none of the {} accounts shows an anomalous sign-in",
                prose::capped(by, ", "),
                match (first, last) {
                    (Some(a), Some(b)) => format!(", {} – {}", t(a), t(b)),
                    _ => String::new(),
                },
                users.len()
            )
        } else {
            group
                .first()
                .map(|u| {
                    let d: Vec<&str> = decisive(v)
                        .iter()
                        .filter_map(|id| u.criteria_met.iter().find(|c| c.id == *id))
                        .map(|c| c.description.as_str())
                        .take(2)
                        .collect();
                    if d.is_empty() {
                        "see the per-account criteria".to_string()
                    } else {
                        d.join("; ")
                    }
                })
                .unwrap_or_default()
        };
        s.push_str(&format!(
            "{} — {}: {}. ",
            v.label(),
            names(&group),
            why.trim_end_matches('.')
        ));
    }
    let privileged: Vec<&UserClassification> = users
        .iter()
        .filter(|u| u.escalate && u.privileged)
        .collect();
    let others: Vec<&UserClassification> = users
        .iter()
        .filter(|u| u.escalate && !u.privileged)
        .collect();
    if !privileged.is_empty() {
        s.push_str(&format!(
            "Escalate {}: privileged accounts escalate whatever the verdict (RB-0003 step 6). ",
            names(&privileged)
        ));
    }
    if !others.is_empty() {
        let reasons: BTreeSet<String> = others
            .iter()
            .filter_map(|u| u.criteria_met.iter().find(|c| c.id == "escalate"))
            .map(|c| c.description.trim_start_matches("escalate: ").to_string())
            .collect();
        s.push_str(&format!(
            "Escalate {}: {}. ",
            names(&others),
            prose::capped(reasons, "; ")
        ));
    }
    if !missing.is_empty() {
        s.push_str(&format!("Evidence still missing: {}. ", missing.join("; ")));
    }
    s.trim_end().to_string()
}
