//! Recommended actions per verdict, in the runbooks' order (RB-001 containment sequence,
//! RB-0003 matrix actions, PICERL eradication and recovery), each marked done when the logs
//! show it was done after the activity began (a containment event, with its time and evidence).

use super::classify::{activity_start_in, FindingIndex, ANOMALY_RULES};
use super::Finding;
use super::{
    prose, rules, Analysis, Classification, RecommendedAction, UserClassification, Verdict,
};
use crate::case::CaseFile;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// The runbooks' sequence: (order, id, description). `{days}` is the monitoring period.
const STEPS: &[(u32, &str, &str)] = &[
    (1, "escalate", "Escalate to the security lead / Tier 2 and open the incident record"),
    (2, "revoke_sessions", "Revoke all sessions and refresh tokens (Entra ID: revoke sign-in sessions)"),
    (3, "reset_password", "Reset the password and require a change at next sign-in; tell the user and the service desk"),
    (4, "disable_account", "Disable the account while the threat is active or the user cannot be reached (needs Tier 2 lead and manager approval)"),
    (5, "end_network_sessions", "Disconnect the account's VPN / RADIUS sessions (CoA disconnect) and revoke its VPN tokens"),
    (6, "block_ips", "Block the attacker IPs at the firewall and VPN, and add them to the SIEM watchlist"),
    (7, "remove_mail_rules", "Remove the malicious inbox rules and mailbox forwarding"),
    (8, "revoke_oauth_grants", "Revoke the OAuth consent grants the attacker created and review all grants for the account"),
    (9, "remove_mfa_methods", "Remove the MFA methods registered by the attacker and re-register the user's own"),
    (10, "remove_roles", "Remove the role assignments added during the compromise"),
    (11, "enforce_mfa", "Enforce MFA for the account and block legacy authentication"),
    (12, "assess_data_exposure", "Assess what data was accessed or downloaded, and engage legal/compliance for the regulatory clocks"),
    (13, "contact_user", "Ask the user, via a secondary channel (not the possibly compromised mailbox), whether they made the sign-ins or changes (RB-001 step 3)"),
    (14, "collect_missing_evidence", "Collect the missing evidence before deciding"),
    (15, "monitor", "Monitor the account's sign-ins and audit activity for {days} days"),
    (16, "confirm_mfa", "Confirm the account's MFA registration and status"),
    (17, "document_close", "Document the findings and close the alert"),
];

/// Containment actions that show a step was done.
fn done_by(step: &str) -> &'static [&'static str] {
    match step {
        "revoke_sessions" => &["tokens_revoked", "sessions_ended"],
        "reset_password" => &["password_reset", "password_changed"],
        "disable_account" => &["account_disabled"],
        "remove_mail_rules" => &["inbox_rule_removed", "mailbox_forwarding_removed"],
        "revoke_oauth_grants" => &["oauth_grant_removed", "consent_revoked"],
        "remove_mfa_methods" => &["mfa_method_deleted"],
        "remove_roles" => &["role_member_removed"],
        _ => &[],
    }
}

struct Need<'a> {
    user: String,
    /// Containment counts only after this moment (when known).
    since: Option<DateTime<Utc>>,
    /// Extra words for this user (which rules, what to force).
    detail: Option<String>,
    /// Addresses this user's step is about (the attacker IPs to block): merged across users
    /// and named up to a cap, because one action line for a noisy tenant could list thousands.
    ips: Vec<&'a Finding>,
}

pub fn recommend(
    analysis: &Analysis,
    classification: &Classification,
    case: &CaseFile,
) -> Vec<RecommendedAction> {
    let mut needs: BTreeMap<&str, Vec<Need>> = BTreeMap::new();
    let index = FindingIndex::new(&analysis.findings);
    for u in &classification.users {
        let since = activity_start_in(analysis, &index, u)
            .or(analysis.window_start)
            .or(case.alert.as_ref().and_then(|a| a.window_start));
        let mut add = |step: &'static str, detail: Option<String>| {
            needs.entry(step).or_default().push(Need {
                user: u.user.clone(),
                since,
                detail,
                ips: Vec::new(),
            })
        };
        let mut block_ips: Vec<&Finding> = Vec::new();
        if u.escalate {
            add("escalate", None);
        }
        let has = |id: &str| u.criteria_met.iter().any(|c| c.id == id);
        let rules_hit = user_rules(&index, u);
        let mfa_gap = has("single_factor_unknown_ip")
            || has("legacy_auth")
            || u.criteria_not_met.iter().any(|c| c.id == "mfa_in_use")
            || rules_hit
                .iter()
                .any(|r| *r == rules::LEGACY_AUTH || *r == rules::SINGLE_FACTOR_UNKNOWN_IP);
        match u.verdict {
            Verdict::ConfirmedCompromise => {
                add("revoke_sessions", None);
                add("reset_password", None);
                add("disable_account", None);
                if analysis.network.iter().any(|n| {
                    n.radius_sessions.iter().any(|s| {
                        s.user
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(&u.user))
                    })
                }) {
                    add("end_network_sessions", None);
                }
                block_ips = attacker_ips(&index, u);
                if rules_hit.contains(&rules::INBOX_RULE)
                    || rules_hit.contains(&rules::MAILBOX_FORWARDING)
                {
                    add("remove_mail_rules", None);
                }
                if rules_hit.contains(&rules::OAUTH_CONSENT) {
                    add("revoke_oauth_grants", None);
                }
                if rules_hit.contains(&rules::MFA_METHOD_REGISTERED) {
                    add("remove_mfa_methods", None);
                }
                if rules_hit.contains(&rules::ROLE_ADDED) {
                    add("remove_roles", None);
                }
                add("enforce_mfa", None);
                add("assess_data_exposure", None);
                add("monitor", None);
            }
            Verdict::CredentialExposed => {
                // RB-0003: force password reset + enable MFA.
                add(
                    "reset_password",
                    Some("force the reset: the leaked password is still valid".into()),
                );
                add("revoke_sessions", None);
                add("enforce_mfa", None);
                add("monitor", None);
            }
            Verdict::Mitigated => {
                // RB-0003: document, monitor for 7 days.
                if !has("password_changed_after_leak") && has("leak_confirmed") {
                    add(
                        "reset_password",
                        Some("MFA stopped the use, but the leaked password is still valid".into()),
                    );
                }
                if mfa_gap {
                    add("enforce_mfa", None);
                } else {
                    add("confirm_mfa", None);
                }
                add("monitor", None);
                add(
                    "document_close",
                    Some("as True Positive – Mitigated".into()),
                );
            }
            Verdict::BenignTruePositive => {
                add("confirm_mfa", None);
                add("document_close", Some("as Benign True Positive".into()));
            }
            Verdict::FalsePositive => {
                let why = u.criteria_met.iter().find_map(|c| match c.id.as_str() {
                    "automated_revocation" => {
                        Some("as False Positive: automated credential revocation".to_string())
                    }
                    "travel_on_record" => Some("as False Positive: travel on record".to_string()),
                    "corporate_network" => Some("as False Positive: corporate network".to_string()),
                    _ => None,
                });
                add("document_close", why);
            }
            Verdict::Undetermined => {
                if u.criteria_met
                    .iter()
                    .any(|c| c.id == "anomalous_sign_in" || c.id == "persistence")
                {
                    add("contact_user", None);
                    add(
                        "revoke_sessions",
                        Some("precaution while the user is asked".into()),
                    );
                }
                if !u.missing_evidence.is_empty() {
                    add(
                        "collect_missing_evidence",
                        Some(u.missing_evidence.join("; ")),
                    );
                }
                if mfa_gap {
                    add("enforce_mfa", None);
                }
            }
        }
        if !block_ips.is_empty() {
            needs.entry("block_ips").or_default().push(Need {
                user: u.user.clone(),
                since,
                detail: None,
                ips: block_ips,
            });
        }
    }
    build(analysis, case, needs)
}

/// Rules of the findings behind the account's criteria.
fn user_rules<'a>(index: &FindingIndex<'a>, u: &UserClassification) -> Vec<&'a str> {
    let cited = u
        .criteria_met
        .iter()
        .flat_map(|c| c.evidence.iter().map(String::as_str));
    index
        .citing(cited)
        .into_iter()
        .filter(|f| f.users.iter().any(|x| x.eq_ignore_ascii_case(&u.user)))
        .map(|f| f.rule.as_str())
        .collect()
}

/// The anomalous sign-in findings the verdict rests on, whose IPs (not the corporate
/// network's) are the ones to block. The findings, not their IPs: in a noisy tenant every
/// account's findings name thousands of the same addresses, and a list per account took
/// tens of MiB; the action merges them once ([`build`]).
fn attacker_ips<'a>(index: &FindingIndex<'a>, u: &UserClassification) -> Vec<&'a Finding> {
    let cited = u
        .criteria_met
        .iter()
        .filter(|c| {
            matches!(
                c.id.as_str(),
                "anomalous_sign_in" | "single_factor_unknown_ip"
            )
        })
        .flat_map(|c| c.evidence.iter().map(String::as_str));
    index
        .citing(cited)
        .into_iter()
        .filter(|f| ANOMALY_RULES.contains(&f.rule.as_str()) && !f.ips.is_empty())
        .collect()
}

/// One action per step; a step done for some accounts and not others is split in two.
fn build(
    analysis: &Analysis,
    case: &CaseFile,
    needs: BTreeMap<&str, Vec<Need>>,
) -> Vec<RecommendedAction> {
    let mut out = Vec::new();
    for (order, id, text) in STEPS {
        let Some(list) = needs.get(id) else { continue };
        let text = text.replace("{days}", &case.thresholds.monitor_days.to_string());
        let mut done: Vec<(&Need, DateTime<Utc>, String)> = Vec::new();
        let mut pending: Vec<&Need> = Vec::new();
        for n in list {
            let proof = analysis
                .containment
                .iter()
                .filter(|c| c.user.eq_ignore_ascii_case(&n.user))
                .filter(|c| done_by(id).contains(&c.action.as_str()))
                .filter(|c| n.since.is_none_or(|s| c.time >= s))
                .min_by_key(|c| c.time);
            match proof {
                Some(c) => done.push((n, c.time, c.evidence.clone())),
                None => pending.push(n),
            }
        }
        let details = |ns: &[&Need]| -> String {
            let mut d: Vec<String> = ns.iter().filter_map(|n| n.detail.clone()).collect();
            d.sort();
            d.dedup();
            // Inserted one by one: collecting into a set first gathers every copy.
            let mut set: BTreeSet<&str> = BTreeSet::new();
            for f in ns.iter().flat_map(|n| &n.ips) {
                set.extend(f.ips.iter().map(String::as_str));
            }
            let ips: Vec<&str> = set.into_iter().collect();
            if ips.len() > prose::LIST_CAP {
                d.push(format!(
                    "{} IPs: {}; every one is in the findings' IP lists",
                    ips.len(),
                    prose::capped(&ips, ", ")
                ));
            } else if !ips.is_empty() {
                d.push(prose::capped(&ips, ", "));
            }
            if d.is_empty() {
                String::new()
            } else {
                format!(" ({})", d.join("; "))
            }
        };
        if !done.is_empty() {
            let ns: Vec<&Need> = done.iter().map(|d| d.0).collect();
            let when: Vec<String> = done
                .iter()
                .map(|(n, t, _)| {
                    format!(
                        "{} at {}",
                        n.user,
                        t.to_rfc3339_opts(SecondsFormat::Secs, true)
                    )
                })
                .collect();
            out.push(RecommendedAction {
                order: *order,
                id: id.to_string(),
                description: format!(
                    "{text}{} — done per the logs: {}",
                    details(&ns),
                    prose::capped(&when, ", ")
                ),
                users: ns.iter().map(|n| n.user.clone()).collect(),
                done: true,
                done_at: done.iter().map(|d| d.1).max(),
                evidence: done.iter().map(|d| d.2.clone()).collect(),
            });
        }
        if !pending.is_empty() {
            out.push(RecommendedAction {
                order: *order,
                id: id.to_string(),
                description: format!("{text}{}", details(&pending)),
                users: pending.iter().map(|n| n.user.clone()).collect(),
                done: false,
                done_at: None,
                evidence: vec![],
            });
        }
    }
    out
}
