//! What the evidence says about each account, gathered once before any verdict is drawn:
//! anomalous sign-ins (and whether travel or the corporate network explains them),
//! persistence, leaks, password changes, MFA, automated revocations, privilege, coverage.

use crate::analysis::{rules, Analysis, ContainmentEvent, Finding, RiskAlert, Severity};
use crate::case::{parse_net, CaseFile};
use crate::event::{actions, Event, EventClass, Outcome};
use crate::timeline::hashes::Cite;
use chrono::{DateTime, Duration, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Findings that say a sign-in was out of the ordinary (RB-0003 step 4, RB-001 alert types).
pub const ANOMALY_RULES: &[&str] = &[
    rules::IMPOSSIBLE_TRAVEL,
    rules::NEW_COUNTRY,
    rules::NEW_IP,
    rules::NEW_DEVICE,
    rules::FAILURES_THEN_SUCCESS,
    rules::SINGLE_FACTOR_UNKNOWN_IP,
    rules::LEGACY_AUTH,
    rules::MFA_FATIGUE,
    rules::IOC_HIT,
    rules::SHARED_IP,
    rules::SHARED_USER_AGENT,
];

/// Credential testing: failures only, by construction (RB-0003 step 4, "credential being tested").
pub const TESTING_RULES: &[&str] = &[rules::PASSWORD_SPRAY, rules::BRUTE_FORCE];

/// Post-sign-in activity that makes a compromise confirmed (RB-0003 step 5).
pub const PERSISTENCE_RULES: &[&str] = &[
    rules::INBOX_RULE,
    rules::MAILBOX_FORWARDING,
    rules::MFA_METHOD_REGISTERED,
    rules::OAUTH_CONSENT,
    rules::ROLE_ADDED,
    rules::BULK_DOWNLOAD,
    rules::BULK_MAIL_ACCESS,
];

/// Sources that answer each question.
pub const SIGNIN_SOURCES: &[&str] = &["entra_signin"];
pub const AUDIT_SOURCES: &[&str] = &["entra_audit", "m365_ual"];
pub const MAILBOX_SOURCES: &[&str] = &["m365_ual"];
pub const RISK_SOURCES: &[&str] = &["entra_risk"];

/// Export edges are not window edges: a quiet night is not a gap. Gaps under a day are ignored.
const COVERAGE_SLACK_HOURS: i64 = 24;
/// Clock skew tolerated between a sign-in and the persistence that follows it (two sources).
pub const SKEW_MINUTES: i64 = 60;

/// Entra error codes that come after a correct password: the second factor or a policy stopped it.
const BLOCKED_AFTER_PASSWORD: &[&str] = &[
    "50074", "50076", "50079", "500121", "50158", "53003", "50072", "530032", "50097",
];

pub const LEAKED: &str = "leakedcredentials";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    Full,
    Partial,
    None,
}

#[derive(Debug, Clone)]
pub struct Coverage {
    pub state: Cover,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// At least one cited sign-in succeeded.
    Success,
    /// None succeeded; the password worked but MFA or a policy stopped it.
    BlockedByMfa,
    /// None succeeded; plain failures (wrong password, locked).
    Failed,
    /// The cited events are not in the timeline: treated as a success, at lower confidence.
    Unknown,
}

#[derive(Debug, Clone)]
pub struct Anomaly<'a> {
    pub finding: &'a Finding,
    pub outcome: AttemptOutcome,
    /// Earliest successful cited sign-in (or the finding's first_seen when unresolved).
    pub first_success: Option<DateTime<Utc>>,
    /// Why it is not suspicious after all (travel on record, corporate network).
    pub explained: Option<String>,
    /// The user's cited events (all of the finding's when they cannot be resolved).
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Stamp {
    pub time: DateTime<Utc>,
    pub by: Option<String>,
    pub evidence: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct UserFacts<'a> {
    pub key: String,
    pub display: String,
    pub in_alert: bool,
    pub privileged: Vec<(String, Vec<String>)>,
    pub anomalies: Vec<Anomaly<'a>>,
    pub testing: Vec<&'a Finding>,
    pub persistence: Vec<&'a Finding>,
    pub leaks: Vec<&'a RiskAlert>,
    pub other_risk: Vec<&'a RiskAlert>,
    pub password_changes: Vec<Stamp>,
    pub mfa_in_use: Option<bool>,
    pub legacy_auth: u64,
    pub automated_revocations: Vec<Stamp>,
    pub manual_containment: Vec<&'a ContainmentEvent>,
    pub no_baseline: bool,
    /// Cited hashes that could not be found in the timeline.
    pub unresolved: usize,
}

impl UserFacts<'_> {
    pub fn live(&self) -> impl Iterator<Item = &Anomaly<'_>> {
        self.anomalies.iter().filter(|a| a.explained.is_none())
    }
    pub fn explained(&self) -> impl Iterator<Item = &Anomaly<'_>> {
        self.anomalies.iter().filter(|a| a.explained.is_some())
    }
}

/// Everything shared by the per-user decisions.
pub struct Context<'a> {
    pub analysis: &'a Analysis,
    pub case: &'a CaseFile,
    pub window: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub signin: Coverage,
    pub audit: Coverage,
    pub mailbox: Coverage,
    pub risk: Coverage,
    nets: Vec<(ipnet::IpNet, &'static str)>,
    events: HashMap<String, &'a Event>,
    index: Index,
    /// Where the held events' hashes are.
    cite: Cite<'a>,
}

/// Per-account facts from the audit and sign-in events, gathered in one pass over the timeline
/// (so classifying many accounts stays linear in the number of events).
#[derive(Default)]
struct Index {
    /// Service-initiated token revocations and user updates, by target account.
    revocations: BTreeMap<String, Vec<Stamp>>,
    /// Password resets and changes, by target account.
    passwords: HashMap<String, Vec<Stamp>>,
    /// Role memberships added: (role name, stamp), by target account.
    roles: HashMap<String, Vec<(String, Stamp)>>,
    /// Accounts with a successful sign-in that satisfied MFA.
    mfa_used: HashSet<String>,
}

impl Index {
    fn build(events: &[Event], cite: Cite) -> Self {
        let mut ix = Index::default();
        for e in events {
            if e.outcome == Outcome::Failure {
                continue;
            }
            if e.class == EventClass::Authentication {
                if e.outcome == Outcome::Success
                    && e.mfa.as_ref().and_then(|m| m.satisfied) == Some(true)
                {
                    if let Some(u) = e.user_key() {
                        ix.mfa_used.insert(u);
                    }
                }
                continue;
            }
            let app_revocation = (e.class == EventClass::AccountChange
                || e.class == EventClass::ApiActivity)
                && (e.action == actions::TOKENS_REVOKED
                    || e.operation().contains("StsRefreshTokenValidFrom")
                    || e.action == actions::USER_UPDATED
                    || eq(e.operation(), "Update user"))
                && e.extra
                    .get("initiated_by_type")
                    .and_then(|v| v.as_str())
                    .is_some_and(|s| eq(s, "app"));
            let password =
                e.action == actions::PASSWORD_RESET || e.action == actions::PASSWORD_CHANGED;
            let role = e.action == actions::ROLE_MEMBER_ADDED;
            if !(app_revocation || password || role) {
                continue;
            }
            let stamp = |by: Option<String>| Stamp {
                time: e.time,
                by,
                evidence: vec![cite.hash(e)],
            };
            let targets = target_users(e);
            if app_revocation {
                let by = e
                    .extra
                    .get("initiated_by_app")
                    .and_then(|v| v.as_str())
                    .map(str::to_string);
                for u in &targets {
                    ix.revocations
                        .entry(key(u))
                        .or_default()
                        .push(stamp(by.clone()));
                }
            }
            if password {
                // A self-service change may name no target: it is the actor's own password.
                let who: Vec<String> = if targets.is_empty() {
                    e.user_key().into_iter().collect()
                } else {
                    targets.iter().map(|t| key(t)).collect()
                };
                for u in who {
                    ix.passwords
                        .entry(u)
                        .or_default()
                        .push(stamp(e.user.as_ref().map(String::from)));
                }
            }
            if role {
                let name = e.targets.iter().find_map(|t| {
                    t.kind
                        .as_deref()
                        .is_some_and(|k| k.to_ascii_lowercase().contains("role"))
                        .then_some(t.name.as_deref())
                        .flatten()
                });
                if let Some(name) = name {
                    for u in &targets {
                        ix.roles
                            .entry(key(u))
                            .or_default()
                            .push((name.to_string(), stamp(e.user.as_ref().map(String::from))));
                    }
                }
            }
        }
        ix
    }
}

pub fn eq(a: &str, b: &str) -> bool {
    a.trim().eq_ignore_ascii_case(b.trim())
}

pub fn key(u: &str) -> String {
    u.trim().to_ascii_lowercase()
}

impl<'a> Context<'a> {
    pub fn new(
        analysis: &'a Analysis,
        events: &'a [Event],
        table: Option<&'a crate::timeline::hashes::HashTable>,
        case: &'a CaseFile,
    ) -> Self {
        let cite = Cite::new(events, table);
        let window = window(analysis, case);
        let coverage = if analysis.coverage.is_empty() {
            coverage_from_events(events)
        } else {
            analysis.coverage.clone()
        };
        let cover = |sources: &[&str]| coverage_of(&coverage, sources, window);
        let mut nets = Vec::new();
        for (list, what) in [
            (&case.network.corporate_egress, "corporate egress"),
            (&case.network.vpn_ranges, "corporate VPN"),
        ] {
            nets.extend(list.iter().filter_map(|s| parse_net(s)).map(|n| (n, what)));
        }
        Context {
            analysis,
            case,
            window,
            signin: cover(SIGNIN_SOURCES),
            audit: cover(AUDIT_SOURCES),
            mailbox: cover(MAILBOX_SOURCES),
            risk: cover(RISK_SOURCES),
            nets,
            events: cited_events(analysis, cite),
            index: Index::build(events, cite),
            cite,
        }
    }

    pub fn event(&self, hash: &str) -> Option<&'a Event> {
        self.events.get(hash).copied()
    }

    /// Which of the organisation's networks an IP belongs to.
    pub fn corporate(&self, ip: &str) -> Option<&'static str> {
        let ip: std::net::IpAddr = ip.trim().parse().ok()?;
        self.nets
            .iter()
            .find(|(n, _)| n.contains(&ip))
            .map(|(_, w)| *w)
    }

    fn travel_for(&self, user: &str, e: &Event) -> Option<String> {
        let country = e.geo.as_ref()?.country.as_deref()?;
        self.case
            .travel
            .iter()
            .find(|t| {
                eq(&t.user, user) && eq(&t.country, country) && t.from <= e.time && e.time <= t.to
            })
            .map(|t| match &t.note {
                Some(n) => format!("travel on record to {} ({n})", t.country),
                None => format!("travel on record to {}", t.country),
            })
    }

    /// The accounts to classify: named in the alert, in a finding, a leak or risk detection,
    /// or touched by an automated revocation. (A person's containment alone does not make one.)
    pub fn subjects(&self) -> BTreeMap<String, (String, bool)> {
        let mut out: BTreeMap<String, (String, bool)> = BTreeMap::new();
        let mut add = |u: &str, in_alert: bool| {
            if u.trim().is_empty() {
                return;
            }
            let e = out
                .entry(key(u))
                .or_insert_with(|| (u.trim().to_string(), false));
            e.1 |= in_alert;
        };
        if let Some(a) = &self.case.alert {
            for u in &a.users {
                add(u, true);
            }
        }
        for f in &self.analysis.findings {
            if relevant_rule(&f.rule) && f.severity > Severity::Info {
                for u in &f.users {
                    add(u, false);
                }
            }
        }
        for r in &self.analysis.risk {
            add(&r.user, false);
        }
        for c in self.analysis.containment.iter().filter(|c| c.automated) {
            add(&c.user, false);
        }
        for u in self.index.revocations.keys() {
            add(u, false);
        }
        out
    }

    pub fn facts(&self, user_key: &str, display: &str, in_alert: bool) -> UserFacts<'a> {
        let a = self.analysis;
        let mine = |f: &&Finding| f.users.iter().any(|u| key(u) == user_key);
        let mut facts = UserFacts {
            key: user_key.to_string(),
            display: display.to_string(),
            in_alert,
            privileged: self.privileged(user_key),
            anomalies: Vec::new(),
            testing: Vec::new(),
            persistence: Vec::new(),
            leaks: Vec::new(),
            other_risk: Vec::new(),
            password_changes: Vec::new(),
            mfa_in_use: None,
            legacy_auth: 0,
            automated_revocations: Vec::new(),
            manual_containment: Vec::new(),
            no_baseline: false,
            unresolved: 0,
        };
        for f in a.findings.iter().filter(mine) {
            let r = f.rule.as_str();
            if ANOMALY_RULES.contains(&r) && f.severity > Severity::Info {
                let an = self.anomaly(user_key, f);
                if an.outcome == AttemptOutcome::Unknown {
                    facts.unresolved += f.evidence.len();
                }
                facts.anomalies.push(an);
            } else if ANOMALY_RULES.contains(&r) {
                // The detections already judged it explained (Info); keep it only when the
                // case file's travel records or networks explain it here too, so "travel on
                // record" / "corporate VPN egress" can decide a false positive.
                let an = self.anomaly(user_key, f);
                if an.explained.is_some() {
                    facts.anomalies.push(an);
                }
            } else if TESTING_RULES.contains(&r) {
                facts.testing.push(f);
            } else if PERSISTENCE_RULES.contains(&r) {
                facts.persistence.push(f);
            } else if r == rules::NO_BASELINE {
                facts.no_baseline = true;
            }
        }
        for r in a.risk.iter().filter(|r| key(&r.user) == user_key) {
            if r.risk_event_type.eq_ignore_ascii_case(LEAKED) {
                facts.leaks.push(r);
            } else {
                facts.other_risk.push(r);
            }
        }
        if let Some(b) = a.baselines.iter().find(|b| key(&b.user) == user_key) {
            facts.no_baseline |= !b.has_baseline;
        }
        // Password changes: the per-user summary, containment, and audit events.
        let mut seen = BTreeSet::new();
        if let Some(s) = a.users.iter().find(|s| key(&s.user) == user_key) {
            facts.mfa_in_use = s.mfa_in_use;
            facts.legacy_auth = s.legacy_auth;
            for t in &s.password_changes {
                if seen.insert(*t) {
                    facts.password_changes.push(Stamp {
                        time: *t,
                        by: None,
                        evidence: vec![],
                    });
                }
            }
        }
        for c in a.containment.iter().filter(|c| key(&c.user) == user_key) {
            if c.action == actions::PASSWORD_RESET || c.action == actions::PASSWORD_CHANGED {
                match facts.password_changes.iter_mut().find(|p| p.time == c.time) {
                    Some(p) => {
                        p.evidence.push(c.evidence.clone());
                        p.by = p.by.clone().or(c.by.clone());
                    }
                    None => facts.password_changes.push(Stamp {
                        time: c.time,
                        by: c.by.clone(),
                        evidence: vec![c.evidence.clone()],
                    }),
                }
            }
            if c.automated {
                facts.automated_revocations.push(Stamp {
                    time: c.time,
                    by: c.by.clone(),
                    evidence: vec![c.evidence.clone()],
                });
            } else {
                facts.manual_containment.push(c);
            }
        }
        for s in self.index.revocations.get(user_key).into_iter().flatten() {
            if !facts
                .automated_revocations
                .iter()
                .any(|r| r.evidence == s.evidence)
            {
                facts.automated_revocations.push(s.clone());
            }
        }
        facts.automated_revocations.sort_by_key(|a| a.time);
        for p in self.index.passwords.get(user_key).into_iter().flatten() {
            if !facts.password_changes.iter().any(|q| q.time == p.time) {
                facts.password_changes.push(p.clone());
            }
        }
        for r in facts.leaks.iter() {
            if let Some(t) = r.password_changed_after {
                if !facts.password_changes.iter().any(|q| q.time == t) {
                    facts.password_changes.push(Stamp {
                        time: t,
                        by: None,
                        evidence: vec![],
                    });
                }
            }
        }
        facts.password_changes.sort_by_key(|a| a.time);
        // A successful sign-in that satisfied MFA shows MFA is registered and used.
        if facts.mfa_in_use.is_none() && self.index.mfa_used.contains(user_key) {
            facts.mfa_in_use = Some(true);
        }
        facts
    }

    fn anomaly(&self, user_key: &str, f: &'a Finding) -> Anomaly<'a> {
        let cited: Vec<&Event> = f.evidence.iter().filter_map(|h| self.event(h)).collect();
        let user_events: Vec<&Event> = cited
            .iter()
            .copied()
            .filter(|e| e.user_key().as_deref() == Some(user_key))
            .collect();
        let signins: Vec<&Event> = user_events
            .iter()
            .copied()
            .filter(|e| {
                e.class == EventClass::Authentication
                    || e.action == actions::SIGN_IN
                    || e.action == actions::VPN_LOGIN
                    || e.action == actions::VPN_LOGIN_FAILED
            })
            .collect();
        let evidence: Vec<String> = if user_events.is_empty() {
            f.evidence.clone()
        } else {
            user_events.iter().map(|e| self.cite.hash(e)).collect()
        };
        let (outcome, first_success) = if signins.is_empty() {
            (AttemptOutcome::Unknown, Some(f.first_seen))
        } else if let Some(t) = signins
            .iter()
            .filter(|e| e.outcome == Outcome::Success || e.outcome == Outcome::Unknown)
            .map(|e| e.time)
            .min()
        {
            (AttemptOutcome::Success, Some(t))
        } else if signins.iter().any(|e| blocked_after_password(e)) {
            (AttemptOutcome::BlockedByMfa, None)
        } else {
            (AttemptOutcome::Failed, None)
        };
        // Cite the sign-ins that show the outcome (the successes when there are any).
        let evidence = match outcome {
            AttemptOutcome::Success => {
                let ok: Vec<String> = signins
                    .iter()
                    .filter(|e| e.outcome == Outcome::Success || e.outcome == Outcome::Unknown)
                    .map(|e| self.cite.hash(e))
                    .collect();
                ok
            }
            _ => evidence,
        };
        let explained = if f.rule == rules::IOC_HIT {
            None // a known-bad indicator is never explained away
        } else if signins.is_empty() {
            // Unresolved: only the IPs the finding names can be checked.
            let nets: Vec<&str> = f.ips.iter().filter_map(|ip| self.corporate(ip)).collect();
            (!f.ips.is_empty() && nets.len() == f.ips.len()).then(|| {
                format!(
                    "all IPs ({}) are {} addresses",
                    super::super::prose::capped(&f.ips, ", "),
                    nets.first().copied().unwrap_or("corporate")
                )
            })
        } else {
            self.explain(user_key, f, &signins)
        };
        Anomaly {
            finding: f,
            outcome,
            first_success,
            explained,
            evidence,
        }
    }

    /// Every cited sign-in is expected (travel on record, corporate network, or — for
    /// impossible travel — the user's home countries), and at least one by travel or network.
    fn explain(&self, user_key: &str, f: &Finding, signins: &[&Event]) -> Option<String> {
        let home: Vec<&String> = self
            .analysis
            .baselines
            .iter()
            .filter(|b| key(&b.user) == user_key && b.has_baseline)
            .flat_map(|b| b.countries.iter())
            .collect();
        let mut reasons = BTreeSet::new();
        for e in signins {
            if let Some(w) = e.src_ip.as_deref().and_then(|ip| self.corporate(ip)) {
                reasons.insert(format!(
                    "{w} address {}",
                    e.src_ip.as_deref().unwrap_or_default()
                ));
            } else if let Some(t) = self.travel_for(user_key, e) {
                reasons.insert(t);
            } else if f.rule == rules::IMPOSSIBLE_TRAVEL
                && e.geo
                    .as_ref()
                    .and_then(|g| g.country.as_deref())
                    .is_some_and(|c| home.iter().any(|h| eq(h, c)))
            {
                continue; // the home end of a trip
            } else {
                return None;
            }
        }
        (!reasons.is_empty()).then(|| super::super::prose::capped(reasons, "; "))
    }

    fn privileged(&self, user_key: &str) -> Vec<(String, Vec<String>)> {
        let mut out = Vec::new();
        if self
            .case
            .privileged
            .users
            .iter()
            .any(|u| key(u) == user_key)
        {
            out.push(("listed as privileged in the case file".to_string(), vec![]));
        }
        if self
            .analysis
            .users
            .iter()
            .any(|s| key(&s.user) == user_key && s.privileged)
        {
            out.push(("privileged according to the logs".to_string(), vec![]));
        }
        let roles = &self.case.privileged.roles;
        for (name, st) in self.index.roles.get(user_key).into_iter().flatten() {
            if roles.iter().any(|r| eq(r, name)) {
                out.push((
                    format!(
                        "was added to the privileged role {name} at {}",
                        st.time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    ),
                    st.evidence.clone(),
                ));
            }
        }
        out
    }
}

fn relevant_rule(rule: &str) -> bool {
    ANOMALY_RULES.contains(&rule)
        || TESTING_RULES.contains(&rule)
        || PERSISTENCE_RULES.contains(&rule)
}

/// A failed or interrupted sign-in where the password was right but MFA or policy stopped it.
pub fn blocked_after_password(e: &Event) -> bool {
    if e.outcome == Outcome::Interrupted {
        return true;
    }
    if e.outcome != Outcome::Failure {
        return false;
    }
    let code = e.reason.as_deref().unwrap_or_default();
    let code_says = BLOCKED_AFTER_PASSWORD.iter().any(|c| {
        code.split(|ch: char| !ch.is_ascii_digit())
            .any(|part| part == *c)
    });
    let mfa_says = e.mfa.as_ref().is_some_and(|m| {
        m.satisfied == Some(false)
            && m.requirement
                .as_deref()
                .is_some_and(|r| eq(r, "multiFactorAuthentication"))
    });
    code_says || mfa_says
}

/// Users an audit event was done to (targets of kind user, or UPN-looking names/ids).
pub fn target_users(e: &Event) -> Vec<String> {
    e.targets
        .iter()
        .filter(|t| {
            t.kind.as_deref().is_none_or(|k| eq(k, "user"))
                || t.name.as_deref().is_some_and(|n| n.contains('@'))
        })
        .filter_map(|t| {
            t.name
                .as_deref()
                .filter(|n| n.contains('@'))
                .or(t.id.as_deref().filter(|i| i.contains('@')))
                .map(str::to_string)
        })
        .collect()
}

/// The window under investigation: as detected, as the case file says, or spanned by the evidence.
fn window(a: &Analysis, case: &CaseFile) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    if let (Some(s), Some(e)) = (a.window_start, a.window_end) {
        return Some((s, e));
    }
    if let Some((Some(s), Some(e))) = case.alert.as_ref().map(|x| (x.window_start, x.window_end)) {
        return Some((s, e));
    }
    let mut times: Vec<DateTime<Utc>> = Vec::new();
    for f in &a.findings {
        times.push(f.first_seen);
        times.push(f.last_seen);
    }
    for r in &a.risk {
        times.extend(r.activity_time);
        times.extend(r.detected_time);
    }
    times.extend(a.containment.iter().map(|c| c.time));
    times.extend(case.alert.as_ref().and_then(|x| x.time));
    Some((*times.iter().min()?, *times.iter().max()?))
}

fn coverage_from_events(events: &[Event]) -> Vec<crate::analysis::SourceCoverage> {
    let mut m: BTreeMap<&str, crate::analysis::SourceCoverage> = BTreeMap::new();
    for e in events {
        let c = m
            .entry(e.source().as_str())
            .or_insert_with(|| crate::analysis::SourceCoverage {
                source: e.source().to_string(),
                ..Default::default()
            });
        c.events += 1;
        c.first = Some(c.first.map_or(e.time, |f| f.min(e.time)));
        c.last = Some(c.last.map_or(e.time, |l| l.max(e.time)));
    }
    m.into_values().collect()
}

fn coverage_of(
    all: &[crate::analysis::SourceCoverage],
    sources: &[&str],
    window: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Coverage {
    let hits: Vec<_> = all
        .iter()
        .filter(|c| c.events > 0 && sources.contains(&c.source.as_str()))
        .collect();
    let first = hits.iter().filter_map(|c| c.first).min();
    let last = hits.iter().filter_map(|c| c.last).max();
    let none = Coverage {
        state: Cover::None,
        first,
        last,
    };
    if hits.is_empty() {
        return none;
    }
    let Some((ws, we)) = window else {
        return Coverage {
            state: Cover::Full,
            first,
            last,
        };
    };
    match (first, last) {
        (Some(f), Some(l)) if l < ws || f > we => none,
        (Some(f), Some(l)) => {
            let slack = Duration::hours(COVERAGE_SLACK_HOURS);
            let late = ws.checked_add_signed(slack).is_some_and(|x| f > x);
            let early = we.checked_sub_signed(slack).is_some_and(|x| l < x);
            let state = if late || early {
                Cover::Partial
            } else {
                Cover::Full
            };
            Coverage { state, first, last }
        }
        // Counted but undated: present, extent unknown.
        _ => Coverage {
            state: Cover::Partial,
            first,
            last,
        },
    }
}

/// Hash only the events that can be cited (inside the span of the findings), once.
fn cited_events<'a>(a: &Analysis, cite: Cite<'a>) -> HashMap<String, &'a Event> {
    let wanted: HashSet<&str> = a
        .findings
        .iter()
        .flat_map(|f| f.evidence.iter().map(String::as_str))
        .collect();
    let (Some(lo), Some(hi)) = (
        a.findings.iter().map(|f| f.first_seen).min(),
        a.findings.iter().map(|f| f.last_seen).max(),
    ) else {
        return HashMap::new();
    };
    // A day either side: findings may round their first/last times.
    let day = Duration::days(1);
    let (lo, hi) = (
        lo.checked_sub_signed(day).unwrap_or(lo),
        hi.checked_add_signed(day).unwrap_or(hi),
    );
    let mut out = HashMap::new();
    cite.scan(
        |e| e.time >= lo && e.time <= hi,
        |e, h| {
            let h = hex::encode(h);
            if wanted.contains(h.as_str()) {
                out.insert(h, e);
            }
        },
    );
    out
}
