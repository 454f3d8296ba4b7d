//! The timeline in bounded memory: parsed events become sorted runs on disk, and one k-way
//! merge writes the hash-chained `timeline.jsonl` and `timeline.csv` from them.
//!
//! Each event is serialized, hashed and rendered as a CSV row once, by the parsing thread,
//! so the merge (one thread, because the chain is sequential) only copies bytes. A run holds
//! the events of one evidence item: inside it the order is (time, record); across runs the
//! merge adds the item's rank by (source, path), which gives the timeline order
//! (time, source, evidence path, record) without knowing every file before spilling.
//!
//! De-duplication happens in the merge. Two copies of one event share their timestamp to the
//! second (the key includes it), so only the events of the current second are held back;
//! a second with more than [`GROUP_CAP_BYTES`] of events is flushed early, and copies beyond
//! that point stay separate (a timeline never has that many same-second exports of one
//! sign-in; the cap only keeps hostile input inside the memory bound).

use super::{dedup, export, GENESIS};
use crate::event::Event;
use sha2::{Digest, Sha256};
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// How often the merge reports progress, in events.
pub const TICK: u64 = 1 << 16;

/// Events of one second held back for de-duplication before they are written anyway.
pub const GROUP_CAP_BYTES: usize = 32 << 20;

/// One event ready for the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Rec {
    pub time_us: i64,
    pub record_no: u64,
    /// Cross-export identity (see [`dedup`]); `None` never merges.
    pub dedup: Option<String>,
    pub sha256: [u8; 32],
    /// Canonical event JSON.
    pub json: String,
    /// The event's `timeline.csv` row, newline included.
    pub csv: Vec<u8>,
    /// The event as a compact record (`flowstore::wire`), when the analysis holds it so:
    /// the merge stores it by timeline line (`merge_flows`).
    pub flow: Option<Vec<u8>>,
}

impl Rec {
    /// What the record costs towards [`GROUP_CAP_BYTES`]. Its compact record (`flow`, tens
    /// of bytes) is left out: where a crowded second is cut decides which copies fold, and
    /// that must not depend on whether the analysis holds events compactly.
    fn heap_bytes(&self) -> usize {
        self.json.len() + self.csv.len() + self.dedup.as_ref().map_or(0, String::len) + 120
    }
}

/// Turns events into [`Rec`]s: one CSV writer reused for every row.
pub struct Renderer {
    csv: csv::Writer<Vec<u8>>,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer {
            csv: csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::with_capacity(1024)),
        }
    }
}

impl Renderer {
    /// One event as a [`Rec`] (the merge's re-rendering of a folded event).
    pub fn render(&mut self, e: &Event) -> std::io::Result<Rec> {
        let mut bytes = Vec::new();
        self.render_into(e, &mut bytes)?;
        read_rec(&mut &bytes[..])?.ok_or_else(|| std::io::Error::other("empty rendering"))
    }

    /// Append one event to `out` as a run record (the layout [`read_rec`] reads): its sort
    /// key, de-duplication key, SHA-256, canonical JSON and CSV row, rendered straight into
    /// `out` (no allocation per event). Returns the SHA-256.
    pub fn render_into(&mut self, e: &Event, out: &mut Vec<u8>) -> std::io::Result<[u8; 32]> {
        self.render_into_with(e, None, out)
    }

    /// [`Renderer::render_into`], carrying the event's compact record (`flow`) to the merge.
    pub fn render_into_with(
        &mut self,
        e: &Event,
        flow: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> std::io::Result<[u8; 32]> {
        out.extend_from_slice(&e.time.timestamp_micros().to_le_bytes());
        out.extend_from_slice(&e.provenance.record_no.to_le_bytes());
        match dedup::key_string(e) {
            None => out.push(0),
            Some(k) => {
                out.push(1);
                put_bytes(out, k.as_bytes())?;
            }
        }
        let sha_at = out.len();
        out.extend_from_slice(&[0; 32]);
        let len_at = out.len();
        out.extend_from_slice(&[0; 8]);
        // The same bytes as `Event::canonical_json` (serde_json's compact writer), written in
        // place; the tests hold the two together.
        serde_json::to_writer(&mut *out, e).map_err(std::io::Error::other)?;
        let json = &out[len_at + 8..];
        let sha256: [u8; 32] = Sha256::digest(json).into();
        let json_len = json.len() as u64;
        out[sha_at..sha_at + 32].copy_from_slice(&sha256);
        out[len_at..len_at + 8].copy_from_slice(&json_len.to_le_bytes());
        let mut hex = [0u8; 64];
        // 32 bytes encode to exactly 64.
        let _ = hex::encode_to_slice(sha256, &mut hex);
        let row = self.csv_row(e, std::str::from_utf8(&hex).unwrap_or_default());
        put_bytes(out, row)?;
        match flow {
            None => out.push(0),
            Some(f) => {
                out.push(1);
                put_bytes(out, f)?;
            }
        }
        self.reset_csv_now_and_then();
        Ok(sha256)
    }

    /// The event's CSV row, valid until the next call.
    fn csv_row(&mut self, e: &Event, sha: &str) -> &[u8] {
        // Writing to a Vec cannot fail; a row that still did would only lose its CSV view,
        // never the event (the JSON line is the evidence).
        let start = self.csv.get_ref().len();
        let _ = export::csv_row(&mut self.csv, e, sha);
        let _ = self.csv.flush();
        &self.csv.get_ref()[start..]
    }

    fn reset_csv_now_and_then(&mut self) {
        // csv::Writer lends no `&mut` to its buffer: start a fresh one now and then.
        if self.csv.get_ref().len() > 1 << 20 {
            *self = Renderer::default();
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpillError + '_ {
    move |source| SpillError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Most a sink reserves up front for its records (larger budgets grow as needed).
const MAX_ARENA_RESERVE: usize = 256 << 20;

/// Collects one evidence item's events and writes them out as sorted runs of at most
/// `budget` bytes each.
pub struct RunSink {
    dir: PathBuf,
    item: usize,
    budget: usize,
    /// Rendered records back to back, each already in the run file's layout.
    arena: Vec<u8>,
    /// Sort key and place in `arena` of each record: (time, record number, start, end).
    index: Vec<(i64, u64, usize, usize)>,
    pub runs: Vec<PathBuf>,
    renderer: Renderer,
}

impl RunSink {
    pub fn new(dir: &Path, item: usize, budget: usize) -> Self {
        RunSink {
            dir: dir.to_path_buf(),
            item,
            budget: budget.max(1),
            arena: Vec::new(),
            index: Vec::new(),
            runs: Vec::new(),
            renderer: Renderer::default(),
        }
    }

    /// Render and hold one event; returns the SHA-256 of its canonical JSON.
    pub fn push(&mut self, e: &Event) -> Result<[u8; 32], SpillError> {
        self.push_with(e, None)
    }

    /// [`RunSink::push`], carrying the event's compact record (`flow`) to the merge.
    pub fn push_with(&mut self, e: &Event, flow: Option<&[u8]>) -> Result<[u8; 32], SpillError> {
        if self.arena.capacity() == 0 {
            // Reserved once, so the arena never grows by copying itself (which would hold
            // the old and the new buffer at once); pages count only once written.
            self.arena
                .reserve(self.budget.min(MAX_ARENA_RESERVE) + (64 << 10));
        }
        let start = self.arena.len();
        let sha = self
            .renderer
            .render_into_with(e, flow, &mut self.arena)
            .map_err(io(&self.dir))?;
        self.index.push((
            e.time.timestamp_micros(),
            e.provenance.record_no,
            start,
            self.arena.len(),
        ));
        if self.arena.len() + 32 * self.index.len() >= self.budget {
            self.spill()?;
        }
        Ok(sha)
    }

    /// Write what is held as one sorted run.
    pub fn spill(&mut self) -> Result<(), SpillError> {
        if self.index.is_empty() {
            return Ok(());
        }
        // Exports are often newest-first (Graph) or in order already; sort_by is adaptive,
        // and stable, so equal keys keep the order they came in.
        self.index.sort_by_key(|&(t, r, _, _)| (t, r));
        let path = self
            .dir
            .join(format!("run-{:06}-{:04}.bin", self.item, self.runs.len()));
        let f = File::create(&path).map_err(io(&path))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        for &(_, _, start, end) in &self.index {
            w.write_all(&self.arena[start..end]).map_err(io(&path))?;
        }
        w.flush().map_err(io(&path))?;
        self.runs.push(path);
        self.index.clear();
        self.arena.clear();
        Ok(())
    }

    pub fn finish(mut self) -> Result<Vec<PathBuf>, SpillError> {
        self.spill()?;
        Ok(self.runs)
    }
}

fn put_bytes<W: Write>(w: &mut W, b: &[u8]) -> std::io::Result<()> {
    w.write_all(&(b.len() as u64).to_le_bytes())?;
    w.write_all(b)
}

fn get_u64<R: Read>(r: &mut R) -> std::io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn get_bytes<R: Read>(r: &mut R) -> std::io::Result<Vec<u8>> {
    let n = get_u64(r)?;
    // Read into fresh capacity rather than zeroing it first; a short run file is an error.
    let mut v = Vec::with_capacity(n.min(1 << 30) as usize);
    r.take(n).read_to_end(&mut v)?;
    if v.len() as u64 != n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(v)
}

fn utf8(v: Vec<u8>) -> std::io::Result<String> {
    String::from_utf8(v).map_err(std::io::Error::other)
}

/// The next record of a run, `None` at its end.
fn read_rec<R: Read>(r: &mut R) -> std::io::Result<Option<Rec>> {
    let mut b = [0u8; 8];
    match r.read_exact(&mut b) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let time_us = i64::from_le_bytes(b);
    let record_no = get_u64(r)?;
    let mut flag = [0u8; 1];
    r.read_exact(&mut flag)?;
    let dedup = match flag[0] {
        0 => None,
        _ => Some(utf8(get_bytes(r)?)?),
    };
    let mut sha256 = [0u8; 32];
    r.read_exact(&mut sha256)?;
    let json = utf8(get_bytes(r)?)?;
    let csv = get_bytes(r)?;
    r.read_exact(&mut flag)?;
    let flow = match flag[0] {
        0 => None,
        _ => Some(get_bytes(r)?),
    };
    Ok(Some(Rec {
        time_us,
        record_no,
        dedup,
        sha256,
        json,
        csv,
        flow,
    }))
}

/// A run file read once, front to back, whose read part is given back as it goes: the
/// merge writes the timeline as fast as it reads the runs, and without this the runs' pages
/// (already read, never to be read again) stay dirty in the page cache beside the new ones
/// until the runs are removed. Dirty data beyond the kernel's threshold throttles every
/// writer to the disk's pace, and the runs would be written to disk for nothing. Freeing
/// each read MiB (a hole punched in the file) keeps the dirty set at about the size of the
/// timeline written so far. Where the file system cannot punch holes, it is read as is.
struct Consumed {
    f: File,
    read: u64,
    freed: u64,
    punch: bool,
}

/// How much is read before it is given back.
const FREE_EVERY: u64 = 1 << 20;

impl Consumed {
    fn open(path: &Path) -> std::io::Result<Self> {
        // Read-write only to punch holes; a run that cannot be opened so is still read.
        let (f, punch) = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
        {
            Ok(f) => (f, cfg!(target_os = "linux")),
            Err(_) => (File::open(path)?, false),
        };
        Ok(Consumed {
            f,
            read: 0,
            freed: 0,
            punch,
        })
    }

    #[cfg(target_os = "linux")]
    fn free_read_part(&mut self) {
        use std::os::fd::AsRawFd;
        let end = self.read & !(FREE_EVERY - 1);
        if end <= self.freed {
            return;
        }
        // SAFETY: fallocate on our own open descriptor; the range is inside the file and
        // already read, so nothing that is still needed is dropped.
        let rc = unsafe {
            libc::fallocate(
                self.f.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                self.freed as libc::off_t,
                (end - self.freed) as libc::off_t,
            )
        };
        if rc == 0 {
            self.freed = end;
        } else {
            self.punch = false;
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn free_read_part(&mut self) {}
}

impl Read for Consumed {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.f.read(buf)?;
        self.read += n as u64;
        if self.punch && self.read - self.freed >= FREE_EVERY {
            self.free_read_part();
        }
        Ok(n)
    }
}

/// A run to merge: its file and the rank of its evidence item in (source, path) order.
pub struct Run {
    pub path: PathBuf,
    pub rank: usize,
}

struct Head {
    rec: Rec,
    rank: usize,
    run: usize,
}

impl Head {
    fn key(&self) -> (i64, usize, u64) {
        (self.rec.time_us, self.rank, self.rec.record_no)
    }
}

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.key() == o.key()
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    // Reversed: BinaryHeap is a max-heap and the merge wants the smallest key first.
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        o.key().cmp(&self.key())
    }
}

/// What the merge wrote.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged {
    pub events: u64,
    pub duplicates_merged: u64,
    pub head: String,
    /// Events written, minus folded copies, that carried an assumed zone: (source, zone) → n.
    pub folded_assumed_zones: HashMap<(String, String), u64>,
    /// Every fold, so a caller holding the events can apply the same merge.
    pub folds: Vec<Fold>,
    /// SHA-256 (hex) and length of the JSON lines and of the CSV (header included), as
    /// written.
    pub jsonl_sha256: String,
    pub jsonl_bytes: u64,
    pub csv_sha256: String,
    pub csv_bytes: u64,
    /// Byte offset in the JSON lines of every [`LINE_INDEX_EVERY`]th line (line 0 first):
    /// lets a reader seek near a wanted line instead of reading the timeline from the top.
    pub line_starts: Vec<u64>,
}

/// Lines between two entries of [`Merged::line_starts`]: 5 M events index in 40 KB.
pub const LINE_INDEX_EVERY: u64 = 1024;

/// One de-duplication: the copies at `dropped` were folded into the event at `kept`, in
/// this order, and the kept event now hashes to `sha256`. Places are (rank, record number).
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub kept: (usize, u64),
    pub dropped: Vec<(usize, u64)>,
    pub sha256: [u8; 32],
    /// Per dropped copy (same order), the provenances it gave the kept one when the copy
    /// was a compact record (`Rec::flow`), which the caller does not hold as an event;
    /// empty for a copy the caller holds.
    pub seen: Vec<Vec<crate::event::Provenance>>,
}

/// Merge sorted runs into the chained JSON lines and the CSV rows (header included).
pub fn merge<J: Write + Send, C: Write + Send>(
    runs: &[Run],
    jsonl: J,
    csv: C,
) -> Result<Merged, SpillError> {
    merge_with(runs, jsonl, csv, &mut |_| {})
}

/// [`merge`], calling `tick` with the number of events read every [`TICK`] events (for a
/// progress bar).
pub fn merge_with<J: Write + Send, C: Write + Send>(
    runs: &[Run],
    jsonl: J,
    csv: C,
    tick: &mut dyn FnMut(u64),
) -> Result<Merged, SpillError> {
    merge_flows(runs, jsonl, csv, tick, &mut |_, _, _| Ok(()))
}

/// Called by the merge with each event it writes, in line order: its timeline line (from
/// 0), its item's rank, and the record (with its hash, and its compact form if it has one:
/// [`Rec::flow`]).
pub type OnFlow<'f> = dyn FnMut(u64, usize, &Rec) -> std::io::Result<()> + 'f;

/// [`merge_with`], handing every written record (compact ones and the others, whose hashes
/// `irpack run` keeps) to `on_flow` with its timeline line, in line order.
pub fn merge_flows<J: Write + Send, C: Write + Send>(
    runs: &[Run],
    jsonl: J,
    csv: C,
    tick: &mut dyn FnMut(u64),
    on_flow: &mut OnFlow<'_>,
) -> Result<Merged, SpillError> {
    let mut readers = Vec::with_capacity(runs.len());
    let mut heap = BinaryHeap::with_capacity(runs.len());
    let buffer = merge_buffer(runs.len());
    for (i, run) in runs.iter().enumerate() {
        let f = Consumed::open(&run.path).map_err(io(&run.path))?;
        let mut r = BufReader::with_capacity(buffer, f);
        if let Some(rec) = read_rec(&mut r).map_err(io(&run.path))? {
            heap.push(Head {
                rec,
                rank: run.rank,
                run: i,
            });
        }
        readers.push(r);
    }
    let timeline = || io(Path::new("timeline"));
    with_writer(jsonl, csv, on_flow, |out| {
        let mut group: Vec<(usize, Rec)> = Vec::new();
        let mut group_second = i64::MIN;
        let mut group_bytes = 0usize;
        let mut read = 0u64;
        while let Some(Head { rec, rank, run }) = heap.pop() {
            read += 1;
            if read.is_multiple_of(TICK) {
                tick(TICK);
            }
            if let Some(next) = read_rec(&mut readers[run]).map_err(io(&runs[run].path))? {
                heap.push(Head {
                    rec: next,
                    rank: runs[run].rank,
                    run,
                });
            }
            let second = rec.time_us.div_euclid(1_000_000);
            if second != group_second || group_bytes >= GROUP_CAP_BYTES {
                out.group(std::mem::take(&mut group)).map_err(timeline())?;
                group_second = second;
                group_bytes = 0;
            }
            group_bytes += rec.heap_bytes();
            group.push((rank, rec));
        }
        out.group(group).map_err(timeline())
    })
    .map_err(|e| match e {
        WriteError::Merge(e) => e,
        WriteError::Io(e) => timeline()(e),
    })
}

/// All the merge's read buffers together, while each stays within
/// [`MERGE_BUFFER_MIN`]..=[`MERGE_BUFFER_MAX`].
pub const MERGE_BUFFERS_BYTES: usize = 16 << 20;
pub const MERGE_BUFFER_MIN: usize = 16 << 10;
pub const MERGE_BUFFER_MAX: usize = 64 << 10;

/// The read buffer of each of `runs` runs. One buffer per run, and a 4 GiB collection
/// writes ~750 runs (11.5 GB of rendered events in 16 MiB runs, plus each item's last):
/// 64 KiB each held 47 MB beside the held events, so the buffers share a fixed budget
/// instead (~22 KiB each there; 256 KiB each once held 128 MB). The runs are
/// read back from the page cache, where a smaller read costs a system call, not a seek.
pub fn merge_buffer(runs: usize) -> usize {
    (MERGE_BUFFERS_BYTES / runs.max(1)).clamp(MERGE_BUFFER_MIN, MERGE_BUFFER_MAX)
}

/// Merge sorted in-memory runs (tests, small inputs): the same output as [`merge`].
pub fn merge_recs<J: Write + Send, C: Write + Send>(
    mut recs: Vec<(usize, Rec)>,
    jsonl: J,
    csv: C,
) -> std::io::Result<Merged> {
    recs.sort_by_key(|(rank, r)| (r.time_us, *rank, r.record_no));
    with_writer(jsonl, csv, &mut |_, _, _| Ok(()), |out| {
        let mut group: Vec<(usize, Rec)> = Vec::new();
        let mut group_second = i64::MIN;
        for (rank, rec) in recs {
            let second = rec.time_us.div_euclid(1_000_000);
            if second != group_second {
                out.group(std::mem::take(&mut group))?;
                group_second = second;
            }
            group.push((rank, rec));
        }
        out.group(group)
    })
    .map_err(|e| match e {
        WriteError::Merge(e) | WriteError::Io(e) => e,
    })
}

/// Bytes handed to the output thread at a time (each file's share).
const OUT_CHUNK: usize = 1 << 20;

/// Why [`with_writer`] failed: the merge's own error, or writing the files.
enum WriteError<E> {
    Merge(E),
    Io(std::io::Error),
}

/// Run `merge` with a [`Writer`] whose bytes output threads write to `jsonl` and `csv` and
/// hash: the merge thread only merges, renders lines and chains (the chain is sequential; the
/// writing and hashing need not wait for it). Copying into the page cache is the slowest part
/// of the merge (writing a file costs far more than reading it back), so the JSON lines,
/// about 85% of the bytes, are written on one thread and hashed on another, and the CSV is
/// written and hashed on a third.
fn with_writer<J: Write + Send, C: Write + Send, E>(
    jsonl: J,
    csv: C,
    on_flow: &mut OnFlow<'_>,
    merge: impl FnOnce(&mut Writer) -> Result<(), E>,
) -> Result<Merged, WriteError<E>> {
    // Two chunks in flight per stage besides the one being filled; spent buffers come back
    // for reuse (fresh megabyte buffers would each cost page faults).
    let (j_tx, j_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let (jw_tx, jw_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let (c_tx, c_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
    let (j_spare_tx, j_spare_rx) = std::sync::mpsc::channel();
    let (c_spare_tx, c_spare_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let j_write = s.spawn(move || write_chunks(j_rx, jsonl, |chunk| jw_tx.send(chunk).is_ok()));
        let j_hash = s.spawn(move || {
            hash_chunks(jw_rx, |chunk| {
                // The merge may be done with its spare buffers already.
                let _ = j_spare_tx.send(chunk);
            })
        });
        let c_out = s.spawn(move || {
            let (mut h, mut n) = (Sha256::new(), 0u64);
            write_chunks(c_rx, csv, |mut chunk| {
                h.update(&chunk);
                n += chunk.len() as u64;
                chunk.clear();
                // The merge may be done with its spare buffers already.
                let _ = c_spare_tx.send(chunk);
                true
            })?;
            Ok((hex::encode(h.finalize()), n))
        });
        let mut w = Writer::new(j_tx, c_tx, j_spare_rx, c_spare_rx, on_flow);
        let merged = match merge(&mut w) {
            Ok(()) => w.finish().map_err(WriteError::Io),
            Err(e) => {
                // Closes the channels, so the output threads end.
                drop(w);
                Err(WriteError::Merge(e))
            }
        };
        let panicked = || std::io::Error::other("a timeline output thread panicked");
        // An output thread's error explains a merge that stopped because it quit.
        let j_written = j_write.join().unwrap_or_else(|_| Err(panicked()));
        let j_hashed = j_hash.join().map_err(|_| panicked());
        let c_done = c_out.join().unwrap_or_else(|_| Err(panicked()));
        match (merged, j_written.and(j_hashed), c_done) {
            (Ok(mut m), Ok((j, jn)), Ok((c, cn))) => {
                (m.jsonl_sha256, m.jsonl_bytes) = (j, jn);
                (m.csv_sha256, m.csv_bytes) = (c, cn);
                Ok(m)
            }
            (_, Err(e), _) | (_, _, Err(e)) => Err(WriteError::Io(e)),
            (Err(e), Ok(_), Ok(_)) => Err(e),
        }
    })
}

/// SHA-256 (hex) and length of what was written.
type Written = (String, u64);

/// Write each chunk in order, then pass it on to be hashed (only what was written is
/// hashed); flush at the end. An error returns at once: the closed channel stops the merge.
fn write_chunks<W: Write>(
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    mut out: W,
    mut pass_on: impl FnMut(Vec<u8>) -> bool,
) -> std::io::Result<()> {
    for chunk in chunks {
        out.write_all(&chunk)?;
        if !pass_on(chunk) {
            return Err(std::io::Error::other("the timeline hashing thread stopped"));
        }
    }
    out.flush()
}

/// Hash the chunks in order; each spent buffer goes back for reuse.
fn hash_chunks(
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    mut spare: impl FnMut(Vec<u8>),
) -> Written {
    let mut h = Sha256::new();
    let mut n = 0u64;
    for mut chunk in chunks {
        h.update(&chunk);
        n += chunk.len() as u64;
        chunk.clear();
        spare(chunk);
    }
    (hex::encode(h.finalize()), n)
}

struct Writer<'f> {
    jsonl: Vec<u8>,
    csv: Vec<u8>,
    full_jsonl: std::sync::mpsc::SyncSender<Vec<u8>>,
    full_csv: std::sync::mpsc::SyncSender<Vec<u8>>,
    spare_jsonl: std::sync::mpsc::Receiver<Vec<u8>>,
    spare_csv: std::sync::mpsc::Receiver<Vec<u8>>,
    /// The previous line's chain value (hex).
    prev: [u8; 64],
    /// JSON-lines bytes already handed to the output thread.
    jsonl_sent: u64,
    merged: Merged,
    renderer: Renderer,
    on_flow: &'f mut OnFlow<'f>,
}

impl<'f> Writer<'f> {
    fn new(
        full_jsonl: std::sync::mpsc::SyncSender<Vec<u8>>,
        full_csv: std::sync::mpsc::SyncSender<Vec<u8>>,
        spare_jsonl: std::sync::mpsc::Receiver<Vec<u8>>,
        spare_csv: std::sync::mpsc::Receiver<Vec<u8>>,
        on_flow: &'f mut OnFlow<'f>,
    ) -> Self {
        let mut header = csv::Writer::from_writer(Vec::new());
        // Writing to a Vec cannot fail.
        let _ = export::csv_header(&mut header);
        let _ = header.flush();
        let mut csv = Vec::with_capacity(2 * OUT_CHUNK);
        csv.extend_from_slice(header.get_ref());
        let mut prev = [0u8; 64];
        prev.copy_from_slice(GENESIS.as_bytes());
        Writer {
            jsonl: Vec::with_capacity(2 * OUT_CHUNK),
            csv,
            full_jsonl,
            full_csv,
            spare_jsonl,
            spare_csv,
            prev,
            jsonl_sent: 0,
            merged: Merged::default(),
            renderer: Renderer::default(),
            on_flow,
        }
    }

    /// Hand the filled buffers to the output threads.
    fn send(&mut self) -> std::io::Result<()> {
        let fresh = || Vec::with_capacity(2 * OUT_CHUNK);
        let j = self.spare_jsonl.try_recv().unwrap_or_else(|_| fresh());
        let c = self.spare_csv.try_recv().unwrap_or_else(|_| fresh());
        let stopped = |_| std::io::Error::other("a timeline output thread stopped");
        self.jsonl_sent += self.jsonl.len() as u64;
        self.full_jsonl
            .send(std::mem::replace(&mut self.jsonl, j))
            .map_err(stopped)?;
        self.full_csv
            .send(std::mem::replace(&mut self.csv, c))
            .map_err(stopped)
    }

    /// Write one second's events, folding later copies of an event into its first copy.
    fn group(&mut self, mut recs: Vec<(usize, Rec)>) -> std::io::Result<()> {
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut folds: Vec<(usize, usize)> = Vec::new();
        for (i, (_, r)) in recs.iter().enumerate() {
            if let Some(k) = r.dedup.as_deref() {
                match first.get(k) {
                    Some(&j) => folds.push((j, i)),
                    None => {
                        first.insert(k, i);
                    }
                }
            }
        }
        drop(first);
        let mut dropped = vec![false; recs.len()];
        if !folds.is_empty() {
            // Rare: parse the copies, keep every provenance on the first, re-render it.
            type Kept = (Event, Vec<(usize, u64)>, Vec<Vec<crate::event::Provenance>>);
            let mut kept: std::collections::BTreeMap<usize, Kept> =
                std::collections::BTreeMap::new();
            for &(j, i) in &folds {
                let mut copy: Event = serde_json::from_str(&recs[i].1.json)?;
                if copy.time_zone().contains("assumed") {
                    *self
                        .merged
                        .folded_assumed_zones
                        .entry((copy.source().to_string(), copy.time_zone().to_string()))
                        .or_default() += 1;
                }
                let target = match kept.entry(j) {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => v.insert((
                        serde_json::from_str(&recs[j].1.json)?,
                        Vec::new(),
                        Vec::new(),
                    )),
                };
                let earlier = copy
                    .cold_if_any_mut()
                    .map(|c| std::mem::take(&mut c.also_seen_in))
                    .unwrap_or_default();
                let mut seen = vec![copy.full_provenance()];
                seen.extend(earlier);
                target
                    .0
                    .cold_mut()
                    .also_seen_in
                    .extend(seen.iter().cloned());
                target.1.push((recs[i].0, recs[i].1.record_no));
                // A compact copy is not among the caller's events: it learns its
                // provenances here.
                target.2.push(if recs[i].1.flow.is_some() {
                    seen
                } else {
                    Vec::new()
                });
                dropped[i] = true;
            }
            for (j, (e, gone, seen)) in kept {
                let rank = recs[j].0;
                // A compact record stays one, standing for the folded event.
                let flow = recs[j].1.flow.take();
                recs[j].1 = self.renderer.render(&e)?;
                recs[j].1.flow = flow;
                self.merged.folds.push(Fold {
                    kept: (rank, recs[j].1.record_no),
                    dropped: gone,
                    sha256: recs[j].1.sha256,
                    seen,
                });
            }
            self.merged.duplicates_merged += folds.len() as u64;
        }
        for ((rank, r), gone) in recs.iter().zip(dropped) {
            if !gone {
                self.write(*rank, r)?;
            }
        }
        Ok(())
    }

    fn write(&mut self, rank: usize, r: &Rec) -> std::io::Result<()> {
        // Its line: the events written before it.
        (self.on_flow)(self.merged.events, rank, r)?;
        let mut sha = [0u8; 64];
        // Both buffers are 64 bytes, exactly what 32 bytes encode to.
        let _ = hex::encode_to_slice(r.sha256, &mut sha);
        // `timeline::link` over the hex strings, without allocating them.
        let mut chain = [0u8; 64];
        let mut h = Sha256::new();
        h.update(self.prev);
        h.update(sha);
        let _ = hex::encode_to_slice(h.finalize(), &mut chain);
        if self.merged.events.is_multiple_of(LINE_INDEX_EVERY) {
            self.merged
                .line_starts
                .push(self.jsonl_sent + self.jsonl.len() as u64);
        }
        self.merged.events += 1;
        let j = &mut self.jsonl;
        j.extend_from_slice(b"{\"seq\":");
        j.extend_from_slice(self.merged.events.to_string().as_bytes());
        j.extend_from_slice(b",\"event_sha256\":\"");
        j.extend_from_slice(&sha);
        j.extend_from_slice(b"\",\"prev\":\"");
        j.extend_from_slice(&self.prev);
        j.extend_from_slice(b"\",\"chain\":\"");
        j.extend_from_slice(&chain);
        j.extend_from_slice(b"\",\"event\":");
        j.extend_from_slice(r.json.as_bytes());
        j.extend_from_slice(b"}\n");
        self.csv.extend_from_slice(&r.csv);
        self.prev = chain;
        if self.jsonl.len() >= OUT_CHUNK || self.csv.len() >= OUT_CHUNK {
            self.send()?;
        }
        Ok(())
    }

    fn finish(mut self) -> std::io::Result<Merged> {
        self.send()?;
        self.merged.head = String::from_utf8_lossy(&self.prev).into_owned();
        Ok(self.merged)
    }
}

#[cfg(test)]
mod tests {
    /// The merge's buffers stay within their budget from 256 runs (1 GiB of input writes
    /// ~190) up to 1,024, and no single buffer leaves its bounds.
    #[test]
    fn merge_buffers_share_a_budget() {
        use super::*;
        assert_eq!(merge_buffer(0), MERGE_BUFFER_MAX);
        assert_eq!(merge_buffer(10), MERGE_BUFFER_MAX);
        for runs in [256, 300, 900, 1024] {
            assert!(runs * merge_buffer(runs) <= MERGE_BUFFERS_BYTES, "{runs}");
            assert!(merge_buffer(runs) >= MERGE_BUFFER_MIN);
        }
        assert_eq!(merge_buffer(100_000), MERGE_BUFFER_MIN);
    }

    use super::*;
    use crate::event::{EventClass, Outcome, Provenance};
    use chrono::TimeZone;

    /// A run read through `Consumed` gives every byte back in order, and (where holes can be
    /// punched) the file no longer holds the part already read.
    #[test]
    fn consumed_run_reads_everything_and_frees_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.bin");
        let data: Vec<u8> = (0..(5 * FREE_EVERY as usize + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        std::fs::write(&path, &data).unwrap();
        let mut r = BufReader::with_capacity(64 << 10, Consumed::open(&path).unwrap());
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), data.len() as u64);
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::MetadataExt;
            let c = r.get_ref();
            if c.punch {
                assert_eq!(
                    c.freed,
                    5 * FREE_EVERY,
                    "every whole MiB read is given back"
                );
                // 512-byte blocks still allocated: at most the unread tail and one MiB.
                let left = std::fs::metadata(&path).unwrap().blocks() * 512;
                assert!(left <= 2 * FREE_EVERY, "{left} bytes still allocated");
            }
        }
    }

    fn ev(record_no: u64, req: Option<&str>) -> Event {
        let mut e = Event::new(
            chrono::Utc
                .timestamp_opt(1_710_237_900, 123_456_000)
                .unwrap(),
            "2024-03-12T10:05:00.123456Z",
            "UTC",
            "entra_signin",
            "graph_json",
            EventClass::Authentication,
            "sign_in",
            "Sign-in \"quoted\" ünïcode\n",
            Outcome::Success,
            Provenance {
                evidence_path: "data/evidence/a.json".into(),
                record_no,
                ..Default::default()
            },
        );
        e.user = Some("=alice@contoso.com".into());
        e.cold_mut().request_id = req.map(str::to_string);
        e.extra
            .insert("k", serde_json::json!({"b": [1, "x"], "a": null}));
        e
    }

    /// A record rendered in place reads back as the event's canonical JSON, its SHA-256, its
    /// CSV row and its de-duplication key, whatever came before it in the buffer.
    #[test]
    fn rendered_records_read_back_as_the_event() {
        let mut r = Renderer::default();
        let mut buf = b"earlier bytes".to_vec();
        let events = [ev(7, Some("REQ-1")), ev(8, None)];
        let mut starts = Vec::new();
        for e in &events {
            starts.push(buf.len());
            let sha = r.render_into(e, &mut buf).unwrap();
            assert_eq!(hex::encode(sha), e.hash());
        }
        for (e, &start) in events.iter().zip(&starts) {
            let rec = read_rec(&mut &buf[start..]).unwrap().unwrap();
            assert_eq!(rec.json, e.canonical_json());
            assert_eq!(hex::encode(rec.sha256), e.hash());
            assert_eq!(rec.time_us, e.time.timestamp_micros());
            assert_eq!(rec.record_no, e.provenance.record_no);
            assert_eq!(rec.dedup, dedup::key_string(e));
            let mut w = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            export::csv_row(&mut w, e, &e.hash()).unwrap();
            w.flush().unwrap();
            assert_eq!(rec.csv, w.get_ref().clone());
            assert_eq!(r.render(e).unwrap(), rec);
        }
        // A run file cut short is an error, not a shorter record.
        let end = starts[1] + 40;
        assert!(read_rec(&mut &buf[starts[1]..end]).is_err());
    }
}
