//! The two short documents: notification.md for the customer's CISO (what happened, what
//! we did, what is left, next update) and handoff.md for the next-shift analyst.

use super::model::{first_malicious, list_words, t, ActionView, ClassView, ContView, RegView};
use super::{runbook, ReportInput};
use crate::analysis::Verdict;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct NotificationView {
    pub recipient: String,
    pub subject: String,
    pub happened: Vec<String>,
    pub done: Vec<String>,
    pub left: Vec<String>,
    pub next_update: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct HandoffView {
    pub status: String,
    pub open_questions: Vec<String>,
    pub pending: Vec<String>,
    pub deadlines: Vec<String>,
    pub evidence: Vec<String>,
}

fn next_update(input: &ReportInput) -> DateTime<Utc> {
    let hours = input
        .collected
        .case
        .report
        .next_update_hours
        .unwrap_or(24)
        .max(1);
    input.now + Duration::hours(i64::from(hours))
}

pub fn notification(
    input: &ReportInput,
    users: &[String],
    containment: &[ContView],
    actions: &[ActionView],
    regulatory: &[RegView],
) -> NotificationView {
    let case = &input.collected.case;
    let c = &input.concl.classification;
    let a = &input.concl.analysis;
    let mut happened = vec![format!(
        "Assessment: {} ({} confidence).",
        c.verdict.label(),
        c.confidence
    )];
    if !c.summary.trim().is_empty() {
        happened.push(c.summary.trim().to_string());
    }
    if !users.is_empty() {
        happened.push(format!("Accounts concerned: {}.", list_words(users, 5)));
    }
    if let Some(f) = first_malicious(&a.findings) {
        happened.push(format!(
            "Earliest attacker activity seen: {} ({}).",
            t(f.first_seen),
            f.title
        ));
    }
    let mut done: Vec<String> = containment
        .iter()
        .map(|c| {
            format!(
                "{} for {} at {}{}.",
                c.action.replace('_', " "),
                c.user,
                c.time,
                if c.automated {
                    " (automated by the platform)"
                } else {
                    ""
                }
            )
        })
        .collect();
    done.push(format!(
        "Collected and hashed {} evidence item(s); {} event(s) on a hash-chained timeline; sealed in package {}.",
        input.collected.files.len(),
        input.event_count(),
        format_args!("{}.zip", case.case_id)
    ));
    let mut left: Vec<String> = actions
        .iter()
        .filter(|a| !a.done)
        .map(|a| {
            if a.users.is_empty() {
                a.description.clone()
            } else {
                format!("{} ({})", a.description, list_words(&a.users, 3))
            }
        })
        .collect();
    for r in regulatory.iter().filter(|r| r.status != "does not apply") {
        let due = r
            .deadlines
            .iter()
            .find_map(|d| d.due.clone().map(|due| format!("{}: due {due}", d.what)));
        left.push(format!(
            "{} notification {}{}.",
            r.regime,
            if r.status == "applies" {
                "applies"
            } else {
                "to be decided"
            },
            due.map(|d| format!(" ({d})")).unwrap_or_default()
        ));
    }
    if left.is_empty() {
        left.push("No open action is recorded in the evidence.".into());
    }
    NotificationView {
        recipient: case
            .report
            .recipient
            .clone()
            .unwrap_or_else(|| "CISO".to_string()),
        subject: format!(
            "[{}] {}{}",
            case.case_id,
            c.verdict.label(),
            case.organisation
                .as_ref()
                .map(|o| format!(" – {o}"))
                .unwrap_or_default()
        ),
        happened,
        done,
        left,
        next_update: t(next_update(input)),
    }
}

pub fn handoff(
    input: &ReportInput,
    cls: &ClassView,
    actions: &[ActionView],
    regulatory: &[RegView],
    runbook: &[runbook::Row],
) -> HandoffView {
    let case_id = &input.collected.case.case_id;
    let mut open: Vec<String> = cls.missing.clone();
    for r in runbook.iter().filter(|r| r.status != runbook::ANSWERED) {
        open.push(format!(
            "{} {}: {} ({})",
            r.runbook, r.step, r.question, r.answer
        ));
    }
    if input.concl.classification.verdict == Verdict::Undetermined {
        open.insert(
            0,
            "The verdict is undetermined: the evidence above would decide it.".into(),
        );
    }
    let pending = actions
        .iter()
        .filter(|a| !a.done)
        .map(|a| format!("{}. {} ({})", a.order, a.description, a.id))
        .collect();
    let mut deadlines = Vec::new();
    for r in regulatory.iter().filter(|r| r.status != "does not apply") {
        for d in &r.deadlines {
            deadlines.push(format!(
                "{} ({}): {}: {}",
                r.regime,
                r.status,
                d.what,
                match (&d.due, &d.left, &d.note) {
                    (Some(due), Some(left), _) => format!("due {due}, {left}"),
                    (_, _, Some(note)) => note.clone(),
                    _ => "no date".into(),
                }
            ));
        }
    }
    let evidence = vec![
        format!("Package {case_id}.zip in the case folder (BagIt inside; verify with: irpack verify {case_id}.zip)."),
        format!("Originals, byte-identical: {case_id}/data/evidence/ (SHA-256 in manifest-sha256.txt)."),
        format!("Timeline: {case_id}/data/timeline/timeline.jsonl (hash chain head {}).", input.timeline_head),
        format!("Findings, classification, actions, regulatory flags: {case_id}/data/analysis/."),
        format!("Every rejected record with its location: {case_id}/data/collected.json."),
        format!("Chain of custody: {case_id}/custody/custody.jsonl (append entries with: irpack custody <case-folder> transfer)."),
    ];
    HandoffView {
        status: format!(
            "{} ({} confidence){}; {} finding(s); report generated {}.",
            cls.verdict,
            cls.confidence,
            if cls.escalate { "; ESCALATE" } else { "" },
            input.concl.analysis.findings.len(),
            t(input.now)
        ),
        open_questions: open,
        pending,
        deadlines,
        evidence,
    }
}
