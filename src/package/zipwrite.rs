//! Deterministic ZIP writing: entries sorted by name, every entry stamped with the clock,
//! mode 0644, deflate at a fixed level; written under a temporary name and renamed only
//! when complete, so a package on disk is always whole.
//!
//! Members are cut into blocks of [`BLOCK_BYTES`] and the blocks deflated in parallel, pigz
//! style: each block is an independent raw deflate stream ended by a sync flush (the last
//! block of a member by the final block), so their concatenation is one valid deflate stream,
//! and the block CRC-32s combine into the member's. The cut points depend only on the member's
//! length, never on the thread count or on which thread finished first, so the same bag gives
//! the same bytes on any machine. One large member (the timeline) keeps every core busy, and
//! nothing is written twice: blocks go straight into the package in name order.
//!
//! The container is written here rather than by the `zip` crate, which cannot take data
//! already compressed: local headers without data descriptors (a multi-block member's sizes
//! and CRC are patched in when it ends), one central directory, and ZIP64 records only where
//! a size or offset needs them (APPNOTE 6.3.x, 4.3.9, 4.5.3).

use super::bagit::{Bag, Content, Entry};
use chrono::{DateTime, Datelike, Timelike, Utc};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Mutex;

/// Fixed deflate level: a different level gives different bytes. Level 1, as `zip -1`: the
/// package is dominated by evidence and timeline text, where higher levels cost far more time
/// than they save bytes.
pub const DEFLATE_LEVEL: u32 = 1;

/// Uncompressed bytes per independently deflated block. Fixed, because the cut points shape
/// the compressed bytes. Each block starts without the previous one's history; at 4 MiB that
/// costs about 0.1% in size on timeline text (1 MiB: 0.5%), and blocks in flight stay a few
/// tens of MiB.
pub const BLOCK_BYTES: usize = 4 << 20;

/// Blocks read ahead of the writer, per worker thread (memory: this many blocks in and out).
const BLOCKS_PER_WORKER: usize = 2;
/// At most this many blocks in flight, whatever the thread count.
const MAX_BLOCKS_IN_FLIGHT: usize = 8;

const THR: u64 = u32::MAX as u64;
const MODE: u32 = 0o100644;
const UNIX: u16 = 3;
const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
const END64_SIG: u32 = 0x0606_4b50;
const LOCATOR64_SIG: u32 = 0x0706_4b50;
const ZIP64_TAG: u16 = 0x0001;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;

#[derive(Debug, thiserror::Error)]
pub enum ZipWriteError {
    #[error("{path}: exists; use --force to replace it")]
    Exists { path: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Zip { path: String, message: String },
}

/// The clock as a ZIP (DOS) time: clamped to 1980–2107, seconds rounded down to even.
pub fn zip_time(t: DateTime<Utc>) -> zip::DateTime {
    let year = t.year().clamp(1980, 2107) as u16;
    let (mo, d, h, mi, s) = if (1980..=2107).contains(&t.year()) {
        (
            t.month() as u8,
            t.day() as u8,
            t.hour() as u8,
            t.minute() as u8,
            (t.second() as u8) & !1,
        )
    } else if t.year() < 1980 {
        (1, 1, 0, 0, 0)
    } else {
        (12, 31, 23, 59, 58)
    };
    zip::DateTime::from_date_and_time(year, mo, d, h, mi, s).unwrap_or_default()
}

/// Write `bag` as `<dest>` (entries `<bag.name>/<path>`); returns the ZIP's SHA-256 and size.
pub fn write_bag_zip(
    bag: &Bag,
    dest: &Path,
    clock: DateTime<Utc>,
    force: bool,
) -> Result<(String, u64), ZipWriteError> {
    write_bag_zip_with(bag, dest, clock, force, &indicatif::ProgressBar::hidden())
}

/// [`write_bag_zip`], advancing `bar` by each block's size as it is written.
pub fn write_bag_zip_with(
    bag: &Bag,
    dest: &Path,
    clock: DateTime<Utc>,
    force: bool,
    bar: &indicatif::ProgressBar,
) -> Result<(String, u64), ZipWriteError> {
    if dest.exists() && !force {
        return Err(ZipWriteError::Exists {
            path: dest.display().to_string(),
        });
    }
    let tmp = temp_name(dest);
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| ZipWriteError::Io { path: p, source }
    };
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io(&tmp))
        .and_then(|f| {
            let opts = Layout {
                workers: rayon::current_num_threads(),
                ..Layout::default()
            };
            let f = write_archive(bag, f, &tmp, clock, bar, &opts)?;
            f.sync_all().map_err(io(&tmp))
        });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Checked again right before the rename: another run may have finished meanwhile.
    if dest.exists() && !force {
        let _ = std::fs::remove_file(&tmp);
        return Err(ZipWriteError::Exists {
            path: dest.display().to_string(),
        });
    }
    std::fs::rename(&tmp, dest).map_err(io(dest))?;
    let f = File::open(dest).map_err(io(dest))?;
    super::bagit::sha256_reader(f).map_err(io(dest))
}

fn temp_name(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "package.zip".into());
    dest.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

/// How an archive is cut and laid out. Only `block` and the ZIP64 choices change bytes;
/// `workers` only changes how fast they come.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Uncompressed bytes per deflate block.
    pub block: usize,
    /// Threads deflating blocks.
    pub workers: usize,
    /// Members whose size is at least this get ZIP64 sizes in their local header.
    pub zip64_from: u64,
    /// Write the ZIP64 end records even when no count or offset needs them.
    pub zip64_end: bool,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            block: BLOCK_BYTES,
            workers: 1,
            zip64_from: zip64_from(),
            zip64_end: false,
        }
    }
}

/// Smallest member size that takes ZIP64 sizes: decided before deflating, so it leaves room
/// for what deflate adds to incompressible data (5 bytes per 64 KiB stored sub-block, a sync
/// marker per block).
fn zip64_from() -> u64 {
    THR - THR / 4096 - (1 << 16)
}

/// One block of one member, on its way to a worker.
struct Block {
    member: usize,
    data: Vec<u8>,
    last: bool,
    deflate: bool,
}

/// A block as it goes into the archive.
struct Packed {
    member: usize,
    raw_len: u64,
    crc: crc32fast::Hasher,
    bytes: Vec<u8>,
    last: bool,
}

/// What the producer hands the writer, in archive order: a block being packed, or the error
/// that stopped reading.
type Pending = Result<Receiver<std::io::Result<Packed>>, ZipWriteError>;

/// Block buffers handed back once written, for the next blocks: a fresh 4 MiB buffer is
/// mapped by the allocator and its pages zeroed by the kernel on first touch, which for a
/// 4 GiB package was ~6% of the run's CPU. Keeps at most [`POOLED`] buffers.
#[derive(Default)]
struct Buffers(Mutex<Vec<Vec<u8>>>);

/// Buffers kept for reuse: what one archive has in flight at most.
const POOLED: usize = MAX_BLOCKS_IN_FLIGHT * 2 + 4;

impl Buffers {
    /// An empty buffer with room for `n` bytes.
    fn take(&self, n: usize) -> Vec<u8> {
        let mut v = self
            .0
            .lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_default();
        v.clear();
        v.reserve(n);
        v
    }
    fn give(&self, v: Vec<u8>) {
        if let Ok(mut p) = self.0.lock() {
            if p.len() < POOLED && v.capacity() > 0 {
                p.push(v);
            }
        }
    }
}

/// Write every member of `bag` (sorted by path) into `file`, then the central directory.
pub(crate) fn write_archive(
    bag: &Bag,
    file: File,
    path: &Path,
    clock: DateTime<Utc>,
    bar: &indicatif::ProgressBar,
    layout: &Layout,
) -> Result<File, ZipWriteError> {
    let mut files: Vec<&Entry> = bag.files.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let workers = layout.workers.max(1);
    let window = (workers * BLOCKS_PER_WORKER).clamp(2, MAX_BLOCKS_IN_FLIGHT);
    let block = layout.block.max(1);
    let (job_tx, job_rx) = mpsc::channel::<(Block, SyncSender<std::io::Result<Packed>>)>();
    let job_rx = Mutex::new(job_rx);
    let (pending_tx, pending_rx) = mpsc::sync_channel::<Pending>(window);
    let pool = Buffers::default();
    let pool = &pool;
    std::thread::scope(|s| {
        // Owned here, so that returning early drops it and stops the producer.
        let pending_rx = pending_rx;
        for _ in 0..workers {
            s.spawn(|| loop {
                let next = job_rx.lock().map(|rx| rx.recv());
                let Ok(Ok((b, done))) = next else { break };
                let _ = done.send(pack(b, pool));
            });
        }
        let files = &files;
        s.spawn(move || produce(files, block, job_tx, pending_tx, pool));
        let mut w = ArchiveWriter::new(file, path, &bag.name, zip_time(clock), layout);
        for pending in pending_rx.iter() {
            let packed = pending?
                .recv()
                .map_err(|_| w.err("a deflate worker stopped"))?;
            let packed = packed.map_err(|e| w.io(e))?;
            bar.inc(packed.raw_len);
            let bytes = w.add(files, packed)?;
            pool.give(bytes);
        }
        // Everything produced has been written; a member left open means the producer
        // stopped early, which it only does after sending its error.
        w.finish(files.len())
    })
}

/// Read every member in order and cut it into blocks: each block goes to the workers, and
/// the receiver for its result to the writer, so the writer takes results in archive order.
/// Reading stops when the writer stops taking them.
fn produce(
    files: &[&Entry],
    block: usize,
    jobs: mpsc::Sender<(Block, SyncSender<std::io::Result<Packed>>)>,
    pending: SyncSender<Pending>,
    pool: &Buffers,
) {
    let send = |b: Block| -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        jobs.send((b, tx)).is_ok() && pending.send(Ok(rx)).is_ok()
    };
    for (member, e) in files.iter().enumerate() {
        let deflate = !already_compressed(&e.path);
        let mk = |data: Vec<u8>, last| Block {
            member,
            data,
            last,
            deflate,
        };
        match &e.content {
            Content::Bytes(b) => {
                let mut chunks = b.chunks(block).peekable();
                if chunks.peek().is_none() && !send(mk(Vec::new(), true)) {
                    return;
                }
                while let Some(c) = chunks.next() {
                    let mut data = pool.take(c.len());
                    data.extend_from_slice(c);
                    if !send(mk(data, chunks.peek().is_none())) {
                        return;
                    }
                }
            }
            Content::File(p) => {
                let fail = |source| {
                    let _ = pending.send(Err(ZipWriteError::Io {
                        path: p.display().to_string(),
                        source,
                    }));
                };
                let mut f = match File::open(p) {
                    Ok(f) => f,
                    Err(source) => return fail(source),
                };
                // One block read ahead: a member's last block must say so, and a file whose
                // length is a multiple of the block size only shows its end on the next read.
                let mut cur = match fill(&mut f, pool.take(block), block) {
                    Ok(b) => b,
                    Err(source) => return fail(source),
                };
                loop {
                    let next = if cur.len() < block {
                        Vec::new()
                    } else {
                        match fill(&mut f, pool.take(block), block) {
                            Ok(b) => b,
                            Err(source) => return fail(source),
                        }
                    };
                    let last = next.is_empty();
                    if !send(mk(cur, last)) {
                        return;
                    }
                    if last {
                        break;
                    }
                    cur = next;
                }
            }
        }
    }
}

/// Up to `n` bytes from `r` into `v` (empty): fewer only at its end.
fn fill(r: &mut impl Read, mut v: Vec<u8>, n: usize) -> std::io::Result<Vec<u8>> {
    r.take(n as u64).read_to_end(&mut v)?;
    Ok(v)
}

/// Deflate (or store) one block and take its CRC-32.
fn pack(b: Block, pool: &Buffers) -> std::io::Result<Packed> {
    let mut crc = crc32fast::Hasher::new();
    crc.update(&b.data);
    let raw_len = b.data.len() as u64;
    let bytes = if b.deflate {
        let mut out = pool.take(deflate_room(b.data.len()));
        deflate_into(&b.data, b.last, &mut out)?;
        pool.give(b.data);
        out
    } else {
        b.data
    };
    Ok(Packed {
        member: b.member,
        raw_len,
        crc,
        bytes,
        last: b.last,
    })
}

/// Raw deflate of one block, as an independent stream: ended by a sync flush (an empty
/// stored block, byte-aligned, not final) so the next block's stream can follow it, or, for
/// a member's last block, by the final block.
#[cfg(test)]
pub(crate) fn deflate_block(data: &[u8], last: bool) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(deflate_room(data.len()));
    deflate_into(data, last, &mut out)?;
    Ok(out)
}

/// Room for `n` bytes of incompressible data deflated in one call (stored sub-blocks add
/// 5 bytes per 64 KiB).
fn deflate_room(n: usize) -> usize {
    n + n / 1024 + 64
}

/// [`deflate_block`] into `out` (empty, ideally with [`deflate_room`]).
fn deflate_into(data: &[u8], last: bool, out: &mut Vec<u8>) -> std::io::Result<()> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new(Compression::new(DEFLATE_LEVEL), false);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let read = c.total_in() as usize;
        let status = c
            .compress_vec(&data[read..], out, flush)
            .map_err(std::io::Error::other)?;
        let all_in = c.total_in() as usize == data.len();
        // A flush is complete when it left output room unused; the final one says so.
        let done = all_in
            && match status {
                Status::StreamEnd => true,
                _ => !last && out.len() < out.capacity(),
            };
        if done {
            return Ok(());
        }
        out.reserve(out.capacity().max(64));
    }
}

fn already_compressed(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".zip", ".gz", ".tgz", ".7z", ".bz2", ".xz", ".zst"]
        .iter()
        .any(|x| lower.ends_with(x))
}

/// A member's central directory record.
struct Central {
    name: Vec<u8>,
    method: u16,
    /// The local header carries ZIP64 sizes.
    zip64: bool,
    crc: u32,
    compressed: u64,
    size: u64,
    offset: u64,
}

/// The member being written.
struct Open {
    member: usize,
    name: Vec<u8>,
    method: u16,
    zip64: bool,
    offset: u64,
    crc: crc32fast::Hasher,
    compressed: u64,
    size: u64,
    /// Its local header was written before its sizes were known.
    patch: bool,
    header_written: bool,
}

struct ArchiveWriter<'a> {
    w: BufWriter<File>,
    path: &'a Path,
    pos: u64,
    prefix: &'a str,
    time: u16,
    date: u16,
    layout: &'a Layout,
    open: Option<Open>,
    central: Vec<Central>,
}

fn version_needed(method: u16, zip64: bool) -> u16 {
    match (zip64, method) {
        (true, _) => 45,
        (false, DEFLATED) => 20,
        (false, _) => 10,
    }
}

/// Bit 11: the name is UTF-8 (only said when it is not plain ASCII, as Info-ZIP does).
fn flags(name: &[u8]) -> u16 {
    if name.is_ascii() {
        0
    } else {
        1 << 11
    }
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// A 32-bit size or offset field: the value, or 0xFFFFFFFF when ZIP64 holds it.
fn field32(x: u64, in_zip64: bool) -> u32 {
    if in_zip64 {
        u32::MAX
    } else {
        x as u32
    }
}

impl<'a> ArchiveWriter<'a> {
    fn new(
        file: File,
        path: &'a Path,
        prefix: &'a str,
        time: zip::DateTime,
        layout: &'a Layout,
    ) -> Self {
        ArchiveWriter {
            w: BufWriter::with_capacity(1 << 20, file),
            path,
            pos: 0,
            prefix,
            time: time.timepart(),
            date: time.datepart(),
            layout,
            open: None,
            central: Vec::new(),
        }
    }

    fn err(&self, message: impl Into<String>) -> ZipWriteError {
        ZipWriteError::Zip {
            path: self.path.display().to_string(),
            message: message.into(),
        }
    }

    fn io(&self, source: std::io::Error) -> ZipWriteError {
        ZipWriteError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), ZipWriteError> {
        self.w.write_all(bytes).map_err(|e| self.io(e))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Append one packed block; the first block of a member writes its local header, the
    /// last one completes it.
    /// Returns the block's buffer, written, for reuse.
    fn add(&mut self, files: &[&Entry], p: Packed) -> Result<Vec<u8>, ZipWriteError> {
        let mut m = match self.open.take() {
            Some(m) => m,
            None => {
                let e = files
                    .get(self.central.len())
                    .ok_or_else(|| self.err("more members than the bag holds"))?;
                let name = format!("{}/{}", self.prefix, e.path).into_bytes();
                if name.len() > u16::MAX as usize {
                    return Err(
                        self.err(format!("member name longer than 65535 bytes: {}", e.path))
                    );
                }
                Open {
                    member: self.central.len(),
                    name,
                    method: if already_compressed(&e.path) {
                        STORED
                    } else {
                        DEFLATED
                    },
                    zip64: e.size >= self.layout.zip64_from,
                    offset: self.pos,
                    crc: crc32fast::Hasher::new(),
                    compressed: 0,
                    size: 0,
                    patch: false,
                    header_written: false,
                }
            }
        };
        if p.member != m.member {
            return Err(self.err("blocks arrived out of order"));
        }
        m.crc.combine(&p.crc);
        m.compressed += p.bytes.len() as u64;
        m.size += p.raw_len;
        if !m.header_written {
            // A member of one block is known whole: its header is written once, final.
            m.patch = !p.last;
            let h = self.local_header(&m);
            self.put(&h)?;
            m.header_written = true;
        }
        self.put(&p.bytes)?;
        if p.last {
            self.end_member(files, m)?;
        } else {
            self.open = Some(m);
        }
        Ok(p.bytes)
    }

    fn local_header(&self, m: &Open) -> Vec<u8> {
        let (crc, compressed, size) = if m.patch {
            (0, 0, 0)
        } else {
            (m.crc.clone().finalize(), m.compressed, m.size)
        };
        let mut h = Vec::with_capacity(50 + m.name.len());
        put32(&mut h, LOCAL_SIG);
        put16(&mut h, version_needed(m.method, m.zip64));
        put16(&mut h, flags(&m.name));
        put16(&mut h, m.method);
        put16(&mut h, self.time);
        put16(&mut h, self.date);
        put32(&mut h, crc);
        put32(&mut h, field32(compressed, m.zip64));
        put32(&mut h, field32(size, m.zip64));
        put16(&mut h, m.name.len() as u16);
        put16(&mut h, if m.zip64 { 20 } else { 0 });
        h.extend_from_slice(&m.name);
        if m.zip64 {
            // In a local header the ZIP64 field holds both sizes, original first.
            put16(&mut h, ZIP64_TAG);
            put16(&mut h, 16);
            put64(&mut h, size);
            put64(&mut h, compressed);
        }
        h
    }

    fn end_member(&mut self, files: &[&Entry], m: Open) -> Result<(), ZipWriteError> {
        let e = files[m.member];
        if m.size != e.size {
            return Err(self.err(format!(
                "{}: {} bytes when hashed for the manifest, {} bytes when packaged; changed meanwhile",
                e.path, e.size, m.size
            )));
        }
        if !m.zip64 && (m.compressed >= THR || m.size >= THR) {
            return Err(self.err(format!(
                "{}: too large for a ZIP header without ZIP64",
                e.path
            )));
        }
        if m.patch {
            let h = self.local_header(&Open {
                patch: false,
                name: m.name.clone(),
                crc: m.crc.clone(),
                ..m
            });
            // Only the CRC and the sizes change (offset 14 on; the ZIP64 field after the name).
            self.w
                .seek(SeekFrom::Start(m.offset + 14))
                .and_then(|_| self.w.write_all(&h[14..26]))
                .map_err(|e| self.io(e))?;
            if m.zip64 {
                let at = 30 + m.name.len();
                self.w
                    .seek(SeekFrom::Start(m.offset + at as u64))
                    .and_then(|_| self.w.write_all(&h[at..]))
                    .map_err(|e| self.io(e))?;
            }
            self.w
                .seek(SeekFrom::Start(self.pos))
                .map_err(|e| self.io(e))?;
        }
        self.central.push(Central {
            name: m.name,
            method: m.method,
            zip64: m.zip64,
            crc: m.crc.finalize(),
            compressed: m.compressed,
            size: m.size,
            offset: m.offset,
        });
        Ok(())
    }

    /// The central directory and the end records; returns the file, flushed.
    fn finish(mut self, members: usize) -> Result<File, ZipWriteError> {
        if self.open.is_some() || self.central.len() != members {
            return Err(self.err("the archive ended before its last member"));
        }
        let start = self.pos;
        let central = std::mem::take(&mut self.central);
        for c in &central {
            let h = central_header(c, self.time, self.date);
            self.put(&h)?;
        }
        let size = self.pos - start;
        let n = central.len() as u64;
        let mut t = Vec::with_capacity(120);
        if self.layout.zip64_end || n >= 0xFFFF || start >= THR || size >= THR {
            let end64 = self.pos;
            put32(&mut t, END64_SIG);
            put64(&mut t, 44);
            put16(&mut t, (UNIX << 8) | 45);
            put16(&mut t, 45);
            put32(&mut t, 0);
            put32(&mut t, 0);
            put64(&mut t, n);
            put64(&mut t, n);
            put64(&mut t, size);
            put64(&mut t, start);
            put32(&mut t, LOCATOR64_SIG);
            put32(&mut t, 0);
            put64(&mut t, end64);
            put32(&mut t, 1);
        }
        put32(&mut t, END_SIG);
        put16(&mut t, 0);
        put16(&mut t, 0);
        put16(&mut t, n.min(0xFFFF) as u16);
        put16(&mut t, n.min(0xFFFF) as u16);
        put32(&mut t, size.min(THR) as u32);
        put32(&mut t, start.min(THR) as u32);
        put16(&mut t, 0);
        self.put(&t)?;
        self.w.flush().map_err(|e| self.io(e))?;
        let path = self.path;
        self.w.into_inner().map_err(|e| ZipWriteError::Io {
            path: path.display().to_string(),
            source: e.into_error(),
        })
    }
}

/// A central directory header: 32-bit fields that cannot hold their value are 0xFFFFFFFF and
/// the value goes into the ZIP64 field (original size, compressed size, offset, in that
/// order, each only when its 32-bit field says so). A member with ZIP64 sizes in its local
/// header has them here too.
fn central_header(c: &Central, time: u16, date: u16) -> Vec<u8> {
    let big_size = c.zip64 || c.size >= THR;
    let big_compressed = c.zip64 || c.compressed >= THR;
    let big_offset = c.offset >= THR;
    let mut extra = Vec::new();
    for (big, v) in [
        (big_size, c.size),
        (big_compressed, c.compressed),
        (big_offset, c.offset),
    ] {
        if big {
            put64(&mut extra, v);
        }
    }
    let version = version_needed(c.method, !extra.is_empty());
    let mut h = Vec::with_capacity(46 + c.name.len() + 4 + extra.len());
    put32(&mut h, CENTRAL_SIG);
    put16(&mut h, (UNIX << 8) | version);
    put16(&mut h, version);
    put16(&mut h, flags(&c.name));
    put16(&mut h, c.method);
    put16(&mut h, time);
    put16(&mut h, date);
    put32(&mut h, c.crc);
    put32(&mut h, field32(c.compressed, big_compressed));
    put32(&mut h, field32(c.size, big_size));
    put16(&mut h, c.name.len() as u16);
    put16(
        &mut h,
        if extra.is_empty() {
            0
        } else {
            4 + extra.len() as u16
        },
    );
    put16(&mut h, 0); // comment
    put16(&mut h, 0); // disk
    put16(&mut h, 0); // internal attributes
    put32(&mut h, MODE << 16);
    put32(&mut h, field32(c.offset, big_offset));
    h.extend_from_slice(&c.name);
    if !extra.is_empty() {
        put16(&mut h, ZIP64_TAG);
        put16(&mut h, extra.len() as u16);
        h.extend_from_slice(&extra);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use zip::CompressionMethod;

    #[test]
    fn same_bag_same_bytes_and_no_clobber() {
        let dir = tempfile::tempdir().unwrap();
        let bag = Bag {
            name: "IR-1".into(),
            files: vec![
                Entry::bytes("b.txt", b"bbb".to_vec()),
                Entry::bytes("a.txt", b"aaa".to_vec()),
                Entry::bytes("c.zip", b"PK\x03\x04".to_vec()),
            ],
        };
        let clock = DateTime::parse_from_rfc3339("2024-05-01T12:00:01Z")
            .unwrap()
            .with_timezone(&Utc);
        let a = dir.path().join("a.zip");
        let b = dir.path().join("b.zip");
        let (ha, _) = write_bag_zip(&bag, &a, clock, false).unwrap();
        let (hb, _) = write_bag_zip(&bag, &b, clock, false).unwrap();
        assert_eq!(ha, hb);
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        assert!(matches!(
            write_bag_zip(&bag, &a, clock, false),
            Err(ZipWriteError::Exists { .. })
        ));
        assert!(write_bag_zip(&bag, &a, clock, true).is_ok());
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
        let mut z = zip::ZipArchive::new(std::fs::File::open(&a).unwrap()).unwrap();
        assert_eq!(z.by_index(0).unwrap().name(), "IR-1/a.txt");
        assert_eq!(z.by_index(0).unwrap().unix_mode(), Some(0o100644));
        assert_eq!(
            z.by_index(0).unwrap().compression(),
            CompressionMethod::Deflated
        );
        assert_eq!(
            z.by_name("IR-1/c.zip").unwrap().compression(),
            CompressionMethod::Stored
        );
    }

    #[test]
    fn block_buffers_are_reused_and_bounded() {
        let pool = Buffers::default();
        let a = pool.take(1 << 20);
        let ptr = a.as_ptr();
        pool.give(a);
        let b = pool.take(1 << 20);
        assert_eq!(
            b.as_ptr(),
            ptr,
            "the buffer handed back is the one taken next"
        );
        assert!(b.is_empty() && b.capacity() >= 1 << 20);
        for _ in 0..POOLED + 5 {
            pool.give(vec![0u8; 16]);
        }
        assert_eq!(pool.0.lock().unwrap().len(), POOLED);
    }

    #[test]
    fn zip_time_clamps() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(zip_time(t("1970-01-01T00:00:00Z")).year(), 1980);
        assert_eq!(zip_time(t("2024-05-01T12:00:01Z")).second(), 0);
    }

    fn clock() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-05-01T12:00:01Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// Text that deflates like a log (repeats, with changing numbers), `n` bytes.
    fn text(n: usize, seed: u64) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 64);
        let mut x = seed;
        while v.len() < n {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.extend_from_slice(
                format!(
                    "date=2024-05-01 srcip=10.0.{}.{} action=deny id={}\n",
                    x >> 60,
                    (x >> 52) & 0xff,
                    x >> 40
                )
                .as_bytes(),
            );
        }
        v.truncate(n);
        v
    }

    /// Bytes that do not deflate (stored sub-blocks), `n` bytes.
    fn noise(n: usize) -> Vec<u8> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    const B: usize = 1000;

    /// Members around the block size, empty, tiny, several blocks, incompressible, stored,
    /// a non-ASCII name, and the same sizes again as files on disk.
    fn edge_bag(dir: &Path) -> Bag {
        let mut files = vec![
            Entry::bytes("empty.txt", Vec::new()),
            Entry::bytes("one.txt", b"x".to_vec()),
            Entry::bytes("block-1.txt", text(B - 1, 1)),
            Entry::bytes("block.txt", text(B, 2)),
            Entry::bytes("block+1.txt", text(B + 1, 3)),
            Entry::bytes("three-blocks.txt", text(3 * B, 4)),
            Entry::bytes("many.txt", text(57 * B + 321, 5)),
            Entry::bytes("noise.bin", noise(5 * B + 7)),
            Entry::bytes("stored.zip", noise(4 * B)),
            Entry::bytes("data/évidence ü.txt", text(2 * B + 3, 6)),
        ];
        for (i, n) in [0, 1, B, 2 * B, 2 * B + 1, 40 * B + 17]
            .into_iter()
            .enumerate()
        {
            let p = dir.join(format!("f{i}"));
            std::fs::write(&p, text(n, 10 + i as u64)).unwrap();
            files.push(Entry::file(format!("data/file-{n}.txt"), p).unwrap());
        }
        let p = dir.join("g.gz");
        std::fs::write(&p, noise(3 * B)).unwrap();
        files.push(Entry::file("data/f.gz", p).unwrap());
        Bag {
            name: "IR-EDGE".into(),
            files,
        }
    }

    fn write_with(bag: &Bag, dest: &Path, layout: &Layout) -> Vec<u8> {
        let f = std::fs::File::create(dest).unwrap();
        let bar = indicatif::ProgressBar::hidden();
        write_archive(bag, f, dest, clock(), &bar, layout).unwrap();
        std::fs::read(dest).unwrap()
    }

    fn content(e: &Entry) -> Vec<u8> {
        match &e.content {
            Content::Bytes(b) => b.clone(),
            Content::File(p) => std::fs::read(p).unwrap(),
        }
    }

    /// Every member reads back (the zip crate checks each CRC at the end of a read), in name
    /// order, with its bytes and method; Python's zipfile and Info-ZIP's unzip, where
    /// present, test the archive too.
    fn reads_back(bag: &Bag, zip_path: &Path) {
        let mut z = zip::ZipArchive::new(std::fs::File::open(zip_path).unwrap()).unwrap();
        let mut want: Vec<&Entry> = bag.files.iter().collect();
        want.sort_by(|a, b| a.path.cmp(&b.path));
        assert_eq!(z.len(), want.len());
        for (i, e) in want.iter().enumerate() {
            let mut m = z.by_index(i).unwrap();
            assert_eq!(m.name(), format!("{}/{}", bag.name, e.path));
            assert_eq!(m.unix_mode(), Some(0o100644));
            let method = if already_compressed(&e.path) {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            };
            assert_eq!(m.compression(), method, "{}", e.path);
            let mut got = Vec::new();
            m.read_to_end(&mut got).unwrap();
            assert!(got == content(e), "{} differs after the round trip", e.path);
        }
        external_checks(zip_path);
    }

    fn external_checks(zip_path: &Path) {
        match Command::new("python3")
            .args(["-m", "zipfile", "-t"])
            .arg(zip_path)
            .output()
        {
            Ok(o) => assert!(
                o.status.success(),
                "python3 -m zipfile -t: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
            Err(_) => eprintln!("NOTE: no python3; zipfile check skipped"),
        }
        match Command::new("unzip").arg("-tq").arg(zip_path).output() {
            Ok(o) => assert!(
                o.status.success(),
                "unzip -t: {}",
                String::from_utf8_lossy(&o.stdout)
            ),
            Err(_) => eprintln!("NOTE: no unzip; Info-ZIP check skipped"),
        }
    }

    #[test]
    fn blocks_round_trip_and_bytes_do_not_depend_on_threads() {
        let dir = tempfile::tempdir().unwrap();
        let bag = edge_bag(dir.path());
        let layout = |workers| Layout {
            block: B,
            workers,
            ..Layout::default()
        };
        let one = write_with(&bag, &dir.path().join("1.zip"), &layout(1));
        reads_back(&bag, &dir.path().join("1.zip"));
        for workers in [2, 3, 8] {
            let p = dir.path().join(format!("{workers}.zip"));
            assert!(
                write_with(&bag, &p, &layout(workers)) == one,
                "{workers} threads"
            );
        }
        // The default block size cuts none of these members: also a valid archive.
        let whole = write_with(&bag, &dir.path().join("w.zip"), &Layout::default());
        reads_back(&bag, &dir.path().join("w.zip"));
        assert!(whole != one);
    }

    #[test]
    fn zip64_records_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let bag = edge_bag(dir.path());
        let p = dir.path().join("64.zip");
        let bytes = write_with(
            &bag,
            &p,
            &Layout {
                block: B,
                workers: 2,
                zip64_from: 0,
                zip64_end: true,
            },
        );
        reads_back(&bag, &p);
        let has = |sig: u32| bytes.windows(4).any(|w| w == sig.to_le_bytes());
        assert!(has(END64_SIG) && has(LOCATOR64_SIG));
    }

    #[test]
    fn offsets_past_4_gib_go_into_the_zip64_field() {
        let c = Central {
            name: b"IR/x".to_vec(),
            method: DEFLATED,
            zip64: false,
            crc: 7,
            compressed: 10,
            size: 20,
            offset: 5 << 30,
        };
        let h = central_header(&c, 0, 0);
        let u32_at = |i: usize| u32::from_le_bytes(h[i..i + 4].try_into().unwrap());
        assert_eq!(u32_at(20), 10);
        assert_eq!(u32_at(24), 20);
        assert_eq!(u32_at(42), u32::MAX);
        let extra = &h[46 + 4..];
        assert_eq!(&extra[..4], &[1, 0, 8, 0]);
        assert_eq!(
            u64::from_le_bytes(extra[4..12].try_into().unwrap()),
            5 << 30
        );
        assert_eq!(u16::from_le_bytes([h[6], h[7]]), 45);
        // Nothing large: no ZIP64 field, version 2.0.
        let small = central_header(&Central { offset: 1, ..c }, 0, 0);
        assert_eq!(small.len(), 46 + 4);
        assert_eq!(u16::from_le_bytes([small[6], small[7]]), 20);
    }

    #[test]
    fn deflated_blocks_form_one_stream() {
        use std::io::Read;
        let data = text(10 * B + 5, 9);
        let mut stream = Vec::new();
        let chunks: Vec<&[u8]> = data.chunks(B).collect();
        for (i, c) in chunks.iter().enumerate() {
            stream.extend(deflate_block(c, i + 1 == chunks.len()).unwrap());
        }
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&stream[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out == data);
        // An empty member is one empty final block.
        assert_eq!(deflate_block(b"", true).unwrap(), vec![3, 0]);
    }

    #[test]
    fn a_file_changed_after_hashing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.log");
        std::fs::write(&p, text(3 * B, 1)).unwrap();
        let bag = Bag {
            name: "IR-1".into(),
            files: vec![Entry::file("data/e.log", p.clone()).unwrap()],
        };
        std::fs::write(&p, text(3 * B + 1, 1)).unwrap();
        let dest = dir.path().join("x.zip");
        let f = std::fs::File::create(&dest).unwrap();
        let layout = Layout {
            block: B,
            workers: 2,
            ..Layout::default()
        };
        let bar = indicatif::ProgressBar::hidden();
        let e = write_archive(&bag, f, &dest, clock(), &bar, &layout).unwrap_err();
        assert!(e.to_string().contains("changed meanwhile"), "{e}");
        // A missing file is named.
        std::fs::remove_file(&p).unwrap();
        let f = std::fs::File::create(&dest).unwrap();
        let e = write_archive(&bag, f, &dest, clock(), &bar, &layout).unwrap_err();
        assert!(e.to_string().contains("e.log"), "{e}");
    }
}
