//! Persistence after sign-in: inbox rules that forward, redirect, delete or hide mail;
//! mailbox forwarding; MFA methods registered (worse from an anomalous network); OAuth consent
//! and app role grants; role membership added.

use super::detect::{fmt_time, ip_of, ok, privileged_role, tech, user_of, Ctx, Draft};
use super::{rules, Severity};
use crate::event::{actions, Event, Outcome};
use chrono::Duration;
use serde_json::Value;
use std::collections::BTreeSet;

/// Folders attackers move mail to so the owner does not see replies.
const OBSCURE_FOLDERS: &[&str] = &[
    "rss feeds",
    "rss subscriptions",
    "conversation history",
    "archive",
    "junk email",
    "junk e-mail",
    "junk",
    "deleted items",
    "notes",
    "sync issues",
];

/// Delegated permissions that give an app the mailbox or files.
const RISKY_SCOPES: &[&str] = &[
    "mail.read",
    "mail.readwrite",
    "mail.send",
    "mailboxsettings.readwrite",
    "files.read.all",
    "files.readwrite.all",
    "sites.readwrite.all",
    "full_access_as_user",
    "eas.accessasuser.all",
    "ews.accessasuser.all",
    "directory.readwrite.all",
    "user.readwrite.all",
];

/// A before-window sign-in from an unknown network this close before an MFA registration
/// makes the registration anomalous even when the registration event has no IP.
const ANOMALOUS_SIGNIN_LOOKBACK_HOURS: i64 = 24;

/// A UPN inside an object id (`alice@corp.example`, `alice@corp.example\\Rule name`).
fn upn_in(v: &str) -> Option<String> {
    v.split(['\\', '/'])
        .map(str::trim)
        .find(|s| s.contains('@') && !s.contains(char::is_whitespace) && !s.starts_with('@'))
        .map(str::to_ascii_lowercase)
}

/// The user an account change is about: a user target (by UPN when given), else the actor.
pub(crate) fn target_user(e: &Event) -> Option<String> {
    let is_user = |t: &&crate::event::Target| {
        t.kind
            .as_deref()
            .is_some_and(|k| k.to_ascii_lowercase().contains("user"))
    };
    let users: Vec<&crate::event::Target> = e.targets.iter().filter(is_user).collect();
    let others = e.targets.iter().filter(|t| !is_user(t));
    for t in users.iter().copied().chain(others) {
        for v in [t.name.as_deref(), t.id.as_deref()].into_iter().flatten() {
            if let Some(u) = upn_in(v) {
                return Some(u);
            }
        }
    }
    if let Some(t) = users.first() {
        if let Some(v) = t
            .name
            .as_deref()
            .or(t.id.as_deref())
            .filter(|v| !v.trim().is_empty())
        {
            return Some(v.trim().to_ascii_lowercase());
        }
    }
    user_of(e)
}

/// Role names an event mentions (role targets, `Role.DisplayName` modified properties).
pub(crate) fn role_names(e: &Event) -> Vec<String> {
    let mut out = Vec::new();
    for t in &e.targets {
        if t.kind
            .as_deref()
            .is_some_and(|k| k.to_ascii_lowercase().contains("role"))
        {
            if let Some(n) = t.name.as_deref() {
                out.push(n.trim().to_string());
            }
        }
        for m in &t.modified {
            let n = m.name.to_ascii_lowercase();
            if n == "role.displayname" || n == "rolename" || n == "role" {
                if let Some(v) = m.new.as_deref() {
                    out.push(v.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    for k in ["role", "role_name", "RoleName"] {
        if let Some(Value::String(s)) = e.extra.get(k) {
            out.push(s.trim().to_string());
        }
    }
    out.retain(|s| !s.is_empty());
    out.sort();
    out.dedup();
    out
}

/// A parameter of an Exchange cmdlet, from `extra.parameters` as an object or as the
/// `[{Name, Value}]` list the audit log writes.
pub(crate) fn param(e: &Event, name: &str) -> Option<String> {
    let p = e
        .extra
        .get("parameters")
        .or_else(|| e.extra.get("Parameters"))?;
    let v = match p {
        Value::Object(m) => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone()),
        Value::Array(a) => a.iter().find_map(|x| {
            let n = x.get("Name").or_else(|| x.get("name"))?.as_str()?;
            n.eq_ignore_ascii_case(name).then(|| {
                x.get("Value")
                    .or_else(|| x.get("value"))
                    .cloned()
                    .unwrap_or(Value::Null)
            })
        }),
        _ => None,
    }?;
    match v {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

fn has_params(e: &Event) -> bool {
    match e
        .extra
        .get("parameters")
        .or_else(|| e.extra.get("Parameters"))
    {
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        _ => false,
    }
}

fn truthy(v: Option<String>) -> bool {
    v.is_some_and(|s| matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes"))
}

fn nonempty(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "\"\"" && !s.eq_ignore_ascii_case("null"))
}

/// Addresses in a forwarding value (`SMTP:a@b.com;c@d.com`, `"a@b.com" [a@b.com]`).
fn addresses(v: &str) -> BTreeSet<String> {
    v.split(|c: char| {
        c.is_whitespace() || matches!(c, ';' | ',' | '[' | ']' | '"' | '\'' | '<' | '>')
    })
    .map(|t| t.trim_start_matches("SMTP:").trim_start_matches("smtp:"))
    .filter(|t| t.contains('@'))
    .map(|t| t.to_ascii_lowercase())
    .collect()
}

fn domain(a: &str) -> &str {
    a.rsplit('@').next().unwrap_or("")
}

/// Folder name without any path, and whether it is one mail is hidden in.
fn obscure_folder(f: &str) -> Option<String> {
    let name = f.rsplit(['\\', '/', ':']).next().unwrap_or(f).trim();
    let l = name.to_ascii_lowercase();
    (OBSCURE_FOLDERS.contains(&l.as_str()) || name.chars().count() <= 2).then(|| name.to_string())
}

/// Why an IP (or the sign-ins just before) makes a change anomalous, if it does.
fn anomalous_origin(ctx: &Ctx, user: &str, e: &Event) -> Option<String> {
    if let Some(ip) = ip_of(e) {
        if ctx.known_net(ip).is_none() && ctx.has_baseline(user) && !ctx.ip_in_baseline(user, ip) {
            return Some(format!(
                "made from {ip}, a network outside the user's baseline"
            ));
        }
        if ctx.known_net(ip).is_some() || ctx.ip_in_baseline(user, ip) {
            return None;
        }
    }
    let from = e.time - Duration::hours(ANOMALOUS_SIGNIN_LOOKBACK_HOURS);
    let idx = ctx.signins.get(user)?;
    let lo = idx.partition_point(|&i| ctx.ev(i).time < from);
    idx[lo..]
        .iter()
        .take_while(|&&i| ctx.ev(i).time <= e.time)
        .find(|&&i| {
            let s = ctx.ev(i);
            ok(s) && ctx.has_baseline(user)
                && ip_of(s).is_some_and(|ip| ctx.known_net(ip).is_none() && !ctx.ip_in_baseline(user, ip))
        })
        .map(|&i| {
            format!(
                "made within {ANOMALOUS_SIGNIN_LOOKBACK_HOURS} h of a sign-in from {} ({}), a network outside the user's baseline",
                ip_of(ctx.ev(i)).unwrap_or("?"),
                fmt_time(ctx.ev(i).time)
            )
        })
}

pub(crate) fn detect(ctx: &Ctx) -> Vec<Draft> {
    let mut out = Vec::new();
    for &i in &ctx.window_idx {
        let e = ctx.ev(i);
        if e.outcome == Outcome::Failure {
            continue;
        }
        let d = match e.action.as_str() {
            actions::INBOX_RULE_CREATED
            | actions::INBOX_RULE_CHANGED
            | actions::CLIENT_RULES_UPDATED => inbox_rule(ctx, i),
            actions::MAILBOX_FORWARDING_SET => forwarding(ctx, i),
            actions::MFA_METHOD_REGISTERED
            | actions::MFA_METHOD_CHANGED
            | actions::MFA_METHOD_DELETED => mfa_method(ctx, i),
            actions::OAUTH_CONSENT | actions::APP_ROLE_ASSIGNED => oauth(ctx, i),
            actions::ROLE_MEMBER_ADDED => role_added(ctx, i),
            _ => None,
        };
        out.extend(d);
    }
    out
}

fn actor_and_target(e: &Event) -> (Option<String>, String) {
    let actor = user_of(e);
    let target = target_user(e)
        .or_else(|| actor.clone())
        .unwrap_or_else(|| "unknown".into());
    (actor, target)
}

fn base(
    ctx: &Ctx,
    i: usize,
    rule: &'static str,
    sev: Severity,
    title: String,
    user: &str,
) -> Draft {
    let e = ctx.ev(i);
    let mut d = Draft::new(rule, sev, title).user(user).cite(ctx, [i]);
    if let Some(a) = user_of(e).filter(|a| a != user) {
        d.users.insert(a.clone());
        d = d.fact("actor", a);
    }
    if let Some(app) = e.extra.get("initiated_by_app").and_then(Value::as_str) {
        d = d.fact("initiated_by_app", app);
    }
    d.fact("operation", e.operation().clone())
        .fact("time", fmt_time(e.time))
}

fn inbox_rule(ctx: &Ctx, i: usize) -> Option<Draft> {
    let e = ctx.ev(i);
    let (_, user) = actor_and_target(e);
    let rule_name = nonempty(param(e, "Name")).or_else(|| {
        e.targets
            .iter()
            .find_map(|t| t.name.as_ref().map(String::from))
    });
    let mut reasons: Vec<String> = Vec::new();
    let mut external = BTreeSet::new();
    for k in ["ForwardTo", "ForwardAsAttachmentTo", "RedirectTo"] {
        if let Some(v) = nonempty(param(e, k)) {
            let addrs = addresses(&v);
            for a in &addrs {
                if domain(a) != domain(&user) {
                    external.insert(a.clone());
                }
            }
            reasons.push(format!("{k} {v}"));
        }
    }
    if truthy(param(e, "DeleteMessage")) || truthy(param(e, "SoftDeleteMessage")) {
        reasons.push("deletes matching messages".into());
    }
    if let Some(f) = nonempty(param(e, "MoveToFolder")).and_then(|f| obscure_folder(&f)) {
        reasons.push(format!("moves matching messages to the folder \"{f}\""));
    }
    if let Some(n) = rule_name
        .as_deref()
        .filter(|n| n.trim().chars().count() <= 2)
    {
        reasons.push(format!("has the near-empty name \"{n}\""));
    }
    let params = has_params(e);
    if reasons.is_empty() && params {
        return None; // A rule that files mail in an ordinary folder.
    }
    if reasons.len() == 1 && reasons[0].starts_with("has the near-empty name") {
        return None; // A short name alone is not persistence.
    }
    let anomalous = anomalous_origin(ctx, &user, e);
    let sev = if !params {
        Severity::Medium
    } else if anomalous.is_some() {
        Severity::Critical
    } else {
        Severity::High
    };
    let mut d = base(
        ctx,
        i,
        rules::INBOX_RULE,
        sev,
        format!("Suspicious inbox rule for {user}"),
        &user,
    )
    .tech(&[tech::FORWARDING_RULE, tech::HIDING_RULES])
    .fact("rule_name", rule_name.clone().unwrap_or_default())
    .fact("conditions", reasons.clone())
    .fact(
        "external_recipients",
        external.iter().cloned().collect::<Vec<_>>(),
    );
    if anomalous.is_some() {
        d.suspect_ips = d.ips.clone();
    }
    let why = if params {
        format!(
            "Inbox rule {} for {user} at {} ({}): {}.{}{} RB-0003 step 5: inbox rules or forwarding mean confirmed BEC.",
            rule_name.as_deref().map(|n| format!("\"{n}\"")).unwrap_or_else(|| "(unnamed)".into()),
            fmt_time(e.time),
            e.operation(),
            reasons.join("; "),
            if external.is_empty() { String::new() } else { format!(" Recipients outside the user's domain: {}.", external.iter().cloned().collect::<Vec<_>>().join(", ")) },
            anomalous.as_deref().map(|a| format!(" The change was {a}.")).unwrap_or_default()
        )
    } else {
        format!(
            "Inbox rules of {user} changed at {} ({}); the log does not carry the rule's content, so check the mailbox's rules directly (Get-InboxRule).",
            fmt_time(e.time),
            e.operation()
        )
    };
    Some(d.why(why))
}

fn forwarding(ctx: &Ctx, i: usize) -> Option<Draft> {
    let e = ctx.ev(i);
    let (_, user) = actor_and_target(e);
    let fwd = nonempty(param(e, "ForwardingSmtpAddress"))
        .or_else(|| nonempty(param(e, "ForwardingAddress")));
    if fwd.is_none() && has_params(e) {
        return None; // Forwarding cleared.
    }
    let anomalous = anomalous_origin(ctx, &user, e);
    let keep = param(e, "DeliverToMailboxAndForward");
    let mut d = base(
        ctx,
        i,
        rules::MAILBOX_FORWARDING,
        if anomalous.is_some() {
            Severity::Critical
        } else {
            Severity::High
        },
        format!("Mailbox forwarding set for {user}"),
        &user,
    )
    .tech(&[tech::FORWARDING_RULE])
    .fact("forward_to", fwd.clone().unwrap_or_default())
    .fact(
        "deliver_to_mailbox_and_forward",
        keep.clone().unwrap_or_default(),
    );
    if anomalous.is_some() {
        d.suspect_ips = d.ips.clone();
    }
    Some(d.why(format!(
        "Mailbox forwarding for {user} set at {} ({}) to {}{}.{} RB-0003 step 5: forwarding means confirmed BEC.",
        fmt_time(e.time),
        e.operation(),
        fwd.unwrap_or_else(|| "an address the log does not show".into()),
        if truthy(keep) { " (a copy stays in the mailbox, so the owner notices nothing)" } else { "" },
        anomalous.as_deref().map(|a| format!(" The change was {a}.")).unwrap_or_default()
    )))
}

fn mfa_method(ctx: &Ctx, i: usize) -> Option<Draft> {
    let e = ctx.ev(i);
    let (_, user) = actor_and_target(e);
    let anomalous = anomalous_origin(ctx, &user, e);
    let (verb, sev) = match e.action.as_str() {
        actions::MFA_METHOD_DELETED => ("deleted", Severity::Low),
        actions::MFA_METHOD_CHANGED => ("changed", Severity::Medium),
        _ => ("registered", Severity::Medium),
    };
    let sev = if anomalous.is_some() {
        Severity::High
    } else {
        sev
    };
    let method = e
        .targets
        .iter()
        .flat_map(|t| t.modified.iter())
        .find(|m| {
            m.name.to_ascii_lowercase().contains("method")
                || m.name.to_ascii_lowercase().contains("strongauthentication")
        })
        .and_then(|m| m.new.clone())
        .or_else(|| {
            e.extra
                .get("method")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
    let mut d = base(
        ctx,
        i,
        rules::MFA_METHOD_REGISTERED,
        sev,
        format!("MFA method {verb} for {user}"),
        &user,
    )
    .tech(&[tech::MFA_MODIFY, tech::DEVICE_REGISTRATION])
    .fact("change", verb)
    .fact("method", method.clone().unwrap_or_default())
    .fact("anomalous_origin", anomalous.clone().unwrap_or_default());
    if anomalous.is_some() {
        d.suspect_ips = d.ips.clone();
    }
    Some(d.why(format!(
        "An authentication method was {verb} for {user} at {} ({}{}).{}",
        fmt_time(e.time),
        e.operation(),
        method.map(|m| format!(": {m}")).unwrap_or_default(),
        match anomalous {
            Some(a) => format!(" It was {a}: RB-0003 step 5 treats an MFA method registered from an anomalous IP as confirmed persistence."),
            None => " Confirm with the user that they added it.".into(),
        }
    )))
}

fn oauth(ctx: &Ctx, i: usize) -> Option<Draft> {
    let e = ctx.ev(i);
    let (_, user) = actor_and_target(e);
    let app = e
        .targets
        .iter()
        .find(|t| {
            t.kind.as_deref().is_some_and(|k| {
                let k = k.to_ascii_lowercase();
                k.contains("serviceprincipal") || k.contains("application") || k == "app"
            })
        })
        .and_then(|t| t.name.as_ref().or(t.id.as_ref()).map(String::from))
        .or_else(|| e.app().as_ref().map(String::from))
        .unwrap_or_else(|| "an application".into());
    let blob = format!(
        "{} {}",
        serde_json::to_string(&e.targets[..]).unwrap_or_default(),
        serde_json::to_string(&e.extra).unwrap_or_default()
    )
    .to_ascii_lowercase();
    let scopes: Vec<&str> = RISKY_SCOPES
        .iter()
        .copied()
        .filter(|s| blob.contains(s))
        .collect();
    let all_users = blob.contains("allprincipals");
    let anomalous = anomalous_origin(ctx, &user, e);
    let sev = if anomalous.is_some() || !scopes.is_empty() {
        Severity::High
    } else {
        Severity::Medium
    };
    let what = if e.action == actions::OAUTH_CONSENT {
        "Consent to"
    } else {
        "App role granted for"
    };
    let mut d = base(
        ctx,
        i,
        rules::OAUTH_CONSENT,
        sev,
        format!("{what} {app} by {user}"),
        &user,
    )
    .tech(&[tech::APP_TOKEN])
    .fact("app", app.clone())
    .fact("app_id", e.app_id().clone().unwrap_or_default())
    .fact("risky_scopes", scopes.clone())
    .fact("all_users", all_users);
    if anomalous.is_some() {
        d.suspect_ips = d.ips.clone();
    }
    Some(d.why(format!(
        "{what} {app} at {} ({}){}{}.{} RB-0003 step 5: an OAuth consent is persistence that survives a password reset.",
        fmt_time(e.time),
        e.operation(),
        if scopes.is_empty() { String::new() } else { format!(" with mailbox/file permissions ({})", scopes.join(", ")) },
        if all_users { ", for all users of the tenant" } else { "" },
        anomalous.as_deref().map(|a| format!(" It was {a}.")).unwrap_or_default()
    )))
}

fn role_added(ctx: &Ctx, i: usize) -> Option<Draft> {
    let e = ctx.ev(i);
    let (actor, user) = actor_and_target(e);
    let roles = role_names(e);
    let privileged: Vec<&String> = roles.iter().filter(|r| privileged_role(ctx, r)).collect();
    let sev = if privileged.is_empty() {
        Severity::Medium
    } else {
        Severity::High
    };
    let role_text = if roles.is_empty() {
        "a role the log does not name".to_string()
    } else {
        roles.join(", ")
    };
    let d = base(
        ctx,
        i,
        rules::ROLE_ADDED,
        sev,
        format!("{user} added to {role_text}"),
        &user,
    )
    .tech(&[tech::CLOUD_ROLES])
    .fact("roles", roles.clone())
    .fact("privileged", !privileged.is_empty());
    Some(d.why(format!(
        "{user} was added to {role_text} at {}{}.{}",
        fmt_time(e.time),
        actor.filter(|a| *a != user).map(|a| format!(" by {a}")).or_else(|| e.extra.get("initiated_by_app").and_then(Value::as_str).map(|a| format!(" by {a}"))).unwrap_or_default(),
        if privileged.is_empty() { "" } else { " This is an administrative role: the account is privileged from then on (escalate regardless of other findings)." }
    )))
}
