//! Helpers shared by the firewall formats (FortiGate, PAN-OS, CEF): record lines with their
//! spans, syslog header stripping, FortiGate-style `key=value` scanning, a small CSV field
//! splitter that borrows, and country names to ISO codes. Everything here borrows from the
//! input so the hot path allocates only what ends up in an event.

use super::timefmt::{self, Stamp};
use super::ParseContext;
use chrono::{NaiveDate, NaiveDateTime, TimeZone, Utc};
use std::borrow::Cow;

/// The zone string for a zone-less time when the case gave none.
pub const NO_ZONE: &str = "UTC (assumed: no zone given)";

/// A zone-less local time: in the zone the case file gives for `source`, else UTC, saying so.
pub fn local_stamp(naive: NaiveDateTime, ctx: &ParseContext, source: &str) -> Stamp {
    match ctx.zone_for(source) {
        Some(tz) => timefmt::localize(naive, tz),
        None => Stamp {
            utc: Utc.from_utc_datetime(&naive),
            zone: NO_ZONE.to_string(),
        },
    }
}

/// Offsets as firewalls write them: `+0100`, `-05:00`, `UTC-5:00`, `GMT+1`, `UTC`, `Z`.
pub fn parse_zone_offset(s: &str) -> Option<chrono::FixedOffset> {
    let t = s.trim();
    let t = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("GMT"))
        .unwrap_or(t)
        .trim();
    if t.is_empty() || t == "Z" {
        return chrono::FixedOffset::east_opt(0);
    }
    timefmt::parse_offset(t)
}

/// A non-blank line: `start..end` excludes the line terminator (LF or CRLF).
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub text: &'a str,
    pub start: usize,
    pub end: usize,
}

/// Non-blank lines of `text`, in order, with byte spans.
pub fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    let b = text.as_bytes();
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        while pos < b.len() {
            let start = pos;
            let nl = memchr::memchr(b'\n', &b[pos..]).map(|i| pos + i);
            let mut end = nl.unwrap_or(b.len());
            pos = nl.map(|i| i + 1).unwrap_or(b.len());
            while end > start && b[end - 1] == b'\r' {
                end -= 1;
            }
            let t = &text[start..end];
            if t.trim().is_empty() {
                continue;
            }
            return Some(Line {
                text: t,
                start,
                end,
            });
        }
        None
    })
}

/// What a syslog header carried before the message body.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyslogHeader<'a> {
    pub pri: Option<u16>,
    /// RFC 5424 timestamp (with zone) or RFC 3164 `Mmm dd hh:mm:ss` (no year, no zone).
    pub time: Option<&'a str>,
    pub rfc5424: bool,
    pub host: Option<&'a str>,
    /// Byte offset of the body within the line.
    pub body_offset: usize,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Month number from a three-letter English abbreviation, any case.
pub fn month_num(m: &str) -> Option<u32> {
    MONTHS
        .iter()
        .position(|x| x.eq_ignore_ascii_case(m))
        .map(|i| i as u32 + 1)
}

/// Strips an optional octet count, `<PRI>`, and an RFC 5424 or RFC 3164 header.
/// `is_body_start` recognizes the message body, so a 3164 header with or without a hostname
/// token works (PAN-OS writes `Mmm dd hh:mm:ss 1,2021/...` with none; relays add one).
pub fn strip_header<'a>(line: &'a str, is_body_start: impl Fn(&str) -> bool) -> SyslogHeader<'a> {
    let mut h = SyslogHeader::default();
    let b = line.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    // Octet-counting framing (RFC 6587): `123 <14>...`.
    let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && b.get(i + digits) == Some(&b' ') && b.get(i + digits + 1) == Some(&b'<') {
        i += digits + 1;
    }
    if b.get(i) == Some(&b'<') {
        if let Some(close) = b[i..].iter().take(6).position(|&c| c == b'>') {
            if let Ok(p) = line[i + 1..i + close].parse::<u16>() {
                h.pri = Some(p);
                i += close + 1;
            }
        }
    }
    if is_body_start(&line[i..]) {
        h.body_offset = i;
        return h;
    }
    // RFC 5424: `1 TIMESTAMP HOST APP PROCID MSGID SD MSG`.
    if line[i..].starts_with("1 ") {
        let mut j = i + 2;
        let mut toks: [&str; 5] = [""; 5];
        let mut ok = true;
        for t in toks.iter_mut() {
            match line[j..].find(' ') {
                Some(k) => {
                    *t = &line[j..j + k];
                    j += k + 1;
                }
                None => {
                    ok = false;
                    break;
                }
            }
        }
        if ok && toks[0].len() >= 10 && toks[0].as_bytes()[4] == b'-' {
            h.rfc5424 = true;
            h.time = (toks[0] != "-").then_some(toks[0]);
            h.host = (toks[1] != "-").then_some(toks[1]);
            // Structured data: `-` or one or more `[...]` (with `\]` escapes).
            let rest = &line[j..];
            let mut k = 0;
            let rb = rest.as_bytes();
            if rb.first() == Some(&b'-') {
                k = 1;
            } else {
                while rb.get(k) == Some(&b'[') {
                    let mut m = k + 1;
                    while m < rb.len() && rb[m] != b']' {
                        if rb[m] == b'\\' {
                            m += 1;
                        }
                        m += 1;
                    }
                    k = (m + 1).min(rb.len());
                }
            }
            if rb.get(k) == Some(&b' ') {
                k += 1;
            }
            // A BOM may precede the message (RFC 5424 §6.4).
            let mut body = j + k;
            if line[body..].starts_with('\u{FEFF}') {
                body += 3;
            }
            h.body_offset = body;
            return h;
        }
    }
    // RFC 3164: `Mmm dd hh:mm:ss ` then maybe a host.
    let rest = &line[i..];
    if rest.len() >= 16 && rest.get(..3).and_then(month_num).is_some() && rest.as_bytes()[3] == b' '
    {
        let rb = rest.as_bytes();
        // Day is space-padded (`Nov  3`) or not (`Nov 3`).
        let mut k = 4;
        if rb[k] == b' ' {
            k += 1;
        }
        let dstart = k;
        while k < rb.len() && rb[k].is_ascii_digit() {
            k += 1;
        }
        if k > dstart
            && rb.get(k) == Some(&b' ')
            && rest.len() >= k + 9
            && rest.as_bytes()[k + 3] == b':'
            && rest.is_char_boundary(k + 9)
        {
            let tend = k + 9;
            h.time = rest.get(..tend);
            let mut body = i + tend;
            if b.get(body) == Some(&b' ') {
                body += 1;
            }
            if !is_body_start(&line[body..]) {
                // A hostname (and maybe `tag:`) before the body.
                if let Some(sp) = line[body..].find(' ') {
                    let host = &line[body..body + sp];
                    let after = body + sp + 1;
                    if is_body_start(&line[after..]) || !host.contains('=') {
                        h.host = Some(host);
                        body = after;
                    }
                }
            }
            h.body_offset = body;
            return h;
        }
    }
    h.body_offset = i;
    h
}

/// RFC 3164 time (`Mmm dd hh:mm:ss`) has no year: callers must supply one or not use it.
pub fn rfc3164_with_year(t: &str, year: i32) -> Option<NaiveDateTime> {
    let mut it = t.split_whitespace();
    let m = month_num(it.next()?)?;
    let d: u32 = it.next()?.parse().ok()?;
    let clock = timefmt::parse_clock(it.next()?)?;
    Some(NaiveDate::from_ymd_opt(year, m, d)?.and_time(clock))
}

/// Undo `\"` and `\\` escapes (FortiOS quotes values that contain quotes this way).
pub fn unescape_quotes(v: &str) -> Cow<'_, str> {
    if !v.contains('\\') {
        return Cow::Borrowed(v);
    }
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next() {
                Some(n @ ('"' | '\\')) => out.push(n),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// FortiGate-style `key=value key="quoted value"` pairs. Keys are `[A-Za-z0-9_.-]+`;
/// tokens without `=` (a stray header word) are skipped. An unterminated quote runs to
/// the end of the text (the record is kept; the value is what is there).
pub struct KvIter<'a> {
    s: &'a str,
    pos: usize,
}

pub fn kv(s: &str) -> KvIter<'_> {
    KvIter { s, pos: 0 }
}

impl<'a> Iterator for KvIter<'a> {
    type Item = (&'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.s.as_bytes();
        loop {
            while self.pos < b.len() && matches!(b[self.pos], b' ' | b'\t' | b',') {
                self.pos += 1;
            }
            if self.pos >= b.len() {
                return None;
            }
            let kstart = self.pos;
            while self.pos < b.len() && is_key_byte(b[self.pos]) {
                self.pos += 1;
            }
            if self.pos >= b.len() || b[self.pos] != b'=' || self.pos == kstart {
                // Not a key: skip this token.
                while self.pos < b.len() && !matches!(b[self.pos], b' ' | b'\t') {
                    self.pos += 1;
                }
                continue;
            }
            let key = &self.s[kstart..self.pos];
            self.pos += 1;
            if b.get(self.pos) == Some(&b'"') {
                let vstart = self.pos + 1;
                let mut j = vstart;
                let mut escaped = false;
                loop {
                    match memchr::memchr2(b'"', b'\\', &b[j..]) {
                        None => {
                            j = b.len();
                            break;
                        }
                        Some(k) => {
                            j += k;
                            if b[j] == b'\\' {
                                escaped = true;
                                j += 2;
                                if j >= b.len() {
                                    j = b.len();
                                    break;
                                }
                            } else {
                                break;
                            }
                        }
                    }
                }
                let raw = &self.s[vstart..j.min(b.len())];
                self.pos = (j + 1).min(b.len());
                let v = if escaped {
                    unescape_quotes(raw)
                } else {
                    Cow::Borrowed(raw)
                };
                return Some((key, v));
            }
            let vstart = self.pos;
            while self.pos < b.len() && !matches!(b[self.pos], b' ' | b'\t') {
                self.pos += 1;
            }
            return Some((key, Cow::Borrowed(&self.s[vstart..self.pos])));
        }
    }
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

/// Splits one CSV line (comma, `"` quoting, `""` escape) into fields without copying
/// unless a field holds an escaped quote. Fields are appended to `out`.
pub fn split_csv_line<'a>(s: &'a str, out: &mut Vec<Cow<'a, str>>) {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        if b.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut j = start;
            let mut has_escape = false;
            loop {
                match memchr::memchr(b'"', &b[j.min(b.len())..]) {
                    None => {
                        j = b.len();
                        break;
                    }
                    Some(k) => {
                        j += k;
                        if b.get(j + 1) == Some(&b'"') {
                            has_escape = true;
                            j += 2;
                        } else {
                            break;
                        }
                    }
                }
            }
            let raw = &s[start..j.min(b.len())];
            out.push(if has_escape {
                Cow::Owned(raw.replace("\"\"", "\""))
            } else {
                Cow::Borrowed(raw)
            });
            // Skip to the next comma (tolerating junk after the closing quote).
            let mut k = (j + 1).min(b.len());
            match memchr::memchr(b',', &b[k..]) {
                Some(c) => {
                    k += c;
                    i = k + 1;
                }
                None => return,
            }
        } else if b.get(i) == Some(&b'{') {
            // PAN-OS writes Link Switches as `{a,b,c}` unquoted: one field despite its commas.
            let close = memchr::memchr(b'}', &b[i..]).map(|k| i + k);
            let after = close.map(|c| c + 1).unwrap_or(b.len());
            match memchr::memchr(b',', &b[after..]) {
                Some(c) => {
                    out.push(Cow::Borrowed(&s[i..after + c]));
                    i = after + c + 1;
                }
                None => {
                    out.push(Cow::Borrowed(&s[i..]));
                    return;
                }
            }
        } else {
            match memchr::memchr(b',', &b[i..]) {
                Some(c) => {
                    out.push(Cow::Borrowed(&s[i..i + c]));
                    i += c + 1;
                }
                None => {
                    out.push(Cow::Borrowed(&s[i..]));
                    return;
                }
            }
        }
    }
}

/// Value that means "nothing" in firewall logs.
pub fn is_blank(v: &str) -> bool {
    let v = v.trim();
    v.is_empty() || v == "N/A" || v == "-" || v == "(null)" || v == "n/a"
}

/// `Some(trimmed)` unless blank.
pub fn non_blank(v: &str) -> Option<&str> {
    (!is_blank(v)).then(|| v.trim())
}

/// An IP address as written, unless blank or the unspecified address.
pub fn ip_value(v: &str) -> Option<&str> {
    let v = non_blank(v)?;
    if v == "0.0.0.0" || v == "::" {
        return None;
    }
    v.parse::<std::net::IpAddr>().ok().map(|_| v)
}

/// The IP in `ssh(192.168.0.10)` / `JSON(192.168.0.10)` / `GUI(10.0.0.1)` style text.
pub fn ip_in_parens(v: &str) -> Option<&str> {
    let open = v.find('(')?;
    let close = v[open..].find(')')? + open;
    ip_value(&v[open + 1..close])
}

/// ISO 3166-1 alpha-2 for a country name or code as firewalls write it; `None` for
/// `Reserved`, regions and unknown names (the caller keeps the original text).
pub fn country_code(name: &str) -> Option<&'static str> {
    let n = name.trim();
    if n.len() == 2 && n.bytes().all(|c| c.is_ascii_uppercase()) {
        return COUNTRIES.iter().find(|(_, c)| *c == n).map(|(_, c)| *c);
    }
    let lower = n.to_lowercase();
    COUNTRIES
        .binary_search_by(|(k, _)| (*k).cmp(lower.as_str()))
        .ok()
        .map(|i| COUNTRIES[i].1)
}

/// Lower-cased country names (ISO 3166-1 names from Debian's iso-codes, plus the GeoIP-style
/// names FortiGate writes) to alpha-2, sorted for binary search.
static COUNTRIES: &[(&str, &str)] = &[
    ("afghanistan", "AF"),
    ("albania", "AL"),
    ("algeria", "DZ"),
    ("american samoa", "AS"),
    ("andorra", "AD"),
    ("angola", "AO"),
    ("anguilla", "AI"),
    ("antarctica", "AQ"),
    ("antigua and barbuda", "AG"),
    ("arab republic of egypt", "EG"),
    ("argentina", "AR"),
    ("argentine republic", "AR"),
    ("armenia", "AM"),
    ("aruba", "AW"),
    ("australia", "AU"),
    ("austria", "AT"),
    ("azerbaijan", "AZ"),
    ("bahamas", "BS"),
    ("bahrain", "BH"),
    ("bangladesh", "BD"),
    ("barbados", "BB"),
    ("belarus", "BY"),
    ("belgium", "BE"),
    ("belize", "BZ"),
    ("benin", "BJ"),
    ("bermuda", "BM"),
    ("bhutan", "BT"),
    ("bolivarian republic of venezuela", "VE"),
    ("bolivia", "BO"),
    ("bolivia, plurinational state of", "BO"),
    ("bonaire, sint eustatius and saba", "BQ"),
    ("bosnia and herzegovina", "BA"),
    ("botswana", "BW"),
    ("bouvet island", "BV"),
    ("brazil", "BR"),
    ("british indian ocean territory", "IO"),
    ("british virgin islands", "VG"),
    ("brunei", "BN"),
    ("brunei darussalam", "BN"),
    ("bulgaria", "BG"),
    ("burkina faso", "BF"),
    ("burundi", "BI"),
    ("cabo verde", "CV"),
    ("cambodia", "KH"),
    ("cameroon", "CM"),
    ("canada", "CA"),
    ("cape verde", "CV"),
    ("cayman islands", "KY"),
    ("central african republic", "CF"),
    ("chad", "TD"),
    ("chile", "CL"),
    ("china", "CN"),
    ("christmas island", "CX"),
    ("cocos (keeling) islands", "CC"),
    ("colombia", "CO"),
    ("commonwealth of dominica", "DM"),
    ("commonwealth of the bahamas", "BS"),
    ("commonwealth of the northern mariana islands", "MP"),
    ("comoros", "KM"),
    ("congo", "CG"),
    ("congo, the democratic republic of the", "CD"),
    ("cook islands", "CK"),
    ("costa rica", "CR"),
    ("cote d'ivoire", "CI"),
    ("croatia", "HR"),
    ("cuba", "CU"),
    ("curaçao", "CW"),
    ("cyprus", "CY"),
    ("czech republic", "CZ"),
    ("czechia", "CZ"),
    ("côte d'ivoire", "CI"),
    ("democratic people's republic of korea", "KP"),
    ("democratic republic of sao tome and principe", "ST"),
    ("democratic republic of timor-leste", "TL"),
    ("democratic socialist republic of sri lanka", "LK"),
    ("denmark", "DK"),
    ("djibouti", "DJ"),
    ("dominica", "DM"),
    ("dominican republic", "DO"),
    ("eastern republic of uruguay", "UY"),
    ("ecuador", "EC"),
    ("egypt", "EG"),
    ("el salvador", "SV"),
    ("equatorial guinea", "GQ"),
    ("eritrea", "ER"),
    ("estonia", "EE"),
    ("eswatini", "SZ"),
    ("ethiopia", "ET"),
    ("falkland islands (malvinas)", "FK"),
    ("faroe islands", "FO"),
    ("federal democratic republic of ethiopia", "ET"),
    ("federal democratic republic of nepal", "NP"),
    ("federal republic of germany", "DE"),
    ("federal republic of nigeria", "NG"),
    ("federal republic of somalia", "SO"),
    ("federated states of micronesia", "FM"),
    ("federative republic of brazil", "BR"),
    ("fiji", "FJ"),
    ("finland", "FI"),
    ("france", "FR"),
    ("french guiana", "GF"),
    ("french polynesia", "PF"),
    ("french republic", "FR"),
    ("french southern territories", "TF"),
    ("gabon", "GA"),
    ("gabonese republic", "GA"),
    ("gambia", "GM"),
    ("georgia", "GE"),
    ("germany", "DE"),
    ("ghana", "GH"),
    ("gibraltar", "GI"),
    ("grand duchy of luxembourg", "LU"),
    ("great britain", "GB"),
    ("greece", "GR"),
    ("greenland", "GL"),
    ("grenada", "GD"),
    ("guadeloupe", "GP"),
    ("guam", "GU"),
    ("guatemala", "GT"),
    ("guernsey", "GG"),
    ("guinea", "GN"),
    ("guinea-bissau", "GW"),
    ("guyana", "GY"),
    ("haiti", "HT"),
    ("hashemite kingdom of jordan", "JO"),
    ("heard island and mcdonald islands", "HM"),
    ("hellenic republic", "GR"),
    ("holy see (vatican city state)", "VA"),
    ("honduras", "HN"),
    ("hong kong", "HK"),
    ("hong kong special administrative region of china", "HK"),
    ("hungary", "HU"),
    ("iceland", "IS"),
    ("independent state of papua new guinea", "PG"),
    ("independent state of samoa", "WS"),
    ("india", "IN"),
    ("indonesia", "ID"),
    ("iran", "IR"),
    ("iran, islamic republic of", "IR"),
    ("iraq", "IQ"),
    ("ireland", "IE"),
    ("islamic republic of afghanistan", "AF"),
    ("islamic republic of iran", "IR"),
    ("islamic republic of mauritania", "MR"),
    ("islamic republic of pakistan", "PK"),
    ("isle of man", "IM"),
    ("israel", "IL"),
    ("italian republic", "IT"),
    ("italy", "IT"),
    ("ivory coast", "CI"),
    ("jamaica", "JM"),
    ("japan", "JP"),
    ("jersey", "JE"),
    ("jordan", "JO"),
    ("kazakhstan", "KZ"),
    ("kenya", "KE"),
    ("kingdom of bahrain", "BH"),
    ("kingdom of belgium", "BE"),
    ("kingdom of bhutan", "BT"),
    ("kingdom of cambodia", "KH"),
    ("kingdom of denmark", "DK"),
    ("kingdom of eswatini", "SZ"),
    ("kingdom of lesotho", "LS"),
    ("kingdom of morocco", "MA"),
    ("kingdom of norway", "NO"),
    ("kingdom of saudi arabia", "SA"),
    ("kingdom of spain", "ES"),
    ("kingdom of sweden", "SE"),
    ("kingdom of thailand", "TH"),
    ("kingdom of the netherlands", "NL"),
    ("kingdom of tonga", "TO"),
    ("kiribati", "KI"),
    ("korea", "KR"),
    ("korea, democratic people's republic of", "KP"),
    ("korea, republic of", "KR"),
    ("kosovo", "XK"),
    ("kuwait", "KW"),
    ("kyrgyz republic", "KG"),
    ("kyrgyzstan", "KG"),
    ("lao people's democratic republic", "LA"),
    ("laos", "LA"),
    ("latvia", "LV"),
    ("lebanese republic", "LB"),
    ("lebanon", "LB"),
    ("lesotho", "LS"),
    ("liberia", "LR"),
    ("libya", "LY"),
    ("libyan arab jamahiriya", "LY"),
    ("liechtenstein", "LI"),
    ("lithuania", "LT"),
    ("luxembourg", "LU"),
    ("macao", "MO"),
    ("macao special administrative region of china", "MO"),
    ("macau", "MO"),
    ("macedonia", "MK"),
    ("madagascar", "MG"),
    ("malawi", "MW"),
    ("malaysia", "MY"),
    ("maldives", "MV"),
    ("mali", "ML"),
    ("malta", "MT"),
    ("marshall islands", "MH"),
    ("martinique", "MQ"),
    ("mauritania", "MR"),
    ("mauritius", "MU"),
    ("mayotte", "YT"),
    ("mexico", "MX"),
    ("micronesia, federated states of", "FM"),
    ("moldova", "MD"),
    ("moldova, republic of", "MD"),
    ("monaco", "MC"),
    ("mongolia", "MN"),
    ("montenegro", "ME"),
    ("montserrat", "MS"),
    ("morocco", "MA"),
    ("mozambique", "MZ"),
    ("myanmar", "MM"),
    ("namibia", "NA"),
    ("nauru", "NR"),
    ("nepal", "NP"),
    ("netherlands", "NL"),
    ("new caledonia", "NC"),
    ("new zealand", "NZ"),
    ("nicaragua", "NI"),
    ("niger", "NE"),
    ("nigeria", "NG"),
    ("niue", "NU"),
    ("norfolk island", "NF"),
    ("north korea", "KP"),
    ("north macedonia", "MK"),
    ("northern mariana islands", "MP"),
    ("norway", "NO"),
    ("oman", "OM"),
    ("pakistan", "PK"),
    ("palau", "PW"),
    ("palestine, state of", "PS"),
    ("palestinian territory", "PS"),
    ("panama", "PA"),
    ("papua new guinea", "PG"),
    ("paraguay", "PY"),
    ("people's democratic republic of algeria", "DZ"),
    ("people's republic of bangladesh", "BD"),
    ("people's republic of china", "CN"),
    ("peru", "PE"),
    ("philippines", "PH"),
    ("pitcairn", "PN"),
    ("plurinational state of bolivia", "BO"),
    ("poland", "PL"),
    ("portugal", "PT"),
    ("portuguese republic", "PT"),
    ("principality of andorra", "AD"),
    ("principality of liechtenstein", "LI"),
    ("principality of monaco", "MC"),
    ("puerto rico", "PR"),
    ("qatar", "QA"),
    ("republic of albania", "AL"),
    ("republic of angola", "AO"),
    ("republic of armenia", "AM"),
    ("republic of austria", "AT"),
    ("republic of azerbaijan", "AZ"),
    ("republic of belarus", "BY"),
    ("republic of benin", "BJ"),
    ("republic of bosnia and herzegovina", "BA"),
    ("republic of botswana", "BW"),
    ("republic of bulgaria", "BG"),
    ("republic of burundi", "BI"),
    ("republic of cabo verde", "CV"),
    ("republic of cameroon", "CM"),
    ("republic of chad", "TD"),
    ("republic of chile", "CL"),
    ("republic of colombia", "CO"),
    ("republic of costa rica", "CR"),
    ("republic of croatia", "HR"),
    ("republic of cuba", "CU"),
    ("republic of cyprus", "CY"),
    ("republic of côte d'ivoire", "CI"),
    ("republic of djibouti", "DJ"),
    ("republic of ecuador", "EC"),
    ("republic of el salvador", "SV"),
    ("republic of equatorial guinea", "GQ"),
    ("republic of estonia", "EE"),
    ("republic of fiji", "FJ"),
    ("republic of finland", "FI"),
    ("republic of ghana", "GH"),
    ("republic of guatemala", "GT"),
    ("republic of guinea", "GN"),
    ("republic of guinea-bissau", "GW"),
    ("republic of guyana", "GY"),
    ("republic of haiti", "HT"),
    ("republic of honduras", "HN"),
    ("republic of iceland", "IS"),
    ("republic of india", "IN"),
    ("republic of indonesia", "ID"),
    ("republic of iraq", "IQ"),
    ("republic of kazakhstan", "KZ"),
    ("republic of kenya", "KE"),
    ("republic of kiribati", "KI"),
    ("republic of latvia", "LV"),
    ("republic of liberia", "LR"),
    ("republic of lithuania", "LT"),
    ("republic of madagascar", "MG"),
    ("republic of malawi", "MW"),
    ("republic of maldives", "MV"),
    ("republic of mali", "ML"),
    ("republic of malta", "MT"),
    ("republic of mauritius", "MU"),
    ("republic of moldova", "MD"),
    ("republic of mozambique", "MZ"),
    ("republic of myanmar", "MM"),
    ("republic of namibia", "NA"),
    ("republic of nauru", "NR"),
    ("republic of nicaragua", "NI"),
    ("republic of north macedonia", "MK"),
    ("republic of palau", "PW"),
    ("republic of panama", "PA"),
    ("republic of paraguay", "PY"),
    ("republic of peru", "PE"),
    ("republic of poland", "PL"),
    ("republic of san marino", "SM"),
    ("republic of senegal", "SN"),
    ("republic of serbia", "RS"),
    ("republic of seychelles", "SC"),
    ("republic of sierra leone", "SL"),
    ("republic of singapore", "SG"),
    ("republic of slovenia", "SI"),
    ("republic of south africa", "ZA"),
    ("republic of south sudan", "SS"),
    ("republic of suriname", "SR"),
    ("republic of tajikistan", "TJ"),
    ("republic of the congo", "CG"),
    ("republic of the gambia", "GM"),
    ("republic of the marshall islands", "MH"),
    ("republic of the niger", "NE"),
    ("republic of the philippines", "PH"),
    ("republic of the sudan", "SD"),
    ("republic of trinidad and tobago", "TT"),
    ("republic of tunisia", "TN"),
    ("republic of türkiye", "TR"),
    ("republic of uganda", "UG"),
    ("republic of uzbekistan", "UZ"),
    ("republic of vanuatu", "VU"),
    ("republic of yemen", "YE"),
    ("republic of zambia", "ZM"),
    ("republic of zimbabwe", "ZW"),
    ("romania", "RO"),
    ("russia", "RU"),
    ("russian federation", "RU"),
    ("rwanda", "RW"),
    ("rwandese republic", "RW"),
    ("réunion", "RE"),
    ("saint barthélemy", "BL"),
    ("saint helena, ascension and tristan da cunha", "SH"),
    ("saint kitts and nevis", "KN"),
    ("saint lucia", "LC"),
    ("saint martin (french part)", "MF"),
    ("saint pierre and miquelon", "PM"),
    ("saint vincent and the grenadines", "VC"),
    ("samoa", "WS"),
    ("san marino", "SM"),
    ("sao tome and principe", "ST"),
    ("saudi arabia", "SA"),
    ("senegal", "SN"),
    ("serbia", "RS"),
    ("seychelles", "SC"),
    ("sierra leone", "SL"),
    ("singapore", "SG"),
    ("sint maarten (dutch part)", "SX"),
    ("slovak republic", "SK"),
    ("slovakia", "SK"),
    ("slovenia", "SI"),
    ("socialist republic of viet nam", "VN"),
    ("solomon islands", "SB"),
    ("somalia", "SO"),
    ("south africa", "ZA"),
    ("south georgia and the south sandwich islands", "GS"),
    ("south korea", "KR"),
    ("south sudan", "SS"),
    ("spain", "ES"),
    ("sri lanka", "LK"),
    ("state of israel", "IL"),
    ("state of kuwait", "KW"),
    ("state of qatar", "QA"),
    ("sudan", "SD"),
    ("sultanate of oman", "OM"),
    ("suriname", "SR"),
    ("svalbard and jan mayen", "SJ"),
    ("swaziland", "SZ"),
    ("sweden", "SE"),
    ("swiss confederation", "CH"),
    ("switzerland", "CH"),
    ("syria", "SY"),
    ("syrian arab republic", "SY"),
    ("taiwan", "TW"),
    ("taiwan, province of china", "TW"),
    ("tajikistan", "TJ"),
    ("tanzania", "TZ"),
    ("tanzania, united republic of", "TZ"),
    ("thailand", "TH"),
    ("the state of eritrea", "ER"),
    ("the state of palestine", "PS"),
    ("timor-leste", "TL"),
    ("togo", "TG"),
    ("togolese republic", "TG"),
    ("tokelau", "TK"),
    ("tonga", "TO"),
    ("trinidad and tobago", "TT"),
    ("tunisia", "TN"),
    ("turkey", "TR"),
    ("turkmenistan", "TM"),
    ("turks and caicos islands", "TC"),
    ("tuvalu", "TV"),
    ("türkiye", "TR"),
    ("uganda", "UG"),
    ("ukraine", "UA"),
    ("union of the comoros", "KM"),
    ("united arab emirates", "AE"),
    ("united kingdom", "GB"),
    ("united kingdom of great britain and northern ireland", "GB"),
    ("united mexican states", "MX"),
    ("united republic of tanzania", "TZ"),
    ("united states", "US"),
    ("united states minor outlying islands", "UM"),
    ("united states of america", "US"),
    ("uruguay", "UY"),
    ("uzbekistan", "UZ"),
    ("vanuatu", "VU"),
    ("venezuela", "VE"),
    ("venezuela, bolivarian republic of", "VE"),
    ("viet nam", "VN"),
    ("vietnam", "VN"),
    ("virgin islands of the united states", "VI"),
    ("virgin islands, british", "VG"),
    ("virgin islands, u.s.", "VI"),
    ("wallis and futuna", "WF"),
    ("western sahara", "EH"),
    ("yemen", "YE"),
    ("zambia", "ZM"),
    ("zimbabwe", "ZW"),
    ("åland islands", "AX"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let body = |s: &str| s.starts_with("date=") || s.starts_with("1,");
        let h = strip_header("<189>date=2020-04-23 time=1", body);
        assert_eq!(h.pri, Some(189));
        assert_eq!(h.body_offset, 5);
        let l = "Nov 30 16:09:08 1,2021/03/24 11:30:00,x";
        let h = strip_header(l, body);
        assert_eq!(&l[h.body_offset..], "1,2021/03/24 11:30:00,x");
        assert_eq!(h.time, Some("Nov 30 16:09:08"));
        let l = "<14>Mar  1 20:35:56 PA-VM 1,2021/03/24 11:30:00,x";
        let h = strip_header(l, body);
        assert_eq!(&l[h.body_offset..], "1,2021/03/24 11:30:00,x");
        assert_eq!(h.host, Some("PA-VM"));
        let l = "<189>1 2023-05-02T08:31:47+02:00 fw01 - - - [meta a=\"b\\]\"] date=2023-05-02 x=1";
        let h = strip_header(l, body);
        assert!(h.rfc5424);
        assert_eq!(&l[h.body_offset..], "date=2023-05-02 x=1");
        assert_eq!(h.time, Some("2023-05-02T08:31:47+02:00"));
        let l = "123 <189>1 2023-05-02T08:31:47Z fw01 - - - - date=x";
        assert_eq!(&l[strip_header(l, body).body_offset..], "date=x");
    }

    #[test]
    fn kv_pairs() {
        let v: Vec<_> = kv(r#"a=1 b="x y" c= d="q\"uote" junk e=N/A f="unterminated"#).collect();
        assert_eq!(v[0], ("a", Cow::Borrowed("1")));
        assert_eq!(v[1].1, "x y");
        assert_eq!(v[2].1, "");
        assert_eq!(v[3].1, "q\"uote");
        assert_eq!(v[4], ("e", Cow::Borrowed("N/A")));
        assert_eq!(v[5].1, "unterminated");
    }

    #[test]
    fn csv_split() {
        let mut v = Vec::new();
        split_csv_line(r#"a,,"b, c","d""e",f"#, &mut v);
        assert_eq!(v, vec!["a", "", "b, c", "d\"e", "f"]);
        v.clear();
        split_csv_line("", &mut v);
        assert_eq!(v, vec![""]);
        v.clear();
        split_csv_line("\"open", &mut v);
        assert_eq!(v, vec!["open"]);
    }

    #[test]
    fn countries() {
        assert_eq!(country_code("Netherlands"), Some("NL"));
        assert_eq!(country_code("United States"), Some("US"));
        assert_eq!(country_code("Russian Federation"), Some("RU"));
        assert_eq!(country_code("BE"), Some("BE"));
        assert_eq!(country_code("Reserved"), None);
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
