//! Escaping for text that comes from logs. Every string a template prints goes through
//! [`md`] unless the report code marked it safe, so a rule name like
//! `[x](javascript:alert(1))` or `<script>` stays literal text in Markdown and in HTML.

/// Escape `s` for use anywhere inline in CommonMark/GFM, including table cells:
/// punctuation that could open markup is backslash-escaped (`\|` is valid inside GFM tables),
/// line breaks and other control characters become spaces (a newline would end a table row
/// or start a new block), and a first character that could start a block (`-`, `+`, `=`,
/// `1.`) is escaped too, because templates print values right after `- ` or at a cell start.
pub fn md(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let mut leading = true;
    let mut digits_only = true;
    let mut prev = ' ';
    let many_leading = s
        .chars()
        .take_while(|c| *c == ' ' || c.is_control())
        .count()
        >= 2;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let c = if c.is_control() { ' ' } else { c };
        if leading && c == ' ' {
            // Several leading spaces could make an indented code block after a list
            // marker; a single one (" by …" joined to a line) cannot.
            if many_leading {
                out.push_str("&#32;");
            } else {
                out.push(' ');
            }
            continue;
        }
        let next = chars.peek().copied().unwrap_or(' ');
        match c {
            // `_` inside a word never opens emphasis (CommonMark flanking rules), so
            // `case_opened` stays readable in the raw Markdown.
            '_' if prev.is_alphanumeric() && next.is_alphanumeric() => out.push(c),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '{' | '}'
            | '$' | '^' => {
                out.push('\\');
                out.push(c);
            }
            '-' | '+' | '=' if leading => {
                out.push('\\');
                out.push(c);
            }
            // `1.` / `1)` followed by a space or the end would start an ordered list.
            '.' | ')'
                if digits_only
                    && !leading
                    && chars
                        .peek()
                        .is_none_or(|n| n.is_whitespace() || n.is_control()) =>
            {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        if !c.is_ascii_digit() {
            digits_only = false;
        }
        prev = c;
        leading = false;
    }
    out
}

/// Escape for HTML text and double-quoted attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escape for a line in a BagIt tag file: one line, no control characters.
pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// A short, display-safe prefix of `s` (at most `max` characters, with an ellipsis).
pub fn truncate(s: &str, max: usize) -> String {
    crate::sources::text::excerpt(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulldown_cmark::{Event, Parser, Tag};

    fn parse_events(md_text: &str) -> Vec<Event<'_>> {
        Parser::new_ext(md_text, pulldown_cmark::Options::ENABLE_TABLES).collect()
    }

    #[test]
    fn markup_stays_text() {
        for hostile in [
            "<script>alert(1)</script>",
            "[x](javascript:alert(1))",
            "![img](http://evil/x.png)",
            "*bold* _em_ `code` ~~del~~",
            "<http://evil.example>",
            "&lt;b&gt;",
            "a\nb\r\n| c |",
            "- item",
            "1. first",
            "# heading",
            "> quote",
            "    indented",
            "\t\t\t\tcode",
            " one",
            "\\",
            "snake_case_name _lead trail_ a__b",
            "![alt](x)",
        ] {
            let escaped = md(hostile);
            let doc = format!("- {escaped}\n");
            for ev in parse_events(&doc) {
                match ev {
                    Event::Html(_) | Event::InlineHtml(_) | Event::Code(_) => {
                        panic!("{hostile:?} → {escaped:?} produced {ev:?}")
                    }
                    Event::Start(
                        Tag::Link { .. }
                        | Tag::Image { .. }
                        | Tag::Emphasis
                        | Tag::Strong
                        | Tag::Heading { .. }
                        | Tag::BlockQuote(_)
                        | Tag::CodeBlock(_)
                        | Tag::Strikethrough,
                    ) => panic!("{hostile:?} → {escaped:?} produced {ev:?}"),
                    Event::Start(Tag::List(_)) | Event::End(_) | Event::Start(Tag::Item) => {}
                    _ => {}
                }
            }
            // Exactly one list and one item: nothing nested.
            let lists = parse_events(&doc)
                .iter()
                .filter(|e| matches!(e, Event::Start(Tag::List(_))))
                .count();
            assert_eq!(lists, 1, "{hostile:?} → {escaped:?}");
            // The text survives (modulo control characters).
            let text: String = parse_events(&doc)
                .into_iter()
                .filter_map(|e| match e {
                    Event::Text(t) => Some(t.into_string()),
                    _ => None,
                })
                .collect();
            let want: String = hostile
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            // A single leading space is layout, not content, to Markdown.
            let (text, want) = if want.starts_with(' ') && !want.starts_with("  ") {
                (text.trim_start().to_string(), want.trim_start().to_string())
            } else {
                (text, want)
            };
            assert_eq!(text, want, "{hostile:?} → {escaped:?}");
        }
    }

    #[test]
    fn pipes_stay_in_their_cell() {
        let doc = format!("| a | b |\n|---|---|\n| {} | x |\n", md("p|q\nr"));
        let cells = parse_events(&doc)
            .iter()
            .filter(|e| matches!(e, Event::Start(Tag::TableCell)))
            .count();
        assert_eq!(cells, 4);
    }

    #[test]
    fn plain_text_is_left_alone() {
        assert_eq!(
            md("alice@contoso.com 10.0.0.1 (VPN)"),
            "alice@contoso.com 10.0.0.1 (VPN)"
        );
        assert_eq!(md("2024"), "2024");
        assert_eq!(md("a-b"), "a-b");
    }

    #[test]
    fn html_escapes() {
        assert_eq!(
            html("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }
}
