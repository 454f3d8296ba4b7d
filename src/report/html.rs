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

/// Render report Markdown to a complete HTML document with `chart_svg` after the
/// [`CHART_HEADING`] heading.
pub fn render(markdown: &str, title: &str, chart_svg: &str) -> String {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut heading_text: Option<String> = None;
    // Links kept open, so their End can be matched (dropped links drop their End too).
    let mut link_stack: Vec<bool> = Vec::new();
    let mut in_image = 0usize;
    // Each Markdown event becomes at most two HTML events, streamed straight into the page:
    // a long report is a million events, which held in a vector cost more than the page.
    let events = Parser::new_ext(markdown, opts).flat_map(move |ev| {
        let (first, second): (Option<Event>, Option<Event>) = match ev {
            Event::Html(s) | Event::InlineHtml(s) => (Some(Event::Text(s)), None),
            Event::Start(Tag::Image { .. }) => {
                in_image += 1;
                (None, None)
            }
            Event::End(TagEnd::Image) => {
                in_image = in_image.saturating_sub(1);
                (None, None)
            }
            Event::Start(Tag::Link {
                dest_url, title, ..
            }) => {
                if safe_fragment(&dest_url) && title.as_ref() == ANCHOR_TITLE {
                    let frag = &dest_url[1..];
                    link_stack.push(true);
                    (
                        Some(Event::InlineHtml(CowStr::from(format!(
                            r##"<a id="{frag}" href="#{frag}">"##
                        )))),
                        None,
                    )
                } else if safe_fragment(&dest_url) {
                    link_stack.push(true);
                    (
                        Some(Event::InlineHtml(CowStr::from(format!(
                            r##"<a href="{}">"##,
                            esc(&dest_url)
                        )))),
                        None,
                    )
                } else {
                    link_stack.push(false);
                    (None, None)
                }
            }
            Event::End(TagEnd::Link) => {
                if link_stack.pop() == Some(true) {
                    (Some(Event::InlineHtml(CowStr::from("</a>"))), None)
                } else {
                    (None, None)
                }
            }
            Event::Start(Tag::Heading { level, .. }) => {
                if level == HeadingLevel::H2 {
                    heading_text = Some(String::new());
                }
                (Some(ev), None)
            }
            Event::End(TagEnd::Heading(level)) => {
                let chart = heading_text
                    .take()
                    .is_some_and(|h| h.trim() == CHART_HEADING)
                    .then(|| Event::Html(CowStr::from(format!("<figure>{chart_svg}</figure>\n"))));
                (Some(Event::End(TagEnd::Heading(level))), chart)
            }
            Event::Text(ref s) | Event::Code(ref s) => {
                if let Some(h) = heading_text.as_mut() {
                    h.push_str(s);
                }
                if in_image > 0 {
                    // Alt text of a dropped image stays as text.
                    (Some(Event::Text(s.clone())), None)
                } else {
                    (Some(ev), None)
                }
            }
            other => (Some(other), None),
        };
        first.into_iter().chain(second)
    });
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        esc(title)
    );
    pulldown_cmark::html::push_html(&mut page, events);
    page.push_str("</body>\n</html>\n");
    page
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
