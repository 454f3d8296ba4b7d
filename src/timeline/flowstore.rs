//! Firewall flows held compactly while `run` analyses the timeline.
//!
//! Flows (`flow_allowed` / `flow_denied`, and `threat` logs, read the same way) are most of
//! the events of a realistic collection, yet the analysis reads them only through
//! aggregates (per-source counts and first/last
//! times, the window's end, per-user first/last seen, the activity chart, the zones note,
//! the names the redactor must know) and, as whole events, only when network correlation
//! or the key timeline picks them. So a flow that nothing else could read is held as a
//! [`FlowRec`] of 80 bytes instead of a ~1.2 KB `Event`; the few that are picked are read
//! back from the sealed `timeline.jsonl` by position.
//!
//! RADIUS/NPS accounting records, VPN events and admin logins are held the same way
//! ([`RecKind`]): besides the aggregates, only network correlation reads them whole, and it
//! picks them by suspect user, address and session ([`FlowStore::select`]); `run` reads back
//! what a detection pass wants and runs it again until a pass wants nothing new.
//!
//! M365 activity (mail items accessed, mail sent, files accessed, downloaded or synced,
//! sharing links: [`ACTIVITY`], about 60% of a UAL export) is held the same way
//! ([`RecKind::Activity`]). Besides the aggregates (including the key timeline's
//! neighbours, found by user and time), only bulk access reads it: it counts per user,
//! class and hour from what the record keeps ([`FlowRec::volume`], [`FlowRec::failed`]) and
//! asks for the records of the hours it flags (`FlowWant::activity`), which `run` reads back
//! so the finding cites the same events. Most UAL file events carry a correlation id, so
//! they may fold with a copy from another export: the merge folds compact records like
//! events (a compact kept copy stays compact and stands for the folded line; the
//! provenances of a compact dropped copy travel with the fold, `spill::Fold::seen`).
//!
//! A flow stays a full event whenever a compact record could not answer for it
//! ([`Compactor::compact`]): it matches an indicator of the case file, names an application
//! the case file classifies, carries a user id or targets, could be folded with a duplicate
//! (request or correlation id), or has an address that does not parse.
//!
//! `run` keeps the records on disk, not in memory: a million records are ~100 MB at 1 GiB
//! of input, more than the parse's whole budget. The parsing thread encodes a compact event
//! ([`wire`]) into its sorted-run record; the merge, which alone knows each event's timeline
//! line and is single-threaded and ordered, interns its strings and appends the record to
//! one file ([`FlowWriter`]) in timeline-line order. What stays in memory is the interning
//! tables (distinct sources, zones, users, sessions, stations), per-source totals, and the
//! indices of records read back as events. Every reader streams the file (each analysis
//! pass scans it once or twice, from the page cache); a record is found by line with a
//! binary search over the fixed-size records.

use crate::case::CaseFile;
use crate::event::{actions, Event};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// No user on the flow.
const NO_USER: u32 = u32::MAX;
/// No session id on the record.
const NO_SID: u32 = u32::MAX;
/// No calling station that is not an address (see `FlowRec::station`).
const NO_STATION: u32 = u32::MAX;

/// Bytes of one record in the on-disk store ([`FlowRec::encode`]).
pub const REC_BYTES: usize = 80;
/// Records read from the file at a time by a scan (256 KiB).
const SCAN_RECS: usize = 3276;

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
    /// M365 activity (mail items accessed, mail sent, files accessed, downloaded or synced,
    /// sharing links): `src` is the client address. Besides the aggregates only bulk access
    /// reads them, through the volume the record keeps ([`FlowRec::volume`]), and it asks
    /// for the records of the hours it flags to be read back.
    Activity,
}

impl RecKind {
    fn from_u8(b: u8) -> RecKind {
        match b {
            0 => RecKind::Flow,
            1 => RecKind::Accounting,
            2 => RecKind::Vpn,
            4 => RecKind::Activity,
            _ => RecKind::Other,
        }
    }
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
    /// network correlation compares it (text); `src` is then empty. Activity records, which
    /// have none, keep here the volume bulk access counts for them (1, or the items a
    /// MailItemsAccessed read): the record stays 80 bytes in memory too.
    station: u32,
    source: u16,
    zone: u16,
    pub kind: RecKind,
    /// Flows: source and destination. Accounting: calling station and framed IP. VPN:
    /// client and assigned address. As network correlation reads them.
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    /// Activity records: bulk access's class of the event (`analysis::bulk::Kind` as a
    /// number, 0 for none) and [`FAILED`] when its outcome is a failure.
    flags: u8,
}

/// `FlowRec::flags`: the event's outcome is a failure.
const FAILED: u8 = 0x80;

impl FlowRec {
    pub fn time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
    }

    /// An activity record's class for bulk access (`analysis::bulk::Kind` as a number) and
    /// its volume, as `analysis::bulk` reads them from the event; `None` for other records
    /// and for activity bulk access does not count.
    pub fn volume(&self) -> Option<(u8, u64)> {
        let class = self.flags & !FAILED;
        (self.kind == RecKind::Activity && class != 0).then_some((class, u64::from(self.station)))
    }

    /// Whether the event's outcome is a failure (activity records only; others say `false`).
    pub fn failed(&self) -> bool {
        self.flags & FAILED != 0
    }

    /// The record as the on-disk store keeps it (little-endian, fixed size).
    fn encode(&self, b: &mut [u8; REC_BYTES]) {
        b[0..8].copy_from_slice(&self.micros.to_le_bytes());
        b[8..16].copy_from_slice(&self.record_no.to_le_bytes());
        b[16..24].copy_from_slice(&self.pos.to_le_bytes());
        b[24..28].copy_from_slice(&self.rank.to_le_bytes());
        b[28..32].copy_from_slice(&self.user.to_le_bytes());
        b[32..36].copy_from_slice(&self.sid.to_le_bytes());
        b[36..40].copy_from_slice(&self.station.to_le_bytes());
        b[40..42].copy_from_slice(&self.source.to_le_bytes());
        b[42..44].copy_from_slice(&self.zone.to_le_bytes());
        b[44] = self.kind as u8;
        encode_ip(self.src, &mut b[45..62]);
        encode_ip(self.dst, &mut b[62..79]);
        b[79] = self.flags;
    }

    fn decode(b: &[u8]) -> FlowRec {
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        let u16_at = |i: usize| u16::from_le_bytes(b[i..i + 2].try_into().unwrap_or_default());
        FlowRec {
            micros: u64_at(0) as i64,
            record_no: u64_at(8),
            pos: u64_at(16),
            rank: u32_at(24),
            user: u32_at(28),
            sid: u32_at(32),
            station: u32_at(36),
            source: u16_at(40),
            zone: u16_at(42),
            kind: RecKind::from_u8(b[44]),
            src: decode_ip(&b[45..62]),
            dst: decode_ip(&b[62..79]),
            flags: b[79],
        }
    }
}

fn encode_ip(a: Option<IpAddr>, b: &mut [u8]) {
    b.fill(0);
    match a {
        None => {}
        Some(IpAddr::V4(v)) => {
            b[0] = 4;
            b[1..5].copy_from_slice(&v.octets());
        }
        Some(IpAddr::V6(v)) => {
            b[0] = 6;
            b[1..17].copy_from_slice(&v.octets());
        }
    }
}

fn decode_ip(b: &[u8]) -> Option<IpAddr> {
    match b[0] {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(&b[1..5]).ok()?)),
        6 => Some(IpAddr::from(<[u8; 16]>::try_from(&b[1..17]).ok()?)),
        _ => None,
    }
}

/// Strings interned once for all flows: a few sources, zones and users, and one session id
/// per accounting session and calling station, which grow with the input. Each is kept once,
/// in one buffer, and found by its hash: a `Vec<String>` beside a `HashMap<String, u32>`
/// kept two blocks and two 24-byte headers per string.
#[derive(Debug, Default, Clone)]
struct Table {
    /// The strings back to back; string `i` ends at `ends[i]`.
    text: String,
    ends: Vec<usize>,
    /// Id by the string's hash.
    ix: HashMap<u64, u32>,
    /// Ids of strings whose hash an earlier string has (so rare it is never seen).
    clash: HashMap<String, u32>,
}

impl Table {
    fn hash(s: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        s.hash(&mut h);
        h.finish()
    }

    fn name(&self, i: u32) -> &str {
        let i = i as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    fn names(&self) -> impl Iterator<Item = &str> {
        (0..self.len() as u32).map(|i| self.name(i))
    }

    /// The id of `s`, if interned.
    fn get(&self, s: &str) -> Option<u32> {
        match self.ix.get(&Self::hash(s)) {
            Some(&i) if self.name(i) == s => Some(i),
            Some(_) => self.clash.get(s).copied(),
            None => None,
        }
    }

    fn id(&mut self, s: &str, max: u32) -> Option<u32> {
        if let Some(i) = self.get(s) {
            return Some(i);
        }
        let i = u32::try_from(self.len()).ok().filter(|&i| i < max)?;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        match self.ix.entry(Self::hash(s)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(i);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.clash.insert(s.to_string(), i);
            }
        }
        Some(i)
    }
}

/// A compact event as the parsing thread hands it to the merge inside its run record
/// (see [`wire`]): the addresses parsed, the strings not yet interned.
struct Wire<'a> {
    kind: RecKind,
    src: Option<IpAddr>,
    dst: Option<IpAddr>,
    source: &'a str,
    zone: &'a str,
    user: Option<&'a str>,
    sid: Option<&'a str>,
    station: Option<&'a str>,
    flags: u8,
    count: u32,
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// `e` as a compact record for the merge to store (appended to `out`); `false` (nothing
/// written) when an address the record must carry does not parse: the event stays whole.
pub fn wire(e: &Event, out: &mut Vec<u8>) -> bool {
    let Some((kind, src, dst, station)) = addresses(e) else {
        return false;
    };
    // What bulk access counts (activity only); a volume beyond the record's keeps it whole.
    let (mut flags, mut count) = (0u8, 0u32);
    if kind == RecKind::Activity {
        if let Some((class, n)) = crate::analysis::bulk::volume(e) {
            let Ok(n) = u32::try_from(n) else {
                return false;
            };
            (flags, count) = (class, n);
        }
        if e.outcome == crate::event::Outcome::Failure {
            flags |= FAILED;
        }
    }
    out.push(kind as u8);
    let mut ip = [0u8; 17];
    encode_ip(src, &mut ip);
    out.extend_from_slice(&ip);
    encode_ip(dst, &mut ip);
    out.extend_from_slice(&ip);
    put_str(out, Some(e.source()));
    put_str(out, Some(e.time_zone()));
    put_str(out, e.user.as_deref());
    put_str(
        out,
        e.cold()
            .session_id
            .as_deref()
            .filter(|_| kind == RecKind::Accounting),
    );
    put_str(out, station.as_deref());
    out.push(flags);
    out.extend_from_slice(&count.to_le_bytes());
    true
}

impl<'a> Wire<'a> {
    fn parse(mut b: &'a [u8]) -> Option<Wire<'a>> {
        let kind = RecKind::from_u8(*b.first()?);
        let src = decode_ip(b.get(1..18)?);
        let dst = decode_ip(b.get(18..35)?);
        b = &b[35..];
        let mut s = || -> Option<Option<&'a str>> {
            let (&tag, rest) = b.split_first()?;
            if tag == 0 {
                b = rest;
                return Some(None);
            }
            let n = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let text = std::str::from_utf8(rest.get(4..4 + n)?).ok()?;
            b = &rest[4 + n..];
            Some(Some(text))
        };
        let source = s()??;
        let zone = s()??;
        let (user, sid, station) = (s()?, s()?, s()?);
        let (&flags, rest) = b.split_first()?;
        let count = u32::from_le_bytes(rest.get(..4)?.try_into().ok()?);
        Some(Wire {
            kind,
            src,
            dst,
            source,
            zone,
            user,
            sid,
            station,
            flags,
            count,
        })
    }
}

/// The compact flows of a collection, in timeline order once ordered: in memory (a store
/// filled by [`FlowStore::push`]) or in a file written by [`FlowWriter`] (`run`).
///
/// Records are named by index, in store order; one read back as an event
/// ([`FlowStore::remove`]) keeps its index and is skipped by every reader from then on.
#[derive(Debug, Default, Clone)]
pub struct FlowStore {
    recs: Vec<FlowRec>,
    /// The on-disk records, when there are.
    disk: Option<Disk>,
    /// Indices of records now held as events.
    held: HashSet<usize>,
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

/// A store's file: `count` records of [`REC_BYTES`], in timeline-line order; with per
/// source (by id) the count and first and last time of all of them, written as they came.
#[derive(Debug, Clone)]
struct Disk {
    file: Arc<File>,
    count: usize,
    totals: Vec<(u64, i64, i64)>,
    /// The first error a reader met (a read that failed ends the scan): the run reports it
    /// rather than conclude from part of the records (`FlowStore::error`).
    error: Arc<Mutex<Option<String>>>,
}

/// Read `buf.len()` bytes at `off` without moving a shared file position (scans may run
/// side by side).
pub(crate) fn read_at(f: &File, buf: &mut [u8], off: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        f.read_exact_at(buf, off)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let (mut done, mut buf) = (0u64, buf);
        while !buf.is_empty() {
            match f.seek_read(buf, off + done)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => {
                    let rest = buf;
                    buf = &mut rest[n..];
                    done += n as u64;
                }
            }
        }
        Ok(())
    }
}

impl Disk {
    fn fail(&self, e: std::io::Error) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert_with(|| format!("compact records: {e}"));
        }
    }

    fn read(&self, from: usize, buf: &mut [u8]) -> bool {
        match read_at(&self.file, buf, (from * REC_BYTES) as u64) {
            Ok(()) => true,
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }
}

/// The records of a store in index order, skipping those held as events.
pub struct Iter<'a> {
    st: &'a FlowStore,
    next: usize,
    end: usize,
    buf: Vec<u8>,
    /// Index of the first record in `buf`, and how many it holds.
    buf_from: usize,
    buf_n: usize,
}

impl Iterator for Iter<'_> {
    type Item = (usize, FlowRec);
    fn next(&mut self) -> Option<(usize, FlowRec)> {
        loop {
            if self.next >= self.end {
                return None;
            }
            let i = self.next;
            self.next += 1;
            let r = match &self.st.disk {
                None => self.st.recs[i],
                Some(d) => {
                    if i >= self.buf_from + self.buf_n {
                        let n = (self.end - i).min(SCAN_RECS);
                        self.buf.resize(n * REC_BYTES, 0);
                        if !d.read(i, &mut self.buf) {
                            self.end = i;
                            return None;
                        }
                        (self.buf_from, self.buf_n) = (i, n);
                    }
                    let at = (i - self.buf_from) * REC_BYTES;
                    FlowRec::decode(&self.buf[at..at + REC_BYTES])
                }
            };
            if !self.st.held.is_empty() && self.st.held.contains(&i) {
                continue;
            }
            return Some((i, r));
        }
    }
}

impl FlowStore {
    /// Records held here (not counting those read back as events).
    pub fn len(&self) -> usize {
        self.total() - self.held.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Records ever stored, read back or not (indices run below this).
    fn total(&self) -> usize {
        self.disk.as_ref().map_or(self.recs.len(), |d| d.count)
    }
    /// Whether the records are in a file rather than in memory.
    pub fn on_disk(&self) -> bool {
        self.disk.is_some()
    }
    /// The first error a reader of the file met, if any: whatever was concluded from the
    /// records since may be missing some.
    pub fn error(&self) -> Option<String> {
        self.disk
            .as_ref()
            .and_then(|d| d.error.lock().ok().and_then(|e| e.clone()))
    }
    /// Give back unused room (a store filled by pushing).
    pub fn shrink_to_fit(&mut self) {
        self.recs.shrink_to_fit();
    }
    /// Room for `n` more flows (one allocation rather than doubling through a million).
    pub fn reserve(&mut self, n: usize) {
        self.recs.reserve_exact(n);
    }
    /// Every record still held here, with its index, in store order.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_range(0, self.total())
    }
    /// [`FlowStore::iter`] over the indices `[from, to)`.
    pub fn iter_range(&self, from: usize, to: usize) -> Iter<'_> {
        Iter {
            st: self,
            next: from,
            end: to.min(self.total()),
            buf: Vec::new(),
            buf_from: 0,
            buf_n: 0,
        }
    }
    /// The record at index `i` (read back as an event or not).
    pub fn get(&self, i: usize) -> Option<FlowRec> {
        match &self.disk {
            None => self.recs.get(i).copied(),
            Some(d) => {
                if i >= d.count {
                    return None;
                }
                let mut b = [0u8; REC_BYTES];
                d.read(i, &mut b).then(|| FlowRec::decode(&b))
            }
        }
    }
    /// The first index whose record is on timeline line `pos` or later (records are in
    /// timeline order once ordered).
    pub fn index_at_pos(&self, pos: u64) -> usize {
        let (mut lo, mut hi) = (0, self.total());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid) {
                Some(r) if r.pos < pos => lo = mid + 1,
                Some(_) => hi = mid,
                // A failed read is reported (`error`); nothing past it is found.
                None => return lo,
            }
        }
        lo
    }
    pub fn source(&self, r: &FlowRec) -> &str {
        self.sources.name(r.source as u32)
    }
    pub fn zone(&self, r: &FlowRec) -> &str {
        self.zones.name(r.zone as u32)
    }
    /// `Event::user` of the flow.
    pub fn user(&self, r: &FlowRec) -> Option<&str> {
        (r.user != NO_USER).then(|| self.users.name(r.user))
    }
    /// `Event::user_key()` of the flow.
    pub fn user_key(&self, r: &FlowRec) -> Option<&str> {
        (r.user != NO_USER).then(|| self.user_keys[r.user as usize].as_str())
    }
    /// `Event::session_id` of an accounting record.
    pub fn session_id(&self, r: &FlowRec) -> Option<&str> {
        (r.sid != NO_SID).then(|| self.sids.name(r.sid))
    }
    /// A calling station that is not an address.
    pub fn station(&self, r: &FlowRec) -> Option<&str> {
        (r.station != NO_STATION && r.kind != RecKind::Activity)
            .then(|| self.stations.name(r.station))
    }
    /// Every distinct `Event::user` among the flows.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.names()
    }

    /// Intern a record's strings; `None` when a table is full.
    fn intern(&mut self, w: &Wire, micros: i64, record_no: u64) -> Option<FlowRec> {
        let station = match (w.kind, w.station) {
            (RecKind::Activity, _) => w.count,
            (_, None) => NO_STATION,
            (_, Some(s)) => self.stations.id(s, NO_STATION)?,
        };
        let source = self.sources.id(w.source, u16::MAX as u32)?;
        let zone = self.zones.id(w.zone, u16::MAX as u32)?;
        let sid = match w.sid {
            None => NO_SID,
            Some(s) => self.sids.id(s, NO_SID)?,
        };
        let user = match w.user {
            None => NO_USER,
            Some(u) => {
                let i = self.users.id(u, NO_USER)?;
                if i as usize == self.user_keys.len() {
                    self.user_keys.push(u.trim().to_ascii_lowercase());
                }
                i
            }
        };
        Some(FlowRec {
            micros,
            record_no,
            pos: 0,
            rank: 0,
            user,
            sid,
            station,
            source: source as u16,
            zone: zone as u16,
            kind: w.kind,
            src: w.src,
            dst: w.dst,
            flags: w.flags,
        })
    }

    /// Hold `e` compactly in memory; `false` (nothing held) when the tables are full or an
    /// address the record must carry does not parse.
    pub fn push(&mut self, e: &Event, rank: u32) -> bool {
        let mut b = Vec::new();
        if !wire(e, &mut b) {
            return false;
        }
        let Some(w) = Wire::parse(&b) else {
            return false;
        };
        match self.intern(&w, e.time.timestamp_micros(), e.provenance.record_no) {
            Some(r) => {
                self.recs.push(FlowRec { rank, ..r });
                true
            }
            None => false,
        }
    }

    /// Per source: (flows, first time, last time).
    pub fn per_source(&self) -> BTreeMap<&str, (u64, DateTime<Utc>, DateTime<Utc>)> {
        let mut m: BTreeMap<&str, (u64, DateTime<Utc>, DateTime<Utc>)> = BTreeMap::new();
        // Totals kept while writing answer until a record is read back.
        if let Some(d) = self.disk.as_ref().filter(|_| self.held.is_empty()) {
            for (id, &(n, first, last)) in d.totals.iter().enumerate() {
                if n > 0 {
                    m.insert(
                        self.sources.name(id as u32),
                        (n, to_time(first), to_time(last)),
                    );
                }
            }
            return m;
        }
        for (_, r) in self.iter() {
            let t = r.time();
            let s = m.entry(self.source(&r)).or_insert((0, t, t));
            s.0 += 1;
            s.1 = s.1.min(t);
            s.2 = s.2.max(t);
        }
        m
    }

    pub fn first_time(&self) -> Option<DateTime<Utc>> {
        self.per_source().values().map(|s| s.1).min()
    }
    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.per_source().values().map(|s| s.2).max()
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
            .filter_map(|a| self.stations.get(a))
            .collect();
        let station = |r: &FlowRec| r.station != NO_STATION && stations.contains(&r.station);
        // One answer per distinct user name, not per record.
        let user_hit: Vec<bool> = self.users.names().map(|u| (w.user)(u)).collect();
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
                let src = self.sources.get(src.as_str())?;
                let sid = self.sids.get(sid.as_str())?;
                Some((src as u16, sid, user.as_str()))
            })
            .collect();
        let mut picked = Vec::new();
        for (i, r) in self.iter() {
            let yes = match r.kind {
                RecKind::Flow => within(&r, w.from) && (hit(r.src) || hit(r.dst)),
                RecKind::Accounting | RecKind::Vpn => {
                    in_span(&r) && (hit(r.src) || hit(r.dst) || station(&r) || suspect(&r))
                }
                RecKind::Other | RecKind::Activity => false,
            };
            if yes {
                picked.push(i);
                if r.kind == RecKind::Accounting && r.sid != NO_SID {
                    sessions.insert(key(&r));
                }
            }
        }
        if sessions.is_empty() {
            return picked;
        }
        // The rest of those sessions: a session's start, end, counters and addresses come
        // from all of its records.
        let mut more: Vec<usize> = self
            .iter()
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

    /// The flows at these indices are now held as events: every reader skips them.
    pub fn remove(&mut self, idx: &[usize]) {
        let total = self.total();
        self.held.extend(idx.iter().copied().filter(|&i| i < total));
    }
}

/// Writes the compact records of a collection to a file as the merge reaches them, in
/// timeline-line order, interning their strings; [`FlowWriter::finish`] gives the store.
pub struct FlowWriter {
    store: FlowStore,
    file: Arc<File>,
    out: std::io::BufWriter<File>,
    count: usize,
    totals: Vec<(u64, i64, i64)>,
    last_pos: Option<u64>,
}

/// A run's scratch file at `path`, open to read and write. Where the system allows, the name
/// is removed at once: the data lives as long as the run holds the file open and never
/// reaches the case folder's package, even when the run stops early.
pub(crate) fn scratch_file(path: &Path) -> std::io::Result<std::fs::File> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    #[cfg(unix)]
    std::fs::remove_file(path)?;
    Ok(file)
}

impl FlowWriter {
    /// A new store file at `path`. Where the system allows, the name is removed at once:
    /// the records live as long as the run holds the file open and never reach the case
    /// folder's package, even when the run stops early.
    pub fn create(path: &Path) -> std::io::Result<FlowWriter> {
        let file = scratch_file(path)?;
        let out = std::io::BufWriter::with_capacity(256 << 10, file.try_clone()?);
        Ok(FlowWriter {
            store: FlowStore::default(),
            file: Arc::new(file),
            out,
            count: 0,
            totals: Vec::new(),
            last_pos: None,
        })
    }

    /// Store the compact event `wire` (as [`wire`] wrote it), on timeline line `pos`, of
    /// the evidence item ranked `rank`. Lines must come in increasing order.
    pub fn push(
        &mut self,
        pos: u64,
        rank: usize,
        micros: i64,
        record_no: u64,
        wire: &[u8],
    ) -> std::io::Result<()> {
        let w = Wire::parse(wire).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a compact record in a sorted run is malformed",
            )
        })?;
        if self.last_pos.is_some_and(|p| p >= pos) {
            return Err(std::io::Error::other(
                "compact records must come in timeline order",
            ));
        }
        let r = self
            .store
            .intern(&w, micros, record_no)
            .ok_or_else(|| std::io::Error::other(FlowStoreFull))?;
        let r = FlowRec {
            pos,
            rank: u32::try_from(rank).map_err(|_| std::io::Error::other(FlowStoreFull))?,
            ..r
        };
        let mut b = [0u8; REC_BYTES];
        r.encode(&mut b);
        self.out.write_all(&b)?;
        self.count += 1;
        self.last_pos = Some(pos);
        let s = r.source as usize;
        if self.totals.len() <= s {
            self.totals.resize(s + 1, (0, i64::MAX, i64::MIN));
        }
        let t = &mut self.totals[s];
        *t = (t.0 + 1, t.1.min(micros), t.2.max(micros));
        Ok(())
    }

    /// Records written so far.
    pub fn len(&self) -> usize {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The store over what was written.
    pub fn finish(mut self) -> std::io::Result<FlowStore> {
        self.out.flush()?;
        drop(self.out);
        let mut st = self.store;
        st.disk = Some(Disk {
            file: self.file,
            count: self.count,
            totals: self.totals,
            error: Arc::default(),
        });
        Ok(st)
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
            a if ACTIVITY.contains(&a) => RecKind::Activity,
            _ => RecKind::Other,
        };
        (
            kind,
            parse(e.src_ip.as_deref())?,
            parse(e.cold().dst_ip.as_deref())?,
            None,
        )
    })
}

/// Ids of the case file's assets of this kind.
fn assets_of(case: &CaseFile, kind: &str) -> Vec<String> {
    case.data
        .assets
        .iter()
        .filter(|a| a.kind == kind)
        .map(|a| a.id.clone())
        .collect()
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
    /// Ids of the case file's `site` and `mailbox` assets.
    asset_sites: Vec<String>,
    asset_mailboxes: Vec<String>,
}

/// The M365 activity held as [`RecKind::Activity`] records (see [`Compactor::compact`]).
pub const ACTIVITY: &[&str] = &[
    actions::MAIL_ITEMS_ACCESSED,
    actions::MAIL_SENT,
    actions::FILE_ACCESSED,
    actions::FILE_DOWNLOADED,
    actions::FILE_SYNCED,
    actions::SHARING_LINK_CREATED,
];

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
            asset_sites: assets_of(case, "site"),
            asset_mailboxes: assets_of(case, "mailbox"),
        }
    }

    /// Whether `e` names a classified site or mailbox the way `assets::reach` compares them
    /// (whatever its action and user: erring towards the full event).
    fn touches_asset(&self, e: &Event) -> bool {
        use crate::analysis::regulatory::assets::{locations, mailboxes, names_location};
        let names = |id: &String| names_location(&locations(e), id);
        self.asset_sites.iter().any(names)
            || self.asset_mailboxes.iter().any(|id| {
                mailboxes(e)
                    .iter()
                    .any(|m| m.trim().eq_ignore_ascii_case(id.trim()))
            })
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
    ///
    /// M365 activity ([`ACTIVITY`]) is read by bulk access (counted from the record, the
    /// flagged hours read back), by IOC matching (addresses, user agent, application id and
    /// target ids: a hit keeps it whole), by classified-asset matching
    /// (`regulatory::assets::reach`: an event naming a classified site or mailbox stays
    /// whole, as does one of a classified application), and by the redactor's name list
    /// (its user; one with a user id or a user target stays whole). It may carry targets
    /// (the file or mailbox) and request or correlation ids: the merge folds compact copies.
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
        ) && !ACTIVITY.contains(&e.action.as_str())
        {
            return false;
        }
        let activity = ACTIVITY.contains(&e.action.as_str());
        if e.mfa.is_some() {
            return false;
        }
        // Duplicates fold on these; a folded flow would change its neighbour's provenance.
        // Activity records fold in the merge like events (`timeline::spill`, `Fold::seen`):
        // most UAL file events carry a correlation id.
        if !activity && (e.cold().request_id.is_some() || e.cold().correlation_id.is_some()) {
            return false;
        }
        // The redactor's names and the rules' targets. An activity event's targets are the
        // file or mailbox it touched: only classified-asset matching reads them (below), and
        // the redactor reads user targets only.
        if e.user_id.is_some() || (!activity && !e.targets.is_empty()) {
            return false;
        }
        if e.targets.iter().any(|t| {
            t.kind
                .as_deref()
                .is_some_and(|k| k.eq_ignore_ascii_case("user"))
        }) {
            return false;
        }
        // Classified sites and mailboxes (analysis/regulatory/assets.rs `reach`) it names.
        if activity && self.touches_asset(e) {
            return false;
        }
        // IOC matching (analysis/ioc.rs) reads addresses, user agents and application ids.
        for ip in [e.src_ip.as_deref(), e.cold().dst_ip.as_deref()]
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
        if let Some(ua) = e.user_agent().as_deref() {
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
        if app_hit(e.app_id().as_deref(), &self.ioc.app_ids) {
            return false;
        }
        // IOC matching also compares target ids with the application ids.
        if e.targets
            .iter()
            .any(|t| app_hit(t.id.as_deref(), &self.ioc.app_ids))
        {
            return false;
        }
        // Classified applications (analysis/regulatory/assets.rs) by id or name.
        if app_hit(e.app_id().as_deref(), &self.asset_apps)
            || app_hit(e.app().as_deref(), &self.asset_apps)
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
        if let Some(h) = crate::event::HashMemo::from_hex(&entry.event_sha256).0 {
            entry.event.remember(h);
        }
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

    #[test]
    fn table_keeps_each_string_once_and_finds_it_even_when_hashes_clash() {
        let mut t = Table::default();
        assert_eq!(t.id("sess-1", 10), Some(0));
        assert_eq!(t.id("", 10), Some(1));
        assert_eq!(t.id("sess-2", 10), Some(2));
        assert_eq!(t.id("sess-1", 10), Some(0));
        assert_eq!((t.name(0), t.name(1), t.name(2)), ("sess-1", "", "sess-2"));
        assert_eq!(t.text, "sess-1sess-2");
        assert_eq!(t.get("sess-3"), None);
        // A string whose hash an earlier one has (forced here: SipHash clashes are not
        // found by chance) still gets its own id and is found again.
        t.ix.insert(Table::hash("sess-3"), 0);
        assert_eq!(t.get("sess-3"), None);
        assert_eq!(t.id("sess-3", 10), Some(3));
        assert_eq!(t.get("sess-3"), Some(3));
        assert_eq!(t.get("sess-1"), Some(0));
        assert_eq!(
            t.names().collect::<Vec<_>>(),
            ["sess-1", "", "sess-2", "sess-3"]
        );
        // Full: no id, nothing kept.
        assert_eq!(t.id("sess-4", 4), None);
        assert_eq!(t.len(), 4);
    }

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
        e.cold_mut().dst_ip = Some("198.51.100.7".into());
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
        e.cold_mut().request_id = Some("r".into());
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

    fn activity(action: &str) -> Event {
        let mut e = flow(Some("Adele@contoso.example"), "203.0.113.24");
        e.descr_mut().source = "m365_ual".into();
        e.class = crate::event::EventClass::ApiActivity;
        e.action = action.into();
        e.cold_mut().dst_ip = None;
        e.cold_mut().correlation_id = Some("c-1".into());
        e.targets.push(crate::event::Target {
            kind: Some("file".into()),
            id: Some("https://contoso.sharepoint.com/sites/HR/Shared Documents/a.xlsx".into()),
            name: Some("a.xlsx".into()),
            modified: Vec::new(),
        });
        e
    }

    /// M365 activity is compact, targets and correlation id and all, unless a reader would
    /// want it whole: a case indicator, a classified site, mailbox or application, a user
    /// target (the redactor's names), a user id.
    #[test]
    fn activity_is_compact_unless_a_reader_wants_it_whole() {
        let mut case = CaseFile::default();
        case.ioc.user_agents = vec!["evilagent".into()];
        case.ioc.app_ids = vec!["bad-app".into()];
        let asset = |kind: &str, id: &str| crate::case::DataAsset {
            kind: kind.into(),
            id: id.into(),
            categories: vec!["phi".into()],
        };
        case.data.assets = vec![
            asset("site", "https://contoso.sharepoint.com/sites/Finance"),
            asset("mailbox", "ceo@contoso.example"),
        ];
        let c = Compactor::new(&case);
        for action in ACTIVITY {
            assert!(c.compact(&activity(action)), "{action}");
        }
        assert!(!c.compact(&activity(actions::INBOX_RULE_CREATED)));
        let whole = |f: &dyn Fn(&mut Event)| {
            let mut e = activity(actions::FILE_DOWNLOADED);
            f(&mut e);
            !c.compact(&e)
        };
        assert!(whole(
            &|e| e.descr_mut().user_agent = Some("EvilAgent/2".into())
        ));
        assert!(whole(&|e| e.targets[0].id = Some("BAD-APP".into())));
        assert!(whole(&|e| e.targets[0].id = Some(
            "https://contoso.sharepoint.com/sites/finance/x.docx".into()
        )));
        assert!(whole(
            &|e| e.targets[0].name = Some("CEO@contoso.example".into())
        ));
        assert!(whole(&|e| e.targets[0].kind = Some("User".into())));
        assert!(whole(&|e| e.user_id = Some("u-1".into())));
        assert!(whole(&|e| e.src_ip = Some("not-an-ip".into())));
    }

    /// An activity record keeps what bulk access counts: class, volume and outcome.
    #[test]
    fn activity_records_keep_what_bulk_access_counts() {
        let mut mail = activity(actions::MAIL_ITEMS_ACCESSED);
        mail.extra.insert("item_count", 37.into());
        let mut failed = activity(actions::FILE_DOWNLOADED);
        failed.outcome = Outcome::Failure;
        let mut upload = activity(actions::FILE_SYNCED);
        upload.descr_mut().operation = "FileSyncUploadedFull".into();
        let mut huge = activity(actions::MAIL_ITEMS_ACCESSED);
        huge.extra
            .insert("item_count", (u64::from(u32::MAX) + 1).into());
        let mut b = Vec::new();
        assert!(!wire(&huge, &mut b), "a volume the record cannot keep");
        let events = [mail.clone(), failed, upload, activity(actions::MAIL_SENT)];
        let st = on_disk(
            &events
                .iter()
                .enumerate()
                .map(|(i, e)| (i as u64, 0, e.clone()))
                .collect::<Vec<_>>(),
        );
        let r: Vec<FlowRec> = st.iter().map(|(_, r)| r).collect();
        assert!(r.iter().all(|r| r.kind == RecKind::Activity));
        let v = |e: &Event| crate::analysis::bulk::volume(e);
        assert_eq!(r[0].volume(), v(&mail));
        assert_eq!(r[0].volume().map(|x| x.1), Some(37));
        assert_eq!(r[1].volume(), Some((1, 1)));
        assert!(r[1].failed() && !r[0].failed());
        assert_eq!((r[2].volume(), r[3].volume()), (None, None));
        assert_eq!(st.user_key(&r[0]), Some("adele@contoso.example"));
        assert_eq!(st.station(&r[0]), None);
        assert_eq!(r[0].src, Some("203.0.113.24".parse().unwrap()));
        // Network correlation never selects them.
        let t = r[0].time();
        let none = std::collections::BTreeSet::new();
        let addrs = ["203.0.113.24".to_string()].into();
        let picked = st.select(&Wanted {
            addrs: &addrs,
            from: t,
            to: t,
            sessions_from: t,
            user: &|_| true,
            held_sessions: &none,
        });
        assert!(picked.is_empty());
    }

    /// Write events through the merge's path: wire, then the on-disk store.
    fn on_disk(events: &[(u64, usize, Event)]) -> FlowStore {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FlowWriter::create(&dir.path().join("flows.bin")).unwrap();
        for (pos, rank, e) in events {
            let mut b = Vec::new();
            assert!(wire(e, &mut b));
            w.push(
                *pos,
                *rank,
                e.time.timestamp_micros(),
                e.provenance.record_no,
                &b,
            )
            .unwrap();
        }
        // The records outlive the name (removed at once where the system allows).
        w.finish().unwrap()
    }

    #[test]
    fn store_keeps_what_the_aggregates_read() {
        let mut later = flow(Some("bob"), "10.0.0.3");
        later.time += chrono::Duration::seconds(5);
        later.descr_mut().source = "panos".into();
        let mut all = on_disk(&[
            (2, 3, flow(Some(" Grace "), "10.0.0.1")),
            (4, 3, flow(None, "10.0.0.2")),
            (9, 1, later),
        ]);
        assert!(all.on_disk());
        let r: Vec<FlowRec> = all.iter().map(|(_, r)| r).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all.user(&r[0]), Some(" Grace "));
        assert_eq!(all.user_key(&r[0]), Some("grace"));
        assert_eq!(all.user(&r[1]), None);
        assert_eq!(all.user_key(&r[2]), Some("bob"));
        assert_eq!((r[0].rank, r[2].rank), (3, 1));
        assert_eq!((r[0].pos, r[1].pos, r[2].pos), (2, 4, 9));
        assert_eq!(all.source(&r[2]), "panos");
        assert_eq!(r[0].time().timestamp_subsec_micros(), 123_456);
        assert_eq!(r[1].dst, Some("198.51.100.7".parse().unwrap()));
        assert_eq!(
            (0..5).map(|p| all.index_at_pos(p)).collect::<Vec<_>>(),
            vec![0, 0, 0, 1, 1]
        );
        assert_eq!(all.index_at_pos(10), 3);
        let per = all.per_source();
        assert_eq!(per["fortigate"].0, 2);
        assert_eq!(per["panos"], (1, r[2].time(), r[2].time()));
        assert_eq!(all.first_time(), Some(r[0].time()));
        assert_eq!(all.last_time(), Some(r[2].time()));
        let t = r[0].time();
        let none = std::collections::BTreeSet::new();
        let want = |all: &FlowStore, addrs: &[&str]| {
            all.select(&Wanted {
                addrs: &addrs.iter().map(|a| a.to_string()).collect(),
                from: t,
                to: t + chrono::Duration::seconds(10),
                sessions_from: t,
                user: &|_| false,
                held_sessions: &none,
            })
        };
        assert_eq!(want(&all, &["10.0.0.3"]), vec![2]);
        // Read back as an event: every reader skips it from then on.
        all.remove(&[2]);
        assert_eq!(all.len(), 2);
        assert_eq!(want(&all, &["10.0.0.3"]), Vec::<usize>::new());
        assert!(!all.per_source().contains_key("panos"));
        assert_eq!(all.last_time(), Some(r[1].time()));
        assert_eq!(
            all.iter_range(1, 3).map(|(i, _)| i).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(all.get(2), Some(r[2]));
        assert_eq!(all.error(), None);
    }

    /// Lines must come in order: the store is searched by line.
    #[test]
    fn writer_refuses_records_out_of_line_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = FlowWriter::create(&dir.path().join("flows.bin")).unwrap();
        let mut b = Vec::new();
        assert!(wire(&flow(None, "10.0.0.1"), &mut b));
        w.push(5, 0, 0, 0, &b).unwrap();
        assert!(w.push(5, 0, 0, 1, &b).is_err());
        assert!(w.push(6, 0, 0, 1, &b[..10]).is_err(), "truncated");
    }

    /// A record encodes to its fixed size and back unchanged, for both address families.
    #[test]
    fn records_round_trip_through_their_encoding() {
        let r = FlowRec {
            micros: -5,
            record_no: u64::MAX,
            pos: 7,
            rank: 3,
            user: NO_USER,
            sid: 9,
            station: NO_STATION,
            source: 65_534,
            zone: 1,
            kind: RecKind::Vpn,
            src: Some("2001:db8::1".parse().unwrap()),
            dst: Some("10.1.2.3".parse().unwrap()),
            flags: 0,
        };
        let mut b = [0u8; REC_BYTES];
        r.encode(&mut b);
        assert_eq!(FlowRec::decode(&b), r);
        let r = FlowRec {
            src: None,
            dst: None,
            kind: RecKind::Other,
            ..r
        };
        r.encode(&mut b);
        assert_eq!(FlowRec::decode(&b), r);
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
            e.descr_mut().source = "radius_detail".into();
            e.cold_mut().dst_ip = None;
            e.cold_mut().session_id = sid.map(str::to_string);
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
        vpn.descr_mut().source = "fortigate".into();
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
        assert_eq!(
            (st.get(7).unwrap().src, st.get(7).unwrap().station),
            (None, 0)
        );
        assert_eq!(st.get(0).unwrap().kind, RecKind::Accounting);
        assert_eq!(st.get(0).unwrap().dst, Some("10.8.0.2".parse().unwrap()));
        assert_eq!(st.get(5).unwrap().kind, RecKind::Vpn);
        assert_eq!(st.get(5).unwrap().dst, Some("10.9.0.7".parse().unwrap()));
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
