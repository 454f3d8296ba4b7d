//! Entra ID Protection risk: Graph `riskDetections` / `riskyUsers` JSON, the identity-protection
//! diagnostic records (`UserRiskEvents`, `RiskyUsers`, and their service-principal twins),
//! Log Analytics `AADUserRiskEvents` / `AADRiskyUsers` CSV exports, and — because Microsoft's
//! own documentation is sometimes the only sample there is — a Graph docs Markdown page whose
//! response example holds the JSON.
//!
//! A detection's `Event.time` is when the risky activity happened (`activityDateTime`); when
//! Identity Protection noticed it (`detectedDateTime`, hours or days later for offline
//! detections) is kept in `extra.detected_time`.

use super::csvscan::Header;
use super::jsonscan::{self, Piece};
use super::m365_ops::{self as ops, get, get_array, get_obj, get_text, get_text_any, CsvRecord};
use super::timefmt::Stamp;
use super::{Input, Item, ParseContext, Source};
use crate::event::{actions, Event, EventClass, Outcome, Provenance};
use serde_json::{Map, Value};

pub struct EntraRisk;

pub const ID: &str = "entra_risk";

impl Source for EntraRisk {
    fn id(&self) -> &'static str {
        ID
    }

    fn name(&self) -> &'static str {
        "Entra ID Protection risk detections"
    }

    fn sniff(&self, head: &str) -> u8 {
        sniff(head)
    }

    fn parse(&self, input: &Input, _ctx: &ParseContext, out: &mut dyn FnMut(Item)) {
        match ops::first_content_byte(input.text) {
            None => {}
            Some(b'{') | Some(b'[') => {
                parse_json_span(input, 0, input.text.len(), &mut 0, "graph_json", out)
            }
            Some(_) if is_markdown(input.text) => parse_markdown(input, out),
            Some(_) => parse_csv(input, out),
        }
    }
}

fn is_markdown(text: &str) -> bool {
    text.contains("```")
        && (text.starts_with("---") || text.starts_with('#') || text.contains("\n#"))
}

fn sniff(head: &str) -> u8 {
    let l = head.to_ascii_lowercase();
    // `"riskEventType"` with the closing quote: sign-in records carry `riskEventTypes`.
    let detection = l.contains("\"riskeventtype\"");
    match ops::first_content_byte(head) {
        None => 0,
        Some(b'{') | Some(b'[') => {
            let category = [
                "\"userriskevents\"",
                "\"riskyusers\"",
                "\"serviceprincipalriskevents\"",
                "\"riskyserviceprincipals\"",
            ]
            .iter()
            .any(|c| l.contains(c));
            if category {
                92
            } else if detection && l.contains("\"detectiontimingtype\"") {
                90
            } else if detection || l.contains("\"risklastupdateddatetime\"") {
                85
            } else {
                0
            }
        }
        Some(_) if is_markdown(head) && detection => 80,
        Some(_) if is_markdown(head) => 0,
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
            if has("riskeventtype") && (has("activitydatetime") || has("detecteddatetime")) {
                88
            } else if has("risklastupdateddatetime") && has("riskstate") {
                85
            } else {
                0
            }
        }
    }
}

/// Records of the JSON in `text[from..to]`, numbered on from `*no`.
fn parse_json_span(
    input: &Input,
    from: usize,
    to: usize,
    no: &mut u64,
    variant: &'static str,
    out: &mut dyn FnMut(Item),
) {
    let text = input.text;
    jsonscan::each(&text[from..to], &mut |piece| {
        *no += 1;
        let n = *no;
        match piece {
            Piece::Bad { start, end, reason } => {
                out(Err(input.reject(n, from + start, from + end, reason)))
            }
            Piece::Record { start, end } => {
                let (s, e) = (from + start, from + end);
                let item = match serde_json::from_str::<Value>(&text[s..e]) {
                    Ok(Value::Object(o)) => json_record(&o, variant, input.provenance(n, s, e))
                        .map_err(|r| input.reject(n, s, e, r)),
                    Ok(_) => Err(input.reject(n, s, e, "record is not a JSON object")),
                    Err(err) => Err(input.reject(n, s, e, format!("invalid JSON: {err}"))),
                };
                out(item);
            }
        }
    });
}

fn json_record(
    o: &Map<String, Value>,
    variant: &'static str,
    prov: Provenance,
) -> Result<Event, String> {
    if let Some(props) = get_obj(o, "properties") {
        if get(o, "category").is_some() || get(o, "operationName").is_some() {
            return risk_event(&props, Some(o), "diagnostic_json", prov);
        }
    }
    risk_event(o, None, variant, prov)
}

/// The response examples of a Graph docs page: every fenced code block whose JSON holds a
/// `value` array contributes its elements as records; request lines, SDK snippets and
/// resource skeletons are documentation, not records.
fn parse_markdown(input: &Input, out: &mut dyn FnMut(Item)) {
    let text = input.text;
    let mut no = 0u64;
    for (start, end) in fenced_blocks(text) {
        let block = &text[start..end];
        if !block.contains("\"value\"") {
            continue;
        }
        // The JSON starts at the first line opening an object or array (after any
        // `HTTP/1.1 200 OK` and header lines).
        let mut json_at = None;
        let mut off = 0;
        for line in block.split_inclusive('\n') {
            let t = line.trim_start();
            if t.starts_with('{') || t.starts_with('[') {
                json_at = Some(start + off + (line.len() - t.len()));
                break;
            }
            off += line.len();
        }
        if let Some(js) = json_at {
            parse_json_span(input, js, end, &mut no, "graph_docs_markdown", out);
        }
    }
}

/// Byte spans of the contents of ``` fenced blocks.
fn fenced_blocks(text: &str) -> Vec<(usize, usize)> {
    let mut blocks = Vec::new();
    let mut open: Option<usize> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let fence = line.trim_start().starts_with("```");
        match (fence, open) {
            (true, None) => open = Some(pos + line.len()),
            (true, Some(s)) => {
                blocks.push((s, pos));
                open = None;
            }
            _ => {}
        }
        pos += line.len();
    }
    blocks
}

fn time_of(m: &Map<String, Value>, key: &str) -> Option<Result<(String, Stamp), String>> {
    let t = get_text(m, key)?;
    Some(match ops::parse_utc(&t) {
        Some(st) => Ok((t, st)),
        None => Err(format!(
            "{key} '{t}' is not a timestamp (expected ISO 8601 or M/D/YYYY h:mm:ss AM/PM)"
        )),
    })
}

fn risk_event(
    r: &Map<String, Value>,
    env: Option<&Map<String, Value>>,
    variant: &'static str,
    prov: Provenance,
) -> Result<Event, String> {
    let category = env.and_then(|e| get_text(e, "category"));
    let detection = get(r, "riskEventType").is_some()
        || category.as_deref().is_some_and(|c| {
            c.eq_ignore_ascii_case("UserRiskEvents")
                || c.eq_ignore_ascii_case("ServicePrincipalRiskEvents")
        });
    let time_keys: &[&str] = if detection {
        &["activityDateTime", "detectedDateTime", "TimeGenerated"]
    } else {
        &["riskLastUpdatedDateTime", "TimeGenerated"]
    };
    let picked = time_keys
        .iter()
        .find_map(|k| time_of(r, k))
        .or_else(|| env.and_then(|e| time_of(e, "time")))
        .ok_or_else(|| format!("no {} in the record", time_keys[0]))?;
    let (time_text, stamp) = picked?;

    let (action, op) = if detection {
        let op = get_text(r, "riskEventType")
            .or_else(|| get_text(r, "riskType"))
            .ok_or("risk detection without riskEventType")?;
        (actions::RISK_DETECTED, op)
    } else {
        let op = env
            .and_then(|e| get_text(e, "operationName"))
            .or_else(|| get_text(r, "OperationName"))
            .unwrap_or_else(|| "riskyUser".into());
        (actions::USER_RISK_CHANGED, op)
    };
    let mut ev = Event::new(
        stamp.utc,
        time_text,
        stamp.zone,
        ID,
        variant,
        EventClass::RiskDetection,
        action,
        op,
        Outcome::Unknown,
        prov,
    );

    ev.user = get_text(r, "userPrincipalName").map(Into::into);
    ev.user_id = if detection {
        get_text(r, "userId").map(Into::into)
    } else {
        get_text_any(r, &["userId", "id"]).map(Into::into)
    };
    if ev.user.is_none() {
        // Service-principal risk names an app, not a user.
        ev.descr_mut().app =
            get_text_any(r, &["servicePrincipalDisplayName", "displayName"]).map(Into::into);
        ev.descr_mut().app_id = get_text(r, "appId").map(Into::into);
    }
    ev.cold_mut().request_id = get_text(r, "requestId");
    ev.cold_mut().correlation_id = get_text(r, "correlationId");
    let ipf = ops::ip_facts(get_text_any(r, &["ipAddress", "IpAddress"]).as_deref());
    ev.src_ip = ipf.ip.map(Into::into);
    if let Some(u) = ipf.unparsed {
        ev.extra.insert("src_ip_unparsed", u.into());
    }
    let loc = get_obj(r, "location").or_else(|| {
        // Flattened exports (Export-Csv of the Graph objects) carry the location as columns.
        let mut m = Map::new();
        for k in ["city", "state", "countryOrRegion"] {
            if let Some(v) = get_text(r, k) {
                m.insert(k.into(), v.into());
            }
        }
        (!m.is_empty()).then_some(std::borrow::Cow::Owned(m))
    });
    ev.geo = loc
        .as_deref()
        .and_then(ops::geo_from_location)
        .map(std::sync::Arc::new);

    let info = get_array(r, "additionalInfo");
    if !info.is_empty() {
        let obj = ops::name_value_object(&info);
        ev.descr_mut().user_agent = get_text(&obj, "userAgent").map(Into::into);
        ev.extra.insert("additional_info", Value::Object(obj));
    }

    if detection {
        if let Some(t) = get_text(r, "detectedDateTime") {
            match ops::parse_utc(&t) {
                Some(st) => {
                    ev.extra.insert("detected_time", ops::rfc3339(&st).into());
                }
                None => {
                    ev.extra.insert("detected_time_unparsed", t.clone().into());
                }
            }
            ev.extra.insert("detected_time_original", t.into());
        }
    }
    if let Some(t) = get_text(r, "lastUpdatedDateTime") {
        if let Some(st) = ops::parse_utc(&t) {
            ev.extra
                .insert("last_updated_time", ops::rfc3339(&st).into());
        }
    }
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            ev.extra.insert(k, v.into());
        }
    };
    put("risk_event_type", get_text(r, "riskEventType"));
    put("risk_type", get_text(r, "riskType"));
    put("risk_state", get_text(r, "riskState"));
    put("risk_level", get_text(r, "riskLevel"));
    put("risk_detail", get_text(r, "riskDetail"));
    put("detection_timing_type", get_text(r, "detectionTimingType"));
    put("activity", get_text(r, "activity"));
    put("risk_source", get_text(r, "source"));
    put("token_issuer_type", get_text(r, "tokenIssuerType"));
    put("risk_id", if detection { get_text(r, "id") } else { None });
    put("user_display_name", get_text(r, "userDisplayName"));
    put("user_type", get_text(r, "userType"));
    put("is_deleted", get_text(r, "isDeleted"));
    put("is_processing", get_text(r, "isProcessing"));
    put("is_guest", get_text(r, "isGuest"));
    put("category", category);
    put(
        "tenant_id",
        env.and_then(|e| get_text(e, "tenantId"))
            .or_else(|| get_text(r, "homeTenantId")),
    );
    Ok(ev)
}

fn parse_csv(input: &Input, out: &mut dyn FnMut(Item)) {
    let mut no = 0u64;
    ops::for_each_csv_record(input.text, &mut |rec| {
        no += 1;
        match rec {
            CsvRecord::Bad { start, end, reason } => out(Err(input.reject(no, start, end, reason))),
            CsvRecord::Row { header, row } => {
                let obj = ops::row_object(&clean_names(header), &row);
                let prov = input.provenance(no, row.start, row.end);
                out(risk_event(&obj, None, "csv", prov)
                    .map_err(|r| input.reject(no, row.start, row.end, r)));
            }
        }
    });
}

fn clean_names(h: &Header) -> Vec<String> {
    h.names()
        .iter()
        .map(|n| n.strip_suffix("[utc]").unwrap_or(n).trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_shapes() {
        assert_eq!(
            sniff("{\"category\":\"UserRiskEvents\",\"properties\":{}}"),
            92
        );
        assert_eq!(
            sniff("{\"value\":[{\"riskEventType\":\"x\",\"detectionTimingType\":\"realtime\"}]}"),
            90
        );
        assert_eq!(
            sniff("{\"properties\":{\"riskEventTypes\":[],\"riskEventTypes_v2\":[]}}"),
            0
        );
        assert_eq!(sniff("---\ntitle: x\n---\n# List\n``` http\n{\"value\":[{\"riskEventType\":\"a\"}]}\n```\n"), 80);
        assert_eq!(
            sniff("TimeGenerated [UTC],ActivityDateTime [UTC],RiskEventType,RiskLevel\r\n"),
            88
        );
        assert_eq!(sniff("a,b\n1,2\n"), 0);
    }

    #[test]
    fn fences() {
        let t = "x\n```json\n{\"a\":1}\n```\ny\n``` http\nGET /\n```\n";
        let b = fenced_blocks(t);
        assert_eq!(b.len(), 2);
        assert_eq!(&t[b[0].0..b[0].1], "{\"a\":1}\n");
    }
}
