//! An optional MaxMind-format database (`.mmdb`): a GeoIP2/GeoLite2 City or Country database
//! for positions, and a GeoLite2 ASN (or GeoIP2 ISP) database for autonomous-system numbers.
//! Given by path (case file `[geo]` or `--geoip-db` / `--asn-db`), never fetched.
//!
//! A file is read whole into memory and hashed from those same bytes, so the SHA-256 recorded
//! in the custody log is the SHA-256 of what was used. It is then verified in full: a damaged
//! file is an error naming it, not a source of wrong positions. When and how a lookup's answer
//! ranks against the log's own location is decided in `geo.rs`; this module only reads files.

use crate::case::CaseFile;
use maxminddb::{geoip2, Reader};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum GeoIpError {
    #[error("{path}: cannot read MaxMind database: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not a valid MaxMind database (.mmdb): {message}")]
    Invalid { path: String, message: String },
    #[error("{path}: database type {database_type:?} is not {expected}")]
    WrongKind {
        path: String,
        database_type: String,
        expected: &'static str,
    },
}

/// Which question a database answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DbRole {
    /// Country and, for City databases, position with an accuracy radius.
    City,
    /// Autonomous-system number of the network.
    Asn,
}

impl DbRole {
    fn expected(self) -> &'static str {
        match self {
            DbRole::City => {
                "a City or Country database (GeoIP2/GeoLite2 City, Country, Enterprise)"
            }
            DbRole::Asn => "an ASN database (GeoLite2-ASN, GeoIP2-ISP)",
        }
    }

    /// Recognized by the type MaxMind writes into the metadata; an ASN file given as the city
    /// database would otherwise locate nothing without saying so.
    fn accepts(self, database_type: &str) -> bool {
        let t = database_type.to_ascii_lowercase();
        match self {
            DbRole::City => {
                (t.contains("city") || t.contains("country") || t.contains("enterprise"))
                    && !t.contains("asn")
            }
            DbRole::Asn => t.contains("asn") || t.contains("isp"),
        }
    }
}

/// What identifies a database: written to the custody log, analysis.json and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoDbInfo {
    pub role: DbRole,
    /// The path as given (case-file paths already resolved against the case file's folder).
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// `database_type` from the metadata, e.g. `GeoLite2-City`.
    pub database_type: String,
    /// `build_epoch` from the metadata (seconds since 1970): which release this is.
    pub build_epoch: u64,
    /// `build_epoch` as RFC 3339, when representable.
    pub build_time: Option<String>,
    pub ip_version: u16,
    /// The English description from the metadata, when present.
    pub description: Option<String>,
}

/// What the analysis did with the databases: in analysis.json and the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeoDatabaseUse {
    pub databases: Vec<GeoDbInfo>,
    /// Distinct public IPs looked up in the City/Country database (only those whose events
    /// carried no usable location of their own).
    pub city_lookups: u64,
    /// Of those, how many the database had a country or position for.
    pub city_found: u64,
    /// Distinct public IPs looked up in the ASN database (events without an ASN of their own).
    pub asn_lookups: u64,
    pub asn_found: u64,
    /// Lookups that failed to decode (treated as "not found"); the first message is kept.
    pub lookup_errors: u64,
    pub first_error: Option<String>,
}

/// What a City or Country database says about one address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IpRecord {
    /// ISO 3166-1 alpha-2, upper case.
    pub country: Option<String>,
    pub city: Option<String>,
    /// The largest subdivision's English name (state, Land, region).
    pub subdivision: Option<String>,
    /// Valid coordinates only (both present, in range).
    pub lat_lon: Option<(f64, f64)>,
    /// `location.accuracy_radius`, km.
    pub accuracy_km: Option<f64>,
}

struct Db {
    reader: Reader<Vec<u8>>,
    info: GeoDbInfo,
}

impl Db {
    fn open(path: &Path, role: DbRole) -> Result<Db, GeoIpError> {
        let shown = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| GeoIpError::Io {
            path: shown.clone(),
            source,
        })?;
        let sha256 = crate::sources::sha256_hex(&bytes);
        let size = bytes.len() as u64;
        let invalid = |e: maxminddb::MaxMindDbError| GeoIpError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        };
        let reader = Reader::from_source(bytes).map_err(invalid)?;
        // Walks the whole search tree and data section once (time in proportion to the file,
        // paid once per analysis): a damaged file is refused here instead of answering some
        // lookups wrongly later.
        reader.verify().map_err(invalid)?;
        let m = reader.metadata();
        if !role.accepts(&m.database_type) {
            return Err(GeoIpError::WrongKind {
                path: shown,
                database_type: m.database_type.clone(),
                expected: role.expected(),
            });
        }
        let info = GeoDbInfo {
            role,
            path: shown,
            sha256,
            size,
            database_type: m.database_type.clone(),
            build_epoch: m.build_epoch,
            build_time: i64::try_from(m.build_epoch)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .map(crate::pipeline::rfc3339),
            ip_version: m.ip_version,
            description: m.description.get("en").cloned(),
        };
        Ok(Db { reader, info })
    }

    /// `Ok(None)`: not in the database, or an IPv6 address and an IPv4-only database.
    fn find(&self, ip: IpAddr) -> Result<Option<maxminddb::LookupResult<'_, Vec<u8>>>, String> {
        if ip.is_ipv6() && self.info.ip_version == 4 {
            return Ok(None);
        }
        let r = self.reader.lookup(ip).map_err(|e| format!("{ip}: {e}"))?;
        Ok(r.has_data().then_some(r))
    }
}

/// The opened databases: a City/Country one, an ASN one, or both.
pub struct GeoIp {
    city: Option<Db>,
    asn: Option<Db>,
}

impl std::fmt::Debug for GeoIp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.databases()).finish()
    }
}

impl GeoIp {
    /// Open the databases given; `Ok(None)` when neither is.
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<Option<GeoIp>, GeoIpError> {
        if city.is_none() && asn.is_none() {
            return Ok(None);
        }
        Ok(Some(GeoIp {
            city: city.map(|p| Db::open(p, DbRole::City)).transpose()?,
            asn: asn.map(|p| Db::open(p, DbRole::Asn)).transpose()?,
        }))
    }

    /// The databases for a case: each flag (`--geoip-db`, `--asn-db`) wins over the case
    /// file's `[geo]` entry of the same role.
    pub fn for_case(
        case: &CaseFile,
        city_flag: Option<&Path>,
        asn_flag: Option<&Path>,
    ) -> Result<Option<GeoIp>, GeoIpError> {
        let city = city_flag
            .map(Path::to_path_buf)
            .or_else(|| case.geo.city_db.as_deref().map(PathBuf::from));
        let asn = asn_flag
            .map(Path::to_path_buf)
            .or_else(|| case.geo.asn_db.as_deref().map(PathBuf::from));
        Self::open(city.as_deref(), asn.as_deref())
    }

    pub fn databases(&self) -> Vec<&GeoDbInfo> {
        self.city
            .iter()
            .chain(self.asn.iter())
            .map(|d| &d.info)
            .collect()
    }

    pub fn city_info(&self) -> Option<&GeoDbInfo> {
        self.city.as_ref().map(|d| &d.info)
    }

    pub fn has_city(&self) -> bool {
        self.city.is_some()
    }

    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
    }

    /// Country and position of a public address. `Ok(None)`: no City/Country database, a
    /// private or reserved address (never looked up), or no record for it.
    pub fn place(&self, ip: IpAddr) -> Result<Option<IpRecord>, String> {
        let ip = ip.to_canonical();
        let Some(db) = self.city.as_ref().filter(|_| is_public(ip)) else {
            return Ok(None);
        };
        // A Country record is a City record without city, subdivisions and location.
        let Some(found) = db.find(ip)? else {
            return Ok(None);
        };
        let rec = found
            .decode::<geoip2::City>()
            .map_err(|e| format!("{ip}: {e}"))?;
        Ok(rec.and_then(|c| {
            let country = c
                .country
                .iso_code
                .map(|s| s.trim().to_ascii_uppercase())
                .filter(|s| s.len() == 2);
            let (lat, lon) = (c.location.latitude, c.location.longitude);
            let lat_lon = match (lat, lon) {
                (Some(a), Some(o))
                    if a.is_finite()
                        && o.is_finite()
                        && (-90.0..=90.0).contains(&a)
                        && (-180.0..=180.0).contains(&o) =>
                {
                    Some((a, o))
                }
                _ => None,
            };
            let out = IpRecord {
                country,
                city: c.city.names.english.map(str::to_string),
                subdivision: c
                    .subdivisions
                    .first()
                    .and_then(|s| s.names.english)
                    .map(str::to_string),
                lat_lon,
                accuracy_km: c.location.accuracy_radius.map(f64::from),
            };
            (out.country.is_some() || out.lat_lon.is_some()).then_some(out)
        }))
    }

    /// Autonomous-system number of a public address (`Ok(None)` as for [`GeoIp::place`]).
    pub fn asn(&self, ip: IpAddr) -> Result<Option<u32>, String> {
        let ip = ip.to_canonical();
        let Some(db) = self.asn.as_ref().filter(|_| is_public(ip)) else {
            return Ok(None);
        };
        let Some(found) = db.find(ip)? else {
            return Ok(None);
        };
        Ok(found
            .decode::<geoip2::Asn>()
            .map_err(|e| format!("{ip}: {e}"))?
            .and_then(|a| a.autonomous_system_number))
    }
}

/// Whether an address is globally routable unicast: private (RFC 1918, ULA), loopback,
/// link-local, shared (CGNAT), documentation, benchmarking, multicast and reserved ranges are
/// never looked up — a database's answer for them would describe nobody.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => {
            let o = a.octets();
            !(a.is_private()
                || a.is_loopback()
                || a.is_link_local()
                || a.is_broadcast()
                || a.is_documentation()
                || a.is_unspecified()
                || a.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // 100.64.0.0/10 shared (CGNAT)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0) // 192.0.0.0/24 IETF
                || (o[0] == 198 && (o[1] & 0xfe) == 18) // 198.18.0.0/15 benchmarking
                || o[0] >= 240) // 240.0.0.0/4 reserved
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            // Only 2000::/3 is global unicast; inside it 2001:db8::/32 is documentation.
            (s[0] & 0xe000) == 0x2000 && !(s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_and_reserved_addresses() {
        for ip in [
            "85.214.1.1",
            "102.89.3.4",
            "2a01:238::1",
            "::ffff:85.214.1.1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "198.51.100.7",
            "203.0.113.5",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "0.1.2.3",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn roles_follow_database_type() {
        assert!(DbRole::City.accepts("GeoLite2-City"));
        assert!(DbRole::City.accepts("GeoIP2-Country"));
        assert!(DbRole::City.accepts("GeoIP2-Enterprise"));
        assert!(!DbRole::City.accepts("GeoLite2-ASN"));
        assert!(DbRole::Asn.accepts("GeoLite2-ASN"));
        assert!(DbRole::Asn.accepts("GeoIP2-ISP"));
        assert!(!DbRole::Asn.accepts("GeoLite2-City"));
    }
}
