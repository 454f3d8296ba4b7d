//! Detections: positive and negative cases per rule, plus the calibration background (200
//! benign users over 30 days must yield no High or Critical finding).

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use irpack::analysis::detect::analyze;
use irpack::analysis::geo::{distance_km, fold, gazetteer, Precision};
use irpack::analysis::{rules, Analysis, Finding, Severity};
use irpack::case::{Alert, CaseFile, Travel};
use irpack::event::{
    actions, Device, Event, EventClass, Geo, Mfa, ModifiedProperty, Outcome, Provenance, Target,
};
use serde_json::{json, Value};
use std::sync::Arc;

// ------------------------------------------------------------------------------------------
// Builders

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn base(
    time: DateTime<Utc>,
    source: &str,
    class: EventClass,
    action: &str,
    outcome: Outcome,
) -> Event {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let prov = Provenance {
        evidence_sha256: "00".repeat(32).into(),
        evidence_path: "data/evidence/x".into(),
        record_no: n,
        line: n,
        ..Provenance::default()
    };
    Event::new(
        time,
        time.to_rfc3339(),
        "UTC",
        source,
        "test",
        class,
        action,
        action,
        outcome,
        prov,
    )
}

struct E(Event);

impl E {
    fn signin(time: DateTime<Utc>, user: &str, ip: &str, outcome: Outcome) -> E {
        let mut e = base(
            time,
            "entra_signin",
            EventClass::Authentication,
            actions::SIGN_IN,
            outcome,
        );
        e.user = Some(user.into());
        e.src_ip = Some(ip.into());
        e.descr_mut().client_app = Some("Browser".into());
        e.extra.insert("is_interactive", json!(true));
        E(e)
    }
    fn ok(time: DateTime<Utc>, user: &str, ip: &str) -> E {
        E::signin(time, user, ip, Outcome::Success).mfa(true)
    }
    fn fail(time: DateTime<Utc>, user: &str, ip: &str) -> E {
        E::signin(time, user, ip, Outcome::Failure).reason("50126: Invalid username or password")
    }
    fn audit(time: DateTime<Utc>, source: &str, action: &str, actor: Option<&str>) -> E {
        let mut e = base(
            time,
            source,
            EventClass::AccountChange,
            action,
            Outcome::Success,
        );
        e.user = actor.map(Into::into);
        E(e)
    }
    fn at(mut self, city: &str, cc: &str, lat: f64, lon: f64) -> E {
        self.0.geo = Some(Arc::new(Geo {
            city: Some(city.into()),
            country: Some(cc.into()),
            lat: Some(lat),
            lon: Some(lon),
            ..Geo::default()
        }));
        self
    }
    fn geo(mut self, g: Geo) -> E {
        self.0.geo = Some(Arc::new(g));
        self
    }
    fn berlin(self) -> E {
        self.at("Berlin", "DE", 52.52, 13.40)
    }
    fn lagos(self) -> E {
        self.at("Lagos", "NG", 6.45, 3.39)
    }
    fn mfa(mut self, multi: bool) -> E {
        self.0.mfa = Some(Arc::new(Mfa {
            requirement: Some(
                if multi {
                    "multiFactorAuthentication"
                } else {
                    "singleFactorAuthentication"
                }
                .into(),
            ),
            satisfied: Some(multi),
            ..Mfa::default()
        }));
        self
    }
    fn reason(mut self, r: &str) -> E {
        self.0.reason = Some(r.into());
        self
    }
    fn noninteractive(mut self) -> E {
        self.0.extra.insert("is_interactive", json!(false));
        self
    }
    fn client(mut self, c: &str) -> E {
        self.0.descr_mut().client_app = Some(c.into());
        self
    }
    fn ua(mut self, s: &str) -> E {
        self.0.descr_mut().user_agent = Some(s.into());
        self
    }
    fn device(mut self, os: &str, browser: &str) -> E {
        self.0.device = Some(Arc::new(Device {
            os: Some(os.into()),
            browser: Some(browser.into()),
            ..Device::default()
        }));
        self
    }
    fn asn(mut self, a: u32) -> E {
        Arc::make_mut(self.0.geo.get_or_insert_with(Default::default)).asn = Some(a);
        self
    }
    fn ip(mut self, ip: &str) -> E {
        self.0.src_ip = Some(ip.into());
        self
    }
    fn extra(mut self, k: &str, v: Value) -> E {
        self.0.extra.insert(k, v);
        self
    }
    fn target(mut self, kind: &str, name: &str) -> E {
        self.0.targets.push(Target {
            kind: Some(kind.into()),
            name: Some(name.into()),
            ..Target::default()
        });
        self
    }
    fn modified(mut self, name: &str, new: &str) -> E {
        if self.0.targets.is_empty() {
            self.0.targets.push(Target::default());
        }
        self.0
            .targets
            .last_mut()
            .unwrap()
            .modified
            .push(ModifiedProperty {
                name: name.into(),
                old: None,
                new: Some(new.into()),
            });
        self
    }
    fn op(mut self, o: &str) -> E {
        self.0.descr_mut().operation = o.into();
        self
    }
    fn e(self) -> Event {
        self.0
    }
}

/// A case whose window is 2024-05-20 .. 2024-05-27 (baseline from 2024-04-20).
fn case() -> CaseFile {
    let mut c = CaseFile::minimal("IR-T");
    c.alert = Some(Alert {
        window_start: Some(t("2024-05-20T00:00:00Z")),
        window_end: Some(t("2024-05-27T00:00:00Z")),
        ..Alert::default()
    });
    c
}

/// 20 days of office sign-ins from Berlin (MFA, Windows/Chrome) before the window.
fn history(ev: &mut Vec<Event>, user: &str, ip: &str) {
    for d in 1..=20 {
        let when = t("2024-05-20T09:00:00Z") - Duration::days(d);
        ev.push(
            E::ok(when, user, ip)
                .berlin()
                .asn(3320)
                .device("Windows 10", "Chrome 124.0.0")
                .ua(CHROME)
                .e(),
        );
    }
}

const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";
const OFFICE: &str = "198.51.100.10";

fn run(ev: &[Event], c: &CaseFile) -> Analysis {
    let a = analyze(ev, c);
    assert_eq!(
        analyze(&common::trimmed(ev), c),
        a,
        "trimming the events for the analysis changed its findings"
    );
    a
}

fn by_rule<'a>(a: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

fn one<'a>(a: &'a Analysis, rule: &str) -> &'a Finding {
    let v = by_rule(a, rule);
    assert_eq!(v.len(), 1, "expected one {rule}, got {:#?}", a.findings);
    v[0]
}

fn none(a: &Analysis, rule: &str) {
    let v = by_rule(a, rule);
    assert!(v.is_empty(), "expected no {rule}, got {v:#?}");
}

// ------------------------------------------------------------------------------------------
// Window

#[test]
fn window_from_alert_explicit_time_and_derived() {
    let ev = vec![
        E::ok(t("2024-06-01T00:00:00Z"), "a@x.com", OFFICE).e(),
        E::ok(t("2024-06-30T00:00:00Z"), "a@x.com", OFFICE).e(),
    ];
    let a = run(&ev, &case());
    assert_eq!(a.window_start, Some(t("2024-05-20T00:00:00Z")));
    assert_eq!(a.window_end, Some(t("2024-05-27T00:00:00Z")));

    let mut c = CaseFile::minimal("IR");
    c.alert = Some(Alert {
        time: Some(t("2024-06-10T12:00:00Z")),
        ..Alert::default()
    });
    let a = run(&ev, &c);
    assert_eq!(a.window_start, Some(t("2024-06-03T12:00:00Z")));
    assert_eq!(a.window_end, Some(t("2024-06-17T12:00:00Z")));

    let a = run(&ev, &CaseFile::minimal("IR"));
    assert_eq!(a.window_end, Some(t("2024-06-30T00:00:00Z")));
    assert_eq!(a.window_start, Some(t("2024-06-23T00:00:00Z")));

    let a = run(&[], &CaseFile::minimal("IR"));
    assert_eq!(a.window_start, None);
    assert!(a.findings.is_empty());
}

#[test]
fn coverage_per_source() {
    let mut ev = vec![
        E::ok(t("2024-05-21T00:00:00Z"), "a@x.com", OFFICE).e(),
        E::ok(t("2024-05-22T00:00:00Z"), "a@x.com", OFFICE).e(),
    ];
    ev.push(
        E::audit(
            t("2024-05-23T00:00:00Z"),
            "m365_ual",
            actions::FILE_ACCESSED,
            Some("a@x.com"),
        )
        .e(),
    );
    let a = run(&ev, &case());
    assert_eq!(a.coverage.len(), 2);
    assert_eq!(a.coverage[0].source, "entra_signin");
    assert_eq!(a.coverage[0].events, 2);
    assert_eq!(a.coverage[0].first, Some(t("2024-05-21T00:00:00Z")));
    assert_eq!(a.coverage[1].source, "m365_ual");
}

// ------------------------------------------------------------------------------------------
// Geo

#[test]
fn gazetteer_covers_all_countries_and_cities() {
    let g = gazetteer();
    assert!(g.country_count() >= 249, "{}", g.country_count());
    assert!(g.city_count() > 30_000);
    assert_eq!(g.country_code("Germany").as_deref(), Some("DE"));
    assert_eq!(g.country_code("de").as_deref(), Some("DE"));
    assert_eq!(
        g.country_code("United States of America").as_deref(),
        Some("US")
    );
    assert_eq!(g.country_code("Atlantis"), None);
    for cc in [
        "AD", "AQ", "BV", "HM", "UM", "XK", "VA", "TV", "ZW", "SS", "BQ", "CW", "SX",
    ] {
        assert!(g.country_name(cc).is_some(), "{cc}");
    }
    let p = g.locate(&Geo {
        city: Some("München".into()),
        country: Some("DE".into()),
        ..Geo::default()
    });
    assert!(p.is_none() || p.as_ref().unwrap().precision != Precision::Coordinates);
    let p = g
        .locate(&Geo {
            city: Some("Munich".into()),
            state: Some("Bavaria".into()),
            country: Some("DE".into()),
            ..Geo::default()
        })
        .unwrap();
    assert_eq!(p.precision, Precision::City);
    assert!(
        (p.lat - 48.14).abs() < 0.1 && (p.lon - 11.58).abs() < 0.1,
        "{p:?}"
    );
    let il = g
        .locate(&Geo {
            city: Some("Springfield".into()),
            state: Some("Illinois".into()),
            country: Some("US".into()),
            ..Geo::default()
        })
        .unwrap();
    let mo = g
        .locate(&Geo {
            city: Some("Springfield".into()),
            state: Some("Missouri".into()),
            country: Some("US".into()),
            ..Geo::default()
        })
        .unwrap();
    assert!(distance_km(il.lat, il.lon, mo.lat, mo.lon) > 200.0);
    let sp = g
        .locate(&Geo {
            city: Some("Sao Paulo".into()),
            country: Some("Brazil".into()),
            ..Geo::default()
        })
        .unwrap();
    assert_eq!(sp.precision, Precision::City);
    let c = g
        .locate(&Geo {
            country: Some("FR".into()),
            ..Geo::default()
        })
        .unwrap();
    assert_eq!(c.precision, Precision::Country);
    assert!(c.uncertainty_km > 50.0);
    let x = g
        .locate(&Geo {
            lat: Some(10.0),
            lon: Some(20.0),
            ..Geo::default()
        })
        .unwrap();
    assert_eq!(x.precision, Precision::Coordinates);
    // 0,0 and out-of-range are "no position".
    assert!(g
        .locate(&Geo {
            lat: Some(0.0),
            lon: Some(0.0),
            ..Geo::default()
        })
        .is_none());
    assert!(g
        .locate(&Geo {
            lat: Some(f64::NAN),
            lon: Some(1.0),
            ..Geo::default()
        })
        .is_none());
    assert!(g.locate(&Geo::default()).is_none());
    assert_eq!(fold("São Paulo"), "sao paulo");
    assert_eq!(fold("Frankfurt am Main"), "frankfurt am main");
    let d = distance_km(52.52, 13.40, 48.86, 2.35);
    assert!((d - 878.0).abs() < 10.0, "{d}");
}

// ------------------------------------------------------------------------------------------
// Travel

#[test]
fn impossible_travel_flagged_with_kinds() {
    let u = "alice@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::ok(t("2024-05-21T10:00:00Z"), u, OFFICE).berlin().e());
    ev.push(
        E::ok(t("2024-05-21T11:00:00Z"), u, "102.89.1.1")
            .lagos()
            .noninteractive()
            .e(),
    );
    let a = run(&ev, &case());
    let f = one(&a, rules::IMPOSSIBLE_TRAVEL);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.users, vec![u]);
    assert!(f.ips.contains(&"102.89.1.1".to_string()));
    let w = &f.facts["worst"];
    assert!(w["speed_kmh"].as_f64().unwrap() > 900.0);
    assert_eq!(w["to_kind"], "non-interactive");
    assert!(f.rationale.contains("non-interactive"));
    assert_eq!(f.evidence.len(), 2);
    assert_eq!(f.techniques[0].id, "T1078.004");
}

#[test]
fn plausible_travel_not_flagged() {
    let u = "alice@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::ok(t("2024-05-21T08:00:00Z"), u, OFFICE).berlin().e());
    // Berlin → Munich (~500 km) in 2 h by plane: below 900 km/h.
    ev.push(
        E::ok(t("2024-05-21T10:00:00Z"), u, "84.1.1.1")
            .at("Munich", "DE", 48.14, 11.58)
            .e(),
    );
    // Country-only positions DE → AT an hour later: the countries' radii absorb it.
    ev.push(
        E::ok(t("2024-05-21T11:00:00Z"), u, "84.1.1.2")
            .geo(Geo {
                country: Some("AT".into()),
                ..Geo::default()
            })
            .e(),
    );
    let a = run(&ev, &case());
    none(&a, rules::IMPOSSIBLE_TRAVEL);
}

#[test]
fn travel_explained_by_vpn_or_travel_record() {
    let u = "alice@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::ok(t("2024-05-21T10:00:00Z"), u, OFFICE).berlin().e());
    ev.push(
        E::ok(t("2024-05-21T11:00:00Z"), u, "102.89.1.1")
            .lagos()
            .e(),
    );
    let mut c = case();
    c.network.vpn_ranges = vec!["102.89.0.0/16".into()];
    let a = run(&ev, &c);
    let f = one(&a, rules::IMPOSSIBLE_TRAVEL);
    assert_eq!(f.severity, Severity::Info);
    assert!(f.rationale.contains("VPN range"), "{}", f.rationale);

    let mut c = case();
    c.travel = vec![Travel {
        user: "Alice@x.com".into(),
        country: "Nigeria".into(),
        from: t("2024-05-20T00:00:00Z"),
        to: t("2024-05-25T00:00:00Z"),
        note: Some("conference".into()),
    }];
    let a = run(&ev, &c);
    assert_eq!(one(&a, rules::IMPOSSIBLE_TRAVEL).severity, Severity::Info);
    // The travel record also explains the new country.
    assert_eq!(one(&a, rules::NEW_COUNTRY).severity, Severity::Info);
    assert!(
        a.findings.iter().all(|f| f.severity < Severity::High),
        "{:#?}",
        a.findings
    );
}

#[test]
fn travel_between_two_baseline_networks_is_low() {
    let u = "alice@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    for d in 1..=10 {
        ev.push(
            E::ok(
                t("2024-05-20T20:00:00Z") - Duration::days(d),
                u,
                "102.89.1.1",
            )
            .lagos()
            .e(),
        );
    }
    ev.push(E::ok(t("2024-05-21T10:00:00Z"), u, OFFICE).berlin().e());
    ev.push(
        E::ok(t("2024-05-21T11:00:00Z"), u, "102.89.1.1")
            .lagos()
            .e(),
    );
    let a = run(&ev, &case());
    assert_eq!(one(&a, rules::IMPOSSIBLE_TRAVEL).severity, Severity::Low);
}

// ------------------------------------------------------------------------------------------
// Authentication

#[test]
fn failures_then_success() {
    let u = "bob@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    for m in 0..6 {
        ev.push(
            E::fail(
                t("2024-05-21T10:00:00Z") + Duration::minutes(m * 5),
                u,
                "45.1.1.1",
            )
            .e(),
        );
    }
    ev.push(E::ok(t("2024-05-21T10:40:00Z"), u, "45.1.1.1").e());
    let a = run(&ev, &case());
    let f = one(&a, rules::FAILURES_THEN_SUCCESS);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.facts["max_failures_before_success"], 6);
    assert_eq!(f.evidence.len(), 7);

    // Two failures, or failures two hours before: nothing.
    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    ev2.push(E::fail(t("2024-05-21T10:00:00Z"), u, OFFICE).e());
    ev2.push(E::fail(t("2024-05-21T10:01:00Z"), u, OFFICE).e());
    ev2.push(E::ok(t("2024-05-21T10:02:00Z"), u, OFFICE).e());
    for m in 0..6 {
        ev2.push(E::fail(t("2024-05-22T08:00:00Z") + Duration::minutes(m), u, OFFICE).e());
    }
    ev2.push(E::ok(t("2024-05-22T10:30:00Z"), u, OFFICE).e());
    none(&run(&ev2, &case()), rules::FAILURES_THEN_SUCCESS);

    // Failures from the user's own office: Medium.
    let mut ev3 = Vec::new();
    history(&mut ev3, u, OFFICE);
    for m in 0..5 {
        ev3.push(E::fail(t("2024-05-21T10:00:00Z") + Duration::minutes(m), u, OFFICE).e());
    }
    ev3.push(E::ok(t("2024-05-21T10:10:00Z"), u, OFFICE).e());
    assert_eq!(
        one(&run(&ev3, &case()), rules::FAILURES_THEN_SUCCESS).severity,
        Severity::Medium
    );
}

#[test]
fn password_spray_from_one_ip() {
    let mut ev = Vec::new();
    let users: Vec<String> = (0..6).map(|i| format!("u{i}@x.com")).collect();
    for u in &users {
        history(&mut ev, u, OFFICE);
        ev.push(E::fail(t("2024-05-21T03:00:00Z"), u, "185.1.1.1").e());
    }
    let a = run(&ev, &case());
    let f = one(&a, rules::PASSWORD_SPRAY);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.users.len(), 6);
    assert_eq!(f.facts["users_targeted"], 6);

    ev.push(E::ok(t("2024-05-21T03:30:00Z"), &users[2], "185.1.1.1").e());
    let a = run(&ev, &case());
    let f = one(&a, rules::PASSWORD_SPRAY);
    assert_eq!(f.severity, Severity::High);
    assert!(f.rationale.contains("u2@x.com"));
}

#[test]
fn office_nat_with_scattered_failures_is_not_spray() {
    let mut ev = Vec::new();
    for i in 0..8 {
        let u = format!("u{i}@x.com");
        history(&mut ev, &u, OFFICE);
        ev.push(E::fail(t("2024-05-21T09:00:00Z"), &u, OFFICE).e());
        ev.push(E::ok(t("2024-05-21T09:01:00Z"), &u, OFFICE).e());
    }
    none(&run(&ev, &case()), rules::PASSWORD_SPRAY);
    // Also not when the case lists the office as corporate egress and there is no baseline.
    let mut c = case();
    c.network.corporate_egress = vec!["198.51.100.0/24".into()];
    let ev: Vec<Event> = (0..8)
        .map(|i| E::fail(t("2024-05-21T09:00:00Z"), &format!("u{i}@x.com"), OFFICE).e())
        .collect();
    none(&run(&ev, &c), rules::PASSWORD_SPRAY);
}

#[test]
fn brute_force_levels() {
    let u = "carol@x.com";
    let mk = |ip: &str, n: i64| {
        let mut ev = Vec::new();
        history(&mut ev, u, OFFICE);
        for m in 0..n {
            ev.push(E::fail(t("2024-05-21T01:00:00Z") + Duration::minutes(m * 7), u, ip).e());
        }
        ev
    };
    let a = run(&mk("45.9.9.9", 25), &case());
    let f = one(&a, rules::BRUTE_FORCE);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.facts["failures"], 25);
    let mut ev = mk("45.9.9.9", 25);
    ev.push(E::ok(t("2024-05-21T06:00:00Z"), u, "45.9.9.9").e());
    assert_eq!(
        one(&run(&ev, &case()), rules::BRUTE_FORCE).severity,
        Severity::High
    );
    // A device with a stale password at the office.
    assert_eq!(
        one(&run(&mk(OFFICE, 25), &case()), rules::BRUTE_FORCE).severity,
        Severity::Low
    );
    none(&run(&mk("45.9.9.9", 10), &case()), rules::BRUTE_FORCE);
}

#[test]
fn mfa_fatigue_burst_then_success() {
    let u = "dave@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    for m in 0..4 {
        let at = t("2024-05-21T22:00:00Z") + Duration::minutes(m * 4);
        ev.push(
            E::signin(at, u, "45.2.2.2", Outcome::Interrupted)
                .reason("50074: Strong Authentication is required.")
                .e(),
        );
        ev.push(
            E::signin(at + Duration::minutes(1), u, "45.2.2.2", Outcome::Failure)
                .reason("500121: Authentication failed during strong authentication request.")
                .e(),
        );
    }
    ev.push(E::ok(t("2024-05-21T22:20:00Z"), u, "45.2.2.2").e());
    let a = run(&ev, &case());
    let f = one(&a, rules::MFA_FATIGUE);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.facts["denials"], 4);
    assert_eq!(f.techniques[0].id, "T1621");
    // The denials are not password failures.
    none(&a, rules::FAILURES_THEN_SUCCESS);

    // Without the success: Medium.
    ev.pop();
    assert_eq!(
        one(&run(&ev, &case()), rules::MFA_FATIGUE).severity,
        Severity::Medium
    );
}

#[test]
fn normal_mfa_prompts_are_not_fatigue() {
    let u = "dave@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    for m in 0..6 {
        let at = t("2024-05-21T09:00:00Z") + Duration::minutes(m * 8);
        ev.push(
            E::signin(at, u, OFFICE, Outcome::Interrupted)
                .reason("50074: Strong Authentication is required.")
                .e(),
        );
        ev.push(E::ok(at + Duration::minutes(1), u, OFFICE).e());
    }
    ev.push(
        E::signin(t("2024-05-21T12:00:00Z"), u, OFFICE, Outcome::Failure)
            .reason("500121: Authentication failed during strong authentication request.")
            .e(),
    );
    none(&run(&ev, &case()), rules::MFA_FATIGUE);
}

#[test]
fn single_factor_from_unknown_ip() {
    let u = "erin@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::ok(t("2024-05-21T09:00:00Z"), u, OFFICE).mfa(false).e()); // known network
    let a = run(&ev, &case());
    none(&a, rules::SINGLE_FACTOR_UNKNOWN_IP);

    ev.push(
        E::ok(t("2024-05-21T10:00:00Z"), u, "91.5.5.5")
            .berlin()
            .mfa(false)
            .e(),
    );
    let a = run(&ev, &case());
    let f = one(&a, rules::SINGLE_FACTOR_UNKNOWN_IP);
    assert_eq!(f.severity, Severity::Critical);
    assert_eq!(f.ips, vec!["91.5.5.5"]);

    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    ev2.push(
        E::ok(t("2024-05-21T10:00:00Z"), u, "91.5.5.5")
            .berlin()
            .mfa(false)
            .noninteractive()
            .e(),
    );
    assert_eq!(
        one(&run(&ev2, &case()), rules::SINGLE_FACTOR_UNKNOWN_IP).severity,
        Severity::Medium
    );

    // Same network where the user completed MFA in the window: the user's own.
    let mut ev3 = Vec::new();
    history(&mut ev3, u, OFFICE);
    ev3.push(E::ok(t("2024-05-21T09:00:00Z"), u, "91.5.5.4").berlin().e());
    ev3.push(
        E::ok(t("2024-05-21T10:00:00Z"), u, "91.5.5.5")
            .berlin()
            .mfa(false)
            .e(),
    );
    none(&run(&ev3, &case()), rules::SINGLE_FACTOR_UNKNOWN_IP);
}

#[test]
fn legacy_authentication() {
    let u = "frank@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(
        E::fail(t("2024-05-21T10:00:00Z"), u, "45.3.3.3")
            .client("IMAP4")
            .e(),
    );
    let a = run(&ev, &case());
    assert_eq!(one(&a, rules::LEGACY_AUTH).severity, Severity::Low);
    ev.push(
        E::ok(t("2024-05-21T10:05:00Z"), u, OFFICE)
            .mfa(false)
            .client("Authenticated SMTP")
            .e(),
    );
    assert_eq!(
        one(&run(&ev, &case()), rules::LEGACY_AUTH).severity,
        Severity::Medium
    );
    ev.push(
        E::ok(t("2024-05-21T10:06:00Z"), u, "45.3.3.3")
            .mfa(false)
            .client("Exchange ActiveSync")
            .e(),
    );
    let a = run(&ev, &case());
    let f = one(&a, rules::LEGACY_AUTH);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.facts["attempts"], 3);
    // Legacy successes are not double-reported as single-factor.
    none(&a, rules::SINGLE_FACTOR_UNKNOWN_IP);
    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    ev2.push(
        E::ok(t("2024-05-21T10:05:00Z"), u, OFFICE)
            .client("Mobile Apps and Desktop clients")
            .e(),
    );
    none(&run(&ev2, &case()), rules::LEGACY_AUTH);
}

// ------------------------------------------------------------------------------------------
// Baseline

#[test]
fn baseline_new_country_ip_device() {
    let u = "gina@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(
        E::ok(t("2024-05-22T10:00:00Z"), u, "102.89.1.1")
            .lagos()
            .device("Windows 10", "Chrome 125.0")
            .e(),
    );
    ev.push(
        E::ok(t("2024-05-22T20:00:00Z"), u, "91.7.7.7")
            .berlin()
            .asn(6805)
            .device("Windows 10", "Chrome 125.0")
            .e(),
    );
    ev.push(
        E::ok(t("2024-05-23T09:00:00Z"), u, OFFICE)
            .berlin()
            .device("Linux", "Firefox 126.0")
            .e(),
    );
    let a = run(&ev, &case());
    let c = one(&a, rules::NEW_COUNTRY);
    assert_eq!(c.severity, Severity::High);
    assert_eq!(c.facts["country"], "NG");
    let ip = one(&a, rules::NEW_IP);
    assert_eq!(ip.severity, Severity::Medium);
    assert_eq!(ip.facts["prefix"], "91.7.7.0/24");
    let d = one(&a, rules::NEW_DEVICE);
    assert_eq!(d.severity, Severity::Medium);
    assert_eq!(d.facts["device"], "Linux / Firefox");
    none(&a, rules::NO_BASELINE);
    let b = a.baselines.iter().find(|b| b.user == u).unwrap();
    assert!(b.has_baseline);
    assert_eq!(b.countries, vec!["DE"]);
    assert_eq!(b.ip_prefixes, vec!["198.51.100.0/24"]);
    assert_eq!(b.asns, vec![3320]);
    assert_eq!(b.devices, vec!["Windows / Chrome"]);
    assert_eq!(b.sign_ins, 20);
}

#[test]
fn new_ip_same_provider_is_low_and_known_prefix_is_quiet() {
    let u = "gina@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(
        E::ok(t("2024-05-22T20:00:00Z"), u, "91.7.7.7")
            .berlin()
            .asn(3320)
            .e(),
    );
    ev.push(
        E::ok(t("2024-05-22T21:00:00Z"), u, "198.51.100.77")
            .berlin()
            .e(),
    ); // same /24
    let a = run(&ev, &case());
    let f = one(&a, rules::NEW_IP);
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.facts["prefix"], "91.7.7.0/24");
    // IPv6 /48.
    let mut ev = Vec::new();
    for d in 1..=20 {
        ev.push(
            E::ok(
                t("2024-05-20T09:00:00Z") - Duration::days(d),
                u,
                "2001:db8:1:5::1",
            )
            .berlin()
            .e(),
        );
    }
    ev.push(
        E::ok(t("2024-05-22T20:00:00Z"), u, "2001:db8:1:9::2")
            .berlin()
            .e(),
    );
    none(&run(&ev, &case()), rules::NEW_IP);
}

#[test]
fn no_baseline_for_new_account_and_for_missing_period() {
    let mut ev = Vec::new();
    history(&mut ev, "old@x.com", OFFICE);
    ev.push(
        E::ok(t("2024-05-17T09:00:00Z"), "new@x.com", OFFICE)
            .berlin()
            .e(),
    );
    ev.push(
        E::ok(t("2024-05-22T09:00:00Z"), "new@x.com", OFFICE)
            .berlin()
            .e(),
    );
    ev.push(
        E::ok(t("2024-05-22T09:00:00Z"), "old@x.com", OFFICE)
            .berlin()
            .e(),
    );
    let a = run(&ev, &case());
    let f = one(&a, rules::NO_BASELINE);
    assert_eq!(f.users, vec!["new@x.com"]);
    assert_eq!(f.severity, Severity::Low);
    assert_eq!(f.facts["days_of_history"], 2);
    assert!(
        !a.baselines
            .iter()
            .find(|b| b.user == "new@x.com")
            .unwrap()
            .has_baseline
    );

    // Evidence that starts inside the window: one finding for the export, no NEW_* noise.
    let ev: Vec<Event> = (0..5)
        .map(|i| {
            E::ok(
                t("2024-05-21T09:00:00Z"),
                &format!("u{i}@x.com"),
                &format!("45.0.{i}.1"),
            )
            .lagos()
            .e()
        })
        .collect();
    let a = run(&ev, &case());
    let f = one(&a, rules::NO_BASELINE);
    assert_eq!(f.users.len(), 5);
    assert!(f.title.contains("evidence"));
    none(&a, rules::NEW_COUNTRY);
    none(&a, rules::NEW_IP);
}

// ------------------------------------------------------------------------------------------
// Persistence

fn rule_event(at: &str, user: &str, ip: &str, params: Value) -> Event {
    let mut e = E::audit(t(at), "m365_ual", actions::INBOX_RULE_CREATED, Some(user))
        .op("New-InboxRule")
        .extra("parameters", params)
        .e();
    e.src_ip = Some(ip.into());
    e
}

#[test]
fn inbox_rules() {
    let u = "hank@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(rule_event(
        "2024-05-21T10:00:00Z",
        u,
        OFFICE,
        json!({"Name": "Newsletters", "MoveToFolder": "Newsletters", "From": "news@shop.com"}),
    ));
    none(&run(&ev, &case()), rules::INBOX_RULE);

    ev.push(rule_event(
        "2024-05-21T11:00:00Z",
        u,
        OFFICE,
        json!({"Name": "x", "ForwardTo": "SMTP:drop@evil.example", "StopProcessingRules": true}),
    ));
    let a = run(&ev, &case());
    let f = one(&a, rules::INBOX_RULE);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.facts["external_recipients"], json!(["drop@evil.example"]));

    // From a network outside the baseline, in the audit log's [{Name, Value}] form: Critical.
    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    ev2.push(rule_event("2024-05-21T11:00:00Z", u, "45.4.4.4", json!([{"Name": "Name", "Value": ".."}, {"Name": "MoveToFolder", "Value": "RSS Feeds"}, {"Name": "MarkAsRead", "Value": "True"}])));
    ev2.push(rule_event(
        "2024-05-21T11:01:00Z",
        u,
        OFFICE,
        json!({"Name": "cleanup", "DeleteMessage": "True", "SubjectContainsWords": "invoice"}),
    ));
    let a = run(&ev2, &case());
    let v = by_rule(&a, rules::INBOX_RULE);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].severity, Severity::Critical);
    assert!(v[0].rationale.contains("RSS Feeds"));
    assert_eq!(v[1].severity, Severity::High);

    // Client-side rule update without content: Medium, says what to check.
    let mut ev3 = Vec::new();
    history(&mut ev3, u, OFFICE);
    ev3.push(
        E::audit(
            t("2024-05-21T11:00:00Z"),
            "m365_ual",
            actions::CLIENT_RULES_UPDATED,
            Some(u),
        )
        .op("UpdateInboxRules")
        .e(),
    );
    let a3 = run(&ev3, &case());
    let f = one(&a3, rules::INBOX_RULE);
    assert_eq!(f.severity, Severity::Medium);
    assert!(f.rationale.contains("Get-InboxRule"));
}

#[test]
fn rule_object_ids_resolve_to_the_mailbox_owner() {
    let u = "hank@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    let mut e = rule_event(
        "2024-05-21T11:00:00Z",
        "Delegate@X.com",
        OFFICE,
        json!({"Name": "x", "RedirectTo": "a@evil.example"}),
    );
    e.targets.push(Target {
        kind: Some("InboxRule".into()),
        id: Some("Hank@x.com\\x".into()),
        ..Target::default()
    });
    ev.push(e);
    let a = run(&ev, &case());
    let f = one(&a, rules::INBOX_RULE);
    assert_eq!(f.users, vec!["delegate@x.com", u]);
    assert_eq!(f.facts["actor"], "delegate@x.com");
}

#[test]
fn mailbox_forwarding() {
    let u = "ivy@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::audit(t("2024-05-21T10:00:00Z"), "m365_ual", actions::MAILBOX_FORWARDING_SET, Some(u)).op("Set-Mailbox").ip(OFFICE).extra("parameters", json!({"ForwardingSmtpAddress": "smtp:out@evil.example", "DeliverToMailboxAndForward": "True"})).e());
    let a = run(&ev, &case());
    let f = one(&a, rules::MAILBOX_FORWARDING);
    assert_eq!(f.severity, Severity::High);
    assert!(f.rationale.contains("out@evil.example"));
    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    ev2.push(
        E::audit(
            t("2024-05-21T10:00:00Z"),
            "m365_ual",
            actions::MAILBOX_FORWARDING_SET,
            Some(u),
        )
        .op("Set-Mailbox")
        .extra("parameters", json!({"ForwardingSmtpAddress": null}))
        .e(),
    );
    none(&run(&ev2, &case()), rules::MAILBOX_FORWARDING);
}

#[test]
fn mfa_method_registration_severity_follows_origin() {
    let u = "jack@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(
        E::audit(
            t("2024-05-21T10:00:00Z"),
            "entra_audit",
            actions::MFA_METHOD_REGISTERED,
            Some(u),
        )
        .op("User registered security info")
        .ip(OFFICE)
        .target("User", u)
        .e(),
    );
    assert_eq!(
        one(&run(&ev, &case()), rules::MFA_METHOD_REGISTERED).severity,
        Severity::Medium
    );

    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    ev2.push(
        E::ok(t("2024-05-21T09:50:00Z"), u, "102.89.1.1")
            .lagos()
            .e(),
    );
    // The registration event itself has no IP: the sign-in ten minutes earlier makes it anomalous.
    ev2.push(
        E::audit(
            t("2024-05-21T10:00:00Z"),
            "entra_audit",
            actions::MFA_METHOD_REGISTERED,
            Some(u),
        )
        .op("User registered security info")
        .target("User", u)
        .e(),
    );
    let a = run(&ev2, &case());
    let f = one(&a, rules::MFA_METHOD_REGISTERED);
    assert_eq!(f.severity, Severity::High);
    assert!(f.rationale.contains("102.89.1.1"), "{}", f.rationale);
}

#[test]
fn oauth_consent_and_role_added() {
    let u = "kim@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(
        E::audit(
            t("2024-05-21T10:00:00Z"),
            "entra_audit",
            actions::OAUTH_CONSENT,
            Some(u),
        )
        .op("Consent to application")
        .ip(OFFICE)
        .target("ServicePrincipal", "Calendar Helper")
        .e(),
    );
    let a = run(&ev, &case());
    let f = one(&a, rules::OAUTH_CONSENT);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.facts["app"], "Calendar Helper");
    ev.push(
        E::audit(
            t("2024-05-21T10:05:00Z"),
            "entra_audit",
            actions::OAUTH_CONSENT,
            Some(u),
        )
        .op("Consent to application")
        .ip(OFFICE)
        .target("ServicePrincipal", "Mail Sync")
        .modified(
            "ConsentAction.Permissions",
            "Scope: Mail.Read offline_access",
        )
        .e(),
    );
    let a = run(&ev, &case());
    let v = by_rule(&a, rules::OAUTH_CONSENT);
    assert_eq!(v.iter().filter(|f| f.severity == Severity::High).count(), 1);

    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    ev2.push(
        E::audit(
            t("2024-05-21T10:00:00Z"),
            "entra_audit",
            actions::ROLE_MEMBER_ADDED,
            Some("admin@x.com"),
        )
        .op("Add member to role")
        .target("Role", "Global Administrator")
        .target("User", u)
        .e(),
    );
    let a = run(&ev2, &case());
    let f = one(&a, rules::ROLE_ADDED);
    assert_eq!(f.severity, Severity::High);
    assert!(f.users.contains(&u.to_string()) && f.users.contains(&"admin@x.com".to_string()));
    assert!(a.users.iter().find(|s| s.user == u).unwrap().privileged);

    let mut ev3 = Vec::new();
    history(&mut ev3, u, OFFICE);
    ev3.push(
        E::audit(
            t("2024-05-21T10:00:00Z"),
            "entra_audit",
            actions::ROLE_MEMBER_ADDED,
            Some("admin@x.com"),
        )
        .op("Add member to role")
        .target("Role", "Reports Reader")
        .target("User", u)
        .e(),
    );
    let a = run(&ev3, &case());
    assert_eq!(one(&a, rules::ROLE_ADDED).severity, Severity::Medium);
    assert!(!a.users.iter().find(|s| s.user == u).unwrap().privileged);
    // A role the case file calls privileged.
    let mut c = case();
    c.privileged.roles = vec!["Reports Reader".into()];
    assert_eq!(
        one(&run(&ev3, &c), rules::ROLE_ADDED).severity,
        Severity::High
    );
}

// ------------------------------------------------------------------------------------------
// Bulk access

fn downloads(ev: &mut Vec<Event>, user: &str, ip: &str, start: DateTime<Utc>, n: i64) {
    for k in 0..n {
        ev.push(
            E::audit(
                start + Duration::seconds(k * 3600 / n.max(1) / 2),
                "m365_ual",
                actions::FILE_DOWNLOADED,
                Some(user),
            )
            .op("FileDownloaded")
            .ip(ip)
            .e(),
        );
    }
}

#[test]
fn bulk_download_against_floor_and_baseline() {
    let u = "lee@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    for d in 1..=10 {
        downloads(
            &mut ev,
            u,
            OFFICE,
            t("2024-05-20T10:00:00Z") - Duration::days(d),
            5,
        );
    }
    downloads(&mut ev, u, OFFICE, t("2024-05-22T10:00:00Z"), 300);
    let a = run(&ev, &case());
    let f = one(&a, rules::BULK_DOWNLOAD);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.facts["peak"], 300);
    assert_eq!(f.facts["baseline_p90_per_hour"], 5);

    // A heavy syncer (200/h every day) doing 300: under 5 × 200.
    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    for d in 1..=10 {
        downloads(
            &mut ev2,
            u,
            OFFICE,
            t("2024-05-20T10:00:00Z") - Duration::days(d),
            200,
        );
    }
    downloads(&mut ev2, u, OFFICE, t("2024-05-22T10:00:00Z"), 300);
    none(&run(&ev2, &case()), rules::BULK_DOWNLOAD);

    // From an unknown network: High.
    let mut ev3 = Vec::new();
    history(&mut ev3, u, OFFICE);
    downloads(&mut ev3, u, "45.6.6.6", t("2024-05-22T10:00:00Z"), 80);
    assert_eq!(
        one(&run(&ev3, &case()), rules::BULK_DOWNLOAD).severity,
        Severity::High
    );
}

#[test]
fn bulk_mail_access_counts_items() {
    let u = "mia@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    for k in 0..3 {
        ev.push(
            E::audit(
                t("2024-05-22T10:00:00Z") + Duration::minutes(k),
                "m365_ual",
                actions::MAIL_ITEMS_ACCESSED,
                Some(u),
            )
            .op("MailItemsAccessed")
            .ip(OFFICE)
            .extra("item_count", json!(400))
            .e(),
        );
    }
    let am = run(&ev, &case());
    let f = one(&am, rules::BULK_MAIL_ACCESS);
    assert_eq!(f.facts["peak"], 1200);
    ev.truncate(ev.len() - 2);
    none(&run(&ev, &case()), rules::BULK_MAIL_ACCESS);
}

// ------------------------------------------------------------------------------------------
// Pivot, IOC

#[test]
fn pivot_shared_ip() {
    let mut ev = Vec::new();
    for u in ["n1@x.com", "n2@x.com", "n3@x.com"] {
        history(&mut ev, u, OFFICE);
    }
    ev.push(
        E::ok(t("2024-05-21T10:00:00Z"), "n1@x.com", "102.89.1.1")
            .lagos()
            .e(),
    );
    let a = run(&ev, &case());
    none(&a, rules::SHARED_IP);
    ev.push(
        E::ok(t("2024-05-21T10:30:00Z"), "n2@x.com", "102.89.1.1")
            .lagos()
            .e(),
    );
    let a = run(&ev, &case());
    let f = one(&a, rules::SHARED_IP);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.users, vec!["n1@x.com", "n2@x.com"]);
    // Another account that only failed from it: Medium when only one succeeded.
    let mut ev2 = Vec::new();
    for u in ["n1@x.com", "n3@x.com"] {
        history(&mut ev2, u, OFFICE);
    }
    ev2.push(
        E::ok(t("2024-05-21T10:00:00Z"), "n1@x.com", "102.89.1.1")
            .lagos()
            .e(),
    );
    ev2.push(E::fail(t("2024-05-21T10:10:00Z"), "n3@x.com", "102.89.1.1").e());
    assert_eq!(
        one(&run(&ev2, &case()), rules::SHARED_IP).severity,
        Severity::Medium
    );
}

#[test]
fn pivot_rare_user_agent() {
    let mut ev = Vec::new();
    for i in 0..4 {
        let u = format!("p{i}@x.com");
        history(&mut ev, &u, OFFICE);
        ev.push(E::ok(t("2024-05-21T10:00:00Z"), &u, OFFICE).ua(CHROME).e());
    }
    for i in 0..3 {
        ev.push(
            E::fail(
                t("2024-05-21T11:00:00Z"),
                &format!("p{i}@x.com"),
                &format!("45.8.{i}.1"),
            )
            .ua("python-requests/2.31.0")
            .e(),
        );
    }
    let a = run(&ev, &case());
    let f = one(&a, rules::SHARED_USER_AGENT);
    assert_eq!(f.severity, Severity::Medium);
    assert_eq!(f.users.len(), 3);
    assert_eq!(f.facts["user_agent"], "python-requests/2.31.0");
}

#[test]
fn ioc_hits() {
    let u = "olga@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(
        E::ok(t("2024-05-21T10:00:00Z"), u, "203.0.113.66")
            .berlin()
            .e(),
    );
    ev.push(
        E::fail(t("2024-05-21T10:00:00Z"), "other@x.com", "45.5.5.5")
            .ua("Mozilla/5.0 BAV2ROPC")
            .e(),
    );
    let mut flow = base(
        t("2024-05-21T12:00:00Z"),
        "fortigate",
        EventClass::NetworkActivity,
        actions::FLOW_ALLOWED,
        Outcome::Success,
    );
    flow.src_ip = Some("10.0.0.5".into());
    flow.cold_mut().dst_ip = Some("192.0.2.200".into());
    ev.push(flow);
    ev.push(
        E::audit(
            t("2024-05-21T10:05:00Z"),
            "entra_audit",
            actions::OAUTH_CONSENT,
            Some(u),
        )
        .target("ServicePrincipal", "Evil")
        .e(),
    );
    ev.last_mut().unwrap().descr_mut().app_id = Some("AAAA-1111".into());
    let mut c = case();
    c.ioc.ips = vec!["203.0.113.66".into()];
    c.ioc.cidrs = vec!["192.0.2.0/24".into()];
    c.ioc.user_agents = vec!["bav2ropc".into()];
    c.ioc.app_ids = vec!["aaaa-1111".into()];
    let a = run(&ev, &c);
    let v = by_rule(&a, rules::IOC_HIT);
    assert_eq!(v.len(), 4, "{v:#?}");
    let ip = v
        .iter()
        .find(|f| f.facts["indicator_kind"] == "ip")
        .unwrap();
    assert_eq!(ip.severity, Severity::Critical);
    assert!(v
        .iter()
        .any(|f| f.facts["indicator_kind"] == "cidr" && f.severity == Severity::High));
    assert!(v.iter().any(|f| f.facts["indicator_kind"] == "user_agent"));
    assert!(v.iter().any(|f| f.facts["indicator_kind"] == "app_id"));
    none(&run(&ev, &case()), rules::IOC_HIT);
}

// ------------------------------------------------------------------------------------------
// Containment, risk, network

#[test]
fn containment_events_with_actor_and_automation() {
    let u = "pat@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(
        E::audit(
            t("2024-05-25T01:00:00Z"),
            "entra_audit",
            actions::USER_UPDATED,
            None,
        )
        .op("Update user")
        .target("User", u)
        .modified("StsRefreshTokensValidFrom", "2024-05-25T01:00:00Z")
        .extra("initiated_by_type", json!("app"))
        .extra("initiated_by_app", json!("MACE Credential Revocation"))
        .e(),
    );
    ev.push(
        E::audit(
            t("2024-05-25T03:00:00Z"),
            "entra_audit",
            actions::PASSWORD_RESET,
            Some("admin@x.com"),
        )
        .op("Reset user password")
        .target("User", u)
        .extra("initiated_by_type", json!("user"))
        .e(),
    );
    ev.push(
        E::audit(
            t("2024-05-25T03:01:00Z"),
            "entra_audit",
            actions::ACCOUNT_DISABLED,
            Some("admin@x.com"),
        )
        .op("Disable account")
        .target("User", u)
        .e(),
    );
    ev.push(
        E::audit(
            t("2024-05-25T03:02:00Z"),
            "entra_audit",
            actions::TOKENS_REVOKED,
            Some("admin@x.com"),
        )
        .op("Revoke user sessions")
        .target("User", u)
        .e(),
    );
    ev.push(
        E::audit(
            t("2024-05-25T04:00:00Z"),
            "entra_audit",
            actions::USER_UPDATED,
            Some("admin@x.com"),
        )
        .op("Update user")
        .target("User", u)
        .modified("DisplayName", "Pat")
        .e(),
    );
    let a = run(&ev, &case());
    let c = &a.containment;
    assert_eq!(c.len(), 4, "{c:#?}");
    assert_eq!(c[0].action, "tokens_revoked");
    assert!(c[0].automated);
    assert_eq!(c[0].by.as_deref(), Some("MACE Credential Revocation"));
    assert_eq!(c[1].action, "password_reset");
    assert!(!c[1].automated);
    assert_eq!(c[1].by.as_deref(), Some("admin@x.com"));
    assert_eq!(c[2].action, "account_disabled");
    assert_eq!(c[3].action, "sessions_ended");
    assert!(c.iter().all(|x| x.user == u && x.evidence.len() == 64));
    let f = one(&a, rules::CONTAINMENT);
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.facts["all_automated"], false);
    let s = a.users.iter().find(|s| s.user == u).unwrap();
    assert_eq!(s.password_changes, vec![t("2024-05-25T03:00:00Z")]);
}

/// Automation that revokes a user's tokens every few minutes: the finding's sentence names a
/// few actions and counts the rest, its facts list as many as its evidence, with the total,
/// and the containment list keeps them all.
#[test]
fn containment_of_thousands_of_actions_is_capped_in_the_finding() {
    let u = "pat@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    let n = irpack::analysis::detect::MAX_EVIDENCE + 5;
    let start = t("2024-05-25T00:00:00Z");
    for k in 0..n {
        ev.push(
            E::audit(
                start + Duration::seconds(k as i64 * 7),
                "entra_audit",
                actions::TOKENS_REVOKED,
                Some("admin@x.com"),
            )
            .op("Revoke user sessions")
            .target("User", u)
            .e(),
        );
    }
    let a = run(&ev, &case());
    assert_eq!(a.containment.len(), n);
    let f = one(&a, rules::CONTAINMENT);
    assert_eq!(
        f.facts["actions"].as_array().unwrap().len(),
        irpack::analysis::detect::MAX_EVIDENCE
    );
    assert_eq!(f.facts["actions_total"], n);
    assert_eq!(f.evidence.len(), irpack::analysis::detect::MAX_EVIDENCE);
    let more = format!(" and {} more.", n - irpack::analysis::prose::LIST_CAP);
    assert!(f.rationale.ends_with(&more), "{}", f.rationale);
    assert_eq!(
        f.rationale.matches("sessions_ended at ").count(),
        irpack::analysis::prose::LIST_CAP
    );
}

fn risk_event(at: &str, user: &str, detected: &str) -> Event {
    let mut e = base(
        t(at),
        "entra_risk",
        EventClass::RiskDetection,
        actions::RISK_DETECTED,
        Outcome::Unknown,
    );
    e.user = Some(user.into());
    e.extra
        .insert("risk_event_type", json!("leakedCredentials"));
    e.extra.insert("detected_time", json!(detected));
    e.extra.insert("detection_timing", json!("offline"));
    e.extra.insert("risk_state", json!("atRisk"));
    e.extra.insert("risk_level", json!("high"));
    e
}

#[test]
fn risk_detection_and_password_timeline() {
    let u = "quinn@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(risk_event(
        "2024-05-21T00:00:00Z",
        u,
        "2024-05-22T06:00:00Z",
    ));
    let a = run(&ev, &case());
    assert_eq!(a.risk.len(), 1);
    let r = &a.risk[0];
    assert_eq!(r.risk_event_type, "leakedCredentials");
    assert_eq!(r.activity_time, Some(t("2024-05-21T00:00:00Z")));
    assert_eq!(r.detected_time, Some(t("2024-05-22T06:00:00Z")));
    assert_eq!(r.detection_timing.as_deref(), Some("offline"));
    assert_eq!(r.password_changed_after, None);
    let f = one(&a, rules::RISK_DETECTION);
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.techniques[0].id, "T1589.001");

    // A change before the detection does not count; one after does.
    ev.push(
        E::audit(
            t("2024-05-21T12:00:00Z"),
            "entra_audit",
            actions::PASSWORD_CHANGED,
            Some(u),
        )
        .op("Change user password")
        .e(),
    );
    ev.push(
        E::audit(
            t("2024-05-23T08:00:00Z"),
            "entra_audit",
            actions::PASSWORD_CHANGED,
            Some(u),
        )
        .op("Change user password")
        .e(),
    );
    let a = run(&ev, &case());
    assert_eq!(
        a.risk[0].password_changed_after,
        Some(t("2024-05-23T08:00:00Z"))
    );
    assert_eq!(one(&a, rules::RISK_DETECTION).severity, Severity::Low);

    // A user-risk state change is not a detection.
    let mut ev2 = Vec::new();
    history(&mut ev2, u, OFFICE);
    let mut change = risk_event("2024-05-21T00:00:00Z", u, "2024-05-22T06:00:00Z");
    change.action = actions::USER_RISK_CHANGED.into();
    ev2.push(change);
    let a = run(&ev2, &case());
    assert!(a.risk.is_empty());
    none(&a, rules::RISK_DETECTION);
}

#[test]
fn network_correlation_radius_vpn_firewall() {
    let u = "rob@x.com";
    let attacker = "102.89.1.1";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::ok(t("2024-05-21T10:00:00Z"), u, attacker).lagos().e());
    let acct = |at: &str, action: &str, bytes: u64| {
        let mut e = base(
            t(at),
            "radius_detail",
            EventClass::Accounting,
            action,
            Outcome::Unknown,
        );
        e.user = Some("CORP\\rob".into());
        e.src_ip = Some(attacker.into());
        e.cold_mut().session_id = Some("S-1".into());
        e.cold_mut().bytes_in = Some(bytes);
        e.cold_mut().bytes_out = Some(bytes / 2);
        e.extra.insert("framed_ip", json!("10.8.0.12"));
        e.extra.insert("nas_identifier", json!("vpn-gw-1"));
        if action == actions::SESSION_STOP {
            e.extra.insert("terminate_cause", json!("Admin-Reset"));
        }
        e
    };
    ev.push(acct("2024-05-21T10:05:00Z", actions::SESSION_START, 0));
    ev.push(acct("2024-05-21T10:15:00Z", actions::SESSION_INTERIM, 1000));
    ev.push(acct("2024-05-21T11:00:00Z", actions::SESSION_STOP, 5000));
    let mut vpn = base(
        t("2024-05-21T10:04:00Z"),
        "fortigate",
        EventClass::Authentication,
        actions::VPN_TUNNEL_UP,
        Outcome::Success,
    );
    vpn.user = Some("rob".into());
    vpn.src_ip = Some(attacker.into());
    vpn.extra.insert("assigned_ip", json!("10.8.0.12"));
    ev.push(vpn);
    for (k, action) in [
        actions::FLOW_ALLOWED,
        actions::FLOW_ALLOWED,
        actions::FLOW_DENIED,
    ]
    .iter()
    .enumerate()
    {
        let mut f = base(
            t("2024-05-21T10:20:00Z") + Duration::minutes(k as i64),
            "fortigate",
            EventClass::NetworkActivity,
            action,
            Outcome::Unknown,
        );
        f.src_ip = Some("10.8.0.12".into());
        f.cold_mut().dst_ip = Some("10.1.1.1".into());
        f.cold_mut().bytes_in = Some(100);
        f.cold_mut().bytes_out = Some(10);
        ev.push(f);
    }
    let a = run(&ev, &case());
    let view = a
        .network
        .iter()
        .find(|v| v.ip == attacker)
        .expect("view for attacker IP");
    assert_eq!(view.radius_sessions.len(), 1);
    let s = &view.radius_sessions[0];
    assert_eq!(s.session_id.as_deref(), Some("S-1"));
    assert_eq!(s.framed_ip.as_deref(), Some("10.8.0.12"));
    assert_eq!(s.calling_station.as_deref(), Some(attacker));
    assert_eq!(s.start, Some(t("2024-05-21T10:05:00Z")));
    assert_eq!(s.end, Some(t("2024-05-21T11:00:00Z")));
    assert!(!s.still_active);
    assert_eq!(s.bytes_in, 5000);
    assert_eq!(s.terminate_cause.as_deref(), Some("Admin-Reset"));
    assert_eq!(view.vpn_events.len(), 1);
    assert!(view.vpn_events[0].contains("assigned 10.8.0.12"));
    assert_eq!(view.flows_allowed, 2);
    assert_eq!(view.flows_denied, 1);
    assert_eq!(view.bytes_in, 300);
    assert!(view.users.contains(&u.to_string()));
    let f = by_rule(&a, rules::NETWORK_CORRELATION)
        .into_iter()
        .find(|f| f.facts["ip"] == attacker)
        .unwrap();
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.evidence.len(), 7);

    // No suspicious IP or user: no network view.
    let mut quiet = Vec::new();
    history(&mut quiet, u, OFFICE);
    quiet.push(acct("2024-05-21T10:05:00Z", actions::SESSION_START, 0));
    let a = run(&quiet, &case());
    assert!(a.network.is_empty());
    none(&a, rules::NETWORK_CORRELATION);
}

// ------------------------------------------------------------------------------------------
// Summaries, evidence, determinism

#[test]
fn user_summary_counts_and_mfa() {
    let u = "sam@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::ok(t("2024-05-21T09:00:00Z"), u, OFFICE).berlin().e());
    ev.push(
        E::ok(t("2024-05-21T09:30:00Z"), u, OFFICE)
            .berlin()
            .mfa(false)
            .noninteractive()
            .e(),
    );
    ev.push(E::fail(t("2024-05-21T08:59:00Z"), u, OFFICE).e());
    ev.push(
        E::signin(t("2024-05-21T08:59:30Z"), u, OFFICE, Outcome::Interrupted)
            .reason("50074: Strong Authentication is required.")
            .e(),
    );
    ev.push(
        E::ok(t("2024-05-21T10:00:00Z"), "nomfa@x.com", OFFICE)
            .berlin()
            .mfa(false)
            .e(),
    );
    let mut c = case();
    c.privileged.users = vec!["Sam@X.com".into()];
    c.alert.as_mut().unwrap().users = vec!["ghost@x.com".into()];
    let a = run(&ev, &c);
    let s = a.users.iter().find(|s| s.user == u).unwrap();
    assert_eq!(
        (s.sign_ins_ok, s.sign_ins_failed, s.sign_ins_interrupted),
        (2, 1, 1)
    );
    assert_eq!((s.single_factor_ok, s.mfa_ok), (1, 1));
    assert_eq!(s.mfa_in_use, Some(true));
    assert!(s.privileged);
    assert_eq!(s.countries, vec!["DE"]);
    assert_eq!(s.ips, vec![OFFICE]);
    let n = a.users.iter().find(|s| s.user == "nomfa@x.com").unwrap();
    assert_eq!(n.mfa_in_use, Some(false));
    let g = a.users.iter().find(|s| s.user == "ghost@x.com").unwrap();
    assert_eq!(g.mfa_in_use, None);
    assert_eq!(g.sign_ins_ok, 0);
    assert!(a
        .baselines
        .iter()
        .any(|b| b.user == "ghost@x.com" && !b.has_baseline));
}

#[test]
fn evidence_cites_event_hashes_and_order_is_deterministic() {
    let u = "alice@x.com";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    ev.push(E::ok(t("2024-05-21T10:00:00Z"), u, OFFICE).berlin().e());
    ev.push(
        E::ok(t("2024-05-21T11:00:00Z"), u, "102.89.1.1")
            .lagos()
            .mfa(false)
            .e(),
    );
    for i in 0..6 {
        ev.push(
            E::fail(
                t("2024-05-21T03:00:00Z"),
                &format!("s{i}@x.com"),
                "185.1.1.1",
            )
            .e(),
        );
    }
    let a = run(&ev, &case());
    let hashes: std::collections::HashSet<String> = ev.iter().map(Event::hash).collect();
    for f in &a.findings {
        assert!(!f.rationale.is_empty());
        assert!(f.first_seen <= f.last_seen);
        for h in &f.evidence {
            assert!(hashes.contains(h), "{} cites unknown {h}", f.rule);
        }
    }
    for w in a.findings.windows(2) {
        assert!(w[0].severity >= w[1].severity);
    }
    let mut rev = ev.clone();
    rev.reverse();
    let b = run(&rev, &case());
    assert_eq!(a.findings, b.findings);
    assert_eq!(a.users, b.users);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&run(&ev, &case())).unwrap()
    );
}

// ------------------------------------------------------------------------------------------
// Robustness and calibration

/// splitmix64: a small deterministic PRNG (no dependency, same sequence everywhere).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
}

const UAS: &[&str] = &[
    CHROME,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
];

/// 200 benign users over 30 days: office sign-ins with MFA from two office networks in
/// Berlin, a stable home network each, the same device, working hours, non-interactive token
/// refreshes, an occasional mistyped password, normal file and mail volumes.
fn background(seed: u64) -> Vec<Event> {
    background_n(seed, 200)
}

fn background_n(seed: u64, users: u64) -> Vec<Event> {
    let mut r = Rng(seed);
    let mut ev = Vec::new();
    let start = Utc.with_ymd_and_hms(2024, 4, 27, 0, 0, 0).unwrap();
    for n in 0..users {
        let user = format!("user{n:03}@corp.example");
        let office = if n % 2 == 0 {
            format!("198.51.100.{}", 10 + r.below(5))
        } else {
            format!("203.0.113.{}", 20 + r.below(5))
        };
        let home = format!("91.{}.{}.{}", 10 + n / 200, n % 200, 2 + r.below(200));
        let (hlat, hlon) = (
            52.52 + (r.below(40) as f64 - 20.0) / 100.0,
            13.40 + (r.below(40) as f64 - 20.0) / 100.0,
        );
        let mac = r.chance(30);
        let (os, br) = if mac {
            ("MacOs", "Safari 17.4")
        } else {
            ("Windows 10", "Chrome 124.0.0")
        };
        let ua = UAS[if mac {
            1
        } else if r.chance(30) {
            2
        } else {
            0
        }];
        let works_home = r.chance(60);
        for day in 0..30 {
            let date = start + Duration::days(day);
            let weekday = chrono::Datelike::weekday(&date).num_days_from_monday();
            if weekday >= 5 && !r.chance(5) {
                continue;
            }
            let home_day = works_home && r.chance(25);
            let (ip, lat, lon) = if home_day {
                (home.clone(), hlat, hlon)
            } else {
                (office.clone(), 52.52, 13.40)
            };
            let mut at = date + Duration::hours(7) + Duration::minutes(r.below(120) as i64);
            for _ in 0..(1 + r.below(3)) {
                if r.chance(5) {
                    ev.push(
                        E::fail(at - Duration::minutes(1), &user, &ip)
                            .at("Berlin", "DE", lat, lon)
                            .device(os, br)
                            .ua(ua)
                            .e(),
                    );
                }
                if r.chance(40) {
                    ev.push(
                        E::signin(at - Duration::seconds(30), &user, &ip, Outcome::Interrupted)
                            .reason("50074: Strong Authentication is required.")
                            .at("Berlin", "DE", lat, lon)
                            .device(os, br)
                            .ua(ua)
                            .e(),
                    );
                }
                ev.push(
                    E::ok(at, &user, &ip)
                        .at("Berlin", "DE", lat, lon)
                        .asn(if home_day { 3320 } else { 64500 })
                        .device(os, br)
                        .ua(ua)
                        .e(),
                );
                for k in 0..(2 + r.below(4)) {
                    ev.push(
                        E::ok(at + Duration::minutes(20 + 45 * k as i64), &user, &ip)
                            .at("Berlin", "DE", lat, lon)
                            .mfa(false)
                            .noninteractive()
                            .device(os, br)
                            .ua(UAS[3])
                            .e(),
                    );
                }
                for _ in 0..r.below(8) {
                    ev.push(
                        E::audit(
                            at + Duration::minutes(r.below(50) as i64),
                            "m365_ual",
                            actions::FILE_DOWNLOADED,
                            Some(&user),
                        )
                        .op("FileDownloaded")
                        .ip(&ip)
                        .e(),
                    );
                }
                ev.push(
                    E::audit(
                        at + Duration::minutes(5),
                        "m365_ual",
                        actions::MAIL_ITEMS_ACCESSED,
                        Some(&user),
                    )
                    .op("MailItemsAccessed")
                    .ip(&ip)
                    .extra("item_count", json!(5 + r.below(60)))
                    .e(),
                );
                at += Duration::minutes(90 + r.below(120) as i64);
            }
        }
        if n % 50 == 7 {
            ev.push(
                E::audit(
                    start + Duration::days(12),
                    "entra_audit",
                    actions::PASSWORD_CHANGED,
                    Some(&user),
                )
                .op("Change user password")
                .e(),
            );
        }
    }
    ev.sort_by_key(|e| e.time);
    ev
}

#[test]
fn calibrated_background_has_no_high_findings() {
    for seed in [1u64, 2, 3] {
        let ev = background(seed);
        assert!(ev.len() > 30_000, "{}", ev.len());
        let a = analyze(&ev, &CaseFile::minimal("IR-BG"));
        let loud: Vec<&Finding> = a
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::High)
            .collect();
        let mut per_rule: std::collections::BTreeMap<(&str, Severity), usize> = Default::default();
        for f in &a.findings {
            *per_rule.entry((f.rule.as_str(), f.severity)).or_default() += 1;
        }
        eprintln!(
            "seed {seed}: {} events, {} findings {per_rule:?}",
            ev.len(),
            a.findings.len()
        );
        assert!(loud.is_empty(), "seed {seed}: {loud:#?}");
        assert_eq!(a.users.len(), 200);
        assert!(a.users.iter().all(|u| u.mfa_in_use == Some(true)));
        assert!(a.baselines.iter().all(|b| b.has_baseline));
        assert!(by_rule(&a, rules::NO_BASELINE).is_empty());
    }
}

#[test]
fn attack_on_background_stands_out() {
    let mut ev = background(9);
    let victim = "user042@corp.example";
    let at = ev.last().unwrap().time - Duration::days(2);
    ev.push(
        E::ok(at, victim, "102.89.1.1")
            .lagos()
            .mfa(false)
            .ua("python-requests/2.31")
            .e(),
    );
    ev.push(rule_event(
        &(at + Duration::minutes(10)).to_rfc3339(),
        victim,
        "102.89.1.1",
        json!({"Name": ".", "ForwardTo": "x@evil.example"}),
    ));
    let a = analyze(&ev, &CaseFile::minimal("IR-BG"));
    let users_hi: std::collections::BTreeSet<&str> = a
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .flat_map(|f| f.users.iter().map(String::as_str))
        .collect();
    assert_eq!(users_hi.into_iter().collect::<Vec<_>>(), vec![victim]);
    for r in [
        rules::NEW_COUNTRY,
        rules::SINGLE_FACTOR_UNKNOWN_IP,
        rules::INBOX_RULE,
        rules::IMPOSSIBLE_TRAVEL,
    ] {
        assert!(
            by_rule(&a, r)
                .iter()
                .any(|f| f.users.contains(&victim.to_string()) && f.severity >= Severity::High),
            "{r}"
        );
    }
}

#[test]
fn never_panics_on_odd_events() {
    let mut r = Rng(77);
    let odd_ips = [
        "",
        "not-an-ip",
        "::",
        "0.0.0.0",
        "999.1.1.1",
        "fe80::1%eth0",
        "10.0.0.1:443",
    ];
    let odd_countries = ["", "??", "Germany", "zz", "D", "Côte d'Ivoire"];
    let acts = [
        actions::SIGN_IN,
        actions::INBOX_RULE_CREATED,
        actions::MAILBOX_FORWARDING_SET,
        actions::ROLE_MEMBER_ADDED,
        actions::SESSION_STOP,
        actions::VPN_TUNNEL_UP,
        actions::FLOW_DENIED,
        actions::RISK_DETECTED,
        actions::USER_UPDATED,
        actions::MAIL_ITEMS_ACCESSED,
        "other",
    ];
    let mut ev = Vec::new();
    for k in 0..3000 {
        let time = t("2024-05-01T00:00:00Z") + Duration::seconds(r.below(40 * 86400) as i64);
        let outcome = [
            Outcome::Success,
            Outcome::Failure,
            Outcome::Interrupted,
            Outcome::Unknown,
        ][r.below(4) as usize];
        let mut e = base(
            time,
            "x",
            EventClass::Authentication,
            acts[r.below(acts.len() as u64) as usize],
            outcome,
        );
        if r.chance(80) {
            e.user = Some(["", " ", "A@X", "a@x", "CORP\\a", "ü@ö.de"][r.below(6) as usize].into());
        }
        e.src_ip = Some(odd_ips[r.below(odd_ips.len() as u64) as usize].into());
        e.geo = Some(Arc::new(Geo {
            country: Some(odd_countries[r.below(6) as usize].into()),
            city: Some("".into()),
            lat: [None, Some(f64::NAN), Some(91.0), Some(-33.9)][r.below(4) as usize],
            lon: Some(f64::INFINITY),
            asn: None,
            state: None,
        }));
        e.reason = Some(
            ["", "500121", "abc", "50126: x", "99999999999999999999999"][r.below(5) as usize]
                .into(),
        );
        e.extra.insert(
            "parameters",
            [
                json!(null),
                json!([1, 2]),
                json!({"ForwardTo": 5}),
                json!([{"Name": "MoveToFolder"}]),
            ][r.below(4) as usize]
                .clone(),
        );
        e.extra.insert("item_count", json!(["x", "-5"][k % 2]));
        e.extra.insert("detected_time", json!("yesterday"));
        ev.push(e);
    }
    let mut c = case();
    c.thresholds.failures_before_success = 0;
    c.thresholds.spray_min_users = 0;
    c.thresholds.brute_force_failures = 0;
    c.thresholds.pivot_min_users = 0;
    c.thresholds.bulk_factor = f64::NAN;
    c.thresholds.baseline_days = i64::MAX;
    let _ = analyze(&ev, &c);
    let _ = analyze(&ev, &CaseFile::minimal("x"));
}

/// Scale check (run with `--ignored --nocapture` in release): ~1M events, prints the time.
/// No timing assertion: it documents that the detections stay linear.
#[test]
#[ignore]
fn scale_one_million_events() {
    let ev = background_n(5, 2600);
    let started = std::time::Instant::now();
    let a = analyze(&ev, &CaseFile::minimal("IR-SCALE"));
    eprintln!(
        "{} events, {} users: {} findings in {:?}",
        ev.len(),
        a.users.len(),
        a.findings.len(),
        started.elapsed()
    );
    assert!(a.findings.iter().all(|f| f.severity < Severity::High));
}

/// One attack chain end to end, compared with a golden file (UPDATE_GOLDEN=1 rewrites it).
/// Evidence hashes are left out: they depend on test-built provenance, not on the analysis.
#[test]
fn golden_attack_chain() {
    let u = "alice@corp.example";
    let attacker = "102.89.1.1";
    let mut ev = Vec::new();
    history(&mut ev, u, OFFICE);
    for i in 0..5 {
        let v = format!("v{i}@corp.example");
        history(&mut ev, &v, OFFICE);
        ev.push(
            E::fail(
                t("2024-05-21T02:00:00Z") + Duration::minutes(i),
                &v,
                attacker,
            )
            .ua("python-requests/2.31")
            .e(),
        );
    }
    ev.push(
        E::fail(t("2024-05-21T02:10:00Z"), u, attacker)
            .ua("python-requests/2.31")
            .e(),
    );
    ev.push(
        E::ok(t("2024-05-21T02:12:00Z"), u, attacker)
            .lagos()
            .mfa(false)
            .ua("python-requests/2.31")
            .e(),
    );
    ev.push(E::ok(t("2024-05-21T08:00:00Z"), u, OFFICE).berlin().e());
    ev.push(
        E::audit(
            t("2024-05-21T02:20:00Z"),
            "entra_audit",
            actions::MFA_METHOD_REGISTERED,
            Some(u),
        )
        .op("User registered security info")
        .ip(attacker)
        .target("User", u)
        .e(),
    );
    ev.push(rule_event(
        "2024-05-21T02:25:00Z",
        u,
        attacker,
        json!({"Name": ".", "ForwardTo": "drop@evil.example", "MarkAsRead": "True"}),
    ));
    downloads(&mut ev, u, attacker, t("2024-05-21T03:00:00Z"), 120);
    ev.push(risk_event(
        "2024-05-19T00:00:00Z",
        u,
        "2024-05-21T06:00:00Z",
    ));
    ev.push(
        E::audit(
            t("2024-05-21T06:01:00Z"),
            "entra_audit",
            actions::USER_UPDATED,
            None,
        )
        .op("Update user")
        .target("User", u)
        .modified("StsRefreshTokensValidFrom", "2024-05-21T06:01:00Z")
        .extra("initiated_by_type", json!("app"))
        .extra("initiated_by_app", json!("Azure AD Identity Protection"))
        .e(),
    );
    ev.push(
        E::audit(
            t("2024-05-21T09:00:00Z"),
            "entra_audit",
            actions::PASSWORD_RESET,
            Some("admin@corp.example"),
        )
        .op("Reset user password")
        .target("User", u)
        .e(),
    );
    let mut vpn = base(
        t("2024-05-21T02:30:00Z"),
        "fortigate",
        EventClass::Authentication,
        actions::VPN_LOGIN,
        Outcome::Success,
    );
    vpn.user = Some("alice".into());
    vpn.src_ip = Some(attacker.into());
    ev.push(vpn);
    let mut c = case();
    c.alert.as_mut().unwrap().users = vec![u.into()];
    let a = run(&ev, &c);
    let view: Vec<Value> = a
        .findings
        .iter()
        .map(|f| json!({"rule": f.rule, "severity": f.severity, "title": f.title, "users": f.users, "ips": f.ips, "first_seen": f.first_seen, "last_seen": f.last_seen, "evidence": f.evidence.len(), "techniques": f.techniques, "rationale": f.rationale, "facts": f.facts}))
        .collect();
    let got = serde_json::to_string_pretty(&json!({"findings": view, "containment": a.containment.iter().map(|c| json!({"user": c.user, "action": c.action, "time": c.time, "by": c.by, "automated": c.automated})).collect::<Vec<_>>(), "risk_password_changed_after": a.risk[0].password_changed_after})).unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/analysis_attack_chain.json");
    if std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1")
        || !path.exists() && std::env::var("CI").is_err()
    {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &got).unwrap();
    }
    let want = std::fs::read_to_string(&path).expect("golden file (UPDATE_GOLDEN=1 to create)");
    assert_eq!(
        got,
        want,
        "findings differ from {}; UPDATE_GOLDEN=1 to accept",
        path.display()
    );
}
