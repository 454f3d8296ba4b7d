//! Timestamp grammars the sources really write. Every parser goes through here so a quirk
//! learned once (unpadded hours, 7-digit fractions, locale dates) is handled everywhere.

use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};
use chrono_tz::Tz;

/// A parsed time with the zone it carried or was given.
#[derive(Debug, Clone, PartialEq)]
pub struct Stamp {
    pub utc: DateTime<Utc>,
    /// `UTC`, `+01:00`, or `Europe/Berlin (assumed)`.
    pub zone: String,
}

/// ISO 8601 / RFC 3339 with any fraction length, `Z` or `±hh:mm`/`±hhmm`, `T` or space,
/// unpadded hour/minute/second (`2022-09-09T8:48:50.361Z`). A time without zone is `None`
/// here; callers decide whether the source implies UTC.
pub fn parse_iso(s: &str) -> Option<Stamp> {
    let s = s.trim();
    let (naive, offset) = split_iso(s)?;
    match offset {
        Some(off) => {
            let dt = off.from_local_datetime(&naive).single()?;
            let zone = if off.local_minus_utc() == 0 {
                "UTC".to_string()
            } else {
                off.to_string()
            };
            Some(Stamp {
                utc: dt.with_timezone(&Utc),
                zone,
            })
        }
        None => None,
    }
}

/// ISO time that the source documents as UTC even without a designator (UAL `CreationTime`).
pub fn parse_iso_assume_utc(s: &str) -> Option<Stamp> {
    if let Some(st) = parse_iso(s) {
        return Some(st);
    }
    let (naive, off) = split_iso(s.trim())?;
    if off.is_some() {
        return None;
    }
    Some(Stamp {
        utc: Utc.from_utc_datetime(&naive),
        zone: "UTC".into(),
    })
}

/// Parses a date-time without zone and returns the naive value (for local-time sources).
pub fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Some((n, None)) = split_iso(s) {
        return Some(n);
    }
    parse_us_locale(s)
}

/// Interpret a naive local time in `tz`. Ambiguous (DST fall-back) times take the earlier
/// instant; nonexistent ones (spring-forward gap) are shifted forward by an hour, as devices do.
pub fn localize(naive: NaiveDateTime, tz: Tz) -> Stamp {
    let dt = match tz.from_local_datetime(&naive) {
        LocalResult::Single(d) => d,
        LocalResult::Ambiguous(a, _) => a,
        LocalResult::None => {
            let shifted = naive + chrono::Duration::hours(1);
            match tz.from_local_datetime(&shifted) {
                LocalResult::Single(d) | LocalResult::Ambiguous(d, _) => d,
                LocalResult::None => tz.from_utc_datetime(&naive),
            }
        }
    };
    Stamp {
        utc: dt.with_timezone(&Utc),
        zone: format!("{} (assumed)", tz.name()),
    }
}

/// US locale text as Microsoft portals export it, always UTC there:
/// `9/19/2023, 1:45:17.287 PM`, `8/22/2022 6:07:16 PM`, `2/5/2024 13:01:02`.
pub fn parse_us_locale(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    let (date, rest) = s.split_once([' ', ','])?;
    let rest = rest.trim_start_matches([',', ' ']);
    let mut dp = date.split('/');
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    let y: i32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let (clock, ampm) = match rest.rsplit_once(' ') {
        Some((c, ap)) if ap.eq_ignore_ascii_case("AM") || ap.eq_ignore_ascii_case("PM") => {
            (c.trim(), Some(ap))
        }
        _ => (rest, None),
    };
    let mut time = parse_clock(clock)?;
    if let Some(ap) = ampm {
        let h = chrono::Timelike::hour(&time);
        if !(1..=12).contains(&h) {
            return None;
        }
        let pm = ap.eq_ignore_ascii_case("PM");
        let h24 = match (h, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
        time = chrono::Timelike::with_hour(&time, h24)?;
    }
    Some(date.and_time(time))
}

/// Locale text that Microsoft documents as UTC.
pub fn parse_us_locale_utc(s: &str) -> Option<Stamp> {
    parse_us_locale(s).map(|n| Stamp {
        utc: Utc.from_utc_datetime(&n),
        zone: "UTC".into(),
    })
}

/// Any of the UTC-by-contract forms: ISO with or without designator, or US locale.
pub fn parse_any_utc(s: &str) -> Option<Stamp> {
    parse_iso_assume_utc(s).or_else(|| parse_us_locale_utc(s))
}

/// `h:m:s[.fraction]` with unpadded parts.
pub fn parse_clock(s: &str) -> Option<NaiveTime> {
    let mut it = s.split(':');
    let h: u32 = it.next()?.trim().parse().ok()?;
    let m: u32 = it.next()?.trim().parse().ok()?;
    let sec_part = it.next().unwrap_or("0");
    if it.next().is_some() {
        return None;
    }
    let (sec, frac) = match sec_part.split_once('.') {
        Some((s, f)) => (s, f),
        None => (sec_part, ""),
    };
    let sec: u32 = sec.trim().parse().ok()?;
    let nanos = frac_to_nanos(frac)?;
    NaiveTime::from_hms_nano_opt(h, m, sec, nanos)
}

fn frac_to_nanos(f: &str) -> Option<u32> {
    if f.is_empty() {
        return Some(0);
    }
    if !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = f.chars().take(9).collect();
    let n: u32 = digits.parse().ok()?;
    Some(n * 10u32.pow(9 - digits.len() as u32))
}

fn split_iso(s: &str) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let (date, rest) = s.split_once(['T', ' '])?;
    let mut dp = date.split('-');
    let y: i32 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let rest = rest.trim();
    let (clock, off) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, Some(FixedOffset::east_opt(0)?))
    } else if let Some(i) = rest.rfind(['+', '-']) {
        let (c, o) = rest.split_at(i);
        (c, Some(parse_offset(o)?))
    } else if let Some(c) = rest.strip_suffix(" UTC") {
        (c, Some(FixedOffset::east_opt(0)?))
    } else {
        (rest, None)
    };
    let time = parse_clock(clock.trim())?;
    Some((date.and_time(time), off))
}

/// `+01:00`, `+0100`, `-05`, `+1`.
pub fn parse_offset(o: &str) -> Option<FixedOffset> {
    let o = o.trim();
    let sign = match o.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &o[1..];
    // Only digits and one colon can form an offset; checking first also keeps the byte
    // slicing below on character boundaries whatever a hostile log puts here.
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit() || b == b':') {
        return None;
    }
    let (h, m) = if let Some((h, m)) = body.split_once(':') {
        (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?)
    } else if body.len() == 4 {
        (
            body[..2].parse::<i32>().ok()?,
            body[2..].parse::<i32>().ok()?,
        )
    } else {
        (body.parse::<i32>().ok()?, 0)
    };
    if h > 14 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Unix epoch in s, ms, µs or ns, told apart by magnitude (FortiGate `eventtime` uses all four).
pub fn parse_epoch_any(s: &str) -> Option<DateTime<Utc>> {
    let v: i128 = s.trim().parse().ok()?;
    if v < 0 {
        return None;
    }
    let nanos: i128 = if v < 100_000_000_000 {
        v * 1_000_000_000
    } else if v < 100_000_000_000_000 {
        v * 1_000_000
    } else if v < 100_000_000_000_000_000 {
        v * 1_000
    } else {
        v
    };
    let secs = i64::try_from(nanos / 1_000_000_000).ok()?;
    let sub = (nanos % 1_000_000_000) as u32;
    DateTime::from_timestamp(secs, sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_variants() {
        let a = parse_iso("2022-01-24T05:10:08.6816663+00:00").unwrap();
        assert_eq!(a.utc.to_rfc3339(), "2022-01-24T05:10:08.681666300+00:00");
        let b = parse_iso("2022-09-09T8:48:50.361Z").unwrap();
        assert_eq!(b.utc.to_rfc3339(), "2022-09-09T08:48:50.361+00:00");
        let c = parse_iso("2023-03-01T10:00:00-05:00").unwrap();
        assert_eq!(c.utc.to_rfc3339(), "2023-03-01T15:00:00+00:00");
        assert_eq!(c.zone, "-05:00");
        assert!(parse_iso("2023-03-01T10:00:00").is_none());
        assert_eq!(
            parse_iso_assume_utc("2023-03-01T10:00:00").unwrap().zone,
            "UTC"
        );
        assert!(parse_iso("not a time").is_none());
        assert!(parse_iso("2023-13-01T10:00:00Z").is_none());
    }

    #[test]
    fn locale_variants() {
        let a = parse_us_locale("9/19/2023, 1:45:17.287 PM").unwrap();
        assert_eq!(a.to_string(), "2023-09-19 13:45:17.287");
        let b = parse_us_locale("8/22/2022 12:07:16 AM").unwrap();
        assert_eq!(b.to_string(), "2022-08-22 00:07:16");
        assert!(parse_us_locale("8/22/2022 13:07:16 PM").is_none());
    }

    #[test]
    fn epochs() {
        let s = parse_epoch_any("1700000000").unwrap();
        assert_eq!(parse_epoch_any("1700000000000").unwrap(), s);
        assert_eq!(parse_epoch_any("1700000000000000").unwrap(), s);
        assert_eq!(parse_epoch_any("1700000000000000000").unwrap(), s);
    }

    #[test]
    fn localize_dst() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let n = NaiveDate::from_ymd_opt(2025, 6, 9)
            .unwrap()
            .and_hms_opt(0, 3, 48)
            .unwrap();
        let st = localize(n, tz);
        assert_eq!(st.utc.to_rfc3339(), "2025-06-08T22:03:48+00:00");
        assert_eq!(st.zone, "Europe/Berlin (assumed)");
    }
}
