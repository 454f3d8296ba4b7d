//! The key timeline: the events the findings, containment, risk and network views cite, with
//! the neighbouring event of the same user on each side for context. Capped, because the
//! report is read by people; the full timeline is in the package.

use super::model::{short, t, EventIndex};
use crate::analysis::Severity;
use crate::event::Event;
use crate::pipeline::Conclusions;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Most rows printed; cited events win over context, then higher severity, then earlier.
pub const CAP: usize = 200;
/// Context events farther than this from the cited one are not shown.
pub const CONTEXT_MINUTES: i64 = 30;
/// How far (in timeline lines) to look for the same user's neighbour.
pub const CONTEXT_SCAN: usize = 200;

/// Every event hash the key timeline may cite (findings, containment, risk, network views,
/// actions), as bytes; text that is not a lower-case hex hash is left out, as the index
/// does. The run reads back the compact flows neighbouring these before the report.
pub fn cited_hashes(
    a: &crate::analysis::Analysis,
    actions: &[crate::analysis::RecommendedAction],
) -> std::collections::HashSet<[u8; 32]> {
    let all = a
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter())
        .chain(a.containment.iter().map(|c| &c.evidence))
        .chain(a.risk.iter().map(|r| &r.evidence))
        .chain(a.network.iter().flat_map(|n| n.evidence.iter()))
        .chain(actions.iter().flat_map(|x| x.evidence.iter()));
    all.filter_map(|h| {
        let mut b = [0u8; 32];
        (super::model::is_event_hash(h) && hex::decode_to_slice(h, &mut b).is_ok()).then_some(b)
    })
    .collect()
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct KeyTimeline {
    pub rows: Vec<Row>,
    /// Cited events (not context) that did not fit under the cap.
    pub omitted: usize,
    /// Cited hashes that are not on the timeline at all (a broken reference).
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Row {
    pub short: String,
    pub time: String,
    pub source: String,
    pub action: String,
    pub outcome: String,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub country: Option<String>,
    pub detail: String,
    /// Rule ids (or `containment`, `risk`, `network`) that cite the event; empty for context.
    pub cited_by: Vec<String>,
    pub context: bool,
}

pub fn build<'c>(idx: &EventIndex, concl: &'c Conclusions) -> KeyTimeline {
    let a = &concl.analysis;
    // hash → (citers, highest severity citing)
    let mut cited: BTreeMap<&'c str, (BTreeSet<String>, Severity)> = BTreeMap::new();
    let mut add = |h: &'c str, by: &str, sev: Severity| {
        if idx.position(h).is_some() {
            let e = cited.entry(h).or_insert((BTreeSet::new(), Severity::Info));
            e.0.insert(by.to_string());
            e.1 = e.1.max(sev);
        }
    };
    let mut unknown = BTreeSet::new();
    let mut check = |h: &str| {
        if super::model::is_event_hash(h) && idx.position(h).is_none() {
            unknown.insert(short(h));
        }
    };
    for f in &a.findings {
        for h in &f.evidence {
            add(h, &f.rule, f.severity);
            check(h);
        }
    }
    for c in &a.containment {
        add(&c.evidence, "containment", Severity::Medium);
        check(&c.evidence);
    }
    for r in &a.risk {
        add(&r.evidence, "risk", Severity::Medium);
        check(&r.evidence);
    }
    for n in &a.network {
        for h in &n.evidence {
            add(h, "network", Severity::Low);
            check(h);
        }
    }
    for act in &concl.actions {
        for h in &act.evidence {
            add(h, "action", Severity::Low);
            check(h);
        }
    }

    // Priority: cited before context, then severity, then time.
    let mut picked: Vec<(usize, bool, Severity)> = cited
        .iter()
        .filter_map(|(h, (_, sev))| Some((idx.position(h)?, false, *sev)))
        .collect();
    let cited_idx: BTreeSet<usize> = picked.iter().map(|p| p.0).collect();
    let mut context = BTreeSet::new();
    for &i in &cited_idx {
        for j in neighbours(idx, i) {
            if !cited_idx.contains(&j) {
                context.insert(j);
            }
        }
    }
    picked.extend(context.into_iter().map(|j| (j, true, Severity::Info)));
    picked.sort_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)).then(a.0.cmp(&b.0)));
    let cited_total = cited_idx.len();
    picked.truncate(CAP);
    let shown_cited = picked.iter().filter(|p| !p.1).count();
    picked.sort_by_key(|p| p.0);

    let rows = picked
        .into_iter()
        .map(|(i, is_context, _)| {
            let e = &idx.events[i];
            let h = idx.hash(i);
            Row {
                short: short(&h),
                time: t(e.time),
                source: e.source().to_string(),
                action: e.action.to_string(),
                outcome: serde_json::to_value(e.outcome)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                user: e.user.as_ref().map(String::from),
                ip: e.src_ip.as_ref().map(String::from),
                country: e.geo.as_ref().and_then(|g| g.country.clone()),
                detail: detail(e),
                cited_by: cited
                    .get(h.as_str())
                    .map(|c| c.0.iter().cloned().collect())
                    .unwrap_or_default(),
                context: is_context,
            }
        })
        .collect();
    KeyTimeline {
        rows,
        omitted: cited_total - shown_cited,
        unknown: unknown.into_iter().collect(),
    }
}

/// The same user's previous and next event within the context window, looked for within
/// `CONTEXT_SCAN` timeline lines. With flows held compactly, the index holds only some
/// lines; the run has read back every flow this could pick, so the nearest held match is
/// the nearest on the timeline.
fn neighbours(idx: &EventIndex, i: usize) -> Vec<usize> {
    let events = idx.events;
    let Some(user) = events[i].user_key() else {
        return Vec::new();
    };
    let near = |j: usize| {
        (events[j].time - events[i].time).num_minutes().abs() <= CONTEXT_MINUTES
            && events[j].user_key().as_deref() == Some(user.as_str())
    };
    let line = idx.line(i);
    let lo = line.saturating_sub(CONTEXT_SCAN as u64);
    let hi = (line + 1 + CONTEXT_SCAN as u64).min(idx.lines_total());
    let mut out = Vec::new();
    if let Some(j) = (0..i)
        .rev()
        .take_while(|&j| idx.line(j) >= lo)
        .find(|&j| near(j))
    {
        out.push(j);
    }
    if let Some(j) = (i + 1..events.len())
        .take_while(|&j| idx.line(j) < hi)
        .find(|&j| near(j))
    {
        out.push(j);
    }
    out
}

/// One line of what the event says beyond who/when/where: app, client, MFA, reason, target
/// objects, rule parameters, counts. Log text, escaped later by the template layer.
pub fn detail(e: &Event) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !e.operation().is_empty() && *e.operation() != e.action {
        parts.push(e.operation().to_string());
    }
    if let Some(app) = e.app() {
        parts.push(format!("app {app}"));
    }
    if let Some(c) = e.client_app() {
        parts.push(format!("client {c}"));
    }
    if let Some(m) = &e.mfa {
        let mut s = m.requirement.clone().unwrap_or_default();
        if let Some(sat) = m.satisfied {
            s.push_str(if sat {
                " (MFA satisfied)"
            } else {
                " (MFA not satisfied)"
            });
        }
        if !s.trim().is_empty() {
            parts.push(s.trim().to_string());
        }
    }
    if let Some(r) = &e.reason {
        parts.push(r.to_string());
    }
    for tg in e.targets.iter().take(3) {
        let name = tg.name.as_ref().or(tg.id.as_ref());
        if let Some(n) = name {
            parts.push(format!("{} {n}", tg.kind.as_deref().unwrap_or("target")));
        }
    }
    if let Some(serde_json::Value::Object(p)) = e.extra.get("parameters") {
        for k in [
            "Name",
            "ForwardTo",
            "ForwardAsAttachmentTo",
            "RedirectTo",
            "DeleteMessage",
            "MoveToFolder",
        ] {
            if let Some(v) = p.get(k) {
                let v = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                parts.push(format!("{k}={v}"));
            }
        }
    }
    if let Some(n) = e.extra.get("item_count") {
        parts.push(format!("{n} item(s)"));
    }
    if let Some(r) = e.extra.get("risk_event_type").and_then(|v| v.as_str()) {
        parts.push(format!("risk {r}"));
    }
    if e.cold().bytes_in.is_some() || e.cold().bytes_out.is_some() {
        parts.push(format!(
            "bytes in {} out {}",
            e.cold().bytes_in.unwrap_or(0),
            e.cold().bytes_out.unwrap_or(0)
        ));
    }
    if let Some(ua) = e.user_agent() {
        parts.push(format!("UA {ua}"));
    }
    super::escape::truncate(&parts.join("; "), 220)
}
