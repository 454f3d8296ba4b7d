//! report.html: the same Markdown rendered with pulldown-cmark into one self-contained file
//! (inline CSS and SVG, nothing fetched). Raw HTML in the Markdown never passes through: it
//! becomes visible text. Only in-page links survive; images are dropped to their alt text.

use super::escape::html as esc;
use pulldown_cmark::{CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// The heading after which the chart is placed.
pub const CHART_HEADING: &str = "Activity over time";
/// Link title that marks a key-timeline row's own anchor (see the report template).
pub const ANCHOR_TITLE: &str = "timeline";

const CSS: &str = r#"
body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{border-bottom:2px solid #1d1d1f;padding-bottom:.2em}
h2{border-bottom:1px solid #ccc;padding-bottom:.15em;margin-top:1.8em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .5em;vertical-align:top;text-align:left}
th{background:#f2f2f2}
tr:target,td:target{background:#fff3bf}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.92em;background:#f4f4f4;padding:0 .2em}
a{color:#0b5394}
.chart{max-width:100%;height:auto;border:1px solid #ddd;background:#fff}
blockquote{border-left:4px solid #ccc;margin-left:0;padding-left:1em;color:#444}
@media print{body{max-width:none}a{color:inherit}}
"#;

fn safe_fragment(dest: &str) -> bool {
    dest.strip_prefix('#').is_some_and(|f| {
        !f.is_empty()
            && f.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Rows of a long table rendered at a time (see [`pieces`]).
const ROWS_PER_PIECE: usize = 256;

/// Render report Markdown to a complete HTML document with `chart_svg` after the
/// [`CHART_HEADING`] heading.
pub fn render(markdown: &str, title: &str, chart_svg: &str) -> String {
    let mut page = Vec::with_capacity(markdown.len() + markdown.len() / 4 + 4096);
    // Writing into a vector cannot fail, and every byte written comes from a `str`.
    let _ = write_page(&mut page, markdown, title, chart_svg, true);
    String::from_utf8(page).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// [`render`] into `w`, piece by piece: a parser builds a tree of the whole text it is given
/// before it yields anything, which for the report of a large case (a findings table of
/// 14k rows, 19 MB) is ~100 MB. Each piece ([`pieces`]) is parsed alone, so the parser's
/// memory is bounded by the largest piece; the page is the same byte for byte.
pub fn write_to(
    w: &mut impl std::io::Write,
    markdown: &str,
    title: &str,
    chart_svg: &str,
) -> std::io::Result<()> {
    write_page(w, markdown, title, chart_svg, true)
}

fn write_page(
    w: &mut impl std::io::Write,
    markdown: &str,
    title: &str,
    chart_svg: &str,
    split: bool,
) -> std::io::Result<()> {
    write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    )?;
    let mut html = Html::new(chart_svg);
    let whole = [Piece::Blocks(markdown)];
    let list = if split {
        pieces(markdown)
    } else {
        whole.to_vec()
    };
    let mut buf = Vec::new();
    for piece in list {
        match piece {
            Piece::Blocks(text) => html.write(&mut *w, text)?,
            Piece::Rows {
                head,
                rows,
                first,
                last,
            } => {
                // The rows parse as a table only under its header: each piece repeats it,
                // and keeps the table's opening (first piece) and closing (last piece) tags.
                buf.clear();
                html.write(&mut buf, &format!("{head}{rows}"))?;
                let open = b"</tr></thead><tbody>\n";
                let close = b"</tbody></table>\n";
                let from = match first {
                    true => 0,
                    false => find(&buf, open).map_or(0, |i| i + open.len()),
                };
                let to = match last || !buf.ends_with(close) {
                    true => buf.len(),
                    false => buf.len() - close.len(),
                };
                w.write_all(&buf[from..to.max(from)])?;
            }
        }
    }
    w.write_all(b"</body>\n</html>\n")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Markdown to HTML events, with raw HTML made text, only in-page links kept, images
/// dropped to their alt text and the chart placed after its heading. State carries across
/// the pieces of one page.
struct Html<'s> {
    chart_svg: &'s str,
    heading_text: Option<String>,
    /// Links kept open, so their End can be matched (dropped links drop their End too).
    link_stack: Vec<bool>,
    in_image: usize,
}

impl<'s> Html<'s> {
    fn new(chart_svg: &'s str) -> Self {
        Html {
            chart_svg,
            heading_text: None,
            link_stack: Vec::new(),
            in_image: 0,
        }
    }

    /// Each Markdown event becomes at most two HTML events, streamed straight into `w`: a
    /// long report is a million events, which held in a vector cost more than the page.
    fn write(&mut self, w: impl std::io::Write, markdown: &str) -> std::io::Result<()> {
        let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        let events = Parser::new_ext(markdown, opts).flat_map(|ev| {
            let (a, b) = self.map(ev);
            a.into_iter().chain(b)
        });
        pulldown_cmark::html::write_html_io(w, events)
    }

    fn map<'a>(&mut self, ev: Event<'a>) -> (Option<Event<'a>>, Option<Event<'a>>) {
        match ev {
            Event::Html(s) | Event::InlineHtml(s) => (Some(Event::Text(s)), None),
            Event::Start(Tag::Image { .. }) => {
                self.in_image += 1;
                (None, None)
            }
            Event::End(TagEnd::Image) => {
                self.in_image = self.in_image.saturating_sub(1);
                (None, None)
            }
            Event::Start(Tag::Link {
                dest_url, title, ..
            }) => {
                if safe_fragment(&dest_url) && title.as_ref() == ANCHOR_TITLE {
                    let frag = &dest_url[1..];
                    self.link_stack.push(true);
                    (
                        Some(Event::InlineHtml(CowStr::from(format!(
                            r##"<a id="{frag}" href="#{frag}">"##
                        )))),
                        None,
                    )
                } else if safe_fragment(&dest_url) {
                    self.link_stack.push(true);
                    (
                        Some(Event::InlineHtml(CowStr::from(format!(
                            r##"<a href="{}">"##,
                            esc(&dest_url)
                        )))),
                        None,
                    )
                } else {
                    self.link_stack.push(false);
                    (None, None)
                }
            }
            Event::End(TagEnd::Link) => {
                if self.link_stack.pop() == Some(true) {
                    (Some(Event::InlineHtml(CowStr::from("</a>"))), None)
                } else {
                    (None, None)
                }
            }
            Event::Start(Tag::Heading { level, .. }) => {
                if level == HeadingLevel::H2 {
                    self.heading_text = Some(String::new());
                }
                (Some(ev), None)
            }
            Event::End(TagEnd::Heading(level)) => {
                let chart = self
                    .heading_text
                    .take()
                    .is_some_and(|h| h.trim() == CHART_HEADING)
                    .then(|| {
                        Event::Html(CowStr::from(format!(
                            "<figure>{}</figure>\n",
                            self.chart_svg
                        )))
                    });
                (Some(Event::End(TagEnd::Heading(level))), chart)
            }
            Event::Text(ref s) | Event::Code(ref s) => {
                if let Some(h) = self.heading_text.as_mut() {
                    h.push_str(s);
                }
                if self.in_image > 0 {
                    // Alt text of a dropped image stays as text.
                    (Some(Event::Text(s.clone())), None)
                } else {
                    (Some(ev), None)
                }
            }
            other => (Some(other), None),
        }
    }
}

/// A part of the report's Markdown that renders alone to its share of the page.
#[derive(Debug, Clone, PartialEq)]
enum Piece<'a> {
    /// Whole blocks, rendered as they are.
    Blocks(&'a str),
    /// Rows of a long table, under its header and delimiter lines (`head`).
    Rows {
        head: &'a str,
        rows: &'a str,
        first: bool,
        last: bool,
    },
}

/// Cut `md` where nothing before can change how what follows parses: before an ATX heading
/// at the start of a line after a blank line (it closes every open block, outside fenced
/// code), and between rows of a long table that ends at a blank line (each row is parsed on
/// its own, under the header). The whole text stays one piece if it defines link
/// references (a reference may be used before its definition) or has a line starting
/// with `<` (an HTML block may run past a blank line); the templates write neither, and
/// values are escaped.
fn pieces(md: &str) -> Vec<Piece<'_>> {
    let lines: Vec<(usize, &str)> = md
        .split_inclusive('\n')
        .scan(0usize, |off, l| {
            let at = *off;
            *off += l.len();
            Some((at, l))
        })
        .collect();
    let indent = |l: &str| l.len() - l.trim_start_matches(' ').len();
    let opaque = lines.iter().any(|&(_, l)| {
        let t = l.trim_start_matches(' ');
        indent(l) <= 3 && (t.starts_with('<') || (t.starts_with('[') && t.contains("]:")))
    });
    if opaque {
        return vec![Piece::Blocks(md)];
    }
    let blank = |l: &str| l.trim().is_empty();
    let row = |l: &str| l.starts_with('|');
    let end_of = |i: usize| lines.get(i).map_or(md.len(), |&(o, _)| o);
    let mut out = Vec::new();
    let mut start = 0;
    let mut fence: Option<(char, usize)> = None;
    let mut prev_blank = true;
    let mut i = 0;
    while i < lines.len() {
        let (off, line) = lines[i];
        if let Some((c, n)) = fence {
            if indent(line) <= 3 && fence_of(line).is_some_and(|(d, m)| d == c && m >= n) {
                let rest = line.trim_start_matches(' ').trim_start_matches(c);
                if blank(rest) {
                    fence = None;
                }
            }
            prev_blank = false;
            i += 1;
            continue;
        }
        if indent(line) <= 3 {
            if let Some(f) = fence_of(line) {
                fence = Some(f);
                prev_blank = false;
                i += 1;
                continue;
            }
        }
        if prev_blank && atx_heading(line) && off > start {
            out.push(Piece::Blocks(&md[start..off]));
            start = off;
        }
        if prev_blank && row(line) && lines.get(i + 1).is_some_and(|&(_, d)| delimiter(d)) {
            let body = i + 2;
            let mut j = body;
            while j < lines.len() && row(lines[j].1) {
                j += 1;
            }
            let closed = lines.get(j).is_none_or(|&(_, l)| blank(l));
            if closed && j - body > ROWS_PER_PIECE {
                if off > start {
                    out.push(Piece::Blocks(&md[start..off]));
                }
                let head = &md[off..end_of(body)];
                let mut k = body;
                while k < j {
                    let e = (k + ROWS_PER_PIECE).min(j);
                    out.push(Piece::Rows {
                        head,
                        rows: &md[lines[k].0..end_of(e)],
                        first: k == body,
                        last: e == j,
                    });
                    k = e;
                }
                start = end_of(j);
                prev_blank = false;
                i = j;
                continue;
            }
        }
        prev_blank = blank(line);
        i += 1;
    }
    if start < md.len() || out.is_empty() {
        out.push(Piece::Blocks(&md[start..]));
    }
    out
}

/// The opening of a fenced code block: its character and length.
fn fence_of(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start_matches(' ');
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let n = t.chars().take_while(|x| *x == c).count();
    (n >= 3).then_some((c, n))
}

fn atx_heading(line: &str) -> bool {
    let n = line.bytes().take_while(|b| *b == b'#').count();
    (1..=6).contains(&n)
        && matches!(
            line.as_bytes().get(n),
            None | Some(b' ' | b'\t' | b'\n' | b'\r')
        )
}

/// A table's delimiter row: pipes, dashes, colons and spaces, with at least one dash.
fn delimiter(line: &str) -> bool {
    let t = line.trim_end();
    t.starts_with('|')
        && t.contains('-')
        && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_html_and_foreign_links_are_inert() {
        let md = "# T\n\n<script>alert(1)</script>\n\nx <b onclick=\"x\">y</b> [a](javascript:alert(1)) [b](https://evil.example/) ![i](http://evil/i.png)\n\n[ok](#ev-0123456789ab \"timeline\") [go](#ev-0123456789ab)\n";
        let out = render(md, "t", "<svg></svg>");
        let lower = out.to_lowercase();
        assert!(!lower.contains("<script"), "{out}");
        assert!(!lower.contains("<b "), "{out}");
        assert!(!lower.contains("javascript:"), "{out}");
        assert!(!lower.contains("href=\"http"), "{out}");
        assert!(!lower.contains("<img"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
        assert!(out.contains(r##"<a id="ev-0123456789ab" href="#ev-0123456789ab">ok</a>"##));
        assert!(out.contains(r##"<a href="#ev-0123456789ab">go</a>"##));
    }

    fn whole(md: &str) -> String {
        let mut page = Vec::new();
        write_page(&mut page, md, "t", "<svg id=\"c\"></svg>", false).unwrap();
        String::from_utf8(page).unwrap()
    }

    fn rows(n: usize, tag: &str) -> String {
        (0..n)
            .map(|i| format!("| {i} | `{tag}` | [x{i}](#ev-{i:012x} \"timeline\") \\| *e* |\n"))
            .collect()
    }

    /// A report-shaped document: long tables (aligned, not closed by a blank line, at the
    /// end), fenced code holding headings and rows, lists, the chart heading.
    fn report_like() -> String {
        format!(
            "# Report\n\nintro with [a](#x)\n\n## Activity over time\n\ntext\n\n## Findings\n\n| # | Rule | Evidence |\n|:---|---:|:-:|\n{}\n### sub\n\n- a\n- b\n\n  ## not cut inside\n\n```\n## in code\n| a |\n|---|\n{}```\n\n| a | b |\n|---|---|\n{}trailing line\n\n~~~~\nx\n~~~\n## still code\n~~~~\n\n| h |\n|---|\n{}",
            rows(700, "one"),
            rows(300, "fenced"),
            rows(400, "open"),
            rows(513, "last"),
        )
    }

    #[test]
    fn pieces_render_the_same_page_as_the_whole() {
        let md = report_like();
        let p = pieces(&md);
        // The long closed tables are cut; the one a paragraph line continues is not.
        let cut = p.iter().filter(|x| matches!(x, Piece::Rows { .. })).count();
        assert_eq!(cut, 3 + 3, "{:?}", p.len());
        assert!(p
            .iter()
            .any(|x| matches!(x, Piece::Blocks(b) if b.starts_with("### sub"))));
        assert_eq!(render(&md, "t", "<svg id=\"c\"></svg>"), whole(&md));
        // Pieces cover the text in order, each byte once (heads aside).
        let joined: String = p
            .iter()
            .map(|x| match x {
                Piece::Blocks(b) => b.to_string(),
                Piece::Rows {
                    head, rows, first, ..
                } => {
                    format!("{}{rows}", if *first { head } else { "" })
                }
            })
            .collect();
        assert_eq!(joined, md);
    }

    #[test]
    fn reference_definitions_and_html_keep_one_piece() {
        let long = format!("## A\n\n| a |\n|---|\n{}\n## B\n\n", rows(600, "r"));
        for extra in ["[r]: #ev-1\n\nuse [r]\n", "<!--\n\n## x\n\n-->\n"] {
            let md = format!("{long}{extra}");
            assert_eq!(pieces(&md), vec![Piece::Blocks(md.as_str())]);
            assert_eq!(render(&md, "t", ""), whole(&md));
        }
        assert!(pieces(&long).len() > 2);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn any_mix_of_blocks_renders_the_same(blocks in proptest::collection::vec(0u8..9, 1..24), n in 250usize..600) {
            let mut md = String::new();
            for (i, b) in blocks.iter().enumerate() {
                md.push_str(&match b {
                    0 => format!("## H{i}\n"),
                    1 => format!("| a | b |\n|---|:--|\n{}", rows(n, "p")),
                    2 => "text *x* [l](#ev-1)\n".to_string(),
                    3 => "\n".to_string(),
                    4 => "```\n## c\n| r |\n".to_string(),
                    5 => "```\n".to_string(),
                    6 => "- item\n  ## h\n".to_string(),
                    7 => "> quote\n".to_string(),
                    _ => format!("### {i}\n\n| h |\n|---|\n{}\n", rows(n / 2 + 200, "q")),
                });
            }
            proptest::prop_assert_eq!(render(&md, "t", "<svg/>"), {
                let mut page = Vec::new();
                write_page(&mut page, &md, "t", "<svg/>", false).unwrap();
                String::from_utf8(page).unwrap()
            });
        }
    }

    #[test]
    fn chart_goes_after_its_heading() {
        let out = render(
            "## Activity over time\n\ntext\n\n## Other\n",
            "t",
            "<svg id=\"c\"></svg>",
        );
        let h = out.find("Activity over time</h2>").unwrap();
        let c = out.find("<svg id=\"c\">").unwrap();
        let o = out.find("Other</h2>").unwrap();
        assert!(h < c && c < o);
    }
}
