//! The report's view model: every fact the templates print, computed once from the run's
//! plain outputs. Templates only lay it out; all strings are escaped when printed.
//! The model is plain serializable data so a redacted copy can be made by rewriting strings.

use super::{inventory, keytimeline, lessons, notify, runbook, svg, ReportInput};
use crate::analysis::{rules, Finding, FlagStatus, Severity};
use crate::event::Event;
use crate::timeline::flowstore::{Compacted, FlowStore};
use crate::timeline::hashes::HashTable;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Rows of the rejected-record list printed in the report; the rest is in collected.json.
pub const REJECTED_CAP: usize = 50;
/// References printed per finding; the rest are in findings.json.
pub const REFS_PER_FINDING: usize = 8;

pub fn t(dt: DateTime<Utc>) -> String {
    crate::pipeline::rfc3339(dt)
}

pub fn topt(dt: Option<DateTime<Utc>>) -> Option<String> {
    dt.map(t)
}

/// The 12-hex-digit prefix of an event hash, used as a reference and an anchor.
pub fn short(hash: &str) -> String {
    hash.chars().take(12).collect()
}

pub fn is_event_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A duration in words: `3 d 4 h`, `2 h 5 min`, `40 s`, negative as `-…`.
pub fn human_duration(d: Duration) -> String {
    let neg = d < Duration::zero();
    let s = d.num_seconds().unsigned_abs();
    let (days, hours, mins, secs) = (s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    let body = if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {mins} min")
    } else if mins > 0 {
        format!("{mins} min {secs} s")
    } else {
        format!("{secs} s")
    };
    if neg {
        format!("-{body}")
    } else {
        body
    }
}

pub fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// A reference to an event: its short hash, and whether the key timeline has a row for it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ref {
    pub short: String,
    pub linked: bool,
}

/// Containment actions the report's table and the handoff list; automation that revokes
/// tokens every few minutes logs thousands, and `data/analysis/analysis.json` keeps them all.
pub const CONTAINMENT_ROWS: usize = 200;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Model {
    pub meta: Meta,
    pub summary: String,
    pub scope: Scope,
    pub classification: ClassView,
    pub findings: Vec<FindingView>,
    pub users: Vec<UserSection>,
    pub key_timeline: keytimeline::KeyTimeline,
    pub activity: Vec<SourceActivity>,
    pub chart: svg::Chart,
    pub network: Vec<NetView>,
    /// The first [`CONTAINMENT_ROWS`] containment actions in time order.
    pub containment: Vec<ContView>,
    /// Every containment action the analysis found (`containment` may list fewer).
    pub containment_total: usize,
    pub risk: Vec<RiskView>,
    pub actions: Vec<ActionView>,
    pub regulatory: Vec<RegView>,
    pub iocs: IocView,
    pub inventory: inventory::Inventory,
    pub zones: inventory::ZoneView,
    /// Geolocation assumptions; rendered only when a MaxMind database was used.
    pub geo: inventory::GeoView,
    pub custody: inventory::CustodyView,
    pub lessons: lessons::Lessons,
    pub runbook: Vec<runbook::Row>,
    pub notification: notify::NotificationView,
    pub handoff: notify::HandoffView,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Meta {
    pub case_id: String,
    pub organisation: Option<String>,
    pub examiner: Option<String>,
    pub alert_type: Option<String>,
    pub alert_title: Option<String>,
    pub alert_ids: Vec<String>,
    pub alert_time: Option<String>,
    pub alert_users: Vec<String>,
    pub aware_at: Option<String>,
    pub tool: String,
    pub generated_at: String,
    pub timeline_head: String,
    pub events: usize,
    pub evidence_items: usize,
    pub package_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Scope {
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// Where the window came from: `case file`, `analysis` or `evidence`.
    pub window_source: String,
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    pub sources: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CritView {
    pub id: String,
    pub description: String,
    pub refs: Vec<Ref>,
    /// Non-hash evidence (finding rule ids, notes).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ClassView {
    pub verdict: String,
    pub verdict_id: String,
    pub summary: String,
    pub escalate: bool,
    pub confidence: String,
    pub confidence_reason: String,
    pub met: Vec<CritView>,
    pub not_met: Vec<CritView>,
    pub missing: Vec<String>,
    pub users: Vec<UserClassRow>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UserClassRow {
    pub user: String,
    pub verdict: String,
    pub confidence: String,
    pub privileged: bool,
    pub escalate: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct FindingView {
    pub n: usize,
    pub severity: String,
    pub rule: String,
    pub title: String,
    pub techniques: Vec<String>,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub refs: Vec<Ref>,
    pub more_refs: usize,
    pub rationale: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UserSection {
    pub user: String,
    pub verdict: Option<String>,
    pub confidence: Option<String>,
    pub confidence_reason: Option<String>,
    pub privileged: bool,
    pub escalate: bool,
    pub criteria_met: Vec<String>,
    pub missing: Vec<String>,
    pub activity: Option<UserActivity>,
    pub baseline: Option<String>,
    pub findings: Vec<String>,
    pub containment: Vec<String>,
    pub risk: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct UserActivity {
    pub sign_ins_ok: u64,
    pub sign_ins_failed: u64,
    pub sign_ins_interrupted: u64,
    pub single_factor_ok: u64,
    pub mfa_ok: u64,
    pub legacy_auth: u64,
    pub mfa_in_use: String,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub countries: Vec<String>,
    pub ips: Vec<String>,
    pub password_changes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SourceActivity {
    pub source: String,
    pub events: u64,
    pub first: Option<String>,
    pub last: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct NetView {
    pub ip: String,
    pub users: Vec<String>,
    pub sessions: Vec<SessionRow>,
    pub vpn_events: Vec<String>,
    pub flows_allowed: u64,
    pub flows_denied: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub refs: Vec<Ref>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct SessionRow {
    pub source: String,
    pub user: Option<String>,
    pub session_id: Option<String>,
    pub nas: Option<String>,
    pub calling_station: Option<String>,
    pub framed_ip: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub still_active: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub terminate_cause: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ContView {
    pub time: String,
    pub user: String,
    pub action: String,
    pub by: Option<String>,
    pub automated: bool,
    pub refs: Vec<Ref>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RiskView {
    pub user: String,
    pub risk_event_type: String,
    pub activity_time: Option<String>,
    pub detected_time: Option<String>,
    pub latency: Option<String>,
    pub detection_timing: Option<String>,
    pub risk_state: Option<String>,
    pub risk_level: Option<String>,
    pub ip: Option<String>,
    pub password_changed_after: Option<String>,
    pub refs: Vec<Ref>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ActionView {
    pub order: u32,
    pub id: String,
    pub description: String,
    pub users: Vec<String>,
    pub done: bool,
    pub done_at: Option<String>,
    pub refs: Vec<Ref>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RegView {
    pub regime: String,
    pub status: String,
    pub clock: String,
    pub deadlines: Vec<DeadlineView>,
    pub reference: String,
    pub why: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DeadlineView {
    pub what: String,
    pub due: Option<String>,
    pub note: Option<String>,
    /// Time left from the report's clock, when `due` is known (`overdue` when past).
    pub left: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct IocView {
    pub ips: Vec<IocRow>,
    pub user_agents: Vec<IocRow>,
    pub apps: Vec<IocRow>,
    pub hits: Vec<String>,
    pub hit_refs: Vec<Ref>,
    /// What the case file's IOC lists held, as counts.
    pub case_lists: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct IocRow {
    pub value: String,
    pub seen_in: String,
    pub listed: bool,
}

/// Lookup from event hash to the event, built once: every event's hash as bytes and the
/// positions sorted by it, 40 bytes an event (hex strings in a hash map took ~225, and the
/// report holds this beside every event).
pub struct EventIndex<'a> {
    pub events: &'a [Event],
    /// Where the events' hashes are (`irpack run`'s on-disk table), if not in the events.
    table: Option<&'a HashTable>,
    /// Each event's hash, only when some event does not remember its own and no table
    /// holds them (a held event does: then this is empty and the index costs 8 bytes per
    /// event, not 40).
    hashes: Vec<[u8; 32]>,
    /// Positions, sorted by (hash, position); empty when `found` answers.
    sorted: Vec<usize>,
    /// With a table: the position of each hash asked for (the last event with it), found
    /// in one read of the table, so nothing is held per event.
    found: Option<HashMap<[u8; 32], usize>>,
    /// Timeline line of each event when flows are held compactly (else empty: index = line).
    lines: &'a [u64],
    /// Lines on the timeline.
    total: u64,
}

impl<'a> EventIndex<'a> {
    pub fn new(events: &'a [Event]) -> Self {
        use rayon::prelude::*;
        let remembered = events.iter().all(|e| e.remembered_hash().is_some());
        let hashes: Vec<[u8; 32]> = match remembered {
            true => Vec::new(),
            false => events.par_iter().map(Event::hash_bytes).collect(),
        };
        let mut sorted: Vec<usize> = (0..events.len()).collect();
        let key = |i: usize| {
            hashes
                .get(i)
                .copied()
                .unwrap_or_else(|| events[i].hash_bytes())
        };
        sorted.par_sort_unstable_by_key(|&i| (key(i), i));
        EventIndex {
            events,
            table: None,
            hashes,
            sorted,
            found: None,
            lines: &[],
            total: events.len() as u64,
        }
    }

    /// The index of held events whose hashes `table` holds, answering for the hashes in
    /// `wanted` only (what the conclusions cite: `keytimeline::cited_hashes`).
    pub fn held(
        events: &'a [Event],
        compact: Option<Compacted<'a>>,
        table: &'a HashTable,
        wanted: &HashSet<[u8; 32]>,
    ) -> Self {
        let mut found = HashMap::new();
        table.scan(events, 0..events.len(), |i, h| {
            if wanted.contains(&h) {
                found.insert(h, i);
            }
        });
        let mut idx = EventIndex {
            events,
            table: Some(table),
            hashes: Vec::new(),
            sorted: Vec::new(),
            found: Some(found),
            lines: &[],
            total: events.len() as u64,
        };
        idx.set_compacted(compact);
        idx
    }

    fn set_compacted(&mut self, compact: Option<Compacted<'a>>) {
        if let Some(c) = compact {
            self.lines = c.positions;
            self.total = c.total(self.events.len()) as u64;
        }
    }

    /// The index of a run holding some flows compactly (`compact`) beside `events`.
    pub fn with_compacted(events: &'a [Event], compact: Option<Compacted<'a>>) -> Self {
        let mut idx = Self::new(events);
        idx.set_compacted(compact);
        idx
    }

    /// The timeline line of the event at `i`.
    pub fn line(&self, i: usize) -> u64 {
        self.lines.get(i).copied().unwrap_or(i as u64)
    }

    /// Lines on the timeline (events held here and flows held compactly).
    pub fn lines_total(&self) -> u64 {
        self.total
    }

    /// The position of the event with this hash (the last, should two events hash alike).
    /// Only the lower-case hex `Event::hash` writes matches, as a map keyed by it would.
    pub fn position(&self, hash: &str) -> Option<usize> {
        let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
        if hash.len() != 64 || !hash.bytes().all(lower_hex) {
            return None;
        }
        let mut want = [0u8; 32];
        hex::decode_to_slice(hash, &mut want).ok()?;
        if let Some(found) = &self.found {
            return found.get(&want).copied();
        }
        let end = self.sorted.partition_point(|&i| self.hash_bytes(i) <= want);
        let last = *self.sorted[..end].last()?;
        (self.hash_bytes(last) == want).then_some(last)
    }

    fn hash_bytes(&self, i: usize) -> [u8; 32] {
        if let Some(t) = self.table {
            return t.hash_of(self.events, i);
        }
        self.hashes
            .get(i)
            .copied()
            .unwrap_or_else(|| self.events[i].hash_bytes())
    }

    /// `Event::hash` of the event at `i`.
    pub fn hash(&self, i: usize) -> String {
        hex::encode(self.hash_bytes(i))
    }

    pub fn get(&self, hash: &str) -> Option<&'a Event> {
        self.position(hash).map(|i| &self.events[i])
    }
}

/// Findings that show attacker activity, as opposed to the alert itself or the response.
pub fn is_malicious(f: &Finding) -> bool {
    f.severity >= Severity::Medium
        && ![
            rules::CONTAINMENT,
            rules::RISK_DETECTION,
            rules::NO_BASELINE,
            rules::NETWORK_CORRELATION,
        ]
        .contains(&f.rule.as_str())
}

fn dedup_ci(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|s| !s.trim().is_empty() && seen.insert(s.trim().to_ascii_lowercase()))
        .collect()
}

pub fn build(input: &ReportInput) -> Model {
    finish(input, EventParts::of(input))
}

/// The parts of the model read from the events themselves (held and compact): everything
/// else is read from the conclusions. Built first, so `irpack run` can free the events
/// before the rest of the model (the larger part, for a case with many findings) is built.
pub struct EventParts {
    key_timeline: keytimeline::KeyTimeline,
    first_event: Option<DateTime<Utc>>,
    last_event: Option<DateTime<Utc>>,
    activity: Vec<SourceActivity>,
    iocs: IocView,
    chart: svg::Chart,
    zones: inventory::ZoneView,
    /// Events on the timeline, flows held compactly included.
    pub events: usize,
}

impl EventParts {
    /// What the rest of the report needs to know of the events once they are gone.
    pub fn released(&self) -> super::Released {
        super::Released {
            events: self.events,
            sources: self.activity.iter().map(|a| a.source.clone()).collect(),
        }
    }

    pub fn of(input: &ReportInput) -> EventParts {
        Self::of_held(input, None)
    }

    /// [`EventParts::of`], with the held events' hashes in `table` (`irpack run`'s on-disk
    /// table) rather than in the events.
    pub fn of_held(input: &ReportInput, table: Option<&HashTable>) -> EventParts {
        let idx = match table {
            Some(t) => {
                let c = input.concl;
                let wanted = keytimeline::cited_hashes(&c.analysis, &c.actions);
                EventIndex::held(input.events, input.compact, t, &wanted)
            }
            None => EventIndex::with_compacted(input.events, input.compact),
        };
        let key_timeline = keytimeline::build(&idx, input.concl);
        let linked = linked(&key_timeline);
        let iocs = iocs(input, &idx, &refs_with(&linked));
        let flows = input.compact.map(|c| c.flows);
        EventParts {
            first_event: input
                .events
                .first()
                .map(|e| e.time)
                .into_iter()
                .chain(flows.and_then(FlowStore::first_time))
                .min(),
            last_event: input
                .events
                .last()
                .map(|e| e.time)
                .into_iter()
                .chain(flows.and_then(FlowStore::last_time))
                .max(),
            activity: source_activity_with(input.events, flows),
            iocs,
            chart: svg::Chart::build_with(input.events, flows, &input.concl.analysis.findings),
            zones: inventory::zones(input),
            events: input.event_count(),
            key_timeline,
        }
    }
}

/// Short hashes of the events the key timeline shows (a reference to one links to it).
fn linked(k: &keytimeline::KeyTimeline) -> BTreeSet<String> {
    k.rows.iter().map(|r| r.short.clone()).collect()
}

/// References to events by short hash, once each, linked when the key timeline shows them.
fn refs_with(
    linked: &BTreeSet<String>,
) -> impl Fn(&mut dyn Iterator<Item = &String>) -> Vec<Ref> + '_ {
    move |hashes| {
        let mut seen = BTreeSet::new();
        hashes
            .filter(|h| is_event_hash(h))
            .map(|h| short(h))
            .filter(|s| seen.insert(s.clone()))
            .map(|s| Ref {
                linked: linked.contains(&s),
                short: s,
            })
            .collect()
    }
}

/// The model, from the parts read from the events and the rest of `input`, whose events
/// it does not read (`input` may hold none by now, with `released` set).
pub fn finish(input: &ReportInput, parts: EventParts) -> Model {
    let concl = input.concl;
    let case = &input.collected.case;
    let analysis = &concl.analysis;
    let EventParts {
        key_timeline,
        first_event,
        last_event,
        activity,
        iocs,
        chart,
        zones,
        events,
    } = parts;
    let linked = linked(&key_timeline);
    let refs = refs_with(&linked);

    let meta = Meta {
        case_id: case.case_id.clone(),
        organisation: case.organisation.clone(),
        examiner: case.examiner.clone(),
        alert_type: case.alert.as_ref().and_then(|a| a.kind.clone()),
        alert_title: case.alert.as_ref().and_then(|a| a.title.clone()),
        alert_ids: case
            .alert
            .as_ref()
            .map(|a| a.ids.clone())
            .unwrap_or_default(),
        alert_time: topt(case.alert.as_ref().and_then(|a| a.time)),
        alert_users: case
            .alert
            .as_ref()
            .map(|a| a.users.clone())
            .unwrap_or_default(),
        aware_at: topt(case.aware_at),
        tool: input.tool.clone(),
        generated_at: t(input.now),
        timeline_head: input.timeline_head.to_string(),
        events,
        evidence_items: input.collected.files.len(),
        package_name: format!("{}.zip", case.case_id),
    };

    // Scope: who and what the investigation covers, and over which window.
    let alert = case.alert.as_ref();
    let (ws, we, wsrc) = match (
        alert.and_then(|a| a.window_start),
        alert.and_then(|a| a.window_end),
    ) {
        (Some(s), e) => (Some(s), e, "case file"),
        _ if analysis.window_start.is_some() => {
            (analysis.window_start, analysis.window_end, "analysis")
        }
        _ => (first_event, last_event, "evidence"),
    };
    let scope_users = dedup_ci(
        concl
            .classification
            .users
            .iter()
            .map(|u| u.user.clone())
            .chain(
                analysis
                    .findings
                    .iter()
                    .filter(|f| is_malicious(f))
                    .flat_map(|f| f.users.clone()),
            )
            .chain(meta.alert_users.iter().cloned()),
    );
    let scope_ips = suspicious_ips(analysis);
    let scope = Scope {
        users: scope_users.clone(),
        ips: scope_ips.clone(),
        window_start: topt(ws),
        window_end: topt(we),
        window_source: wsrc.to_string(),
        first_event: topt(first_event),
        last_event: topt(last_event),
        sources: activity.iter().map(|a| a.source.clone()).collect(),
    };

    let cls = &concl.classification;
    let crit = |c: &crate::analysis::Criterion| CritView {
        id: c.id.clone(),
        description: c.description.clone(),
        refs: refs(&mut c.evidence.iter()),
        notes: c
            .evidence
            .iter()
            .filter(|e| !is_event_hash(e))
            .cloned()
            .collect(),
    };
    let classification = ClassView {
        verdict: cls.verdict.label().to_string(),
        verdict_id: serde_json::to_value(cls.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default(),
        summary: cls.summary.clone(),
        escalate: cls.escalate,
        confidence: cls.confidence.clone(),
        confidence_reason: cls.confidence_reason.clone(),
        met: cls.criteria_met.iter().map(crit).collect(),
        not_met: cls.criteria_not_met.iter().map(crit).collect(),
        missing: cls.missing_evidence.clone(),
        users: cls
            .users
            .iter()
            .map(|u| UserClassRow {
                user: u.user.clone(),
                verdict: u.verdict.label().to_string(),
                confidence: u.confidence.clone(),
                privileged: u.privileged,
                escalate: u.escalate,
            })
            .collect(),
    };

    let mut sorted_findings: Vec<&Finding> = analysis.findings.iter().collect();
    sorted_findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.first_seen.cmp(&b.first_seen))
            .then(a.rule.cmp(&b.rule))
    });
    let findings: Vec<FindingView> = sorted_findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let all = refs(&mut f.evidence.iter());
            let more = all.len().saturating_sub(REFS_PER_FINDING);
            FindingView {
                n: i + 1,
                severity: severity_label(f.severity).to_string(),
                rule: f.rule.clone(),
                title: f.title.clone(),
                techniques: f
                    .techniques
                    .iter()
                    .map(|t| format!("{} {}", t.id, t.name))
                    .collect(),
                users: f.users.clone(),
                ips: f.ips.clone(),
                first_seen: t(f.first_seen),
                last_seen: t(f.last_seen),
                refs: all.into_iter().take(REFS_PER_FINDING).collect(),
                more_refs: more,
                rationale: f.rationale.clone(),
            }
        })
        .collect();

    let containment_total = analysis.containment.len();
    let containment: Vec<ContView> = {
        let mut c: Vec<_> = analysis.containment.iter().collect();
        c.sort_by_key(|c| c.time);
        c.into_iter()
            .map(|c| ContView {
                time: t(c.time),
                user: c.user.clone(),
                action: c.action.clone(),
                by: c.by.clone(),
                automated: c.automated,
                refs: refs(&mut std::iter::once(&c.evidence)),
            })
            .collect()
    };

    let risk: Vec<RiskView> = analysis
        .risk
        .iter()
        .map(|r| RiskView {
            user: r.user.clone(),
            risk_event_type: r.risk_event_type.clone(),
            activity_time: topt(r.activity_time),
            detected_time: topt(r.detected_time),
            latency: match (r.activity_time, r.detected_time) {
                (Some(a), Some(d)) => Some(human_duration(d - a)),
                _ => None,
            },
            detection_timing: r.detection_timing.clone(),
            risk_state: r.risk_state.clone(),
            risk_level: r.risk_level.clone(),
            ip: r.ip.clone(),
            password_changed_after: topt(r.password_changed_after),
            refs: refs(&mut std::iter::once(&r.evidence)),
        })
        .collect();

    let network: Vec<NetView> = analysis
        .network
        .iter()
        .map(|n| NetView {
            ip: n.ip.clone(),
            users: n.users.clone(),
            sessions: n
                .radius_sessions
                .iter()
                .map(|s| SessionRow {
                    source: s.source.clone(),
                    user: s.user.clone(),
                    session_id: s.session_id.clone(),
                    nas: s.nas.clone(),
                    calling_station: s.calling_station.clone(),
                    framed_ip: s.framed_ip.clone(),
                    start: topt(s.start),
                    end: topt(s.end),
                    still_active: s.still_active,
                    bytes_in: s.bytes_in,
                    bytes_out: s.bytes_out,
                    terminate_cause: s.terminate_cause.clone(),
                })
                .collect(),
            vpn_events: n.vpn_events.clone(),
            flows_allowed: n.flows_allowed,
            flows_denied: n.flows_denied,
            bytes_in: n.bytes_in,
            bytes_out: n.bytes_out,
            refs: refs(&mut n.evidence.iter()),
        })
        .collect();

    let mut actions_sorted: Vec<_> = concl.actions.iter().collect();
    actions_sorted.sort_by_key(|a| a.order);
    let actions: Vec<ActionView> = actions_sorted
        .into_iter()
        .map(|a| ActionView {
            order: a.order,
            id: a.id.clone(),
            description: a.description.clone(),
            users: a.users.clone(),
            done: a.done,
            done_at: topt(a.done_at),
            refs: refs(&mut a.evidence.iter()),
        })
        .collect();

    let regulatory: Vec<RegView> = concl
        .regulatory
        .iter()
        .map(|r| RegView {
            regime: r.regime.clone(),
            status: match r.status {
                FlagStatus::Applies => "applies",
                FlagStatus::CannotDetermine => "cannot determine",
                FlagStatus::DoesNotApply => "does not apply",
            }
            .to_string(),
            clock: r.clock.clone(),
            deadlines: r
                .deadlines
                .iter()
                .map(|d| DeadlineView {
                    what: d.what.clone(),
                    due: topt(d.due),
                    note: d.note.clone(),
                    left: d.due.map(|due| {
                        if due <= input.now {
                            format!("overdue by {}", human_duration(input.now - due))
                        } else {
                            format!("{} left", human_duration(due - input.now))
                        }
                    }),
                })
                .collect(),
            reference: r.reference.clone(),
            why: r.why.clone(),
        })
        .collect();

    let users = user_sections(input, &scope_users);
    let inventory = inventory::inventory(input);
    let geo = inventory::geo(input);
    let custody = inventory::custody(input);
    let lessons = lessons::derive(input, &activity);
    let runbook = runbook::rows(input, &refs);
    let summary = executive_summary(input, &scope_users, &activity);
    let notification =
        notify::notification(input, &scope_users, &containment, &actions, &regulatory);
    let mut containment = containment;
    containment.truncate(CONTAINMENT_ROWS);
    let handoff = notify::handoff(input, &classification, &actions, &regulatory, &runbook);

    Model {
        meta,
        summary,
        scope,
        classification,
        findings,
        users,
        key_timeline,
        activity,
        chart,
        network,
        containment,
        containment_total,
        risk,
        actions,
        regulatory,
        iocs,
        inventory,
        zones,
        geo,
        custody,
        lessons,
        runbook,
        notification,
        handoff,
    }
}

pub fn source_activity(events: &[Event]) -> Vec<SourceActivity> {
    source_activity_with(events, None)
}

/// [`source_activity`] counting flows held compactly too.
pub fn source_activity_with(events: &[Event], flows: Option<&FlowStore>) -> Vec<SourceActivity> {
    let mut m: BTreeMap<&str, (u64, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
    for e in events {
        let s = m.entry(e.source()).or_insert((0, e.time, e.time));
        s.0 += 1;
        s.1 = s.1.min(e.time);
        s.2 = s.2.max(e.time);
    }
    for (source, (n, first, last)) in flows.map(FlowStore::per_source).unwrap_or_default() {
        let s = m.entry(source).or_insert((0, first, last));
        s.0 += n;
        s.1 = s.1.min(first);
        s.2 = s.2.max(last);
    }
    m.into_iter()
        .map(|(source, (n, f, l))| SourceActivity {
            source: source.to_string(),
            events: n,
            first: Some(t(f)),
            last: Some(t(l)),
        })
        .collect()
}

pub fn first_malicious(findings: &[Finding]) -> Option<&Finding> {
    findings
        .iter()
        .filter(|f| is_malicious(f))
        .min_by_key(|f| f.first_seen)
}

fn executive_summary(input: &ReportInput, users: &[String], activity: &[SourceActivity]) -> String {
    let c = &input.concl.classification;
    let a = &input.concl.analysis;
    let mut s = format!(
        "Verdict: {} ({} confidence).",
        c.verdict.label(),
        c.confidence
    );
    // The classification's summary opens with the verdict too; say it once.
    let summary = c.summary.trim();
    let summary = summary
        .strip_prefix(&format!("Verdict: {}.", c.verdict.label()))
        .unwrap_or(summary)
        .trim();
    if !summary.is_empty() {
        s.push(' ');
        s.push_str(summary);
        if !summary.ends_with('.') {
            s.push('.');
        }
    }
    let sources: Vec<&str> = activity.iter().map(|a| a.source.as_str()).collect();
    s.push_str(&format!(
        " The evidence is {} item(s) yielding {} event(s){}.",
        input.collected.files.len(),
        input.event_count(),
        if sources.is_empty() {
            " (no source format was recognized)".to_string()
        } else {
            format!(" from {}", sources.join(", "))
        }
    ));
    let high = a
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .count();
    s.push_str(&format!(
        " {} finding(s), {} of them high or critical",
        a.findings.len(),
        high
    ));
    if users.is_empty() {
        s.push('.');
    } else {
        s.push_str(&format!(", concern {}.", list_words(users, 5)));
    }
    match first_malicious(&a.findings) {
        Some(f) => s.push_str(&format!(
            " The first attacker activity in the logs is at {} ({}: {}).",
            t(f.first_seen),
            f.rule,
            f.title
        )),
        None => s.push_str(" No finding shows attacker activity."),
    }
    match a.containment.iter().min_by_key(|c| c.time) {
        Some(c) => s.push_str(&format!(
            " The first containment action in the logs is {} for {} at {}{}.",
            c.action.replace('_', " "),
            c.user,
            t(c.time),
            if c.automated {
                " (automated by the platform)"
            } else {
                ""
            }
        )),
        None => s.push_str(" No containment action appears in the logs."),
    }
    if c.escalate {
        s.push_str(" Escalation is required.");
    }
    let applies: Vec<&str> = input
        .concl
        .regulatory
        .iter()
        .filter(|r| r.status == FlagStatus::Applies)
        .map(|r| r.regime.as_str())
        .collect();
    if !applies.is_empty() {
        s.push_str(&format!(
            " Notification duties apply under {}.",
            applies.join(", ")
        ));
    }
    s
}

pub fn list_words(items: &[String], max: usize) -> String {
    let mut out = items
        .iter()
        .take(max)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        out.push_str(&format!(" and {} more", items.len() - max));
    }
    out
}

fn user_sections(input: &ReportInput, scope_users: &[String]) -> Vec<UserSection> {
    let a = &input.concl.analysis;
    let cls = &input.concl.classification;
    let all = dedup_ci(
        scope_users
            .iter()
            .cloned()
            .chain(a.users.iter().map(|u| u.user.clone())),
    );
    let eq = |x: &str, y: &str| x.trim().eq_ignore_ascii_case(y.trim());
    all.into_iter()
        .map(|user| {
            let uc = cls.users.iter().find(|u| eq(&u.user, &user));
            let us = a.users.iter().find(|u| eq(&u.user, &user));
            let bl = a.baselines.iter().find(|b| eq(&b.user, &user));
            UserSection {
                verdict: uc.map(|u| u.verdict.label().to_string()),
                confidence: uc.map(|u| u.confidence.clone()),
                confidence_reason: uc.map(|u| u.confidence_reason.clone()),
                privileged: uc.map(|u| u.privileged).unwrap_or(false)
                    || us.map(|u| u.privileged).unwrap_or(false),
                escalate: uc.map(|u| u.escalate).unwrap_or(false),
                criteria_met: uc
                    .map(|u| {
                        u.criteria_met
                            .iter()
                            .map(|c| format!("{}: {}", c.id, c.description))
                            .collect()
                    })
                    .unwrap_or_default(),
                missing: uc.map(|u| u.missing_evidence.clone()).unwrap_or_default(),
                activity: us.map(|u| UserActivity {
                    sign_ins_ok: u.sign_ins_ok,
                    sign_ins_failed: u.sign_ins_failed,
                    sign_ins_interrupted: u.sign_ins_interrupted,
                    single_factor_ok: u.single_factor_ok,
                    mfa_ok: u.mfa_ok,
                    legacy_auth: u.legacy_auth,
                    mfa_in_use: match u.mfa_in_use {
                        Some(true) => "yes",
                        Some(false) => "no",
                        None => "unknown",
                    }
                    .to_string(),
                    first_seen: topt(u.first_seen),
                    last_seen: topt(u.last_seen),
                    countries: u.countries.clone(),
                    ips: u.ips.clone(),
                    password_changes: u.password_changes.iter().map(|d| t(*d)).collect(),
                }),
                baseline: bl.map(|b| {
                    if b.has_baseline {
                        format!(
                            "{} day(s) of history ({} sign-ins) before the window: countries {}; {} IP prefix(es), {} device(s), {} browser(s), {} app(s)",
                            b.days_of_history,
                            b.sign_ins,
                            if b.countries.is_empty() { "none".to_string() } else { b.countries.join(", ") },
                            b.ip_prefixes.len(),
                            b.devices.len(),
                            b.browsers.len(),
                            b.apps.len()
                        )
                    } else {
                        format!(
                            "no usable baseline: {} day(s) of history, under the minimum; every sign-in counts as new",
                            b.days_of_history
                        )
                    }
                }),
                findings: a
                    .findings
                    .iter()
                    .filter(|f| f.users.iter().any(|u| eq(u, &user)))
                    .map(|f| format!("{} ({}) {}", f.rule, severity_label(f.severity), f.title))
                    .collect(),
                containment: {
                    let mine = a.containment.iter().filter(|c| eq(&c.user, &user));
                    let mut lines: Vec<String> = mine
                        .clone()
                        .take(crate::analysis::prose::LIST_CAP)
                        .map(|c| {
                            format!(
                                "{} at {}{}{}",
                                c.action.replace('_', " "),
                                t(c.time),
                                c.by.as_ref().map(|b| format!(" by {b}")).unwrap_or_default(),
                                if c.automated { " (automated)" } else { "" }
                            )
                        })
                        .collect();
                    let more = mine.count().saturating_sub(lines.len());
                    if more > 0 {
                        lines.push(format!(
                            "{more} more (every one is in data/analysis/analysis.json, `containment`)"
                        ));
                    }
                    lines
                },
                risk: a
                    .risk
                    .iter()
                    .filter(|r| eq(&r.user, &user))
                    .map(|r| {
                        format!(
                            "{} ({}), activity {}, detected {}",
                            r.risk_event_type,
                            r.risk_state.as_deref().unwrap_or("state unknown"),
                            topt(r.activity_time).unwrap_or_else(|| "unknown".into()),
                            topt(r.detected_time).unwrap_or_else(|| "unknown".into())
                        )
                    })
                    .collect(),
                user,
            }
        })
        .collect()
}

fn iocs(
    input: &ReportInput,
    idx: &EventIndex,
    refs: &dyn Fn(&mut dyn Iterator<Item = &String>) -> Vec<Ref>,
) -> IocView {
    let a = &input.concl.analysis;
    let ioc = &input.collected.case.ioc;
    let listed_ip = |ip: &str| ioc_listed_ip(ioc, ip);
    let mut ips: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in a.findings.iter().filter(|f| is_malicious(f)) {
        for ip in &f.ips {
            ips.entry(ip.clone()).or_default().insert(f.rule.clone());
        }
    }
    for n in &a.network {
        ips.entry(n.ip.clone())
            .or_default()
            .insert("network view".into());
    }
    let mut uas: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut apps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in a.findings.iter().filter(|f| is_malicious(f)) {
        let consent = f.rule == rules::OAUTH_CONSENT;
        for e in f.evidence.iter().filter_map(|h| idx.get(h)) {
            if let Some(ua) = e.user_agent() {
                uas.entry(ua.to_string())
                    .or_default()
                    .insert(f.rule.clone());
            }
            if consent {
                for t in &e.targets {
                    if let Some(n) = t.name.as_ref().or(t.id.as_ref()) {
                        apps.entry(n.to_string())
                            .or_default()
                            .insert(format!("{} (consented)", f.rule));
                    }
                }
            }
            if let Some(app) = e.app().as_ref().or(e.app_id().as_ref()) {
                apps.entry(app.to_string())
                    .or_default()
                    .insert(f.rule.clone());
            }
        }
    }
    let ua_listed = |ua: &str| {
        ioc.user_agents
            .iter()
            .any(|l| !l.is_empty() && ua.to_lowercase().contains(&l.to_lowercase()))
    };
    let hits: Vec<&Finding> = a
        .findings
        .iter()
        .filter(|f| f.rule == rules::IOC_HIT)
        .collect();
    IocView {
        ips: ips
            .into_iter()
            .map(|(v, r)| IocRow {
                listed: listed_ip(&v),
                seen_in: crate::analysis::prose::capped(r, ", "),
                value: v,
            })
            .collect(),
        user_agents: uas
            .into_iter()
            .map(|(v, r)| IocRow {
                listed: ua_listed(&v),
                seen_in: crate::analysis::prose::capped(r, ", "),
                value: v,
            })
            .collect(),
        apps: apps
            .into_iter()
            .map(|(v, r)| IocRow {
                listed: ioc.app_ids.iter().any(|i| i.eq_ignore_ascii_case(&v)),
                seen_in: crate::analysis::prose::capped(r, ", "),
                value: v,
            })
            .collect(),
        hits: hits.iter().map(|f| f.title.clone()).collect(),
        hit_refs: refs(&mut hits.iter().flat_map(|f| f.evidence.iter())),
        case_lists: format!(
            "{} IP(s), {} CIDR(s), {} user agent(s), {} app id(s), {} domain(s)",
            ioc.ips.len(),
            ioc.cidrs.len(),
            ioc.user_agents.len(),
            ioc.app_ids.len(),
            ioc.domains.len()
        ),
    }
}

/// Whether the case file's IOC lists (IPs or CIDRs) hold `ip`.
pub fn ioc_listed_ip(ioc: &crate::case::Iocs, ip: &str) -> bool {
    let Ok(addr) = ip.trim().parse::<std::net::IpAddr>() else {
        return false;
    };
    ioc.ips
        .iter()
        .any(|i| i.trim().parse::<std::net::IpAddr>() == Ok(addr))
        || ioc
            .cidrs
            .iter()
            .filter_map(|c| crate::case::parse_net(c))
            .any(|n| n.contains(&addr))
}

/// IPs the findings tie to attacker activity, plus the network views' IPs.
pub fn suspicious_ips(a: &crate::analysis::Analysis) -> Vec<String> {
    dedup_ci(
        a.findings
            .iter()
            .filter(|f| is_malicious(f))
            .flat_map(|f| f.ips.clone())
            .chain(a.network.iter().map(|n| n.ip.clone())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Outcome, Provenance};
    use chrono::TimeZone;

    fn ev(record_no: u64) -> Event {
        Event::new(
            Utc.with_ymd_and_hms(2024, 5, 1, 0, 0, 0).unwrap(),
            "t",
            "UTC",
            "entra_signin",
            "graph_json",
            EventClass::Authentication,
            "sign_in",
            "Sign-in activity",
            Outcome::Success,
            Provenance {
                record_no,
                ..Default::default()
            },
        )
    }

    /// The index answers as the `HashMap<String, usize>` it replaced: exact lower-case hex
    /// only, the last of two events that hash alike.
    /// Either way the hashes come: computed, or remembered by the events (as held events
    /// do, when the index keeps no copy of them).
    #[test]
    fn event_index_finds_what_a_hash_map_would() {
        let plain = vec![ev(1), ev(2), ev(1), ev(3)];
        let mut remembering = plain.clone();
        remembering.iter_mut().for_each(Event::remember_hash);
        assert!(!EventIndex::new(&plain).hashes.is_empty());
        assert!(EventIndex::new(&remembering).hashes.is_empty());
        for events in [plain, remembering] {
            index_answers_like_a_map(&events);
        }
    }

    fn index_answers_like_a_map(events: &[Event]) {
        let idx = EventIndex::new(events);
        let mut map = std::collections::HashMap::new();
        for (i, e) in events.iter().enumerate() {
            map.insert(e.hash(), i);
        }
        for (i, e) in events.iter().enumerate() {
            let h = e.hash();
            assert_eq!(idx.position(&h), map.get(&h).copied());
            assert_eq!(idx.hash(i), h);
        }
        assert_eq!(idx.position(&events[0].hash()), Some(2));
        assert_eq!(idx.position(&events[1].hash().to_ascii_uppercase()), None);
        assert_eq!(idx.position(&"0".repeat(64)), None);
        assert_eq!(idx.position("not a hash"), None);
        assert!(EventIndex::new(&[]).position(&"0".repeat(64)).is_none());
    }
}
