//! Large one-record-per-line files (FortiGate key=value, PAN-OS, raw CEF) parsed a chunk of
//! lines at a time, so a multi-gigabyte firewall log never sits in memory whole.
//!
//! The result is the one `Source::parse` gives on the whole text: record numbers run on
//! across chunks, and each chunk's `Input` carries the bytes and lines before it, so every
//! provenance (offset, line, raw hash) is the same. Only plain UTF-8 files qualify (a file
//! that decodes from UTF-16 or Windows-1252 is parsed whole, as before): a first pass checks
//! the encoding, so no event is emitted from a file that then turns out not to qualify.

use super::{detect, syslog, Input, Item, ParseContext, Source, SNIFF_BYTES};
use std::io::{BufReader, Read};
use std::path::Path;

/// Files at least this large are parsed in chunks when their format allows it. Below it a
/// file is read whole (one read, no encoding pre-pass): two parsing threads with a file of
/// this size each, plus the run budget, still stay within 256 MiB.
pub const CHUNK_MIN_BYTES: u64 = 96 << 20;
/// Bytes read per chunk (extended to the end of the line it cuts).
pub const CHUNK_BYTES: usize = 16 << 20;

/// Read the next chunk: at least `size` bytes (unless the file ends), ending after a line
/// feed or at the end of the file. `carry` holds what the previous read took past its cut.
fn next_chunk<R: Read>(
    r: &mut R,
    size: usize,
    carry: &mut Vec<u8>,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = std::mem::take(carry);
    let mut block = vec![0u8; size.max(1)];
    loop {
        if let Some(nl) = memchr::memrchr(b'\n', &buf) {
            if buf.len() >= size {
                *carry = buf.split_off(nl + 1);
                return Ok(Some(buf));
            }
        }
        let k = r.read(&mut block)?;
        if k == 0 {
            return Ok((!buf.is_empty()).then_some(buf));
        }
        buf.extend_from_slice(&block[..k]);
    }
}

/// Parse `path` in chunks of about `chunk_bytes` when its content allows; `None` (nothing
/// emitted) when it does not, and the caller parses the file whole.
pub fn parse_file(
    registry: &[Box<dyn Source>],
    path: &Path,
    evidence_path: &str,
    evidence_sha256: &str,
    ctx: &ParseContext,
    chunk_bytes: usize,
    on_item: &mut dyn FnMut(Item),
) -> std::io::Result<Option<&'static str>> {
    let open = || std::fs::File::open(path).map(|f| BufReader::with_capacity(1 << 20, f));
    let mut head = Vec::with_capacity(SNIFF_BYTES + 4);
    open()?
        .take(SNIFF_BYTES as u64 + 4)
        .read_to_end(&mut head)?;
    let Some(bom) = super::text::utf8_start(&head) else {
        return Ok(None);
    };
    // The sniffers see the first SNIFF_BYTES of text, as `detect` does on the whole file.
    let body = &head[bom..];
    let head_text = match std::str::from_utf8(body) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() => {
            std::str::from_utf8(&body[..e.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return Ok(None),
    };
    // The parsers choose their reading from the first line: it must be whole in the head.
    if !head_text.trim_start().contains('\n') {
        return Ok(None);
    }
    let Some(src) = detect(registry, head_text) else {
        return Ok(None);
    };
    let Some(prefer) = src.line_reader(head_text) else {
        return Ok(None);
    };
    // First pass: the whole file must be UTF-8, or `decode` would read it otherwise.
    {
        let mut r = open()?;
        let mut carry = Vec::new();
        let mut first = true;
        while let Some(chunk) = next_chunk(&mut r, chunk_bytes, &mut carry)? {
            let text = if first { &chunk[bom..] } else { &chunk[..] };
            first = false;
            // Chunks end at a line feed, so no character is ever cut in two.
            if std::str::from_utf8(text).is_err() {
                return Ok(None);
            }
        }
    }
    let mut r = open()?;
    let mut carry = Vec::new();
    let mut offset = bom as u64;
    let mut lines = 0u64;
    let mut n = 0u64;
    let mut first = true;
    while let Some(chunk) = next_chunk(&mut r, chunk_bytes, &mut carry)? {
        let bytes = if first { &chunk[bom..] } else { &chunk[..] };
        first = false;
        let text = std::str::from_utf8(bytes).map_err(std::io::Error::other)?;
        let input = Input::chunk(text, evidence_sha256, evidence_path, offset, lines);
        for l in syslog::lines(text) {
            n += 1;
            on_item(super::cef::line_event(&input, ctx, n, l, prefer));
        }
        offset += bytes.len() as u64;
        lines += input.lines.breaks();
    }
    Ok(Some(src.id()))
}
