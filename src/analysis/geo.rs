//! Offline geolocation: where a sign-in came from, with how sure we are.
//!
//! Order: coordinates from the log (Entra `geoCoordinates`) → the bundled gazetteer by city
//! (+ state) and country → the country's position alone. No network, no API token. The
//! gazetteer is GeoNames-derived (CC-BY 4.0, see `data/NOTICE.md`): 250 countries with a
//! population-weighted centre and a radius, and the 34k cities of GeoNames cities15000.
//! A MaxMind database is not read (not implemented).

use crate::event::Geo;
use std::collections::HashMap;
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
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Coordinates => "log coordinates",
            Precision::City => "gazetteer city",
            Precision::Country => "country centre",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub lat: f64,
    pub lon: f64,
    /// Extra uncertainty beyond the usual IP-geolocation error (`geo_error_km`): the country's
    /// radius when only the country is known, else 0.
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

#[derive(Debug, Clone)]
struct City {
    admin1: String,
    lat: f64,
    lon: f64,
}

#[derive(Debug, Default)]
pub struct Gazetteer {
    countries: HashMap<String, Country>,
    /// Folded country name → ISO code.
    country_names: HashMap<String, String>,
    /// (folded city name, cc) → cities, most populous first.
    cities: HashMap<(String, String), Vec<City>>,
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
    fn parse(countries: &str, admin1: &str, cities: &str) -> Self {
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
                if let (Ok(lat), Ok(lon)) = (lat.parse(), lon.parse()) {
                    g.cities
                        .entry((fold(name), cc.to_string()))
                        .or_default()
                        .push(City {
                            admin1: a1.to_string(),
                            lat,
                            lon,
                        });
                }
            }
        }
        g
    }

    pub fn country_count(&self) -> usize {
        self.countries.len()
    }

    pub fn city_count(&self) -> usize {
        self.cities.values().map(Vec::len).sum()
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
        let list = self.cities.get(&(fold(name), cc.to_string()))?;
        if let Some(st) = state.map(fold).filter(|s| !s.is_empty()) {
            if let Some(c) = list.iter().find(|c| {
                c.admin1.eq_ignore_ascii_case(&st)
                    || self
                        .admin1
                        .get(&(cc.to_string(), c.admin1.clone()))
                        .is_some_and(|n| *n == st)
            }) {
                return Some(c);
            }
        }
        list.first()
    }

    /// Where the event's geo says it was, or `None` when it says too little.
    pub fn locate(&self, geo: &Geo) -> Option<Place> {
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
        if let Some(city) = geo.city.as_deref().filter(|c| !c.trim().is_empty()) {
            if let Some(c) = self.city(city, geo.state.as_deref(), &cc) {
                return Some(Place {
                    lat: c.lat,
                    lon: c.lon,
                    uncertainty_km: 0.0,
                    precision: Precision::City,
                    label,
                    country: Some(cc),
                });
            }
        }
        let c = self.countries.get(&cc)?;
        Some(Place {
            lat: c.lat,
            lon: c.lon,
            uncertainty_km: c.radius_km,
            precision: Precision::Country,
            label,
            country: Some(cc),
        })
    }
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
