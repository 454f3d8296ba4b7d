//! Bulk access: files downloaded or synced, and mail items accessed, per user per hour,
//! against both a fixed floor (`bulk_download_per_hour`, `bulk_mail_items_per_hour`) and the
//! user's own baseline (`bulk_factor` × the 90th percentile of the user's active baseline
//! hours). A user who syncs thousands of files every day is not flagged for doing it again.

use super::detect::{fmt_time, ip_of, tech, user_of, Ctx, Draft};
use super::{rules, Severity};
use crate::event::{actions, Event, Outcome};
use chrono::{DateTime, Timelike, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Kind {
    Download = 1,
    Mail = 2,
}

impl Kind {
    fn from_u8(b: u8) -> Option<Kind> {
        match b {
            1 => Some(Kind::Download),
            2 => Some(Kind::Mail),
            _ => None,
        }
    }
}

/// What bulk access counts for `e`: its class as a number (never 0) and its volume. A
/// compact activity record keeps it (`timeline::flowstore::FlowRec::volume`).
pub fn volume(e: &Event) -> Option<(u8, u64)> {
    kind(e).map(|(k, n)| (k as u8, n))
}

fn kind(e: &Event) -> Option<(Kind, u64)> {
    match e.action.as_str() {
        actions::FILE_DOWNLOADED => Some((Kind::Download, 1)),
        // FileSyncDownloadedFull / Partial; uploads are not exfiltration.
        actions::FILE_SYNCED if !e.operation().to_ascii_lowercase().contains("upload") => {
            Some((Kind::Download, 1))
        }
        actions::MAIL_ITEMS_ACCESSED => {
            let n = match e.extra.get("item_count") {
                Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(1),
                Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(1),
                _ => 1,
            };
            Some((Kind::Mail, n.max(1)))
        }
        _ => None,
    }
}

/// (user, kind, hour).
type HourKey = (String, Kind, DateTime<Utc>);
/// Per (user, kind, hour): the volume and the events.
type Hourly = BTreeMap<HourKey, (u64, Vec<usize>)>;
/// Per (user, kind): the hours over the limit with their volume and events.
type Flagged = BTreeMap<(String, Kind), Vec<(DateTime<Utc>, u64, Vec<usize>)>>;

fn hour(t: DateTime<Utc>) -> DateTime<Utc> {
    t.with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(t)
}

/// The 90th percentile (nearest rank) of a user's active-hour counts.
fn p90(mut v: Vec<u64>) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    let rank = ((v.len() as f64) * 0.9).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

pub(crate) fn detect(ctx: &Ctx) -> Vec<Draft> {
    let mut base: HashMap<(String, Kind, DateTime<Utc>), u64> = HashMap::new();
    for e in ctx.events {
        if !ctx.win.in_baseline(e.time) || e.outcome == Outcome::Failure {
            continue;
        }
        if let (Some((k, n)), Some(u)) = (kind(e), user_of(e)) {
            *base.entry((u, k, hour(e.time))).or_default() += n;
        }
    }
    // Activity held compactly counts the same (its record keeps class, volume, outcome and
    // user); the records of a flagged hour are asked for whole (`Ctx::activity_want`).
    let mut recs: HashMap<HourKey, (u64, Vec<usize>)> = HashMap::new();
    for (ri, r) in ctx.flows.into_iter().flat_map(|st| st.iter()) {
        let Some((k, n)) = r.volume().and_then(|(c, n)| Some((Kind::from_u8(c)?, n))) else {
            continue;
        };
        let Some(u) = ctx
            .flows
            .and_then(|st| st.user_key(&r))
            .filter(|u| !u.is_empty())
        else {
            continue;
        };
        let t = r.time();
        if r.failed() {
            continue;
        }
        if ctx.win.in_baseline(t) {
            *base.entry((u.to_string(), k, hour(t))).or_default() += n;
        }
        if ctx.win.contains(t) {
            let s = recs.entry((u.to_string(), k, hour(t))).or_default();
            s.0 += n;
            s.1.push(ri);
        }
    }
    let mut base_hours: HashMap<(String, Kind), Vec<u64>> = HashMap::new();
    for ((u, k, _), n) in base {
        base_hours.entry((u, k)).or_default().push(n);
    }
    let mut win: Hourly = BTreeMap::new();
    for &i in &ctx.window_idx {
        let e = ctx.ev(i);
        if e.outcome == Outcome::Failure {
            continue;
        }
        if let (Some((k, n)), Some(u)) = (kind(e), user_of(e)) {
            let s = win.entry((u, k, hour(e.time))).or_default();
            s.0 += n;
            s.1.push(i);
        }
    }
    for (key, (n, _)) in &recs {
        win.entry(key.clone()).or_default().0 += n;
    }
    // Group flagged hours per (user, kind).
    let mut flagged: Flagged = BTreeMap::new();
    let mut limits: HashMap<(String, Kind), (u64, u64)> = HashMap::new();
    for ((u, k, h), (n, idx)) in win {
        let key = (u, k);
        let (limit, typical) = *limits.entry(key.clone()).or_insert_with(|| {
            let floor = match k {
                Kind::Download => ctx.th.bulk_download_per_hour,
                Kind::Mail => ctx.th.bulk_mail_items_per_hour,
            };
            let typical = base_hours.get(&key).map(|v| p90(v.clone())).unwrap_or(0);
            let relative = (typical as f64 * ctx.th.bulk_factor.max(1.0)).ceil() as u64;
            (floor.max(relative), typical)
        });
        let _ = typical;
        if n >= limit {
            if let Some((_, ri)) = recs.get(&(key.0.clone(), k, h)) {
                ctx.activity_want.borrow_mut().extend(ri.iter().copied());
            }
            flagged.entry(key).or_default().push((h, n, idx));
        }
    }
    let mut out = Vec::new();
    for ((user, k), hours) in flagged {
        let (limit, typical) = limits[&(user.clone(), k)];
        let total: u64 = hours.iter().map(|h| h.1).sum();
        let peak = hours
            .iter()
            .max_by_key(|h| (h.1, std::cmp::Reverse(h.0)))
            .expect("non-empty");
        let idx: Vec<usize> = hours.iter().flat_map(|h| h.2.iter().copied()).collect();
        let foreign: BTreeSet<String> = idx
            .iter()
            .filter_map(|&i| ip_of(ctx.ev(i)))
            .filter(|ip| {
                ctx.known_net(ip).is_none()
                    && ctx.has_baseline(&user)
                    && !ctx.ip_in_baseline(&user, ip)
            })
            .map(str::to_string)
            .collect();
        let sev = if foreign.is_empty() {
            Severity::Medium
        } else {
            Severity::High
        };
        let (rule, what, techs): (&'static str, &str, &[tech::T]) = match k {
            Kind::Download => (
                rules::BULK_DOWNLOAD,
                "files downloaded or synced",
                &[tech::CLOUD_STORAGE, tech::SHAREPOINT],
            ),
            Kind::Mail => (
                rules::BULK_MAIL_ACCESS,
                "mail items accessed",
                &[tech::REMOTE_EMAIL],
            ),
        };
        let mut d = Draft::new(
            rule,
            sev,
            format!(
                "Bulk {} by {user}",
                if k == Kind::Mail {
                    "mail access"
                } else {
                    "download"
                }
            ),
        )
        .tech(techs)
        .user(&user)
        .cite(ctx, idx.iter().copied())
        .fact("hours_flagged", hours.len())
        .fact("total", total)
        .fact("peak", peak.1)
        .fact("peak_hour", fmt_time(peak.0))
        .fact("limit_per_hour", limit)
        .fact("baseline_p90_per_hour", typical)
        .fact("bulk_factor", ctx.th.bulk_factor);
        d.suspect_ips = foreign.clone();
        out.push(d.why(format!(
            "{user}: {} {what} in the hour from {} ({} hour(s) over the limit, {total} in all). Limit {limit}/h = the larger of the fixed floor and {} × the user's typical busy hour ({typical}/h in the baseline).{}",
            peak.1,
            fmt_time(peak.0),
            hours.len(),
            ctx.th.bulk_factor,
            if foreign.is_empty() { String::new() } else { format!(" Accessed from networks outside the user's baseline: {} (RB-0003: bulk access from an anomalous IP is data exposure).", crate::analysis::prose::capped(foreign, ", ")) }
        )));
    }
    out
}
