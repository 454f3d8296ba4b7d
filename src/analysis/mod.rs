//! Analysis: detections over the timeline produce findings that cite the events they rest on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod auth;
pub mod baseline;
pub mod bulk;
pub mod classify;
pub mod containment;
pub mod detect;
pub mod geo;
pub mod geoip;
pub mod ioc;
pub mod network;
pub mod persistence;
pub mod pivot;
pub mod prose;
pub mod recommend;
pub mod regulatory;
pub mod risk;
pub mod travel;
pub mod window;

/// MITRE ATT&CK version the technique ids refer to.
pub const ATTACK_VERSION: &str = "v16";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Technique {
    pub id: String,
    pub name: String,
}

/// One detection's conclusion, with everything needed to check it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule id (`IRP-TRAVEL-001`).
    pub rule: String,
    pub title: String,
    pub severity: Severity,
    pub techniques: Vec<Technique>,
    pub users: Vec<String>,
    pub ips: Vec<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// `Event::hash()` of every event the finding rests on.
    pub evidence: Vec<String>,
    /// Why, in words a person can check against the evidence.
    pub rationale: String,
    /// Machine-readable facts behind the rationale (distances, counts, thresholds).
    #[serde(default)]
    pub facts: serde_json::Map<String, serde_json::Value>,
}

/// Rule ids: the contract between detections, classification and the report.
pub mod rules {
    pub const IMPOSSIBLE_TRAVEL: &str = "IRP-TRAVEL-001";
    pub const FAILURES_THEN_SUCCESS: &str = "IRP-AUTH-001";
    pub const PASSWORD_SPRAY: &str = "IRP-AUTH-002";
    pub const BRUTE_FORCE: &str = "IRP-AUTH-003";
    pub const SINGLE_FACTOR_UNKNOWN_IP: &str = "IRP-AUTH-004";
    pub const LEGACY_AUTH: &str = "IRP-AUTH-005";
    pub const MFA_FATIGUE: &str = "IRP-AUTH-006";
    pub const NEW_COUNTRY: &str = "IRP-BASE-001";
    pub const NEW_IP: &str = "IRP-BASE-002";
    pub const NEW_DEVICE: &str = "IRP-BASE-003";
    pub const NO_BASELINE: &str = "IRP-BASE-004";
    pub const INBOX_RULE: &str = "IRP-PERS-001";
    pub const MAILBOX_FORWARDING: &str = "IRP-PERS-002";
    pub const MFA_METHOD_REGISTERED: &str = "IRP-PERS-003";
    pub const OAUTH_CONSENT: &str = "IRP-PERS-004";
    pub const ROLE_ADDED: &str = "IRP-PERS-005";
    pub const BULK_DOWNLOAD: &str = "IRP-EXFIL-001";
    pub const BULK_MAIL_ACCESS: &str = "IRP-EXFIL-002";
    pub const SHARED_IP: &str = "IRP-PIVOT-001";
    pub const SHARED_USER_AGENT: &str = "IRP-PIVOT-002";
    pub const IOC_HIT: &str = "IRP-IOC-001";
    pub const RISK_DETECTION: &str = "IRP-RISK-001";
    pub const CONTAINMENT: &str = "IRP-CONT-001";
    pub const NETWORK_CORRELATION: &str = "IRP-NET-001";
}

/// RB-0003's classification matrix plus the false-positive outcome of RB-001 triage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    ConfirmedCompromise,
    CredentialExposed,
    Mitigated,
    BenignTruePositive,
    FalsePositive,
    /// The evidence does not decide it; `missing_evidence` says what would.
    Undetermined,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::ConfirmedCompromise => "True Positive – Confirmed Compromise",
            Verdict::CredentialExposed => "True Positive – Credential Exposed",
            Verdict::Mitigated => "True Positive – Mitigated",
            Verdict::BenignTruePositive => "Benign True Positive",
            Verdict::FalsePositive => "False Positive",
            Verdict::Undetermined => "Undetermined",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Short id (`anomalous_sign_in`, `persistence`, `password_changed_after_leak`, ...).
    pub id: String,
    pub description: String,
    /// Findings or event hashes that show it.
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserClassification {
    pub user: String,
    pub verdict: Verdict,
    pub privileged: bool,
    pub escalate: bool,
    pub criteria_met: Vec<Criterion>,
    pub criteria_not_met: Vec<Criterion>,
    pub missing_evidence: Vec<String>,
    /// `high`, `medium` or `low`, with the reason in `confidence_reason`.
    pub confidence: String,
    pub confidence_reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    pub verdict: Verdict,
    pub summary: String,
    pub escalate: bool,
    pub criteria_met: Vec<Criterion>,
    pub criteria_not_met: Vec<Criterion>,
    pub missing_evidence: Vec<String>,
    pub confidence: String,
    pub confidence_reason: String,
    pub users: Vec<UserClassification>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecommendedAction {
    /// Order in the runbooks' sequence (1 = first).
    pub order: u32,
    pub id: String,
    pub description: String,
    pub users: Vec<String>,
    /// Done according to the logs, with when and the evidence.
    pub done: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagStatus {
    Applies,
    CannotDetermine,
    DoesNotApply,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegulatoryFlag {
    /// `GDPR`, `HIPAA`, `PCI DSS`, `FISMA/CISA`, `SEC 8-K 1.05`, `NIS2`, `DORA`.
    pub regime: String,
    pub status: FlagStatus,
    /// The clock in words (`72 hours from awareness`).
    pub clock: String,
    /// Deadlines computed from `aware_at` (several for staged regimes).
    pub deadlines: Vec<Deadline>,
    pub reference: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deadline {
    pub what: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<DateTime<Utc>>,
    /// When `due` cannot be computed (no aware_at, depends on a materiality decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// What the detections saw: findings plus the per-user and per-IP views the classification
/// and the report read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The alert window the detections looked at (baseline = the days before it).
    pub window_start: Option<DateTime<Utc>>,
    pub window_end: Option<DateTime<Utc>>,
    pub findings: Vec<Finding>,
    pub users: Vec<UserSummary>,
    pub baselines: Vec<UserBaseline>,
    pub containment: Vec<ContainmentEvent>,
    pub risk: Vec<RiskAlert>,
    pub network: Vec<NetworkView>,
    /// Sources present, with their time coverage, so "no sign-in logs covering the window" can be said.
    pub coverage: Vec<SourceCoverage>,
    /// The MaxMind databases the geolocation used and what they answered (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_database: Option<geoip::GeoDatabaseUse>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceCoverage {
    pub source: String,
    pub events: u64,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub user: String,
    pub sign_ins_ok: u64,
    pub sign_ins_failed: u64,
    pub sign_ins_interrupted: u64,
    /// Successful sign-ins that satisfied only one factor.
    pub single_factor_ok: u64,
    pub mfa_ok: u64,
    pub legacy_auth: u64,
    pub first_seen: Option<DateTime<Utc>>,
    pub last_seen: Option<DateTime<Utc>>,
    pub countries: Vec<String>,
    pub ips: Vec<String>,
    pub privileged: bool,
    pub password_changes: Vec<DateTime<Utc>>,
    /// Whether the logs show MFA in use for this user (`None` = no evidence either way).
    pub mfa_in_use: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UserBaseline {
    pub user: String,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub days_of_history: i64,
    /// False when under `min_baseline_days` of history: everything is "new".
    pub has_baseline: bool,
    pub sign_ins: u64,
    pub countries: Vec<String>,
    pub ip_prefixes: Vec<String>,
    pub asns: Vec<u32>,
    pub devices: Vec<String>,
    pub browsers: Vec<String>,
    pub apps: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainmentEvent {
    pub user: String,
    /// `tokens_revoked`, `password_reset`, `password_changed`, `account_disabled`, `sessions_ended`.
    pub action: String,
    pub time: DateTime<Utc>,
    /// Who did it (admin UPN or app name), when the logs say.
    pub by: Option<String>,
    /// Done by a Microsoft service on its own (e.g. Identity Protection), not by a person.
    pub automated: bool,
    pub evidence: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RiskAlert {
    pub user: String,
    pub risk_event_type: String,
    pub activity_time: Option<DateTime<Utc>>,
    pub detected_time: Option<DateTime<Utc>>,
    pub detection_timing: Option<String>,
    pub risk_state: Option<String>,
    pub risk_level: Option<String>,
    pub ip: Option<String>,
    /// The first password change or reset after the detection, if the logs show one.
    pub password_changed_after: Option<DateTime<Utc>>,
    pub evidence: String,
}

/// The network side of one suspicious IP (and the users seen with it).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkView {
    pub ip: String,
    pub users: Vec<String>,
    pub radius_sessions: Vec<NetworkSession>,
    pub vpn_events: Vec<String>,
    pub flows_allowed: u64,
    pub flows_denied: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NetworkSession {
    pub source: String,
    pub user: Option<String>,
    pub session_id: Option<String>,
    pub nas: Option<String>,
    pub calling_station: Option<String>,
    pub framed_ip: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub still_active: bool,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub terminate_cause: Option<String>,
}

/// Every `extra` key that detections, classification, regulatory flags, recommended actions,
/// the report or the notification read, from any source. An event held in memory keeps only
/// these (see [`trim_for_analysis`]); a rule that reads a new key must add it here, or it
/// will not see it. `tests/trim_equivalence.rs` runs every sample, corpus file and rule
/// fixture with and without trimming and fails when the two disagree.
pub const ANALYSIS_EXTRA_KEYS: &[&str] = &[
    // RADIUS sessions and VPN address assignments (network.rs).
    "nas_identifier",
    "nas_ip",
    "calling_station_id",
    "framed_ip",
    "terminate_cause",
    "assigned_ip",
    // Sign-in error codes and interactivity (detect.rs `error_code`, `interactive`).
    "errorCode",
    "error_code",
    "ResultType",
    "is_interactive",
    // Who or what made a directory change (containment.rs, classify/facts.rs, persistence.rs).
    "initiated_by_type",
    "initiated_by_app",
    // Exchange cmdlet parameters (persistence.rs `param`, report/keytimeline.rs).
    "parameters",
    "Parameters",
    // Role names and MFA methods (persistence.rs).
    "role",
    "role_name",
    "RoleName",
    "method",
    // Risk detections (risk.rs, report/keytimeline.rs, timeline/export.rs).
    "risk_event_type",
    "detected_time",
    "risk_level",
    "risk_state",
    "detection_timing",
    // Mail items accessed (bulk.rs, report/keytimeline.rs).
    "item_count",
    // Sites, files and mailboxes an account reached (regulatory/assets.rs).
    "SiteUrl",
    "site_url",
    "ObjectId",
    "object_id",
    "SourceRelativeUrl",
    "MailboxOwnerUPN",
    "mailbox_owner_upn",
    "mailbox",
    "Mailbox",
];

/// Actions whose whole `extra` a rule reads: the OAuth consent rule searches all of it for
/// risky scopes and "AllPrincipals" (persistence.rs `oauth`). They are few, so they keep it.
const WHOLE_EXTRA_ACTIONS: &[&str] = &[
    crate::event::actions::OAUTH_CONSENT,
    crate::event::actions::APP_ROLE_ASSIGNED,
];

/// `extra` keys of [`ANALYSIS_EXTRA_KEYS`] that only some events' readers look at: each
/// key's reader and the events it reads it from. Elsewhere the key is dropped like any
/// other, so the many sign-ins carrying `risk_state: "none"` and the UAL log-ins carrying an
/// `ObjectId` do not hold them.
fn key_applies(k: &str, action: &str, class: crate::event::EventClass) -> bool {
    use crate::event::{actions, EventClass};
    match k {
        // risk.rs reads them from risk detections only (`risk_event_type` stays for any
        // event: the key timeline prints it).
        "detected_time" | "risk_level" | "risk_state" | "detection_timing" => {
            class == EventClass::RiskDetection || action == actions::RISK_DETECTED
        }
        // regulatory/assets.rs `locations`, for file actions only.
        "SiteUrl" | "site_url" | "ObjectId" | "object_id" | "SourceRelativeUrl" => {
            regulatory::assets::FILE_ACTIONS.contains(&action)
        }
        // regulatory/assets.rs `mailboxes`, for mail actions only.
        "MailboxOwnerUPN" | "mailbox_owner_upn" | "mailbox" | "Mailbox" => {
            regulatory::assets::MAIL_ACTIONS.contains(&action)
        }
        _ => true,
    }
}

/// Drop what no rule and no report section reads from an event held in memory: the verbatim
/// fields outside [`ANALYSIS_EXTRA_KEYS`], which are most of a sign-in's, an audit record's
/// and a firewall record's memory, and the fields no rule and no report section reads (the
/// original time text, request and correlation ids, and session ids outside RADIUS
/// accounting, which network.rs groups by them). The timeline on disk keeps every field, and
/// the hash of the event's full form is known (`Event::hash_known`: in the run's on-disk
/// table, `timeline::hashes`, or remembered by the event), so findings still cite the sealed
/// event. An event whose full hash is not known is left whole.
pub fn trim_for_analysis(e: &mut crate::event::Event) {
    if e.hash_known() {
        let accounting = network::is_accounting(e);
        if let Some(c) = e.cold_if_any_mut() {
            // Nor the original time text, the variant, or where the record is but for its
            // number (the order of equal times): the record number stays in place.
            c.time_original = None;
            c.variant = None;
            c.evidence_sha256 = None;
            c.evidence_path = None;
            c.line = 0;
            c.request_id = None;
            c.correlation_id = None;
            if !accounting {
                c.session_id = None;
            }
            // Only the timeline, its exports and `verify` read the raw record's place, the
            // copies' too (cleared alike, so a held event equals the timeline's read back
            // however its copies were folded in).
            c.byte_offset = 0;
            c.byte_len = 0;
            c.raw_sha256 = crate::event::HexDigest::default();
            c.decoded_from = None;
            c.also_seen_in.iter_mut().for_each(trim_copy);
        }
        e.targets.shrink_to_fit();
    }
    // A sign-in or UAL record keeps nothing in it: one pointer instead of a block.
    e.drop_empty_cold();
    trim_extra_to(e, ANALYSIS_EXTRA_KEYS);
    if e.hash_known() && !WHOLE_EXTRA_ACTIONS.contains(&e.action.as_str()) {
        trim_copies(e);
    }
}

/// What a held event keeps of a copy's provenance (see [`trim_for_analysis`]).
/// Only its record number is left, as of the event's own provenance (a held copy's is read
/// from the held event it was).
pub fn trim_copy(p: &mut crate::event::Provenance) {
    p.evidence_sha256 = crate::event::SharedStr::default();
    p.evidence_path = crate::event::SharedStr::default();
    p.line = 0;
    p.byte_offset = 0;
    p.byte_len = 0;
    p.raw_sha256 = crate::event::HexDigest::default();
    p.decoded_from = None;
}

/// [`trim_for_analysis`]'s `extra` part with another key list (the equivalence test leaves
/// keys out to show it notices).
pub fn trim_extra_to(e: &mut crate::event::Event, keep: &[&str]) {
    let (action, class) = (e.action.clone(), e.class);
    let kept = |k: &str| keep.contains(&k) && key_applies(k, &action, class);
    if WHOLE_EXTRA_ACTIONS.contains(&action.as_str()) || e.extra.keys().all(|k| kept(k)) {
        return;
    }
    debug_assert!(
        e.hash_known(),
        "trim only events whose full hash is remembered"
    );
    if !e.hash_known() {
        return;
    }
    e.extra.retain(|k, _| kept(k));
}

/// Location and mailbox keys (regulatory/assets.rs `locations`, `mailboxes`) whose text is
/// also the event's resource or one of its targets' ids or names: those readers gather the
/// resource, the targets and these keys and ask whether any of them names an asset, so a
/// copy adds nothing (a UAL file event's `site_url` is its resource, its `object_id` its
/// target's id).
/// They close [`ANALYSIS_EXTRA_KEYS`], so the list is written once.
const LOCATION_KEYS: &[&str] = ANALYSIS_EXTRA_KEYS
    .split_at(ANALYSIS_EXTRA_KEYS.len() - LOCATION_KEY_COUNT)
    .1;
const LOCATION_KEY_COUNT: usize = 9;

/// Exchange cmdlet parameters a reader looks up by name (persistence.rs `param`,
/// case-insensitively; report/keytimeline.rs, exactly).
const READ_PARAMETERS: &[&str] = &[
    "Name",
    "ForwardTo",
    "ForwardAsAttachmentTo",
    "RedirectTo",
    "DeleteMessage",
    "SoftDeleteMessage",
    "MoveToFolder",
    "ForwardingSmtpAddress",
    "ForwardingAddress",
    "DeliverToMailboxAndForward",
];

/// Drop location keys that repeat the resource or a target, and the cmdlet parameters no
/// reader looks up. A parameter list that would be left empty keeps its first entry:
/// persistence.rs asks whether an event has parameters at all.
fn trim_copies(e: &mut crate::event::Event) {
    let copies: Vec<crate::event::SharedStr> = e
        .extra
        .iter()
        .filter(|(k, v)| {
            LOCATION_KEYS.contains(&k.as_str())
                && v.as_str().is_some_and(|v| {
                    e.resource().as_deref() == Some(v)
                        || e.targets
                            .iter()
                            .any(|t| t.id.as_deref() == Some(v) || t.name.as_deref() == Some(v))
                })
        })
        .map(|(k, _)| k.clone())
        .collect();
    if !copies.is_empty() {
        e.extra.retain(|k, _| !copies.contains(k));
    }
    let read = |n: &str| READ_PARAMETERS.iter().any(|r| r.eq_ignore_ascii_case(n));
    for key in ["parameters", "Parameters"] {
        match e.extra.get_mut(key) {
            Some(serde_json::Value::Object(m)) if m.keys().any(|k| !read(k)) => {
                let first = m.iter().next().map(|(k, v)| (k.clone(), v.clone()));
                m.retain(|k, _| read(k));
                if let Some((k, v)) = first.filter(|_| m.is_empty()) {
                    m.insert(k, v);
                }
            }
            Some(serde_json::Value::Array(a)) => {
                let named = |x: &serde_json::Value| {
                    x.get("Name")
                        .or_else(|| x.get("name"))
                        .and_then(|n| n.as_str())
                        .is_some_and(read)
                };
                if a.iter().all(named) {
                    continue;
                }
                let first = a.first().cloned();
                a.retain(named);
                match first {
                    Some(f) if a.is_empty() => a.push(f),
                    _ => a.shrink_to_fit(),
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The location keys are exactly the tail of the kept keys that names sites, files and
    /// mailboxes: adding a key after them, or one more of them before, moves the cut.
    #[test]
    fn location_keys_are_the_tail_of_the_kept_keys() {
        assert_eq!(LOCATION_KEYS.first(), Some(&"SiteUrl"));
        assert_eq!(LOCATION_KEYS.last(), Some(&"Mailbox"));
        let before = ANALYSIS_EXTRA_KEYS[ANALYSIS_EXTRA_KEYS.len() - LOCATION_KEYS.len() - 1];
        assert_eq!(before, "item_count");
        assert!(LOCATION_KEYS.iter().all(|k| {
            let k = k.to_ascii_lowercase();
            k.contains("site") || k.contains("object") || k.contains("url") || k.contains("mailbox")
        }));
    }
}
