//! The evidence appendix of the report: inventory with hashes and rejected records, the
//! time-zone and geolocation assumptions, and the chain-of-custody summary.

use super::model::{short, REJECTED_CAP};
use super::ReportInput;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Inventory {
    pub files: Vec<FileRow>,
    pub problems: Vec<String>,
    pub rejected: Vec<RejectedRow>,
    pub rejected_total: usize,
    pub rejected_omitted: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct FileRow {
    pub path: String,
    pub format: String,
    pub kind: String,
    pub size: u64,
    pub records: u64,
    pub events: u64,
    pub rejected: u64,
    pub sha256: String,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct RejectedRow {
    pub location: String,
    pub record_no: u64,
    pub byte_offset: u64,
    pub reason: String,
    pub excerpt: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ZoneView {
    pub sources: Vec<ZoneRow>,
    pub notes: Vec<String>,
    pub configured: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ZoneRow {
    pub source: String,
    pub zones: Vec<String>,
    pub carries_zone: String,
    pub events: u64,
}

/// The MaxMind databases the analysis used, and how their answers ranked against the logs'.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct GeoView {
    /// Empty when no database was used (the section is then left out).
    pub databases: Vec<GeoDbRow>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct GeoDbRow {
    pub role: String,
    pub database_type: String,
    pub built: String,
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CustodyView {
    pub entries: usize,
    pub head: String,
    pub groups: Vec<CustodyGroup>,
    pub transfers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CustodyGroup {
    pub seqs: String,
    pub action: String,
    pub count: usize,
    pub time: String,
    pub actor: String,
    pub host: String,
    pub note: String,
}

pub fn inventory(input: &ReportInput) -> Inventory {
    let c = input.collected;
    let files = c
        .files
        .iter()
        .map(|f| FileRow {
            path: f.stored_path.clone(),
            format: f
                .format
                .clone()
                .unwrap_or_else(|| "unrecognized".to_string()),
            kind: serde_json::to_value(&f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            size: f.size,
            records: f.records,
            events: f.events,
            rejected: f.rejected,
            sha256: f.sha256.clone(),
            error: f.error.clone(),
        })
        .collect();
    let rejected: Vec<RejectedRow> = c
        .rejected
        .iter()
        .take(REJECTED_CAP)
        .map(|r| RejectedRow {
            location: format!("{}:{}", r.evidence_path, r.line),
            record_no: r.record_no,
            byte_offset: r.byte_offset,
            reason: r.reason.clone(),
            excerpt: super::escape::truncate(&r.excerpt, 80),
        })
        .collect();
    Inventory {
        files,
        problems: c.intake_problems.clone(),
        rejected_total: c.rejected.len(),
        rejected_omitted: c.rejected.len().saturating_sub(REJECTED_CAP),
        rejected,
    }
}

pub fn zones(input: &ReportInput) -> ZoneView {
    let mut m: BTreeMap<&str, (BTreeSet<&str>, u64)> = BTreeMap::new();
    for e in input.events {
        let s = m.entry(e.source()).or_default();
        s.0.insert(e.time_zone());
        s.1 += 1;
    }
    if let Some(c) = input.compact {
        for (_, r) in c.flows.iter() {
            let s = m.entry(c.flows.source(&r)).or_default();
            s.0.insert(c.flows.zone(&r));
            s.1 += 1;
        }
    }
    let sources = m
        .into_iter()
        .map(|(source, (zones, n))| {
            let assumed = zones.iter().filter(|z| z.contains("assumed")).count();
            ZoneRow {
                source: source.to_string(),
                carries_zone: if assumed == 0 {
                    "yes: timestamps carry their zone or offset"
                } else if assumed == zones.len() {
                    "no: zone assumed"
                } else {
                    "partly: some timestamps without zone"
                }
                .to_string(),
                zones: zones.into_iter().map(str::to_string).collect(),
                events: n,
            }
        })
        .collect();
    ZoneView {
        sources,
        notes: input
            .collected
            .zone_notes
            .iter()
            .map(|z| {
                format!(
                    "{} event(s) of {} were read as {}",
                    z.events, z.source, z.zone
                )
            })
            .collect(),
        configured: input
            .collected
            .case
            .time_zones
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect(),
    }
}

pub fn geo(input: &ReportInput) -> GeoView {
    use crate::analysis::geoip::DbRole;
    let Some(u) = input.concl.analysis.geo_database.as_ref() else {
        return GeoView::default();
    };
    let databases = u
        .databases
        .iter()
        .map(|d| GeoDbRow {
            role: match d.role {
                DbRole::City => "positions and countries",
                DbRole::Asn => "ASNs",
            }
            .to_string(),
            database_type: d.database_type.clone(),
            built: d
                .build_time
                .clone()
                .unwrap_or_else(|| format!("epoch {}", d.build_epoch)),
            path: d.path.clone(),
            size: d.size,
            sha256: d.sha256.clone(),
        })
        .collect();
    let has = |r: DbRole| u.databases.iter().any(|d| d.role == r);
    let mut notes = Vec::new();
    if has(DbRole::City) {
        notes.push(format!(
            "{} public IP address(es) whose events carried no usable location were looked up; the database placed {}.",
            u.city_lookups, u.city_found
        ));
    }
    if has(DbRole::Asn) {
        notes.push(format!(
            "{} public IP address(es) whose events carried no ASN were looked up; the database had an ASN for {}.",
            u.asn_lookups, u.asn_found
        ));
    }
    if u.lookup_errors > 0 {
        notes.push(format!(
            "{} lookup(s) could not be decoded and were treated as not found (first: {}).",
            u.lookup_errors,
            u.first_error.as_deref().unwrap_or("no message")
        ));
    }
    GeoView { databases, notes }
}

pub fn custody(input: &ReportInput) -> CustodyView {
    let mut groups: Vec<CustodyGroup> = Vec::new();
    let mut transfers = Vec::new();
    for e in input.custody {
        if e.action == "transfer" {
            let d = &e.details;
            let g = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("?").to_string();
            transfers.push(format!(
                "{}: from {} to {} for {}",
                e.time,
                g("from"),
                g("to"),
                g("purpose")
            ));
        }
        match groups.last_mut() {
            Some(g) if g.action == e.action && g.actor == e.actor && g.host == e.host => {
                g.count += 1;
                // Each database is its own input: name them all, not only the first.
                if g.action == "geo_database" {
                    g.note = format!("{}; {}", g.note, custody_note(e));
                }
                let first = g.seqs.split('–').next().unwrap_or("").to_string();
                g.seqs = format!("{first}–{}", e.seq);
            }
            _ => groups.push(CustodyGroup {
                seqs: e.seq.to_string(),
                action: e.action.clone(),
                count: 1,
                time: e.time.clone(),
                actor: e.actor.clone(),
                host: e.host.clone(),
                note: custody_note(e),
            }),
        }
    }
    for g in &mut groups {
        if g.count > 1 && g.action == "acquired" {
            g.note = format!("{} evidence item(s)", g.count);
        } else if g.count > 1 && g.action == "parsed" {
            g.note = format!("{} item(s) parsed", g.count);
        }
    }
    CustodyView {
        entries: input.custody.len(),
        head: input
            .custody
            .last()
            .map(|e| e.sha256.clone())
            .unwrap_or_default(),
        groups,
        transfers,
    }
}

fn custody_note(e: &crate::evidence::custody::CustodyEntry) -> String {
    let d = &e.details;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_string);
    match e.action.as_str() {
        "acquired" => format!(
            "{} (sha256 {})",
            s("stored_path").unwrap_or_default(),
            short(&s("sha256").unwrap_or_default())
        ),
        "parsed" => s("evidence").unwrap_or_default(),
        "timeline_written" => format!(
            "{} event(s), chain head {}",
            d.get("events").and_then(|v| v.as_u64()).unwrap_or(0),
            short(&s("chain_head").unwrap_or_default())
        ),
        "analyzed" => format!(
            "{} finding(s)",
            d.get("findings").and_then(|v| v.as_u64()).unwrap_or(0)
        ),
        "geo_database" => format!(
            "{} {} (sha256 {})",
            s("database_type").unwrap_or_default(),
            s("path").unwrap_or_default(),
            short(&s("sha256").unwrap_or_default())
        ),
        "transfer" => format!(
            "from {} to {}",
            s("from").unwrap_or_default(),
            s("to").unwrap_or_default()
        ),
        _ => String::new(),
    }
}
