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
//! A flow stays a full event whenever a compact record could not answer for it
//! ([`Compactor::compact`]): it matches an indicator of the case file, names an application
//! the case file classifies, carries a user id or targets, could be folded with a duplicate
//! (request or correlation id), or has an address that does not parse.

use crate::case::CaseFile;
use crate::event::{actions, Event};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// No user on the flow.
const NO_USER: u32 = u32::MAX;

/// One flow, as much of it as the aggregates need, plus its addresses for selecting the
/// flows network correlation will read in full.
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
    source: u16,
    zone: u16,
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

    /// Hold `e` compactly; `false` (nothing held) when the tables are full.
    pub fn push(&mut self, e: &Event, rank: u32) -> bool {
        let parse = |s: &Option<String>| s.as_deref().map(|s| s.trim().parse::<IpAddr>().ok());
        let (Some(src), Some(dst)) = (
            parse(&e.src_ip).map_or(Some(None), |a| a.map(Some)),
            parse(&e.dst_ip).map_or(Some(None), |a| a.map(Some)),
        ) else {
            return false;
        };
        let Some(source) = self.sources.id(&e.source, u16::MAX as u32) else {
            return false;
        };
        let Some(zone) = self.zones.id(&e.time_zone, u16::MAX as u32) else {
            return false;
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
            source: source as u16,
            zone: zone as u16,
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
        self.recs.reserve(other.recs.len());
        for mut r in other.recs {
            r.rank = rank;
            r.source = src[r.source as usize] as u16;
            r.zone = zone[r.zone as usize] as u16;
            if r.user != NO_USER {
                r.user = user[r.user as usize];
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

    /// Indices of the flows in `[from, to]` from or to one of `addrs`.
    pub fn select(&self, addrs: &[IpAddr], from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<usize> {
        let addrs: std::collections::HashSet<IpAddr> = addrs.iter().copied().collect();
        let hit = |a: Option<IpAddr>| a.is_some_and(|a| addrs.contains(&a));
        self.recs
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let t = r.time();
                t >= from && t <= to && (hit(r.src) || hit(r.dst))
            })
            .map(|(i, _)| i)
            .collect()
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
    pub fn compact(&self, e: &Event) -> bool {
        if !matches!(
            e.action.as_str(),
            actions::FLOW_ALLOWED | actions::FLOW_DENIED | actions::THREAT
        ) {
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
pub fn read_lines(
    path: &std::path::Path,
    lines: &[u64],
) -> Result<Vec<(u64, Event)>, std::io::Error> {
    use std::io::BufRead;
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
        for action in [actions::SIGN_IN, actions::VPN_LOGIN, actions::VPN_TUNNEL_UP] {
            let mut e = flow(None, "10.0.0.1");
            e.action = action.into();
            assert!(!c.compact(&e), "{action} is read whole by the rules");
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
        let ip: IpAddr = "10.0.0.3".parse().unwrap();
        assert_eq!(all.select(&[ip], t, t), vec![2]);
        all.remove(&[0]);
        assert_eq!(all.len(), 2);
    }
}
