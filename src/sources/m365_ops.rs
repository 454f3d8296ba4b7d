//! What Entra audit logs and the Microsoft 365 Unified Audit Log have in common: one mapping
//! from operation names to normalized actions (Entra writes `Reset user password`, the UAL
//! `Reset user password.`), the JSON-inside-JSON decoding of modified properties, case-blind
//! key lookup (Graph is camelCase, PowerShell re-serializes in PascalCase), IP:port splitting
//! and the CSV record loop the exports share.

use super::csvscan::{Header, Row, Rows};
use super::timefmt::{self, Stamp};
use crate::event::{actions, EventClass, Geo, ModifiedProperty, Target};
use chrono::{TimeZone, Utc};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::net::IpAddr;

/// A normalized action and the event class it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapped {
    pub action: &'static str,
    pub class: EventClass,
}

/// Facts besides the operation name that decide the action (`Update user.` means a token
/// revocation, an MFA change or an account disable depending on what it modified).
#[derive(Default)]
pub struct OpFacts<'a> {
    pub modified: &'a [ModifiedProperty],
    /// Exchange cmdlet parameters by name.
    pub parameters: Option<&'a Map<String, Value>>,
}

fn m(action: &'static str, class: EventClass) -> Mapped {
    Mapped { action, class }
}

/// Lower case, single spaces, no trailing period: the UAL and Entra spell the same activity
/// with and without a final dot.
pub fn normalize_op(op: &str) -> String {
    let s = op.trim().trim_end_matches('.').trim();
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.to_lowercase());
    }
    out
}

/// Maps an Entra `activityDisplayName` or a UAL `Operation` onto a normalized action.
/// Unknown operations come back as `other`; the caller keeps the original name.
pub fn map_operation(op: &str, facts: &OpFacts) -> Mapped {
    use EventClass::*;
    let n = normalize_op(op);
    match n.as_str() {
        "userloggedin" => m(actions::SIGN_IN, Authentication),
        "userloginfailed" => m(actions::SIGN_IN, Authentication),
        "new-inboxrule" => m(actions::INBOX_RULE_CREATED, ApiActivity),
        "set-inboxrule" | "enable-inboxrule" | "disable-inboxrule" => {
            m(actions::INBOX_RULE_CHANGED, ApiActivity)
        }
        "remove-inboxrule" => m(actions::INBOX_RULE_REMOVED, ApiActivity),
        "updateinboxrules" => m(actions::CLIENT_RULES_UPDATED, ApiActivity),
        "set-mailbox" => m(mailbox_action(facts.parameters), ApiActivity),
        "mailitemsaccessed" => m(actions::MAIL_ITEMS_ACCESSED, ApiActivity),
        "send" | "sendas" | "sendonbehalf" => m(actions::MAIL_SENT, ApiActivity),
        "fileaccessed" | "fileaccessedextended" | "filepreviewed" => {
            m(actions::FILE_ACCESSED, ApiActivity)
        }
        "filedownloaded" => m(actions::FILE_DOWNLOADED, ApiActivity),
        "filesyncdownloadedfull" | "filesyncdownloadedpartial" => {
            m(actions::FILE_SYNCED, ApiActivity)
        }
        "sharingset"
        | "anonymouslinkcreated"
        | "companylinkcreated"
        | "securelinkcreated"
        | "sharedlinkcreated"
        | "sharinginvitationcreated"
        | "addedtosecurelink" => m(actions::SHARING_LINK_CREATED, ApiActivity),
        "consent to application" => m(actions::OAUTH_CONSENT, AccountChange),
        "add app role assignment grant to user"
        | "add app role assignment to service principal"
        | "add delegated permission grant" => m(actions::APP_ROLE_ASSIGNED, AccountChange),
        "user registered security info"
        | "user registered all required security info"
        | "admin registered security info" => m(actions::MFA_METHOD_REGISTERED, AccountChange),
        "user changed default security info"
        | "user updated security info"
        | "admin updated security info" => m(actions::MFA_METHOD_CHANGED, AccountChange),
        "user deleted security info" | "admin deleted security info" => {
            m(actions::MFA_METHOD_DELETED, AccountChange)
        }
        "reset user password" | "reset password (by admin)" | "reset password (self-service)" => {
            m(actions::PASSWORD_RESET, AccountChange)
        }
        "change user password" | "change password (self-service)" => {
            m(actions::PASSWORD_CHANGED, AccountChange)
        }
        "update stsrefreshtokenvalidfrom timestamp" => m(actions::TOKENS_REVOKED, AccountChange),
        "disable account" => m(actions::ACCOUNT_DISABLED, AccountChange),
        "enable account" => m(actions::ACCOUNT_ENABLED, AccountChange),
        "add member to role"
        | "add eligible member to role"
        | "add member to role completed (pim activation)" => {
            m(actions::ROLE_MEMBER_ADDED, AccountChange)
        }
        "remove member from role" | "remove eligible member from role" => {
            m(actions::ROLE_MEMBER_REMOVED, AccountChange)
        }
        "update user" => m(update_user_action(facts.modified), AccountChange),
        _ => m(actions::OTHER, ApiActivity),
    }
}

/// `Update user.` is the catch-all for user object writes; what it changed says what happened.
/// Precedence: disabling/enabling the account, then MFA methods, then token revocation.
fn update_user_action(modified: &[ModifiedProperty]) -> &'static str {
    let find =
        |pred: &dyn Fn(&str) -> bool| modified.iter().find(|p| pred(&p.name.to_ascii_lowercase()));
    if let Some(p) = find(&|n| n == "accountenabled") {
        match p.new.as_deref().map(|v| v.trim().to_ascii_lowercase()) {
            Some(v) if v == "false" => return actions::ACCOUNT_DISABLED,
            Some(v) if v == "true" => return actions::ACCOUNT_ENABLED,
            _ => {}
        }
    }
    if let Some(p) = find(&|n| n.starts_with("strongauthentication")) {
        let had = p.old.as_deref().is_some_and(|v| !v.trim().is_empty());
        let has = p.new.as_deref().is_some_and(|v| !v.trim().is_empty());
        return match (had, has) {
            (false, true) => actions::MFA_METHOD_REGISTERED,
            (true, false) => actions::MFA_METHOD_DELETED,
            _ => actions::MFA_METHOD_CHANGED,
        };
    }
    if find(&|n| n.starts_with("stsrefreshtoken")).is_some() {
        return actions::TOKENS_REVOKED;
    }
    actions::USER_UPDATED
}

const FORWARDING_ADDRESS_PARAMS: &[&str] = &["ForwardingSmtpAddress", "ForwardingAddress"];

/// Set-Mailbox sets forwarding when it gives an address; giving an empty one (`$null`)
/// removes it, which is what remediation looks like.
fn mailbox_action(params: Option<&Map<String, Value>>) -> &'static str {
    let Some(p) = params else {
        return actions::MAILBOX_UPDATED;
    };
    let mut any_addr_param = false;
    for name in FORWARDING_ADDRESS_PARAMS {
        if let Some(v) = get(p, name) {
            any_addr_param = true;
            if value_text(v).is_some_and(|s| !s.trim().is_empty()) {
                return actions::MAILBOX_FORWARDING_SET;
            }
        } else if p.keys().any(|k| k.eq_ignore_ascii_case(name)) {
            // Present with a JSON null value.
            any_addr_param = true;
        }
    }
    if any_addr_param {
        return actions::MAILBOX_FORWARDING_REMOVED;
    }
    if p.keys()
        .any(|k| k.eq_ignore_ascii_case("DeliverToMailboxAndForward"))
    {
        return actions::MAILBOX_FORWARDING_SET;
    }
    actions::MAILBOX_UPDATED
}

/// Value of `key`, matched exactly first and then ignoring ASCII case; JSON null counts as absent.
pub fn get<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    let v = match m.get(key) {
        Some(v) => Some(v),
        None => m
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v),
    };
    v.filter(|v| !v.is_null())
}

/// A non-empty string (or a number/bool rendered as text) under `key`.
pub fn get_str<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    match get(m, key)? {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()),
        _ => None,
    }
}

/// Like [`get_str`] but renders numbers and booleans too.
pub fn get_text(m: &Map<String, Value>, key: &str) -> Option<String> {
    get(m, key)
        .and_then(value_text)
        .filter(|s| !s.trim().is_empty())
}

/// First non-empty text among several keys.
pub fn get_text_any(m: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| get_text(m, k))
}

/// A scalar as text; arrays and objects as compact JSON.
pub fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => serde_json::to_string(other).ok(),
    }
}

/// An object under `key`, whether stored as an object or as a JSON string holding one
/// (Log Analytics exports and PowerShell round trips do both).
pub fn get_obj<'a>(m: &'a Map<String, Value>, key: &str) -> Option<Cow<'a, Map<String, Value>>> {
    match get(m, key)? {
        Value::Object(o) => Some(Cow::Borrowed(o)),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => Some(Cow::Owned(o)),
            _ => None,
        },
        _ => None,
    }
}

/// An array under `key`, stored directly or as a JSON string; a lone object counts as one element.
pub fn get_array<'a>(m: &'a Map<String, Value>, key: &str) -> Cow<'a, [Value]> {
    match get(m, key) {
        Some(Value::Array(a)) => Cow::Borrowed(a.as_slice()),
        Some(Value::Object(o)) => Cow::Owned(vec![Value::Object(o.clone())]),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => Cow::Owned(a),
            Ok(Value::Object(o)) => Cow::Owned(vec![Value::Object(o)]),
            _ => Cow::Owned(Vec::new()),
        },
        _ => Cow::Owned(Vec::new()),
    }
}

/// `[{Name,Value}]` / `[{key,value}]` lists as one object (first occurrence of a name wins,
/// so a repeated name cannot overwrite what came first).
pub fn name_value_object(items: &[Value]) -> Map<String, Value> {
    let mut out = Map::new();
    for it in items {
        let Value::Object(o) = it else { continue };
        let Some(name) = get_text_any(o, &["Name", "key"]) else {
            continue;
        };
        let val = o
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("Value"))
            .map(|(_, v)| v.clone())
            .unwrap_or(Value::Null);
        out.entry(name).or_insert(val);
    }
    out
}

/// Entra writes modified-property values as JSON text inside the JSON (`"[\"true\"]"`,
/// `"\"KeyDescription\""`, `"[\r\n  true\r\n]"`). Returns the value an analyst means: a lone
/// scalar unwrapped, several values as compact JSON, nothing for null/empty.
pub fn decode_embedded(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    match serde_json::from_str::<Value>(t) {
        Ok(v) => decode_value(&v),
        Err(_) => Some(s.to_string()),
    }
}

fn decode_value(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Array(a) if a.is_empty() => None,
        Value::Array(a) if a.len() == 1 && !a[0].is_array() && !a[0].is_object() => {
            decode_value(&a[0])
        }
        other => value_text(other),
    }
}

/// A raw modified-property value from JSON (string to decode, or an already-structured value).
pub fn decode_prop(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => decode_embedded(s),
        other => decode_value(other),
    }
}

/// `[{displayName|Name, oldValue|OldValue, newValue|NewValue}]` → decoded properties.
pub fn modified_properties(items: &[Value]) -> Vec<ModifiedProperty> {
    let mut out = Vec::new();
    for it in items {
        let Value::Object(o) = it else { continue };
        let Some(name) = get_text_any(o, &["displayName", "Name"]) else {
            continue;
        };
        out.push(ModifiedProperty {
            name,
            old: decode_prop(get(o, "oldValue")),
            new: decode_prop(get(o, "newValue")),
        });
    }
    out
}

/// Entra `targetResources` → targets with their decoded modified properties.
pub fn targets_from_resources(items: &[Value]) -> Vec<Target> {
    let mut out = Vec::new();
    for it in items {
        let Value::Object(o) = it else { continue };
        let modified = modified_properties(&get_array(o, "modifiedProperties"));
        let name = get_text_any(o, &["userPrincipalName", "displayName"]);
        out.push(Target {
            kind: get_text(o, "type").map(Into::into),
            id: get_text(o, "id").map(Into::into),
            name: name.map(Into::into),
            modified,
        });
    }
    out
}

/// Splits `ip`, `ip:port`, `[v6]:port` or bare IPv6. `None` when it is not an address.
pub fn split_ip_port(s: &str) -> Option<(String, Option<u16>)> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some((ip.to_string(), None));
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (ip, tail) = rest.split_once(']')?;
        let ip: IpAddr = ip.parse().ok()?;
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((ip.to_string(), port));
    }
    let (ip, port) = s.rsplit_once(':')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    Some((ip.to_string(), port.parse().ok()))
}

/// Where the address came from when it is not an address (`123.456.7.89` in Microsoft's own
/// docs): the text goes to `extra` so nothing is lost and nothing invalid reaches `src_ip`.
pub struct IpFacts {
    pub ip: Option<String>,
    pub port: Option<u16>,
    pub unparsed: Option<String>,
}

pub fn ip_facts(raw: Option<&str>) -> IpFacts {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => IpFacts {
            ip: None,
            port: None,
            unparsed: None,
        },
        Some(r) => match split_ip_port(r) {
            Some((ip, port)) => IpFacts {
                ip: Some(ip),
                port,
                unparsed: None,
            },
            None => IpFacts {
                ip: None,
                port: None,
                unparsed: Some(r.to_string()),
            },
        },
    }
}

/// Any time Microsoft documents as UTC: ISO with or without designator, US locale text, or
/// the `/Date(1695693375000)/` that Windows PowerShell's ConvertTo-Json writes.
pub fn parse_utc(s: &str) -> Option<Stamp> {
    let t = s.trim();
    if let Some(inner) = t
        .strip_prefix("/Date(")
        .or_else(|| t.strip_prefix("\\/Date("))
    {
        let digits: String = inner
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        let ms: i64 = digits.parse().ok()?;
        let utc = Utc.timestamp_millis_opt(ms).single()?;
        return Some(Stamp {
            utc,
            zone: "UTC".into(),
        });
    }
    timefmt::parse_any_utc(t)
}

/// RFC 3339 UTC text for times kept in `extra`.
pub fn rfc3339(st: &Stamp) -> String {
    st.utc.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Graph `location` objects (`city, state, countryOrRegion, geoCoordinates`).
pub fn geo_from_location(loc: &Map<String, Value>) -> Option<Geo> {
    let coords = get_obj(loc, "geoCoordinates");
    let num = |k: &str| {
        coords
            .as_ref()
            .and_then(|c| get(c, k))
            .and_then(Value::as_f64)
    };
    let g = Geo {
        city: get_text(loc, "city"),
        state: get_text(loc, "state"),
        country: get_text(loc, "countryOrRegion"),
        lat: num("latitude"),
        lon: num("longitude"),
        asn: None,
    };
    if g.city.is_none() && g.state.is_none() && g.country.is_none() && g.lat.is_none() {
        None
    } else {
        Some(g)
    }
}

/// Index of the first non-whitespace byte, skipping a BOM.
pub fn first_content_byte(text: &str) -> Option<u8> {
    text.trim_start_matches(['\u{FEFF}', ' ', '\t', '\r', '\n', '\0'])
        .bytes()
        .next()
}

/// The first line that is not blank and not a `#TYPE`/comment line (PowerShell Export-Csv
/// writes `#TYPE ...` above the header unless told not to).
pub fn header_line(head: &str) -> Option<&str> {
    head.lines()
        .map(|l| l.trim_start_matches('\u{FEFF}').trim())
        .find(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Column names of a header line, unquoted, for sniffing (not for parsing: no embedded commas
/// appear in the header names sniffers look for).
pub fn header_names(line: &str) -> Vec<String> {
    let delim = guess_delimiter(line) as char;
    line.split(delim)
        .map(|c| c.trim().trim_matches('"').trim().to_ascii_lowercase())
        .collect()
}

/// `,` unless the header clearly uses `;` or tab (Export-Csv -UseCulture in many locales).
pub fn guess_delimiter(line: &str) -> u8 {
    let count = |c: char| line.matches(c).count();
    let (comma, semi, tab) = (count(','), count(';'), count('\t'));
    if semi > comma && semi >= tab {
        b';'
    } else if tab > comma && tab > semi {
        b'\t'
    } else {
        b','
    }
}

/// One CSV record (a data row after the header) or a row the CSV reader could not read.
pub enum CsvRecord<'a> {
    Row {
        header: &'a Header,
        row: Row,
    },
    Bad {
        start: usize,
        end: usize,
        reason: String,
    },
}

/// Walks a CSV export: skips `#TYPE`/comment lines and blank rows above the header, takes
/// the first other row as the header, and skips blank rows and repeated headers (exports
/// concatenated or appended with -Append) later. Everything else is a record, in order.
pub fn for_each_csv_record(text: &str, f: &mut dyn FnMut(CsvRecord)) {
    let delim = header_line(text).map(guess_delimiter).unwrap_or(b',');
    let mut header: Option<(Header, Vec<String>)> = None;
    for r in Rows::new(text, delim) {
        match r {
            Err((start, end, reason)) => f(CsvRecord::Bad {
                start,
                end,
                reason: format!("unreadable CSV row: {reason}"),
            }),
            Ok(row) => {
                let blank = row.record.iter().all(|c| c.trim().is_empty());
                if blank {
                    continue;
                }
                match &header {
                    None => {
                        let first = row
                            .record
                            .get(0)
                            .unwrap_or("")
                            .trim_start_matches('\u{FEFF}')
                            .trim();
                        if first.starts_with('#') {
                            continue;
                        }
                        let names = row.record.iter().map(|c| c.trim().to_string()).collect();
                        header = Some((Header::new(&row.record), names));
                    }
                    Some((h, names)) => {
                        let repeated = row.record.len() == names.len()
                            && row
                                .record
                                .iter()
                                .zip(names.iter())
                                .all(|(a, b)| a.trim() == b.as_str());
                        if repeated {
                            continue;
                        }
                        f(CsvRecord::Row { header: h, row });
                    }
                }
            }
        }
    }
}

/// A CSV row as a JSON object keyed by the header's original names (empty cells left out),
/// so CSV variants can reuse the JSON mapping.
pub fn row_object(header_names: &[String], row: &Row) -> Map<String, Value> {
    let mut out = Map::new();
    for (i, cell) in row.record.iter().enumerate() {
        let Some(name) = header_names.get(i) else {
            break;
        };
        if cell.trim().is_empty() {
            continue;
        }
        out.insert(name.clone(), Value::String(cell.to_string()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp(name: &str, old: Option<&str>, new: Option<&str>) -> ModifiedProperty {
        ModifiedProperty {
            name: name.into(),
            old: old.map(Into::into),
            new: new.map(Into::into),
        }
    }

    #[test]
    fn ops_with_and_without_period() {
        let f = OpFacts::default();
        assert_eq!(
            map_operation("Reset user password.", &f).action,
            actions::PASSWORD_RESET
        );
        assert_eq!(
            map_operation("Reset user password", &f).action,
            actions::PASSWORD_RESET
        );
        assert_eq!(
            map_operation("Update StsRefreshTokenValidFrom Timestamp.", &f).action,
            actions::TOKENS_REVOKED
        );
        assert_eq!(map_operation("Something New", &f).action, actions::OTHER);
        assert_eq!(
            map_operation("UserLoginFailed", &f).class,
            EventClass::Authentication
        );
    }

    #[test]
    fn update_user_by_modified() {
        let dis = [mp("AccountEnabled", Some("true"), Some("false"))];
        assert_eq!(
            map_operation(
                "Update user.",
                &OpFacts {
                    modified: &dis,
                    parameters: None
                }
            )
            .action,
            actions::ACCOUNT_DISABLED
        );
        let sts = [mp(
            "StsRefreshTokensValidFrom",
            None,
            Some("2024-01-01T00:00:00Z"),
        )];
        assert_eq!(
            map_operation(
                "Update user",
                &OpFacts {
                    modified: &sts,
                    parameters: None
                }
            )
            .action,
            actions::TOKENS_REVOKED
        );
        let mfa = [mp(
            "StrongAuthenticationMethod",
            None,
            Some("[{\"MethodType\":6}]"),
        )];
        assert_eq!(
            map_operation(
                "Update user",
                &OpFacts {
                    modified: &mfa,
                    parameters: None
                }
            )
            .action,
            actions::MFA_METHOD_REGISTERED
        );
        let mfa_del = [mp(
            "StrongAuthenticationMethod",
            Some("[{\"MethodType\":6}]"),
            None,
        )];
        assert_eq!(
            map_operation(
                "Update user",
                &OpFacts {
                    modified: &mfa_del,
                    parameters: None
                }
            )
            .action,
            actions::MFA_METHOD_DELETED
        );
        assert_eq!(
            map_operation("Update user", &OpFacts::default()).action,
            actions::USER_UPDATED
        );
    }

    #[test]
    fn set_mailbox_forwarding() {
        let p: Map<String, Value> = serde_json::from_str(
            r#"{"ForwardingSmtpAddress":"smtp:x@evil.example","Identity":"a"}"#,
        )
        .unwrap();
        assert_eq!(mailbox_action(Some(&p)), actions::MAILBOX_FORWARDING_SET);
        let p: Map<String, Value> =
            serde_json::from_str(r#"{"ForwardingSmtpAddress":"","Identity":"a"}"#).unwrap();
        assert_eq!(
            mailbox_action(Some(&p)),
            actions::MAILBOX_FORWARDING_REMOVED
        );
        let p: Map<String, Value> =
            serde_json::from_str(r#"{"Identity":"a","MaxSendSize":"1 GB"}"#).unwrap();
        assert_eq!(mailbox_action(Some(&p)), actions::MAILBOX_UPDATED);
    }

    #[test]
    fn embedded_json_values() {
        assert_eq!(decode_embedded("[\"true\"]").as_deref(), Some("true"));
        assert_eq!(decode_embedded("[\r\n  true\r\n]").as_deref(), Some("true"));
        assert_eq!(
            decode_embedded("\"KeyDescription\"").as_deref(),
            Some("KeyDescription")
        );
        assert_eq!(decode_embedded("[]"), None);
        assert_eq!(decode_embedded(""), None);
        assert_eq!(
            decode_embedded("[\"a\",\"b\"]").as_deref(),
            Some("[\"a\",\"b\"]")
        );
        assert_eq!(
            decode_embedded("AccountEnabled, AppAddress").as_deref(),
            Some("AccountEnabled, AppAddress")
        );
    }

    #[test]
    fn ips() {
        assert_eq!(
            split_ip_port("185.73.124.135:19823"),
            Some(("185.73.124.135".into(), Some(19823)))
        );
        assert_eq!(
            split_ip_port("2a01:111:2054:18:fdd0:dfa4:5ca0:4761").map(|x| x.1),
            Some(None)
        );
        assert_eq!(
            split_ip_port("[2001:db8::1]:443"),
            Some(("2001:db8::1".into(), Some(443)))
        );
        assert_eq!(split_ip_port("123.456.7.89"), None);
        assert_eq!(split_ip_port(""), None);
    }

    #[test]
    fn ps_dates() {
        let st = parse_utc("/Date(1695693375000)/").unwrap();
        assert_eq!(rfc3339(&st), "2023-09-26T01:56:15Z");
        assert!(parse_utc("/Date(x)/").is_none());
    }
}
