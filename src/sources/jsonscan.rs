//! Finds the byte span of every record in the JSON shapes people save: JSON lines, a bare
//! array, `{"value":[…]}` Graph pages (several concatenated), `{"records":[…]}` diagnostic
//! blobs, PowerShell `ConvertTo-Json` arrays, or one object. Spans let provenance point at
//! the exact raw bytes. The scanner is iterative so hostile nesting cannot overflow the stack,
//! and a truncated tail becomes one `Bad` piece instead of losing the records before it.

/// A piece of the text: a record to parse, or bytes that are not a record, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Record {
        start: usize,
        end: usize,
    },
    Bad {
        start: usize,
        end: usize,
        reason: String,
    },
}

/// Keys whose array value holds the records rather than being one record.
pub const WRAPPER_KEYS: &[&str] = &["value", "records", "Records", "Value"];

pub fn split(text: &str) -> Vec<Piece> {
    split_with(text, WRAPPER_KEYS)
}

pub fn split_with(text: &str, wrappers: &[&str]) -> Vec<Piece> {
    let mut out = Vec::new();
    each_with(text, wrappers, &mut |p| out.push(p));
    out
}

/// [`split`], handing each piece to `f` as soon as it is found instead of collecting them.
/// A parser of a mapped file uses this: scanning the whole text first would bring every
/// page of it into memory before the first record is parsed (a 64 MiB sign-in export
/// resident at once), while piece by piece the scan stays one record ahead of the parse,
/// whose pages are released behind it.
pub fn each(text: &str, f: &mut dyn FnMut(Piece)) {
    each_with(text, WRAPPER_KEYS, f)
}

/// [`each`] with other wrapper keys; the pieces, in order, are exactly [`split_with`]'s.
pub fn each_with(text: &str, wrappers: &[&str], f: &mut dyn FnMut(Piece)) {
    let b = text.as_bytes();
    let mut out = Out { f, last_bad: false };
    let mut pos = skip_ws(b, 0);
    while pos < b.len() {
        match b[pos] {
            b'[' => pos = array_elements(b, pos, &mut out),
            b'{' => pos = object_or_wrapper(text, pos, wrappers, &mut out),
            _ => {
                let end = memchr::memchr(b'\n', &b[pos..])
                    .map(|i| pos + i)
                    .unwrap_or(b.len());
                out.push(Piece::Bad {
                    start: pos,
                    end,
                    reason: "not JSON: expected '{' or '['".into(),
                });
                pos = end;
            }
        }
        pos = skip_ws(b, pos);
        // Tolerate separators some tools write between concatenated documents.
        while pos < b.len() && b[pos] == b',' {
            pos = skip_ws(b, pos + 1);
        }
    }
}

/// Where found pieces go, remembering whether the last one was bad (what a collecting
/// scanner would read back from its vector's last element).
struct Out<'f> {
    f: &'f mut dyn FnMut(Piece),
    last_bad: bool,
}

impl Out<'_> {
    fn push(&mut self, p: Piece) {
        self.last_bad = matches!(p, Piece::Bad { .. });
        (self.f)(p)
    }
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    // A loop, not recursion: a file of a million BOMs must not overflow the stack.
    loop {
        while pos < b.len() && matches!(b[pos], b' ' | b'\t' | b'\r' | b'\n' | 0) {
            pos += 1;
        }
        // A BOM in the middle (pages concatenated by `cat`) is whitespace to us.
        if b[pos..].starts_with("\u{FEFF}".as_bytes()) {
            pos += 3;
        } else {
            return pos;
        }
    }
}

/// End (exclusive) of the JSON value starting at `pos`, or `Err(len)` when the text ends first.
pub fn skip_value(b: &[u8], pos: usize) -> Result<usize, usize> {
    let mut depth: usize = 0;
    let mut i = pos;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_string(b, i)?;
                if depth == 0 {
                    return Ok(i);
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth == 0 {
                    return Ok(i);
                }
                depth -= 1;
                if depth == 0 {
                    return Ok(i + 1);
                }
            }
            b',' | b'\n' | b'\r' | b' ' | b'\t' if depth == 0 => return Ok(i),
            _ => {}
        }
        i += 1;
    }
    if depth == 0 && i > pos {
        Ok(i)
    } else {
        Err(b.len())
    }
}

fn skip_string(b: &[u8], pos: usize) -> Result<usize, usize> {
    let mut i = pos + 1;
    while i < b.len() {
        match memchr::memchr2(b'"', b'\\', &b[i..]) {
            None => return Err(b.len()),
            Some(k) => {
                i += k;
                if b[i] == b'\\' {
                    i += 2;
                } else {
                    return Ok(i + 1);
                }
            }
        }
    }
    Err(b.len())
}

fn line_end_or(b: &[u8], pos: usize) -> usize {
    memchr::memchr(b'\n', &b[pos..])
        .map(|i| pos + i)
        .unwrap_or(b.len())
}

/// Pushes each element of the array at `pos` as a record; returns the position after it.
fn array_elements(b: &[u8], pos: usize, out: &mut Out) -> usize {
    let mut i = skip_ws(b, pos + 1);
    loop {
        if i >= b.len() {
            out.push(Piece::Bad {
                start: pos,
                end: b.len(),
                reason: "truncated JSON: array not closed".into(),
            });
            return b.len();
        }
        if b[i] == b']' {
            return i + 1;
        }
        match skip_value(b, i) {
            Ok(end) if end > i => {
                out.push(Piece::Record { start: i, end });
                i = skip_ws(b, end);
                if i < b.len() && b[i] == b',' {
                    i = skip_ws(b, i + 1);
                } else if i < b.len() && b[i] != b']' {
                    let e = line_end_or(b, i).max(i + 1);
                    out.push(Piece::Bad {
                        start: i,
                        end: e,
                        reason: "malformed JSON: expected ',' or ']'".into(),
                    });
                    i = skip_ws(b, e);
                }
            }
            Ok(_) => {
                let e = line_end_or(b, i).max(i + 1);
                out.push(Piece::Bad {
                    start: i,
                    end: e,
                    reason: "malformed JSON: unexpected character".into(),
                });
                i = skip_ws(b, e);
            }
            Err(_) => {
                out.push(Piece::Bad {
                    start: i,
                    end: b.len(),
                    reason: "truncated JSON: record not closed before end of file".into(),
                });
                return b.len();
            }
        }
    }
}

/// An object at `pos`: either a wrapper whose record array we descend into, or one record.
fn object_or_wrapper(text: &str, pos: usize, wrappers: &[&str], out: &mut Out) -> usize {
    let b = text.as_bytes();
    let mut i = skip_ws(b, pos + 1);
    // Pieces are only ever found inside a wrapper's array: until one is found nothing has
    // been handed on, so a plain record or a malformed object takes nothing back.
    let mut found_wrapper = false;
    loop {
        if i >= b.len() {
            break;
        }
        if b[i] == b'}' {
            i += 1;
            if found_wrapper {
                return i;
            }
            out.push(Piece::Record { start: pos, end: i });
            return i;
        }
        if b[i] != b'"' {
            break;
        }
        let kend = match skip_string(b, i) {
            Ok(e) => e,
            Err(_) => break,
        };
        // JSON strings cannot hold a raw newline: one that seems to is a garbled line whose
        // quote would otherwise swallow the next line's record.
        if memchr::memchr(b'\n', &b[i..kend]).is_some() {
            break;
        }
        let key = &text[i + 1..kend - 1];
        i = skip_ws(b, kend);
        if i >= b.len() || b[i] != b':' {
            break;
        }
        i = skip_ws(b, i + 1);
        if i < b.len() && b[i] == b'[' && wrappers.contains(&key) && array_of_objects(b, i) {
            found_wrapper = true;
            i = array_elements(b, i, out);
        } else {
            match skip_value(b, i) {
                Ok(e) if e > i && !(b[i] == b'"' && memchr::memchr(b'\n', &b[i..e]).is_some()) => {
                    i = e
                }
                _ => break,
            }
        }
        i = skip_ws(b, i);
        if i < b.len() && b[i] == b',' {
            i = skip_ws(b, i + 1);
        }
    }
    // Fell out: malformed or truncated. Keep wrapper records already found; the rest is bad.
    if found_wrapper && i >= b.len() && out.last_bad {
        return b.len();
    }
    let truncated = i >= b.len();
    let end = if truncated {
        b.len()
    } else {
        line_end_or(b, i).max(i + 1)
    };
    let start = if found_wrapper { i.min(end) } else { pos };
    out.push(Piece::Bad {
        start,
        end,
        reason: if truncated {
            "truncated JSON: object not closed before end of file".into()
        } else {
            "malformed JSON object".into()
        },
    });
    end
}

fn array_of_objects(b: &[u8], pos: usize) -> bool {
    let i = skip_ws(b, pos + 1);
    i < b.len() && (b[i] == b'{' || b[i] == b']')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recs(t: &str) -> Vec<&str> {
        split(t)
            .into_iter()
            .filter_map(|p| match p {
                Piece::Record { start, end } => Some(&t[start..end]),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn shapes() {
        assert_eq!(
            recs("{\"a\":1}\n{\"a\":2}\n"),
            vec!["{\"a\":1}", "{\"a\":2}"]
        );
        assert_eq!(
            recs("[ {\"a\":1} , {\"a\":\"]\"} ]"),
            vec!["{\"a\":1}", "{\"a\":\"]\"}"]
        );
        let g = "{\"@odata.context\":\"x\",\"value\":[{\"id\":1},{\"id\":2}],\"@odata.nextLink\":\"y\"}{\"value\":[{\"id\":3}]}";
        assert_eq!(recs(g), vec!["{\"id\":1}", "{\"id\":2}", "{\"id\":3}"]);
        assert_eq!(recs("{\"records\":[{\"t\":1}]}"), vec!["{\"t\":1}"]);
        assert_eq!(
            recs("{\"value\":\"x\",\"b\":[1]}"),
            vec!["{\"value\":\"x\",\"b\":[1]}"]
        );
    }

    #[test]
    fn truncated_keeps_earlier_records() {
        let t = "{\"value\":[{\"id\":1},{\"id\":2,\"x\":\"abc";
        let p = split(t);
        assert_eq!(p.len(), 2);
        assert!(matches!(p[0], Piece::Record { .. }));
        assert!(matches!(p[1], Piece::Bad { .. }));
        let t = "[{\"id\":1},";
        let p = split(t);
        assert!(matches!(p.last(), Some(Piece::Bad { .. })));
    }

    #[test]
    fn garbage_line() {
        let p = split("{\"a\":1}\nhello world\n{\"a\":2}");
        assert_eq!(p.len(), 3);
        assert!(matches!(p[1], Piece::Bad { .. }));
    }

    #[test]
    fn garbled_line_does_not_swallow_the_next() {
        for t in [
            "{\"a\":1}\n{\"garbled\n{\"a\":2}\n",
            "{\"a\":1}\n{\"k\":\"open\n{\"a\":2}\n",
        ] {
            let p = split(t);
            assert_eq!(p.len(), 3, "{t:?}: {p:?}");
            assert!(matches!(p[1], Piece::Bad { .. }));
            assert_eq!(recs(t), vec!["{\"a\":1}", "{\"a\":2}"]);
        }
    }

    #[test]
    fn bom_run_no_overflow() {
        let t = format!("{}{{\"a\":1}}", "\u{FEFF}".repeat(1_000_000));
        assert_eq!(recs(&t), vec!["{\"a\":1}"]);
    }

    #[test]
    fn deep_nesting_no_overflow() {
        let t = "[".repeat(1_000_000);
        let _ = split(&t);
    }
}
