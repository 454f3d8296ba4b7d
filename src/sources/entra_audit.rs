//! Entra ID audit logs (directoryAudits): Graph JSON pages, diagnostic-settings / Event Hub
//! `AuditLogs` records, Log Analytics (Sentinel) `AuditLogs` exports as CSV or JSON, and the
//! Entra portal "Download CSV" layout (`Date (UTC)`, `Activity`, `Actor…`, `Target1…`).
//!
//! Every variant is turned into the Graph `directoryAudit` shape first and mapped once, so an
//! activity reads the same whichever export it came from.

use super::csvscan::Header;
use super::jsonscan::{self, Piece};
use super::m365_ops::{
    self as ops, get, get_array, get_obj, get_text, get_text_any, CsvRecord, OpFacts,
};
use super::{Input, Item, ParseContext, Source};
use crate::event::{Event, Outcome, Provenance};
use serde_json::{Map, Value};

pub struct EntraAudit;

pub const ID: &str = "entra_audit";

impl Source for EntraAudit {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "Entra ID audit logs"
    }

    fn sniff(&self, head: &str) -> u8 {
        sniff(head)
    }

    fn parse(&self, input: &Input, _ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        match ops::first_content_byte(input.text) {
            None => {}
            Some(b'{') | Some(b'[') => parse_json(input, out),
            Some(_) => parse_csv(input, out),
        }
    }
}

fn sniff(head: &str) -> u8 {
    match ops::first_content_byte(head) {
        None => 0,
        Some(b'{') | Some(b'[') => {
            let l = head.to_ascii_lowercase();
            let activity = l.contains("\"activitydisplayname\"");
            if activity && l.contains("\"auditlogs\"") {
                95
            } else if activity
                && (l.contains("\"initiatedby\"") || l.contains("\"targetresources\""))
            {
                85
            } else {
                0
            }
        }
        Some(_) => {
            let Some(line) = ops::header_line(head) else {
                return 0;
            };
            let names = ops::header_names(line);
            let has = |n: &str| {
                names
                    .iter()
                    .any(|h| h == n || h.strip_suffix("[utc]").map(str::trim) == Some(n))
            };
            let sentinel =
                has("activitydisplayname") && has("initiatedby") && has("targetresources");
            let portal = has("activity")
                && has("actortype")
                && (has("target1type") || has("actoruserprincipalname"));
            if sentinel || portal {
                90
            } else {
                0
            }
        }
    }
}

fn parse_json(input: &Input, out: &mut dyn FnMut(Item)) {
    let text = input.text;
    let mut no = 0u64;
    jsonscan::each(text, &mut |piece| {
        no += 1;
        match piece {
            Piece::Bad { start, end, reason } => out(Err(input.reject(no, start, end, reason))),
            Piece::Record { start, end } => {
                let item = match serde_json::from_str::<Value>(&text[start..end]) {
                    Ok(Value::Object(o)) => {
                        let prov = input.provenance(no, start, end);
                        json_record(&o, prov).map_err(|r| input.reject(no, start, end, r))
                    }
                    Ok(_) => Err(input.reject(no, start, end, "record is not a JSON object")),
                    Err(e) => Err(input.reject(no, start, end, format!("invalid JSON: {e}"))),
                };
                out(item);
            }
        }
    });
}

fn json_record(o: &Map<String, Value>, prov: Provenance) -> Result<Event, String> {
    if let Some(props) = get_obj(o, "properties") {
        if get(o, "category").is_some() || get(o, "operationName").is_some() {
            return audit_event(&props, Some(o), "diagnostic_json", prov);
        }
    }
    let variant = if get(o, "TimeGenerated").is_some() || get(o, "AADTenantId").is_some() {
        "sentinel_json"
    } else {
        "graph_json"
    };
    audit_event(o, None, variant, prov)
}

/// The one mapping from a directoryAudit-shaped object (plus the diagnostic envelope, when
/// there is one) to an event.
fn audit_event(
    a: &Map<String, Value>,
    env: Option<&Map<String, Value>>,
    variant: &'static str,
    prov: Provenance,
) -> Result<Event, String> {
    let (time_text, stamp) = pick_time(a, env)?;
    let op = get_text(a, "activityDisplayName")
        .or_else(|| env.and_then(|e| get_text(e, "operationName")))
        .or_else(|| get_text(a, "OperationName"))
        .ok_or("no activityDisplayName (activity name) in the record")?;
    let targets = ops::targets_from_resources(&get_array(a, "targetResources"));
    let modified: Vec<_> = targets
        .iter()
        .flat_map(|t| t.modified.iter().cloned())
        .collect();
    let mut mapped = ops::map_operation(
        &op,
        &OpFacts {
            modified: &modified,
            parameters: None,
        },
    );
    if mapped.action == crate::event::actions::OTHER {
        // Everything in the directory audit log changes a directory object.
        mapped.class = crate::event::EventClass::AccountChange;
    }
    let result = get_text_any(a, &["result", "ResultType"]);
    let outcome = match result.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("success") => Outcome::Success,
        Some("failure") | Some("timeout") => Outcome::Failure,
        _ => Outcome::Unknown,
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
    ev.reason = get_text(a, "resultReason")
        .filter(|s| !s.trim().is_empty())
        .map(Into::into);
    ev.cold_mut().correlation_id =
        get_text(a, "correlationId").or_else(|| env.and_then(|e| get_text(e, "correlationId")));
    ev.targets = targets.into();

    let mut ip = None;
    if let Some(init) = get_obj(a, "initiatedBy") {
        let user = get_obj(&init, "user")
            .filter(|u| get_text_any(u, &["userPrincipalName", "id", "displayName"]).is_some());
        let app = get_obj(&init, "app").filter(|p| {
            get_text_any(
                p,
                &[
                    "displayName",
                    "appId",
                    "servicePrincipalId",
                    "servicePrincipalName",
                ],
            )
            .is_some()
        });
        if let Some(u) = user {
            ev.user = get_text_any(&u, &["userPrincipalName", "displayName", "id"]).map(Into::into);
            ev.user_id = get_text(&u, "id").map(Into::into);
            ip = get_text(&u, "ipAddress");
            ev.extra.insert("initiated_by_type", "user".into());
            if let Some(d) = get_text(&u, "displayName") {
                ev.extra.insert("initiated_by_user_display_name", d.into());
            }
        } else if let Some(p) = app {
            let name = get_text_any(
                &p,
                &[
                    "displayName",
                    "servicePrincipalName",
                    "appId",
                    "servicePrincipalId",
                ],
            );
            ev.descr_mut().app = get_text(&p, "displayName").map(Into::into);
            ev.descr_mut().app_id = get_text(&p, "appId").map(Into::into);
            ev.extra.insert("initiated_by_type", "app".into());
            if let Some(n) = name {
                ev.extra.insert("initiated_by_app", n.into());
            }
            if let Some(sp) = get_text(&p, "servicePrincipalId") {
                ev.extra
                    .insert("initiated_by_service_principal_id", sp.into());
            }
        }
    }
    let ip = ip.or_else(|| env.and_then(|e| get_text(e, "callerIpAddress")));
    let ipf = ops::ip_facts(ip.as_deref());
    ev.src_ip = ipf.ip.map(Into::into);
    ev.cold_mut().src_port = ipf.port;
    if let Some(u) = ipf.unparsed {
        ev.extra.insert("src_ip_unparsed", u.into());
    }

    let details = ops::name_value_object(&get_array(a, "additionalDetails"));
    ev.descr_mut().user_agent = get_text(a, "userAgent")
        .or_else(|| get_text(&details, "User-Agent"))
        .map(Into::into);
    if !details.is_empty() {
        ev.extra
            .insert("additional_details", Value::Object(details));
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            ev.extra.insert(k, v.into());
        }
    };
    put("audit_id", get_text(a, "id"));
    put("category", get_text(a, "category"));
    put("logged_by_service", get_text(a, "loggedByService"));
    put(
        "operation_type",
        get_text_any(a, &["operationType", "AADOperationType"]),
    );
    put("result", result);
    put(
        "tenant_id",
        env.and_then(|e| get_text(e, "tenantId"))
            .or_else(|| get_text_any(a, &["AADTenantId", "tenantId"])),
    );
    Ok(ev)
}

fn pick_time(
    a: &Map<String, Value>,
    env: Option<&Map<String, Value>>,
) -> Result<(String, super::timefmt::Stamp), String> {
    let candidates = [
        ("activityDateTime", get_text(a, "activityDateTime")),
        ("TimeGenerated", get_text(a, "TimeGenerated")),
        ("time", env.and_then(|e| get_text(e, "time"))),
    ];
    for (name, v) in candidates {
        if let Some(t) = v {
            return match ops::parse_utc(&t) {
                Some(st) => Ok((t, st)),
                None => Err(format!(
                    "{name} '{t}' is not a timestamp (expected ISO 8601 or M/D/YYYY h:mm:ss AM/PM)"
                )),
            };
        }
    }
    Err("no activityDateTime in the record".into())
}

fn parse_csv(input: &Input, out: &mut dyn FnMut(Item)) {
    let mut no = 0u64;
    ops::for_each_csv_record(input.text, &mut |rec| {
        no += 1;
        match rec {
            CsvRecord::Bad { start, end, reason } => out(Err(input.reject(no, start, end, reason))),
            CsvRecord::Row { header, row } => {
                let prov = input.provenance(no, row.start, row.end);
                let item = if header.idx("ActivityDisplayName").is_some() {
                    let obj = ops::row_object(&clean_names(header), &row);
                    audit_event(&obj, None, "sentinel_csv", prov)
                } else if header.idx("Activity").is_some() {
                    audit_event(&portal_row(header, &row.record), None, "portal_csv", prov)
                } else {
                    Err("CSV header has neither ActivityDisplayName (Log Analytics export) nor Activity (portal download)".into())
                };
                out(item.map_err(|r| input.reject(no, row.start, row.end, r)));
            }
        }
    });
}

/// Header names with the ` [UTC]` suffix Log Analytics adds to time columns removed.
fn clean_names(h: &Header) -> Vec<String> {
    h.names()
        .iter()
        .map(|n| n.strip_suffix("[utc]").unwrap_or(n).trim().to_string())
        .collect()
}

/// Portal download row → directoryAudit shape. The portal flattens up to three targets with
/// five modified properties each and six additional details into numbered columns.
fn portal_row(h: &Header, rec: &csv::StringRecord) -> Map<String, Value> {
    let g = |n: &str| h.get(rec, n).map(str::to_string);
    let mut a = Map::new();
    let put = |m: &mut Map<String, Value>, k: &str, v: Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v));
        }
    };
    put(
        &mut a,
        "activityDateTime",
        h.get_any(rec, &["Date (UTC)", "Date", "Activity Date"])
            .map(str::to_string),
    );
    put(&mut a, "activityDisplayName", g("Activity"));
    put(&mut a, "loggedByService", g("Service"));
    put(&mut a, "category", g("Category"));
    put(&mut a, "result", g("Result"));
    put(&mut a, "resultReason", g("ResultReason"));
    put(&mut a, "correlationId", g("CorrelationId"));
    put(
        &mut a,
        "userAgent",
        h.get_any(rec, &["User Agent", "UserAgent"])
            .map(str::to_string),
    );

    let actor_type = g("ActorType").unwrap_or_default().to_ascii_lowercase();
    let upn = g("ActorUserPrincipalName");
    let is_app = actor_type.contains("app")
        || actor_type.contains("service")
        || (actor_type.is_empty() && upn.is_none() && g("ActorServicePrincipalId").is_some());
    let mut who = Map::new();
    let mut init = Map::new();
    if is_app {
        put(
            &mut who,
            "displayName",
            g("ActorDisplayName").or_else(|| g("ActorServicePrincipalName")),
        );
        put(
            &mut who,
            "servicePrincipalId",
            g("ActorServicePrincipalId").or_else(|| g("ActorObjectId")),
        );
        put(
            &mut who,
            "servicePrincipalName",
            g("ActorServicePrincipalName"),
        );
        init.insert("app".into(), Value::Object(who));
    } else {
        put(&mut who, "displayName", g("ActorDisplayName"));
        put(&mut who, "id", g("ActorObjectId"));
        put(&mut who, "userPrincipalName", upn);
        put(&mut who, "ipAddress", g("IPAddress"));
        init.insert("user".into(), Value::Object(who));
    }
    a.insert("initiatedBy".into(), Value::Object(init));

    let mut targets = Vec::new();
    for n in 1..=9 {
        let tg = |f: &str| g(&format!("Target{n}{f}"));
        let mut t = Map::new();
        put(&mut t, "type", tg("Type"));
        put(&mut t, "displayName", tg("DisplayName"));
        put(&mut t, "id", tg("ObjectId"));
        put(&mut t, "userPrincipalName", tg("UserPrincipalName"));
        let mut mods = Vec::new();
        for k in 1..=9 {
            let Some(name) = tg(&format!("ModifiedProperty{k}Name")) else {
                continue;
            };
            let mut mp = Map::new();
            mp.insert("displayName".into(), Value::String(name));
            put(
                &mut mp,
                "oldValue",
                tg(&format!("ModifiedProperty{k}OldValue")),
            );
            put(
                &mut mp,
                "newValue",
                tg(&format!("ModifiedProperty{k}NewValue")),
            );
            mods.push(Value::Object(mp));
        }
        if t.is_empty() && mods.is_empty() {
            continue;
        }
        t.insert("modifiedProperties".into(), Value::Array(mods));
        targets.push(Value::Object(t));
    }
    a.insert("targetResources".into(), Value::Array(targets));

    let mut details = Vec::new();
    for k in 1..=20 {
        let Some(key) = g(&format!("AdditionalDetail{k}Key")) else {
            continue;
        };
        let mut d = Map::new();
        d.insert("key".into(), Value::String(key));
        put(&mut d, "value", g(&format!("AdditionalDetail{k}Value")));
        details.push(Value::Object(d));
    }
    a.insert("additionalDetails".into(), Value::Array(details));
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_shapes() {
        assert_eq!(
            sniff("{\"category\": \"AuditLogs\", \"properties\":{\"activityDisplayName\":\"x\"}}"),
            95
        );
        assert_eq!(
            sniff("{\"value\":[{\"activityDisplayName\":\"x\",\"initiatedBy\":{}}]}"),
            85
        );
        assert_eq!(
            sniff("{\"category\":\"SignInLogs\",\"properties\":{\"riskEventTypes\":[]}}"),
            0
        );
        assert_eq!(
            sniff(
                "TenantId,TimeGenerated [UTC],ActivityDisplayName,InitiatedBy,TargetResources\r\n"
            ),
            90
        );
        assert_eq!(sniff("\u{FEFF}\"Date (UTC)\",\"CorrelationId\",\"Service\",\"Category\",\"Activity\",\"Result\",\"ActorType\",\"Target1Type\"\r\n"), 90);
        assert_eq!(
            sniff("RecordId,CreationDate,RecordType,Operation,UserId,AuditData\r\n"),
            0
        );
        assert_eq!(sniff(""), 0);
    }
}
