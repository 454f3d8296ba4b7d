//! Pivot from what the first pass found: other accounts seen from a suspicious IP (RB-001
//! step 5.1), and one user agent shared across accounts when that agent is rare in the
//! tenant (a common browser string shared by many people says nothing).

use super::detect::{fmt_time, ip_of, ok, tech, Ctx, Draft, Suspects};
use super::{prose, rules, Severity};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A user agent counts as rare when at most this share of the window's users send it, or at
/// most `RARE_UA_MIN_ACCOUNTS` accounts in a small tenant (and never fewer than `pivot_min_users`).
pub const RARE_UA_SHARE: f64 = 0.02;
pub const RARE_UA_MIN_ACCOUNTS: usize = 5;

/// Everyday browser and Microsoft client strings: shared by accounts all the time.
pub fn common_client(ua: &str) -> bool {
    let l = ua.to_ascii_lowercase();
    let browser = l.starts_with("mozilla/5.0")
        && ["chrome/", "firefox/", "safari/", "edg/", "trident/"]
            .iter()
            .any(|m| l.contains(m));
    browser
        || [
            "microsoft office",
            "microsoft outlook",
            "outlook-ios",
            "outlook-android",
            "teams/",
            "onedrive",
            "windows-azuread-authentication-provider",
            "msal",
        ]
        .iter()
        .any(|m| l.contains(m))
}

pub(crate) fn detect(ctx: &Ctx, s: &Suspects) -> Vec<Draft> {
    let mut out = shared_ip(ctx, s);
    out.extend(shared_user_agent(ctx, s));
    out
}

/// IP → user → (successful sign-ins, all sign-ins).
type ByIp<'a> = HashMap<&'a str, BTreeMap<&'a str, (Vec<usize>, Vec<usize>)>>;

fn shared_ip(ctx: &Ctx, s: &Suspects) -> Vec<Draft> {
    if s.ips.is_empty() {
        return Vec::new();
    }
    // ip → user → (successes, all)
    let mut seen: ByIp = HashMap::new();
    for (user, idx) in &ctx.signins {
        for &i in idx {
            if let Some(ip) = ip_of(ctx.ev(i)).filter(|ip| s.ips.contains_key(*ip)) {
                let slot = seen
                    .entry(ip)
                    .or_default()
                    .entry(user.as_str())
                    .or_default();
                if ok(ctx.ev(i)) {
                    slot.0.push(i);
                }
                slot.1.push(i);
            }
        }
    }
    let mut out = Vec::new();
    for (ip, originals) in &s.ips {
        let Some(users) = seen.get(ip.as_str()) else {
            continue;
        };
        let succ_users: BTreeSet<&str> = users
            .iter()
            .filter(|(_, v)| !v.0.is_empty())
            .map(|(u, _)| *u)
            .collect();
        let others: BTreeSet<&str> = users
            .keys()
            .copied()
            .filter(|u| !originals.contains(*u))
            .collect();
        let sev = if succ_users.len() >= ctx.th.pivot_min_users.max(2) {
            Severity::High
        } else if users.len() >= ctx.th.pivot_min_users.max(2) && !others.is_empty() {
            Severity::Medium
        } else {
            continue;
        };
        let mut d = Draft::new(
            rules::SHARED_IP,
            sev,
            format!("{} accounts seen from suspicious IP {ip}", users.len()),
        )
        .tech(&[tech::VALID_CLOUD])
        .cite(ctx, users.values().flat_map(|v| v.1.iter().copied()))
        .fact("ip", ip.clone())
        .fact("accounts", users.len())
        .fact(
            "accounts_signed_in",
            succ_users.iter().map(|u| u.to_string()).collect::<Vec<_>>(),
        )
        .fact(
            "flagged_by_first_pass",
            originals.iter().cloned().collect::<Vec<_>>(),
        );
        d.users = users.keys().map(|u| u.to_string()).collect();
        d.ips = [ip.clone()].into();
        d.suspect_ips.insert(ip.clone());
        out.push(d.why(format!(
            "{ip} was already suspicious ({}); in the window it was used by {} account(s): {}. Signed in successfully: {}. RB-001 step 5.1: other accounts from the same suspicious IP widen the scope (unless it is a shared VPN or proxy the case file does not list).",
            if originals.is_empty() { "indicator".to_string() } else { format!("findings for {}", prose::capped(originals.iter(), ", ")) },
            users.len(),
            prose::capped(users.keys(), ", "),
            if succ_users.is_empty() { "none".to_string() } else { prose::capped(succ_users.iter(), ", ") }
        )));
    }
    out
}

fn shared_user_agent(ctx: &Ctx, s: &Suspects) -> Vec<Draft> {
    let total_users = ctx.signins.len();
    let min = ctx.th.pivot_min_users.max(2);
    let rare_limit = min
        .max(RARE_UA_MIN_ACCOUNTS)
        .max((total_users as f64 * RARE_UA_SHARE).floor() as usize);
    let mut by_ua: HashMap<&str, BTreeMap<&str, Vec<usize>>> = HashMap::new();
    for (user, idx) in &ctx.signins {
        for &i in idx {
            if let Some(ua) = ctx
                .ev(i)
                .user_agent()
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
            {
                by_ua
                    .entry(ua)
                    .or_default()
                    .entry(user.as_str())
                    .or_default()
                    .push(i);
            }
        }
    }
    let mut uas: Vec<&str> = by_ua.keys().copied().collect();
    uas.sort_unstable();
    let mut out = Vec::new();
    for ua in uas {
        let users = &by_ua[ua];
        if users.len() < min {
            continue;
        }
        let idx: Vec<usize> = users.values().flatten().copied().collect();
        let from_suspect: BTreeSet<&str> = idx
            .iter()
            .filter_map(|&i| ip_of(ctx.ev(i)))
            .filter(|ip| s.ips.contains_key(*ip))
            .collect();
        let common = common_client(ua);
        let rare = users.len() <= rare_limit;
        // A tool string sent from a suspicious IP is notable however many accounts it touched;
        // otherwise only rare strings are, and a common browser string needs the suspicious IP too.
        let notable = if common {
            rare && !from_suspect.is_empty()
        } else {
            rare || !from_suspect.is_empty()
        };
        if !notable {
            continue;
        }
        let all_known = idx
            .iter()
            .all(|&i| ip_of(ctx.ev(i)).is_some_and(|ip| ctx.known_net(ip).is_some()));
        if all_known {
            continue; // a corporate tool used from the office
        }
        let sev = if from_suspect.is_empty() {
            Severity::Medium
        } else {
            Severity::High
        };
        let first = idx
            .iter()
            .map(|&i| ctx.ev(i).time)
            .min()
            .expect("non-empty");
        let mut d = Draft::new(
            rules::SHARED_USER_AGENT,
            sev,
            // Say "rare" only when it is: a string every account sends is notable here only
            // because it came from a suspicious IP.
            if rare {
                format!("Rare user agent shared by {} accounts", users.len())
            } else {
                format!(
                    "User agent from suspicious IPs shared by {} accounts",
                    users.len()
                )
            },
        )
        .tech(&[tech::VALID_CLOUD])
        .cite(ctx, idx.iter().copied())
        .fact("user_agent", ua)
        .fact("accounts", users.len())
        .fact("rare_limit", rare_limit)
        .fact("common_client_string", common)
        .fact(
            "from_suspicious_ips",
            from_suspect
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>(),
        );
        d.users = users.keys().map(|u| u.to_string()).collect();
        d.suspect_ips = from_suspect.iter().map(|s| s.to_string()).collect();
        out.push(d.why(format!(
            "The user agent \"{ua}\" was sent by {} accounts ({}) from {} on, out of {total_users} accounts signing in during the window (rare here means at most {rare_limit}).{}{}",
            users.len(),
            prose::capped(users.keys(), ", "),
            fmt_time(first),
            if common { "" } else { " It is not an everyday browser or Microsoft client string (scripts and attack tools look like this)." },
            if from_suspect.is_empty() { String::new() } else { format!(" Seen from suspicious IP(s): {}.", prose::capped(from_suspect, ", ")) }
        )));
    }
    out
}
