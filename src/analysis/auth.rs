//! Authentication patterns: failures then success, password spray, brute force, MFA fatigue,
//! single-factor success from an unknown network, legacy authentication.
//!
//! MFA interruptions (50074/50076) and denials (500121) are not password failures: they
//! show the password was right. They feed MFA fatigue only.

use super::detect::{
    error_code, fmt_time, interactive, interactive_label, ip_of, ip_prefix, legacy_client,
    mfa_done, ok, single_factor, tech, Ctx, Draft,
};
use super::{rules, Severity};
use crate::event::{Event, Outcome};
use chrono::Duration;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Sign-in interrupted to ask for a second factor.
const MFA_INTERRUPT_CODES: &[u64] = &[50074, 50076, 50079];
/// Second factor failed or was denied (user rejected the push, or did not answer).
const MFA_DENIAL_CODES: &[u64] = &[500121, 50088];
/// Denials within `failure_window_minutes` that make an MFA-fatigue burst.
pub const FATIGUE_MIN_DENIALS: usize = 3;
/// Prompts not followed by a success within the same span that make a burst on their own.
pub const FATIGUE_MIN_UNANSWERED: i64 = 5;
/// Span over which brute-force failures are counted (slow attempts evade an hourly count).
pub const BRUTE_FORCE_SPAN_HOURS: i64 = 24;
/// Share of an IP's sign-in attempts that must be failures to call it a spray source
/// (an office NAT shows failures too, but far more successes).
pub const SPRAY_MIN_FAILURE_SHARE: f64 = 0.5;

pub(crate) fn is_mfa_denial(e: &Event) -> bool {
    error_code(e).is_some_and(|c| MFA_DENIAL_CODES.contains(&c))
        || (e.outcome == Outcome::Failure
            && e.reason.as_deref().is_some_and(|r| {
                let r = r.to_ascii_lowercase();
                r.contains("strong authentication") || (r.contains("mfa") && r.contains("denied"))
            }))
}

pub(crate) fn is_mfa_interrupt(e: &Event) -> bool {
    !is_mfa_denial(e)
        && (error_code(e).is_some_and(|c| MFA_INTERRUPT_CODES.contains(&c))
            || (e.outcome == Outcome::Interrupted
                && e.reason.as_deref().is_some_and(|r| {
                    let r = r.to_ascii_lowercase();
                    r.contains("multi-factor")
                        || r.contains("strong authentication")
                        || r.contains("mfa")
                })))
}

/// A failed password attempt (not an MFA step).
pub(crate) fn is_password_failure(e: &Event) -> bool {
    e.outcome == Outcome::Failure && !is_mfa_denial(e) && !is_mfa_interrupt(e)
}

/// The IP is neither corporate/VPN nor in the user's baseline.
fn unknown_ip(ctx: &Ctx, user: &str, ip: &str) -> bool {
    ctx.known_net(ip).is_none() && !ctx.ip_in_baseline(user, ip)
}

pub(crate) fn detect(ctx: &Ctx) -> Vec<Draft> {
    let mut out = Vec::new();
    for (user, idx) in &ctx.signins {
        out.extend(failures_then_success(ctx, user, idx));
        out.extend(brute_force(ctx, user, idx));
        out.extend(mfa_fatigue(ctx, user, idx));
        out.extend(single_factor_unknown_ip(ctx, user, idx));
        out.extend(legacy_auth(ctx, user, idx));
    }
    out.extend(password_spray(ctx));
    out
}

fn failures_then_success(ctx: &Ctx, user: &str, idx: &[usize]) -> Option<Draft> {
    let need = ctx.th.failures_before_success.max(1);
    let span = Duration::minutes(ctx.th.failure_window_minutes.max(1));
    let fails: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| is_password_failure(ctx.ev(i)))
        .collect();
    if fails.len() < need {
        return None;
    }
    let mut cited: BTreeSet<usize> = BTreeSet::new();
    let mut successes = Vec::new();
    let mut unknown_success = false;
    let mut max_run = 0;
    for &s in idx.iter().filter(|&&i| ok(ctx.ev(i))) {
        let t = ctx.ev(s).time;
        let hi = fails.partition_point(|&f| ctx.ev(f).time < t);
        let lo = fails.partition_point(|&f| ctx.ev(f).time < t - span);
        if hi - lo >= need {
            max_run = max_run.max(hi - lo);
            cited.extend(&fails[lo..hi]);
            cited.insert(s);
            successes.push(s);
            if ip_of(ctx.ev(s)).is_some_and(|ip| unknown_ip(ctx, user, ip))
                && ctx.has_baseline(user)
            {
                unknown_success = true;
            }
        }
    }
    let first = *successes.first()?;
    let e = ctx.ev(first);
    let sev = if unknown_success {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut d = Draft::new(
        rules::FAILURES_THEN_SUCCESS,
        sev,
        format!("Failed sign-ins followed by success for {user}"),
    )
    .tech(&[tech::PASSWORD_GUESSING, tech::VALID_CLOUD])
    .user(user)
    .cite(ctx, cited.iter().copied())
    .fact("successes", successes.len())
    .fact("max_failures_before_success", max_run)
    .fact("threshold", need)
    .fact("window_minutes", ctx.th.failure_window_minutes);
    if unknown_success {
        d.suspect_ips = successes
            .iter()
            .filter_map(|&s| ip_of(ctx.ev(s)))
            .filter(|ip| unknown_ip(ctx, user, ip))
            .map(str::to_string)
            .collect();
    }
    Some(d.why(format!(
        "{max_run} failed password attempts within {} minutes preceded the successful sign-in of {user} at {} from {} ({}); {} such success(es) in the window.{}",
        ctx.th.failure_window_minutes,
        fmt_time(e.time),
        ip_of(e).unwrap_or("no IP"),
        interactive_label(e),
        successes.len(),
        if unknown_success { " At least one success came from a network outside the user's baseline." } else { "" }
    )))
}

fn brute_force(ctx: &Ctx, user: &str, idx: &[usize]) -> Option<Draft> {
    let need = ctx.th.brute_force_failures.max(1);
    let fails: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| is_password_failure(ctx.ev(i)))
        .collect();
    if fails.len() < need {
        return None;
    }
    let span = Duration::hours(BRUTE_FORCE_SPAN_HOURS);
    let (mut best, mut best_lo, mut lo) = (0usize, 0usize, 0usize);
    for hi in 0..fails.len() {
        while ctx.ev(fails[hi]).time - ctx.ev(fails[lo]).time > span {
            lo += 1;
        }
        if hi + 1 - lo > best {
            best = hi + 1 - lo;
            best_lo = lo;
        }
    }
    if best < need {
        return None;
    }
    let burst = &fails[best_lo..best_lo + best];
    let mut by_ip: BTreeMap<String, usize> = BTreeMap::new();
    for &i in burst {
        *by_ip
            .entry(ip_of(ctx.ev(i)).unwrap_or("no IP").to_string())
            .or_default() += 1;
    }
    let foreign: BTreeSet<String> = by_ip
        .keys()
        .filter(|ip| *ip != "no IP" && unknown_ip(ctx, user, ip))
        .cloned()
        .collect();
    let start = ctx.ev(burst[0]).time;
    let later_success: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| {
            ok(ctx.ev(i))
                && ctx.ev(i).time >= start
                && ip_of(ctx.ev(i)).is_some_and(|ip| foreign.contains(ip))
        })
        .collect();
    let sev = if foreign.is_empty() {
        Severity::Low
    } else if !later_success.is_empty() {
        Severity::High
    } else {
        Severity::Medium
    };
    let mut d = Draft::new(
        rules::BRUTE_FORCE,
        sev,
        format!("Brute force against {user}"),
    )
    .tech(&[tech::BRUTE_FORCE, tech::PASSWORD_GUESSING])
    .user(user)
    .cite(
        ctx,
        burst.iter().copied().chain(later_success.iter().copied()),
    )
    .fact("failures", best)
    .fact("span_hours", BRUTE_FORCE_SPAN_HOURS)
    .fact("threshold", need)
    .fact(
        "failures_by_ip",
        serde_json::to_value(&by_ip).unwrap_or_default(),
    )
    .fact("success_from_attacking_ip", later_success.len());
    d.suspect_ips = foreign.clone();
    let tail = match sev {
        Severity::Low => " Every failing address is corporate, VPN or in the user's baseline: a device retrying a stale password is the likelier cause.".to_string(),
        Severity::High => format!(" {} successful sign-in(s) followed from an attacking address.", later_success.len()),
        _ => " No success from the attacking addresses in the window.".to_string(),
    };
    Some(d.why(format!(
        "{best} failed password attempts against {user} within {BRUTE_FORCE_SPAN_HOURS} h ({} to {}), threshold {need}, from {} address(es).{tail}",
        fmt_time(start),
        fmt_time(ctx.ev(burst[best - 1]).time),
        by_ip.len()
    )))
}

fn mfa_fatigue(ctx: &Ctx, user: &str, idx: &[usize]) -> Vec<Draft> {
    let span = Duration::minutes(ctx.th.failure_window_minutes.max(1));
    let relevant: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| {
            let e = ctx.ev(i);
            is_mfa_denial(e) || is_mfa_interrupt(e) || ok(e)
        })
        .collect();
    let mut out = Vec::new();
    let (mut lo, mut denials, mut prompts, mut succ) = (0usize, 0usize, 0i64, 0i64);
    let mut hi = 0;
    while hi < relevant.len() {
        let e = ctx.ev(relevant[hi]);
        if is_mfa_denial(e) {
            denials += 1;
        } else if is_mfa_interrupt(e) {
            prompts += 1;
        } else {
            succ += 1;
        }
        while e.time - ctx.ev(relevant[lo]).time > span {
            let old = ctx.ev(relevant[lo]);
            if is_mfa_denial(old) {
                denials -= 1;
            } else if is_mfa_interrupt(old) {
                prompts -= 1;
            } else {
                succ -= 1;
            }
            lo += 1;
        }
        if denials >= FATIGUE_MIN_DENIALS || prompts - succ >= FATIGUE_MIN_UNANSWERED {
            // Extend the burst while prompts keep coming within the span of the last one.
            let mut end = hi;
            while end + 1 < relevant.len() {
                let n = ctx.ev(relevant[end + 1]);
                if n.time - ctx.ev(relevant[end]).time > span {
                    break;
                }
                end += 1;
            }
            let burst: Vec<usize> = relevant[lo..=end].to_vec();
            let last_prompt = burst
                .iter()
                .rev()
                .find(|&&i| !ok(ctx.ev(i)))
                .copied()
                .unwrap_or(relevant[end]);
            let after_end = ctx.ev(last_prompt).time + span;
            // The first success from the moment the burst crossed the threshold until one span
            // after its last prompt (binary search: bursts can be many).
            let trigger = ctx.ev(relevant[hi]).time;
            let from = idx.partition_point(|&i| ctx.ev(i).time < trigger);
            let success = idx[from..]
                .iter()
                .copied()
                .take_while(|&i| ctx.ev(i).time <= after_end)
                .find(|&i| ok(ctx.ev(i)));
            let n_den = burst.iter().filter(|&&i| is_mfa_denial(ctx.ev(i))).count();
            let n_int = burst
                .iter()
                .filter(|&&i| is_mfa_interrupt(ctx.ev(i)))
                .count();
            let sev = if success.is_some() {
                Severity::High
            } else {
                Severity::Medium
            };
            let mut d = Draft::new(
                rules::MFA_FATIGUE,
                sev,
                format!("MFA fatigue against {user}"),
            )
            .tech(&[tech::MFA_REQUEST_GEN])
            .user(user)
            .cite(
                ctx,
                burst
                    .iter()
                    .copied()
                    .filter(|&i| !ok(ctx.ev(i)))
                    .chain(success),
            )
            .fact("denials", n_den)
            .fact("interruptions", n_int)
            .fact("window_minutes", ctx.th.failure_window_minutes)
            .fact("followed_by_success", success.is_some());
            d.suspect_ips = d
                .ips
                .iter()
                .filter(|ip| unknown_ip(ctx, user, ip))
                .cloned()
                .collect();
            let tail = match success {
                Some(s) => format!(
                    " A successful sign-in followed at {} from {}{}: the user may have approved a prompt they did not start.",
                    fmt_time(ctx.ev(s).time),
                    ip_of(ctx.ev(s)).unwrap_or("no IP"),
                    if mfa_done(ctx.ev(s)) { " with MFA satisfied" } else { "" }
                ),
                None => " No successful sign-in followed.".into(),
            };
            out.push(d.why(format!(
                "{n_den} MFA denials/failures (500121) and {n_int} MFA interruptions (50074/50076) for {user} between {} and {}, no more than {} minutes apart (thresholds: {FATIGUE_MIN_DENIALS} denials, or {FATIGUE_MIN_UNANSWERED} prompts more than successes, within the span).{tail}",
                fmt_time(ctx.ev(relevant[lo]).time),
                fmt_time(ctx.ev(relevant[end]).time),
                ctx.th.failure_window_minutes
            )));
            hi = end + 1;
            lo = hi;
            denials = 0;
            prompts = 0;
            succ = 0;
            continue;
        }
        hi += 1;
    }
    out
}

fn single_factor_unknown_ip(ctx: &Ctx, user: &str, idx: &[usize]) -> Option<Draft> {
    // Prefixes where this user completed MFA in the window: the user's own, even without a baseline.
    let mfa_prefixes: BTreeSet<String> = idx
        .iter()
        .filter(|&&i| ok(ctx.ev(i)) && mfa_done(ctx.ev(i)))
        .filter_map(|&i| ip_of(ctx.ev(i)).map(ip_prefix))
        .collect();
    let hits: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| {
            let e = ctx.ev(i);
            ok(e)
                && single_factor(e)
                && legacy_client(e).is_none()
                && ip_of(e).is_some_and(|ip| {
                    unknown_ip(ctx, user, ip) && !mfa_prefixes.contains(&ip_prefix(ip))
                })
        })
        .collect();
    if hits.is_empty() {
        return None;
    }
    let any_interactive = hits.iter().any(|&i| interactive(ctx.ev(i)) != Some(false));
    let base = ctx.has_baseline(user);
    let sev = match (any_interactive, base) {
        (true, true) => Severity::Critical,
        (true, false) => Severity::High,
        (false, true) => Severity::Medium,
        (false, false) => Severity::Low,
    };
    let kinds: BTreeSet<&str> = hits.iter().map(|&i| interactive_label(ctx.ev(i))).collect();
    let mut d = Draft::new(
        rules::SINGLE_FACTOR_UNKNOWN_IP,
        sev,
        format!("Single-factor sign-in from unknown network for {user}"),
    )
    .tech(&[tech::VALID_CLOUD])
    .user(user)
    .cite(ctx, hits.iter().copied())
    .fact("sign_ins", hits.len())
    .fact("sign_in_kinds", kinds.iter().copied().collect::<Vec<_>>())
    .fact("user_has_baseline", base);
    d.suspect_ips = d.ips.clone();
    let first = ctx.ev(hits[0]);
    let ips = crate::analysis::prose::capped(&d.ips, ", ");
    Some(d.why(format!(
        "{} successful sign-in(s) ({}) for {user} satisfied only one factor from {ips}, first at {}; {}, not corporate or VPN, and the user never completed MFA from there in the window.{}",
        hits.len(),
        kinds.iter().copied().collect::<Vec<_>>().join(", "),
        fmt_time(first.time),
        if base { "these networks are not in the user's baseline" } else { "the user has no baseline to compare with" },
        if any_interactive { " RB-0003: a successful sign-in without MFA from an unknown IP is critical." } else { " Non-interactive only: token refreshes report single-factor even when the session began with MFA, hence lower severity." }
    )))
}

fn legacy_auth(ctx: &Ctx, user: &str, idx: &[usize]) -> Option<Draft> {
    let hits: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|&i| legacy_client(ctx.ev(i)).is_some())
        .collect();
    if hits.is_empty() {
        return None;
    }
    let succ: Vec<usize> = hits.iter().copied().filter(|&i| ok(ctx.ev(i))).collect();
    let unknown: BTreeSet<String> = succ
        .iter()
        .filter_map(|&i| ip_of(ctx.ev(i)))
        .filter(|ip| {
            ctx.known_net(ip).is_none()
                && (!ctx.has_baseline(user) || !ctx.ip_in_baseline(user, ip))
        })
        .map(str::to_string)
        .collect();
    let sev = if succ.is_empty() {
        Severity::Low
    } else if unknown.is_empty() {
        Severity::Medium
    } else {
        Severity::High
    };
    let mut clients: HashMap<&str, usize> = HashMap::new();
    for &i in &hits {
        *clients
            .entry(legacy_client(ctx.ev(i)).unwrap_or_default())
            .or_default() += 1;
    }
    let clients: BTreeMap<&str, usize> = clients.into_iter().collect();
    let mut d = Draft::new(
        rules::LEGACY_AUTH,
        sev,
        format!("Legacy authentication for {user}"),
    )
    .tech(&[tech::VALID_CLOUD])
    .user(user)
    .cite(ctx, hits.iter().copied())
    .fact("attempts", hits.len())
    .fact("successes", succ.len())
    .fact(
        "clients",
        serde_json::to_value(&clients).unwrap_or_default(),
    );
    d.suspect_ips = unknown.clone();
    let list = clients.iter().map(|(c, n)| format!("{c} ×{n}"));
    let list = crate::analysis::prose::capped(list, ", ");
    Some(d.why(format!(
        "{} legacy-protocol sign-in attempt(s) for {user} ({list}), {} successful. Legacy authentication cannot do MFA, so a password alone opens the mailbox (RB-0003 step 6).{}",
        hits.len(),
        succ.len(),
        if unknown.is_empty() { String::new() } else { format!(" Successful from networks outside the user's baseline: {}.", crate::analysis::prose::capped(&unknown, ", ")) }
    )))
}

#[derive(Default)]
struct IpStats {
    failed: BTreeMap<String, Vec<usize>>,
    successes: u64,
    success_idx: Vec<usize>,
    attempts: u64,
}

fn password_spray(ctx: &Ctx) -> Vec<Draft> {
    let mut by_ip: HashMap<&str, IpStats> = HashMap::new();
    for (user, idx) in &ctx.signins {
        for &i in idx {
            let e = ctx.ev(i);
            let Some(ip) = ip_of(e) else { continue };
            let s = by_ip.entry(ip).or_default();
            s.attempts += 1;
            if is_password_failure(e) {
                s.failed.entry(user.clone()).or_default().push(i);
            } else if ok(e) {
                s.successes += 1;
                s.success_idx.push(i);
            }
        }
    }
    let mut ips: Vec<&str> = by_ip.keys().copied().collect();
    ips.sort_unstable();
    let mut out = Vec::new();
    for ip in ips {
        let s = &by_ip[ip];
        if s.failed.len() < ctx.th.spray_min_users || ctx.known_net(ip).is_some() {
            continue;
        }
        let sprayed: BTreeMap<&String, &Vec<usize>> = s
            .failed
            .iter()
            .filter(|(u, v)| {
                v.len() <= ctx.th.spray_max_failures_per_user && !ctx.ip_in_baseline(u, ip)
            })
            .collect();
        let failures: u64 = s.failed.values().map(|v| v.len() as u64).sum();
        let share = failures as f64 / s.attempts.max(1) as f64;
        if sprayed.len() < ctx.th.spray_min_users || share < SPRAY_MIN_FAILURE_SHARE {
            continue;
        }
        let hit: Vec<usize> = s
            .success_idx
            .iter()
            .copied()
            .filter(|&i| {
                super::detect::user_of(ctx.ev(i)).is_some_and(|u| sprayed.contains_key(&u))
            })
            .collect();
        let sev = if hit.is_empty() {
            Severity::Medium
        } else {
            Severity::High
        };
        let mut d = Draft::new(
            rules::PASSWORD_SPRAY,
            sev,
            format!("Password spray from {ip}"),
        )
        .tech(&[tech::PASSWORD_SPRAYING])
        .cite(
            ctx,
            sprayed
                .values()
                .flat_map(|v| v.iter().copied())
                .chain(hit.iter().copied()),
        )
        .fact("ip", ip)
        .fact("users_targeted", sprayed.len())
        .fact("failures", failures)
        .fact("attempts", s.attempts)
        .fact("failure_share", (share * 100.0).round() / 100.0)
        .fact("successful_users", hit.len());
        d.users = sprayed.keys().map(|u| u.to_string()).collect();
        d.suspect_ips.insert(ip.to_string());
        let hit_users: BTreeSet<String> = hit
            .iter()
            .filter_map(|&i| super::detect::user_of(ctx.ev(i)))
            .collect();
        out.push(d.why(format!(
            "{ip} failed to sign in as {} different users (each ≤ {} failures, none of whom uses this network in their baseline); {:.0}% of its {} attempts failed.{}",
            sprayed.len(),
            ctx.th.spray_max_failures_per_user,
            share * 100.0,
            s.attempts,
            if hit_users.is_empty() { " No targeted user signed in successfully from it.".to_string() } else { format!(" It then signed in successfully as: {}.", crate::analysis::prose::capped(hit_users, ", ")) }
        )));
    }
    out
}
