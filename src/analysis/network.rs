//! The network side of suspicious IPs and users: RADIUS/NPS sessions (start, interim and stop
//! records joined per session id and user: Calling-Station-Id, Framed-IP, bytes, terminate
//! cause), VPN logins and tunnels (FortiGate SSL/IPsec, GlobalProtect), and firewall flows from
//! or to the IP or the inside address the session or tunnel handed out.
//!
//! Views are made for every suspicious IP, and for the public IPs of network sessions of
//! suspicious users (the MSP walkthrough: "RADIUS accounting for the same username, the VPN
//! appliance for active tunnels"). Network users like `CORP\alice` or `alice` match the UPN
//! `alice@corp.example` by the local part.

use super::detect::{fmt_time, ip_of, tech, user_of, Ctx, Draft, Suspects, MAX_EVIDENCE};
use super::{rules, NetworkSession, NetworkView, Severity};
use crate::event::{actions, Event, Outcome};
use chrono::Duration;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Accounting records this long before the window still count: a session can start before it.
const SESSION_LOOKBACK_HOURS: i64 = 24;

/// Where the accounting records and VPN events network correlation reads begin.
pub(crate) fn sessions_from(win: &super::window::Window) -> chrono::DateTime<chrono::Utc> {
    win.start
        .checked_sub_signed(Duration::hours(SESSION_LOOKBACK_HOURS))
        .unwrap_or(win.start)
}

pub(crate) fn extra_str(e: &Event, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match e.extra.get(k)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// `CORP\alice`, `alice`, `alice@corp.example` → comparable forms.
pub(crate) fn same_user(upn: &str, other: &str) -> bool {
    let o = other.trim().to_ascii_lowercase();
    let o = o.rsplit('\\').next().unwrap_or(&o).to_string();
    if o.contains('@') {
        return o == upn;
    }
    upn.split('@').next() == Some(o.as_str())
}

struct Session {
    s: NetworkSession,
    events: Vec<usize>,
}

pub(crate) fn is_vpn(e: &Event) -> bool {
    matches!(
        e.action.as_str(),
        actions::VPN_LOGIN
            | actions::VPN_LOGIN_FAILED
            | actions::VPN_TUNNEL_UP
            | actions::VPN_TUNNEL_DOWN
    )
}

fn is_flow(e: &Event) -> bool {
    matches!(
        e.action.as_str(),
        actions::FLOW_ALLOWED | actions::FLOW_DENIED
    )
}

pub(crate) fn is_accounting(e: &Event) -> bool {
    matches!(
        e.action.as_str(),
        actions::SESSION_START | actions::SESSION_INTERIM | actions::SESSION_STOP
    )
}

fn sessions(ctx: &Ctx, span: &[usize]) -> Vec<Session> {
    let mut m: BTreeMap<(String, String, String), Session> = BTreeMap::new();
    for &i in span {
        let e = ctx.ev(i);
        if !is_accounting(e) {
            continue;
        }
        let user = user_of(e).unwrap_or_default();
        if let Some(sid) = &e.cold().session_id {
            ctx.net_sessions.borrow_mut().insert((
                e.source().to_string(),
                sid.clone(),
                user.clone(),
            ));
        }
        // Without a session id every record stands alone.
        // (by timeline line: the same whether flows are held compactly or not).
        let sid = e
            .cold()
            .session_id
            .clone()
            .unwrap_or_else(|| format!("#{}", ctx.line(i)));
        let entry = m
            .entry((e.source().to_string(), sid.clone(), user.clone()))
            .or_insert_with(|| Session {
                s: NetworkSession {
                    source: e.source().to_string(),
                    user: (!user.is_empty()).then(|| user.clone()),
                    session_id: e.cold().session_id.clone(),
                    still_active: true,
                    ..NetworkSession::default()
                },
                events: Vec::new(),
            });
        let s = &mut entry.s;
        entry.events.push(i);
        s.start = Some(s.start.map_or(e.time, |t| t.min(e.time)));
        if s.nas.is_none() {
            s.nas = extra_str(e, &["nas_identifier", "nas_ip"]);
        }
        if s.calling_station.is_none() {
            s.calling_station = ip_of(e)
                .map(str::to_string)
                .or_else(|| extra_str(e, &["calling_station_id"]));
        }
        if s.framed_ip.is_none() {
            s.framed_ip = extra_str(e, &["framed_ip"]);
        }
        // Accounting counters are cumulative: the largest is the session's total.
        s.bytes_in = s.bytes_in.max(e.cold().bytes_in.unwrap_or(0));
        s.bytes_out = s.bytes_out.max(e.cold().bytes_out.unwrap_or(0));
        if e.action == actions::SESSION_STOP {
            s.end = Some(s.end.map_or(e.time, |t| t.max(e.time)));
            s.still_active = false;
            if let Some(c) = extra_str(e, &["terminate_cause"]) {
                s.terminate_cause = Some(c);
            }
        }
    }
    m.into_values().collect()
}

fn vpn_line(e: &Event) -> String {
    let mut s = format!("{} {} {}", fmt_time(e.time), e.action, e.source());
    if let Some(u) = e.user.as_deref() {
        s.push_str(&format!(" user {u}"));
    }
    if let Some(ip) = ip_of(e) {
        s.push_str(&format!(" from {ip}"));
    }
    if let Some(a) = extra_str(e, &["assigned_ip"]) {
        s.push_str(&format!(" assigned {a}"));
    }
    if e.outcome == Outcome::Failure {
        s.push_str(" (failed)");
    }
    s
}

pub(crate) fn detect(ctx: &Ctx, sus: &Suspects) -> (Vec<NetworkView>, Vec<Draft>) {
    let from = sessions_from(&ctx.win);
    let span: Vec<usize> = (0..ctx.events.len())
        .filter(|&i| {
            let e = ctx.ev(i);
            e.time >= from && e.time <= ctx.win.end && (is_accounting(e) || is_vpn(e) || is_flow(e))
        })
        .collect();
    // No early return on an empty span: with records held compactly, the candidates below
    // still name the addresses whose records must be read back (and with none held, every
    // candidate below finds nothing, as an early return would).
    let sess = sessions(ctx, &span);
    let vpn: Vec<usize> = span
        .iter()
        .copied()
        .filter(|&i| is_vpn(ctx.ev(i)))
        .collect();
    let mut flows_by_ip: HashMap<&str, Vec<usize>> = HashMap::new();
    for &i in &span {
        let e = ctx.ev(i);
        if is_flow(e) {
            for ip in [e.src_ip.as_deref(), e.cold().dst_ip.as_deref()]
                .into_iter()
                .flatten()
            {
                flows_by_ip.entry(ip.trim()).or_default().push(i);
            }
        }
    }
    let suspect_user = |u: &str| sus.users.iter().any(|s| same_user(s, u));

    // Candidate IPs: suspicious ones, plus the public side of suspicious users' sessions.
    let mut candidates: BTreeMap<String, bool> =
        sus.ips.keys().map(|ip| (ip.clone(), true)).collect();
    for s in &sess {
        if s.s.user.as_deref().is_some_and(suspect_user) {
            if let Some(ip) =
                s.s.calling_station
                    .clone()
                    .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok())
            {
                candidates.entry(ip).or_insert(false);
            }
        }
    }
    for &i in &vpn {
        let e = ctx.ev(i);
        if e.user.as_deref().is_some_and(suspect_user) {
            if let Some(ip) = ip_of(e) {
                candidates.entry(ip.to_string()).or_insert(false);
            }
        }
    }

    // Indexes by address so each candidate costs only its own records.
    let mut sess_by_ip: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, s) in sess.iter().enumerate() {
        let (cs, fr) = (s.s.calling_station.as_deref(), s.s.framed_ip.as_deref());
        for a in [cs, fr.filter(|f| Some(*f) != cs)].into_iter().flatten() {
            sess_by_ip.entry(a).or_default().push(k);
        }
    }
    let assigned: Vec<Option<String>> = vpn
        .iter()
        .map(|&i| extra_str(ctx.ev(i), &["assigned_ip"]))
        .collect();
    let mut vpn_by_ip: HashMap<&str, Vec<usize>> = HashMap::new();
    for (k, &i) in vpn.iter().enumerate() {
        if let Some(ip) = ip_of(ctx.ev(i)) {
            vpn_by_ip.entry(ip).or_default().push(i);
        }
        if let Some(a) = assigned[k].as_deref() {
            vpn_by_ip.entry(a).or_default().push(i);
        }
    }
    let mut views = Vec::new();
    let mut drafts = Vec::new();
    for (ip, suspicious) in candidates {
        let my_sess: Vec<&Session> = sess_by_ip
            .get(ip.as_str())
            .map(|v| v.iter().map(|&k| &sess[k]).collect())
            .unwrap_or_default();
        let mut my_vpn: Vec<usize> = vpn_by_ip.get(ip.as_str()).cloned().unwrap_or_default();
        my_vpn.sort_unstable();
        my_vpn.dedup();
        let mut inner: BTreeSet<String> = [ip.clone()].into();
        inner.extend(my_sess.iter().filter_map(|s| s.s.framed_ip.clone()));
        inner.extend(
            my_vpn
                .iter()
                .filter_map(|&i| extra_str(ctx.ev(i), &["assigned_ip"])),
        );
        ctx.flow_addrs.borrow_mut().extend(inner.iter().cloned());
        let mut flows: Vec<usize> = inner
            .iter()
            .flat_map(|a| flows_by_ip.get(a.as_str()).cloned().unwrap_or_default())
            .collect();
        flows.sort_unstable();
        flows.dedup();
        flows.retain(|&i| ctx.win.contains(ctx.ev(i).time));
        if my_sess.is_empty() && my_vpn.is_empty() && flows.is_empty() {
            continue;
        }
        let mut users: BTreeSet<String> = sus.ips.get(&ip).cloned().unwrap_or_default();
        // Network names (`CORP\\alice`, `alice`) are reported as the suspect's UPN they match.
        let as_upn = |u: String| {
            sus.users
                .iter()
                .find(|s| same_user(s, &u))
                .cloned()
                .unwrap_or(u)
        };
        users.extend(my_sess.iter().filter_map(|s| s.s.user.clone()).map(as_upn));
        users.extend(
            my_vpn
                .iter()
                .filter_map(|&i| user_of(ctx.ev(i)))
                .map(as_upn),
        );
        let allowed = flows
            .iter()
            .filter(|&&i| ctx.ev(i).action == actions::FLOW_ALLOWED)
            .count() as u64;
        let denied = flows.len() as u64 - allowed;
        let bytes_in: u64 = flows
            .iter()
            .map(|&i| ctx.ev(i).cold().bytes_in.unwrap_or(0))
            .sum();
        let bytes_out: u64 = flows
            .iter()
            .map(|&i| ctx.ev(i).cold().bytes_out.unwrap_or(0))
            .sum();
        let mut ev: Vec<usize> = my_sess
            .iter()
            .flat_map(|s| s.events.iter().copied())
            .chain(my_vpn.iter().copied())
            .chain(flows.iter().copied())
            .collect();
        ev.sort_unstable();
        ev.dedup();
        ev.sort_by_cached_key(|&i| (ctx.ev(i).time, ctx.hash(i)));
        let vpn_ok = my_vpn.iter().any(|&i| {
            let e = ctx.ev(i);
            e.outcome != Outcome::Failure
                && matches!(
                    e.action.as_str(),
                    actions::VPN_LOGIN | actions::VPN_TUNNEL_UP
                )
        });
        let active = my_sess.iter().filter(|s| s.s.still_active).count();
        let view = NetworkView {
            ip: ip.clone(),
            users: users.iter().cloned().collect(),
            radius_sessions: my_sess.iter().map(|s| s.s.clone()).collect(),
            vpn_events: my_vpn.iter().map(|&i| vpn_line(ctx.ev(i))).collect(),
            flows_allowed: allowed,
            flows_denied: denied,
            bytes_in,
            bytes_out,
            evidence: ev.iter().take(MAX_EVIDENCE).map(|&i| ctx.hash(i)).collect(),
        };
        let sev = if !suspicious {
            Severity::Info
        } else if vpn_ok || !my_sess.is_empty() || allowed > 0 {
            Severity::High
        } else {
            Severity::Medium
        };
        let mut d = Draft::new(
            rules::NETWORK_CORRELATION,
            sev,
            format!(
                "Network activity of {}{ip}",
                if suspicious { "suspicious IP " } else { "" }
            ),
        )
        .tech(&[tech::EXTERNAL_REMOTE])
        .cite(ctx, ev.iter().copied())
        .fact("ip", ip.clone())
        .fact("suspicious_ip", suspicious)
        .fact("radius_sessions", my_sess.len())
        .fact("sessions_still_active", active)
        .fact("vpn_events", my_vpn.len())
        .fact("flows_allowed", allowed)
        .fact("flows_denied", denied)
        .fact("bytes_in", bytes_in)
        .fact("bytes_out", bytes_out);
        d.users = users.clone();
        d.ips = inner.clone();
        if suspicious {
            d.suspect_ips.insert(ip.clone());
        }
        let sess_text = my_sess
            .iter()
            .map(|s| {
                format!(
                    "{} session {} of {} via {} framed {} from {} to {}{}",
                    s.s.source,
                    s.s.session_id.as_deref().unwrap_or("?"),
                    s.s.user.as_deref().unwrap_or("?"),
                    s.s.nas.as_deref().unwrap_or("?"),
                    s.s.framed_ip.as_deref().unwrap_or("?"),
                    s.s.start.map(fmt_time).unwrap_or_default(),
                    s.s.end
                        .map(fmt_time)
                        .unwrap_or_else(|| "still active at the end of the logs".into()),
                    s.s.terminate_cause
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>();
        d = d.why(format!(
            "{}{ip} on the network side: {} RADIUS session(s){}; {} VPN event(s){}; firewall flows {allowed} allowed / {denied} denied ({bytes_in} bytes in, {bytes_out} out) from or to it or the inside address(es) {}.{}",
            if suspicious { "Suspicious IP " } else { "Network address of a suspicious user, " },
            my_sess.len(),
            if sess_text.is_empty() { String::new() } else { format!(" ({})", crate::analysis::prose::capped(&sess_text, "; ")) },
            my_vpn.len(),
            if vpn_ok { ", including a successful login or tunnel" } else { "" },
            if inner.len() == 1 { "(none)".to_string() } else { crate::analysis::prose::capped(inner.iter().filter(|a| **a != ip), ", ") },
            if active > 0 { format!(" {active} session(s) have no stop record: disconnect them (CoA) when containing.") } else { String::new() }
        ));
        views.push(view);
        drafts.push(d);
    }
    (views, drafts)
}
