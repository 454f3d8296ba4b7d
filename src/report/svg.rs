//! An inline SVG chart: one row per source, events binned over time (bar height ∝ √count so
//! a quiet source stays visible beside a chatty one), with the findings marked as lines.
//! The chart is data in the model first, so a redacted report draws it from redacted data.

use super::escape::html;
use super::model::t;
use crate::analysis::{Finding, Severity};
use crate::event::Event;
use crate::timeline::flowstore::FlowStore;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;

pub const BINS: usize = 60;
/// At most this many finding marks (highest severity first), so the chart stays legible.
pub const MAX_MARKS: usize = 40;

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Chart {
    pub start: Option<String>,
    pub end: Option<String>,
    /// Seconds per bin.
    pub bin_seconds: i64,
    pub rows: Vec<ChartRow>,
    pub marks: Vec<Mark>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ChartRow {
    pub source: String,
    pub counts: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct Mark {
    /// Position 0..=1 along the time axis.
    pub pos: f64,
    pub label: String,
    pub severe: bool,
}

impl Chart {
    pub fn build(events: &[Event], findings: &[Finding]) -> Chart {
        Self::build_with(events, None, findings)
    }

    /// [`Chart::build`] counting flows held compactly too.
    pub fn build_with(events: &[Event], flows: Option<&FlowStore>, findings: &[Finding]) -> Chart {
        let (Some(first), Some(last)) = (
            events
                .iter()
                .map(|e| e.time)
                .chain(flows.and_then(FlowStore::first_time))
                .min(),
            events
                .iter()
                .map(|e| e.time)
                .chain(flows.and_then(FlowStore::last_time))
                .max(),
        ) else {
            return Chart::default();
        };
        let span = (last - first).num_seconds().max(1);
        let bin_seconds = (span + BINS as i64 - 1) / BINS as i64;
        let bin_seconds = bin_seconds.max(1);
        let end = first + chrono::Duration::seconds(bin_seconds * BINS as i64);
        let mut rows: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
        for e in events {
            let b = (((e.time - first).num_seconds() / bin_seconds) as usize).min(BINS - 1);
            rows.entry(e.source()).or_insert_with(|| vec![0; BINS])[b] += 1;
        }
        for (f, (_, r)) in flows
            .into_iter()
            .flat_map(|f| f.iter().map(move |r| (f, r)))
        {
            let b = (((r.time() - first).num_seconds() / bin_seconds) as usize).min(BINS - 1);
            rows.entry(f.source(&r)).or_insert_with(|| vec![0; BINS])[b] += 1;
        }
        let total = (end - first).num_seconds().max(1) as f64;
        let pos = |d: DateTime<Utc>| ((d - first).num_seconds() as f64 / total).clamp(0.0, 1.0);
        let mut fs: Vec<&Finding> = findings.iter().collect();
        fs.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.first_seen.cmp(&b.first_seen))
        });
        let marks = fs
            .into_iter()
            .take(MAX_MARKS)
            .map(|f| Mark {
                pos: pos(f.first_seen),
                label: format!("{} {} {}", t(f.first_seen), f.rule, f.title),
                severe: f.severity >= Severity::High,
            })
            .collect();
        Chart {
            start: Some(t(first)),
            end: Some(t(end)),
            bin_seconds,
            rows: rows
                .into_iter()
                .map(|(s, counts)| ChartRow {
                    source: s.to_string(),
                    counts,
                })
                .collect(),
            marks,
        }
    }

    /// The chart as an `<svg>` element (no external references, every label escaped).
    pub fn to_svg(&self) -> String {
        const W: f64 = 900.0;
        const LEFT: f64 = 150.0;
        const ROW: f64 = 26.0;
        const TOP: f64 = 14.0;
        const PALETTE: [&str; 8] = [
            "#3b6ea5", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b",
        ];
        let mut s = String::new();
        if self.rows.is_empty() {
            let _ = write!(
                s,
                r##"<svg class="chart" role="img" width="{W}" height="40" viewBox="0 0 {W} 40"><title>Events per source over time</title><text x="10" y="24" font-size="13">No events were read from the evidence.</text></svg>"##
            );
            return s;
        }
        let plot_w = W - LEFT - 10.0;
        let h = TOP + ROW * self.rows.len() as f64 + 30.0;
        let bin_w = plot_w / BINS as f64;
        let max = self
            .rows
            .iter()
            .flat_map(|r| r.counts.iter())
            .copied()
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let _ = write!(
            s,
            r##"<svg class="chart" role="img" width="{W}" height="{h}" viewBox="0 0 {W} {h}" font-family="sans-serif"><title>Events per source over time, findings marked</title>"##
        );
        for (i, row) in self.rows.iter().enumerate() {
            let y0 = TOP + ROW * i as f64;
            let color = PALETTE[i % PALETTE.len()];
            let total: u64 = row.counts.iter().sum();
            let _ = write!(
                s,
                r##"<text x="4" y="{:.1}" font-size="12">{} ({total})</text><line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#ccc"/>"##,
                y0 + ROW * 0.65,
                html(&super::escape::truncate(&row.source, 18)),
                y0 + ROW - 2.0,
                LEFT + plot_w,
                y0 + ROW - 2.0
            );
            for (b, &n) in row.counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                let bh = ((n as f64).sqrt() / max.sqrt() * (ROW - 6.0)).max(1.5);
                let _ = write!(
                    s,
                    r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{bh:.1}" fill="{color}"><title>{} bin {}: {n} event(s)</title></rect>"##,
                    LEFT + bin_w * b as f64 + 0.5,
                    y0 + ROW - 2.0 - bh,
                    (bin_w - 1.0).max(1.0),
                    html(&row.source),
                    b + 1
                );
            }
        }
        let bottom = TOP + ROW * self.rows.len() as f64;
        for m in &self.marks {
            let x = LEFT + plot_w * m.pos;
            let color = if m.severe { "#c0392b" } else { "#e67e22" };
            let _ = write!(
                s,
                r##"<g><title>{}</title><line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{bottom:.1}" stroke="{color}" stroke-width="1.5" stroke-dasharray="3,2"/><path d="M{:.1},{:.1} l5,-8 l-10,0 z" fill="{color}"/></g>"##,
                html(&m.label),
                TOP - 4.0,
                x,
                TOP - 2.0
            );
        }
        let _ = write!(
            s,
            r##"<text x="{LEFT}" y="{:.1}" font-size="11">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{} per bin · ▼ finding (red: high/critical)</text></svg>"##,
            bottom + 16.0,
            html(self.start.as_deref().unwrap_or("")),
            LEFT + plot_w,
            bottom + 16.0,
            html(self.end.as_deref().unwrap_or("")),
            LEFT + plot_w / 2.0,
            bottom + 16.0,
            html(&super::model::human_duration(chrono::Duration::seconds(
                self.bin_seconds
            )))
        );
        s
    }
}
