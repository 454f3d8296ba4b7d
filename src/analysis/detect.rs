//! Entry point of the detections. Builds the shared context once (window, baselines, per-user
//! sign-in index, known networks), runs each detection family over it, then a second pass
//! (pivot, network) over what the first found, and turns the drafts into findings that cite
//! event hashes. Every family groups by user or IP with maps, so the work is linear in the
//! events apart from sorting.
//!
//! User names are compared and reported lower-cased (UPNs differ in case across sources).

use super::geoip::GeoIp;
use super::window::{self, Window};
use super::{auth, geo};
use super::{
    baseline, bulk, containment, ioc, network, persistence, pivot, risk, travel, Analysis, Finding,
    Severity, SourceCoverage, Technique, UserSummary,
};
use crate::case::{parse_net, CaseFile, Thresholds, Travel};
use crate::event::{actions, Event, Outcome};
use crate::timeline::flowstore::{Compacted, FlowStore};
use crate::timeline::hashes::HashTable;
use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// Most event hashes one finding lists; the rest are counted in `facts.evidence_total`.
pub const MAX_EVIDENCE: usize = 1000;

/// ATT&CK techniques the detections cite (ids and names as of `ATTACK_VERSION`).
pub(crate) mod tech {
    pub type T = (&'static str, &'static str);
    pub const VALID_CLOUD: T = ("T1078.004", "Valid Accounts: Cloud Accounts");
    pub const BRUTE_FORCE: T = ("T1110", "Brute Force");
    pub const PASSWORD_GUESSING: T = ("T1110.001", "Brute Force: Password Guessing");
    pub const PASSWORD_SPRAYING: T = ("T1110.003", "Brute Force: Password Spraying");
    pub const MFA_REQUEST_GEN: T = ("T1621", "Multi-Factor Authentication Request Generation");
    pub const FORWARDING_RULE: T = ("T1114.003", "Email Collection: Email Forwarding Rule");
    pub const HIDING_RULES: T = ("T1564.008", "Hide Artifacts: Email Hiding Rules");
    pub const REMOTE_EMAIL: T = ("T1114.002", "Email Collection: Remote Email Collection");
    pub const MFA_MODIFY: T = (
        "T1556.006",
        "Modify Authentication Process: Multi-Factor Authentication",
    );
    pub const DEVICE_REGISTRATION: T = ("T1098.005", "Account Manipulation: Device Registration");
    pub const APP_TOKEN: T = ("T1528", "Steal Application Access Token");
    pub const CLOUD_ROLES: T = ("T1098.003", "Account Manipulation: Additional Cloud Roles");
    pub const CLOUD_STORAGE: T = ("T1530", "Data from Cloud Storage");
    pub const SHAREPOINT: T = (
        "T1213.002",
        "Data from Information Repositories: Sharepoint",
    );
    pub const LEAKED_CREDS: T = (
        "T1589.001",
        "Gather Victim Identity Information: Credentials",
    );
    pub const EXTERNAL_REMOTE: T = ("T1133", "External Remote Services");
}

/// A finding before its evidence is hashed: events are indices into the timeline.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub rule: &'static str,
    pub title: String,
    pub severity: Severity,
    pub techniques: Vec<tech::T>,
    pub users: BTreeSet<String>,
    pub ips: BTreeSet<String>,
    /// The IPs this finding holds anomalous (pivot and network correlation start from them).
    pub suspect_ips: BTreeSet<String>,
    pub events: Vec<usize>,
    pub rationale: String,
    pub facts: Map<String, Value>,
}

impl Draft {
    pub fn new(rule: &'static str, severity: Severity, title: impl Into<String>) -> Self {
        Draft {
            rule,
            title: title.into(),
            severity,
            techniques: Vec::new(),
            users: BTreeSet::new(),
            ips: BTreeSet::new(),
            suspect_ips: BTreeSet::new(),
            events: Vec::new(),
            rationale: String::new(),
            facts: Map::new(),
        }
    }
    pub fn tech(mut self, t: &[tech::T]) -> Self {
        self.techniques.extend_from_slice(t);
        self
    }
    pub fn user(mut self, u: &str) -> Self {
        self.users.insert(u.to_string());
        self
    }
    pub fn fact(mut self, k: &str, v: impl Into<Value>) -> Self {
        self.facts.insert(k.to_string(), v.into());
        self
    }
    pub fn why(mut self, r: impl Into<String>) -> Self {
        self.rationale = r.into();
        self
    }
    /// Add events and the IPs they came from.
    pub fn cite(mut self, ctx: &Ctx, idx: impl IntoIterator<Item = usize>) -> Self {
        for i in idx {
            if let Some(ip) = ctx.events[i].src_ip.as_deref().filter(|s| !s.is_empty()) {
                self.ips.insert(ip.to_string());
            }
            self.events.push(i);
        }
        self
    }
}

/// A corporate egress or VPN range from the case file.
#[derive(Debug, Clone)]
pub(crate) struct KnownNet {
    pub net: ipnet::IpNet,
    pub kind: &'static str,
    pub text: String,
}

/// Everything the detections share: built once per analysis.
pub(crate) struct Ctx<'a> {
    pub events: &'a [Event],
    /// Timeline line of each event, when flows are held compactly beside them.
    pub lines: &'a [u64],
    /// The records held compactly beside the events, when there are.
    pub flows: Option<&'a FlowStore>,
    /// Compact activity records bulk access cites (see [`FlowWant::activity`]).
    pub activity_want: RefCell<BTreeSet<usize>>,
    /// Users of the compact flows inside the window: (first, last) flow time.
    pub flow_users: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)>,
    /// Addresses network correlation looked up flows for (see [`FlowWant`]).
    pub flow_addrs: RefCell<BTreeSet<String>>,
    /// Accounting sessions network correlation saw a record of (with a session id):
    /// (source, session id, user key or ""), so the rest of each can be read back
    /// ([`FlowWant`]).
    pub net_sessions: RefCell<BTreeSet<(String, String, String)>>,
    pub case: &'a CaseFile,
    pub th: &'a Thresholds,
    pub win: Window,
    pub known: Vec<KnownNet>,
    /// Indices of events inside the window, ordered by (time, index).
    pub window_idx: Vec<usize>,
    /// Sign-ins in the window per user, ordered by (time, index).
    pub signins: BTreeMap<String, Vec<usize>>,
    pub profiles: BTreeMap<String, baseline::Profile>,
    /// Earliest sign-in anywhere in the evidence (coverage of the baseline period).
    pub first_signin: Option<usize>,
    pub geo: &'static geo::Gazetteer,
    /// Positions, countries and ASNs of events: the log, then the optional MaxMind database.
    pub loc: geo::Locator<'a>,
    /// Where held events' hashes are (`irpack run`'s on-disk table), if not in the events.
    table: Option<&'a HashTable>,
    hashes: RefCell<HashMap<usize, String>>,
}

impl<'a> Ctx<'a> {
    pub fn new(
        events: &'a [Event],
        compact: Option<Compacted<'a>>,
        table: Option<&'a HashTable>,
        case: &'a CaseFile,
        win: Window,
        geoip: Option<&'a GeoIp>,
    ) -> Self {
        let mut flow_users: BTreeMap<String, (DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
        if let Some(c) = compact {
            // One scan of the store (on disk in `run`): the window is known only now.
            for (_, r) in c.flows.iter() {
                let t = r.time();
                if !win.contains(t) {
                    continue;
                }
                if let Some(u) = c.flows.user_key(&r).filter(|u| !u.is_empty()) {
                    let s = flow_users.entry(u.to_string()).or_insert((t, t));
                    s.0 = s.0.min(t);
                    s.1 = s.1.max(t);
                }
            }
        }
        let mut known = Vec::new();
        for (kind, list) in [
            ("corporate egress", &case.network.corporate_egress),
            ("VPN range", &case.network.vpn_ranges),
        ] {
            for text in list {
                if let Some(net) = parse_net(text) {
                    known.push(KnownNet {
                        net,
                        kind,
                        text: text.trim().to_string(),
                    });
                }
            }
        }
        let mut window_idx: Vec<usize> = (0..events.len())
            .filter(|&i| win.contains(events[i].time))
            .collect();
        window_idx.sort_by_key(|&i| (events[i].time, i));
        let mut signins: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for &i in &window_idx {
            let e = &events[i];
            if is_sign_in(e) {
                if let Some(u) = user_of(e) {
                    signins.entry(u).or_default().push(i);
                }
            }
        }
        let first_signin = (0..events.len())
            .filter(|&i| is_sign_in(&events[i]))
            .min_by_key(|&i| (events[i].time, i));
        let loc = geo::Locator::new(geoip);
        let profiles = baseline::build(events, &win, &case.thresholds, &loc);
        Ctx {
            events,
            lines: compact.map_or(&[], |c| c.positions),
            flows: compact.map(|c| c.flows),
            activity_want: RefCell::new(BTreeSet::new()),
            flow_users,
            flow_addrs: RefCell::new(BTreeSet::new()),
            net_sessions: RefCell::new(BTreeSet::new()),
            case,
            th: &case.thresholds,
            win,
            known,
            window_idx,
            signins,
            profiles,
            first_signin,
            geo: geo::gazetteer(),
            loc,
            table,
            hashes: RefCell::new(HashMap::new()),
        }
    }

    pub fn ev(&self, i: usize) -> &'a Event {
        &self.events[i]
    }

    /// The timeline line of event `i` (its index unless flows are held compactly).
    pub fn line(&self, i: usize) -> u64 {
        self.lines.get(i).copied().unwrap_or(i as u64)
    }

    /// The hash of event `i`'s full form (what findings cite), memoized: read from the
    /// run's table of held events' hashes, or the event's own ([`Event::hash`]).
    pub fn hash(&self, i: usize) -> String {
        if let Some(h) = self.hashes.borrow().get(&i) {
            return h.clone();
        }
        let h = self.hash_uncached(i);
        self.hashes.borrow_mut().insert(i, h.clone());
        h
    }

    fn hash_uncached(&self, i: usize) -> String {
        match self.table {
            Some(t) => t.hex_of(self.events, i),
            None => self.events[i].hash(),
        }
    }

    /// Hash many events (findings can cite thousands): read from the table in index
    /// order, or computed in parallel.
    fn hash_all(&self, idx: &BTreeSet<usize>) {
        let missing: Vec<usize> = {
            let have = self.hashes.borrow();
            idx.iter()
                .copied()
                .filter(|i| !have.contains_key(i))
                .collect()
        };
        let computed: Vec<(usize, String)> = match self.table {
            Some(_) => missing
                .iter()
                .map(|&i| (i, self.hash_uncached(i)))
                .collect(),
            None => missing
                .par_iter()
                .map(|&i| (i, self.events[i].hash()))
                .collect(),
        };
        self.hashes.borrow_mut().extend(computed);
    }

    /// The corporate egress or VPN range an IP belongs to, if any.
    pub fn known_net(&self, ip: &str) -> Option<&KnownNet> {
        let addr: IpAddr = ip.trim().parse().ok()?;
        self.known.iter().find(|k| k.net.contains(&addr))
    }

    /// A travel record that explains this user being in this country at this time.
    pub fn travel_record(&self, user: &str, country: &str, t: DateTime<Utc>) -> Option<&'a Travel> {
        self.case.travel.iter().find(|r| {
            r.user.trim().eq_ignore_ascii_case(user)
                && self.geo.country_code(&r.country).as_deref() == Some(country)
                && t >= r.from
                && t <= r.to
        })
    }

    pub fn profile(&self, user: &str) -> Option<&baseline::Profile> {
        self.profiles.get(user)
    }

    /// Whether the user has a usable baseline and this IP's prefix is in it.
    pub fn ip_in_baseline(&self, user: &str, ip: &str) -> bool {
        self.profile(user)
            .is_some_and(|p| p.prefixes.contains(&ip_prefix(ip)))
    }

    /// Whether the evidence reaches back far enough before the window for any baseline.
    pub fn evidence_has_baseline_period(&self) -> bool {
        self.first_signin.is_some_and(|i| {
            (self.win.start - self.events[i].time).num_days() >= self.th.min_baseline_days
        })
    }

    pub fn has_baseline(&self, user: &str) -> bool {
        self.profile(user).is_some_and(|p| p.has_baseline)
    }
}

// ---------------------------------------------------------------------------------------------
// Event helpers shared by the families.

pub(crate) fn user_of(e: &Event) -> Option<String> {
    e.user_key().filter(|u| !u.is_empty())
}

pub(crate) fn is_sign_in(e: &Event) -> bool {
    e.action == actions::SIGN_IN
}

pub(crate) fn ok(e: &Event) -> bool {
    e.outcome == Outcome::Success
}

pub(crate) fn ip_of(e: &Event) -> Option<&str> {
    e.src_ip.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// The error code leading the reason text (`"50126: Invalid username or password"`), or an
/// `errorCode` / `ResultType` kept in `extra`.
pub(crate) fn error_code(e: &Event) -> Option<u64> {
    if let Some(r) = e.reason.as_deref() {
        let digits: String = r
            .trim()
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if let Ok(n) = digits.parse() {
            return Some(n);
        }
    }
    for k in ["errorCode", "error_code", "ResultType"] {
        match e.extra.get(k) {
            Some(Value::Number(n)) => return n.as_u64(),
            Some(Value::String(s)) => {
                if let Ok(n) = s.trim().parse() {
                    return Some(n);
                }
            }
            _ => {}
        }
    }
    None
}

/// `extra.is_interactive` as a bool when the source says.
pub(crate) fn interactive(e: &Event) -> Option<bool> {
    match e.extra.get("is_interactive")? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "interactive" => Some(true),
            "false" | "0" | "no" | "noninteractive" | "non-interactive" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

pub(crate) fn interactive_label(e: &Event) -> &'static str {
    match interactive(e) {
        Some(true) => "interactive",
        Some(false) => "non-interactive",
        None => "interactivity unknown",
    }
}

/// A successful sign-in that satisfied only one factor.
pub(crate) fn single_factor(e: &Event) -> bool {
    let Some(m) = e.mfa.as_ref() else {
        return false;
    };
    match m.requirement.as_deref().map(str::to_ascii_lowercase) {
        Some(r) if r.contains("single") => m.satisfied != Some(true),
        Some(r) if r.contains("multi") => m.satisfied == Some(false),
        _ => m.satisfied == Some(false),
    }
}

/// A sign-in where a second factor was satisfied (or required and the sign-in succeeded).
pub(crate) fn mfa_done(e: &Event) -> bool {
    let Some(m) = e.mfa.as_ref() else {
        return false;
    };
    m.satisfied == Some(true)
        || (m.satisfied.is_none()
            && m.requirement
                .as_deref()
                .is_some_and(|r| r.to_ascii_lowercase().contains("multi")))
}

/// Legacy-authentication client apps (no modern auth, so no MFA).
const LEGACY_CLIENTS: &[&str] = &[
    "exchange activesync",
    "imap4",
    "imap",
    "pop3",
    "pop",
    "smtp",
    "authenticated smtp",
    "other clients",
    "exchange web services",
    "autodiscover",
    "mapi over http",
    "offline address book",
    "outlook anywhere (rpc over http)",
    "exchange online powershell",
    "reporting web services",
];

pub(crate) fn legacy_client(e: &Event) -> Option<&str> {
    let c = e.client_app().as_deref()?.trim();
    let l = c.to_ascii_lowercase();
    LEGACY_CLIENTS.contains(&l.as_str()).then_some(c)
}

/// The /24 (IPv4) or /48 (IPv6) an address belongs to; other text stays as it is.
pub(crate) fn ip_prefix(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        Ok(IpAddr::V6(a)) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
        Err(_) => ip.trim().to_string(),
    }
}

/// ISO country code of an event: the log's (through the gazetteer for names), else the
/// MaxMind database's by source IP (see `geo.rs` for the precedence).
pub(crate) fn country_of(ctx: &Ctx, e: &Event) -> Option<String> {
    ctx.loc.country(e).map(|c| c.code)
}

/// Browser name without its version (`Chrome 120.0.6099` → `Chrome`).
pub(crate) fn browser_family(b: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for w in b.split_whitespace() {
        if w.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            break;
        }
        out.push(w);
    }
    if out.is_empty() {
        b.trim().to_string()
    } else {
        out.join(" ")
    }
}

/// `os / browser` of a sign-in's device, versions dropped, when the source gives either.
pub(crate) fn device_key(e: &Event) -> Option<String> {
    let d = e.device.as_ref()?;
    let os =
        d.os.as_deref()
            .map(browser_family)
            .filter(|s| !s.is_empty());
    let br = d
        .browser
        .as_deref()
        .map(browser_family)
        .filter(|s| !s.is_empty());
    if os.is_none() && br.is_none() {
        return None;
    }
    Some(format!(
        "{} / {}",
        os.as_deref().unwrap_or("?"),
        br.as_deref().unwrap_or("?")
    ))
}

pub(crate) fn fmt_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

// ---------------------------------------------------------------------------------------------

/// IPs and users the first pass holds suspicious: the start of pivot and network correlation.
#[derive(Debug, Default)]
pub(crate) struct Suspects {
    /// IP → users seen with it in the findings that made it suspicious.
    pub ips: BTreeMap<String, BTreeSet<String>>,
    pub users: BTreeSet<String>,
}

impl Suspects {
    fn from_drafts(ctx: &Ctx, drafts: &[Draft], risk_users: &[String]) -> Self {
        let mut s = Suspects::default();
        for d in drafts.iter().filter(|d| d.severity >= Severity::Medium) {
            for ip in &d.suspect_ips {
                if ctx.known_net(ip).is_none() {
                    s.ips
                        .entry(ip.clone())
                        .or_default()
                        .extend(d.users.iter().cloned());
                }
            }
            if d.rule != super::rules::CONTAINMENT {
                s.users.extend(d.users.iter().cloned());
            }
        }
        if let Some(a) = &ctx.case.alert {
            s.users
                .extend(a.users.iter().map(|u| u.trim().to_ascii_lowercase()));
        }
        s.users.extend(risk_users.iter().cloned());
        s
    }
}

/// Run every detection family over the events (geolocation from the logs and the bundled
/// gazetteer only).
pub fn analyze(events: &[Event], case: &CaseFile) -> Analysis {
    analyze_with(events, case, None)
}

/// [`analyze`], with an optional MaxMind database for events whose logs give no position,
/// country or ASN of their own.
pub fn analyze_with(events: &[Event], case: &CaseFile, geoip: Option<&GeoIp>) -> Analysis {
    analyze_compacted(events, None, None, case, geoip).0
}

/// The records network correlation reads in full (`network::detect`); held compactly, they
/// must be read back before an analysis can be final:
/// - flows from or to one of `addrs` inside `[from, to]`;
/// - accounting records and VPN events inside `[sessions_from, to]` at one of `addrs`
///   (calling station or framed IP; client or assigned address), or of a user that
///   matches one of `users` as network correlation matches them (`CORP\alice` is
///   `alice@corp.example`);
/// - every record of an accounting session one of those belongs to, or that has a record
///   among the events already (`sessions`): a session is built from all its records.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowWant {
    pub addrs: BTreeSet<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub sessions_from: DateTime<Utc>,
    pub users: BTreeSet<String>,
    pub sessions: BTreeSet<(String, String, String)>,
    /// Compact activity records (store indices) in the hours bulk access flags: its
    /// finding cites every event of those hours (`bulk::detect`).
    pub activity: BTreeSet<usize>,
}

impl FlowWant {
    /// Whether network correlation counts `name` (a record's user) as one of `users`.
    pub fn wants_user(&self, name: &str) -> bool {
        self.users.iter().any(|s| network::same_user(s, name))
    }
}

/// [`analyze_with`] over held events plus records held compactly (`compact`). The result
/// is final only when no compact record is wanted by the returned [`FlowWant`]
/// (`FlowStore::select` finds none, and bulk access asks for no activity record). The
/// detections before network correlation read compact records only through aggregates
/// (an IOC hit is never compact) and bulk access's hourly volumes, which the records
/// answer exactly; what bulk access cites and the addresses it holds suspect come from the
/// events of the flagged hours, which it asks for (`FlowWant::activity`), so a pass with
/// some still compact can have fewer suspects. Reading back what one pass wants can make
/// the next want more (a suspect's session read back names its calling station and framed
/// IP), so the caller repeats until a pass wants nothing new; every pass moves records to
/// the events, so this ends, and the last pass sees what it would with all events held.
///
/// `table` holds the held events' hashes when they do not (`irpack run`'s on-disk table).
pub fn analyze_compacted(
    events: &[Event],
    compact: Option<Compacted>,
    table: Option<&HashTable>,
    case: &CaseFile,
    geoip: Option<&GeoIp>,
) -> (Analysis, Option<FlowWant>) {
    let coverage = coverage(events, compact.map(|c| c.flows));
    let last = events
        .iter()
        .map(|e| e.time)
        .chain(compact.and_then(|c| c.flows.last_time()))
        .max();
    let Some(win) = window::window_at(last, case) else {
        return (
            Analysis {
                coverage,
                geo_database: geo::Locator::new(geoip).usage(),
                ..Analysis::default()
            },
            None,
        );
    };
    let ctx = Ctx::new(events, compact, table, case, win, geoip);

    let mut drafts: Vec<Draft> = Vec::new();
    drafts.extend(auth::detect(&ctx));
    drafts.extend(travel::detect(&ctx));
    drafts.extend(baseline::detect(&ctx));
    drafts.extend(persistence::detect(&ctx));
    drafts.extend(bulk::detect(&ctx));
    drafts.extend(ioc::detect(&ctx));
    let (risk, risk_drafts) = risk::detect(&ctx);
    drafts.extend(risk_drafts);
    let (containment, cont_drafts) = containment::detect(&ctx);
    drafts.extend(cont_drafts);

    let risk_users: Vec<String> = risk.iter().map(|r| r.user.clone()).collect();
    let suspects = Suspects::from_drafts(&ctx, &drafts, &risk_users);
    drafts.extend(pivot::detect(&ctx, &suspects));
    let (network, net_drafts) = network::detect(&ctx, &suspects);
    drafts.extend(net_drafts);

    let findings = finalize(&ctx, drafts);
    let users = user_summaries(&ctx, &findings);
    let baselines = users
        .iter()
        .map(|u| baseline::contract(&ctx, &u.user))
        .collect();
    let want = FlowWant {
        addrs: ctx.flow_addrs.take(),
        from: ctx.win.start,
        to: ctx.win.end,
        sessions_from: network::sessions_from(&ctx.win),
        users: suspects.users,
        sessions: ctx.net_sessions.take(),
        activity: ctx.activity_want.take(),
    };
    let analysis = Analysis {
        window_start: Some(ctx.win.start),
        window_end: Some(ctx.win.end),
        findings,
        users,
        baselines,
        containment,
        risk,
        network,
        coverage,
        geo_database: ctx.loc.usage(),
    };
    (analysis, Some(want))
}

fn coverage(events: &[Event], flows: Option<&FlowStore>) -> Vec<SourceCoverage> {
    let mut m: BTreeMap<&str, SourceCoverage> = BTreeMap::new();
    for e in events {
        let c = m
            .entry(e.source().as_str())
            .or_insert_with(|| SourceCoverage {
                source: e.source().to_string(),
                ..SourceCoverage::default()
            });
        c.events += 1;
        c.first = Some(c.first.map_or(e.time, |f| f.min(e.time)));
        c.last = Some(c.last.map_or(e.time, |l| l.max(e.time)));
    }
    for (source, (n, first, last)) in flows.map(FlowStore::per_source).unwrap_or_default() {
        let c = m.entry(source).or_insert_with(|| SourceCoverage {
            source: source.to_string(),
            ..SourceCoverage::default()
        });
        c.events += n;
        c.first = Some(c.first.map_or(first, |f| f.min(first)));
        c.last = Some(c.last.map_or(last, |l| l.max(last)));
    }
    m.into_values().collect()
}

/// Hash the cited events, cap long evidence lists, and sort deterministically.
fn finalize(ctx: &Ctx, drafts: Vec<Draft>) -> Vec<Finding> {
    let mut drafts = drafts;
    for d in &mut drafts {
        d.events.sort_by_key(|&i| (ctx.events[i].time, i));
        d.events.dedup();
    }
    // Hash everything cited, then order evidence by (time, hash): the same events give the
    // same list whatever order the timeline held ties in.
    let cited: BTreeSet<usize> = drafts
        .iter()
        .flat_map(|d| d.events.iter().copied())
        .collect();
    ctx.hash_all(&cited);
    for d in &mut drafts {
        d.events
            .sort_by_cached_key(|&i| (ctx.events[i].time, ctx.hash(i)));
        d.events.dedup_by_key(|i| ctx.hash(*i));
    }
    let mut out: Vec<Finding> = drafts
        .into_iter()
        .map(|mut d| {
            let total = d.events.len();
            if total > MAX_EVIDENCE {
                d.facts.insert("evidence_total".into(), total.into());
                d.facts
                    .insert("evidence_listed".into(), MAX_EVIDENCE.into());
            }
            let first = d
                .events
                .first()
                .map(|&i| ctx.events[i].time)
                .unwrap_or(ctx.win.start);
            let last = d
                .events
                .last()
                .map(|&i| ctx.events[i].time)
                .unwrap_or(ctx.win.end);
            Finding {
                rule: d.rule.to_string(),
                title: d.title,
                severity: d.severity,
                techniques: d
                    .techniques
                    .iter()
                    .map(|(id, name)| Technique {
                        id: id.to_string(),
                        name: name.to_string(),
                    })
                    .collect(),
                users: d.users.into_iter().collect(),
                ips: d.ips.into_iter().collect(),
                first_seen: first,
                last_seen: last,
                evidence: d
                    .events
                    .iter()
                    .take(MAX_EVIDENCE)
                    .map(|&i| ctx.hash(i))
                    .collect(),
                rationale: d.rationale,
                facts: d.facts,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.first_seen.cmp(&b.first_seen))
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.users.cmp(&b.users))
            .then_with(|| a.ips.cmp(&b.ips))
            .then_with(|| a.title.cmp(&b.title))
            .then_with(|| a.evidence.cmp(&b.evidence))
    });
    out
}

/// Well-known Entra admin roles: holding one makes a user privileged even if the case file
/// does not list it.
pub const ADMIN_ROLES: &[&str] = &[
    "global administrator",
    "company administrator",
    "privileged role administrator",
    "privileged authentication administrator",
    "security administrator",
    "exchange administrator",
    "sharepoint administrator",
    "user administrator",
    "application administrator",
    "cloud application administrator",
    "authentication administrator",
    "helpdesk administrator",
    "conditional access administrator",
    "hybrid identity administrator",
    "intune administrator",
    "billing administrator",
    "teams administrator",
    "compliance administrator",
];

pub(crate) fn privileged_role(ctx: &Ctx, role: &str) -> bool {
    let r = role.trim().to_ascii_lowercase();
    ADMIN_ROLES.contains(&r.as_str())
        || ctx
            .case
            .privileged
            .roles
            .iter()
            .any(|p| p.trim().eq_ignore_ascii_case(&r))
}

/// Per-user summary over the window (password changes over all the evidence).
fn user_summaries(ctx: &Ctx, findings: &[Finding]) -> Vec<UserSummary> {
    let mut m: BTreeMap<String, UserSummary> = BTreeMap::new();
    let entry = |m: &mut BTreeMap<String, UserSummary>, u: &str| {
        m.entry(u.to_string()).or_insert_with(|| UserSummary {
            user: u.to_string(),
            ..UserSummary::default()
        });
    };
    let mut countries: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut ips: HashMap<String, BTreeSet<String>> = HashMap::new();
    for &i in &ctx.window_idx {
        let e = ctx.ev(i);
        let Some(u) = user_of(e) else { continue };
        entry(&mut m, &u);
        let s = m.get_mut(&u).expect("inserted");
        s.first_seen = Some(s.first_seen.map_or(e.time, |f| f.min(e.time)));
        s.last_seen = Some(s.last_seen.map_or(e.time, |l| l.max(e.time)));
        if !is_sign_in(e) {
            continue;
        }
        match e.outcome {
            Outcome::Success => {
                s.sign_ins_ok += 1;
                if single_factor(e) {
                    s.single_factor_ok += 1;
                }
                if mfa_done(e) {
                    s.mfa_ok += 1;
                }
            }
            Outcome::Failure => s.sign_ins_failed += 1,
            Outcome::Interrupted => s.sign_ins_interrupted += 1,
            Outcome::Unknown => {}
        }
        if legacy_client(e).is_some() {
            s.legacy_auth += 1;
        }
        if let Some(c) = country_of(ctx, e) {
            countries.entry(u.clone()).or_default().insert(c);
        }
        if let Some(ip) = ip_of(e) {
            ips.entry(u.clone()).or_default().insert(ip.to_string());
        }
    }
    for (u, (first, last)) in &ctx.flow_users {
        entry(&mut m, u);
        let s = m.get_mut(u).expect("inserted");
        s.first_seen = Some(s.first_seen.map_or(*first, |f| f.min(*first)));
        s.last_seen = Some(s.last_seen.map_or(*last, |l| l.max(*last)));
    }
    for f in findings {
        for u in &f.users {
            entry(&mut m, u);
        }
    }
    if let Some(a) = &ctx.case.alert {
        for u in &a.users {
            entry(&mut m, &u.trim().to_ascii_lowercase());
        }
    }
    // Privilege, password changes and MFA evidence over all the evidence.
    let mut privileged: BTreeSet<String> = ctx
        .case
        .privileged
        .users
        .iter()
        .map(|u| u.trim().to_ascii_lowercase())
        .collect();
    let mut pw: HashMap<String, Vec<DateTime<Utc>>> = HashMap::new();
    let mut mfa_seen: HashMap<String, (bool, bool)> = HashMap::new();
    for e in ctx.events {
        match e.action.as_str() {
            actions::ROLE_MEMBER_ADDED
                if e.outcome != Outcome::Failure
                    && persistence::role_names(e)
                        .iter()
                        .any(|r| privileged_role(ctx, r)) =>
            {
                if let Some(t) = persistence::target_user(e) {
                    privileged.insert(t);
                }
            }
            actions::PASSWORD_CHANGED | actions::PASSWORD_RESET
                if e.outcome != Outcome::Failure =>
            {
                if let Some(t) = persistence::target_user(e) {
                    pw.entry(t).or_default().push(e.time);
                }
            }
            actions::SIGN_IN if ok(e) => {
                if let Some(u) = user_of(e) {
                    let s = mfa_seen.entry(u).or_default();
                    if mfa_done(e) {
                        s.0 = true;
                    } else if single_factor(e) && interactive(e) != Some(false) {
                        s.1 = true;
                    }
                }
            }
            _ => {}
        }
    }
    for (u, s) in m.iter_mut() {
        s.privileged = privileged.contains(u);
        if let Some(v) = countries.remove(u) {
            s.countries = v.into_iter().collect();
        }
        if let Some(v) = ips.remove(u) {
            s.ips = v.into_iter().collect();
        }
        let mut p = pw.remove(u).unwrap_or_default();
        p.sort();
        p.dedup();
        s.password_changes = p;
        s.mfa_in_use = match mfa_seen.get(u) {
            Some((true, _)) => Some(true),
            Some((false, true)) => Some(false),
            _ => None,
        };
    }
    m.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Mfa, Provenance};

    fn ev() -> Event {
        Event::new(
            Utc::now(),
            "",
            "UTC",
            "entra_signin",
            "t",
            EventClass::Authentication,
            actions::SIGN_IN,
            "",
            Outcome::Success,
            Provenance::default(),
        )
    }

    #[test]
    fn prefixes() {
        assert_eq!(ip_prefix("203.0.113.77"), "203.0.113.0/24");
        assert_eq!(ip_prefix(" 2001:db8:abcd:12::1 "), "2001:db8:abcd::/48");
        assert_eq!(ip_prefix("not an ip"), "not an ip");
    }

    #[test]
    fn browser_and_device_keys() {
        assert_eq!(browser_family("Chrome 124.0.6367"), "Chrome");
        assert_eq!(browser_family("Mobile Safari 17"), "Mobile Safari");
        assert_eq!(browser_family("IE"), "IE");
        let mut e = ev();
        assert_eq!(device_key(&e), None);
        e.device = Some(std::sync::Arc::new(crate::event::Device {
            os: Some("Ios 17.4.1".into()),
            ..Default::default()
        }));
        assert_eq!(device_key(&e).as_deref(), Some("Ios / ?"));
    }

    #[test]
    fn error_codes_and_flags() {
        let mut e = ev();
        e.reason =
            Some("500121: Authentication failed during strong authentication request.".into());
        assert_eq!(error_code(&e), Some(500121));
        e.reason = Some("Invalid password".into());
        e.extra.insert("errorCode", serde_json::json!(50126));
        assert_eq!(error_code(&e), Some(50126));
        assert_eq!(interactive(&e), None);
        e.extra.insert("is_interactive", serde_json::json!("false"));
        assert_eq!(interactive(&e), Some(false));
        e.descr_mut().client_app = Some("IMAP4".into());
        assert_eq!(legacy_client(&e), Some("IMAP4"));
        e.descr_mut().client_app = Some("Browser".into());
        assert_eq!(legacy_client(&e), None);
        e.mfa = Some(std::sync::Arc::new(Mfa {
            requirement: Some("singleFactorAuthentication".into()),
            ..Default::default()
        }));
        assert!(single_factor(&e) && !mfa_done(&e));
        e.mfa = Some(std::sync::Arc::new(Mfa {
            requirement: Some("multiFactorAuthentication".into()),
            ..Default::default()
        }));
        assert!(!single_factor(&e) && mfa_done(&e));
    }
}
