//! Indicators from the case file: IPs and CIDRs (source or destination), user-agent
//! substrings (case-insensitive) and application ids. The whole evidence is searched, not
//! just the window: a hit before the window is dwell time.

use super::detect::{fmt_time, is_sign_in, ok, tech, user_of, Ctx, Draft};
use super::{rules, Severity};
use crate::case::parse_net;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

/// The case file's indicators, parsed once and normalized as matching compares them. The
/// compact flow store (`timeline::flowstore`) keeps whole every flow these match, so both
/// must read the list the same way: this is the one place that does.
#[derive(Debug, Default)]
pub struct Indicators {
    pub ips: HashSet<IpAddr>,
    /// Ranges with the text they were written as.
    pub nets: Vec<(ipnet::IpNet, String)>,
    /// User-agent substrings: (lower-cased needle, text as written).
    pub user_agents: Vec<(String, String)>,
    /// Application ids, trimmed and ASCII lower-cased.
    pub app_ids: Vec<String>,
}

impl Indicators {
    pub fn new(ioc: &crate::case::Iocs) -> Self {
        Indicators {
            ips: ioc
                .ips
                .iter()
                .filter_map(|s| s.trim().parse().ok())
                .collect(),
            nets: ioc
                .cidrs
                .iter()
                .filter_map(|s| parse_net(s).map(|n| (n, s.trim().to_string())))
                .collect(),
            user_agents: ioc
                .user_agents
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| (s.to_lowercase(), s.to_string()))
                .collect(),
            app_ids: ioc
                .app_ids
                .iter()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ips.is_empty()
            && self.nets.is_empty()
            && self.user_agents.is_empty()
            && self.app_ids.is_empty()
    }
}

pub(crate) fn detect(ctx: &Ctx) -> Vec<Draft> {
    let indicators = Indicators::new(&ctx.case.ioc);
    if indicators.is_empty() {
        return Vec::new();
    }
    let Indicators {
        ips,
        nets,
        user_agents: uas,
        app_ids: apps,
    } = indicators;
    // (kind, indicator, user) → events
    let mut hits: BTreeMap<(&'static str, String, String), Vec<usize>> = BTreeMap::new();
    for (i, e) in ctx.events.iter().enumerate() {
        let user = user_of(e).unwrap_or_default();
        for ip in [e.src_ip.as_deref(), e.cold().dst_ip.as_deref()]
            .into_iter()
            .flatten()
        {
            let Ok(a) = ip.trim().parse::<IpAddr>() else {
                continue;
            };
            if ips.contains(&a) {
                hits.entry(("ip", a.to_string(), user.clone()))
                    .or_default()
                    .push(i);
            } else if let Some((_, text)) = nets.iter().find(|(n, _)| n.contains(&a)) {
                hits.entry(("cidr", text.clone(), user.clone()))
                    .or_default()
                    .push(i);
            }
        }
        if let Some(ua) = e.user_agent().as_deref() {
            let l = ua.to_lowercase();
            for (needle, text) in &uas {
                if l.contains(needle.as_str()) {
                    hits.entry(("user_agent", text.clone(), user.clone()))
                        .or_default()
                        .push(i);
                }
            }
        }
        if !apps.is_empty() {
            let ids = e
                .app_id()
                .as_deref()
                .into_iter()
                .chain(e.targets.iter().filter_map(|t| t.id.as_deref()));
            for id in ids {
                let l = id.trim().to_ascii_lowercase();
                if apps.contains(&l) {
                    hits.entry(("app_id", l, user.clone())).or_default().push(i);
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((kind, indicator, user), mut idx) in hits {
        idx.dedup();
        let signed_in: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| is_sign_in(ctx.ev(i)) && ok(ctx.ev(i)))
            .collect();
        let before = idx
            .iter()
            .filter(|&&i| ctx.ev(i).time < ctx.win.start)
            .count();
        let sev = if signed_in.is_empty() {
            Severity::High
        } else {
            Severity::Critical
        };
        let who = if user.is_empty() {
            "no user".to_string()
        } else {
            user.clone()
        };
        let mut d = Draft::new(
            rules::IOC_HIT,
            sev,
            format!("IOC {kind} {indicator} seen for {who}"),
        )
        .tech(&[tech::VALID_CLOUD])
        .cite(ctx, idx.iter().copied())
        .fact("indicator_kind", kind)
        .fact("indicator", indicator.clone())
        .fact("events", idx.len())
        .fact("successful_sign_ins", signed_in.len())
        .fact("before_window", before);
        if !user.is_empty() {
            d.users.insert(user.clone());
        }
        if matches!(kind, "ip" | "cidr") {
            d.suspect_ips = d
                .ips
                .iter()
                .filter(|ip| ctx.known_net(ip).is_none())
                .cloned()
                .collect();
        }
        let first = ctx.ev(idx[0]);
        let ops: BTreeSet<&str> = idx.iter().map(|&i| ctx.ev(i).action.as_str()).collect();
        out.push(d.why(format!(
            "The case file's IOC list names the {} {indicator}; {} event(s) for {who} match it ({}), first at {}{}.{}",
            kind.replace('_', " "),
            idx.len(),
            ops.into_iter().collect::<Vec<_>>().join(", "),
            fmt_time(first.time),
            if before > 0 { format!(", {before} of them before the window (dwell time)") } else { String::new() },
            if signed_in.is_empty() { String::new() } else { format!(" {} successful sign-in(s) among them: the indicator had access.", signed_in.len()) }
        )));
    }
    out
}
