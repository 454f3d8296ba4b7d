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

/// Bytes of text per entry of a [`LineIndex`].
const LINE_STEP: usize = 1024;

/// Maps byte offsets in a text to 1-based line numbers.
///
/// It keeps the number of line feeds before every [`LINE_STEP`] bytes and counts the rest
/// of the way in the text: 8 bytes per KiB, where one offset per line took 8 bytes per line
/// (a 64 MiB FreeRADIUS `detail` file, one attribute per line, held an 18 MB index on its
/// parsing thread). A lookup reads at most one step of text, near what is being parsed.
pub struct LineIndex {
    /// Line feeds in `text[..k * LINE_STEP]`, for every step `k` inside the text.
    before: Vec<u64>,
    /// Line feeds in the whole text.
    breaks: u64,
    /// Lines before the text (a chunk of a larger file).
    base: u64,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        Self::new_in_blocks(text, usize::MAX, |_| {})
    }

    /// [`LineIndex::new`] a `block` of bytes at a time, telling `done` how far it has read
    /// (so a caller can give the pages of a mapped file back as the scan passes them).
    pub fn new_in_blocks(text: &str, block: usize, mut done: impl FnMut(usize)) -> Self {
        let bytes = text.as_bytes();
        let block = block.max(1);
        let mut before = Vec::with_capacity(bytes.len().div_ceil(LINE_STEP));
        let mut breaks = 0u64;
        let mut next_done = block;
        for (k, step) in bytes.chunks(LINE_STEP).enumerate() {
            before.push(breaks);
            breaks += memchr::memchr_iter(b'\n', step).count() as u64;
            let at = k * LINE_STEP + step.len();
            if at >= next_done || at == bytes.len() {
                done(at);
                next_done = at.saturating_add(block);
            }
        }
        LineIndex {
            before,
            breaks,
            base: 0,
        }
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
        self.breaks
    }

    /// 1-based line containing byte `offset` of `text`, the text this index was built on.
    pub fn line_of(&self, text: &str, offset: usize) -> u64 {
        let bytes = text.as_bytes();
        let offset = offset.min(bytes.len());
        let k = offset / LINE_STEP;
        let feeds = match self.before.get(k) {
            Some(&n) => {
                n + memchr::memchr_iter(b'\n', &bytes[k * LINE_STEP..offset]).count() as u64
            }
            // `offset` is the end of a text whose length is a whole number of steps.
            None => self.breaks,
        };
        self.base + feeds + 1
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

#[cfg(test)]
mod line_index_tests {
    use super::LineIndex;
    use proptest::prelude::*;

    /// The 1-based line of `offset` counted the plain way.
    fn naive(text: &str, offset: usize) -> u64 {
        let end = offset.min(text.len());
        text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count() as u64
            + 1
    }

    #[test]
    fn lines_at_step_edges() {
        // Line feeds on and around the step boundaries, and a text ending exactly on one.
        let mut t = String::new();
        for i in 0..3 * super::LINE_STEP {
            t.push(
                if i % 97 == 0 || i % super::LINE_STEP == super::LINE_STEP - 1 {
                    '\n'
                } else {
                    'x'
                },
            );
        }
        assert_eq!(t.len() % super::LINE_STEP, 0);
        let idx = LineIndex::new(&t);
        for off in 0..=t.len() + 2 {
            assert_eq!(idx.line_of(&t, off), naive(&t, off), "offset {off}");
        }
        assert_eq!(idx.breaks(), naive(&t, t.len()) - 1);
        let based = LineIndex::with_base(&t, 40);
        assert_eq!(based.line_of(&t, 5000), naive(&t, 5000) + 40);
        assert_eq!(LineIndex::new("").line_of("", 0), 1);
    }

    #[test]
    fn blocks_report_progress_and_index_the_same() {
        let t = "ab\ncd\n".repeat(2000);
        let mut seen = Vec::new();
        let idx = LineIndex::new_in_blocks(&t, 4096, |at| seen.push(at));
        assert_eq!(seen, vec![4096, 8192, t.len()]);
        for off in (0..t.len()).step_by(7) {
            assert_eq!(idx.line_of(&t, off), naive(&t, off));
        }
    }

    proptest! {
        #[test]
        fn same_as_counting(
            parts in proptest::collection::vec(("[a-z]{0,300}", any::<bool>()), 0..60),
            probes in proptest::collection::vec(any::<usize>(), 1..40),
        ) {
            let mut t = String::new();
            for (p, nl) in &parts {
                t.push_str(p);
                if *nl {
                    t.push('\n');
                }
            }
            let idx = LineIndex::new(&t);
            prop_assert_eq!(idx.breaks(), naive(&t, t.len()) - 1);
            for p in probes {
                let off = p % (t.len() + 2);
                prop_assert_eq!(idx.line_of(&t, off), naive(&t, off));
            }
        }
    }
}
