//! Turning evidence bytes into text parsers can read, without losing the way back to the bytes.

use std::borrow::Cow;

/// Decoded text plus what it takes to map offsets back to the original bytes.
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// Bytes skipped at the start of the original (a UTF-8 BOM) when `decoded_from` is `None`.
    pub base_offset: u64,
    /// The encoding the original was converted from, when it was not UTF-8.
    pub decoded_from: Option<&'static str>,
}

/// Decode by content: BOMs first, then UTF-16 without BOM (NULs in every other byte),
/// then UTF-8, falling back to Windows-1252 so no byte is ever refused.
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        if let Ok(s) = std::str::from_utf8(rest) {
            return Decoded {
                text: Cow::Borrowed(s),
                base_offset: 3,
                decoded_from: None,
            };
        }
    }
    if bytes.starts_with(b"\xFF\xFE") {
        let (t, _, _) = encoding_rs::UTF_16LE.decode(bytes);
        return owned(t, "utf-16le");
    }
    if bytes.starts_with(b"\xFE\xFF") {
        let (t, _, _) = encoding_rs::UTF_16BE.decode(bytes);
        return owned(t, "utf-16be");
    }
    if let Some(enc) = sniff_utf16_without_bom(bytes) {
        let (t, _) = enc.decode_without_bom_handling(bytes);
        return owned(
            t,
            if enc == encoding_rs::UTF_16LE {
                "utf-16le"
            } else {
                "utf-16be"
            },
        );
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Decoded {
            text: Cow::Borrowed(s),
            base_offset: 0,
            decoded_from: None,
        },
        Err(_) => {
            let (t, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
            owned(t, "windows-1252")
        }
    }
}

fn owned(t: Cow<'_, str>, enc: &'static str) -> Decoded<'static> {
    let s = t.into_owned();
    // encoding_rs keeps a decoded BOM as U+FEFF only when told not to strip it; strip it
    // here so every parser sees the same first character.
    let s = s.strip_prefix('\u{FEFF}').map(str::to_string).unwrap_or(s);
    Decoded {
        text: Cow::Owned(s),
        base_offset: 0,
        decoded_from: Some(enc),
    }
}

/// Bytes to skip (a UTF-8 BOM, or none) when [`decode`] would read a file starting with
/// `head` as UTF-8 provided all of it is valid UTF-8; `None` when it would pick UTF-16.
pub fn utf8_start(head: &[u8]) -> Option<usize> {
    if head.starts_with(b"\xEF\xBB\xBF") {
        return Some(3);
    }
    if head.starts_with(b"\xFF\xFE")
        || head.starts_with(b"\xFE\xFF")
        || sniff_utf16_without_bom(head).is_some()
    {
        return None;
    }
    Some(0)
}

fn sniff_utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let n = bytes.len().min(512) & !1;
    if n < 8 {
        return None;
    }
    let (mut even_nul, mut odd_nul) = (0, 0);
    for (i, b) in bytes[..n].iter().enumerate() {
        if *b == 0 {
            if i % 2 == 0 {
                even_nul += 1
            } else {
                odd_nul += 1
            }
        }
    }
    let half = n / 2;
    if odd_nul * 10 >= half * 9 && even_nul * 10 < half {
        Some(encoding_rs::UTF_16LE)
    } else if even_nul * 10 >= half * 9 && odd_nul * 10 < half {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Maps byte offsets in a text to 1-based line numbers.
pub struct LineIndex {
    starts: Vec<usize>,
    /// Lines before the text (a chunk of a larger file).
    base: u64,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        LineIndex { starts, base: 0 }
    }

    /// [`LineIndex::new`] a `block` of bytes at a time, telling `done` how far it has read
    /// (so a caller can give the pages of a mapped file back as the scan passes them).
    pub fn new_in_blocks(text: &str, block: usize, mut done: impl FnMut(usize)) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut at = 0;
        while at < bytes.len() {
            let end = (at + block.max(1)).min(bytes.len());
            starts.extend(memchr::memchr_iter(b'\n', &bytes[at..end]).map(|i| at + i + 1));
            at = end;
            done(at);
        }
        LineIndex { starts, base: 0 }
    }

    /// The index of a chunk that starts after `base` lines of its file.
    pub fn with_base(text: &str, base: u64) -> Self {
        LineIndex {
            base,
            ..LineIndex::new(text)
        }
    }

    /// Lines the text holds (the number of line feeds).
    pub fn breaks(&self) -> u64 {
        self.starts.len() as u64 - 1
    }

    /// 1-based line containing byte `offset`.
    pub fn line_of(&self, offset: usize) -> u64 {
        self.base
            + match self.starts.binary_search(&offset) {
                Ok(i) => i as u64 + 1,
                Err(i) => i as u64,
            }
    }
}

/// The first `max` characters of a record, for error messages and the report.
pub fn excerpt(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}
