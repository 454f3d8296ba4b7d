//! US federal holidays (5 U.S.C. 6103) and SEC business days, for the Form 8-K clock.
//!
//! A business day is any day but Saturday, Sunday or a federal holiday (17 CFR 240.0-3 and
//! Regulation S-T Rule 13). A holiday on a Saturday is observed the Friday before, on a Sunday
//! the Monday after (Executive Order 11582) — including New Year's Day observed on December 31.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// The `n`-th `weekday` of `month` (1-based).
fn nth(year: i32, month: u32, weekday: Weekday, n: u32) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n as u8)
}

fn last(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)?
    };
    let mut d = next - Duration::days(1);
    while d.weekday() != weekday {
        d -= Duration::days(1);
    }
    Some(d)
}

fn observed(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Duration::days(1),
        Weekday::Sun => d + Duration::days(1),
        _ => d,
    }
}

/// Observed federal holidays whose actual date falls in `year` (observed dates may fall in
/// the year before: New Year's Day on a Saturday is observed December 31).
pub fn federal_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let fixed = |m: u32, d: u32| NaiveDate::from_ymd_opt(year, m, d).map(observed);
    let mut out: Vec<(Option<NaiveDate>, &'static str)> = vec![
        (fixed(1, 1), "New Year's Day"),
        (
            nth(year, 1, Weekday::Mon, 3),
            "Birthday of Martin Luther King, Jr.",
        ),
        (nth(year, 2, Weekday::Mon, 3), "Washington's Birthday"),
        (last(year, 5, Weekday::Mon), "Memorial Day"),
        (fixed(7, 4), "Independence Day"),
        (nth(year, 9, Weekday::Mon, 1), "Labor Day"),
        (nth(year, 10, Weekday::Mon, 2), "Columbus Day"),
        (fixed(11, 11), "Veterans Day"),
        (nth(year, 11, Weekday::Thu, 4), "Thanksgiving Day"),
        (fixed(12, 25), "Christmas Day"),
    ];
    // Juneteenth National Independence Day, a federal holiday since 17 June 2021.
    if year >= 2021 {
        out.push((fixed(6, 19), "Juneteenth National Independence Day"));
    }
    let mut v: Vec<(NaiveDate, &'static str)> = out
        .into_iter()
        .filter_map(|(d, n)| d.map(|d| (d, n)))
        .collect();
    v.sort();
    v
}

/// The holiday observed on `d`, if any.
pub fn holiday(d: NaiveDate) -> Option<&'static str> {
    [d.year(), d.year() + 1]
        .into_iter()
        .flat_map(federal_holidays)
        .find(|(h, _)| *h == d)
        .map(|(_, n)| n)
}

pub fn is_business_day(d: NaiveDate) -> bool {
    !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) && holiday(d).is_none()
}

/// The `n`-th business day after `d` (the day itself not counted), and the days skipped.
pub fn add_business_days(d: NaiveDate, n: u32) -> (NaiveDate, Vec<String>) {
    let mut day = d;
    let mut counted = 0;
    let mut skipped = Vec::new();
    while counted < n {
        day += Duration::days(1);
        if is_business_day(day) {
            counted += 1;
        } else {
            skipped.push(match holiday(day) {
                Some(h) => format!("{day} ({h})"),
                None => format!("{day} ({})", day.weekday()),
            });
        }
    }
    (day, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn holidays_2025_match_opm() {
        // OPM's published 2025 federal holidays.
        let want = [
            d(2025, 1, 1),
            d(2025, 1, 20),
            d(2025, 2, 17),
            d(2025, 5, 26),
            d(2025, 6, 19),
            d(2025, 7, 4),
            d(2025, 9, 1),
            d(2025, 10, 13),
            d(2025, 11, 11),
            d(2025, 11, 27),
            d(2025, 12, 25),
        ];
        let got: Vec<NaiveDate> = federal_holidays(2025).into_iter().map(|h| h.0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn observed_rules() {
        // 2026: Independence Day is a Saturday → Friday 3 July.
        assert_eq!(holiday(d(2026, 7, 3)), Some("Independence Day"));
        assert!(holiday(d(2026, 7, 4)).is_none());
        // 2022: New Year's Day 2022 was a Saturday → observed Friday 31 December 2021.
        assert_eq!(holiday(d(2021, 12, 31)), Some("New Year's Day"));
        // Christmas 2022 fell on a Sunday → observed Monday 26 December 2022.
        assert_eq!(holiday(d(2022, 12, 26)), Some("Christmas Day"));
        // No Juneteenth before 2021.
        assert!(holiday(d(2020, 6, 19)).is_none());
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        // Thursday 22 May 2025 + 4 business days: Fri 23, (Sat, Sun, Memorial Day), Tue 27,
        // Wed 28, Thu 29.
        let (end, skipped) = add_business_days(d(2025, 5, 22), 4);
        assert_eq!(end, d(2025, 5, 29));
        assert_eq!(skipped.len(), 3);
        assert!(skipped[2].contains("Memorial Day"));
    }
}
