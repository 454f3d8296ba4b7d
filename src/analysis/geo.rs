//! Offline geolocation: where a sign-in came from, with how sure we are.
//!
//! No network, no API token. Precedence, first that answers wins ([`Locator::place`]):
//!
//! 1. coordinates in the log (Entra `location.geoCoordinates`);
//! 2. the log's city (+ state) in the bundled gazetteer, within the log's country;
//! 3. the optional MaxMind database ([`super::geoip`]) by source IP: its coordinates, with
//!    `location.accuracy_radius` as the position's uncertainty (a Country database, or a
//!    record without coordinates, gives its country's centre and radius instead). Private and
//!    reserved addresses are never looked up. When the log names a country, a database record
//!    for another country is not used: the log's country stands;
//! 4. the log's country: its centre, uncertain by the country's radius.
//!
//! Why the log's own city (step 2) outranks the database (step 3): Entra's location is
//! Microsoft's geolocation of that address *at the time of the sign-in*, written into the
//! evidence; a MaxMind file is a second opinion from one release, often months apart from the
//! event (address blocks move between providers and places), and it is not part of the
//! evidence. The database therefore fills gaps — events that carry only an IP (RADIUS
//! Calling-Station-Id, FortiGate and GlobalProtect VPN logins, sign-ins without location) — and
//! refines a country-only log position, but never overrides what the log says. Countries
//! ([`Locator::country`]) and ASNs ([`Locator::asn`]) follow the same rule: the log's value,
//! else the database's. The report states this, and every position says which step gave it
//! ([`Precision`]).
//!
//! The gazetteer is GeoNames-derived (CC-BY 4.0, see `data/NOTICE.md`): 250 countries with a
//! population-weighted centre and a radius, and the 34k cities of GeoNames cities15000.

use super::geoip::{is_public, GeoDatabaseUse, GeoDbInfo, GeoIp, IpRecord};
use crate::event::{Event, Geo};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::OnceLock;

const COUNTRIES: &str = include_str!("data/countries.tsv");
const ADMIN1: &str = include_str!("data/admin1.tsv");
const CITIES: &str = include_str!("data/cities.tsv");

/// Mean Earth radius (IUGG), km.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// How a position was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Latitude/longitude in the log itself.
    Coordinates,
    /// A gazetteer city matched by name (and state, when given) within the country.
    City,
    /// Only the country is known: its centre, uncertain by the country's radius.
    Country,
    /// Coordinates from the MaxMind database by IP, uncertain by its accuracy radius.
    Database,
    /// Only the MaxMind database's country is known: the country's centre and radius.
    DatabaseCountry,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Coordinates => "log coordinates",
            Precision::City => "gazetteer city",
            Precision::Country => "country centre",
            Precision::Database => "MaxMind database",
            Precision::DatabaseCountry => "country centre from MaxMind database",
        }
    }

    /// Whether the position came from the MaxMind database rather than the log.
    pub fn from_database(self) -> bool {
        matches!(self, Precision::Database | Precision::DatabaseCountry)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub lat: f64,
    pub lon: f64,
    /// Extra uncertainty beyond the usual IP-geolocation error (`geo_error_km`): the country's
    /// radius when only the country is known, the database's accuracy radius for a database
    /// position, else 0.
    pub uncertainty_km: f64,
    pub precision: Precision,
    /// `City, State, CC` as far as known.
    pub label: String,
    pub country: Option<String>,
}

#[derive(Debug)]
struct Country {
    name: String,
    lat: f64,
    lon: f64,
    radius_km: f64,
}

/// One gazetteer city: its folded name is `len` bytes at `name` in [`Gazetteer::names`].
/// 40 bytes, where a map keyed by owned strings with a list per key took ~250 per city (the
/// analysis holds the table from its first step to the end of the run).
#[derive(Debug, Clone)]
struct City {
    name: u32,
    len: u16,
    cc: [u8; 2],
    admin1: &'static str,
    lat: f64,
    lon: f64,
}

#[derive(Debug, Default)]
pub struct Gazetteer {
    countries: HashMap<String, Country>,
    /// Folded country name → ISO code.
    country_names: HashMap<String, String>,
    /// Cities ordered by (folded name, cc), most populous first within each.
    cities: Vec<City>,
    /// The folded city names, one after another.
    names: String,
    /// (cc, admin1 code) → folded admin1 name.
    admin1: HashMap<(String, String), String>,
}

/// The bundled gazetteer, parsed on first use (~34k lines, a few milliseconds).
pub fn gazetteer() -> &'static Gazetteer {
    static G: OnceLock<Gazetteer> = OnceLock::new();
    G.get_or_init(|| Gazetteer::parse(COUNTRIES, ADMIN1, CITIES))
}

fn rows(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').collect())
}

/// Common English names and abbreviations that differ from the GeoNames country names.
const COUNTRY_ALIASES: &[(&str, &str)] = &[
    ("usa", "US"),
    ("united states of america", "US"),
    ("uk", "GB"),
    ("great britain", "GB"),
    ("england", "GB"),
    ("scotland", "GB"),
    ("wales", "GB"),
    ("russian federation", "RU"),
    ("korea republic of", "KR"),
    ("republic of korea", "KR"),
    ("korea", "KR"),
    ("czechia", "CZ"),
    ("turkiye", "TR"),
    ("viet nam", "VN"),
    ("holland", "NL"),
    ("the netherlands", "NL"),
    ("uae", "AE"),
    ("ivory coast", "CI"),
    ("cote d ivoire", "CI"),
    ("iran islamic republic of", "IR"),
    ("taiwan province of china", "TW"),
    ("hong kong sar", "HK"),
];

impl Gazetteer {
    fn parse(countries: &str, admin1: &str, cities: &'static str) -> Self {
        let mut g = Gazetteer::default();
        for r in rows(countries) {
            if let [cc, name, lat, lon, radius] = r[..] {
                if let (Ok(lat), Ok(lon), Ok(radius_km)) =
                    (lat.parse(), lon.parse(), radius.parse())
                {
                    g.country_names.insert(fold(name), cc.to_string());
                    g.countries.insert(
                        cc.to_string(),
                        Country {
                            name: name.to_string(),
                            lat,
                            lon,
                            radius_km,
                        },
                    );
                }
            }
        }
        for (alias, cc) in COUNTRY_ALIASES {
            g.country_names
                .entry(alias.to_string())
                .or_insert_with(|| cc.to_string());
        }
        for r in rows(admin1) {
            if let [cc, code, name] = r[..] {
                g.admin1
                    .insert((cc.to_string(), code.to_string()), fold(name));
            }
        }
        for r in rows(cities) {
            if let [name, cc, a1, lat, lon] = r[..] {
                let folded = fold(name);
                let (Ok(lat), Ok(lon), Ok(at), Ok(len), Ok(cc)) = (
                    lat.parse(),
                    lon.parse(),
                    u32::try_from(g.names.len()),
                    u16::try_from(folded.len()),
                    <[u8; 2]>::try_from(cc.as_bytes()),
                ) else {
                    continue;
                };
                g.names.push_str(&folded);
                g.cities.push(City {
                    name: at,
                    len,
                    cc,
                    admin1: a1,
                    lat,
                    lon,
                });
            }
        }
        // Stable: the file lists the most populous first, and each name keeps that order.
        let mut cities = std::mem::take(&mut g.cities);
        cities.sort_by(|a, b| g.city_key(a).cmp(&g.city_key(b)));
        g.cities = cities;
        g.cities.shrink_to_fit();
        g.names.shrink_to_fit();
        g
    }

    fn city_key<'a>(&'a self, c: &City) -> (&'a str, [u8; 2]) {
        let at = c.name as usize;
        let name = self.names.get(at..at + c.len as usize).unwrap_or("");
        (name, c.cc)
    }

    /// The cities of one (folded name, cc), most populous first.
    fn cities_named(&self, name: &str, cc: &str) -> &[City] {
        let Ok(cc) = <[u8; 2]>::try_from(cc.as_bytes()) else {
            return &[];
        };
        let key = (name, cc);
        let from = self.cities.partition_point(|c| self.city_key(c) < key);
        let to = from + self.cities[from..].partition_point(|c| self.city_key(c) == key);
        &self.cities[from..to]
    }

    pub fn country_count(&self) -> usize {
        self.countries.len()
    }

    pub fn city_count(&self) -> usize {
        self.cities.len()
    }

    /// ISO 3166-1 alpha-2 code for a code or an English country name.
    pub fn country_code(&self, s: &str) -> Option<String> {
        let t = s.trim();
        if t.len() == 2 {
            let up = t.to_ascii_uppercase();
            if self.countries.contains_key(&up) {
                return Some(up);
            }
        }
        self.country_names.get(&fold(t)).cloned()
    }

    pub fn country_name(&self, cc: &str) -> Option<&str> {
        self.countries.get(cc).map(|c| c.name.as_str())
    }

    /// A city by name within a country; the state breaks ties, else the most populous wins.
    fn city(&self, name: &str, state: Option<&str>, cc: &str) -> Option<&City> {
        let list = self.cities_named(&fold(name), cc);
        if let Some(st) = state.map(fold).filter(|s| !s.is_empty()) {
            if let Some(c) = list.iter().find(|c| {
                c.admin1.eq_ignore_ascii_case(&st)
                    || self
                        .admin1
                        .get(&(cc.to_string(), c.admin1.to_string()))
                        .is_some_and(|n| *n == st)
            }) {
                return Some(c);
            }
        }
        list.first()
    }

    /// Where the event's geo says it was, or `None` when it says too little.
    pub fn locate(&self, geo: &Geo) -> Option<Place> {
        self.locate_precise(geo)
            .or_else(|| self.country_place(geo, None))
    }

    /// Steps 1 and 2: the log's coordinates, else its city in the gazetteer.
    fn locate_precise(&self, geo: &Geo) -> Option<Place> {
        let cc = geo.country.as_deref().and_then(|c| self.country_code(c));
        let label = label(geo, cc.as_deref());
        if let (Some(lat), Some(lon)) = (geo.lat, geo.lon) {
            let valid = lat.is_finite()
                && lon.is_finite()
                && (-90.0..=90.0).contains(&lat)
                && (-180.0..=180.0).contains(&lon)
                // Entra writes 0,0 when it has no position.
                && !(lat == 0.0 && lon == 0.0);
            if valid {
                return Some(Place {
                    lat,
                    lon,
                    uncertainty_km: 0.0,
                    precision: Precision::Coordinates,
                    label,
                    country: cc,
                });
            }
        }
        let cc = cc?;
        let city = geo.city.as_deref().filter(|c| !c.trim().is_empty())?;
        let c = self.city(city, geo.state.as_deref(), &cc)?;
        Some(Place {
            lat: c.lat,
            lon: c.lon,
            uncertainty_km: 0.0,
            precision: Precision::City,
            label,
            country: Some(cc),
        })
    }

    /// Step 4: the centre of the log's country. With `db`, the database's country instead
    /// (labelled from the database record).
    fn country_place(&self, geo: &Geo, db: Option<&IpRecord>) -> Option<Place> {
        let (cc, label, precision) = match db {
            Some(r) => {
                let cc = r.country.clone()?;
                (cc.clone(), db_label(r, &cc), Precision::DatabaseCountry)
            }
            None => {
                let cc = geo.country.as_deref().and_then(|c| self.country_code(c))?;
                (cc.clone(), label(geo, Some(&cc)), Precision::Country)
            }
        };
        let c = self.countries.get(&cc)?;
        Some(Place {
            lat: c.lat,
            lon: c.lon,
            uncertainty_km: c.radius_km,
            precision,
            label,
            country: Some(cc),
        })
    }

    /// Radius of a country, km (0 when unknown).
    fn country_radius(&self, cc: &str) -> f64 {
        self.countries.get(cc).map_or(0.0, |c| c.radius_km)
    }
}

/// The source of a country code: the log, or the MaxMind database by IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryOf {
    pub code: String,
    pub from_database: bool,
}

/// The gazetteer plus, optionally, a MaxMind database: positions, countries and ASNs of
/// events by the precedence in the module comment. Database answers are memoized per address
/// (the baseline asks about the same few addresses thousands of times).
pub struct Locator<'a> {
    gaz: &'static Gazetteer,
    db: Option<&'a GeoIp>,
    places: RefCell<HashMap<IpAddr, Option<IpRecord>>>,
    asns: RefCell<HashMap<IpAddr, Option<u32>>>,
    errors: RefCell<(u64, Option<String>)>,
}

impl<'a> Locator<'a> {
    pub fn new(db: Option<&'a GeoIp>) -> Self {
        Locator {
            gaz: gazetteer(),
            db,
            places: RefCell::default(),
            asns: RefCell::default(),
            errors: RefCell::default(),
        }
    }

    pub fn gazetteer(&self) -> &'static Gazetteer {
        self.gaz
    }

    /// The City/Country database, when one is in use.
    pub fn city_database(&self) -> Option<&GeoDbInfo> {
        self.db.and_then(GeoIp::city_info)
    }

    /// The event's source IP when it is one the database may be asked about.
    fn ip(e: &Event) -> Option<IpAddr> {
        e.src_ip
            .as_deref()?
            .trim()
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_canonical())
            .filter(|ip| is_public(*ip))
    }

    fn note_error(&self, e: String) {
        let mut err = self.errors.borrow_mut();
        err.0 += 1;
        err.1.get_or_insert(e);
    }

    /// The database's record for the event's source IP (memoized).
    fn record(&self, e: &Event) -> Option<IpRecord> {
        let db = self.db.filter(|d| d.has_city())?;
        let ip = Self::ip(e)?;
        if let Some(r) = self.places.borrow().get(&ip) {
            return r.clone();
        }
        let r = db.place(ip).unwrap_or_else(|err| {
            self.note_error(err);
            None
        });
        self.places.borrow_mut().insert(ip, r.clone());
        r
    }

    /// Where the event was, or `None` when neither the log nor the database can say.
    pub fn place(&self, e: &Event) -> Option<Place> {
        if let Some(p) = e.geo.as_ref().and_then(|g| self.gaz.locate_precise(g)) {
            return Some(p);
        }
        let empty = Geo::default();
        let geo = e.geo.as_deref().unwrap_or(&empty);
        let log_cc = geo
            .country
            .as_deref()
            .and_then(|c| self.gaz.country_code(c));
        // The database fills in; it never moves the sign-in to another country than the log's.
        if let Some(r) = self
            .record(e)
            .filter(|r| log_cc.is_none() || r.country == log_cc)
        {
            if let Some((lat, lon)) = r.lat_lon {
                let cc = r.country.clone();
                // A record without an accuracy radius is taken as uncertain as its country.
                let radius = r
                    .accuracy_km
                    .unwrap_or_else(|| cc.as_deref().map_or(0.0, |c| self.gaz.country_radius(c)));
                return Some(Place {
                    lat,
                    lon,
                    uncertainty_km: radius.max(0.0),
                    precision: Precision::Database,
                    label: db_label(&r, cc.as_deref().unwrap_or("??")),
                    country: cc,
                });
            }
            if log_cc.is_none() {
                if let Some(p) = self.gaz.country_place(geo, Some(&r)) {
                    return Some(p);
                }
            }
        }
        self.gaz.country_place(geo, None)
    }

    /// ISO code of the event's country: the log's (through the gazetteer for names), else the
    /// database's by IP.
    pub fn country(&self, e: &Event) -> Option<CountryOf> {
        if let Some(c) = e.geo.as_ref().and_then(|g| g.country.as_deref()) {
            let t = c.trim();
            if let Some(code) = self
                .gaz
                .country_code(t)
                .or_else(|| (!t.is_empty()).then(|| t.to_ascii_uppercase()))
            {
                return Some(CountryOf {
                    code,
                    from_database: false,
                });
            }
        }
        self.record(e)?.country.map(|code| CountryOf {
            code,
            from_database: true,
        })
    }

    /// The event's autonomous-system number: the log's, else the ASN database's by IP.
    pub fn asn(&self, e: &Event) -> Option<u32> {
        if let Some(a) = e.geo.as_ref().and_then(|g| g.asn) {
            return Some(a);
        }
        let db = self.db.filter(|d| d.has_asn())?;
        let ip = Self::ip(e)?;
        if let Some(a) = self.asns.borrow().get(&ip) {
            return *a;
        }
        let a = db.asn(ip).unwrap_or_else(|err| {
            self.note_error(err);
            None
        });
        self.asns.borrow_mut().insert(ip, a);
        a
    }

    /// What the databases were and what they answered; `None` without a database.
    pub fn usage(&self) -> Option<GeoDatabaseUse> {
        let db = self.db?;
        let places = self.places.borrow();
        let asns = self.asns.borrow();
        let errors = self.errors.borrow();
        Some(GeoDatabaseUse {
            databases: db.databases().into_iter().cloned().collect(),
            city_lookups: places.len() as u64,
            city_found: places.values().filter(|r| r.is_some()).count() as u64,
            asn_lookups: asns.len() as u64,
            asn_found: asns.values().filter(|a| a.is_some()).count() as u64,
            lookup_errors: errors.0,
            first_error: errors.1.clone(),
        })
    }
}

/// `City, Subdivision, CC` from a database record.
fn db_label(r: &IpRecord, cc: &str) -> String {
    [r.city.as_deref(), r.subdivision.as_deref(), Some(cc)]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

fn label(geo: &Geo, cc: Option<&str>) -> String {
    let parts: Vec<&str> = [
        geo.city.as_deref(),
        geo.state.as_deref(),
        cc.or(geo.country.as_deref()),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .collect();
    if parts.is_empty() {
        "unknown".into()
    } else {
        parts.join(", ")
    }
}

/// Great-circle distance (haversine), km.
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Lower-case, strip diacritics of Latin letters, keep letters and digits, single spaces.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for ch in s.chars() {
        let mapped: &str = match ch {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä'
            | 'Å' | 'Ā' | 'Ă' | 'Ą' => "a",
            'æ' | 'Æ' => "ae",
            'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' | 'Ç' | 'Ć' | 'Č' => "c",
            'ď' | 'đ' | 'Ď' | 'Đ' | 'ð' | 'Ð' => "d",
            'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' | 'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė'
            | 'Ę' | 'Ě' => "e",
            'ğ' | 'ģ' | 'Ğ' | 'Ģ' => "g",
            'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'İ' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' => {
                "i"
            }
            'ķ' | 'Ķ' => "k",
            'ł' | 'ľ' | 'ĺ' | 'ļ' | 'Ł' | 'Ľ' | 'Ĺ' | 'Ļ' => "l",
            'ñ' | 'ń' | 'ň' | 'ņ' | 'Ñ' | 'Ń' | 'Ň' | 'Ņ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø'
            | 'Ō' | 'Ő' => "o",
            'œ' | 'Œ' => "oe",
            'ř' | 'ŕ' | 'Ř' | 'Ŕ' => "r",
            'ś' | 'š' | 'ş' | 'ș' | 'Ś' | 'Š' | 'Ş' | 'Ș' => "s",
            'ß' => "ss",
            'ť' | 'ţ' | 'ț' | 'Ť' | 'Ţ' | 'Ț' => "t",
            'þ' | 'Þ' => "th",
            'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' | 'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů'
            | 'Ű' | 'Ų' => "u",
            'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
            'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
            _ => "",
        };
        if !mapped.is_empty() {
            out.push_str(mapped);
            space = false;
        } else if ch.is_alphanumeric() {
            out.extend(ch.to_lowercase());
            space = false;
        } else if !space && !out.is_empty() {
            out.push(' ');
            space = true;
        }
    }
    if out.ends_with(' ') {
        out.pop();
    }
    out
}
