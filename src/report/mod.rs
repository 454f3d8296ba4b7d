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
    let model = model::build(input);
    let value = serde_json::to_value(&model).map_err(|e| ReportError::Model(e.to_string()))?;
    render_model(&value)
}

/// Render every document from a model value (the redacted copy renders a rewritten model).
pub fn render_model(value: &serde_json::Value) -> Result<Rendered, ReportError> {
    let r = |name: &str| {
        markdown::render(name, value).map_err(|source| ReportError::Template {
            name: name.to_string(),
            source,
        })
    };
    let report_md = r(markdown::REPORT)?;
    let chart: svg::Chart = serde_json::from_value(value["chart"].clone())
        .map_err(|e| ReportError::Model(format!("chart: {e}")))?;
    let title = format!(
        "Incident report {}",
        value["meta"]["case_id"].as_str().unwrap_or("")
    );
    let report_html = html::render(&report_md, &title, &chart.to_svg());
    Ok(Rendered {
        report_md,
        report_html,
        notification_md: r(markdown::NOTIFICATION)?,
        handoff_md: r(markdown::HANDOFF)?,
    })
}
