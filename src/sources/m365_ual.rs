//! Microsoft 365 Unified Audit Log in the shapes responders receive it:
//! * Purview "Export results" CSV (`RecordId,CreationDate,RecordType,Operation,UserId,AuditData,…`);
//! * the older portal export (`CreationDate,UserIds,Operations,AuditData`);
//! * `Search-UnifiedAuditLog | Export-Csv` (often UTF-16LE with BOM, maybe a `#TYPE` line, extra
//!   `RunspaceId,…,ResultIndex,ResultCount,Identity,IsValid,ObjectState` columns) — also what
//!   Microsoft-Extractor-Suite writes for CSV output;
//! * Extractor-Suite `-AuditDataOnly` CSV (AuditData flattened to columns);
//! * JSON / JSON lines of bare AuditData records (Management Activity API, SOF-ELK output);
//! * JSON / JSON lines of cmdlet result objects with `AuditData` as object or string
//!   (Extractor-Suite JSON/JSONL);
//! * Graph audit log query records (`auditLogRecordType`, `auditData`).
//!
//! `Event.time` comes from AuditData `CreationTime` (UTC by contract, written without a
//! designator), falling back to the export's `CreationDate` column.

use super::csvscan::Header;
use super::jsonscan::{self, Piece};
use super::m365_ops::{
    self as ops, get, get_array, get_obj, get_text, get_text_any, CsvRecord, OpFacts,
};
use super::timefmt::{self, Stamp};
use super::{Input, Item, ParseContext, Source};
use crate::event::{actions, Device, Event, ModifiedProperty, Outcome, Provenance, Target};
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::Arc;

pub struct M365Ual;

pub const ID: &str = "m365_ual";

impl Source for M365Ual {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "Microsoft 365 Unified Audit Log"
    }

    fn sniff(&self, head: &str) -> u8 {
        sniff(head)
    }

    fn parse(&self, input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        match ops::first_content_byte(input.text) {
            None => {}
            Some(b'{') | Some(b'[') => parse_json(input, ctx, out),
            Some(_) => parse_csv(input, ctx, out),
        }
    }
}

fn sniff(head: &str) -> u8 {
    match ops::first_content_byte(head) {
        None => 0,
        Some(b'{') | Some(b'[') => {
            let l = head.to_ascii_lowercase();
            if l.contains("\"auditlogrecordtype\"") {
                90
            } else if l.contains("\"auditdata\"")
                && (l.contains("\"operations\"") || l.contains("\"creationdate\""))
            {
                92
            } else if l.contains("\"creationtime\"")
                && l.contains("\"operation\"")
                && (l.contains("\"workload\"")
                    || l.contains("\"recordtype\"")
                    || l.contains("\"organizationid\""))
            {
                90
            } else {
                0
            }
        }
        Some(_) => {
            let Some(line) = ops::header_line(head) else {
                return 0;
            };
            let names = ops::header_names(line);
            let has = |n: &str| names.iter().any(|h| h == n);
            if has("auditdata") && (has("creationdate") || has("creationtime")) {
                95
            } else if has("creationtime")
                && has("operation")
                && has("organizationid")
                && (has("workload") || has("recordtype"))
            {
                85
            } else {
                0
            }
        }
    }
}

/// How the record's outer time (outside AuditData) is to be read.
#[derive(Clone, Copy, PartialEq)]
enum DateKind {
    /// Documented UTC (Purview export, Graph `createdDateTime`).
    Utc,
    /// Whatever the PowerShell host wrote: may be local time.
    Host,
}

/// Facts the export keeps outside AuditData.
#[derive(Default)]
struct Cols {
    creation_date: Option<String>,
    date_kind: Option<DateKind>,
    record_type: Option<String>,
    operation: Option<String>,
    user: Option<String>,
    record_id: Option<String>,
    client_ip: Option<String>,
    workload: Option<String>,
    admin_units: Option<String>,
}

// ---------------------------------------------------------------- CSV

struct Layout {
    variant: &'static str,
    audit: Option<usize>,
    creation_date: Option<usize>,
    record_type: Option<usize>,
    operation: Option<usize>,
    user: Option<usize>,
    record_id: Option<usize>,
    admin_units: Option<usize>,
    names: Vec<String>,
}

impl Layout {
    fn new(h: &Header) -> Self {
        let any = |ns: &[&str]| ns.iter().find_map(|n| h.idx(n));
        let audit = h.idx("AuditData");
        let variant = if audit.is_some() {
            if h.idx("RecordId").is_some() {
                "purview_csv"
            } else if any(&["RunspaceId", "ResultIndex", "IsValid", "ObjectState"]).is_some() {
                "powershell_csv"
            } else {
                "legacy_csv"
            }
        } else if h.idx("CreationTime").is_some() && h.idx("Operation").is_some() {
            "auditdata_csv"
        } else {
            "unknown_csv"
        };
        Layout {
            variant,
            audit,
            creation_date: h.idx("CreationDate"),
            record_type: h.idx("RecordType"),
            operation: any(&["Operation", "Operations"]),
            user: any(&["UserId", "UserIds"]),
            record_id: any(&["RecordId", "Identity"]),
            admin_units: h.idx("AssociatedAdminUnits"),
            names: h.names().to_vec(),
        }
    }
}

fn cell(rec: &csv::StringRecord, i: Option<usize>) -> Option<String> {
    i.and_then(|i| rec.get(i))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse_csv(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let mut no = 0u64;
    let mut layout: Option<Layout> = None;
    ops::for_each_csv_record(input.text, &mut |rec| {
        no += 1;
        match rec {
            CsvRecord::Bad { start, end, reason } => out(Err(input.reject(no, start, end, reason))),
            CsvRecord::Row { header, row } => {
                let lay = layout.get_or_insert_with(|| Layout::new(header));
                let reject = |r: String| input.reject(no, row.start, row.end, r);
                if lay.variant == "unknown_csv" {
                    out(Err(reject("CSV header has no AuditData column and no flattened CreationTime/Operation columns".into())));
                    return;
                }
                if let Some(i) = lay.audit.filter(|i| *i >= row.record.len()) {
                    let msg = format!(
                        "row has {} fields but AuditData is column {} of the header: row cut short",
                        row.record.len(),
                        i + 1
                    );
                    out(Err(reject(msg)));
                    return;
                }
                let audit = if lay.variant == "auditdata_csv" {
                    // Export-Csv flattened AuditData: the column names are AuditData keys
                    // (normalized to lower case; lookups ignore case).
                    ops::row_object(&lay.names, &row)
                } else {
                    let text = lay
                        .audit
                        .and_then(|i| row.record.get(i))
                        .map(str::trim)
                        .filter(|s| !s.is_empty());
                    match text {
                        None => Map::new(),
                        Some(t) => match serde_json::from_str::<Value>(t) {
                            Ok(Value::Object(o)) => o,
                            Ok(_) => {
                                return out(Err(reject("AuditData is not a JSON object".into())))
                            }
                            Err(e) => {
                                return out(Err(reject(format!(
                                    "AuditData is not valid JSON: {e}"
                                ))))
                            }
                        },
                    }
                };
                let r = &row.record;
                let cols = Cols {
                    creation_date: cell(r, lay.creation_date),
                    date_kind: Some(if lay.variant == "purview_csv" {
                        DateKind::Utc
                    } else {
                        DateKind::Host
                    }),
                    record_type: cell(r, lay.record_type),
                    operation: cell(r, lay.operation),
                    user: cell(r, lay.user),
                    record_id: cell(r, lay.record_id),
                    admin_units: cell(r, lay.admin_units),
                    ..Cols::default()
                };
                let prov = input.provenance(no, row.start, row.end);
                out(ual_event(&audit, &cols, lay.variant, prov, ctx).map_err(reject));
            }
        }
    });
}

// ---------------------------------------------------------------- JSON

fn parse_json(input: &Input, ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
    let text = input.text;
    let mut no = 0u64;
    jsonscan::each(text, &mut |piece| {
        no += 1;
        match piece {
            Piece::Bad { start, end, reason } => out(Err(input.reject(no, start, end, reason))),
            Piece::Record { start, end } => {
                let item = match serde_json::from_str::<Value>(&text[start..end]) {
                    Ok(Value::Object(o)) => {
                        json_record(&o, ctx, || input.provenance(no, start, end))
                            .map_err(|r| input.reject(no, start, end, r))
                    }
                    Ok(_) => Err(input.reject(no, start, end, "record is not a JSON object")),
                    Err(e) => Err(input.reject(no, start, end, format!("invalid JSON: {e}"))),
                };
                out(item);
            }
        }
    });
}

/// A date the PowerShell 5.1 serializer may have written as `{"value":"/Date(…)/","DateTime":…}`.
fn date_text(o: &Map<String, Value>, key: &str) -> Option<String> {
    match get(o, key)? {
        Value::Object(d) => get_text(d, "value").or_else(|| get_text(d, "DateTime")),
        v => ops::value_text(v).filter(|s| !s.trim().is_empty()),
    }
}

fn json_record(
    o: &Map<String, Value>,
    ctx: &ParseContext,
    prov: impl FnOnce() -> Provenance,
) -> Result<Event, String> {
    if get(o, "auditLogRecordType").is_some()
        || (get(o, "createdDateTime").is_some() && o.contains_key("auditData"))
    {
        let audit = get_obj(o, "auditData").unwrap_or_default();
        let cols = Cols {
            creation_date: date_text(o, "createdDateTime"),
            date_kind: Some(DateKind::Utc),
            record_type: get_text(o, "auditLogRecordType"),
            operation: get_text(o, "operation"),
            user: get_text_any(o, &["userPrincipalName", "userId"]),
            record_id: get_text(o, "id"),
            client_ip: get_text(o, "clientIp"),
            workload: get_text(o, "service"),
            admin_units: get(o, "administrativeUnits").and_then(ops::value_text),
        };
        return ual_event(&audit, &cols, "graph_json", prov(), ctx);
    }
    if let Some(ad) = get(o, "AuditData") {
        let audit = match ad {
            Value::Object(m) => m.clone(),
            Value::String(s) => match serde_json::from_str::<Value>(s) {
                Ok(Value::Object(m)) => m,
                Ok(_) => return Err("AuditData is not a JSON object".into()),
                Err(e) => return Err(format!("AuditData is not valid JSON: {e}")),
            },
            _ => return Err("AuditData is neither an object nor a JSON string".into()),
        };
        let cols = Cols {
            creation_date: date_text(o, "CreationDate"),
            date_kind: Some(DateKind::Host),
            record_type: get_text(o, "RecordType"),
            operation: get_text_any(o, &["Operations", "Operation"]),
            user: get_text_any(o, &["UserIds", "UserId"]),
            record_id: get_text_any(o, &["Identity", "RecordId"]),
            ..Cols::default()
        };
        return ual_event(&audit, &cols, "cmdlet_json", prov(), ctx);
    }
    ual_event(o, &Cols::default(), "auditdata_json", prov(), ctx)
}

// ---------------------------------------------------------------- mapping

fn pick_time(
    a: &Map<String, Value>,
    c: &Cols,
    ctx: &ParseContext,
) -> Result<(String, Stamp), String> {
    if let Some(t) = get_text(a, "CreationTime") {
        return match ops::parse_utc(&t) {
            Some(st) => Ok((t, st)),
            None => Err(format!("AuditData CreationTime '{t}' is not a timestamp (expected ISO 8601 like 2023-09-26T01:56:15)")),
        };
    }
    let Some(t) = c.creation_date.clone() else {
        return Err("no CreationTime in AuditData and no CreationDate".into());
    };
    let bad = || {
        format!(
            "CreationDate '{t}' is not a timestamp (expected ISO 8601 or M/D/YYYY h:mm:ss AM/PM)"
        )
    };
    if c.date_kind == Some(DateKind::Utc) || t.trim_start().starts_with("/Date(") {
        return ops::parse_utc(&t).map(|st| (t.clone(), st)).ok_or_else(bad);
    }
    // Export-Csv writes the host's rendering; an offset, when present, is authoritative.
    if let Some(st) = timefmt::parse_iso(&t) {
        return Ok((t, st));
    }
    let naive = timefmt::parse_naive(&t).ok_or_else(bad)?;
    let st = match ctx.zone_for(ID) {
        Some(tz) => timefmt::localize(naive, tz),
        None => Stamp {
            utc: chrono::TimeZone::from_utc_datetime(&chrono::Utc, &naive),
            zone: "UTC (assumed: no zone given)".into(),
        },
    };
    Ok((t, st))
}

fn ual_event(
    a: &Map<String, Value>,
    c: &Cols,
    variant: &'static str,
    prov: Provenance,
    ctx: &ParseContext,
) -> Result<Event, String> {
    let (time_text, stamp) = pick_time(a, c, ctx)?;
    let op = get_text(a, "Operation")
        .or_else(|| c.operation.clone())
        .ok_or("no Operation in AuditData or the export columns")?;
    let workload = get_text(a, "Workload").or_else(|| c.workload.clone());
    let params = ops::name_value_object(&get_array(a, "Parameters"));
    let modified = ops::modified_properties(&get_array(a, "ModifiedProperties"));
    let mapped = ops::map_operation(
        &op,
        &OpFacts {
            modified: &modified,
            parameters: (!params.is_empty()).then_some(&params),
        },
    );
    let norm = ops::normalize_op(&op);
    let status = get_text(a, "ResultStatus");
    let outcome = match norm.as_str() {
        // STS logon records report the HTTP call's status; the logon result is the operation.
        "userloggedin" => Outcome::Success,
        "userloginfailed" => Outcome::Failure,
        _ => match status.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("succeeded" | "success" | "true" | "partiallysucceeded") => Outcome::Success,
            Some("failed" | "failure" | "false") => Outcome::Failure,
            _ => Outcome::Unknown,
        },
    };
    let mut ev = Event::new(
        stamp.utc,
        time_text,
        stamp.zone,
        ID,
        variant,
        mapped.class,
        mapped.action,
        op,
        outcome,
        prov,
    );
    ev.user = get_text(a, "UserId")
        .or_else(|| c.user.clone())
        .map(Into::into);

    let ip = get_text_any(a, &["ClientIP", "ClientIPAddress", "ActorIpAddress"])
        .or_else(|| c.client_ip.clone());
    let ipf = ops::ip_facts(ip.as_deref());
    ev.src_ip = ipf.ip.map(Into::into);
    ev.cold_mut().src_port = ipf.port;
    if let Some(u) = ipf.unparsed {
        ev.extra.insert("src_ip_unparsed", u.into());
    }

    let ctx_obj = get_obj(a, "AppAccessContext").unwrap_or_default();
    let ext = ops::name_value_object(&get_array(a, "ExtendedProperties"));
    let devp = ops::name_value_object(&get_array(a, "DeviceProperties"));
    ev.descr_mut().user_agent = get_text(a, "UserAgent")
        .or_else(|| get_text(&ext, "UserAgent"))
        .map(Into::into);
    ev.descr_mut().app_id = get_text_any(a, &["AppId", "ApplicationId", "ClientAppId"])
        .or_else(|| get_text(&ctx_obj, "ClientAppId"))
        .map(Into::into);
    ev.cold_mut().session_id = get_text(&ctx_obj, "AADSessionId")
        .or_else(|| get_text(a, "SessionId"))
        .or_else(|| get_text(&devp, "SessionId"));
    ev.cold_mut().correlation_id =
        get_text(a, "CorrelationId").or_else(|| get_text(&ctx_obj, "CorrelationId"));
    ev.descr_mut().client_app = get_text(a, "ClientInfoString").map(Into::into);

    let record_type = get(a, "RecordType")
        .and_then(ops::value_text)
        .or_else(|| c.record_type.clone());
    let put = |ev: &mut Event, k: &str, v: Option<String>| {
        if let Some(v) = v {
            ev.extra.insert(k, v.into());
        }
    };
    put(
        &mut ev,
        "record_type_name",
        record_type
            .as_deref()
            .and_then(record_type_name)
            .map(str::to_string),
    );
    put(&mut ev, "record_type", record_type);
    put(&mut ev, "workload", workload.clone());
    put(
        &mut ev,
        "record_id",
        get_text(a, "Id").or_else(|| c.record_id.clone()),
    );
    put(&mut ev, "user_type", get_text(a, "UserType"));
    put(&mut ev, "user_key", get_text(a, "UserKey"));
    put(&mut ev, "organization_id", get_text(a, "OrganizationId"));
    put(&mut ev, "object_id", get_text(a, "ObjectId"));
    put(&mut ev, "result_status", status);
    put(&mut ev, "admin_units", c.admin_units.clone());
    if !params.is_empty() {
        ev.extra.insert("parameters", Value::Object(params.clone()));
    } else if let Some(Value::String(raw)) = get(a, "Parameters") {
        // Export-Csv of parsed AuditData writes nested lists as `System.Object[]`: say so
        // rather than pretend the cmdlet had no parameters.
        ev.extra.insert("parameters_raw", raw.clone().into());
    }
    let opprops = ops::name_value_object(&get_array(a, "OperationProperties"));
    if !opprops.is_empty() {
        ev.extra
            .insert("operation_properties", Value::Object(opprops.clone()));
    }

    let wl = workload.as_deref().unwrap_or("").to_ascii_lowercase();
    match mapped.action {
        actions::SIGN_IN => sign_in_details(&mut ev, a, &ext, &devp),
        actions::INBOX_RULE_CREATED | actions::INBOX_RULE_CHANGED | actions::INBOX_RULE_REMOVED => {
            let name = get_text_any(&params, &["Name", "Identity"]);
            ev.targets.push(Target {
                kind: Some("inbox_rule".into()),
                id: get_text(a, "ObjectId").map(Into::into),
                name: name.map(Into::into),
                modified: Vec::new(),
            });
            put(&mut ev, "mailbox", get_text(&params, "Mailbox"));
        }
        actions::MAILBOX_FORWARDING_SET
        | actions::MAILBOX_FORWARDING_REMOVED
        | actions::MAILBOX_UPDATED => {
            let fwd_names = [
                "ForwardingSmtpAddress",
                "ForwardingAddress",
                "DeliverToMailboxAndForward",
            ];
            let modified: Vec<ModifiedProperty> = fwd_names
                .iter()
                .filter(|n| params.keys().any(|k| k.eq_ignore_ascii_case(n)))
                .map(|n| ModifiedProperty {
                    name: (*n).into(),
                    old: None,
                    new: get_text(&params, n),
                })
                .collect();
            let name = get_text(&params, "Identity").or_else(|| get_text(a, "ObjectId"));
            ev.targets.push(Target {
                kind: Some("mailbox".into()),
                id: get_text(a, "ObjectId").map(Into::into),
                name: name.map(Into::into),
                modified,
            });
            put(
                &mut ev,
                "forwarding_to",
                get_text_any(&params, &["ForwardingSmtpAddress", "ForwardingAddress"]),
            );
        }
        actions::CLIENT_RULES_UPDATED => {
            ev.targets.push(Target {
                kind: Some("inbox_rule".into()),
                id: get_text(&opprops, "RuleId").map(Into::into),
                name: get_text(&opprops, "RuleName").map(Into::into),
                modified: Vec::new(),
            });
            put(
                &mut ev,
                "rule_operation",
                get_text(&opprops, "RuleOperation"),
            );
            put(&mut ev, "mailbox", get_text(a, "MailboxOwnerUPN"));
        }
        actions::MAIL_ITEMS_ACCESSED => mail_items_details(&mut ev, a, &opprops),
        _ => {}
    }
    if wl == "azureactivedirectory" && mapped.action != actions::SIGN_IN {
        aad_details(&mut ev, a, modified);
    }
    if get(a, "SiteUrl").is_some() || get(a, "SourceFileName").is_some() {
        file_details(&mut ev, a);
    }
    if let Some(item) = get_obj(a, "Item") {
        put(&mut ev, "subject", get_text(&item, "Subject"));
        put(
            &mut ev,
            "internet_message_id",
            get_text(&item, "InternetMessageId"),
        );
    }
    if !ext.is_empty() {
        ev.extra.insert("extended_properties", Value::Object(ext));
    }
    Ok(ev)
}

fn sign_in_details(
    ev: &mut Event,
    a: &Map<String, Value>,
    ext: &Map<String, Value>,
    devp: &Map<String, Value>,
) {
    ev.reason = get_text(a, "LogonError").map(Into::into);
    if let Some(n) = get_text(a, "ErrorNumber") {
        if ev.reason.is_none() && ev.outcome == Outcome::Failure {
            ev.reason = Some(format!("error {n}").into());
        }
        ev.extra.insert("error_number", n.into());
    }
    let targets = get_array(a, "Target");
    ev.descr_mut().resource = targets
        .iter()
        .find_map(|t| t.as_object().and_then(|o| get_text(o, "ID")))
        .or_else(|| get_text(a, "ObjectId"))
        .map(Into::into);
    let b = |k: &str| get_text(devp, k).map(|v| v.eq_ignore_ascii_case("true"));
    let d = Device {
        id: get_text_any(devp, &["Id", "DeviceId"]),
        name: get_text_any(devp, &["DisplayName", "DeviceName"]),
        os: get_text(devp, "OS"),
        browser: get_text(devp, "BrowserType"),
        compliant: b("IsCompliant").or_else(|| b("IsCompliantAndManaged")),
        managed: b("IsManaged").or_else(|| b("IsCompliantAndManaged")),
        trust_type: get_text(devp, "TrustType"),
    };
    if d != Device::default() {
        ev.device = Some(Arc::new(d));
    }
    if let Some(m) = get_text(ext, "UserAuthenticationMethod") {
        ev.extra.insert("user_authentication_method", m.into());
    }
}

fn mail_items_details(ev: &mut Event, a: &Map<String, Value>, opprops: &Map<String, Value>) {
    let folders = get_array(a, "Folders");
    let mut items = 0u64;
    let mut any_items = false;
    let mut paths = Vec::new();
    for f in folders.iter() {
        let Some(fo) = f.as_object() else { continue };
        if let Some(Value::Array(fi)) = get(fo, "FolderItems") {
            items += fi.len() as u64;
            any_items = true;
        }
        if let Some(p) = get_text(fo, "Path") {
            paths.push(Value::String(p));
        }
    }
    let count = if any_items {
        Some(items)
    } else {
        get_text(a, "OperationCount").and_then(|s| s.trim().parse::<u64>().ok())
    };
    if let Some(n) = count {
        ev.extra.insert("item_count", n.into());
    }
    if !paths.is_empty() {
        ev.extra.insert("folders", Value::Array(paths));
    }
    if let Some(t) = get_text(opprops, "MailAccessType") {
        ev.extra.insert("mail_access_type", t.into());
    }
    if let Some(o) = get_text(a, "MailboxOwnerUPN") {
        ev.targets.push(Target {
            kind: Some("mailbox".into()),
            id: get_text(a, "MailboxGuid").map(Into::into),
            name: Some(o.into()),
            modified: Vec::new(),
        });
    }
}

fn file_details(ev: &mut Event, a: &Map<String, Value>) {
    let d = ev.descr_mut();
    d.resource = get_text(a, "SiteUrl").map(Into::into).or(d.resource.take());
    let kind = get_text(a, "ItemType")
        .map(|k| k.to_ascii_lowercase())
        .unwrap_or_else(|| "file".into());
    ev.targets.push(Target {
        kind: Some(kind.into()),
        id: get_text(a, "ObjectId").map(Into::into),
        name: get_text(a, "SourceFileName").map(Into::into),
        modified: Vec::new(),
    });
    for (k, src) in [
        ("site_url", "SiteUrl"),
        ("source_file_name", "SourceFileName"),
        ("source_relative_url", "SourceRelativeUrl"),
        ("source_file_extension", "SourceFileExtension"),
        ("target_user_or_group_name", "TargetUserOrGroupName"),
        ("target_user_or_group_type", "TargetUserOrGroupType"),
        ("event_data", "EventData"),
        ("unique_sharing_id", "UniqueSharingId"),
        ("platform", "Platform"),
        ("device_display_name", "DeviceDisplayName"),
        ("event_source", "EventSource"),
    ] {
        if let Some(v) = get_text(a, src) {
            ev.extra.insert(k, v.into());
        }
    }
}

/// Who initiated an Entra (AzureActiveDirectory workload) change and what it changed. The
/// `Actor`/`Target` lists interleave names (Type 1), UPNs (Type 5), PUIDs (Type 3) and
/// `<Kind>_<guid>` object references (Type 2); a new `<Kind>_<guid>` starts a new object.
fn aad_details(ev: &mut Event, a: &Map<String, Value>, modified: Vec<ModifiedProperty>) {
    let entries = |key: &str| -> Vec<(String, i64)> {
        get_array(a, key)
            .iter()
            .filter_map(|v| v.as_object())
            .filter_map(|o| {
                Some((
                    get_text(o, "ID")?,
                    get(o, "Type")
                        .and_then(|t| t.as_i64().or_else(|| t.as_str()?.parse().ok()))
                        .unwrap_or(-1),
                ))
            })
            .collect()
    };
    let actors = entries("Actor");
    let user_actor = actors.iter().any(|(id, _)| id.starts_with("User_"));
    let sp_actor = actors
        .iter()
        .find_map(|(id, _)| id.strip_prefix("ServicePrincipal_").map(str::to_string));
    let user_type: Option<i64> = get_text(a, "UserType").and_then(|s| s.parse().ok());
    let is_app = !user_actor && (sp_actor.is_some() || matches!(user_type, Some(4..=6)));
    if is_app {
        let name = actors
            .iter()
            .find(|(_, t)| *t == 1)
            .map(|(id, _)| id.clone())
            .or_else(|| ev.user.as_ref().map(String::from));
        if let Some(uid) = ev.user.take() {
            ev.extra.insert("ual_user_id", uid.into());
        }
        ev.descr_mut().app = name.clone().map(Into::into);
        ev.extra.insert("initiated_by_type", "app".into());
        if let Some(n) = name {
            ev.extra.insert("initiated_by_app", n.into());
        }
        if let Some(sp) = sp_actor {
            ev.extra
                .insert("initiated_by_service_principal_id", sp.into());
        }
    } else {
        ev.extra.insert("initiated_by_type", "user".into());
    }

    let mut targets: Vec<Target> = Vec::new();
    let mut cur: Option<Target> = None;
    for (id, ty) in entries("Target") {
        if let Some((kind, guid)) = id.split_once('_').filter(|(k, g)| {
            !k.is_empty() && g.len() >= 32 && k.chars().all(|c| c.is_ascii_alphabetic())
        }) {
            if let Some(t) = cur.take() {
                targets.push(t);
            }
            cur = Some(Target {
                kind: Some(kind.into()),
                id: Some(guid.into()),
                name: None,
                modified: Vec::new(),
            });
            continue;
        }
        let t = cur.get_or_insert_with(Target::default);
        match ty {
            5 => t.name = Some(id.into()),
            1 if t.name.is_none() => t.name = Some(id.into()),
            _ => {}
        }
    }
    if let Some(t) = cur.take() {
        targets.push(t);
    }
    if targets.is_empty() {
        if let Some(o) = get_text(a, "ObjectId") {
            targets.push(Target {
                kind: None,
                id: None,
                name: Some(o.into()),
                modified: Vec::new(),
            });
        }
    }
    if let Some(first) = targets.first_mut() {
        if first.name.is_none() {
            first.name = get_text(a, "ObjectId").map(Into::into);
        }
        first.modified = modified;
    } else if !modified.is_empty() {
        targets.push(Target {
            modified,
            ..Target::default()
        });
    }
    ev.targets.extend(targets);
}

/// Names of the common record types (Office 365 Management Activity API `AuditLogRecordType`).
fn record_type_name(rt: &str) -> Option<&'static str> {
    let n: u32 = rt.trim().parse().ok()?;
    Some(match n {
        1 => "ExchangeAdmin",
        2 => "ExchangeItem",
        3 => "ExchangeItemGroup",
        4 => "SharePoint",
        6 => "SharePointFileOperation",
        7 => "OneDrive",
        8 => "AzureActiveDirectory",
        9 => "AzureActiveDirectoryAccountLogon",
        10 => "DataCenterSecurityCmdlet",
        11 => "ComplianceDLPSharePoint",
        13 => "ComplianceDLPExchange",
        14 => "SharePointSharingOperation",
        15 => "AzureActiveDirectoryStsLogon",
        18 => "SecurityComplianceCenterEOPCmdlet",
        19 => "ExchangeAggregatedOperation",
        20 => "PowerBIAudit",
        25 => "MicrosoftTeams",
        28 => "ThreatIntelligence",
        36 => "SharePointListOperation",
        40 => "SecurityComplianceAlerts",
        43 => "MIPLabel",
        50 => "ExchangeItemAggregated",
        54 => "SharePointListItemOperation",
        55 => "SharePointContentTypeOperation",
        56 => "SharePointFieldOperation",
        _ => return None,
    })
}

// ---------------------------------------------------------------- benchmark data

/// splitmix64: tiny, deterministic, good enough to vary synthetic records.
struct SplitMix64(u64);

impl SplitMix64 {
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

    fn guid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Writes a realistic Purview "Export results" CSV (CRLF, header plus rows whose AuditData is
/// JSON with `""` escaping, mixed operations) of at least `target_bytes`, deterministically
/// from `seed`. Returns the records written (like every generator).
pub fn generate(seed: u64, target_bytes: usize, out: &mut impl Write) -> std::io::Result<u64> {
    const USERS: &[&str] = &[
        "adele.vance@contoso.example",
        "alex.wilber@contoso.example",
        "debra.berger@contoso.example",
        "megan.bowen@contoso.example",
        "nestor.wilke@contoso.example",
        "admin@contoso.example",
    ];
    const FILES: &[&str] = &[
        "Q3 Forecast.xlsx",
        "Payroll 2024.xlsx",
        "Board deck.pptx",
        "Vendor list.docx",
        "passwords.txt",
    ];
    const IPS: &[&str] = &[
        "203.0.113.24",
        "198.51.100.7",
        "185.220.101.44",
        "2001:db8:41::17",
        "192.0.2.55",
    ];
    let org = "5b2c1a0e-8f3d-4a6b-9c7e-1d2f3a4b5c6d";
    let mut rng = SplitMix64(seed);
    let header = "RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n";
    out.write_all(header.as_bytes())?;
    let mut written = header.len() as u64;
    let mut records = 0u64;
    let mut t: i64 = 1_709_251_200; // 2024-03-01T00:00:00Z
    let mut line = String::with_capacity(4096);
    while (written as usize) < target_bytes {
        t += rng.below(30) as i64;
        let Some(dt) = chrono::DateTime::from_timestamp(t, 0) else {
            break;
        };
        let iso = dt.format("%Y-%m-%dT%H:%M:%S").to_string();
        let locale = dt.format("%-m/%-d/%Y %-I:%M:%S %p").to_string();
        let id = rng.guid();
        let user = USERS[rng.below(USERS.len() as u64) as usize];
        let ip = IPS[rng.below(IPS.len() as u64) as usize];
        let common = |op: &str, rt: u32, wl: &str, status: &str| {
            format!(
                "\"CreationTime\":\"{iso}\",\"Id\":\"{id}\",\"Operation\":\"{op}\",\"OrganizationId\":\"{org}\",\"RecordType\":{rt},\"ResultStatus\":\"{status}\",\"UserKey\":\"10032002F22{:05X}\",\"UserType\":0,\"Version\":1,\"Workload\":\"{wl}\"",
                t & 0xfffff
            )
        };
        let roll = rng.below(100);
        let (op, rt, json) = match roll {
            0..=24 => {
                let c = common("UserLoggedIn", 15, "AzureActiveDirectory", "Success");
                let sess = rng.guid();
                ("UserLoggedIn", 15, format!("{{{c},\"ClientIP\":\"{ip}\",\"ObjectId\":\"00000003-0000-0000-c000-000000000000\",\"UserId\":\"{user}\",\"AzureActiveDirectoryEventType\":1,\"ExtendedProperties\":[{{\"Name\":\"ResultStatusDetail\",\"Value\":\"Redirect\"}},{{\"Name\":\"UserAgent\",\"Value\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36 Edg/122.0.0.0\"}},{{\"Name\":\"RequestType\",\"Value\":\"OAuth2:Authorize\"}}],\"ModifiedProperties\":[],\"Actor\":[{{\"ID\":\"{sess}\",\"Type\":0}},{{\"ID\":\"{user}\",\"Type\":5}}],\"ActorContextId\":\"{org}\",\"ActorIpAddress\":\"{ip}\",\"InterSystemsId\":\"{sess}\",\"IntraSystemId\":\"{id}\",\"SupportTicketId\":\"\",\"Target\":[{{\"ID\":\"00000003-0000-0000-c000-000000000000\",\"Type\":0}}],\"TargetContextId\":\"{org}\",\"ApplicationId\":\"4765445b-32c6-49b0-83e6-1d93765276ca\",\"DeviceProperties\":[{{\"Name\":\"OS\",\"Value\":\"Windows10\"}},{{\"Name\":\"BrowserType\",\"Value\":\"Edge\"}},{{\"Name\":\"IsCompliantAndManaged\",\"Value\":\"False\"}},{{\"Name\":\"SessionId\",\"Value\":\"{sess}\"}}],\"ErrorNumber\":\"0\"}}"))
            }
            25..=29 => {
                let c = common("UserLoginFailed", 15, "AzureActiveDirectory", "Success");
                ("UserLoginFailed", 15, format!("{{{c},\"ClientIP\":\"{ip}\",\"ObjectId\":\"00000002-0000-0ff1-ce00-000000000000\",\"UserId\":\"{user}\",\"AzureActiveDirectoryEventType\":1,\"ExtendedProperties\":[{{\"Name\":\"ResultStatusDetail\",\"Value\":\"Success\"}},{{\"Name\":\"UserAgent\",\"Value\":\"python-requests/2.31.0\"}},{{\"Name\":\"RequestType\",\"Value\":\"OrgIdWsTrust2:process\"}}],\"ModifiedProperties\":[],\"Actor\":[{{\"ID\":\"{user}\",\"Type\":5}}],\"ActorContextId\":\"{org}\",\"ActorIpAddress\":\"{ip}\",\"Target\":[{{\"ID\":\"00000002-0000-0ff1-ce00-000000000000\",\"Type\":0}}],\"TargetContextId\":\"{org}\",\"ApplicationId\":\"a0c73c16-a7e3-4564-9a95-2bdf47383716\",\"ErrorNumber\":\"50126\",\"LogonError\":\"InvalidUserNameOrPassword\"}}"))
            }
            30..=49 => {
                let c = common("MailItemsAccessed", 50, "Exchange", "Succeeded");
                let n = 1 + rng.below(4);
                let items: Vec<String> = (0..n).map(|i| format!("{{\"InternetMessageId\":\"<{}-{i}@mail.contoso.example>\",\"SizeInBytes\":{}}}", rng.guid(), 2000 + rng.below(90000))).collect();
                ("MailItemsAccessed", 50, format!("{{{c},\"ClientIP\":\"{ip}\",\"UserId\":\"{user}\",\"AppId\":\"00000002-0000-0ff1-ce00-000000000000\",\"ClientAppId\":\"\",\"ClientIPAddress\":\"{ip}\",\"ClientInfoString\":\"Client=OWA;Action=ViaProxy\",\"ExternalAccess\":false,\"InternalLogonType\":0,\"LogonType\":0,\"LogonUserSid\":\"S-1-5-21-1234-{n}\",\"MailboxGuid\":\"{}\",\"MailboxOwnerSid\":\"S-1-5-21-1234-{n}\",\"MailboxOwnerUPN\":\"{user}\",\"OperationProperties\":[{{\"Name\":\"MailAccessType\",\"Value\":\"Bind\"}},{{\"Name\":\"IsThrottled\",\"Value\":\"False\"}}],\"OrganizationName\":\"contoso.onmicrosoft.com\",\"OriginatingServer\":\"AM0PR01MB1234 (15.20.7362.019)\",\"Folders\":[{{\"FolderItems\":[{}],\"Id\":\"LgAAAAB{n}\",\"Path\":\"\\\\Inbox\"}}],\"OperationCount\":{n}}}", rng.guid(), items.join(",")))
            }
            50..=79 => {
                let (op, sync) = match roll {
                    50..=64 => ("FileAccessed", false),
                    65..=74 => ("FileDownloaded", false),
                    _ => ("FileSyncDownloadedFull", true),
                };
                let c = common(op, 6, "SharePoint", "Succeeded");
                let f = FILES[rng.below(FILES.len() as u64) as usize];
                let ua = if sync {
                    "Microsoft SkyDriveSync 24.020.0128.0003 ship; Windows NT 10.0 (19045)"
                } else {
                    "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
                };
                (op, 6, format!("{{{c},\"ClientIP\":\"{ip}\",\"UserId\":\"{user}\",\"CorrelationId\":\"{}\",\"EventSource\":\"SharePoint\",\"ItemType\":\"File\",\"ListId\":\"{}\",\"ListItemUniqueId\":\"{}\",\"Site\":\"{}\",\"UserAgent\":\"{ua}\",\"WebId\":\"{}\",\"SourceFileExtension\":\"xlsx\",\"SiteUrl\":\"https://contoso.sharepoint.com/sites/Finance/\",\"SourceFileName\":\"{f}\",\"SourceRelativeUrl\":\"Shared Documents\",\"ObjectId\":\"https://contoso.sharepoint.com/sites/Finance/Shared Documents/{f}\"}}", rng.guid(), rng.guid(), rng.guid(), rng.guid(), rng.guid()))
            }
            80..=84 => {
                let c = common("SharingSet", 14, "OneDrive", "Succeeded");
                let f = FILES[rng.below(FILES.len() as u64) as usize];
                ("SharingSet", 14, format!("{{{c},\"ClientIP\":\"{ip}\",\"UserId\":\"{user}\",\"EventSource\":\"SharePoint\",\"ItemType\":\"File\",\"EventData\":\"<PermissionsGranted>System.LimitedView</PermissionsGranted>\",\"TargetUserOrGroupType\":\"Guest\",\"TargetUserOrGroupName\":\"drop@mailbox.example\",\"SiteUrl\":\"https://contoso-my.sharepoint.com/personal/user/\",\"SourceFileName\":\"{f}\",\"ObjectId\":\"https://contoso-my.sharepoint.com/personal/user/Documents/{f}\"}}"))
            }
            85..=89 => {
                let c = common("Send", 2, "Exchange", "Succeeded");
                ("Send", 2, format!("{{{c},\"ClientIP\":\"{ip}\",\"UserId\":\"{user}\",\"ClientIPAddress\":\"{ip}\",\"ClientInfoString\":\"Client=REST;Client=RESTSystem;\",\"MailboxOwnerUPN\":\"{user}\",\"Item\":{{\"Id\":\"RgAAAA{}\",\"InternetMessageId\":\"<{}@mail.contoso.example>\",\"Subject\":\"RE: Updated banking details\",\"SizeInBytes\":{}}}}}", t & 0xffff, rng.guid(), 4000 + rng.below(20000)))
            }
            90..=92 => {
                let c = common("New-InboxRule", 1, "Exchange", "True");
                ("New-InboxRule", 1, format!("{{{c},\"ClientIP\":\"{ip}:{}\",\"ObjectId\":\"EURPR01A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/{}\\\\..\",\"UserId\":\"{user}\",\"AppId\":\"00000002-0000-0ff1-ce00-000000000000\",\"ExternalAccess\":false,\"OrganizationName\":\"contoso.onmicrosoft.com\",\"OriginatingServer\":\"AM0PR01MB1234 (15.20.7362.019)\",\"Parameters\":[{{\"Name\":\"AlwaysDeleteOutlookRulesBlob\",\"Value\":\"False\"}},{{\"Name\":\"Force\",\"Value\":\"False\"}},{{\"Name\":\"ForwardTo\",\"Value\":\"archive-7731@mailbox.example\"}},{{\"Name\":\"DeleteMessage\",\"Value\":\"True\"}},{{\"Name\":\"SubjectOrBodyContainsWords\",\"Value\":\"invoice;payment;wire\"}},{{\"Name\":\"Name\",\"Value\":\"..\"}},{{\"Name\":\"StopProcessingRules\",\"Value\":\"True\"}}],\"SessionId\":\"{}\"}}", 1024 + rng.below(60000), rng.guid(), rng.guid()))
            }
            93..=94 => {
                let c = common("Set-Mailbox", 1, "Exchange", "True");
                ("Set-Mailbox", 1, format!("{{{c},\"ClientIP\":\"{ip}\",\"ObjectId\":\"{user}\",\"UserId\":\"{user}\",\"AppId\":\"fb78d390-0c51-40cd-8e17-fdbfab77341b\",\"ExternalAccess\":false,\"OrganizationName\":\"contoso.onmicrosoft.com\",\"Parameters\":[{{\"Name\":\"Identity\",\"Value\":\"{user}\"}},{{\"Name\":\"ForwardingSmtpAddress\",\"Value\":\"smtp:archive-7731@mailbox.example\"}},{{\"Name\":\"DeliverToMailboxAndForward\",\"Value\":\"True\"}}]}}"))
            }
            95..=97 => {
                let c = common("Reset user password.", 8, "AzureActiveDirectory", "Success");
                let tgt = USERS[rng.below(5) as usize];
                let g = rng.guid();
                ("Reset user password.", 8, format!("{{{c},\"ObjectId\":\"{tgt}\",\"UserId\":\"admin@contoso.example\",\"AzureActiveDirectoryEventType\":1,\"ExtendedProperties\":[{{\"Name\":\"additionalDetails\",\"Value\":\"{{}}\"}},{{\"Name\":\"extendedAuditEventCategory\",\"Value\":\"User\"}}],\"ModifiedProperties\":[],\"Actor\":[{{\"ID\":\"admin@contoso.example\",\"Type\":5}},{{\"ID\":\"User_{}\",\"Type\":2}},{{\"ID\":\"User\",\"Type\":2}}],\"ActorContextId\":\"{org}\",\"Target\":[{{\"ID\":\"User_{g}\",\"Type\":2}},{{\"ID\":\"{g}\",\"Type\":2}},{{\"ID\":\"User\",\"Type\":2}},{{\"ID\":\"{tgt}\",\"Type\":5}}],\"TargetContextId\":\"{org}\"}}", rng.guid()))
            }
            _ => {
                let c = common(
                    "Update StsRefreshTokenValidFrom Timestamp.",
                    8,
                    "AzureActiveDirectory",
                    "Success",
                );
                let tgt = USERS[rng.below(5) as usize];
                let g = rng.guid();
                let sp = rng.guid();
                ("Update StsRefreshTokenValidFrom Timestamp.", 8, format!("{{{c},\"ObjectId\":\"{tgt}\",\"UserId\":\"ServicePrincipal_{sp}\",\"AzureActiveDirectoryEventType\":1,\"ExtendedProperties\":[{{\"Name\":\"additionalDetails\",\"Value\":\"{{}}\"}},{{\"Name\":\"extendedAuditEventCategory\",\"Value\":\"User\"}}],\"ModifiedProperties\":[{{\"Name\":\"StsRefreshTokensValidFrom\",\"NewValue\":\"[\\r\\n  \\\"{iso}Z\\\"\\r\\n]\",\"OldValue\":\"[]\"}}],\"Actor\":[{{\"ID\":\"Microsoft Substrate Management\",\"Type\":1}},{{\"ID\":\"ServicePrincipal_{sp}\",\"Type\":2}},{{\"ID\":\"ServicePrincipal\",\"Type\":2}}],\"ActorContextId\":\"{org}\",\"Target\":[{{\"ID\":\"User_{g}\",\"Type\":2}},{{\"ID\":\"{g}\",\"Type\":2}},{{\"ID\":\"User\",\"Type\":2}},{{\"ID\":\"{tgt}\",\"Type\":5}}],\"TargetContextId\":\"{org}\"}}"))
            }
        };
        let row_user = if op.starts_with("Update Sts") {
            "ServicePrincipal"
        } else {
            user
        };
        line.clear();
        line.push_str(&id);
        line.push(',');
        line.push_str(&locale);
        line.push(',');
        line.push_str(&rt.to_string());
        line.push(',');
        line.push_str(op);
        line.push(',');
        line.push_str(row_user);
        line.push_str(",\"");
        line.push_str(&json.replace('"', "\"\""));
        line.push_str("\",,\r\n");
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
        records += 1;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_shapes() {
        assert_eq!(sniff("RecordId,CreationDate,RecordType,Operation,UserId,AuditData,AssociatedAdminUnits,AssociatedAdminUnitsNames\r\n"), 95);
        assert_eq!(sniff("#TYPE Deserialized.Microsoft.Exchange.Management.SystemConfigurationTasks.AuditRecord\r\n\"RunspaceId\",\"RecordType\",\"CreationDate\",\"UserIds\",\"Operations\",\"AuditData\"\r\n"), 95);
        assert_eq!(sniff("{\"CreationTime\":\"2024-01-01T00:00:00\",\"Id\":\"x\",\"Operation\":\"FileAccessed\",\"Workload\":\"SharePoint\"}\n"), 90);
        assert_eq!(
            sniff("{\"value\":[{\"id\":\"x\",\"auditLogRecordType\":\"exchangeAdmin\"}]}"),
            90
        );
        assert_eq!(
            sniff("{\"category\":\"AuditLogs\",\"properties\":{\"activityDisplayName\":\"x\"}}"),
            0
        );
        assert_eq!(sniff("a,b\n"), 0);
    }

    #[test]
    fn generator_is_deterministic() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let na = generate(7, 20_000, &mut a).unwrap();
        let nb = generate(7, 20_000, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(na, nb);
        assert!(na > 10, "{na} records");
        assert!(a.len() >= 20_000);
        let mut c = Vec::new();
        generate(8, 20_000, &mut c).unwrap();
        assert_ne!(a, c);
    }
}
