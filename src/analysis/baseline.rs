//! Per-user baseline over the `baseline_days` before the window (successful sign-ins only:
//! failures are what an attacker does, not what the user does), and the detections that
//! compare the window with it: new country, new IP prefix, new device, no baseline.
//! IPv4 addresses are compared by /24 and IPv6 by /48, so DHCP churn inside a provider's
//! block is not "new".

use super::detect::{
    browser_family, country_of, device_key, fmt_time, interactive_label, ip_of, ip_prefix,
    is_sign_in, ok, tech, user_of, Ctx, Draft,
};
use super::geo::Locator;
use super::window::Window;
use super::{rules, travel, Severity, UserBaseline};
use crate::case::Thresholds;
use crate::event::Event;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// Earliest sign-in of the user before the window, anywhere in the evidence.
    pub first_seen: Option<DateTime<Utc>>,
    pub first_idx: Option<usize>,
    /// First and last successful sign-in inside the baseline period.
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub sign_ins: u64,
    pub days: BTreeSet<NaiveDate>,
    pub days_of_history: i64,
    pub has_baseline: bool,
    pub countries: BTreeSet<String>,
    pub prefixes: BTreeSet<String>,
    pub asns: BTreeSet<u32>,
    pub devices: BTreeSet<String>,
    pub device_ids: BTreeSet<String>,
    pub browsers: BTreeSet<String>,
    pub apps: BTreeSet<String>,
}

/// Profiles of every user with a sign-in before the window, in one pass over the events.
pub fn build(
    events: &[Event],
    win: &Window,
    th: &Thresholds,
    loc: &Locator,
) -> BTreeMap<String, Profile> {
    let mut m: BTreeMap<String, Profile> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        if e.time >= win.start || !is_sign_in(e) {
            continue;
        }
        let Some(u) = user_of(e) else { continue };
        let p = m.entry(u).or_default();
        if p.first_seen
            .is_none_or(|f| (e.time, i) < (f, p.first_idx.unwrap_or(usize::MAX)))
        {
            p.first_seen = Some(e.time);
            p.first_idx = Some(i);
        }
        if !win.in_baseline(e.time) || !ok(e) {
            continue;
        }
        p.sign_ins += 1;
        p.from = Some(p.from.map_or(e.time, |f| f.min(e.time)));
        p.to = Some(p.to.map_or(e.time, |t| t.max(e.time)));
        p.days.insert(e.time.date_naive());
        if let Some(c) = loc.country(e) {
            p.countries.insert(c.code);
        }
        if let Some(ip) = ip_of(e) {
            p.prefixes.insert(ip_prefix(ip));
        }
        if let Some(a) = loc.asn(e) {
            p.asns.insert(a);
        }
        if let Some(d) = device_key(e) {
            p.devices.insert(d);
        }
        if let Some(d) = e.device.as_ref() {
            if let Some(id) = d.id.as_deref().filter(|s| !s.is_empty()) {
                p.device_ids.insert(id.to_string());
            }
            if let Some(b) = d.browser.as_deref().filter(|s| !s.is_empty()) {
                p.browsers.insert(browser_family(b));
            }
        }
        if let Some(a) = e.app().as_deref().filter(|s| !s.is_empty()) {
            p.apps.insert(a.to_string());
        }
    }
    for p in m.values_mut() {
        p.days_of_history = p.first_seen.map_or(0, |f| (win.start - f).num_days());
        p.has_baseline = p.days_of_history >= th.min_baseline_days && p.sign_ins > 0;
    }
    m
}

/// The contract view of a user's baseline.
pub(crate) fn contract(ctx: &Ctx, user: &str) -> UserBaseline {
    let mut b = UserBaseline {
        user: user.to_string(),
        from: Some(ctx.win.baseline_start),
        to: Some(ctx.win.start),
        ..UserBaseline::default()
    };
    if let Some(p) = ctx.profile(user) {
        b.days_of_history = p.days_of_history;
        b.has_baseline = p.has_baseline;
        b.sign_ins = p.sign_ins;
        b.countries = p.countries.iter().cloned().collect();
        b.ip_prefixes = p.prefixes.iter().cloned().collect();
        b.asns = p.asns.iter().copied().collect();
        b.devices = p.devices.iter().cloned().collect();
        b.browsers = p.browsers.iter().cloned().collect();
        b.apps = p.apps.iter().cloned().collect();
    }
    b
}

pub(crate) fn detect(ctx: &Ctx) -> Vec<Draft> {
    let mut out = Vec::new();
    if !ctx.evidence_has_baseline_period() {
        // One finding for the whole evidence rather than one per user: the gap is in the export.
        let users: BTreeSet<String> = ctx
            .signins
            .iter()
            .filter(|(_, v)| v.iter().any(|&i| ok(ctx.ev(i))))
            .map(|(u, _)| u.clone())
            .collect();
        if !users.is_empty() {
            let first = ctx
                .first_signin
                .map(|i| fmt_time(ctx.ev(i).time))
                .unwrap_or_default();
            let mut d = Draft::new(rules::NO_BASELINE, Severity::Low, "No baseline period in the evidence")
                .fact("earliest_sign_in", first.clone())
                .fact("window_start", fmt_time(ctx.win.start))
                .fact("min_baseline_days", ctx.th.min_baseline_days)
                .fact("users", users.len())
                .why(format!(
                    "The earliest sign-in in the evidence ({first}) is less than {} days before the window start ({}), so no user's normal countries, IPs and devices can be established; new-country, new-IP and new-device checks were not run. Export {} days of sign-in logs before the window to enable them.",
                    ctx.th.min_baseline_days, fmt_time(ctx.win.start), ctx.th.baseline_days
                ));
            d.users = users;
            d.events.extend(ctx.first_signin);
            out.push(d);
        }
        return out;
    }
    for (user, idx) in &ctx.signins {
        let succ: Vec<usize> = idx.iter().copied().filter(|&i| ok(ctx.ev(i))).collect();
        if succ.is_empty() {
            continue;
        }
        let Some(p) = ctx.profile(user).filter(|p| p.has_baseline) else {
            out.push(no_baseline(ctx, user, &succ));
            continue;
        };
        out.extend(new_countries(ctx, user, p, &succ));
        out.extend(new_ips(ctx, user, p, &succ));
        out.extend(new_devices(ctx, user, p, &succ));
    }
    out
}

fn no_baseline(ctx: &Ctx, user: &str, succ: &[usize]) -> Draft {
    let p = ctx.profile(user);
    let days = p.map_or(0, |p| p.days_of_history);
    let why = match p {
        None => "no sign-in before the window at all (a new account, or one not used before)"
            .to_string(),
        Some(p) if p.sign_ins == 0 => format!(
            "no successful sign-in in the {} days before the window (inactive account)",
            ctx.th.baseline_days
        ),
        Some(_) => format!("only {days} days of sign-in history before the window"),
    };
    let mut d = Draft::new(rules::NO_BASELINE, Severity::Low, format!("No baseline for {user}"))
        .user(user)
        .fact("days_of_history", days)
        .fact("min_baseline_days", ctx.th.min_baseline_days)
        .fact("baseline_sign_ins", p.map_or(0, |p| p.sign_ins))
        .why(format!(
            "{user} has {why}; under {} days nothing can be called normal, so every location and device in the window is unverified (RB-0003 step 3: flag as additional risk).",
            ctx.th.min_baseline_days
        ))
        .cite(ctx, succ.iter().copied().take(1));
    if let Some(i) = p.and_then(|p| p.first_idx) {
        d.events.push(i);
    }
    d
}

fn new_countries(ctx: &Ctx, user: &str, p: &Profile, succ: &[usize]) -> Vec<Draft> {
    let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in succ {
        if let Some(c) = country_of(ctx, ctx.ev(i)) {
            if !p.countries.contains(&c) {
                by.entry(c).or_default().push(i);
            }
        }
    }
    let mut out = Vec::new();
    for (country, ev) in by {
        let first = ctx.ev(ev[0]);
        let all_known = ev
            .iter()
            .all(|&i| ip_of(ctx.ev(i)).is_some_and(|ip| ctx.known_net(ip).is_some()));
        let travel = ctx.travel_record(user, &country, first.time);
        let name = ctx
            .geo
            .country_name(&country)
            .unwrap_or(&country)
            .to_string();
        let ips: BTreeSet<String> = ev
            .iter()
            .filter_map(|&i| ip_of(ctx.ev(i)).map(str::to_string))
            .collect();
        let baseline_list = p.countries.iter().cloned().collect::<Vec<_>>().join(", ");
        let kinds: BTreeSet<&str> = ev.iter().map(|&i| interactive_label(ctx.ev(i))).collect();
        // Sign-ins whose log gives no country: theirs is the MaxMind database's, by IP.
        let from_db = ev
            .iter()
            .filter(|&&i| ctx.loc.country(ctx.ev(i)).is_some_and(|c| c.from_database))
            .count();
        let mut d = Draft::new(
            rules::NEW_COUNTRY,
            Severity::High,
            format!("Sign-in from new country {name} ({country}) for {user}"),
        )
        .tech(&[tech::VALID_CLOUD])
        .user(user)
        .fact("country", country.clone())
        .fact(
            "baseline_countries",
            p.countries.iter().cloned().collect::<Vec<_>>(),
        )
        .fact("sign_ins", ev.len())
        .fact("sign_in_kinds", kinds.iter().copied().collect::<Vec<_>>())
        .cite(ctx, ev.iter().copied());
        let mut base = format!(
            "{} successful sign-in(s) ({}) for {user} from {name} ({country}) between {} and {}; the {} baseline days before the window show only: {}.",
            ev.len(),
            kinds.iter().copied().collect::<Vec<_>>().join(", "),
            fmt_time(first.time),
            fmt_time(ctx.ev(*ev.last().expect("non-empty")).time),
            ctx.th.baseline_days,
            if baseline_list.is_empty() { "no country".into() } else { baseline_list }
        );
        if from_db > 0 {
            if let Some(db) = ctx.loc.city_database() {
                d = d
                    .fact("country_from_database", from_db)
                    .fact("geo_database", travel::database_fact(db));
                base.push_str(&format!(
                    " {from_db} of them carry no country in the log: their country is the MaxMind database's for the source IP ({}).",
                    travel::database_label(db)
                ));
            }
        }
        if let Some(t) = travel {
            d.severity = Severity::Info;
            d = d.fact("explained_by", "travel record").why(format!(
                "{base} Explained by the travel record in the case file ({} in {} from {} to {}{}).",
                t.user, t.country, fmt_time(t.from), fmt_time(t.to),
                t.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
            ));
        } else if all_known {
            d.severity = Severity::Info;
            d = d.fact("explained_by", "corporate egress or VPN range").why(format!(
                "{base} Every one of these sign-ins came from a corporate egress or VPN range in the case file, whose geolocation says where the gateway is, not the user."
            ));
        } else {
            d.suspect_ips = ips
                .into_iter()
                .filter(|ip| ctx.known_net(ip).is_none())
                .collect();
            d = d.why(format!(
                "{base} RB-0003 step 4: a new country is a high concern."
            ));
        }
        out.push(d);
    }
    out
}

fn new_ips(ctx: &Ctx, user: &str, p: &Profile, succ: &[usize]) -> Vec<Draft> {
    let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in succ {
        let e = ctx.ev(i);
        let Some(ip) = ip_of(e) else { continue };
        if ctx.known_net(ip).is_some() {
            continue;
        }
        // Sign-ins from a new country are already reported as such.
        if country_of(ctx, e).is_some_and(|c| !p.countries.contains(&c)) {
            continue;
        }
        let pre = ip_prefix(ip);
        if !p.prefixes.contains(&pre) {
            by.entry(pre).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (prefix, ev) in by {
        let asns: BTreeSet<u32> = ev.iter().filter_map(|&i| ctx.loc.asn(ctx.ev(i))).collect();
        let same_isp = !asns.is_empty() && asns.iter().all(|a| p.asns.contains(a));
        let kinds: BTreeSet<&str> = ev.iter().map(|&i| interactive_label(ctx.ev(i))).collect();
        let mut d = Draft::new(
            rules::NEW_IP,
            if same_isp {
                Severity::Low
            } else {
                Severity::Medium
            },
            format!("Sign-in from new network {prefix} for {user}"),
        )
        .tech(&[tech::VALID_CLOUD])
        .user(user)
        .fact("prefix", prefix.clone())
        .fact("sign_ins", ev.len())
        .fact("asns", asns.iter().copied().collect::<Vec<_>>())
        .fact("baseline_prefixes", p.prefixes.len())
        .fact("sign_in_kinds", kinds.iter().copied().collect::<Vec<_>>())
        .cite(ctx, ev.iter().copied());
        let isp = if same_isp {
            " The network's ASN is one the user already signs in from (same provider), so this is more likely address churn than a new party."
        } else {
            ""
        };
        d = d.why(format!(
            "{} successful sign-in(s) ({}) for {user} from {prefix}, a network not among the {} prefixes of the user's {} baseline days.{isp}",
            ev.len(),
            kinds.iter().copied().collect::<Vec<_>>().join(", "),
            p.prefixes.len(),
            ctx.th.baseline_days
        ));
        if !same_isp {
            d.suspect_ips = d.ips.clone();
        }
        out.push(d);
    }
    out
}

fn new_devices(ctx: &Ctx, user: &str, p: &Profile, succ: &[usize]) -> Vec<Draft> {
    if p.devices.is_empty() {
        return Vec::new(); // The source never described devices: nothing to compare with.
    }
    let mut by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for &i in succ {
        if let Some(k) = device_key(ctx.ev(i)) {
            if !p.devices.contains(&k) {
                by.entry(k).or_default().push(i);
            }
        }
    }
    by.into_iter()
        .map(|(dev, ev)| {
            let mut d = Draft::new(rules::NEW_DEVICE, Severity::Medium, format!("Sign-in from new device {dev} for {user}"))
                .tech(&[tech::VALID_CLOUD])
                .user(user)
                .fact("device", dev.clone())
                .fact("baseline_devices", p.devices.iter().cloned().collect::<Vec<_>>())
                .fact("sign_ins", ev.len())
                .cite(ctx, ev.iter().copied());
            d.suspect_ips = d.ips.iter().filter(|ip| !ctx.ip_in_baseline(user, ip) && ctx.known_net(ip).is_none()).cloned().collect();
            d.why(format!(
                "{} successful sign-in(s) for {user} from a {dev} device; the baseline shows only: {}. RB-0003 step 4: a new device or browser is a medium concern.",
                ev.len(),
                crate::analysis::prose::capped(&p.devices, "; ")
            ))
        })
        .collect()
}
