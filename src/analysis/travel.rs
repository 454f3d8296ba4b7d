//! Impossible travel between a user's consecutive successful sign-ins (interactive and
//! non-interactive both count; the finding says which). The distance is the great-circle
//! distance less `geo_error_km` (IP geolocation error) less each side's extra uncertainty
//! (a country-only position is uncertain by the country's radius); the speed is that over the
//! time between the sign-ins (at least one minute). Hops touching a corporate egress or VPN
//! range, or landing in a country the case file's travel records explain, are reported as
//! Info; hops between two networks both in the user's baseline are Low (VPN or carrier
//! geolocation flapping more often than a second party).

use super::detect::{fmt_time, interactive_label, ip_of, ok, tech, Ctx, Draft};
use super::geo::{distance_km, Place, Precision};
use super::geoip::GeoDbInfo;
use super::{rules, Severity};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};

struct Hop {
    a: usize,
    b: usize,
    pa: Place,
    pb: Place,
    km: f64,
    effective_km: f64,
    hours: f64,
    speed: f64,
    explained: Option<String>,
    known_both: bool,
}

pub(crate) fn detect(ctx: &Ctx) -> Vec<Draft> {
    let mut out = Vec::new();
    for (user, idx) in &ctx.signins {
        let located: Vec<(usize, Place)> = idx
            .iter()
            .copied()
            .filter(|&i| ok(ctx.ev(i)))
            .filter_map(|i| ctx.loc.place(ctx.ev(i)).map(|p| (i, p)))
            .collect();
        let mut groups: BTreeMap<(String, String), Vec<Hop>> = BTreeMap::new();
        for w in located.windows(2) {
            let ((a, pa), (b, pb)) = (&w[0], &w[1]);
            if let Some(h) = hop(ctx, user, *a, pa, *b, pb) {
                let (x, y) = (h.pa.label.clone(), h.pb.label.clone());
                let key = if x <= y { (x, y) } else { (y, x) };
                groups.entry(key).or_default().push(h);
            }
        }
        for ((x, y), hops) in groups {
            out.push(draft(ctx, user, &x, &y, &hops));
        }
    }
    out
}

fn hop(ctx: &Ctx, user: &str, a: usize, pa: &Place, b: usize, pb: &Place) -> Option<Hop> {
    let (ea, eb) = (ctx.ev(a), ctx.ev(b));
    let km = distance_km(pa.lat, pa.lon, pb.lat, pb.lon);
    let effective_km = km - ctx.th.geo_error_km.max(0.0) - pa.uncertainty_km - pb.uncertainty_km;
    if effective_km <= 0.0 {
        return None;
    }
    let secs = (eb.time - ea.time).num_seconds().max(60) as f64;
    let hours = secs / 3600.0;
    let speed = effective_km / hours;
    if speed <= ctx.th.travel_speed_kmh {
        return None;
    }
    let mut explained = None;
    for e in [ea, eb] {
        if let Some(k) = ip_of(e).and_then(|ip| ctx.known_net(ip)) {
            explained = Some(format!(
                "{} is in {} {}",
                ip_of(e).unwrap_or_default(),
                k.kind,
                k.text
            ));
        }
    }
    if explained.is_none() {
        for (e, p) in [(ea, pa), (eb, pb)] {
            if let Some(c) = p.country.as_deref() {
                if let Some(t) = ctx.travel_record(user, c, e.time) {
                    explained = Some(format!(
                        "travel record: {} in {} from {} to {}",
                        t.user,
                        t.country,
                        fmt_time(t.from),
                        fmt_time(t.to)
                    ));
                }
            }
        }
    }
    let known_both = [ea, eb]
        .iter()
        .all(|e| ip_of(e).is_some_and(|ip| ctx.has_baseline(user) && ctx.ip_in_baseline(user, ip)));
    Some(Hop {
        a,
        b,
        pa: pa.clone(),
        pb: pb.clone(),
        km,
        effective_km,
        hours,
        speed,
        explained,
        known_both,
    })
}

fn draft(ctx: &Ctx, user: &str, x: &str, y: &str, hops: &[Hop]) -> Draft {
    let worst = hops
        .iter()
        .max_by(|p, q| p.speed.total_cmp(&q.speed))
        .expect("a group has hops");
    let unexplained: Vec<&Hop> = hops.iter().filter(|h| h.explained.is_none()).collect();
    let severity = if unexplained.is_empty() {
        Severity::Info
    } else if unexplained.iter().all(|h| h.known_both) {
        Severity::Low
    } else {
        Severity::High
    };
    let (ea, eb) = (ctx.ev(worst.a), ctx.ev(worst.b));
    let kinds: BTreeSet<&str> = hops
        .iter()
        .flat_map(|h| {
            [
                interactive_label(ctx.ev(h.a)),
                interactive_label(ctx.ev(h.b)),
            ]
        })
        .collect();
    let title = match severity {
        Severity::Info => format!("Explained fast travel {x} ↔ {y} for {user}"),
        _ => format!("Impossible travel {x} ↔ {y} for {user}"),
    };
    let mut d = Draft::new(rules::IMPOSSIBLE_TRAVEL, severity, title)
        .tech(&[tech::VALID_CLOUD])
        .user(user)
        .cite(ctx, hops.iter().flat_map(|h| [h.a, h.b]))
        .fact("hops", hops.len())
        .fact("unexplained_hops", unexplained.len())
        .fact("sign_in_kinds", kinds.iter().copied().collect::<Vec<_>>())
        .fact("speed_threshold_kmh", ctx.th.travel_speed_kmh)
        .fact("geo_error_km", ctx.th.geo_error_km)
        .fact(
            "worst",
            json!({
                "from": worst.pa.label, "to": worst.pb.label,
                "from_ip": ip_of(ea), "to_ip": ip_of(eb),
                "from_time": fmt_time(ea.time), "to_time": fmt_time(eb.time),
                "from_kind": interactive_label(ea), "to_kind": interactive_label(eb),
                "from_position": worst.pa.precision.as_str(), "to_position": worst.pb.precision.as_str(),
                "distance_km": worst.km.round(), "effective_km": worst.effective_km.round(),
                "hours": (worst.hours * 100.0).round() / 100.0, "speed_kmh": worst.speed.round(),
            }),
        );
    let db_used = hops
        .iter()
        .any(|h| h.pa.precision.from_database() || h.pb.precision.from_database());
    let db = ctx.loc.city_database().filter(|_| db_used);
    if let Some(db) = db {
        d = d.fact("geo_database", database_fact(db));
    }
    let explanations: BTreeSet<&str> = hops.iter().filter_map(|h| h.explained.as_deref()).collect();
    if !explanations.is_empty() {
        d = d.fact(
            "explained_by",
            explanations.iter().copied().collect::<Vec<_>>(),
        );
    }
    for h in &unexplained {
        for i in [h.a, h.b] {
            if let Some(ip) = ip_of(ctx.ev(i)) {
                if ctx.known_net(ip).is_none()
                    && !(ctx.has_baseline(user) && ctx.ip_in_baseline(user, ip))
                {
                    d.suspect_ips.insert(ip.to_string());
                }
            }
        }
    }
    let mut why = format!(
        "{user} signed in successfully from {} ({}, {}, {}) at {} and from {} ({}, {}, {}) at {}: {:.0} km apart ({:.0} km after subtracting {:.0} km geolocation error{}), {:.2} h apart, {:.0} km/h against a limit of {:.0} km/h.",
        worst.pa.label, ip_of(ea).unwrap_or("no IP"), interactive_label(ea), worst.pa.precision.as_str(), fmt_time(ea.time),
        worst.pb.label, ip_of(eb).unwrap_or("no IP"), interactive_label(eb), worst.pb.precision.as_str(), fmt_time(eb.time),
        worst.km, worst.effective_km, ctx.th.geo_error_km,
        uncertainty_text(&worst.pa, &worst.pb),
        worst.hours, worst.speed, ctx.th.travel_speed_kmh
    );
    if let Some(db) = db {
        why.push_str(&format!(
            " Positions marked \"{}\" are the MaxMind database's for the source IP ({}), used because the log gave no coordinates or known city; where the log names a city or coordinates, the log wins.",
            Precision::Database.as_str(),
            database_label(db)
        ));
    }
    if hops.len() > 1 {
        why.push_str(&format!(
            " {} such hops between these places in the window ({} unexplained).",
            hops.len(),
            unexplained.len()
        ));
    }
    match severity {
        Severity::Info => why.push_str(&format!(" Explained: {}.", explanations.iter().copied().collect::<Vec<_>>().join("; "))),
        Severity::Low => why.push_str(" Both networks are in the user's baseline, so VPN or mobile-carrier geolocation is the likelier cause."),
        _ => {}
    }
    d.why(why)
}

/// What the extra uncertainty subtracted from the distance was made of.
fn uncertainty_text(pa: &Place, pb: &Place) -> String {
    let total = pa.uncertainty_km + pb.uncertainty_km;
    if total <= 0.0 {
        return String::new();
    }
    if !pa.precision.from_database() && !pb.precision.from_database() {
        // Wording kept from before database positions existed (golden reports hold it).
        return format!(" and {total:.0} km for country-only positions");
    }
    let parts: Vec<String> = [pa, pb]
        .into_iter()
        .filter(|p| p.uncertainty_km > 0.0)
        .map(|p| {
            let what = match p.precision {
                Precision::Database => "MaxMind accuracy radius",
                _ => "country radius",
            };
            format!("{:.0} km {what} for {}", p.uncertainty_km, p.label)
        })
        .collect();
    format!(
        " and {total:.0} km position uncertainty: {}",
        parts.join("; ")
    )
}

/// The database as a finding fact: enough to obtain the same release again.
pub(crate) fn database_fact(db: &GeoDbInfo) -> serde_json::Value {
    json!({
        "database_type": db.database_type,
        "build_time": db.build_time,
        "sha256": db.sha256,
    })
}

/// `GeoLite2-City built 2024-05-01T00:00:00Z, sha256 0123456789ab…`
pub(crate) fn database_label(db: &GeoDbInfo) -> String {
    format!(
        "{} built {}, sha256 {}",
        db.database_type,
        db.build_time
            .clone()
            .unwrap_or_else(|| format!("at epoch {}", db.build_epoch)),
        db.sha256.get(..12).unwrap_or(&db.sha256)
    )
}
