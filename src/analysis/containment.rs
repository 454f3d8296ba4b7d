//! Containment seen in the logs: refresh-token revocation, password reset or change, account
//! disabled, sessions ended; with when, by whom, and whether a service did it on its own
//! (`automated`). The whole evidence is read: containment usually follows the window's activity.
//! `Update user` events that set `StsRefreshTokensValidFrom` are token revocations too (that
//! is how automated credential revocation shows in the audit log), and ones that set
//! `AccountEnabled` to false are disables.

use super::detect::{fmt_time, user_of, Ctx, Draft, MAX_EVIDENCE};
use super::persistence::target_user;
use super::prose;
use super::{rules, ContainmentEvent, Severity};
use crate::event::{actions, Event, Outcome};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn modified<'a>(e: &'a Event, name: &str) -> Option<&'a crate::event::ModifiedProperty> {
    e.targets.iter().flat_map(|t| t.modified.iter()).find(|m| {
        m.name
            .to_ascii_lowercase()
            .replace(['.', ' '], "")
            .contains(name)
    })
}

/// The containment action an event is, if it is one.
pub(crate) fn action_of(e: &Event) -> Option<&'static str> {
    if e.outcome == Outcome::Failure {
        return None;
    }
    let op = e.operation().to_ascii_lowercase();
    match e.action.as_str() {
        actions::TOKENS_REVOKED if op.contains("session") => Some("sessions_ended"),
        actions::TOKENS_REVOKED => Some("tokens_revoked"),
        actions::PASSWORD_RESET => Some("password_reset"),
        actions::PASSWORD_CHANGED => Some("password_changed"),
        actions::ACCOUNT_DISABLED => Some("account_disabled"),
        actions::USER_UPDATED | actions::OTHER => {
            if modified(e, "accountenabled").is_some_and(|m| {
                m.new
                    .as_deref()
                    .is_some_and(|v| v.to_ascii_lowercase().contains("false"))
            }) {
                Some("account_disabled")
            } else if modified(e, "stsrefreshtokensvalidfrom").is_some()
                || modified(e, "stsrefreshtokenvalidfrom").is_some()
                || op.contains("stsrefreshtokenvalidfrom")
            {
                Some("tokens_revoked")
            } else if op.contains("revoke") && op.contains("session") {
                Some("sessions_ended")
            } else {
                None
            }
        }
        _ => None,
    }
}

fn by_and_automated(e: &Event) -> (Option<String>, bool) {
    let kind = e
        .extra
        .get("initiated_by_type")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let app = e
        .extra
        .get("initiated_by_app")
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|s| !s.is_empty());
    let actor = user_of(e);
    let automated = kind.as_deref() == Some("app") || (actor.is_none() && app.is_some());
    let by = if automated {
        app.or(actor)
    } else {
        actor.or(app)
    };
    (by, automated)
}

pub(crate) fn detect(ctx: &Ctx) -> (Vec<ContainmentEvent>, Vec<Draft>) {
    let mut seen = BTreeSet::new();
    let mut list: Vec<(usize, ContainmentEvent)> = Vec::new();
    for (i, e) in ctx.events.iter().enumerate() {
        let Some(action) = action_of(e) else { continue };
        let Some(user) = target_user(e) else { continue };
        let (by, automated) = by_and_automated(e);
        if !seen.insert((user.clone(), action, e.time.timestamp(), by.clone())) {
            continue; // the same revocation logged twice (operation + Update user)
        }
        list.push((
            i,
            ContainmentEvent {
                user,
                action: action.to_string(),
                time: e.time,
                by,
                automated,
                evidence: String::new(),
            },
        ));
    }
    list.sort_by(|a, b| {
        (a.1.time, &a.1.user, &a.1.action, a.0).cmp(&(b.1.time, &b.1.user, &b.1.action, b.0))
    });
    let mut per_user: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, (i, c)) in list.iter_mut().enumerate() {
        c.evidence = ctx.hash(*i);
        per_user.entry(c.user.clone()).or_default().push(k);
    }
    let mut drafts = Vec::new();
    for (user, ks) in per_user {
        let items: Vec<&(usize, ContainmentEvent)> = ks.iter().map(|&k| &list[k]).collect();
        let all_auto = items.iter().all(|(_, c)| c.automated);
        // A tenant whose automation revokes tokens daily logs thousands of actions per user:
        // the sentence names a few and the facts list as many as the evidence does, with the
        // total (every action stays in `Analysis::containment`).
        let steps = prose::capped(
            items.iter().map(|(_, c)| {
                format!(
                    "{} at {} by {}{}",
                    c.action,
                    fmt_time(c.time),
                    c.by.as_deref().unwrap_or("unknown"),
                    if c.automated { " (automated)" } else { "" }
                )
            }),
            "; ",
        );
        let listed: Vec<Value> = items
            .iter()
            .take(MAX_EVIDENCE)
            .map(|(_, c)| json!({"action": c.action, "time": fmt_time(c.time), "by": c.by, "automated": c.automated}))
            .collect();
        let mut d = Draft::new(rules::CONTAINMENT, Severity::Info, format!("Containment for {user}"))
            .user(&user)
            .cite(ctx, items.iter().map(|(i, _)| *i))
            .fact("actions", listed)
            .fact("all_automated", all_auto)
            .why(format!(
                "The logs show containment for {user}: {steps}.{}",
                if all_auto { " Every step was taken by a service on its own, not by a person: automated credential revocation also follows leaked-credential detections that turn out benign, so it is neither proof of compromise nor of a human response." } else { "" }
            ));
        if items.len() > MAX_EVIDENCE {
            d = d.fact("actions_total", items.len());
        }
        drafts.push(d);
    }
    (list.into_iter().map(|(_, c)| c).collect(), drafts)
}
