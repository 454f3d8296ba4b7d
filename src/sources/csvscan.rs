//! CSV rows with the byte span each came from, for provenance. Embedded newlines in quoted
//! cells, `""` escaping and ragged rows are what Microsoft's exports contain; the csv crate
//! handles the grammar, this keeps the positions.

use csv::{ReaderBuilder, StringRecord};

pub struct Row {
    pub record: StringRecord,
    /// Span of the raw row in the text, without its line terminator.
    pub start: usize,
    pub end: usize,
}

/// All rows of `text` (the header row included, as row 0), or the error with where it happened.
pub struct Rows<'a> {
    text: &'a str,
    rdr: csv::Reader<&'a [u8]>,
    delimiter: u8,
}

impl<'a> Rows<'a> {
    pub fn new(text: &'a str, delimiter: u8) -> Self {
        let rdr = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        Rows {
            text,
            rdr,
            delimiter,
        }
    }

    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<Row, (usize, usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut rec = StringRecord::new();
        let start = self.rdr.position().byte() as usize;
        match self.rdr.read_record(&mut rec) {
            Ok(false) => None,
            Ok(true) => {
                let mut start = rec.position().map(|p| p.byte() as usize).unwrap_or(start);
                let b = self.text.as_bytes();
                // After a CRLF the reader's position sits on the LF; the row starts after it.
                while start < b.len() && matches!(b[start], b'\n' | b'\r') {
                    start += 1;
                }
                let mut end = (self.rdr.position().byte() as usize).min(self.text.len());
                // The csv crate reads an unclosed quote to the end of the file without error,
                // hiding every later line inside one cell; say so instead of passing it on.
                if end == self.text.len() && ends_inside_quotes(&b[start..end], self.delimiter) {
                    return Some(Err((
                        start,
                        end,
                        "quoted field not closed before end of file: every later line is inside it"
                            .into(),
                    )));
                }
                while end > start && matches!(b[end - 1], b'\n' | b'\r') {
                    end -= 1;
                }
                Some(Ok(Row {
                    record: rec,
                    start,
                    end,
                }))
            }
            Err(e) => {
                let end = (self.rdr.position().byte() as usize).clamp(start, self.text.len());
                let end = if end == start { self.text.len() } else { end };
                Some(Err((start, end, e.to_string())))
            }
        }
    }
}

/// Whether a raw row ends inside a quoted field (RFC 4180 quoting, `""` as escape), as the
/// csv crate's default reader sees it: a quote opens a quoted field only at a field's start.
fn ends_inside_quotes(raw: &[u8], delimiter: u8) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut i = 0;
    while i < raw.len() {
        let c = raw[i];
        if quoted {
            if c == b'"' {
                if raw.get(i + 1) == Some(&b'"') {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else if c == b'"' && field_start {
            quoted = true;
            field_start = false;
        } else {
            field_start = c == delimiter || c == b'\n' || c == b'\r';
        }
        i += 1;
    }
    quoted
}

/// Column lookup by header name, ignoring case, surrounding spaces and a `[UTC]` suffix.
pub struct Header {
    names: Vec<String>,
}

impl Header {
    pub fn new(rec: &StringRecord) -> Self {
        Header {
            names: rec.iter().map(norm).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Index of the first column named `name` (normalized).
    pub fn idx(&self, name: &str) -> Option<usize> {
        let n = norm(name);
        self.names.iter().position(|h| *h == n)
    }

    /// Value of column `name` in `rec`, `None` when absent or empty.
    pub fn get<'r>(&self, rec: &'r StringRecord, name: &str) -> Option<&'r str> {
        self.idx(name)
            .and_then(|i| rec.get(i))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    /// First non-empty value among several column names.
    pub fn get_any<'r>(&self, rec: &'r StringRecord, names: &[&str]) -> Option<&'r str> {
        names.iter().find_map(|n| self.get(rec, n))
    }
}

fn norm(s: &str) -> String {
    let s = s.trim().trim_start_matches('\u{FEFF}').trim_matches('"');
    let s = s.strip_suffix("[UTC]").unwrap_or(s).trim();
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_embedded_newlines() {
        let t = "a,b\r\n1,\"x\r\ny\"\r\n2,\"{\"\"k\"\":1}\"\r\n";
        let rows: Vec<_> = Rows::new(t, b',').map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(&t[rows[1].start..rows[1].end], "1,\"x\r\ny\"");
        assert_eq!(&rows[2].record[1], "{\"k\":1}");
        let h = Header::new(&rows[0].record);
        assert!(!ends_inside_quotes(b"a,\"b\"\"c\",5\" d", b','));
        assert!(ends_inside_quotes(b"a,\"b\nc", b','));
        assert!(ends_inside_quotes(b"a;\"b\"\";", b';'));
        assert_eq!(h.get(&rows[1].record, " A "), Some("1"));
    }
}
