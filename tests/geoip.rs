//! The optional MaxMind database: reading it, the lookup precedence against the log's own
//! location, what it changes in the detections (impossible travel and new country from
//! events that carry only an IP), the case-file `[geo]` table and the `--geoip-db` flag, and
//! its traces in the custody log, analysis.json and the report.
//!
//! The databases are tests/fixtures/geoip/*.mmdb, written by make_mmdb.py there (invented
//! records; see that script): 85.214.0.0/16 and 2a01:238::/32 Berlin DE (20 km), 102.89.0.0/16
//! Lagos NG (50 km), 23.20.0.0/14 Ashburn US (10 km), 8.8.8.0/24 US country-level (1000 km),
//! and trap records for 10.0.0.0/8 and 198.51.100.0/24 that must never be returned. ASN:
//! 85.214.0.0/16 → 6724, 102.89.0.0/16 → 29465, 10.0.0.0/8 → 64512 (trap).

use chrono::{DateTime, Duration, TimeZone, Utc};
use irpack::analysis::detect::{analyze, analyze_with};
use irpack::analysis::geo::{Locator, Precision};
use irpack::analysis::geoip::{DbRole, GeoIp, GeoIpError};
use irpack::analysis::{rules, Analysis, Finding, Severity};
use irpack::case::{Alert, CaseFile};
use irpack::event::{actions, Event, EventClass, Geo, Outcome, Provenance};
use irpack::pipeline::{self, Collected, RunOptions, RunOutput};
use serde_json::json;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const BERLIN_IP: &str = "85.214.10.20";
const LAGOS_IP: &str = "102.89.3.4";
const FIXTURE_BUILD_EPOCH: u64 = 1_714_521_600;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/geoip")
        .join(name)
}

fn city_path() -> PathBuf {
    fixture("irpack-test-city.mmdb")
}

fn asn_path() -> PathBuf {
    fixture("irpack-test-asn.mmdb")
}

fn db() -> GeoIp {
    GeoIp::open(Some(&city_path()), Some(&asn_path()))
        .unwrap()
        .expect("two databases given")
}

fn sha256_of(p: &Path) -> String {
    irpack::sources::sha256_hex(&std::fs::read(p).unwrap())
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A successful sign-in that carries only an IP (no geo at all), as RADIUS Access-Accept
/// records and sign-ins without location do.
fn signin(time: DateTime<Utc>, user: &str, ip: &str, source: &str) -> Event {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let prov = Provenance {
        evidence_sha256: "00".repeat(32).into(),
        evidence_path: "data/evidence/x".into(),
        record_no: n,
        line: n,
        ..Provenance::default()
    };
    let mut e = Event::new(
        time,
        time.to_rfc3339(),
        "UTC",
        source,
        "test",
        EventClass::Authentication,
        actions::SIGN_IN,
        actions::SIGN_IN,
        Outcome::Success,
        prov,
    );
    e.user = Some(user.into());
    e.src_ip = Some(ip.into());
    e
}

fn with_geo(mut e: Event, g: Geo) -> Event {
    e.geo = Some(Arc::new(g));
    e
}

/// A case whose window is 2024-05-20 .. 2024-05-27 (baseline from 2024-04-20).
fn case() -> CaseFile {
    let mut c = CaseFile::minimal("IR-GEO");
    c.alert = Some(Alert {
        window_start: Some(t("2024-05-20T00:00:00Z")),
        window_end: Some(t("2024-05-27T00:00:00Z")),
        ..Alert::default()
    });
    c
}

fn by_rule<'a>(a: &'a Analysis, rule: &str) -> Vec<&'a Finding> {
    a.findings.iter().filter(|f| f.rule == rule).collect()
}

/// Berlin at 10:00 (Entra, no location), Lagos at 11:00 (RADIUS, Calling-Station-Id only).
fn ip_only_hop(user: &str) -> Vec<Event> {
    vec![
        signin(t("2024-05-21T10:00:00Z"), user, BERLIN_IP, "entra_signin"),
        signin(t("2024-05-21T11:00:00Z"), user, LAGOS_IP, "radius_detail"),
    ]
}

// ------------------------------------------------------------------------------------------
// Reading the database

#[test]
fn reader_places_each_block_and_nothing_outside() {
    let db = db();
    let berlin = db.place(ip(BERLIN_IP)).unwrap().expect("Berlin block");
    assert_eq!(berlin.country.as_deref(), Some("DE"));
    assert_eq!(berlin.city.as_deref(), Some("Berlin"));
    assert_eq!(berlin.subdivision.as_deref(), Some("Land Berlin"));
    let (lat, lon) = berlin.lat_lon.unwrap();
    assert!((lat - 52.5244).abs() < 1e-9 && (lon - 13.4105).abs() < 1e-9);
    assert_eq!(berlin.accuracy_km, Some(20.0));
    // IPv6 and IPv4-mapped IPv6 reach the same records.
    assert_eq!(
        db.place(ip("2a01:238:4000::1"))
            .unwrap()
            .unwrap()
            .city
            .as_deref(),
        Some("Berlin")
    );
    assert_eq!(
        db.place(ip("::ffff:85.214.10.20")).unwrap().unwrap(),
        berlin
    );

    let lagos = db.place(ip(LAGOS_IP)).unwrap().expect("Lagos block");
    assert_eq!(lagos.country.as_deref(), Some("NG"));
    assert_eq!(lagos.city.as_deref(), Some("Lagos"));
    assert_eq!(lagos.accuracy_km, Some(50.0));

    let ashburn = db.place(ip("23.21.0.1")).unwrap().expect("US block");
    assert_eq!(ashburn.country.as_deref(), Some("US"));
    assert_eq!(ashburn.city.as_deref(), Some("Ashburn"));

    let us = db
        .place(ip("8.8.8.8"))
        .unwrap()
        .expect("US country-level block");
    assert_eq!(us.country.as_deref(), Some("US"));
    assert_eq!(us.city, None);
    assert_eq!(us.accuracy_km, Some(1000.0));

    // Outside every block, including just past the Berlin /16.
    for outside in ["1.1.1.1", "85.215.0.1", "85.213.255.255", "2a02::1"] {
        assert_eq!(db.place(ip(outside)).unwrap(), None, "{outside}");
        assert_eq!(db.asn(ip(outside)).unwrap(), None, "{outside}");
    }

    assert_eq!(db.asn(ip(BERLIN_IP)).unwrap(), Some(6724));
    assert_eq!(db.asn(ip(LAGOS_IP)).unwrap(), Some(29465));
    assert_eq!(db.asn(ip("23.21.0.1")).unwrap(), None);

    let infos = db.databases();
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].role, DbRole::City);
    assert_eq!(infos[0].database_type, "irpack-Test-City");
    assert_eq!(infos[0].sha256, sha256_of(&city_path()));
    assert_eq!(infos[0].size, std::fs::metadata(city_path()).unwrap().len());
    assert_eq!(infos[0].build_epoch, FIXTURE_BUILD_EPOCH);
    assert_eq!(infos[0].build_time.as_deref(), Some("2024-05-01T00:00:00Z"));
    assert_eq!(infos[1].role, DbRole::Asn);
    assert_eq!(infos[1].database_type, "irpack-Test-ASN");
}

#[test]
fn country_database_gives_countries_only() {
    let db = GeoIp::open(Some(&fixture("irpack-test-country.mmdb")), None)
        .unwrap()
        .unwrap();
    let r = db.place(ip(BERLIN_IP)).unwrap().unwrap();
    assert_eq!(r.country.as_deref(), Some("DE"));
    assert_eq!(r.lat_lon, None);
    assert_eq!(
        db.asn(ip(BERLIN_IP)).unwrap(),
        None,
        "no ASN database given"
    );
    // A country-only record is placed at the country's centre with the country's radius.
    let loc = Locator::new(Some(&db));
    let p = loc
        .place(&signin(
            t("2024-05-21T10:00:00Z"),
            "a@x.com",
            BERLIN_IP,
            "nps",
        ))
        .unwrap();
    assert_eq!(p.precision, Precision::DatabaseCountry);
    assert_eq!(p.country.as_deref(), Some("DE"));
    assert!(p.uncertainty_km > 100.0, "{p:?}");
}

#[test]
fn private_and_reserved_addresses_are_never_looked_up() {
    let db = db();
    // The fixture has trap records for these blocks: finding one means a forbidden lookup.
    for reserved in ["10.1.2.3", "198.51.100.7", "::ffff:10.0.0.1"] {
        assert_eq!(db.place(ip(reserved)).unwrap(), None, "{reserved}");
        assert_eq!(db.asn(ip(reserved)).unwrap(), None, "{reserved}");
    }
    // Through the analysis too: no lookup is even counted.
    let u = "alice@x.com";
    let ev = vec![
        signin(t("2024-05-21T10:00:00Z"), u, "10.1.2.3", "radius_detail"),
        signin(t("2024-05-21T11:00:00Z"), u, "198.51.100.7", "entra_signin"),
    ];
    let a = analyze_with(&ev, &case(), Some(&db));
    let usage = a.geo_database.as_ref().expect("database use recorded");
    assert_eq!(usage.city_lookups, 0);
    assert_eq!(usage.asn_lookups, 0);
    assert!(by_rule(&a, rules::IMPOSSIBLE_TRAVEL).is_empty());
    let loc = Locator::new(Some(&db));
    assert_eq!(loc.place(&ev[0]), None);
    assert_eq!(loc.country(&ev[0]), None);
}

// ------------------------------------------------------------------------------------------
// Precedence

#[test]
fn log_location_wins_over_the_database() {
    let db = db();
    let loc = Locator::new(Some(&db));
    let at = t("2024-05-21T10:00:00Z");
    let u = "a@x.com";

    // 1. Log coordinates (Lagos) beat the database (Berlin for this IP).
    let e = with_geo(
        signin(at, u, BERLIN_IP, "entra_signin"),
        Geo {
            city: Some("Lagos".into()),
            country: Some("NG".into()),
            lat: Some(6.45),
            lon: Some(3.39),
            ..Geo::default()
        },
    );
    let p = loc.place(&e).unwrap();
    assert_eq!(p.precision, Precision::Coordinates);
    assert!((p.lat - 6.45).abs() < 1e-9);

    // 2. The log's city in the gazetteer beats the database.
    let e = with_geo(
        signin(at, u, BERLIN_IP, "entra_signin"),
        Geo {
            city: Some("Lagos".into()),
            country: Some("NG".into()),
            ..Geo::default()
        },
    );
    let p = loc.place(&e).unwrap();
    assert_eq!(p.precision, Precision::City);
    assert_eq!(p.country.as_deref(), Some("NG"));

    // 3. A country-only log position is refined by the database in the same country ...
    let e = with_geo(
        signin(at, u, BERLIN_IP, "entra_signin"),
        Geo {
            country: Some("DE".into()),
            ..Geo::default()
        },
    );
    let p = loc.place(&e).unwrap();
    assert_eq!(p.precision, Precision::Database);
    assert_eq!(p.precision.as_str(), "MaxMind database");
    assert_eq!(p.uncertainty_km, 20.0);
    assert_eq!(p.label, "Berlin, Land Berlin, DE");

    // ... but a database record in another country than the log names is not used.
    let e = with_geo(
        signin(at, u, BERLIN_IP, "entra_signin"),
        Geo {
            country: Some("NG".into()),
            ..Geo::default()
        },
    );
    let p = loc.place(&e).unwrap();
    assert_eq!(p.precision, Precision::Country);
    assert_eq!(p.country.as_deref(), Some("NG"));

    // 4. Only an IP: the database, with its accuracy radius as the uncertainty.
    let p = loc.place(&signin(at, u, "8.8.8.8", "fortigate")).unwrap();
    assert_eq!(p.precision, Precision::Database);
    assert_eq!(p.uncertainty_km, 1000.0);

    // Countries and ASNs: the log's value first.
    let c = loc.country(&e).unwrap();
    assert_eq!((c.code.as_str(), c.from_database), ("NG", false));
    let bare = signin(at, u, BERLIN_IP, "radius_detail");
    let c = loc.country(&bare).unwrap();
    assert_eq!((c.code.as_str(), c.from_database), ("DE", true));
    assert_eq!(loc.asn(&bare), Some(6724));
    let with_asn = with_geo(
        bare.clone(),
        Geo {
            asn: Some(3320),
            ..Geo::default()
        },
    );
    assert_eq!(loc.asn(&with_asn), Some(3320));

    // Without a database nothing is located from the IP alone.
    let none = Locator::new(None);
    assert_eq!(none.place(&bare), None);
    assert_eq!(none.country(&bare), None);
    assert_eq!(none.asn(&bare), None);
}

#[test]
fn log_coordinates_keep_a_trip_plausible_whatever_the_database_says() {
    // Both sign-ins are in Berlin by the log's coordinates; the database would put the second
    // in Lagos. The log wins, so there is no impossible travel.
    let u = "alice@x.com";
    let berlin = Geo {
        city: Some("Berlin".into()),
        country: Some("DE".into()),
        lat: Some(52.52),
        lon: Some(13.40),
        ..Geo::default()
    };
    let ev: Vec<Event> = ip_only_hop(u)
        .into_iter()
        .map(|e| with_geo(e, berlin.clone()))
        .collect();
    let a = analyze_with(&ev, &case(), Some(&db()));
    assert!(
        by_rule(&a, rules::IMPOSSIBLE_TRAVEL).is_empty(),
        "{:#?}",
        a.findings
    );
}

// ------------------------------------------------------------------------------------------
// What it changes in the detections

#[test]
fn impossible_travel_from_ip_only_sign_ins_needs_the_database() {
    let u = "alice@x.com";
    let ev = ip_only_hop(u);

    let without = analyze(&ev, &case());
    assert!(
        by_rule(&without, rules::IMPOSSIBLE_TRAVEL).is_empty(),
        "{:#?}",
        without.findings
    );
    assert!(without.geo_database.is_none());

    let db = db();
    let with = analyze_with(&ev, &case(), Some(&db));
    let f = by_rule(&with, rules::IMPOSSIBLE_TRAVEL);
    assert_eq!(f.len(), 1, "{:#?}", with.findings);
    let f = f[0];
    assert_eq!(f.severity, Severity::High);
    assert_eq!(f.users, vec![u]);
    assert!(f.ips.contains(&BERLIN_IP.to_string()) && f.ips.contains(&LAGOS_IP.to_string()));
    let w = &f.facts["worst"];
    assert_eq!(w["from_position"], "MaxMind database");
    assert_eq!(w["to_position"], "MaxMind database");
    assert!(w["speed_kmh"].as_f64().unwrap() > 900.0);
    assert_eq!(f.facts["geo_database"]["sha256"], sha256_of(&city_path()));
    assert_eq!(f.facts["geo_database"]["database_type"], "irpack-Test-City");
    assert!(f.rationale.contains("MaxMind database"), "{}", f.rationale);
    assert!(
        f.rationale.contains("MaxMind accuracy radius"),
        "{}",
        f.rationale
    );
    assert!(
        f.rationale.contains(&sha256_of(&city_path())[..12]),
        "{}",
        f.rationale
    );
    let usage = with.geo_database.as_ref().unwrap();
    assert_eq!((usage.city_lookups, usage.city_found), (2, 2));
    assert_eq!(usage.lookup_errors, 0);
}

#[test]
fn new_country_and_asn_baseline_from_the_database() {
    // 20 days of IP-only sign-ins from the Berlin block, then one from Lagos in the window.
    let u = "bob@x.com";
    let mut ev = Vec::new();
    for d in 1..=20 {
        let when = t("2024-05-20T09:00:00Z") - Duration::days(d);
        ev.push(signin(when, u, BERLIN_IP, "radius_detail"));
    }
    ev.push(signin(
        t("2024-05-22T09:00:00Z"),
        u,
        LAGOS_IP,
        "radius_detail",
    ));
    // A new /24 inside the baseline's ASN (6724): a new network, but the same provider.
    ev.push(signin(
        t("2024-05-22T12:00:00Z"),
        u,
        "85.214.99.1",
        "radius_detail",
    ));

    let without = analyze(&ev, &case());
    assert!(by_rule(&without, rules::NEW_COUNTRY).is_empty());
    assert!(without.baselines.iter().all(|b| b.countries.is_empty()));

    let with = analyze_with(&ev, &case(), Some(&db()));
    let nc = by_rule(&with, rules::NEW_COUNTRY);
    assert_eq!(nc.len(), 1, "{:#?}", with.findings);
    assert_eq!(nc[0].facts["country"], "NG");
    assert_eq!(nc[0].facts["country_from_database"], 1);
    assert!(nc[0].rationale.contains("MaxMind database"));
    let b = with.baselines.iter().find(|b| b.user == u).unwrap();
    assert_eq!(b.countries, vec!["DE"]);
    assert_eq!(b.asns, vec![6724]);
    let new_ip = by_rule(&with, rules::NEW_IP);
    let same_isp = new_ip
        .iter()
        .find(|f| f.facts["prefix"] == "85.214.99.0/24")
        .expect("new prefix in the baseline's ASN");
    assert_eq!(same_isp.severity, Severity::Low);
    assert_eq!(same_isp.facts["asns"], json!([6724]));
}

// ------------------------------------------------------------------------------------------
// Bad databases

#[test]
fn bad_database_paths_are_errors_naming_the_path() {
    let missing = Path::new("/nonexistent/irpack/GeoLite2-City.mmdb");
    let e = GeoIp::open(Some(missing), None).unwrap_err();
    assert!(matches!(e, GeoIpError::Io { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("/nonexistent/irpack/GeoLite2-City.mmdb")
            && msg.contains("cannot read MaxMind database"),
        "{msg}"
    );

    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("not-a-db.mmdb");
    std::fs::write(&text, "this is not a MaxMind database\n").unwrap();
    let e = GeoIp::open(None, Some(&text)).unwrap_err();
    assert!(matches!(e, GeoIpError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains(&text.display().to_string()), "{e}");

    // A damaged copy: the tree and data cut away, the metadata kept.
    let good = std::fs::read(city_path()).unwrap();
    let marker = b"\xab\xcd\xefMaxMind.com";
    let at = good
        .windows(marker.len())
        .rposition(|w| w == marker)
        .unwrap();
    let mut damaged = good[..at / 2].to_vec();
    damaged.extend_from_slice(&good[at..]);
    let cut = dir.path().join("damaged.mmdb");
    std::fs::write(&cut, &damaged).unwrap();
    let e = GeoIp::open(Some(&cut), None).unwrap_err();
    assert!(matches!(e, GeoIpError::Invalid { .. }), "{e}");
    assert!(e.to_string().contains("damaged.mmdb"), "{e}");

    // The ASN database given as the city database (and the reverse).
    let e = GeoIp::open(Some(&asn_path()), None).unwrap_err();
    assert!(matches!(e, GeoIpError::WrongKind { .. }), "{e}");
    assert!(
        e.to_string().contains("irpack-test-asn.mmdb")
            && e.to_string().contains("not a City or Country database"),
        "{e}"
    );
    let e = GeoIp::open(None, Some(&city_path())).unwrap_err();
    assert!(e.to_string().contains("not an ASN database"), "{e}");

    assert!(GeoIp::open(None, None).unwrap().is_none());
}

#[test]
fn cli_refuses_a_missing_database_before_collecting() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "nothing a parser knows\n").unwrap();
    let out = dir.path().join("case");
    let missing = dir.path().join("no-such-GeoLite2-City.mmdb");
    let r = Command::new(env!("CARGO_BIN_EXE_irpack"))
        .args(["run", "-q", "--no-package", "--out"])
        .arg(&out)
        .arg("--geoip-db")
        .arg(&missing)
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("no-such-GeoLite2-City.mmdb"), "{err}");
    assert!(
        !out.exists(),
        "nothing collected before the database was checked"
    );

    // collect does not analyze, so it refuses the flag instead of ignoring it.
    let r = Command::new(env!("CARGO_BIN_EXE_irpack"))
        .args(["collect", "-q", "--out"])
        .arg(&out)
        .arg("--asn-db")
        .arg(asn_path())
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("irpack analyze"));
}

// ------------------------------------------------------------------------------------------
// The case file's [geo] table

#[test]
fn case_file_geo_table() {
    let c = CaseFile::parse(
        "case_id = \"IR-1\"\n[geo]\ncity_db = \"/srv/geoip/GeoLite2-City.mmdb\"\nasn_db = \"asn.mmdb\"\n",
        "case.toml",
    )
    .unwrap();
    assert_eq!(
        c.geo.city_db.as_deref(),
        Some("/srv/geoip/GeoLite2-City.mmdb")
    );
    assert_eq!(c.geo.asn_db.as_deref(), Some("asn.mmdb"));

    let bad: &[(&str, usize, &[&str])] = &[
        (
            "case_id = \"IR-1\"\n[geo]\ncity = \"x.mmdb\"\n",
            3,
            &["key `geo.city`", "unknown field `city`", "city_db"],
        ),
        (
            "case_id = \"IR-1\"\n\n[geo]\nasn_db = \"\"\n",
            4,
            &[
                "key `geo.asn_db`",
                "expected the path of a MaxMind database",
            ],
        ),
        (
            "case_id = \"IR-1\"\n[geo]\ncity_db = 5\n",
            3,
            &["key `geo.city_db`", "expected a string"],
        ),
    ];
    for (text, line, needles) in bad {
        let e = CaseFile::parse(text, "case.toml").unwrap_err().to_string();
        assert!(e.contains(&format!("line {line},")), "line {line} in {e}");
        for n in *needles {
            assert!(e.contains(n), "expected {n:?} in {e:?}");
        }
    }

    // Without the table nothing is serialized, so collected.json is as before.
    let json = serde_json::to_value(CaseFile::minimal("IR-1")).unwrap();
    assert!(json.get("geo").is_none());
    // A case read back from collected.json keeps the table.
    let back: CaseFile = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn case_file_paths_resolve_against_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("cases");
    std::fs::create_dir_all(&sub).unwrap();
    let path = sub.join("case.toml");
    std::fs::write(
        &path,
        format!(
            "case_id = \"IR-1\"\n[geo]\ncity_db = \"geoip/city.mmdb\"\nasn_db = \"{}\"\n",
            asn_path().display()
        ),
    )
    .unwrap();
    let c = CaseFile::load(&path).unwrap();
    assert_eq!(
        PathBuf::from(c.geo.city_db.unwrap()),
        sub.join("geoip/city.mmdb")
    );
    assert_eq!(PathBuf::from(c.geo.asn_db.unwrap()), asn_path());
}

#[test]
fn flags_win_over_the_case_file() {
    let mut c = case();
    c.geo.city_db = Some("/nonexistent/from-case.mmdb".into());
    c.geo.asn_db = Some(asn_path().display().to_string());
    // The case's city database is missing: an error naming it ...
    let e = GeoIp::for_case(&c, None, None).unwrap_err().to_string();
    assert!(e.contains("/nonexistent/from-case.mmdb"), "{e}");
    // ... unless the flag replaces it.
    let g = GeoIp::for_case(&c, Some(&city_path()), None)
        .unwrap()
        .unwrap();
    let types: Vec<&str> = g
        .databases()
        .iter()
        .map(|d| d.database_type.as_str())
        .collect();
    assert_eq!(types, vec!["irpack-Test-City", "irpack-Test-ASN"]);
}

// ------------------------------------------------------------------------------------------
// Traceability: custody log, analysis.json, report

/// A collected case built by hand (no parsing): two IP-only sign-ins in a fresh case folder.
fn collected_case(dir: &Path, case: CaseFile) -> RunOutput {
    std::fs::create_dir_all(dir).unwrap();
    RunOutput {
        collected: Collected {
            case,
            items: vec![],
            files: vec![],
            rejected: vec![],
            intake_problems: vec![],
            zone_notes: vec![],
            duplicates_merged: 0,
        },
        events: ip_only_hop("alice@x.com"),
        flows: Default::default(),
        positions: Vec::new(),
        timeline_head: "0".repeat(64),
        case_dir: dir.to_path_buf(),
        written: Default::default(),
        line_starts: Vec::new(),
        hashes: Default::default(),
    }
}

fn opts(dir: &Path, case: &CaseFile, geoip: Option<Arc<GeoIp>>) -> RunOptions {
    RunOptions {
        out: dir.to_path_buf(),
        case: case.clone(),
        now: Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap(),
        examiner: Some("tester".into()),
        quiet: true,
        geoip,
        ..Default::default()
    }
}

#[test]
fn custody_analysis_and_report_record_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case");
    let mut out = collected_case(&dir, case());
    let o = opts(&dir, &out.collected.case, Some(Arc::new(db())));
    let concl = pipeline::analyze(&mut out, &o).unwrap();
    assert_eq!(by_rule(&concl.analysis, rules::IMPOSSIBLE_TRAVEL).len(), 1);

    let entries = irpack::evidence::custody::read_and_verify(&dir.join("custody.jsonl")).unwrap();
    let geo: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "geo_database")
        .collect();
    assert_eq!(geo.len(), 2);
    let city = &geo[0].details;
    assert_eq!(city["role"], "city");
    assert_eq!(city["sha256"], sha256_of(&city_path()));
    assert_eq!(city["path"], city_path().display().to_string());
    assert_eq!(city["size"], std::fs::metadata(city_path()).unwrap().len());
    assert_eq!(city["database_type"], "irpack-Test-City");
    assert_eq!(city["build_epoch"], FIXTURE_BUILD_EPOCH);
    assert_eq!(geo[1].details["sha256"], sha256_of(&asn_path()));
    // Recorded with the analysis they changed, before its "analyzed" entry.
    let analyzed = entries.iter().position(|e| e.action == "analyzed").unwrap();
    assert!(
        entries
            .iter()
            .position(|e| e.action == "geo_database")
            .unwrap()
            < analyzed
    );

    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("analysis/analysis.json")).unwrap())
            .unwrap();
    assert_eq!(
        written["geo_database"]["databases"][0]["sha256"],
        sha256_of(&city_path())
    );

    pipeline::report_and_package(
        &mut out,
        &concl,
        &o,
        &irpack::package::PackageOptions {
            no_package: true,
            ..Default::default()
        },
    )
    .unwrap();
    let md = std::fs::read_to_string(dir.join("report/report.md")).unwrap();
    assert!(md.contains("## Geolocation assumptions"), "{md}");
    assert!(md.contains(&sha256_of(&city_path())));
    assert!(md.contains(&sha256_of(&asn_path())));
    assert!(md.contains("The log's own location wins over the database"));
    assert!(md.contains("2024-05-01T00:00:00Z"));
    assert!(md.contains("MaxMind database"));
}

#[test]
fn without_a_database_nothing_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("case");
    let mut out = collected_case(&dir, case());
    let o = opts(&dir, &out.collected.case, None);
    let concl = pipeline::analyze(&mut out, &o).unwrap();
    assert!(by_rule(&concl.analysis, rules::IMPOSSIBLE_TRAVEL).is_empty());
    let entries = irpack::evidence::custody::read_and_verify(&dir.join("custody.jsonl")).unwrap();
    assert!(entries.iter().all(|e| e.action != "geo_database"));
    let text = std::fs::read_to_string(dir.join("analysis/analysis.json")).unwrap();
    assert!(!text.contains("geo_database"));
    pipeline::report_and_package(
        &mut out,
        &concl,
        &o,
        &irpack::package::PackageOptions {
            no_package: true,
            ..Default::default()
        },
    )
    .unwrap();
    let md = std::fs::read_to_string(dir.join("report/report.md")).unwrap();
    assert!(!md.contains("Geolocation assumptions"));
}

#[test]
fn pipeline_opens_the_case_files_databases_and_reports_a_missing_one() {
    let tmp = tempfile::tempdir().unwrap();
    // Named by the case file only (no preloaded database): the pipeline opens it.
    let dir = tmp.path().join("ok");
    let mut c = case();
    c.geo.city_db = Some(city_path().display().to_string());
    let mut out = collected_case(&dir, c.clone());
    let concl = pipeline::analyze(&mut out, &opts(&dir, &c, None)).unwrap();
    assert_eq!(by_rule(&concl.analysis, rules::IMPOSSIBLE_TRAVEL).len(), 1);

    let dir = tmp.path().join("missing");
    c.geo.city_db = Some("/nonexistent/case-named.mmdb".into());
    let mut out = collected_case(&dir, c.clone());
    let e = pipeline::analyze(&mut out, &opts(&dir, &c, None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/case-named.mmdb"), "{e}");
}

#[test]
fn end_to_end_cli_with_graph_sign_ins_without_location() {
    // Two Entra sign-ins (Graph JSON) that carry an IP and no location at all.
    let dir = tempfile::tempdir().unwrap();
    let rec = |id: &str, at: &str, ip: &str| {
        json!({
            "id": id, "createdDateTime": at, "userPrincipalName": "carol@contoso.example",
            "userDisplayName": "Carol", "appDisplayName": "OfficeHome", "ipAddress": ip,
            "clientAppUsed": "Browser", "isInteractive": true,
            "status": { "errorCode": 0 },
        })
    };
    let page = json!({ "value": [
        rec("11111111-1111-4111-8111-111111111111", "2024-05-21T10:00:00Z", BERLIN_IP),
        rec("22222222-2222-4222-8222-222222222222", "2024-05-21T10:45:00Z", LAGOS_IP),
    ]});
    let input = dir.path().join("signins.json");
    std::fs::write(&input, serde_json::to_string(&page).unwrap()).unwrap();
    let case_path = dir.path().join("case.toml");
    std::fs::write(
        &case_path,
        "case_id = \"IR-GEO-E2E\"\n[alert]\nwindow_start = 2024-05-20T00:00:00Z\nwindow_end = 2024-05-27T00:00:00Z\n",
    )
    .unwrap();
    let run = |out: &Path, geo: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_irpack"));
        cmd.args(["run", "-q", "--no-package", "--now", "2024-06-01T12:00:00Z"])
            .arg("--case")
            .arg(&case_path)
            .arg("--out")
            .arg(out);
        if geo {
            cmd.arg("--geoip-db")
                .arg(city_path())
                .arg("--asn-db")
                .arg(asn_path());
        }
        let r = cmd.arg(&input).output().unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        std::fs::read_to_string(out.join("analysis/findings.json")).unwrap()
    };
    let with = run(&dir.path().join("with"), true);
    let without = run(&dir.path().join("without"), false);
    assert!(with.contains(rules::IMPOSSIBLE_TRAVEL), "{with}");
    assert!(with.contains("MaxMind database"));
    assert!(!without.contains(rules::IMPOSSIBLE_TRAVEL), "{without}");
    let custody = std::fs::read_to_string(dir.path().join("with").join("custody.jsonl")).unwrap();
    assert!(custody.contains(&sha256_of(&city_path())));
}
