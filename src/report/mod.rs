//! The report stage: report.md (from templates/), report.html (the same Markdown through
//! pulldown-cmark, with an inline chart), notification.md for the customer's CISO and
//! handoff.md for the next shift. Pure: inputs in, four strings out.

pub mod escape;
pub mod html;
pub mod inventory;
pub mod keytimeline;
pub mod lessons;
pub mod markdown;
pub mod model;
pub mod notify;
pub mod runbook;
pub mod svg;

use crate::event::Event;
use crate::evidence::custody::CustodyEntry;
use crate::pipeline::{Collected, Conclusions};
use chrono::{DateTime, Utc};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        source: minijinja::Error,
    },
    #[error("report model: {0}")]
    Model(String),
}

/// Everything the report reads.
pub struct ReportInput<'a> {
    pub collected: &'a Collected,
    /// The sorted timeline (without the flows held in `compact`).
    pub events: &'a [Event],
    /// Flows held compactly beside `events` (`pipeline::RunOptions::compact_flows`).
    pub compact: Option<crate::timeline::flowstore::Compacted<'a>>,
    pub timeline_head: &'a str,
    pub concl: &'a Conclusions,
    /// The custody log as it stands when the report is written.
    pub custody: &'a [CustodyEntry],
    /// The clock: "generated at", deadline arithmetic, next-update time.
    pub now: DateTime<Utc>,
    pub tool: String,
}

impl ReportInput<'_> {
    /// Events on the timeline, flows held compactly included.
    pub fn event_count(&self) -> usize {
        self.compact
            .map_or(self.events.len(), |c| c.total(self.events.len()))
    }
}

/// The four documents, as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub report_md: String,
    pub report_html: String,
    pub notification_md: String,
    pub handoff_md: String,
}

impl Rendered {
    /// File names under `report/` with their contents, in a fixed order.
    pub fn files(&self) -> [(&'static str, &str); 4] {
        [
            ("handoff.md", &self.handoff_md),
            ("notification.md", &self.notification_md),
            ("report.html", &self.report_html),
            ("report.md", &self.report_md),
        ]
    }
}

/// Build the model and render every document.
pub fn render(input: &ReportInput) -> Result<Rendered, ReportError> {
    render_model(&model::build(input))
}

/// Render every document from a model: the [`model::Model`] itself, or a value of one (the
/// redacted copy renders a rewritten model). Converted for the templates once, and never
/// through a `serde_json::Value` of the whole model, which for a large case is tens of MB.
pub fn render_model<M: serde::Serialize + ?Sized>(model: &M) -> Result<Rendered, ReportError> {
    let value = minijinja::Value::from_serialize(model);
    let r = |name: &str| {
        markdown::render(name, &value).map_err(|source| ReportError::Template {
            name: name.to_string(),
            source,
        })
    };
    let report_md = r(markdown::REPORT)?;
    let attr = |v: &minijinja::Value, k: &str| v.get_attr(k).unwrap_or_default();
    let chart: svg::Chart = serde_json::to_value(attr(&value, "chart"))
        .and_then(serde_json::from_value)
        .map_err(|e| ReportError::Model(format!("chart: {e}")))?;
    let case_id = attr(&attr(&value, "meta"), "case_id");
    let title = format!("Incident report {}", case_id.as_str().unwrap_or(""));
    let report_html = html::render(&report_md, &title, &chart.to_svg());
    Ok(Rendered {
        report_md,
        report_html,
        notification_md: r(markdown::NOTIFICATION)?,
        handoff_md: r(markdown::HANDOFF)?,
    })
}
