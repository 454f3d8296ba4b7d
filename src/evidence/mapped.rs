//! An evidence file mapped read-only into memory, whose pages are handed back as reading
//! moves past them.
//!
//! A parser sees a file whole (`&str`), but reads it front to back. Read into a vector, a
//! 64 MiB export costs 64 MiB on each parsing thread for as long as it is parsed; mapped,
//! and released behind the reader, it costs a few MiB. Released pages stay valid: the next
//! touch reads them again from the page cache, so a parser that looks back gets the same
//! bytes, only a little slower. The mapping is private and read-only, so the evidence
//! copy can never be written through it.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::Path;

/// Bytes read past before they are released, in one call.
pub const RELEASE_STEP: usize = 4 << 20;

/// A whole file, mapped read-only.
pub struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value; sharing or moving it between
// threads is as safe as sharing a `&[u8]`.
unsafe impl Send for Mapped {}
unsafe impl Sync for Mapped {}

impl Mapped {
    /// Map `path`; `None` for an empty file (which cannot be mapped, and needs no mapping).
    pub fn open(path: &Path) -> io::Result<Option<Mapped>> {
        use std::os::fd::AsRawFd;
        let f = File::open(path)?;
        let len = usize::try_from(f.metadata()?.len())
            .map_err(|_| io::Error::other("file larger than the address space"))?;
        if len == 0 {
            return Ok(None);
        }
        // SAFETY: a fresh private read-only mapping of an open descriptor; the kernel picks
        // the address. The descriptor may be closed afterwards: the mapping keeps the file.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(Mapped { ptr, len }))
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives; nothing
        // writes to a private read-only mapping.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    /// Drop the whole pages inside `range` from this process's memory. Their content stays
    /// what it was: a later read maps them again from the file.
    pub fn release(&self, range: Range<usize>) {
        let page = page_size();
        let start = range.start.div_ceil(page) * page;
        let end = range.end.min(self.len) / page * page;
        if end <= start {
            return;
        }
        // SAFETY: the range lies inside our mapping and is page aligned. MADV_DONTNEED on a
        // private file mapping never written to discards only the resident copy; the bytes
        // read the same afterwards, so no outstanding `&[u8]` sees a change.
        unsafe {
            libc::madvise(
                (self.ptr as *mut u8).add(start) as *mut libc::c_void,
                end - start,
                libc::MADV_DONTNEED,
            );
        }
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: unmapping what `open` mapped, once; no borrow of `bytes` outlives `self`.
        unsafe {
            libc::munmap(self.ptr, self.len);
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

/// Releases a mapping behind a reader that moves forward, [`RELEASE_STEP`] at a time.
pub struct Behind<'m> {
    map: &'m Mapped,
    released: usize,
}

impl<'m> Behind<'m> {
    pub fn new(map: &'m Mapped) -> Self {
        Behind { map, released: 0 }
    }

    /// The reader is at `pos`: everything before it may go. Going back is allowed (the
    /// pages come back on their own); going forward again releases from where it was.
    pub fn at(&mut self, pos: usize) {
        if pos >= self.released + RELEASE_STEP {
            self.map.release(self.released..pos);
            self.released = pos;
        }
    }

    /// Start over for another pass from the beginning: release everything read so far.
    pub fn rewind(&mut self) {
        self.map.release(0..self.map.len);
        self.released = 0;
    }
}

/// Run `f` over `bytes` in [`RELEASE_STEP`] blocks, releasing each block once `f` is done
/// with it; stops at the first `false`.
pub fn each_block(
    behind: &mut Behind,
    bytes: &[u8],
    mut f: impl FnMut(usize, &[u8]) -> bool,
) -> bool {
    let mut at = 0;
    while at < bytes.len() {
        let end = (at + RELEASE_STEP).min(bytes.len());
        if !f(at, &bytes[at..end]) {
            return false;
        }
        at = end;
        behind.at(at);
    }
    true
}

/// Whether `bytes` is UTF-8, checked a block at a time so the whole never needs to be
/// resident; characters cut by a block boundary are checked whole.
pub fn is_utf8(behind: &mut Behind, bytes: &[u8]) -> bool {
    let mut carry = 0usize;
    each_block(behind, bytes, |at, _| {
        let from = at - carry;
        let end = (at + RELEASE_STEP).min(bytes.len());
        match std::str::from_utf8(&bytes[from..end]) {
            Ok(_) => {
                carry = 0;
                true
            }
            // An incomplete character at the block's end: check it with the next block.
            Err(e) if e.error_len().is_none() && end < bytes.len() => {
                carry = end - (from + e.valid_up_to());
                true
            }
            Err(_) => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_file_kib() -> u64 {
        let s = std::fs::read_to_string("/proc/self/status").unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("RssFile:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn reads_the_file_and_gives_pages_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let data: Vec<u8> = (0..(24usize << 20)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let m = Mapped::open(&p).unwrap().unwrap();
        assert_eq!(m.bytes(), &data[..]);
        let before = rss_file_kib();
        // Touch everything, then release it all: the file-backed resident set falls by
        // about the file's size, and the bytes still read the same.
        let sum: u64 = m.bytes().iter().map(|&b| b as u64).sum();
        let touched = rss_file_kib();
        let mut b = Behind::new(&m);
        b.rewind();
        let after = rss_file_kib();
        assert!(touched >= before, "{before} -> {touched}");
        assert!(
            touched - after >= 20 << 10,
            "touched {touched} KiB, after release {after} KiB"
        );
        assert_eq!(sum, m.bytes().iter().map(|&b| b as u64).sum::<u64>());
        assert_eq!(m.bytes(), &data[..]);
    }

    #[test]
    fn empty_files_are_not_mapped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty");
        std::fs::write(&p, b"").unwrap();
        assert!(Mapped::open(&p).unwrap().is_none());
    }

    #[test]
    fn utf8_checked_across_block_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t");
        // A three-byte character straddles the first block boundary.
        let mut data = vec![b'a'; RELEASE_STEP - 1];
        data.extend("€".as_bytes());
        data.extend(vec![b'b'; 100]);
        std::fs::write(&p, &data).unwrap();
        let m = Mapped::open(&p).unwrap().unwrap();
        assert!(is_utf8(&mut Behind::new(&m), m.bytes()));
        // A cut character at the very end is not UTF-8.
        data.truncate(data.len() - 100 - 1);
        std::fs::write(&p, &data).unwrap();
        let m = Mapped::open(&p).unwrap().unwrap();
        assert!(!is_utf8(&mut Behind::new(&m), m.bytes()));
        // An invalid byte in a later block is found.
        let mut data = vec![b'a'; RELEASE_STEP * 2];
        data[RELEASE_STEP + 7] = 0xFF;
        std::fs::write(&p, &data).unwrap();
        let m = Mapped::open(&p).unwrap().unwrap();
        assert!(!is_utf8(&mut Behind::new(&m), m.bytes()));
    }
}
