//! The case file (`case.toml`): what the analyst knows that the logs do not. Everything is
//! optional except the case id; a missing fact is reported as unknown, never guessed.
//! Mirrored in `schemas/case.schema.json`.

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
    pub case_id: String,
    #[serde(default)]
    pub organisation: Option<String>,
    #[serde(default)]
    pub examiner: Option<String>,
    #[serde(default)]
    pub alert: Option<Alert>,
    /// When the organisation became aware: the start of every regulatory clock.
    #[serde(default)]
    pub aware_at: Option<DateTime<Utc>>,
    /// IANA zone per source id for formats that carry none (`fortigate = "Europe/Berlin"`).
    #[serde(default)]
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
    #[serde(default)]
    pub time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub users: Vec<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// Start and end of the window under investigation; defaults derive from the evidence.
    #[serde(default)]
    pub window_start: Option<DateTime<Utc>>,
    #[serde(default)]
    pub window_end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    /// Corporate egress IPs or CIDRs: sign-ins from here are explained, not flagged.
    #[serde(default)]
    pub corporate_egress: Vec<String>,
    /// VPN ranges (client pools and VPN concentrator egress).
    #[serde(default)]
    pub vpn_ranges: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Iocs {
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
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
#[serde(deny_unknown_fields)]
pub struct Travel {
    pub user: String,
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
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataAsset {
    /// `user`, `site`, `mailbox` or `app`.
    pub kind: String,
    /// UPN, site URL prefix, mailbox address or app id.
    pub id: String,
    /// `eu_personal_data`, `phi`, `cardholder_data`, `us_federal_data`, `none`.
    pub categories: Vec<String>,
}

/// Detection thresholds; defaults are documented in `samples/case.example.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Thresholds {
    pub travel_speed_kmh: f64,
    pub geo_error_km: f64,
    pub baseline_days: i64,
    pub min_baseline_days: i64,
    pub failures_before_success: usize,
    pub failure_window_minutes: i64,
    pub spray_min_users: usize,
    pub spray_max_failures_per_user: usize,
    pub brute_force_failures: usize,
    pub bulk_download_per_hour: u64,
    pub bulk_mail_items_per_hour: u64,
    pub bulk_factor: f64,
    pub pivot_min_users: usize,
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
        Self::parse(&text, &path.display().to_string())
    }

    /// Parse and check; errors name the line, the key and what was expected.
    pub fn parse(text: &str, path: &str) -> Result<Self, CaseError> {
        let case: CaseFile = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let message = match line {
                Some(l) => format!("line {l}: {}", e.message()),
                None => e.message().to_string(),
            };
            CaseError::Invalid {
                path: path.to_string(),
                message,
            }
        })?;
        case.check().map_err(|message| CaseError::Invalid {
            path: path.to_string(),
            message,
        })?;
        Ok(case)
    }

    fn check(&self) -> Result<(), String> {
        if self.case_id.trim().is_empty() {
            return Err("key `case_id`: expected a non-empty string".into());
        }
        if !self
            .case_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(format!("key `case_id`: {:?} may only hold letters, digits, '-', '_' and '.' (it names the package)", self.case_id));
        }
        for (src, tz) in &self.time_zones {
            if tz.parse::<chrono_tz::Tz>().is_err() {
                return Err(format!("key `time_zones.{src}`: {tz:?} is not an IANA time zone (e.g. \"Europe/Berlin\")"));
            }
        }
        for (key, list) in [
            ("network.corporate_egress", &self.network.corporate_egress),
            ("network.vpn_ranges", &self.network.vpn_ranges),
            ("ioc.cidrs", &self.ioc.cidrs),
        ] {
            for v in list {
                if parse_net(v).is_none() {
                    return Err(format!("key `{key}`: {v:?} is not an IP address or CIDR"));
                }
            }
        }
        for v in &self.ioc.ips {
            if v.parse::<std::net::IpAddr>().is_err() {
                return Err(format!("key `ioc.ips`: {v:?} is not an IP address"));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_case_id_required() {
        let c = CaseFile::parse("case_id = \"IR-1\"\n", "case.toml").unwrap();
        assert_eq!(c.case_id, "IR-1");
        assert_eq!(c.thresholds.travel_speed_kmh, 900.0);
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
        let e = CaseFile::parse(
            "case_id = \"IR-1\"\n[network]\ncorporate_egress = [\"10.0.0.0/33\"]\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("network.corporate_egress"), "{e}");
        let e = CaseFile::parse("case_id = \"IR-1\"\nbogus = 1\n", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
    }
}
