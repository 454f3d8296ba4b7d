//! Risk detections (Entra ID Protection) read as the alert that opened the case: detected vs
//! activity time, state and level, and the user's password timeline after the detection
//! (RB-0003 step 2: a password changed after the leak lowers the urgency; one not changed
//! raises it). All the evidence is read, not just the window.

use super::detect::{fmt_time, ip_of, tech, user_of, Ctx, Draft};
use super::persistence::target_user;
use super::{rules, RiskAlert, Severity};
use crate::event::{actions, EventClass, Outcome};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;

fn text(e: &crate::event::Event, k: &str) -> Option<String> {
    match e.extra.get(k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Null => None,
        v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
        _ => None,
    }
}

pub(crate) fn detect(ctx: &Ctx) -> (Vec<RiskAlert>, Vec<Draft>) {
    let mut pw: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    for e in ctx.events {
        if matches!(
            e.action.as_str(),
            actions::PASSWORD_CHANGED | actions::PASSWORD_RESET
        ) && e.outcome != Outcome::Failure
        {
            if let Some(u) = target_user(e) {
                pw.entry(u).or_default().push(e.time);
            }
        }
    }
    for v in pw.values_mut() {
        v.sort();
    }
    let mut alerts = Vec::new();
    let mut drafts = Vec::new();
    for (i, e) in ctx.events.iter().enumerate() {
        // Risk detections only; a user-risk state change is not a detection of its own.
        let detection = e.action == actions::RISK_DETECTED
            || (e.class == EventClass::RiskDetection && e.action != actions::USER_RISK_CHANGED);
        if !detection {
            continue;
        }
        let Some(user) = user_of(e) else { continue };
        let kind = text(e, "risk_event_type").unwrap_or_else(|| "unknown".into());
        let detected = text(e, "detected_time")
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc));
        let since = detected.unwrap_or(e.time);
        let changed_after = pw
            .get(&user)
            .and_then(|v| v.iter().find(|&&t| t >= since).copied());
        let level = text(e, "risk_level");
        let state = text(e, "risk_state");
        let timing = text(e, "detection_timing");
        let alert = RiskAlert {
            user: user.clone(),
            risk_event_type: kind.clone(),
            activity_time: Some(e.time),
            detected_time: detected,
            detection_timing: timing.clone(),
            risk_state: state.clone(),
            risk_level: level.clone(),
            ip: ip_of(e).map(str::to_string),
            password_changed_after: changed_after,
            evidence: ctx.hash(i),
        };
        alerts.push(alert);

        let leaked = kind.eq_ignore_ascii_case("leakedCredentials");
        let by_level = match level.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("high") => Severity::High,
            Some("low") => Severity::Low,
            _ => Severity::Medium,
        };
        let sev = match (leaked, changed_after) {
            (true, None) => Severity::High,
            (true, Some(_)) => Severity::Low,
            _ => by_level,
        };
        let pw_text = match changed_after {
            Some(t) => format!("The password was changed or reset at {} after the detection (lower urgency, still check for use before then).", fmt_time(t)),
            None => "No password change or reset after the detection appears in the evidence.".to_string(),
        };
        let mut d = Draft::new(
            rules::RISK_DETECTION,
            sev,
            format!("Risk detection {kind} for {user}"),
        )
        .tech(&[if leaked {
            tech::LEAKED_CREDS
        } else {
            tech::VALID_CLOUD
        }])
        .user(&user)
        .cite(ctx, [i])
        .fact("risk_event_type", kind.clone())
        .fact("activity_time", fmt_time(e.time))
        .fact("detected_time", detected.map(fmt_time).unwrap_or_default())
        .fact("detection_timing", timing.clone().unwrap_or_default())
        .fact("risk_state", state.clone().unwrap_or_default())
        .fact("risk_level", level.clone().unwrap_or_default())
        .fact(
            "password_changed_after",
            changed_after.map(fmt_time).unwrap_or_default(),
        );
        if !leaked {
            d.suspect_ips = d
                .ips
                .iter()
                .filter(|ip| ctx.known_net(ip).is_none())
                .cloned()
                .collect();
        }
        drafts.push(d.why(format!(
            "Entra ID Protection reported {kind} for {user}: activity at {}, detected {}{}{}{}. {pw_text}{}",
            fmt_time(e.time),
            detected.map(fmt_time).unwrap_or_else(|| "at an unknown time".into()),
            timing.map(|t| format!(" ({t})")).unwrap_or_default(),
            level.map(|l| format!(", level {l}")).unwrap_or_default(),
            state.map(|s| format!(", state {s}")).unwrap_or_default(),
            if leaked { " A leaked-credential detection is offline: it has no sign-in, IP or place of its own; the sign-in findings say whether the credential was used." } else { "" }
        )));
    }
    (alerts, drafts)
}
