//! Entra ID (Azure AD) sign-in logs, in every shape responders are handed them:
//!
//! | variant          | what it is                                                                 |
//! |------------------|----------------------------------------------------------------------------|
//! | `graph_json`     | Graph `signIn` objects (camelCase): `{"value":[…]}` pages, arrays, JSON lines, PowerShell `ConvertTo-Json`, portal "Download JSON", Extractor-Suite SOF-ELK lines |
//! | `graph_sdk_json` | Graph PowerShell SDK objects serialized as they are (PascalCase keys, `CreatedDateTime` as text or `/Date(ms)/`) |
//! | `diagnostic_json`| Azure diagnostic-settings records (`time, category, properties{…}`), `{"records":[…]}` or one per line |
//! | `sentinel_json`  | Log Analytics `SigninLogs`/`AADNonInteractiveUserSignInLogs`/… rows as objects |
//! | `portal_csv`     | Entra portal "Download CSV" of user sign-ins (interactive and non-interactive) |
//! | `portal_app_csv` | Entra portal "Download CSV" of service-principal / managed-identity sign-ins |
//! | `sentinel_csv`   | Log Analytics "Export to CSV" of the sign-in tables |
//! | `flattened_csv`  | Graph objects flattened to CSV with dotted names (pandas, ConvertTo-FlatObject + Export-Csv) |
//!
//! Every variant is first turned into a Graph-shaped object and then mapped by one function,
//! so the same sign-in exported two ways becomes the same normalized facts.

use super::csvscan::{self, Header};
use super::jsonscan::{self, Piece};
use super::timefmt::{self, Stamp};
use super::{Input, Item, ParseContext, Source};
use crate::event::{actions, Device, Event, EventClass, Geo, Mfa, Outcome};
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

const ID: &str = "entra_signin";
/// Operation name Microsoft gives this event in diagnostic logs and Log Analytics; Graph and the
/// portal carry none, so it stands in for them too.
const OPERATION: &str = "Sign-in activity";

pub struct EntraSignin;

type Obj = Map<String, Value>;

impl Source for EntraSignin {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "Entra ID sign-in logs"
    }

    fn sniff(&self, head: &str) -> u8 {
        let h = head.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n', '\0']);
        match h.as_bytes().first() {
            None => 0,
            Some(b'{') | Some(b'[') => sniff_json(h),
            Some(_) => sniff_csv(h),
        }
    }

    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        let t = input
            .text
            .trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n', '\0']);
        match t.as_bytes().first() {
            None => {}
            Some(b'{') | Some(b'[') => parse_json(input, ctx, out),
            Some(_) => parse_csv(input, ctx, out),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------------------------

fn has_any(h: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| h.contains(n))
}

/// Keys only a sign-in record has; audit, risk and UAL records share user/IP/time keys but
/// none of these.
const SIGNIN_ONLY_KEYS: &[&str] = &[
    "\"clientappused\"",
    "\"conditionalaccessstatus\"",
    "\"authenticationrequirement\"",
    "\"isinteractive\"",
    "\"signineventtypes\"",
    "\"locationdetails\"",
    "\"servicePrincipalCredentialKeyId\"",
];

const SIGNIN_CATEGORIES: &[&str] = &[
    "\"signinlogs\"",
    "\"noninteractiveusersigninlogs\"",
    "\"serviceprincipalsigninlogs\"",
    "\"managedidentitysigninlogs\"",
    "\"microsoftserviceprincipalsigninlogs\"",
];

fn sniff_json(head: &str) -> u8 {
    let h = head.to_ascii_lowercase();
    let keys: Vec<String> = SIGNIN_ONLY_KEYS
        .iter()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    let signin_key = keys.iter().any(|k| h.contains(k.as_str()));
    if has_any(&h, SIGNIN_CATEGORIES)
        && has_any(
            &h,
            &["\"properties\"", "\"resulttype\"", "\"operationname\""],
        )
    {
        return 95;
    }
    if h.contains("\"createddatetime\"")
        && signin_key
        && has_any(&h, &["\"userprincipalname\"", "\"appid\"", "\"ipaddress\""])
    {
        return 90;
    }
    if h.contains("\"timegenerated\"") && h.contains("\"resulttype\"") && signin_key {
        return 90;
    }
    0
}

/// The first line of a CSV that is not a PowerShell `#TYPE` comment.
fn csv_header_line(text: &str) -> &str {
    text.lines()
        .map(|l| l.trim_start_matches('\u{feff}'))
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or("")
}

fn sniff_csv(head: &str) -> u8 {
    let h = csv_header_line(head).to_ascii_lowercase();
    match layout_from_lower_header(&h) {
        Some(Layout::Portal) | Some(Layout::PortalApp) | Some(Layout::Sentinel) => 90,
        Some(Layout::Flattened) => 85,
        None => 0,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Portal,
    PortalApp,
    Sentinel,
    Flattened,
}

fn layout_from_lower_header(h: &str) -> Option<Layout> {
    if h.contains("date (utc)") && h.contains("request id") {
        if h.contains("service principal id") && !h.contains("username") {
            return Some(Layout::PortalApp);
        }
        if has_any(h, &["sign-in error code", "client app", "username"]) {
            return Some(Layout::Portal);
        }
    }
    if h.contains("timegenerated")
        && h.contains("resulttype")
        && has_any(
            h,
            &[
                "conditionalaccessstatus",
                "clientappused",
                "locationdetails",
                "serviceprincipalcredentialkeyid",
                "isinteractive",
            ],
        )
    {
        return Some(Layout::Sentinel);
    }
    if h.contains("createddatetime")
        && has_any(
            h,
            &[
                "userprincipalname",
                "appdisplayname",
                "serviceprincipalname",
            ],
        )
        && has_any(
            h,
            &[
                "status.errorcode",
                "clientappused",
                "conditionalaccessstatus",
                "risklevelduringsignin",
                "authenticationrequirement",
                "isinteractive",
            ],
        )
    {
        return Some(Layout::Flattened);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// JSON shapes
// ---------------------------------------------------------------------------------------------

fn parse_json(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let text = input.text;
    let hint = FileHint::from_path(input.evidence_path);
    let mut record_no = 0u64;
    jsonscan::each(text, &mut |piece| {
        record_no += 1;
        let item = match piece {
            Piece::Bad { start, end, reason } => Err(input.reject(record_no, start, end, reason)),
            Piece::Record { start, end } => {
                let raw = text.get(start..end).unwrap_or("");
                match serde_json::from_str::<Value>(raw) {
                    Err(e) => {
                        Err(input.reject(record_no, start, end, format!("invalid JSON: {e}")))
                    }
                    Ok(Value::Object(m)) => json_record(&m, ctx, hint)
                        .map(|d| d.into_event(input.provenance(record_no, start, end)))
                        .map_err(|why| input.reject(record_no, start, end, why)),
                    Ok(_) => {
                        Err(input.reject(record_no, start, end, "JSON record is not an object"))
                    }
                }
            }
        };
        out(item);
    });
}

fn json_record(m: &Obj, ctx: &ParseContext, hint: FileHint) -> Result<Draft, String> {
    if get(m, "tables").is_some() && get(m, "properties").is_none() {
        return Err("Log Analytics API response (tables/columns/rows) is not supported: export the rows as objects or CSV".into());
    }
    // Diagnostic-settings envelope: the sign-in is in `properties`.
    if let Some(props) = sub(m, &["properties"]) {
        if get_any(m, &["category", "operationName", "resultType", "time"]).is_some() {
            let time_raw = s(m, &["time"]).or_else(|| s(&props, &["createdDateTime"]));
            let time_raw = time_raw.ok_or(
                "no time: neither envelope `time` nor `properties.createdDateTime` is present",
            )?;
            let t = parse_time(&time_raw, false, DateOrder::MonthFirst, ctx)
                .map_err(|e| format!("field `time`: {e}"))?;
            return Ok(map_signin(
                &props,
                Some(m),
                "diagnostic_json",
                time_raw,
                t,
                hint,
            ));
        }
    }
    if get(m, "TimeGenerated").is_some() {
        let (key, raw) = first_time(m, &["CreatedDateTime", "TimeGenerated"])
            .ok_or("no time: `CreatedDateTime` and `TimeGenerated` are empty")?;
        let t = parse_time(&raw, true, DateOrder::MonthFirst, ctx)
            .map_err(|e| format!("field `{key}`: {e}"))?;
        return Ok(map_signin(m, None, "sentinel_json", raw, t, hint));
    }
    let variant = if m.contains_key("CreatedDateTime") || m.contains_key("UserPrincipalName") {
        "graph_sdk_json"
    } else {
        "graph_json"
    };
    let (key, raw) =
        first_time(m, &["createdDateTime"]).ok_or("not a sign-in record: no `createdDateTime`")?;
    let t = parse_time(&raw, false, DateOrder::MonthFirst, ctx)
        .map_err(|e| format!("field `{key}`: {e}"))?;
    Ok(map_signin(m, None, variant, raw, t, hint))
}

fn first_time(m: &Obj, keys: &[&'static str]) -> Option<(&'static str, String)> {
    keys.iter()
        .find_map(|k| get(m, k).and_then(text).map(|v| (*k, v)))
}

// ---------------------------------------------------------------------------------------------
// CSV shapes
// ---------------------------------------------------------------------------------------------

fn pick_delimiter(header_line: &str) -> u8 {
    let count = |c: char| header_line.matches(c).count();
    let (comma, semi, tab) = (count(','), count(';'), count('\t'));
    if semi > comma && semi >= tab {
        b';'
    } else if tab > comma && tab > semi {
        b'\t'
    } else {
        b','
    }
}

struct CsvLayout {
    layout: Layout,
    header: Header,
    /// Original header cells (trimmed), for the variants that keep the source's own names.
    raw_names: Vec<String>,
    time_col: Option<usize>,
}

fn parse_csv(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let text = input.text;
    let hint = FileHint::from_path(input.evidence_path);
    let delim = pick_delimiter(csv_header_line(text));
    let mut layout: Option<CsvLayout> = None;
    let mut order = DateOrder::MonthFirst;
    let mut record_no = 0u64;
    for row in csvscan::Rows::new(text, delim) {
        let row = match row {
            Ok(r) => r,
            Err((start, end, msg)) => {
                record_no += 1;
                out(Err(input.reject(
                    record_no,
                    start,
                    end,
                    format!("malformed CSV: {msg}"),
                )));
                continue;
            }
        };
        if row.record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let Some(lay) = layout.as_ref() else {
            // PowerShell's `#TYPE …` line (and any comment) before the header is not a record.
            if row
                .record
                .get(0)
                .is_some_and(|c| c.trim_start_matches('\u{feff}').starts_with('#'))
            {
                continue;
            }
            let header = Header::new(&row.record);
            let lower = header.names().join(",");
            let raw_names: Vec<String> = row
                .record
                .iter()
                .map(|c| c.trim().trim_start_matches('\u{feff}').to_string())
                .collect();
            let kind = layout_from_lower_header(&lower);
            let time_col = match kind {
                Some(Layout::Portal) | Some(Layout::PortalApp) => header.idx("Date (UTC)"),
                Some(Layout::Sentinel) => header
                    .idx("CreatedDateTime")
                    .or_else(|| header.idx("TimeGenerated")),
                Some(Layout::Flattened) => header.idx("createdDateTime"),
                None => None,
            };
            if let Some(col) = time_col {
                order = detect_date_order(text, delim, col);
            }
            // An unknown layout keeps `time_col` empty, so every row is still reported, each with why.
            layout = Some(CsvLayout {
                layout: kind.unwrap_or(Layout::Flattened),
                header,
                raw_names,
                time_col,
            });
            continue;
        };
        record_no += 1;
        let (start, end) = (row.start, row.end);
        let item = csv_record(lay, &row.record, order, ctx, hint)
            .map(|d| d.into_event(input.provenance(record_no, start, end)))
            .map_err(|why| input.reject(record_no, start, end, why));
        out(item);
    }
}

fn csv_record(
    lay: &CsvLayout,
    rec: &csv::StringRecord,
    order: DateOrder,
    ctx: &ParseContext,
    hint: FileHint,
) -> Result<Draft, String> {
    let Some(time_col) = lay.time_col else {
        return Err("CSV header is not an Entra sign-in layout this parser knows (portal, Log Analytics, flattened Graph)".into());
    };
    let want = lay.header.len();
    if rec.len() < want {
        return Err(format!(
            "row has {} columns but the header has {want}: the row is short or truncated",
            rec.len()
        ));
    }
    if rec.iter().skip(want).any(|c| !c.trim().is_empty()) {
        return Err(format!(
            "row has {} columns but the header has {want}: unquoted comma or shifted cells",
            rec.len()
        ));
    }
    let time_raw = rec.get(time_col).map(str::trim).filter(|v| !v.is_empty());
    let time_name = lay.raw_names.get(time_col).cloned().unwrap_or_default();
    let time_raw = time_raw
        .ok_or_else(|| format!("field `{time_name}` is empty"))?
        .to_string();
    let (obj, variant, utc_contract) = match lay.layout {
        Layout::Portal => (portal_obj(&lay.header, rec), "portal_csv", true),
        Layout::PortalApp => (portal_obj(&lay.header, rec), "portal_app_csv", true),
        Layout::Sentinel => (named_obj(&lay.raw_names, rec, false), "sentinel_csv", true),
        Layout::Flattened => (named_obj(&lay.raw_names, rec, true), "flattened_csv", false),
    };
    let t = parse_time(&time_raw, utc_contract, order, ctx)
        .map_err(|e| format!("field `{time_name}`: {e}"))?;
    Ok(map_signin(&obj, None, variant, time_raw, t, hint))
}

/// Log Analytics and flattened exports keep Graph's names (in any case), so a row becomes an
/// object under its own column names; dotted names nest when `nest` is set.
fn named_obj(names: &[String], rec: &csv::StringRecord, nest: bool) -> Obj {
    let mut o = Obj::new();
    for (name, cell) in names.iter().zip(rec.iter()) {
        let cell = cell.trim();
        let name = name.strip_suffix("[UTC]").unwrap_or(name).trim();
        if cell.is_empty() || name.is_empty() || name.starts_with("Unnamed:") {
            continue;
        }
        if !nest || !name.contains('.') {
            o.entry(name.to_string())
                .or_insert_with(|| Value::String(cell.to_string()));
            continue;
        }
        let mut parts = name.split('.').filter(|p| !p.is_empty()).peekable();
        let mut cur = &mut o;
        while let Some(p) = parts.next() {
            if parts.peek().is_none() {
                cur.entry(p.to_string())
                    .or_insert_with(|| Value::String(cell.to_string()));
                break;
            }
            let slot = cur
                .entry(p.to_string())
                .or_insert_with(|| Value::Object(Obj::new()));
            match slot {
                Value::Object(next) => cur = next,
                // A scalar column and a dotted column with the same stem: keep the scalar.
                _ => break,
            }
        }
    }
    o
}

/// Portal column (normalized: lower case, single spaces, no `[UTC]`) → Graph path.
const PORTAL_COLUMNS: &[(&str, &str)] = &[
    ("date (utc)", "createdDateTime"),
    ("request id", "id"),
    ("user agent", "userAgent"),
    ("correlation id", "correlationId"),
    ("user id", "userId"),
    ("user", "userDisplayName"),
    ("username", "userPrincipalName"),
    ("user type", "userType"),
    ("cross tenant access type", "crossTenantAccessType"),
    ("incoming token type", "incomingTokenType"),
    ("authentication protocol", "authenticationProtocol"),
    ("unique token identifier", "uniqueTokenIdentifier"),
    ("original transfer method", "originalTransferMethod"),
    ("client credential type", "clientCredentialType"),
    (
        "token protection - sign in session",
        "tokenProtectionSignInSession",
    ),
    (
        "token protection - sign in session statuscode",
        "tokenProtectionSignInSessionStatusCode",
    ),
    ("application", "appDisplayName"),
    ("application id", "appId"),
    ("app owner tenant id", "appOwnerTenantId"),
    ("resource", "resourceDisplayName"),
    ("resource id", "resourceId"),
    ("resource tenant id", "resourceTenantId"),
    ("resource owner tenant id", "resourceOwnerTenantId"),
    ("home tenant id", "homeTenantId"),
    ("home tenant name", "homeTenantName"),
    ("ip address", "ipAddress"),
    ("status", "statusText"),
    ("sign-in error code", "status.errorCode"),
    ("failure reason", "status.failureReason"),
    ("additional details", "status.additionalDetails"),
    ("client app", "clientAppUsed"),
    ("device id", "deviceDetail.deviceId"),
    ("browser", "deviceDetail.browser"),
    ("operating system", "deviceDetail.operatingSystem"),
    ("compliant", "deviceDetail.isCompliant"),
    ("managed", "deviceDetail.isManaged"),
    ("join type", "deviceDetail.trustType"),
    ("multifactor authentication result", "mfaResult"),
    (
        "multifactor authentication auth method",
        "mfaDetail.authMethod",
    ),
    (
        "multifactor authentication auth detail",
        "mfaDetail.authDetail",
    ),
    ("authentication requirement", "authenticationRequirement"),
    ("sign-in identifier", "signInIdentifier"),
    ("session id", "sessionId"),
    (
        "ip address (seen by resource)",
        "ipAddressFromResourceProvider",
    ),
    ("through global secure access", "throughGlobalSecureAccess"),
    (
        "global secure access ip address",
        "globalSecureAccessIpAddress",
    ),
    ("autonomous system number", "autonomousSystemNumber"),
    ("flagged for review", "flaggedForReview"),
    ("token issuer type", "tokenIssuerType"),
    ("token issuer name", "tokenIssuerName"),
    ("latency", "processingTimeInMilliseconds"),
    ("conditional access", "conditionalAccessStatus"),
    ("managed identity type", "managedIdentityType"),
    ("associated resource id", "associatedResourceId"),
    ("federated token id", "federatedTokenId"),
    ("federated token issuer", "federatedTokenIssuer"),
    ("service principal id", "servicePrincipalId"),
    ("service principal name", "servicePrincipalName"),
    ("credential key id", "servicePrincipalCredentialKeyId"),
    (
        "credential thumbprint",
        "servicePrincipalCredentialThumbprint",
    ),
];

fn portal_obj(header: &Header, rec: &csv::StringRecord) -> Obj {
    let mut o = Obj::new();
    for (name, cell) in header.names().iter().zip(rec.iter()) {
        let cell = cell.trim();
        if cell.is_empty() {
            continue;
        }
        if name == "location" {
            if !o.contains_key("location") {
                o.insert(
                    "location".into(),
                    Value::Object(split_portal_location(cell)),
                );
            }
            continue;
        }
        let Some((_, path)) = PORTAL_COLUMNS.iter().find(|(n, _)| n == name) else {
            continue;
        };
        let (parent, key) = match path.split_once('.') {
            Some((p, k)) => (Some(p), k),
            None => (None, *path),
        };
        let target = match parent {
            None => &mut o,
            Some(p) => match o
                .entry(p.to_string())
                .or_insert_with(|| Value::Object(Obj::new()))
            {
                Value::Object(m) => m,
                _ => continue,
            },
        };
        // The portal writes "Incoming token type" twice; the first non-empty one wins.
        target
            .entry(key.to_string())
            .or_insert_with(|| Value::String(cell.to_string()));
    }
    o
}

/// Portal `Location` is "City, State, CC" with empty parts dropped or left blank.
fn split_portal_location(cell: &str) -> Obj {
    let parts: Vec<&str> = cell.split(',').map(str::trim).collect();
    let mut o = Obj::new();
    let mut put = |k: &str, v: Option<&&str>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            o.insert(k.to_string(), Value::String(v.to_string()));
        }
    };
    match parts.len() {
        0 => {}
        1 => put("countryOrRegion", parts.first()),
        2 => {
            put("city", parts.first());
            put("countryOrRegion", parts.get(1));
        }
        n => {
            put("city", parts.first());
            let state = parts
                .get(1..n - 1)
                .map(|s| s.join(", "))
                .unwrap_or_default();
            put("state", Some(&state.as_str()));
            put("countryOrRegion", parts.get(n - 1));
        }
    }
    o
}

/// Slash dates in CSV exports follow the exporting machine's locale. One file has one locale,
/// so a day above 12 anywhere in the time column settles the order for every row.
fn detect_date_order(text: &str, delim: u8, col: usize) -> DateOrder {
    let mut first = true;
    for row in csvscan::Rows::new(text, delim).flatten() {
        if first {
            first = false;
            continue;
        }
        let Some(v) = row.record.get(col) else {
            continue;
        };
        let v = v.trim();
        let Some(date) = v.split([' ', ',', 'T']).next() else {
            continue;
        };
        if !date.contains('/') {
            if date.contains('-') {
                return DateOrder::MonthFirst;
            }
            continue;
        }
        let mut it = date.split('/');
        let a: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        let b: u32 = it.next().and_then(|x| x.parse().ok()).unwrap_or(0);
        if a > 12 && b <= 12 {
            return DateOrder::DayFirst;
        }
        if b > 12 && a <= 12 {
            return DateOrder::MonthFirst;
        }
    }
    DateOrder::MonthFirstAssumed
}

// ---------------------------------------------------------------------------------------------
// Times
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateOrder {
    /// Known from the data (a day above 12 was seen in the second place).
    MonthFirst,
    DayFirst,
    /// No value told the order apart; US order assumed, as PowerShell and Log Analytics default to.
    MonthFirstAssumed,
}

struct When {
    stamp: Stamp,
    /// How a slash date was read, when it was one.
    date_order: Option<&'static str>,
}

/// `utc_by_contract`: the export documents its times as UTC (portal "Date (UTC)", Log
/// Analytics), so a time without a designator is UTC rather than an assumption.
fn parse_time(
    raw: &str,
    utc_by_contract: bool,
    order: DateOrder,
    ctx: &ParseContext,
) -> Result<When, String> {
    let s = raw.trim();
    if let Some(utc) = ms_date(s) {
        return Ok(When {
            stamp: Stamp {
                utc,
                zone: "UTC".into(),
            },
            date_order: None,
        });
    }
    if let Some(stamp) = timefmt::parse_iso(s) {
        return Ok(When {
            stamp,
            date_order: None,
        });
    }
    let (naive, date_order) =
        parse_naive_any(s, order).ok_or_else(|| format!("unparseable timestamp {s:?}"))?;
    let stamp = if utc_by_contract {
        Stamp {
            utc: Utc.from_utc_datetime(&naive),
            zone: "UTC".into(),
        }
    } else if let Some(tz) = ctx.zone_for(ID) {
        timefmt::localize(naive, tz)
    } else {
        Stamp {
            utc: Utc.from_utc_datetime(&naive),
            zone: "UTC (assumed: no zone given)".into(),
        }
    };
    Ok(When { stamp, date_order })
}

/// .NET's `/Date(1695131117287)/` or `/Date(1695131117287+0200)/` (Windows PowerShell 5.1
/// `ConvertTo-Json` of a DateTime): milliseconds since the epoch, UTC whatever the suffix says.
fn ms_date(s: &str) -> Option<DateTime<Utc>> {
    let inner = s.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let digits_end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map(|(i, _)| i)
        .unwrap_or(inner.len());
    let ms: i64 = inner.get(..digits_end)?.parse().ok()?;
    DateTime::from_timestamp_millis(ms)
}

fn parse_naive_any(s: &str, order: DateOrder) -> Option<(NaiveDateTime, Option<&'static str>)> {
    let date = s.split([' ', ',', 'T']).next().unwrap_or("");
    if date.contains('.') && date.split('.').count() == 3 {
        // German-style `19.09.2023 13:45:17` is always day first.
        let rest = s.get(date.len()..).unwrap_or("");
        let mut p = date.split('.');
        let (d, m, y) = (p.next()?, p.next()?, p.next()?);
        return timefmt::parse_us_locale(&format!("{m}/{d}/{y}{rest}"))
            .map(|n| (n, Some("day.month.year")));
    }
    if !date.contains('/') {
        return timefmt::parse_naive(s).map(|n| (n, None));
    }
    let swapped = || {
        let rest = s.get(date.len()..).unwrap_or("");
        let mut p = date.split('/');
        let (d, m, y) = (p.next()?, p.next()?, p.next()?);
        timefmt::parse_us_locale(&format!("{m}/{d}/{y}{rest}"))
    };
    match order {
        DateOrder::DayFirst => swapped().map(|n| (n, Some("day/month/year"))),
        DateOrder::MonthFirst => timefmt::parse_us_locale(s).map(|n| (n, Some("month/day/year"))),
        DateOrder::MonthFirstAssumed => timefmt::parse_us_locale(s)
            .map(|n| (n, Some("month/day/year (assumed: no day above 12 seen)")))
            .or_else(|| swapped().map(|n| (n, Some("day/month/year")))),
    }
}

// ---------------------------------------------------------------------------------------------
// Field access: case-insensitive keys, values as Graph, PowerShell, CSV or KQL wrote them
// ---------------------------------------------------------------------------------------------

fn get<'a>(o: &'a Obj, key: &str) -> Option<&'a Value> {
    o.get(key)
        .or_else(|| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn get_any<'a>(o: &'a Obj, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().find_map(|k| get(o, k))
}

/// A scalar as trimmed text; empty strings are absent.
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_string),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn s(o: &Obj, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| get(o, k).and_then(text))
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => {
            let s = s.trim();
            // pandas writes integer columns that had gaps as floats: `50126.0`.
            s.parse::<i64>().ok().or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
        }
        _ => None,
    }
}

fn float(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Some(true),
            "false" | "no" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|i| i != 0),
        _ => None,
    }
}

/// A nested object: a real one, a JSON string (Log Analytics dynamic columns), or the
/// `@{k=v; k=v}` text PowerShell writes when `ConvertTo-Json` runs out of depth.
fn sub<'a>(o: &'a Obj, keys: &[&str]) -> Option<Cow<'a, Obj>> {
    keys.iter().find_map(|k| get(o, k).and_then(as_obj))
}

fn as_obj(v: &Value) -> Option<Cow<'_, Obj>> {
    match v {
        Value::Object(m) => Some(Cow::Borrowed(m)),
        Value::String(s) => {
            let t = s.trim();
            if t.starts_with('{') {
                match serde_json::from_str::<Value>(t) {
                    Ok(Value::Object(m)) => Some(Cow::Owned(m)),
                    _ => None,
                }
            } else if let Some(body) = t.strip_prefix("@{").and_then(|b| b.strip_suffix('}')) {
                let mut m = Obj::new();
                for pair in body.split(';') {
                    if let Some((k, v)) = pair.split_once('=') {
                        let (k, v) = (k.trim(), v.trim());
                        if !k.is_empty() && !v.is_empty() {
                            m.insert(k.to_string(), Value::String(v.to_string()));
                        }
                    }
                }
                Some(Cow::Owned(m))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// List-valued fields: arrays, JSON-array strings, or objects keyed `0`, `1`, … (flattened CSV).
fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Object(m) => m.values().cloned().collect(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            match serde_json::from_str::<Value>(s.trim()) {
                Ok(Value::Array(a)) => a,
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// A value for `extra`: JSON strings decoded, empties dropped.
fn extra_value(v: &Value) -> Option<Value> {
    match v {
        Value::Null => None,
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return None;
            }
            if t.starts_with('[') || t.starts_with('{') {
                if let Ok(parsed) = serde_json::from_str::<Value>(t) {
                    return extra_value(&parsed);
                }
            }
            Some(Value::String(t.to_string()))
        }
        Value::Array(a) if a.is_empty() => None,
        Value::Object(m) if m.is_empty() => None,
        other => Some(other.clone()),
    }
}

// ---------------------------------------------------------------------------------------------
// Mapping one Graph-shaped sign-in to an Event
// ---------------------------------------------------------------------------------------------

/// What the file name says about which portal tab a CSV came from; the portal's files carry no
/// column that does. Used only to fill `is_interactive`, never to detect the format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileHint {
    None,
    Interactive,
    NonInteractive,
    ServicePrincipal,
    ManagedIdentity,
}

impl FileHint {
    fn from_path(path: &str) -> FileHint {
        let name = path
            .rsplit(['/', '\\', '!'])
            .next()
            .unwrap_or(path)
            .to_ascii_lowercase();
        if name.contains("noninteractivesignins")
            || name.contains("non-interactive")
            || name.contains("noninteractiveuser")
        {
            FileHint::NonInteractive
        } else if name.contains("interactivesignins") {
            FileHint::Interactive
        } else if name.contains("applicationsignins") || name.contains("serviceprincipalsignins") {
            FileHint::ServicePrincipal
        } else if name.contains("msisignins") || name.contains("managedidentitysignins") {
            FileHint::ManagedIdentity
        } else {
            FileHint::None
        }
    }
}

/// An event without provenance yet: mapping never needs the raw span.
struct Draft {
    ev: Event,
}

impl Draft {
    fn into_event(mut self, p: crate::event::Provenance) -> Event {
        self.ev.set_provenance(p);
        self.ev
    }
}

fn map_signin(
    o: &Obj,
    env: Option<&Obj>,
    variant: &str,
    time_raw: String,
    when: When,
    hint: FileHint,
) -> Draft {
    let both = |keys: &[&str]| s(o, keys).or_else(|| env.and_then(|e| s(e, keys)));

    // Outcome: the error code decides; the portal's own word only fills in for codes we do not know.
    let status = sub(o, &["status"]);
    let status_text = s(o, &["statusText"]).or_else(|| {
        get(o, "status").and_then(|v| if as_obj(v).is_none() { text(v) } else { None })
    });
    let code = status
        .as_ref()
        .and_then(|st| get_any(st, &["errorCode"]).and_then(int))
        .or_else(|| get_any(o, &["resultType", "errorCode", "Status.ErrorCode"]).and_then(int))
        .or_else(|| env.and_then(|e| get(e, "resultType")).and_then(int));
    let failure_reason = status
        .as_ref()
        .and_then(|st| s(st, &["failureReason"]))
        .or_else(|| both(&["failureReason", "resultDescription"]))
        .filter(|r| r != "Other.");
    let additional = status.as_ref().and_then(|st| s(st, &["additionalDetails"]));
    let non_numeric_result = both(&["resultType"]).filter(|r| r.parse::<i64>().is_err());
    let outcome = classify(
        code,
        status_text.as_deref().or(non_numeric_result.as_deref()),
    );
    let reason = match (code, outcome) {
        (_, Outcome::Success) => None,
        (Some(c), _) => {
            let mut r = c.to_string();
            if let Some(d) = code_info(c).map(|i| i.1) {
                r.push(' ');
                r.push_str(d);
            }
            if let Some(fr) = &failure_reason {
                r.push_str(": ");
                r.push_str(fr);
            }
            Some(r)
        }
        (None, _) => failure_reason.clone(),
    };

    let operation = both(&["operationName"]).unwrap_or_else(|| OPERATION.to_string());
    let mut ev = Event::new(
        when.stamp.utc,
        time_raw,
        when.stamp.zone,
        ID,
        variant,
        EventClass::Authentication,
        actions::SIGN_IN,
        operation,
        outcome,
        Default::default(),
    );
    ev.reason = reason.map(Into::into);
    ev.user = s(o, &["userPrincipalName"]).map(Into::into);
    ev.user_id = s(o, &["userId"]).map(Into::into);
    if let Some(raw_ip) = both(&["ipAddress", "callerIpAddress"]) {
        match split_ip(&raw_ip) {
            Some((ip, port)) => {
                ev.src_ip = Some(ip.into());
                ev.cold_mut().src_port = port;
            }
            None => {
                ev.extra.insert("ip_address_raw", Value::String(raw_ip));
            }
        }
    }
    ev.geo = geo(o, env).map(Arc::new);
    ev.device = device(o).map(Arc::new);
    ev.descr_mut().user_agent = s(o, &["userAgent"]).map(Into::into);
    ev.descr_mut().client_app = s(o, &["clientAppUsed"]).map(Into::into);
    ev.descr_mut().app = s(o, &["appDisplayName"]).map(Into::into);
    ev.descr_mut().app_id = s(o, &["appId"]).map(Into::into);
    ev.descr_mut().resource = s(
        o,
        &["resourceDisplayName", "resourceId", "ResourceIdentity"],
    )
    .map(Into::into);
    ev.cold_mut().session_id = s(o, &["sessionId"]);
    ev.cold_mut().correlation_id = both(&["correlationId"]);
    ev.cold_mut().request_id = s(o, &["id"]);
    ev.mfa = mfa(o, status.as_deref(), additional.as_deref(), outcome).map(Arc::new);

    // Read before `extra` is borrowed to write (the ids are not fields to borrow apart).
    let own_correlation = env.and_then(|_| ev.cold().correlation_id.clone());
    let x = &mut ev.extra;
    if let Some(c) = code {
        x.insert("error_code", Value::from(c));
    }
    put(x, "failure_reason", failure_reason.map(Value::String));
    put(
        x,
        "status_additional_details",
        additional.map(Value::String),
    );
    put(x, "status", status_text.map(Value::String));
    if let Some(order) = when.date_order {
        x.insert("date_order", Value::String(order.into()));
    }
    let category = both(&["category"]).or_else(|| s(o, &["Type"]));
    let kind = sign_in_kind(o, category.as_deref(), variant, hint);
    match boolean_field(o, "isInteractive") {
        Some(b) => {
            x.insert("is_interactive", Value::Bool(b));
        }
        None => {
            if let Some((b, basis)) =
                kind.and_then(|(k, basis)| k.interactive().map(|b| (b, basis)))
            {
                x.insert("is_interactive", Value::Bool(b));
                x.insert("is_interactive_basis", Value::String(basis.into()));
            }
        }
    }
    if let Some((k, _)) = kind {
        x.insert("sign_in_type", Value::String(k.name().into()));
    }
    put(x, "category", category.map(Value::String));
    if let Some(e) = env {
        put(x, "tenant_id", s(e, &["tenantId"]).map(Value::String));
        // Seen to differ from the sign-in's own correlation id; keep both rather than choose silently.
        if let Some(c) =
            s(e, &["correlationId"]).filter(|c| own_correlation.as_deref() != Some(c.as_str()))
        {
            x.insert("envelope_correlation_id", Value::String(c));
        }
    }
    put(x, "tenant_id", s(o, &["AADTenantId"]).map(Value::String));
    for (out_key, keys) in EXTRA_FIELDS {
        if let Some(v) = get_any(o, keys).and_then(extra_value) {
            x.entry(out_key.to_string()).or_insert(v);
        }
    }
    if let Some(p) = get_any(
        o,
        &[
            "appliedConditionalAccessPolicies",
            "ConditionalAccessPolicies",
        ],
    ) {
        let applied: Vec<Value> = list(p)
            .iter()
            .filter_map(|pol| as_obj(pol).map(|m| m.into_owned()))
            .filter(|m| {
                s(m, &["result"]).is_some_and(|r| {
                    !matches!(r.as_str(), "notApplied" | "notEnabled" | "disabled")
                })
            })
            .map(|m| {
                let mut out = Obj::new();
                for (k, src) in [
                    ("id", "id"),
                    ("display_name", "displayName"),
                    ("result", "result"),
                ] {
                    if let Some(v) = s(&m, &[src]) {
                        out.insert(k.into(), Value::String(v));
                    }
                }
                for (k, src) in [
                    ("enforced_grant_controls", "enforcedGrantControls"),
                    ("enforced_session_controls", "enforcedSessionControls"),
                ] {
                    if let Some(v) = get(&m, src).and_then(extra_value) {
                        out.insert(k.into(), v);
                    }
                }
                Value::Object(out)
            })
            .collect();
        if !applied.is_empty() {
            x.insert("conditional_access_policies_applied", Value::Array(applied));
        }
    }
    Draft { ev }
}

fn put(x: &mut crate::event::Extra, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        x.entry(k.to_string()).or_insert(v);
    }
}

fn boolean_field(o: &Obj, key: &str) -> Option<bool> {
    get(o, key).and_then(boolean)
}

/// Source fields kept in `extra`, under snake_case names shared by every variant.
const EXTRA_FIELDS: &[(&str, &[&str])] = &[
    ("conditional_access_status", &["conditionalAccessStatus"]),
    ("risk_level_during_sign_in", &["riskLevelDuringSignIn"]),
    ("risk_level_aggregated", &["riskLevelAggregated"]),
    ("risk_state", &["riskState"]),
    ("risk_detail", &["riskDetail"]),
    (
        "risk_event_types",
        &["riskEventTypes_v2", "riskEventTypesV2", "riskEventTypes"],
    ),
    ("is_risky", &["isRisky"]),
    ("token_issuer_type", &["tokenIssuerType"]),
    ("token_issuer_name", &["tokenIssuerName"]),
    ("user_type", &["userType"]),
    ("user_display_name", &["userDisplayName"]),
    ("cross_tenant_access_type", &["crossTenantAccessType"]),
    ("authentication_protocol", &["authenticationProtocol"]),
    ("incoming_token_type", &["incomingTokenType"]),
    ("unique_token_identifier", &["uniqueTokenIdentifier"]),
    ("original_request_id", &["originalRequestId"]),
    ("original_transfer_method", &["originalTransferMethod"]),
    ("sign_in_event_types", &["signInEventTypes"]),
    ("sign_in_identifier", &["signInIdentifier"]),
    ("sign_in_identifier_type", &["signInIdentifierType"]),
    ("alternate_sign_in_name", &["alternateSignInName"]),
    ("client_credential_type", &["clientCredentialType"]),
    ("service_principal_id", &["servicePrincipalId"]),
    ("service_principal_name", &["servicePrincipalName"]),
    (
        "service_principal_credential_key_id",
        &["servicePrincipalCredentialKeyId"],
    ),
    (
        "service_principal_credential_thumbprint",
        &["servicePrincipalCredentialThumbprint"],
    ),
    ("managed_identity_type", &["managedIdentityType"]),
    ("resource_id", &["resourceId", "ResourceIdentity"]),
    ("resource_tenant_id", &["resourceTenantId"]),
    ("resource_owner_tenant_id", &["resourceOwnerTenantId"]),
    ("app_owner_tenant_id", &["appOwnerTenantId"]),
    ("home_tenant_id", &["homeTenantId"]),
    ("home_tenant_name", &["homeTenantName"]),
    (
        "ip_address_from_resource_provider",
        &["ipAddressFromResourceProvider"],
    ),
    (
        "through_global_secure_access",
        &["throughGlobalSecureAccess"],
    ),
    (
        "global_secure_access_ip_address",
        &["globalSecureAccessIpAddress"],
    ),
    (
        "token_protection_sign_in_session",
        &["tokenProtectionSignInSession"],
    ),
    ("flagged_for_review", &["flaggedForReview"]),
    (
        "processing_time_ms",
        &["processingTimeInMilliseconds", "ProcessingTimeInMs"],
    ),
    ("authentication_details", &["authenticationDetails"]),
    (
        "authentication_methods_used",
        &["authenticationMethodsUsed"],
    ),
    ("network_location_details", &["networkLocationDetails"]),
    ("mfa_result", &["mfaResult"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignInKind {
    InteractiveUser,
    NonInteractiveUser,
    ServicePrincipal,
    ManagedIdentity,
    MicrosoftServicePrincipal,
}

impl SignInKind {
    fn name(self) -> &'static str {
        match self {
            SignInKind::InteractiveUser => "interactive_user",
            SignInKind::NonInteractiveUser => "non_interactive_user",
            SignInKind::ServicePrincipal => "service_principal",
            SignInKind::ManagedIdentity => "managed_identity",
            SignInKind::MicrosoftServicePrincipal => "microsoft_service_principal",
        }
    }

    fn interactive(self) -> Option<bool> {
        Some(self == SignInKind::InteractiveUser)
    }
}

/// Which of Entra's sign-in streams a record belongs to, and what said so.
fn sign_in_kind(
    o: &Obj,
    category: Option<&str>,
    variant: &str,
    hint: FileHint,
) -> Option<(SignInKind, &'static str)> {
    if let Some(c) = category {
        let c = c.to_ascii_lowercase();
        let k = match c.trim_start_matches("aad") {
            "signinlogs" => Some(SignInKind::InteractiveUser),
            "noninteractiveusersigninlogs" => Some(SignInKind::NonInteractiveUser),
            "serviceprincipalsigninlogs" => Some(SignInKind::ServicePrincipal),
            "managedidentitysigninlogs" => Some(SignInKind::ManagedIdentity),
            "microsoftserviceprincipalsigninlogs" => Some(SignInKind::MicrosoftServicePrincipal),
            _ => None,
        };
        if let Some(k) = k {
            return Some((k, "category"));
        }
    }
    if let Some(v) = get(o, "signInEventTypes") {
        for t in list(v).iter().filter_map(text).chain(text(v)) {
            let k = match t
                .trim_matches(['[', ']', '"'])
                .to_ascii_lowercase()
                .as_str()
            {
                "interactiveuser" => Some(SignInKind::InteractiveUser),
                "noninteractiveuser" => Some(SignInKind::NonInteractiveUser),
                "serviceprincipal" => Some(SignInKind::ServicePrincipal),
                "managedidentity" => Some(SignInKind::ManagedIdentity),
                _ => None,
            };
            if let Some(k) = k {
                return Some((k, "signInEventTypes"));
            }
        }
    }
    // Only the portal's files are named after their tab; elsewhere a name proves nothing
    // (Extractor-Suite puts interactive and non-interactive sign-ins in one file).
    let hint = if variant.starts_with("portal") {
        hint
    } else {
        FileHint::None
    };
    let from_name = match hint {
        FileHint::Interactive => Some(SignInKind::InteractiveUser),
        FileHint::NonInteractive => Some(SignInKind::NonInteractiveUser),
        FileHint::ServicePrincipal => Some(SignInKind::ServicePrincipal),
        FileHint::ManagedIdentity => Some(SignInKind::ManagedIdentity),
        FileHint::None => None,
    };
    if let Some(k) = from_name {
        return Some((k, "file name"));
    }
    if variant == "portal_app_csv" {
        return Some((
            SignInKind::ServicePrincipal,
            "portal application sign-in layout",
        ));
    }
    None
}

fn split_ip(raw: &str) -> Option<(String, Option<u16>)> {
    let t = raw.trim();
    if let Ok(ip) = t.parse::<IpAddr>() {
        return Some((ip.to_string(), None));
    }
    if let Some(rest) = t.strip_prefix('[') {
        let (ip, tail) = rest.split_once(']')?;
        let ip: IpAddr = ip.parse().ok()?;
        let port = tail.strip_prefix(':').and_then(|p| p.parse().ok());
        return Some((ip.to_string(), port));
    }
    let (ip, port) = t.rsplit_once(':')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    Some((ip.to_string(), port.parse().ok()))
}

fn geo(o: &Obj, env: Option<&Obj>) -> Option<Geo> {
    let loc = get(o, "location")
        .and_then(as_obj)
        .or_else(|| sub(o, &["LocationDetails"]));
    let mut g = Geo::default();
    if let Some(l) = &loc {
        g.city = s(l, &["city"]);
        g.state = s(l, &["state"]);
        g.country = s(l, &["countryOrRegion", "country"]);
        if let Some(c) = sub(l, &["geoCoordinates"]) {
            g.lat = get(&c, "latitude")
                .and_then(float)
                .filter(|v| (-90.0..=90.0).contains(v));
            g.lon = get(&c, "longitude")
                .and_then(float)
                .filter(|v| (-180.0..=180.0).contains(v));
        }
    }
    // Flattened layouts that list the parts as columns of their own.
    g.city = g.city.or_else(|| s(o, &["City"]));
    g.state = g.state.or_else(|| s(o, &["State"]));
    let two_letter =
        |v: String| Some(v).filter(|v| v.len() == 2 && v.bytes().all(|b| b.is_ascii_alphabetic()));
    g.country = g
        .country
        .or_else(|| s(o, &["CountryOrRegion", "Country"]))
        .or_else(|| get(o, "location").and_then(text).and_then(two_letter))
        .or_else(|| env.and_then(|e| s(e, &["location"])).and_then(two_letter));
    g.asn = get(o, "autonomousSystemNumber")
        .and_then(int)
        .and_then(|a| u32::try_from(a).ok())
        .filter(|a| *a != 0);
    let empty = g.city.is_none()
        && g.state.is_none()
        && g.country.is_none()
        && g.lat.is_none()
        && g.lon.is_none()
        && g.asn.is_none();
    (!empty).then_some(g)
}

fn device(o: &Obj) -> Option<Device> {
    let d = sub(o, &["deviceDetail"]);
    let mut dev = Device::default();
    if let Some(d) = &d {
        dev.id = s(d, &["deviceId"]);
        dev.name = s(d, &["displayName"]);
        dev.os = s(d, &["operatingSystem"]);
        dev.browser = s(d, &["browser"]);
        dev.compliant = get(d, "isCompliant").and_then(boolean);
        dev.managed = get(d, "isManaged").and_then(boolean);
        dev.trust_type = s(d, &["trustType"]);
    }
    // Hand-made exports with the device facts as plain columns.
    if d.is_none() {
        dev.id = s(o, &["DeviceId"]);
        dev.name = s(o, &["Device", "DeviceName"]);
        dev.os = s(o, &["OS", "OperatingSystem"]);
        dev.browser = s(o, &["Browser"]);
    }
    (dev != Device::default()).then_some(dev)
}

fn is_second_factor(method: &str) -> bool {
    let m = method.to_ascii_lowercase();
    [
        "mobile app notification",
        "text message",
        "oath",
        "phone call",
        "authenticator",
        "fido2",
        "windows hello",
        "passkey",
        "hardware token",
        "software token",
        "voice",
        "sms",
        "temporary access pass",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Reads Entra's MFA result phrases ("MFA successfully completed", "MFA requirement satisfied
/// by claim in the token", "MFA denied; user declined the authentication").
fn mfa_phrase(text: &str) -> Option<bool> {
    let t = text.to_ascii_lowercase();
    if !t.contains("mfa") && !t.contains("multifactor") && !t.contains("strong authentication") {
        return None;
    }
    if t.contains("denied")
        || t.contains("failed")
        || t.contains("timed out")
        || t.contains("did not")
        || t.contains("not satisfied")
    {
        return Some(false);
    }
    if t.contains("successfully completed")
        || t.contains("satisfied")
        || t.contains("completed in")
        || t.contains("skipped due to remembered device")
    {
        return Some(true);
    }
    None
}

fn mfa(o: &Obj, status: Option<&Obj>, additional: Option<&str>, outcome: Outcome) -> Option<Mfa> {
    let requirement = s(o, &["authenticationRequirement"]);
    let detail_obj = sub(o, &["mfaDetail"]);
    let mut method = detail_obj.as_ref().and_then(|d| s(d, &["authMethod"]));
    let detail = detail_obj.as_ref().and_then(|d| s(d, &["authDetail"]));
    let mut evidence: Option<bool> = None;
    if let Some(steps) = get(o, "authenticationDetails") {
        for step in list(steps) {
            let Some(step) = as_obj(&step) else { continue };
            let m = s(&step, &["authenticationMethod"]).unwrap_or_default();
            let ok = get(&step, "succeeded").and_then(boolean);
            let phrase = s(&step, &["authenticationStepResultDetail"]).and_then(|d| mfa_phrase(&d));
            let second = is_second_factor(&m);
            if ok == Some(true) && (second || phrase == Some(true)) {
                evidence = Some(true);
                if second && method.is_none() {
                    method = Some(m.clone());
                }
            } else if (ok == Some(false) && second) || phrase == Some(false) {
                evidence = evidence.or(Some(false));
                if second && method.is_none() {
                    method = Some(m.clone());
                }
            }
        }
    }
    for phrase in [
        additional,
        s(o, &["mfaResult"]).as_deref(),
        status.and_then(|st| s(st, &["failureReason"])).as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        match mfa_phrase(phrase) {
            Some(true) => evidence = Some(true),
            Some(false) => evidence = evidence.or(Some(false)),
            None => {}
        }
    }
    let req = requirement.as_deref().map(str::to_ascii_lowercase);
    let satisfied = match (evidence, outcome) {
        (Some(b), _) => Some(b),
        (None, Outcome::Success) => match req.as_deref() {
            Some(r) if r.contains("multi") => Some(true),
            Some(r) if r.contains("single") => Some(false),
            _ if method.is_some() => Some(true),
            _ => None,
        },
        _ => None,
    };
    let m = Mfa {
        requirement,
        satisfied,
        method,
        detail,
    };
    (m != Mfa::default()).then_some(m)
}

// ---------------------------------------------------------------------------------------------
// AADSTS codes
// ---------------------------------------------------------------------------------------------

/// Codes where the sign-in stopped to ask the user for something (MFA, consent, password
/// change, "stay signed in?") rather than being refused. Credentials were usually accepted,
/// which is exactly what an investigator needs to see.
const INTERRUPTS: &[(i64, &str)] = &[
    (16000, "interaction required"),
    (16001, "account selection required"),
    (50055, "password expired (the password itself was accepted)"),
    (
        50058,
        "no single sign-on session; interactive sign-in needed",
    ),
    (50072, "user must register for MFA"),
    (50074, "strong authentication (MFA) required"),
    (50076, "MFA required by policy or location"),
    (50078, "presented MFA expired; MFA required again"),
    (50079, "user must register security info for MFA"),
    (50097, "device authentication required"),
    (50125, "interrupted for password reset or registration"),
    (50129, "device must be workplace joined"),
    (50135, "password change required due to account risk"),
    (50140, "'Keep me signed in' interrupt"),
    (
        50144,
        "on-premises password expired (the password itself was accepted)",
    ),
    (50158, "external security challenge not yet satisfied"),
    (50199, "user confirmation interrupt"),
    (
        51006,
        "re-authentication required (Windows integrated auth)",
    ),
    (65001, "consent required"),
    (70043, "re-authentication required by sign-in frequency"),
    (70044, "session expired by sign-in frequency"),
];

const FAILURES: &[(i64, &str)] = &[
    (50020, "user from another identity provider not in tenant"),
    (50034, "user account not found"),
    (50053, "account locked or sign-in from malicious IP blocked"),
    (50056, "invalid or null password"),
    (50057, "user account disabled"),
    (50064, "credential validation failed"),
    (50089, "flow token expired"),
    (50105, "user not assigned to the application"),
    (50126, "invalid username or password"),
    (50131, "Conditional Access failed"),
    (50132, "session invalid after password expiry or change"),
    (50133, "session revoked after password change"),
    (50155, "device authentication failed"),
    (50173, "token revoked; fresh sign-in needed"),
    (53000, "device not compliant (Conditional Access)"),
    (53001, "device not domain joined (Conditional Access)"),
    (53002, "app not approved (Conditional Access)"),
    (53003, "blocked by Conditional Access"),
    (53004, "MFA registration blocked due to risk"),
    (53011, "blocked due to risk in home tenant"),
    (70000, "invalid grant"),
    (70008, "refresh token expired or revoked"),
    (80012, "logon outside allowed hours (on-premises)"),
    (81010, "Seamless SSO Kerberos ticket invalid"),
    (
        90072,
        "user account from external identity provider not in tenant",
    ),
    (90095, "admin consent required"),
    (500011, "resource service principal not found"),
    (500121, "strong authentication (MFA) failed or denied"),
    (530032, "blocked by security policy"),
    (530034, "delegated admin blocked due to risk"),
    (530035, "blocked by security defaults"),
    (700016, "application not found in tenant"),
    (700082, "refresh token expired due to inactivity"),
    (7000215, "invalid client secret"),
    (7000218, "client secret or assertion missing"),
    (7000222, "client secret expired"),
];

/// `(interrupted, description)` for the codes we know.
fn code_info(code: i64) -> Option<(bool, &'static str)> {
    INTERRUPTS
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, d)| (true, *d))
        .or_else(|| {
            FAILURES
                .iter()
                .find(|(c, _)| *c == code)
                .map(|(_, d)| (false, *d))
        })
}

fn classify(code: Option<i64>, status_text: Option<&str>) -> Outcome {
    let from_text = status_text
        .map(|t| t.trim().to_ascii_lowercase())
        .and_then(|t| match t.as_str() {
            "success" | "succeeded" => Some(Outcome::Success),
            "failure" | "failed" => Some(Outcome::Failure),
            "interrupted" => Some(Outcome::Interrupted),
            _ => None,
        });
    match code {
        Some(0) => Outcome::Success,
        Some(c) => match code_info(c) {
            Some((true, _)) => Outcome::Interrupted,
            Some((false, _)) => Outcome::Failure,
            None => from_text
                .filter(|o| *o != Outcome::Success)
                .unwrap_or(Outcome::Failure),
        },
        None => from_text.unwrap_or(Outcome::Unknown),
    }
}

// ---------------------------------------------------------------------------------------------
// Benchmark data
// ---------------------------------------------------------------------------------------------

/// splitmix64: tiny, deterministic, good enough to vary test data.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = self.below(items.len() as u64) as usize;
        &items[i.min(items.len() - 1)]
    }

    fn uuid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }
}

const GEN_FIRST: &[&str] = &[
    "anna", "ben", "chloe", "david", "emma", "farid", "grace", "hugo", "ines", "jonas", "kim",
    "lea", "marco", "nora", "omar", "paula",
];
const GEN_LAST: &[&str] = &[
    "schmidt", "miller", "dubois", "rossi", "novak", "garcia", "berg", "tanaka", "okafor", "silva",
    "kowalski", "jensen",
];
const GEN_APPS: &[(&str, &str, &str)] = &[
    (
        "Office 365 Exchange Online",
        "00000002-0000-0ff1-ce00-000000000000",
        "Office 365 Exchange Online",
    ),
    (
        "Microsoft Teams",
        "1fec8e78-bce4-4aaf-ab1b-5451cc387264",
        "Microsoft Teams Services",
    ),
    (
        "OfficeHome",
        "4765445b-32c6-49b0-83e6-1d93765276ca",
        "OfficeHome",
    ),
    (
        "Microsoft Office",
        "d3590ed6-52b3-4102-aeff-aad2292ab01c",
        "Microsoft Graph",
    ),
    (
        "Azure Portal",
        "c44b4083-3bb0-49c1-b47d-974e53cbdf3c",
        "Windows Azure Service Management API",
    ),
    (
        "Microsoft Authentication Broker",
        "29d9ed98-a469-4536-ade2-f981bc1d605e",
        "Device Registration Service",
    ),
    (
        "Office 365 SharePoint Online",
        "00000003-0000-0ff1-ce00-000000000000",
        "Office 365 SharePoint Online",
    ),
];
/// (city, state, country, lat, lon, asn, ip prefix)
const GEN_PLACES: &[(&str, &str, &str, f64, f64, u32, &str)] = &[
    ("Berlin", "Berlin", "DE", 52.52, 13.405, 3320, "91.64."),
    ("Munich", "Bavaria", "DE", 48.137, 11.575, 3209, "88.217."),
    ("Paris", "Paris", "FR", 48.857, 2.352, 3215, "90.84."),
    (
        "Amsterdam",
        "Noord-Holland",
        "NL",
        52.37,
        4.895,
        1136,
        "145.53.",
    ),
    ("London", "England", "GB", 51.507, -0.128, 2856, "81.2."),
    (
        "New York", "New York", "US", 40.713, -74.006, 7922, "73.193.",
    ),
    (
        "Ashburn", "Virginia", "US", 39.044, -77.487, 14618, "3.236.",
    ),
    ("Lagos", "Lagos", "NG", 6.455, 3.394, 29465, "105.112."),
    ("Moscow", "Moscow", "RU", 55.756, 37.617, 12389, "95.165."),
    (
        "Singapore",
        "Singapore",
        "SG",
        1.352,
        103.82,
        16509,
        "13.250.",
    ),
];
const GEN_CLIENTS: &[&str] = &[
    "Browser",
    "Browser",
    "Browser",
    "Mobile Apps and Desktop clients",
    "Mobile Apps and Desktop clients",
    "Exchange ActiveSync",
    "IMAP4",
    "Authenticated SMTP",
    "Other clients",
];
const GEN_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.3 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "python-requests/2.31.0",
    "BAV2ROPC",
];
/// (code, failure reason, weight)
const GEN_OUTCOMES: &[(i64, &str, u64)] = &[
    (0, "Other.", 70),
    (50126, "Error validating credentials due to invalid username or password.", 9),
    (50074, "Strong Authentication is required.", 5),
    (50140, "This error occurred due to 'Keep me signed in' interrupt when the user was signing in.", 5),
    (50076, "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access.", 4),
    (53003, "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.", 3),
    (500121, "Authentication failed during strong authentication request.", 2),
    (50053, "Account is locked because user tried to sign in too many times with an incorrect user ID or password.", 2),
];

/// Writes realistic Graph `signIn` objects as JSON lines until at least `target_bytes` are
/// written; the same seed always gives the same bytes. Returns the number of records.
pub fn generate(
    seed: u64,
    target_bytes: usize,
    out: &mut impl std::io::Write,
) -> std::io::Result<u64> {
    use std::fmt::Write as _;
    let mut r = Mix(seed);
    let base = DateTime::from_timestamp(1_709_251_200, 0).unwrap_or_default(); // 2024-03-01T00:00:00Z
    let mut t_ms: i64 = 0;
    let mut written = 0usize;
    let mut n = 0u64;
    let total_weight: u64 = GEN_OUTCOMES.iter().map(|o| o.2).sum();
    let mut line = String::with_capacity(2048);
    while written < target_bytes {
        t_ms += 1 + r.below(45_000) as i64;
        let when = base + chrono::Duration::milliseconds(t_ms);
        let user_no = r.below((GEN_FIRST.len() * GEN_LAST.len()) as u64) as usize;
        let first = GEN_FIRST
            .get(user_no % GEN_FIRST.len())
            .copied()
            .unwrap_or("anna");
        let last = GEN_LAST
            .get(user_no / GEN_FIRST.len())
            .copied()
            .unwrap_or("berg");
        let user_id = Mix(seed ^ (user_no as u64).wrapping_mul(0x2545_F491_4F6C_DD1D)).uuid();
        let (app, app_id, resource) = *r.pick(GEN_APPS);
        // Most sign-ins come from the user's home city; a few from anywhere.
        let place = if r.below(10) < 8 {
            GEN_PLACES.get(user_no % 3).unwrap_or(&GEN_PLACES[0])
        } else {
            r.pick(GEN_PLACES)
        };
        let (city, state, cc, lat, lon, asn, prefix) = *place;
        let ip = if r.below(20) == 0 {
            format!(
                "2a02:810d:{:x}:{:x}::{:x}",
                r.below(0xffff),
                r.below(0xffff),
                r.below(0xffff) + 1
            )
        } else {
            format!("{prefix}{}.{}", r.below(256), 1 + r.below(254))
        };
        let client = *r.pick(GEN_CLIENTS);
        let agent = *r.pick(GEN_AGENTS);
        let mut w = r.below(total_weight);
        let mut outcome = GEN_OUTCOMES[0];
        for o in GEN_OUTCOMES {
            if w < o.2 {
                outcome = *o;
                break;
            }
            w -= o.2;
        }
        let (code, why, _) = outcome;
        let interactive = r.below(3) == 0;
        let mfa_req = if r.below(2) == 0 {
            "multiFactorAuthentication"
        } else {
            "singleFactorAuthentication"
        };
        let (method, mfa_ok) = match (code, mfa_req) {
            (0, "multiFactorAuthentication") => ("Mobile app notification", true),
            (500121, _) => ("Mobile app notification", false),
            _ => ("", false),
        };
        let risk = *r.pick(&["none", "none", "none", "low", "medium", "high"]);
        line.clear();
        let _ = write!(
            line,
            concat!(
                "{{\"id\":\"{id}\",\"createdDateTime\":\"{time}\",\"userDisplayName\":\"{fu} {lu}\",",
                "\"userPrincipalName\":\"{first}.{last}@contoso.com\",\"userId\":\"{uid}\",\"appId\":\"{app_id}\",",
                "\"appDisplayName\":\"{app}\",\"ipAddress\":\"{ip}\",\"clientAppUsed\":\"{client}\",",
                "\"userAgent\":\"{agent}\",\"correlationId\":\"{corr}\",\"conditionalAccessStatus\":\"{ca}\",",
                "\"isInteractive\":{inter},\"riskDetail\":\"none\",\"riskLevelAggregated\":\"{risk}\",",
                "\"riskLevelDuringSignIn\":\"{risk}\",\"riskState\":\"none\",\"riskEventTypes_v2\":[],",
                "\"resourceDisplayName\":\"{resource}\",\"resourceId\":\"{res_id}\",",
                "\"authenticationRequirement\":\"{req}\",\"autonomousSystemNumber\":{asn},",
                "\"status\":{{\"errorCode\":{code},\"failureReason\":\"{why}\",\"additionalDetails\":{addl}}},",
                "\"deviceDetail\":{{\"deviceId\":\"\",\"displayName\":\"\",\"operatingSystem\":\"{os}\",\"browser\":\"{browser}\",\"isCompliant\":false,\"isManaged\":false,\"trustType\":\"\"}},",
                "\"location\":{{\"city\":\"{city}\",\"state\":\"{state}\",\"countryOrRegion\":\"{cc}\",\"geoCoordinates\":{{\"altitude\":null,\"latitude\":{lat},\"longitude\":{lon}}}}},",
                "\"mfaDetail\":{mfa},",
                "\"authenticationDetails\":[{{\"authenticationStepDateTime\":\"{time}\",\"authenticationMethod\":\"Password\",\"succeeded\":{pw_ok},\"authenticationStepResultDetail\":\"{pw_detail}\"}}{mfa_step}]}}\n"
            ),
            id = r.uuid(),
            time = when.format("%Y-%m-%dT%H:%M:%SZ"),
            fu = capitalize(first),
            lu = capitalize(last),
            first = first,
            last = last,
            uid = user_id,
            app_id = app_id,
            app = app,
            ip = ip,
            client = client,
            agent = agent,
            corr = r.uuid(),
            ca = if code == 53003 { "failure" } else if r.below(2) == 0 { "success" } else { "notApplied" },
            inter = interactive,
            risk = risk,
            resource = resource,
            res_id = app_id,
            req = mfa_req,
            asn = asn,
            code = code,
            why = why,
            addl = if mfa_ok { "\"MFA completed in Azure AD\"" } else { "null" },
            os = if agent.contains("Windows") { "Windows 10" } else if agent.contains("iPhone") { "Ios" } else if agent.contains("Mac") { "MacOs" } else { "" },
            browser = if agent.contains("Edg/") { "Edge 122.0.0" } else if agent.contains("Safari") { "Safari 17.3" } else { "" },
            city = city,
            state = state,
            cc = cc,
            lat = lat,
            lon = lon,
            mfa = if method.is_empty() { "null".to_string() } else { format!("{{\"authMethod\":\"{method}\",\"authDetail\":null}}") },
            pw_ok = !matches!(code, 50126 | 50053),
            pw_detail = if matches!(code, 50126 | 50053) { "Invalid username or password or Invalid on-premise username or password." } else { "Correct password" },
            mfa_step = if method.is_empty() {
                String::new()
            } else {
                format!(
                    ",{{\"authenticationStepDateTime\":\"{}\",\"authenticationMethod\":\"{method}\",\"succeeded\":{mfa_ok},\"authenticationStepResultDetail\":\"{}\"}}",
                    when.format("%Y-%m-%dT%H:%M:%SZ"),
                    if mfa_ok { "MFA successfully completed" } else { "MFA denied; user declined the authentication" }
                )
            },
        );
        out.write_all(line.as_bytes())?;
        written += line.len();
        n += 1;
    }
    Ok(n)
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_codes() {
        assert_eq!(classify(Some(0), None), Outcome::Success);
        assert_eq!(classify(Some(50126), None), Outcome::Failure);
        assert_eq!(classify(Some(50074), None), Outcome::Interrupted);
        assert_eq!(classify(Some(50140), Some("Failure")), Outcome::Interrupted);
        assert_eq!(classify(Some(500121), None), Outcome::Failure);
        assert_eq!(classify(Some(53003), None), Outcome::Failure);
        assert_eq!(classify(Some(50055), None), Outcome::Interrupted);
        // Unknown code: the portal's own word decides, defaulting to failure.
        assert_eq!(
            classify(Some(999_999), Some("Interrupted")),
            Outcome::Interrupted
        );
        assert_eq!(classify(Some(999_999), None), Outcome::Failure);
        assert_eq!(classify(None, Some("Success")), Outcome::Success);
        assert_eq!(classify(None, None), Outcome::Unknown);
    }

    #[test]
    fn ips_and_ports() {
        assert_eq!(split_ip("81.2.69.144"), Some(("81.2.69.144".into(), None)));
        assert_eq!(
            split_ip("81.2.69.144:52311"),
            Some(("81.2.69.144".into(), Some(52311)))
        );
        assert_eq!(split_ip("2001:DB8::1"), Some(("2001:db8::1".into(), None)));
        assert_eq!(
            split_ip("[2001:db8::1]:443"),
            Some(("2001:db8::1".into(), Some(443)))
        );
        assert_eq!(split_ip("not an ip"), None);
    }

    #[test]
    fn portal_location() {
        let l = split_portal_location("Champs-Sur-Marne, Seine-Et-Marne, FR");
        assert_eq!(
            l.get("city").and_then(Value::as_str),
            Some("Champs-Sur-Marne")
        );
        assert_eq!(
            l.get("state").and_then(Value::as_str),
            Some("Seine-Et-Marne")
        );
        assert_eq!(l.get("countryOrRegion").and_then(Value::as_str), Some("FR"));
        let l = split_portal_location(", , US");
        assert_eq!(l.get("city"), None);
        assert_eq!(l.get("countryOrRegion").and_then(Value::as_str), Some("US"));
    }

    #[test]
    fn times() {
        let ctx = ParseContext::default();
        let w = parse_time("/Date(1695131117287)/", false, DateOrder::MonthFirst, &ctx).unwrap();
        assert_eq!(w.stamp.utc.to_rfc3339(), "2023-09-19T13:45:17.287+00:00");
        let w = parse_time(
            "9/19/2023, 1:45:17.287 PM",
            true,
            DateOrder::MonthFirstAssumed,
            &ctx,
        )
        .unwrap();
        assert_eq!(w.stamp.zone, "UTC");
        assert_eq!(w.stamp.utc.to_rfc3339(), "2023-09-19T13:45:17.287+00:00");
        let w = parse_time("13/03/2025 07:22:01", false, DateOrder::DayFirst, &ctx).unwrap();
        assert_eq!(w.stamp.utc.to_rfc3339(), "2025-03-13T07:22:01+00:00");
        assert_eq!(w.stamp.zone, "UTC (assumed: no zone given)");
        let w = parse_time("19.09.2023 13:45:17", true, DateOrder::MonthFirst, &ctx).unwrap();
        assert_eq!(w.stamp.utc.to_rfc3339(), "2023-09-19T13:45:17+00:00");
        assert!(parse_time("yesterday", true, DateOrder::MonthFirst, &ctx).is_err());
    }

    #[test]
    fn mfa_phrases() {
        assert_eq!(
            mfa_phrase("MFA requirement satisfied by claim in the token"),
            Some(true)
        );
        assert_eq!(
            mfa_phrase("MFA denied; user declined the authentication"),
            Some(false)
        );
        assert_eq!(mfa_phrase("Correct password"), None);
    }

    #[test]
    fn generator_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let na = generate(7, 20_000, &mut a).unwrap();
        let nb = generate(7, 20_000, &mut b).unwrap();
        assert_eq!(na, nb);
        assert_eq!(a, b);
        assert!(a.len() >= 20_000);
        for line in a.split(|c| *c == b'\n').filter(|l| !l.is_empty()) {
            let v: Value = serde_json::from_slice(line).unwrap();
            assert!(v.get("createdDateTime").is_some());
        }
        let mut c = Vec::new();
        generate(8, 20_000, &mut c).unwrap();
        assert_ne!(a, c);
    }
}
