//! The window under investigation and the baseline period before it.
//!
//! Rules, in order:
//! 1. `alert.window_start` / `alert.window_end` from the case file (a missing end becomes the
//!    later of the start and the last event; a missing start becomes end − 7 days).
//! 2. `alert.time` ± 7 days (leaked-credential detections fire days after the activity, so the
//!    window reaches back as far as it reaches forward).
//! 3. No alert times: the last 7 days of the evidence (ending at the last event).
//!
//! The baseline is the `thresholds.baseline_days` days before the window start.

use crate::case::CaseFile;
use crate::event::Event;
use chrono::{DateTime, Duration, Utc};

/// `t ± days`, saturating at chrono's range instead of panicking.
fn shift(t: DateTime<Utc>, days: i64) -> DateTime<Utc> {
    t.checked_add_signed(Duration::days(days))
        .unwrap_or(if days < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
}

/// Days either side of `alert.time` when the case gives no explicit window.
pub const ALERT_SPAN_DAYS: i64 = 7;
/// Length of the derived window when the case gives no alert time at all.
pub const DERIVED_WINDOW_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub baseline_start: DateTime<Utc>,
    /// How the window was chosen, in words for the report.
    pub rule: String,
}

impl Window {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && t <= self.end
    }
    pub fn in_baseline(&self, t: DateTime<Utc>) -> bool {
        t >= self.baseline_start && t < self.start
    }
}

/// The window for these events and this case; `None` when there is neither an alert time nor
/// any event to derive one from.
pub fn window(events: &[Event], case: &CaseFile) -> Option<Window> {
    window_at(events.iter().map(|e| e.time).max(), case)
}

/// [`window`], given the time of the last event (of all the evidence, flows held apart
/// included).
pub fn window_at(last: Option<DateTime<Utc>>, case: &CaseFile) -> Option<Window> {
    let baseline_days = case.thresholds.baseline_days.clamp(0, 3650);
    let alert = case.alert.as_ref();
    let (start, end, rule) = match (
        alert.and_then(|a| a.window_start),
        alert.and_then(|a| a.window_end),
        alert.and_then(|a| a.time),
    ) {
        (Some(s), Some(e), _) => (
            s,
            e.max(s),
            "case file alert.window_start .. alert.window_end".to_string(),
        ),
        (Some(s), None, _) => (
            s,
            last.unwrap_or(s).max(s),
            "case file alert.window_start .. last event".to_string(),
        ),
        (None, Some(e), _) => (
            shift(e, -DERIVED_WINDOW_DAYS),
            e,
            format!("{DERIVED_WINDOW_DAYS} days before case file alert.window_end"),
        ),
        (None, None, Some(t)) => (
            shift(t, -ALERT_SPAN_DAYS),
            shift(t, ALERT_SPAN_DAYS),
            format!("alert time ± {ALERT_SPAN_DAYS} days"),
        ),
        (None, None, None) => {
            let end = last?;
            (
                shift(end, -DERIVED_WINDOW_DAYS),
                end,
                format!(
                    "no alert time in the case file: the last {DERIVED_WINDOW_DAYS} days of the evidence"
                ),
            )
        }
    };
    Some(Window {
        start,
        end,
        baseline_start: shift(start, -baseline_days),
        rule,
    })
}
