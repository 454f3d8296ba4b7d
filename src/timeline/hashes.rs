//! The hashes of the events `irpack run` holds for the analysis, on disk in the case folder
//! (never in the package), 32 bytes per held event, read back by position.
//!
//! Findings cite events by the hash of their full form, but the analysis holds them trimmed
//! (`analysis::trim_for_analysis`), so that hash cannot be computed from a held event. Kept in
//! each event it cost 33 bytes of every held one (~25 MB at 4 GiB of input); only the cited
//! events' hashes (thousands at most) and the report's are ever read. The merge writes the
//! table as it writes the timeline ([`HashWriter`]): entry `i` is the hash of held event `i`
//! in timeline order. Events held later (compact records read back) bring their hashes with
//! them ([`HashTable::insert`]).

use crate::event::Event;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Bytes per entry.
pub const ENTRY: usize = 32;

/// A failed read of the table: what was concluded since may lack some hashes.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum HashTableError {
    #[error("{path}: reading held events' hashes: {message}")]
    Read { path: String, message: String },
}

/// Writes the table, one entry per held event in timeline order. Where the system allows,
/// the file's name is gone as soon as it is opened (as the compact records' store does), so
/// nothing is left behind in the case folder.
pub struct HashWriter {
    path: PathBuf,
    file: Arc<File>,
    out: std::io::BufWriter<File>,
    count: u64,
}

impl HashWriter {
    pub fn create(path: &Path) -> std::io::Result<HashWriter> {
        let file = super::flowstore::scratch_file(path)?;
        let out = std::io::BufWriter::with_capacity(64 << 10, file.try_clone()?);
        Ok(HashWriter {
            path: path.to_path_buf(),
            file: Arc::new(file),
            out,
            count: 0,
        })
    }

    /// The hash of the next held event.
    pub fn push(&mut self, sha256: &[u8; 32]) -> std::io::Result<()> {
        self.count += 1;
        self.out.write_all(sha256)
    }

    /// Entries written.
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn finish(self) -> std::io::Result<HashTable> {
        self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(HashTable {
            file: Some(self.file),
            path: self.path,
            stored: self.count,
            inserted: Vec::new(),
            error: Mutex::new(None),
        })
    }
}

/// The hashes of held events: entry `i` on disk is that of the `i`th held event not in
/// `inserted`. Without a file (events built or read some other way), each event's own hash
/// is used ([`Event::hash_bytes`]: remembered, or computed from the event as it is).
///
/// A failed read does not stop the analysis (its rules ask for hashes everywhere): it gives
/// a zero hash and is kept, and [`HashTable::error`] reports it; callers check it before
/// writing anything concluded since.
#[derive(Debug, Default)]
pub struct HashTable {
    file: Option<Arc<File>>,
    path: PathBuf,
    /// Entries in the file.
    stored: u64,
    /// Events held after the table was written (compact records read back), by position
    /// among the held events, sorted, with their hashes.
    inserted: Vec<(usize, [u8; 32])>,
    error: Mutex<Option<HashTableError>>,
}

/// Entries read at once by [`HashTable::scan`] (64 KiB).
const SCAN_ENTRIES: usize = 2048;

impl HashTable {
    /// Whether the table is on disk (else events' own hashes are used).
    pub fn is_stored(&self) -> bool {
        self.file.is_some()
    }

    /// Entries on disk.
    pub fn stored(&self) -> u64 {
        self.stored
    }

    /// The first failed read, if any.
    pub fn error(&self) -> Option<HashTableError> {
        self.error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    fn fail(&self, message: String) {
        let mut e = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if e.is_none() {
            *e = Some(HashTableError::Read {
                path: self.path.display().to_string(),
                message,
            });
        }
    }

    /// Where held event `i` is: its hash when it was inserted, else its entry on disk.
    fn slot(&self, i: usize) -> Result<[u8; 32], usize> {
        match self.inserted.binary_search_by_key(&i, |x| x.0) {
            Ok(k) => Ok(self.inserted[k].1),
            Err(k) => Err(i - k),
        }
    }

    /// The hash of held event `i` of `events` (the events this table was written for).
    pub fn hash_of(&self, events: &[Event], i: usize) -> [u8; 32] {
        let slot = match self.slot(i) {
            Ok(h) => return h,
            Err(slot) => slot,
        };
        let Some(file) = &self.file else {
            return events.get(i).map(Event::hash_bytes).unwrap_or_default();
        };
        let mut h = [0u8; 32];
        match read_at(file, slot, &mut h, self.stored) {
            Ok(()) => h,
            Err(m) => {
                self.fail(m);
                [0; 32]
            }
        }
    }

    /// [`HashTable::hash_of`] in lower-case hex, as findings cite it.
    pub fn hex_of(&self, events: &[Event], i: usize) -> String {
        hex::encode(self.hash_of(events, i))
    }

    /// Call `f(i, hash)` for every held event in `range`, in order, reading the table a
    /// block at a time (without a file, the events are hashed a block at a time in
    /// parallel).
    pub fn scan(
        &self,
        events: &[Event],
        range: std::ops::Range<usize>,
        mut f: impl FnMut(usize, [u8; 32]),
    ) {
        use rayon::prelude::*;
        let end = range.end.min(events.len());
        let mut at = range.start;
        let mut buf = vec![0u8; SCAN_ENTRIES * ENTRY];
        while at < end {
            let to = (at + SCAN_ENTRIES).min(end);
            match &self.file {
                None => {
                    let hs: Vec<[u8; 32]> = (at..to)
                        .into_par_iter()
                        .map(|i| match self.slot(i) {
                            Ok(h) => h,
                            Err(_) => events[i].hash_bytes(),
                        })
                        .collect();
                    for (k, h) in hs.into_iter().enumerate() {
                        f(at + k, h);
                    }
                }
                Some(file) => {
                    // The entries of the events in [at, to) that are not inserted: one
                    // contiguous stretch of the file.
                    let first = self.slot_at_or_after(at);
                    let last = self.slot_at_or_after(to);
                    let n = last - first;
                    let ok = match read_block(file, first, &mut buf[..n * ENTRY], self.stored) {
                        Ok(()) => true,
                        Err(m) => {
                            self.fail(m);
                            false
                        }
                    };
                    for i in at..to {
                        match self.slot(i) {
                            Ok(h) => f(i, h),
                            Err(s) if ok => {
                                let mut h = [0u8; 32];
                                let o = (s - first) * ENTRY;
                                h.copy_from_slice(&buf[o..o + ENTRY]);
                                f(i, h)
                            }
                            Err(_) => f(i, [0; 32]),
                        }
                    }
                }
            }
            at = to;
        }
    }

    /// The entry of the first event at or after position `i` that is not inserted.
    fn slot_at_or_after(&self, i: usize) -> usize {
        i - self.inserted.partition_point(|x| x.0 < i)
    }

    /// After `new.len()` events were appended to the `old_len` held ones and then all were
    /// reordered so that event `k` is the one that was at `order[k]` (`None`: not
    /// reordered): the appended ones' hashes, and every event's place, follow. The events
    /// the table holds must keep their order among themselves.
    pub fn insert(&mut self, old_len: usize, new: &[[u8; 32]], order: Option<&[usize]>) {
        match order {
            None => self
                .inserted
                .extend(new.iter().enumerate().map(|(k, h)| (old_len + k, *h))),
            Some(order) => {
                let old = std::mem::take(&mut self.inserted);
                for (k, &o) in order.iter().enumerate() {
                    if o >= old_len {
                        if let Some(h) = new.get(o - old_len) {
                            self.inserted.push((k, *h));
                        }
                    } else if let Ok(p) = old.binary_search_by_key(&o, |x| x.0) {
                        self.inserted.push((k, old[p].1));
                    }
                }
            }
        }
    }

    /// Events held after the table was written.
    pub fn inserted(&self) -> usize {
        self.inserted.len()
    }
}

fn read_at(file: &File, slot: usize, h: &mut [u8; 32], stored: u64) -> Result<(), String> {
    read_block(file, slot, h, stored)
}

/// Entries from `slot` on into `buf` (a whole number of entries).
fn read_block(file: &File, slot: usize, buf: &mut [u8], stored: u64) -> Result<(), String> {
    let n = (buf.len() / ENTRY) as u64;
    if slot as u64 + n > stored {
        return Err(format!(
            "entries {slot}..{} asked for, {stored} written",
            slot as u64 + n
        ));
    }
    if buf.is_empty() {
        return Ok(());
    }
    super::flowstore::read_at(file, buf, slot as u64 * ENTRY as u64).map_err(|e| e.to_string())
}

/// Held events with where their hashes are, for code that holds an event by reference
/// (classification and regulatory flags filter and group `&Event`s): finds its position by
/// its address in the slice, then its hash in the table. An event from elsewhere, or any
/// without a table, gives its own hash ([`Event::hash_bytes`]).
#[derive(Clone, Copy)]
pub struct Cite<'a> {
    events: &'a [Event],
    table: Option<&'a HashTable>,
}

impl<'a> Cite<'a> {
    pub fn new(events: &'a [Event], table: Option<&'a HashTable>) -> Self {
        Cite { events, table }
    }

    /// The position of `e` in the held events, if it is one of them.
    pub fn position(&self, e: &Event) -> Option<usize> {
        let size = std::mem::size_of::<Event>();
        let base = self.events.as_ptr() as usize;
        let at = (e as *const Event as usize).checked_sub(base)?;
        (at % size == 0 && at / size < self.events.len()).then_some(at / size)
    }

    pub fn hash_bytes(&self, e: &Event) -> [u8; 32] {
        match (self.table, self.position(e)) {
            (Some(t), Some(i)) => t.hash_of(self.events, i),
            _ => e.hash_bytes(),
        }
    }

    /// What findings cite: [`Cite::hash_bytes`] in lower-case hex.
    pub fn hash(&self, e: &Event) -> String {
        hex::encode(self.hash_bytes(e))
    }

    /// Call `f(event, hash)` for the held events `keep` accepts, reading their hashes in
    /// order a block at a time.
    pub fn scan(
        &self,
        keep: impl Fn(&Event) -> bool + Sync,
        mut f: impl FnMut(&'a Event, [u8; 32]),
    ) {
        let events = self.events;
        match self.table {
            Some(t) if t.is_stored() => {
                // Only the stretch from the first to the last kept event is read.
                let Some(lo) = events.iter().position(&keep) else {
                    return;
                };
                let hi = events.iter().rposition(&keep).map_or(lo, |i| i + 1);
                t.scan(events, lo..hi, |i, h| {
                    if keep(&events[i]) {
                        f(&events[i], h)
                    }
                });
            }
            _ => {
                use rayon::prelude::*;
                let hs: Vec<(usize, [u8; 32])> = events
                    .par_iter()
                    .enumerate()
                    .filter(|(_, e)| keep(e))
                    .map(|(i, e)| (i, self.hash_bytes(e)))
                    .collect();
                for (i, h) in hs {
                    f(&events[i], h)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventClass, Outcome, Provenance};

    fn ev(n: i64) -> Event {
        Event::new(
            chrono::DateTime::from_timestamp(1_700_000_000 + n, 0).unwrap(),
            "t",
            "UTC",
            "entra_signin",
            "graph_json",
            EventClass::Authentication,
            "sign_in",
            "op",
            Outcome::Success,
            Provenance::default(),
        )
    }

    fn h(n: u8) -> [u8; 32] {
        [n; 32]
    }

    /// Entry i is held event i; events read back later are placed among them by the
    /// reordering that put them in line order, and every other event keeps its entry.
    #[test]
    fn entries_follow_their_events_through_insertions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hashes.bin");
        let mut w = HashWriter::create(&path).unwrap();
        for n in 1..=5000u32 {
            w.push(&h((n % 251) as u8)).unwrap();
        }
        assert_eq!(w.len(), 5000);
        let mut t = w.finish().unwrap();
        #[cfg(unix)]
        assert!(!path.exists(), "no name left in the folder");
        let events: Vec<Event> = (0..5003).map(ev).collect();
        assert_eq!(t.hash_of(&events, 0), h(1));
        assert_eq!(t.hash_of(&events, 4999), h((5000 % 251) as u8));
        // Three appended, then ordered: event k is the one that was at order[k]. The new
        // ones (5000, 5001, 5002) land at 0, 2500 and the end.
        let mut order: Vec<usize> = vec![5000];
        order.extend(0..2499);
        order.push(5001);
        order.extend(2499..5000);
        order.push(5002);
        t.insert(5000, &[h(252), h(253), h(254)], Some(&order));
        assert_eq!(t.inserted(), 3);
        let want = |k: usize| -> [u8; 32] {
            match order[k] {
                5000 => h(252),
                5001 => h(253),
                5002 => h(254),
                o => h(((o + 1) % 251) as u8),
            }
        };
        for k in 0..5003 {
            assert_eq!(t.hash_of(&events, k), want(k), "event {k}");
        }
        let mut seen = Vec::new();
        t.scan(&events, 0..5003, |i, x| seen.push((i, x)));
        assert_eq!(seen.len(), 5003);
        assert!(seen.iter().all(|&(i, x)| x == want(i)));
        // Appended without reordering, twice.
        let events: Vec<Event> = (0..5005).map(ev).collect();
        t.insert(5003, &[h(7)], None);
        t.insert(5004, &[h(8)], None);
        assert_eq!(t.hash_of(&events, 5003), h(7));
        assert_eq!(t.hash_of(&events, 5004), h(8));
        assert_eq!(t.hash_of(&events, 4000), want(4000));
        assert!(t.error().is_none());
    }

    /// An entry past the end is an error naming the file, never a panic; the read gives a
    /// zero hash and the first error is kept.
    #[test]
    fn a_short_table_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hashes.bin");
        let mut w = HashWriter::create(&path).unwrap();
        w.push(&h(1)).unwrap();
        let t = w.finish().unwrap();
        let events: Vec<Event> = (0..3).map(ev).collect();
        assert_eq!(t.hash_of(&events, 0), h(1));
        assert_eq!(t.hash_of(&events, 2), [0; 32]);
        let e = t.error().expect("the read failed");
        assert!(e.to_string().contains("hashes.bin"), "{e}");
        let mut n = 0;
        t.scan(&events, 0..3, |_, x| {
            assert_eq!(x, [0; 32]);
            n += 1;
        });
        assert_eq!(n, 3);
    }

    /// Without a table the events' own hashes answer; `Cite` finds an event's position by
    /// reference and falls back for an event that is not one of them.
    #[test]
    fn without_a_table_events_hash_themselves() {
        let events: Vec<Event> = (0..4).map(ev).collect();
        let t = HashTable::default();
        assert!(!t.is_stored());
        for (i, e) in events.iter().enumerate() {
            assert_eq!(t.hash_of(&events, i), e.hash_bytes());
        }
        let dir = tempfile::tempdir().unwrap();
        let mut w = HashWriter::create(&dir.path().join("h.bin")).unwrap();
        for n in 0..4 {
            w.push(&h(n)).unwrap();
        }
        let t = w.finish().unwrap();
        let cite = Cite::new(&events, Some(&t));
        assert_eq!(cite.position(&events[3]), Some(3));
        assert_eq!(cite.hash_bytes(&events[2]), h(2));
        let other = ev(9);
        assert_eq!(cite.position(&other), None);
        assert_eq!(cite.hash_bytes(&other), other.hash_bytes());
        let mut got = Vec::new();
        cite.scan(
            |e| e.time.timestamp() % 2 == 1,
            |e, x| got.push((e.time, x)),
        );
        assert_eq!(got, [(events[1].time, h(1)), (events[3].time, h(3))]);
    }
}
