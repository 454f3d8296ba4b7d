//! Lessons learned, derived from the evidence rather than written from memory: prevention
//! gaps (no MFA, legacy authentication), detection and containment latency, and the log
//! sources that were missing so questions stayed open.

use super::model::{human_duration, is_malicious, short, t, SourceActivity};
use super::runbook::{family_present, Family};
use super::ReportInput;
use crate::analysis::{rules, Verdict};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Lessons {
    pub items: Vec<Lesson>,
    /// Measured latencies, one line each, for the lessons table and the handoff.
    pub latencies: Vec<Latency>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Lesson {
    /// `prevention`, `detection`, `response` or `visibility`.
    pub area: String,
    pub gap: String,
    pub recommendation: String,
    pub refs: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Latency {
    pub what: String,
    pub from: String,
    pub to: String,
    pub duration: String,
}

fn lesson(area: &str, gap: String, rec: &str, refs: Vec<String>) -> Lesson {
    Lesson {
        area: area.into(),
        gap,
        recommendation: rec.into(),
        refs,
    }
}

pub fn derive(input: &ReportInput, activity: &[SourceActivity]) -> Lessons {
    let a = &input.concl.analysis;
    let cls = &input.concl.classification;
    let mut items = Vec::new();
    let mut latencies = Vec::new();

    // Users the classification holds compromised or exposed; without a per-user
    // classification, the users of attacker-activity findings.
    let mut affected: Vec<String> = cls
        .users
        .iter()
        .filter(|u| {
            matches!(
                u.verdict,
                Verdict::ConfirmedCompromise | Verdict::CredentialExposed
            )
        })
        .map(|u| u.user.clone())
        .collect();
    if affected.is_empty() && cls.users.is_empty() {
        affected = a
            .findings
            .iter()
            .filter(|f| is_malicious(f))
            .flat_map(|f| f.users.clone())
            .collect();
    }
    affected.sort_by_key(|u| u.to_ascii_lowercase());
    affected.dedup_by(|x, y| x.eq_ignore_ascii_case(y));

    for user in &affected {
        let Some(u) = a.users.iter().find(|s| s.user.eq_ignore_ascii_case(user)) else {
            continue;
        };
        if u.mfa_in_use == Some(false) || u.single_factor_ok > 0 {
            items.push(lesson(
                "prevention",
                format!(
                    "{user} had no MFA in effect: {} successful single-factor sign-in(s), {} with MFA.",
                    u.single_factor_ok, u.mfa_ok
                ),
                "Require MFA for every user through Conditional Access; register phishing-resistant methods for this account.",
                Vec::new(),
            ));
        } else if u.mfa_in_use.is_none() {
            items.push(lesson(
                "visibility",
                format!("Whether {user} had MFA cannot be told from these logs."),
                "Export the user's authentication methods and sign-in MFA details with the case.",
                Vec::new(),
            ));
        }
        if u.privileged {
            items.push(lesson(
                "prevention",
                format!("{user} is a privileged account and was affected."),
                "Separate admin accounts from daily-use accounts; use just-in-time elevation (PIM).",
                Vec::new(),
            ));
        }
    }
    for u in a.users.iter().filter(|u| u.legacy_auth > 0) {
        items.push(lesson(
            "prevention",
            format!(
                "Legacy authentication was allowed: {} sign-in(s) by {} over protocols that cannot do MFA.",
                u.legacy_auth, u.user
            ),
            "Block legacy authentication (IMAP, POP, SMTP AUTH, ActiveSync basic) with Conditional Access.",
            Vec::new(),
        ));
    }
    if a.users.iter().all(|u| u.legacy_auth == 0) {
        for f in a.findings.iter().filter(|f| f.rule == rules::LEGACY_AUTH) {
            items.push(lesson(
                "prevention",
                format!("Legacy authentication was allowed: {}.", f.title),
                "Block legacy authentication with Conditional Access.",
                f.evidence.iter().map(|h| short(h)).collect(),
            ));
        }
    }

    // Alert latency: when the platform detected it versus when it happened.
    for r in &a.risk {
        if let (Some(act), Some(det)) = (r.activity_time, r.detected_time) {
            latencies.push(Latency {
                what: format!("{} alert latency for {}", r.risk_event_type, r.user),
                from: t(act),
                to: t(det),
                duration: human_duration(det - act),
            });
            if (det - act).num_hours() >= 24 {
                items.push(lesson(
                    "detection",
                    format!(
                        "{} for {} was detected {} after the activity ({}).",
                        r.risk_event_type,
                        r.user,
                        human_duration(det - act),
                        r.detection_timing.as_deref().unwrap_or("timing unknown")
                    ),
                    "Do not rely on offline risk detections alone: alert on the sign-in patterns themselves (new country without MFA, legacy protocols).",
                    vec![short(&r.evidence)],
                ));
            }
        }
    }

    let first_bad = a
        .findings
        .iter()
        .filter(|f| is_malicious(f))
        .min_by_key(|f| f.first_seen);
    let alert_time = input
        .collected
        .case
        .alert
        .as_ref()
        .and_then(|al| al.time)
        .or(input.collected.case.aware_at);
    if let (Some(f), Some(at)) = (first_bad, alert_time) {
        latencies.push(Latency {
            what: "Detection latency (first attacker activity → alert or awareness)".into(),
            from: t(f.first_seen),
            to: t(at),
            duration: human_duration(at - f.first_seen),
        });
        if (at - f.first_seen).num_hours() >= 1 {
            items.push(lesson(
                "detection",
                format!(
                    "Attacker activity ({}) began {} before the alert.",
                    f.title,
                    human_duration(at - f.first_seen)
                ),
                "Add or tune a detection for this behaviour so it alerts when it happens.",
                f.evidence.iter().take(3).map(|h| short(h)).collect(),
            ));
        }
    }
    let first_cont = a.containment.iter().min_by_key(|c| c.time);
    match (first_bad, first_cont) {
        (Some(f), Some(c)) => {
            latencies.push(Latency {
                what: "Containment latency (first attacker activity → first containment)".into(),
                from: t(f.first_seen),
                to: t(c.time),
                duration: human_duration(c.time - f.first_seen),
            });
            if c.time > f.first_seen && (c.time - f.first_seen).num_hours() >= 1 {
                items.push(lesson(
                    "response",
                    format!(
                        "Containment ({} for {}) came {} after the first attacker activity.",
                        c.action.replace('_', " "),
                        c.user,
                        human_duration(c.time - f.first_seen)
                    ),
                    "Automate session revocation and password reset for high-risk users (risk-based Conditional Access).",
                    vec![short(&c.evidence)],
                ));
            }
        }
        (Some(f), None) => {
            latencies.push(Latency {
                what: "Containment latency (first attacker activity → report clock, none seen)"
                    .into(),
                from: t(f.first_seen),
                to: t(input.now),
                duration: human_duration(input.now - f.first_seen),
            });
            items.push(lesson(
                "response",
                format!(
                    "No containment action appears in the logs, {} after the first attacker activity.",
                    human_duration(input.now - f.first_seen)
                ),
                "Revoke sessions and reset the password now, and export the audit log that shows it.",
                Vec::new(),
            ));
        }
        _ => {}
    }

    // Visibility: missing sources and coverage that does not reach the window.
    for fam in Family::ALL {
        if !family_present(input, fam) {
            items.push(lesson(
                "visibility",
                format!("No {} in the evidence.", fam.label()),
                fam.why(),
                Vec::new(),
            ));
        }
    }
    if let (Some(ws), Some(sign)) = (
        a.window_start.or_else(|| {
            input
                .collected
                .case
                .alert
                .as_ref()
                .and_then(|al| al.window_start)
        }),
        activity.iter().find(|s| s.source == "entra_signin"),
    ) {
        let days = input.collected.case.thresholds.baseline_days.max(0);
        if let Some(first) = sign
            .first
            .as_deref()
            .and_then(|f| chrono::DateTime::parse_from_rfc3339(f).ok())
        {
            let need = ws - chrono::Duration::days(days);
            if first > need {
                items.push(lesson(
                    "visibility",
                    format!(
                        "Sign-in logs start at {}, later than the {}-day baseline needs ({}).",
                        t(first.with_timezone(&chrono::Utc)),
                        days,
                        t(need)
                    ),
                    "Keep at least 30 days of sign-in logs (export or SIEM retention) so a baseline exists.",
                    Vec::new(),
                ));
            }
        }
    }
    Lessons { items, latencies }
}
