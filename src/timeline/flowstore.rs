//! Firewall flows held compactly while `run` analyses the timeline.
//!
//! Flows (`flow_allowed` / `flow_denied`, and `threat` logs, read the same way) are most of
//! the events of a realistic collection, yet the analysis reads them only through
//! aggregates (per-source counts and first/last
//! times, the window's end, per-user first/last seen, the activity chart, the zones note,
//! the names the redactor must know) and, as whole events, only when network correlation
//! or the key timeline picks them. So a flow that nothing else could read is held as a
//! [`FlowRec`] of ~72 bytes instead of a ~1.2 KB `Event`; the few that are picked are read
//! back from the sealed `timeline.jsonl` by position.
//!
//! RADIUS/NPS accounting records, VPN events and admin logins are held the same way
//! ([`RecKind`]): besides the aggregates, only network correlation reads them whole, and it
//! picks them by suspect user, address and session ([`FlowStore::select`]); `run` reads back
//! what a detection pass wants and runs it again until a pass wants nothing new.
//!
//! A flow stays a full event whenever a compact record could not answer for it
//! ([`Compactor::compact`]): it matches an indicator of the case file, names an application
//! the case file classifies, carries a user id or targets, could be folded with a duplicate
//! (request or correlation id), or has an address that does not parse.

use crate::case::CaseFile;
use crate::event::{actions, Event};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

/// No user on the flow.
const NO_USER: u32 = u32::MAX;
/// No session id on the record.
const NO_SID: u32 = u32::MAX;
/// No calling station that is not an address (see `FlowRec::station`).
const NO_STATION: u32 = u32::MAX;

/// What a compact record stands for: which of the analysis's readers may want it whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecKind {
    /// A firewall flow or threat log: `src`/`dst` are its addresses.
    Flow,
    /// RADIUS/NPS accounting (`session_*`): `src` is the calling station, `dst` the framed IP.
    Accounting,
    /// A VPN login or tunnel event: `src` is the client's address, `dst` the assigned one.
    Vpn,
    /// Read by the aggregates only (`admin_login`): never selected for network correlation.
    Other,
}

/// One flow (or accounting record, VPN or admin login event), as much of it as the
/// aggregates need, plus what selects the records network correlation will read in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRec {
    /// Event time in microseconds (the timeline's precision).
    pub micros: i64,
    /// Record number in its evidence item (orders equal times, as the merge does).
    pub record_no: u64,
    /// Line of the sealed timeline (from 0), once the collection is ordered.
    pub pos: u64,
    /// Rank of its evidence item in the merge's order.
    pub rank: u32,
    user: u32,
    /// Session id (accounting records), interned; `NO_SID` when there is none.
    sid: u32,
    /// A calling station that is not an IP address (a Wi-Fi client's MAC), interned as
    /// network correlation compares it (text); `src` is then empty.
    station: u32,
    source: u16,
    zone: u16,
    pub kind: RecKind,
    /// Flows: source and destination. Accounting: calling station and framed IP. VPN:
    /// client and assigned address. As network correlation reads them.
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
}

impl FlowRec {
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
    }
}

/// Strings interned once for all flows (a few sources, zones and users).
#[derive(Debug, Default, Clone)]
struct Table {
    names: Vec<String>,
    ix: HashMap<String, u32>,
}

impl Table {
    fn id(&mut self, s: &str, max: u32) -> Option<u32> {
        if let Some(&i) = self.ix.get(s) {
            return Some(i);
        }
        let i = u32::try_from(self.names.len()).ok().filter(|&i| i < max)?;
        self.names.push(s.to_string());
        self.ix.insert(s.to_string(), i);
        Some(i)
    }
}

/// The compact flows of a collection, in timeline order once ordered.
#[derive(Debug, Default, Clone)]
pub struct FlowStore {
    recs: Vec<FlowRec>,
    sources: Table,
    zones: Table,
    /// Users as written (the redactor's names); `user_keys` as compared (trimmed, lower case).
    users: Table,
    user_keys: Vec<String>,
    /// Session ids of accounting records, exactly as written.
    sids: Table,
    /// Calling stations that are not addresses.
    stations: Table,
}

impl FlowStore {
    pub fn len(&self) -> usize {
        self.recs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }
    /// Give back unused room (a store filled by pushing).
    pub fn shrink_to_fit(&mut self) {
        self.recs.shrink_to_fit();
    }
    /// Room for `n` more flows (one allocation rather than doubling through a million).
    pub fn reserve(&mut self, n: usize) {
        self.recs.reserve_exact(n);
    }
    pub fn recs(&self) -> &[FlowRec] {
        &self.recs
    }
    pub(crate) fn recs_mut(&mut self) -> &mut Vec<FlowRec> {
        &mut self.recs
    }
    pub fn source(&self, r: &FlowRec) -> &str {
        &self.sources.names[r.source as usize]
    }
    pub fn zone(&self, r: &FlowRec) -> &str {
        &self.zones.names[r.zone as usize]
    }
    /// `Event::user` of the flow.
    pub fn user(&self, r: &FlowRec) -> Option<&str> {
        (r.user != NO_USER).then(|| self.users.names[r.user as usize].as_str())
    }
    /// `Event::user_key()` of the flow.
    pub fn user_key(&self, r: &FlowRec) -> Option<&str> {
        (r.user != NO_USER).then(|| self.user_keys[r.user as usize].as_str())
    }
    /// Every distinct `Event::user` among the flows.
    pub fn users(&self) -> &[String] {
        &self.users.names
    }

    /// Hold `e` compactly; `false` (nothing held) when the tables are full or an address
    /// the record must carry does not parse.
    pub fn push(&mut self, e: &Event, rank: u32) -> bool {
        let Some((kind, src, dst, station)) = addresses(e) else {
            return false;
        };
        let station = match station {
            None => NO_STATION,
            Some(s) => match self.stations.id(&s, NO_STATION) {
                Some(i) => i,
                None => return false,
            },
        };
        let Some(source) = self.sources.id(&e.source, u16::MAX as u32) else {
            return false;
        };
        let Some(zone) = self.zones.id(&e.time_zone, u16::MAX as u32) else {
            return false;
        };
        let sid = match e
            .session_id
            .as_deref()
            .filter(|_| kind == RecKind::Accounting)
        {
            None => NO_SID,
            Some(s) => match self.sids.id(s, NO_SID) {
                Some(i) => i,
                None => return false,
            },
        };
        let user = match e.user.as_deref() {
            None => NO_USER,
            Some(u) => match self.users.id(u, NO_USER) {
                Some(i) => {
                    if i as usize == self.user_keys.len() {
                        self.user_keys.push(u.trim().to_ascii_lowercase());
                    }
                    i
                }
                None => return false,
            },
        };
        self.recs.push(FlowRec {
            micros: e.time.timestamp_micros(),
            record_no: e.provenance.record_no,
            pos: 0,
            rank,
            user,
            sid,
            station,
            source: source as u16,
            zone: zone as u16,
            kind,
            src,
            dst,
        });
        true
    }

    /// Take in another store's flows (one evidence item's), giving them `rank`. Fails when the
    /// tables cannot hold its strings (65,535 sources or zones): the run stops with an error
    /// rather than lose flows.
    pub fn absorb(&mut self, other: FlowStore, rank: u32) -> Result<(), FlowStoreFull> {
        let remap = |from: &Table, to: &mut Table, max: u32| -> Option<Vec<u32>> {
            from.names.iter().map(|s| to.id(s, max)).collect()
        };
        let src = remap(&other.sources, &mut self.sources, u16::MAX as u32).ok_or(FlowStoreFull)?;
        let zone = remap(&other.zones, &mut self.zones, u16::MAX as u32).ok_or(FlowStoreFull)?;
        let before = self.users.names.len();
        let user = remap(&other.users, &mut self.users, NO_USER).ok_or(FlowStoreFull)?;
        for u in &self.users.names[before..] {
            self.user_keys.push(u.trim().to_ascii_lowercase());
        }
        let sid = remap(&other.sids, &mut self.sids, NO_SID).ok_or(FlowStoreFull)?;
        let station =
            remap(&other.stations, &mut self.stations, NO_STATION).ok_or(FlowStoreFull)?;
        self.recs.reserve(other.recs.len());
        for mut r in other.recs {
            r.rank = rank;
            r.source = src[r.source as usize] as u16;
            r.zone = zone[r.zone as usize] as u16;
            if r.user != NO_USER {
                r.user = user[r.user as usize];
            }
            if r.sid != NO_SID {
                r.sid = sid[r.sid as usize];
            }
            if r.station != NO_STATION {
                r.station = station[r.station as usize];
            }
            self.recs.push(r);
        }
        Ok(())
    }

    /// Per source: (flows, first time, last time).
    pub fn per_source(&self) -> BTreeMap<&str, (u64, DateTime<Utc>, DateTime<Utc>)> {
        let mut m: BTreeMap<&str, (u64, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
        for r in &self.recs {
            let t = r.time();
            let s = m.entry(self.source(r)).or_insert((0, t, t));
            s.0 += 1;
            s.1 = s.1.min(t);
            s.2 = s.2.max(t);
        }
        m
    }

    pub fn first_time(&self) -> Option<DateTime<Utc>> {
        self.recs.iter().map(|r| r.micros).min().map(to_time)
    }
    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.recs.iter().map(|r| r.micros).max().map(to_time)
    }

    /// Indices of the records network correlation would read whole under `w` (see
    /// [`Wanted`]), in store order.
    pub fn select(&self, w: &Wanted) -> Vec<usize> {
        let addrs: HashSet<IpAddr> = w
            .addrs
            .iter()
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        let hit = |a: Option<IpAddr>| a.is_some_and(|a| addrs.contains(&a));
        // Wanted "addresses" that are not IPs can only be calling stations, compared as text.
        let stations: HashSet<u32> = w
            .addrs
            .iter()
            .flat_map(|a| [a.as_str(), a.trim()])
            .filter_map(|a| self.stations.ix.get(a).copied())
            .collect();
        let station = |r: &FlowRec| r.station != NO_STATION && stations.contains(&r.station);
        // One answer per distinct user name, not per record.
        let user_hit: Vec<bool> = self.users.names.iter().map(|u| (w.user)(u)).collect();
        let suspect = |r: &FlowRec| r.user != NO_USER && user_hit[r.user as usize];
        // Compared in whole microseconds (a record keeps no finer time): an event inside
        // `[a, b]` has its microsecond inside `[a, b]`'s, so nothing wanted is missed.
        let us = |t: DateTime<Utc>| t.timestamp_micros();
        let within = |r: &FlowRec, a: DateTime<Utc>| r.micros >= us(a) && r.micros <= us(w.to);
        let in_span = |r: &FlowRec| within(r, w.sessions_from);
        // Sessions to read whole, as network correlation keys them: (source, session id,
        // user key or ""). Those with a record held already, then those of records picked.
        let key = |r: &FlowRec| (r.source, r.sid, self.user_key(r).unwrap_or(""));
        let mut sessions: HashSet<(u16, u32, &str)> = w
            .held_sessions
            .iter()
            .filter_map(|(src, sid, user)| {
                let src = *self.sources.ix.get(src.as_str())?;
                let sid = *self.sids.ix.get(sid.as_str())?;
                Some((src as u16, sid, user.as_str()))
            })
            .collect();
        let mut picked = Vec::new();
        for (i, r) in self.recs.iter().enumerate() {
            let yes = match r.kind {
                RecKind::Flow => within(r, w.from) && (hit(r.src) || hit(r.dst)),
                RecKind::Accounting | RecKind::Vpn => {
                    in_span(r) && (hit(r.src) || hit(r.dst) || station(r) || suspect(r))
                }
                RecKind::Other => false,
            };
            if yes {
                picked.push(i);
                if r.kind == RecKind::Accounting && r.sid != NO_SID {
                    sessions.insert(key(r));
                }
            }
        }
        if sessions.is_empty() {
            return picked;
        }
        // The rest of those sessions: a session's start, end, counters and addresses come
        // from all of its records.
        let mut more: Vec<usize> = self
            .recs
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                r.kind == RecKind::Accounting
                    && r.sid != NO_SID
                    && in_span(r)
                    && sessions.contains(&key(r))
            })
            .map(|(i, _)| i)
            .collect();
        picked.append(&mut more);
        picked.sort_unstable();
        picked.dedup();
        picked
    }

    /// The flow at timeline line `pos`, if it is held here (flows are in timeline order).
    pub fn at_pos(&self, pos: u64) -> Option<usize> {
        self.recs.binary_search_by_key(&pos, |r| r.pos).ok()
    }

    /// Drop the flows at these indices (they are now held as events).
    pub fn remove(&mut self, idx: &[usize]) {
        if idx.is_empty() {
            return;
        }
        let mut gone = vec![false; self.recs.len()];
        for &i in idx {
            if let Some(g) = gone.get_mut(i) {
                *g = true;
            }
        }
        let mut i = 0;
        self.recs.retain(|_| {
            i += 1;
            !gone[i - 1]
        });
    }
}

/// What network correlation reads whole (`analysis::detect::FlowWant`), for
/// [`FlowStore::select`]: flows in `[from, to]` from or to one of `addrs`; accounting
/// records and VPN events in `[sessions_from, to]` at one of `addrs` (calling station or
/// framed IP; client or assigned address) or of a user `user` accepts; and every record of
/// an accounting session one of those or a held record (`held_sessions`) belongs to.
pub struct Wanted<'a> {
    /// As network correlation names them (text: a calling station may be a MAC).
    pub addrs: &'a std::collections::BTreeSet<String>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub sessions_from: DateTime<Utc>,
    pub user: &'a dyn Fn(&str) -> bool,
    /// (source, session id, user key or "") of held accounting records.
    pub held_sessions: &'a std::collections::BTreeSet<(String, String, String)>,
}

/// The kind of record `e` becomes and the two addresses it keeps, as network correlation
/// (`analysis::network`) reads them; `None` when one that is there does not parse. An
/// accounting record's calling station that is not an IP comes back as text instead.
type Addresses = (RecKind, Option<IpAddr>, Option<IpAddr>, Option<String>);
fn addresses(e: &Event) -> Option<Addresses> {
    use crate::analysis::network::{extra_str, is_accounting, is_vpn};
    let parse = |s: Option<&str>| -> Option<Option<IpAddr>> {
        match s {
            None => Some(None),
            Some(s) => s.trim().parse().ok().map(Some),
        }
    };
    let ip_of = || crate::analysis::detect::ip_of(e);
    Some(if is_accounting(e) {
        let station = ip_of()
            .map(str::to_string)
            .or_else(|| extra_str(e, &["calling_station_id"]));
        let framed = parse(extra_str(e, &["framed_ip"]).as_deref())?;
        match station.as_deref().map(|s| (s, s.trim().parse::<IpAddr>())) {
            None => (RecKind::Accounting, None, framed, None),
            Some((_, Ok(a))) => (RecKind::Accounting, Some(a), framed, None),
            Some((s, Err(_))) => (RecKind::Accounting, None, framed, Some(s.to_string())),
        }
    } else if is_vpn(e) {
        let assigned = extra_str(e, &["assigned_ip"]);
        (
            RecKind::Vpn,
            parse(ip_of())?,
            parse(assigned.as_deref())?,
            None,
        )
    } else {
        let kind = match e.action.as_str() {
            actions::FLOW_ALLOWED | actions::FLOW_DENIED | actions::THREAT => RecKind::Flow,
            _ => RecKind::Other,
        };
        (
            kind,
            parse(e.src_ip.as_deref())?,
            parse(e.dst_ip.as_deref())?,
            None,
        )
    })
}

fn to_time(m: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(m).unwrap_or_default()
}

/// The flows a run holds compactly, beside the events it holds in full: what every consumer
/// of the whole timeline needs to count them in.
#[derive(Debug, Clone, Copy)]
pub struct Compacted<'a> {
    pub flows: &'a FlowStore,
    /// Timeline line of each held event (same order as the events).
    pub positions: &'a [u64],
}

impl Compacted<'_> {
    /// Events on the timeline: held ones and compact flows.
    pub fn total(&self, held: usize) -> usize {
        held + self.flows.len()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("too many distinct sources, zones or users among firewall flows for the compact store")]
pub struct FlowStoreFull;

/// Decides which flows a compact record can stand for, from what the case file makes the
/// analysis look for.
#[derive(Debug, Default)]
pub struct Compactor {
    ioc: crate::analysis::ioc::Indicators,
    asset_apps: Vec<String>,
}

impl Compactor {
    pub fn new(case: &CaseFile) -> Self {
        Compactor {
            ioc: crate::analysis::ioc::Indicators::new(&case.ioc),
            asset_apps: case
                .data
                .assets
                .iter()
                .filter(|a| a.kind == "app")
                .map(|a| a.id.trim().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether `e` is a flow that only aggregates and network selection read (see the module
    /// note). Errs towards keeping the full event.
    ///
    /// Threat logs (IPS, antivirus, web filter: `threat`) count as flows here: no rule reads
    /// them whole (network correlation takes `flow_*` only, and nothing else matches the
    /// action), so like flows they reach the analysis through the aggregates, IOC matching
    /// (a hit keeps them whole, below) and the key timeline's read-back. They are about a
    /// sixth of a firewall's events.
    ///
    /// RADIUS/NPS accounting (`session_*`) and VPN events are read whole only by network
    /// correlation, which picks them by user, address and session ([`FlowStore::select`]),
    /// so they are held the same way; `admin_login` is read by no rule at all. All three are
    /// authentication-side events: one that reports satisfied MFA is read by
    /// classification's per-account facts, so any MFA detail keeps it whole.
    pub fn compact(&self, e: &Event) -> bool {
        if !matches!(
            e.action.as_str(),
            actions::FLOW_ALLOWED
                | actions::FLOW_DENIED
                | actions::THREAT
                | actions::SESSION_START
                | actions::SESSION_INTERIM
                | actions::SESSION_STOP
                | actions::VPN_LOGIN
                | actions::VPN_LOGIN_FAILED
                | actions::VPN_TUNNEL_UP
                | actions::VPN_TUNNEL_DOWN
                | actions::ADMIN_LOGIN
        ) {
            return false;
        }
        if e.mfa.is_some() {
            return false;
        }
        // Duplicates fold on these; a folded flow would change its neighbour's provenance.
        if e.request_id.is_some() || e.correlation_id.is_some() {
            return false;
        }
        // The redactor's names and the rules' targets.
        if e.user_id.is_some() || !e.targets.is_empty() {
            return false;
        }
        // IOC matching (analysis/ioc.rs) reads addresses, user agents and application ids.
        for ip in [e.src_ip.as_deref(), e.dst_ip.as_deref()]
            .into_iter()
            .flatten()
        {
            let Ok(a) = ip.trim().parse::<IpAddr>() else {
                return false;
            };
            if self.ioc.ips.contains(&a) || self.ioc.nets.iter().any(|(n, _)| n.contains(&a)) {
                return false;
            }
        }
        if let Some(ua) = e.user_agent.as_deref() {
            let l = ua.to_lowercase();
            if self
                .ioc
                .user_agents
                .iter()
                .any(|(n, _)| l.contains(n.as_str()))
            {
                return false;
            }
        }
        let app_hit = |s: Option<&str>, list: &[String]| {
            s.is_some_and(|s| list.iter().any(|x| x == &s.trim().to_ascii_lowercase()))
        };
        if app_hit(e.app_id.as_deref(), &self.ioc.app_ids) {
            return false;
        }
        // Classified applications (analysis/regulatory/assets.rs) by id or name.
        if app_hit(e.app_id.as_deref(), &self.asset_apps)
            || app_hit(e.app.as_deref(), &self.asset_apps)
        {
            return false;
        }
        true
    }
}

/// Read the events at these timeline lines (sorted, from 0) back from `timeline.jsonl`,
/// trimmed for the analysis and remembering their hash, as `timeline::read_file` gives them.
/// `line_starts` (the merge's [`super::spill::Merged::line_starts`], or empty) lets it seek
/// to the indexed line before each wanted one instead of reading every line in between.
pub fn read_lines(
    path: &std::path::Path,
    line_starts: &[u64],
    lines: &[u64],
) -> Result<Vec<(u64, Event)>, std::io::Error> {
    use super::spill::LINE_INDEX_EVERY;
    use std::io::{BufRead, Seek};
    let mut out = Vec::with_capacity(lines.len());
    if lines.is_empty() {
        return Ok(out);
    }
    let file = std::fs::File::open(path)?;
    let mut r = std::io::BufReader::with_capacity(1 << 20, file);
    let mut want = lines.iter().copied().peekable();
    let mut n = 0u64;
    let mut buf = Vec::new();
    while let Some(&next) = want.peek() {
        let block = next / LINE_INDEX_EVERY;
        if let Some(&at) = line_starts.get(block as usize) {
            if block * LINE_INDEX_EVERY > n {
                r.seek(std::io::SeekFrom::Start(at))?;
                n = block * LINE_INDEX_EVERY;
            }
        }
        // Skip to the wanted line without decoding the ones in between.
        while n < next {
            let skipped = r.skip_until(b'\n')?;
            if skipped == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("timeline ends before line {}", next + 1),
                ));
            }
            n += 1;
        }
        buf.clear();
        r.read_until(b'\n', &mut buf)?;
        n += 1;
        let mut entry: super::TimelineEntry = serde_json::from_slice(&buf).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("timeline line {}: {e}", next + 1),
            )
        })?;
        entry.event.timeline_sha256 = crate::event::HashMemo::from_hex(&entry.event_sha256);
        crate::analysis::trim_for_analysis(&mut entry.event);
        out.push((next, entry.event));
        while want.peek() == Some(&next) {
            want.next();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Outcome, Provenance};

    fn flow(user: Option<&str>, src: &str) -> Event {
        let mut e = Event::new(
            DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap(),
            "",
            "UTC",
            "fortigate",
            "traffic",
            EventClass::NetworkActivity,
            actions::FLOW_ALLOWED,
            "",
            Outcome::Success,
            Provenance::default(),
        );
        e.user = user.map(Into::into);
        e.src_ip = Some(src.into());
        e.dst_ip = Some("198.51.100.7".into());
        e
    }

    #[test]
    fn compact_only_what_aggregates_answer_for() {
        let mut case = CaseFile::default();
        case.ioc.ips = vec!["203.0.113.9".into()];
        case.ioc.cidrs = vec!["192.0.2.0/24".into()];
        let c = Compactor::new(&case);
        assert!(c.compact(&flow(Some("Grace"), "10.0.0.1")));
        assert!(!c.compact(&flow(None, "203.0.113.9")), "IOC address");
        assert!(!c.compact(&flow(None, "192.0.2.77")), "IOC range");
        assert!(!c.compact(&flow(None, "not-an-ip")), "unparsed address");
        let mut e = flow(None, "10.0.0.1");
        e.request_id = Some("r".into());
        assert!(!c.compact(&e), "could fold with a duplicate");
        let mut e = flow(None, "10.0.0.1");
        e.action = actions::THREAT.into();
        assert!(c.compact(&e), "threat logs are read as flows are");
        e.src_ip = Some("203.0.113.9".into());
        assert!(!c.compact(&e), "a threat log on an IOC address stays whole");
        for action in [actions::SIGN_IN, actions::SIGN_OUT, actions::OTHER] {
            let mut e = flow(None, "10.0.0.1");
            e.action = action.into();
            assert!(!c.compact(&e), "{action} is read whole by the rules");
        }
        for action in [
            actions::VPN_LOGIN,
            actions::VPN_TUNNEL_UP,
            actions::SESSION_INTERIM,
            actions::ADMIN_LOGIN,
        ] {
            let mut e = flow(Some("alice"), "10.0.0.1");
            e.action = action.into();
            assert!(
                c.compact(&e),
                "{action} is read through selection and aggregates"
            );
            e.mfa = Some(Default::default());
            assert!(
                !c.compact(&e),
                "{action} with MFA detail is read by classification"
            );
        }
    }

    #[test]
    fn store_keeps_what_the_aggregates_read() {
        let mut a = FlowStore::default();
        assert!(a.push(&flow(Some(" Grace "), "10.0.0.1"), 0));
        assert!(a.push(&flow(None, "10.0.0.2"), 0));
        let mut b = FlowStore::default();
        assert!(b.push(&flow(Some("bob"), "10.0.0.3"), 0));
        let mut all = FlowStore::default();
        all.absorb(a, 3).unwrap();
        all.absorb(b, 1).unwrap();
        let r = all.recs();
        assert_eq!(all.len(), 3);
        assert_eq!(all.user(&r[0]), Some(" Grace "));
        assert_eq!(all.user_key(&r[0]), Some("grace"));
        assert_eq!(all.user(&r[1]), None);
        assert_eq!(all.user_key(&r[2]), Some("bob"));
        assert_eq!((r[0].rank, r[2].rank), (3, 1));
        assert_eq!(all.source(&r[2]), "fortigate");
        assert_eq!(r[0].time().timestamp_subsec_micros(), 123_456);
        let per = all.per_source();
        assert_eq!(per["fortigate"].0, 3);
        let t = r[0].time();
        let none = std::collections::BTreeSet::new();
        let want = |addrs: &[&str]| {
            all.select(&Wanted {
                addrs: &addrs.iter().map(|a| a.to_string()).collect(),
                from: t,
                to: t,
                sessions_from: t,
                user: &|_| false,
                held_sessions: &none,
            })
        };
        assert_eq!(want(&["10.0.0.3"]), vec![2]);
        all.remove(&[0]);
        assert_eq!(all.len(), 2);
    }
    /// Accounting records are picked by user (as network correlation matches names),
    /// calling station or framed IP, and then with every record of their session; VPN
    /// events by user, client or assigned address; only inside the span.
    #[test]
    fn select_reads_whole_sessions_users_and_addresses() {
        let rec = |secs: i64, action: &str, user: &str, sid: Option<&str>, src: &str| {
            let mut e = flow(Some(user), src);
            e.time = DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap();
            e.action = action.into();
            e.source = "radius_detail".into();
            e.dst_ip = None;
            e.session_id = sid.map(str::to_string);
            e
        };
        let mut st = FlowStore::default();
        let mut framed = rec(
            10,
            actions::SESSION_START,
            "CORP\\alice",
            Some("s1"),
            "203.0.113.5",
        );
        framed.extra.insert("framed_ip", "10.8.0.2".into());
        let mut vpn = rec(12, actions::VPN_LOGIN, "carol", None, "198.51.100.4");
        vpn.source = "fortigate".into();
        vpn.extra.insert("assigned_ip", "10.9.0.7".into());
        let events = [
            framed, // 0
            rec(
                20,
                actions::SESSION_INTERIM,
                "corp\\alice",
                Some("s1"),
                "203.0.113.5",
            ), // 1
            rec(30, actions::SESSION_STOP, "bob", Some("s2"), "192.0.2.1"), // 2
            rec(40, actions::SESSION_STOP, "bob", Some("s2"), "192.0.2.2"), // 3
            rec(50, actions::SESSION_START, "dave", Some("s3"), "192.0.2.9"), // 4
            vpn,    // 5
            rec(
                9_000,
                actions::SESSION_STOP,
                "CORP\\alice",
                Some("s1"),
                "203.0.113.5",
            ), // 6
        ];
        let mut wifi = rec(60, actions::SESSION_START, "erin", Some("s4"), "10.0.0.1");
        wifi.src_ip = None;
        wifi.extra
            .insert("calling_station_id", " ac-de-f2-06-5d-a4".into());
        for e in events.iter().chain([&wifi]) {
            assert!(st.push(e, 0), "{}", e.action);
        }
        assert_eq!((st.recs()[7].src, st.recs()[7].station), (None, 0));
        assert_eq!(st.recs()[0].kind, RecKind::Accounting);
        assert_eq!(st.recs()[0].dst, Some("10.8.0.2".parse().unwrap()));
        assert_eq!(st.recs()[5].kind, RecKind::Vpn);
        assert_eq!(st.recs()[5].dst, Some("10.9.0.7".parse().unwrap()));
        let t = |s: i64| DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
        let select = |addrs: &[&str], users: &[&str], held: &[(&str, &str, &str)]| {
            let addrs = addrs.iter().map(|a| a.to_string()).collect();
            let held = held
                .iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect();
            let user = |u: &str| {
                users
                    .iter()
                    .any(|s| crate::analysis::network::same_user(s, u))
            };
            st.select(&Wanted {
                addrs: &addrs,
                from: t(0),
                to: t(100),
                sessions_from: t(0),
                user: &user,
                held_sessions: &held,
            })
        };
        // A suspect's session, both records in the span (not the stop, hours later).
        assert_eq!(select(&[], &["alice@corp.example"], &[]), vec![0, 1]);
        // One record's calling station brings the whole session.
        assert_eq!(select(&["192.0.2.2"], &[], &[]), vec![2, 3]);
        // The framed IP, and the VPN event's assigned address.
        assert_eq!(select(&["10.8.0.2", "10.9.0.7"], &[], &[]), vec![0, 1, 5]);
        assert_eq!(select(&[], &["carol@corp.example"], &[]), vec![5]);
        // A Wi-Fi client's calling station (a MAC) is compared as network correlation does.
        assert_eq!(select(&["ac-de-f2-06-5d-a4"], &[], &[]), vec![7]);
        // A session with a record held already.
        assert_eq!(
            select(&[], &[], &[("radius_detail", "s3", "dave")]),
            vec![4]
        );
        assert_eq!(
            select(&[], &[], &[("radius_detail", "s3", "eve")]),
            Vec::<usize>::new()
        );
    }
}
