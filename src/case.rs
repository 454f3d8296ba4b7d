//! The case file (`case.toml`): what the analyst knows that the logs do not. Everything is
//! optional except the case id; a missing fact is reported as unknown, never guessed.
//! Mirrored in `schemas/case.schema.json`; `samples/case.example.toml` documents every key.
//!
//! Values are checked while they are read (see [`check`]), so a bad value is reported with the
//! line it is on, the key it belongs to and what was expected.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{path}: cannot read case file: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    #[serde(deserialize_with = "check::case_id")]
    pub case_id: String,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub examiner: Option<String>,
    #[serde(default)]
    pub alert: Option<Alert>,
    /// When the organisation became aware: the start of every regulatory clock.
    #[serde(default, deserialize_with = "check::opt_time")]
    pub aware_at: Option<DateTime<Utc>>,
    /// IANA zone per source id for formats that carry none (`fortigate = "Europe/Berlin"`).
    #[serde(default, deserialize_with = "check::zones")]
    pub time_zones: BTreeMap<String, String>,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub ioc: Iocs,
    #[serde(default)]
    pub travel: Vec<Travel>,
    #[serde(default)]
    pub privileged: Privileged,
    #[serde(default)]
    pub data: DataClassification,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Who the notification draft is for and when the next update is promised.
    #[serde(default)]
    pub report: ReportPrefs,
    /// Optional MaxMind-format databases for IP geolocation (absent: log locations and the
    /// bundled gazetteer only).
    #[serde(default, skip_serializing_if = "GeoDatabases::is_empty")]
    pub geo: GeoDatabases,
}

/// `[geo]`: MaxMind-format (.mmdb) databases by path. [`CaseFile::load`] resolves relative
/// paths against the case file's folder; `--geoip-db` / `--asn-db` win over these.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeoDatabases {
    /// GeoIP2/GeoLite2 City or Country database: positions (and countries) by IP.
    #[serde(default, deserialize_with = "check::opt_db_path")]
    pub city_db: Option<String>,
    /// GeoLite2 ASN (or GeoIP2 ISP) database: autonomous-system numbers by IP.
    #[serde(default, deserialize_with = "check::opt_db_path")]
    pub asn_db: Option<String>,
}

impl GeoDatabases {
    pub fn is_empty(&self) -> bool {
        self.city_db.is_none() && self.asn_db.is_none()
    }

    /// Make relative paths absolute against `dir`, so they still hold when the case is
    /// re-analysed later from its collection record and another working directory.
    fn resolve_against(&mut self, dir: &Path) {
        for p in [&mut self.city_db, &mut self.asn_db].into_iter().flatten() {
            if Path::new(p.as_str()).is_relative() {
                *p = dir.join(p.as_str()).display().to_string();
            }
        }
    }
}

/// Report preferences; absent values fall back to "CISO" and 24 hours.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportPrefs {
    /// Addressee of the notification draft (e.g. "Jane Roe, CISO, Contoso").
    #[serde(default)]
    pub recipient: Option<String>,
    /// Hours from the report's clock to the next promised update (default 24).
    #[serde(default)]
    pub next_update_hours: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alert {
    /// `leakedCredentials`, `impossibleTravel`, `mfaFatigue`, `passwordSpray`, ...
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default, deserialize_with = "check::opt_time")]
    pub time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Start and end of the window under investigation; defaults derive from the evidence.
    #[serde(default, deserialize_with = "check::opt_time")]
    pub window_start: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "check::opt_time")]
    pub window_end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Corporate egress IPs or CIDRs: sign-ins from here are explained, not flagged.
    #[serde(default, deserialize_with = "check::nets")]
    pub corporate_egress: Vec<String>,
    /// VPN ranges (client pools and VPN concentrator egress).
    #[serde(default, deserialize_with = "check::nets")]
    pub vpn_ranges: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iocs {
    #[serde(default, deserialize_with = "check::ips")]
    pub ips: Vec<String>,
    #[serde(default, deserialize_with = "check::nets")]
    pub cidrs: Vec<String>,
    #[serde(default)]
    pub user_agents: Vec<String>,
    #[serde(default)]
    pub app_ids: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
}

/// A trip on record: sign-ins from `country` between `from` and `to` are expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "check::TravelRaw")]
pub struct Travel {
    pub user: String,
    /// ISO 3166-1 alpha-2, as the sign-in logs give it.
    pub country: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Privileged {
    #[serde(default)]
    pub users: Vec<String>,
    /// Role names that make a user privileged when seen in role-membership events.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Which identities and stores hold which regulated data, and what the organisation is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataClassification {
    /// Rules mapping users, sites, mailboxes or apps to data categories.
    #[serde(default)]
    pub assets: Vec<DataAsset>,
    #[serde(default)]
    pub sec_registrant: Option<bool>,
    #[serde(default)]
    pub nis2_entity: Option<bool>,
    #[serde(default)]
    pub dora_financial_entity: Option<bool>,
    #[serde(default)]
    pub us_federal_agency: Option<bool>,
    /// People whose data may be affected, when known (HIPAA 500-person rule).
    #[serde(default)]
    pub affected_individuals: Option<u64>,
    /// When the registrant determined the incident material (starts the SEC 8-K clock).
    #[serde(default, deserialize_with = "check::opt_time")]
    pub sec_materiality_determined_at: Option<DateTime<Utc>>,
    /// When the incident was classified as major under DORA (starts its 4-hour clock).
    #[serde(default, deserialize_with = "check::opt_time")]
    pub dora_major_classified_at: Option<DateTime<Utc>>,
    /// Card brands whose cards are processed (`visa`, `mastercard`, `amex`, `discover`, `jcb`);
    /// empty = unknown, and the report lists Visa's and Mastercard's clocks.
    #[serde(default, deserialize_with = "check::card_brands")]
    pub card_brands: Vec<String>,
}

/// Data categories an asset can hold (`none` says, explicitly, that it holds no regulated data).
pub const DATA_CATEGORIES: &[&str] = &[
    "eu_personal_data",
    "phi",
    "cardholder_data",
    "us_federal_data",
    "none",
];
pub const ASSET_KINDS: &[&str] = &["user", "site", "mailbox", "app"];
pub const CARD_BRANDS: &[&str] = &["visa", "mastercard", "amex", "discover", "jcb"];

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataAsset {
    /// `user`, `site`, `mailbox` or `app`.
    #[serde(deserialize_with = "check::asset_kind")]
    pub kind: String,
    /// UPN, site URL prefix, mailbox address or app id; `*` matches every user or mailbox.
    pub id: String,
    /// `eu_personal_data`, `phi`, `cardholder_data`, `us_federal_data`, `none`.
    #[serde(deserialize_with = "check::categories")]
    pub categories: Vec<String>,
}

/// Detection thresholds; defaults are documented in `samples/case.example.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    #[serde(deserialize_with = "check::positive_f64")]
    pub travel_speed_kmh: f64,
    #[serde(deserialize_with = "check::non_negative_f64")]
    pub geo_error_km: f64,
    #[serde(deserialize_with = "check::positive_i64")]
    pub baseline_days: i64,
    #[serde(deserialize_with = "check::non_negative_i64")]
    pub min_baseline_days: i64,
    #[serde(deserialize_with = "check::positive_usize")]
    pub failures_before_success: usize,
    #[serde(deserialize_with = "check::positive_i64")]
    pub failure_window_minutes: i64,
    #[serde(deserialize_with = "check::positive_usize")]
    pub spray_min_users: usize,
    #[serde(deserialize_with = "check::positive_usize")]
    pub spray_max_failures_per_user: usize,
    #[serde(deserialize_with = "check::positive_usize")]
    pub brute_force_failures: usize,
    #[serde(deserialize_with = "check::positive_u64")]
    pub bulk_download_per_hour: u64,
    #[serde(deserialize_with = "check::positive_u64")]
    pub bulk_mail_items_per_hour: u64,
    #[serde(deserialize_with = "check::positive_f64")]
    pub bulk_factor: f64,
    #[serde(deserialize_with = "check::positive_usize")]
    pub pivot_min_users: usize,
    /// A leaked credential this many days older than its detection counts as an old leak
    /// (RB-0003: "Benign True Positive — old leak, password rotated, MFA in place").
    #[serde(deserialize_with = "check::non_negative_i64")]
    pub old_leak_days: i64,
    /// Days to watch an account after containment (RB-0003: "monitor for 7 days").
    #[serde(deserialize_with = "check::positive_i64")]
    pub monitor_days: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            travel_speed_kmh: 900.0,
            geo_error_km: 100.0,
            baseline_days: 30,
            min_baseline_days: 7,
            failures_before_success: 5,
            failure_window_minutes: 60,
            spray_min_users: 5,
            spray_max_failures_per_user: 3,
            brute_force_failures: 20,
            bulk_download_per_hour: 50,
            bulk_mail_items_per_hour: 500,
            bulk_factor: 5.0,
            pivot_min_users: 2,
            old_leak_days: 30,
            monitor_days: 7,
        }
    }
}

impl CaseFile {
    /// A case with only an id, for runs without a case file.
    pub fn minimal(case_id: &str) -> Self {
        CaseFile {
            case_id: case_id.to_string(),
            ..CaseFile::default()
        }
    }

    pub fn load(path: &Path) -> Result<Self, CaseError> {
        let text = std::fs::read_to_string(path).map_err(|source| CaseError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let mut case = Self::parse(&text, &path.display().to_string())?;
        // `absolute` does not touch the file system; the path was just read, so it has a parent.
        let dir = std::path::absolute(path)
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or_default();
        case.geo.resolve_against(&dir);
        Ok(case)
    }

    /// Parse and check; errors name the line, the key and what was expected.
    pub fn parse(text: &str, path: &str) -> Result<Self, CaseError> {
        let case: CaseFile = toml::from_str(text).map_err(|e| CaseError::Invalid {
            path: path.to_string(),
            message: locate::describe(text, e.span().map(|s| s.start), e.message()),
        })?;
        case.check(text).map_err(|message| CaseError::Invalid {
            path: path.to_string(),
            message,
        })?;
        Ok(case)
    }

    /// Checks that span several keys (each single value is checked while it is read).
    fn check(&self, text: &str) -> Result<(), String> {
        let t = &self.thresholds;
        if t.min_baseline_days > t.baseline_days {
            return Err(locate::at_key(
                text,
                "thresholds",
                "min_baseline_days",
                &format!(
                    "expected at most baseline_days ({}), found {}",
                    t.baseline_days, t.min_baseline_days
                ),
            ));
        }
        if let Some(a) = &self.alert {
            if let (Some(s), Some(e)) = (a.window_start, a.window_end) {
                if e < s {
                    return Err(locate::at_key(
                        text,
                        "alert",
                        "window_end",
                        "expected a time after alert.window_start",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// An IP or CIDR as a network (a bare IP is a /32 or /128).
pub fn parse_net(s: &str) -> Option<ipnet::IpNet> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .ok()
        .or_else(|| s.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}

/// Parse an RFC 3339 time with zone (`2025-05-24T08:00:00Z`, `...+02:00`).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Value checks run while deserializing, so toml attaches the value's position to the error.
mod check {
    use super::*;
    use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
    use std::fmt;

    const TIME_HINT: &str = "an RFC 3339 date-time with a zone, e.g. 2025-05-24T08:00:00Z";

    pub fn case_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom("expected a non-empty case id"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(de::Error::custom(format!(
                "expected only letters, digits, '-', '_' and '.' (the case id names the package), found {s:?}"
            )));
        }
        Ok(s)
    }

    /// A time as a TOML date-time (`2025-05-24T08:00:00Z`) or an RFC 3339 string.
    struct Time(DateTime<Utc>);

    impl<'de> Deserialize<'de> for Time {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = DateTime<Utc>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str(TIME_HINT)
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
                    parse_time(s)
                        .ok_or_else(|| E::custom(format!("expected {TIME_HINT}, found {s:?}")))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                    // A native TOML date-time arrives as toml's private one-key map.
                    let dt = toml::value::Datetime::deserialize(
                        de::value::MapAccessDeserializer::new(map),
                    )?;
                    let s = dt.to_string();
                    if dt.offset.is_none() {
                        return Err(de::Error::custom(format!(
                            "expected {TIME_HINT}, found {s} without a zone (add Z or an offset)"
                        )));
                    }
                    parse_time(&s).ok_or_else(|| {
                        de::Error::custom(format!("expected {TIME_HINT}, found {s}"))
                    })
                }
            }
            d.deserialize_any(V).map(Time)
        }
    }

    pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        // TOML has no null, but a case file read back from JSON (collected.json) does.
        Option::<Time>::deserialize(d).map(|t| t.map(|t| t.0))
    }

    /// Deserialize a list whose items are each checked by `T` (so errors point at the item).
    fn list<'de, D, T>(d: D, what: &'static str) -> Result<Vec<String>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de> + Into<String>,
    {
        struct V<T>(&'static str, std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Into<String>> Visitor<'de> for V<T> {
            type Value = Vec<String>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a list of {}", self.0)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<T>()? {
                    out.push(v.into());
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V::<T>(what, std::marker::PhantomData))
    }

    /// A string item checked by a function; the message says what was expected.
    macro_rules! checked_str {
        ($name:ident, $check:expr) => {
            struct $name(String);
            impl From<$name> for String {
                fn from(v: $name) -> String {
                    v.0
                }
            }
            impl<'de> Deserialize<'de> for $name {
                fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                    // Checked inside the visitor, so the error is raised while toml still
                    // knows the item's position (a list item, not the whole list).
                    struct V;
                    impl<'de> Visitor<'de> for V {
                        type Value = String;
                        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                            f.write_str("a string")
                        }
                        fn visit_str<E: de::Error>(self, s: &str) -> Result<String, E> {
                            let check: fn(&str) -> Result<(), String> = $check;
                            check(s).map_err(E::custom)?;
                            Ok(s.to_string())
                        }
                    }
                    d.deserialize_string(V).map($name)
                }
            }
        };
    }

    checked_str!(Net, |s| match parse_net(s) {
        Some(_) => Ok(()),
        None => Err(format!(
            "expected an IP address or CIDR (e.g. 203.0.113.0/24), found {s:?}"
        )),
    });
    checked_str!(Ip, |s| match s.trim().parse::<std::net::IpAddr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "expected an IP address (e.g. 203.0.113.7), found {s:?}"
        )),
    });
    checked_str!(DbPath, |s| if s.trim().is_empty() {
        Err("expected the path of a MaxMind database file (.mmdb), found an empty string".into())
    } else {
        Ok(())
    });
    checked_str!(Zone, |s| match s.parse::<chrono_tz::Tz>() {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "expected an IANA time zone (e.g. \"Europe/Berlin\"), found {s:?}"
        )),
    });
    checked_str!(Category, |s| if DATA_CATEGORIES.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "expected one of {}, found {s:?}",
            DATA_CATEGORIES.join(", ")
        ))
    });
    checked_str!(Brand, |s| if CARD_BRANDS.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "expected one of {}, found {s:?}",
            CARD_BRANDS.join(", ")
        ))
    });
    checked_str!(Kind, |s| if ASSET_KINDS.contains(&s) {
        Ok(())
    } else {
        Err(format!(
            "expected one of {}, found {s:?}",
            ASSET_KINDS.join(", ")
        ))
    });

    pub fn nets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        list::<D, Net>(d, "IP addresses or CIDRs")
    }
    pub fn opt_db_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        // `null` comes only from a case read back from JSON (collected.json).
        Option::<DbPath>::deserialize(d).map(|p| p.map(String::from))
    }
    pub fn ips<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        list::<D, Ip>(d, "IP addresses")
    }
    pub fn categories<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        let v = list::<D, Category>(d, "data categories")?;
        if v.is_empty() {
            return Err(de::Error::custom(format!(
                "expected at least one of {}",
                DATA_CATEGORIES.join(", ")
            )));
        }
        Ok(v)
    }
    pub fn card_brands<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        list::<D, Brand>(d, "card brands")
    }
    pub fn asset_kind<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Kind::deserialize(d).map(|k| k.0)
    }

    pub fn zones<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BTreeMap<String, String>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of source id = IANA time zone")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((k, v)) = map.next_entry::<String, Zone>()? {
                    out.insert(k, v.0);
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }

    macro_rules! bounded {
        ($name:ident, $t:ty, $ok:expr, $what:literal) => {
            pub fn $name<'de, D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
                let v = <$t>::deserialize(d)?;
                let ok: fn($t) -> bool = $ok;
                if ok(v) {
                    Ok(v)
                } else {
                    Err(de::Error::custom(format!(
                        concat!("expected ", $what, ", found {}"),
                        v
                    )))
                }
            }
        };
    }
    bounded!(
        positive_f64,
        f64,
        |v| v.is_finite() && v > 0.0,
        "a number above 0"
    );
    bounded!(
        non_negative_f64,
        f64,
        |v| v.is_finite() && v >= 0.0,
        "a number of 0 or more"
    );
    bounded!(positive_i64, i64, |v| v > 0, "a whole number above 0");
    bounded!(
        non_negative_i64,
        i64,
        |v| v >= 0,
        "a whole number of 0 or more"
    );
    bounded!(positive_usize, usize, |v| v > 0, "a whole number above 0");
    bounded!(positive_u64, u64, |v| v > 0, "a whole number above 0");

    /// `[[travel]]` as written; checked into a [`Travel`].
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct TravelRaw {
        user: String,
        country: String,
        from: Time,
        to: Time,
        #[serde(default)]
        note: Option<String>,
    }

    impl TryFrom<TravelRaw> for Travel {
        type Error = String;
        fn try_from(r: TravelRaw) -> Result<Self, String> {
            if r.user.trim().is_empty() {
                return Err("key `user`: expected the traveller's UPN".into());
            }
            if r.country.len() != 2 || !r.country.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(format!(
                    "key `country`: expected an ISO 3166-1 alpha-2 code such as \"FR\", found {:?}",
                    r.country
                ));
            }
            if r.to.0 < r.from.0 {
                return Err(format!(
                    "key `to`: expected a time after `from` ({}), found {}",
                    r.from.0.to_rfc3339(),
                    r.to.0.to_rfc3339()
                ));
            }
            Ok(Travel {
                user: r.user,
                country: r.country,
                from: r.from.0,
                to: r.to.0,
                note: r.note,
            })
        }
    }
}

/// Turning a byte offset into "line N, key `a.b`" for error messages.
mod locate {
    /// `line L, column C, key `path`: message`, with as much as can be told.
    pub fn describe(text: &str, offset: Option<usize>, message: &str) -> String {
        let Some(mut offset) = offset.map(|o| floor_char(text, o.min(text.len()))) else {
            return message.to_string();
        };
        // A check on a whole table names the key inside it (`key `to`: ...`): point at it.
        let mut message = message;
        let mut sub_key = None;
        if let Some(rest) = message.strip_prefix("key `") {
            if let Some((k, m)) = rest.split_once("`: ") {
                sub_key = Some(k.to_string());
                message = m;
                if let Some(o) = key_line_after(text, offset, k) {
                    offset = o;
                }
            }
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
        let mut key = match &sub_key {
            Some(k) => join(&table_at(text, offset), k),
            None => key_at(text, offset),
        };
        // serde names the offending key itself for unknown and missing fields.
        for marker in ["unknown field `", "missing field `"] {
            if let Some(i) = message.find(marker) {
                let rest = &message[i + marker.len()..];
                if let Some(end) = rest.find('`') {
                    let field = &rest[..end];
                    if !key.ends_with(field) {
                        key = join(&table_at(text, offset), field);
                    }
                }
            }
        }
        if key.is_empty() {
            format!("line {line}, column {col}: {message}")
        } else {
            format!("line {line}, column {col}, key `{key}`: {message}")
        }
    }

    /// Offset of the line assigning `key` at or after `offset`, before the next table header.
    fn key_line_after(text: &str, offset: usize, key: &str) -> Option<usize> {
        let start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
        let mut pos = start;
        let mut first = true;
        for l in text[start..].split_inclusive('\n') {
            let t = strip_comment(l).trim();
            if !first && header(t).is_some() {
                return None;
            }
            first = false;
            if assigned_key(t).as_deref() == Some(key) {
                return Some(pos + (l.len() - l.trim_start().len()));
            }
            // Inline tables: `{ user = .., to = .. }` on one line.
            if let Some(i) = t.find(&format!("{key} =")) {
                if t.starts_with('{') || t.contains(", ") {
                    return Some(pos + (l.len() - l.trim_start().len()) + i);
                }
            }
            pos += l.len();
        }
        None
    }

    /// For checks after reading: the first `key =` line under `[table]`.
    pub fn at_key(text: &str, table: &str, key: &str, message: &str) -> String {
        let mut current = String::new();
        let mut offset = 0;
        for l in text.split_inclusive('\n') {
            let t = strip_comment(l).trim();
            if let Some(h) = header(t) {
                current = h.0;
            } else if current == table && assigned_key(t).as_deref() == Some(key) {
                let line = text[..offset].matches('\n').count() + 1;
                return format!("line {line}, key `{table}.{key}`: {message}");
            }
            offset += l.len();
        }
        format!("key `{table}.{key}`: {message}")
    }

    fn floor_char(s: &str, mut i: usize) -> usize {
        while i > 0 && !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    fn join(a: &str, b: &str) -> String {
        match (a.is_empty(), b.is_empty()) {
            (true, _) => b.to_string(),
            (_, true) => a.to_string(),
            _ => format!("{a}.{b}"),
        }
    }

    fn strip_comment(l: &str) -> &str {
        let mut in_str: Option<char> = None;
        for (i, c) in l.char_indices() {
            match (in_str, c) {
                (None, '"' | '\'') => in_str = Some(c),
                (Some(q), c) if c == q => in_str = None,
                (None, '#') => return &l[..i],
                _ => {}
            }
        }
        l
    }

    /// `[a.b]` → ("a.b", false); `[[a]]` → ("a", true).
    fn header(t: &str) -> Option<(String, bool)> {
        if let Some(inner) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            return Some((inner.trim().replace(['"', ' '], ""), true));
        }
        let inner = t.strip_prefix('[')?.strip_suffix(']')?;
        if inner.contains('=') || inner.contains(',') {
            return None;
        }
        Some((inner.trim().replace(['"', ' '], ""), false))
    }

    fn assigned_key(t: &str) -> Option<String> {
        let (k, _) = t.split_once('=')?;
        let k = k.trim();
        let ok = !k.is_empty()
            && k.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | ' '));
        ok.then(|| k.replace(['"', ' '], ""))
    }

    /// Bracket depth change of a line, outside strings (multi-line arrays).
    fn depth_delta(t: &str) -> i32 {
        let mut in_str: Option<char> = None;
        let mut d = 0;
        for c in t.chars() {
            match (in_str, c) {
                (None, '"' | '\'') => in_str = Some(c),
                (Some(q), c) if c == q => in_str = None,
                (None, '[' | '{') => d += 1,
                (None, ']' | '}') => d -= 1,
                _ => {}
            }
        }
        d
    }

    /// The table (with `[n]` for arrays of tables) the offset lies in.
    fn table_at(text: &str, offset: usize) -> String {
        scan(text, offset).0
    }

    fn key_at(text: &str, offset: usize) -> String {
        let (table, key) = scan(text, offset);
        join(&table, &key)
    }

    /// Walk the lines up to the offset: current table and the last key assigned in it.
    fn scan(text: &str, offset: usize) -> (String, String) {
        let mut table = String::new();
        let mut key = String::new();
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        let mut depth = 0;
        let mut pos = 0;
        for l in text.split_inclusive('\n') {
            if pos > offset {
                break;
            }
            let t = strip_comment(l).trim();
            if depth == 0 {
                if let Some((h, array)) = header(t) {
                    table = if array {
                        let n = counts.entry(h.clone()).or_default();
                        *n += 1;
                        format!("{h}[{}]", *n - 1)
                    } else {
                        h
                    };
                    key.clear();
                } else if let Some(k) = assigned_key(t) {
                    key = k;
                }
            }
            depth = (depth + depth_delta(t)).max(0);
            pos += l.len();
        }
        (table, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_case_id_required() {
        let c = CaseFile::parse("case_id = \"IR-1\"\n", "case.toml").unwrap();
        assert_eq!(c.case_id, "IR-1");
        assert_eq!(c.thresholds.travel_speed_kmh, 900.0);
        assert_eq!(c.thresholds.old_leak_days, 30);
    }

    #[test]
    fn errors_name_line_and_key() {
        let e = CaseFile::parse(
            "case_id = \"IR-1\"\n[network]\ncorporate_egress = 5\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("network.corporate_egress"), "{e}");
        let e = CaseFile::parse(
            "case_id = \"IR-1\"\n[network]\ncorporate_egress = [\"10.0.0.0/33\"]\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("network.corporate_egress"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        let e = CaseFile::parse("case_id = \"IR-1\"\nbogus = 1\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }

    #[test]
    fn json_round_trip_keeps_absent_times_absent() {
        let c = CaseFile::minimal("IR-1");
        let back: CaseFile = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        let full = CaseFile::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/case.example.toml"
        )))
        .unwrap();
        let back: CaseFile = serde_json::from_str(&serde_json::to_string(&full).unwrap()).unwrap();
        assert_eq!(back, full);
    }

    #[test]
    fn times_native_or_quoted() {
        let a = CaseFile::parse(
            "case_id = \"X\"\naware_at = 2025-05-24T08:00:00Z\n",
            "c.toml",
        )
        .unwrap();
        let b = CaseFile::parse(
            "case_id = \"X\"\naware_at = \"2025-05-24T10:00:00+02:00\"\n",
            "c.toml",
        )
        .unwrap();
        assert_eq!(a.aware_at, b.aware_at);
        let e = CaseFile::parse(
            "case_id = \"X\"\naware_at = 2025-05-24T08:00:00\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("without a zone") && e.contains("key `aware_at`"),
            "{e}"
        );
    }
}
