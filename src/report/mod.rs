//! The report stage: report.md (from templates/), report.html (the same Markdown through
//! pulldown-cmark, with an inline chart), notification.md for the customer's CISO and
//! handoff.md for the next shift. Pure: inputs in, four strings out.

pub mod escape;
pub mod html;
pub mod inventory;
pub mod keytimeline;
pub mod lazy;
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
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("template {name}: {source}")]
    Template {
        name: String,
        source: minijinja::Error,
    },
    #[error("report model: {0}")]
    Model(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Everything the report reads.
pub struct ReportInput<'a> {
    pub collected: &'a Collected,
    /// The sorted timeline (without the flows held in `compact`).
    pub events: &'a [Event],
    /// Flows held compactly beside `events` (`pipeline::RunOptions::compact_flows`).
    pub compact: Option<crate::timeline::flowstore::Compacted<'a>>,
    /// What the report still needs to know of the events once `events` and `compact` no
    /// longer hold them (the model's second half, [`model::finish`], is built after
    /// `irpack run` freed them).
    pub released: Option<Released>,
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
        self.released.as_ref().map(|r| r.events).unwrap_or_else(|| {
            self.compact
                .map_or(self.events.len(), |c| c.total(self.events.len()))
        })
    }
}

/// What was known of the events before they were freed: how many, and their sources.
#[derive(Debug, Clone, Default)]
pub struct Released {
    pub events: usize,
    pub sources: std::collections::BTreeSet<String>,
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
    render_lazy(model::build(input))
}

/// Render every document from the model, read by the templates where they read it
/// ([`lazy`]), never copied whole. The same documents as [`render_model`] of it.
pub fn render_lazy(model: model::Model) -> Result<Rendered, ReportError> {
    render_value(&lazy::value(std::sync::Arc::new(model)))
}

/// Render every document from a value of a model (the redacted copy renders a rewritten
/// model, as JSON): converted for the templates whole, once, and never through a
/// `serde_json::Value` of the whole model, which for a large case is tens of MB.
pub fn render_model<M: serde::Serialize + ?Sized>(model: &M) -> Result<Rendered, ReportError> {
    render_value(&minijinja::Value::from_serialize(model))
}

fn render_value(value: &minijinja::Value) -> Result<Rendered, ReportError> {
    let page = Page::of(value)?;
    let report_md = template(markdown::REPORT, value)?;
    let report_html = html::render(&report_md, &page.title, &page.chart_svg);
    Ok(Rendered {
        report_md,
        report_html,
        notification_md: template(markdown::NOTIFICATION, value)?,
        handoff_md: template(markdown::HANDOFF, value)?,
    })
}

/// [`render_lazy`] straight into files in `dir`, holding as little as it can: the templates
/// read the model in place ([`lazy`]) and write into their files as they render, the model
/// is dropped once the last template is rendered, and the HTML page is built from
/// report.md read back then, going to its file piece by piece ([`html::write_to`]). For a
/// large case a whole copy of the model for the templates, the report text and the page
/// side by side were the run's peak. Returns the files (as [`Rendered::files`] names them,
/// in that order) with the SHA-256 of each.
pub fn write_model(
    model: model::Model,
    dir: &Path,
) -> Result<Vec<(&'static str, String)>, ReportError> {
    let value = lazy::value(std::sync::Arc::new(model));
    let page = Page::of(&value)?;
    let mut hashes = std::collections::BTreeMap::new();
    for (name, tmpl) in [
        ("handoff.md", markdown::HANDOFF),
        ("notification.md", markdown::NOTIFICATION),
        ("report.md", markdown::REPORT),
    ] {
        let sha = write_file(&dir.join(name), |w| {
            markdown::render_to(tmpl, &value, w).map_err(|source| ReportError::Template {
                name: tmpl.to_string(),
                source,
            })
        })?;
        hashes.insert(name, sha);
    }
    // The last holder of the model.
    drop(value);
    let md_path = dir.join("report.md");
    let report_md = std::fs::read_to_string(&md_path).map_err(|source| ReportError::Io {
        path: md_path.display().to_string(),
        source,
    })?;
    let html_path = dir.join("report.html");
    hashes.insert(
        "report.html",
        write_file(&html_path, |w| {
            html::write_to(w, &report_md, &page.title, &page.chart_svg).map_err(|source| {
                ReportError::Io {
                    path: html_path.display().to_string(),
                    source,
                }
            })
        })?,
    );
    // The order of `Rendered::files`.
    Ok(
        ["handoff.md", "notification.md", "report.html", "report.md"]
            .into_iter()
            .map(|n| (n, hashes.remove(n).unwrap_or_default()))
            .collect(),
    )
}

/// What the HTML page takes from the model besides the report's text.
struct Page {
    title: String,
    chart_svg: String,
}

impl Page {
    fn of(value: &minijinja::Value) -> Result<Page, ReportError> {
        let attr = |v: &minijinja::Value, k: &str| v.get_attr(k).unwrap_or_default();
        let chart: svg::Chart = serde_json::to_value(attr(value, "chart"))
            .and_then(serde_json::from_value)
            .map_err(|e| ReportError::Model(format!("chart: {e}")))?;
        let case_id = attr(&attr(value, "meta"), "case_id");
        Ok(Page {
            title: format!("Incident report {}", case_id.as_str().unwrap_or("")),
            chart_svg: chart.to_svg(),
        })
    }
}

fn template(name: &str, value: &minijinja::Value) -> Result<String, ReportError> {
    markdown::render(name, value).map_err(|source| ReportError::Template {
        name: name.to_string(),
        source,
    })
}

/// Write `path` through `fill` and return the SHA-256 of what was written.
fn write_file(
    path: &Path,
    fill: impl FnOnce(&mut Hashing<std::io::BufWriter<std::fs::File>>) -> Result<(), ReportError>,
) -> Result<String, ReportError> {
    let io = |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    };
    let f = std::fs::File::create(path).map_err(io)?;
    let mut w = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 20, f),
        sha: Sha256::new(),
    };
    fill(&mut w)?;
    w.inner.flush().map_err(io)?;
    Ok(hex::encode(w.sha.finalize()))
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
